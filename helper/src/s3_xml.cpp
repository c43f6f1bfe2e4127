/*
 * s3_xml.cpp
 *     See s3_xml.h.
 */
#include "s3_xml.h"

#include <stdlib.h>

namespace pg_ark {

std::vector<std::string> XmlElements(const std::string &xml, const std::string &tag) {
    std::vector<std::string> out;
    std::string open = "<" + tag + ">", close = "</" + tag + ">";
    size_t at = 0;
    for (;;) {
        size_t start = xml.find(open, at);
        if (start == std::string::npos) break;
        start += open.size();
        size_t end = xml.find(close, start);
        if (end == std::string::npos) break;
        out.push_back(xml.substr(start, end - start));
        at = end + close.size();
    }
    return out;
}

std::string XmlText(const std::string &xml, const std::string &tag) {
    auto elements = XmlElements(xml, tag);
    return elements.empty() ? std::string() : XmlDecode(elements.front());
}

std::string XmlDecode(const std::string &text) {
    std::string out;
    for (size_t i = 0; i < text.size(); i++) {
        if (text[i] != '&') {
            out.push_back(text[i]);
            continue;
        }
        size_t semi = text.find(';', i);
        if (semi == std::string::npos) {
            out.push_back('&');
            continue;
        }
        std::string entity = text.substr(i + 1, semi - i - 1);
        if (entity == "amp") out.push_back('&');
        else if (entity == "lt") out.push_back('<');
        else if (entity == "gt") out.push_back('>');
        else if (entity == "quot") out.push_back('"');
        else if (entity == "apos") out.push_back('\'');
        else if (!entity.empty() && entity[0] == '#') {
            long code = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X')
                            ? strtol(entity.c_str() + 2, nullptr, 16)
                            : strtol(entity.c_str() + 1, nullptr, 10);
            if (code > 0 && code < 128) out.push_back(static_cast<char>(code));
        } else {
            out += "&" + entity + ";";
        }
        i = semi;
    }
    return out;
}

}  // namespace pg_ark

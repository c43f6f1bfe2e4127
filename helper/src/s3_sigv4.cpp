/*
 * s3_sigv4.cpp
 *     See s3_sigv4.h.
 */
#include "s3_sigv4.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>

namespace pg_ark {

namespace {

std::string Hex(const unsigned char *bytes, size_t size) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (size_t i = 0; i < size; i++) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 15]);
    }
    return out;
}

std::string Hmac(const std::string &key, const std::string &data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char *>(data.data()), data.size(), out, &size);
    return std::string(reinterpret_cast<char *>(out), size);
}

std::string Lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

/* Header values: leading and trailing spaces dropped, inner runs of spaces made one. */
std::string TrimAll(const std::string &value) {
    std::string out;
    bool space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> CanonicalHeaders(const SigV4Request &request) {
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto &[name, value] : request.headers) headers.emplace_back(Lower(name), TrimAll(value));
    std::sort(headers.begin(), headers.end());
    return headers;
}

std::string SignedHeaders(const std::vector<std::pair<std::string, std::string>> &headers) {
    std::string out;
    for (const auto &header : headers) {
        if (!out.empty()) out += ';';
        out += header.first;
    }
    return out;
}

}  // namespace

std::string UriEncode(const std::string &text, bool keep_slash) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
            out.push_back(static_cast<char>(c));
        else
            out += fmt::format("%{:02X}", c);
    }
    return out;
}

std::string Sha256Hex(const void *data, size_t size) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr);
    return Hex(digest, length);
}

std::string SigV4CanonicalRequest(const SigV4Request &request) {
    std::vector<std::pair<std::string, std::string>> query;
    for (const auto &[name, value] : request.query)
        query.emplace_back(UriEncode(name, false), UriEncode(value, false));
    std::sort(query.begin(), query.end());
    std::string query_text;
    for (const auto &[name, value] : query) {
        if (!query_text.empty()) query_text += '&';
        query_text += name + "=" + value;
    }
    auto headers = CanonicalHeaders(request);
    std::string header_text;
    for (const auto &[name, value] : headers) header_text += name + ":" + value + "\n";
    return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, request.path, query_text,
                       header_text, SignedHeaders(headers), request.payload_sha256);
}

std::string SigV4StringToSign(const std::string &amz_date, const std::string &scope,
                              const std::string &canonical_request) {
    return fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope,
                       Sha256Hex(canonical_request.data(), canonical_request.size()));
}

std::string SigV4Authorization(const SigV4Request &request, const SigV4Credentials &credentials,
                               const std::string &region, const std::string &service,
                               const std::string &amz_date) {
    std::string day = amz_date.substr(0, 8);
    std::string scope = fmt::format("{}/{}/{}/aws4_request", day, region, service);
    std::string to_sign = SigV4StringToSign(amz_date, scope, SigV4CanonicalRequest(request));
    std::string key = Hmac("AWS4" + credentials.secret_key, day);
    key = Hmac(key, region);
    key = Hmac(key, service);
    key = Hmac(key, "aws4_request");
    std::string signature = Hmac(key, to_sign);
    return fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                       credentials.access_key, scope, SignedHeaders(CanonicalHeaders(request)),
                       Hex(reinterpret_cast<const unsigned char *>(signature.data()), signature.size()));
}

}  // namespace pg_ark

/*
 * s3_xml.h
 *     Just enough XML for S3's answers (ListObjectsV2, InitiateMultipartUpload, errors): the
 *     texts of elements by tag name, entities decoded. S3's answers are flat and machine-written;
 *     this is no general XML parser.
 */
#ifndef PG_ARK_HELPER_S3_XML_H
#define PG_ARK_HELPER_S3_XML_H

#include <string>
#include <vector>

namespace pg_ark {

/* The raw contents of every <tag>...</tag>, in order (not nested in one another). */
std::vector<std::string> XmlElements(const std::string &xml, const std::string &tag);
/* The decoded text of the first <tag>, or "" when there is none. */
std::string XmlText(const std::string &xml, const std::string &tag);
std::string XmlDecode(const std::string &text);

}  // namespace pg_ark

#endif

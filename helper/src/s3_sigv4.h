/*
 * s3_sigv4.h
 *     AWS Signature Version 4 for the S3 driver: canonical request, string to sign, signing key
 *     and the Authorization header (docs.aws.amazon.com, "Signature Calculations for the
 *     Authorization Header"). Pure functions of their inputs, so AWS's published test vectors
 *     pin them down (tests/unit/s3_sigv4_test.cpp).
 *
 * The secret key and every derived key or signature stay inside these functions' results; the
 * caller puts the Authorization header on the wire and nowhere else (never in a message).
 */
#ifndef PG_ARK_HELPER_S3_SIGV4_H
#define PG_ARK_HELPER_S3_SIGV4_H

#include <stddef.h>

#include <string>
#include <utility>
#include <vector>

namespace pg_ark {

struct SigV4Credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token; /* empty unless temporary credentials */
};

struct SigV4Request {
    std::string method;
    std::string path; /* as sent: already URI-encoded (S3EncodePath), starting with '/' */
    std::vector<std::pair<std::string, std::string>> query; /* decoded names and values */
    /* Every header to sign (host and x-amz-date included), any case; values as sent. */
    std::vector<std::pair<std::string, std::string>> headers;
    std::string payload_sha256; /* hex; S3 also sends it as x-amz-content-sha256 */
};

/* RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX; '/'
 * kept only when keep_slash (object key paths). */
std::string UriEncode(const std::string &text, bool keep_slash);

std::string Sha256Hex(const void *data, size_t size);

std::string SigV4CanonicalRequest(const SigV4Request &request);
/* amz_date: "20130524T000000Z"; scope: "<yyyymmdd>/<region>/<service>/aws4_request". */
std::string SigV4StringToSign(const std::string &amz_date, const std::string &scope,
                              const std::string &canonical_request);
/* The value of the Authorization header. amz_date must equal the signed x-amz-date header. */
std::string SigV4Authorization(const SigV4Request &request, const SigV4Credentials &credentials,
                               const std::string &region, const std::string &service,
                               const std::string &amz_date);

}  // namespace pg_ark

#endif

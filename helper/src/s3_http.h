/*
 * s3_http.h
 *     HTTP requests for the S3 driver, on libcurl. One easy handle per thread, reused, so
 *     consecutive requests of a thread share a kept-alive connection (and TLS session). Bodies
 *     are sent from memory (a part is at most one part size) and received into a sink.
 *
 * Perform makes one attempt; S3Storage decides about retries, since only it can re-sign.
 */
#ifndef PG_ARK_HELPER_S3_HTTP_H
#define PG_ARK_HELPER_S3_HTTP_H

#include <stddef.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "status.h"

namespace pg_ark {

struct HttpOptions {
    bool verify_tls = true;
    std::string ca_file;
    long connect_timeout_seconds = 10;
    /* An attempt that moves fewer than 1 byte/s for this long is abandoned (a stalled socket). */
    long low_speed_seconds = 60;
};

struct HttpRequest {
    std::string method;
    std::string url;
    std::vector<std::string> headers; /* "Name: value" */
    const char *body = nullptr;
    size_t body_size = 0;
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers; /* names lower-case */
    std::string body;                            /* when no sink was given, or an error's body */
};

/*
 * The outcome of one attempt. transport_error: no HTTP status (connection refused or reset,
 * timeout); retryable tells whether trying again may help (then or 5xx/429 from the caller).
 */
struct HttpAttempt {
    Status status; /* OK when an HTTP response arrived, whatever its status code */
    bool retryable = false;
};

/* Receives a 2xx response's body; an error stops the transfer. */
using HttpSink = std::function<Status(const char *data, size_t size)>;

HttpAttempt HttpPerform(const HttpOptions &options, const HttpRequest &request,
                        HttpResponse *response, const HttpSink &sink = nullptr);

}  // namespace pg_ark

#endif

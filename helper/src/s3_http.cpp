/*
 * s3_http.cpp
 *     See s3_http.h.
 */
#include "s3_http.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <new>

namespace pg_ark {

namespace {

void GlobalInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/* The thread's handle, cleaned up when the thread ends. */
struct EasyHandle {
    CURL *curl = nullptr;
    EasyHandle() {
        GlobalInit();
        curl = curl_easy_init();
    }
    ~EasyHandle() {
        if (curl != nullptr) curl_easy_cleanup(curl);
    }
    EasyHandle(const EasyHandle &) = delete;
    EasyHandle &operator=(const EasyHandle &) = delete;
};

struct Transfer {
    const HttpRequest *request;
    HttpResponse *response;
    const HttpSink *sink;
    size_t sent = 0;
    Status sink_status;
};

size_t ReadBody(char *buffer, size_t size, size_t count, void *user) {
    auto *transfer = static_cast<Transfer *>(user);
    size_t n = std::min(size * count, transfer->request->body_size - transfer->sent);
    if (n > 0) memcpy(buffer, transfer->request->body + transfer->sent, n);
    transfer->sent += n;
    return n;
}

/* libcurl rewinds the body when it must send it again (a reused connection found closed). */
int SeekBody(void *user, curl_off_t offset, int origin) {
    auto *transfer = static_cast<Transfer *>(user);
    if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > transfer->request->body_size)
        return CURL_SEEKFUNC_CANTSEEK;
    transfer->sent = static_cast<size_t>(offset);
    return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char *data, size_t size, size_t count, void *user) {
    auto *transfer = static_cast<Transfer *>(user);
    size_t n = size * count;
    /* The status line has been parsed by the time the body arrives. */
    if (transfer->sink != nullptr && *transfer->sink && transfer->response->status / 100 == 2) {
        transfer->sink_status = (*transfer->sink)(data, n);
        return transfer->sink_status.ok() ? n : 0;
    }
    std::string &body = transfer->response->body;
    try { /* no exception may unwind through libcurl's C frames */
        if (body.empty()) {
            /* One allocation of the announced size: growing a 16 MiB body by doubling copies it
             * and faults in fresh pages over and over (measured: an eighth of a restore's time).
             * Bounded: the reads ask for ranges of at most a few tens of MiB. */
            auto length = transfer->response->headers.find("content-length");
            if (length != transfer->response->headers.end()) {
                unsigned long long announced = strtoull(length->second.c_str(), nullptr, 10);
                if (announced > n && announced <= (64ull << 20)) body.reserve(static_cast<size_t>(announced));
            }
        }
        body.append(data, n);
    } catch (const std::bad_alloc &) {
        return 0; /* the transfer fails: "failed writing received data" */
    }
    return n;
}

size_t WriteHeader(char *data, size_t size, size_t count, void *user) {
    auto *transfer = static_cast<Transfer *>(user);
    size_t n = size * count;
    std::string line(data, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
        /* A new response (after a 100 Continue, say): forget the previous one's headers. */
        transfer->response->headers.clear();
        size_t space = line.find(' ');
        transfer->response->status = space == std::string::npos ? 0 : atol(line.c_str() + space + 1);
        return n;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) return n;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t start = line.find_first_not_of(' ', colon + 1);
    transfer->response->headers[name] = start == std::string::npos ? "" : line.substr(start);
    return n;
}

bool Retryable(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
            return true;
        default:
            return false;
    }
}

}  // namespace

HttpAttempt HttpPerform(const HttpOptions &options, const HttpRequest &request,
                        HttpResponse *response, const HttpSink &sink) {
    thread_local EasyHandle handle;
    HttpAttempt attempt;
    CURL *curl = handle.curl;
    if (curl == nullptr) {
        attempt.status = Status(ErrorKind::internal, "could not create a libcurl handle");
        return attempt;
    }
    /* Keeps the connection cache and TLS session of the handle; clears the last request. */
    curl_easy_reset(curl);
    *response = HttpResponse();
    Transfer transfer{&request, response, &sink, 0, Status::Ok()};

    struct curl_slist *headers = nullptr;
    for (const std::string &header : request.headers) headers = curl_slist_append(headers, header.c_str());
    /* No "Expect: 100-continue" round trip before each part. */
    headers = curl_slist_append(headers, "Expect:");

    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options.low_speed_seconds);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
    if (request.method == "PUT") {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
        curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_size));
    } else if (request.method == "POST") {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
        curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body_size));
    } else if (request.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (!transfer.sink_status.ok()) {
        attempt.status = transfer.sink_status;
        return attempt;
    }
    if (code != CURLE_OK) {
        attempt.retryable = Retryable(code);
        attempt.status = Status(attempt.retryable ? ErrorKind::unavailable : ErrorKind::io_error,
                                curl_easy_strerror(code));
        return attempt;
    }
    return attempt;
}

}  // namespace pg_ark

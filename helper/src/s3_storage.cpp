/*
 * s3_storage.cpp
 *     See s3_storage.h.
 */
#include "s3_storage.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>

#include "log.h"
#include "s3_http.h"
#include "s3_sigv4.h"
#include "s3_xml.h"

namespace pg_ark {

namespace {

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

using Query = std::vector<std::pair<std::string, std::string>>;

struct Call {
    Call(const char *operation_, std::string method_, std::string key_)
        : operation(operation_), method(std::move(method_)), key(std::move(key_)) {}
    const char *operation; /* "upload", "read", ...: for messages */
    std::string method;
    std::string key;       /* "" = the bucket */
    Query query;
    std::vector<std::pair<std::string, std::string>> headers; /* signed, besides host and x-amz-* */
    const char *body = nullptr;
    size_t body_size = 0;
    /* Statuses that are answers, not failures (404 for HEAD, say). 2xx always are. */
    std::vector<long> accept;
};

std::string AmzDate() {
    time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    char buffer[32];
    strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &tm);
    return buffer;
}

/* "2026-11-22T05:31:13.000Z" -> seconds since the epoch; 0 when unparsable. */
double ParseIsoTime(const std::string &text) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == nullptr) return 0;
    double seconds = static_cast<double>(timegm(&tm));
    if (*rest == '.') seconds += atof(rest);
    return seconds;
}

bool IsRetryableStatus(long status) { return status >= 500 || status == 429; }

/* Readers that have a range in flight at once: process-max of a restore or verify, at most. */
constexpr size_t kMaxFetchAheadThreads = 64;

ErrorKind KindOfStatus(long status) {
    if (status == 404) return ErrorKind::not_found;
    if (status == 401 || status == 403) return ErrorKind::permission_denied;
    return ErrorKind::io_error;
}

/*
 * Threads that fetch ranges ahead of the readers. They live as long as the storage, so each
 * keeps its libcurl handle and with it an open connection (a thread per range would open a new
 * TCP and TLS connection every time). Started as needed, up to a limit; a task queued while all
 * are busy waits for one.
 */
class FetchPool {
  public:
    explicit FetchPool(size_t max_threads) : max_threads_(std::max<size_t>(1, max_threads)) {}
    ~FetchPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        for (std::thread &thread : threads_) thread.join();
    }
    FetchPool(const FetchPool &) = delete;
    FetchPool &operator=(const FetchPool &) = delete;

    /* Throws std::system_error when no thread can be started and none is running. */
    std::future<Result<HttpResponse>> Submit(std::function<Result<HttpResponse>()> work) {
        std::packaged_task<Result<HttpResponse>()> task(std::move(work));
        auto future = task.get_future();
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(std::move(task));
        if (idle_ < queue_.size() && threads_.size() < max_threads_) {
            try {
                threads_.emplace_back([this] { Run(); });
            } catch (const std::system_error &) {
                if (threads_.empty()) {
                    queue_.pop_back();
                    throw;
                }
            }
        }
        changed_.notify_one();
        return future;
    }

  private:
    void Run() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            idle_++;
            changed_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            idle_--;
            if (queue_.empty()) return; /* stopping */
            auto task = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            task();
            lock.lock();
        }
    }

    const size_t max_threads_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::packaged_task<Result<HttpResponse>()>> queue_;  // guarded by mutex_
    size_t idle_ = 0;                                               // guarded by mutex_
    bool stopping_ = false;                                         // guarded by mutex_
    std::vector<std::thread> threads_;                              // guarded by mutex_
};

class S3Storage;

/*
 * Reads one object in ranged chunks, the next one fetched by the storage's FetchPool while the
 * caller consumes the current one (so decoding overlaps the transfer, as streaming would, while a retry
 * still repeats one range only).
 */
class S3ReadStream : public ReadStream {
  public:
    S3ReadStream(S3Storage *storage, std::string key) : storage_(storage), key_(std::move(key)) {}
    ~S3ReadStream() override {
        if (ahead_.valid()) ahead_.wait(); /* it uses this stream */
    }
    /* The first chunk: not_found surfaces here, at OpenRead. */
    Status Begin();
    Result<size_t> Read(void *buffer, size_t size) override;

  private:
    /* One ranged GET from offset (with If-Match once the ETag is known). */
    Result<HttpResponse> Get(uint64_t offset) const;
    /* Checks the answer to the GET at fetched_ and makes it the current chunk. */
    Status Take(Result<HttpResponse> response);
    /* Starts the GET of the next range, if any, in the background. */
    void Ahead();
    S3Storage *storage_;
    std::string key_;
    std::string etag_;
    uint64_t total_ = 0;     /* the object's size */
    uint64_t fetched_ = 0;   /* bytes of the object fetched so far */
    std::string chunk_;
    size_t position_ = 0;    /* in chunk_ */
    std::future<Result<HttpResponse>> ahead_; /* the GET of the range at fetched_ */
};

class S3WriteStream : public WriteStream {
  public:
    S3WriteStream(S3Storage *storage, std::string key, WriteMode mode)
        : storage_(storage), key_(std::move(key)), mode_(mode) {}
    ~S3WriteStream() override;
    Status Write(const void *data, size_t size) override;
    Status Close() override;

  private:
    Status StartMultipart();
    Status QueuePart(std::string data);
    void Worker();
    /* Waits for every queued part; the first failure. */
    Status Drain();
    void Abort();
    Status CheckCreateNew();

    S3Storage *storage_;
    std::string key_;
    WriteMode mode_;
    std::string buffer_;
    bool closed_ = false;
    bool failed_ = false;
    std::string upload_id_; /* non-empty once a multipart upload began */
    int next_part_ = 1;
    uint64_t total_size_ = 0;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::pair<int, std::string>> queue_;  // guarded by mutex_
    int busy_ = 0;                                   // guarded by mutex_
    bool stopping_ = false;                          // guarded by mutex_
    Status part_failure_;                            // guarded by mutex_
    std::map<int, std::string> etags_;               // guarded by mutex_
    std::vector<std::thread> workers_;
};

class S3Storage : public Storage {
  public:
    S3Storage(S3Config config, S3Tuning tuning, SigV4Credentials credentials)
        : config_(std::move(config)), tuning_(tuning), credentials_(std::move(credentials)) {
        std::string endpoint = config_.endpoint;
        scheme_ = "https";
        for (const char *scheme : {"https://", "http://"}) {
            if (endpoint.rfind(scheme, 0) == 0) {
                scheme_ = std::string(scheme, strlen(scheme) - 3);
                endpoint = endpoint.substr(strlen(scheme));
            }
        }
        host_ = config_.host_style ? config_.bucket + "." + endpoint : endpoint;
        http_.verify_tls = config_.verify_tls;
        http_.ca_file = config_.ca_file;
        http_.connect_timeout_seconds = tuning_.connect_timeout_seconds;
        http_.low_speed_seconds = tuning_.low_speed_seconds;
    }

    const S3Tuning &tuning() const { return tuning_; }
    size_t part_size() const { return config_.part_size; }

    /* Ranges read ahead (S3ReadStream), on threads that keep their connections. */
    std::future<Result<HttpResponse>> FetchAhead(std::function<Result<HttpResponse>()> work) {
        return fetch_pool_.Submit(std::move(work));
    }

    std::string Key(const RepoPath &path) const {
        return config_.prefix.empty() ? path.str() : config_.prefix + "/" + path.str();
    }
    /* For messages: s3://bucket/key. */
    std::string Name(const std::string &key) const {
        return key.empty() ? fmt::format("s3://{}", config_.bucket)
                           : fmt::format("s3://{}/{}", config_.bucket, key);
    }

    /*
     * One request with retries. OK with the response when it was 2xx or accepted; otherwise an
     * error naming the operation and object, and what the last attempt got.
     */
    Result<HttpResponse> Perform(const Call &call) {
        std::string path = "/";
        if (!config_.host_style) path += config_.bucket + (call.key.empty() ? "" : "/");
        path += UriEncode(call.key, true);
        std::string url = fmt::format("{}://{}{}", scheme_, host_, path);
        std::string query_text;
        for (const auto &[name, value] : call.query) {
            query_text += query_text.empty() ? "?" : "&";
            query_text += UriEncode(name, false) + "=" + UriEncode(value, false);
        }
        url += query_text;
        std::string payload_sha256 =
            call.body_size > 0 ? Sha256Hex(call.body, call.body_size) : kEmptySha256;

        thread_local std::mt19937_64 random{std::random_device{}()};
        std::string last;
        for (int attempt = 1;; attempt++) {
            SigV4Request signing;
            signing.method = call.method;
            signing.path = path;
            signing.query = call.query;
            signing.payload_sha256 = payload_sha256;
            std::string amz_date = AmzDate();
            signing.headers = {{"host", host_},
                               {"x-amz-content-sha256", payload_sha256},
                               {"x-amz-date", amz_date}};
            if (!credentials_.session_token.empty())
                signing.headers.emplace_back("x-amz-security-token", credentials_.session_token);
            for (const auto &header : call.headers) signing.headers.push_back(header);

            HttpRequest request;
            request.method = call.method;
            request.url = url;
            for (const auto &[name, value] : signing.headers)
                request.headers.push_back(name + ": " + value);
            request.headers.push_back(
                "Authorization: " +
                SigV4Authorization(signing, credentials_, config_.region, "s3", amz_date));
            request.body = call.body;
            request.body_size = call.body_size;

            HttpResponse response;
            HttpAttempt sent = HttpPerform(http_, request, &response);
            bool retry;
            Status failure;
            if (!sent.status.ok()) {
                last = sent.status.message();
                retry = sent.retryable;
                failure = Status(sent.status.kind(), "");
            } else {
                bool accepted = response.status / 100 == 2 ||
                                std::find(call.accept.begin(), call.accept.end(), response.status) !=
                                    call.accept.end();
                /* CompleteMultipartUpload may answer 200 and fail in the body. */
                bool error_in_body = response.status == 200 && call.method == "POST" &&
                                     response.body.find("<Error>") != std::string::npos;
                if (accepted && !error_in_body) return response;
                std::string code = XmlText(response.body, "Code");
                std::string message = XmlText(response.body, "Message");
                last = fmt::format("HTTP {}{}{}", response.status, code.empty() ? "" : " " + code,
                                   message.empty() ? "" : ": " + message);
                retry = IsRetryableStatus(response.status) || error_in_body;
                failure = Status(error_in_body ? ErrorKind::io_error : KindOfStatus(response.status), "");
            }
            if (!retry || attempt >= tuning_.attempts) {
                std::string tries = attempt > 1 ? fmt::format(" (after {} attempts)", attempt) : "";
                return Status(failure.kind(), fmt::format("could not {} \"{}\": {}{}", call.operation,
                                                          Name(call.key), last, tries));
            }
            /* Full jitter (AWS's "Exponential Backoff And Jitter"): uniform in [0, cap]. */
            long cap = std::min<long>(tuning_.backoff_max_ms,
                                      static_cast<long>(tuning_.backoff_initial_ms) << std::min(attempt - 1, 20));
            long delay = std::uniform_int_distribution<long>(cap / 2, cap)(random);
            Log(LogLevel::debug, "retrying {} of \"{}\" in {} ms: {}", call.operation, Name(call.key),
                delay, last);
            std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        }
    }

    Result<std::unique_ptr<ReadStream>> OpenRead(const RepoPath &path) override {
        auto stream = std::make_unique<S3ReadStream>(this, Key(path));
        PG_ARK_RETURN_IF_ERROR(stream->Begin());
        return std::unique_ptr<ReadStream>(std::move(stream));
    }

    Result<std::unique_ptr<WriteStream>> OpenWrite(const RepoPath &path, WriteMode mode) override {
        return std::unique_ptr<WriteStream>(new S3WriteStream(this, Key(path), mode));
    }

    Result<ObjectInfo> Info(const RepoPath &path) override { return InfoOfKey(Key(path)); }

    Result<ObjectInfo> InfoOfKey(const std::string &key) {
        Call call{"look up", "HEAD", key};
        call.accept = {404};
        auto response = Perform(call);
        if (!response.ok()) return response.status();
        ObjectInfo info;
        if (response->status == 404) return info;
        info.exists = true;
        info.size = strtoull(response->headers["content-length"].c_str(), nullptr, 10);
        return info;
    }

    Result<std::vector<std::string>> List(const RepoPath &directory) override {
        std::vector<std::string> names;
        PG_ARK_RETURN_IF_ERROR(Walk(directory, &names, nullptr));
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        return names;
    }

    Result<std::vector<ListedObject>> ListObjects(const RepoPath &directory) override {
        std::vector<ListedObject> objects;
        PG_ARK_RETURN_IF_ERROR(Walk(directory, nullptr, &objects));
        std::sort(objects.begin(), objects.end(),
                  [](const ListedObject &a, const ListedObject &b) { return a.name < b.name; });
        return objects;
    }

    Status Remove(const RepoPath &path) override {
        Call call{"remove", "DELETE", Key(path)};
        call.accept = {404};
        auto response = Perform(call);
        return response.ok() ? Status::Ok() : response.status();
    }

    /* RemoveDirectory: the default. A prefix exists only while objects have it, and no write
     * leaves anything behind (a multipart upload is aborted, and invisible until completed). */

    std::string Describe() const override {
        return config_.prefix.empty() ? fmt::format("s3://{}", config_.bucket)
                                      : fmt::format("s3://{}/{}", config_.bucket, config_.prefix);
    }

  private:
    /* Every page of ListObjectsV2 directly under directory: sub-prefixes' names into names, objects'
     * names into names and objects. Names starting with '.' are skipped, as on posix. */
    Status Walk(const RepoPath &directory, std::vector<std::string> *names,
                std::vector<ListedObject> *objects) {
        std::string prefix = Key(directory) + "/";
        std::string token;
        for (;;) {
            Call call{"list", "GET", ""};
            call.query = {{"list-type", "2"}, {"prefix", prefix}, {"delimiter", "/"}};
            if (!token.empty()) call.query.emplace_back("continuation-token", token);
            auto response = Perform(call);
            if (!response.ok())
                return Status(response.status().kind(),
                              fmt::format("{} (listing \"{}\")", response.status().message(), Name(prefix)));
            for (const std::string &entry : XmlElements(response->body, "Contents")) {
                std::string key = XmlText(entry, "Key");
                if (key.rfind(prefix, 0) != 0) continue;
                std::string name = key.substr(prefix.size());
                if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos) continue;
                if (names != nullptr) names->push_back(name);
                if (objects != nullptr) {
                    ListedObject object;
                    object.name = name;
                    object.size = strtoull(XmlText(entry, "Size").c_str(), nullptr, 10);
                    object.stored_time = ParseIsoTime(XmlText(entry, "LastModified"));
                    objects->push_back(std::move(object));
                }
            }
            if (names != nullptr) {
                for (const std::string &entry : XmlElements(response->body, "CommonPrefixes")) {
                    std::string sub = XmlText(entry, "Prefix");
                    if (sub.rfind(prefix, 0) != 0) continue;
                    std::string name = sub.substr(prefix.size());
                    while (!name.empty() && name.back() == '/') name.pop_back();
                    if (!name.empty() && name[0] != '.') names->push_back(name);
                }
            }
            if (XmlText(response->body, "IsTruncated") != "true") return Status::Ok();
            token = XmlText(response->body, "NextContinuationToken");
            if (token.empty())
                return Status(ErrorKind::io_error,
                              fmt::format("could not list \"{}\": truncated listing without a "
                                          "continuation token", Name(prefix)));
        }
    }

    S3Config config_;
    S3Tuning tuning_;
    SigV4Credentials credentials_;
    HttpOptions http_;
    std::string scheme_;
    std::string host_;
    FetchPool fetch_pool_{kMaxFetchAheadThreads}; /* last: its threads stop first */
};

Status S3ReadStream::Begin() {
    PG_ARK_RETURN_IF_ERROR(Take(Get(0)));
    Ahead();
    return Status::Ok();
}

Result<HttpResponse> S3ReadStream::Get(uint64_t offset) const {
    uint64_t chunk = storage_->tuning().read_chunk;
    Call call{"read", "GET", key_};
    call.headers.emplace_back("range", fmt::format("bytes={}-{}", offset, offset + chunk - 1));
    if (!etag_.empty()) call.headers.emplace_back("if-match", etag_);
    if (offset == 0) call.accept = {416}; /* a range of an empty object */
    return storage_->Perform(call);
}

void S3ReadStream::Ahead() {
    if (fetched_ >= total_) return;
    try {
        ahead_ = storage_->FetchAhead([this, offset = fetched_] { return Get(offset); });
    } catch (const std::system_error &) {
        /* No thread to spare: Read fetches the range itself. */
    }
}

Status S3ReadStream::Take(Result<HttpResponse> response) {
    bool first = fetched_ == 0 && etag_.empty();
    if (!response.ok()) {
        if (response.status().kind() == ErrorKind::io_error && !first &&
            response.status().message().find("HTTP 412") != std::string::npos)
            return Status(ErrorKind::io_error,
                          fmt::format("object \"{}\" changed while it was being read",
                                      storage_->Name(key_)));
        return response.status();
    }
    if (response->status == 416) {
        total_ = 0;
        chunk_.clear();
        position_ = 0;
        return Status::Ok();
    }
    if (first) {
        etag_ = response->headers["etag"];
        std::string range = response->headers["content-range"]; /* "bytes 0-99/1234" */
        size_t slash = range.rfind('/');
        if (response->status == 206 && slash != std::string::npos)
            total_ = strtoull(range.c_str() + slash + 1, nullptr, 10);
        else
            total_ = response->body.size(); /* the server sent it whole */
    }
    if (fetched_ + response->body.size() > total_ || (response->body.empty() && fetched_ < total_))
        return Status(ErrorKind::io_error,
                      fmt::format("could not read \"{}\": the server sent {} bytes at offset {} of {}",
                                  storage_->Name(key_), response->body.size(), fetched_, total_));
    fetched_ += response->body.size();
    chunk_ = std::move(response->body);
    position_ = 0;
    return Status::Ok();
}

Result<size_t> S3ReadStream::Read(void *buffer, size_t size) {
    if (position_ == chunk_.size()) {
        if (fetched_ >= total_) return static_cast<size_t>(0);
        /* Without a range in flight (no thread, or a failed one already reported), now. */
        PG_ARK_RETURN_IF_ERROR(Take(ahead_.valid() ? ahead_.get() : Get(fetched_)));
        Ahead();
    }
    size_t n = std::min(size, chunk_.size() - position_);
    memcpy(buffer, chunk_.data() + position_, n);
    position_ += n;
    return n;
}

S3WriteStream::~S3WriteStream() {
    if (!closed_ || failed_) Abort();
}

Status S3WriteStream::Write(const void *data, size_t size) {
    if (closed_ || failed_)
        return Status(ErrorKind::internal, fmt::format("write to \"{}\" after it ended",
                                                       storage_->Name(key_)));
    const char *p = static_cast<const char *>(data);
    size_t part_size = storage_->part_size();
    while (size > 0) {
        size_t n = std::min(size, part_size - buffer_.size());
        /* Grows by at least 8 MiB at a time, never past a part: less copying than doubling
         * from small sizes, and no part-sized buffer (up to 5 GiB) for a 2 MiB object. */
        if (buffer_.size() + n > buffer_.capacity())
            buffer_.reserve(std::min(part_size, std::max(2 * (buffer_.size() + n), size_t{8} << 20)));
        buffer_.append(p, n);
        p += n;
        size -= n;
        total_size_ += n;
        /* A full part goes only once more data follows: the last part is sent by Close(). */
        if (buffer_.size() == part_size && size > 0) {
            if (upload_id_.empty()) {
                Status started = StartMultipart();
                if (!started.ok()) {
                    failed_ = true;
                    return started;
                }
            }
            Status queued = QueuePart(std::move(buffer_));
            buffer_.clear();
            if (!queued.ok()) {
                failed_ = true;
                return queued;
            }
        }
    }
    return Status::Ok();
}

Status S3WriteStream::StartMultipart() {
    Call call{"begin the multipart upload of", "POST", key_};
    call.query = {{"uploads", ""}};
    auto response = storage_->Perform(call);
    if (!response.ok()) return response.status();
    upload_id_ = XmlText(response->body, "UploadId");
    if (upload_id_.empty())
        return Status(ErrorKind::io_error,
                      fmt::format("could not begin the multipart upload of \"{}\": no upload id "
                                  "in the answer", storage_->Name(key_)));
    int workers = std::max(1, storage_->tuning().parallel_parts);
    for (int i = 0; i < workers; i++) workers_.emplace_back([this] { Worker(); });
    return Status::Ok();
}

Status S3WriteStream::QueuePart(std::string data) {
    std::unique_lock<std::mutex> lock(mutex_);
    /* Back-pressure: at most one part waiting per worker, so memory stays bounded. */
    changed_.wait(lock, [&] {
        return !part_failure_.ok() || queue_.size() < workers_.size();
    });
    if (!part_failure_.ok()) return part_failure_;
    queue_.emplace_back(next_part_++, std::move(data));
    changed_.notify_all();
    return Status::Ok();
}

void S3WriteStream::Worker() {
    for (;;) {
        std::pair<int, std::string> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            busy_++;
        }
        Call call{"upload a part of", "PUT", key_};
        call.query = {{"partNumber", std::to_string(job.first)}, {"uploadId", upload_id_}};
        call.body = job.second.data();
        call.body_size = job.second.size();
        bool skip;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            skip = !part_failure_.ok();
        }
        Result<HttpResponse> response = skip ? Result<HttpResponse>(HttpResponse()) : storage_->Perform(call);
        std::lock_guard<std::mutex> lock(mutex_);
        busy_--;
        if (!skip) {
            if (!response.ok()) {
                if (part_failure_.ok())
                    part_failure_ = Status(response.status().kind(),
                                           fmt::format("{} (part {})", response.status().message(), job.first));
            } else {
                etags_[job.first] = response->headers["etag"];
            }
        }
        changed_.notify_all();
    }
}

Status S3WriteStream::Drain() {
    {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
        stopping_ = true;
        changed_.notify_all();
    }
    for (std::thread &worker : workers_) worker.join();
    workers_.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    return part_failure_;
}

void S3WriteStream::Abort() {
    if (upload_id_.empty()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.clear();
        if (part_failure_.ok()) part_failure_ = Status(ErrorKind::io_error, "aborted");
    }
    (void)Drain();
    Call call{"abort the multipart upload of", "DELETE", key_};
    call.query = {{"uploadId", upload_id_}};
    call.accept = {404};
    auto response = storage_->Perform(call);
    if (!response.ok())
        Log(LogLevel::warn, "{}; the bucket's lifecycle rule for incomplete multipart uploads "
            "removes its parts", response.status().message());
    upload_id_.clear();
}

Status S3WriteStream::CheckCreateNew() {
    if (mode_ != WriteMode::create_new) return Status::Ok();
    auto info = storage_->InfoOfKey(key_);
    if (!info.ok()) return info.status();
    if (info->exists)
        return Status(ErrorKind::conflict, fmt::format("object \"{}\" already exists", storage_->Name(key_)));
    return Status::Ok();
}

Status S3WriteStream::Close() {
    if (closed_ || failed_)
        return Status(ErrorKind::internal, fmt::format("close of \"{}\" after it ended",
                                                       storage_->Name(key_)));
    closed_ = true;
    Status status = [&]() -> Status {
        if (upload_id_.empty()) {
            PG_ARK_RETURN_IF_ERROR(CheckCreateNew());
            Call call{"upload", "PUT", key_};
            call.body = buffer_.data();
            call.body_size = buffer_.size();
            auto response = storage_->Perform(call);
            return response.ok() ? Status::Ok() : response.status();
        }
        if (!buffer_.empty()) PG_ARK_RETURN_IF_ERROR(QueuePart(std::move(buffer_)));
        PG_ARK_RETURN_IF_ERROR(Drain());
        PG_ARK_RETURN_IF_ERROR(CheckCreateNew());
        std::string body = "<CompleteMultipartUpload>";
        for (const auto &[number, etag] : etags_)
            body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", number, etag);
        body += "</CompleteMultipartUpload>";
        Call call{"complete the multipart upload of", "POST", key_};
        call.query = {{"uploadId", upload_id_}};
        call.body = body.data();
        call.body_size = body.size();
        call.accept = {404};
        auto response = storage_->Perform(call);
        if (!response.ok()) return response.status();
        if (response->status == 404) {
            /* NoSuchUpload after a retry: the first attempt completed it but its answer was lost. */
            auto info = storage_->InfoOfKey(key_);
            if (!info.ok()) return info.status();
            if (!info->exists || info->size != total_size_)
                return Status(ErrorKind::io_error,
                              fmt::format("could not complete the multipart upload of \"{}\": "
                                          "the upload is gone", storage_->Name(key_)));
        }
        upload_id_.clear(); /* completed: nothing to abort */
        Log(LogLevel::debug, "stored \"{}\" by multipart upload in {} parts", storage_->Name(key_), etags_.size());
        return Status::Ok();
    }();
    buffer_.clear();
    buffer_.shrink_to_fit();
    if (!status.ok()) {
        failed_ = true;
        Abort();
    }
    return status;
}

}  // namespace

Result<std::unique_ptr<Storage>> MakeS3Storage(const S3Config &config, const S3Tuning &tuning) {
    SigV4Credentials credentials{config.key, config.key_secret, ""};
    if (credentials.access_key.empty()) {
        const char *key = getenv("AWS_ACCESS_KEY_ID");
        const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *token = getenv("AWS_SESSION_TOKEN");
        if (key == nullptr || *key == '\0' || secret == nullptr || *secret == '\0')
            return Status(ErrorKind::invalid_argument,
                          "no S3 credentials: set repo-s3-key and repo-s3-key-secret in the "
                          "configuration, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                          "environment");
        credentials = {key, secret, token != nullptr ? token : ""};
    }
    return std::unique_ptr<Storage>(new S3Storage(config, tuning, std::move(credentials)));
}

}  // namespace pg_ark

/*
 * s3_storage_test.cpp
 *     The S3 driver against a real S3-compatible server (s3rver, installed by
 *     scripts/install-deps.sh) on loopback, directly and through tests/s3/fault_proxy.py, which
 *     answers chosen requests with 500, 503 or 429 or drops the connection. Skipped when
 *     PG_ARK_S3RVER (the s3rver executable) and PG_ARK_FAULT_PROXY (the proxy script) are unset,
 *     as tests/run.sh sets them.
 *
 * Shown here: put/get/list/remove/info through the Storage interface; a multipart upload with
 * parts in parallel; create_new refusing an existing object; retries within the bound succeed;
 * failures past the bound end in an error naming the operation and the object, and abort the
 * multipart upload so nothing is visible.
 */
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "s3_storage.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;

/* A child process started through sh, killed (and reaped) on destruction. */
class Child {
  public:
    explicit Child(const std::string &command) {
        pid_ = fork();
        if (pid_ == 0) {
            setpgid(0, 0);
            execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char *>(nullptr));
            _exit(127);
        }
    }
    ~Child() {
        if (pid_ > 0) {
            kill(-pid_, SIGTERM);
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
    }

  private:
    pid_t pid_ = -1;
};

std::string ReadFile(const std::string &path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

/* Polls (bounded: 30 s) until pick() finds what it wants in the file. */
std::string WaitFor(const std::string &path, const std::function<std::string(const std::string &)> &pick) {
    for (int i = 0; i < 3000; i++) {
        std::string found = pick(ReadFile(path));
        if (!found.empty()) return found;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return "";
}

int Count(const std::string &text, const std::string &needle) {
    int n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
    return n;
}

class S3StorageTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const char *s3rver = getenv("PG_ARK_S3RVER");
        const char *proxy = getenv("PG_ARK_FAULT_PROXY");
        if (s3rver == nullptr || proxy == nullptr || *s3rver == '\0' || *proxy == '\0')
            GTEST_SKIP() << "PG_ARK_S3RVER and PG_ARK_FAULT_PROXY not set (tests/run.sh sets them)";
        proxy_script_ = proxy;
        std::string log = dir_.Sub("s3rver.log");
        server_ = std::make_unique<Child>(fmt::format(
            "exec '{}' -d '{}' -a 127.0.0.1 -p 0 --configure-bucket pgark {} > '{}' 2>&1", s3rver,
            dir_.Sub("data"), server_args_, log));
        port_ = WaitFor(log, [](const std::string &text) {
            size_t at = text.find("listening on 127.0.0.1:");
            if (at == std::string::npos) return std::string();
            std::string rest = text.substr(at + 23);
            size_t end = rest.find_first_not_of("0123456789");
            return end == std::string::npos ? std::string() : rest.substr(0, end);
        });
        ASSERT_FALSE(port_.empty()) << ReadFile(log);
    }

    /* Storage straight to s3rver, or through a fault proxy with these rules. */
    std::unique_ptr<Storage> Open(const std::vector<std::string> &rules = {}, bool proxied = false) {
        std::string port = proxied || !rules.empty() ? StartProxy(rules) : port_;
        return OpenWith(Config("http://127.0.0.1:" + port));
    }

    /* The bucket pgark under prefix "repo", path-style, with s3rver's own credentials (it
     * checks every signature). */
    static S3Config Config(const std::string &endpoint) {
        S3Config config;
        config.endpoint = endpoint;
        config.bucket = "pgark";
        config.region = "us-east-1";
        config.host_style = false;
        config.prefix = "repo";
        config.key = "S3RVER";
        config.key_secret = "S3RVER";
        config.part_size = 64 * 1024; /* s3rver does not insist on 5 MiB parts */
        return config;
    }

    /* A fault proxy in front of the server, logging every request to proxy_log_; its port. */
    std::string StartProxy(const std::vector<std::string> &rules) {
        std::string port_file = dir_.Sub(fmt::format("proxy{}.port", proxies_.size()));
        proxy_log_ = dir_.Sub(fmt::format("proxy{}.log", proxies_.size()));
        std::string command = fmt::format("exec python3 '{}' --upstream 127.0.0.1:{} --port-file '{}'",
                                          proxy_script_, port_, port_file);
        for (const std::string &rule : rules) command += " --rule '" + rule + "'";
        proxies_.push_back(std::make_unique<Child>(command + " 2> '" + proxy_log_ + "'"));
        std::string port = WaitFor(port_file, [](const std::string &text) { return text; });
        EXPECT_FALSE(port.empty());
        return port;
    }

    static std::unique_ptr<Storage> OpenWith(const S3Config &config) {
        S3Tuning tuning;
        tuning.read_chunk = 100 * 1000;
        tuning.parallel_parts = 3;
        tuning.attempts = 4;
        tuning.backoff_initial_ms = 5;
        tuning.backoff_max_ms = 20;
        auto storage = MakeS3Storage(config, tuning);
        EXPECT_TRUE(storage.ok()) << storage.status().message();
        return std::move(*storage);
    }

    static RepoPath Path(const std::string &text) { return *RepoPath::Make(text); }

    static std::string Data(size_t size) {
        std::string data(size, '\0');
        for (size_t i = 0; i < size; i++) data[i] = static_cast<char>((i * 131 + i / 977) & 0xff);
        return data;
    }

    TempDir dir_{"pg_ark_s3"};
    std::string server_args_; /* more options for s3rver */
    std::unique_ptr<Child> server_;
    std::vector<std::unique_ptr<Child>> proxies_;
    std::string port_;
    std::string proxy_script_;
    std::string proxy_log_;
};

TEST_F(S3StorageTest, PutGetListRemove) {
    auto storage = Open();
    EXPECT_EQ(storage->Describe(), "s3://pgark/repo");
    ASSERT_TRUE(WriteAll(*storage, Path("c/wal/a.ark"), "hello", WriteMode::create_new).ok());
    /* One byte, not empty: s3rver 3.7 answers a ranged GET of an empty object with a broken
     * response (pg_ark never stores empty objects; S3's 416 for them is handled). */
    ASSERT_TRUE(WriteAll(*storage, Path("c/wal/b.ark"), "b", WriteMode::create_new).ok());
    ASSERT_TRUE(WriteAll(*storage, Path("c/wal/sub/x.ark"), "x", WriteMode::create_new).ok());
    auto read = ReadAll(*storage, Path("c/wal/a.ark"));
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_EQ(*read, "hello");
    auto one = ReadAll(*storage, Path("c/wal/b.ark"));
    ASSERT_TRUE(one.ok()) << one.status().message();
    EXPECT_EQ(*one, "b");

    auto names = storage->List(Path("c/wal"));
    ASSERT_TRUE(names.ok()) << names.status().message();
    EXPECT_EQ(*names, (std::vector<std::string>{"a.ark", "b.ark", "sub"}));
    auto objects = storage->ListObjects(Path("c/wal"));
    ASSERT_TRUE(objects.ok());
    ASSERT_EQ(objects->size(), 2u);
    EXPECT_EQ((*objects)[0].size, 5u);
    EXPECT_GT((*objects)[0].stored_time, 1e9);

    auto info = storage->Info(Path("c/wal/a.ark"));
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->exists);
    EXPECT_EQ(info->size, 5u);

    Status again = WriteAll(*storage, Path("c/wal/a.ark"), "other", WriteMode::create_new);
    EXPECT_EQ(again.kind(), ErrorKind::conflict);
    EXPECT_NE(again.message().find("s3://pgark/repo/c/wal/a.ark"), std::string::npos);
    ASSERT_TRUE(WriteAll(*storage, Path("c/wal/a.ark"), "replaced", WriteMode::replace).ok());
    EXPECT_EQ(*ReadAll(*storage, Path("c/wal/a.ark")), "replaced");

    ASSERT_TRUE(storage->Remove(Path("c/wal/a.ark")).ok());
    ASSERT_TRUE(storage->Remove(Path("c/wal/a.ark")).ok()); /* absent is fine */
    auto gone = storage->OpenRead(Path("c/wal/a.ark"));
    EXPECT_EQ(gone.status().kind(), ErrorKind::not_found);
    EXPECT_FALSE(storage->Info(Path("c/wal/a.ark"))->exists);
    EXPECT_TRUE(storage->RemoveDirectory(Path("c/wal")).ok());
    EXPECT_FALSE(storage->FreeBytes()->has_value());
}

TEST_F(S3StorageTest, MultipartUploadAndRangedReads) {
    auto storage = Open({}, true);
    std::string data = Data(64 * 1024 * 5 + 12345); /* 6 parts, 3 in parallel */
    ASSERT_TRUE(WriteAll(*storage, Path("c/backup/big.ark"), data, WriteMode::create_new).ok());
    auto read = ReadAll(*storage, Path("c/backup/big.ark")); /* in 100 kB ranges */
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_TRUE(*read == data);
    std::string log = ReadFile(proxy_log_);
    EXPECT_EQ(Count(log, "POST /pgark/repo/c/backup/big.ark?uploads"), 1) << log;
    EXPECT_EQ(Count(log, "partNumber="), 6) << log;
    EXPECT_EQ(Count(log, "GET /pgark/repo/c/backup/big.ark -> forwarded 206"), 4) << log;
}

TEST_F(S3StorageTest, ARangeReadAheadThatFailsIsReportedByRead) {
    std::string data = Data(100 * 1000 * 5 + 17); /* six ranges of 100 kB */
    ASSERT_TRUE(WriteAll(*Open(), Path("c/backup/big.ark"), data, WriteMode::create_new).ok());
    /* The first GET passes; every later range fails past the bound (4 attempts). */
    auto storage = Open({"GET:big.ark:503:99:1"});
    auto stream = storage->OpenRead(Path("c/backup/big.ark"));
    ASSERT_TRUE(stream.ok()) << stream.status().message();
    std::string buffer(64 * 1024, '\0');
    Result<size_t> read = static_cast<size_t>(0);
    size_t total = 0;
    for (;;) {
        read = (*stream)->Read(buffer.data(), buffer.size());
        if (!read.ok() || *read == 0) break;
        total += *read;
    }
    ASSERT_FALSE(read.ok()) << "read " << total << " bytes without an error";
    EXPECT_EQ(total, 100u * 1000) << "exactly the first range was delivered";
    EXPECT_NE(read.status().message().find("s3://pgark/repo/c/backup/big.ark"), std::string::npos)
        << read.status().message();
    EXPECT_NE(read.status().message().find("HTTP 503"), std::string::npos) << read.status().message();
    /* Reading on after the failure fetches the range again (and fails again), never hangs. */
    EXPECT_FALSE((*stream)->Read(buffer.data(), buffer.size()).ok());
}

TEST_F(S3StorageTest, AStreamDroppedWithARangeInFlight) {
    std::string data = Data(100 * 1000 * 3);
    auto storage = Open({}, true);
    ASSERT_TRUE(WriteAll(*storage, Path("c/backup/big.ark"), data, WriteMode::create_new).ok());
    for (int i = 0; i < 5; i++) {
        auto stream = storage->OpenRead(Path("c/backup/big.ark")); /* the second range is in flight */
        ASSERT_TRUE(stream.ok());
        char byte;
        ASSERT_EQ(*(*stream)->Read(&byte, 1), 1u);
        EXPECT_EQ(byte, data[0]);
    } /* each destroyed while its read-ahead may still run: it waits for it */
    auto again = ReadAll(*storage, Path("c/backup/big.ark"));
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_TRUE(*again == data);
}

TEST_F(S3StorageTest, RetriesWithinTheBoundSucceed) {
    /* attempts = 4: three failures of one request are survived. */
    auto storage = Open({"PUT:partNumber=2:503:2", "PUT:partNumber=3:drop:1", "PUT:partNumber=4:429:3",
                         "POST:uploadId:500:1", "GET:list-type:500:3", "PUT:small:drop:2"});
    std::string data = Data(64 * 1024 * 4 + 1);
    Status written = WriteAll(*storage, Path("c/backup/big.ark"), data, WriteMode::replace);
    ASSERT_TRUE(written.ok()) << written.message();
    EXPECT_TRUE(*ReadAll(*storage, Path("c/backup/big.ark")) == data);
    Status small = WriteAll(*storage, Path("c/backup/small.ark"), "s", WriteMode::replace);
    ASSERT_TRUE(small.ok()) << small.message();
    auto names = storage->List(Path("c/backup"));
    ASSERT_TRUE(names.ok()) << names.status().message();
    EXPECT_EQ(*names, (std::vector<std::string>{"big.ark", "small.ark"}));
    std::string log = ReadFile(proxy_log_);
    EXPECT_EQ(Count(log, "-> 503"), 2) << log;
    EXPECT_EQ(Count(log, "-> drop"), 3) << log;
    EXPECT_EQ(Count(log, "-> 429"), 3) << log;
    EXPECT_EQ(Count(log, "-> 500"), 4) << log;
}

TEST_F(S3StorageTest, FailurePastTheBoundAbortsTheMultipartUpload) {
    auto storage = Open({"PUT:partNumber=3:503:99"});
    std::string data = Data(64 * 1024 * 4 + 1);
    Status written = WriteAll(*storage, Path("c/backup/big.ark"), data, WriteMode::create_new);
    ASSERT_FALSE(written.ok());
    EXPECT_NE(written.message().find("could not upload a part of \"s3://pgark/repo/c/backup/big.ark\""),
              std::string::npos) << written.message();
    EXPECT_NE(written.message().find("HTTP 503 SlowDown"), std::string::npos) << written.message();
    EXPECT_NE(written.message().find("after 4 attempts"), std::string::npos) << written.message();
    EXPECT_EQ(written.message().find("S3RVER"), std::string::npos); /* no key, no secret */
    std::string log = ReadFile(proxy_log_);
    /* s3rver 3.7 does not implement AbortMultipartUpload (405, logged as a warning): what is
     * shown is that the abort is sent, and that nothing became visible. */
    EXPECT_EQ(Count(log, "DELETE /pgark/repo/c/backup/big.ark?uploadId="), 1) << log;
    EXPECT_EQ(Count(log, "POST /pgark/repo/c/backup/big.ark?uploadId="), 0) << log; /* never completed */
    EXPECT_FALSE(storage->Info(Path("c/backup/big.ark"))->exists);
    EXPECT_TRUE(storage->List(Path("c/backup"))->empty());
}

TEST_F(S3StorageTest, AStreamDroppedWithoutCloseLeavesNothing) {
    auto storage = Open({}, true);
    {
        auto stream = storage->OpenWrite(Path("c/backup/half.ark"), WriteMode::create_new);
        ASSERT_TRUE(stream.ok());
        std::string data = Data(64 * 1024 * 3);
        ASSERT_TRUE((*stream)->Write(data.data(), data.size()).ok());
    }
    EXPECT_FALSE(storage->Info(Path("c/backup/half.ark"))->exists);
    EXPECT_EQ(Count(ReadFile(proxy_log_), "DELETE /pgark/repo/c/backup/half.ark?uploadId="), 1);
}

/*
 * The same server over HTTPS, with a self-signed certificate for localhost.
 */
class S3TlsTest : public S3StorageTest {
  protected:
    void SetUp() override {
        std::string key = dir_.Sub("tls.key");
        ca_file_ = dir_.Sub("tls.crt");
        std::string command = fmt::format(
            "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
            "-addext subjectAltName=DNS:localhost -keyout '{}' -out '{}' > '{}' 2>&1",
            key, ca_file_, dir_.Sub("openssl.log"));
        ASSERT_EQ(system(command.c_str()), 0) << ReadFile(dir_.Sub("openssl.log"));
        server_args_ = fmt::format("--key '{}' --cert '{}'", key, ca_file_);
        S3StorageTest::SetUp();
    }

    S3Config Https(const std::string &host) const {
        S3Config config = Config(fmt::format("https://{}:{}", host, port_));
        config.ca_file = ca_file_;
        return config;
    }

    /* A round trip, multipart included; the object lands in the bucket pgark. */
    void ExpectRoundTrip(Storage &storage, const std::string &name) {
        std::string data = Data(64 * 1024 * 2 + 7);
        Status written = WriteAll(storage, Path("c/" + name), data, WriteMode::create_new);
        ASSERT_TRUE(written.ok()) << written.message();
        auto read = ReadAll(storage, Path("c/" + name));
        ASSERT_TRUE(read.ok()) << read.status().message();
        EXPECT_TRUE(*read == data);
        auto names = storage.List(Path("c"));
        ASSERT_TRUE(names.ok()) << names.status().message();
        EXPECT_EQ(*names, std::vector<std::string>{name});
        /* s3rver keeps each object's body as <directory>/<bucket>/<key>._S3rver_object */
        EXPECT_EQ(access(dir_.Sub("data/pgark/repo/c/" + name + "._S3rver_object").c_str(), F_OK), 0);
    }

    std::string ca_file_;
};

TEST_F(S3TlsTest, VerifiesTheServerWithTheCaFile) {
    auto storage = OpenWith(Https("localhost"));
    ExpectRoundTrip(*storage, "verified.ark");
}

TEST_F(S3TlsTest, RefusesACertificateItCannotVerify) {
    S3Config config = Https("localhost");
    config.ca_file.clear(); /* the system's CAs do not know the test's certificate */
    auto storage = OpenWith(config);
    Status written = WriteAll(*storage, Path("c/refused.ark"), "x", WriteMode::create_new);
    ASSERT_FALSE(written.ok());
    EXPECT_NE(written.message().find("s3://pgark/repo/c/refused.ark"), std::string::npos) << written.message();
    EXPECT_NE(written.message().find("certificate"), std::string::npos) << written.message();
    EXPECT_EQ(written.message().find("attempts"), std::string::npos) << "not retried: " << written.message();
    EXPECT_NE(access(dir_.Sub("data/pgark/repo/c/refused.ark._S3rver_object").c_str(), F_OK), 0);

    /* A certificate for another name is refused too, even from a known CA. */
    S3Config other = Https("127.0.0.1");
    Status by_ip = WriteAll(*OpenWith(other), Path("c/refused.ark"), "x", WriteMode::create_new);
    EXPECT_FALSE(by_ip.ok());
}

TEST_F(S3TlsTest, VerificationOffTrustsAnyCertificate) {
    S3Config config = Https("localhost");
    config.ca_file.clear();
    config.verify_tls = false;
    auto storage = OpenWith(config);
    ExpectRoundTrip(*storage, "unverified.ark");
}

/* s3rver takes host-style requests for <bucket>.s3.localhost (curl resolves any *.localhost name
 * to loopback, without DNS); the proxy's log shows the paths carry no bucket. */
class S3HostStyleTest : public S3StorageTest {
  protected:
    void SetUp() override {
        server_args_ = "--service-endpoint localhost";
        S3StorageTest::SetUp();
    }
};

TEST_F(S3HostStyleTest, BucketInTheHostName) {
    S3Config config = Config("http://s3.localhost:" + StartProxy({})); /* pgark.s3.localhost:PORT */
    config.host_style = true;
    auto storage = OpenWith(config);
    std::string data = Data(64 * 1024 * 2 + 7); /* multipart too */
    ASSERT_TRUE(WriteAll(*storage, Path("c/hosted.ark"), data, WriteMode::create_new).ok());
    auto read = ReadAll(*storage, Path("c/hosted.ark"));
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_TRUE(*read == data);
    EXPECT_EQ(*storage->List(Path("c")), std::vector<std::string>{"hosted.ark"});
    EXPECT_EQ(access(dir_.Sub("data/pgark/repo/c/hosted.ark._S3rver_object").c_str(), F_OK), 0);
    std::string log = ReadFile(proxy_log_);
    EXPECT_GT(Count(log, "PUT /repo/c/hosted.ark?partNumber="), 0) << log;
    EXPECT_GT(Count(log, "GET /repo/c/hosted.ark"), 0) << log;
    EXPECT_EQ(Count(log, "/pgark/"), 0) << log;
}

TEST_F(S3StorageTest, CredentialsFromTheEnvironmentWithASessionToken) {
    S3Config config = Config("http://127.0.0.1:" + StartProxy({}));
    config.key.clear();
    config.key_secret.clear();
    /* Temporary credentials: s3rver checks the signature, which must then cover the token. */
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN", 1);
    auto storage = OpenWith(config);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    std::string data = Data(64 * 1024 * 2 + 3);
    Status written = WriteAll(*storage, Path("c/token.ark"), data, WriteMode::create_new);
    ASSERT_TRUE(written.ok()) << written.message();
    auto read = ReadAll(*storage, Path("c/token.ark"));
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_TRUE(*read == data);
    std::string log = ReadFile(proxy_log_);
    int requests = Count(log, " -> ");
    EXPECT_GT(requests, 4) << log;
    EXPECT_EQ(Count(log, "[session token, signed]"), requests) << log;
}

TEST_F(S3StorageTest, MissingCredentialsAreAClearError) {
    S3Config config;
    config.endpoint = "http://127.0.0.1:1";
    config.bucket = "pgark";
    config.region = "us-east-1";
    unsetenv("AWS_ACCESS_KEY_ID");
    auto storage = MakeS3Storage(config);
    EXPECT_EQ(storage.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(storage.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

}  // namespace
}  // namespace pg_ark

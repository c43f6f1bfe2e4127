/*
 * server_test.cpp
 *     Tests of the helper daemon (helper/src/server.h) running on a thread: ping and archive
 *     requests through CallHelper, hostile bytes on raw connections, concurrency, peer
 *     credentials, a second server on the same socket, and a clean stop.
 */
#include "server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "frame_io.h"
#include "log.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSysid = 7301234567890123456ull;
constexpr int kTimeoutMs = 20000;

std::vector<uint8_t> PingPayload(const std::string &cluster) {
    wire::PingRequest ping;
    wire::CopyBounded(ping.cluster, sizeof ping.cluster, cluster.c_str());
    std::vector<uint8_t> out(wire::kMaxPayload);
    out.resize(wire::EncodePing(ping, out.data(), out.size()));
    return out;
}

std::vector<uint8_t> PushPayload(const std::string &cluster, uint64_t sysid,
                                 const std::string &wal) {
    wire::ArchivePushRequest push;
    wire::CopyBounded(push.cluster, sizeof push.cluster, cluster.c_str());
    push.system_identifier = sysid;
    wire::CopyBounded(push.wal_name, sizeof push.wal_name, wal.c_str());
    std::vector<uint8_t> out(wire::kMaxPayload);
    out.resize(wire::EncodeArchivePush(push, out.data(), out.size()));
    return out;
}

/* Reads from fd until end of stream or until the deadline; *eof tells which. */
std::string ReadUntilEof(int fd, int timeout_ms, bool *eof) {
    std::string data;
    *eof = false;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        auto remaining =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (remaining <= 0) return data;
        struct pollfd entry = {fd, POLLIN, 0};
        int rc = poll(&entry, 1, static_cast<int>(remaining));
        if (rc <= 0) continue;
        char buffer[4096];
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            *eof = true;
            return data;
        }
        if (n > 0) data.append(buffer, static_cast<size_t>(n));
    }
}

/*
 * What a server may send after a malformed frame: nothing, or one reply frame whose status is
 * an error (protocol). Returns an empty string when acceptable, else a description.
 */
std::string CheckErrorResponse(const std::string &bytes) {
    if (bytes.empty()) return "";
    if (bytes.size() < wire::kHeaderSize) return "partial frame of " + std::to_string(bytes.size());
    wire::FrameHeader header;
    if (wire::DecodeHeader(reinterpret_cast<const uint8_t *>(bytes.data()), &header) !=
        wire::DecodeResult::ok)
        return "undecodable header";
    if (header.type != wire::MessageType::reply) return "not a reply";
    if (bytes.size() != wire::kHeaderSize + header.length) return "extra or missing bytes";
    wire::Reply reply;
    if (wire::DecodeReply(reinterpret_cast<const uint8_t *>(bytes.data()) + wire::kHeaderSize,
                          header.length, &reply) != wire::DecodeResult::ok)
        return "undecodable reply";
    if (reply.status == ErrorKind::ok) return "status ok for a malformed frame";
    if (reply.status != ErrorKind::protocol)
        return std::string("status ") + ErrorKindName(reply.status) + " instead of protocol";
    return "";
}

/* A Server on its own thread, stopped (with a bounded wait) on destruction. */
class RunningServer {
  public:
    explicit RunningServer(Config config) : server_(new Server(std::move(config))) {}
    ~RunningServer() { Stop(); }

    Status Listen() { return server_->Listen(); }
    void Start() {
        std::promise<Status> done;
        finished_ = done.get_future();
        thread_ = std::thread(
            [this, done = std::move(done)]() mutable { done.set_value(server_->Serve()); });
        started_ = true;
    }
    /* Returns false when Serve() did not return within the bound. */
    bool Stop(int timeout_ms = 15000) {
        if (!started_) return true;
        started_ = false;
        server_->Stop();
        if (finished_.wait_for(std::chrono::milliseconds(timeout_ms)) !=
            std::future_status::ready) {
            ADD_FAILURE() << "Serve() did not return within " << timeout_ms << " ms of Stop()";
            thread_.detach();
            server_.release(); /* leaked deliberately: it is still running */
            return false;
        }
        thread_.join();
        Status status = finished_.get();
        EXPECT_TRUE(status.ok()) << status.message();
        return true;
    }
    Server &server() { return *server_; }

  private:
    std::unique_ptr<Server> server_;
    std::thread thread_;
    std::future<Status> finished_;
    bool started_ = false;
};

class ServerTest : public ::testing::Test {
  protected:
    ServerTest() : dir_("pg_ark_server") {}

    void SetUp() override {
        SetLogLevel(LogLevel::error);
        ASSERT_EQ(mkdir(dir_.Sub("repo").c_str(), 0700), 0);
        ASSERT_EQ(mkdir(dir_.Sub("pgdata").c_str(), 0700), 0);
        ASSERT_EQ(mkdir(dir_.Sub("work").c_str(), 0755), 0);
        socket_path_ = dir_.Sub("run/pg_ark.sock");
        config_.path = "server-test.conf";
        config_.repo_path = dir_.Sub("repo");
        config_.socket_path = socket_path_;
        ClusterConfig cluster;
        cluster.name = "main";
        cluster.pgdata = dir_.Sub("pgdata");
        config_.clusters["main"] = cluster;

        Repository repository(MakePosixStorage(config_.repo_path));
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        ASSERT_TRUE(repository.InitCluster("main", identity).ok());
    }

    /* Lets other users reach the socket (Listen() made its directory 0700 and the socket 0600). */
    void OpenSocketDirectory() {
        ASSERT_EQ(chmod(dir_.Sub("run").c_str(), 0711), 0);
        ASSERT_EQ(chmod(socket_path_.c_str(), 0666), 0);
    }

    void StartServer() {
        server_ = std::make_unique<RunningServer>(config_);
        Status listening = server_->Listen();
        ASSERT_TRUE(listening.ok()) << listening.message();
        server_->Start();
    }

    void TearDown() override { server_.reset(); }

    Result<wire::Reply> Ping(const std::string &cluster) {
        std::vector<uint8_t> payload = PingPayload(cluster);
        return CallHelper(socket_path_, wire::MessageType::ping, payload.data(), payload.size(), -1,
                          kTimeoutMs);
    }

    Result<wire::Reply> Push(const std::string &wal, const std::string &data,
                             uint64_t sysid = kSysid, const std::string &cluster = "main") {
        std::string source = dir_.Sub("work/" + wal + "." + std::to_string(counter_++));
        pg_ark_test::WriteFileBytes(source, data);
        pg_ark_test::ReadFd fd(source);
        std::vector<uint8_t> payload = PushPayload(cluster, sysid, wal);
        return CallHelper(socket_path_, wire::MessageType::archive_push, payload.data(),
                          payload.size(), fd.fd, kTimeoutMs);
    }

    /* Reads an archived file back through a separate Repository. */
    Result<std::string> Restore(const std::string &wal) {
        Repository repository(MakePosixStorage(config_.repo_path));
        WalStore store(&repository);
        std::string destination = dir_.Sub("work/restored");
        Status got = store.Get("main", wal, destination);
        if (!got.ok()) return got;
        std::string data = pg_ark_test::ReadFileBytes(destination);
        unlink(destination.c_str());
        return data;
    }

    void ExpectServing() {
        Result<wire::Reply> reply = Ping("main");
        ASSERT_TRUE(reply.ok()) << "server no longer serving: " << reply.status().message();
        EXPECT_EQ(reply->status, ErrorKind::ok) << reply->message;
    }

    TempDir dir_;
    std::string socket_path_;
    Config config_;
    std::unique_ptr<RunningServer> server_;
    std::atomic<int> counter_{0};
};

TEST_F(ServerTest, ListenCreatesPrivateSocketDirectory) {
    StartServer();
    struct stat st;
    ASSERT_EQ(stat(dir_.Sub("run").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(lstat(socket_path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

TEST_F(ServerTest, PingConfiguredCluster) {
    StartServer();
    Result<wire::Reply> reply = Ping("main");
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_EQ(reply->status, ErrorKind::ok) << reply->message;
    EXPECT_EQ(std::string(reply->message).rfind("pg_ark ", 0), 0u) << reply->message;
}

TEST_F(ServerTest, PingUnknownClusterFails) {
    StartServer();
    Result<wire::Reply> reply = Ping("nosuchcluster");
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_NE(reply->status, ErrorKind::ok);
    EXPECT_GT(strlen(reply->message), 0u);
    EXPECT_NE(std::string(reply->message).find("nosuchcluster"), std::string::npos)
        << reply->message;
}

TEST_F(ServerTest, ArchivePushStoresFile) {
    StartServer();
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 1);
    Result<wire::Reply> reply = Push("000000010000000000000001", segment);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    ASSERT_EQ(reply->status, ErrorKind::ok) << reply->message;
    EXPECT_NE(std::string(reply->message).find("000000010000000000000001"), std::string::npos);
    Result<std::string> restored = Restore("000000010000000000000001");
    ASSERT_TRUE(restored.ok()) << restored.status().message();
    EXPECT_TRUE(*restored == segment) << "archived bytes differ";

    /* Identical again: ok. Different content: conflict, reported to the client. */
    Result<wire::Reply> again = Push("000000010000000000000001", segment);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->status, ErrorKind::ok) << again->message;
    std::string other = segment;
    other[100000] ^= 1;
    Result<wire::Reply> conflicting = Push("000000010000000000000001", other);
    ASSERT_TRUE(conflicting.ok());
    EXPECT_EQ(conflicting->status, ErrorKind::conflict) << conflicting->message;
    EXPECT_GT(strlen(conflicting->message), 0u);
}

TEST_F(ServerTest, ArchivePushErrorsAreReported) {
    StartServer();
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 2, 1 << 20);
    Result<wire::Reply> mismatch = Push("000000010000000000000002", segment, kSysid + 1);
    ASSERT_TRUE(mismatch.ok());
    EXPECT_EQ(mismatch->status, ErrorKind::system_mismatch) << mismatch->message;

    Result<wire::Reply> unknown = Push("000000010000000000000002", segment, kSysid, "other");
    ASSERT_TRUE(unknown.ok());
    EXPECT_NE(unknown->status, ErrorKind::ok);
    EXPECT_GT(strlen(unknown->message), 0u);
    ExpectServing();
}

TEST_F(ServerTest, ArchivePushWithoutFdIsError) {
    StartServer();
    std::vector<uint8_t> payload = PushPayload("main", kSysid, "000000010000000000000004");
    Result<wire::Reply> reply = CallHelper(socket_path_, wire::MessageType::archive_push,
                                           payload.data(), payload.size(), -1, kTimeoutMs);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_NE(reply->status, ErrorKind::ok);
    EXPECT_GT(strlen(reply->message), 0u);
    Result<std::string> restored = Restore("000000010000000000000004");
    EXPECT_FALSE(restored.ok());
    ExpectServing();
}

TEST_F(ServerTest, MalformedPayloadIsProtocolError) {
    StartServer();
    std::vector<uint8_t> payload = PingPayload("main");
    payload.push_back(0); /* trailing byte */
    Result<wire::Reply> reply = CallHelper(socket_path_, wire::MessageType::ping, payload.data(),
                                           payload.size(), -1, kTimeoutMs);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_EQ(reply->status, ErrorKind::protocol) << reply->message;

    std::vector<uint8_t> bad_name = PushPayload("main", kSysid, "../../etc/passwd");
    pg_ark_test::WriteFileBytes(dir_.Sub("work/x"), "x");
    pg_ark_test::ReadFd fd(dir_.Sub("work/x"));
    /* The encoder copies the name verbatim; the server must refuse it. */
    reply = CallHelper(socket_path_, wire::MessageType::archive_push, bad_name.data(),
                       bad_name.size(), fd.fd, kTimeoutMs);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_NE(reply->status, ErrorKind::ok);
    EXPECT_FALSE(pg_ark_test::PathExists(dir_.Sub("etc")));
    ExpectServing();
}

TEST_F(ServerTest, ReplyTypeFromClientIsError) {
    StartServer();
    wire::Reply fake;
    std::vector<uint8_t> payload(64);
    payload.resize(wire::EncodeReply(fake, payload.data(), payload.size()));
    Result<wire::Reply> reply = CallHelper(socket_path_, wire::MessageType::reply, payload.data(),
                                           payload.size(), -1, kTimeoutMs);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_NE(reply->status, ErrorKind::ok);
    ExpectServing();
}

TEST_F(ServerTest, SeveralRequestsOnOneConnection) {
    StartServer();
    auto connection = ConnectUnix(socket_path_);
    ASSERT_TRUE(connection.ok());
    std::vector<uint8_t> payload = PingPayload("main");
    for (uint32_t id : {7u, 8u, 0xFFFFFFFFu}) {
        ASSERT_TRUE(WriteFrame(connection->get(), wire::MessageType::ping, id, payload.data(),
                               payload.size(), -1, kTimeoutMs)
                        .ok());
        auto frame = ReadFrame(connection->get(), kTimeoutMs, kTimeoutMs);
        ASSERT_TRUE(frame.ok()) << frame.status().message();
        ASSERT_TRUE(frame->has_value()) << "server closed a healthy connection";
        EXPECT_EQ((**frame).header.type, wire::MessageType::reply);
        EXPECT_EQ((**frame).header.request_id, id) << "reply does not echo the request id";
        wire::Reply reply;
        ASSERT_EQ(wire::DecodeReply((**frame).payload.data(), (**frame).payload.size(), &reply),
                  wire::DecodeResult::ok);
        EXPECT_EQ(reply.status, ErrorKind::ok) << reply.message;
    }
}

/* ---------------------------------------------------------------- hostile raw connections */

TEST_F(ServerTest, GarbageBytesCloseConnectionAndServerKeepsServing) {
    StartServer();
    for (uint32_t seed : {1u, 2u, 3u}) {
        auto connection = ConnectUnix(socket_path_);
        ASSERT_TRUE(connection.ok());
        std::string garbage = pg_ark_test::RandomBytes(64 + seed * 100, seed);
        ASSERT_EQ(write(connection->get(), garbage.data(), garbage.size()),
                  static_cast<ssize_t>(garbage.size()));
        bool eof = false;
        std::string response = ReadUntilEof(connection->get(), 5000, &eof);
        EXPECT_TRUE(eof) << "server kept a connection open after garbage";
        EXPECT_EQ(CheckErrorResponse(response), "");
    }
    ExpectServing();
}

TEST_F(ServerTest, OversizedLengthIsRejectedPromptly) {
    StartServer();
    auto connection = ConnectUnix(socket_path_);
    ASSERT_TRUE(connection.ok());
    std::vector<uint8_t> header(wire::kHeaderSize);
    wire::FrameHeader h;
    h.type = wire::MessageType::ping;
    h.request_id = 3;
    h.length = wire::kMaxPayload + 1;
    wire::EncodeHeader(h, header.data());
    ASSERT_EQ(write(connection->get(), header.data(), header.size()), 16);
    auto start = Clock::now();
    bool eof = false;
    std::string response = ReadUntilEof(connection->get(), 5000, &eof);
    EXPECT_TRUE(eof) << "server waited for an oversized payload";
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
    EXPECT_EQ(CheckErrorResponse(response), "");
    EXPECT_FALSE(response.empty()) << "no protocol error reply was sent";

    /* 4 GiB claimed. */
    auto second = ConnectUnix(socket_path_);
    ASSERT_TRUE(second.ok());
    h.length = 0xFFFFFFFFu;
    wire::EncodeHeader(h, header.data());
    ASSERT_EQ(write(second->get(), header.data(), header.size()), 16);
    response = ReadUntilEof(second->get(), 5000, &eof);
    EXPECT_TRUE(eof);
    EXPECT_EQ(CheckErrorResponse(response), "");
    ExpectServing();
}

TEST_F(ServerTest, TruncatedFrameThenCloseServerSurvives) {
    StartServer();
    std::vector<uint8_t> payload = PingPayload("main");
    std::vector<uint8_t> frame(wire::kHeaderSize + payload.size());
    wire::FrameHeader h;
    h.type = wire::MessageType::ping;
    h.length = static_cast<uint32_t>(payload.size());
    wire::EncodeHeader(h, frame.data());
    memcpy(frame.data() + wire::kHeaderSize, payload.data(), payload.size());
    for (size_t cut : {size_t{1}, size_t{8}, wire::kHeaderSize, frame.size() - 1}) {
        auto connection = ConnectUnix(socket_path_);
        ASSERT_TRUE(connection.ok());
        ASSERT_EQ(write(connection->get(), frame.data(), cut), static_cast<ssize_t>(cut));
        connection->Reset();
    }
    /* Half-closed: the server sees end of stream mid-frame and must answer or close. */
    auto half = ConnectUnix(socket_path_);
    ASSERT_TRUE(half.ok());
    ASSERT_EQ(write(half->get(), frame.data(), 10), 10);
    ASSERT_EQ(shutdown(half->get(), SHUT_WR), 0);
    bool eof = false;
    std::string response = ReadUntilEof(half->get(), 5000, &eof);
    EXPECT_TRUE(eof);
    EXPECT_EQ(CheckErrorResponse(response), "");
    ExpectServing();
}

TEST_F(ServerTest, ClientClosingBeforeReplyDoesNotHurtServer) {
    StartServer();
    std::vector<uint8_t> payload = PingPayload("main");
    for (int i = 0; i < 20; i++) {
        auto connection = ConnectUnix(socket_path_);
        ASSERT_TRUE(connection.ok());
        ASSERT_TRUE(WriteFrame(connection->get(), wire::MessageType::ping, 1, payload.data(),
                               payload.size(), -1, kTimeoutMs)
                        .ok());
        connection->Reset(); /* never reads the reply */
    }
    ExpectServing();
}

TEST_F(ServerTest, IdleConnectionDoesNotBlockOthers) {
    StartServer();
    auto idle = ConnectUnix(socket_path_);
    ASSERT_TRUE(idle.ok());
    auto half_header = ConnectUnix(socket_path_);
    ASSERT_TRUE(half_header.ok());
    ASSERT_EQ(write(half_header->get(), "PGAR", 4), 4);
    auto start = Clock::now();
    ExpectServing();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

/* ---------------------------------------------------------------- concurrency */

TEST_F(ServerTest, ManyConcurrentClients) {
    StartServer();
    constexpr int kThreads = 16;
    constexpr int kRequests = 5;
    std::atomic<int> succeeded{0};
    std::vector<std::string> failures(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            char name[32];
            snprintf(name, sizeof name, "%08X.history", t + 2);
            for (int r = 0; r < kRequests; r++) {
                Result<wire::Reply> reply =
                    r == 2 ? Push(name, "history of timeline " + std::to_string(t + 2) + "\n")
                           : Ping("main");
                if (reply.ok() && reply->status == ErrorKind::ok) {
                    succeeded++;
                } else {
                    failures[t] +=
                        reply.ok() ? std::string(reply->message) : reply.status().message();
                    failures[t] += "; ";
                }
            }
        });
    }
    for (auto &thread : threads) thread.join();
    EXPECT_EQ(succeeded.load(), kThreads * kRequests);
    for (int t = 0; t < kThreads; t++) EXPECT_EQ(failures[t], "") << "thread " << t;
    for (int t = 0; t < kThreads; t++) {
        char name[32];
        snprintf(name, sizeof name, "%08X.history", t + 2);
        Result<std::string> restored = Restore(name);
        ASSERT_TRUE(restored.ok()) << name << ": " << restored.status().message();
        EXPECT_EQ(*restored, "history of timeline " + std::to_string(t + 2) + "\n");
    }
}

TEST_F(ServerTest, ConcurrentPushesOfSameSegment) {
    StartServer();
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 9, 1 << 20);
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    std::vector<std::string> errors(6);
    for (int t = 0; t < 6; t++) {
        threads.emplace_back([&, t] {
            Result<wire::Reply> reply = Push("000000010000000000000009", segment);
            if (reply.ok() && reply->status == ErrorKind::ok)
                ok++;
            else
                errors[t] = reply.ok() ? reply->message : reply.status().message();
        });
    }
    for (auto &thread : threads) thread.join();
    EXPECT_EQ(ok.load(), 6);
    for (const std::string &e : errors) EXPECT_EQ(e, "");
    Result<std::string> restored = Restore("000000010000000000000009");
    ASSERT_TRUE(restored.ok());
    EXPECT_TRUE(*restored == segment);
}

/* ---------------------------------------------------------------- lifecycle */

TEST_F(ServerTest, SecondServerOnSameSocketFails) {
    StartServer();
    {
        Server second(config_);
        Status listening = second.Listen();
        EXPECT_FALSE(listening.ok()) << "a second server took over a live socket";
        EXPECT_NE(listening.message().find(socket_path_), std::string::npos) << listening.message();
    }
    /* The failed second server must not have removed or replaced the first one's socket. */
    EXPECT_TRUE(pg_ark_test::PathExists(socket_path_));
    ExpectServing();
}

TEST_F(ServerTest, StaleSocketFileIsReplaced) {
    /* A socket file left by a killed server: nobody listens on it. */
    ASSERT_EQ(mkdir(dir_.Sub("run").c_str(), 0700), 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, socket_path_.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<struct sockaddr *>(&address), sizeof address), 0);
    close(fd);
    ASSERT_TRUE(pg_ark_test::PathExists(socket_path_));
    StartServer();
    ExpectServing();
}

TEST_F(ServerTest, RegularFileAtSocketPathIsNotRemoved) {
    ASSERT_EQ(mkdir(dir_.Sub("run").c_str(), 0700), 0);
    pg_ark_test::WriteFileBytes(socket_path_, "not a socket");
    Server server(config_);
    EXPECT_FALSE(server.Listen().ok());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(socket_path_), "not a socket");
}

TEST_F(ServerTest, StopRemovesSocket) {
    StartServer();
    ExpectServing();
    ASSERT_TRUE(server_->Stop());
    EXPECT_FALSE(pg_ark_test::PathExists(socket_path_)) << "socket file left after Stop()";
    auto connection = ConnectUnix(socket_path_);
    EXPECT_FALSE(connection.ok());
    Result<wire::Reply> reply = Ping("main");
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.status().kind(), ErrorKind::unavailable);
}

TEST_F(ServerTest, StopWithIdleConnectionReturns) {
    StartServer();
    auto idle = ConnectUnix(socket_path_);
    ASSERT_TRUE(idle.ok());
    ExpectServing(); /* makes sure the server has been accepting */
    auto start = Clock::now();
    ASSERT_TRUE(server_->Stop(10000));
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ServerTest, StopLetsRequestInFlightFinish) {
    StartServer();
    auto connection = ConnectUnix(socket_path_);
    ASSERT_TRUE(connection.ok());
    /* A first exchange guarantees the connection has been accepted and has a handler. */
    std::vector<uint8_t> ping = PingPayload("main");
    ASSERT_TRUE(WriteFrame(connection->get(), wire::MessageType::ping, 1, ping.data(), ping.size(),
                           -1, kTimeoutMs)
                    .ok());
    auto first = ReadFrame(connection->get(), kTimeoutMs, kTimeoutMs);
    ASSERT_TRUE(first.ok() && first->has_value());

    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 5);
    std::string source = dir_.Sub("work/inflight");
    pg_ark_test::WriteFileBytes(source, segment);
    pg_ark_test::ReadFd fd(source);
    std::vector<uint8_t> push = PushPayload("main", kSysid, "000000010000000000000005");
    ASSERT_TRUE(WriteFrame(connection->get(), wire::MessageType::archive_push, 2, push.data(),
                           push.size(), fd.fd, kTimeoutMs)
                    .ok());
    std::thread stopper([this] { server_->Stop(); });
    auto reply_frame = ReadFrame(connection->get(), kTimeoutMs, kTimeoutMs);
    stopper.join();
    ASSERT_TRUE(reply_frame.ok()) << reply_frame.status().message();
    ASSERT_TRUE(reply_frame->has_value()) << "request in flight was dropped by Stop()";
    wire::Reply reply;
    ASSERT_EQ(
        wire::DecodeReply((**reply_frame).payload.data(), (**reply_frame).payload.size(), &reply),
        wire::DecodeResult::ok);
    EXPECT_EQ((**reply_frame).header.request_id, 2u);
    EXPECT_EQ(reply.status, ErrorKind::ok) << reply.message;
    connection->Reset();
    server_.reset();
    Result<std::string> restored = Restore("000000010000000000000005");
    ASSERT_TRUE(restored.ok()) << restored.status().message();
    EXPECT_TRUE(*restored == segment);
}

/* ---------------------------------------------------------------- peer credentials */

/* Runs fn in a child process as uid/gid; returns its exit code, or -1. */
template <typename Fn>
int RunAs(uid_t uid, Fn fn) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0) _exit(100);
        _exit(fn());
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

TEST_F(ServerTest, DataDirectoryOwnerIsServed) {
    /* The peer-credential layer on its own: the socket directory (0700, the first gate) is opened
     * here so that another user reaches the socket, and SO_PEERCRED alone decides. */
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
    constexpr uid_t kOwner = 65534;
    ASSERT_EQ(chown(dir_.Sub("pgdata").c_str(), kOwner, kOwner), 0);
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    StartServer();
    std::string socket_path = socket_path_;
    OpenSocketDirectory();
    int code = RunAs(kOwner, [&socket_path]() -> int {
        std::vector<uint8_t> payload = PingPayload("main");
        Result<wire::Reply> reply = CallHelper(socket_path, wire::MessageType::ping, payload.data(),
                                               payload.size(), -1, 5000);
        if (!reply.ok()) {
            fprintf(stderr, "data directory owner: %s\n", reply.status().message().c_str());
            return 2;
        }
        if (reply->status != ErrorKind::ok) {
            fprintf(stderr, "data directory owner refused: %s\n", reply->message);
            return 3;
        }
        return 0;
    });
    if (code == 100) GTEST_SKIP() << "could not switch user";
    EXPECT_EQ(code, 0) << "2: could not connect, 3: refused by the server (see stderr)";
}

TEST_F(ServerTest, OtherUserIsRefused) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run a client as another user";
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    StartServer();
    std::string socket_path = socket_path_;
    OpenSocketDirectory(); /* so that the peer-credential check, not the directory, refuses */
    int code = RunAs(65533, [&socket_path]() -> int {
        std::vector<uint8_t> payload = PingPayload("main");
        Result<wire::Reply> reply = CallHelper(socket_path, wire::MessageType::ping, payload.data(),
                                               payload.size(), -1, 5000);
        if (!reply.ok()) return 3;                    /* could not connect: the check never ran */
        if (reply->status == ErrorKind::ok) return 1; /* served: wrong */
        return reply->status == ErrorKind::permission_denied ? 0 : 2;
    });
    if (code == 100) GTEST_SKIP() << "could not switch user";
    EXPECT_EQ(code, 0) << "1: an unlisted user was served, 2: refused with an unexpected kind, "
                          "3: could not connect";
    ExpectServing();
}

}  // namespace
}  // namespace pg_ark

/*
 * frame_io_test.cpp
 *     Tests of the helper's frame I/O (helper/src/frame_io.h) over socket pairs: round trips
 *     with a passed descriptor, clean end of stream, truncated and malformed frames, timeouts,
 *     and connecting to a socket nobody listens on.
 */
#include "frame_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "test_util.h"

namespace pg_ark {
namespace {

using Clock = std::chrono::steady_clock;

class SocketPair {
  public:
    SocketPair() {
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) abort();
        a.Reset(fds[0]);
        b.Reset(fds[1]);
    }
    UniqueFd a, b;
};

void WriteRaw(int fd, const std::vector<uint8_t> &bytes) {
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

std::vector<uint8_t> Header(wire::MessageType type, uint32_t id, uint32_t length) {
    std::vector<uint8_t> out(wire::kHeaderSize);
    wire::FrameHeader header;
    header.type = type;
    header.request_id = id;
    header.length = length;
    wire::EncodeHeader(header, out.data());
    return out;
}

int CountOpenFds() {
    return static_cast<int>(pg_ark_test::ListAllEntries("/proc/self/fd").size());
}

TEST(FrameIoTest, RoundTripWithoutFd) {
    SocketPair pair;
    const uint8_t payload[] = {1, 2, 3, 4, 5};
    ASSERT_TRUE(
        WriteFrame(pair.a.get(), wire::MessageType::ping, 77, payload, sizeof payload, -1, 1000)
            .ok());
    auto frame = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    ASSERT_TRUE(frame->has_value());
    const ReceivedFrame &f = **frame;
    EXPECT_EQ(f.header.type, wire::MessageType::ping);
    EXPECT_EQ(f.header.request_id, 77u);
    EXPECT_EQ(f.header.length, sizeof payload);
    EXPECT_EQ(f.payload, std::vector<uint8_t>(payload, payload + sizeof payload));
    EXPECT_TRUE(f.fds.empty());
}

TEST(FrameIoTest, RoundTripEmptyAndMaximalPayload) {
    SocketPair pair;
    ASSERT_TRUE(WriteFrame(pair.a.get(), wire::MessageType::reply, 1, nullptr, 0, -1, 1000).ok());
    auto empty = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(empty.ok());
    ASSERT_TRUE(empty->has_value());
    EXPECT_TRUE((**empty).payload.empty());

    std::string big = pg_ark_test::RandomBytes(wire::kMaxPayload, 3);
    ASSERT_TRUE(WriteFrame(pair.a.get(), wire::MessageType::ping, 2,
                           reinterpret_cast<const uint8_t *>(big.data()), big.size(), -1, 1000)
                    .ok());
    auto full = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(full.ok()) << full.status().message();
    ASSERT_TRUE(full->has_value());
    EXPECT_EQ(std::string((**full).payload.begin(), (**full).payload.end()), big);
}

TEST(FrameIoTest, WriteFrameRefusesOversizedPayload) {
    SocketPair pair;
    std::vector<uint8_t> big(wire::kMaxPayload + 1);
    EXPECT_FALSE(
        WriteFrame(pair.a.get(), wire::MessageType::ping, 1, big.data(), big.size(), -1, 1000)
            .ok());
}

TEST(FrameIoTest, PassesFileDescriptor) {
    pg_ark_test::TempDir dir("pg_ark_frame");
    std::string path = dir.Sub("file");
    pg_ark_test::WriteFileBytes(path, "contents");
    pg_ark_test::ReadFd file(path);
    ASSERT_GE(file.fd, 0);
    struct stat original;
    ASSERT_EQ(fstat(file.fd, &original), 0);

    int baseline = CountOpenFds();
    {
        SocketPair pair;
        const uint8_t payload[] = {9};
        ASSERT_TRUE(
            WriteFrame(pair.a.get(), wire::MessageType::archive_push, 5, payload, 1, file.fd, 1000)
                .ok());
        auto frame = ReadFrame(pair.b.get(), 1000, 1000);
        ASSERT_TRUE(frame.ok()) << frame.status().message();
        ASSERT_TRUE(frame->has_value());
        ASSERT_EQ((**frame).fds.size(), 1u);
        int received = (**frame).fds[0].get();
        EXPECT_NE(received, file.fd);
        struct stat st;
        ASSERT_EQ(fstat(received, &st), 0);
        EXPECT_EQ(st.st_ino, original.st_ino);
        EXPECT_EQ(st.st_dev, original.st_dev);
        EXPECT_NE(fcntl(received, F_GETFD) & FD_CLOEXEC, 0) << "received fd is not close-on-exec";
    }
    EXPECT_EQ(CountOpenFds(), baseline) << "descriptors leaked";
}

TEST(FrameIoTest, CleanEndOfStreamIsNullopt) {
    SocketPair pair;
    pair.a.Reset();
    auto frame = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(frame.ok()) << frame.status().message();
    EXPECT_FALSE(frame->has_value());
}

TEST(FrameIoTest, EndOfStreamInsideHeaderIsProtocol) {
    for (size_t cut = 1; cut < wire::kHeaderSize; cut++) {
        SocketPair pair;
        std::vector<uint8_t> header = Header(wire::MessageType::ping, 1, 8);
        header.resize(cut);
        WriteRaw(pair.a.get(), header);
        pair.a.Reset();
        auto frame = ReadFrame(pair.b.get(), 1000, 1000);
        ASSERT_FALSE(frame.ok()) << cut;
        EXPECT_EQ(frame.status().kind(), ErrorKind::protocol) << cut;
    }
}

TEST(FrameIoTest, EndOfStreamInsidePayloadIsProtocol) {
    SocketPair pair;
    std::vector<uint8_t> bytes = Header(wire::MessageType::ping, 1, 10);
    bytes.insert(bytes.end(), {1, 2, 3});
    WriteRaw(pair.a.get(), bytes);
    pair.a.Reset();
    auto frame = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().kind(), ErrorKind::protocol);
}

TEST(FrameIoTest, MalformedHeadersAreProtocol) {
    std::vector<std::vector<uint8_t>> bad;
    bad.push_back(std::vector<uint8_t>(16, 0xAB));                            /* bad magic */
    bad.push_back(Header(static_cast<wire::MessageType>(99), 1, 0));          /* bad type */
    bad.push_back(Header(wire::MessageType::ping, 1, wire::kMaxPayload + 1)); /* too large */
    std::vector<uint8_t> version = Header(wire::MessageType::ping, 1, 0);
    version[5] = 2;
    bad.push_back(version);
    for (const auto &bytes : bad) {
        SocketPair pair;
        WriteRaw(pair.a.get(), bytes);
        /* The writer stays open: the reader must decide from the header alone. */
        auto start = Clock::now();
        auto frame = ReadFrame(pair.b.get(), 5000, 5000);
        ASSERT_FALSE(frame.ok());
        EXPECT_EQ(frame.status().kind(), ErrorKind::protocol) << frame.status().message();
        EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
    }
}

TEST(FrameIoTest, IdleTimeoutIsUnavailable) {
    SocketPair pair;
    auto start = Clock::now();
    auto frame = ReadFrame(pair.b.get(), 150, 5000);
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().kind(), ErrorKind::unavailable) << frame.status().message();
    EXPECT_GE(elapsed, std::chrono::milliseconds(100));
    EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(FrameIoTest, FrameTimeoutIsUnavailable) {
    SocketPair pair;
    std::vector<uint8_t> header = Header(wire::MessageType::ping, 1, 8);
    header.resize(6);
    WriteRaw(pair.a.get(), header);
    auto start = Clock::now();
    auto frame = ReadFrame(pair.b.get(), 5000, 150);
    auto elapsed = Clock::now() - start;
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().kind(), ErrorKind::unavailable) << frame.status().message();
    EXPECT_LT(elapsed, std::chrono::seconds(3));

    SocketPair pair2;
    std::vector<uint8_t> bytes = Header(wire::MessageType::ping, 1, 8);
    bytes.push_back(0);
    WriteRaw(pair2.a.get(), bytes);
    start = Clock::now();
    frame = ReadFrame(pair2.b.get(), 5000, 150);
    ASSERT_FALSE(frame.ok());
    EXPECT_EQ(frame.status().kind(), ErrorKind::unavailable) << frame.status().message();
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

TEST(FrameIoTest, TwoFramesBackToBack) {
    SocketPair pair;
    const uint8_t one[] = {1};
    const uint8_t two[] = {2, 2};
    ASSERT_TRUE(WriteFrame(pair.a.get(), wire::MessageType::ping, 1, one, 1, -1, 1000).ok());
    ASSERT_TRUE(WriteFrame(pair.a.get(), wire::MessageType::ping, 2, two, 2, -1, 1000).ok());
    auto first = ReadFrame(pair.b.get(), 1000, 1000);
    auto second = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(first.ok() && first->has_value());
    ASSERT_TRUE(second.ok() && second->has_value());
    EXPECT_EQ((**first).header.request_id, 1u);
    EXPECT_EQ((**first).payload.size(), 1u);
    EXPECT_EQ((**second).header.request_id, 2u);
    EXPECT_EQ((**second).payload.size(), 2u);
}

TEST(FrameIoTest, WriteReplyDecodes) {
    SocketPair pair;
    ASSERT_TRUE(
        WriteReply(pair.a.get(), 42, Status(ErrorKind::conflict, "already archived"), 1000).ok());
    auto frame = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(frame.ok() && frame->has_value());
    EXPECT_EQ((**frame).header.type, wire::MessageType::reply);
    EXPECT_EQ((**frame).header.request_id, 42u);
    wire::Reply reply;
    ASSERT_EQ(wire::DecodeReply((**frame).payload.data(), (**frame).payload.size(), &reply),
              wire::DecodeResult::ok);
    EXPECT_EQ(reply.status, ErrorKind::conflict);
    EXPECT_STREQ(reply.message, "already archived");
}

TEST(FrameIoTest, WriteReplyWithLongMessageStillDecodes) {
    SocketPair pair;
    std::string message(wire::kMaxMessage * 3, 'm');
    ASSERT_TRUE(WriteReply(pair.a.get(), 1, Status(ErrorKind::io_error, message), 1000).ok());
    auto frame = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(frame.ok() && frame->has_value());
    wire::Reply reply;
    ASSERT_EQ(wire::DecodeReply((**frame).payload.data(), (**frame).payload.size(), &reply),
              wire::DecodeResult::ok);
    EXPECT_EQ(reply.status, ErrorKind::io_error);
    EXPECT_EQ(std::string(reply.message), message.substr(0, wire::kMaxMessage));
}

TEST(FrameIoTest, WriteReplyWithControlCharactersStillDecodes) {
    /* Messages can quote paths, which may hold any byte but NUL; the reply must still be
     * decodable by the client, or the real error is replaced by "invalid reply". */
    SocketPair pair;
    ASSERT_TRUE(WriteReply(pair.a.get(), 1,
                           Status(ErrorKind::io_error, "could not open \"/repo/a\rb\x1b[0m\""),
                           1000)
                    .ok());
    auto frame = ReadFrame(pair.b.get(), 1000, 1000);
    ASSERT_TRUE(frame.ok() && frame->has_value());
    wire::Reply reply;
    wire::DecodeResult result =
        wire::DecodeReply((**frame).payload.data(), (**frame).payload.size(), &reply);
    EXPECT_EQ(result, wire::DecodeResult::ok) << wire::DecodeResultText(result);
}

TEST(FrameIoTest, ConnectToMissingSocketIsUnavailable) {
    pg_ark_test::TempDir dir("pg_ark_frame");
    auto connection = ConnectUnix(dir.Sub("nobody.sock"));
    ASSERT_FALSE(connection.ok());
    EXPECT_EQ(connection.status().kind(), ErrorKind::unavailable);
    EXPECT_NE(connection.status().message().find(dir.Sub("nobody.sock")), std::string::npos);

    uint8_t payload[64];
    wire::PingRequest ping;
    wire::CopyBounded(ping.cluster, sizeof ping.cluster, "main");
    size_t length = wire::EncodePing(ping, payload, sizeof payload);
    auto reply =
        CallHelper(dir.Sub("nobody.sock"), wire::MessageType::ping, payload, length, -1, 1000);
    ASSERT_FALSE(reply.ok());
    EXPECT_EQ(reply.status().kind(), ErrorKind::unavailable);
}

TEST(FrameIoTest, ConnectWithTooLongPathFails) {
    auto connection = ConnectUnix("/tmp/" + std::string(200, 'x'));
    ASSERT_FALSE(connection.ok());
}

}  // namespace
}  // namespace pg_ark

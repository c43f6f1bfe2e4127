/*
 * frame_io.cpp
 *     Framed, timed I/O on Unix stream sockets for the helper side. See frame_io.h.
 */
#include "frame_io.h"

#include "fd_passing.h"

#include <errno.h>
#include <fmt/format.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

namespace pg_ark {

namespace {

constexpr int kMaxPassedFds = 4;

int64_t NowMs() {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

/* Waits for events until deadline_ms (monotonic); false on timeout. */
Result<bool> WaitFor(int socket, short events, int64_t deadline_ms) {
    for (;;) {
        int64_t remaining = deadline_ms - NowMs();
        if (remaining <= 0) return false;
        struct pollfd entry = {socket, events, 0};
        int rc = poll(&entry, 1, static_cast<int>(remaining));
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return ErrnoStatus(errno, "could not poll socket");
    }
}

void CollectFds(struct msghdr *message, std::vector<UniqueFd> *fds) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(message); c != nullptr; c = CMSG_NXTHDR(message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            fds->emplace_back(fd);  // owned now, even if we are about to reject the frame
        }
    }
}

/*
 * Reads exactly size bytes, collecting passed descriptors. *got_any tells whether any byte
 * arrived, so a peer closing between frames is told apart from one closing mid-frame.
 */
Status ReceiveExactly(int socket, uint8_t *buffer, size_t size, int64_t first_deadline,
                      int frame_timeout_ms, std::vector<UniqueFd> *fds, bool *got_any) {
    size_t done = 0;
    int64_t deadline = first_deadline;
    while (done < size) {
        auto ready = WaitFor(socket, POLLIN, deadline);
        if (!ready.ok()) return ready.status();
        if (!*ready) return Status(ErrorKind::unavailable, "timed out waiting for the peer");
        struct iovec iov = {buffer + done, size - done};
        union {
            char buffer[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
            struct cmsghdr align;
        } control;
        struct msghdr message;
        memset(&message, 0, sizeof message);
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        message.msg_control = control.buffer;
        message.msg_controllen = sizeof control.buffer;
        ssize_t n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return ErrnoStatus(errno, "could not receive from socket");
        }
        CollectFds(&message, fds);
        if (message.msg_flags & MSG_CTRUNC)
            return Status(ErrorKind::protocol, "too many file descriptors passed with one frame");
        if (n == 0) {
            return Status(*got_any ? ErrorKind::protocol : ErrorKind::not_found,
                          *got_any ? "connection closed in the middle of a frame"
                                   : "connection closed");
        }
        if (!*got_any) deadline = NowMs() + frame_timeout_ms;
        *got_any = true;
        done += static_cast<size_t>(n);
    }
    return Status::Ok();
}

}  // namespace

Result<std::optional<ReceivedFrame>> ReadFrame(int socket, int idle_timeout_ms,
                                               int frame_timeout_ms) {
    ReceivedFrame frame;
    uint8_t header[wire::kHeaderSize];
    bool got_any = false;
    Status status = ReceiveExactly(socket, header, sizeof header, NowMs() + idle_timeout_ms,
                                   frame_timeout_ms, &frame.fds, &got_any);
    if (!status.ok()) {
        if (status.kind() == ErrorKind::not_found) return std::optional<ReceivedFrame>();
        return status;
    }
    wire::DecodeResult decoded = wire::DecodeHeader(header, &frame.header);
    if (decoded != wire::DecodeResult::ok)
        return Status(ErrorKind::protocol,
                      fmt::format("invalid frame header: {}", wire::DecodeResultText(decoded)));
    frame.payload.resize(frame.header.length);
    if (frame.header.length > 0) {
        status = ReceiveExactly(socket, frame.payload.data(), frame.payload.size(),
                                NowMs() + frame_timeout_ms, frame_timeout_ms, &frame.fds, &got_any);
        if (!status.ok())
            return Status(status.kind() == ErrorKind::not_found ? ErrorKind::protocol : status.kind(),
                          status.message());
    }
    return std::optional<ReceivedFrame>(std::move(frame));
}

Status WriteFrame(int socket, wire::MessageType type, uint32_t request_id, const uint8_t *payload,
                  size_t length, int pass_fd, int timeout_ms) {
    if (length > wire::kMaxPayload)
        return Status(ErrorKind::internal, "frame payload exceeds the protocol maximum");
    std::vector<uint8_t> frame(wire::kHeaderSize + length);
    wire::FrameHeader header;
    header.type = type;
    header.request_id = request_id;
    header.length = static_cast<uint32_t>(length);
    wire::EncodeHeader(header, frame.data());
    if (length > 0) memcpy(frame.data() + wire::kHeaderSize, payload, length);

    int64_t deadline = NowMs() + timeout_ms;
    size_t sent = 0;
    while (sent < frame.size()) {
        ssize_t n = SendWithFd(socket, frame.data() + sent, frame.size() - sent,
                               sent == 0 ? pass_fd : -1);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            auto ready = WaitFor(socket, POLLOUT, deadline);
            if (!ready.ok()) return ready.status();
            if (!*ready) return Status(ErrorKind::unavailable, "timed out sending to the peer");
            continue;
        }
        return ErrnoStatus(errno, "could not send to socket");
    }
    return Status::Ok();
}

Status WriteReply(int socket, uint32_t request_id, const Status &status, int timeout_ms) {
    wire::Reply reply;
    reply.status = status.kind();
    wire::CopyBounded(reply.message, sizeof reply.message, status.message().c_str());
    /* Messages quote paths and library text; control bytes would make the reply undecodable. */
    for (char *p = reply.message; *p; p++)
        if (static_cast<unsigned char>(*p) < 0x20 && *p != '\n' && *p != '\t') *p = '?';
    uint8_t payload[wire::kMaxPayload];
    size_t length = wire::EncodeReply(reply, payload, sizeof payload);
    return WriteFrame(socket, wire::MessageType::reply, request_id, payload, length, -1, timeout_ms);
}

Result<UniqueFd> ConnectUnix(const std::string &path) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
        return Status(ErrorKind::invalid_argument, fmt::format("socket path \"{}\" is too long", path));
    memcpy(address.sun_path, path.c_str(), path.size());
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "could not create socket");
    if (connect(fd.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) != 0) {
        int saved = errno;
        return Status(ErrorKind::unavailable,
                      fmt::format("could not connect to the pg_ark helper at \"{}\": {}", path,
                                  strerror(saved)));
    }
    return fd;
}

Result<wire::Reply> CallHelper(const std::string &socket_path, wire::MessageType type,
                               const uint8_t *payload, size_t length, int pass_fd, int timeout_ms) {
    auto connection = ConnectUnix(socket_path);
    if (!connection.ok()) return connection.status();
    constexpr uint32_t kRequestId = 1;
    Status sent = WriteFrame(connection->get(), type, kRequestId, payload, length, pass_fd, timeout_ms);
    /* A helper that refuses the peer replies and closes before reading: its reply is the reason. */
    auto frame = ReadFrame(connection->get(), sent.ok() ? timeout_ms : 1000, timeout_ms);
    if (!sent.ok() && (!frame.ok() || !frame->has_value())) return sent;
    if (!frame.ok()) return frame.status();
    if (!frame->has_value())
        return Status(ErrorKind::unavailable, "the helper closed the connection without replying");
    const ReceivedFrame &received = **frame;
    if (received.header.type != wire::MessageType::reply ||
        (received.header.request_id != kRequestId &&
         received.header.request_id != wire::kConnectionReplyId))
        return Status(ErrorKind::protocol, "unexpected frame in reply");
    wire::Reply reply;
    wire::DecodeResult decoded =
        wire::DecodeReply(received.payload.data(), received.payload.size(), &reply);
    if (decoded != wire::DecodeResult::ok)
        return Status(ErrorKind::protocol,
                      fmt::format("invalid reply: {}", wire::DecodeResultText(decoded)));
    return reply;
}

}  // namespace pg_ark

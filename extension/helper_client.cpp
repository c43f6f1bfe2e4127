/*
 * helper_client.cpp
 *     Request/reply exchange with the pg_ark helper. See helper_client.h.
 */
#include "pg_includes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd_passing.h"
#include "guc.h"
#include "helper_client.h"

using pg_ark::wire::DecodeResult;
using pg_ark::wire::FrameHeader;

/* The one open connection of this process; -1 when none. Static so recovery can close it. */
static int helper_socket = -1;
static uint32_t next_request_id = 1;

/*
 * Our waits reset the process latch, but the latch may carry news for our caller: the archiver's
 * "one last cycle, then stop" (SIGUSR2) is delivered as a latch set. Swallowing it makes the
 * archiver sleep a full autowake interval before shutdown completes, so we set it again when done.
 */
static bool latch_consumed = false;

static void ConsumeLatch(void) {
    ResetLatch(MyLatch);
    latch_consumed = true;
}

void HelperAbortConnection(void) {
    if (helper_socket >= 0) close(helper_socket);
    helper_socket = -1;
    if (latch_consumed) SetLatch(MyLatch);
    latch_consumed = false;
}

static long RemainingMs(TimestampTz deadline) {
    long ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
    return ms > 0 ? ms : 0;
}

/* Waits until the socket is ready for `events` or the deadline passes; false on timeout. */
static bool WaitSocket(int events, TimestampTz deadline) {
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        long timeout = RemainingMs(deadline);
        if (timeout == 0) return false;
        int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
                                   helper_socket, timeout, PG_WAIT_EXTENSION);
        if (rc & WL_LATCH_SET) ConsumeLatch();
        if (rc & events) return true;
    }
}

static bool Connect(TimestampTz deadline, char **error) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    strlcpy(address.sun_path, pg_ark_socket_path, sizeof address.sun_path);

    helper_socket = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (helper_socket < 0) {
        *error = psprintf("could not create socket: %m");
        return false;
    }
    /* A Unix socket connect fails with EAGAIN only while the helper's backlog is full. */
    while (connect(helper_socket, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved_errno = errno;
        if (saved_errno == EAGAIN && RemainingMs(deadline) > 0) {
            int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
                               PG_WAIT_EXTENSION);
            if (rc & WL_LATCH_SET) ConsumeLatch();
            CHECK_FOR_INTERRUPTS();
            continue;
        }
        errno = saved_errno;
        *error = psprintf("could not connect to the pg_ark helper at \"%s\": %m", pg_ark_socket_path);
        return false;
    }
    return true;
}

/* Sends the whole frame; the fd rides with the first byte so the helper gets it with the header. */
static bool SendFrame(const uint8_t *frame, size_t length, int pass_fd, TimestampTz deadline,
                      char **error) {
    size_t sent = 0;
    while (sent < length) {
        ssize_t n = pg_ark::SendWithFd(helper_socket, frame + sent, length - sent,
                                       sent == 0 ? pass_fd : -1);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!WaitSocket(WL_SOCKET_WRITEABLE, deadline)) {
                *error = psprintf("timed out sending a request to the pg_ark helper at \"%s\"",
                                  pg_ark_socket_path);
                return false;
            }
            continue;
        }
        int saved_errno = errno; /* the caller looks at it: EPIPE may come with a reply */
        *error = psprintf("could not send a request to the pg_ark helper at \"%s\": %m",
                          pg_ark_socket_path);
        errno = saved_errno;
        return false;
    }
    return true;
}

static bool ReceiveExactly(uint8_t *buffer, size_t length, TimestampTz deadline, char **error) {
    size_t received = 0;
    while (received < length) {
        ssize_t n = recv(helper_socket, buffer + received, length - received, 0);
        if (n > 0) {
            received += (size_t)n;
            continue;
        }
        if (n == 0) {
            *error = psprintf("the pg_ark helper at \"%s\" closed the connection before replying",
                              pg_ark_socket_path);
            return false;
        }
        if (errno == EAGAIN || errno == EINTR) {
            if (!WaitSocket(WL_SOCKET_READABLE, deadline)) {
                *error = psprintf("timed out after %d ms waiting for the pg_ark helper at \"%s\"",
                                  pg_ark_request_timeout, pg_ark_socket_path);
                return false;
            }
            continue;
        }
        *error = psprintf("could not receive a reply from the pg_ark helper at \"%s\": %m",
                          pg_ark_socket_path);
        return false;
    }
    return true;
}

static bool Exchange(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                     int pass_fd, pg_ark::wire::Reply *reply, char **error) {
    TimestampTz deadline =
        TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pg_ark_request_timeout);
    if (!Connect(deadline, error)) return false;

    FrameHeader header;
    header.type = type;
    header.request_id = next_request_id++;
    header.length = (uint32_t)payload_length;
    size_t frame_length = pg_ark::wire::kHeaderSize + payload_length;
    uint8_t *frame = (uint8_t *)palloc(frame_length);
    pg_ark::wire::EncodeHeader(header, frame);
    memcpy(frame + pg_ark::wire::kHeaderSize, payload, payload_length);
    char *send_error = nullptr;
    bool sent = SendFrame(frame, frame_length, pass_fd, deadline, &send_error);
    if (!sent && errno != EPIPE && errno != ECONNRESET) {
        *error = send_error;
        return false;
    }

    /* A helper that refuses this peer replies and closes before reading: read its reason. */
    uint8_t reply_header_bytes[pg_ark::wire::kHeaderSize];
    if (!ReceiveExactly(reply_header_bytes, sizeof reply_header_bytes, deadline, error)) {
        if (!sent) *error = send_error;
        return false;
    }
    FrameHeader reply_header;
    DecodeResult result = pg_ark::wire::DecodeHeader(reply_header_bytes, &reply_header);
    if (result == DecodeResult::ok &&
        (reply_header.type != pg_ark::wire::MessageType::reply ||
         (reply_header.request_id != header.request_id &&
          reply_header.request_id != pg_ark::wire::kConnectionReplyId)))
        result = DecodeResult::bad_field;
    if (result != DecodeResult::ok) {
        *error = psprintf("invalid reply from the pg_ark helper: %s",
                          pg_ark::wire::DecodeResultText(result));
        return false;
    }
    uint8_t *reply_payload = (uint8_t *)palloc(reply_header.length + 1);
    if (!ReceiveExactly(reply_payload, reply_header.length, deadline, error)) return false;
    result = pg_ark::wire::DecodeReply(reply_payload, reply_header.length, reply);
    if (result != DecodeResult::ok) {
        *error = psprintf("invalid reply from the pg_ark helper: %s",
                          pg_ark::wire::DecodeResultText(result));
        return false;
    }
    return true;
}

bool HelperRequest(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                   int pass_fd, pg_ark::wire::Reply *reply, char **error) {
    bool ok = Exchange(type, payload, payload_length, pass_fd, reply, error);
    HelperAbortConnection();
    return ok;
}

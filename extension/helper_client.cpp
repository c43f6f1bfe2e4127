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
/*
 * From libpq/libpq.h (PostgreSQL 14+), declared here because that header pulls in libpq-be.h,
 * which needs the GSSAPI development headers on builds configured with GSSAPI.
 */
extern "C" bool pq_check_connection(void);
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

/*
 * A backend waiting without a deadline (a backup's copy) must notice its client going away, or a
 * killed psql would leave the backup running to completion. pq_check_connection() asks the
 * kernel; the FATAL that follows ends backup mode through PostgreSQL's own exit callback.
 */
static void CheckClientConnection(void) {
    if (MyProcPort != nullptr && !pq_check_connection()) {
        ClientConnectionLost = 1;
        InterruptPending = 1;
    }
}

/*
 * Waits until the socket is ready for `events` or the deadline passes; false on timeout.
 * kNoDeadline waits as long as it takes, checking the client connection every second.
 */
static constexpr TimestampTz kNoDeadline = 0;

static bool WaitSocket(int events, TimestampTz deadline) {
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        long timeout = deadline == kNoDeadline ? 1000 : RemainingMs(deadline);
        if (timeout == 0) return false;
        int rc = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH | events,
                                   helper_socket, timeout, PG_WAIT_EXTENSION);
        if (rc & WL_LATCH_SET) ConsumeLatch();
        if (rc & events) return true;
        if (deadline == kNoDeadline) CheckClientConnection();
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

static TimestampTz RequestDeadline(void) {
    return TimestampTzPlusMilliseconds(GetCurrentTimestamp(), pg_ark_request_timeout);
}

static bool Send(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                 int pass_fd, uint32_t *request_id, char **error) {
    FrameHeader header;
    header.type = type;
    header.request_id = next_request_id++;
    header.length = (uint32_t)payload_length;
    *request_id = header.request_id;
    size_t frame_length = pg_ark::wire::kHeaderSize + payload_length;
    uint8_t *frame = (uint8_t *)palloc(frame_length);
    pg_ark::wire::EncodeHeader(header, frame);
    memcpy(frame + pg_ark::wire::kHeaderSize, payload, payload_length);
    bool sent = SendFrame(frame, frame_length, pass_fd, RequestDeadline(), error);
    pfree(frame);
    return sent;
}

/* Receives the next frame answering request_id: a backup record, a row or the final reply. */
static bool Receive(uint32_t request_id, TimestampTz deadline, HelperFrame *out, char **error) {
    uint8_t header_bytes[pg_ark::wire::kHeaderSize];
    if (!ReceiveExactly(header_bytes, sizeof header_bytes, deadline, error)) return false;
    FrameHeader header;
    DecodeResult result = pg_ark::wire::DecodeHeader(header_bytes, &header);
    bool is_reply = header.type == pg_ark::wire::MessageType::reply;
    if (result == DecodeResult::ok &&
        ((!is_reply && header.type != pg_ark::wire::MessageType::backup_record &&
          header.type != pg_ark::wire::MessageType::row_record) ||
         (header.request_id != request_id &&
          !(is_reply && header.request_id == pg_ark::wire::kConnectionReplyId))))
        result = DecodeResult::bad_field;
    uint8_t *payload = nullptr;
    if (result == DecodeResult::ok) {
        payload = (uint8_t *)palloc(header.length + 1);
        /* Once a frame has started, the rest follows promptly. */
        if (!ReceiveExactly(payload, header.length,
                            deadline == kNoDeadline ? RequestDeadline() : deadline, error))
            return false;
        out->is_record = !is_reply;
        out->is_row = header.type == pg_ark::wire::MessageType::row_record;
        if (is_reply)
            result = pg_ark::wire::DecodeReply(payload, header.length, &out->reply);
        else if (out->is_row)
            result = pg_ark::wire::DecodeRowRecord(payload, header.length, &out->row);
        else
            result = pg_ark::wire::DecodeBackupRecord(payload, header.length, &out->record);
        pfree(payload);
    }
    if (result != DecodeResult::ok) {
        *error = psprintf("invalid reply from the pg_ark helper: %s",
                          pg_ark::wire::DecodeResultText(result));
        return false;
    }
    return true;
}

bool HelperOpen(char **error) { return Connect(RequestDeadline(), error); }

bool HelperSend(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                uint32_t *request_id, char **error) {
    return Send(type, payload, payload_length, -1, request_id, error);
}

bool HelperReceive(uint32_t request_id, bool unbounded, HelperFrame *out, char **error) {
    return Receive(request_id, unbounded ? kNoDeadline : RequestDeadline(), out, error);
}

static bool Exchange(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                     int pass_fd, pg_ark::wire::Reply *reply, char **error) {
    if (!HelperOpen(error)) return false;
    uint32_t request_id;
    char *send_error = nullptr;
    bool sent = Send(type, payload, payload_length, pass_fd, &request_id, &send_error);
    if (!sent && errno != EPIPE && errno != ECONNRESET) {
        *error = send_error;
        return false;
    }
    /* A helper that refuses this peer replies and closes before reading: read its reason. */
    HelperFrame *frame = (HelperFrame *)palloc(sizeof(HelperFrame));
    if (!Receive(request_id, RequestDeadline(), frame, error)) {
        if (!sent) *error = send_error;
        return false;
    }
    if (frame->is_record) {
        *error = pstrdup("invalid reply from the pg_ark helper: unexpected record");
        return false;
    }
    *reply = frame->reply;
    pfree(frame);
    return true;
}

bool HelperRequest(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                   int pass_fd, pg_ark::wire::Reply *reply, char **error) {
    bool ok = Exchange(type, payload, payload_length, pass_fd, reply, error);
    HelperAbortConnection();
    return ok;
}

static int SqlStateOf(pg_ark::ErrorKind kind) {
    const char *s = pg_ark::ErrorKindSqlState(kind);
    return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

void HelperRaiseTransportError(const char *error) {
    ereport(ERROR, (errcode(SqlStateOf(pg_ark::ErrorKind::unavailable)), errmsg("%s", error),
                    errhint("Check that \"pg_ark server\" is running.")));
    pg_unreachable();
}

void HelperRaiseReplyError(const pg_ark::wire::Reply &reply) {
    ereport(ERROR, (errcode(SqlStateOf(reply.status)), errmsg("pg_ark helper: %s", reply.message)));
    pg_unreachable();
}

void HelperCall(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                bool unbounded, pg_ark::wire::Reply *reply) {
    uint32_t request_id;
    char *error = nullptr;
    if (!HelperSend(type, payload, payload_length, &request_id, &error))
        HelperRaiseTransportError(error);
    HelperFrame *frame = (HelperFrame *)palloc(sizeof(HelperFrame));
    if (!HelperReceive(request_id, unbounded, frame, &error)) HelperRaiseTransportError(error);
    if (frame->is_record) HelperRaiseTransportError("invalid reply from the pg_ark helper: unexpected record");
    if (frame->reply.status != pg_ark::ErrorKind::ok) HelperRaiseReplyError(frame->reply);
    *reply = frame->reply;
    pfree(frame);
}

/*
 * frame_io.h
 *     Blocking frame I/O on a Unix stream socket for the helper side, with timeouts, and
 *     reception of file descriptors passed with SCM_RIGHTS. Frames are validated with the shared
 *     protocol code (common/protocol.h).
 */
#ifndef PG_ARK_HELPER_FRAME_IO_H
#define PG_ARK_HELPER_FRAME_IO_H

#include <stddef.h>
#include <stdint.h>

#include <optional>
#include <string>
#include <vector>

#include "protocol.h"
#include "status.h"
#include "unique_fd.h"

namespace pg_ark {

struct ReceivedFrame {
    wire::FrameHeader header;
    std::vector<uint8_t> payload;
    std::vector<UniqueFd> fds; /* descriptors that arrived with the frame */
};

/*
 * Reads one frame. Waits up to idle_timeout_ms for its first byte and frame_timeout_ms for the
 * rest. Returns nullopt on a clean end of stream before a frame starts; ErrorKind::protocol for
 * malformed or truncated frames; ErrorKind::unavailable on timeout.
 */
Result<std::optional<ReceivedFrame>> ReadFrame(int socket, int idle_timeout_ms,
                                               int frame_timeout_ms);

/* Writes one frame (and pass_fd, unless it is -1, with its first byte). */
Status WriteFrame(int socket, wire::MessageType type, uint32_t request_id, const uint8_t *payload,
                  size_t length, int pass_fd, int timeout_ms);

/* Sends a reply frame with the given status and message. */
Status WriteReply(int socket, uint32_t request_id, const Status &status, int timeout_ms);

/* Connects to a Unix socket; ErrorKind::unavailable when nobody listens. */
Result<UniqueFd> ConnectUnix(const std::string &path);

/* One request/reply exchange as a client (used by the CLI and tests). */
Result<wire::Reply> CallHelper(const std::string &socket_path, wire::MessageType type,
                               const uint8_t *payload, size_t length, int pass_fd, int timeout_ms);

}  // namespace pg_ark

#endif

/*
 * protocol.h
 *     The pg_ark wire protocol, compiled into both the extension and the helper.
 *
 * A frame is a 16-byte header (magic, version, type, request id, payload length; big-endian)
 * followed by at most kMaxPayload bytes of fields. Every field is bounded and validated on
 * decode, and a payload must be consumed exactly: trailing bytes are an error. File contents
 * never travel in frames: the client passes an open file descriptor (SCM_RIGHTS), so the helper
 * never opens a path it was told about.
 *
 * This code is exception-free and allocation-free (caller buffers, fixed-size message structs),
 * so it is safe on the PostgreSQL side of the wall. Wire codes never change meaning once
 * released.
 */
#ifndef PG_ARK_COMMON_PROTOCOL_H
#define PG_ARK_COMMON_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "error_kind.h"

namespace pg_ark {
namespace wire {

constexpr uint32_t kMagic = 0x50474152; /* "PGAR" */
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr uint32_t kMaxPayload = 16 * 1024;
constexpr size_t kMaxClusterName = 63;
constexpr size_t kMaxWalName = 40; /* MAX_XFN_CHARS in PostgreSQL */
constexpr size_t kMaxMessage = 2000;
/*
 * Request ids start at 1. A reply with id 0 answers the connection rather than a request: the
 * helper refused the peer or could not parse what it sent, and closes the connection.
 */
constexpr uint32_t kConnectionReplyId = 0;

enum class MessageType : uint16_t {
    reply = 1,        /* helper -> client: status code + message */
    ping = 2,         /* client -> helper: is the cluster served? */
    archive_push = 3, /* client -> helper: store this WAL file (fd attached) */
    /* Backups: see backup_protocol.h. */
    backup_begin = 4,
    backup_attach = 5,
    backup_copy = 6,
    backup_stop = 7,
    backup_cancel = 8,
    catalog_query = 9,
    backup_record = 10,
    /* Maintenance: see command_protocol.h. */
    command = 11,
    row_record = 12,
};

enum class DecodeResult {
    ok,
    bad_magic,
    bad_version,
    bad_type,
    too_large,
    truncated,
    bad_field,
    trailing_bytes,
};

const char *DecodeResultText(DecodeResult result);

struct FrameHeader {
    uint16_t version = kVersion;
    MessageType type = MessageType::reply;
    uint32_t request_id = 0;
    uint32_t length = 0;
};

void EncodeHeader(const FrameHeader &header, uint8_t out[kHeaderSize]);
DecodeResult DecodeHeader(const uint8_t in[kHeaderSize], FrameHeader *out);

/* Field writer over a caller buffer; Overflowed() reports a write past the end. */
class Writer {
  public:
    Writer(uint8_t *buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}
    void PutU32(uint32_t value);
    void PutU64(uint64_t value);
    void PutString(const char *text);
    size_t Length() const { return length_; }
    bool Overflowed() const { return overflowed_; }

  private:
    void PutBytes(const void *data, size_t size);
    uint8_t *buffer_;
    size_t capacity_;
    size_t length_ = 0;
    bool overflowed_ = false;
};

/* Field reader over a received payload; every Get fails rather than read out of bounds. */
class Reader {
  public:
    Reader(const uint8_t *buffer, size_t length) : buffer_(buffer), length_(length) {}
    bool GetU32(uint32_t *value);
    bool GetU64(uint64_t *value);
    /* Copies a string of at most max_length bytes into out (NUL-terminated); rejects NUL bytes. */
    bool GetString(char *out, size_t max_length);
    bool AtEnd() const { return position_ == length_; }

  private:
    const uint8_t *buffer_;
    size_t length_;
    size_t position_ = 0;
};

struct PingRequest {
    char cluster[kMaxClusterName + 1] = {};
};

struct ArchivePushRequest {
    char cluster[kMaxClusterName + 1] = {};
    uint64_t system_identifier = 0;
    char wal_name[kMaxWalName + 1] = {};
};

struct Reply {
    ErrorKind status = ErrorKind::ok;
    char message[kMaxMessage + 1] = {};
};

/* Encoders return the payload length, or 0 when the buffer is too small. */
size_t EncodePing(const PingRequest &request, uint8_t *payload, size_t capacity);
size_t EncodeArchivePush(const ArchivePushRequest &request, uint8_t *payload, size_t capacity);
size_t EncodeReply(const Reply &reply, uint8_t *payload, size_t capacity);

/* Decoders validate every field (names, lengths, known status codes). */
DecodeResult DecodePing(const uint8_t *payload, size_t length, PingRequest *out);
DecodeResult DecodeArchivePush(const uint8_t *payload, size_t length, ArchivePushRequest *out);
DecodeResult DecodeReply(const uint8_t *payload, size_t length, Reply *out);

/* Human text: no control characters but newline and tab. */
bool IsPrintableText(const char *text);

/* ok when the reader consumed its whole payload. */
DecodeResult Finish(const Reader &reader);

/* Cluster names: 1..63 of [A-Za-z0-9_-], not starting with '-'. Also used for config sections. */
bool IsValidClusterName(const char *name);

/* Copies text into a fixed buffer, truncating; always NUL-terminates. */
void CopyBounded(char *out, size_t capacity, const char *text);

}  // namespace wire
}  // namespace pg_ark

#endif

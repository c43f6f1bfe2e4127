/*
 * protocol.cpp
 *     Encoding and validating pg_ark frames. See protocol.h for the format and its guarantees.
 */
#include "protocol.h"

#include <string.h>

#include "wal_name.h"

namespace pg_ark {
namespace wire {

namespace {

void StoreU16(uint8_t *out, uint16_t value) {
    out[0] = static_cast<uint8_t>(value >> 8);
    out[1] = static_cast<uint8_t>(value);
}

void StoreU32(uint8_t *out, uint32_t value) {
    for (int i = 0; i < 4; i++) out[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

uint16_t LoadU16(const uint8_t *in) { return static_cast<uint16_t>((in[0] << 8) | in[1]); }

uint32_t LoadU32(const uint8_t *in) {
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) value = (value << 8) | in[i];
    return value;
}

bool IsKnownType(uint16_t type) {
    return type >= static_cast<uint16_t>(MessageType::reply) &&
           type <= static_cast<uint16_t>(MessageType::row_record);
}

}  // namespace

bool IsPrintableText(const char *text) {
    for (const unsigned char *p = reinterpret_cast<const unsigned char *>(text); *p; p++)
        if (*p < 0x20 && *p != '\n' && *p != '\t') return false;
    return true;
}

DecodeResult Finish(const Reader &reader) {
    return reader.AtEnd() ? DecodeResult::ok : DecodeResult::trailing_bytes;
}

const char *DecodeResultText(DecodeResult result) {
    switch (result) {
        case DecodeResult::ok: return "ok";
        case DecodeResult::bad_magic: return "bad magic number";
        case DecodeResult::bad_version: return "unsupported protocol version";
        case DecodeResult::bad_type: return "unknown message type";
        case DecodeResult::too_large: return "message too large";
        case DecodeResult::truncated: return "message truncated";
        case DecodeResult::bad_field: return "invalid field value";
        case DecodeResult::trailing_bytes: return "unexpected trailing bytes";
    }
    return "unknown decode result";
}

void EncodeHeader(const FrameHeader &header, uint8_t out[kHeaderSize]) {
    StoreU32(out, kMagic);
    StoreU16(out + 4, header.version);
    StoreU16(out + 6, static_cast<uint16_t>(header.type));
    StoreU32(out + 8, header.request_id);
    StoreU32(out + 12, header.length);
}

DecodeResult DecodeHeader(const uint8_t in[kHeaderSize], FrameHeader *out) {
    if (LoadU32(in) != kMagic) return DecodeResult::bad_magic;
    out->version = LoadU16(in + 4);
    if (out->version != kVersion) return DecodeResult::bad_version;
    uint16_t type = LoadU16(in + 6);
    if (!IsKnownType(type)) return DecodeResult::bad_type;
    out->type = static_cast<MessageType>(type);
    out->request_id = LoadU32(in + 8);
    out->length = LoadU32(in + 12);
    if (out->length > kMaxPayload) return DecodeResult::too_large;
    return DecodeResult::ok;
}

void Writer::PutBytes(const void *data, size_t size) {
    if (overflowed_ || size > capacity_ - length_) {
        overflowed_ = true;
        return;
    }
    memcpy(buffer_ + length_, data, size);
    length_ += size;
}

void Writer::PutU32(uint32_t value) {
    uint8_t bytes[4];
    StoreU32(bytes, value);
    PutBytes(bytes, sizeof bytes);
}

void Writer::PutU64(uint64_t value) {
    PutU32(static_cast<uint32_t>(value >> 32));
    PutU32(static_cast<uint32_t>(value));
}

void Writer::PutString(const char *text) {
    size_t size = strlen(text);
    PutU32(static_cast<uint32_t>(size));
    PutBytes(text, size);
}

bool Reader::GetU32(uint32_t *value) {
    if (length_ - position_ < 4) return false;
    *value = LoadU32(buffer_ + position_);
    position_ += 4;
    return true;
}

bool Reader::GetU64(uint64_t *value) {
    uint32_t high, low;
    if (!GetU32(&high) || !GetU32(&low)) return false;
    *value = (static_cast<uint64_t>(high) << 32) | low;
    return true;
}

bool Reader::GetString(char *out, size_t max_length) {
    uint32_t size;
    if (!GetU32(&size)) return false;
    if (size > max_length || size > length_ - position_) return false;
    if (memchr(buffer_ + position_, '\0', size) != nullptr) return false;
    memcpy(out, buffer_ + position_, size);
    out[size] = '\0';
    position_ += size;
    return true;
}

bool IsValidClusterName(const char *name) {
    size_t length = strlen(name);
    if (length == 0 || length > kMaxClusterName || name[0] == '-') return false;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

void CopyBounded(char *out, size_t capacity, const char *text) {
    if (capacity == 0) return;
    size_t size = strlen(text);
    if (size >= capacity) size = capacity - 1;
    memcpy(out, text, size);
    out[size] = '\0';
}

size_t EncodePing(const PingRequest &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(request.cluster);
    return writer.Overflowed() ? 0 : writer.Length();
}

size_t EncodeArchivePush(const ArchivePushRequest &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(request.cluster);
    writer.PutU64(request.system_identifier);
    writer.PutString(request.wal_name);
    return writer.Overflowed() ? 0 : writer.Length();
}

size_t EncodeReply(const Reply &reply, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutU32(static_cast<uint32_t>(reply.status));
    writer.PutString(reply.message);
    return writer.Overflowed() ? 0 : writer.Length();
}

DecodeResult DecodePing(const uint8_t *payload, size_t length, PingRequest *out) {
    Reader reader(payload, length);
    if (!reader.GetString(out->cluster, kMaxClusterName)) return DecodeResult::truncated;
    if (!IsValidClusterName(out->cluster)) return DecodeResult::bad_field;
    return Finish(reader);
}

DecodeResult DecodeArchivePush(const uint8_t *payload, size_t length, ArchivePushRequest *out) {
    Reader reader(payload, length);
    if (!reader.GetString(out->cluster, kMaxClusterName) ||
        !reader.GetU64(&out->system_identifier) || !reader.GetString(out->wal_name, kMaxWalName))
        return DecodeResult::truncated;
    if (!IsValidClusterName(out->cluster) || out->system_identifier == 0 ||
        !IsArchivableWalName(out->wal_name))
        return DecodeResult::bad_field;
    return Finish(reader);
}

DecodeResult DecodeReply(const uint8_t *payload, size_t length, Reply *out) {
    Reader reader(payload, length);
    uint32_t status;
    if (!reader.GetU32(&status) || !reader.GetString(out->message, kMaxMessage))
        return DecodeResult::truncated;
    if (!ErrorKindIsKnown(status) || !IsPrintableText(out->message)) return DecodeResult::bad_field;
    out->status = static_cast<ErrorKind>(status);
    return Finish(reader);
}

}  // namespace wire
}  // namespace pg_ark

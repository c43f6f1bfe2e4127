/*
 * stored_object.cpp
 *     Writing and verifying objects in the stored-object format (see stored_object.h).
 *
 * Decoding streams: everything but the last kObjectTrailerSize bytes is payload, so the decoder
 * holds back that many bytes while it feeds the rest to zstd. Nothing is trusted until both
 * checksums and both sizes match at the end.
 */
#include "stored_object.h"

#include <string.h>
#include <zstd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace pg_ark {

namespace {

constexpr char kHeaderMagic[8] = {'P', 'G', 'A', 'R', 'K', 'O', 'B', '1'};
constexpr char kTrailerMagic[8] = {'P', 'G', 'A', 'R', 'K', 'E', 'N', 'D'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kTrailerHashedPrefix = 48; /* sizes + original checksum */
constexpr size_t kChunk = 256 * 1024;

void PutLe32(uint8_t *out, uint32_t value) {
    for (int i = 0; i < 4; i++) out[i] = static_cast<uint8_t>(value >> (8 * i));
}
void PutLe64(uint8_t *out, uint64_t value) {
    for (int i = 0; i < 8; i++) out[i] = static_cast<uint8_t>(value >> (8 * i));
}
uint32_t GetLe32(const uint8_t *in) {
    uint32_t value = 0;
    for (int i = 3; i >= 0; i--) value = (value << 8) | in[i];
    return value;
}
uint64_t GetLe64(const uint8_t *in) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) value = (value << 8) | in[i];
    return value;
}

struct ZstdCStreamDeleter {
    void operator()(ZSTD_CCtx *ctx) const { ZSTD_freeCCtx(ctx); }
};
struct ZstdDStreamDeleter {
    void operator()(ZSTD_DCtx *ctx) const { ZSTD_freeDCtx(ctx); }
};

Status Corrupt(const std::string &what, const std::string &why) {
    return Status(ErrorKind::corrupt, fmt::format("stored object \"{}\" is corrupt: {}", what, why));
}

}  // namespace

struct ObjectEncoder::State {
    Compression compression;
    WriteStream *sink;
    std::unique_ptr<ZSTD_CCtx, ZstdCStreamDeleter> zstd;
    Sha256 original_hash;
    Xxh128 original_xxh128;
    Sha256 stored_hash;
    std::vector<uint8_t> out_buffer = std::vector<uint8_t>(ZSTD_CStreamOutSize());
    uint64_t payload_size = 0;
    bool header_written = false;
    bool finished = false;

    /* Both checksums of the original bytes in one pass: each slice is hashed by XXH3 while
     * SHA-256 has just brought it into the cache. */
    void HashOriginal(const void *data, size_t size) {
        const uint8_t *bytes = static_cast<const uint8_t *>(data);
        for (size_t done = 0; done < size;) {
            size_t slice = std::min(kChunk, size - done);
            original_hash.Update(bytes + done, slice);
            original_xxh128.Update(bytes + done, slice);
            done += slice;
        }
    }
    Status Emit(const uint8_t *data, size_t size) {
        stored_hash.Update(data, size);
        return sink->Write(data, size);
    }
    Status EmitPayload(const uint8_t *data, size_t size) {
        payload_size += size;
        return Emit(data, size);
    }
    Status EnsureHeader() {
        if (header_written) return Status::Ok();
        uint8_t header[kObjectHeaderSize];
        memcpy(header, kHeaderMagic, sizeof kHeaderMagic);
        PutLe32(header + 8, kFormatVersion);
        PutLe32(header + 12, static_cast<uint32_t>(compression.type));
        header_written = true;
        return Emit(header, sizeof header);
    }
    /* Runs zstd over input with the given directive until it has consumed and flushed it. */
    Status Compress(const void *data, size_t size, ZSTD_EndDirective directive) {
        ZSTD_inBuffer in = {data, size, 0};
        for (;;) {
            ZSTD_outBuffer out = {out_buffer.data(), out_buffer.size(), 0};
            size_t remaining = ZSTD_compressStream2(zstd.get(), &out, &in, directive);
            if (ZSTD_isError(remaining))
                return Status(ErrorKind::internal,
                              fmt::format("zstd compression failed: {}", ZSTD_getErrorName(remaining)));
            PG_ARK_RETURN_IF_ERROR(EmitPayload(out_buffer.data(), out.pos));
            bool done = directive == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
            if (done) return Status::Ok();
        }
    }
};

ObjectEncoder::ObjectEncoder(Compression compression, WriteStream *sink)
    : state_(std::make_unique<State>()) {
    state_->compression = compression;
    state_->sink = sink;
    if (compression.type == CompressType::zstd) {
        state_->zstd.reset(ZSTD_createCCtx());
        ZSTD_CCtx_setParameter(state_->zstd.get(), ZSTD_c_compressionLevel, compression.level);
        ZSTD_CCtx_setParameter(state_->zstd.get(), ZSTD_c_checksumFlag, 1);
    }
}

ObjectEncoder::~ObjectEncoder() = default;

Status ObjectEncoder::Update(const void *data, size_t size) {
    state_->HashOriginal(data, size);
    return EmitOriginal(data, size);
}

Status ObjectEncoder::UpdateWhole(const void *data, size_t size) {
    std::thread hasher([this, data, size] { state_->HashOriginal(data, size); });
    Status status = EmitOriginal(data, size);
    hasher.join();
    return status;
}

Status ObjectEncoder::EmitOriginal(const void *data, size_t size) {
    PG_ARK_RETURN_IF_ERROR(state_->EnsureHeader());
    summary_.original_size += size;
    if (state_->compression.type == CompressType::none)
        return state_->EmitPayload(static_cast<const uint8_t *>(data), size);
    return state_->Compress(data, size, ZSTD_e_continue);
}

Status ObjectEncoder::Finish() {
    PG_ARK_RETURN_IF_ERROR(state_->EnsureHeader());
    if (state_->compression.type == CompressType::zstd)
        PG_ARK_RETURN_IF_ERROR(state_->Compress(nullptr, 0, ZSTD_e_end));
    summary_.original_sha256 = state_->original_hash.Finish();
    summary_.original_xxh128 = state_->original_xxh128.Finish();
    summary_.has_original_xxh128 = true;

    uint8_t trailer[kObjectTrailerSize];
    PutLe64(trailer, summary_.original_size);
    PutLe64(trailer + 8, state_->payload_size);
    memcpy(trailer + 16, summary_.original_sha256.data(), 32);
    state_->stored_hash.Update(trailer, kTrailerHashedPrefix);
    Sha256Digest stored = state_->stored_hash.Finish();
    memcpy(trailer + 48, stored.data(), 32);
    memcpy(trailer + 80, kTrailerMagic, sizeof kTrailerMagic);
    summary_.stored_sha256 = stored;
    PG_ARK_RETURN_IF_ERROR(state_->sink->Write(trailer, sizeof trailer));
    summary_.stored_size = kObjectHeaderSize + state_->payload_size + kObjectTrailerSize;
    state_->finished = true;
    return Status::Ok();
}

namespace {

/* Verifies and decodes; with a null sink the payload is checked but not decompressed. */
Result<ObjectSummary> Decode(ReadStream &in, const ByteSink *sink, const std::string &what,
                             Verify verify) {
    const bool hash_original = verify == Verify::full;
    std::vector<uint8_t> buffer(kChunk + kObjectTrailerSize);
    size_t held = 0; /* bytes at the start of buffer not yet known to be payload */
    bool header_seen = false;
    uint32_t compression = 0;
    uint64_t payload_size = 0;
    uint64_t original_size = 0;
    Sha256 stored_hash;
    Sha256 original_hash;
    std::unique_ptr<ZSTD_DCtx, ZstdDStreamDeleter> zstd;
    std::vector<uint8_t> out(ZSTD_DStreamOutSize());
    bool zstd_frame_done = false;

    auto consume_payload = [&](const uint8_t *data, size_t size) -> Status {
        stored_hash.Update(data, size);
        payload_size += size;
        if (sink == nullptr) return Status::Ok();
        if (compression == static_cast<uint32_t>(CompressType::none)) {
            if (hash_original) original_hash.Update(data, size);
            original_size += size;
            return (*sink)(data, size);
        }
        ZSTD_inBuffer input = {data, size, 0};
        while (input.pos < input.size) {
            if (zstd_frame_done) return Corrupt(what, "data after the end of the compressed stream");
            ZSTD_outBuffer output = {out.data(), out.size(), 0};
            size_t rc = ZSTD_decompressStream(zstd.get(), &output, &input);
            if (ZSTD_isError(rc))
                return Corrupt(what, fmt::format("zstd could not decompress it ({})",
                                                 ZSTD_getErrorName(rc)));
            if (rc == 0) zstd_frame_done = true;
            if (hash_original) original_hash.Update(out.data(), output.pos);
            original_size += output.pos;
            PG_ARK_RETURN_IF_ERROR((*sink)(out.data(), output.pos));
        }
        return Status::Ok();
    };

    for (;;) {
        Result<size_t> got = in.Read(buffer.data() + held, buffer.size() - held);
        if (!got.ok()) return got.status();
        held += *got;
        bool at_end = *got == 0;
        if (!header_seen && (held >= kObjectHeaderSize || at_end)) {
            if (held < kObjectHeaderSize) return Corrupt(what, "shorter than its header");
            if (memcmp(buffer.data(), kHeaderMagic, sizeof kHeaderMagic) != 0)
                return Corrupt(what, "bad header magic");
            if (GetLe32(buffer.data() + 8) != kFormatVersion)
                return Corrupt(what, "unknown format version");
            compression = GetLe32(buffer.data() + 12);
            if (compression > static_cast<uint32_t>(CompressType::zstd))
                return Corrupt(what, "unknown compression type");
            if (compression == static_cast<uint32_t>(CompressType::zstd) && sink != nullptr)
                zstd.reset(ZSTD_createDCtx());
            stored_hash.Update(buffer.data(), kObjectHeaderSize);
            memmove(buffer.data(), buffer.data() + kObjectHeaderSize, held - kObjectHeaderSize);
            held -= kObjectHeaderSize;
            header_seen = true;
        }
        if (header_seen && held > kObjectTrailerSize) {
            size_t payload = held - kObjectTrailerSize;
            PG_ARK_RETURN_IF_ERROR(consume_payload(buffer.data(), payload));
            memmove(buffer.data(), buffer.data() + payload, kObjectTrailerSize);
            held = kObjectTrailerSize;
        }
        if (at_end) break;
    }

    if (held != kObjectTrailerSize) return Corrupt(what, "truncated");
    const uint8_t *trailer = buffer.data();
    if (memcmp(trailer + 80, kTrailerMagic, sizeof kTrailerMagic) != 0)
        return Corrupt(what, "bad trailer magic (truncated?)");
    stored_hash.Update(trailer, kTrailerHashedPrefix);
    Sha256Digest stored = stored_hash.Finish();
    if (memcmp(stored.data(), trailer + 48, 32) != 0) return Corrupt(what, "stored checksum mismatch");
    if (GetLe64(trailer + 8) != payload_size) return Corrupt(what, "payload size mismatch");

    ObjectSummary summary;
    summary.original_size = GetLe64(trailer);
    summary.stored_size = kObjectHeaderSize + payload_size + kObjectTrailerSize;
    memcpy(summary.original_sha256.data(), trailer + 16, 32);
    summary.stored_sha256 = stored;
    if (sink != nullptr) {
        if (compression == static_cast<uint32_t>(CompressType::zstd) && !zstd_frame_done &&
            payload_size > 0)
            return Corrupt(what, "compressed stream ends early");
        if (original_size != summary.original_size) return Corrupt(what, "original size mismatch");
        if (hash_original && original_hash.Finish() != summary.original_sha256)
            return Corrupt(what, "original checksum mismatch");
    }
    return summary;
}

}  // namespace

Result<ObjectSummary> DecodeObject(ReadStream &in, const ByteSink &sink, const std::string &what,
                                   Verify verify) {
    return Decode(in, &sink, what, verify);
}

Result<ObjectSummary> SummarizeObject(ReadStream &in, const std::string &what) {
    return Decode(in, nullptr, what, Verify::full);
}

Status WriteWholeObject(Storage &storage, const RepoPath &path, const std::string &data,
                        Compression compression, WriteMode mode, ObjectSummary *summary) {
    auto stream = storage.OpenWrite(path, mode);
    if (!stream.ok()) return stream.status();
    ObjectEncoder encoder(compression, stream->get());
    PG_ARK_RETURN_IF_ERROR(encoder.Update(data.data(), data.size()));
    PG_ARK_RETURN_IF_ERROR(encoder.Finish());
    PG_ARK_RETURN_IF_ERROR((*stream)->Close());
    if (summary != nullptr) *summary = encoder.summary();
    return Status::Ok();
}

Result<std::string> ReadWholeObject(Storage &storage, const RepoPath &path) {
    auto stream = storage.OpenRead(path);
    if (!stream.ok()) return stream.status();
    std::string data;
    auto decoded = DecodeObject(
        **stream,
        [&](const uint8_t *bytes, size_t size) {
            data.append(reinterpret_cast<const char *>(bytes), size);
            return Status::Ok();
        },
        storage.Describe() + "/" + path.str());
    if (!decoded.ok()) return decoded.status();
    return data;
}

}  // namespace pg_ark

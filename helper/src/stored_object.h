/*
 * stored_object.h
 *     The format of every object pg_ark stores: self-describing and self-verifying.
 *
 *     header  (16 bytes)  "PGARKOB1", u32 format version (1), u32 compression (0 none, 1 zstd)
 *     payload             the (compressed) bytes
 *     trailer (88 bytes)  u64 original size, u64 payload size, SHA-256 of the original bytes,
 *                         SHA-256 of header + payload + the trailer's first 48 bytes, "PGARKEND"
 *
 * Integers are little-endian. The original checksum proves a restore is right; the stored
 * checksum lets verify check an object without decompressing (or, later, decrypting) it. The
 * trailer comes last so objects can be written in one streaming pass; a truncated object loses
 * its end magic and is detected. These byte meanings never change for format version 1.
 */
#ifndef PG_ARK_HELPER_STORED_OBJECT_H
#define PG_ARK_HELPER_STORED_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include <functional>
#include <memory>

#include "config.h"
#include "sha256.h"
#include "storage.h"
#include "xxh128.h"

namespace pg_ark {

constexpr size_t kObjectHeaderSize = 16;
constexpr size_t kObjectTrailerSize = 88;

struct ObjectSummary {
    uint64_t original_size = 0;
    uint64_t stored_size = 0;
    Sha256Digest original_sha256{};
    Sha256Digest stored_sha256{}; /* the trailer's checksum of the stored form */
    /* XXH3-128 of the original bytes, for the manifest only (not in the object's bytes): known
     * to an ObjectEncoder, which hashes what it is given; never to DecodeObject. */
    Xxh128Digest original_xxh128{};
    bool has_original_xxh128 = false;
};

/*
 * How much DecodeObject proves. full: both checksums, recomputed. stored: only the checksum of
 * the stored bytes is recomputed; the decompressed bytes are vouched for by those (decompression
 * is deterministic) and by zstd's own content checksum, which every object carries. A caller
 * that also knows the object's expected stored_sha256 (a backup manifest does) thereby proves it
 * has the right object, for a third of the hashing: SHA-256 is the costliest step of a restore
 * on CPUs without SHA instructions.
 */
enum class Verify { full, stored };

/* Streams original bytes in, writes the stored form to a WriteStream (which the caller closes). */
class ObjectEncoder {
  public:
    ObjectEncoder(Compression compression, WriteStream *sink);
    ~ObjectEncoder();
    ObjectEncoder(const ObjectEncoder &) = delete;
    ObjectEncoder &operator=(const ObjectEncoder &) = delete;

    Status Update(const void *data, size_t size);
    /*
     * Encodes a whole in-memory input in one call, hashing it on a second thread while this one
     * compresses: on CPUs without SHA extensions SHA-256 costs more than zstd -1, so overlapping
     * the two halves the latency of archiving a WAL segment. Use instead of Update. (XXH3-128
     * rides along on the hashing thread: a small fraction of SHA-256's cost.)
     */
    Status UpdateWhole(const void *data, size_t size);
    /* Flushes the compressor and writes the trailer; the summary is valid after this. */
    Status Finish();
    const ObjectSummary &summary() const { return summary_; }

  private:
    /* Compresses and writes original bytes; the caller hashes them. */
    Status EmitOriginal(const void *data, size_t size);

    struct State;
    std::unique_ptr<State> state_;
    ObjectSummary summary_;
};

/* Receives decoded original bytes. */
using ByteSink = std::function<Status(const uint8_t *data, size_t size)>;

/*
 * Reads a stored object, verifying both checksums and the sizes, and passes the original bytes
 * to sink as they are decoded. Any mismatch is ErrorKind::corrupt naming `what`. The caller
 * must discard what the sink received unless this returns OK.
 */
Result<ObjectSummary> DecodeObject(ReadStream &in, const ByteSink &sink, const std::string &what,
                                   Verify verify = Verify::full);

/* Reads only what is needed to learn an object's original checksum (verifies the object). */
Result<ObjectSummary> SummarizeObject(ReadStream &in, const std::string &what);

/*
 * Small objects (registrations, backup metadata, manifests) read and written whole, in memory.
 * WriteWholeObject commits with Close(), so create_new's conflict comes back as is;
 * ReadWholeObject verifies the object and names it "<storage>/<path>" in messages. Records
 * people may want to read (registrations, backup metadata) are stored kUncompressed.
 */
constexpr Compression kUncompressed{CompressType::none, 1};

Status WriteWholeObject(Storage &storage, const RepoPath &path, const std::string &data,
                        Compression compression, WriteMode mode, ObjectSummary *summary = nullptr);
Result<std::string> ReadWholeObject(Storage &storage, const RepoPath &path);

}  // namespace pg_ark

#endif

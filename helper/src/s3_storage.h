/*
 * s3_storage.h
 *     The repository in an S3 bucket (AWS or any S3-compatible server), behind storage.h.
 *
 * Keys are "<repo-s3-prefix>/<repository path>". What the Storage contract asks, and how:
 *   - Close() is the commit point: a single PUT, or CompleteMultipartUpload for an object larger
 *     than one part. S3 makes an object visible only complete, so there is no temp name and no
 *     rename; a stream destroyed without Close(), or failing, aborts its multipart upload.
 *   - Parts of a large object are uploaded by up to `parallel_parts` threads while the writer
 *     goes on filling the next one.
 *   - create_new: S3 has no exclusive create every server supports (If-None-Match: * is AWS's
 *     since 2024), so Close() looks (HEAD) before it writes. The race this leaves is between two
 *     writers of one name, which the repository never has: archiving of a segment is serialized
 *     by PostgreSQL's archiver and the helper's per-name handling, backups and expiry by the
 *     cluster's backup lock (lock-path). Re-pushing identical content stays idempotent: the
 *     caller sees conflict and compares, as on posix.
 *   - Reads are ranged GETs of `read_chunk` bytes, so a large object streams in bounded memory
 *     and a retry repeats one chunk; later chunks carry If-Match with the first one's ETag, so a
 *     replaced object is never read half old, half new.
 *   - Listing is ListObjectsV2 with delimiter '/', following continuation tokens.
 *   - Every request is retried on connection failures, timeouts, 5xx and 429, with exponential
 *     backoff and full jitter, at most `attempts` times; the final error names the operation,
 *     the object and what the last attempt got. Never a key or a signature.
 */
#ifndef PG_ARK_HELPER_S3_STORAGE_H
#define PG_ARK_HELPER_S3_STORAGE_H

#include <stddef.h>

#include <memory>

#include "config.h"
#include "storage.h"

namespace pg_ark {

/* Knobs tests turn down; the defaults are for production. (The part size is S3Config's:
 * repo-s3-part-size.) */
struct S3Tuning {
    int parallel_parts = 4;
    size_t read_chunk = 16u << 20;
    int attempts = 5;              /* per request, the first included */
    int backoff_initial_ms = 100;  /* doubled every retry, capped, then jittered */
    int backoff_max_ms = 5000;
    long connect_timeout_seconds = 10;
    long low_speed_seconds = 60;
};

/* invalid_argument when no credentials are configured nor in the environment. */
Result<std::unique_ptr<Storage>> MakeS3Storage(const S3Config &config, const S3Tuning &tuning = {});

}  // namespace pg_ark

#endif

/*
 * wal_store.h
 *     Archiving WAL files into the repository and getting them back.
 *
 * Push acknowledges only after the object is durable (Storage::Close). Pushing identical content
 * again succeeds; different content under an existing name is refused (ErrorKind::conflict),
 * never overwritten. Files from another system are refused (ErrorKind::system_mismatch).
 *
 * Get serves a segment the repository has only as "<segment>.partial" (the last, incomplete
 * segment of a timeline, archived by the standby promoted after it) under the segment's own name:
 * PostgreSQL only ever asks for the plain name, and without it recovery on that timeline ends one
 * segment early. A full segment of the name is always preferred.
 */
#ifndef PG_ARK_HELPER_WAL_STORE_H
#define PG_ARK_HELPER_WAL_STORE_H

#include <stdint.h>

#include <string>
#include <vector>

#include "config.h"
#include "repository.h"
#include "wal_name.h"

namespace pg_ark {

/* A segment or .partial in the repository; stored_time as in ListedObject (storage.h). */
struct ArchivedWal {
    std::string name; /* "000000010000000000000003" or "000000010000000000000003.partial" */
    double stored_time = 0;
};

/* Any archived WAL file (history files included), with its stored size: what expiry weighs. */
struct ArchivedWalFile {
    std::string name; /* as PostgreSQL named it, without the repository's ".ark" */
    WalFileKind kind = WalFileKind::segment;
    uint64_t stored_size = 0;
    double stored_time = 0;
};

struct PushOutcome {
    bool already_archived = false;
    uint64_t original_size = 0;
    uint64_t stored_size = 0;
};

class WalStore {
  public:
    explicit WalStore(Repository *repository) : repository_(repository) {}

    /* Reads the whole file behind fd and stores it as wal_name. */
    Result<PushOutcome> Push(const std::string &cluster, uint64_t system_identifier,
                             const std::string &wal_name, int fd, const Compression &compression);

    /*
     * Restores wal_name to destination atomically (temp file, fsync, rename, directory fsync),
     * after verifying its checksums. ErrorKind::not_found when the repository does not have it
     * (for a segment: neither it nor its .partial). served, when given, is set to the name of
     * the file restored: wal_name, or wal_name + ".partial" (see the file comment).
     * Partial::never restores wal_name itself or nothing (archive-get's read-ahead).
     */
    enum class Partial { if_missing, never };
    Status Get(const std::string &cluster, const std::string &wal_name,
               const std::string &destination, std::string *served = nullptr,
               Partial partial = Partial::if_missing);

    /* Every segment and .partial archived for cluster, on every timeline, sorted by name. */
    Result<std::vector<ArchivedWal>> ListSegments(const std::string &cluster);
    /* Every WAL file archived for cluster: segments, .partial and .backup files of every
     * timeline, and the timeline history files; sorted by name. */
    Result<std::vector<ArchivedWalFile>> ListArchived(const std::string &cluster);

  private:
    Repository *repository_;
};

}  // namespace pg_ark

#endif

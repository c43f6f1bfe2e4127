/*
 * restore_files.h
 *     The file phase of a restore: the parts of every file decoded by a pool of workers, largest
 *     first, each written at its offset with pwrite, so one large file is restored by several
 *     workers at once and the pool stays busy to the end.
 *
 * A part of an incremental chain may supply only some of its bytes (its pieces); it is decoded
 * and checked whole all the same, and only its pieces are written. Pieces of different parts
 * never overlap, so parts of one file are written in any order.
 *
 * Every part is checked twice: DecodeObject verifies the object against its own checksums, and
 * the decoded size and SHA-256 must equal the manifest's, so an intact object in the wrong place
 * (swapped, stale) is caught too. Either failure is ErrorKind::corrupt naming the file and the
 * object. The worker that writes a file's last part fsyncs it and sets its mode and mtime. After
 * the first failure the workers take no more parts; what was written stays.
 *
 * A file restored in place (delta restore) already exists: it is cut or extended to its size and
 * each part compared before anything is written. A part whose pieces are all of its bytes is
 * compared by a checksum of the file's bytes there, without reading the repository: its XXH3-128
 * when the backup recorded one (manifest format 3 on), else its SHA-256. Only when that differs,
 * or for a part supplying some of its bytes (older backups of a chain), is the part decoded and
 * checked as above, and then only the ranges that differ are written.
 */
#ifndef PG_ARK_HELPER_RESTORE_FILES_H
#define PG_ARK_HELPER_RESTORE_FILES_H

#include <atomic>
#include <string>
#include <vector>

#include "manifest.h"
#include "progress_meter.h"
#include "restore_chain.h"
#include "storage.h"
#include "target_dir.h"

namespace pg_ark {

struct FileToRestore {
    const BackupEntry *entry;
    const TargetDir *root; /* the data directory or a tablespace location */
    std::string relative;  /* where below root */
    std::vector<SourcePart> sources; /* restore_chain.h: the parts and what each supplies */
    bool in_place = false; /* exists: compare, write only what differs (delta restore) */
    bool report = false;   /* log it (info) when created or changed (delta restore) */
};

/* What a restore changed in files that existed or were missing: its delta. */
struct RewriteCounters {
    std::atomic<uint64_t> files{0}; /* files created or changed in any byte or size */
    std::atomic<uint64_t> bytes{0}; /* bytes written */
};

/*
 * Creates every file (it must not exist unless in_place) with its final size, then decodes every source part
 * with `workers` threads, writing only its pieces. Bumps counters' done fields; the caller sets
 * the totals.
 */
Status RestoreFiles(Storage &storage, const std::vector<FileToRestore> &files, int workers,
                    TransferCounters *counters, RewriteCounters *rewritten);

}  // namespace pg_ark

#endif

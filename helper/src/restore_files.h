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
 */
#ifndef PG_ARK_HELPER_RESTORE_FILES_H
#define PG_ARK_HELPER_RESTORE_FILES_H

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
};

/*
 * Creates every file (it must not exist) with its final size, then decodes every source part
 * with `workers` threads, writing only its pieces. Bumps counters' done fields; the caller sets
 * the totals.
 */
Status RestoreFiles(Storage &storage, const std::vector<FileToRestore> &files, int workers,
                    TransferCounters *counters);

}  // namespace pg_ark

#endif

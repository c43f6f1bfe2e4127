/*
 * delta_target.h
 *     Preparing an existing data directory for `pg_ark restore --delta`: proving no server runs
 *     in it, and removing what the backup does not have, so that what stays can be compared in
 *     place and the result equals a restore into an empty directory.
 *
 * Removal never follows a symlink: links are removed as links, and directories are walked with
 * O_NOFOLLOW descriptors (target_dir.h). The only links kept are those the backup has, with the
 * same target (tablespaces at their restored locations).
 */
#ifndef PG_ARK_HELPER_DELTA_TARGET_H
#define PG_ARK_HELPER_DELTA_TARGET_H

#include <stdint.h>

#include <map>
#include <set>
#include <string>

#include "manifest.h"
#include "status.h"
#include "target_dir.h"

namespace pg_ark {

/*
 * conflict when postmaster.pid names a live process: a delta restore under a running server
 * would corrupt it. A postmaster.pid left by a crash (its process gone) is not in the backup
 * and is removed like any other extra file.
 */
Status CheckNoServerRunning(const std::string &pgdata);

/*
 * invalid_argument unless a non-empty target holds PG_VERSION: --delta deletes what the backup
 * lacks, and must not be turned on a directory that is not a data directory by a typo.
 */
Status CheckLooksLikeDataDirectory(const std::string &pgdata);

/* What a root should hold at a path after the restore. */
struct Expected {
    EntryKind kind;
    std::string link_target; /* symlinks */
};

struct PruneCounts {
    uint64_t files = 0; /* files and links removed */
    uint64_t bytes = 0; /* their sizes */
    bool report = true; /* log each (info) */
};

/*
 * Removes below root everything not in `expected` (relative path -> what it must be) or of
 * another kind, or a link pointing elsewhere; directories that are expected are walked.
 * keep_unknown_top_level: leave unexpected entries directly in root alone (a tablespace
 * location holds one directory per major version, and another server's must survive).
 * `replace`: expected files removed all the same, because the restore always writes them.
 * Adds to *kept what is left in place: directories and links as they must be, and regular files
 * to be compared and rewritten in place.
 */
Result<PruneCounts> PruneTarget(const TargetDir &root, const std::map<std::string, Expected> &expected,
                                bool keep_unknown_top_level, const std::set<std::string> &replace,
                                std::set<std::string> *kept);

}  // namespace pg_ark

#endif

/*
 * verify.h
 *     `pg_ark verify` and backup_verify(): re-reads what a repository holds and says what a
 *     restore could not use, and how far recovery from each backup can go.
 *
 * What is checked:
 *  - every part of every file of every complete backup (or of one backup and its chain): the
 *    object is present and decodes with both checksums recomputed (Verify::full), and its
 *    sizes and checksums are the ones its manifest records (the decoded bytes' XXH3-128 too,
 *    when the manifest has one: delta restore compares files in place by it);
 *  - a backup whose manifest is present but damaged;
 *  - an incremental or differential backup's chain: every parent exists, is complete and
 *    readable, supplies every block the backup does not hold, and has no problem itself;
 *  - every archived WAL file (segments, .partial, backup history and timeline history files)
 *    decodes with both checksums; a segment or .partial (PostgreSQL archives both at full size)
 *    is exactly the segment size its own first page header states, and comes from the
 *    registered system;
 *  - each backup's WAL from its start to its consistency point is archived and sound;
 *  - after that, the segments recovery would replay, in order, following later timelines that
 *    branched off after the backup (their .history files), up to the first one missing or
 *    damaged: that is how far point-in-time recovery from the backup reaches. A missing segment
 *    with archived WAL after it is a gap, reported as a problem; the end of the archive is not.
 *
 * Every problem found is a row; nothing stops at the first one. An object that cannot be read
 * (I/O error, permission) is a row too. Only what prevents verifying at all (an unregistered
 * cluster, an unknown backup id, an unreadable backup list) is an error.
 */
#ifndef PG_ARK_HELPER_VERIFY_H
#define PG_ARK_HELPER_VERIFY_H

#include <stdint.h>

#include <string>
#include <vector>

#include "manifest.h"
#include "repository.h"
#include "status.h"

namespace pg_ark {

struct VerifyProblem {
    /* What is damaged: "backup <id>: <path> part <n> (data/<object>.ark)", "backup <id>:
     * manifest", "backup <id>: parent", "wal <file name>". */
    std::string object;
    std::string problem;
};

struct BackupVerdict {
    std::string id;
    BackupType type = BackupType::full;
    std::string parent;
    uint64_t objects = 0;   /* part objects read */
    uint64_t bytes = 0;     /* their stored bytes, as the manifest records them */
    size_t problems = 0;    /* its own rows, its chain's, and damaged or missing WAL it needs */
    bool manifest_ok = false;
    std::string wal_start;  /* the WAL it needs for consistency */
    std::string wal_stop;
    /* false for the parents --set reads: restoring the chosen backup needs only its WAL */
    bool wal_checked = false;
    bool wal_needed_ok = false;
    /* The last segment recovery from it replays before a gap or the end of the archive, and
     * when it was stored; empty when the WAL it needs for consistency is incomplete. */
    std::string reachable_until;
    double reachable_stored_time = 0;
    uint32_t reachable_timeline = 0; /* the timeline recovery ends on */

    bool ok() const { return problems == 0; }
};

struct WalVerdict {
    uint64_t segments = 0; /* segments and .partial files read */
    uint64_t other = 0;    /* history and backup history files read */
    uint64_t bytes = 0;    /* stored bytes read */
    size_t problems = 0;   /* rows about WAL: damaged, truncated, missing, gaps */
    uint64_t segment_size = 0;
};

struct VerifyReport {
    std::string cluster;
    std::string backup_id; /* "" when everything was verified */
    /* Backups oldest first, each with its own rows, then WAL rows by file name. */
    std::vector<VerifyProblem> problems;
    std::vector<BackupVerdict> backups; /* oldest first */
    WalVerdict wal;

    bool ok() const { return problems.empty(); }
};

/*
 * Verifies cluster's backups and WAL (backup_id empty) or one backup, its chain, and the WAL it
 * needs and can replay. workers: objects read in parallel (at least 1). backup_running: whether
 * the cluster's backup lock is held (backup_lock.h); a running backup is not verified.
 */
Result<VerifyReport> VerifyRepository(Repository &repository, const std::string &cluster,
                                      const std::string &backup_id, int workers,
                                      bool backup_running);

/* "verified 3 backups (1234 objects, 480.0 MiB) and 42 WAL files: 3 problems" */
std::string VerifySummary(const VerifyReport &report);

/* One backup's line: "backup ID (full): ok, ...; recovery can reach the end of ..." */
std::string DescribeVerdict(const BackupVerdict &verdict);

}  // namespace pg_ark

#endif

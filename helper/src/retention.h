/*
 * retention.h
 *     What expiry removes: a pure function from the catalog, the archived WAL, the cluster's
 *     retention policy and the time to a plan. It reads and removes nothing itself (expire.h
 *     carries a plan out), so every rule below is tested without a repository.
 *
 * Which complete backups are kept:
 *   - retention-full N: the newest N full backups are kept, an older full is not;
 *   - retention-diff N: the newest N differential backups are kept, an older one is not;
 *   - a backup whose parent is not kept is not kept either (an incremental always goes with
 *     its parent; a differential with its full);
 *     so the two counts limit together: a backup stays by count when neither says otherwise.
 *   - retention-window W keeps, whatever the counts say, every backup that recovery to any
 *     moment of [now - W, now] needs: the newest complete backup that stopped at or before
 *     now - W, every later one, and their ancestors;
 *   - the newest complete backup and its ancestors are always kept.
 *   With all three policies 0 (unset) no backup and no WAL is expired.
 *
 * Why the counts limit rather than keep: if retention-full kept everything built on a kept
 * full, no differential of a kept full could ever go, and retention-diff would mean nothing
 * (pgBackRest expires an older differential whatever retention-full says, and so do we).
 *
 * Failed backups: their parts are always removed (they are unusable and only take space); their
 * records stay for `pg_ark list` and check until they are older than the oldest kept complete
 * backup. What an interrupted expiry left (a failure record starting with kExpiredReasonPrefix,
 * or a directory without backup.info, which every backup writes first) is removed whatever its
 * age: that expiry had decided already.
 *
 * WAL: with S the earliest wal_start among kept complete backups (segments of different
 * timelines compare by their log and segment number), every segment, .partial and .backup file
 * below S goes, on every timeline. Timeline history files always stay. Without a kept complete
 * backup, or when one has no valid wal_start, no WAL goes.
 *
 * A running backup (status running) is never touched.
 */
#ifndef PG_ARK_HELPER_RETENTION_H
#define PG_ARK_HELPER_RETENTION_H

#include <stdint.h>

#include <string>
#include <vector>

#include "catalog.h"
#include "config.h"
#include "wal_store.h"

namespace pg_ark {

struct PlannedBackupRemoval {
    std::string id;
    BackupStatus status = BackupStatus::complete;
    /* false: only the parts of a failed backup go; its record stays */
    bool whole = true;
    std::string reason; /* "beyond retention-full = 2", "builds on expired backup X", ... */
    uint64_t stored_bytes = 0; /* what the catalog knows of; expiry measures the real size */
};

struct ExpiryPlan {
    /* Newest first, so every backup goes before the backups it builds on. */
    std::vector<PlannedBackupRemoval> backups;
    std::vector<std::string> kept; /* complete backups kept, oldest first */
    /* Sorted by name. */
    std::vector<ArchivedWalFile> wal;
    /* The first segment a kept backup needs (S above), "" when WAL is kept whole. */
    std::string wal_boundary;
    std::string wal_reason; /* why each file in `wal` goes */
};

/* entries: Catalog::List's, oldest first. wal: WalStore::ListArchived's. now: seconds. */
ExpiryPlan PlanExpiry(const std::vector<CatalogEntry> &entries,
                      const std::vector<ArchivedWalFile> &wal, const Retention &retention,
                      int64_t now);

/* "retention-full = 2, retention-window = 14d", or "no retention policy". */
std::string DescribeRetention(const Retention &retention);

/* "14d", "36h", "90m", "45s": as the configuration would spell it. */
std::string FormatPolicyDuration(int64_t seconds);

}  // namespace pg_ark

#endif

/*
 * expire.h
 *     Carrying out retention (retention.h) on one cluster's repository: `pg_ark expire`,
 *     backup_expire() and the expiry that follows every successful backup.
 *
 * Guarantees:
 *   - it runs under the cluster's backup lock, so no backup starts or ends meanwhile, and it
 *     refuses while the cluster is paused (pg_ark stop); a dry run needs neither and removes
 *     nothing;
 *   - backups go newest first, so nothing that builds on a backup outlives it, and each loses
 *     its manifest before anything else (Catalog::RemoveBackup): a run stopped at any point
 *     (kill -9, an I/O error) leaves no backup that lists as complete but cannot be restored,
 *     and the next run finishes the job;
 *   - WAL goes only after the backups, and only what no kept backup needs;
 *   - every removal goes through the Storage interface.
 */
#ifndef PG_ARK_HELPER_EXPIRE_H
#define PG_ARK_HELPER_EXPIRE_H

#include <stdint.h>

#include <functional>
#include <string>
#include <vector>

#include "config.h"
#include "repository.h"
#include "status.h"

namespace pg_ark {

/* One thing expiry removed (or, in a dry run, would remove): backup_expire()'s row. */
struct ExpiredItem {
    std::string kind; /* "backup" or "wal" */
    std::string name; /* backup id or WAL file name */
    uint64_t bytes = 0; /* stored bytes freed */
    std::string reason;
};

struct ExpiryReport {
    bool dry_run = false;
    std::string policy;            /* DescribeRetention's */
    std::vector<ExpiredItem> items; /* in the order they went */
    std::vector<std::string> kept;  /* complete backups kept, oldest first */
    size_t backups = 0;
    size_t wal_files = 0;
    uint64_t bytes = 0;
};

struct ExpireOptions {
    bool dry_run = false;
    int64_t now = 0; /* seconds since the epoch: where the retention-window ends */
    /* Called once per item, as soon as it is gone (dry run: as planned); an error stops the
     * expiry there, which is as safe as any interruption. */
    std::function<Status(const ExpiredItem &)> on_item;
};

/*
 * Takes the backup lock (ErrorKind::conflict, naming the backup, while one runs) and refuses
 * while paused; a dry run takes no lock and runs when paused. repo_path: where the lock lives.
 */
Result<ExpiryReport> Expire(Repository &repository, const std::string &repo_path,
                            const ClusterConfig &cluster, const ExpireOptions &options);

/* The same without taking the lock or looking at the pause. REQUIRES: the caller holds the
 * cluster's backup lock (the backup that just completed). */
Result<ExpiryReport> ExpireLocked(Repository &repository, const ClusterConfig &cluster,
                                  const ExpireOptions &options);

/* "expired backup 20261122-053113F (beyond retention-full = 2), 1.5 GiB" */
std::string FormatExpiredItem(const ExpiredItem &item, bool dry_run);
/* "expired 2 backups and 14 WAL files, 1.2 GiB freed", "would expire ...", "nothing to expire" */
std::string SummarizeExpiry(const ExpiryReport &report);

}  // namespace pg_ark

#endif

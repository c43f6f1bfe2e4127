/*
 * repository_checks.h
 *     The repository's side of `pg_ark check` / backup_check(): what the helper can see about a
 *     cluster without PostgreSQL. Each check gives one row; every check runs even when an earlier
 *     one failed, so one call shows everything that is wrong.
 *
 *   system_identifier   the cluster is registered, for this system
 *   repository_writable a probe object is written durably and removed
 *   repository_space    free space holds at least the newest full backup once more
 *   backups_paused      not paused by `pg_ark stop`
 *   last_backup         a complete backup exists, younger than backup-max-age when that is set
 *   failed_backups      no backup failed since the newest complete one
 */
#ifndef PG_ARK_HELPER_REPOSITORY_CHECKS_H
#define PG_ARK_HELPER_REPOSITORY_CHECKS_H

#include <stdint.h>

#include <string>
#include <vector>

#include "config.h"
#include "repository.h"

namespace pg_ark {

struct CheckRow {
    std::string name;
    bool ok = false;
    std::string detail;
};

/* system_identifier 0: the caller does not know it (the CLI with PostgreSQL down). */
std::vector<CheckRow> CheckRepository(Repository &repository, const ClusterConfig &cluster,
                                      uint64_t system_identifier, bool backup_running, int64_t now);

/* "3 d 4 h", "25 min", "12 s": an age for a DBA. */
std::string FormatAge(int64_t seconds);

}  // namespace pg_ark

#endif

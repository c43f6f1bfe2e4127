/*
 * recovery_target.h
 *     Where recovery of a restored cluster stops: `pg_ark restore --target-*`.
 *
 * One target at most: a time (with an explicit zone, so it means one instant whatever the
 * server's TimeZone), a transaction id, an LSN, a restore point name, or "immediate" (the end of
 * the backup). It becomes PostgreSQL 15's recovery_target_* settings, written by the restore into
 * postgresql.auto.conf in place of earlier ones.
 *
 * The backup it starts from must end before the target, or PostgreSQL would stop with "requested
 * recovery stop point is before consistent recovery point". For a time or an LSN that is known
 * from the catalog (stop times to the second): without --set the newest complete backup that
 * surely ends before the target is chosen, and a --set backup that surely ends after it is
 * refused, naming the backups that could reach it. A transaction id or a name cannot be placed without reading WAL: the newest backup
 * (or --set) is used, as pgBackRest does. Whether the archived WAL reaches a time or an LSN is
 * checked next to this choice (wal_reach.h).
 */
#ifndef PG_ARK_HELPER_RECOVERY_TARGET_H
#define PG_ARK_HELPER_RECOVERY_TARGET_H

#include <stdint.h>

#include <string>
#include <vector>

#include "catalog.h"
#include "status.h"

namespace pg_ark {

struct RecoveryTarget {
    enum class Kind { none, time, xid, lsn, name, immediate };
    Kind kind = Kind::none;
    std::string value;    /* as given (time, xid, LSN, name) */
    bool exclusive = false;
    std::string action;   /* pause | promote | shutdown; empty: PostgreSQL's default (pause) */
    std::string timeline; /* latest | current | a number; empty: PostgreSQL's default (latest) */
    double time = 0;      /* kind time: seconds since the epoch */
    uint64_t lsn = 0;     /* kind lsn */
};

/* What the command line gave; empty strings are options not given. */
struct RecoveryTargetArguments {
    std::string time, xid, lsn, name;
    bool immediate = false;
    bool exclusive = false;
    std::string action, timeline;
};

/* invalid_argument naming the option for anything malformed or contradictory. */
Result<RecoveryTarget> ParseRecoveryTarget(const RecoveryTargetArguments &arguments);

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" with "Z", "UTC" or an offset (+HH, +HHMM, +HH:MM). */
bool ParseTargetTime(const std::string &text, double *seconds);

/* postgresql.auto.conf lines (name = 'value'), none for Kind::none with no action/timeline. */
std::vector<std::string> RecoveryTargetLines(const RecoveryTarget &target);

/*
 * The backup to restore for target: `set` if given (refused when it ends after a time or LSN
 * target), else the newest complete backup that can reach the target. entries: the catalog,
 * any order.
 */
Result<CatalogEntry> ChooseBackupForTarget(const std::vector<CatalogEntry> &entries,
                                           const RecoveryTarget &target, const std::string &set);

}  // namespace pg_ark

#endif

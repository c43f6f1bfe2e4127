/*
 * restore.h
 *     `pg_ark restore`: rebuild a data directory from a backup, with no daemon and no running
 *     PostgreSQL.
 *
 * The target must be absent or an empty directory. Directories and tablespace links come first
 * (tablespaces at their original location unless remapped), then every part is decoded by
 * parallel workers, its checksum verified as it is written, and each file fsynced and given its
 * mode and mtime. global/pg_control is written last, after everything else is durable: a restore
 * that did not finish leaves a directory PostgreSQL refuses to start. Recovery settings go into
 * postgresql.auto.conf (replacing earlier restore_command/recovery_target lines) with
 * recovery.signal, so starting PostgreSQL replays the archived WAL to its end.
 */
#ifndef PG_ARK_HELPER_RESTORE_H
#define PG_ARK_HELPER_RESTORE_H

#include <stdint.h>

#include <map>
#include <string>

#include "config.h"
#include "repository.h"
#include "status.h"

namespace pg_ark {

struct RestoreOptions {
    std::string config_path; /* absolute; written into restore_command */
    std::string cluster;
    std::string pgdata;      /* target */
    std::string set;         /* backup id; empty = newest complete backup */
    std::map<std::string, std::string> tablespace_map; /* old location -> new location */
    int workers = 2;
    bool progress = false;   /* draw progress on stderr (a terminal) */
    std::string pg_ark_binary; /* absolute path used in restore_command */
};

struct RestoreResult {
    std::string backup_id;
    uint64_t files = 0;
    uint64_t bytes = 0;
};

Result<RestoreResult> Restore(Repository &repository, const RestoreOptions &options);

}  // namespace pg_ark

#endif

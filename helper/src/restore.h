/*
 * restore.h
 *     `pg_ark restore`: rebuild a data directory from a backup, with no daemon and no running
 *     PostgreSQL.
 *
 * The target must be absent (its parent must exist; it is created with mode 0700) or an empty
 * directory, and so must every tablespace location; nothing is written until all of that, the
 * chosen backup and --tablespace-map are checked. Directories and links come first (tablespaces
 * at their original location unless remapped; their contents are written below the location
 * itself, never through a link), then every part is decoded by parallel workers, checked
 * against its object's checksums and the manifest's as it is written, and each file fsynced
 * and given its mode and mtime. Nothing is ever created through a symlink found below the
 * target or a location (target_dir.h).
 *
 * global/pg_control is written last, after every other file, every directory and the recovery
 * settings are durable: a restore that did not finish leaves a directory PostgreSQL refuses to
 * start. A failure removes nothing; its message says the target is incomplete. Recovery
 * settings go into postgresql.auto.conf (replacing earlier restore_command, recovery_target*
 * and recovery_end_command lines) with recovery.signal, so starting PostgreSQL replays the
 * archived WAL to its end and promotes, or to options.target (recovery_target.h).
 *
 * Left out of what the backup holds: tablespace_map (restore makes the links; PostgreSQL would
 * re-point them at the unmapped locations) and standby.signal (it would start a standby that
 * never ends recovery). A linked pg_wal is restored as a directory, so the new server cannot
 * write into the original server's WAL.
 *
 * Delta restore (options.delta) goes into an existing data directory, which must hold PG_VERSION
 * and no running server (postmaster.pid naming a live process is refused). It first removes
 * global/pg_control, so that an interrupted delta restore leaves a directory PostgreSQL refuses
 * to start, then everything the backup does not have (delta_target.h: never through a link; in
 * a tablespace location, other major versions' directories stay), then restores as above with
 * each existing file compared part by part and written only where it differs
 * (restore_files.h). The result is the same as a restore into an empty directory.
 *
 * An incremental or differential backup is restored from its chain (restore_chain.h): the
 * files, directories and links are the chosen backup's, and each file stored as changed blocks
 * takes its other blocks from the newest ancestor that has them, read straight from that
 * ancestor's parts (nothing is staged). Every backup of the chain must be complete.
 */
#ifndef PG_ARK_HELPER_RESTORE_H
#define PG_ARK_HELPER_RESTORE_H

#include <stdint.h>

#include <map>
#include <string>

#include "config.h"
#include "recovery_target.h"
#include "repository.h"
#include "status.h"

namespace pg_ark {

struct RestoreOptions {
    std::string config_path; /* absolute; written into restore_command */
    std::string cluster;
    /* Where the cluster's backup lock lives (Config::LockDirectory()): whether a backup runs. */
    std::string lock_directory;
    std::string pgdata; /* target */
    std::string set;    /* backup id; empty = newest complete backup (that reaches target) */
    RecoveryTarget target; /* where recovery stops; Kind::none: the end of the archive */
    bool standby = false;          /* standby.signal instead of recovery.signal */
    std::string primary_conninfo;  /* standby: where to stream from (none: archive only) */
    /* Location recorded in the backup -> absolute new location (trailing '/' ignored). Each key
     * must be one of the backup's tablespaces (invalid_argument otherwise). */
    std::map<std::string, std::string> tablespace_map;
    int workers = 2;           /* 1..kMaxProcessMax */
    bool progress = false;     /* draw progress on stderr (a terminal) */
    std::string pg_ark_binary; /* absolute path used in restore_command */
    /* The target (and each tablespace location) may be an existing data directory of a stopped
     * server: only what differs from the backup is written, and what it lacks is removed. */
    bool delta = false;
};

struct RestoreResult {
    std::string backup_id;
    uint64_t files = 0; /* files written (directories and links not counted) */
    uint64_t bytes = 0; /* their total size */
    /* Of those, created or changed (written in any byte or resized), and the bytes written;
     * global/pg_control and postgresql.auto.conf, written by every restore, are not counted. */
    uint64_t files_rewritten = 0;
    uint64_t bytes_rewritten = 0;
    uint64_t files_unchanged = 0; /* the other files, left as they were */
    uint64_t files_removed = 0; /* delta: files and links the backup does not have */
    uint64_t bytes_removed = 0;
};

/*
 * Errors: not_found (no complete backup, unknown --set, a missing parent), conflict (a
 * non-empty target or location, a running backup), invalid_argument (options, a failed backup
 * or parent), corrupt (a part or object that does not match the manifest, named with the file;
 * a block no backup of the chain supplies), and the file system's.
 */
Result<RestoreResult> Restore(Repository &repository, const RestoreOptions &options);

}  // namespace pg_ark

#endif

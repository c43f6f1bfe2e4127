/*
 * backup_flow.h
 *     One online backup driven from this process (a backend or the backup worker): the helper
 *     session of common/backup_protocol.h around PostgreSQL's non-exclusive backup mode.
 */
#ifndef PG_ARK_EXTENSION_BACKUP_FLOW_H
#define PG_ARK_EXTENSION_BACKUP_FLOW_H

#include "backup_protocol.h"

/* This cluster's name (pg_ark.cluster); ERRORs when unset. */
const char *RequireClusterName(void);

/* What to back up; label and parent may be null. */
struct BackupOptions {
    pg_ark::wire::BackupKind kind = pg_ark::wire::BackupKind::full;
    const char *parent = nullptr; /* incremental: the parent's id; null = the newest usable */
    const char *label = nullptr;
    bool fast = true;
};

/*
 * Reserves a backup with the helper for a background worker to run (RunBackup with attach_id)
 * and returns its id (palloc'd).
 */
char *ReserveDetachedBackup(const BackupOptions &options);

/*
 * Runs a whole backup: begins it (or, with attach_id, takes over a detached reservation, whose
 * label and parent were given at reservation), enters backup mode, has the helper copy, leaves
 * backup mode and waits for the helper to commit. Returns the backup id (palloc'd). Any ERROR
 * (cancel, client gone, helper failure) leaves PostgreSQL out of backup mode and the helper's
 * backup failed. in_worker: manage transactions around the backup-mode calls (a background
 * worker has none of its own).
 *
 * An incremental or differential backup first has the block tracker write its maps up to the
 * backup's start LSN, so the helper can read what changed since the parent; a completed full
 * backup tells the tracker that maps older than its start are no longer needed.
 */
char *RunBackup(const BackupOptions &options, const char *attach_id, bool in_worker);

/*
 * The helper's records: every backup (backup_id ""), one, or the running one ("running").
 * Returns how many (palloc'd array in *out); an unknown id is an ERROR from the helper.
 */
int FetchBackupRecords(const char *backup_id, pg_ark::wire::BackupRecord **out);

/* Asks the helper to cancel a running backup; ERRORs when it is not running. */
void CancelBackup(const char *backup_id);

#endif

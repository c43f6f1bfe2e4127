/*
 * backup_worker.h
 *     backup_start_*(wait => false): a dynamic background worker runs the backup so the
 *     calling session returns at once.
 */
#ifndef PG_ARK_EXTENSION_BACKUP_WORKER_H
#define PG_ARK_EXTENSION_BACKUP_WORKER_H

#include "backup_protocol.h"

/*
 * Starts a worker for a backup reserved with ReserveDetachedBackup and waits until it runs.
 * ERRORs (after cancelling the reservation) when no worker can be started.
 */
void LaunchBackupWorker(const char *backup_id, pg_ark::wire::BackupKind kind, bool fast);

#endif

/*
 * backup_worker.h
 *     backup_start_full(wait => false): a dynamic background worker runs the backup so the
 *     calling session returns at once.
 */
#ifndef PG_ARK_EXTENSION_BACKUP_WORKER_H
#define PG_ARK_EXTENSION_BACKUP_WORKER_H

/*
 * Starts a worker for a backup reserved with ReserveDetachedBackup and waits until it runs.
 * ERRORs (after cancelling the reservation) when no worker can be started.
 */
void LaunchBackupWorker(const char *backup_id, bool fast);

#endif

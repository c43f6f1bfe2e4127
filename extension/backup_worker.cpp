/*
 * backup_worker.cpp
 *     The background worker behind backup_start_*(wait => false). See backup_worker.h.
 *
 * The worker connects to the caller's database as the caller, takes over the reserved backup
 * with the helper and runs it exactly as a waiting backend would. It ends with the backup; an
 * ERROR ends it too, and PostgreSQL's exit callback ends backup mode.
 */
#include "pg_includes.h"

extern "C" {
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
}

#include "backup_flow.h"
#include "backup_protocol.h"
#include "backup_worker.h"

namespace {

struct WorkerArgs {
    Oid database;
    Oid user;
    pg_ark::wire::BackupKind kind;
    bool fast;
    char backup_id[pg_ark::wire::kMaxBackupId + 1];
};
static_assert(sizeof(WorkerArgs) <= BGW_EXTRALEN, "worker arguments must fit in bgw_extra");

}  // namespace

extern "C" PGDLLEXPORT void pg_ark_backup_worker_main(Datum);

extern "C" void pg_ark_backup_worker_main(Datum) {
    WorkerArgs args;
    memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof args);
    /* Ordinary backend handling: SIGTERM becomes a FATAL at the next interrupt check. */
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(args.database, args.user, 0);
    BackupOptions options;
    options.kind = args.kind;
    options.fast = args.fast;
    char *backup_id = RunBackup(options, args.backup_id, true);
    ereport(LOG, (errmsg("pg_ark backup %s complete", backup_id)));
    proc_exit(0);
}

void LaunchBackupWorker(const char *backup_id, pg_ark::wire::BackupKind kind, bool fast) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(worker.bgw_library_name, "pg_ark", sizeof worker.bgw_library_name);
    strlcpy(worker.bgw_function_name, "pg_ark_backup_worker_main", sizeof worker.bgw_function_name);
    snprintf(worker.bgw_name, sizeof worker.bgw_name, "pg_ark backup %s", backup_id);
    strlcpy(worker.bgw_type, "pg_ark backup", sizeof worker.bgw_type);
    worker.bgw_notify_pid = MyProcPid;
    WorkerArgs args;
    memset(&args, 0, sizeof args);
    args.database = MyDatabaseId;
    args.user = GetUserId();
    args.kind = kind;
    args.fast = fast;
    strlcpy(args.backup_id, backup_id, sizeof args.backup_id);
    memcpy(worker.bgw_extra, &args, sizeof args);

    BackgroundWorkerHandle *handle = nullptr;
    pid_t pid;
    if (!RegisterDynamicBackgroundWorker(&worker, &handle) ||
        WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED) {
        CancelBackup(backup_id);
        ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                        errmsg("could not start a background worker for backup %s", backup_id),
                        errhint("Raise max_worker_processes, or start the backup with wait => true.")));
    }
}

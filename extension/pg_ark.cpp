/*
 * pg_ark.cpp
 *     Module entry point and configuration parameters.
 *
 * The library is loaded as archive_library = 'pg_ark' (WAL shipping) and through
 * shared_preload_libraries (the block tracker: shared memory and its background worker, which
 * can only be registered then). Parameters are PGC_SIGHUP so a reload can repoint the archiver
 * at another helper socket, or switch block tracking, without a restart.
 */
#include "pg_includes.h"

#include <climits>

#include "block_tracker.h"
#include "block_tracker_internal.h"
#include "guc.h"
#include "protocol.h"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

char *pg_ark_cluster = nullptr;
char *pg_ark_socket_path = nullptr;
int pg_ark_request_timeout = 60000;
bool pg_ark_track_blocks = true;
int pg_ark_track_wal_keep_size_mb = 4096;

static bool CheckClusterName(char **newval, void **extra, GucSource source) {
    (void)extra;
    (void)source;
    if (*newval == nullptr || (*newval)[0] == '\0') return true; /* unset: archiving not configured */
    if (pg_ark::wire::IsValidClusterName(*newval)) return true;
    GUC_check_errdetail("Cluster names are 1 to 63 letters, digits, '_' or '-', not starting with '-'.");
    return false;
}

static bool CheckSocketPath(char **newval, void **extra, GucSource source) {
    (void)extra;
    (void)source;
    if (*newval != nullptr && (*newval)[0] == '/' &&
        strlen(*newval) < sizeof(((struct sockaddr_un *)nullptr)->sun_path))
        return true;
    GUC_check_errdetail("The socket path must be absolute and shorter than %d bytes.",
                        (int)sizeof(((struct sockaddr_un *)nullptr)->sun_path));
    return false;
}

void DefinePgArkGucs(void) {
    DefineCustomStringVariable("pg_ark.cluster",
                               "Name of this cluster's section in the pg_ark helper's configuration.",
                               nullptr, &pg_ark_cluster, "", PGC_SIGHUP, 0, CheckClusterName,
                               nullptr, nullptr);
    DefineCustomStringVariable("pg_ark.socket_path", "Unix socket of the pg_ark helper.", nullptr,
                               &pg_ark_socket_path, "/run/pg_ark/pg_ark.sock", PGC_SIGHUP, 0,
                               CheckSocketPath, nullptr, nullptr);
    DefineCustomIntVariable("pg_ark.request_timeout",
                            "How long to wait for the pg_ark helper to answer a request.",
                            "An archive request that times out is retried by the archiver.",
                            &pg_ark_request_timeout, 60000, 1000, 3600 * 1000, PGC_SIGHUP,
                            GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("pg_ark.track_blocks",
                             "Records which blocks WAL changes, for incremental backups.",
                             "Needs pg_ark in shared_preload_libraries. Switching it off drops the "
                             "WAL retention slot; switching it back on after WAL was removed leaves "
                             "a gap that incremental backups fall back over.",
                             &pg_ark_track_blocks, true, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("pg_ark.track_wal_keep_size",
                            "The most WAL the block tracking slot holds back for the tracker.",
                            "WAL further behind the flush position may be removed before the "
                            "tracker reads it: that becomes a gap.",
                            &pg_ark_track_wal_keep_size_mb, 4096, 0, INT_MAX, PGC_SIGHUP,
                            GUC_UNIT_MB, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("pg_ark");
}

void _PG_init(void) {
    DefinePgArkGucs();
    /* Loaded as archive_library only (the archiver) or by CREATE EXTENSION: no tracker. */
    if (process_shared_preload_libraries_in_progress) BlockTrackerRegister();
}

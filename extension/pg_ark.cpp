/*
 * pg_ark.cpp
 *     Module entry point and configuration parameters.
 *
 * The library is loaded as archive_library = 'pg_ark' (WAL shipping) and, for later pieces,
 * through shared_preload_libraries. Parameters are PGC_SIGHUP so a reload can repoint the
 * archiver at another helper socket without a restart.
 */
#include "pg_includes.h"

#include "guc.h"
#include "protocol.h"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

char *pg_ark_cluster = nullptr;
char *pg_ark_socket_path = nullptr;
int pg_ark_request_timeout = 60000;

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
    MarkGUCPrefixReserved("pg_ark");
}

void _PG_init(void) { DefinePgArkGucs(); }

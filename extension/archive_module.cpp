/*
 * archive_module.cpp
 *     archive_library = 'pg_ark': hands each WAL file to the helper and reports success only
 *     when the helper has made it durable in the repository.
 *
 * The file travels as an open descriptor (SCM_RIGHTS), so the helper reads exactly the file the
 * archiver named, whatever user it runs as. Every failure - helper down, repository full or
 * unwritable, a refused file - becomes one WARNING and a false return: PostgreSQL keeps the
 * segment and retries. On PostgreSQL 15 an ERROR escaping this callback would be promoted to
 * FATAL and restart the archiver, so an ERROR raised underneath (out of memory, a bug) is caught
 * by a local sigsetjmp block, as contrib/basic_archive does, and also turned into false.
 */
#include "pg_includes.h"

#include "guc.h"
#include "helper_client.h"
#include "protocol.h"
#include "wal_name.h"

extern "C" {
void _PG_archive_module_init(ArchiveModuleCallbacks *callbacks);
}

static MemoryContext archive_context = nullptr;

static bool IsConfigured(void) {
    return pg_ark_cluster != nullptr && pg_ark_cluster[0] != '\0';
}

/* May raise ERROR only for out-of-memory and bugs; everything expected returns false. */
static bool ArchiveFileOnce(const char *file, const char *path) {
    if (!pg_ark::IsArchivableWalName(file)) {
        ereport(WARNING, (errmsg("pg_ark: refusing to archive \"%s\": not a WAL file name", file)));
        return false;
    }
    pg_ark::wire::ArchivePushRequest request;
    pg_ark::wire::CopyBounded(request.cluster, sizeof request.cluster, pg_ark_cluster);
    pg_ark::wire::CopyBounded(request.wal_name, sizeof request.wal_name, file);
    request.system_identifier = GetSystemIdentifier();
    uint8_t payload[pg_ark::wire::kMaxPayload];
    size_t payload_length = pg_ark::wire::EncodeArchivePush(request, payload, sizeof payload);

    int fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
    if (fd < 0) {
        ereport(WARNING, (errcode_for_file_access(),
                          errmsg("pg_ark: could not open file \"%s\" to archive it: %m", path)));
        return false;
    }
    pg_ark::wire::Reply reply;
    char *error = nullptr;
    bool sent = HelperRequest(pg_ark::wire::MessageType::archive_push, payload, payload_length, fd,
                              &reply, &error);
    CloseTransientFile(fd);
    if (!sent) {
        ereport(WARNING,
                (errmsg("pg_ark: could not archive \"%s\": %s", file, error),
                 errhint("Check that \"pg_ark server\" is running and pg_ark.socket_path points "
                         "at its socket; PostgreSQL keeps the file and retries.")));
        return false;
    }
    if (reply.status != pg_ark::ErrorKind::ok) {
        ereport(WARNING, (errmsg("pg_ark: helper could not archive \"%s\": %s", file, reply.message),
                          errdetail("Error kind: %s.", pg_ark::ErrorKindName(reply.status))));
        return false;
    }
    ereport(DEBUG1, (errmsg("pg_ark: archived \"%s\": %s", file, reply.message)));
    return true;
}

static bool ArchiveFile(const char *file, const char *path) {
    sigjmp_buf local_sigjmp_buf;
    MemoryContext oldcontext = CurrentMemoryContext;

    if (sigsetjmp(local_sigjmp_buf, 1) != 0) {
        /* Not PG_TRY: an ERROR must not propagate into the archiver (FATAL on PostgreSQL 15). */
        error_context_stack = nullptr;
        HOLD_INTERRUPTS();
        EmitErrorReport();
        FlushErrorState();
        AtEOSubXact_Files(false, InvalidSubTransactionId, InvalidSubTransactionId);
        HelperAbortConnection();
        MemoryContextSwitchTo(oldcontext);
        MemoryContextReset(archive_context);
        PG_exception_stack = nullptr;
        RESUME_INTERRUPTS();
        return false;
    }
    PG_exception_stack = &local_sigjmp_buf;

    MemoryContextSwitchTo(archive_context);
    bool archived = ArchiveFileOnce(file, path);
    MemoryContextSwitchTo(oldcontext);
    MemoryContextReset(archive_context);

    PG_exception_stack = nullptr;
    return archived;
}

void _PG_archive_module_init(ArchiveModuleCallbacks *callbacks) {
    archive_context =
        AllocSetContextCreate(TopMemoryContext, "pg_ark archive", ALLOCSET_DEFAULT_SIZES);
    callbacks->check_configured_cb = IsConfigured;
    callbacks->archive_file_cb = ArchiveFile;
    callbacks->shutdown_cb = nullptr;
}

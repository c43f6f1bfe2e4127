/*
 * backup_flow.cpp
 *     One online backup driven from this process. See backup_flow.h.
 *
 * PostgreSQL's non-exclusive backup mode belongs to the session: do_pg_backup_start sets it,
 * do_pg_backup_stop ends it, and on any ERROR in between we end it ourselves with
 * do_pg_abort_backup (as the exit callback that pg_backup_start registers would at exit). The
 * helper side is bound to our connection: closing it fails the helper's backup.
 */
#include "pg_includes.h"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"
}

#include "backup_flow.h"
#include "block_tracker.h"
#include "guc.h"
#include "helper_client.h"

using pg_ark::wire::MessageType;

const char *RequireClusterName(void) {
    if (pg_ark_cluster == nullptr || pg_ark_cluster[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_ark.cluster is not set"),
                        errhint("Set pg_ark.cluster to this cluster's section in the helper's "
                                "configuration file.")));
    return pg_ark_cluster;
}

/* How long a non-full backup waits for the block tracker to catch up with its start; past it,
 * the helper copies what the maps do not cover whole and says so. */
static constexpr int kBlockMapWaitMs = 300 * 1000;
/* Before any backup starts, the tracker is asked to end a map here, so the next incremental's
 * maps start close to this backup's start instead of carrying older changes (safe, but more to
 * copy). Only an optimisation, so a lagging tracker is not waited for long. */
static constexpr int kMapCutWaitMs = 10 * 1000;

static size_t EncodeBegin(const BackupOptions &options, bool detached, uint8_t *payload) {
    pg_ark::wire::BackupBeginRequest request;
    pg_ark::wire::CopyBounded(request.cluster, sizeof request.cluster, RequireClusterName());
    request.system_identifier = GetSystemIdentifier();
    request.kind = options.kind;
    pg_ark::wire::CopyBounded(request.label, sizeof request.label, options.label ? options.label : "");
    pg_ark::wire::CopyBounded(request.parent, sizeof request.parent,
                              options.parent ? options.parent : "");
    request.detached = detached ? 1 : 0;
    return pg_ark::wire::EncodeBackupBegin(request, payload, pg_ark::wire::kMaxPayload);
}

static void OpenOrRaise(void) {
    char *error = nullptr;
    if (!HelperOpen(&error)) HelperRaiseTransportError(error);
}

/* One request on a connection of its own; ERRORs unless the helper answers ok. */
static void CallOnce(MessageType type, const uint8_t *payload, size_t length,
                     pg_ark::wire::Reply *reply) {
    PG_TRY();
    {
        OpenOrRaise();
        HelperCall(type, payload, length, false, reply);
    }
    PG_FINALLY();
    {
        HelperAbortConnection();
    }
    PG_END_TRY();
}

char *ReserveDetachedBackup(const BackupOptions &options) {
    uint8_t *payload = (uint8_t *)palloc(pg_ark::wire::kMaxPayload);
    size_t length = EncodeBegin(options, true, payload);
    pg_ark::wire::Reply reply;
    CallOnce(MessageType::backup_begin, payload, length, &reply);
    return pstrdup(reply.message);
}

/* Enters backup mode; the label and tablespace map live in `context` until the backup ends. */
static XLogRecPtr StartBackupMode(const char *label, bool fast, bool in_worker, MemoryContext context,
                                  StringInfo *label_file, StringInfo *tablespace_map,
                                  TimeLineID *timeline) {
    MemoryContext old = MemoryContextSwitchTo(context);
    *label_file = makeStringInfo();
    *tablespace_map = makeStringInfo();
    MemoryContextSwitchTo(old);
    register_persistent_abort_backup_handler();
    if (in_worker) StartTransactionCommand();
    XLogRecPtr start = do_pg_backup_start(label, fast, timeline, *label_file, nullptr, *tablespace_map);
    if (in_worker) CommitTransactionCommand();
    return start;
}

static void CheckFits(size_t length, size_t limit, const char *what) {
    if (length > limit)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("the backup's %s is too large (%zu bytes; pg_ark accepts %zu)", what,
                               length, limit)));
}

char *RunBackup(const BackupOptions &options, const char *attach_id, bool in_worker) {
    const char *label = options.label;
    uint8_t *payload = (uint8_t *)palloc(pg_ark::wire::kMaxPayload);
    pg_ark::wire::Reply reply;
    char *backup_id = nullptr;
    MemoryContext context =
        AllocSetContextCreate(TopMemoryContext, "pg_ark backup", ALLOCSET_SMALL_SIZES);

    PG_TRY();
    {
        OpenOrRaise();
        if (attach_id != nullptr) {
            pg_ark::wire::BackupRef ref;
            pg_ark::wire::CopyBounded(ref.cluster, sizeof ref.cluster, RequireClusterName());
            pg_ark::wire::CopyBounded(ref.backup_id, sizeof ref.backup_id, attach_id);
            size_t length = pg_ark::wire::EncodeBackupRef(ref, payload, pg_ark::wire::kMaxPayload);
            HelperCall(MessageType::backup_attach, payload, length, false, &reply);
            backup_id = pstrdup(attach_id);
            label = reply.message[0] != '\0' ? pstrdup(reply.message) : nullptr; /* kept at begin */
        } else {
            size_t length = EncodeBegin(options, false, payload);
            HelperCall(MessageType::backup_begin, payload, length, false, &reply);
            backup_id = pstrdup(reply.message);
        }

        StringInfo label_file, tablespace_map;
        TimeLineID start_timeline;
        if (BlockTrackerIsRunning()) (void)BlockTrackerFlushThrough(GetXLogInsertRecPtr(), kMapCutWaitMs);
        char *backup_label_text = psprintf("pg_ark backup %s%s%s", backup_id, label ? ": " : "",
                                           label ? label : "");
        XLogRecPtr start = StartBackupMode(backup_label_text, options.fast, in_worker, context,
                                           &label_file, &tablespace_map, &start_timeline);
        if (options.kind != pg_ark::wire::BackupKind::full)
            (void)BlockTrackerFlushThrough(start, kBlockMapWaitMs);

        pg_ark::wire::BackupCopyRequest copy;
        copy.start_lsn = start;
        copy.timeline = start_timeline;
        copy.data_checksums = DataChecksumsEnabled() ? 1 : 0;
        copy.block_size = BLCKSZ;
        copy.segment_blocks = RELSEG_SIZE;
        copy.wal_segment_size = (uint32_t)wal_segment_size;
        size_t length = pg_ark::wire::EncodeBackupCopy(copy, payload, pg_ark::wire::kMaxPayload);
        HelperCall(MessageType::backup_copy, payload, length, true, &reply);
        if (reply.message[0] != '\0')
            ereport(WARNING, (errcode(ERRCODE_DATA_CORRUPTED),
                              errmsg("backup %s: %s", backup_id, reply.message),
                              errdetail("The pages were copied as they are and are listed in the "
                                        "backup's manifest.")));

        TimeLineID stop_timeline;
        if (in_worker) StartTransactionCommand();
        XLogRecPtr stop = do_pg_backup_stop(label_file->data, false, &stop_timeline);
        if (in_worker) CommitTransactionCommand();

        CheckFits(label_file->len, pg_ark::wire::kMaxBackupLabelFile, "backup_label");
        CheckFits(tablespace_map->len, pg_ark::wire::kMaxTablespaceMap, "tablespace_map");
        auto *stop_request = (pg_ark::wire::BackupStopRequest *)palloc0(sizeof(pg_ark::wire::BackupStopRequest));
        stop_request->stop_lsn = stop;
        stop_request->stop_timeline = stop_timeline;
        strlcpy(stop_request->backup_label, label_file->data, sizeof stop_request->backup_label);
        strlcpy(stop_request->tablespace_map, tablespace_map->data, sizeof stop_request->tablespace_map);
        length = pg_ark::wire::EncodeBackupStop(*stop_request, payload, pg_ark::wire::kMaxPayload);
        HelperCall(MessageType::backup_stop, payload, length, true, &reply);
        if (options.kind == pg_ark::wire::BackupKind::full) BlockTrackerRetainFrom(start);
    }
    PG_CATCH();
    {
        if (get_backup_status() == SESSION_BACKUP_RUNNING) do_pg_abort_backup(0, BoolGetDatum(false));
        HelperAbortConnection();
        MemoryContextDelete(context);
        PG_RE_THROW();
    }
    PG_END_TRY();
    HelperAbortConnection();
    MemoryContextDelete(context);
    return backup_id;
}

int FetchBackupRecords(const char *backup_id, pg_ark::wire::BackupRecord **out) {
    pg_ark::wire::CatalogQuery query;
    pg_ark::wire::CopyBounded(query.cluster, sizeof query.cluster, RequireClusterName());
    pg_ark::wire::CopyBounded(query.backup_id, sizeof query.backup_id, backup_id);
    uint8_t payload[512];
    size_t length = pg_ark::wire::EncodeCatalogQuery(query, payload, sizeof payload);
    int count = 0, capacity = 8;
    pg_ark::wire::BackupRecord *records =
        (pg_ark::wire::BackupRecord *)palloc(capacity * sizeof(pg_ark::wire::BackupRecord));
    HelperFrame *frame = (HelperFrame *)palloc(sizeof(HelperFrame));
    PG_TRY();
    {
        OpenOrRaise();
        uint32_t request_id;
        char *error = nullptr;
        if (!HelperSend(MessageType::catalog_query, payload, length, &request_id, &error))
            HelperRaiseTransportError(error);
        for (;;) {
            if (!HelperReceive(request_id, false, frame, &error)) HelperRaiseTransportError(error);
            if (!frame->is_record) break;
            if (frame->is_row) HelperRaiseTransportError("invalid reply from the pg_ark helper: unexpected row");
            if (count == capacity) {
                capacity *= 2;
                records = (pg_ark::wire::BackupRecord *)repalloc(
                    records, capacity * sizeof(pg_ark::wire::BackupRecord));
            }
            records[count++] = frame->record;
        }
        if (frame->reply.status != pg_ark::ErrorKind::ok) HelperRaiseReplyError(frame->reply);
    }
    PG_FINALLY();
    {
        HelperAbortConnection();
    }
    PG_END_TRY();
    pfree(frame);
    *out = records;
    return count;
}

void CancelBackup(const char *backup_id) {
    pg_ark::wire::BackupRef ref;
    pg_ark::wire::CopyBounded(ref.cluster, sizeof ref.cluster, RequireClusterName());
    pg_ark::wire::CopyBounded(ref.backup_id, sizeof ref.backup_id, backup_id);
    uint8_t payload[512];
    size_t length = pg_ark::wire::EncodeBackupRef(ref, payload, sizeof payload);
    pg_ark::wire::Reply reply;
    CallOnce(MessageType::backup_cancel, payload, length, &reply);
}

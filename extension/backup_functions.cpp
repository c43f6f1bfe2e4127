/*
 * backup_functions.cpp
 *     The backup SQL API: backup_start_full, backup_start_incremental, backup_start_differential,
 *     backup_list, backup_info, backup_progress and backup_cancel. Not granted to PUBLIC (see the install script). Rows come from the helper's
 *     catalog, so they are the same as `pg_ark list` shows.
 */
#include "pg_includes.h"

extern "C" {
#include "access/htup_details.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/tuplestore.h"
}

#include "backup_flow.h"
#include "backup_worker.h"

extern "C" {
PG_FUNCTION_INFO_V1(pg_ark_backup_start_full);
PG_FUNCTION_INFO_V1(pg_ark_backup_start_incremental);
PG_FUNCTION_INFO_V1(pg_ark_backup_start_differential);
PG_FUNCTION_INFO_V1(pg_ark_backup_list);
PG_FUNCTION_INFO_V1(pg_ark_backup_info);
PG_FUNCTION_INFO_V1(pg_ark_backup_progress);
PG_FUNCTION_INFO_V1(pg_ark_backup_cancel);
}

using pg_ark::wire::BackupRecord;

namespace {

Datum TextOrNull(const char *text, bool *isnull) {
    *isnull = text[0] == '\0';
    return *isnull ? (Datum)0 : CStringGetTextDatum(text);
}

/* One column of a backup row, chosen by the result column's name so every function shares it. */
Datum Column(const BackupRecord &r, const char *name, bool *isnull) {
    *isnull = false;
    if (strcmp(name, "backup_id") == 0) return CStringGetTextDatum(r.backup_id);
    if (strcmp(name, "backup_type") == 0) return CStringGetTextDatum(pg_ark::wire::BackupKindName(r.kind));
    if (strcmp(name, "status") == 0) return CStringGetTextDatum(r.status);
    if (strcmp(name, "label") == 0) return TextOrNull(r.label, isnull);
    if (strcmp(name, "parent") == 0) return TextOrNull(r.parent, isnull);
    if (strcmp(name, "error") == 0) return TextOrNull(r.error, isnull);
    if (strcmp(name, "fallback") == 0) return TextOrNull(r.fallback, isnull);
    if (strcmp(name, "phase") == 0) return TextOrNull(r.phase, isnull);
    if (strcmp(name, "wal_start") == 0) return TextOrNull(r.wal_start, isnull);
    if (strcmp(name, "wal_stop") == 0) return TextOrNull(r.wal_stop, isnull);
    if (strcmp(name, "start_lsn") == 0 || strcmp(name, "stop_lsn") == 0) {
        uint64_t lsn = strncmp(name, "start", 5) == 0 ? r.start_lsn : r.stop_lsn;
        *isnull = lsn == 0;
        return LSNGetDatum(lsn);
    }
    if (strcmp(name, "start_time") == 0 || strcmp(name, "stop_time") == 0) {
        int64_t t = strncmp(name, "start", 5) == 0 ? r.start_time : r.stop_time;
        *isnull = t == 0;
        return TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t)t));
    }
    if (strcmp(name, "timeline") == 0) {
        *isnull = r.timeline == 0;
        return Int32GetDatum((int32)r.timeline);
    }
    if (strcmp(name, "original_bytes") == 0) return Int64GetDatum((int64)r.original_bytes);
    if (strcmp(name, "copied_bytes") == 0) return Int64GetDatum((int64)r.copied_bytes);
    if (strcmp(name, "stored_bytes") == 0) return Int64GetDatum((int64)r.stored_bytes);
    if (strcmp(name, "block_files") == 0) return Int64GetDatum((int64)r.block_files);
    if (strcmp(name, "whole_files") == 0) return Int64GetDatum((int64)r.whole_files);
    if (strcmp(name, "files_done") == 0) return Int64GetDatum((int64)r.files_done);
    if (strcmp(name, "files_total") == 0) return Int64GetDatum((int64)r.files_total);
    if (strcmp(name, "bytes_done") == 0) return Int64GetDatum((int64)r.bytes_done);
    if (strcmp(name, "bytes_total") == 0) return Int64GetDatum((int64)r.bytes_total);
    elog(ERROR, "pg_ark: unknown result column \"%s\"", name);
    return (Datum)0;
}

void FillRow(TupleDesc desc, const BackupRecord &r, Datum *values, bool *nulls) {
    for (int i = 0; i < desc->natts; i++)
        values[i] = Column(r, NameStr(TupleDescAttr(desc, i)->attname), &nulls[i]);
}

Datum SingleRow(FunctionCallInfo fcinfo, const BackupRecord &r) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "pg_ark: return type must be a row type");
    Datum *values = (Datum *)palloc(desc->natts * sizeof(Datum));
    bool *nulls = (bool *)palloc(desc->natts * sizeof(bool));
    FillRow(desc, r, values, nulls);
    return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* The helper's records for backup_id ("" all, "running") as the rows of a set-returning call. */
void ManyRows(FunctionCallInfo fcinfo, const char *backup_id) {
    BackupRecord *records;
    int count = FetchBackupRecords(backup_id, &records);
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    TupleDesc desc = rsinfo->setDesc;
    Datum *values = (Datum *)palloc(desc->natts * sizeof(Datum));
    bool *nulls = (bool *)palloc(desc->natts * sizeof(bool));
    for (int i = 0; i < count; i++) {
        CHECK_FOR_INTERRUPTS();
        FillRow(desc, records[i], values, nulls);
        tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
    }
}

BackupRecord OneRecord(const char *backup_id) {
    BackupRecord *records;
    int count = FetchBackupRecords(backup_id, &records);
    if (count != 1) elog(ERROR, "pg_ark: the helper returned %d records for backup %s", count, backup_id);
    return records[0];
}

char *BackupIdArgument(FunctionCallInfo fcinfo, int arg) {
    char *id = text_to_cstring(PG_GETARG_TEXT_PP(arg));
    if (!pg_ark::wire::IsValidBackupIdText(id) || strcmp(id, "running") == 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid backup id \"%s\"", id),
                        errhint("Backup ids look like 20261122-053113F; see backup_list().")));
    return id;
}

/*
 * The three backup_start_* functions: options.label and fast/wait are the arguments from
 * first_option on (label, fast, wait); the checks come before any contact with the helper.
 */
Datum StartBackup(FunctionCallInfo fcinfo, BackupOptions options, int first_option) {
    if (PG_ARGISNULL(first_option + 1) || PG_ARGISNULL(first_option + 2))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("fast and wait must not be null")));
    char *label = PG_ARGISNULL(first_option) ? nullptr
                                              : text_to_cstring(PG_GETARG_TEXT_PP(first_option));
    options.label = label;
    options.fast = PG_GETARG_BOOL(first_option + 1);
    bool wait = PG_GETARG_BOOL(first_option + 2);
    if (label != nullptr && strlen(label) > pg_ark::wire::kMaxLabel)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("backup label is too long (%zu bytes; at most %zu)", strlen(label),
                               pg_ark::wire::kMaxLabel)));
    if (label != nullptr && strpbrk(label, "\n\r") != nullptr)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("backup label must not contain line breaks")));
    if (RecoveryInProgress())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_ark takes backups on the primary only"),
                        errhint("Run the backup on the primary server.")));
    if (get_backup_status() == SESSION_BACKUP_RUNNING)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("a backup is already in progress in this session"),
                        errhint("Run pg_backup_stop() first.")));
    (void)RequireClusterName();

    char *backup_id;
    if (wait) {
        backup_id = RunBackup(options, nullptr, false);
    } else {
        backup_id = ReserveDetachedBackup(options);
        LaunchBackupWorker(backup_id, options.kind, options.fast);
    }
    return SingleRow(fcinfo, OneRecord(backup_id));
}

}  // namespace

extern "C" Datum pg_ark_backup_start_full(PG_FUNCTION_ARGS) {
    BackupOptions options;
    options.kind = pg_ark::wire::BackupKind::full;
    return StartBackup(fcinfo, options, 0);
}

extern "C" Datum pg_ark_backup_start_incremental(PG_FUNCTION_ARGS) {
    BackupOptions options;
    options.kind = pg_ark::wire::BackupKind::incremental;
    options.parent = PG_ARGISNULL(0) ? nullptr : BackupIdArgument(fcinfo, 0);
    return StartBackup(fcinfo, options, 1);
}

extern "C" Datum pg_ark_backup_start_differential(PG_FUNCTION_ARGS) {
    BackupOptions options;
    options.kind = pg_ark::wire::BackupKind::differential;
    return StartBackup(fcinfo, options, 0);
}

extern "C" Datum pg_ark_backup_list(PG_FUNCTION_ARGS) {
    ManyRows(fcinfo, "");
    return (Datum)0;
}

extern "C" Datum pg_ark_backup_info(PG_FUNCTION_ARGS) {
    return SingleRow(fcinfo, OneRecord(BackupIdArgument(fcinfo, 0)));
}

extern "C" Datum pg_ark_backup_progress(PG_FUNCTION_ARGS) {
    ManyRows(fcinfo, "running");
    return (Datum)0;
}

extern "C" Datum pg_ark_backup_cancel(PG_FUNCTION_ARGS) {
    CancelBackup(BackupIdArgument(fcinfo, 0));
    PG_RETURN_BOOL(true);
}

/*
 * check_function.cpp
 *     backup_check(): one row per check (name, ok, detail), as BART's CHECK-CONFIG and
 *     `barman check` do. Every check runs even when an earlier one failed, so one call shows all
 *     that is wrong:
 *
 *   wal_level, archive_mode, archive_library, shared_preload_libraries   this server's settings
 *   block_tracking     the tracker runs (and how far behind flushed WAL it is)
 *   helper             the helper answers for this cluster
 *   system_identifier, repository_writable, repository_space, backups_paused, last_backup,
 *   failed_backups     the helper's view of the repository (helper/src/repository_checks.h)
 *   wal_archived       a forced WAL switch reaches the repository within wal_timeout_ms
 *
 * The WAL switch comes last: it is the slowest, and it proves the whole archiving path.
 */
#include "pg_includes.h"

#include <sys/stat.h>

extern "C" {
#include "access/xlog_internal.h"
#include "funcapi.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"
}

#include "backup_flow.h"
#include "block_tracker.h"
#include "command_client.h"
#include "helper_client.h"

extern "C" {
PG_FUNCTION_INFO_V1(pg_ark_backup_check);
}

namespace {

struct Rows {
    ReturnSetInfo *rsinfo;
    void Add(const char *name, bool ok, const char *detail) {
        Datum values[3] = {CStringGetTextDatum(name), BoolGetDatum(ok), CStringGetTextDatum(detail)};
        bool nulls[3] = {false, false, false};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
};

const char *Setting(const char *name) {
    const char *value = GetConfigOption(name, true, false);
    return value != nullptr ? value : "";
}

bool ListHas(const char *list, const char *wanted) {
    char *copy = pstrdup(list);
    List *names = NIL;
    bool found = false;
    if (SplitIdentifierString(copy, ',', &names)) {
        ListCell *cell;
        foreach (cell, names)
            found |= strcmp((const char *)lfirst(cell), wanted) == 0;
    }
    return found;
}

void CheckSettings(Rows *rows) {
    const char *level = Setting("wal_level");
    rows->Add("wal_level", wal_level >= WAL_LEVEL_REPLICA,
              wal_level >= WAL_LEVEL_REPLICA
                  ? psprintf("wal_level = %s", level)
                  : psprintf("wal_level = %s: backups and archiving need replica or logical", level));
    const char *mode = Setting("archive_mode");
    rows->Add("archive_mode", XLogArchiveMode != ARCHIVE_MODE_OFF,
              XLogArchiveMode != ARCHIVE_MODE_OFF
                  ? psprintf("archive_mode = %s", mode)
                  : psprintf("archive_mode = %s: no WAL is archived (it needs a restart to change)", mode));
    const char *library = Setting("archive_library");
    bool ours = strcmp(library, "pg_ark") == 0;
    rows->Add("archive_library", ours,
              ours ? "archive_library = 'pg_ark'"
                   : psprintf("archive_library = '%s': set it to 'pg_ark' (and reload) so WAL "
                              "reaches the repository",
                              library));
    const char *preload = Setting("shared_preload_libraries");
    bool preloaded = ListHas(preload, "pg_ark");
    rows->Add("shared_preload_libraries", preloaded,
              preloaded ? psprintf("shared_preload_libraries = '%s'", preload)
                        : psprintf("shared_preload_libraries = '%s': add pg_ark (and restart) to "
                                   "track changed blocks for incremental backups",
                                   preload));
}

void CheckTracker(Rows *rows) {
    BlockTrackerState state = BlockTrackerCurrentState();
    if (!state.enabled) {
        rows->Add("block_tracking", false,
                  "pg_ark.track_blocks is off: incremental and differential backups copy every "
                  "relation file whole");
        return;
    }
    if (!state.running) {
        rows->Add("block_tracking", false,
                  "the block tracker is not running: is pg_ark in shared_preload_libraries, and "
                  "wal_level replica or logical?");
        return;
    }
    char *detail = psprintf("running, %.1f MB of flushed WAL behind", state.lag_bytes / 1e6);
    if (!XLogRecPtrIsInvalid(state.gap_start))
        detail = psprintf("%s; WAL from %X/%X to %X/%X was lost to it, so the next incremental "
                          "after it copies relation files whole",
                          detail, LSN_FORMAT_ARGS(state.gap_start), LSN_FORMAT_ARGS(state.gap_end));
    rows->Add("block_tracking", true, detail);
}

/* The helper's checks; false when it cannot be reached (then nothing more is asked of it). */
bool CheckHelper(Rows *rows) {
    pg_ark::wire::PingRequest request;
    pg_ark::wire::CopyBounded(request.cluster, sizeof request.cluster, RequireClusterName());
    uint8_t payload[512];
    size_t length = pg_ark::wire::EncodePing(request, payload, sizeof payload);
    pg_ark::wire::Reply reply;
    char *error = nullptr;
    bool reached = HelperRequest(pg_ark::wire::MessageType::ping, payload, length, -1, &reply, &error);
    if (!reached) {
        rows->Add("helper", false, psprintf("%s; is \"pg_ark server\" running?", error));
        return false;
    }
    if (reply.status != pg_ark::ErrorKind::ok) {
        rows->Add("helper", false, reply.message);
        return false;
    }
    rows->Add("helper", true, psprintf("%s answers for cluster \"%s\"", reply.message, RequireClusterName()));

    CommandResult result;
    if (!RunHelperCommand(pg_ark::wire::Command::check, 0, "", false, &result, &error)) {
        rows->Add("repository", false, error);
        return true;
    }
    for (int i = 0; i < result.count; i++) {
        const pg_ark::wire::RowRecord &row = result.rows[i];
        if (row.count == 3) rows->Add(row.columns[0], strcmp(row.columns[1], "true") == 0, row.columns[2]);
    }
    if (result.reply.status != pg_ark::ErrorKind::ok) rows->Add("repository", false, result.reply.message);
    return true;
}

void CheckWalArchived(Rows *rows, int timeout_ms) {
    if (RecoveryInProgress()) {
        rows->Add("wal_archived", true, "not checked on a standby: it cannot switch WAL");
        return;
    }
    if (XLogArchiveMode == ARCHIVE_MODE_OFF) {
        rows->Add("wal_archived", false, "not checked: archive_mode is off");
        return;
    }
    /* Something to switch away from, even on an idle server. */
    LogLogicalMessage("pg_ark", "backup_check", strlen("backup_check"), false);
    XLogRecPtr switched = RequestXLogSwitch(false);
    XLogSegNo segno;
    XLByteToPrevSeg(switched, segno, wal_segment_size);
    char name[MAXFNAMELEN];
    XLogFileName(name, GetWALInsertionTimeLine(), segno, wal_segment_size);
    /* PostgreSQL marks the segment .ready when it is complete (before RequestXLogSwitch returns)
     * and renames that to .done once archive_library reported it stored, which pg_ark does only
     * after the repository has it durably. */
    char ready[MAXPGPATH];
    snprintf(ready, sizeof ready, XLOGDIR "/archive_status/%s.ready", name);
    TimestampTz start = GetCurrentTimestamp();
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        struct stat st;
        if (stat(ready, &st) != 0 && errno == ENOENT) {
            long ms = (long)((GetCurrentTimestamp() - start) / 1000);
            rows->Add("wal_archived", true,
                      psprintf("a forced WAL switch was archived in %ld ms (segment %s)", ms, name));
            return;
        }
        if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), timeout_ms)) break;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
    pgstat_clear_snapshot();
    PgStat_ArchiverStats *stats = pgstat_fetch_stat_archiver();
    const char *failure = stats != nullptr && stats->last_failed_wal[0] != '\0'
                              ? psprintf("; pg_stat_archiver: %ld failure(s), the last for %s at %s",
                                         (long)stats->failed_count, stats->last_failed_wal,
                                         timestamptz_to_str(stats->last_failed_timestamp))
                              : "";
    rows->Add("wal_archived", false,
              psprintf("segment %s was not archived within %d ms%s", name, timeout_ms, failure));
}

}  // namespace

extern "C" Datum pg_ark_backup_check(PG_FUNCTION_ARGS) {
    int timeout_ms = PG_GETARG_INT32(0);
    if (timeout_ms < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("wal_timeout_ms must not be negative")));
    InitMaterializedSRF(fcinfo, 0);
    Rows rows{(ReturnSetInfo *)fcinfo->resultinfo};
    CheckSettings(&rows);
    CheckTracker(&rows);
    bool helper = CheckHelper(&rows);
    if (helper)
        CheckWalArchived(&rows, timeout_ms);
    else
        rows.Add("wal_archived", false, "not checked: the helper is unreachable");
    PG_RETURN_NULL();
}

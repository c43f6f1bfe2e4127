/*
 * block_tracking_functions.cpp
 *     SQL face of the block tracker: block_tracking_status(), block_tracking_maps(),
 *     block_tracking_blocks(from, to) and block_tracking_flush(wait_for, timeout_ms).
 *
 * Everything about maps is read from the map directory itself, so these work (and tell the
 * truth about coverage) whether or not the worker runs. A damaged map is an ERROR naming it.
 */
#include "pg_includes.h"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "replication/slot.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/tuplestore.h"
}

#include "block_map.h"
#include "block_map_files.h"
#include "block_ref_table.h"
#include "block_tracker.h"
#include "block_tracker_internal.h"

extern "C" {
PG_FUNCTION_INFO_V1(pg_ark_block_tracking_status);
PG_FUNCTION_INFO_V1(pg_ark_block_tracking_maps);
PG_FUNCTION_INFO_V1(pg_ark_block_tracking_blocks);
PG_FUNCTION_INFO_V1(pg_ark_block_tracking_flush);
}

namespace {

struct SharedSnapshot {
    pid_t worker_pid = 0;
    bool active = false;
    bool slot_held = false;
    XLogRecPtr summarized = InvalidXLogRecPtr;
    XLogRecPtr read = InvalidXLogRecPtr;
    XLogRecPtr gap_start = InvalidXLogRecPtr;
    XLogRecPtr gap_end = InvalidXLogRecPtr;
};

SharedSnapshot ReadShared() {
    SharedSnapshot snap;
    BlockTrackerShared *shared = block_tracker_shared;
    if (shared == nullptr) return snap;
    SpinLockAcquire(&shared->mutex);
    snap.worker_pid = shared->worker_pid;
    snap.active = shared->active;
    snap.slot_held = shared->slot_held;
    snap.summarized = shared->summarized_lsn;
    snap.read = shared->read_lsn;
    snap.gap_start = shared->gap_start;
    snap.gap_end = shared->gap_end;
    SpinLockRelease(&shared->mutex);
    return snap;
}

Datum LsnOrNull(XLogRecPtr lsn, bool *isnull) {
    *isnull = XLogRecPtrIsInvalid(lsn);
    return LSNGetDatum(lsn);
}

}  // namespace

BlockTrackerState BlockTrackerCurrentState() {
    SharedSnapshot snap = ReadShared();
    BlockTrackerState state;
    state.enabled = pg_ark_track_blocks;
    state.running = snap.worker_pid != 0 && snap.active;
    XLogRecPtr flush = RecoveryInProgress() ? InvalidXLogRecPtr : GetFlushRecPtr(nullptr);
    state.lag_bytes = state.running && !XLogRecPtrIsInvalid(flush) && flush > snap.read
                          ? uint64(flush - snap.read)
                          : 0;
    state.gap_start = snap.gap_start;
    state.gap_end = snap.gap_end;
    return state;
}

extern "C" Datum pg_ark_block_tracking_status(PG_FUNCTION_ARGS) {
    TupleDesc tupdesc;
    if (get_call_result_type(fcinfo, nullptr, &tupdesc) != TYPEFUNC_COMPOSITE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("return type must be a row type")));
    tupdesc = BlessTupleDesc(tupdesc);

    SharedSnapshot snap = ReadShared();
    int count;
    MapFile *maps = ListMapFiles(&count);
    uint64 bytes = 0;
    int newest = -1;
    for (int i = 0; i < count; ++i) {
        bytes += maps[i].bytes;
        if (newest < 0 || maps[i].end_lsn > maps[newest].end_lsn) newest = i;
    }
    XLogRecPtr summarized = newest >= 0 ? maps[newest].end_lsn : InvalidXLogRecPtr;
    /* The unbroken chain ending at the newest map. maps is sorted by start. */
    XLogRecPtr coverage = InvalidXLogRecPtr;
    if (newest >= 0) {
        coverage = maps[newest].start_lsn;
        for (int i = count - 1; i >= 0; --i)
            if (maps[i].end_lsn == coverage) coverage = maps[i].start_lsn;
    }
    /* Gaps: the worker's newest, and any break between consecutive maps. */
    XLogRecPtr gap_start = snap.gap_start, gap_end = snap.gap_end;
    for (int i = 1; i < count; ++i)
        if (maps[i].start_lsn > maps[i - 1].end_lsn && maps[i].start_lsn > gap_end) {
            gap_start = maps[i - 1].end_lsn;
            gap_end = maps[i].start_lsn;
        }

    bool running = snap.worker_pid != 0;
    XLogRecPtr flush = RecoveryInProgress() ? InvalidXLogRecPtr : GetFlushRecPtr(nullptr);
    XLogRecPtr read = running && snap.active ? snap.read : InvalidXLogRecPtr;
    bool slot = running && snap.slot_held && SearchNamedReplicationSlot(kTrackerSlotName, true) != nullptr;

    Datum values[12];
    bool nulls[12];
    memset(nulls, 0, sizeof nulls);
    values[0] = BoolGetDatum(pg_ark_track_blocks);
    values[1] = Int32GetDatum(snap.worker_pid);
    nulls[1] = !running;
    values[2] = LsnOrNull(summarized, &nulls[2]);
    values[3] = LsnOrNull(read, &nulls[3]);
    values[4] = LsnOrNull(flush, &nulls[4]);
    values[5] = Int64GetDatum(int64(flush > read ? flush - read : 0));
    nulls[5] = XLogRecPtrIsInvalid(read) || XLogRecPtrIsInvalid(flush);
    values[6] = LsnOrNull(coverage, &nulls[6]);
    values[7] = LsnOrNull(gap_start, &nulls[7]);
    values[8] = LsnOrNull(gap_end, &nulls[8]);
    values[9] = CStringGetTextDatum(kTrackerSlotName);
    nulls[9] = !slot;
    values[10] = Int32GetDatum(count);
    values[11] = Int64GetDatum(int64(bytes));
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

extern "C" Datum pg_ark_block_tracking_maps(PG_FUNCTION_ARGS) {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    int count;
    MapFile *maps = ListMapFiles(&count);
    for (int i = 0; i < count; ++i) {
        pg_ark::blockmap::FileHeader header;
        Datum values[5];
        bool nulls[5];
        memset(nulls, 0, sizeof nulls);
        values[0] = LSNGetDatum(maps[i].start_lsn);
        values[1] = LSNGetDatum(maps[i].end_lsn);
        bool have_header = ReadMapHeader(maps[i], &header) &&
                           memcmp(header.magic, pg_ark::blockmap::kMagic, sizeof header.magic) == 0;
        if (!have_header && errno == ENOENT) continue; /* removed meanwhile */
        values[2] = Int32GetDatum(have_header ? int32(header.timeline) : 0);
        nulls[2] = !have_header;
        values[3] = Int64GetDatum(have_header ? int64(header.entry_count) : 0);
        nulls[3] = !have_header;
        values[4] = Int64GetDatum(int64(maps[i].bytes));
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

namespace {

bool MergeEntry(void *context, const pg_ark::blockmap::EntryHeader &entry,
                const pg_ark::blockmap::BlockRange *ranges) {
    BlockRefTable *table = static_cast<BlockRefTable *>(context);
    BlockRefKey key = {entry.spc, entry.db, entry.rel, entry.fork};
    table->SetLimit(key, entry.limit_block); /* also creates the entry */
    for (uint32 i = 0; i < entry.range_count; ++i) {
        pg_ark::blockmap::BlockRange range;
        memcpy(&range, &ranges[i], sizeof range);
        table->MarkRange(key, range.first, range.count);
    }
    return true;
}

bool EmitEntry(void *context, const pg_ark::blockmap::EntryHeader &entry,
               const pg_ark::blockmap::BlockRange *ranges) {
    ReturnSetInfo *rsinfo = static_cast<ReturnSetInfo *>(context);
    Datum values[7];
    bool nulls[7];
    memset(nulls, 0, sizeof nulls);
    values[0] = ObjectIdGetDatum(entry.spc);
    values[1] = ObjectIdGetDatum(entry.db);
    values[2] = ObjectIdGetDatum(entry.rel);
    values[3] = Int32GetDatum(int32(entry.fork));
    values[4] = Int64GetDatum(int64(entry.limit_block));
    nulls[4] = entry.limit_block == pg_ark::blockmap::kNoLimit;
    if (entry.range_count == 0) {
        nulls[5] = nulls[6] = true;
        values[5] = values[6] = (Datum)0;
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        return true;
    }
    for (uint32 i = 0; i < entry.range_count; ++i) {
        values[5] = Int64GetDatum(int64(ranges[i].first));
        values[6] = Int64GetDatum(int64(ranges[i].count));
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return true;
}

}  // namespace

extern "C" Datum pg_ark_block_tracking_blocks(PG_FUNCTION_ARGS) {
    XLogRecPtr from = PG_GETARG_LSN(0);
    XLogRecPtr to = PG_GETARG_LSN(1);
    if (from >= to)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("from_lsn %X/%X must be before to_lsn %X/%X", LSN_FORMAT_ARGS(from),
                               LSN_FORMAT_ARGS(to))));
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);

    BlockRefTable table;
    table.Init(AllocSetContextCreate(CurrentMemoryContext, "pg_ark merged block maps",
                                     ALLOCSET_DEFAULT_SIZES));
    int count;
    MapFile *maps = ListMapFiles(&count);
    for (int i = 0; i < count; ++i) {
        if (maps[i].start_lsn >= to || maps[i].end_lsn <= from) continue;
        size_t length;
        pg_ark::blockmap::FileHeader header;
        char *data = ReadValidatedMap(maps[i], &length, &header);
        pg_ark::blockmap::ForEachEntry(data, length, MergeEntry, &table);
        pfree(data);
    }
    table.ForEachSorted(EmitEntry, rsinfo);
    return (Datum)0;
}

extern "C" Datum pg_ark_block_tracking_flush(PG_FUNCTION_ARGS) {
    if (!BlockTrackerIsRunning())
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_ark block tracking is not running"),
                        errhint("It needs pg_ark in shared_preload_libraries, pg_ark.track_blocks = on "
                                "and wal_level replica or logical.")));
    XLogRecPtr target = PG_ARGISNULL(0) ? GetXLogInsertRecPtr() : PG_GETARG_LSN(0);
    int timeout_ms = PG_ARGISNULL(1) ? 60000 : PG_GETARG_INT32(1);
    if (timeout_ms < 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("timeout_ms must not be negative")));
    XLogRecPtr summarized = BlockTrackerFlushThrough(target, timeout_ms);
    if (!BlockTrackerCovers(summarized, target))
        ereport(WARNING, (errmsg("pg_ark block maps cover WAL up to %X/%X only, not %X/%X",
                                 LSN_FORMAT_ARGS(summarized), LSN_FORMAT_ARGS(target)),
                          errhint("See block_tracking_status() for gaps and lag.")));
    if (XLogRecPtrIsInvalid(summarized)) PG_RETURN_NULL();
    PG_RETURN_LSN(summarized);
}

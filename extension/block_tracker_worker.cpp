/*
 * block_tracker_worker.cpp
 *     The block tracker: a background worker that reads WAL as it is flushed and writes block
 *     maps saying which blocks of which relation forks each LSN range touched.
 *
 * Policy (as PostgreSQL 17's WAL summarizer): marking more blocks as changed can never lose
 * data, marking fewer can. So every doubt resolves to "changed": a whole fork is new when it is
 * created, truncated (from the new length on) or dropped; a database directory is new when it
 * is created or dropped; WAL written under wal_level=minimal, or WAL that vanished before it
 * was read, is a gap, and a gap makes every incremental backup that spans it fall back.
 *
 * Life of the worker:
 *   start:  resume at the end of the newest valid map (or, with none, at the redo pointer);
 *           if that WAL is gone, record a gap and restart at the current redo pointer.
 *   loop:   read records up to the flush pointer into a BlockRefTable; write a map when a
 *           backend asks (BlockTrackerFlushThrough), when memory reaches its cap, every 1 GB
 *           of WAL, when tracking is switched off, and on SIGTERM; then wait on the latch.
 *   retain: a persistent physical slot holds WAL from the start of the range in memory, but
 *           never more than pg_ark.track_wal_keep_size behind the flush pointer. Beyond that
 *           cap a checkpoint may remove WAL not yet read: detected, it is a gap.
 *
 * An ERROR ends the worker (no sigsetjmp recovery here); the postmaster starts it again after
 * 5 s and it resumes from the newest map, which is all the state it needs. What was only in
 * memory is re-read.
 */
#include "pg_includes.h"

#include <fcntl.h>
#include <new>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include "access/timeline.h"
#include "access/xact.h"
#include "access/xlog_internal.h"
#include "access/xlogreader.h"
#include "access/xlogutils.h"
#include "access/visibilitymapdefs.h"
#include "catalog/pg_control.h"
#include "catalog/storage_xlog.h"
#include "commands/dbcommands_xlog.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "replication/slot.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "utils/wait_event.h"
}

#include "block_map.h"
#include "block_map_files.h"
#include "block_ref_table.h"
#include "block_tracker.h"
#include "block_tracker_internal.h"

namespace {

/* Memory cap: block numbers held before compacting (4 bytes each, so about 16 MB). */
constexpr uint64 kMaxStoredBlocks = 4 * 1024 * 1024;
/* A map is written at least every this many bytes of WAL. */
constexpr uint64 kMaxMapWal = uint64(1) << 30;
/* Records read between two looks at interrupts, requests and the removed-WAL horizon. */
constexpr int kRecordsPerBatch = 4096;
/* How long to sleep at the end of WAL: nothing wakes the tracker when WAL is flushed (backups
 * do), so its lag stays near the WAL written in this time. */
constexpr long kIdleWaitMs = 200;

/*
 * The visibility map covers HEAPBLOCKS_PER_PAGE heap blocks per page (visibilitymap.c, private
 * there). A heap truncated to n blocks cuts its VM to n / HEAPBLOCKS_PER_PAGE pages plus a
 * partly cleared last page that the truncation record's replay rewrites without a block
 * reference; counting from n / HEAPBLOCKS_PER_PAGE marks that page too. Using n itself (heap
 * blocks) would leave stale VM pages unmarked: the bug PostgreSQL 17.0 shipped.
 */
constexpr uint32 kHeapBlocksPerVmPage =
    (BLCKSZ - MAXALIGN(SizeOfPageHeaderData)) * (BITS_PER_BYTE / BITS_PER_HEAPBLOCK);

struct WorkerState {
    MemoryContext context = nullptr; /* lives as long as the worker */
    BlockRefTable table;
    XLogReaderState *reader = nullptr;
    ReadLocalXLogPageNoWaitPrivate reader_private{};
    bool tracking = false;        /* started; a range is being accumulated */
    XLogRecPtr map_start = InvalidXLogRecPtr; /* start of the range in memory */
    XLogRecPtr read_end = InvalidXLogRecPtr;  /* end of the last record summarized */
    XLogRecPtr summarized = InvalidXLogRecPtr; /* end of the newest map on disk */
    XLogRecPtr retained_from = InvalidXLogRecPtr; /* maps ending at or before it are deleted */
    bool retention_applied = false; /* retained_from applied to the directory since start */
    bool slots_usable = false;
    bool slot_failed = false;     /* creating or updating the slot failed: run without */
    XLogRecPtr slot_restart = InvalidXLogRecPtr;
    List *history = NIL;          /* this timeline's history, for map headers */
    TimeLineID insert_tli = 0;
};

WorkerState *worker = nullptr;

void Publish() {
    BlockTrackerShared *shared = block_tracker_shared;
    SpinLockAcquire(&shared->mutex);
    shared->active = worker->tracking;
    shared->slot_held = worker->tracking && worker->slots_usable && !worker->slot_failed;
    shared->summarized_lsn = worker->summarized;
    shared->pending_start = worker->tracking ? worker->map_start : InvalidXLogRecPtr;
    shared->read_lsn = worker->tracking ? worker->read_end : InvalidXLogRecPtr;
    SpinLockRelease(&shared->mutex);
}

void RecordGap(XLogRecPtr start, XLogRecPtr end, const char *why) {
    BlockTrackerShared *shared = block_tracker_shared;
    SpinLockAcquire(&shared->mutex);
    shared->gap_start = start;
    shared->gap_end = end;
    SpinLockRelease(&shared->mutex);
    ereport(WARNING,
            (errmsg("pg_ark block tracking has a gap from %X/%X to %X/%X", LSN_FORMAT_ARGS(start),
                    LSN_FORMAT_ARGS(end)),
             errdetail("%s", why),
             errhint("The next incremental backup whose parent started before %X/%X will fall back "
                     "to whole-file copies or checksum comparison for the files it cannot prove "
                     "unchanged. Take a full backup to start a new chain.",
                     LSN_FORMAT_ARGS(end))));
}

void OnExit(int, Datum) {
    BlockTrackerShared *shared = block_tracker_shared;
    SpinLockAcquire(&shared->mutex);
    shared->worker_pid = 0;
    shared->worker_latch = nullptr;
    shared->active = false;
    shared->slot_held = false;
    shared->pending_start = InvalidXLogRecPtr;
    shared->read_lsn = InvalidXLogRecPtr;
    SpinLockRelease(&shared->mutex);
}

/* ---------------------------------------------------------------- map files and retention */

TimeLineID TimelineOf(XLogRecPtr lsn) {
    if (worker->history == NIL) return worker->insert_tli;
    return tliOfPointInHistory(lsn, worker->history);
}

void WriteMap() {
    if (!worker->tracking || worker->read_end <= worker->map_start) return;
    WriteMapFile(&worker->table, worker->map_start, worker->read_end, TimelineOf(worker->map_start));
    ereport(DEBUG1, (errmsg("pg_ark block map %X/%X-%X/%X written (%ld relation forks)",
                            LSN_FORMAT_ARGS(worker->map_start), LSN_FORMAT_ARGS(worker->read_end),
                            worker->table.EntryCount())));
    worker->table.Reset();
    worker->summarized = worker->read_end;
    worker->map_start = worker->read_end;
    Publish();
}

void RemoveMap(const MapFile &map) {
    char path[MAXPGPATH];
    MapFilePath(path, sizeof path, map.start_lsn, map.end_lsn);
    if (unlink(path) != 0 && errno != ENOENT)
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not remove file \"%s\": %m", path)));
}

void LoadRetainState() {
    char path[MAXPGPATH];
    MapDirectoryPath(path, sizeof path, kRetainStateName);
    FILE *file = AllocateFile(path, "r");
    if (file == nullptr) {
        if (errno != ENOENT)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not open file \"%s\": %m", path)));
        return;
    }
    unsigned long long value = 0;
    if (fscanf(file, "%llx", &value) == 1) worker->retained_from = XLogRecPtr(value);
    else ereport(WARNING, (errmsg("ignoring unreadable block map retention state \"%s\"", path)));
    FreeFile(file);
}

void SaveRetainState(XLogRecPtr lsn) {
    char path[MAXPGPATH];
    char temp[MAXPGPATH];
    MapDirectoryPath(path, sizeof path, kRetainStateName);
    snprintf(temp, sizeof temp, "%s.tmp", path);
    FILE *file = AllocateFile(temp, "w");
    if (file == nullptr)
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not create file \"%s\": %m", temp)));
    if (fprintf(file, "%016llX\n", (unsigned long long)lsn) < 0 || fflush(file) != 0 ||
        pg_fsync(fileno(file)) != 0) {
        int saved = errno;
        FreeFile(file);
        errno = saved;
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not write file \"%s\": %m", temp)));
    }
    if (FreeFile(file) != 0)
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not close file \"%s\": %m", temp)));
    (void)durable_rename(temp, path, ERROR);
}

/* Deletes maps that end at or before the retention point. Never any other map. */
void ApplyRetention() {
    BlockTrackerShared *shared = block_tracker_shared;
    SpinLockAcquire(&shared->mutex);
    XLogRecPtr requested = shared->retain_request;
    SpinLockRelease(&shared->mutex);
    if (requested > worker->retained_from) {
        SaveRetainState(requested);
        worker->retained_from = requested;
    } else if (worker->retention_applied) {
        return; /* nothing new since the last pass */
    }
    worker->retention_applied = true;
    if (XLogRecPtrIsInvalid(worker->retained_from)) return;
    int count;
    MapFile *maps = ListMapFiles(&count);
    int removed = 0;
    for (int i = 0; i < count; ++i)
        if (maps[i].end_lsn <= worker->retained_from) {
            RemoveMap(maps[i]);
            ++removed;
        }
    if (removed > 0)
        ereport(LOG, (errmsg("pg_ark removed %d block maps ending at or before %X/%X", removed,
                             LSN_FORMAT_ARGS(worker->retained_from))));
    if (maps) pfree(maps);
}

/*
 * Finds where to resume: the end of the newest valid map. Maps of another system, ending
 * beyond the flush pointer, or on a timeline that is not this server's history belong to
 * another history: all are removed. A damaged newest map is set aside (renamed) and the one
 * before it is used, so its range is summarized again.
 */
XLogRecPtr FindResumePoint() {
    XLogRecPtr flush = GetFlushRecPtr(nullptr);
    uint64 sysid = GetSystemIdentifier();
    for (;;) {
        int count;
        MapFile *maps = ListMapFiles(&count);
        if (count == 0) return InvalidXLogRecPtr;
        const char *foreign = nullptr;
        for (int i = 0; i < count && foreign == nullptr; ++i) {
            pg_ark::blockmap::FileHeader header;
            if (maps[i].end_lsn > flush) foreign = "a map ends beyond the WAL flush position";
            else if (!ReadMapHeader(maps[i], &header)) continue; /* judged below if newest */
            else if (header.system_identifier != sysid) foreign = "a map belongs to another system";
            else if (worker->history != NIL && header.timeline != TimelineOf(header.start_lsn))
                foreign = "a map's timeline is not in this server's history";
        }
        if (foreign != nullptr) {
            ereport(WARNING, (errmsg("removing all %d pg_ark block maps: they describe another WAL history",
                                     count),
                              errdetail("%s.", foreign)));
            for (int i = 0; i < count; ++i) RemoveMap(maps[i]);
            continue;
        }
        /* The newest map: the one ending last. */
        int newest = 0;
        for (int i = 1; i < count; ++i)
            if (maps[i].end_lsn > maps[newest].end_lsn) newest = i;
        MemoryContext context = AllocSetContextCreate(CurrentMemoryContext, "pg_ark map check",
                                                      ALLOCSET_DEFAULT_SIZES);
        MemoryContext old = MemoryContextSwitchTo(context);
        volatile bool valid = false;
        PG_TRY();
        {
            size_t length;
            pg_ark::blockmap::FileHeader header;
            (void)ReadValidatedMap(maps[newest], &length, &header);
            valid = true;
        }
        PG_CATCH();
        {
            /* Report the damage as a WARNING and carry on with the previous map. */
            MemoryContextSwitchTo(old);
            ErrorData *error = CopyErrorData();
            FlushErrorState();
            ereport(WARNING, (errmsg("%s", error->message),
                              errdetail("The map is set aside and its range summarized again.")));
            FreeErrorData(error);
        }
        PG_END_TRY();
        MemoryContextSwitchTo(old);
        MemoryContextDelete(context);
        if (valid) {
            XLogRecPtr end = maps[newest].end_lsn;
            pfree(maps);
            return end;
        }
        char path[MAXPGPATH], aside[MAXPGPATH];
        MapFilePath(path, sizeof path, maps[newest].start_lsn, maps[newest].end_lsn);
        snprintf(aside, sizeof aside, "%s.damaged", path);
        (void)durable_rename(path, aside, ERROR);
        pfree(maps);
    }
}

/* ---------------------------------------------------------------- the retention slot */

/*
 * Runs a slot operation, turning an ERROR (all slots in use, the slot busy elsewhere) into a
 * WARNING: the tracker then runs without a slot rather than not at all.
 */
template <typename Operation>
bool SlotGuarded(const char *what, Operation operation) {
    MemoryContext old = CurrentMemoryContext;
    volatile bool ok = false;
    PG_TRY();
    {
        operation();
        ok = true;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(old);
        ErrorData *error = CopyErrorData();
        FlushErrorState();
        /* The failed call may have held slot locks or the slot itself. */
        LWLockReleaseAll();
        if (MyReplicationSlot != nullptr) ReplicationSlotRelease();
        ereport(WARNING, (errmsg("pg_ark block tracking could not %s replication slot \"%s\": %s", what,
                                 kTrackerSlotName, error->message),
                          errdetail("Tracking continues without holding WAL back; WAL removed before "
                                    "it is read becomes a gap.")));
        FreeErrorData(error);
    }
    PG_END_TRY();
    return ok;
}

/* Sets the slot's restart_lsn (creating the slot if needed) and recomputes WAL retention. */
void SetSlot(XLogRecPtr restart_lsn) {
    if (!worker->slots_usable || worker->slot_failed) return;
    bool ok = SlotGuarded("update", [restart_lsn]() {
        if (SearchNamedReplicationSlot(kTrackerSlotName, true) == nullptr) {
            ReplicationSlotCreate(kTrackerSlotName, false, RS_PERSISTENT, false);
            ereport(LOG, (errmsg("pg_ark block tracking created replication slot \"%s\"", kTrackerSlotName)));
        } else {
            ReplicationSlotAcquire(kTrackerSlotName, true);
        }
        ReplicationSlot *slot = MyReplicationSlot;
        SpinLockAcquire(&slot->mutex);
        slot->data.restart_lsn = restart_lsn;
        SpinLockRelease(&slot->mutex);
        ReplicationSlotMarkDirty();
        ReplicationSlotSave();
        ReplicationSlotRelease();
        ReplicationSlotsComputeRequiredLSN();
    });
    if (ok) worker->slot_restart = restart_lsn;
    else worker->slot_failed = true;
}

void DropSlot() {
    worker->slot_restart = InvalidXLogRecPtr;
    if (!worker->slots_usable) return;
    if (SearchNamedReplicationSlot(kTrackerSlotName, true) == nullptr) return;
    if (SlotGuarded("drop", []() { ReplicationSlotDrop(kTrackerSlotName, true); }))
        ereport(LOG, (errmsg("pg_ark block tracking dropped replication slot \"%s\"", kTrackerSlotName)));
}

/* Where the slot should hold WAL from: the range in memory, capped at track_wal_keep_size. */
XLogRecPtr WantedSlotRestart() {
    XLogRecPtr want = worker->map_start;
    XLogRecPtr flush = GetFlushRecPtr(nullptr);
    uint64 keep = uint64(pg_ark_track_wal_keep_size_mb) * 1024 * 1024;
    if (flush > keep && flush - keep > want) want = flush - keep;
    /* Whole segments: a restart_lsn anywhere in a segment holds all of it. */
    return want - XLogSegmentOffset(want, wal_segment_size);
}

void MaintainSlot(bool force) {
    if (!worker->tracking) return;
    XLogRecPtr want = WantedSlotRestart();
    if (force || want != worker->slot_restart) SetSlot(want);
}

/* ---------------------------------------------------------------- start and stop */

bool SegmentRemoved(XLogRecPtr lsn) {
    XLogSegNo segno;
    XLByteToSeg(lsn, segno, wal_segment_size);
    return segno <= XLogGetLastRemovedSegno();
}

void BeginRange(XLogRecPtr start) {
    worker->table.Reset();
    worker->map_start = start;
    worker->read_end = start;
    if (worker->reader == nullptr) {
        XLogReaderRoutine routine;
        memset(&routine, 0, sizeof routine);
        routine.page_read = read_local_xlog_page_no_wait;
        routine.segment_open = wal_segment_open;
        routine.segment_close = wal_segment_close;
        /* The reader lives as long as the worker, not in the per-pass context. */
        MemoryContext old = MemoryContextSwitchTo(worker->context);
        worker->reader = XLogReaderAllocate(wal_segment_size, nullptr, &routine, &worker->reader_private);
        MemoryContextSwitchTo(old);
        if (worker->reader == nullptr)
            ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
                            errdetail("Failed while allocating a WAL reading processor.")));
    }
    XLogBeginRead(worker->reader, start);
}

/*
 * Restarts at the current redo pointer after WAL from `from` on was lost to the tracker.
 * The slot is pointed at the new start before the start is checked, so the WAL cannot vanish
 * between the check and the first read; if a checkpoint removed it anyway, go round again.
 */
void RestartAfterGap(XLogRecPtr from, const char *why) {
    XLogRecPtr start;
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        start = GetRedoRecPtr();
        SetSlot(start - XLogSegmentOffset(start, wal_segment_size));
        if (!SegmentRemoved(start)) break;
    }
    if (!XLogRecPtrIsInvalid(from)) RecordGap(from, start, why);
    worker->tracking = true;
    BeginRange(start);
    Publish();
}

void StartTracking() {
    worker->insert_tli = GetWALInsertionTimeLine();
    if (worker->history == NIL && worker->insert_tli > 1) {
        MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
        worker->history = readTimeLineHistory(worker->insert_tli);
        MemoryContextSwitchTo(old);
    }
    worker->slot_failed = false;
    XLogRecPtr resume = FindResumePoint();
    worker->summarized = resume;
    if (XLogRecPtrIsInvalid(resume)) {
        /* Nothing tracked before: coverage starts here (not a gap: there is no chain yet). */
        RestartAfterGap(InvalidXLogRecPtr, nullptr);
        ereport(LOG, (errmsg("pg_ark block tracking starts at %X/%X", LSN_FORMAT_ARGS(worker->map_start))));
        return;
    }
    SetSlot(resume - XLogSegmentOffset(resume, wal_segment_size));
    if (SegmentRemoved(resume)) {
        RestartAfterGap(resume, "The WAL after the newest block map was removed before it was read "
                                "(tracking was off, the worker was down, or the WAL retention cap was reached).");
        return;
    }
    worker->tracking = true;
    BeginRange(resume);
    Publish();
    ereport(LOG, (errmsg("pg_ark block tracking resumes at %X/%X", LSN_FORMAT_ARGS(resume))));
}

void StopTracking() {
    WriteMap();
    worker->tracking = false;
    worker->table.Reset();
    DropSlot();
    Publish();
    ereport(LOG, (errmsg("pg_ark block tracking is off; block maps end at %X/%X",
                         LSN_FORMAT_ARGS(worker->summarized))));
}

/* ---------------------------------------------------------------- summarizing records */

void MarkDropped(const RelFileNode &node) {
    /* Every fork but the free space map, which maps never describe. */
    const ForkNumber forks[] = {MAIN_FORKNUM, VISIBILITYMAP_FORKNUM, INIT_FORKNUM};
    for (ForkNumber fork : forks)
        worker->table.SetLimit({node.spcNode, node.dbNode, node.relNode, uint32(fork)}, 0);
}

void SummarizeDbase(XLogReaderState *reader) {
    uint8 info = XLogRecGetInfo(reader) & ~XLR_INFO_MASK;
    const char *data = XLogRecGetData(reader);
    if (info == XLOG_DBASE_CREATE_FILE_COPY) {
        xl_dbase_create_file_copy_rec rec;
        memcpy(&rec, data, sizeof rec);
        worker->table.SetLimit({rec.tablespace_id, rec.db_id, 0, 0}, 0);
    } else if (info == XLOG_DBASE_CREATE_WAL_LOG) {
        xl_dbase_create_wal_log_rec rec;
        memcpy(&rec, data, sizeof rec);
        worker->table.SetLimit({rec.tablespace_id, rec.db_id, 0, 0}, 0);
    } else if (info == XLOG_DBASE_DROP) {
        xl_dbase_drop_rec rec;
        memcpy(&rec, data, offsetof(xl_dbase_drop_rec, tablespace_ids));
        const char *ids = data + offsetof(xl_dbase_drop_rec, tablespace_ids);
        for (int i = 0; i < rec.ntablespaces; ++i) {
            Oid spc;
            memcpy(&spc, ids + i * sizeof(Oid), sizeof spc);
            worker->table.SetLimit({spc, rec.db_id, 0, 0}, 0);
        }
    }
}

void SummarizeSmgr(XLogReaderState *reader) {
    uint8 info = XLogRecGetInfo(reader) & ~XLR_INFO_MASK;
    const char *data = XLogRecGetData(reader);
    if (info == XLOG_SMGR_CREATE) {
        xl_smgr_create rec;
        memcpy(&rec, data, sizeof rec);
        if (rec.forkNum != FSM_FORKNUM)
            worker->table.SetLimit({rec.rnode.spcNode, rec.rnode.dbNode, rec.rnode.relNode, uint32(rec.forkNum)}, 0);
    } else if (info == XLOG_SMGR_TRUNCATE) {
        xl_smgr_truncate rec;
        memcpy(&rec, data, sizeof rec);
        BlockRefKey key = {rec.rnode.spcNode, rec.rnode.dbNode, rec.rnode.relNode, uint32(MAIN_FORKNUM)};
        if (rec.flags & SMGR_TRUNCATE_HEAP) worker->table.SetLimit(key, rec.blkno);
        if (rec.flags & SMGR_TRUNCATE_VM) {
            key.fork = uint32(VISIBILITYMAP_FORKNUM);
            worker->table.SetLimit(key, rec.blkno / kHeapBlocksPerVmPage);
        }
    }
}

void SummarizeXact(XLogReaderState *reader) {
    uint8 info = XLogRecGetInfo(reader);
    uint8 op = info & XLOG_XACT_OPMASK;
    if (op == XLOG_XACT_COMMIT || op == XLOG_XACT_COMMIT_PREPARED) {
        xl_xact_parsed_commit parsed;
        ParseCommitRecord(info, reinterpret_cast<xl_xact_commit *>(XLogRecGetData(reader)), &parsed);
        for (int i = 0; i < parsed.nrels; ++i) MarkDropped(parsed.xnodes[i]);
    } else if (op == XLOG_XACT_ABORT || op == XLOG_XACT_ABORT_PREPARED) {
        xl_xact_parsed_abort parsed;
        ParseAbortRecord(info, reinterpret_cast<xl_xact_abort *>(XLogRecGetData(reader)), &parsed);
        for (int i = 0; i < parsed.nrels; ++i) MarkDropped(parsed.xnodes[i]);
    }
}

/* True when the record switches the server to wal_level=minimal: what follows is unprovable. */
bool EntersMinimalWal(XLogReaderState *reader) {
    if ((XLogRecGetInfo(reader) & ~XLR_INFO_MASK) != XLOG_PARAMETER_CHANGE) return false;
    xl_parameter_change rec;
    memcpy(&rec, XLogRecGetData(reader), sizeof rec);
    return rec.wal_level < WAL_LEVEL_REPLICA;
}

/* Returns false when the record ends what can be summarized (see EntersMinimalWal). */
bool Summarize(XLogReaderState *reader) {
    switch (XLogRecGetRmid(reader)) {
        case RM_DBASE_ID: SummarizeDbase(reader); break;
        case RM_SMGR_ID: SummarizeSmgr(reader); break;
        case RM_XACT_ID: SummarizeXact(reader); break;
        case RM_XLOG_ID:
            if (EntersMinimalWal(reader)) return false;
            break;
        default: break;
    }
    for (int block_id = 0; block_id <= XLogRecMaxBlockId(reader); ++block_id) {
        RelFileNode node;
        ForkNumber fork;
        BlockNumber block;
        if (!XLogRecGetBlockTagExtended(reader, uint8(block_id), &node, &fork, &block, nullptr)) continue;
        if (fork == FSM_FORKNUM) continue; /* maps never describe the FSM: it is copied whole */
        worker->table.MarkBlock({node.spcNode, node.dbNode, node.relNode, uint32(fork)}, block);
    }
    return true;
}

bool FlushRequested() {
    BlockTrackerShared *shared = block_tracker_shared;
    SpinLockAcquire(&shared->mutex);
    XLogRecPtr request = shared->flush_request;
    SpinLockRelease(&shared->mutex);
    return request > worker->summarized && BlockTrackerCovers(worker->read_end, request);
}

/*
 * Reads one batch of records. Returns true when the end of flushed WAL was reached (the
 * caller then sleeps), false when there may be more to read right away.
 */
bool ReadBatch() {
    XLogReaderState *reader = worker->reader;
    for (int n = 0; n < kRecordsPerBatch; ++n) {
        CHECK_FOR_INTERRUPTS();
        /* Checked often enough that the reader rarely meets a removed segment itself (it would
         * raise an ERROR: the worker restarts and finds the same gap from the newest map). */
        if ((n & 63) == 0 && SegmentRemoved(worker->read_end)) {
            /* Read up to here; the rest went before we got to it. Keep what we have. */
            XLogRecPtr from = worker->read_end;
            WriteMap();
            RestartAfterGap(from, "WAL was removed before the tracker read it (the tracker fell "
                                  "more than pg_ark.track_wal_keep_size behind, or it runs without "
                                  "a slot).");
            return false;
        }
        if (ShutdownRequestPending || ConfigReloadPending) return false;
        worker->reader_private.end_of_wal = false;
        char *error = nullptr;
        /* The reader allocates its decode buffer lazily, in the current context: make that
         * the worker's, not the per-pass one that is reset. */
        MemoryContext old = MemoryContextSwitchTo(worker->context);
        XLogRecord *record = XLogReadRecord(reader, &error);
        MemoryContextSwitchTo(old);
        if (record == nullptr) {
            if (worker->reader_private.end_of_wal) {
                /* Start over at the last complete record: the partial one is read again. */
                XLogBeginRead(reader, worker->read_end);
                return true;
            }
            ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                            errmsg("pg_ark block tracker could not read WAL at %X/%X: %s",
                                   LSN_FORMAT_ARGS(reader->EndRecPtr),
                                   error != nullptr ? error : "unknown error")));
        }
        if (!Summarize(reader)) {
            /* Include the parameter change itself, then skip to where provable WAL resumes. */
            worker->read_end = reader->EndRecPtr;
            XLogRecPtr from = worker->read_end;
            WriteMap();
            RestartAfterGap(from, "The server ran with wal_level=minimal, which does not log every change.");
            return false;
        }
        worker->read_end = reader->EndRecPtr;

        if (worker->table.StoredBlocks() >= kMaxStoredBlocks) {
            worker->table.Compact();
            if (worker->table.StoredBlocks() > kMaxStoredBlocks / 2) WriteMap();
        }
        if (worker->read_end - worker->map_start >= kMaxMapWal || FlushRequested()) {
            WriteMap();
            MaintainSlot(true);
        }
    }
    return false;
}

}  // namespace

extern "C" void pg_ark_block_tracker_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
    BackgroundWorkerUnblockSignals();

    BlockTrackerShared *shared = block_tracker_shared;
    if (shared == nullptr) proc_exit(1); /* not preloaded: cannot happen for a registered worker */
    SpinLockAcquire(&shared->mutex);
    shared->worker_pid = MyProcPid;
    shared->worker_latch = MyLatch;
    SpinLockRelease(&shared->mutex);
    before_shmem_exit(OnExit, 0);

    MemoryContext top = AllocSetContextCreate(TopMemoryContext, "pg_ark block tracker", ALLOCSET_DEFAULT_SIZES);
    MemoryContext loop = AllocSetContextCreate(top, "pg_ark block tracker loop", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(top);
    worker = new (palloc0(sizeof(WorkerState))) WorkerState();
    worker->context = top;
    worker->table.Init(AllocSetContextCreate(top, "pg_ark block references", ALLOCSET_DEFAULT_SIZES));

    if (MakePGDirectory(pg_ark::blockmap::kDirectory) == 0)
        fsync_fname(XLOGDIR, true);
    else if (errno != EEXIST)
        ereport(ERROR, (errcode_for_file_access(),
                        errmsg("could not create directory \"%s\": %m", pg_ark::blockmap::kDirectory)));
    char temp[MAXPGPATH];
    MapDirectoryPath(temp, sizeof temp, kMapTempName);
    (void)unlink(temp); /* a map whose write was interrupted */
    LoadRetainState();

    if (wal_level < WAL_LEVEL_REPLICA) {
        /* Relations written under wal_level=minimal skip WAL: nothing could be proved. */
        ereport(WARNING, (errmsg("pg_ark block tracking needs wal_level replica or logical; it stays idle"),
                          errhint("Incremental backups fall back to full copies until it runs.")));
    }
    worker->slots_usable = max_replication_slots > 0 && wal_level >= WAL_LEVEL_REPLICA;
    if (!worker->slots_usable && wal_level >= WAL_LEVEL_REPLICA)
        ereport(LOG, (errmsg("pg_ark block tracking runs without a replication slot (max_replication_slots = 0)"),
                      errdetail("WAL removed before the tracker reads it becomes a gap.")));

    bool idle_slot_dropped = false;
    for (;;) {
        MemoryContextSwitchTo(loop);
        MemoryContextReset(loop);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
        if (ShutdownRequestPending) {
            /* Keep what was read: the next start resumes from this map's end. Exit 1, not 0: the
             * postmaster restarts a worker that exits 1 (after pg_terminate_backend) unless it
             * is shutting down, and would forget one that exits 0 until the next restart. */
            WriteMap();
            MaintainSlot(true);
            proc_exit(1);
        }
        bool want = pg_ark_track_blocks && wal_level >= WAL_LEVEL_REPLICA;
        if (want && !worker->tracking) StartTracking();
        else if (!want && worker->tracking) StopTracking();
        if (!want && !idle_slot_dropped) {
            DropSlot(); /* left by a run that tracked: hold nothing while off */
            idle_slot_dropped = true;
        }
        if (want) idle_slot_dropped = false;

        ApplyRetention();
        bool at_end = true;
        if (worker->tracking) {
            at_end = ReadBatch();
            if (FlushRequested()) WriteMap();
            MaintainSlot(false);
            Publish();
        }
        if (at_end) {
            int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, kIdleWaitMs,
                               PG_WAIT_EXTENSION);
            (void)rc;
            ResetLatch(MyLatch);
        }
    }
}

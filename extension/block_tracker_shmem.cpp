/*
 * block_tracker_shmem.cpp
 *     The block tracker's shared state, its registration, and the backend API (block_tracker.h).
 *
 * Backends and the worker talk through one small struct under a spinlock: a backend raises
 * flush_request or retain_request and sets the worker's latch; the worker publishes what it
 * has read and written. Backends wait by polling on their own latch (100 ms ticks), so a
 * worker that dies can never leave a backend waiting past its timeout.
 */
#include "block_tracker.h"

extern "C" {
#include "access/xlog_internal.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"
}

#include "block_map.h"
#include "block_tracker_internal.h"

static_assert(pg_ark::blockmap::kWalPageSize == XLOG_BLCKSZ &&
                  pg_ark::blockmap::kWalShortPageHeader == SizeOfXLogShortPHD &&
                  pg_ark::blockmap::kWalLongPageHeader == SizeOfXLogLongPHD,
              "block_map.h's WAL page layout must match this server's");

BlockTrackerShared *block_tracker_shared = nullptr;

static shmem_request_hook_type prev_shmem_request_hook = nullptr;
static shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

static void BlockTrackerShmemRequest() {
    if (prev_shmem_request_hook) prev_shmem_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(BlockTrackerShared)));
}

static void BlockTrackerShmemStartup() {
    if (prev_shmem_startup_hook) prev_shmem_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found;
    block_tracker_shared = static_cast<BlockTrackerShared *>(
        ShmemInitStruct("pg_ark block tracker", sizeof(BlockTrackerShared), &found));
    if (!found) {
        memset(block_tracker_shared, 0, sizeof(BlockTrackerShared));
        SpinLockInit(&block_tracker_shared->mutex);
    }
    LWLockRelease(AddinShmemInitLock);
}

void BlockTrackerRegister() {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = BlockTrackerShmemRequest;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = BlockTrackerShmemStartup;

    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
    /* Not on a standby: its WAL is the primary's, and it cannot hold a slot of its own. */
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 5;
    strlcpy(worker.bgw_library_name, "pg_ark", sizeof worker.bgw_library_name);
    strlcpy(worker.bgw_function_name, "pg_ark_block_tracker_main", sizeof worker.bgw_function_name);
    strlcpy(worker.bgw_name, "pg_ark block tracker", sizeof worker.bgw_name);
    strlcpy(worker.bgw_type, "pg_ark block tracker", sizeof worker.bgw_type);
    RegisterBackgroundWorker(&worker);
}

bool BlockTrackerIsRunning() {
    BlockTrackerShared *shared = block_tracker_shared;
    if (shared == nullptr) return false;
    SpinLockAcquire(&shared->mutex);
    bool running = shared->worker_pid != 0 && shared->active;
    SpinLockRelease(&shared->mutex);
    return running;
}

bool BlockTrackerCovers(XLogRecPtr map_end, XLogRecPtr lsn) {
    return !XLogRecPtrIsInvalid(map_end) &&
           pg_ark::blockmap::NextRecordStart(map_end, wal_segment_size) >= lsn;
}

/* The insert position as a record end (the inverse of blockmap::NextRecordStart), for XLogFlush. */
static XLogRecPtr InsertEnd() {
    XLogRecPtr insert = GetXLogInsertRecPtr();
    if (XLogSegmentOffset(insert, wal_segment_size) == SizeOfXLogLongPHD) return insert - SizeOfXLogLongPHD;
    if (insert % XLOG_BLCKSZ == SizeOfXLogShortPHD) return insert - SizeOfXLogShortPHD;
    return insert;
}

XLogRecPtr BlockTrackerFlushThrough(XLogRecPtr lsn, int timeout_ms) {
    BlockTrackerShared *shared = block_tracker_shared;
    if (shared == nullptr) return InvalidXLogRecPtr;

    /* The worker reads flushed WAL only: make sure the record spanning lsn is flushed, or an
     * idle server could leave it in the WAL buffers until the next commit. */
    if (!RecoveryInProgress() && lsn > GetFlushRecPtr(nullptr)) {
        XLogRecPtr end = InsertEnd();
        if (end > GetFlushRecPtr(nullptr)) XLogFlush(end);
    }

    SpinLockAcquire(&shared->mutex);
    if (lsn > shared->flush_request) shared->flush_request = lsn;
    Latch *latch = shared->worker_latch;
    SpinLockRelease(&shared->mutex);
    if (latch != nullptr) SetLatch(latch);

    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
    for (;;) {
        SpinLockAcquire(&shared->mutex);
        XLogRecPtr summarized = shared->summarized_lsn;
        XLogRecPtr pending_start = shared->pending_start;
        bool running = shared->worker_pid != 0 && shared->active;
        SpinLockRelease(&shared->mutex);

        if (BlockTrackerCovers(summarized, lsn)) return summarized;
        if (!running) return summarized;
        /* Tracking (re)started at or after lsn: no map will ever cover what came before. */
        if (!XLogRecPtrIsInvalid(pending_start) && pending_start >= lsn) return summarized;
        TimestampTz now = GetCurrentTimestamp();
        if (now >= deadline) return summarized;
        long wait_ms = Min(100L, long((deadline - now) / 1000) + 1);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

void BlockTrackerRetainFrom(XLogRecPtr lsn) {
    BlockTrackerShared *shared = block_tracker_shared;
    if (shared == nullptr || XLogRecPtrIsInvalid(lsn)) return;
    SpinLockAcquire(&shared->mutex);
    if (lsn > shared->retain_request) shared->retain_request = lsn;
    Latch *latch = shared->worker_latch;
    SpinLockRelease(&shared->mutex);
    if (latch != nullptr) SetLatch(latch);
}

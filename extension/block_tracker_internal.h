/*
 * block_tracker_internal.h
 *     The tracker's shared state, for the worker, the backend API and the SQL functions only.
 */
#ifndef PG_ARK_EXTENSION_BLOCK_TRACKER_INTERNAL_H
#define PG_ARK_EXTENSION_BLOCK_TRACKER_INTERNAL_H

#include "pg_includes.h"

extern "C" {
#include "storage/spin.h"
}

constexpr const char *kTrackerSlotName = "pg_ark_block_tracking";

/* Every field is read and written under mutex. */
struct BlockTrackerShared {
    slock_t mutex;
    pid_t worker_pid;        /* 0 when no worker runs */
    Latch *worker_latch;     /* set it to wake the worker */
    bool active;             /* the worker is tracking (track_blocks on, started) */
    bool slot_held;          /* the retention slot exists and is maintained */
    XLogRecPtr summarized_lsn; /* end of the newest map written or found */
    XLogRecPtr pending_start;  /* start of the range held in memory (InvalidXLogRecPtr: idle) */
    XLogRecPtr read_lsn;       /* end of the last record summarized into memory */
    XLogRecPtr flush_request;  /* highest lsn a backend wants covered by maps */
    XLogRecPtr retain_request; /* highest lsn given to BlockTrackerRetainFrom */
    XLogRecPtr gap_start;      /* newest gap the worker met (both Invalid if none) */
    XLogRecPtr gap_end;
};

/* nullptr when pg_ark is not in shared_preload_libraries. */
extern BlockTrackerShared *block_tracker_shared;

/* GUCs (defined in pg_ark.cpp). */
extern bool pg_ark_track_blocks;
extern int pg_ark_track_wal_keep_size_mb;

extern "C" PGDLLEXPORT void pg_ark_block_tracker_main(Datum);

#endif

/*
 * block_tracker.h
 *     What a backend (the backup flow, the SQL functions) may ask of the block tracker.
 *
 * The tracker is a background worker that reads WAL as it is flushed and writes block maps
 * (common/block_map.h) into $PGDATA/pg_wal/pg_ark_blockmap. A map covers [start_lsn, end_lsn)
 * exactly; consecutive maps chain (next start == previous end) unless WAL was lost to the
 * tracker, which is a gap (see docs/block-tracking.md).
 *
 * All of these are callable in any backend; they are cheap when pg_ark is not in
 * shared_preload_libraries (the tracker then never runs).
 */
#ifndef PG_ARK_EXTENSION_BLOCK_TRACKER_H
#define PG_ARK_EXTENSION_BLOCK_TRACKER_H

#include "pg_includes.h"

/* True when the worker is running and tracking (pg_ark.track_blocks on). */
bool BlockTrackerIsRunning();

/*
 * Asks the worker to write maps covering every WAL record that starts before lsn (flushing WAL
 * up to the current insert position first if lsn is not flushed yet), and waits, on this
 * backend's latch in 100 ms ticks with interrupts checked, until the newest map covers it, the
 * timeout passes, or tracking is off or not running or started after lsn. Returns the end of
 * the newest written map (InvalidXLogRecPtr if none): the caller compares it with lsn.
 */
XLogRecPtr BlockTrackerFlushThrough(XLogRecPtr lsn, int timeout_ms);

/* True when a map ending at map_end covers every record that starts before lsn. */
bool BlockTrackerCovers(XLogRecPtr map_end, XLogRecPtr lsn);

/*
 * Maps ending at or before lsn are no longer needed (call it after a successful full backup
 * with its start LSN): the worker deletes them, and remembers lsn across restarts.
 */
void BlockTrackerRetainFrom(XLogRecPtr lsn);

/* What backup_check() reports of the tracker. */
struct BlockTrackerState {
    bool enabled;          /* pg_ark.track_blocks */
    bool running;          /* the worker is up and tracking */
    uint64 lag_bytes;      /* flushed WAL it has not read yet (0 when not known) */
    XLogRecPtr gap_start;  /* the newest gap in its maps, if any (InvalidXLogRecPtr) */
    XLogRecPtr gap_end;
};
BlockTrackerState BlockTrackerCurrentState();

/* Called from _PG_init while shared_preload_libraries are loaded: hooks and the worker. */
void BlockTrackerRegister();

#endif

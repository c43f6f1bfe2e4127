/*
 * wal_fetch_ahead.h
 *     archive-get's read-ahead. PostgreSQL asks for WAL one segment at a time, each time in a
 *     new process that would open the repository again: a new S3 connection, and for an
 *     encrypted repository the passphrase's scrypt (a tenth of a second or more). So a call that
 *     has to go to the repository also fetches the next `archive-get-ahead` segments of its
 *     timeline, in parallel, into pg_ark_ahead/ next to the destination (in pg_wal: one rename
 *     serves them); the next calls take them from there without opening the repository.
 *
 * Why a spooled copy can be trusted: it appears under its name only complete and fsynced (the
 * posix storage's temp-file-and-rename commit), only a whole segment is spooled (never a
 * .partial in a segment's place), and an archived segment never changes. Every call removes
 * the spooled segments numbered below the one asked for, which recovery has passed, so the
 * spool holds at most `archive-get-ahead` segments (and kMaxSpoolBytes) plus those of a
 * timeline recovery left; it is removed when recovery ends (see TakeFetchedAhead), and a
 * restore (delta included) starts without it.
 */
#ifndef PG_ARK_HELPER_WAL_FETCH_AHEAD_H
#define PG_ARK_HELPER_WAL_FETCH_AHEAD_H

#include <string>

#include "status.h"
#include "wal_name.h"
#include "wal_store.h"

namespace pg_ark {

constexpr char kFetchAheadDirectory[] = "pg_ark_ahead";

/* Only recovery's restore_command calls (destination RECOVERYXLOG) use the spool: a manual
 * archive-get, or pg_rewind's, leaves nothing behind. */
constexpr char kRecoveryDestination[] = "RECOVERYXLOG";
constexpr char kRecoveryHistoryDestination[] = "RECOVERYHISTORY"; /* where it asks for history files */
/* At most this much spooled: archive-get-ahead is cut down for large segments. */
constexpr uint64_t kMaxSpoolBytes = uint64_t{256} << 20;

/* The spool next to destination ("pg_wal/RECOVERYXLOG" -> "pg_wal/pg_ark_ahead"). */
std::string FetchAheadDirectory(const std::string &destination);

/*
 * Moves the spooled copy of segment wal_name to destination (and fsyncs its directory): true,
 * or false when it is not spooled (or cannot be moved: the destination is then untouched).
 * Prunes the spooled segments below wal_name either way. A timeline history file asked for
 * removes the whole spool: PostgreSQL asks for them when recovery starts, when a standby looks
 * for a new timeline, and when recovery ends (to choose the next timeline), which is when the
 * spool must not stay behind. An error means the segment was moved but its directory could
 * not be synced: archive-get must then fail, not fetch again.
 */
Result<bool> TakeFetchedAhead(const std::string &wal_name, const std::string &destination);

/*
 * After segment wal_name was fetched whole into destination (its size is the segment size):
 * fetches the next `count` segments of its timeline into the spool with up to `workers`
 * threads, skipping those already there, up to the first one the repository does not have.
 * Returns how many it spooled (with more than one worker, a segment past the first missing one
 * may be spooled too: harmless). Failures only cost the head start (logged at debug): the call
 * that needs a segment fetches it itself and reports what is wrong.
 */
int FetchAhead(WalStore &store, const std::string &cluster, const std::string &wal_name,
               const std::string &destination, int count, int workers);

}  // namespace pg_ark

#endif

/*
 * wal_reach.h
 *     Whether the archived WAL can reach a recovery target, checked by `pg_ark restore` before it
 *     writes anything.
 *
 * PostgreSQL only finds out at the end of the archive, after the whole restore and a replay,
 * with "recovery ended before configured recovery target was reached". What the repository can
 * tell up front:
 *  - an LSN target: the segment holding it must be archived, on some timeline, whole or as a
 *    .partial (archive-get serves one in place of the segment, wal_store.h);
 *  - a time target: it must not be in the future, and must be before the time the newest
 *    archived segment (any timeline) was stored: every record of the archive was written before
 *    its segment was stored, so none could be the first commit after a later target.
 * Both are necessary, not sufficient: an LSN past the last record of its segment, or a time
 * with no commit after it yet, still fails in PostgreSQL. xid and name targets cannot be placed
 * without reading WAL and are not checked.
 */
#ifndef PG_ARK_HELPER_WAL_REACH_H
#define PG_ARK_HELPER_WAL_REACH_H

#include <stdint.h>

#include <string>
#include <vector>

#include "manifest.h"
#include "recovery_target.h"
#include "repository.h"
#include "status.h"
#include "wal_store.h"

namespace pg_ark {

constexpr uint64_t kDefaultWalSegmentSize = 16u << 20;

/*
 * The wal_segment_size a backup used. Not recorded in its metadata, but implied by its WAL range
 * (wal_start and wal_stop are the segments of start_lsn and stop_lsn - 1): the size, of 1 MiB to
 * 1 GiB, for which those names match; when several do (a backup inside the first segment of a
 * 4 GiB log), 16 MiB if it is one of them, else the smallest; none: 16 MiB.
 */
uint64_t WalSegmentSizeOf(const BackupMetadata &backup);

/* "TTTTTTTTLLLLLLLLSSSSSSSS" of segment number segno on timeline (names count segments per
 * log id, so the name depends on the segment size). */
std::string WalSegmentName(uint32_t timeline, uint64_t segno, uint64_t wal_segment_size);
/* The segment number of a (valid) segment, .partial or .backup name. */
uint64_t WalSegmentNumber(const std::string &name, uint64_t wal_segment_size);

/*
 * invalid_argument, naming the target and the newest archived segment, when target cannot be
 * reached with `archived` (see the file comment); OK for other kinds. timeline names the
 * missing segment in the message; now is seconds since the epoch.
 */
Status CheckTargetReach(const RecoveryTarget &target, const std::vector<ArchivedWal> &archived,
                        uint64_t wal_segment_size, uint32_t timeline, double now);

/* CheckTargetReach over the cluster's archive, for a restore of backup, at the current time. */
Status CheckTargetInArchive(Repository &repository, const std::string &cluster,
                            const BackupMetadata &backup, const RecoveryTarget &target);

}  // namespace pg_ark

#endif

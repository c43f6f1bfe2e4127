/*
 * wal_reach.cpp
 *     Refusing recovery targets beyond the archived WAL. See wal_reach.h.
 */
#include "wal_reach.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <chrono>
#include <cmath>

#include "catalog_format.h"

namespace pg_ark {

namespace {

constexpr uint64_t kMinWalSegmentSize = 1u << 20;
constexpr uint64_t kMaxWalSegmentSize = 1u << 30;
constexpr const char *kSwitchHint =
    "WAL not archived yet can be pushed with SELECT pg_switch_wal() on the primary";

Status Refuse(const std::string &message) { return Status(ErrorKind::invalid_argument, message); }

/* Segments per log id ("xlogid"): the middle 8 hex digits of a name count these. */
uint64_t SegmentsPerLog(uint64_t wal_segment_size) { return 0x100000000ull / wal_segment_size; }

}  // namespace

std::string WalSegmentName(uint32_t timeline, uint64_t segno, uint64_t wal_segment_size) {
    uint64_t per_log = SegmentsPerLog(wal_segment_size);
    return fmt::format("{:08X}{:08X}{:08X}", timeline, segno / per_log, segno % per_log);
}

uint64_t WalSegmentNumber(const std::string &name, uint64_t wal_segment_size) {
    uint64_t log = strtoull(name.substr(8, 8).c_str(), nullptr, 16);
    uint64_t seg = strtoull(name.substr(16, 8).c_str(), nullptr, 16);
    return log * SegmentsPerLog(wal_segment_size) + seg;
}

uint64_t WalSegmentSizeOf(const BackupMetadata &backup) {
    if (backup.wal_start.size() != 24) return kDefaultWalSegmentSize;
    auto matches = [&](uint64_t size) {
        if (WalSegmentName(backup.timeline, backup.start_lsn / size, size) != backup.wal_start)
            return false;
        return backup.wal_stop.empty() || backup.stop_lsn == 0 ||
               WalSegmentName(backup.timeline, (backup.stop_lsn - 1) / size, size) == backup.wal_stop;
    };
    if (matches(kDefaultWalSegmentSize)) return kDefaultWalSegmentSize;
    for (uint64_t size = kMinWalSegmentSize; size <= kMaxWalSegmentSize; size *= 2)
        if (matches(size)) return size;
    return kDefaultWalSegmentSize;
}

Status CheckTargetReach(const RecoveryTarget &target, const std::vector<ArchivedWal> &archived,
                        uint64_t wal_segment_size, uint32_t timeline, double now) {
    if (target.kind == RecoveryTarget::Kind::time) {
        if (target.time > now)
            return Refuse(fmt::format("recovery target time {} is in the future (now {} UTC)",
                                      target.value, FormatTime(static_cast<int64_t>(now))));
        const ArchivedWal *newest = nullptr;
        for (const ArchivedWal &wal : archived)
            if (newest == nullptr || wal.stored_time > newest->stored_time) newest = &wal;
        if (newest == nullptr)
            return Refuse(fmt::format("recovery target time {} is beyond the archived WAL: no WAL "
                                      "segment is archived; {}",
                                      target.value, kSwitchHint));
        /* Object stores give whole seconds (S3's Last-Modified): the segment may have been
         * stored up to a second later than it says, so only a target past that is surely out of
         * reach. */
        if (target.time >= std::floor(newest->stored_time) + 1)
            return Refuse(fmt::format(
                "recovery target time {} is beyond the archived WAL: the newest archived segment, "
                "{}, was stored at {} UTC, so recovery would end before reaching the target; {}",
                target.value, newest->name,
                FormatTime(static_cast<int64_t>(std::floor(newest->stored_time))), kSwitchHint));
        return Status::Ok();
    }
    if (target.kind == RecoveryTarget::Kind::lsn) {
        uint64_t wanted = target.lsn / wal_segment_size;
        const ArchivedWal *newest = nullptr;
        uint64_t newest_segno = 0;
        for (const ArchivedWal &wal : archived) {
            uint64_t segno = WalSegmentNumber(wal.name, wal_segment_size);
            if (segno == wanted) return Status::Ok();
            /* Sorted by name, so a later timeline's copy of the same segment wins the tie. */
            if (newest == nullptr || segno >= newest_segno) {
                newest = &wal;
                newest_segno = segno;
            }
        }
        return Refuse(fmt::format(
            "recovery target LSN {} is beyond the archived WAL: its segment {} is not archived on "
            "any timeline, whole or as .partial (newest archived segment: {}); {}",
            target.value, WalSegmentName(timeline, wanted, wal_segment_size),
            newest == nullptr ? std::string("none") : newest->name, kSwitchHint));
    }
    return Status::Ok();
}

Status CheckTargetInArchive(Repository &repository, const std::string &cluster,
                            const BackupMetadata &backup, const RecoveryTarget &target) {
    if (target.kind != RecoveryTarget::Kind::time && target.kind != RecoveryTarget::Kind::lsn)
        return Status::Ok();
    WalStore store(&repository);
    auto archived = store.ListSegments(cluster);
    if (!archived.ok()) return archived.status();
    std::chrono::duration<double> now = std::chrono::system_clock::now().time_since_epoch();
    return CheckTargetReach(target, *archived, WalSegmentSizeOf(backup), backup.timeline,
                            now.count());
}

}  // namespace pg_ark

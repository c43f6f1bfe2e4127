/*
 * wal_reach_test.cpp
 *     Refusing recovery targets beyond the archived WAL (helper/src/wal_reach.h): the segment
 *     size a backup implies, and the decision over a list of archived names and stored times.
 */
#include "wal_reach.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pg_ark {
namespace {

constexpr double kTarget = 1796135400.0; /* 2026-12-01 14:30:00 UTC */
constexpr double kNow = kTarget + 3600;
constexpr uint64_t k16M = 16u << 20;

RecoveryTarget Lsn(const std::string &text) {
    RecoveryTargetArguments arguments;
    arguments.lsn = text;
    Result<RecoveryTarget> target = ParseRecoveryTarget(arguments);
    EXPECT_TRUE(target.ok()) << target.status().message();
    return *target;
}

RecoveryTarget Time(const std::string &text) {
    RecoveryTargetArguments arguments;
    arguments.time = text;
    Result<RecoveryTarget> target = ParseRecoveryTarget(arguments);
    EXPECT_TRUE(target.ok()) << target.status().message();
    return *target;
}

/* Timeline 1 to segment 4 (the last one stored 10 minutes before the target), then a promotion
 * in segment 5: its .partial on timeline 1, the rest on timeline 2 up to segment 6. */
std::vector<ArchivedWal> Archive() {
    return {{"000000010000000000000003", kTarget - 1200},
            {"000000010000000000000004", kTarget - 600},
            {"000000010000000000000005.partial", kTarget - 300},
            {"000000020000000000000005", kTarget - 200},
            {"000000020000000000000006", kTarget - 100}};
}

TEST(WalReachTest, LsnInAFullSegmentOrAPartialIsReachable) {
    EXPECT_TRUE(CheckTargetReach(Lsn("0/4000100"), Archive(), k16M, 1, kNow).ok());
    EXPECT_TRUE(CheckTargetReach(Lsn("0/3000000"), Archive(), k16M, 1, kNow).ok());
    /* Segment 5 of timeline 1 is only a .partial: archive-get serves it. */
    EXPECT_TRUE(CheckTargetReach(Lsn("0/5FFFFFF"), Archive(), k16M, 1, kNow).ok());
    /* Segment 6 is on timeline 2 only: some timeline has it. */
    EXPECT_TRUE(CheckTargetReach(Lsn("0/6000028"), Archive(), k16M, 1, kNow).ok());
}

TEST(WalReachTest, LsnBeyondTheArchiveIsRefusedNamingTheNewestSegment) {
    Status refused = CheckTargetReach(Lsn("0/7000060"), Archive(), k16M, 1, kNow);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.kind(), ErrorKind::invalid_argument);
    EXPECT_EQ(refused.message(),
              "recovery target LSN 0/7000060 is beyond the archived WAL: its segment "
              "000000010000000000000007 is not archived on any timeline, whole or as .partial "
              "(newest archived segment: 000000020000000000000006); WAL not archived yet can be "
              "pushed with SELECT pg_switch_wal() on the primary");
    /* A gap counts too, and an empty archive says so. */
    std::vector<ArchivedWal> gap = {{"000000010000000000000003", kTarget},
                                    {"000000010000000000000005", kTarget}};
    EXPECT_FALSE(CheckTargetReach(Lsn("0/4000000"), gap, k16M, 1, kNow).ok());
    Status empty = CheckTargetReach(Lsn("0/4000000"), {}, k16M, 1, kNow);
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.message().find("(newest archived segment: none)"), std::string::npos)
        << empty.message();
}

TEST(WalReachTest, LsnSegmentsFollowTheSegmentSize) {
    /* 0/7000060 is in segment 7 of 16 MiB, segment 1 of 64 MiB, segment 112 of 1 MiB. */
    std::vector<ArchivedWal> big = {{"000000010000000000000001", kTarget}};
    EXPECT_TRUE(CheckTargetReach(Lsn("0/7000060"), big, 64u << 20, 1, kNow).ok());
    EXPECT_FALSE(CheckTargetReach(Lsn("0/7000060"), big, k16M, 1, kNow).ok());
    std::vector<ArchivedWal> small = {{"000000010000000000000070", kTarget}};
    EXPECT_TRUE(CheckTargetReach(Lsn("0/7000060"), small, 1u << 20, 1, kNow).ok());
    /* Past the first log id: 1/2000000 with 16 MiB is log 1, segment 2 (256 per log). */
    std::vector<ArchivedWal> log1 = {{"000000010000000100000002", kTarget}};
    EXPECT_TRUE(CheckTargetReach(Lsn("1/2000000"), log1, k16M, 1, kNow).ok());
    EXPECT_FALSE(CheckTargetReach(Lsn("0/2000000"), log1, k16M, 1, kNow).ok());
}

TEST(WalReachTest, TimeBeforeTheNewestStoredSegmentIsReachable) {
    /* The newest is timeline 2's segment 6, stored 100 s before the target. */
    EXPECT_TRUE(CheckTargetReach(Time("2026-12-01 14:28:00+00"), Archive(), k16M, 1, kNow).ok());
    std::vector<ArchivedWal> archive = Archive();
    archive[0].stored_time = kTarget + 0.5; /* any timeline, any position: the newest stored */
    EXPECT_TRUE(CheckTargetReach(Time("2026-12-01 14:30:00+00"), archive, k16M, 1, kNow).ok());
}

TEST(WalReachTest, StoredTimesInWholeSecondsCountUpToTheNextSecond) {
    /* S3 reports Last-Modified in whole seconds: stored "at 14:30:00" may be 14:30:00.9. */
    std::vector<ArchivedWal> whole = {{"000000010000000000000003", kTarget}};
    EXPECT_TRUE(CheckTargetReach(Time("2026-12-01 14:30:00.44+00"), whole, k16M, 1, kNow).ok());
    EXPECT_FALSE(CheckTargetReach(Time("2026-12-01 14:30:01+00"), whole, k16M, 1, kNow).ok());
}

TEST(WalReachTest, TimeAtOrAfterTheNewestStoredSegmentIsRefused) {
    Status refused = CheckTargetReach(Time("2026-12-01 14:30:00+00"), Archive(), k16M, 1, kNow);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.kind(), ErrorKind::invalid_argument);
    EXPECT_EQ(refused.message(),
              "recovery target time 2026-12-01 14:30:00+00 is beyond the archived WAL: the newest "
              "archived segment, 000000020000000000000006, was stored at 2026-12-01 14:28:20 UTC, "
              "so recovery would end before reaching the target; WAL not archived yet can be "
              "pushed with SELECT pg_switch_wal() on the primary");
    std::vector<ArchivedWal> second_before = {{"000000010000000000000003", kTarget - 1}};
    EXPECT_FALSE(CheckTargetReach(Time("2026-12-01 14:30:00+00"), second_before, k16M, 1, kNow).ok())
        << "a whole second after the stored second: every record is older";
    Status empty = CheckTargetReach(Time("2026-12-01 14:30:00+00"), {}, k16M, 1, kNow);
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.message().find("no WAL segment is archived"), std::string::npos);
}

TEST(WalReachTest, TimeInTheFutureIsRefused) {
    Status refused =
        CheckTargetReach(Time("2026-12-01 15:30:00.5+00"), Archive(), k16M, 1, kNow);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.kind(), ErrorKind::invalid_argument);
    EXPECT_EQ(refused.message(), "recovery target time 2026-12-01 15:30:00.5+00 is in the future "
                                 "(now 2026-12-01 15:30:00 UTC)");
}

TEST(WalReachTest, OtherTargetsAreNotChecked) {
    RecoveryTargetArguments arguments;
    arguments.xid = "1234";
    EXPECT_TRUE(CheckTargetReach(*ParseRecoveryTarget(arguments), {}, k16M, 1, kNow).ok());
    arguments = {};
    arguments.name = "before_the_drop";
    EXPECT_TRUE(CheckTargetReach(*ParseRecoveryTarget(arguments), {}, k16M, 1, kNow).ok());
    arguments = {};
    arguments.immediate = true;
    EXPECT_TRUE(CheckTargetReach(*ParseRecoveryTarget(arguments), {}, k16M, 1, kNow).ok());
    EXPECT_TRUE(CheckTargetReach(RecoveryTarget{}, {}, k16M, 1, kNow).ok());
}

TEST(WalReachTest, SegmentSizeFromTheBackupsWalRange) {
    BackupMetadata m;
    m.timeline = 1;
    m.start_lsn = 0x2000028;
    m.stop_lsn = 0x2000100;
    m.wal_start = "000000010000000000000002";
    m.wal_stop = "000000010000000000000002";
    EXPECT_EQ(WalSegmentSizeOf(m), k16M);
    /* The same LSNs with 1 MiB segments: segment 0x20. */
    m.wal_start = m.wal_stop = "000000010000000000000020";
    EXPECT_EQ(WalSegmentSizeOf(m), 1u << 20);
    /* 64 MiB: 0/C000028 is segment 3. */
    m.start_lsn = 0xC000028;
    m.stop_lsn = 0x10000100;
    m.wal_start = "000000010000000000000003";
    m.wal_stop = "000000010000000000000004";
    EXPECT_EQ(WalSegmentSizeOf(m), 64u << 20);
    /* Ambiguous (inside the first segment of every size from 64 MiB on): the smallest. */
    m.start_lsn = 0x2000028;
    m.stop_lsn = 0x2000100;
    m.wal_start = m.wal_stop = "000000010000000000000000";
    EXPECT_EQ(WalSegmentSizeOf(m), 64u << 20);
    /* Nothing recorded, or names no size explains: 16 MiB. */
    EXPECT_EQ(WalSegmentSizeOf(BackupMetadata{}), k16M);
    m.wal_start = "00000001000000000000ZZZZ";
    EXPECT_EQ(WalSegmentSizeOf(m), k16M);
}

}  // namespace
}  // namespace pg_ark

/*
 * wal_fetch_ahead_test.cpp
 *     archive-get's read-ahead (helper/src/wal_fetch_ahead.h): the next segments are spooled
 *     whole and then served without the repository; a missing segment ends the run; a .partial
 *     is never spooled in a segment's place; passed segments and interrupted writes are pruned;
 *     a timeline history request (recovery ending) removes the spool; only recovery's
 *     destination (RECOVERYXLOG) uses it.
 */
#include "wal_fetch_ahead.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "wal_repository_fixture.h"

namespace pg_ark {
namespace {

using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;
using test_wal::kSysid;

constexpr size_t kSegmentSize = 1024 * 1024; /* 4096 segments per log id */

std::string Name(uint64_t segno, uint32_t timeline = 1) {
    return fmt::format("{:08X}{:08X}{:08X}", timeline, segno / 4096, segno % 4096);
}

bool Exists(const std::string &path) { return access(path.c_str(), F_OK) == 0; }

class WalFetchAheadTest : public test_wal::WalRepositoryTest {
  protected:
    void SetUp() override {
        WalRepositoryTest::SetUp();
        ASSERT_EQ(mkdir(work_dir_.Sub("pg_wal").c_str(), 0700), 0);
        destination_ = work_dir_.Sub("pg_wal/RECOVERYXLOG");
        spool_ = work_dir_.Sub("pg_wal/pg_ark_ahead");
    }

    /* Archives a distinct segment (or another WAL file) under name; returns its bytes. */
    std::string Push(const std::string &name) {
        std::string data = pg_ark_test::MakeFakeSegment(kSysid, ++seed_, kSegmentSize);
        auto pushed = PushBytes(name, data);
        EXPECT_TRUE(pushed.ok()) << name << ": " << pushed.status().message();
        return data;
    }

    /* What recovery does first: the asked-for segment from the repository, then ahead. */
    int GetAndFetchAhead(const std::string &name, int count, int workers) {
        Status got = store_.Get("main", name, destination_);
        EXPECT_TRUE(got.ok()) << got.message();
        return FetchAhead(store_, "main", name, destination_, count, workers);
    }

    bool Take(const std::string &name) {
        auto taken = TakeFetchedAhead(name, destination_);
        EXPECT_TRUE(taken.ok()) << taken.status().message();
        return taken.ok() && *taken;
    }

    std::string destination_;
    std::string spool_;
    uint32_t seed_ = 0;
};

TEST_F(WalFetchAheadTest, ServesTheNextSegmentsWithoutTheRepository) {
    std::vector<std::string> data;
    for (uint64_t segno = 3; segno <= 12; segno++) data.push_back(Push(Name(segno)));
    EXPECT_EQ(GetAndFetchAhead(Name(3), 4, 2), 4);
    for (uint64_t segno = 4; segno <= 7; segno++) EXPECT_TRUE(Exists(spool_ + "/" + Name(segno)));
    EXPECT_FALSE(Exists(spool_ + "/" + Name(8)));

    /* The repository is gone: what is served now can only come from the spool. */
    TempDir::RemoveTree(repo_dir_.path() + "/main");
    ASSERT_TRUE(Take(Name(4)));
    EXPECT_TRUE(ReadFileBytes(destination_) == data[1]);
    ASSERT_TRUE(Take(Name(6))); /* 5 was skipped over: pruned */
    EXPECT_TRUE(ReadFileBytes(destination_) == data[3]);
    EXPECT_FALSE(Exists(spool_ + "/" + Name(5)));
    EXPECT_TRUE(Exists(spool_ + "/" + Name(7)));
    EXPECT_FALSE(Take(Name(8)));
    EXPECT_TRUE(ReadFileBytes(destination_) == data[3]) << "a miss leaves the destination alone";
}

TEST_F(WalFetchAheadTest, StopsAtTheFirstSegmentTheRepositoryLacks) {
    for (uint64_t segno : {3, 4, 5, 7}) Push(Name(segno));
    EXPECT_EQ(GetAndFetchAhead(Name(3), 8, 1), 2);
    EXPECT_TRUE(Exists(spool_ + "/" + Name(5)));
    EXPECT_FALSE(Exists(spool_ + "/" + Name(6)));
    EXPECT_FALSE(Exists(spool_ + "/" + Name(7))) << "nothing past the gap";
    /* Spooled segments are skipped the next time; the run again ends at the gap. */
    EXPECT_EQ(GetAndFetchAhead(Name(3), 8, 1), 0);
}

TEST_F(WalFetchAheadTest, NeverSpoolsAPartialInASegmentsPlace) {
    Push(Name(3));
    Push(Name(4) + ".partial"); /* the old timeline's last segment after a promotion */
    EXPECT_EQ(GetAndFetchAhead(Name(3), 4, 2), 0);
    EXPECT_FALSE(Exists(spool_ + "/" + Name(4)));
    EXPECT_FALSE(Take(Name(4)));
}

TEST_F(WalFetchAheadTest, CrossesLogIdsOnItsTimeline) {
    Push(Name(4095));
    std::string next = Push(Name(4096));
    EXPECT_EQ(Name(4096), "000000010000000100000000");
    Push(Name(4096, 2)); /* another timeline's segment of that number is not fetched */
    EXPECT_EQ(GetAndFetchAhead(Name(4095), 1, 1), 1);
    ASSERT_TRUE(Take(Name(4096)));
    EXPECT_TRUE(ReadFileBytes(destination_) == next);
}

TEST_F(WalFetchAheadTest, PrunesPassedSegmentsOfEveryTimelineAndInterruptedWrites) {
    ASSERT_EQ(mkdir(spool_.c_str(), 0700), 0);
    for (const std::string &name : {Name(2), Name(3, 2), Name(9), Name(9, 2), std::string(".x.1.tmp"),
                                    std::string("00000002.history")})
        WriteFileBytes(spool_ + "/" + name, "x");
    EXPECT_FALSE(Take(Name(5)));
    EXPECT_FALSE(Exists(spool_ + "/" + Name(2)));
    EXPECT_FALSE(Exists(spool_ + "/" + Name(3, 2)));
    EXPECT_FALSE(Exists(spool_ + "/.x.1.tmp"));
    EXPECT_TRUE(Exists(spool_ + "/" + Name(9)));
    EXPECT_TRUE(Exists(spool_ + "/" + Name(9, 2)));
    EXPECT_TRUE(Exists(spool_ + "/00000002.history"));
}

TEST_F(WalFetchAheadTest, ATimelineHistoryRequestRemovesTheSpool) {
    /* PostgreSQL asks for history files when recovery ends (to pick the next timeline): the
     * segments fetched past the end must not stay in pg_wal. */
    for (uint64_t segno = 3; segno <= 6; segno++) Push(Name(segno));
    EXPECT_EQ(GetAndFetchAhead(Name(3), 3, 2), 3);
    /* Only recovery's own request (destination RECOVERYHISTORY) counts. */
    auto manual = TakeFetchedAhead("00000002.history", work_dir_.Sub("pg_wal/00000002.history"));
    ASSERT_TRUE(manual.ok());
    EXPECT_FALSE(*manual);
    EXPECT_TRUE(Exists(spool_ + "/" + Name(4)));
    auto taken = TakeFetchedAhead("00000002.history", work_dir_.Sub("pg_wal/RECOVERYHISTORY"));
    ASSERT_TRUE(taken.ok());
    EXPECT_FALSE(*taken);
    EXPECT_FALSE(Exists(spool_));
    EXPECT_EQ(FetchAhead(store_, "main", "00000002.history", destination_, 4, 2), 0);
    EXPECT_FALSE(Exists(spool_));
}

TEST_F(WalFetchAheadTest, OnlyRecoverysDestinationUsesTheSpool) {
    Push(Name(3));
    Push(Name(4));
    /* A manual archive-get (or pg_rewind's) fetches what it asks for and leaves nothing. */
    std::string elsewhere = work_dir_.Sub("pg_wal/000000010000000000000003");
    ASSERT_TRUE(store_.Get("main", Name(3), elsewhere).ok());
    EXPECT_EQ(FetchAhead(store_, "main", Name(3), elsewhere, 4, 2), 0);
    EXPECT_FALSE(Exists(spool_));
    EXPECT_EQ(GetAndFetchAhead(Name(3), 4, 2), 1);
    auto taken = TakeFetchedAhead(Name(4), work_dir_.Sub("pg_wal/somewhere"));
    ASSERT_TRUE(taken.ok());
    EXPECT_FALSE(*taken);
    EXPECT_TRUE(Exists(spool_ + "/" + Name(4)));
    EXPECT_EQ(FetchAheadDirectory("pg_wal/RECOVERYXLOG"), "pg_wal/pg_ark_ahead");
    EXPECT_EQ(FetchAheadDirectory("RECOVERYXLOG"), "./pg_ark_ahead");
}

}  // namespace
}  // namespace pg_ark

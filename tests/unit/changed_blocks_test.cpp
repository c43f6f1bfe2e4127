/*
 * changed_blocks_test.cpp
 *     LoadChangedBlocks (helper/src/changed_blocks.h) on maps written by the shared Encoder into
 *     a temporary pg_wal/pg_ark_blockmap: merging across maps, and every reason to fall back
 *     (no maps, tracking started late, a gap, not far enough, a damaged or foreign map).
 */
#include "changed_blocks.h"

#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "block_map.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

constexpr uint64_t kSystem = 7301234567890123456ull;
constexpr uint64_t kSegment = 16u << 20;

struct MapEntry {
    blockmap::EntryHeader header;
    std::vector<blockmap::BlockRange> ranges;
};

class ChangedBlocksTest : public ::testing::Test {
  protected:
    ChangedBlocksTest() : pgdata_("pg_ark_changed_blocks") {
        mkdir(pgdata_.Sub("pg_wal").c_str(), 0700);
    }

    void MakeDirectory() { mkdir(pgdata_.Sub(blockmap::kDirectory).c_str(), 0700); }

    /* Writes a map for [start, end) holding entries (given in order). */
    std::string Write(uint64_t start, uint64_t end, const std::vector<MapEntry> &entries,
                      uint64_t system = kSystem) {
        MakeDirectory();
        blockmap::FileHeader header = blockmap::MakeHeader(
            1, system, start, end, static_cast<uint32_t>(entries.size()));
        std::string bytes;
        blockmap::Encoder encoder(pg_ark_test::AppendToString, &bytes);
        EXPECT_TRUE(encoder.Begin(header));
        for (const MapEntry &entry : entries) {
            blockmap::EntryHeader e = entry.header;
            e.range_count = static_cast<uint32_t>(entry.ranges.size());
            EXPECT_TRUE(encoder.AddEntry(e, entry.ranges.data()));
        }
        EXPECT_TRUE(encoder.Finish());
        char name[blockmap::kFileNameSize];
        blockmap::FormatFileName(start, end, name);
        WriteFileBytes(pgdata_.Sub(std::string(blockmap::kDirectory) + "/" + name), bytes, 0600);
        return name;
    }

    ChangedBlocks Load(uint64_t from, uint64_t to) {
        return LoadChangedBlocks(pgdata_.path(), kSystem, from, to, kSegment);
    }

    TempDir pgdata_;
};

MapEntry Rel(uint32_t rel, std::vector<blockmap::BlockRange> ranges,
             uint32_t limit = blockmap::kNoLimit, uint32_t fork = 0) {
    return MapEntry{{1663, 5, rel, fork, limit, 0}, std::move(ranges)};
}

TEST_F(ChangedBlocksTest, MergesAChainOfMaps) {
    Write(0x1000, 0x2000, {Rel(16384, {{0, 2}, {10, 1}}), Rel(16390, {}, 7)});
    Write(0x2000, 0x3000, {Rel(16384, {{2, 1}, {20, 5}}), Rel(16390, {{1, 1}}, 3)});
    Write(0x3000, 0x4000, {{{1663, 9, 0, 0, 0, 0}, {}}});
    /* Not a map name: ignored, as are temporary files the tracker leaves. */
    WriteFileBytes(pgdata_.Sub(std::string(blockmap::kDirectory) + "/junk.tmp"), "x", 0600);

    ChangedBlocks changes = Load(0x1800, 0x3800);
    ASSERT_EQ(changes.fallback, "");
    EXPECT_EQ(changes.maps_used, 3u);
    const ForkChanges &main = changes.forks.at(ForkKey{1663, 5, 16384, 0});
    EXPECT_EQ(main.limit_block, kNoLimitBlock);
    EXPECT_EQ(main.blocks, (BlockRuns{{0, 3}, {10, 1}, {20, 5}}));
    const ForkChanges &cut = changes.forks.at(ForkKey{1663, 5, 16390, 0});
    EXPECT_EQ(cut.limit_block, 3u) << "the lowest limit of all maps";
    EXPECT_EQ(cut.blocks, (BlockRuns{{1, 1}}));
    EXPECT_EQ(changes.databases.count({1663, 9}), 1u);
}

TEST_F(ChangedBlocksTest, MapsOutsideTheRangeAreNotUsed) {
    Write(0x1000, 0x2000, {Rel(1, {{0, 1}})});
    Write(0x2000, 0x3000, {Rel(2, {{0, 1}})});
    Write(0x3000, 0x4000, {Rel(3, {{0, 1}})});
    ChangedBlocks changes = Load(0x2000, 0x3000);
    ASSERT_EQ(changes.fallback, "");
    EXPECT_EQ(changes.forks.size(), 1u);
    EXPECT_EQ(changes.forks.count(ForkKey{1663, 5, 2, 0}), 1u);
}

TEST_F(ChangedBlocksTest, NoMaps) {
    EXPECT_EQ(Load(0x1000, 0x2000).fallback, "no block maps");
    MakeDirectory();
    EXPECT_EQ(Load(0x1000, 0x2000).fallback, "no block maps");
}

TEST_F(ChangedBlocksTest, TrackingStartedAfterTheParent) {
    Write(0x1800, 0x3000, {});
    EXPECT_EQ(Load(0x1000, 0x2000).fallback,
              "block tracking started at 0/1800, after the parent's start LSN 0/1000");
    EXPECT_EQ(Load(0x1000, 0x1800).fallback,
              "block tracking started at 0/1800, after the parent's start LSN 0/1000");
}

TEST_F(ChangedBlocksTest, GapBetweenMaps) {
    Write(0x1000, 0x2000, {});
    Write(0x2800, 0x4000, {});
    EXPECT_EQ(Load(0x1000, 0x3000).fallback, "gap in block tracking from 0/2000 to 0/2800");
    /* Wholly inside the gap: no map overlaps at all. */
    EXPECT_EQ(Load(0x2100, 0x2200).fallback, "gap in block tracking from 0/2000 to 0/2800");
}

/* Maps end at record ends; a backup starting right after the page header that follows one is
 * covered, one starting a byte later is not. */
TEST_F(ChangedBlocksTest, EndAtAPageBoundaryCoversTheStartPastItsHeader) {
    Write(0x1000, 0x4000, {});
    EXPECT_EQ(Load(0x1000, 0x4000 + blockmap::kWalShortPageHeader).fallback, "");
    EXPECT_NE(Load(0x1000, 0x4000 + blockmap::kWalShortPageHeader + 8).fallback, "");
    Write(0x4000, kSegment, {});
    EXPECT_EQ(Load(0x1000, kSegment + blockmap::kWalLongPageHeader).fallback, "");
    EXPECT_NE(Load(0x1000, kSegment + blockmap::kWalShortPageHeader + 24).fallback, "");
}

TEST_F(ChangedBlocksTest, NotFarEnough) {
    Write(0x1000, 0x2000, {});
    Write(0x2000, 0x100000000ull, {});
    EXPECT_EQ(Load(0x1000, 0x200000000ull).fallback,
              "block tracking has summarized only up to 1/0 (backup starts at 2/0)");
    EXPECT_EQ(Load(0x100000000ull, 0x200000000ull).fallback,
              "block tracking has summarized only up to 1/0 (backup starts at 2/0)");
}

TEST_F(ChangedBlocksTest, DamagedMapIsNeverTrusted) {
    Write(0x1000, 0x2000, {Rel(1, {{0, 1}})});
    std::string name = Write(0x2000, 0x3000, {Rel(2, {{0, 1}})});
    std::string path = pgdata_.Sub(std::string(blockmap::kDirectory) + "/" + name);
    std::string bytes = pg_ark_test::ReadFileBytes(path);
    bytes[60] ^= 0x10;
    WriteFileBytes(path, bytes, 0600);
    EXPECT_EQ(Load(0x1000, 0x3000).fallback,
              "block map " + name + " is damaged: checksum mismatch");
    WriteFileBytes(path, bytes.substr(0, 30), 0600);
    EXPECT_EQ(Load(0x1000, 0x3000).fallback, "block map " + name + " is damaged: truncated");
    /* A longer map over the same range does not make the damaged one acceptable. */
    Write(0x2000, 0x3800, {});
    EXPECT_NE(Load(0x1000, 0x3000).fallback.find("is damaged"), std::string::npos);
    /* Outside the range it does no harm. */
    EXPECT_EQ(Load(0x1000, 0x2000).fallback, "");
}

TEST_F(ChangedBlocksTest, MapOfAnotherSystem) {
    Write(0x1000, 0x2000, {});
    std::string name = Write(0x2000, 0x3000, {}, kSystem + 1);
    EXPECT_EQ(Load(0x1000, 0x3000).fallback, "block map " + name + " is from another system");
}

TEST_F(ChangedBlocksTest, MisnamedMapIsDamaged) {
    std::string name = Write(0x1000, 0x2000, {});
    std::string directory = pgdata_.Sub(blockmap::kDirectory);
    char other[blockmap::kFileNameSize];
    blockmap::FormatFileName(0x1000, 0x3000, other);
    ASSERT_EQ(rename((directory + "/" + name).c_str(), (directory + "/" + other).c_str()), 0);
    EXPECT_NE(Load(0x1000, 0x3000).fallback.find("its header covers 0/1000 to 0/2000"),
              std::string::npos);
}

TEST_F(ChangedBlocksTest, StartNotAfterParent) {
    Write(0x1000, 0x2000, {});
    EXPECT_NE(Load(0x2000, 0x2000).fallback, "");
}

}  // namespace
}  // namespace pg_ark

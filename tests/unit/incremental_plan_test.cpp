/*
 * incremental_plan_test.cpp
 *     Block runs (block_ranges.h) and the choice between whole file and changed blocks
 *     (incremental_plan.h): limit blocks, truncation, new files, a parent shorter than the file,
 *     created databases, forks other than main, segment numbering of ".1" files, fallback.
 */
#include "incremental_plan.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace pg_ark {
namespace {

constexpr uint32_t kBlock = 8192;
constexpr uint32_t kSegmentBlocks = 1000; /* small, so segment offsets are easy to read */

TEST(BlockRunsTest, NormalizeClipSubtractIntersect) {
    EXPECT_EQ(NormalizeRuns({{5, 2}, {0, 1}, {1, 1}, {6, 3}, {20, 0}}), (BlockRuns{{0, 2}, {5, 4}}));
    EXPECT_TRUE(RunsAreNormalized({{0, 2}, {5, 4}}));
    EXPECT_FALSE(RunsAreNormalized({{0, 2}, {2, 4}}));
    EXPECT_FALSE(RunsAreNormalized({{5, 2}, {0, 1}}));
    EXPECT_FALSE(RunsAreNormalized({{0, 0}}));
    EXPECT_EQ(ClipRuns({{0, 10}, {20, 10}}, 5, 25), (BlockRuns{{5, 5}, {20, 5}}));
    EXPECT_EQ(SubtractRuns({{0, 10}, {20, 10}}, {{2, 3}, {8, 14}, {29, 5}}),
              (BlockRuns{{0, 2}, {5, 3}, {22, 7}}));
    EXPECT_EQ(IntersectRuns({{0, 10}, {20, 10}}, {{2, 3}, {8, 14}, {29, 5}}),
              (BlockRuns{{2, 3}, {8, 2}, {20, 2}, {29, 1}}));
    EXPECT_EQ(CountBlocks({{2, 3}, {8, 2}}), 5u);
    /* The last block number a fork can have. */
    EXPECT_EQ(NormalizeRuns({{0xFFFFFFFEu, 1}, {0xFFFFFFFDu, 1}}), (BlockRuns{{0xFFFFFFFDu, 2}}));
}

TEST(RelationPathTest, Parses) {
    RelationPath path;
    ASSERT_TRUE(ParseRelationPath("base/5/16384", &path));
    EXPECT_EQ(path.fork.spc, 1663u);
    EXPECT_EQ(path.fork.db, 5u);
    EXPECT_EQ(path.fork.rel, 16384u);
    EXPECT_EQ(path.fork.fork, 0u);
    EXPECT_EQ(path.segment, 0u);
    ASSERT_TRUE(ParseRelationPath("global/1262_vm", &path));
    EXPECT_EQ(path.fork.spc, 1664u);
    EXPECT_EQ(path.fork.db, 0u);
    EXPECT_EQ(path.fork.fork, 2u);
    ASSERT_TRUE(ParseRelationPath("pg_tblspc/16400/PG_15_202209061/16401/16402_fsm.3", &path));
    EXPECT_EQ(path.fork.spc, 16400u);
    EXPECT_EQ(path.fork.db, 16401u);
    EXPECT_EQ(path.fork.rel, 16402u);
    EXPECT_EQ(path.fork.fork, 1u);
    EXPECT_EQ(path.segment, 3u);
    for (const char *other : {"global/pg_control", "base/5/PG_VERSION", "base/5/pg_filenode.map",
                              "base/5/t3_16384", "base/x/16384", "pg_tblspc/16400/PG_14_1/5/16384",
                              "base/5/99999999999", "pg_xact/0000", "base/5/16384/1"})
        EXPECT_FALSE(ParseRelationPath(other, &path)) << other;
}

class IncrementalPlanTest : public ::testing::Test {
  protected:
    StoreChoice Plan(const std::string &path, uint64_t blocks) {
        SourceEntry source;
        source.path = path;
        source.kind = EntryKind::file;
        source.size = blocks * kBlock;
        PlanInput input;
        input.changes = &changes_;
        input.parent_sizes = &parent_;
        input.block_size = kBlock;
        input.segment_blocks = kSegmentBlocks;
        return PlanFile(source, input);
    }
    ForkChanges &Fork(uint32_t rel, uint32_t fork = 0, uint32_t db = 5, uint32_t spc = 1663) {
        return changes_.forks.emplace(ForkKey{spc, db, rel, fork}, ForkChanges{kNoLimitBlock, {}})
            .first->second;
    }

    ChangedBlocks changes_;
    std::map<std::string, uint64_t> parent_;
};

TEST_F(IncrementalPlanTest, UnchangedFileStoresNothing) {
    parent_["base/5/16384"] = 10 * kBlock;
    StoreChoice choice = Plan("base/5/16384", 10);
    EXPECT_TRUE(choice.as_blocks);
    EXPECT_TRUE(choice.blocks.empty());
}

TEST_F(IncrementalPlanTest, ChangedBlocksAndGrowthPastTheParent) {
    parent_["base/5/16384"] = 10 * kBlock;
    Fork(16384).blocks = {{2, 2}, {9, 1}, {40, 5}};
    StoreChoice choice = Plan("base/5/16384", 12);
    ASSERT_TRUE(choice.as_blocks);
    /* 40.. lies past the file (extended and truncated again?): clipped. 10-11: past the parent. */
    EXPECT_EQ(choice.blocks, (BlockRuns{{2, 2}, {9, 3}}));
}

TEST_F(IncrementalPlanTest, LimitBlockStoresEverythingFromIt) {
    parent_["base/5/16384"] = 10 * kBlock;
    Fork(16384) = ForkChanges{4, {{1, 1}}};
    StoreChoice choice = Plan("base/5/16384", 8);
    ASSERT_TRUE(choice.as_blocks);
    EXPECT_EQ(choice.blocks, (BlockRuns{{1, 1}, {4, 4}}));
}

TEST_F(IncrementalPlanTest, TruncatedToZeroOrCreatedIsWhole) {
    parent_["base/5/16384"] = 10 * kBlock;
    Fork(16384) = ForkChanges{0, {{1, 1}}};
    StoreChoice choice = Plan("base/5/16384", 8);
    EXPECT_FALSE(choice.as_blocks);
    EXPECT_EQ(choice.reason, "relation created or truncated to 0");
}

TEST_F(IncrementalPlanTest, ShrunkFileKeepsNoBlocks) {
    parent_["base/5/16384"] = 10 * kBlock;
    Fork(16384) = ForkChanges{6, {}};
    StoreChoice choice = Plan("base/5/16384", 6);
    ASSERT_TRUE(choice.as_blocks) << choice.reason;
    EXPECT_TRUE(choice.blocks.empty()) << "the new size alone says it was cut";
}

TEST_F(IncrementalPlanTest, NewFileIsWhole) {
    StoreChoice choice = Plan("base/5/16384", 8);
    EXPECT_FALSE(choice.as_blocks);
    EXPECT_EQ(choice.reason, "new file");
}

TEST_F(IncrementalPlanTest, ParentShorterStoresTheNewBlocks) {
    parent_["base/5/16384"] = 3 * kBlock;
    StoreChoice choice = Plan("base/5/16384", 8);
    ASSERT_TRUE(choice.as_blocks);
    EXPECT_EQ(choice.blocks, (BlockRuns{{3, 5}}));
    parent_["base/5/16384"] = 0;
    choice = Plan("base/5/16384", 8);
    EXPECT_FALSE(choice.as_blocks);
    EXPECT_EQ(choice.reason, "every block changed");
}

TEST_F(IncrementalPlanTest, CreatedOrDroppedDatabaseIsWhole) {
    parent_["base/5/16384"] = 10 * kBlock;
    changes_.databases.insert({1663, 5});
    StoreChoice choice = Plan("base/5/16384", 10);
    EXPECT_FALSE(choice.as_blocks);
    EXPECT_EQ(choice.reason, "database created or dropped");
    parent_["base/6/16384"] = 10 * kBlock;
    EXPECT_TRUE(Plan("base/6/16384", 10).as_blocks) << "another database is not affected";
}

TEST_F(IncrementalPlanTest, OtherForksAndFilesAreWhole) {
    for (const char *path : {"base/5/16384_vm", "base/5/16384_fsm", "base/5/16384_init"}) {
        parent_[path] = 2 * kBlock;
        StoreChoice choice = Plan(path, 2);
        EXPECT_FALSE(choice.as_blocks) << path;
        EXPECT_EQ(choice.reason, "not the main fork");
    }
    parent_["base/5/PG_VERSION"] = 3;
    StoreChoice choice = Plan("base/5/PG_VERSION", 0);
    EXPECT_FALSE(choice.as_blocks);
    EXPECT_EQ(choice.reason, "") << "only relation files say why";
}

TEST_F(IncrementalPlanTest, SizeNotInBlocksIsWhole) {
    parent_["base/5/16384"] = 10 * kBlock + 100;
    EXPECT_FALSE(Plan("base/5/16384", 10).as_blocks);
}

TEST_F(IncrementalPlanTest, SegmentsUseFileRelativeBlocks) {
    /* Relation blocks 1000-1999 are segment 1 (kSegmentBlocks = 1000). */
    parent_["base/5/16384.1"] = 500 * kBlock;
    parent_["base/5/16384.2"] = 100 * kBlock;
    Fork(16384).blocks = {{999, 3}, {1400, 1}, {2050, 1}};
    StoreChoice one = Plan("base/5/16384.1", 500);
    ASSERT_TRUE(one.as_blocks);
    EXPECT_EQ(one.blocks, (BlockRuns{{0, 2}, {400, 1}}));
    StoreChoice two = Plan("base/5/16384.2", 100);
    ASSERT_TRUE(two.as_blocks);
    EXPECT_EQ(two.blocks, (BlockRuns{{50, 1}}));
    /* A limit inside segment 1 cuts segment 1 from there and all of segment 2. */
    Fork(16384).limit_block = 1450;
    EXPECT_EQ(Plan("base/5/16384.1", 500).blocks, (BlockRuns{{0, 2}, {400, 1}, {450, 50}}));
    StoreChoice cut = Plan("base/5/16384.2", 100);
    EXPECT_FALSE(cut.as_blocks);
    EXPECT_EQ(cut.reason, "every block changed");
}

TEST_F(IncrementalPlanTest, TablespaceAndGlobalRelations) {
    parent_["global/1262"] = 4 * kBlock;
    Fork(1262, 0, 0, 1664).blocks = {{1, 1}};
    EXPECT_EQ(Plan("global/1262", 4).blocks, (BlockRuns{{1, 1}}));
    const std::string path = "pg_tblspc/16400/PG_15_202209061/16401/16402";
    parent_[path] = 4 * kBlock;
    Fork(16402, 0, 16401, 16400).blocks = {{3, 1}};
    EXPECT_EQ(Plan(path, 4).blocks, (BlockRuns{{3, 1}}));
    /* The same relfilenode in base/ is another relation. */
    parent_["base/16401/16402"] = 4 * kBlock;
    EXPECT_TRUE(Plan("base/16401/16402", 4).blocks.empty());
}

TEST_F(IncrementalPlanTest, FallbackMakesEveryRelationFileWhole) {
    parent_["base/5/16384"] = 10 * kBlock;
    changes_.fallback = "gap in block tracking from 0/2000 to 0/2800";
    StoreChoice choice = Plan("base/5/16384", 10);
    EXPECT_FALSE(choice.as_blocks);
    EXPECT_EQ(choice.reason, changes_.fallback);
}

}  // namespace
}  // namespace pg_ark

/*
 * restore_chain_test.cpp
 *     PlanFileSources (helper/src/restore_chain.h): which backup of a chain supplies each block
 *     of a file. The newest backup that has a block wins, a file's final size is the chosen
 *     backup's (truncation honoured, extension supplied), parts that supply nothing are not
 *     listed, and a block nothing supplies is an error, never zeros.
 */
#include "restore_chain.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pg_ark {
namespace {

constexpr uint64_t kBlock = 8192;
constexpr uint64_t kPartBlocks = 4;
const char *const kPath = "base/5/16384";

/* A file entry whose stream (whole file, or its blocks) is cut into parts of kPartBlocks. */
BackupEntry FileEntry(uint64_t blocks, bool as_blocks, BlockRuns runs, uint64_t *next_object) {
    BackupEntry entry;
    entry.path = kPath;
    entry.kind = EntryKind::file;
    entry.size = blocks * kBlock;
    entry.stored_as_blocks = as_blocks;
    entry.blocks = std::move(runs);
    uint64_t stream = entry.StreamSize(kBlock);
    for (uint64_t offset = 0; offset < stream || (offset == 0 && !as_blocks);
         offset += kPartBlocks * kBlock) {
        BackupPart part;
        part.object = (*next_object)++;
        part.offset = offset;
        part.size = std::min(stream - offset, kPartBlocks * kBlock);
        entry.parts.push_back(part);
        if (stream == 0) break;
    }
    return entry;
}

class ChainTest : public ::testing::Test {
  protected:
    /* Adds a backup older than those added before (the chain is newest first). */
    void AddOlder(const std::string &id, std::vector<BackupEntry> entries) {
        auto manifest = std::make_unique<Manifest>();
        manifest->backup.id = id;
        manifest->backup.block_size = kBlock;
        manifest->entries = std::move(entries);
        manifests_.push_back(std::move(manifest));
    }
    std::vector<ChainLink> Chain() {
        std::vector<ChainLink> chain;
        for (const auto &manifest : manifests_)
            chain.push_back({manifest.get(), *RepoPath::Make("main/backup/" +
                                                             manifest->backup.id)});
        return chain;
    }
    Result<std::vector<SourcePart>> Plan() {
        chain_ = Chain();
        return PlanFileSources(chain_, manifests_[0]->entries[0]);
    }
    /* Which link a source part comes from. */
    size_t LinkOf(const SourcePart &source) const {
        for (size_t i = 0; i < chain_.size(); i++)
            if (source.directory == &chain_[i].directory) return i;
        return SIZE_MAX;
    }

    std::vector<std::unique_ptr<Manifest>> manifests_;
    std::vector<ChainLink> chain_;
    uint64_t object_ = 1;
};

void ExpectPieces(const SourcePart &source, std::vector<Piece> expected) {
    ASSERT_EQ(source.pieces.size(), expected.size()) << "object " << source.part->object;
    for (size_t i = 0; i < expected.size(); i++) {
        SCOPED_TRACE(i);
        EXPECT_EQ(source.pieces[i].part_offset, expected[i].part_offset);
        EXPECT_EQ(source.pieces[i].file_offset, expected[i].file_offset);
        EXPECT_EQ(source.pieces[i].length, expected[i].length);
    }
}

TEST_F(ChainTest, WholeFileComesFromTheChosenBackupAlone) {
    AddOlder("I2", {FileEntry(6, false, {}, &object_)});
    AddOlder("F", {FileEntry(8, false, {}, &object_)});
    auto sources = Plan();
    ASSERT_TRUE(sources.ok()) << sources.status().message();
    ASSERT_EQ(sources->size(), 2u);
    EXPECT_EQ(LinkOf((*sources)[0]), 0u);
    ExpectPieces((*sources)[0], {{0, 0, 4 * kBlock}});
    ExpectPieces((*sources)[1], {{0, 4 * kBlock, 2 * kBlock}});
}

TEST_F(ChainTest, NewestBackupWins) {
    AddOlder("I2", {FileEntry(8, true, {{2, 2}}, &object_)});
    AddOlder("I1", {FileEntry(8, true, {{1, 2}, {6, 1}}, &object_)});
    AddOlder("F", {FileEntry(8, false, {}, &object_)});
    auto sources = Plan();
    ASSERT_TRUE(sources.ok()) << sources.status().message();
    ASSERT_EQ(sources->size(), 4u);
    /* I2: blocks 2-3, its whole stream. */
    EXPECT_EQ(LinkOf((*sources)[0]), 0u);
    ExpectPieces((*sources)[0], {{0, 2 * kBlock, 2 * kBlock}});
    /* I1: stream is blocks 1, 2, 6; block 2 is I2's. */
    EXPECT_EQ(LinkOf((*sources)[1]), 1u);
    ExpectPieces((*sources)[1], {{0, kBlock, kBlock}, {2 * kBlock, 6 * kBlock, kBlock}});
    /* F: block 0 from its first part, 4, 5 and 7 from its second. */
    EXPECT_EQ(LinkOf((*sources)[2]), 2u);
    ExpectPieces((*sources)[2], {{0, 0, kBlock}});
    ExpectPieces((*sources)[3], {{0, 4 * kBlock, 2 * kBlock}, {3 * kBlock, 7 * kBlock, kBlock}});
    uint64_t total = 0;
    for (const SourcePart &source : *sources)
        for (const Piece &piece : source.pieces) total += piece.length;
    EXPECT_EQ(total, 8 * kBlock) << "every block exactly once";
}

TEST_F(ChainTest, TruncationIsHonoured) {
    AddOlder("I1", {FileEntry(3, true, {}, &object_)});
    AddOlder("F", {FileEntry(8, false, {}, &object_)});
    auto sources = Plan();
    ASSERT_TRUE(sources.ok()) << sources.status().message();
    ASSERT_EQ(sources->size(), 1u) << "F's second part holds nothing below the new end";
    ExpectPieces((*sources)[0], {{0, 0, 3 * kBlock}});
}

TEST_F(ChainTest, TruncatedThenExtendedTakesNewBlocksFromTheNewest) {
    /* I1 cut the file to 2 blocks; I2 has it at 6, storing the 4 new ones. */
    AddOlder("I2", {FileEntry(6, true, {{2, 4}}, &object_)});
    AddOlder("I1", {FileEntry(2, true, {}, &object_)});
    AddOlder("F", {FileEntry(8, false, {}, &object_)});
    auto sources = Plan();
    ASSERT_TRUE(sources.ok()) << sources.status().message();
    ASSERT_EQ(sources->size(), 2u);
    ExpectPieces((*sources)[0], {{0, 2 * kBlock, 4 * kBlock}});
    EXPECT_EQ(LinkOf((*sources)[1]), 2u);
    ExpectPieces((*sources)[1], {{0, 0, 2 * kBlock}});
}

TEST_F(ChainTest, UnchangedFileReadsOnlyTheFull) {
    AddOlder("I1", {FileEntry(8, true, {}, &object_)});
    AddOlder("F", {FileEntry(8, false, {}, &object_)});
    auto sources = Plan();
    ASSERT_TRUE(sources.ok());
    ASSERT_EQ(sources->size(), 2u);
    EXPECT_EQ(LinkOf((*sources)[0]), 1u);
    EXPECT_EQ(LinkOf((*sources)[1]), 1u);
}

TEST_F(ChainTest, MissingAncestorEntryIsAnError) {
    AddOlder("I1", {FileEntry(4, true, {{3, 1}}, &object_)});
    BackupEntry other = FileEntry(4, false, {}, &object_);
    other.path = "base/5/16399";
    AddOlder("F", {other});
    auto sources = Plan();
    ASSERT_FALSE(sources.ok());
    EXPECT_EQ(sources.status().kind(), ErrorKind::corrupt);
    EXPECT_NE(sources.status().message().find(
                  "backup chain supplies no data for block 0 of \"base/5/16384\" (backup F has "
                  "no such file)"),
              std::string::npos)
        << sources.status().message();
}

TEST_F(ChainTest, AncestorTooShortIsAnError) {
    AddOlder("I1", {FileEntry(4, true, {{3, 1}}, &object_)});
    AddOlder("F", {FileEntry(2, false, {}, &object_)});
    auto sources = Plan();
    ASSERT_FALSE(sources.ok());
    EXPECT_NE(sources.status().message().find("no data for block 2 of"), std::string::npos)
        << sources.status().message();
}

TEST_F(ChainTest, ChainWithoutAWholeCopyIsAnError) {
    AddOlder("I1", {FileEntry(4, true, {{3, 1}}, &object_)});
    auto sources = Plan();
    ASSERT_FALSE(sources.ok());
    EXPECT_NE(sources.status().message().find("no data for block 0"), std::string::npos);
}

}  // namespace
}  // namespace pg_ark

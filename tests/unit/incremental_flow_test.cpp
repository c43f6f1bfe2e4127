/*
 * incremental_flow_test.cpp
 *     The helper's incremental path end to end, without PostgreSQL: a full backup of a synthetic
 *     data directory by the copy engine, changes described by a block map written with the
 *     shared encoder, an incremental planned from the map and the parent's manifest, then a
 *     restore of the chain that must reproduce the data directory byte for byte. And the same
 *     with a gap in the maps: every relation file whole, still restored exactly.
 */
#include <gtest/gtest.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "backup_copy.h"
#include "block_map.h"
#include "catalog.h"
#include "changed_blocks.h"
#include "incremental_plan.h"
#include "restore.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::RandomBytes;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

constexpr uint64_t kSysid = 7301234567890123456ull;
constexpr uint64_t kPage = 8192;
constexpr const char *kRelation = "base/5/16384";
constexpr const char *kCut = "base/5/16390";

class IncrementalFlowTest : public ::testing::Test {
  protected:
    IncrementalFlowTest()
        : root_("pg_ark_incr_flow"), repository_(MakePosixStorage(root_.Sub("repo"))) {}

    void SetUp() override {
        for (const char *dir : {"repo", "pgdata", "pgdata/base", "pgdata/base/5", "pgdata/global",
                                "pgdata/pg_wal", "pgdata/pg_wal/pg_ark_blockmap"})
            ASSERT_EQ(mkdir(root_.Sub(dir).c_str(), 0700), 0) << dir;
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        ASSERT_TRUE(repository_.InitCluster("main", identity).ok());
        Put("PG_VERSION", "15\n");
        Put("global/pg_control", RandomBytes(kPage, 1));
        Put(kRelation, RandomBytes(20 * kPage, 2));
        Put(std::string(kRelation) + "_vm", RandomBytes(kPage, 3));
        Put(kCut, RandomBytes(3 * kPage, 4));
    }

    void Put(const std::string &path, const std::string &data) {
        WriteFileBytes(root_.Sub("pgdata/" + path), data, 0600);
    }
    std::string Get(const std::string &path) { return ReadFileBytes(root_.Sub("pgdata/" + path)); }

    /* Copies the data directory as a backup and commits it; returns its manifest. */
    Manifest Backup(int64_t time, BackupType type, const std::string &parent, uint64_t start_lsn,
                    const StorePlanner &planner) {
        Manifest manifest;
        BackupMetadata &m = manifest.backup;
        m.id = MakeBackupId(time, type);
        m.type = type;
        m.parent = parent;
        m.cluster = "main";
        m.system_identifier = kSysid;
        m.pg_version = "15";
        m.start_lsn = start_lsn;
        m.stop_lsn = start_lsn + 0x100;
        m.timeline = m.stop_timeline = 1;
        m.start_time = time;
        m.stop_time = time + 1;
        m.block_size = kPage;
        CopyOptions options;
        options.pgdata = root_.Sub("pgdata");
        options.start_lsn = start_lsn;
        options.part_size = 4 * kPage; /* several parts per file */
        options.workers = 3;
        options.planner = planner;
        m.part_size = options.part_size;
        Catalog catalog(&repository_, "main");
        EXPECT_TRUE(catalog.WriteBackupInfo(m).ok());
        auto directory = Catalog::BackupDirectory("main", m.id);
        auto entries = CopyDataDirectory(repository_.storage(), *directory, options, nullptr);
        EXPECT_TRUE(entries.ok()) << entries.status().message();
        manifest.entries = std::move(*entries);
        CountTotals(&manifest);
        Status written = catalog.WriteManifest(manifest);
        EXPECT_TRUE(written.ok()) << written.message();
        return manifest;
    }

    /* A map of [start, end) saying 16384 blocks 3 and 15 changed and 16390 was cut to 1 block. */
    void WriteMap(uint64_t start, uint64_t end) {
        blockmap::FileHeader header = blockmap::MakeHeader(1, kSysid, start, end, 2);
        std::string bytes;
        blockmap::Encoder encoder(pg_ark_test::AppendToString, &bytes);
        ASSERT_TRUE(encoder.Begin(header));
        blockmap::BlockRange changed[] = {{3, 1}, {15, 1}};
        ASSERT_TRUE(encoder.AddEntry({1663, 5, 16384, 0, blockmap::kNoLimit, 2}, changed));
        ASSERT_TRUE(encoder.AddEntry({1663, 5, 16390, 0, 1, 0}, nullptr));
        ASSERT_TRUE(encoder.Finish());
        char name[blockmap::kFileNameSize];
        blockmap::FormatFileName(start, end, name);
        WriteFileBytes(root_.Sub(std::string("pgdata/") + blockmap::kDirectory + "/" + name), bytes,
                       0600);
    }

    /* What the workload does after the full backup. */
    void ChangeData() {
        std::string relation = Get(kRelation);
        relation.replace(3 * kPage, kPage, RandomBytes(kPage, 10));
        relation.replace(15 * kPage, kPage, RandomBytes(kPage, 11));
        relation += RandomBytes(2 * kPage, 12); /* extension: not in the map */
        Put(kRelation, relation);
        Put(kCut, Get(kCut).substr(0, kPage));
        Put(std::string(kRelation) + "_vm", RandomBytes(kPage, 13));
        Put("base/5/16400", RandomBytes(2 * kPage, 14));
    }

    StorePlanner Planner(const Manifest &parent, uint64_t from, uint64_t to) {
        changes_ = LoadChangedBlocks(root_.Sub("pgdata"), kSysid, from, to, 16u << 20);
        parent_sizes_.clear();
        for (const BackupEntry &entry : parent.entries)
            if (entry.kind == EntryKind::file) parent_sizes_[entry.path] = entry.size;
        PlanInput input;
        input.changes = &changes_;
        input.parent_sizes = &parent_sizes_;
        input.block_size = kPage;
        input.segment_blocks = 131072;
        return [input](const SourceEntry &source) { return PlanFile(source, input); };
    }

    void ExpectRestoredEqualsSource() {
        RestoreOptions options;
        options.config_path = "/etc/pg_ark.conf";
        options.pg_ark_binary = "/usr/local/bin/pg_ark";
        options.cluster = "main";
        options.pgdata = root_.Sub("restored");
        options.workers = 3;
        auto result = Restore(repository_, options);
        ASSERT_TRUE(result.ok()) << result.status().message();
        for (const char *path : {"PG_VERSION", "global/pg_control", kRelation, "base/5/16384_vm",
                                 kCut, "base/5/16400"}) {
            SCOPED_TRACE(path);
            EXPECT_TRUE(ReadFileBytes(root_.Sub(std::string("restored/") + path)) == Get(path));
        }
    }

    const BackupEntry &Entry(const Manifest &manifest, const std::string &path) {
        for (const BackupEntry &entry : manifest.entries)
            if (entry.path == path) return entry;
        throw std::runtime_error("no entry " + path);
    }

    TempDir root_;
    Repository repository_;
    ChangedBlocks changes_;
    std::map<std::string, uint64_t> parent_sizes_;
};

TEST_F(IncrementalFlowTest, IncrementalStoresChangedBlocksAndRestoresExactly) {
    Manifest full = Backup(1763789473, BackupType::full, "", 0x1000, nullptr);
    ChangeData();
    WriteMap(0x800, 0x1800);
    WriteMap(0x1800, 0x2400);
    Manifest incremental =
        Backup(1763789573, BackupType::incremental, full.backup.id, 0x2000,
               Planner(full, 0x1000, 0x2000));
    EXPECT_EQ(changes_.fallback, "");
    const BackupEntry &relation = Entry(incremental, kRelation);
    ASSERT_TRUE(relation.stored_as_blocks) << relation.reason;
    EXPECT_EQ(relation.blocks, (BlockRuns{{3, 1}, {15, 1}, {20, 2}}));
    const BackupEntry &cut = Entry(incremental, kCut);
    ASSERT_TRUE(cut.stored_as_blocks);
    EXPECT_TRUE(cut.blocks.empty());
    EXPECT_EQ(cut.size, kPage);
    EXPECT_FALSE(Entry(incremental, "base/5/16384_vm").stored_as_blocks);
    EXPECT_EQ(Entry(incremental, "base/5/16400").reason, "new file");
    EXPECT_EQ(incremental.backup.block_files, 2u);
    ExpectRestoredEqualsSource();
}

TEST_F(IncrementalFlowTest, GapMakesRelationFilesWholeAndStillRestoresExactly) {
    Manifest full = Backup(1763789473, BackupType::full, "", 0x1000, nullptr);
    ChangeData();
    WriteMap(0x800, 0x1400);
    WriteMap(0x1800, 0x2400); /* 0x1400-0x1800 untracked */
    Manifest incremental =
        Backup(1763789573, BackupType::incremental, full.backup.id, 0x2000,
               Planner(full, 0x1000, 0x2000));
    EXPECT_EQ(changes_.fallback, "gap in block tracking from 0/1400 to 0/1800");
    EXPECT_EQ(incremental.backup.block_files, 0u);
    EXPECT_EQ(Entry(incremental, kRelation).reason, changes_.fallback);
    ExpectRestoredEqualsSource();
}

}  // namespace
}  // namespace pg_ark

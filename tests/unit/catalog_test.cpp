/*
 * catalog_test.cpp
 *     Tests of the backup catalog (helper/src/catalog.h) on a posix repository: ids, the layout,
 *     how backups are classified, the index as a cache that never lies for long, damaged
 *     manifests and removing a failed backup's parts.
 */
#include "catalog.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::PathExists;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

constexpr int64_t kStart = 1795325473; /* 2026-11-22 05:31:13 UTC */

BackupMetadata Info(const std::string &id, const std::string &label = "") {
    BackupMetadata m;
    m.id = id;
    m.type = BackupType::full;
    m.label = label;
    m.cluster = "main";
    m.system_identifier = 7301234567890123456ull;
    m.pg_version = "15";
    m.start_lsn = 0x3000028;
    m.timeline = 1;
    m.start_time = kStart;
    m.wal_start = "000000010000000000000003";
    m.compression = {CompressType::zstd, 1};
    return m;
}

Manifest CompleteManifest(const std::string &id) {
    Manifest manifest;
    manifest.backup = Info(id, "done");
    manifest.backup.stop_lsn = 0x3000100;
    manifest.backup.stop_time = kStart + 60;
    BackupEntry base;
    base.path = "base";
    base.kind = EntryKind::directory;
    BackupEntry version;
    version.path = "PG_VERSION";
    version.size = 3;
    version.parts.push_back({1, 0, 3, 110, Sha256Of("15\n", 3)});
    manifest.entries = {version, base};
    CountTotals(&manifest);
    return manifest;
}

class CatalogTest : public ::testing::Test {
  protected:
    CatalogTest()
        : dir_("pg_ark_catalog"), repository_(MakePosixStorage(dir_.path())),
          catalog_(&repository_, "main") {}

    void MakeComplete(const std::string &id) {
        ASSERT_TRUE(catalog_.WriteBackupInfo(Info(id)).ok());
        Status written = catalog_.WriteManifest(CompleteManifest(id));
        ASSERT_TRUE(written.ok()) << written.message();
    }
    void MakeFailed(const std::string &id, const std::string &reason) {
        ASSERT_TRUE(catalog_.WriteBackupInfo(Info(id, "broken")).ok());
        ASSERT_TRUE(catalog_.WriteFailure(id, reason).ok());
    }
    void MakeIncomplete(const std::string &id) {
        ASSERT_TRUE(catalog_.WriteBackupInfo(Info(id)).ok());
    }
    std::vector<CatalogEntry> List(bool backup_running) {
        Result<std::vector<CatalogEntry>> entries = catalog_.List(backup_running);
        EXPECT_TRUE(entries.ok()) << entries.status().message();
        return entries.ok() ? *entries : std::vector<CatalogEntry>{};
    }
    std::string Path(const std::string &relative) { return dir_.Sub("main/" + relative); }

    TempDir dir_;
    Repository repository_;
    Catalog catalog_;
};

TEST(BackupIdTest, MakeAndValidate) {
    EXPECT_EQ(MakeBackupId(kStart, BackupType::full), "20261122-053113F");
    EXPECT_EQ(MakeBackupId(kStart, BackupType::incremental), "20261122-053113I");
    EXPECT_EQ(MakeBackupId(0, BackupType::differential), "19700101-000000D");
    for (const char *id : {"20261122-053113F", "20261122-053113I", "20261122-053113D",
                           "20261122-053113F_2", "20261122-053113F_99"})
        EXPECT_TRUE(IsValidBackupId(id)) << id;
    for (const char *id :
         {"", "20261122-053113", "20261122-053113X", "20261122_053113F", "2026112a-053113F",
          "20261122-053113F_1", "20261122-053113F_0", "20261122-053113F_02", "20261122-053113F_100",
          "20261122-053113F_", "20261122-053113F2", "../20261122-053113F", "20261122-053113F/x",
          " 20261122-053113F"})
        EXPECT_FALSE(IsValidBackupId(id)) << id;
}

TEST(BackupIdTest, DirectoryLayout) {
    Result<RepoPath> directory = Catalog::BackupDirectory("main", "20261122-053113F");
    ASSERT_TRUE(directory.ok());
    EXPECT_EQ(directory->str(), "main/backup/20261122-053113F");
    EXPECT_EQ(Catalog::BackupDirectory("main", "..").status().kind(), ErrorKind::invalid_argument);
    EXPECT_EQ(Catalog::BackupDirectory("..", "20261122-053113F").status().kind(),
              ErrorKind::invalid_argument);
}

TEST_F(CatalogTest, EmptyCatalog) {
    EXPECT_TRUE(List(false).empty());
    Result<CatalogEntry> latest = catalog_.Latest(false);
    EXPECT_EQ(latest.status().kind(), ErrorKind::not_found);
}

TEST_F(CatalogTest, ClassifiesCompleteFailedAndRunning) {
    MakeComplete("20261122-000000F");
    MakeIncomplete("20261122-010000F");  // the helper died during it
    MakeFailed("20261122-020000F", "disk full");
    MakeIncomplete("20261122-030000F");  // the newest: running while the lock is held
    ASSERT_TRUE(PathExists(Path("backup/20261122-030000F/backup.info")));

    std::vector<CatalogEntry> stopped = List(false);
    ASSERT_EQ(stopped.size(), 4u);
    EXPECT_EQ(stopped[0].backup.id, "20261122-000000F");
    EXPECT_EQ(stopped[0].status, BackupStatus::complete);
    EXPECT_EQ(stopped[0].backup.label, "done") << "metadata of a complete backup is the manifest's";
    EXPECT_EQ(stopped[0].backup.original_bytes, 3u);
    EXPECT_EQ(stopped[1].status, BackupStatus::failed);
    EXPECT_EQ(stopped[1].error, "the helper stopped before the backup finished");
    EXPECT_EQ(stopped[2].status, BackupStatus::failed);
    EXPECT_EQ(stopped[2].error, "disk full");
    EXPECT_EQ(stopped[2].backup.label, "broken");
    EXPECT_EQ(stopped[3].status, BackupStatus::failed);

    std::vector<CatalogEntry> running = List(true);
    ASSERT_EQ(running.size(), 4u);
    EXPECT_EQ(running[1].status, BackupStatus::failed) << "only the newest can be running";
    EXPECT_EQ(running[3].status, BackupStatus::running);
    EXPECT_EQ(running[3].error, "");

    Result<CatalogEntry> latest = catalog_.Latest(true);
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->backup.id, "20261122-000000F");
    Result<CatalogEntry> got = catalog_.Get("20261122-020000F", false);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->error, "disk full");
}

TEST_F(CatalogTest, GetNamesWhatIsMissing) {
    MakeComplete("20261122-000000F");
    Result<CatalogEntry> missing = catalog_.Get("20261122-000001F", false);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().kind(), ErrorKind::not_found);
    EXPECT_NE(missing.status().message().find("\"20261122-000001F\""), std::string::npos);
    EXPECT_NE(missing.status().message().find("\"main\""), std::string::npos);
    EXPECT_EQ(catalog_.Get("../x", false).status().kind(), ErrorKind::invalid_argument);
}

TEST_F(CatalogTest, SuffixesSortAfterTheirBase) {
    for (const char *id : {"20261122-000000F_10", "20261122-000000F", "20261122-000000F_2"})
        MakeFailed(id, "x");
    std::vector<CatalogEntry> entries = List(false);
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].backup.id, "20261122-000000F");
    EXPECT_EQ(entries[1].backup.id, "20261122-000000F_2");
    EXPECT_EQ(entries[2].backup.id, "20261122-000000F_10");
}

TEST_F(CatalogTest, IgnoresDirectoriesThatAreNotBackups) {
    MakeComplete("20261122-000000F");
    ASSERT_EQ(mkdir(Path("backup/junk").c_str(), 0750), 0);
    std::vector<CatalogEntry> entries = List(false);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].backup.id, "20261122-000000F");
}

TEST_F(CatalogTest, IndexIsRebuiltWhenDeletedOrStale) {
    MakeComplete("20261122-000000F");
    MakeFailed("20261122-010000F", "disk full");
    ASSERT_EQ(List(false).size(), 2u);
    ASSERT_TRUE(PathExists(Path("backup.index")));

    ASSERT_EQ(unlink(Path("backup.index").c_str()), 0);
    std::vector<CatalogEntry> rebuilt = List(false);
    ASSERT_EQ(rebuilt.size(), 2u);
    EXPECT_EQ(rebuilt[1].error, "disk full");
    EXPECT_TRUE(PathExists(Path("backup.index")));

    MakeIncomplete("20261122-020000F");  // a directory the index does not name
    std::vector<CatalogEntry> grown = List(false);
    ASSERT_EQ(grown.size(), 3u);
    EXPECT_EQ(grown[2].backup.id, "20261122-020000F");
    EXPECT_NE(ReadFileBytes(Path("backup.index")).find("20261122-020000F"), std::string::npos);

    std::string stored = ReadFileBytes(Path("backup.index"));
    stored[stored.size() / 2] ^= 0x20;
    WriteFileBytes(Path("backup.index"), stored);
    EXPECT_EQ(List(false).size(), 3u) << "a damaged index is rebuilt, not reported";
    Result<std::string> index =
        ReadWholeObject(repository_.storage(), *RepoPath::Make("main/backup.index"));
    EXPECT_TRUE(index.ok()) << index.status().message();
}

TEST_F(CatalogTest, IndexNeverHoldsARunningBackup) {
    MakeComplete("20261122-000000F");
    MakeIncomplete("20261122-010000F");
    ASSERT_EQ(unlink(Path("backup.index").c_str()), 0);
    std::vector<CatalogEntry> running = List(true);
    ASSERT_EQ(running.size(), 2u);
    EXPECT_EQ(running[1].status, BackupStatus::running);
    EXPECT_FALSE(PathExists(Path("backup.index")));
    EXPECT_TRUE(catalog_.RebuildIndex(true).ok());
    EXPECT_FALSE(PathExists(Path("backup.index")));
}

/* Someone probes the lock just before a backup takes it, then lists after it made its directory. */
TEST_F(CatalogTest, IndexWrittenJustBeforeABackupStartedDoesNotHideIt) {
    MakeComplete("20261122-000000F");
    MakeIncomplete("20261122-010000F");
    ASSERT_EQ(List(false)[1].status, BackupStatus::failed);
    ASSERT_TRUE(PathExists(Path("backup.index")));
    EXPECT_EQ(List(true)[1].status, BackupStatus::running);
}

TEST_F(CatalogTest, DamagedManifestIsCorrupt) {
    MakeComplete("20261122-000000F");
    std::string file = Path("backup/20261122-000000F/backup.manifest");
    std::string stored = ReadFileBytes(file);
    stored[kObjectHeaderSize + 5] ^= 0x01;
    WriteFileBytes(file, stored);
    ASSERT_EQ(unlink(Path("backup.index").c_str()), 0);

    Result<Manifest> manifest = catalog_.LoadManifest("20261122-000000F");
    ASSERT_FALSE(manifest.ok());
    EXPECT_EQ(manifest.status().kind(), ErrorKind::corrupt);
    EXPECT_NE(manifest.status().message().find("20261122-000000F/backup.manifest"),
              std::string::npos)
        << manifest.status().message();

    std::vector<CatalogEntry> entries = List(false);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].status, BackupStatus::failed) << "never offered for restore";
    EXPECT_NE(entries[0].error.find("corrupt"), std::string::npos) << entries[0].error;
    EXPECT_EQ(catalog_.Latest(false).status().kind(), ErrorKind::not_found);
}

TEST_F(CatalogTest, ManifestOfAnotherBackupIsCorrupt) {
    MakeComplete("20261122-000000F");
    MakeIncomplete("20261122-010000F");
    WriteFileBytes(Path("backup/20261122-010000F/backup.manifest"),
                   ReadFileBytes(Path("backup/20261122-000000F/backup.manifest")));
    Result<Manifest> manifest = catalog_.LoadManifest("20261122-010000F");
    ASSERT_FALSE(manifest.ok());
    EXPECT_EQ(manifest.status().kind(), ErrorKind::corrupt);
    EXPECT_NE(manifest.status().message().find("describes backup \"20261122-000000F\""),
              std::string::npos)
        << manifest.status().message();

    Result<Manifest> complete = catalog_.LoadManifest("20261122-000000F");
    ASSERT_TRUE(complete.ok()) << complete.status().message();
    EXPECT_EQ(complete->entries.size(), 2u);
    EXPECT_EQ(catalog_.LoadManifest("20261122-020000F").status().kind(), ErrorKind::not_found);
}

TEST_F(CatalogTest, RecordsAreWrittenOnce) {
    MakeComplete("20261122-000000F");
    Status again = catalog_.WriteBackupInfo(Info("20261122-000000F"));
    EXPECT_EQ(again.kind(), ErrorKind::conflict);
    EXPECT_NE(again.message().find("20261122-000000F"), std::string::npos);
    EXPECT_EQ(catalog_.WriteManifest(CompleteManifest("20261122-000000F")).kind(),
              ErrorKind::conflict);

    MakeFailed("20261122-010000F", "first reason");
    EXPECT_TRUE(catalog_.WriteFailure("20261122-010000F", "second reason").ok());
    EXPECT_EQ(List(false)[1].error, "first reason");
}

TEST_F(CatalogTest, WriteManifestRefusesWhatCouldNotBeRestored) {
    MakeIncomplete("20261122-000000F");
    Manifest unsorted = CompleteManifest("20261122-000000F");
    std::swap(unsorted.entries[0], unsorted.entries[1]);
    EXPECT_EQ(catalog_.WriteManifest(unsorted).kind(), ErrorKind::invalid_argument);
    Manifest latin1 = CompleteManifest("20261122-000000F");
    latin1.entries[0].path = "PG_VERSION\xe9";
    Status refused = catalog_.WriteManifest(latin1);
    EXPECT_EQ(refused.kind(), ErrorKind::invalid_argument);
    EXPECT_NE(refused.message().find("UTF-8"), std::string::npos) << refused.message();
    EXPECT_FALSE(PathExists(Path("backup/20261122-000000F/backup.manifest")));
}

/* Ids order by second and suffix: two types in one second must not share both. */
TEST_F(CatalogTest, SameSecondOfAnotherTypeIsTaken) {
    MakeComplete("20261122-000000I");
    BackupMetadata full = Info("20261122-000000F");
    Status again = catalog_.WriteBackupInfo(full);
    EXPECT_EQ(again.kind(), ErrorKind::conflict) << again.message();
    full.id = "20261122-000000F_2";
    ASSERT_TRUE(catalog_.WriteBackupInfo(full).ok());
    std::vector<CatalogEntry> entries = List(false);
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0].backup.id, "20261122-000000I");
    EXPECT_EQ(entries[1].backup.id, "20261122-000000F_2");
}

TEST_F(CatalogTest, RemovePartsOfAFailedBackup) {
    const std::string id = "20261122-010000F";
    MakeFailed(id, "cancelled");
    Storage &storage = repository_.storage();
    for (uint64_t object : {1, 2}) {
        RepoPath part = *RepoPath::Make("main/backup/" + id + "/" + PartObjectName(object));
        ASSERT_TRUE(
            WriteWholeObject(storage, part, "bytes", kUncompressed, WriteMode::create_new).ok());
    }
    /* What a helper killed in the middle of writing a part leaves behind. */
    WriteFileBytes(Path("backup/" + id + "/data/.00000003.ark.0123456789abcdef.tmp"), "half");

    Status removed = catalog_.RemoveParts(id);
    ASSERT_TRUE(removed.ok()) << removed.message();
    EXPECT_FALSE(PathExists(Path("backup/" + id + "/data")));
    EXPECT_TRUE(PathExists(Path("backup/" + id + "/backup.info")));
    EXPECT_TRUE(PathExists(Path("backup/" + id + "/backup.failed")));
    std::vector<CatalogEntry> entries = List(false);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].error, "cancelled");
    EXPECT_TRUE(catalog_.RemoveParts(id).ok()) << "nothing left to remove is fine";
}

TEST_F(CatalogTest, RemovePartsRefusesACompleteBackup) {
    const std::string id = "20261122-000000F";
    MakeComplete(id);
    RepoPath part = *RepoPath::Make("main/backup/" + id + "/" + PartObjectName(1));
    ASSERT_TRUE(
        WriteWholeObject(repository_.storage(), part, "15\n", kUncompressed, WriteMode::create_new)
            .ok());
    EXPECT_EQ(catalog_.RemoveParts(id).kind(), ErrorKind::conflict);
    EXPECT_TRUE(PathExists(Path("backup/" + id + "/data/00000001.ark")));
}

}  // namespace
}  // namespace pg_ark

/*
 * restore_test.cpp
 *     Tests of `pg_ark restore` (helper/src/restore.h) on repositories built by hand: parts
 *     written through ObjectEncoder, a manifest written through the catalog. A restore must
 *     reproduce every byte, mode, mtime and link, put tablespaces at their (remapped) locations,
 *     refuse a non-empty target or an unknown --tablespace-map, and fail loudly on a corrupt or
 *     swapped part, naming the file, with global/pg_control never written.
 */
#include "restore.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backup_lock.h"
#include "catalog.h"
#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::ListAllEntries;
using pg_ark_test::PathExists;
using pg_ark_test::RandomBytes;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

constexpr uint64_t kSysid = 7301234567890123456ull;
constexpr const char *kCluster = "main";
constexpr const char *kTablespaceLink = "pg_tblspc/16385";
constexpr const char *kOriginalTablespace = "/original/location/ts1";
constexpr const char *kBigFile = "base/5/16384";
constexpr uint64_t kPartSize = 100000;

/* What a file of the backup held, to compare with what the restore wrote. */
struct SourceFile {
    std::string content;
    uint32_t mode;
    int64_t mtime;
};

/* Builds one backup in a repository, the way the backup engine will. */
class BackupBuilder {
  public:
    BackupBuilder(Repository *repository, int64_t start_time, uint64_t system_identifier = kSysid,
                  BackupType type = BackupType::full, const std::string &parent = "")
        : repository_(repository) {
        manifest_.backup.id = MakeBackupId(start_time, type);
        manifest_.backup.type = type;
        manifest_.backup.parent = parent;
        manifest_.backup.label = "test";
        manifest_.backup.cluster = kCluster;
        manifest_.backup.system_identifier = system_identifier;
        manifest_.backup.pg_version = "15";
        manifest_.backup.start_lsn = 0x3000028;
        manifest_.backup.stop_lsn = 0x3000100;
        manifest_.backup.timeline = 1;
        manifest_.backup.stop_timeline = 1;
        manifest_.backup.start_time = start_time;
        manifest_.backup.stop_time = start_time + 5;
        manifest_.backup.wal_start = "000000010000000000000003";
        manifest_.backup.wal_stop = "000000010000000000000003";
        manifest_.backup.data_checksums = true;
        manifest_.backup.compression = Compression{};
        manifest_.backup.part_size = kPartSize;
        manifest_.backup.helper_version = PG_ARK_VERSION;
    }

    const std::string &id() const { return manifest_.backup.id; }
    const std::map<std::string, SourceFile> &files() const { return files_; }

    /* Applied by Commit to the manifest as built (say, to make it look like an older one's). */
    std::function<void(Manifest *)> edit_manifest;

    void Directory(const std::string &path, uint32_t mode = 0700) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::directory;
        entry.mode = mode;
        entry.mtime = 1700000000;
        manifest_.entries.push_back(entry);
    }

    void Link(const std::string &path, const std::string &target) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::symlink;
        entry.mode = 0777;
        entry.mtime = 1700000000;
        entry.link_target = target;
        manifest_.entries.push_back(entry);
    }


    /* Stores content as parts of part_size bytes (none for an empty file). */
    void File(const std::string &path, const std::string &content, uint32_t mode = 0600,
              int64_t mtime = 1700000123) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::file;
        entry.mode = mode;
        entry.mtime = mtime;
        entry.size = content.size();
        uint64_t part_size = manifest_.backup.part_size;
        for (uint64_t offset = 0; offset < content.size(); offset += part_size) {
            uint64_t size = std::min<uint64_t>(part_size, content.size() - offset);
            entry.parts.push_back(StorePart(content.substr(offset, size), offset));
        }
        manifest_.entries.push_back(entry);
        files_[path] = {content, mode, mtime};
    }

    /*
     * A file of an incremental stored as the given blocks of content (its full final content),
     * the stream cut into parts of part_size bytes.
     */
    void BlocksFile(const std::string &path, const std::string &content, BlockRuns blocks) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::file;
        entry.mode = 0600;
        entry.mtime = 1700000123;
        entry.size = content.size();
        entry.stored_as_blocks = true;
        entry.blocks = blocks;
        const uint64_t block = manifest_.backup.block_size;
        std::string stream;
        for (const BlockRun &run : blocks)
            stream += content.substr(run.first * block, run.count * block);
        uint64_t part_size = manifest_.backup.part_size;
        for (uint64_t offset = 0; offset < stream.size(); offset += part_size) {
            uint64_t size = std::min<uint64_t>(part_size, stream.size() - offset);
            entry.parts.push_back(StorePart(stream.substr(offset, size), offset));
        }
        manifest_.entries.push_back(entry);
        files_[path] = {content, 0600, 1700000123};
    }

    /* A valid object holding data, stored under the next object number. */
    BackupPart StorePart(const std::string &data, uint64_t offset) {
        BackupPart part;
        part.object = next_object_++;
        part.offset = offset;
        part.size = data.size();
        Storage &storage = repository_->storage();
        auto directory = Catalog::BackupDirectory(kCluster, id());
        EXPECT_TRUE(directory.ok());
        auto path = directory->Join(PartObjectName(part.object));
        EXPECT_TRUE(path.ok());
        auto stream = storage.OpenWrite(*path, WriteMode::create_new);
        EXPECT_TRUE(stream.ok()) << stream.status().message();
        ObjectEncoder encoder(manifest_.backup.compression, stream->get());
        EXPECT_TRUE(encoder.Update(data.data(), data.size()).ok());
        EXPECT_TRUE(encoder.Finish().ok());
        EXPECT_TRUE((*stream)->Close().ok());
        part.stored_size = encoder.summary().stored_size;
        part.sha256 = encoder.summary().original_sha256;
        part.stored_sha256 = encoder.summary().stored_sha256;
        part.xxh128 = encoder.summary().original_xxh128;
        part.has_xxh128 = encoder.summary().has_original_xxh128;
        return part;
    }

    /* Writes backup.info and the manifest: the backup is then complete. */
    void Commit() {
        std::sort(manifest_.entries.begin(), manifest_.entries.end(),
                  [](const BackupEntry &a, const BackupEntry &b) { return a.path < b.path; });
        if (edit_manifest) edit_manifest(&manifest_);
        CountTotals(&manifest_);
        BackupMetadata &backup = manifest_.backup;
        Catalog catalog(repository_, kCluster);
        Status info = catalog.WriteBackupInfo(backup);
        ASSERT_TRUE(info.ok()) << info.message();
        Status written = catalog.WriteManifest(manifest_);
        ASSERT_TRUE(written.ok()) << written.message();
    }

    /* The stored object of a file's part, as a path on disk below repo_root. */
    std::string ObjectPath(const std::string &repo_root, const std::string &file,
                           size_t part) const {
        for (const BackupEntry &entry : manifest_.entries) {
            if (entry.path != file) continue;
            auto directory = Catalog::BackupDirectory(kCluster, id());
            return repo_root + "/" + directory->str() + "/" +
                   PartObjectName(entry.parts.at(part).object);
        }
        ADD_FAILURE() << "no file " << file;
        return "";
    }

  private:
    Repository *repository_;
    Manifest manifest_;
    std::map<std::string, SourceFile> files_;
    uint64_t next_object_ = 1;
};

class RestoreTest : public ::testing::Test {
  protected:
    RestoreTest()
        : repo_dir_("pg_ark_restore_repo"),
          target_dir_("pg_ark_restore_target"),
          tablespace_dir_("pg_ark_restore_ts"),
          repository_(MakePosixStorage(repo_dir_.path())) {}

    void SetUp() override {
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        auto init = repository_.InitCluster(kCluster, identity);
        ASSERT_TRUE(init.ok()) << init.status().message();
    }

    /* A small data directory with everything restore must handle. */
    void BuildTypicalBackup(BackupBuilder *backup) {
        backup->Directory("base");
        backup->Directory("base/1");
        backup->Directory("base/5", 0750);
        backup->Directory("global");
        backup->Directory("pg_tblspc");
        backup->Directory("pg_wal");
        backup->Directory("pg_wal/archive_status");
        backup->File("PG_VERSION", "15\n");
        backup->File("postgresql.conf", "shared_buffers = 128MB\n", 0640, 1700000001);
        backup->File("postgresql.auto.conf",
                     "# Do not edit this file manually!\n"
                     "work_mem = '64MB'\n"
                     "restore_command = 'cp /old/%f %p'\n"
                     "recovery_target_time = '2026-01-01 00:00:00'\n");
        backup->File("backup_label", "START WAL LOCATION: 0/3000028\n");
        backup->File("base/1/1259", RandomBytes(8192, 1));
        backup->File(kBigFile, RandomBytes(2 * kPartSize + 1234, 2), 0600, 1700000999);
        backup->File("base/5/empty", "");
        backup->File("base/5/readonly", "read only\n", 0400);
        backup->File("global/pg_control", RandomBytes(8192, 3));
        backup->Link("log", "/var/log/postgresql");
        backup->Link(kTablespaceLink, kOriginalTablespace);
        backup->Directory(std::string(kTablespaceLink) + "/PG_15_202209061");
        backup->Directory(std::string(kTablespaceLink) + "/PG_15_202209061/5");
        backup->File(std::string(kTablespaceLink) + "/PG_15_202209061/5/16390",
                     RandomBytes(kPartSize + 7, 4));
        backup->Commit();
    }

    RestoreOptions Options() const {
        RestoreOptions options;
        options.config_path = "/etc/pg_ark.conf";
        options.pg_ark_binary = "/usr/local/bin/pg_ark";
        options.cluster = kCluster;
        options.lock_directory = repo_dir_.path(); /* a posix repository holds its locks */
        options.pgdata = target_dir_.Sub("data");
        options.tablespace_map[kOriginalTablespace] = tablespace_dir_.Sub("ts1");
        options.workers = 2;
        return options;
    }

    /* Where a backup path ends up after a restore with Options(). */
    std::string Restored(const std::string &path) const {
        std::string prefix = std::string(kTablespaceLink) + "/";
        if (path.compare(0, prefix.size(), prefix) == 0)
            return tablespace_dir_.Sub("ts1/" + path.substr(prefix.size()));
        return target_dir_.Sub("data/" + path);
    }

    TempDir repo_dir_;
    TempDir target_dir_;
    TempDir tablespace_dir_;
    Repository repository_;
};

struct stat Lstat(const std::string &path) {
    struct stat st {};
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st;
}

std::string ReadLink(const std::string &path) {
    char buffer[4096];
    ssize_t n = readlink(path.c_str(), buffer, sizeof buffer);
    EXPECT_GT(n, 0) << path;
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

void FlipByte(const std::string &path, off_t offset) {
    std::string data = ReadFileBytes(path);
    ASSERT_LT(static_cast<size_t>(offset), data.size());
    data[static_cast<size_t>(offset)] ^= 0x40;
    WriteFileBytes(path, data, 0640);
}

void ExpectNames(const std::string &message, std::initializer_list<std::string> words) {
    for (const std::string &word : words)
        EXPECT_NE(message.find(word), std::string::npos)
            << "\"" << word << "\" not in: " << message;
}

TEST_F(RestoreTest, RestoresEveryByteModeMtimeAndLink) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);

    auto result = Restore(repository_, Options());
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->backup_id, backup.id());
    EXPECT_EQ(result->files, backup.files().size());
    uint64_t bytes = 0;
    for (const auto &[path, file] : backup.files()) bytes += file.content.size();
    EXPECT_EQ(result->bytes, bytes);

    for (const auto &[path, file] : backup.files()) {
        SCOPED_TRACE(path);
        if (path == "postgresql.auto.conf") continue; /* rewritten; see below */
        struct stat st = Lstat(Restored(path));
        ASSERT_TRUE(S_ISREG(st.st_mode));
        EXPECT_EQ(ReadFileBytes(Restored(path)), file.content);
        EXPECT_EQ(st.st_mode & 07777, file.mode);
        EXPECT_EQ(st.st_mtime, file.mtime);
    }
    struct stat data = Lstat(target_dir_.Sub("data"));
    EXPECT_EQ(data.st_mode & 07777, 0700u);
    EXPECT_EQ(Lstat(Restored("base/5")).st_mode & 07777, 0750u);
    EXPECT_EQ(Lstat(Restored("base/1")).st_mode & 07777, 0700u);
    EXPECT_TRUE(S_ISDIR(Lstat(Restored("pg_wal/archive_status")).st_mode));

    EXPECT_TRUE(S_ISLNK(Lstat(Restored("log")).st_mode));
    EXPECT_EQ(ReadLink(Restored("log")), "/var/log/postgresql");
    EXPECT_TRUE(S_ISLNK(Lstat(target_dir_.Sub("data/pg_tblspc/16385")).st_mode));
    EXPECT_EQ(ReadLink(target_dir_.Sub("data/pg_tblspc/16385")), tablespace_dir_.Sub("ts1"));
    EXPECT_EQ(ListAllEntries(tablespace_dir_.path()), std::vector<std::string>{"ts1"});
    EXPECT_EQ(ListAllEntries(tablespace_dir_.Sub("ts1")),
              std::vector<std::string>{"PG_15_202209061"});
    EXPECT_FALSE(PathExists(kOriginalTablespace));

    EXPECT_EQ(ReadFileBytes(Restored("recovery.signal")), "");
    EXPECT_EQ(ReadFileBytes(Restored("postgresql.auto.conf")),
              "# Do not edit this file manually!\n"
              "work_mem = '64MB'\n"
              "# added by pg_ark restore of backup " +
                  backup.id() +
                  "\n"
                  "restore_command = '/usr/local/bin/pg_ark archive-get --config /etc/pg_ark.conf "
                  "--cluster main %f \"%p\"'\n");
}

TEST_F(RestoreTest, NewestCompleteBackupByDefaultAndSetPicksAnother) {
    BackupBuilder older(&repository_, 1763789473);
    older.Directory("global");
    older.File("global/pg_control", "old control");
    older.Commit();
    BackupBuilder newer(&repository_, 1763799999);
    newer.Directory("global");
    newer.File("global/pg_control", "new control");
    newer.Commit();

    RestoreOptions options = Options();
    options.tablespace_map.clear();
    auto result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->backup_id, newer.id());
    EXPECT_EQ(ReadFileBytes(target_dir_.Sub("data/global/pg_control")), "new control");

    options.pgdata = target_dir_.Sub("other");
    options.set = older.id();
    result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->backup_id, older.id());
    EXPECT_EQ(ReadFileBytes(target_dir_.Sub("other/global/pg_control")), "old control");
}

TEST_F(RestoreTest, EmptyExistingTargetIsUsedAndKeepsItsMode) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    ASSERT_EQ(mkdir(target_dir_.Sub("data").c_str(), 0750), 0);
    ASSERT_EQ(chmod(target_dir_.Sub("data").c_str(), 0750), 0);
    auto result = Restore(repository_, Options());
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(Lstat(target_dir_.Sub("data")).st_mode & 07777, 0750u);
    EXPECT_TRUE(PathExists(Restored("global/pg_control")));
}

TEST_F(RestoreTest, NonEmptyTargetRefusedUntouched) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    ASSERT_EQ(mkdir(target_dir_.Sub("data").c_str(), 0700), 0);
    WriteFileBytes(target_dir_.Sub("data/.keep"), "mine");

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    ExpectNames(result.status().message(),
                {"target directory \"" + target_dir_.Sub("data") + "\" is not empty",
                 "restore needs an empty or absent directory"});
    EXPECT_EQ(ListAllEntries(target_dir_.Sub("data")), std::vector<std::string>{".keep"});
    EXPECT_TRUE(ListAllEntries(tablespace_dir_.path()).empty());
}

TEST_F(RestoreTest, TargetThatIsAFileRefused) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    WriteFileBytes(target_dir_.Sub("data"), "a file");
    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    EXPECT_EQ(ReadFileBytes(target_dir_.Sub("data")), "a file");
}

TEST_F(RestoreTest, NonEmptyTablespaceLocationRefusedBeforeWriting) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    ASSERT_EQ(mkdir(tablespace_dir_.Sub("ts1").c_str(), 0700), 0);
    WriteFileBytes(tablespace_dir_.Sub("ts1/other"), "x");

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    ExpectNames(result.status().message(), {"tablespace location", tablespace_dir_.Sub("ts1")});
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}

TEST_F(RestoreTest, UnknownTablespaceMapRefused) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    RestoreOptions options = Options();
    options.tablespace_map["/not/a/tablespace"] = tablespace_dir_.Sub("x");

    auto result = Restore(repository_, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    ExpectNames(result.status().message(), {"/not/a/tablespace", kOriginalTablespace});
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
    EXPECT_TRUE(ListAllEntries(tablespace_dir_.path()).empty());
}

TEST_F(RestoreTest, RelativeTablespaceMapTargetRefused) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    RestoreOptions options = Options();
    options.tablespace_map[kOriginalTablespace] = "relative/ts";
    auto result = Restore(repository_, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}

TEST_F(RestoreTest, CorruptPartFailsNamingFileAndNeverWritesPgControl) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    std::string object = backup.ObjectPath(repo_dir_.path(), kBigFile, 1);
    FlipByte(object, 40);

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {kBigFile, object, "incomplete"});
    EXPECT_FALSE(PathExists(Restored("global/pg_control")));
    EXPECT_FALSE(PathExists(Restored("recovery.signal")));
}

TEST_F(RestoreTest, SwappedPartFailsNamingFile) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    /* Two intact objects of the same size, each where the other should be. */
    std::string first = backup.ObjectPath(repo_dir_.path(), kBigFile, 0);
    std::string second = backup.ObjectPath(repo_dir_.path(), kBigFile, 1);
    std::string saved = ReadFileBytes(first);
    WriteFileBytes(first, ReadFileBytes(second), 0640);
    WriteFileBytes(second, saved, 0640);

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {kBigFile, "manifest"});
    EXPECT_FALSE(PathExists(Restored("global/pg_control")));
}

TEST_F(RestoreTest, PartOfAnotherFileFails) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    /* An intact object of a different size in place of PG_VERSION's. */
    std::string version = backup.ObjectPath(repo_dir_.path(), "PG_VERSION", 0);
    WriteFileBytes(version, ReadFileBytes(backup.ObjectPath(repo_dir_.path(), "base/1/1259", 0)),
                   0640);

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {"PG_VERSION", version});
    EXPECT_FALSE(PathExists(Restored("global/pg_control")));
}

TEST_F(RestoreTest, MissingPartIsCorrupt) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    std::string object = backup.ObjectPath(repo_dir_.path(), "base/1/1259", 0);
    ASSERT_EQ(unlink(object.c_str()), 0);

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {"base/1/1259", object, "missing"});
    EXPECT_FALSE(PathExists(Restored("global/pg_control")));
}

TEST_F(RestoreTest, CorruptPgControlLeavesNoValidControlFile) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    FlipByte(backup.ObjectPath(repo_dir_.path(), "global/pg_control", 0), 100);

    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {"global/pg_control"});
    EXPECT_NE(ReadFileBytes(Restored("global/pg_control")),
              backup.files().at("global/pg_control").content);
}

TEST_F(RestoreTest, ManyWorkersManyParts) {
    BackupBuilder backup(&repository_, 1763789473);
    backup.Directory("base");
    backup.Directory("global");
    std::map<std::string, std::string> contents;
    for (int i = 0; i < 12; i++) {
        std::string path = "base/" + std::to_string(16384 + i);
        contents[path] = RandomBytes(static_cast<size_t>(i) * 37001 + 1, 100 + i);
        backup.File(path, contents[path]);
    }
    backup.File("global/pg_control", RandomBytes(8192, 9));
    backup.Commit();
    RestoreOptions options = Options();
    options.tablespace_map.clear();
    options.workers = 7;

    auto result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    for (const auto &[path, content] : contents)
        EXPECT_EQ(ReadFileBytes(Restored(path)), content) << path;
}

TEST_F(RestoreTest, TablespaceAtItsOriginalLocationWhenNotMapped) {
    BackupBuilder backup(&repository_, 1763789473);
    std::string original = tablespace_dir_.Sub("original");
    backup.Directory("global");
    backup.Directory("pg_tblspc");
    backup.File("global/pg_control", "control");
    backup.Link(kTablespaceLink, original);
    backup.Directory(std::string(kTablespaceLink) + "/PG_15_202209061");
    backup.File(std::string(kTablespaceLink) + "/PG_15_202209061/f", "in tablespace");
    backup.Commit();
    RestoreOptions options = Options();
    options.tablespace_map.clear();

    auto result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(ReadLink(target_dir_.Sub("data/pg_tblspc/16385")), original);
    EXPECT_EQ(ReadFileBytes(original + "/PG_15_202209061/f"), "in tablespace");
    EXPECT_EQ(Lstat(original).st_mode & 07777, 0700u);
}

TEST_F(RestoreTest, LeavesOutTablespaceMapAndStandbySignal) {
    BackupBuilder backup(&repository_, 1763789473);
    backup.Directory("global");
    backup.File("global/pg_control", "control");
    backup.File("tablespace_map", "16385 /original/location/ts1\n");
    backup.File("standby.signal", "");
    backup.Commit();
    RestoreOptions options = Options();
    options.tablespace_map.clear();

    auto result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_FALSE(PathExists(Restored("tablespace_map")));
    EXPECT_FALSE(PathExists(Restored("standby.signal")));
    EXPECT_TRUE(PathExists(Restored("recovery.signal")));
    EXPECT_EQ(result->files, 1u);
}

TEST_F(RestoreTest, LinkedPgWalBecomesADirectory) {
    BackupBuilder backup(&repository_, 1763789473);
    backup.Directory("global");
    backup.File("global/pg_control", "control");
    backup.Link("pg_wal", "/mnt/wal/original");
    backup.Commit();
    RestoreOptions options = Options();
    options.tablespace_map.clear();

    auto result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    struct stat st = Lstat(Restored("pg_wal"));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
}

/* ---------------------------------------------------------------- chains */

constexpr uint64_t kPage = 8192;

/* content with the given blocks replaced by fresh random ones. */
std::string Changed(std::string content, std::initializer_list<uint64_t> blocks, uint32_t seed) {
    for (uint64_t block : blocks)
        content.replace(block * kPage, kPage, RandomBytes(kPage, seed++));
    return content;
}

class ChainRestoreTest : public RestoreTest {
  protected:
    /* F, then I1 on F, then I2 on I1; returns I2's expected files. */
    void BuildChain() {
        const std::string a = RandomBytes(10 * kPage, 11);
        const std::string unchanged = RandomBytes(3 * kPage, 12);
        BackupBuilder full(&repository_, 1763789473);
        Common(&full);
        full.File("base/5/16384", a);
        full.File("base/5/16390", unchanged);
        full.File("base/5/gone", "dropped before I1");
        full.Commit();

        /* I1: blocks 2 and 3 changed, the relation grew by 2 blocks; a new file. */
        std::string b = Changed(a, {2, 3}, 20) + RandomBytes(2 * kPage, 21);
        BackupBuilder i1(&repository_, 1763789573, kSysid, BackupType::incremental, full.id());
        Common(&i1);
        i1.BlocksFile("base/5/16384", b, {{2, 2}, {10, 2}});
        i1.BlocksFile("base/5/16390", unchanged, {});
        i1.File("base/5/new", "new in I1");
        i1.Commit();

        /* I2: block 0 changed, the relation cut to 9 blocks. */
        std::string c = Changed(b, {0}, 30).substr(0, 9 * kPage);
        BackupBuilder i2(&repository_, 1763789673, kSysid, BackupType::incremental, i1.id());
        Common(&i2);
        i2.BlocksFile("base/5/16384", c, {{0, 1}});
        i2.BlocksFile("base/5/16390", unchanged, {});
        i2.BlocksFile("base/5/new", "", {}); /* a new relation file emptied (0 blocks) */
        i2.Commit();
        full_id_ = full.id();
        i1_id_ = i1.id();
        i2_id_ = i2.id();
        expected_ = i2.files();
    }

    void Common(BackupBuilder *backup) {
        backup->Directory("base");
        backup->Directory("base/5");
        backup->Directory("global");
        backup->File("PG_VERSION", "15\n");
        backup->File("global/pg_control", RandomBytes(8192, 3));
    }

    /* No tablespaces in these backups. */
    RestoreOptions Options() const {
        RestoreOptions options = RestoreTest::Options();
        options.tablespace_map.clear();
        return options;
    }

    std::string full_id_, i1_id_, i2_id_;
    std::map<std::string, SourceFile> expected_;
};

TEST_F(ChainRestoreTest, RestoresTheNewestBlocksOfEveryFile) {
    BuildChain();
    auto result = Restore(repository_, Options());
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->backup_id, i2_id_);
    for (const auto &[path, file] : expected_) {
        SCOPED_TRACE(path);
        EXPECT_TRUE(ReadFileBytes(Restored(path)) == file.content);
    }
    EXPECT_FALSE(PathExists(Restored("base/5/gone"))) << "a file the chain dropped stays dropped";
    uint64_t bytes = 0;
    for (const auto &[path, file] : expected_) bytes += file.content.size();
    EXPECT_EQ(result->bytes, bytes);
}

TEST_F(ChainRestoreTest, RestoresAnOlderLinkOfTheChain) {
    BuildChain();
    RestoreOptions options = Options();
    options.set = i1_id_;
    auto result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(ReadFileBytes(Restored("base/5/16384")).size(), 12 * kPage);
    EXPECT_FALSE(PathExists(Restored("base/5/gone"))) << "absent from I1: not restored";
    EXPECT_EQ(ReadFileBytes(Restored("base/5/new")), "new in I1");
}

TEST_F(ChainRestoreTest, MissingParentIsNamed) {
    BuildChain();
    pg_ark_test::TempDir::RemoveTree(repo_dir_.Sub("main/backup/" + i1_id_));
    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::not_found);
    ExpectNames(result.status().message(), {i2_id_, i1_id_, "does not exist"});
    EXPECT_FALSE(PathExists(target_dir_.Sub("data"))) << "nothing written";
}

TEST_F(ChainRestoreTest, ParentWithoutManifestIsNamed) {
    BuildChain();
    ASSERT_EQ(unlink(repo_dir_.Sub("main/backup/" + full_id_ + "/backup.manifest").c_str()), 0);
    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    ExpectNames(result.status().message(), {i1_id_, full_id_, "no manifest"});
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}

TEST_F(ChainRestoreTest, CorruptPartOfAnAncestorFailsNamingTheFile) {
    BuildChain();
    /* F's part 3 (base/5/16384's first, blocks 0-12) supplies blocks 1 and 4-8 of the final
     * file. */
    std::string object = repo_dir_.Sub("main/backup/" + full_id_ + "/data/");
    /* Objects of F in order: PG_VERSION, pg_control, 16384 (parts 3 and 4), ... */
    FlipByte(object + PartObjectName(3).substr(5), 30);
    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {"base/5/16384"});
}

TEST_F(RestoreTest, NoBackupIsNotFound) {
    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::not_found);
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}

TEST_F(RestoreTest, UnregisteredClusterRefused) {
    RestoreOptions options = Options();
    options.cluster = "other";
    auto result = Restore(repository_, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::not_initialized);
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}

TEST_F(RestoreTest, UnknownSetRefused) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    RestoreOptions options = Options();
    options.set = "20200101-000000F";
    auto result = Restore(repository_, options);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find("20200101-000000F"), std::string::npos)
        << result.status().message();
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}

TEST_F(RestoreTest, RunningAndFailedBackupsRefused) {
    BackupBuilder complete(&repository_, 1763789473);
    BuildTypicalBackup(&complete);
    Catalog catalog(&repository_, kCluster);
    BackupMetadata failed;
    failed.id = MakeBackupId(1763790000, BackupType::full);
    failed.cluster = kCluster;
    failed.system_identifier = kSysid;
    ASSERT_TRUE(catalog.WriteBackupInfo(failed).ok());
    ASSERT_TRUE(catalog.WriteFailure(failed.id, "disk on fire").ok());
    BackupMetadata running = failed;
    running.id = MakeBackupId(1763799999, BackupType::full);
    ASSERT_TRUE(catalog.WriteBackupInfo(running).ok());
    auto lock = BackupLock::Acquire(repo_dir_.path(), kCluster, running.id);
    ASSERT_TRUE(lock.ok()) << lock.status().message();

    RestoreOptions options = Options();
    options.set = running.id;
    auto result = Restore(repository_, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    ExpectNames(result.status().message(), {running.id, "running"});

    options.set = failed.id;
    result = Restore(repository_, options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    ExpectNames(result.status().message(), {failed.id, "disk on fire"});
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));

    /* Without --set, the newest complete one, past both. */
    options.set.clear();
    result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->backup_id, complete.id());
}

TEST_F(RestoreTest, WorkersOutOfRangeRefused) {
    BackupBuilder backup(&repository_, 1763789473);
    BuildTypicalBackup(&backup);
    for (int workers : {0, 65}) {
        RestoreOptions options = Options();
        options.workers = workers;
        auto result = Restore(repository_, options);
        ASSERT_FALSE(result.ok());
        EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    }
    EXPECT_FALSE(PathExists(target_dir_.Sub("data")));
}


/* ---------------------------------------------------------------- delta restore */

class DeltaRestoreTest : public RestoreTest {
  protected:
    /* A typical backup restored into the target, ready for a delta restore over it. */
    void SetUpRestored() {
        BuildTypicalBackup(&backup_);
        auto result = Restore(repository_, Options());
        ASSERT_TRUE(result.ok()) << result.status().message();
    }

    RestoreOptions DeltaOptions() const {
        RestoreOptions options = Options();
        options.delta = true;
        return options;
    }

    /* Every file of the backup is back, byte for byte, with its mode and mtime. */
    void ExpectAsBackedUp() {
        for (const auto &[path, file] : backup_.files()) {
            SCOPED_TRACE(path);
            if (path == "postgresql.auto.conf") continue;
            struct stat st = Lstat(Restored(path));
            ASSERT_TRUE(S_ISREG(st.st_mode));
            EXPECT_TRUE(ReadFileBytes(Restored(path)) == file.content);
            EXPECT_EQ(st.st_mode & 07777, file.mode);
            EXPECT_EQ(st.st_mtime, file.mtime);
        }
        EXPECT_EQ(ReadLink(Restored("log")), "/var/log/postgresql");
        EXPECT_EQ(ReadFileBytes(Restored("recovery.signal")), "");
        std::string conf = ReadFileBytes(Restored("postgresql.auto.conf"));
        EXPECT_EQ(conf.find("# added by pg_ark"), conf.rfind("# added by pg_ark")) << conf;
    }

    BackupBuilder backup_{&repository_, 1763789473};
};

/*
 * Parts are compared by their XXH3-128 when the manifest has it (every backup BackupBuilder
 * makes, as the backup engine's: both go through ObjectEncoder), by their SHA-256 otherwise
 * (backups taken before manifest format 3): each test below runs both ways.
 */
class DeltaChecksumTest : public DeltaRestoreTest, public ::testing::WithParamInterface<bool> {
  protected:
    void SetUp() override {
        DeltaRestoreTest::SetUp();
        if (!GetParam()) backup_.edit_manifest = StripXxh128;
    }

    static void StripXxh128(Manifest *manifest) {
        for (BackupEntry &entry : manifest->entries)
            for (BackupPart &part : entry.parts) {
                part.has_xxh128 = false;
                part.xxh128 = {};
            }
    }

    /* Whether the stored manifest's parts have an XXH3-128: all of them, or none. */
    void ExpectXxh128Recorded(bool recorded) {
        Catalog catalog(&repository_, kCluster);
        auto manifest = catalog.LoadManifest(backup_.id());
        ASSERT_TRUE(manifest.ok()) << manifest.status().message();
        size_t parts = 0;
        for (const BackupEntry &entry : manifest->entries)
            for (const BackupPart &part : entry.parts) {
                EXPECT_EQ(part.has_xxh128, recorded) << entry.path;
                if (part.has_xxh128)
                    EXPECT_EQ(part.xxh128, Xxh128Of(backup_.files().at(entry.path).content.data() +
                                                        part.offset,
                                                    part.size))
                        << entry.path;
                parts++;
            }
        EXPECT_GT(parts, 0u);
    }
};

INSTANTIATE_TEST_SUITE_P(Xxh128, DeltaChecksumTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool> &info) {
                             return info.param ? "Recorded" : "OlderBackupWithout";
                         });

TEST_P(DeltaChecksumTest, UnchangedTargetRewritesNothing) {
    SetUpRestored();
    ExpectXxh128Recorded(GetParam());
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->files_rewritten, 0u);
    EXPECT_EQ(result->bytes_rewritten, 0u);
    EXPECT_EQ(result->files_removed, 0u);
    /* All but pg_control and postgresql.auto.conf, which every restore writes. */
    EXPECT_EQ(result->files_unchanged, backup_.files().size() - 2);
    ExpectAsBackedUp();
}

TEST_P(DeltaChecksumTest, DamagedPartsAreFoundAndRewritten) {
    SetUpRestored();
    const std::string ts_file = std::string(kTablespaceLink) + "/PG_15_202209061/5/16390";
    FlipByte(Restored(kBigFile), 150000);         /* its second part, of three */
    FlipByte(Restored(ts_file), kPartSize + 3);   /* its last part: 7 bytes */
    FlipByte(Restored("base/1/1259"), 0);         /* a one-part file's first byte */
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    ExpectAsBackedUp();
    EXPECT_EQ(result->files_rewritten, 3u);
    EXPECT_GE(result->bytes_rewritten, 3u);
    /* Only within the damaged parts. */
    EXPECT_LE(result->bytes_rewritten, kPartSize + 7 + 8192);
    EXPECT_EQ(result->files_unchanged, backup_.files().size() - 2 - 3);
}

/*
 * Which checksum is compared shows when the manifest's SHA-256 of a part is wrong (as no real
 * backup's is): compared by XXH3-128, the intact bytes in place are left alone without reading
 * the repository; compared by SHA-256, they seem to differ, and the part decoded to replace them
 * does not match the manifest: corrupt.
 */
TEST_P(DeltaChecksumTest, ComparesByXxh128WhenRecorded) {
    SetUpRestored();
    /* The same data directory again (RandomBytes is seeded), as a later backup, wrong there. */
    BackupBuilder wrong(&repository_, 1763789473 + 600);
    auto strip = backup_.edit_manifest;
    wrong.edit_manifest = [strip](Manifest *manifest) {
        if (strip) strip(manifest);
        for (BackupEntry &entry : manifest->entries)
            if (entry.path == kBigFile) entry.parts[1].sha256[0] ^= 1;
    };
    BuildTypicalBackup(&wrong);
    RestoreOptions options = DeltaOptions();
    options.set = wrong.id();
    auto result = Restore(repository_, options);
    if (GetParam()) {
        ASSERT_TRUE(result.ok()) << result.status().message();
        EXPECT_EQ(result->files_rewritten, 0u);
        ExpectAsBackedUp();
    } else {
        ASSERT_FALSE(result.ok());
        EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
        ExpectNames(result.status().message(), {kBigFile, "SHA-256"});
    }
}

TEST_F(DeltaRestoreTest, RewritesOnlyWhatDiffersAndRemovesWhatTheBackupLacks) {
    SetUpRestored();
    FlipByte(Restored(kBigFile), 150000); /* its second part */
    ASSERT_EQ(unlink(Restored("base/1/1259").c_str()), 0);
    const std::string ts_file = std::string(kTablespaceLink) + "/PG_15_202209061/5/16390";
    ASSERT_EQ(truncate(Restored(ts_file).c_str(), 50000), 0);
    ASSERT_EQ(unlink(Restored("backup_label").c_str()), 0); /* a directory in its place */
    ASSERT_EQ(mkdir(Restored("backup_label").c_str(), 0700), 0);
    WriteFileBytes(Restored("backup_label/inside"), "xyz");
    ASSERT_EQ(unlink(Restored("log").c_str()), 0);
    ASSERT_EQ(symlink("/elsewhere", Restored("log").c_str()), 0);
    /* Extras: */
    WriteFileBytes(Restored("base/5/extra"), "12345");
    ASSERT_EQ(mkdir(Restored("base/99").c_str(), 0700), 0);
    WriteFileBytes(Restored("base/99/f"), "abc");
    WriteFileBytes(Restored("pg_wal/000000010000000000000001"), std::string(16, 'w'));
    WriteFileBytes(Restored("standby.signal"), "");
    WriteFileBytes(tablespace_dir_.Sub("ts1/PG_15_202209061/5/extra"), "1234567");
    /* Another major version's directory in the same location stays. */
    ASSERT_EQ(mkdir(tablespace_dir_.Sub("ts1/PG_14_202107181").c_str(), 0700), 0);
    WriteFileBytes(tablespace_dir_.Sub("ts1/PG_14_202107181/keep"), "14");

    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    ExpectAsBackedUp();
    /* The big file (one part), 1259 (missing), the cut file, backup_label (was a directory). */
    EXPECT_EQ(result->files_rewritten, 4u);
    EXPECT_GT(result->bytes_rewritten, 8192u + 1 + 3 + 50007);
    EXPECT_LE(result->bytes_rewritten,
              8192u + kPartSize + (kPartSize + 7) + backup_.files().at("backup_label").content.size());
    EXPECT_EQ(result->files_unchanged, backup_.files().size() - 2 - 4);
    EXPECT_EQ(result->files_removed, 4u);
    EXPECT_EQ(result->bytes_removed, 5u + 3 + 16 + 7);
    EXPECT_FALSE(PathExists(Restored("base/5/extra")));
    EXPECT_FALSE(PathExists(Restored("base/99")));
    EXPECT_FALSE(PathExists(Restored("standby.signal")));
    EXPECT_TRUE(ListAllEntries(Restored("pg_wal")) == std::vector<std::string>{"archive_status"});
    EXPECT_EQ(ReadFileBytes(tablespace_dir_.Sub("ts1/PG_14_202107181/keep")), "14");
}

TEST_F(DeltaRestoreTest, RunningServerRefusedUntouched) {
    SetUpRestored();
    WriteFileBytes(Restored("postmaster.pid"), std::to_string(getpid()) + "\n" + Restored(""));
    FlipByte(Restored(kBigFile), 10);
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    ExpectNames(result.status().message(),
                {"running", std::to_string(getpid()), "stop it before a delta restore"});
    EXPECT_TRUE(PathExists(Restored("global/pg_control")));
    EXPECT_NE(ReadFileBytes(Restored(kBigFile)), backup_.files().at(kBigFile).content);
}

TEST_F(DeltaRestoreTest, PidFileOfAGoneServerIsRemoved) {
    SetUpRestored();
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) _exit(0);
    ASSERT_EQ(waitpid(child, nullptr, 0), child);
    WriteFileBytes(Restored("postmaster.pid"), std::to_string(child) + "\n");
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_FALSE(PathExists(Restored("postmaster.pid")));
    EXPECT_EQ(result->files_removed, 1u);
}

TEST_F(DeltaRestoreTest, SharedMemoryStillAttachedIsRefused) {
    SetUpRestored();
    /* A killed postmaster's backends keep its segment attached: as here, this process. */
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    ASSERT_GE(id, 0);
    void *attached = shmat(id, nullptr, 0);
    ASSERT_NE(attached, reinterpret_cast<void *>(-1));
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) _exit(0);
    ASSERT_EQ(waitpid(child, nullptr, 0), child);
    WriteFileBytes(Restored("postmaster.pid"), fmt::format("{}\n{}\n1700000000\n5432\n/tmp\n"
                                                           "localhost\n  5432001 {}\nready\n",
                                                           child, Restored(""), id));
    auto result = Restore(repository_, DeltaOptions());
    shmdt(attached);
    shmctl(id, IPC_RMID, nullptr);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    ExpectNames(result.status().message(), {"still running", std::to_string(id)});
    EXPECT_TRUE(PathExists(Restored("global/pg_control")));
}

TEST_F(DeltaRestoreTest, DirectoryWithoutPgVersionRefusedUntouched) {
    BuildTypicalBackup(&backup_);
    ASSERT_EQ(mkdir(target_dir_.Sub("data").c_str(), 0700), 0);
    WriteFileBytes(target_dir_.Sub("data/notes.txt"), "mine");
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    ExpectNames(result.status().message(), {"PG_VERSION", "--delta"});
    EXPECT_EQ(ListAllEntries(target_dir_.Sub("data")), std::vector<std::string>{"notes.txt"});
}

TEST_F(DeltaRestoreTest, WithoutDeltaAnExistingDataDirectoryIsRefusedNamingTheOption) {
    SetUpRestored();
    auto result = Restore(repository_, Options());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::conflict);
    ExpectNames(result.status().message(), {"--delta"});
}

TEST_F(DeltaRestoreTest, LinksInsideTheTargetAreRemovedNotFollowed) {
    SetUpRestored();
    /* base/5 replaced by a link to a directory outside the target holding a file of its name. */
    std::string outside = tablespace_dir_.Sub("outside");
    ASSERT_EQ(mkdir(outside.c_str(), 0700), 0);
    WriteFileBytes(outside + "/16384", "not yours");
    WriteFileBytes(outside + "/other", "not yours either");
    TempDir::RemoveTree(Restored("base/5"));
    ASSERT_EQ(symlink(outside.c_str(), Restored("base/5").c_str()), 0);

    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    ExpectAsBackedUp();
    EXPECT_TRUE(S_ISDIR(Lstat(Restored("base/5")).st_mode));
    EXPECT_EQ(ReadFileBytes(outside + "/16384"), "not yours");
    EXPECT_EQ(ReadFileBytes(outside + "/other"), "not yours either");
}

TEST_F(DeltaRestoreTest, FailureLeavesNoPgControl) {
    SetUpRestored();
    FlipByte(Restored(kBigFile), 150000);
    FlipByte(backup_.ObjectPath(repo_dir_.path(), kBigFile, 1), 40);
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
    ExpectNames(result.status().message(), {kBigFile, "incomplete", "--delta"});
    EXPECT_FALSE(PathExists(Restored("global/pg_control")));
}

TEST_F(DeltaRestoreTest, ReadOnlyFileIsRewrittenAndKeepsItsMode) {
    SetUpRestored();
    ASSERT_EQ(chmod(Restored("base/5/readonly").c_str(), 0600), 0);
    WriteFileBytes(Restored("base/5/readonly"), "read ONLY\n");
    ASSERT_EQ(chmod(Restored("base/5/readonly").c_str(), 0400), 0);
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->files_rewritten, 1u);
    ExpectAsBackedUp();
}

TEST_F(ChainRestoreTest, DeltaRestoreOfAChainRewritesTheDamagedBlocksOnly) {
    BuildChain();
    auto result = Restore(repository_, Options());
    ASSERT_TRUE(result.ok()) << result.status().message();
    /* Block 0 comes from I2 (a part it supplies whole), block 5 from F (a part it supplies in
     * part: compared by decoding it). */
    FlipByte(Restored("base/5/16384"), 100);
    FlipByte(Restored("base/5/16384"), 5 * kPage + 100);
    RestoreOptions options = Options();
    options.delta = true;
    result = Restore(repository_, options);
    ASSERT_TRUE(result.ok()) << result.status().message();
    for (const auto &[path, file] : expected_) {
        SCOPED_TRACE(path);
        EXPECT_TRUE(ReadFileBytes(Restored(path)) == file.content);
    }
    EXPECT_EQ(result->files_rewritten, 1u);
    EXPECT_GE(result->bytes_rewritten, 2 * kPage);
    EXPECT_LT(result->bytes_rewritten, 9 * kPage);
}

TEST_F(DeltaRestoreTest, IntoAnAbsentDirectoryIsAPlainRestore) {
    BuildTypicalBackup(&backup_);
    auto result = Restore(repository_, DeltaOptions());
    ASSERT_TRUE(result.ok()) << result.status().message();
    ExpectAsBackedUp();
    EXPECT_EQ(result->files_removed, 0u);
}


}  // namespace
}  // namespace pg_ark

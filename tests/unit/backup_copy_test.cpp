/*
 * backup_copy_test.cpp
 *     Tests of the copy phase (helper/src/backup_copy.h) on fake data directories: every exclusion
 *     rule of the scan, tablespaces and links, byte-exact round trips of multi-part files, files
 *     that vanish or shrink during the copy, page checksum reports, cancellation and errors.
 */
#include "backup_copy.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "log.h"
#include "pg_layout.h"
#include "pg_page_checksum.h"
#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;

constexpr uint32_t kPage = PG_ARK_PAGE_SIZE;
constexpr uint64_t kStartLsn = 0x5000000;

void MakeDirs(const std::string &path) {
    std::string partial;
    for (size_t start = 1; start <= path.size();) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        partial = path.substr(0, slash);
        mkdir(partial.c_str(), 0700);
        start = slash + 1;
    }
}

/* Writes a file below root, creating its directories. */
void Put(const std::string &root, const std::string &relative, const std::string &data = "x") {
    std::string full = root + "/" + relative;
    MakeDirs(full.substr(0, full.rfind('/')));
    pg_ark_test::WriteFileBytes(full, data);
}

void Link(const std::string &target, const std::string &path) {
    MakeDirs(path.substr(0, path.rfind('/')));
    ASSERT_EQ(symlink(target.c_str(), path.c_str()), 0) << path;
}

const char *KindName(EntryKind kind) {
    switch (kind) {
        case EntryKind::directory: return "dir";
        case EntryKind::file: return "file";
        case EntryKind::symlink: return "link";
    }
    return "?";
}

/* "path kind" lines, for whole-listing comparisons with readable failures. */
template <typename Entry>
std::vector<std::string> Describe(const std::vector<Entry> &entries) {
    std::vector<std::string> lines;
    for (const Entry &entry : entries) lines.push_back(entry.path + " " + KindName(entry.kind));
    return lines;
}

std::map<std::string, SourceEntry> ByPath(const std::vector<SourceEntry> &entries) {
    std::map<std::string, SourceEntry> map;
    for (const SourceEntry &entry : entries) map[entry.path] = entry;
    return map;
}

/* ---------------------------------------------------------------- scan */

/*
 * A fake data directory in root/pgdata with something for every rule of the scan (and a
 * tablespace, a dangling tablespace link and other links around it); returns what the scan must
 * list, as Describe() lines.
 */
std::vector<std::string> MakeFakeCluster(const TempDir &root) {
    std::string pgdata = root.Sub("pgdata");
    const std::string version = PgArkTablespaceVersionDirectory;
    /* Kept as they are. */
    for (const char *path : {"PG_VERSION",
                             "postgresql.conf",
                             "postgresql.auto.conf",
                             "current_logfiles",
                             "global/pg_control",
                             "global/pg_filenode.map",
                             "global/1260",
                             "global/1260_fsm",
                             "global/1260_vm",
                             "base/1/PG_VERSION",
                             "base/1/pg_filenode.map",
                             "base/1/16384",
                             "base/1/16384.1",
                             "base/1/16384_fsm",
                             "base/1/16384_vm",
                             "base/1/16390_init",
                             "base/1/16384_main",
                             "pg_xact/0000",
                             "pg_stat/pgstat.stat",
                             "pg_logical/replorigin_checkpoint"})
        Put(pgdata, path);
    /* Skipped files. */
    for (const char *path :
         {"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_manifest",
          "postgresql.auto.conf.tmp", "current_logfiles.tmp", "global/pg_internal.init",
          "base/1/pg_internal.init", "base/1/pg_internal.init.4242",
          /* unlogged relation 16390: every fork and segment but the init fork */
          "base/1/16390", "base/1/16390.1", "base/1/16390_fsm", "base/1/16390_vm",
          /* temporary relations */
          "base/1/t3_16400", "base/1/t3_16400.1", "base/1/t3_16400_fsm",
          /* temporary files and directories */
          "base/pgsql_tmp/pgsql_tmp1234.0", "base/1/pgsql_tmp5678", "pgsql_tmp_anything",
          /* contents of directories kept empty */
          "pg_wal/000000010000000000000001", "pg_wal/archive_status/000000010000000000000001.ready",
          "pg_stat_tmp/global.stat", "pg_replslot/slot/state", "pg_dynshmem/mmap.1",
          "pg_notify/0000", "pg_serial/0000", "pg_snapshots/00000003-1", "pg_subtrans/0000"})
        Put(pgdata, path);
    /* A temporary-looking name outside a database directory is an ordinary file. */
    Put(pgdata, "global/t3_16400");

    /* A tablespace: only this server's version directory is copied, unlogged and temporary
     * relations skipped as in base/. */
    std::string location = root.Sub("ts1");
    Put(location, version + "/16384/16501");
    Put(location, version + "/16384/16502");
    Put(location, version + "/16384/16502_init");
    Put(location, version + "/16384/t5_16503");
    Put(location, "PG_14_202107181/16384/16501");
    Put(location, "stray_file");
    Link(location, pgdata + "/pg_tblspc/16500");
    /* A tablespace whose location is gone keeps its link. */
    Link(root.Sub("missing"), pgdata + "/pg_tblspc/16600");
    /* A link that is not a tablespace is recorded, never followed. */
    Put(root.path(), "outside/secret.conf");
    Link(root.Sub("outside"), pgdata + "/conf.d");
    Link("postgresql.conf", pgdata + "/linked.conf");

    return {
        "PG_VERSION file",
        "base dir",
        "base/1 dir",
        "base/1/16384 file",
        "base/1/16384.1 file",
        "base/1/16384_fsm file",
        "base/1/16384_main file",
        "base/1/16384_vm file",
        "base/1/16390_init file",
        "base/1/PG_VERSION file",
        "base/1/pg_filenode.map file",
        "conf.d link",
        "current_logfiles file",
        "global dir",
        "global/1260 file",
        "global/1260_fsm file",
        "global/1260_vm file",
        "global/pg_control file",
        "global/pg_filenode.map file",
        "global/t3_16400 file",
        "linked.conf link",
        "pg_dynshmem dir",
        "pg_logical dir",
        "pg_logical/replorigin_checkpoint file",
        "pg_notify dir",
        "pg_replslot dir",
        "pg_serial dir",
        "pg_snapshots dir",
        "pg_stat dir",
        "pg_stat/pgstat.stat file",
        "pg_stat_tmp dir",
        "pg_subtrans dir",
        "pg_tblspc dir",
        "pg_tblspc/16500 link",
        "pg_tblspc/16500/" + version + " dir",
        "pg_tblspc/16500/" + version + "/16384 dir",
        "pg_tblspc/16500/" + version + "/16384/16501 file",
        "pg_tblspc/16500/" + version + "/16384/16502_init file",
        "pg_tblspc/16600 link",
        "pg_wal dir",
        "pg_wal/archive_status dir",
        "pg_xact dir",
        "pg_xact/0000 file",
        "postgresql.auto.conf file",
        "postgresql.conf file",
    };
}

class ScanTest : public ::testing::Test {
  protected:
    ScanTest() : pgdata_(root_.Sub("pgdata")) { MakeDirs(pgdata_); }

    std::vector<SourceEntry> Scan(uint32_t segment_blocks = 131072) {
        Result<std::vector<SourceEntry>> scanned = ScanDataDirectory(pgdata_, segment_blocks);
        EXPECT_TRUE(scanned.ok()) << scanned.status().message();
        return scanned.ok() ? *scanned : std::vector<SourceEntry>{};
    }

    TempDir root_{"pg_ark_scan"};
    std::string pgdata_;
};

TEST_F(ScanTest, FollowsBaseBackupRules) {
    ASSERT_EQ(std::string(PgArkTablespaceVersionDirectory).rfind("PG_15_", 0), 0u);
    std::vector<std::string> expected = MakeFakeCluster(root_);
    std::vector<SourceEntry> entries = Scan();
    EXPECT_EQ(Describe(entries), expected);

    auto by_path = ByPath(entries);
    EXPECT_EQ(by_path["pg_tblspc/16500"].link_target, root_.Sub("ts1"));
    EXPECT_EQ(by_path["pg_tblspc/16600"].link_target, root_.Sub("missing"));
    EXPECT_EQ(by_path["conf.d"].link_target, root_.Sub("outside"));
    EXPECT_EQ(by_path["linked.conf"].link_target, "postgresql.conf");
}

TEST_F(ScanTest, MarksRelationFiles) {
    const std::string version = PgArkTablespaceVersionDirectory;
    for (const char *path :
         {"global/1260", "global/1260_vm", "global/pg_control", "base/1/16384", "base/1/16384.3",
          "base/1/16384_fsm.1", "base/1/16390_init", "base/1/PG_VERSION", "base/1/16384_main",
          "base/pgsql_tmp_no/1", "pg_xact/0000", "other/5"})
        Put(pgdata_, path);
    Put(root_.Sub("ts"), version + "/5/16501.2");
    Link(root_.Sub("ts"), pgdata_ + "/pg_tblspc/16500");

    std::map<std::string, std::pair<bool, uint32_t>> expected = {
        {"global/1260", {true, 0}},
        {"global/1260_vm", {true, 0}},
        {"global/pg_control", {false, 0}},
        {"base/1/16384", {true, 0}},
        {"base/1/16384.3", {true, 300}},
        {"base/1/16384_fsm.1", {true, 100}},
        {"base/1/16390_init", {true, 0}},
        {"base/1/PG_VERSION", {false, 0}},
        {"base/1/16384_main", {false, 0}},
        {"pg_xact/0000", {false, 0}},
        {"other/5", {false, 0}},
        {"pg_tblspc/16500/" + version + "/5/16501.2", {true, 200}},
    };
    auto by_path = ByPath(Scan(100));
    for (const auto &[path, flags] : expected) {
        ASSERT_EQ(by_path.count(path), 1u) << path;
        EXPECT_EQ(by_path[path].relation, flags.first) << path;
        EXPECT_EQ(by_path[path].first_block, flags.second) << path;
    }
}

TEST_F(ScanTest, RecordsModesTimesAndSizes) {
    Put(pgdata_, "base/1/16384", std::string(3 * kPage + 5, 'a'));
    Put(pgdata_, "PG_VERSION", "15\n");
    chmod((pgdata_ + "/PG_VERSION").c_str(), 0640);
    chmod((pgdata_ + "/base").c_str(), 0750);
    struct timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
    utimensat(AT_FDCWD, (pgdata_ + "/base/1").c_str(), times, 0);

    auto by_path = ByPath(Scan());
    EXPECT_EQ(by_path["base/1/16384"].size, 3 * kPage + 5u);
    EXPECT_EQ(by_path["PG_VERSION"].size, 3u);
    EXPECT_EQ(by_path["PG_VERSION"].mode, 0640u);
    EXPECT_EQ(by_path["base"].mode, 0750u);
    EXPECT_EQ(by_path["base/1"].mtime, 1600000000);
    EXPECT_EQ(by_path["base/1"].size, 0u);
}

TEST_F(ScanTest, PgWalLinkIsAnEmptyDirectory) {
    std::string wal = root_.Sub("wal");
    Put(wal, "000000010000000000000001");
    Put(wal, "archive_status/000000010000000000000001.done");
    chmod(wal.c_str(), 0750);
    Link(wal, pgdata_ + "/pg_wal");
    /* An excluded directory that is a link is also recorded as a directory, not followed. */
    Put(root_.Sub("stat_tmp"), "global.stat");
    Link(root_.Sub("stat_tmp"), pgdata_ + "/pg_stat_tmp");

    std::vector<SourceEntry> entries = Scan();
    EXPECT_EQ(Describe(entries), (std::vector<std::string>{"pg_stat_tmp dir", "pg_wal dir",
                                                           "pg_wal/archive_status dir"}));
    auto by_path = ByPath(entries);
    EXPECT_EQ(by_path["pg_wal"].mode, 0750u) << "the mode of the link's target";
    EXPECT_EQ(by_path["pg_wal/archive_status"].mode, 0750u);
}

TEST_F(ScanTest, TablespaceInsideDataDirectoryIsCopiedOnce) {
    const std::string version = PgArkTablespaceVersionDirectory;
    Put(pgdata_, "inside/" + version + "/5/16501");
    Link(pgdata_ + "/inside", pgdata_ + "/pg_tblspc/16700");
    EXPECT_EQ(Describe(Scan()), (std::vector<std::string>{
                                    "inside dir",
                                    "pg_tblspc dir",
                                    "pg_tblspc/16700 link",
                                    "pg_tblspc/16700/" + version + " dir",
                                    "pg_tblspc/16700/" + version + "/5 dir",
                                    "pg_tblspc/16700/" + version + "/5/16501 file",
                                }));
}

TEST_F(ScanTest, SkipsSocketsAndFifos) {
    Put(pgdata_, "PG_VERSION");
    ASSERT_EQ(mkfifo((pgdata_ + "/fifo").c_str(), 0600), 0);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    std::string socket_path = pgdata_ + "/.s.PGSQL.5432";
    ASSERT_LT(socket_path.size(), sizeof address.sun_path);
    strcpy(address.sun_path, socket_path.c_str());
    ASSERT_EQ(bind(fd, reinterpret_cast<struct sockaddr *>(&address), sizeof address), 0);
    close(fd);
    EXPECT_EQ(Describe(Scan()), (std::vector<std::string>{"PG_VERSION file"}));
}

TEST_F(ScanTest, DataDirectoryMayBeALink) {
    Put(pgdata_, "base/1/16384");
    Link(pgdata_, root_.Sub("link_to_pgdata"));
    Result<std::vector<SourceEntry>> scanned = ScanDataDirectory(root_.Sub("link_to_pgdata"), 131072);
    ASSERT_TRUE(scanned.ok()) << scanned.status().message();
    EXPECT_EQ(Describe(*scanned),
              (std::vector<std::string>{"base dir", "base/1 dir", "base/1/16384 file"}));
}

TEST_F(ScanTest, MissingDataDirectoryIsAnError) {
    Result<std::vector<SourceEntry>> scanned = ScanDataDirectory(root_.Sub("nowhere"), 131072);
    ASSERT_FALSE(scanned.ok());
    EXPECT_EQ(scanned.status().kind(), ErrorKind::not_found);
}

TEST_F(ScanTest, UnreadableDirectoryIsAnError) {
    if (geteuid() == 0) GTEST_SKIP() << "root reads any directory";
    Put(pgdata_, "base/1/16384");
    chmod((pgdata_ + "/base/1").c_str(), 0);
    Result<std::vector<SourceEntry>> scanned = ScanDataDirectory(pgdata_, 131072);
    ASSERT_FALSE(scanned.ok());
    EXPECT_EQ(scanned.status().kind(), ErrorKind::permission_denied);
    EXPECT_NE(scanned.status().message().find("base/1"), std::string::npos);
}

/* ---------------------------------------------------------------- copy */

/* Makes its stream's Close() fail. */
class FailingCloseStream : public WriteStream {
  public:
    explicit FailingCloseStream(std::unique_ptr<WriteStream> inner) : inner_(std::move(inner)) {}
    Status Write(const void *data, size_t size) override { return inner_->Write(data, size); }
    Status Close() override { return Status(ErrorKind::io_error, "fsync failed"); }

  private:
    std::unique_ptr<WriteStream> inner_;
};

/*
 * Posix storage that can run a hook on (or fail) a given OpenWrite call, or make the stream it
 * opens fail to commit; calls count from 1.
 */
class HookedStorage : public Storage {
  public:
    explicit HookedStorage(const std::string &root) : inner_(MakePosixStorage(root)) {}

    void OnOpenWrite(int call, std::function<Status()> hook) {
        hook_call_ = call;
        hook_ = std::move(hook);
    }
    void FailClose(int call) { fail_close_call_ = call; }

    Result<std::unique_ptr<ReadStream>> OpenRead(const RepoPath &path) override {
        return inner_->OpenRead(path);
    }
    Result<std::unique_ptr<WriteStream>> OpenWrite(const RepoPath &path, WriteMode mode) override {
        bool fail_close;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (++calls_ == hook_call_) PG_ARK_RETURN_IF_ERROR(hook_());
            fail_close = calls_ == fail_close_call_;
        }
        auto stream = inner_->OpenWrite(path, mode);
        if (!stream.ok() || !fail_close) return stream;
        return std::unique_ptr<WriteStream>(new FailingCloseStream(std::move(*stream)));
    }
    Result<ObjectInfo> Info(const RepoPath &path) override { return inner_->Info(path); }
    Result<std::vector<std::string>> List(const RepoPath &directory) override {
        return inner_->List(directory);
    }
    Result<std::vector<ListedObject>> ListObjects(const RepoPath &directory) override {
        return inner_->ListObjects(directory);
    }
    Status Remove(const RepoPath &path) override { return inner_->Remove(path); }
    std::string Describe() const override { return inner_->Describe(); }

  private:
    std::unique_ptr<Storage> inner_;
    std::mutex mutex_;
    int calls_ = 0;
    int hook_call_ = 0;
    int fail_close_call_ = 0;
    std::function<Status()> hook_;
};

RepoPath MustPath(const std::string &text) {
    Result<RepoPath> path = RepoPath::Make(text);
    EXPECT_TRUE(path.ok());
    return *path;
}

/* A compressible-and-not mix, distinct per seed. */
std::string Content(size_t size, uint32_t seed) {
    std::string data = pg_ark_test::RandomBytes(size, seed);
    for (size_t i = 0; i < size / 2; i++) data[i] = "pg_ark copies pages "[i % 20];
    return data;
}

/* A page with some content, the given LSN and a valid checksum for its block. */
std::string ValidPage(uint32_t block, uint64_t lsn, uint32_t seed) {
    std::string page = Content(kPage, seed);
    pg_ark_test::PutLe32(&page, 0, static_cast<uint32_t>(lsn >> 32));
    pg_ark_test::PutLe32(&page, 4, static_cast<uint32_t>(lsn));
    pg_ark_test::PutLe16(&page, 8, PgArkPageChecksum(&page[0], block));
    return page;
}

class CopyTest : public ::testing::Test {
  protected:
    CopyTest() : pgdata_(root_.Sub("pgdata")), storage_(root_.Sub("repo")) {
        MakeDirs(pgdata_);
        MakeDirs(root_.Sub("repo"));
        options_.pgdata = pgdata_;
        options_.start_lsn = kStartLsn;
        options_.part_size = 4 * kPage;
        options_.workers = 3;
    }

    Result<std::vector<BackupEntry>> Copy() {
        return CopyDataDirectory(storage_, backup_, options_, &control_);
    }

    std::vector<BackupEntry> MustCopy() {
        Result<std::vector<BackupEntry>> copied = Copy();
        EXPECT_TRUE(copied.ok()) << copied.status().message();
        return copied.ok() ? *copied : std::vector<BackupEntry>{};
    }

    /* The file as restored from its parts, checking each part's object and the tiling. */
    std::string Restore(const BackupEntry &entry) {
        std::string data;
        for (const BackupPart &part : entry.parts) {
            EXPECT_EQ(part.offset, data.size()) << entry.path << ": parts must tile the file";
            RepoPath path = *backup_.Join(PartObjectName(part.object));
            Result<std::string> object = ReadAll(storage_, path);
            EXPECT_TRUE(object.ok()) << object.status().message();
            if (!object.ok()) return data;
            EXPECT_EQ(part.stored_size, object->size());
            MemoryReadStream in(*object);
            std::string bytes;
            Result<ObjectSummary> decoded = DecodeObject(
                in,
                [&bytes](const uint8_t *p, size_t n) {
                    bytes.append(reinterpret_cast<const char *>(p), n);
                    return Status::Ok();
                },
                path.str());
            EXPECT_TRUE(decoded.ok()) << decoded.status().message();
            EXPECT_EQ(bytes.size(), part.size);
            EXPECT_EQ(part.sha256, Sha256Of(bytes.data(), bytes.size()));
            /* Recorded for delta restore's comparisons (manifest format 3). */
            EXPECT_TRUE(part.has_xxh128);
            EXPECT_EQ(part.xxh128, Xxh128Of(bytes.data(), bytes.size()));
            data += bytes;
        }
        EXPECT_EQ(data.size(), entry.size) << entry.path;
        return data;
    }

    /* The entries make a manifest that ParseManifest accepts: tiling, places, links, totals. */
    void ExpectValidManifest(const std::vector<BackupEntry> &entries) {
        Manifest manifest;
        manifest.backup.id = "20260101-000000F";
        manifest.backup.cluster = "main";
        manifest.entries = entries;
        CountTotals(&manifest);
        Result<Manifest> parsed = ParseManifest(SerializeManifest(manifest), "test manifest");
        EXPECT_TRUE(parsed.ok()) << parsed.status().message();
    }

    /* Object names in the backup's data directory. */
    std::set<std::string> StoredObjects() {
        Result<std::vector<std::string>> names = storage_.List(*backup_.Join("data"));
        EXPECT_TRUE(names.ok());
        return std::set<std::string>(names->begin(), names->end());
    }

    std::set<std::string> ReferencedObjects(const std::vector<BackupEntry> &entries) {
        std::set<std::string> names;
        for (const BackupEntry &entry : entries)
            for (const BackupPart &part : entry.parts) {
                std::string name = PartObjectName(part.object);
                EXPECT_TRUE(names.insert(name.substr(name.rfind('/') + 1)).second)
                    << "object reused";
            }
        return names;
    }

    std::map<std::string, BackupEntry> ByPath(const std::vector<BackupEntry> &entries) {
        std::map<std::string, BackupEntry> map;
        for (const BackupEntry &entry : entries) map[entry.path] = entry;
        return map;
    }

    TempDir root_{"pg_ark_copy"};
    std::string pgdata_;
    HookedStorage storage_;
    RepoPath backup_ = MustPath("main/backup/20260101-000000F");
    CopyOptions options_;
    CopyControl control_;
};

TEST_F(CopyTest, RoundTripsEveryFile) {
    std::map<std::string, std::string> files = {
        {"PG_VERSION", "15\n"},
        {"empty", ""},
        {"global/pg_control", Content(8192, 1)},
        {"base/1/16384", Content(4 * kPage, 2)}, /* exactly one part */
        {"base/1/16385", Content(4 * kPage + 1, 3)}, /* one byte into a second part */
        {"base/1/16386", Content(13 * kPage + 777, 4)}, /* four parts, the last short */
        {"base/1/16387_fsm", Content(3 * kPage, 5)},
        {"pg_xact/0000", Content(100000, 6)},
    };
    for (const auto &[path, data] : files) Put(pgdata_, path, data);
    Link("/somewhere/else", pgdata_ + "/linked");

    for (Compression compression :
         {Compression{CompressType::zstd, 1}, Compression{CompressType::none, 1}}) {
        options_.compression = compression;
        backup_ =
            MustPath(compression.type == CompressType::zstd ? "main/backup/z" : "main/backup/n");
        control_.files_done = 0;
        control_.bytes_done = 0;
        std::vector<BackupEntry> entries = MustCopy();
        EXPECT_EQ(Describe(entries),
                  (std::vector<std::string>{"PG_VERSION file", "base dir", "base/1 dir",
                                            "base/1/16384 file", "base/1/16385 file",
                                            "base/1/16386 file", "base/1/16387_fsm file",
                                            "empty file", "global dir", "global/pg_control file",
                                            "linked link", "pg_xact dir", "pg_xact/0000 file"}));
        auto by_path = ByPath(entries);
        for (const auto &[path, data] : files) {
            const BackupEntry &entry = by_path[path];
            EXPECT_EQ(entry.size, data.size()) << path;
            EXPECT_TRUE(Restore(entry) == data) << path << " differs after the round trip";
            EXPECT_TRUE(entry.bad_pages.empty());
            size_t expected_parts =
                data.empty() ? 1 : (data.size() + options_.part_size - 1) / options_.part_size;
            EXPECT_EQ(entry.parts.size(), expected_parts) << path;
            for (size_t i = 0; i + 1 < entry.parts.size(); i++)
                EXPECT_EQ(entry.parts[i].size, options_.part_size) << path;
        }
        ExpectValidManifest(entries);
        EXPECT_EQ(by_path["empty"].parts[0].size, 0u);
        EXPECT_EQ(by_path["linked"].link_target, "/somewhere/else");
        EXPECT_TRUE(by_path["linked"].parts.empty());
        EXPECT_TRUE(by_path["base"].parts.empty());
        EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));

        EXPECT_EQ(control_.files_total, files.size());
        EXPECT_EQ(control_.files_done, files.size());
        uint64_t total = 0;
        for (const auto &file : files) total += file.second.size();
        EXPECT_EQ(control_.bytes_total, total);
        EXPECT_EQ(control_.bytes_done, total);
        if (compression.type == CompressType::zstd)
            EXPECT_LT(by_path["base/1/16386"].parts[0].stored_size,
                      by_path["base/1/16386"].parts[0].size * 3 / 4);
    }
}

TEST_F(CopyTest, CopiesWhatTheScanLists) {
    std::vector<std::string> expected = MakeFakeCluster(root_);
    std::vector<BackupEntry> entries = MustCopy();
    EXPECT_EQ(Describe(entries), expected);
    ExpectValidManifest(entries);
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
}

TEST_F(CopyTest, ObjectNumbersFollowPathOrder) {
    Put(pgdata_, "a", Content(9 * kPage, 1));
    Put(pgdata_, "b", "small");
    Put(pgdata_, "c", Content(5 * kPage, 2));
    auto by_path = ByPath(MustCopy());
    std::vector<uint64_t> objects;
    for (const char *path : {"a", "b", "c"})
        for (const BackupPart &part : by_path[path].parts) objects.push_back(part.object);
    EXPECT_EQ(objects, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(CopyTest, FileThatVanishesIsDropped) {
    Put(pgdata_, "big", Content(12 * kPage, 1));
    Put(pgdata_, "small", "gone soon");
    Put(pgdata_, "kept", "stays");
    options_.workers = 1; /* largest part first: the hook runs before "small" is opened */
    storage_.OnOpenWrite(1, [this] {
        unlink((pgdata_ + "/small").c_str());
        return Status::Ok();
    });
    std::vector<BackupEntry> entries = MustCopy();
    EXPECT_EQ(Describe(entries), (std::vector<std::string>{"big file", "kept file"}));
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
    EXPECT_EQ(control_.files_done, 3u);
    EXPECT_EQ(control_.bytes_done, control_.bytes_total);
}

TEST_F(CopyTest, PartsOfAVanishedFileAreRemoved) {
    Put(pgdata_, "big", Content(12 * kPage, 1));
    Put(pgdata_, "kept", "stays");
    options_.workers = 1;
    /* The first part of "big" is already open when it goes: that part is stored, the others
     * find it gone, and the stored part must not stay behind. */
    storage_.OnOpenWrite(1, [this] {
        unlink((pgdata_ + "/big").c_str());
        return Status::Ok();
    });
    std::vector<BackupEntry> entries = MustCopy();
    EXPECT_EQ(Describe(entries), (std::vector<std::string>{"kept file"}));
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
}

TEST_F(CopyTest, FileThatShrinksIsCopiedAsFarAsItGoes) {
    std::string data = Content(12 * kPage, 1);
    Put(pgdata_, "big", data);
    options_.workers = 1;
    const uint64_t new_size = 5 * kPage + 100; /* inside the second part */
    storage_.OnOpenWrite(1, [this, new_size] {
        EXPECT_EQ(truncate((pgdata_ + "/big").c_str(), static_cast<off_t>(new_size)), 0);
        return Status::Ok();
    });
    std::vector<BackupEntry> entries = MustCopy();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].size, new_size);
    EXPECT_EQ(entries[0].parts.size(), 2u);
    EXPECT_TRUE(Restore(entries[0]) == data.substr(0, new_size));
    ExpectValidManifest(entries);
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
    EXPECT_EQ(control_.bytes_done, control_.bytes_total);
}

TEST_F(CopyTest, FileThatShrinksToNothingKeepsOneEmptyPart) {
    Put(pgdata_, "big", Content(12 * kPage, 1));
    options_.workers = 1;
    storage_.OnOpenWrite(1, [this] {
        EXPECT_EQ(truncate((pgdata_ + "/big").c_str(), 0), 0);
        return Status::Ok();
    });
    std::vector<BackupEntry> entries = MustCopy();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].size, 0u);
    ASSERT_EQ(entries[0].parts.size(), 1u);
    EXPECT_EQ(entries[0].parts[0].size, 0u);
    EXPECT_EQ(Restore(entries[0]), "");
    ExpectValidManifest(entries);
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
}

TEST_F(CopyTest, FileThatGrowsIsCopiedToItsScannedSize) {
    std::string data = Content(6 * kPage, 1);
    Put(pgdata_, "grows", data);
    options_.workers = 1;
    storage_.OnOpenWrite(1, [this] {
        Put(pgdata_, "grows", Content(10 * kPage, 1));
        return Status::Ok();
    });
    std::vector<BackupEntry> entries = MustCopy();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].size, data.size());
    EXPECT_TRUE(Restore(entries[0]) == Content(10 * kPage, 1).substr(0, data.size()));
}

TEST_F(CopyTest, ReportsPagesWithBadChecksums) {
    options_.data_checksums = true;
    options_.segment_blocks = 4;
    options_.part_size = 2 * kPage; /* pages checked across part boundaries */
    std::string relation = ValidPage(0, 0x100, 1);
    std::string corrupt = ValidPage(1, 0x100, 2);
    corrupt[5000] ^= 0x20;
    relation += corrupt; /* block 1: reported */
    relation += std::string(kPage, '\0'); /* block 2: new page, no checksum yet */
    std::string recent = ValidPage(3, kStartLsn, 3);
    recent[6000] ^= 0x01;
    relation += recent; /* block 3: rewritten by replay */
    relation += ValidPage(4, kStartLsn - 1, 4); /* block 4 */
    std::string misnumbered = ValidPage(0, 0x200, 5); /* checksum of another block: */
    relation += misnumbered; /* block 5: reported */
    Put(pgdata_, "base/1/16384", relation);

    /* Segment 1 starts at block 4 (segment_blocks): checksums mix in the block in the fork. */
    std::string segment = ValidPage(4, 0x100, 6) + ValidPage(1, 0x100, 7) + ValidPage(6, 0x100, 8);
    Put(pgdata_, "base/1/16384.1", segment);
    /* Not a relation file: not checked. */
    Put(pgdata_, "base/1/pg_filenode.map", Content(kPage, 9));
    Put(pgdata_, "global/pg_control", Content(kPage, 10));

    std::vector<BackupEntry> entries = MustCopy();
    ExpectValidManifest(entries);
    auto by_path = ByPath(entries);
    EXPECT_EQ(by_path["base/1/16384"].bad_pages, (std::vector<uint32_t>{1, 5}));
    EXPECT_EQ(by_path["base/1/16384.1"].bad_pages, (std::vector<uint32_t>{1}))
        << "block numbers are within the file";
    EXPECT_TRUE(by_path["base/1/pg_filenode.map"].bad_pages.empty());
    EXPECT_TRUE(by_path["global/pg_control"].bad_pages.empty());
    /* Bad pages are stored as read. */
    EXPECT_TRUE(Restore(by_path["base/1/16384"]) == relation);

    options_.data_checksums = false;
    backup_ = MustPath("main/backup/nochecks");
    by_path = ByPath(MustCopy());
    EXPECT_TRUE(by_path["base/1/16384"].bad_pages.empty());
}

/* ---------------------------------------------------------------- blocks only */

/* Stores base/1/16384 as the given blocks and everything else whole. */
StorePlanner BlocksOf(const std::string &path, BlockRuns blocks) {
    return [path, blocks](const SourceEntry &source) {
        StoreChoice choice;
        if (source.path == path) {
            choice.as_blocks = true;
            choice.blocks = blocks;
        } else {
            choice.reason = "new file";
        }
        return choice;
    };
}

/* The stored stream of an entry, parts checked and concatenated. */
std::string StreamOf(HookedStorage &storage, const RepoPath &backup, const BackupEntry &entry) {
    std::string data;
    for (const BackupPart &part : entry.parts) {
        EXPECT_EQ(part.offset, data.size()) << entry.path << ": parts must tile the stream";
        Result<std::string> object = ReadAll(storage, *backup.Join(PartObjectName(part.object)));
        EXPECT_TRUE(object.ok());
        if (!object.ok()) return data;
        MemoryReadStream in(*object);
        Result<ObjectSummary> decoded = DecodeObject(
            in,
            [&data](const uint8_t *p, size_t n) {
                data.append(reinterpret_cast<const char *>(p), n);
                return Status::Ok();
            },
            "part");
        EXPECT_TRUE(decoded.ok());
    }
    return data;
}

/* The entries as an incremental backup's manifest, which ParseManifest must accept. */
void ExpectValidIncrementalManifest(const std::vector<BackupEntry> &entries, uint32_t block_size) {
    Manifest manifest;
    manifest.backup.id = "20260101-000000I";
    manifest.backup.type = BackupType::incremental;
    manifest.backup.parent = "20251231-000000F";
    manifest.backup.cluster = "main";
    manifest.backup.block_size = block_size;
    manifest.entries = entries;
    CountTotals(&manifest);
    Result<Manifest> parsed = ParseManifest(SerializeManifest(manifest), "test manifest");
    EXPECT_TRUE(parsed.ok()) << parsed.status().message();
}

TEST_F(CopyTest, StoresOnlyTheChosenBlocks) {
    std::string relation = Content(10 * kPage, 1);
    Put(pgdata_, "base/1/16384", relation);
    Put(pgdata_, "base/1/16390", Content(3 * kPage, 2));
    Put(pgdata_, "PG_VERSION", "15\n");
    options_.planner = [](const SourceEntry &source) {
        StoreChoice choice;
        if (source.path == "base/1/16384") {
            choice.as_blocks = true;
            choice.blocks = {{1, 2}, {5, 3}};
        } else if (source.path == "base/1/16390") {
            choice.as_blocks = true; /* unchanged: nothing stored */
        }
        return choice;
    };
    std::vector<BackupEntry> entries = MustCopy();
    ExpectValidIncrementalManifest(entries, kPage);
    auto by_path = ByPath(entries);
    const BackupEntry &changed = by_path["base/1/16384"];
    EXPECT_TRUE(changed.stored_as_blocks);
    EXPECT_EQ(changed.blocks, (BlockRuns{{1, 2}, {5, 3}}));
    EXPECT_EQ(changed.size, relation.size());
    EXPECT_EQ(changed.parts.size(), 2u) << "5 blocks in parts of 4";
    EXPECT_TRUE(StreamOf(storage_, backup_, changed) ==
                relation.substr(1 * kPage, 2 * kPage) + relation.substr(5 * kPage, 3 * kPage));
    const BackupEntry &unchanged = by_path["base/1/16390"];
    EXPECT_TRUE(unchanged.stored_as_blocks);
    EXPECT_TRUE(unchanged.parts.empty());
    EXPECT_EQ(unchanged.size, 3 * kPage);
    EXPECT_FALSE(by_path["PG_VERSION"].stored_as_blocks);
    EXPECT_EQ(Restore(by_path["PG_VERSION"]), "15\n");
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
    EXPECT_EQ(control_.bytes_total, 5 * kPage + 3) << "progress counts what is stored";
    EXPECT_EQ(control_.bytes_done, control_.bytes_total);
    EXPECT_EQ(control_.files_done, control_.files_total);
}

TEST_F(CopyTest, ChecksPagesOfTheBlocksCopied) {
    options_.data_checksums = true;
    std::string relation;
    for (uint32_t block = 0; block < 8; block++) {
        std::string page = ValidPage(block, 0x100, block + 1);
        if (block == 5 || block == 6) page[5000] ^= 0x20;
        relation += page;
    }
    Put(pgdata_, "base/1/16384", relation);
    options_.planner = BlocksOf("base/1/16384", {{1, 1}, {4, 2}});
    std::vector<BackupEntry> entries = MustCopy();
    ExpectValidIncrementalManifest(entries, kPage);
    auto by_path = ByPath(entries);
    EXPECT_EQ(by_path["base/1/16384"].bad_pages, (std::vector<uint32_t>{5}))
        << "block 6 is bad but was not copied; numbers are within the file";
}

TEST_F(CopyTest, BlocksOfAFileThatShrinksAreCutAtItsEnd) {
    std::string relation = Content(12 * kPage, 1);
    Put(pgdata_, "base/1/16384", relation);
    options_.workers = 1;
    options_.planner = BlocksOf("base/1/16384", {{1, 2}, {6, 4}});
    /* Parts: blocks 1, 2, 6, 7 and blocks 8, 9. The file loses blocks 7 to 11 first. */
    storage_.OnOpenWrite(1, [this] {
        EXPECT_EQ(truncate((pgdata_ + "/base/1/16384").c_str(), 7 * kPage + 100), 0);
        return Status::Ok();
    });
    std::vector<BackupEntry> entries = MustCopy();
    ASSERT_EQ(entries.size(), 3u);
    const BackupEntry entry = ByPath(entries)["base/1/16384"];
    EXPECT_EQ(entry.size, 7 * kPage) << "a torn last block is left to WAL replay";
    EXPECT_EQ(entry.blocks, (BlockRuns{{1, 2}, {6, 1}}));
    ASSERT_EQ(entry.parts.size(), 1u);
    EXPECT_TRUE(StreamOf(storage_, backup_, entry) ==
                relation.substr(kPage, 2 * kPage) + relation.substr(6 * kPage, kPage));
    ExpectValidIncrementalManifest(entries, kPage);
    EXPECT_EQ(StoredObjects(), ReferencedObjects(entries));
}

TEST_F(CopyTest, TrailingPartialPageIsNotChecked) {
    options_.data_checksums = true;
    Put(pgdata_, "base/1/16384", ValidPage(0, 0x100, 1) + Content(100, 2));
    auto by_path = ByPath(MustCopy());
    EXPECT_TRUE(by_path["base/1/16384"].bad_pages.empty());
}

TEST_F(CopyTest, CancelledBeforeStart) {
    Put(pgdata_, "file", Content(3 * kPage, 1));
    control_.cancelled = true;
    Result<std::vector<BackupEntry>> copied = Copy();
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().kind(), ErrorKind::conflict);
    EXPECT_EQ(copied.status().message(), "backup cancelled");
}

TEST_F(CopyTest, CancelledWhileCopying) {
    for (int i = 0; i < 20; i++) Put(pgdata_, "f" + std::to_string(i), Content(8 * kPage, i));
    storage_.OnOpenWrite(3, [this] {
        control_.cancelled = true;
        return Status::Ok();
    });
    Result<std::vector<BackupEntry>> copied = Copy();
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().kind(), ErrorKind::conflict) << copied.status().message();
    EXPECT_LT(control_.files_done, 20u);
}

TEST_F(CopyTest, FirstErrorStopsTheCopyAndNamesTheFile) {
    for (int i = 0; i < 20; i++) Put(pgdata_, "f" + std::to_string(i), Content(8 * kPage, i));
    Put(pgdata_, "base/1/16384", Content(40 * kPage, 99)); /* the largest: its parts go first */
    storage_.OnOpenWrite(1, [] { return Status(ErrorKind::no_space, "repository full"); });
    Result<std::vector<BackupEntry>> copied = Copy();
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().kind(), ErrorKind::no_space);
    EXPECT_NE(copied.status().message().find("\"base/1/16384\""), std::string::npos)
        << copied.status().message();
    EXPECT_NE(copied.status().message().find("repository full"), std::string::npos);
    EXPECT_LT(control_.files_done, 21u);
}

TEST_F(CopyTest, FailedCommitIsAnErrorNamingTheFile) {
    for (int i = 0; i < 20; i++) Put(pgdata_, "f" + std::to_string(i), Content(8 * kPage, i));
    Put(pgdata_, "base/1/16384", Content(40 * kPage, 99));
    storage_.FailClose(2);
    Result<std::vector<BackupEntry>> copied = Copy();
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().kind(), ErrorKind::io_error);
    EXPECT_NE(copied.status().message().find("\"base/1/16384\""), std::string::npos)
        << copied.status().message();
    EXPECT_NE(copied.status().message().find("fsync failed"), std::string::npos);
}

TEST_F(CopyTest, UnreadableFileIsAnError) {
    if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
    Put(pgdata_, "secret", "x");
    chmod((pgdata_ + "/secret").c_str(), 0);
    Result<std::vector<BackupEntry>> copied = Copy();
    ASSERT_FALSE(copied.ok());
    EXPECT_EQ(copied.status().kind(), ErrorKind::permission_denied);
    EXPECT_NE(copied.status().message().find("secret"), std::string::npos);
}

TEST_F(CopyTest, RejectsBadOptions) {
    Put(pgdata_, "file");
    options_.part_size = kPage + 1;
    EXPECT_EQ(Copy().status().kind(), ErrorKind::invalid_argument);
    options_.part_size = 0;
    EXPECT_EQ(Copy().status().kind(), ErrorKind::invalid_argument);
    options_.part_size = kPage;
    options_.workers = 0;
    EXPECT_EQ(Copy().status().kind(), ErrorKind::invalid_argument);
    options_.workers = 1;
    options_.block_size = 16384;
    options_.part_size = 16384;
    options_.data_checksums = true;
    EXPECT_EQ(Copy().status().kind(), ErrorKind::invalid_argument);
    options_.data_checksums = false;
    EXPECT_TRUE(Copy().ok());
}

}  // namespace
}  // namespace pg_ark

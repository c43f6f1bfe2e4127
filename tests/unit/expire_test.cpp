/*
 * expire_test.cpp
 *     Tests of carrying out expiry (helper/src/expire.h) on a synthetic posix repository: what
 *     is removed, that a dry run removes nothing, that an expiry stopped at any removal leaves
 *     no backup listed complete that cannot be restored (and the next one finishes), and the
 *     refusals (paused, a backup running).
 */
#include "expire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backup_lock.h"
#include "catalog.h"
#include "catalog_format.h"
#include "command_service.h"
#include "pause.h"
#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::ListAllFilesRecursive;
using pg_ark_test::PathExists;
using pg_ark_test::TempDir;

constexpr uint64_t kSysid = 7301234567890123456ull;
constexpr int64_t kT0 = 1767225600; /* 2026-01-01 00:00:00 UTC */
constexpr int64_t kDay = 86400;

/* Storage that fails every removal from the n-th on (n counts from 0), as if the helper had
 * been killed just before it: the removals before it are durable, nothing after it happens. */
class FailingRemoves : public Storage {
  public:
    FailingRemoves(std::unique_ptr<Storage> inner, int fail_from)
        : inner_(std::move(inner)), fail_from_(fail_from) {}
    Result<std::unique_ptr<ReadStream>> OpenRead(const RepoPath &path) override {
        return inner_->OpenRead(path);
    }
    Result<std::unique_ptr<WriteStream>> OpenWrite(const RepoPath &path, WriteMode mode) override {
        if (Dead()) return Status(ErrorKind::io_error, "injected: the helper is dead");
        return inner_->OpenWrite(path, mode);
    }
    Result<ObjectInfo> Info(const RepoPath &path) override { return inner_->Info(path); }
    Result<std::vector<std::string>> List(const RepoPath &directory) override {
        return inner_->List(directory);
    }
    Result<std::vector<ListedObject>> ListObjects(const RepoPath &directory) override {
        return inner_->ListObjects(directory);
    }
    Status Remove(const RepoPath &path) override {
        if (Step()) return Status(ErrorKind::io_error, "injected failure removing " + path.str());
        return inner_->Remove(path);
    }
    Status RemoveDirectory(const RepoPath &directory) override {
        if (Step()) return Status(ErrorKind::io_error, "injected failure removing " + directory.str());
        return inner_->RemoveDirectory(directory);
    }
    std::string Describe() const override { return inner_->Describe(); }
    bool hit() const { return removes_ > fail_from_; }

  private:
    bool Dead() const { return removes_ > fail_from_; }
    bool Step() { return removes_++ >= fail_from_; }
    std::unique_ptr<Storage> inner_;
    int fail_from_;
    int removes_ = 0;
};

class ExpireTest : public ::testing::Test {
  protected:
    ExpireTest() {
        cluster_.name = "main";
        cluster_.retention.full = 2;
        cluster_.retention.diff = 1;
    }

    void SetUp() override { Reset(); }

    /* A new, empty repository with cluster "main" registered. */
    void Reset() {
        repo_.reset();
        dir_ = std::make_unique<TempDir>("pg_ark_expire");
        repo_ = std::make_unique<Repository>(MakePosixStorage(dir_->path()));
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        ASSERT_TRUE(repo_->InitCluster("main", identity).ok());
    }

    static std::string Segment(uint32_t timeline, uint32_t segment) {
        char text[25];
        snprintf(text, sizeof text, "%08X%08X%08X", timeline, 0, segment);
        return text;
    }

    /* A complete backup of two parts, started on day `day`; returns its id. */
    std::string MakeBackup(BackupType type, const std::string &parent, int day, uint32_t segment) {
        Manifest manifest;
        BackupMetadata &m = manifest.backup;
        m.start_time = kT0 + day * kDay;
        m.stop_time = m.start_time + 60;
        m.id = MakeBackupId(m.start_time, type);
        m.type = type;
        m.parent = parent;
        m.cluster = "main";
        m.system_identifier = kSysid;
        m.pg_version = "15";
        m.start_lsn = uint64_t{segment} << 24;
        m.stop_lsn = m.start_lsn + 0x100;
        m.timeline = m.stop_timeline = 1;
        m.wal_start = m.wal_stop = Segment(1, segment);
        m.compression = kUncompressed;
        Catalog catalog(repo_.get(), "main");
        EXPECT_TRUE(catalog.WriteBackupInfo(m).ok());
        BackupEntry version;
        version.path = "PG_VERSION";
        version.mode = 0600;
        BackupEntry base;
        base.path = "base";
        base.kind = EntryKind::directory;
        base.mode = 0700;
        uint64_t offset = 0;
        for (uint64_t object : {1, 2}) {
            std::string bytes = "part " + std::to_string(object) + " of " + m.id;
            RepoPath path = *RepoPath::Make("main/backup/" + m.id + "/" + PartObjectName(object));
            EXPECT_TRUE(WriteWholeObject(repo_->storage(), path, bytes, kUncompressed,
                                         WriteMode::create_new)
                            .ok());
            version.parts.push_back({object, offset, bytes.size(), 0, Sha256Of(bytes.data(), bytes.size())});
            offset += bytes.size();
        }
        version.size = offset;
        manifest.entries = {version, base};
        CountTotals(&manifest);
        Status written = catalog.WriteManifest(manifest);
        EXPECT_TRUE(written.ok()) << written.message();
        return m.id;
    }

    void MakeWal(const std::string &name) {
        RepoPath path = *Repository::WalPath("main", name);
        ASSERT_TRUE(WriteWholeObject(repo_->storage(), path, "wal " + name, kUncompressed,
                                     WriteMode::create_new)
                        .ok());
    }

    /* F1 (D1, I1 on D1), F2 (D2): with retention-full = 2 and retention-diff = 1, D1 and I1
     * go, and WAL before F1's first segment (5). */
    void MakeHistory() {
        f1_ = MakeBackup(BackupType::full, "", 1, 5);
        d1_ = MakeBackup(BackupType::differential, f1_, 2, 7);
        i1_ = MakeBackup(BackupType::incremental, d1_, 3, 9);
        f2_ = MakeBackup(BackupType::full, "", 4, 11);
        d2_ = MakeBackup(BackupType::differential, f2_, 5, 13);
        for (uint32_t s = 2; s <= 14; s++) MakeWal(Segment(1, s));
        MakeWal(Segment(1, 3) + ".00000028.backup");
        MakeWal("00000002.history");
        /* The index lists every backup as complete before the expiry starts. */
        ASSERT_TRUE(Catalog(repo_.get(), "main").List(false).ok());
        ASSERT_TRUE(PathExists(dir_->Sub("main/backup.index")));
    }

    ExpireOptions Options(bool dry_run) {
        ExpireOptions options;
        options.dry_run = dry_run;
        options.now = kT0 + 6 * kDay;
        return options;
    }

    std::vector<std::string> Ids(Repository &repository, BackupStatus status) {
        std::vector<std::string> ids;
        auto entries = Catalog(&repository, "main").List(false);
        EXPECT_TRUE(entries.ok()) << entries.status().message();
        if (!entries.ok()) return ids;
        for (const CatalogEntry &entry : *entries)
            if (entry.status == status) ids.push_back(entry.backup.id);
        return ids;
    }

    /* Every backup listed complete has its manifest and every part the manifest names. */
    void ExpectCompleteBackupsIntact(const std::string &when) {
        Repository fresh(MakePosixStorage(dir_->path()));
        Catalog catalog(&fresh, "main");
        for (const std::string &id : Ids(fresh, BackupStatus::complete)) {
            auto manifest = catalog.LoadManifest(id);
            ASSERT_TRUE(manifest.ok()) << when << ": " << manifest.status().message();
            for (const BackupEntry &entry : manifest->entries)
                for (const BackupPart &part : entry.parts)
                    EXPECT_TRUE(PathExists(dir_->Sub("main/backup/" + id + "/" +
                                                    PartObjectName(part.object))))
                        << when << ": backup " << id << " is listed complete but lacks a part";
        }
    }

    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<Repository> repo_;
    ClusterConfig cluster_;
    std::string f1_, d1_, i1_, f2_, d2_;
};

TEST_F(ExpireTest, RemovesWhatThePolicyDoesNotKeep) {
    MakeHistory();
    std::vector<ExpiredItem> streamed;
    ExpireOptions options = Options(false);
    options.on_item = [&streamed](const ExpiredItem &item) {
        streamed.push_back(item);
        return Status::Ok();
    };
    auto report = Expire(*repo_, dir_->path(), cluster_, options);
    ASSERT_TRUE(report.ok()) << report.status().message();

    ASSERT_EQ(report->items.size(), 6u);
    EXPECT_EQ(report->items[0].name, i1_) << "the incremental before what it builds on";
    EXPECT_EQ(report->items[0].reason, "builds on expired backup " + d1_);
    EXPECT_EQ(report->items[1].name, d1_);
    EXPECT_EQ(report->items[1].reason, "beyond retention-diff = 1");
    EXPECT_EQ(report->items[2].kind, "wal");
    EXPECT_EQ(report->items[2].name, Segment(1, 2));
    EXPECT_EQ(report->items[3].name, Segment(1, 3));
    EXPECT_EQ(report->items[4].name, Segment(1, 3) + ".00000028.backup");
    EXPECT_EQ(report->items[5].name, Segment(1, 4));
    for (const ExpiredItem &item : report->items) EXPECT_GT(item.bytes, 0u) << item.name;
    EXPECT_EQ(streamed.size(), report->items.size());
    EXPECT_EQ(report->backups, 2u);
    EXPECT_EQ(report->wal_files, 4u);
    EXPECT_EQ(report->kept, (std::vector<std::string>{f1_, f2_, d2_}));
    EXPECT_EQ(SummarizeExpiry(*report),
              "expired 2 backups and 4 WAL files, " + FormatBytes(report->bytes) + " freed");

    EXPECT_FALSE(PathExists(dir_->Sub("main/backup/" + d1_)));
    EXPECT_FALSE(PathExists(dir_->Sub("main/backup/" + i1_)));
    EXPECT_FALSE(PathExists(dir_->Sub("main/backup.expiring")));
    EXPECT_EQ(Ids(*repo_, BackupStatus::complete), (std::vector<std::string>{f1_, f2_, d2_}));
    EXPECT_TRUE(Ids(*repo_, BackupStatus::failed).empty());
    EXPECT_TRUE(PathExists(dir_->Sub("main/wal/0000000100000000/" + Segment(1, 5) + ".ark")));
    EXPECT_FALSE(PathExists(dir_->Sub("main/wal/0000000100000000/" + Segment(1, 4) + ".ark")));
    EXPECT_TRUE(PathExists(dir_->Sub("main/wal/history/00000002.history.ark")));
    ExpectCompleteBackupsIntact("after the expiry");

    auto again = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_TRUE(again->items.empty());
    EXPECT_EQ(SummarizeExpiry(*again), "nothing to expire");
}

TEST_F(ExpireTest, DryRunRemovesNothingAndReportsTheSame) {
    MakeHistory();
    std::vector<std::string> before = ListAllFilesRecursive(dir_->path());
    auto dry = Expire(*repo_, dir_->path(), cluster_, Options(true));
    ASSERT_TRUE(dry.ok()) << dry.status().message();
    EXPECT_EQ(ListAllFilesRecursive(dir_->path()), before);
    EXPECT_EQ(dry->items.size(), 6u);
    EXPECT_EQ(SummarizeExpiry(*dry),
              "would expire 2 backups and 4 WAL files, freeing " + FormatBytes(dry->bytes));

    auto real = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_TRUE(real.ok()) << real.status().message();
    ASSERT_EQ(real->items.size(), dry->items.size());
    for (size_t i = 0; i < real->items.size(); i++) {
        EXPECT_EQ(real->items[i].name, dry->items[i].name);
        EXPECT_EQ(real->items[i].bytes, dry->items[i].bytes);
        EXPECT_EQ(real->items[i].reason, dry->items[i].reason);
    }
}

/* Stops the expiry at every removal in turn (as kill -9 would), then runs it to the end. */
TEST_F(ExpireTest, InterruptedExpiryNeverLeavesABrokenCompleteBackup) {
    for (int fail_from = 0;; fail_from++) {
        SCOPED_TRACE("removal " + std::to_string(fail_from) + " fails");
        Reset();
        MakeHistory();

        auto failing = std::make_unique<FailingRemoves>(MakePosixStorage(dir_->path()), fail_from);
        FailingRemoves *fault = failing.get();
        Repository faulty(std::move(failing));
        auto report = Expire(faulty, dir_->path(), cluster_, Options(false));
        if (!fault->hit()) {
            ASSERT_TRUE(report.ok()) << report.status().message();
            EXPECT_GE(fail_from, 8) << "every removal was tried";
            break;
        }
        ASSERT_FALSE(report.ok());
        EXPECT_NE(report.status().message().find("injected"), std::string::npos);
        ExpectCompleteBackupsIntact("after the interruption");
        for (const std::string &id : Ids(*repo_, BackupStatus::complete))
            EXPECT_TRUE(id == f1_ || id == f2_ || id == d2_ || id == d1_ || id == i1_);

        Repository again(MakePosixStorage(dir_->path()));
        auto finished = Expire(again, dir_->path(), cluster_, Options(false));
        ASSERT_TRUE(finished.ok()) << finished.status().message();
        EXPECT_EQ(Ids(again, BackupStatus::complete), (std::vector<std::string>{f1_, f2_, d2_}));
        EXPECT_TRUE(Ids(again, BackupStatus::failed).empty()) << "the next expiry finishes it";
        EXPECT_FALSE(PathExists(dir_->Sub("main/backup/" + d1_)));
        EXPECT_FALSE(PathExists(dir_->Sub("main/backup/" + i1_)));
        EXPECT_FALSE(PathExists(dir_->Sub("main/backup.expiring")));
        EXPECT_FALSE(PathExists(dir_->Sub("main/wal/0000000100000000/" + Segment(1, 3) + ".ark")));
        ASSERT_LT(fail_from, 100);
    }
}

TEST_F(ExpireTest, FailedBackupsLeftovers) {
    f1_ = MakeBackup(BackupType::full, "", 1, 5);
    Catalog catalog(repo_.get(), "main");
    /* A failed backup whose parts were left behind (the helper died before removing them). */
    BackupMetadata failed;
    failed.id = MakeBackupId(kT0 + 2 * kDay, BackupType::full);
    failed.cluster = "main";
    failed.system_identifier = kSysid;
    failed.pg_version = "15";
    failed.start_time = kT0 + 2 * kDay;
    ASSERT_TRUE(catalog.WriteBackupInfo(failed).ok());
    RepoPath part = *RepoPath::Make("main/backup/" + failed.id + "/" + PartObjectName(1));
    ASSERT_TRUE(WriteWholeObject(repo_->storage(), part, "orphan", kUncompressed,
                                 WriteMode::create_new)
                    .ok());
    ASSERT_TRUE(catalog.WriteFailure(failed.id, "cancelled by backup_cancel()").ok());
    f2_ = MakeBackup(BackupType::full, "", 3, 7);

    auto report = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_TRUE(report.ok()) << report.status().message();
    ASSERT_EQ(report->items.size(), 1u);
    EXPECT_EQ(report->items[0].name, failed.id);
    EXPECT_EQ(report->items[0].reason, "leftovers of a failed backup");
    EXPECT_FALSE(PathExists(dir_->Sub("main/backup/" + failed.id + "/data")));
    EXPECT_EQ(Ids(*repo_, BackupStatus::failed), std::vector<std::string>{failed.id})
        << "its record stays while it is newer than the oldest kept backup";

    /* Two more fulls: F1 goes, and the failure is now older than the oldest kept backup. */
    MakeBackup(BackupType::full, "", 4, 9);
    report = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_TRUE(report.ok()) << report.status().message();
    ASSERT_EQ(report->backups, 2u);
    EXPECT_EQ(report->items[0].name, failed.id);
    EXPECT_EQ(report->items[0].reason, "failed backup older than the oldest kept backup");
    EXPECT_EQ(report->items[1].name, f1_);
    EXPECT_TRUE(Ids(*repo_, BackupStatus::failed).empty());
    EXPECT_FALSE(PathExists(dir_->Sub("main/backup/" + failed.id)));
}

TEST_F(ExpireTest, RefusesWhilePausedOrWhileABackupRuns) {
    MakeHistory();
    std::vector<std::string> before = ListAllFilesRecursive(dir_->path());
    ASSERT_TRUE(Pause(*repo_, "main", "tester", kT0).ok());
    auto paused = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_FALSE(paused.ok());
    EXPECT_EQ(paused.status().kind(), ErrorKind::conflict);
    EXPECT_NE(paused.status().message().find("expiry refused"), std::string::npos)
        << paused.status().message();
    auto dry = Expire(*repo_, dir_->path(), cluster_, Options(true));
    ASSERT_TRUE(dry.ok()) << "a dry run removes nothing, so it runs while paused";
    EXPECT_EQ(dry->items.size(), 6u);
    ASSERT_TRUE(Resume(*repo_, "main").ok());

    auto lock = BackupLock::Acquire(dir_->path(), "main", "20260107-000000F");
    ASSERT_TRUE(lock.ok());
    auto busy = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(busy.status().kind(), ErrorKind::conflict);
    EXPECT_EQ(busy.status().message(),
              "cannot expire now: a backup of cluster \"main\" is already running (backup "
              "20260107-000000F); expiry also runs by itself after each backup completes");
    lock->Release();
    std::vector<std::string> after = ListAllFilesRecursive(dir_->path());
    after.erase(std::remove(after.begin(), after.end(), "main/backup.lock"), after.end());
    EXPECT_EQ(after, before);

    /* And a backup that tries to start during an expiry is told what holds the lock. */
    auto expiry = BackupLock::AcquireForExpiry(dir_->path(), "main");
    ASSERT_TRUE(expiry.ok());
    auto backup = BackupLock::Acquire(dir_->path(), "main", "20260107-000001F");
    ASSERT_FALSE(backup.ok());
    EXPECT_EQ(backup.status().message(),
              "expiry of cluster \"main\" is running; try again when it ends");
}

/* backup_expire(dry_run) through the socket's command: rows (kind, name, bytes, reason). */
TEST_F(ExpireTest, CommandServiceStreamsRows) {
    MakeHistory();
    Config config;
    config.repo_path = dir_->path();
    config.clusters["main"] = cluster_;
    CommandService service(config, repo_.get());
    wire::CommandRequest request;
    snprintf(request.cluster, sizeof request.cluster, "main");
    request.system_identifier = kSysid;
    request.command = wire::Command::expire;
    request.flags = wire::kCommandDryRun;
    std::vector<std::vector<std::string>> rows;
    RowSink sink = [&rows](const std::vector<std::string> &columns) {
        rows.push_back(columns);
        return Status::Ok();
    };
    std::vector<std::string> before = ListAllFilesRecursive(dir_->path());
    std::string message;
    Status run = service.Run(request, sink, &message);
    ASSERT_TRUE(run.ok()) << run.message();
    EXPECT_EQ(ListAllFilesRecursive(dir_->path()), before) << "a dry run";
    ASSERT_EQ(rows.size(), 6u);
    EXPECT_EQ(rows[0].size(), 4u);
    EXPECT_EQ(rows[0][0], "backup");
    EXPECT_EQ(rows[0][1], i1_);
    EXPECT_GT(std::stoull(rows[0][2]), 0u);
    EXPECT_EQ(rows[0][3], "builds on expired backup " + d1_);
    EXPECT_EQ(rows[2][0], "wal");
    EXPECT_EQ(rows[2][1], Segment(1, 2));
    EXPECT_EQ(message.rfind("would expire 2 backups and 4 WAL files, freeing ", 0), 0u) << message;

    request.flags = 0;
    rows.clear();
    run = service.Run(request, sink, &message);
    ASSERT_TRUE(run.ok()) << run.message();
    EXPECT_EQ(rows.size(), 6u);
    EXPECT_EQ(Ids(*repo_, BackupStatus::complete), (std::vector<std::string>{f1_, f2_, d2_}));

    request.system_identifier = kSysid + 1;
    run = service.Run(request, sink, &message);
    EXPECT_EQ(run.kind(), ErrorKind::system_mismatch) << "another system's database cannot expire";
}

TEST_F(ExpireTest, NoPolicyExpiresNothing) {
    MakeHistory();
    cluster_.retention = Retention();
    std::vector<std::string> before = ListAllFilesRecursive(dir_->path());
    auto report = Expire(*repo_, dir_->path(), cluster_, Options(false));
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_TRUE(report->items.empty());
    EXPECT_EQ(report->policy, "no retention policy");
    std::vector<std::string> after = ListAllFilesRecursive(dir_->path());
    after.erase(std::remove(after.begin(), after.end(), "main/backup.lock"), after.end());
    EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace pg_ark

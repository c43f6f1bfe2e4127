/*
 * verify_test.cpp
 *     Tests of repository verification (helper/src/verify.h) on repositories built by hand:
 *     backups whose parts are written through ObjectEncoder, WAL segments of 1 MiB with a long
 *     page header, then damaged one way or several. Every problem must be a row naming the
 *     object, and each backup's reach must end where the archived WAL stops being usable.
 */
#include "verify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "backup_builder.h"
#include "catalog.h"
#include "command_service.h"
#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

using test_backup::BackupBuilder;
using test_backup::kCluster;
using test_backup::kPartSize;
using test_backup::kSysid;
using pg_ark_test::MakeFakeSegment;
using pg_ark_test::RandomBytes;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

constexpr uint64_t kSegment = 1u << 20; /* 1 MiB segments keep the tests fast */

std::string Segment(uint32_t timeline, uint64_t segno) {
    return fmt::format("{:08X}{:08X}{:08X}", timeline, segno / 4096, segno % 4096);
}

/* A backup of WAL segments start_segno to stop_segno (of kSegment bytes), as the engine writes one. */
class Backup : public BackupBuilder {
  public:
    Backup(Repository *repository, int64_t start_time, uint64_t start_segno, uint64_t stop_segno,
           BackupType type = BackupType::full, const std::string &parent = "")
        : BackupBuilder(repository, start_time, kSysid, type, parent) {
        SetWalRange(start_segno, stop_segno, kSegment);
    }

    /* An incremental's file stored as its first block only (the rest from the parent). */
    void FirstBlockOnly(const std::string &path, const std::string &content) {
        BlocksFile(path, content, {BlockRun{0, 1}});
    }

    /* The row's object for that part. */
    std::string PartObject(const std::string &file, size_t part) const {
        for (const BackupEntry &entry : manifest().entries)
            if (entry.path == file)
                return fmt::format("backup {}: {} part {} ({})", id(), file, part,
                                   PartObjectName(entry.parts.at(part).object));
        return "";
    }
};

class VerifyTest : public ::testing::Test {
  protected:
    VerifyTest() : dir_("pg_ark_verify_repo"), repository_(MakePosixStorage(dir_.path())) {}

    void SetUp() override {
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        ASSERT_TRUE(repository_.InitCluster(kCluster, identity).ok());
    }

    /* Archives a WAL file with the given content. */
    void Archive(const std::string &name, const std::string &content) {
        auto path = Repository::WalPath(kCluster, name);
        ASSERT_TRUE(path.ok()) << path.status().message();
        Status written = WriteWholeObject(repository_.storage(), *path, content, Compression{},
                                          WriteMode::create_new);
        ASSERT_TRUE(written.ok()) << written.message();
    }

    /* Segments first..last of a timeline, whole. */
    void ArchiveSegments(uint32_t timeline, uint64_t first, uint64_t last) {
        for (uint64_t segno = first; segno <= last; segno++) {
            std::string data = MakeFakeSegment(kSysid, static_cast<uint32_t>(segno * 10 + timeline),
                                               kSegment);
            Archive(Segment(timeline, segno), data);
        }
    }

    std::string WalFile(const std::string &name) {
        return dir_.Sub(Repository::WalPath(kCluster, name)->str());
    }

    /* A full backup of segments 3..4 and WAL 1..8 on timeline 1; edit changes its manifest. */
    Backup &Typical(std::function<void(Manifest *)> edit = nullptr) {
        backups_.emplace_back(std::make_unique<Backup>(&repository_, 1767225600, 3, 4));
        Backup &backup = *backups_.back();
        backup.edit_manifest = std::move(edit);
        backup.Directory("base");
        backup.Directory("base/5");
        backup.File("PG_VERSION", "15\n");
        backup.File("base/5/16384", RandomBytes(3 * kPartSize + 17, 1));
        backup.File("global_pg_control", RandomBytes(8192, 2));
        backup.Commit();
        ArchiveSegments(1, 1, 8);
        return backup;
    }

    VerifyReport Verify(const std::string &id = "") {
        auto report = VerifyRepository(repository_, kCluster, id, 2, false);
        EXPECT_TRUE(report.ok()) << report.status().message();
        if (!report.ok()) return VerifyReport();
        return std::move(*report);
    }

    static std::string Rows(const VerifyReport &report) {
        std::string text;
        for (const VerifyProblem &row : report.problems) text += row.object + ": " + row.problem + "\n";
        return text;
    }

    static const VerifyProblem *Find(const VerifyReport &report, const std::string &object) {
        for (const VerifyProblem &row : report.problems)
            if (row.object == object) return &row;
        return nullptr;
    }

    static void FlipByte(const std::string &path, long offset) {
        std::string data = ReadFileBytes(path);
        if (offset < 0) offset += static_cast<long>(data.size());
        data[offset] ^= 0x20;
        WriteFileBytes(path, data);
    }

    TempDir dir_;
    Repository repository_;
    std::vector<std::unique_ptr<Backup>> backups_;
};

TEST_F(VerifyTest, CleanRepositoryHasNoProblems) {
    Backup &backup = Typical();
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << Rows(report);
    ASSERT_EQ(report.backups.size(), 1u);
    const BackupVerdict &verdict = report.backups[0];
    EXPECT_EQ(verdict.id, backup.id());
    EXPECT_TRUE(verdict.ok());
    EXPECT_EQ(verdict.objects, 6u); /* PG_VERSION 1, 16384 4, pg_control 1 */
    EXPECT_TRUE(verdict.wal_needed_ok);
    EXPECT_EQ(verdict.reachable_until, Segment(1, 8));
    EXPECT_EQ(report.wal.segments, 8u);
    EXPECT_EQ(report.wal.segment_size, kSegment);
    EXPECT_NE(VerifySummary(report).find("no problems"), std::string::npos);
    EXPECT_NE(DescribeVerdict(verdict).find("recovery can reach the end of segment " + Segment(1, 8)),
              std::string::npos)
        << DescribeVerdict(verdict);
}

TEST_F(VerifyTest, FlippedBitInAPartIsNamed) {
    Backup &backup = Typical();
    FlipByte(dir_.Sub(backup.ObjectPath("base/5/16384", 2)), 100);
    VerifyReport report = Verify();
    ASSERT_EQ(report.problems.size(), 1u) << Rows(report);
    EXPECT_EQ(report.problems[0].object, backup.PartObject("base/5/16384", 2));
    EXPECT_NE(report.problems[0].problem.find("is corrupt"), std::string::npos) << Rows(report);
    EXPECT_NE(report.problems[0].problem.find(backup.ObjectPath("base/5/16384", 2)),
              std::string::npos)
        << Rows(report);
    EXPECT_FALSE(report.backups[0].ok());
    EXPECT_EQ(report.backups[0].problems, 1u);
}

TEST_F(VerifyTest, MissingPartIsAProblemNotACrash) {
    Backup &backup = Typical();
    ASSERT_EQ(unlink(dir_.Sub(backup.ObjectPath("PG_VERSION", 0)).c_str()), 0);
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, backup.PartObject("PG_VERSION", 0));
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_EQ(row->problem.rfind("missing: stored object", 0), 0u) << row->problem;
}

TEST_F(VerifyTest, PartSwappedForAnotherValidObjectIsNamed) {
    Backup &backup = Typical();
    /* Both objects are sound; only the manifest's checksums tell them apart. */
    std::string a = dir_.Sub(backup.ObjectPath("base/5/16384", 0));
    std::string b = dir_.Sub(backup.ObjectPath("base/5/16384", 1));
    WriteFileBytes(a, ReadFileBytes(b));
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, backup.PartObject("base/5/16384", 0));
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_NE(row->problem.find("differs from the one its manifest records"), std::string::npos);
}

TEST_F(VerifyTest, WrongXxh128IsNamed) {
    /* Delta restore trusts a part's XXH3-128 to say the bytes in place are the part's. */
    Backup &backup = Typical([](Manifest *manifest) {
        for (BackupEntry &entry : manifest->entries)
            if (entry.path == "base/5/16384") {
                ASSERT_TRUE(entry.parts[1].has_xxh128);
                entry.parts[1].xxh128[15] ^= 1;
            }
    });
    VerifyReport report = Verify();
    ASSERT_EQ(report.problems.size(), 1u) << Rows(report);
    EXPECT_EQ(report.problems[0].object, backup.PartObject("base/5/16384", 1));
    EXPECT_NE(report.problems[0].problem.find("its XXH3-128 differs from the one its manifest"),
              std::string::npos)
        << Rows(report);
    EXPECT_FALSE(report.backups[0].ok());
}

TEST_F(VerifyTest, TruncatedSegmentIsNamedAndEndsTheReach) {
    Typical();
    std::string name = Segment(1, 6);
    ASSERT_EQ(unlink(WalFile(name).c_str()), 0);
    std::string data = MakeFakeSegment(kSysid, 61, kSegment);
    data.resize(kSegment / 2); /* the header still says 1 MiB */
    Archive(name, data);
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, "wal " + name);
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_EQ(row->problem.rfind("truncated: 524288 of 1048576 bytes", 0), 0u) << row->problem;
    EXPECT_NE(row->problem.find("stops before it"), std::string::npos) << row->problem;
    EXPECT_EQ(report.backups[0].reachable_until, Segment(1, 5));
    EXPECT_TRUE(report.backups[0].ok()); /* its own objects and consistency WAL are sound */
}

TEST_F(VerifyTest, TruncatedStoredObjectIsCorrupt) {
    Typical();
    std::string path = WalFile(Segment(1, 7));
    std::string data = ReadFileBytes(path);
    WriteFileBytes(path, data.substr(0, data.size() / 2));
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, "wal " + Segment(1, 7));
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_NE(row->problem.find("is corrupt"), std::string::npos) << row->problem;
    EXPECT_EQ(report.backups[0].reachable_until, Segment(1, 6));
}

TEST_F(VerifyTest, MissingSegmentTheBackupNeedsNamesTheBackup) {
    Backup &backup = Typical();
    ASSERT_EQ(unlink(WalFile(Segment(1, 4)).c_str()), 0);
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, "wal " + Segment(1, 4));
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_EQ(row->problem, fmt::format("missing: backup {} needs it for consistency ({} to {})",
                                        backup.id(), Segment(1, 3), Segment(1, 4)));
    const BackupVerdict &verdict = report.backups[0];
    EXPECT_FALSE(verdict.ok());
    EXPECT_FALSE(verdict.wal_needed_ok);
    EXPECT_TRUE(verdict.reachable_until.empty());
    EXPECT_NE(DescribeVerdict(verdict).find("cannot reach a consistent state"), std::string::npos);
}

TEST_F(VerifyTest, GapAfterTheBackupEndsItsReach) {
    Backup &backup = Typical();
    ASSERT_EQ(unlink(WalFile(Segment(1, 6)).c_str()), 0);
    VerifyReport report = Verify();
    ASSERT_EQ(report.problems.size(), 1u) << Rows(report);
    EXPECT_EQ(report.problems[0].object, "wal " + Segment(1, 6));
    EXPECT_NE(report.problems[0].problem.find(fmt::format(
                  "missing: recovery from backup {} stops at the end of {}", backup.id(),
                  Segment(1, 5))),
              std::string::npos)
        << Rows(report);
    EXPECT_NE(report.problems[0].problem.find("up to " + Segment(1, 8)), std::string::npos);
    EXPECT_EQ(report.backups[0].reachable_until, Segment(1, 5));
}

TEST_F(VerifyTest, EndOfTheArchiveIsNotAGap) {
    Typical();
    ASSERT_EQ(unlink(WalFile(Segment(1, 8)).c_str()), 0);
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << Rows(report);
    EXPECT_EQ(report.backups[0].reachable_until, Segment(1, 7));
}

TEST_F(VerifyTest, EveryProblemIsReported) {
    Backup &backup = Typical();
    FlipByte(dir_.Sub(backup.ObjectPath("global_pg_control", 0)), -100);
    ASSERT_EQ(unlink(dir_.Sub(backup.ObjectPath("base/5/16384", 3)).c_str()), 0);
    ASSERT_EQ(unlink(WalFile(Segment(1, 3)).c_str()), 0);
    FlipByte(WalFile(Segment(1, 7)), 5000);
    std::string data = MakeFakeSegment(kSysid, 99, kSegment);
    data.resize(4096);
    ASSERT_EQ(unlink(WalFile(Segment(1, 8)).c_str()), 0);
    Archive(Segment(1, 8), data);
    VerifyReport report = Verify();
    EXPECT_EQ(report.problems.size(), 5u) << Rows(report);
    EXPECT_NE(Find(report, backup.PartObject("global_pg_control", 0)), nullptr) << Rows(report);
    EXPECT_NE(Find(report, backup.PartObject("base/5/16384", 3)), nullptr) << Rows(report);
    EXPECT_NE(Find(report, "wal " + Segment(1, 3)), nullptr) << Rows(report);
    EXPECT_NE(Find(report, "wal " + Segment(1, 7)), nullptr) << Rows(report);
    ASSERT_NE(Find(report, "wal " + Segment(1, 8)), nullptr) << Rows(report);
    EXPECT_EQ(Find(report, "wal " + Segment(1, 8))->problem.rfind("truncated: 4096 of", 0), 0u);
    EXPECT_EQ(report.backups[0].problems, 3u);
    EXPECT_NE(VerifySummary(report).find(": 5 problems"), std::string::npos) << VerifySummary(report);
}

TEST_F(VerifyTest, IncrementalOnADamagedParentIsNotOk) {
    Backup &full = Typical();
    Backup incremental(&repository_, 1767229200, 6, 6, BackupType::incremental, full.id());
    incremental.Directory("base");
    incremental.Directory("base/5");
    incremental.File("PG_VERSION", "15\n");
    incremental.FirstBlockOnly("base/5/16384", RandomBytes(3 * kPartSize + 17, 1).substr(0, 3 * 8192));
    incremental.File("global_pg_control", RandomBytes(8192, 3));
    incremental.Commit();
    VerifyReport clean = Verify();
    EXPECT_TRUE(clean.ok()) << Rows(clean);

    FlipByte(dir_.Sub(full.ObjectPath("base/5/16384", 0)), 50);
    VerifyReport report = Verify(incremental.id());
    ASSERT_EQ(report.backups.size(), 2u); /* --set reads the chain too */
    EXPECT_NE(Find(report, full.PartObject("base/5/16384", 0)), nullptr) << Rows(report);
    const VerifyProblem *row = Find(report, "backup " + incremental.id() + ": parent");
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_NE(row->problem.find("builds on backup " + full.id() + ", which has 1 problem"),
              std::string::npos)
        << row->problem;
    EXPECT_FALSE(report.backups[1].ok());
    EXPECT_FALSE(report.backups[0].wal_checked); /* a restore of the child needs only its WAL */
    EXPECT_TRUE(report.backups[1].wal_checked);
    EXPECT_EQ(report.backups[0].problems, 1u) << Rows(report);
}

TEST_F(VerifyTest, IncrementalWithoutItsParentIsNamed) {
    Typical();
    Backup incremental(&repository_, 1767229200, 6, 6, BackupType::incremental,
                       "20250101-000000F");
    incremental.Directory("base");
    incremental.File("PG_VERSION", "15\n");
    incremental.Commit();
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, "backup " + incremental.id() + ": parent");
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_NE(row->problem.find("which does not exist"), std::string::npos) << row->problem;
}

TEST_F(VerifyTest, SetVerifiesOneBackupAndItsWal) {
    Backup &old_backup = Typical();
    Backup newer(&repository_, 1767229200, 6, 6);
    newer.Directory("base");
    newer.File("PG_VERSION", "15\n");
    newer.Commit();
    FlipByte(dir_.Sub(old_backup.ObjectPath("PG_VERSION", 0)), 20);
    ASSERT_EQ(unlink(WalFile(Segment(1, 2)).c_str()), 0); /* before the newer backup */

    VerifyReport report = Verify(newer.id());
    EXPECT_TRUE(report.ok()) << Rows(report);
    ASSERT_EQ(report.backups.size(), 1u);
    EXPECT_EQ(report.backups[0].id, newer.id());
    EXPECT_EQ(report.wal.segments, 3u); /* 6, 7, 8 */
    EXPECT_EQ(report.backups[0].reachable_until, Segment(1, 8));

    VerifyReport all = Verify();
    EXPECT_EQ(all.problems.size(), 1u) << Rows(all); /* WAL before every backup is no gap */

    auto unknown = VerifyRepository(repository_, kCluster, "20990101-000000F", 1, false);
    EXPECT_EQ(unknown.status().kind(), ErrorKind::not_found);
}

TEST_F(VerifyTest, ReachFollowsALaterTimeline) {
    /* Timeline 2 branched from 1 at 0/680000 (segment 6) after the backup. */
    Backup &backup = Typical();
    Archive("00000002.history", "1\t0/680000\tno recovery target specified\n");
    ArchiveSegments(2, 6, 10);
    VerifyReport report = Verify();
    EXPECT_TRUE(report.ok()) << Rows(report);
    EXPECT_EQ(report.backups[0].reachable_until, Segment(2, 10));
    EXPECT_EQ(report.backups[0].reachable_timeline, 2u);

    ASSERT_EQ(unlink(WalFile(Segment(2, 8)).c_str()), 0);
    report = Verify(backup.id());
    ASSERT_EQ(report.problems.size(), 1u) << Rows(report);
    EXPECT_EQ(report.problems[0].object, "wal " + Segment(2, 8));
    EXPECT_EQ(report.backups[0].reachable_until, Segment(2, 7));
}

TEST_F(VerifyTest, DamagedHistoryFileIsNamed) {
    Typical();
    Archive("00000002.history", "1\t0/680000\tno recovery target specified\n");
    FlipByte(WalFile("00000002.history"), 20);
    VerifyReport report = Verify();
    const VerifyProblem *row = Find(report, "wal 00000002.history");
    ASSERT_NE(row, nullptr) << Rows(report);
    EXPECT_NE(row->problem.find("is corrupt"), std::string::npos);
}

TEST_F(VerifyTest, CommandServiceStreamsProblemRowsAndSummarizes) {
    Backup &backup = Typical();
    ASSERT_EQ(unlink(WalFile(Segment(1, 4)).c_str()), 0);
    Config config;
    config.repo_path = dir_.path();
    config.clusters[kCluster].name = kCluster;
    CommandService service(config, &repository_);
    wire::CommandRequest request;
    snprintf(request.cluster, sizeof request.cluster, "%s", kCluster);
    request.system_identifier = kSysid;
    request.command = wire::Command::verify;
    std::vector<std::vector<std::string>> rows;
    std::string message;
    Status status = service.Run(
        request,
        [&](const std::vector<std::string> &columns) {
            rows.push_back(columns);
            return Status::Ok();
        },
        &message);
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{
                           "wal " + Segment(1, 4),
                           fmt::format("missing: backup {} needs it for consistency ({} to {})",
                                       backup.id(), Segment(1, 3), Segment(1, 4))}));
    EXPECT_EQ(message.rfind("verified 1 backup (6 objects, ", 0), 0u) << message;
    EXPECT_NE(message.find("\nbackup " + backup.id() + " (full): 1 problem"), std::string::npos)
        << message;

    request.system_identifier = kSysid + 1;
    EXPECT_EQ(service.Run(request, nullptr, &message).kind(), ErrorKind::system_mismatch);
}

}  // namespace
}  // namespace pg_ark

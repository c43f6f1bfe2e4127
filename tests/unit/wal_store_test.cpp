/*
 * wal_store_test.cpp
 *     Tests of archiving WAL into the repository and restoring it (helper/src/wal_store.h):
 *     byte-identical round trips, idempotent re-push, refusal of conflicting content and of
 *     other systems' files, and that a failed restore never creates or damages the destination.
 */
#include "wal_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "wal_repository_fixture.h"

namespace pg_ark {
namespace {

using pg_ark_test::ReadFd;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

using test_wal::kSysid;
constexpr const char *kSegment = "000000010000000000000003";
/* Most tests use 1 MiB segments (the smallest wal_segment_size) to keep the suite fast; the
 * round trip and conflict tests use the default 16 MiB. */
constexpr size_t kSmall = 1024 * 1024;
constexpr const char *kStoredSegment = "main/wal/0000000100000000/000000010000000000000003.ark";

using WalStoreTest = test_wal::WalRepositoryTest;

TEST_F(WalStoreTest, PushThenGetIsByteIdentical) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 1);
    Result<PushOutcome> pushed = PushBytes(kSegment, segment);
    ASSERT_TRUE(pushed.ok()) << pushed.status().message();
    EXPECT_FALSE(pushed->already_archived);
    EXPECT_EQ(pushed->original_size, segment.size());
    EXPECT_GT(pushed->stored_size, 0u);
    EXPECT_LT(pushed->stored_size, segment.size()) << "compressible segment was not compressed";
    /* Stored where the layout says, with the size reported. */
    ASSERT_TRUE(pg_ark_test::PathExists(repo_dir_.Sub(kStoredSegment)));
    struct stat st;
    ASSERT_EQ(stat(repo_dir_.Sub(kStoredSegment).c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), pushed->stored_size);

    std::string destination = work_dir_.Sub("RECOVERYXLOG");
    Status got = store_.Get("main", kSegment, destination);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_TRUE(ReadFileBytes(destination) == segment) << "restored segment differs";
    /* Only the destination appeared: no temp files next to it. */
    std::vector<std::string> entries = pg_ark_test::ListAllEntries(work_dir_.path());
    for (const std::string &name : entries)
        EXPECT_TRUE(name == "RECOVERYXLOG" || name.rfind("source-", 0) == 0) << name;
}

TEST_F(WalStoreTest, PushReadsFromStartRegardlessOfFdOffset) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 2, kSmall);
    std::string source = work_dir_.Sub("moved");
    WriteFileBytes(source, segment);
    ReadFd fd(source);
    ASSERT_GE(fd.fd, 0);
    ASSERT_EQ(lseek(fd.fd, 12345, SEEK_SET), 12345);
    Result<PushOutcome> pushed = store_.Push("main", kSysid, kSegment, fd.fd, Compression{});
    ASSERT_TRUE(pushed.ok()) << pushed.status().message();
    std::string destination = work_dir_.Sub("out");
    ASSERT_TRUE(store_.Get("main", kSegment, destination).ok());
    EXPECT_TRUE(ReadFileBytes(destination) == segment);
}

TEST_F(WalStoreTest, GetReplacesExistingDestination) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 3, kSmall);
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());
    std::string destination = work_dir_.Sub("RECOVERYXLOG");
    WriteFileBytes(destination, "stale content from an earlier restore");
    ASSERT_TRUE(store_.Get("main", kSegment, destination).ok());
    EXPECT_TRUE(ReadFileBytes(destination) == segment);
}

TEST_F(WalStoreTest, UncompressedPushRoundTrips) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 4, kSmall);
    Result<PushOutcome> pushed =
        PushBytes(kSegment, segment, kSysid, "main", Compression{CompressType::none, 1});
    ASSERT_TRUE(pushed.ok()) << pushed.status().message();
    EXPECT_GT(pushed->stored_size, segment.size());
    std::string destination = work_dir_.Sub("out");
    ASSERT_TRUE(store_.Get("main", kSegment, destination).ok());
    EXPECT_TRUE(ReadFileBytes(destination) == segment);
}

TEST_F(WalStoreTest, PushIdenticalAgainIsAlreadyArchived) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 5, kSmall);
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());
    std::string stored_before = ReadFileBytes(repo_dir_.Sub(kStoredSegment));
    Result<PushOutcome> again = PushBytes(kSegment, segment);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_TRUE(again->already_archived);
    EXPECT_EQ(again->original_size, segment.size());
    EXPECT_TRUE(ReadFileBytes(repo_dir_.Sub(kStoredSegment)) == stored_before);
    /* Same content with a different compression setting is still the same WAL. */
    Result<PushOutcome> plain =
        PushBytes(kSegment, segment, kSysid, "main", Compression{CompressType::none, 1});
    ASSERT_TRUE(plain.ok()) << plain.status().message();
    EXPECT_TRUE(plain->already_archived);
}

TEST_F(WalStoreTest, PushDifferentContentIsConflict) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 6);
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());
    std::string stored_before = ReadFileBytes(repo_dir_.Sub(kStoredSegment));

    std::string other = segment;
    other[5000000] ^= 0x01;
    Result<PushOutcome> conflicting = PushBytes(kSegment, other);
    ASSERT_FALSE(conflicting.ok());
    EXPECT_EQ(conflicting.status().kind(), ErrorKind::conflict) << conflicting.status().message();
    EXPECT_NE(conflicting.status().message().find(kSegment), std::string::npos)
        << conflicting.status().message();

    /* A shorter file (a truncated copy) is a conflict too. */
    Result<PushOutcome> shorter = PushBytes(kSegment, segment.substr(0, segment.size() / 2));
    ASSERT_FALSE(shorter.ok());
    EXPECT_EQ(shorter.status().kind(), ErrorKind::conflict);

    EXPECT_TRUE(ReadFileBytes(repo_dir_.Sub(kStoredSegment)) == stored_before);
    std::string destination = work_dir_.Sub("out");
    ASSERT_TRUE(store_.Get("main", kSegment, destination).ok());
    EXPECT_TRUE(ReadFileBytes(destination) == segment);
    /* No temp files left in the repository. */
    EXPECT_EQ(pg_ark_test::ListAllEntries(repo_dir_.Sub("main/wal/0000000100000000")),
              std::vector<std::string>{std::string(kSegment) + ".ark"});
}

TEST_F(WalStoreTest, PushWithOtherSystemIdentifierInRequestIsMismatch) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid + 1, 7, kSmall);
    Result<PushOutcome> pushed = PushBytes(kSegment, segment, kSysid + 1);
    ASSERT_FALSE(pushed.ok());
    EXPECT_EQ(pushed.status().kind(), ErrorKind::system_mismatch) << pushed.status().message();
    EXPECT_FALSE(pg_ark_test::PathExists(repo_dir_.Sub(kStoredSegment)));
    /* Request says other system, header says ours: still refused. */
    Result<PushOutcome> header_ok =
        PushBytes(kSegment, pg_ark_test::MakeFakeSegment(kSysid, 7, kSmall), 99);
    ASSERT_FALSE(header_ok.ok());
    EXPECT_EQ(header_ok.status().kind(), ErrorKind::system_mismatch);
    EXPECT_FALSE(pg_ark_test::PathExists(repo_dir_.Sub(kStoredSegment)));
}

TEST_F(WalStoreTest, PushSegmentFromOtherSystemIsMismatch) {
    /* The request claims our system, but the segment's long page header says otherwise. */
    std::string foreign = pg_ark_test::MakeFakeSegment(kSysid ^ 0xFFFF, 8, kSmall);
    Result<PushOutcome> pushed = PushBytes(kSegment, foreign, kSysid);
    ASSERT_FALSE(pushed.ok());
    EXPECT_EQ(pushed.status().kind(), ErrorKind::system_mismatch) << pushed.status().message();
    EXPECT_FALSE(pg_ark_test::PathExists(repo_dir_.Sub(kStoredSegment)));

    std::string partial_name = std::string(kSegment) + ".partial";
    Result<PushOutcome> partial = PushBytes(partial_name, foreign, kSysid);
    ASSERT_FALSE(partial.ok());
    EXPECT_EQ(partial.status().kind(), ErrorKind::system_mismatch) << partial.status().message();
}

TEST_F(WalStoreTest, PushToUninitializedClusterIsNotInitialized) {
    Result<PushOutcome> pushed =
        PushBytes(kSegment, pg_ark_test::MakeFakeSegment(kSysid, 9, kSmall), kSysid, "other");
    ASSERT_FALSE(pushed.ok());
    EXPECT_EQ(pushed.status().kind(), ErrorKind::not_initialized) << pushed.status().message();
    EXPECT_FALSE(pg_ark_test::PathExists(repo_dir_.Sub("other/wal")));
}

TEST_F(WalStoreTest, PushInvalidNameRejected) {
    for (const char *name : {"../../escape", "a/b", "", "00000001000000000000000a"}) {
        Result<PushOutcome> pushed = PushBytes(name, "data");
        ASSERT_FALSE(pushed.ok()) << name;
        EXPECT_EQ(pushed.status().kind(), ErrorKind::invalid_argument) << name;
    }
    EXPECT_FALSE(pg_ark_test::PathExists(repo_dir_.path() + "/../escape.ark"));
}

TEST_F(WalStoreTest, PushNonRegularFileRejected) {
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    ASSERT_EQ(write(pipe_fds[1], "abc", 3), 3);
    close(pipe_fds[1]);
    Result<PushOutcome> pushed = store_.Push("main", kSysid, kSegment, pipe_fds[0], Compression{});
    close(pipe_fds[0]);
    EXPECT_FALSE(pushed.ok());
    EXPECT_FALSE(pg_ark_test::PathExists(repo_dir_.Sub(kStoredSegment)));
}

TEST_F(WalStoreTest, GetMissingIsNotFound) {
    std::string destination = work_dir_.Sub("RECOVERYXLOG");
    Status got = store_.Get("main", kSegment, destination);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.kind(), ErrorKind::not_found) << got.message();
    EXPECT_FALSE(pg_ark_test::PathExists(destination));
    Status history = store_.Get("main", "00000009.history", destination);
    EXPECT_EQ(history.kind(), ErrorKind::not_found) << history.message();
    EXPECT_EQ(pg_ark_test::ListAllEntries(work_dir_.path()), std::vector<std::string>{});
}

TEST_F(WalStoreTest, GetIntoMissingDirectoryIsNotReportedAsNotFound) {
    /* archive-get exits 1 ("not in the repository") only for not_found; a restore that cannot
     * write its destination must be a loud failure, or recovery would end early. */
    ASSERT_TRUE(PushBytes(kSegment, pg_ark_test::MakeFakeSegment(kSysid, 10, kSmall)).ok());
    Status got = store_.Get("main", kSegment, work_dir_.Sub("no/such/dir/RECOVERYXLOG"));
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.kind(), ErrorKind::not_found) << got.message();
}

TEST_F(WalStoreTest, GetCorruptObjectIsCorruptAndLeavesDestinationAlone) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 11, kSmall);
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());
    std::string stored = ReadFileBytes(repo_dir_.Sub(kStoredSegment));
    stored[stored.size() / 2] ^= 0x40;
    WriteFileBytes(repo_dir_.Sub(kStoredSegment), stored);

    std::string destination = work_dir_.Sub("RECOVERYXLOG");
    Status got = store_.Get("main", kSegment, destination);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.kind(), ErrorKind::corrupt) << got.message();
    EXPECT_FALSE(pg_ark_test::PathExists(destination)) << "destination created from corrupt data";

    WriteFileBytes(destination, "previous content");
    got = store_.Get("main", kSegment, destination);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.kind(), ErrorKind::corrupt) << got.message();
    EXPECT_EQ(ReadFileBytes(destination), "previous content");

    /* No temp files left behind next to the destination. */
    for (const std::string &name : pg_ark_test::ListAllEntries(work_dir_.path()))
        EXPECT_TRUE(name == "RECOVERYXLOG" || name.rfind("source-", 0) == 0) << name;
}

TEST_F(WalStoreTest, GetTruncatedObjectIsCorrupt) {
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 12, kSmall);
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());
    std::string stored = ReadFileBytes(repo_dir_.Sub(kStoredSegment));
    WriteFileBytes(repo_dir_.Sub(kStoredSegment), stored.substr(0, stored.size() - 100));
    std::string destination = work_dir_.Sub("RECOVERYXLOG");
    Status got = store_.Get("main", kSegment, destination);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.kind(), ErrorKind::corrupt) << got.message();
    EXPECT_FALSE(pg_ark_test::PathExists(destination));
}

TEST_F(WalStoreTest, HistoryFilePushGet) {
    std::string history = "1\t0/3000000\tno recovery target specified\n";
    Result<PushOutcome> pushed = PushBytes("00000002.history", history);
    ASSERT_TRUE(pushed.ok()) << pushed.status().message();
    EXPECT_FALSE(pushed->already_archived);
    EXPECT_EQ(pushed->original_size, history.size());
    EXPECT_TRUE(pg_ark_test::PathExists(repo_dir_.Sub("main/wal/history/00000002.history.ark")));

    std::string destination = work_dir_.Sub("RECOVERYHISTORY");
    ASSERT_TRUE(store_.Get("main", "00000002.history", destination).ok());
    EXPECT_EQ(ReadFileBytes(destination), history);

    Result<PushOutcome> again = PushBytes("00000002.history", history);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->already_archived);
    Result<PushOutcome> changed = PushBytes("00000002.history", history + "2\t0/4000000\tx\n");
    ASSERT_FALSE(changed.ok());
    EXPECT_EQ(changed.status().kind(), ErrorKind::conflict);
}

TEST_F(WalStoreTest, BackupHistoryAndPartialPushGet) {
    std::string backup = "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n";
    std::string backup_name = "000000010000000000000003.00000028.backup";
    ASSERT_TRUE(PushBytes(backup_name, backup).ok());
    std::string partial = pg_ark_test::MakeFakeSegment(kSysid, 13, kSmall);
    std::string partial_name = "000000010000000000000003.partial";
    ASSERT_TRUE(PushBytes(partial_name, partial).ok());
    /* The segment of the same number is a distinct object. */
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 14, kSmall);
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());

    std::string out = work_dir_.Sub("out");
    ASSERT_TRUE(store_.Get("main", backup_name, out).ok());
    EXPECT_EQ(ReadFileBytes(out), backup);
    ASSERT_TRUE(store_.Get("main", partial_name, out).ok());
    EXPECT_TRUE(ReadFileBytes(out) == partial);
    ASSERT_TRUE(store_.Get("main", kSegment, out).ok());
    EXPECT_TRUE(ReadFileBytes(out) == segment);
}

TEST_F(WalStoreTest, GetPrefersTheFullSegmentToItsPartial) {
    std::string partial = pg_ark_test::MakeFakeSegment(kSysid, 15, kSmall);
    std::string segment = pg_ark_test::MakeFakeSegment(kSysid, 16, kSmall);
    ASSERT_TRUE(PushBytes(std::string(kSegment) + ".partial", partial).ok());
    ASSERT_TRUE(PushBytes(kSegment, segment).ok());
    std::string out = work_dir_.Sub("RECOVERYXLOG");
    std::string served;
    Status got = store_.Get("main", kSegment, out, &served);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ(served, kSegment);
    EXPECT_TRUE(ReadFileBytes(out) == segment);
}

TEST_F(WalStoreTest, GetServesThePartialWhenTheSegmentIsMissing) {
    /* PostgreSQL asks for the plain name; a promotion archived only "<name>.partial". */
    std::string partial = pg_ark_test::MakeFakeSegment(kSysid, 17, kSmall);
    ASSERT_TRUE(PushBytes(std::string(kSegment) + ".partial", partial).ok());
    std::string out = work_dir_.Sub("RECOVERYXLOG");
    std::string served;
    Status got = store_.Get("main", kSegment, out, &served);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ(served, std::string(kSegment) + ".partial");
    EXPECT_TRUE(ReadFileBytes(out) == partial);
    /* Without the out parameter too. */
    ASSERT_TRUE(store_.Get("main", kSegment, work_dir_.Sub("again")).ok());
    EXPECT_TRUE(ReadFileBytes(work_dir_.Sub("again")) == partial);
}

TEST_F(WalStoreTest, GetIsNotFoundWithNeitherSegmentNorPartial) {
    /* Another segment's partial and another timeline's segment do not count. */
    ASSERT_TRUE(PushBytes("000000010000000000000004.partial",
                          pg_ark_test::MakeFakeSegment(kSysid, 18, kSmall))
                    .ok());
    ASSERT_TRUE(PushBytes("000000020000000000000003",
                          pg_ark_test::MakeFakeSegment(kSysid, 19, kSmall))
                    .ok());
    std::string out = work_dir_.Sub("RECOVERYXLOG");
    std::string served = "untouched";
    Status got = store_.Get("main", kSegment, out, &served);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.kind(), ErrorKind::not_found) << got.message();
    EXPECT_EQ(got.message(), "WAL file \"000000010000000000000003\" is not in the repository");
    EXPECT_EQ(served, "untouched");
    EXPECT_FALSE(pg_ark_test::PathExists(out));
}

TEST_F(WalStoreTest, GetOfACorruptPartialIsCorrupt) {
    /* Served in place of the segment, so checked like it: never "not found". */
    std::string partial_name = std::string(kSegment) + ".partial";
    ASSERT_TRUE(PushBytes(partial_name, pg_ark_test::MakeFakeSegment(kSysid, 20, kSmall)).ok());
    std::string stored_path = repo_dir_.Sub("main/wal/0000000100000000/" + partial_name + ".ark");
    std::string stored = ReadFileBytes(stored_path);
    stored[stored.size() / 2] ^= 0x40;
    WriteFileBytes(stored_path, stored);
    Status got = store_.Get("main", kSegment, work_dir_.Sub("RECOVERYXLOG"));
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.kind(), ErrorKind::corrupt) << got.message();
}

TEST_F(WalStoreTest, ListSegmentsNamesSegmentsAndPartialsOfEveryTimeline) {
    for (const char *name : {"000000010000000000000003", "000000010000000000000004.partial",
                             "000000010000000100000000", "000000020000000000000004"})
        ASSERT_TRUE(PushBytes(name, pg_ark_test::MakeFakeSegment(kSysid, 21, kSmall)).ok()) << name;
    ASSERT_TRUE(PushBytes("00000002.history", "1\t0/4000000\tno recovery target specified\n").ok());
    ASSERT_TRUE(PushBytes("000000010000000000000003.00000028.backup", "START WAL LOCATION\n").ok());
    Result<std::vector<ArchivedWal>> listed = store_.ListSegments("main");
    ASSERT_TRUE(listed.ok()) << listed.status().message();
    std::vector<std::string> names;
    for (const ArchivedWal &wal : *listed) {
        names.push_back(wal.name);
        EXPECT_GT(wal.stored_time, 1.7e9) << wal.name;
    }
    EXPECT_EQ(names, (std::vector<std::string>{"000000010000000000000003",
                                               "000000010000000000000004.partial",
                                               "000000010000000100000000",
                                               "000000020000000000000004"}));
    EXPECT_EQ(store_.ListSegments("other").status().kind(), ErrorKind::not_initialized);
}

TEST_F(WalStoreTest, EmptyFilePushGet) {
    /* An empty history file is odd but must not break the format. */
    ASSERT_TRUE(PushBytes("00000003.history", "").ok());
    std::string destination = work_dir_.Sub("out");
    ASSERT_TRUE(store_.Get("main", "00000003.history", destination).ok());
    EXPECT_EQ(ReadFileBytes(destination), "");
}

TEST_F(WalStoreTest, GetToRelativeDestinationLikePostgres) {
    /* restore_command gets %p relative to the data directory: "pg_wal/RECOVERYXLOG". */
    std::string history = "1\t0/3000000\tno recovery target specified\n";
    ASSERT_TRUE(PushBytes("00000002.history", history).ok());
    ASSERT_EQ(mkdir(work_dir_.Sub("pg_wal").c_str(), 0700), 0);
    char previous[4096];
    ASSERT_NE(getcwd(previous, sizeof previous), nullptr);
    ASSERT_EQ(chdir(work_dir_.path().c_str()), 0);
    Status got = store_.Get("main", "00000002.history", "pg_wal/RECOVERYHISTORY");
    Status bare = store_.Get("main", "00000002.history", "RECOVERYHISTORY");
    ASSERT_EQ(chdir(previous), 0);
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ(ReadFileBytes(work_dir_.Sub("pg_wal/RECOVERYHISTORY")), history);
    ASSERT_TRUE(bare.ok()) << bare.message();
    EXPECT_EQ(ReadFileBytes(work_dir_.Sub("RECOVERYHISTORY")), history);
}

TEST_F(WalStoreTest, GetFromUninitializedClusterFails) {
    Status got = store_.Get("other", kSegment, work_dir_.Sub("out"));
    ASSERT_FALSE(got.ok());
    EXPECT_FALSE(pg_ark_test::PathExists(work_dir_.Sub("out")));
}

}  // namespace
}  // namespace pg_ark

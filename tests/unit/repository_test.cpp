/*
 * repository_test.cpp
 *     Tests of cluster registration and the repository layout (helper/src/repository.h).
 */
#include "repository.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;

constexpr uint64_t kSysid = 7301234567890123456ull;

ClusterIdentity Identity(uint64_t sysid, const char *version = "15") {
    ClusterIdentity identity;
    identity.system_identifier = sysid;
    identity.pg_version = version;
    return identity;
}

class RepositoryTest : public ::testing::Test {
  protected:
    RepositoryTest() : dir_("pg_ark_repo"), repository_(MakePosixStorage(dir_.path())) {}
    TempDir dir_;
    Repository repository_;
};

TEST_F(RepositoryTest, InitClusterCreatesRegistration) {
    Result<bool> created = repository_.InitCluster("main", Identity(kSysid));
    ASSERT_TRUE(created.ok()) << created.status().message();
    EXPECT_TRUE(*created);
    /* <repo>/<cluster>/cluster.info, a stored object. */
    std::string stored = pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info"));
    EXPECT_EQ(stored.substr(0, 8), "PGARKOB1");
    EXPECT_EQ(stored.substr(stored.size() - 8), "PGARKEND");

    Result<ClusterInfo> info = repository_.LoadCluster("main");
    ASSERT_TRUE(info.ok()) << info.status().message();
    EXPECT_EQ(info->name, "main");
    EXPECT_EQ(info->system_identifier, kSysid);
    EXPECT_EQ(info->pg_version, "15");
}

TEST_F(RepositoryTest, InitClusterIsIdempotent) {
    ASSERT_TRUE(repository_.InitCluster("main", Identity(kSysid)).ok());
    std::string before = pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info"));
    Result<bool> again = repository_.InitCluster("main", Identity(kSysid));
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_FALSE(*again);
    /* Also from a fresh Repository (no cache). */
    Repository fresh(MakePosixStorage(dir_.path()));
    Result<bool> third = fresh.InitCluster("main", Identity(kSysid));
    ASSERT_TRUE(third.ok()) << third.status().message();
    EXPECT_FALSE(*third);
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info")), before);
}

TEST_F(RepositoryTest, InitClusterDifferentSystemIsMismatch) {
    ASSERT_TRUE(repository_.InitCluster("main", Identity(kSysid)).ok());
    std::string before = pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info"));
    Result<bool> other = repository_.InitCluster("main", Identity(kSysid + 1));
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.status().kind(), ErrorKind::system_mismatch) << other.status().message();
    EXPECT_NE(other.status().message().find("main"), std::string::npos);

    Repository fresh(MakePosixStorage(dir_.path()));
    Result<bool> other2 = fresh.InitCluster("main", Identity(kSysid + 1));
    ASSERT_FALSE(other2.ok());
    EXPECT_EQ(other2.status().kind(), ErrorKind::system_mismatch) << other2.status().message();
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info")), before);
    Result<ClusterInfo> info = fresh.LoadCluster("main");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->system_identifier, kSysid);
}

TEST_F(RepositoryTest, ClustersAreIndependent) {
    ASSERT_TRUE(repository_.InitCluster("a", Identity(1)).ok());
    ASSERT_TRUE(repository_.InitCluster("b", Identity(2, "16")).ok());
    Result<ClusterInfo> a = repository_.LoadCluster("a");
    Result<ClusterInfo> b = repository_.LoadCluster("b");
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->system_identifier, 1u);
    EXPECT_EQ(b->system_identifier, 2u);
    EXPECT_EQ(b->pg_version, "16");
}

TEST_F(RepositoryTest, LargestSystemIdentifierSurvives) {
    ASSERT_TRUE(repository_.InitCluster("main", Identity(0xFFFFFFFFFFFFFFFFull)).ok());
    Repository fresh(MakePosixStorage(dir_.path()));
    Result<ClusterInfo> info = fresh.LoadCluster("main");
    ASSERT_TRUE(info.ok()) << info.status().message();
    EXPECT_EQ(info->system_identifier, 0xFFFFFFFFFFFFFFFFull);
}

TEST_F(RepositoryTest, LoadMissingIsNotInitialized) {
    Result<ClusterInfo> info = repository_.LoadCluster("nothing");
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().kind(), ErrorKind::not_initialized) << info.status().message();
}

TEST_F(RepositoryTest, CorruptRegistrationIsCorrupt) {
    ASSERT_TRUE(repository_.InitCluster("main", Identity(kSysid)).ok());
    std::string stored = pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info"));
    stored[20] ^= 0x01;
    pg_ark_test::WriteFileBytes(dir_.Sub("main/cluster.info"), stored);
    Repository fresh(MakePosixStorage(dir_.path()));
    Result<ClusterInfo> info = fresh.LoadCluster("main");
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().kind(), ErrorKind::corrupt) << info.status().message();
    /* And init does not paper over it by rewriting the registration. */
    Result<bool> init = fresh.InitCluster("main", Identity(kSysid));
    EXPECT_FALSE(init.ok());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/cluster.info")), stored);
}

TEST_F(RepositoryTest, InvalidClusterNameRejected) {
    for (const char *name : {"", "..", ".", "../escape", "a/../..", "/abs"}) {
        Result<bool> init = repository_.InitCluster(name, Identity(kSysid));
        EXPECT_FALSE(init.ok()) << name;
    }
    EXPECT_EQ(pg_ark_test::ListAllFilesRecursive(dir_.path()), std::vector<std::string>{});
    EXPECT_FALSE(pg_ark_test::PathExists(dir_.path() + "/../escape"));
}

TEST_F(RepositoryTest, ConcurrentInitOfSameSystem) {
    std::vector<std::thread> threads;
    std::atomic<int> created{0}, ok{0};
    for (int i = 0; i < 8; i++) {
        threads.emplace_back([&] {
            Repository own(MakePosixStorage(dir_.path()));
            Result<bool> r = own.InitCluster("main", Identity(kSysid));
            if (r.ok()) {
                ok++;
                if (*r) created++;
            }
        });
    }
    for (auto &t : threads) t.join();
    EXPECT_EQ(ok.load(), 8);
    EXPECT_EQ(created.load(), 1);
}

TEST(RepositoryPathTest, WalPathLayout) {
    Result<RepoPath> segment = Repository::WalPath("main", "000000010000000A000000FE");
    ASSERT_TRUE(segment.ok());
    EXPECT_EQ(segment->str(), "main/wal/000000010000000A/000000010000000A000000FE.ark");
    Result<RepoPath> partial = Repository::WalPath("main", "000000010000000000000003.partial");
    ASSERT_TRUE(partial.ok());
    EXPECT_EQ(partial->str(), "main/wal/0000000100000000/000000010000000000000003.partial.ark");
    Result<RepoPath> backup =
        Repository::WalPath("main", "000000010000000000000003.00000028.backup");
    ASSERT_TRUE(backup.ok());
    EXPECT_EQ(backup->str(),
              "main/wal/0000000100000000/000000010000000000000003.00000028.backup.ark");
    Result<RepoPath> history = Repository::WalPath("main", "00000002.history");
    ASSERT_TRUE(history.ok());
    EXPECT_EQ(history->str(), "main/wal/history/00000002.history.ark");
}

TEST(RepositoryPathTest, WalPathRejectsInvalidNames) {
    for (const char *name : {"", "../x", "a/b", "00000001000000000000000a", "cluster.info"}) {
        Result<RepoPath> path = Repository::WalPath("main", name);
        EXPECT_FALSE(path.ok()) << name;
    }
    EXPECT_FALSE(Repository::WalPath("..", "000000010000000000000003").ok());
    EXPECT_FALSE(Repository::WalPath("", "000000010000000000000003").ok());
}

}  // namespace
}  // namespace pg_ark

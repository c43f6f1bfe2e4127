/*
 * wal_shipper_test.cpp
 *     Archiving ahead of the archiver: .ready files are stored without being asked, the exact
 *     same file is then recognised, and anything else (a rewritten file, an unknown one) is not.
 */
#include "wal_shipper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <chrono>
#include <thread>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::MakeFakeSegment;
using pg_ark_test::ReadFd;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

constexpr uint64_t kSysid = 7310000000000000042ULL;
constexpr size_t kSmall = 1024 * 1024;

class WalShipperTest : public ::testing::Test {
  protected:
    WalShipperTest()
        : repo_dir_("pg_ark_shiprepo"), pgdata_("pg_ark_shipdata"),
          repository_(MakePosixStorage(repo_dir_.path())), store_(&repository_) {
        config_.repo_path = repo_dir_.path();
        config_.archive_ahead_workers = 2;
        ClusterConfig cluster;
        cluster.name = "main";
        cluster.pgdata = pgdata_.path();
        config_.clusters["main"] = cluster;
    }

    void SetUp() override {
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        ASSERT_TRUE(repository_.InitCluster("main", identity).ok());
        ASSERT_EQ(mkdir(pgdata_.Sub("pg_wal").c_str(), 0700), 0);
        ASSERT_EQ(mkdir(pgdata_.Sub("pg_wal/archive_status").c_str(), 0700), 0);
    }

    /* A WAL file in pg_wal with its .ready status, as PostgreSQL leaves it. */
    void MakeReady(const std::string &name, uint32_t seed) {
        WriteFileBytes(pgdata_.Sub("pg_wal/" + name), MakeFakeSegment(kSysid, seed, kSmall));
        WriteFileBytes(pgdata_.Sub("pg_wal/archive_status/" + name + ".ready"), "");
    }

    std::string StoredPath(const std::string &name) {
        return repo_dir_.Sub("main/wal/" + name.substr(0, 16) + "/" + name + ".ark");
    }

    /* Bounded poll: the shipper works on its own threads. */
    bool WaitForStored(const std::string &name) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < deadline) {
            if (pg_ark_test::PathExists(StoredPath(name))) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }

    TempDir repo_dir_;
    TempDir pgdata_;
    Config config_;
    Repository repository_;
    WalStore store_;
};

TEST_F(WalShipperTest, StoresReadyFilesAndRecognisesThem) {
    const char *names[] = {"000000010000000000000001", "000000010000000000000002",
                           "000000010000000000000003"};
    for (uint32_t i = 0; i < 3; i++) MakeReady(names[i], i + 1);
    WalShipper shipper(config_, &store_, &repository_);
    shipper.Start();
    for (const char *name : names) {
        ASSERT_TRUE(WaitForStored(name)) << name << " was not archived ahead";
        ReadFd fd(pgdata_.Sub(std::string("pg_wal/") + name));
        EXPECT_EQ(shipper.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::already_stored)
            << name;
    }
    /* The stored copy is right: Get gives back the original bytes. */
    ASSERT_TRUE(store_.Get("main", names[1], pgdata_.Sub("restored")).ok());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(pgdata_.Sub("restored")),
              pg_ark_test::ReadFileBytes(pgdata_.Sub(std::string("pg_wal/") + names[1])));
    /* PostgreSQL's status files are untouched: only PostgreSQL marks .done. */
    EXPECT_TRUE(pg_ark_test::PathExists(pgdata_.Sub("pg_wal/archive_status/" + std::string(names[0]) + ".ready")));
    shipper.Stop();
}

TEST_F(WalShipperTest, RewrittenFileIsNotTakenForTheStoredOne) {
    const std::string name = "000000010000000000000007";
    MakeReady(name, 7);
    WalShipper shipper(config_, &store_, &repository_);
    shipper.Start();
    ASSERT_TRUE(WaitForStored(name));
    shipper.Stop();
    /* Same name, same inode, same size, new content: the mtime moves, so no shortcut. */
    std::string path = pgdata_.Sub("pg_wal/" + name);
    struct timespec later[2] = {{0, UTIME_OMIT}, {0, 0}};
    clock_gettime(CLOCK_REALTIME, &later[1]);
    later[1].tv_sec += 5;
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), later, 0), 0);
    ReadFd fd(path);
    EXPECT_EQ(shipper.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::claimed);
}

TEST_F(WalShipperTest, UnknownFileAndDisabledShipperGiveNoShortcut) {
    const std::string name = "000000010000000000000009";
    WriteFileBytes(pgdata_.Sub("pg_wal/" + name), MakeFakeSegment(kSysid, 9, kSmall));
    /* No .ready status: never shipped, never recognised. */
    WalShipper shipper(config_, &store_, &repository_);
    shipper.Start();
    shipper.Kick();
    ReadFd fd(pgdata_.Sub("pg_wal/" + name));
    EXPECT_EQ(shipper.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::claimed);
    shipper.ReleaseClaim("main", name, fd.fd, /*stored=*/false);
    shipper.Stop();
    EXPECT_FALSE(pg_ark_test::PathExists(StoredPath(name)));

    config_.archive_ahead_workers = 0;
    MakeReady("00000001000000000000000A", 10);
    WalShipper disabled(config_, &store_, &repository_);
    disabled.Start();
    disabled.Kick();
    disabled.Stop();
    EXPECT_FALSE(pg_ark_test::PathExists(StoredPath("00000001000000000000000A")));
}

}  // namespace
}  // namespace pg_ark

namespace pg_ark {
namespace {

TEST_F(WalShipperTest, ArchiverClaimIsRememberedOnlyWhenStored) {
    const std::string name = "00000001000000000000000B";
    MakeReady(name, 11);
    config_.archive_ahead_workers = 1;
    WalShipper shipper(config_, &store_, &repository_); /* not started: only the archiver stores */
    ReadFd fd(pgdata_.Sub("pg_wal/" + name));
    ASSERT_EQ(shipper.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::claimed)
        << "nothing stored yet";
    shipper.ReleaseClaim("main", name, fd.fd, /*stored=*/false);
    ASSERT_EQ(shipper.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::claimed)
        << "a failed store is not remembered";
    shipper.ReleaseClaim("main", name, fd.fd, /*stored=*/true);
    EXPECT_EQ(shipper.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::already_stored)
        << "a stored file is recognised";

    config_.archive_ahead_workers = 0;
    WalShipper off(config_, &store_, &repository_);
    EXPECT_EQ(off.ClaimOrFindStored("main", name, fd.fd), WalShipper::Claim::unclaimed);
}

}  // namespace
}  // namespace pg_ark

/*
 * wal_repository_fixture.h
 *     The fixture of the WAL archive tests (wal_store_test, wal_fetch_ahead_test): a posix
 *     repository with cluster "main" registered for kSysid, its WalStore, a work directory, and
 *     PushBytes to archive a file through a descriptor as the helper does.
 */
#ifndef PG_ARK_TESTS_UNIT_WAL_REPOSITORY_FIXTURE_H
#define PG_ARK_TESTS_UNIT_WAL_REPOSITORY_FIXTURE_H

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"
#include "wal_store.h"

namespace pg_ark::test_wal {

constexpr uint64_t kSysid = 7301234567890123456ull;

class WalRepositoryTest : public ::testing::Test {
  protected:
    WalRepositoryTest()
        : repo_dir_("pg_ark_walrepo"),
          work_dir_("pg_ark_walwork"),
          repository_(MakePosixStorage(repo_dir_.path())),
          store_(&repository_) {}

    void SetUp() override {
        ClusterIdentity identity;
        identity.system_identifier = kSysid;
        identity.pg_version = "15";
        Result<bool> init = repository_.InitCluster("main", identity);
        ASSERT_TRUE(init.ok()) << init.status().message();
    }

    /* Writes data to a file in the work directory and pushes it through an fd. */
    Result<PushOutcome> PushBytes(const std::string &wal_name, const std::string &data,
                                  uint64_t sysid = kSysid, const std::string &cluster = "main",
                                  Compression compression = Compression{}) {
        std::string source = work_dir_.Sub("source-" + std::to_string(counter_++));
        pg_ark_test::WriteFileBytes(source, data);
        pg_ark_test::ReadFd fd(source);
        if (fd.fd < 0) return Status(ErrorKind::internal, "test could not open source");
        return store_.Push(cluster, sysid, wal_name, fd.fd, compression);
    }

    pg_ark_test::TempDir repo_dir_;
    pg_ark_test::TempDir work_dir_;
    Repository repository_;
    WalStore store_;
    int counter_ = 0;
};

}  // namespace pg_ark::test_wal

#endif

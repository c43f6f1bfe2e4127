/*
 * pg_files_test.cpp
 *     Tests of what the helper reads from PostgreSQL's files (helper/src/pg_files.h): the system
 *     identifier in pg_control and in a WAL segment's long page header, and PG_VERSION.
 */
#include "pg_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;

constexpr uint64_t kSysid = 0x6543210FEDCBA987ull;

void MakePgdata(const TempDir &dir, uint64_t sysid, const std::string &version) {
    mkdir(dir.Sub("global").c_str(), 0700);
    std::string control(8192, '\0');
    pg_ark_test::PutLe64(&control, 0, sysid);
    control[8] = 0x2c; /* pg_control_version etc.: arbitrary */
    pg_ark_test::WriteFileBytes(dir.Sub("global/pg_control"), control);
    pg_ark_test::WriteFileBytes(dir.Sub("PG_VERSION"), version);
}

TEST(PgFilesTest, ReadClusterIdentity) {
    TempDir dir("pg_ark_pgdata");
    MakePgdata(dir, kSysid, "15\n");
    Result<ClusterIdentity> identity = ReadClusterIdentity(dir.path());
    ASSERT_TRUE(identity.ok()) << identity.status().message();
    EXPECT_EQ(identity->system_identifier, kSysid);
    EXPECT_EQ(identity->pg_version, "15");
}

TEST(PgFilesTest, ReadClusterIdentityMissingControl) {
    TempDir dir("pg_ark_pgdata");
    pg_ark_test::WriteFileBytes(dir.Sub("PG_VERSION"), "15\n");
    Result<ClusterIdentity> identity = ReadClusterIdentity(dir.path());
    ASSERT_FALSE(identity.ok());
    EXPECT_NE(identity.status().message().find("pg_control"), std::string::npos)
        << identity.status().message();
}

TEST(PgFilesTest, ReadClusterIdentityShortControl) {
    TempDir dir("pg_ark_pgdata");
    mkdir(dir.Sub("global").c_str(), 0700);
    pg_ark_test::WriteFileBytes(dir.Sub("global/pg_control"), "1234");
    pg_ark_test::WriteFileBytes(dir.Sub("PG_VERSION"), "15\n");
    EXPECT_FALSE(ReadClusterIdentity(dir.path()).ok());
}

TEST(PgFilesTest, ReadClusterIdentityMissingVersion) {
    TempDir dir("pg_ark_pgdata");
    MakePgdata(dir, kSysid, "15\n");
    ASSERT_EQ(unlink(dir.Sub("PG_VERSION").c_str()), 0);
    Result<ClusterIdentity> identity = ReadClusterIdentity(dir.path());
    ASSERT_FALSE(identity.ok());
    EXPECT_NE(identity.status().message().find("PG_VERSION"), std::string::npos)
        << identity.status().message();
}

TEST(PgFilesTest, ReadClusterIdentityNotADataDirectory) {
    EXPECT_FALSE(ReadClusterIdentity("/nonexistent/pg_ark/pgdata").ok());
}

TEST(PgFilesTest, WalSegmentSystemIdentifier) {
    std::string page(8192, '\0');
    pg_ark_test::WriteLongPageHeader(&page, kSysid);
    const uint8_t *bytes = reinterpret_cast<const uint8_t *>(page.data());
    EXPECT_EQ(WalSegmentSystemIdentifier(bytes, page.size()), kSysid);
    EXPECT_EQ(WalSegmentSystemIdentifier(bytes, 40), kSysid);
}

TEST(PgFilesTest, WalSegmentSystemIdentifierShortBuffer) {
    std::string page(8192, '\0');
    pg_ark_test::WriteLongPageHeader(&page, kSysid);
    const uint8_t *bytes = reinterpret_cast<const uint8_t *>(page.data());
    for (size_t size : {0, 1, 16, 24, 31})
        EXPECT_EQ(WalSegmentSystemIdentifier(bytes, size), 0u) << size;
}

TEST(PgFilesTest, WalSegmentSystemIdentifierNotLongHeader) {
    std::string page(8192, '\0');
    pg_ark_test::WriteLongPageHeader(&page, kSysid);
    pg_ark_test::PutLe16(&page, 2, 0x0000); /* xlp_info without XLP_LONG_HEADER */
    EXPECT_EQ(
        WalSegmentSystemIdentifier(reinterpret_cast<const uint8_t *>(page.data()), page.size()),
        0u);
    std::string zeros(8192, '\0');
    EXPECT_EQ(
        WalSegmentSystemIdentifier(reinterpret_cast<const uint8_t *>(zeros.data()), zeros.size()),
        0u);
}

}  // namespace
}  // namespace pg_ark

/*
 * wal_name_test.cpp
 *     Tests of the archivable WAL file name classifier (common/wal_name.h): every kind PostgreSQL
 *     archives is accepted, and nothing that could escape a directory or differ in case is.
 */
#include "wal_name.h"

#include <gtest/gtest.h>

#include <string>

namespace pg_ark {
namespace {

TEST(WalNameTest, AcceptsSegment) {
    EXPECT_EQ(ClassifyWalName("000000010000000000000003"), WalFileKind::segment);
    EXPECT_EQ(ClassifyWalName("FFFFFFFFFFFFFFFFFFFFFFFF"), WalFileKind::segment);
    EXPECT_EQ(ClassifyWalName("0000000A00000001000000FE"), WalFileKind::segment);
    EXPECT_TRUE(IsArchivableWalName("000000010000000000000003"));
}

TEST(WalNameTest, AcceptsPartial) {
    EXPECT_EQ(ClassifyWalName("000000010000000000000003.partial"), WalFileKind::partial);
}

TEST(WalNameTest, AcceptsBackupHistory) {
    EXPECT_EQ(ClassifyWalName("000000010000000000000003.00000028.backup"), WalFileKind::backup);
    EXPECT_EQ(ClassifyWalName("000000010000000000000003.ABCDEF01.backup"), WalFileKind::backup);
}

TEST(WalNameTest, AcceptsTimelineHistory) {
    EXPECT_EQ(ClassifyWalName("00000002.history"), WalFileKind::history);
    EXPECT_EQ(ClassifyWalName("0000000A.history"), WalFileKind::history);
}

TEST(WalNameTest, RejectsLowercaseHex) {
    EXPECT_EQ(ClassifyWalName("00000001000000000000000a"), WalFileKind::invalid);
    EXPECT_EQ(ClassifyWalName("0000000a.history"), WalFileKind::invalid);
    EXPECT_EQ(ClassifyWalName("00000001000000000000000a.partial"), WalFileKind::invalid);
    EXPECT_EQ(ClassifyWalName("000000010000000000000003.0000002a.backup"), WalFileKind::invalid);
}

TEST(WalNameTest, RejectsWrongLengths) {
    for (const char *name :
         {"00000001000000000000003", "0000000100000000000000033", "0000002.history",
          "000000002.history", "00000001000000000000003.partial",
          "000000010000000000000003.0000028.backup", "000000010000000000000003.000000028.backup",
          "0", "00000002"}) {
        EXPECT_EQ(ClassifyWalName(name), WalFileKind::invalid) << name;
    }
}

TEST(WalNameTest, RejectsWrongSuffixes) {
    for (const char *name :
         {"000000010000000000000003.", "000000010000000000000003.partia",
          "000000010000000000000003.PARTIAL", "000000010000000000000003.partial.gz",
          "000000010000000000000003.gz", "00000002.HISTORY", "00000002.histor",
          "00000002.history.tmp", "000000010000000000000003.00000028.BACKUP",
          "000000010000000000000003.00000028.backu", "000000010000000000000003_00000028.backup",
          "00000002.partial", "000000010000000000000003.history"}) {
        EXPECT_EQ(ClassifyWalName(name), WalFileKind::invalid) << name;
    }
}

TEST(WalNameTest, RejectsPathTricks) {
    for (const char *name :
         {"", ".", "..", "../x", "a/b", "/000000010000000000000003", "000000010000000000000003/",
          "./000000010000000000000003", "../000000010000000000000003", "0000000100000000/00000003",
          "00000002.history/..", " 000000010000000000000003", "000000010000000000000003 ",
          "000000010000000000000003\n", "0000000100000000000000\\3", "00000001000000000000000G",
          "-00000010000000000000003", "x"}) {
        EXPECT_EQ(ClassifyWalName(name), WalFileKind::invalid) << name;
        EXPECT_FALSE(IsArchivableWalName(name)) << name;
    }
}

TEST(WalNameTest, AcceptedNamesAreSingleSafeComponents) {
    for (const char *name : {"000000010000000000000003", "000000010000000000000003.partial",
                             "000000010000000000000003.00000028.backup", "00000002.history"}) {
        std::string s = name;
        EXPECT_EQ(s.find('/'), std::string::npos);
        EXPECT_NE(s, ".");
        EXPECT_NE(s, "..");
        EXPECT_NE(s[0], '.');
        EXPECT_LE(s.size(), 40u);
    }
}

TEST(WalNameTest, Timeline) {
    EXPECT_EQ(WalNameTimeline("000000010000000000000003"), 1u);
    EXPECT_EQ(WalNameTimeline("0000000200000000000000FF"), 2u);
    EXPECT_EQ(WalNameTimeline("0000000A0000000000000003.partial"), 10u);
    EXPECT_EQ(WalNameTimeline("000000FF0000000000000003.00000028.backup"), 255u);
    EXPECT_EQ(WalNameTimeline("0000ABCD.history"), 0xABCDu);
    EXPECT_EQ(WalNameTimeline("FFFFFFFF.history"), 0xFFFFFFFFu);
    EXPECT_EQ(WalNameTimeline("12345678.history"), 0x12345678u);
}

TEST(WalNameTest, TimelineOfInvalidNameIsZero) {
    EXPECT_EQ(WalNameTimeline(""), 0u);
    EXPECT_EQ(WalNameTimeline("0000000a0000000000000003"), 0u);
    EXPECT_EQ(WalNameTimeline("00000002"), 0u);
    EXPECT_EQ(WalNameTimeline("../x"), 0u);
    EXPECT_EQ(WalNameTimeline("00000005.history.x"), 0u);
}

}  // namespace
}  // namespace pg_ark

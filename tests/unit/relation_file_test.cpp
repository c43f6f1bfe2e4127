/*
 * relation_file_test.cpp
 *     Tests of relation file name parsing (helper/src/relation_file.h) against the server's
 *     grammar: forks, segments, temporary relations, and near misses.
 */
#include "relation_file.h"

#include <gtest/gtest.h>

namespace pg_ark {
namespace {

TEST(RelationFileTest, ParsesForksAndSegments) {
    struct Case {
        const char *name;
        size_t relfilenode_length;
        RelationFork fork;
        uint64_t segment;
    } cases[] = {
        {"1", 1, RelationFork::main, 0},           {"16384", 5, RelationFork::main, 0},
        {"16384.1", 5, RelationFork::main, 1},     {"16384_fsm", 5, RelationFork::fsm, 0},
        {"16384_vm.12", 5, RelationFork::vm, 12},  {"16384_init", 5, RelationFork::init, 0},
        {"4294967295", 10, RelationFork::main, 0}, {"0001.0", 4, RelationFork::main, 0},
    };
    for (const Case &c : cases) {
        RelationFileName parsed;
        ASSERT_TRUE(ParseRelationFileName(c.name, &parsed)) << c.name;
        EXPECT_EQ(parsed.relfilenode_length, c.relfilenode_length) << c.name;
        EXPECT_EQ(parsed.fork, c.fork) << c.name;
        EXPECT_EQ(parsed.segment, c.segment) << c.name;
    }
    RelationFileName huge;
    ASSERT_TRUE(ParseRelationFileName("1.99999999999999999999999", &huge));
    EXPECT_EQ(huge.segment, UINT64_MAX);
}

TEST(RelationFileTest, RejectsOtherNames) {
    for (const char *name :
         {"", "PG_VERSION", "pg_filenode.map", "pg_internal.init", "16384_main", "16384_", "16384.",
          "16384._1", "16384.1.2", "16384_fsm_vm", "16384_vmx", "12345678901", "16384a", "a16384",
          "t3_16384", "16384.1_fsm", "16384 "}) {
        RelationFileName parsed;
        EXPECT_FALSE(ParseRelationFileName(name, &parsed)) << '"' << name << '"';
    }
}

TEST(RelationFileTest, TemporaryRelations) {
    for (const char *name :
         {"t3_16384", "t12_16384.2", "t3_16384_fsm", "t3_16384_init.1", "t1_123456789012345"})
        EXPECT_TRUE(IsTemporaryRelationFileName(name)) << name;
    for (const char *name : {"t", "t3", "t3_", "t_16384", "tx_16384", "t3_16384_main", "t3_16384.",
                             "16384", "t3-16384", "pgsql_tmp123"})
        EXPECT_FALSE(IsTemporaryRelationFileName(name)) << name;
}

}  // namespace
}  // namespace pg_ark

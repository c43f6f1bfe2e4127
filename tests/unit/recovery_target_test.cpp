/*
 * recovery_target_test.cpp
 *     `pg_ark restore --target-*`: parsing, the settings written, and which backup can reach a
 *     target (recovery_target.h).
 */
#include "recovery_target.h"

#include <gtest/gtest.h>

namespace pg_ark {
namespace {

Result<RecoveryTarget> Parse(RecoveryTargetArguments arguments) { return ParseRecoveryTarget(arguments); }

TEST(RecoveryTargetTest, TimesNeedAZone) {
    double t = 0;
    ASSERT_TRUE(ParseTargetTime("2026-12-01 14:30:00+00", &t));
    EXPECT_DOUBLE_EQ(t, 1796135400.0);
    ASSERT_TRUE(ParseTargetTime("2026-12-01 16:30:00.25+02:00", &t));
    EXPECT_DOUBLE_EQ(t, 1796135400.25);
    ASSERT_TRUE(ParseTargetTime("2026-12-01T14:30:00Z", &t));
    EXPECT_DOUBLE_EQ(t, 1796135400.0);
    ASSERT_TRUE(ParseTargetTime("2026-12-01 09:30:00 -0500", &t));
    EXPECT_DOUBLE_EQ(t, 1796135400.0);
    EXPECT_FALSE(ParseTargetTime("2026-12-01 14:30:00", &t)) << "no zone";
    EXPECT_FALSE(ParseTargetTime("2026-13-01 14:30:00+00", &t));
    EXPECT_FALSE(ParseTargetTime("yesterday", &t));
    EXPECT_FALSE(ParseTargetTime("2026-12-01 14:30:00+00 trailing", &t));
}

TEST(RecoveryTargetTest, OneTargetAtMostAndValidValues) {
    RecoveryTargetArguments two;
    two.xid = "1234";
    two.lsn = "0/3000028";
    EXPECT_FALSE(Parse(two).ok());
    RecoveryTargetArguments bad_lsn;
    bad_lsn.lsn = "3000028";
    EXPECT_FALSE(Parse(bad_lsn).ok());
    RecoveryTargetArguments bad_xid;
    bad_xid.xid = "12a";
    EXPECT_FALSE(Parse(bad_xid).ok());
    RecoveryTargetArguments action_alone;
    action_alone.action = "promote";
    EXPECT_FALSE(Parse(action_alone).ok()) << "an action needs a target";
    RecoveryTargetArguments bad_action;
    bad_action.immediate = true;
    bad_action.action = "explode";
    EXPECT_FALSE(Parse(bad_action).ok());
    RecoveryTargetArguments exclusive_name;
    exclusive_name.name = "before";
    exclusive_name.exclusive = true;
    EXPECT_FALSE(Parse(exclusive_name).ok());
    RecoveryTargetArguments bad_timeline;
    bad_timeline.timeline = "newest";
    EXPECT_FALSE(Parse(bad_timeline).ok());
}

TEST(RecoveryTargetTest, LinesAreQuotedSettings) {
    RecoveryTargetArguments arguments;
    arguments.lsn = "0/3000028";
    arguments.exclusive = true;
    arguments.action = "promote";
    arguments.timeline = "current";
    auto target = Parse(arguments);
    ASSERT_TRUE(target.ok()) << target.status().message();
    EXPECT_EQ(target->lsn, 0x3000028u);
    EXPECT_EQ(RecoveryTargetLines(*target),
              (std::vector<std::string>{"recovery_target_lsn = '0/3000028'",
                                        "recovery_target_inclusive = 'off'",
                                        "recovery_target_action = 'promote'",
                                        "recovery_target_timeline = 'current'"}));
    RecoveryTargetArguments name;
    name.name = "it's";
    EXPECT_EQ(RecoveryTargetLines(*Parse(name)),
              (std::vector<std::string>{"recovery_target_name = 'it''s'"}));
    RecoveryTargetArguments immediate;
    immediate.immediate = true;
    EXPECT_EQ(RecoveryTargetLines(*Parse(immediate)),
              (std::vector<std::string>{"recovery_target = 'immediate'"}));
    EXPECT_TRUE(RecoveryTargetLines(*Parse(RecoveryTargetArguments{})).empty());
}

CatalogEntry Backup(const char *id, uint64_t stop_lsn, int64_t stop_time,
                    BackupStatus status = BackupStatus::complete) {
    CatalogEntry entry;
    entry.backup.id = id;
    entry.backup.stop_lsn = stop_lsn;
    entry.backup.stop_time = stop_time;
    entry.status = status;
    return entry;
}

TEST(RecoveryTargetTest, ChoosesTheNewestBackupEndingBeforeTheTarget) {
    std::vector<CatalogEntry> entries = {Backup("B", 0x5000000, 2000), Backup("A", 0x3000000, 1000),
                                         Backup("C", 0x7000000, 3000, BackupStatus::failed)};
    RecoveryTargetArguments lsn;
    lsn.lsn = "0/6000000";
    auto chosen = ChooseBackupForTarget(entries, *Parse(lsn), "");
    ASSERT_TRUE(chosen.ok());
    EXPECT_EQ(chosen->backup.id, "B");
    lsn.lsn = "0/4000000";
    EXPECT_EQ(ChooseBackupForTarget(entries, *Parse(lsn), "")->backup.id, "A");

    RecoveryTarget time;
    time.kind = RecoveryTarget::Kind::time;
    time.value = "t";
    time.time = 1500.5;
    EXPECT_EQ(ChooseBackupForTarget(entries, time, "")->backup.id, "A");
    /* B stopped somewhere in [2000, 2001): not surely before 2000.5, so not chosen ... */
    time.time = 2000.5;
    EXPECT_EQ(ChooseBackupForTarget(entries, time, "")->backup.id, "A");
    /* ... but not surely after it either, so it may be named. */
    EXPECT_EQ(ChooseBackupForTarget(entries, time, "B")->backup.id, "B");
    time.time = 1999.5;
    EXPECT_FALSE(ChooseBackupForTarget(entries, time, "B").ok());
    time.time = 500;
    auto none = ChooseBackupForTarget(entries, time, "");
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.status().message().find("no backup ends before"), std::string::npos);

    /* xid and name cannot be placed: the newest complete backup. */
    RecoveryTargetArguments xid;
    xid.xid = "1234";
    EXPECT_EQ(ChooseBackupForTarget(entries, *Parse(xid), "")->backup.id, "B");
}

TEST(RecoveryTargetTest, ASetBackupEndingAfterTheTargetIsRefusedNamingTheOthers) {
    std::vector<CatalogEntry> entries = {Backup("A", 0x3000000, 1000), Backup("B", 0x5000000, 2000)};
    RecoveryTargetArguments lsn;
    lsn.lsn = "0/4000000";
    auto refused = ChooseBackupForTarget(entries, *Parse(lsn), "B");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(refused.status().message().find("backups that end before it: A"), std::string::npos)
        << refused.status().message();
    EXPECT_EQ(ChooseBackupForTarget(entries, *Parse(lsn), "A")->backup.id, "A");
    EXPECT_EQ(ChooseBackupForTarget(entries, *Parse(lsn), "Z").status().kind(), ErrorKind::not_found);
}

}  // namespace
}  // namespace pg_ark

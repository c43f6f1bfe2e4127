/*
 * recovery_settings_test.cpp
 *     Tests of the recovery settings a restore writes (helper/src/recovery_settings.h): that
 *     restore_command survives the configuration parser, PostgreSQL's % substitution and the
 *     shell with awkward paths (a space, a single quote, a %, a backslash), checked by running
 *     it; that earlier recovery settings are replaced rather than piled up; and that the files
 *     are written where and how they should be.
 */
#include "recovery_settings.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::PathExists;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

/*
 * What PostgreSQL's configuration parser makes of a quoted value (guc-file.l's GUC_scanstr for
 * the cases ConfQuote produces): outer quotes removed, '' and \\ each read as one character.
 */
std::string ParseConfString(const std::string &quoted) {
    EXPECT_GE(quoted.size(), 2u);
    EXPECT_EQ(quoted.front(), '\'');
    EXPECT_EQ(quoted.back(), '\'');
    std::string out;
    for (size_t i = 1; i + 1 < quoted.size(); i++) {
        char c = quoted[i];
        if (c == '\'' || c == '\\') {
            EXPECT_EQ(quoted[i + 1], c) << "lone " << c << " in " << quoted;
            i++;
        }
        out += c;
    }
    return out;
}

/* PostgreSQL's restore_command substitution (src/common/archive.c, BuildRestoreCommand). */
std::string Substitute(const std::string &command, const std::string &file,
                       const std::string &path) {
    std::string out;
    for (size_t i = 0; i < command.size(); i++) {
        if (command[i] == '%' && i + 1 < command.size()) {
            char next = command[i + 1];
            if (next == 'f' || next == 'p' || next == '%') {
                out += next == 'f' ? file : next == 'p' ? path : "%";
                i++;
                continue;
            }
        }
        out += command[i];
    }
    return out;
}

/* The restore_command value from a rewritten postgresql.auto.conf (the last one set). */
std::string RestoreCommandValue(const std::string &conf) {
    std::string prefix = "restore_command = ";
    size_t at = conf.rfind("\n" + prefix);
    EXPECT_NE(at, std::string::npos) << conf;
    if (at == std::string::npos) return "";
    size_t end = conf.find('\n', at + 1);
    return conf.substr(at + 1 + prefix.size(), end - at - 1 - prefix.size());
}

size_t Count(const std::string &text, const std::string &needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        n++;
    return n;
}

TEST(RecoverySettingsTest, ShellQuote) {
    EXPECT_EQ(ShellQuote("/usr/local/bin/pg_ark"), "/usr/local/bin/pg_ark");
    EXPECT_EQ(ShellQuote("main"), "main");
    EXPECT_EQ(ShellQuote("/a b"), "'/a b'");
    EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
    EXPECT_EQ(ShellQuote("$HOME"), "'$HOME'");
    EXPECT_EQ(ShellQuote(""), "''");
}

TEST(RecoverySettingsTest, ConfQuoteDoublesQuotesAndBackslashes) {
    EXPECT_EQ(ConfQuote("plain"), "'plain'");
    EXPECT_EQ(ConfQuote("a'b"), "'a''b'");
    EXPECT_EQ(ConfQuote("a\\b"), "'a\\\\b'");
    EXPECT_EQ(ParseConfString(ConfQuote("x'\\'y")), "x'\\'y");
}

TEST(RecoverySettingsTest, PlainRestoreCommand) {
    auto command = MakeRestoreCommand("/usr/local/bin/pg_ark", "/etc/pg_ark.conf", "main");
    ASSERT_TRUE(command.ok()) << command.status().message();
    EXPECT_EQ(
        *command,
        "/usr/local/bin/pg_ark archive-get --config /etc/pg_ark.conf --cluster main %f \"%p\"");
}

TEST(RecoverySettingsTest, LineBreakInPathRefused) {
    auto command = MakeRestoreCommand("/bin/pg_ark", "/etc/a\nb.conf", "main");
    ASSERT_FALSE(command.ok());
    EXPECT_EQ(command.status().kind(), ErrorKind::invalid_argument);
}

/*
 * The whole path restore_command takes: written into postgresql.auto.conf, read back by the
 * configuration parser, substituted, and run by /bin/sh. A stand-in for pg_ark, stored under
 * an awkward name, records the arguments it gets; they must be exactly the paths we meant.
 */
TEST(RecoverySettingsTest, AwkwardPathsSurviveEveryLayer) {
    TempDir dir("pg_ark_recovery");
    std::string awkward = dir.Sub("it's a %p dir \\ $x");
    ASSERT_EQ(mkdir(awkward.c_str(), 0700), 0);
    std::string binary = awkward + "/pg ark's";
    std::string config = awkward + "/my conf's %f.conf";
    std::string record = dir.Sub("arguments");
    WriteFileBytes(
        binary, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + record + "'\n",
        0700);

    auto command = MakeRestoreCommand(binary, config, "main");
    ASSERT_TRUE(command.ok()) << command.status().message();
    std::string conf = RewriteAutoConf("", "20261122-053113F", *command);
    std::string value = ParseConfString(RestoreCommandValue(conf));
    std::string shell = Substitute(value, "000000010000000000000003", "pg_wal/RECOVERYXLOG");
    ASSERT_EQ(system(shell.c_str()), 0) << shell;

    EXPECT_EQ(ReadFileBytes(record), "archive-get\n--config\n" + config +
                                         "\n--cluster\nmain\n000000010000000000000003\n"
                                         "pg_wal/RECOVERYXLOG\n");
}

TEST(RecoverySettingsTest, NewAutoConfHasPostgresHeaderAndOneBlock) {
    std::string conf = RewriteAutoConf("", "ID1", "cmd");
    EXPECT_EQ(conf,
              "# Do not edit this file manually!\n"
              "# It will be overwritten by the ALTER SYSTEM command.\n"
              "# added by pg_ark restore of backup ID1\n"
              "restore_command = 'cmd'\n");
}

TEST(RecoverySettingsTest, EarlierRecoverySettingsAreReplacedNotPiledUp) {
    std::string existing =
        "# Do not edit this file manually!\n"
        "# It will be overwritten by the ALTER SYSTEM command.\n"
        "work_mem = '64MB'\n"
        "restore_command = 'cp /old/%f %p'\n"
        "  Restore_Command='other'\n"
        "recovery_target_time = '2026-01-01'\n"
        "recovery_target_timeline='latest'\n"
        "recovery_end_command = 'echo done'\n"
        "restore_command_extra_not_a_setting_of_ours = 1\n"
        "# added by pg_ark restore of backup OLD\n"
        "restore_command = 'pg_ark archive-get old'\n"
        "primary_conninfo = 'host=x'\n"
        "archive_command = 'restore_command'\n";
    std::string once = RewriteAutoConf(existing, "ID1", "cmd1");
    std::string twice = RewriteAutoConf(once, "ID2", "cmd2");
    for (const std::string *conf : {&once, &twice}) {
        EXPECT_EQ(Count(*conf, "restore_command ="), 1u) << *conf;
        EXPECT_EQ(Count(*conf, "# added by pg_ark restore"), 1u) << *conf;
        EXPECT_EQ(conf->find("Restore_Command"), std::string::npos) << *conf;
        EXPECT_EQ(conf->find("recovery_"), std::string::npos) << *conf;
        EXPECT_NE(conf->find("work_mem = '64MB'\n"), std::string::npos) << *conf;
        EXPECT_NE(conf->find("primary_conninfo = 'host=x'\n"), std::string::npos) << *conf;
        EXPECT_NE(conf->find("archive_command = 'restore_command'\n"), std::string::npos) << *conf;
        EXPECT_NE(conf->find("restore_command_extra_not_a_setting_of_ours = 1\n"),
                  std::string::npos);
        EXPECT_EQ(Count(*conf, "# Do not edit this file manually!"), 1u) << *conf;
    }
    EXPECT_NE(twice.find("# added by pg_ark restore of backup ID2\nrestore_command = 'cmd2'\n"),
              std::string::npos)
        << twice;
    EXPECT_EQ(twice.substr(twice.size() - strlen("restore_command = 'cmd2'\n")),
              "restore_command = 'cmd2'\n");
}

/* A standby's primary_conninfo and a target replace the lines setting the same parameters. */
TEST(RecoverySettingsTest, NewLinesReplaceTheSameParameters) {
    std::string existing =
        "primary_conninfo = 'host=old'\n"
        "Primary_Conninfo='host=older'\n"
        "work_mem = '64MB'\n";
    std::string conf = RewriteAutoConf(existing, "ID1", "cmd",
                                       {"recovery_target_lsn = '0/3000028'",
                                        "primary_conninfo = 'host=new'"});
    EXPECT_EQ(Count(conf, "onninfo"), 1u) << conf;
    EXPECT_NE(conf.find("restore_command = 'cmd'\nrecovery_target_lsn = '0/3000028'\n"
                        "primary_conninfo = 'host=new'\n"),
              std::string::npos)
        << conf;
    EXPECT_NE(conf.find("work_mem = '64MB'\n"), std::string::npos) << conf;
}

TEST(RecoverySettingsTest, WritesSignalAndAutoConfKeepingItsMode) {
    TempDir dir("pg_ark_recovery");
    WriteFileBytes(dir.Sub("postgresql.auto.conf"), "work_mem = '1MB'\nrestore_command = 'x'\n",
                   0640);
    ASSERT_EQ(chmod(dir.Sub("postgresql.auto.conf").c_str(), 0640), 0);
    auto pgdata = TargetDir::Open(dir.path());
    ASSERT_TRUE(pgdata.ok()) << pgdata.status().message();
    ASSERT_TRUE(WriteRecoverySettings(*pgdata, "ID9", "cmd").ok());

    EXPECT_EQ(
        ReadFileBytes(dir.Sub("postgresql.auto.conf")),
        "work_mem = '1MB'\n# added by pg_ark restore of backup ID9\nrestore_command = 'cmd'\n");
    struct stat st;
    ASSERT_EQ(stat(dir.Sub("postgresql.auto.conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    ASSERT_TRUE(PathExists(dir.Sub("recovery.signal")));
    EXPECT_EQ(ReadFileBytes(dir.Sub("recovery.signal")), "");
    EXPECT_FALSE(PathExists(dir.Sub("postgresql.auto.conf.tmp")));
}

TEST(RecoverySettingsTest, CreatesAutoConfWhenAbsent) {
    TempDir dir("pg_ark_recovery");
    auto pgdata = TargetDir::Open(dir.path());
    ASSERT_TRUE(pgdata.ok());
    ASSERT_TRUE(WriteRecoverySettings(*pgdata, "ID9", "cmd").ok());
    EXPECT_EQ(ReadFileBytes(dir.Sub("postgresql.auto.conf")), RewriteAutoConf("", "ID9", "cmd"));
    struct stat st;
    ASSERT_EQ(stat(dir.Sub("postgresql.auto.conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(RecoverySettingsTest, LinkedAutoConfIsNotFollowed) {
    TempDir dir("pg_ark_recovery");
    TempDir outside("pg_ark_outside");
    WriteFileBytes(outside.Sub("victim"), "keep\n");
    ASSERT_EQ(symlink(outside.Sub("victim").c_str(), dir.Sub("postgresql.auto.conf").c_str()), 0);
    auto pgdata = TargetDir::Open(dir.path());
    ASSERT_TRUE(pgdata.ok());
    EXPECT_FALSE(WriteRecoverySettings(*pgdata, "ID9", "cmd").ok());
    EXPECT_EQ(ReadFileBytes(outside.Sub("victim")), "keep\n");
}

}  // namespace
}  // namespace pg_ark

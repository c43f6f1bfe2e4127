/*
 * config_test.cpp
 *     Tests of the helper's INI configuration parser (helper/src/config.h): a full config, the
 *     defaults, per-cluster overrides, and that every error is invalid_argument and names the
 *     file, the line and the key.
 */
#include "config.h"

#include <gtest/gtest.h>
#include <pwd.h>

#include <string>

#include "test_util.h"

namespace pg_ark {
namespace {

constexpr const char *kFile = "/etc/test-pg_ark.conf";

/* True when message names file:line (and the line number is not a prefix of a longer one). */
bool NamesLine(const std::string &message, int line) {
    std::string needle = std::string(kFile) + ":" + std::to_string(line);
    size_t at = message.find(needle);
    while (at != std::string::npos) {
        size_t after = at + needle.size();
        if (after >= message.size() || !isdigit(static_cast<unsigned char>(message[after])))
            return true;
        at = message.find(needle, at + 1);
    }
    return false;
}

/* Parses text expected to fail; checks the kind, the location and that each word is named. */
void ExpectError(const std::string &text, int line, std::initializer_list<const char *> words) {
    Result<Config> result = ParseConfig(text, kFile);
    ASSERT_FALSE(result.ok()) << "accepted:\n" << text;
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument) << result.status().message();
    const std::string &message = result.status().message();
    if (line > 0) {
        EXPECT_TRUE(NamesLine(message, line))
            << "expected " << kFile << ":" << line << " in: " << message;
    } else {
        EXPECT_NE(message.find(kFile), std::string::npos) << "file not named in: " << message;
    }
    for (const char *word : words)
        EXPECT_NE(message.find(word), std::string::npos)
            << "\"" << word << "\" not named in: " << message;
}

Config MustParse(const std::string &text) {
    Result<Config> result = ParseConfig(text, kFile);
    EXPECT_TRUE(result.ok()) << result.status().message() << "\nfor:\n" << text;
    if (!result.ok()) return Config();
    return *result;
}

TEST(ConfigTest, FullValidConfig) {
    Config config = MustParse(
        "[global]\n"
        "repo-path = /var/lib/pg_ark\n"
        "socket-path = /run/x/pg_ark.sock\n"
        "compress-type = none\n"
        "compress-level = 9\n"
        "log-level = debug\n"
        "log-path = /var/log/pg_ark/pg_ark.log\n"
        "allowed-users = root,1001\n"
        "\n"
        "[main]\n"
        "pgdata = /var/lib/postgresql/15/main\n"
        "\n"
        "[other-1_x]\n"
        "pgdata = /srv/pg/other\n"
        "compress-type = zstd\n"
        "compress-level = 19\n");
    EXPECT_EQ(config.path, kFile);
    EXPECT_EQ(config.repo_path, "/var/lib/pg_ark");
    EXPECT_EQ(config.socket_path, "/run/x/pg_ark.sock");
    EXPECT_EQ(config.compression.type, CompressType::none);
    EXPECT_EQ(config.compression.level, 9);
    EXPECT_EQ(config.log_level, LogLevel::debug);
    EXPECT_EQ(config.log_path, "/var/log/pg_ark/pg_ark.log");
    ASSERT_EQ(config.allowed_uids.size(), 2u);
    EXPECT_EQ(config.allowed_uids[0], 0u);
    EXPECT_EQ(config.allowed_uids[1], 1001u);
    ASSERT_EQ(config.clusters.size(), 2u);
    const ClusterConfig &main = config.clusters.at("main");
    EXPECT_EQ(main.name, "main");
    EXPECT_EQ(main.pgdata, "/var/lib/postgresql/15/main");
    EXPECT_EQ(main.compression.type, CompressType::none); /* inherited from [global] */
    EXPECT_EQ(main.compression.level, 9);
    const ClusterConfig &other = config.clusters.at("other-1_x");
    EXPECT_EQ(other.name, "other-1_x");
    EXPECT_EQ(other.pgdata, "/srv/pg/other");
    EXPECT_EQ(other.compression.type, CompressType::zstd);
    EXPECT_EQ(other.compression.level, 19);
}

TEST(ConfigTest, Defaults) {
    Config config = MustParse("[global]\nrepo-path = /repo\n[main]\npgdata = /pg\n");
    EXPECT_EQ(config.repo_path, "/repo");
    EXPECT_EQ(config.socket_path, "/run/pg_ark/pg_ark.sock");
    EXPECT_EQ(config.compression.type, CompressType::zstd);
    EXPECT_EQ(config.compression.level, 1);
    EXPECT_EQ(config.log_level, LogLevel::info);
    EXPECT_EQ(config.log_path, "");
    EXPECT_TRUE(config.allowed_uids.empty());
    ASSERT_EQ(config.clusters.count("main"), 1u);
    EXPECT_EQ(config.clusters.at("main").compression.type, CompressType::zstd);
    EXPECT_EQ(config.clusters.at("main").compression.level, 1);
    EXPECT_EQ(config.process_max, 2);
    EXPECT_EQ(config.clusters.at("main").process_max, 2);
    EXPECT_EQ(config.archive_get_ahead, 8);
}

TEST(ConfigTest, ArchiveGetAhead) {
    EXPECT_EQ(MustParse("[global]\nrepo-path = /r\narchive-get-ahead = 0\n").archive_get_ahead, 0);
    EXPECT_EQ(MustParse("[global]\nrepo-path = /r\narchive-get-ahead = 64\n").archive_get_ahead, 64);
    ExpectError("[global]\nrepo-path = /r\narchive-get-ahead = 65\n", 3, {"archive-get-ahead"});
    ExpectError("[global]\nrepo-path = /r\narchive-get-ahead = -1\n", 3, {"archive-get-ahead"});
}

TEST(ConfigTest, HashAfterValueIsPartOfTheValue) {
    /* Only whole-line comments exist, so a trailing "# ..." is refused rather than half-read. */
    Result<Config> result = ParseConfig(
        "[global]\nrepo-path = /r\ncompress-type = zstd # fast\n", "/etc/pg_ark.conf");
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find("/etc/pg_ark.conf:3:"), std::string::npos)
        << result.status().message();
}

TEST(ConfigTest, HeaderExampleParses) {
    /* The example in config.h's file comment, verbatim. */
    Config config = MustParse(
        "[global]\n"
        "repo-path = /var/lib/pg_ark\n"
        "socket-path = /run/pg_ark/pg_ark.sock\n"
        "# zstd | none; level 1..19\n"
        "compress-type = zstd\n"
        "compress-level = 1\n"
        "# error | warn | info | debug\n"
        "log-level = info\n"
        "# optional; stderr when unset\n"
        "log-path = /var/log/pg_ark.log\n"
        "# optional: more users the peer-credential check admits (they must also be able to\n"
        "# reach the 0700 socket directory, so in practice: root)\n"
        "allowed-users = backup,1001\n"
        "# parallel workers of backup and restore (1..64, default 2); --process-max overrides\n"
        "process-max = 2\n"
        "\n"
        "[main]\n"
        "pgdata = /var/lib/postgresql/15/main\n"
        "# compress-type, compress-level and process-max may be overridden per cluster\n"
        "compress-level = 3\n");
    EXPECT_EQ(config.compression.type, CompressType::zstd);
    EXPECT_EQ(config.compression.level, 1);
    EXPECT_EQ(config.log_level, LogLevel::info);
    EXPECT_EQ(config.log_path, "/var/log/pg_ark.log");
    ASSERT_EQ(config.allowed_uids.size(), 2u);
    struct passwd *backup = getpwnam("backup");
    ASSERT_NE(backup, nullptr) << "this test expects the Debian \"backup\" user";
    EXPECT_EQ(config.allowed_uids[0], backup->pw_uid);
    EXPECT_EQ(config.allowed_uids[1], 1001u);
    ASSERT_EQ(config.clusters.count("main"), 1u);
    EXPECT_EQ(config.clusters.at("main").pgdata, "/var/lib/postgresql/15/main");
    EXPECT_EQ(config.clusters.at("main").compression.level, 3);
    EXPECT_EQ(config.clusters.at("main").compression.type, CompressType::zstd);
}

TEST(ConfigTest, CommentsAndWhitespace) {
    Config config = MustParse(
        "# leading comment\n"
        "; another comment\n"
        "\n"
        "   \t\n"
        "  [global]  \n"
        "   # indented comment\n"
        "\trepo-path\t=\t/repo with space  \n"
        "log-level=warn\n"
        "  compress-level   =   4   \n"
        "\n"
        "[main]\n"
        "  ; indented semicolon comment\n"
        "pgdata =/pg\n");
    EXPECT_EQ(config.repo_path, "/repo with space");
    EXPECT_EQ(config.log_level, LogLevel::warn);
    EXPECT_EQ(config.compression.level, 4);
    ASSERT_EQ(config.clusters.count("main"), 1u);
    EXPECT_EQ(config.clusters.at("main").pgdata, "/pg");
}

TEST(ConfigTest, CrLfLineEndings) {
    Config config = MustParse("[global]\r\nrepo-path = /repo\r\n[main]\r\npgdata = /pg\r\n");
    EXPECT_EQ(config.repo_path, "/repo");
    ASSERT_EQ(config.clusters.count("main"), 1u);
    EXPECT_EQ(config.clusters.at("main").pgdata, "/pg");
}

TEST(ConfigTest, NoTrailingNewline) {
    Config config = MustParse("[global]\nrepo-path = /repo\n[main]\npgdata = /pg");
    ASSERT_EQ(config.clusters.count("main"), 1u);
    EXPECT_EQ(config.clusters.at("main").pgdata, "/pg");
}

TEST(ConfigTest, PerClusterCompressionOverride) {
    Config config = MustParse(
        "[global]\nrepo-path = /repo\ncompress-level = 5\n"
        "[a]\npgdata = /a\n"
        "[b]\npgdata = /b\ncompress-type = none\n"
        "[c]\npgdata = /c\ncompress-level = 12\n");
    EXPECT_EQ(config.clusters.at("a").compression.type, CompressType::zstd);
    EXPECT_EQ(config.clusters.at("a").compression.level, 5);
    EXPECT_EQ(config.clusters.at("b").compression.type, CompressType::none);
    EXPECT_EQ(config.clusters.at("c").compression.type, CompressType::zstd);
    EXPECT_EQ(config.clusters.at("c").compression.level, 12);
    EXPECT_EQ(config.compression.level, 5);
    EXPECT_EQ(config.compression.type, CompressType::zstd);
}

TEST(ConfigTest, ProcessMaxInheritedAndOverridden) {
    Config config = MustParse(
        "[global]\nrepo-path = /repo\nprocess-max = 5\n"
        "[a]\npgdata = /a\n"
        "[b]\npgdata = /b\nprocess-max = 64\n"
        "[c]\npgdata = /c\nprocess-max = 1\n");
    EXPECT_EQ(config.process_max, 5);
    EXPECT_EQ(config.clusters.at("a").process_max, 5);
    EXPECT_EQ(config.clusters.at("b").process_max, 64);
    EXPECT_EQ(config.clusters.at("c").process_max, 1);
}

TEST(ConfigErrorTest, BadProcessMax) {
    for (const char *value : {"0", "65", "two", "-1", "2x", ""}) {
        SCOPED_TRACE(value);
        ExpectError(std::string("[global]\nrepo-path = /r\nprocess-max = ") + value + "\n", 3,
                    {"process-max"});
        ExpectError(std::string("[global]\nrepo-path = /r\n[main]\npgdata = /pg\nprocess-max = ") +
                        value + "\n",
                    5, {"process-max"});
    }
}

TEST(ConfigTest, CompressLevelBounds) {
    EXPECT_EQ(MustParse("[global]\nrepo-path=/r\ncompress-level=1\n").compression.level, 1);
    EXPECT_EQ(MustParse("[global]\nrepo-path=/r\ncompress-level=19\n").compression.level, 19);
}

TEST(ConfigTest, AllLogLevels) {
    EXPECT_EQ(MustParse("[global]\nrepo-path=/r\nlog-level=error\n").log_level, LogLevel::error);
    EXPECT_EQ(MustParse("[global]\nrepo-path=/r\nlog-level=warn\n").log_level, LogLevel::warn);
    EXPECT_EQ(MustParse("[global]\nrepo-path=/r\nlog-level=info\n").log_level, LogLevel::info);
    EXPECT_EQ(MustParse("[global]\nrepo-path=/r\nlog-level=debug\n").log_level, LogLevel::debug);
}

TEST(ConfigTest, AllowedUsersByNameAndNumber) {
    Config config = MustParse("[global]\nrepo-path=/r\nallowed-users = root\n");
    ASSERT_EQ(config.allowed_uids.size(), 1u);
    EXPECT_EQ(config.allowed_uids[0], 0u);

    config = MustParse("[global]\nrepo-path=/r\nallowed-users = 4242\n");
    ASSERT_EQ(config.allowed_uids.size(), 1u);
    EXPECT_EQ(config.allowed_uids[0], 4242u);

    config = MustParse("[global]\nrepo-path=/r\nallowed-users = postgres,nobody,7\n");
    ASSERT_EQ(config.allowed_uids.size(), 3u);
    EXPECT_EQ(config.allowed_uids[1], 65534u);
    EXPECT_EQ(config.allowed_uids[2], 7u);
}

TEST(ConfigTest, UnknownUserRejected) {
    ExpectError("[global]\nrepo-path=/r\nallowed-users = root,no_such_user_pg_ark\n", 3,
                {"allowed-users", "no_such_user_pg_ark"});
}

TEST(ConfigTest, BadAllowedUsersValuesRejected) {
    ExpectError("[global]\nrepo-path=/r\nallowed-users = -5\n", 3, {"allowed-users"});
    ExpectError("[global]\nrepo-path=/r\nallowed-users = 99999999999999\n", 3, {"allowed-users"});
}

/* ---------------------------------------------------------------- errors */

TEST(ConfigErrorTest, UnknownKey) {
    ExpectError("[global]\nrepo-path = /r\n\nrepo-pth = /x\n", 4, {"repo-pth", "global"});
}

TEST(ConfigErrorTest, UnknownKeyInClusterSection) {
    ExpectError("[global]\nrepo-path = /r\n[main]\npgdata = /pg\npg-data = /x\n", 5,
                {"pg-data", "main"});
}

TEST(ConfigErrorTest, GlobalOnlyKeyInClusterSection) {
    ExpectError("[global]\nrepo-path = /r\n[main]\npgdata = /pg\nrepo-path = /x\n", 5,
                {"repo-path", "main"});
}

TEST(ConfigErrorTest, ClusterOnlyKeyInGlobalSection) {
    ExpectError("[global]\nrepo-path = /r\npgdata = /pg\n", 3, {"pgdata", "global"});
}

TEST(ConfigErrorTest, DuplicateKey) {
    ExpectError("[global]\nrepo-path = /r\nlog-level = info\nrepo-path = /r\n", 4, {"repo-path"});
    ExpectError("[global]\nrepo-path = /r\n[main]\npgdata = /a\npgdata = /a\n", 5, {"pgdata"});
}

TEST(ConfigErrorTest, DuplicateClusterSectionRejected) {
    Result<Config> result =
        ParseConfig("[global]\nrepo-path = /r\n[main]\npgdata = /a\n[main]\npgdata = /b\n", kFile);
    ASSERT_FALSE(result.ok()) << "second [main] silently accepted; pgdata = "
                              << result->clusters["main"].pgdata;
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(result.status().message().find("main"), std::string::npos);
}

TEST(ConfigErrorTest, MissingRepoPath) {
    ExpectError("[global]\nlog-level = info\n[main]\npgdata = /pg\n", 0, {"repo-path"});
    ExpectError("", 0, {"repo-path"});
}

TEST(ConfigErrorTest, ClusterWithoutPgdata) {
    ExpectError("[global]\nrepo-path = /r\n[main]\ncompress-level = 3\n", 0, {"pgdata", "main"});
    ExpectError("[global]\nrepo-path = /r\n[main]\n[other]\npgdata = /x\n", 0, {"pgdata", "main"});
}

TEST(ConfigErrorTest, BadCompressLevel) {
    for (const char *value : {"0", "20", "abc", "-1", "5x", "", "1.5", "99999999999999999999"}) {
        SCOPED_TRACE(value);
        ExpectError(std::string("[global]\nrepo-path = /r\ncompress-level = ") + value + "\n", 3,
                    {"compress-level"});
    }
    ExpectError("[global]\nrepo-path = /r\n[main]\npgdata = /pg\ncompress-level = 20\n", 5,
                {"compress-level"});
}

TEST(ConfigErrorTest, BadCompressType) {
    for (const char *value : {"gzip", "ZSTD", "", "lz4"}) {
        SCOPED_TRACE(value);
        ExpectError(std::string("[global]\nrepo-path = /r\ncompress-type = ") + value + "\n", 3,
                    {"compress-type"});
    }
    ExpectError("[global]\nrepo-path = /r\n[main]\npgdata = /pg\ncompress-type = bz2\n", 5,
                {"compress-type"});
}

TEST(ConfigErrorTest, BadLogLevel) {
    for (const char *value : {"verbose", "INFO", "", "warning"}) {
        SCOPED_TRACE(value);
        ExpectError(std::string("[global]\nrepo-path = /r\nlog-level = ") + value + "\n", 3,
                    {"log-level"});
    }
}

TEST(ConfigErrorTest, RelativeRepoPath) {
    ExpectError("[global]\nrepo-path = var/lib/pg_ark\n", 2, {"repo-path"});
    ExpectError("[global]\nrepo-path = \n", 2, {"repo-path"});
}

TEST(ConfigErrorTest, InvalidSectionName) {
    for (const char *section : {"[bad name]", "[-x]", "[a/b]", "[]", "[a.b]", "[main",
                                "["
                                "0123456789012345678901234567890123456789012345678901234567890123"
                                "]"}) {
        SCOPED_TRACE(section);
        ExpectError(std::string("[global]\nrepo-path = /r\n") + section + "\npgdata = /pg\n", 3,
                    {});
    }
}

TEST(ConfigErrorTest, KeyOutsideAnySection) {
    ExpectError("repo-path = /r\n[global]\n", 1, {"repo-path"});
    ExpectError("# comment\n\nlog-level = info\n[global]\nrepo-path = /r\n", 3, {"log-level"});
}

TEST(ConfigErrorTest, LineWithoutEquals) {
    ExpectError("[global]\nrepo-path = /r\njust some words\n", 3, {});
    ExpectError("[global]\nrepo-path /r\n", 2, {});
}

TEST(ConfigErrorTest, EmptyKey) {
    ExpectError("[global]\nrepo-path = /r\n = value\n", 3, {});
}

TEST(ConfigTest, ClusterLookup) {
    Config config = MustParse("[global]\nrepo-path = /r\n[main]\npgdata = /pg\n");
    Result<const ClusterConfig *> found = config.Cluster("main");
    ASSERT_TRUE(found.ok()) << found.status().message();
    EXPECT_EQ((*found)->pgdata, "/pg");
    EXPECT_EQ((*found)->name, "main");

    Result<const ClusterConfig *> missing = config.Cluster("nope");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().kind(), ErrorKind::not_found);
    EXPECT_NE(missing.status().message().find(kFile), std::string::npos)
        << missing.status().message();
    EXPECT_NE(missing.status().message().find("nope"), std::string::npos)
        << missing.status().message();

    EXPECT_FALSE(config.Cluster("global").ok());
    EXPECT_FALSE(config.Cluster("").ok());
}

TEST(ConfigTest, LoadConfigReadsFile) {
    pg_ark_test::TempDir dir("pg_ark_config");
    std::string path = dir.Sub("pg_ark.conf");
    pg_ark_test::WriteFileBytes(path,
                                "[global]\nrepo-path = /r\n[main]\npgdata = /pg\nbogus = 1\n");
    Result<Config> result = LoadConfig(path);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(result.status().message().find(path + ":5"), std::string::npos)
        << result.status().message();

    pg_ark_test::WriteFileBytes(path, "[global]\nrepo-path = /r\n[main]\npgdata = /pg\n");
    result = LoadConfig(path);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->path, path);
    EXPECT_EQ(result->clusters.count("main"), 1u);
}

TEST(ConfigTest, LoadConfigMissingFile) {
    pg_ark_test::TempDir dir("pg_ark_config");
    std::string path = dir.Sub("absent.conf");
    Result<Config> result = LoadConfig(path);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find(path), std::string::npos) << result.status().message();
}

TEST(ConfigTest, CompressTypeName) {
    EXPECT_STREQ(CompressTypeName(CompressType::zstd), "zstd");
    EXPECT_STREQ(CompressTypeName(CompressType::none), "none");
}

TEST(LogLevelTest, Parse) {
    LogLevel level = LogLevel::info;
    EXPECT_TRUE(ParseLogLevel("debug", &level));
    EXPECT_EQ(level, LogLevel::debug);
    EXPECT_TRUE(ParseLogLevel("error", &level));
    EXPECT_EQ(level, LogLevel::error);
    EXPECT_FALSE(ParseLogLevel("loud", &level));
    EXPECT_FALSE(ParseLogLevel("", &level));
}

}  // namespace
}  // namespace pg_ark

namespace pg_ark {
namespace {

TEST(ConfigTest, MissingFileIsAConfigurationError) {
    /* Exit status 2 like any other configuration error, and the message names the file. */
    Result<Config> result = LoadConfig("/nonexistent/pg_ark.conf");
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(result.status().message().find("\"/nonexistent/pg_ark.conf\""), std::string::npos)
        << result.status().message();
}

TEST(ConfigTest, RetentionAndBackupMaxAgeWithPerClusterOverrides) {
    Config config = MustParse(
        "[global]\n"
        "repo-path = /r\n"
        "retention-full = 2\n"
        "retention-window = 14\n"
        "backup-max-age = 26h\n"
        "[main]\n"
        "pgdata = /d\n"
        "retention-diff = 4\n"
        "retention-window = 36h\n"
        "[other]\n"
        "pgdata = /e\n"
        "retention-full = 0\n"
        "backup-max-age = 90m\n");
    const ClusterConfig &main = config.clusters.at("main");
    EXPECT_EQ(main.retention.full, 2);
    EXPECT_EQ(main.retention.diff, 4);
    EXPECT_EQ(main.retention.window_seconds, 36 * 3600);
    EXPECT_EQ(main.backup_max_age_seconds, 26 * 3600);
    const ClusterConfig &other = config.clusters.at("other");
    EXPECT_EQ(other.retention.full, 0);
    EXPECT_EQ(other.retention.diff, 0);
    EXPECT_EQ(other.retention.window_seconds, 14 * 86400);
    EXPECT_EQ(other.backup_max_age_seconds, 90 * 60);

    Config defaults = MustParse("[global]\nrepo-path = /r\n[main]\npgdata = /d\n");
    EXPECT_EQ(defaults.clusters.at("main").retention.full, 0);
    EXPECT_EQ(defaults.clusters.at("main").retention.window_seconds, 0);
    EXPECT_EQ(defaults.clusters.at("main").backup_max_age_seconds, 0);
}

TEST(ConfigTest, BadRetentionValuesNameTheKey) {
    ExpectError("[global]\nrepo-path = /r\nretention-full = -1\n", 3, {"retention-full"});
    ExpectError("[global]\nrepo-path = /r\nretention-diff = two\n", 3, {"retention-diff"});
    ExpectError("[global]\nrepo-path = /r\nretention-window = 2w\n", 3,
                {"retention-window", "a duration"});
    ExpectError("[global]\nrepo-path = /r\n[main]\npgdata = /d\nbackup-max-age = h\n", 5,
                {"backup-max-age"});
    ExpectError("[global]\nrepo-path = /r\nbackup-max-age = 999999999d\n", 3, {"backup-max-age"});
}

}  // namespace
}  // namespace pg_ark

namespace pg_ark {
namespace {

TEST(ConfigS3Test, S3RepositoryKeys) {
    auto config = ParseConfig("[global]\nrepo-type = s3\nrepo-s3-endpoint = http://127.0.0.1:9000\n"
                              "repo-s3-bucket = my-bucket\nrepo-s3-region = eu-west-1\n"
                              "repo-s3-uri-style = path\nrepo-s3-prefix = /a/b/\nrepo-s3-verify-tls = n\n"
                              "repo-s3-ca-file = /etc/ca.pem\nrepo-s3-key = AK\nrepo-s3-key-secret = SECRET\n"
                              "lock-path = /run/pg_ark_lock\nrepo-s3-part-size = 1GiB\n",
                              kFile);
    ASSERT_TRUE(config.ok()) << config.status().message();
    EXPECT_EQ(config->repo_type, RepoType::s3);
    EXPECT_EQ(config->s3.part_size, size_t{1} << 30);
    EXPECT_EQ(config->s3.endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(config->s3.bucket, "my-bucket");
    EXPECT_EQ(config->s3.region, "eu-west-1");
    EXPECT_FALSE(config->s3.host_style);
    EXPECT_EQ(config->s3.prefix, "a/b");
    EXPECT_FALSE(config->s3.verify_tls);
    EXPECT_EQ(config->s3.ca_file, "/etc/ca.pem");
    EXPECT_EQ(config->s3.key, "AK");
    EXPECT_EQ(config->s3.key_secret, "SECRET");
    EXPECT_EQ(config->LockDirectory(), "/run/pg_ark_lock");
    EXPECT_EQ(config->RepositoryName(), "s3://my-bucket/a/b");
}

TEST(ConfigS3Test, PosixKeepsItsLocksInTheRepository) {
    auto config = ParseConfig("[global]\nrepo-path = /var/lib/pg_ark\n", kFile);
    ASSERT_TRUE(config.ok());
    EXPECT_EQ(config->repo_type, RepoType::posix);
    EXPECT_EQ(config->LockDirectory(), "/var/lib/pg_ark");
    EXPECT_EQ(config->s3.part_size, size_t{16} << 20);
}

TEST(ConfigS3Test, Errors) {
    ExpectError("[global]\nrepo-type = s3\nrepo-s3-bucket = b12\nrepo-s3-region = r\n", 0,
                {"repo-s3-endpoint"});
    ExpectError("[global]\nrepo-type = ftp\n", 2, {"repo-type", "ftp"});
    ExpectError("[global]\nrepo-type = s3\nrepo-s3-endpoint = h\nrepo-s3-bucket = Bad_Bucket\n", 4,
                {"repo-s3-bucket"});
    ExpectError("[global]\nrepo-s3-uri-style = vhost\n", 2, {"repo-s3-uri-style"});
    ExpectError("[global]\nrepo-s3-endpoint = https://h/path\n", 2, {"repo-s3-endpoint"});
    for (const char *size : {"4MiB", "5GiB1", "6GiB", "16", "16mb", "MiB", "123456MiB"})
        ExpectError(fmt::format("[global]\nrepo-s3-part-size = {}\n", size), 2, {"repo-s3-part-size"});
    /* A port left empty (an unset variable in a generated file) or out of range is refused. */
    for (const char *endpoint : {"https://localhost:", "h:0", "h:65536", "h:9x", ":9000", "http://[::1]:"})
        ExpectError(fmt::format("[global]\nrepo-s3-endpoint = {}\n", endpoint), 2, {"repo-s3-endpoint"});
    for (const char *endpoint : {"h:1", "https://h:65535", "http://[::1]:9000", "[::1]"})
        EXPECT_TRUE(ParseConfig(fmt::format("[global]\nrepo-path = /r\nrepo-s3-endpoint = {}\n", endpoint), kFile).ok())
            << endpoint;
    ExpectError("[global]\nrepo-type = s3\nrepo-s3-endpoint = h\nrepo-s3-bucket = bkt\n"
                "repo-s3-region = r\nrepo-s3-key = AK\n",
                0, {"repo-s3-key-secret"});
    /* A secret is never echoed, not even a malformed one. */
    Result<Config> result = ParseConfig("[global]\nrepo-s3-key-secret = \nrepo-s3-bogus = x\n", kFile);
    ASSERT_FALSE(result.ok());
}

}  // namespace
}  // namespace pg_ark

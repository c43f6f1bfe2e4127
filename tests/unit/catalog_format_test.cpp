/*
 * catalog_format_test.cpp
 *     Tests of how `pg_ark list` and `pg_ark info` render backups (helper/src/catalog_format.h).
 */
#include "catalog_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg_ark {
namespace {

constexpr int64_t kStart = 1795325473; /* 2026-11-22 05:31:13 UTC */

CatalogEntry Complete() {
    CatalogEntry entry;
    BackupMetadata &m = entry.backup;
    m.id = "20261122-053113F";
    m.label = "nightly";
    m.cluster = "main";
    m.system_identifier = 7301234567890123456ull;
    m.start_lsn = 0x3000028;
    m.stop_lsn = 0x100000100ull;
    m.timeline = 1;
    m.stop_timeline = 2;
    m.start_time = kStart;
    m.stop_time = kStart + 3723;
    m.wal_start = "000000010000000000000003";
    m.wal_stop = "000000020000000100000000";
    m.original_bytes = 3ull << 30;
    m.stored_bytes = 1536;
    m.copied_bytes = 64ull << 20;
    m.file_count = 1200;
    m.bad_page_count = 2;
    entry.status = BackupStatus::complete;
    return entry;
}

CatalogEntry Failed() {
    CatalogEntry entry = Complete();
    entry.backup.id = "20261123-000000I";
    entry.backup.type = BackupType::incremental;
    entry.backup.parent = "20261122-053113F";
    entry.backup.label = "two\nlines";
    entry.status = BackupStatus::failed;
    entry.error = "disk full";
    return entry;
}

TEST(CatalogFormatTest, Units) {
    EXPECT_EQ(FormatLsn(0), "0/0");
    EXPECT_EQ(FormatLsn(0x3000028), "0/3000028");
    EXPECT_EQ(FormatLsn(0xA00000028ull), "A/28");
    EXPECT_EQ(FormatTime(kStart), "2026-11-22 05:31:13");
    EXPECT_EQ(FormatDuration(0), "0s");
    EXPECT_EQ(FormatDuration(187), "3m07s");
    EXPECT_EQ(FormatDuration(3723), "1h02m03s");
    EXPECT_EQ(FormatDuration(-1), "-");
    EXPECT_EQ(FormatBytes(1023), "1023 B");
    EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
    EXPECT_EQ(FormatBytes(64ull << 20), "64.0 MiB");
    EXPECT_EQ(FormatBytes(3ull << 30), "3.0 GiB");
}

TEST(CatalogFormatTest, Table) {
    EXPECT_EQ(FormatBackupTable({Complete(), Failed()}),
              "ID                TYPE         PARENT            STATUS    START                "
              "DURATION  START LSN  STOP LSN  TL   SIZE     COPIED    STORED   LABEL\n"
              "20261122-053113F  full         -                 complete  2026-11-22 05:31:13  "
              "1h02m03s  0/3000028  1/100     1>2  3.0 GiB  64.0 MiB  1.5 KiB  nightly\n"
              "20261123-000000I  incremental  20261122-053113F  failed    2026-11-22 05:31:13  "
              "-         0/3000028  -         1    -        -         -        two?lines\n");
}

TEST(CatalogFormatTest, TableShowsOneTimelineWhenItDidNotChange) {
    CatalogEntry entry = Complete();
    entry.backup.stop_timeline = 1;
    std::string table = FormatBackupTable({entry});
    EXPECT_NE(table.find("  1/100     1   3.0 GiB"), std::string::npos) << table;
}

TEST(CatalogFormatTest, Details) {
    std::string complete = FormatBackupDetails(Complete());
    EXPECT_NE(complete.find("\nstatus:             complete\n"), std::string::npos) << complete;
    EXPECT_NE(complete.find("\nstop LSN:           1/100 (timeline 2)\n"), std::string::npos);
    EXPECT_NE(complete.find("\nWAL range:          000000010000000000000003 - "
                            "000000020000000100000000\n"),
              std::string::npos);
    EXPECT_NE(complete.find("\nsize:               3.0 GiB (3221225472 bytes)\n"),
              std::string::npos);
    EXPECT_NE(complete.find("\nfiles:              1200\n"), std::string::npos);
    EXPECT_NE(complete.find("\nbad pages:          2\n"), std::string::npos);
    EXPECT_EQ(complete.find("error:"), std::string::npos);

    std::string failed = FormatBackupDetails(Failed());
    EXPECT_NE(failed.find("\nerror:              disk full\n"), std::string::npos) << failed;
    EXPECT_NE(failed.find("\nlabel:              two?lines\n"), std::string::npos);
    EXPECT_NE(failed.find("\nfiles:              -\n"), std::string::npos);
    EXPECT_EQ(complete.find("block files:"), std::string::npos) << "a full backup has none";

    CatalogEntry incremental = Failed();
    incremental.status = BackupStatus::complete;
    incremental.error = "";
    incremental.backup.block_files = 40;
    incremental.backup.whole_files = 7;
    incremental.backup.fallback = "gap in block tracking from 0/5000000 to 0/6000000";
    std::string details = FormatBackupDetails(incremental);
    EXPECT_NE(details.find("\nparent:             20261122-053113F\n"), std::string::npos)
        << details;
    EXPECT_NE(details.find("\nblock files:        40\n"), std::string::npos) << details;
    EXPECT_NE(details.find("\nwhole files:        7\n"), std::string::npos);
    EXPECT_NE(details.find("\nfallback:           gap in block tracking from 0/5000000 to "
                           "0/6000000\n"),
              std::string::npos);
    auto json = nlohmann::json::parse(FormatBackupJson(incremental));
    EXPECT_EQ(json["parent"], "20261122-053113F");
    EXPECT_EQ(json["block_files"], 40);
    EXPECT_EQ(json["whole_files"], 7);
    EXPECT_EQ(json["fallback"], incremental.backup.fallback);
}

TEST(CatalogFormatTest, Json) {
    auto list = nlohmann::json::parse(FormatBackupListJson({Complete(), Failed()}));
    ASSERT_TRUE(list.is_array());
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["id"], "20261122-053113F");
    EXPECT_EQ(list[0]["status"], "complete");
    EXPECT_EQ(list[0]["error"], "");
    EXPECT_EQ(list[0]["start_lsn"], "0/3000028");
    EXPECT_EQ(list[0]["stop_lsn"], "1/100");
    EXPECT_EQ(list[0]["system_identifier"], "7301234567890123456");
    EXPECT_EQ(list[0]["original_bytes"], 3ull << 30);
    EXPECT_EQ(list[0]["start_time"], kStart);
    EXPECT_EQ(list[1]["error"], "disk full");
    EXPECT_EQ(list[1]["label"], "two\nlines") << "JSON escapes; it needs no replacing";

    auto one = nlohmann::json::parse(FormatBackupJson(Failed()));
    EXPECT_TRUE(one.is_object());
    EXPECT_EQ(one["parent"], "20261122-053113F");
    EXPECT_EQ(nlohmann::json::parse(FormatBackupListJson({})), nlohmann::json::array());
}

}  // namespace
}  // namespace pg_ark

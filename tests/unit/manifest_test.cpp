/*
 * manifest_test.cpp
 *     Tests of the manifest format (helper/src/manifest.h): a full round trip, and that
 *     ParseManifest rejects, as corrupt and naming the culprit, every kind of malformed input.
 */
#include "manifest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pg_ark {
namespace {

constexpr char kWhat[] = "repo/main/backup/20261122-053113F/backup.manifest";

BackupMetadata Metadata() {
    BackupMetadata m;
    m.id = "20261122-053113I";
    m.type = BackupType::incremental;
    m.label = "nightly \"quoted\" \u00e9";
    m.parent = "20261121-000000F";
    m.cluster = "main";
    m.system_identifier = 0xFFFFFFFFFFFFFFF1ull;
    m.pg_version = "15.4";
    m.start_lsn = 0x100000028ull;
    m.stop_lsn = 0x1000001A0ull;
    m.timeline = 3;
    m.stop_timeline = 4;
    m.start_time = 1795325473;
    m.stop_time = 1795325533;
    m.wal_start = "000000030000000100000000";
    m.wal_stop = "000000040000000100000001";
    m.data_checksums = true;
    m.block_size = 16384;
    m.compression = {CompressType::none, 7};
    m.part_size = 8192;
    m.helper_version = "0.1.0";
    return m;
}

BackupEntry Directory(const std::string &path) {
    BackupEntry entry;
    entry.path = path;
    entry.kind = EntryKind::directory;
    entry.mode = 0700;
    entry.mtime = 1795325000;
    return entry;
}

BackupEntry Link(const std::string &path, const std::string &target) {
    BackupEntry entry = Directory(path);
    entry.kind = EntryKind::symlink;
    entry.mode = 0777;
    entry.link_target = target;
    return entry;
}

/* A file cut into parts of at most 8192 bytes, numbered from *next_object. */
BackupEntry File(const std::string &path, uint64_t size, uint64_t *next_object) {
    BackupEntry entry;
    entry.path = path;
    entry.kind = EntryKind::file;
    entry.mode = 0600;
    entry.mtime = -5; /* before the epoch: still valid */
    entry.size = size;
    for (uint64_t offset = 0; offset < size; offset += 8192) {
        BackupPart part;
        part.object = (*next_object)++;
        part.offset = offset;
        part.size = std::min<uint64_t>(8192, size - offset);
        part.stored_size = part.size / 2 + 104;
        part.sha256 = Sha256Of(&part.object, sizeof part.object);
        part.stored_sha256 = Sha256Of(&part.offset, sizeof part.offset);
        /* Every other part without one, as a part of an older backup (format 3 allows both). */
        part.has_xxh128 = part.object % 2 == 1;
        if (part.has_xxh128) part.xxh128 = Xxh128Of(&part.object, sizeof part.object);
        entry.parts.push_back(part);
    }
    return entry;
}


/* Every kind of entry: nested directories, multi-part and empty files, a tablespace. */
Manifest ValidManifest() {
    uint64_t object = 1;
    Manifest manifest;
    manifest.backup = Metadata();
    manifest.entries = {File("PG_VERSION", 3, &object),
                        Directory("base"),
                        Directory("base/1"),
                        File("base/1/1259", 20000, &object),
                        File("base/1/empty", 0, &object),
                        Directory("global"),
                        File("global/pg_control", 8192, &object),
                        Directory("pg_tblspc"),
                        Link("pg_tblspc/16384", "/srv/ts1"),
                        Directory("pg_tblspc/16384/PG_15_202209061"),
                        File("pg_tblspc/16384/PG_15_202209061/16385", 5, &object),
                        Link("pg_wal", "/srv/wal")};
    manifest.entries[3].bad_pages = {0, 2};
    CountTotals(&manifest);
    return manifest;
}

BackupEntry &Entry(Manifest *manifest, const std::string &path) {
    for (BackupEntry &entry : manifest->entries)
        if (entry.path == path) return entry;
    throw std::runtime_error("no entry " + path);
}

void ExpectSameMetadata(const BackupMetadata &a, const BackupMetadata &b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(a.parent, b.parent);
    EXPECT_EQ(a.cluster, b.cluster);
    EXPECT_EQ(a.system_identifier, b.system_identifier);
    EXPECT_EQ(a.pg_version, b.pg_version);
    EXPECT_EQ(a.start_lsn, b.start_lsn);
    EXPECT_EQ(a.stop_lsn, b.stop_lsn);
    EXPECT_EQ(a.timeline, b.timeline);
    EXPECT_EQ(a.stop_timeline, b.stop_timeline);
    EXPECT_EQ(a.start_time, b.start_time);
    EXPECT_EQ(a.stop_time, b.stop_time);
    EXPECT_EQ(a.wal_start, b.wal_start);
    EXPECT_EQ(a.wal_stop, b.wal_stop);
    EXPECT_EQ(a.data_checksums, b.data_checksums);
    EXPECT_EQ(a.block_size, b.block_size);
    EXPECT_EQ(a.compression.type, b.compression.type);
    EXPECT_EQ(a.compression.level, b.compression.level);
    EXPECT_EQ(a.part_size, b.part_size);
    EXPECT_EQ(a.original_bytes, b.original_bytes);
    EXPECT_EQ(a.stored_bytes, b.stored_bytes);
    EXPECT_EQ(a.file_count, b.file_count);
    EXPECT_EQ(a.bad_page_count, b.bad_page_count);
    EXPECT_EQ(a.block_files, b.block_files);
    EXPECT_EQ(a.whole_files, b.whole_files);
    EXPECT_EQ(a.fallback, b.fallback);
    EXPECT_EQ(a.helper_version, b.helper_version);
}

TEST(ManifestTest, RoundTripKeepsEveryField) {
    Manifest original = ValidManifest();
    Result<Manifest> parsed = ParseManifest(SerializeManifest(original), kWhat);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ExpectSameMetadata(parsed->backup, original.backup);
    ASSERT_EQ(parsed->entries.size(), original.entries.size());
    for (size_t i = 0; i < original.entries.size(); i++) {
        const BackupEntry &a = parsed->entries[i], &b = original.entries[i];
        SCOPED_TRACE(b.path);
        EXPECT_EQ(a.path, b.path);
        EXPECT_EQ(a.kind, b.kind);
        EXPECT_EQ(a.mode, b.mode);
        EXPECT_EQ(a.mtime, b.mtime);
        EXPECT_EQ(a.size, b.size);
        EXPECT_EQ(a.link_target, b.link_target);
        EXPECT_EQ(a.bad_pages, b.bad_pages);
        EXPECT_EQ(a.stored_as_blocks, b.stored_as_blocks);
        EXPECT_EQ(a.blocks, b.blocks);
        EXPECT_EQ(a.reason, b.reason);
        ASSERT_EQ(a.parts.size(), b.parts.size());
        for (size_t p = 0; p < a.parts.size(); p++) {
            EXPECT_EQ(a.parts[p].object, b.parts[p].object);
            EXPECT_EQ(a.parts[p].offset, b.parts[p].offset);
            EXPECT_EQ(a.parts[p].size, b.parts[p].size);
            EXPECT_EQ(a.parts[p].stored_size, b.parts[p].stored_size);
            EXPECT_EQ(a.parts[p].sha256, b.parts[p].sha256);
            EXPECT_EQ(a.parts[p].stored_sha256, b.parts[p].stored_sha256);
            EXPECT_EQ(a.parts[p].has_xxh128, b.parts[p].has_xxh128);
            EXPECT_EQ(a.parts[p].xxh128, b.parts[p].xxh128);
        }
    }
}

TEST(ManifestTest, JsonLayout) {
    auto json = nlohmann::json::parse(SerializeManifest(ValidManifest()));
    EXPECT_EQ(json["format_version"], 3);
    EXPECT_EQ(json["backup"]["type"], "incremental");
    EXPECT_EQ(json["backup"]["start_lsn"], 0x100000028ull);
    EXPECT_EQ(json["backup"]["compression"], (nlohmann::json{{"type", "none"}, {"level", 7}}));
    const auto &file = json["entries"][3];
    EXPECT_EQ(file["path"], "base/1/1259");
    EXPECT_EQ(file["kind"], "file");
    EXPECT_EQ(file["parts"][0]["sha256"], ToHex(ValidManifest().entries[3].parts[0].sha256));
    /* Part 1 (object 3) has an XXH3-128; part 0 (object 2) has none: no field. */
    ASSERT_TRUE(ValidManifest().entries[3].parts[1].has_xxh128);
    EXPECT_EQ(file["parts"][1]["xxh128"], ToHex(ValidManifest().entries[3].parts[1].xxh128));
    EXPECT_EQ(file["parts"][1]["xxh128"].get<std::string>().size(), 32u);
    EXPECT_EQ(file["parts"][0].count("xxh128"), 0u);
    EXPECT_EQ(json["entries"][1].count("parts"), 0u) << "a directory has no parts";
}

TEST(ManifestTest, EmptyFileMayHaveOneEmptyPart) {
    Manifest manifest = ValidManifest();
    BackupPart part;
    part.object = 99;
    part.stored_size = 104;
    Entry(&manifest, "base/1/empty").parts = {part};
    CountTotals(&manifest);
    Result<Manifest> parsed = ParseManifest(SerializeManifest(manifest), kWhat);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
}

void ExpectCorrupt(const std::string &text, const std::string &expected) {
    Result<Manifest> parsed = ParseManifest(text, kWhat);
    ASSERT_FALSE(parsed.ok()) << "accepted; expected an error mentioning: " << expected;
    EXPECT_EQ(parsed.status().kind(), ErrorKind::corrupt);
    EXPECT_NE(parsed.status().message().find(kWhat), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(expected), std::string::npos)
        << parsed.status().message();
}

struct ManifestCase {
    const char *name;
    std::function<void(Manifest *)> change;
    const char *expected; /* in the message */
};

TEST(ManifestTest, RejectsMalformedManifests) {
    /* Inserts in path order, so that only the rule under test is broken. */
    auto add = [](const BackupEntry &entry) {
        return [entry](Manifest *m) {
            auto after = std::upper_bound(
                m->entries.begin(), m->entries.end(), entry,
                [](const BackupEntry &a, const BackupEntry &b) { return a.path < b.path; });
            m->entries.insert(after, entry);
        };
    };
    uint64_t spare = 1000;
    const ManifestCase cases[] = {
        {"dot-dot", add(Directory("../x")), "unsafe path \"../x\""},
        {"absolute", add(Directory("/etc/passwd")), "unsafe path \"/etc/passwd\""},
        {"climbing", add(Directory("a/../../b")), "unsafe path"},
        {"double slash", add(Directory("a//b")), "unsafe path"},
        {"dot", add(Directory("./a")), "unsafe path"},
        {"trailing slash", add(Directory("a/")), "unsafe path"},
        {"backslash", add(Directory("a\\b")), "unsafe path"},
        {"NUL", add(Directory(std::string("a\0b", 3))), "unsafe path \"a\\u0000b\""},
        {"empty path", add(Directory("")), "unsafe path"},
        {"duplicate", add(Directory("base")), "entry \"base\": duplicate path"},
        {"unsorted", [](Manifest *m) { std::swap(m->entries[3], m->entries[4]); },
         "entry \"base/1/1259\": out of order"},
        {"missing parent", [](Manifest *m) { m->entries.erase(m->entries.begin() + 2); },
         "its directory \"base/1\" is not in the manifest"},
        {"missing top directory", add(File("zz/x", 1, &spare)),
         "its directory \"zz\" is not in the manifest"},
        {"inside a file", add(File("PG_VERSION/x", 1, &spare)),
         "\"PG_VERSION\" is a file, not a directory"},
        {"beneath a plain symlink", [](Manifest *m) { m->entries[1] = Link("base", "/elsewhere"); },
         "entry \"base/1\": \"base\" is a symlink, not a directory"},
        {"tablespace relative target", [](Manifest *m) { m->entries[8].link_target = "srv/ts1"; },
         "tablespace link"},
        {"tablespace dot-dot target",
         [](Manifest *m) { m->entries[8].link_target = "/srv/../etc"; }, "tablespace link"},
        {"tablespace double slash", [](Manifest *m) { m->entries[8].link_target = "/srv//ts"; },
         "tablespace link"},
        {"tablespace not an OID", add(Link("pg_tblspc/x1", "/srv/ts2")), "tablespace link"},
        {"mode", [](Manifest *m) { m->entries[1].mode = 010000; }, "field \"mode\""},
        {"empty link target", [](Manifest *m) { m->entries[11].link_target = ""; }, "link_target"},
        {"part gap", [](Manifest *m) { m->entries[3].parts[1].offset += 1; },
         "part 1 starts at 8193, expected 8192"},
        {"part overlap", [](Manifest *m) { m->entries[3].parts[2].offset -= 1; },
         "part 2 starts at 16383"},
        {"first part not at 0", [](Manifest *m) { m->entries[0].parts[0].offset = 1; },
         "part 0 starts at 1"},
        {"parts short", [](Manifest *m) { m->entries[3].parts.pop_back(); },
         "parts cover 16384 of 20000 bytes"},
        {"parts long", [](Manifest *m) { m->entries[3].size -= 1; },
         "part 2 ends past the 19999 bytes stored"},
        {"no parts", [](Manifest *m) { m->entries[0].parts.clear(); }, "parts cover 0 of 3 bytes"},
        {"empty part", [](Manifest *m) { m->entries[3].parts[1].size = 0; }, "part 1 is empty"},
        {"object reused",
         [](Manifest *m) { m->entries[6].parts[0].object = m->entries[0].parts[0].object; },
         "object 1 is used twice"},
        {"bad pages unsorted", [](Manifest *m) { m->entries[3].bad_pages.assign({2, 0}); },
         "bad_pages"},
        {"bad pages repeated", [](Manifest *m) { m->entries[3].bad_pages.assign({2, 2}); },
         "bad_pages"},
        {"bad id", [](Manifest *m) { m->backup.id = "2026-11-22"; },
         "invalid backup id \"2026-11-22\""},
        {"full with parent", [](Manifest *m) { m->backup.type = BackupType::full; },
         "field \"parent\""},
        {"bad wal name", [](Manifest *m) { m->backup.wal_stop = "../000000010000000000000001"; },
         "wal_stop"},
    };
    for (const ManifestCase &c : cases) {
        SCOPED_TRACE(c.name);
        Manifest manifest = ValidManifest();
        c.change(&manifest);
        CountTotals(&manifest);
        ExpectCorrupt(SerializeManifest(manifest), c.expected);
    }
}

TEST(ManifestTest, RejectsTotalsThatDisagreeWithEntries) {
    const std::pair<uint64_t BackupMetadata::*, const char *> totals[] = {
        {&BackupMetadata::original_bytes, "original_bytes"},
        {&BackupMetadata::copied_bytes, "copied_bytes"},
        {&BackupMetadata::stored_bytes, "stored_bytes"},
        {&BackupMetadata::file_count, "file_count"},
        {&BackupMetadata::bad_page_count, "bad_page_count"}};
    for (const auto &[field, name] : totals) {
        SCOPED_TRACE(name);
        Manifest manifest = ValidManifest();
        manifest.backup.*field += 1;
        ExpectCorrupt(SerializeManifest(manifest), std::string("field \"") + name + "\"");
    }
}

struct JsonCase {
    const char *name;
    std::function<void(nlohmann::json *)> change;
    const char *expected;
};

TEST(ManifestTest, RejectsMalformedJson) {
    const JsonCase cases[] = {
        {"format 4", [](nlohmann::json *j) { (*j)["format_version"] = 4; },
         "unsupported version 4"},
        {"format 0", [](nlohmann::json *j) { (*j)["format_version"] = 0; },
         "unsupported version 0"},
        {"format as text", [](nlohmann::json *j) { (*j)["format_version"] = "1"; },
         "format_version"},
        {"no format", [](nlohmann::json *j) { j->erase("format_version"); },
         "missing field \"format_version\""},
        {"no entries", [](nlohmann::json *j) { j->erase("entries"); }, "missing field \"entries\""},
        {"entries not array", [](nlohmann::json *j) { (*j)["entries"] = nlohmann::json::object(); },
         "entries"},
        {"not an object", [](nlohmann::json *j) { *j = nlohmann::json::array(); },
         "expected a JSON object"},
        {"unknown top field", [](nlohmann::json *j) { (*j)["extra"] = 1; },
         "unknown field \"extra\""},
        {"unknown type", [](nlohmann::json *j) { (*j)["backup"]["type"] = "weekly"; },
         "unknown backup type \"weekly\""},
        {"missing metadata", [](nlohmann::json *j) { (*j)["backup"].erase("stop_lsn"); },
         "backup: missing field \"stop_lsn\""},
        {"lsn as text", [](nlohmann::json *j) { (*j)["backup"]["start_lsn"] = "0/3000028"; },
         "start_lsn"},
        {"negative size", [](nlohmann::json *j) { (*j)["entries"][0]["size"] = -3; },
         "entry \"PG_VERSION\": field \"size\""},
        {"fractional size", [](nlohmann::json *j) { (*j)["entries"][0]["size"] = 3.0; },
         "field \"size\""},
        {"missing mode", [](nlohmann::json *j) { (*j)["entries"][1].erase("mode"); },
         "entry \"base\": missing field \"mode\""},
        {"unknown kind", [](nlohmann::json *j) { (*j)["entries"][1]["kind"] = "fifo"; },
         "unknown kind \"fifo\""},
        {"directory with parts",
         [](nlohmann::json *j) { (*j)["entries"][1]["parts"] = nlohmann::json::array(); },
         "entry \"base\": unknown field \"parts\""},
        {"file with link target",
         [](nlohmann::json *j) { (*j)["entries"][0]["link_target"] = "/x"; },
         "unknown field \"link_target\""},
        {"uppercase digest",
         [](nlohmann::json *j) {
             auto &digest = (*j)["entries"][0]["parts"][0]["sha256"];
             std::string text = digest;
             for (char &c : text) c = static_cast<char>(toupper(c));
             digest = text;
         },
         "entry \"PG_VERSION\" part 0: field \"sha256\""},
        {"bad page as text", [](nlohmann::json *j) { (*j)["entries"][3]["bad_pages"][0] = "0"; },
         "bad_pages"},
        /* entries[3] is base/1/1259; its part 1 (object 3) has an XXH3-128. */
        {"uppercase xxh128",
         [](nlohmann::json *j) {
             auto &digest = (*j)["entries"][3]["parts"][1]["xxh128"];
             std::string text = digest;
             for (char &c : text) c = static_cast<char>(toupper(c));
             digest = text;
         },
         "entry \"base/1/1259\" part 1: field \"xxh128\": not 32 lowercase hex digits"},
        {"short xxh128",
         [](nlohmann::json *j) {
             auto &digest = (*j)["entries"][3]["parts"][1]["xxh128"];
             digest = digest.get<std::string>().substr(2);
         },
         "field \"xxh128\": not 32 lowercase hex digits"},
        {"sha256 as xxh128",
         [](nlohmann::json *j) {
             (*j)["entries"][3]["parts"][1]["xxh128"] = (*j)["entries"][3]["parts"][1]["sha256"];
         },
         "field \"xxh128\": not 32 lowercase hex digits"},
        {"empty xxh128", [](nlohmann::json *j) { (*j)["entries"][3]["parts"][1]["xxh128"] = ""; },
         "field \"xxh128\""},
        {"xxh128 as number", [](nlohmann::json *j) { (*j)["entries"][3]["parts"][1]["xxh128"] = 7; },
         "field \"xxh128\": must be a string"},
    };
    for (const JsonCase &c : cases) {
        SCOPED_TRACE(c.name);
        auto json = nlohmann::json::parse(SerializeManifest(ValidManifest()));
        c.change(&json);
        ExpectCorrupt(json.dump(), c.expected);
    }
}

TEST(ManifestTest, RejectsTruncatedAndInvalidText) {
    std::string text = SerializeManifest(ValidManifest());
    ExpectCorrupt(text.substr(0, text.size() / 2), "not valid JSON");
    ExpectCorrupt(text.substr(0, text.size() - 2), "not valid JSON");
    ExpectCorrupt("", "not valid JSON");
    ExpectCorrupt("\xff\xfe", "not valid JSON");
}

TEST(ManifestTest, SafeRelativePaths) {
    for (const char *path :
         {"a", "base/1/1259", "pg_tblspc/16384/PG_15_1", "a.b/..c/c..", ".hidden"})
        EXPECT_TRUE(IsSafeRelativePath(path)) << path;
    for (const char *path : {"", "/a", "..", ".", "a/..", "a/.", "a//b", "a/", "a\\b", "../x"})
        EXPECT_FALSE(IsSafeRelativePath(path)) << path;
    EXPECT_FALSE(IsSafeRelativePath(std::string("a\0b", 3)));
}

TEST(ManifestTest, MetadataRoundTripAndValidation) {
    BackupMetadata metadata = Metadata();
    metadata.original_bytes = 12345;
    Result<BackupMetadata> parsed = ParseMetadata(SerializeMetadata(metadata), "backup.info");
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ExpectSameMetadata(*parsed, metadata);

    metadata.parent = "";
    Result<BackupMetadata> orphan = ParseMetadata(SerializeMetadata(metadata), "backup.info");
    ASSERT_FALSE(orphan.ok()) << "an incremental backup needs a parent";
    EXPECT_EQ(orphan.status().kind(), ErrorKind::corrupt);
    EXPECT_NE(orphan.status().message().find("\"backup.info\""), std::string::npos);
    EXPECT_NE(orphan.status().message().find("parent"), std::string::npos);

    Result<BackupMetadata> truncated = ParseMetadata("{\"id\":", "backup.info");
    ASSERT_FALSE(truncated.ok());
    EXPECT_EQ(truncated.status().kind(), ErrorKind::corrupt);
}

TEST(ManifestTest, Names) {
    EXPECT_EQ(PartObjectName(42), "data/00000042.ark");
    EXPECT_EQ(PartObjectName(123456789), "data/123456789.ark");
    for (BackupType type : {BackupType::full, BackupType::incremental, BackupType::differential}) {
        BackupType back = BackupType::full;
        ASSERT_TRUE(ParseBackupType(BackupTypeName(type), &back));
        EXPECT_EQ(back, type);
    }
    BackupType unused;
    EXPECT_FALSE(ParseBackupType("Full", &unused));
    EXPECT_STREQ(BackupStatusName(BackupStatus::failed), "failed");
    EXPECT_STREQ(EntryKindName(EntryKind::symlink), "symlink");
}

/* An incremental's relation file stored as blocks 1-2 and 5 of 8 (block size 16384). */
Manifest BlocksManifest() {
    Manifest manifest = ValidManifest();
    BackupEntry &entry = Entry(&manifest, "base/1/1259");
    entry.size = 8 * 16384;
    entry.bad_pages.clear();
    entry.stored_as_blocks = true;
    entry.blocks = {{1, 2}, {5, 1}};
    /* 3 blocks = 49152 bytes of stream, in parts of 8192 as File() cuts them. */
    uint64_t object = 100;
    entry.parts.clear();
    for (uint64_t offset = 0; offset < 3 * 16384; offset += 8192) {
        BackupPart part;
        part.object = object++;
        part.offset = offset;
        part.size = 8192;
        part.stored_size = 50;
        entry.parts.push_back(part);
    }
    Entry(&manifest, "PG_VERSION").reason = "";
    Entry(&manifest, "global/pg_control").reason = "new file";
    /* Nothing changed: no blocks, no parts. */
    BackupEntry &unchanged = Entry(&manifest, "pg_tblspc/16384/PG_15_202209061/16385");
    unchanged.size = 2 * 16384;
    unchanged.parts.clear();
    unchanged.stored_as_blocks = true;
    manifest.backup.block_files = 2;
    manifest.backup.whole_files = 3;
    manifest.backup.fallback = "";
    CountTotals(&manifest);
    return manifest;
}

TEST(ManifestTest, BlocksEntriesRoundTrip) {
    Manifest original = BlocksManifest();
    std::string text = SerializeManifest(original);
    Result<Manifest> parsed = ParseManifest(text, kWhat);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ExpectSameMetadata(parsed->backup, original.backup);
    const BackupEntry &entry = Entry(&*parsed, "base/1/1259");
    EXPECT_TRUE(entry.stored_as_blocks);
    EXPECT_EQ(entry.blocks, (BlockRuns{{1, 2}, {5, 1}}));
    EXPECT_EQ(entry.size, 8u * 16384);
    EXPECT_EQ(entry.parts.size(), 6u);
    EXPECT_EQ(Entry(&*parsed, "global/pg_control").reason, "new file");
    EXPECT_FALSE(Entry(&*parsed, "global/pg_control").stored_as_blocks);
    const BackupEntry &unchanged = Entry(&*parsed, "pg_tblspc/16384/PG_15_202209061/16385");
    EXPECT_TRUE(unchanged.stored_as_blocks);
    EXPECT_TRUE(unchanged.blocks.empty());
    EXPECT_TRUE(unchanged.parts.empty());

    auto json = nlohmann::json::parse(text);
    EXPECT_EQ(json["entries"][3]["blocks"], nlohmann::json::parse("[[1,2],[5,1]]"));
    EXPECT_EQ(json["entries"][0].count("blocks"), 0u) << "a whole file has no blocks field";
    EXPECT_EQ(json["entries"][0].count("reason"), 0u);
    EXPECT_EQ(json["backup"]["block_files"], 2);
}

TEST(ManifestTest, RejectsBadBlocks) {
    const ManifestCase cases[] = {
        {"overlapping", [](Manifest *m) { Entry(m, "base/1/1259").blocks = {{1, 2}, {2, 1}}; },
         "out of order"},
        {"touching", [](Manifest *m) { Entry(m, "base/1/1259").blocks = {{1, 2}, {3, 1}}; },
         "out of order"},
        {"unsorted", [](Manifest *m) { Entry(m, "base/1/1259").blocks = {{5, 1}, {1, 2}}; },
         "out of order"},
        {"empty run", [](Manifest *m) { Entry(m, "base/1/1259").blocks = {{1, 3}, {6, 0}}; },
         "out of order"},
        {"past the size",
         [](Manifest *m) {
             Entry(m, "base/1/1259").blocks = {{1, 2}, {7, 1}};
             Entry(m, "base/1/1259").size = 7 * 16384;
         },
         "lies past the file's 7 blocks"},
        {"size not in blocks", [](Manifest *m) { Entry(m, "base/1/1259").size += 1; },
         "not a multiple of the block size"},
        {"stream longer", [](Manifest *m) { Entry(m, "base/1/1259").blocks = {{1, 2}}; },
         "ends past the 32768 bytes stored"},
        {"stream shorter", [](Manifest *m) { Entry(m, "base/1/1259").blocks = {{1, 4}}; },
         "parts cover 49152 of 65536 bytes"},
        {"in a full backup",
         [](Manifest *m) {
             m->backup.type = BackupType::full;
             m->backup.parent = "";
         },
         "a full backup cannot store a file as blocks"},
    };
    for (const ManifestCase &c : cases) {
        SCOPED_TRACE(c.name);
        Manifest manifest = BlocksManifest();
        c.change(&manifest);
        CountTotals(&manifest);
        ExpectCorrupt(SerializeManifest(manifest), c.expected);
    }
    /* The JSON form itself: pairs of block numbers only. */
    auto json = nlohmann::json::parse(SerializeManifest(BlocksManifest()));
    json["entries"][3]["blocks"][0] = nlohmann::json::parse("[1]");
    ExpectCorrupt(json.dump(), "[first, count] pairs");
    json = nlohmann::json::parse(SerializeManifest(BlocksManifest()));
    json["entries"][3]["blocks"][0] = nlohmann::json::parse("[4294967295, 2]");
    ExpectCorrupt(json.dump(), "[first, count] pairs");
}

/* Takes out every part's "xxh128", as a manifest written before format 3 lacks them. */
void StripXxh128(nlohmann::json *json) {
    for (auto &entry : (*json)["entries"])
        if (entry.contains("parts"))
            for (auto &part : entry["parts"]) part.erase("xxh128");
}

TEST(ManifestTest, ReadsFormatTwoWithoutXxh128) {
    auto json = nlohmann::json::parse(SerializeManifest(BlocksManifest()));
    json["format_version"] = 2;
    StripXxh128(&json);
    Result<Manifest> parsed = ParseManifest(json.dump(), kWhat);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    size_t parts = 0;
    for (const BackupEntry &entry : parsed->entries)
        for (const BackupPart &part : entry.parts) {
            EXPECT_FALSE(part.has_xxh128) << entry.path;
            parts++;
        }
    EXPECT_GT(parts, 0u);
    EXPECT_TRUE(Entry(&*parsed, "base/1/1259").stored_as_blocks);
    /* Format 2 knew nothing of xxh128: such a field is unknown there. */
    json["entries"][0]["parts"][0]["xxh128"] = std::string(32, '0');
    ExpectCorrupt(json.dump(), "unknown field \"xxh128\"");
}

TEST(ManifestTest, FormatThreePartsMayLackXxh128) {
    Manifest manifest = ValidManifest();
    for (BackupEntry &entry : manifest.entries)
        for (BackupPart &part : entry.parts) part.has_xxh128 = false;
    std::string text = SerializeManifest(manifest);
    EXPECT_EQ(text.find("xxh128"), std::string::npos);
    Result<Manifest> parsed = ParseManifest(text, kWhat);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    for (const BackupEntry &entry : parsed->entries)
        for (const BackupPart &part : entry.parts) EXPECT_FALSE(part.has_xxh128) << entry.path;
}

TEST(ManifestTest, ReadsFormatOneAsAllWhole) {
    auto json = nlohmann::json::parse(SerializeManifest(ValidManifest()));
    json["format_version"] = 1;
    StripXxh128(&json);
    for (const char *field : {"block_files", "whole_files", "fallback"}) json["backup"].erase(field);
    Result<Manifest> parsed = ParseManifest(json.dump(), kWhat);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_EQ(parsed->backup.block_files, 0u);
    EXPECT_EQ(parsed->backup.whole_files, parsed->backup.file_count);
    /* Format 1 knew nothing of blocks: such a field is unknown there. */
    json["entries"][3]["blocks"] = nlohmann::json::array();
    ExpectCorrupt(json.dump(), "unknown field \"blocks\"");
}

}  // namespace
}  // namespace pg_ark

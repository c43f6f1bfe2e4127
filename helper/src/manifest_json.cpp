/*
 * manifest_json.cpp
 *     Mapping manifests and metadata to and from JSON. See manifest_json.h.
 *
 * Readers throw Malformed internally, which keeps each field to one line; the public functions
 * catch it (and anything nlohmann throws) and return ErrorKind::corrupt.
 */
#include "manifest_json.h"

#include <fmt/format.h>
#include <stdint.h>

#include <array>
#include <limits>
#include <set>
#include <stdexcept>

#include "catalog.h"
#include "protocol.h"
#include "wal_name.h"

namespace pg_ark {

namespace {

using nlohmann::json;

class Malformed : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint32_t kUint32Max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();

/* Reads the fields of one JSON object; `where` names the object in messages. */
class ObjectReader {
  public:
    ObjectReader(const json &object, std::string where)
        : object_(object), where_(std::move(where)) {
        if (!object_.is_object()) throw Malformed(Prefix() + "expected a JSON object");
    }

    const json &Field(const char *name) {
        seen_.insert(name);
        auto found = object_.find(name);
        if (found == object_.end())
            throw Malformed(fmt::format("{}missing field \"{}\"", Prefix(), name));
        return *found;
    }
    std::string String(const char *name) {
        const json &value = Field(name);
        if (!value.is_string()) Mistyped(name, "a string");
        return value.get<std::string>();
    }
    bool Bool(const char *name) {
        const json &value = Field(name);
        if (!value.is_boolean()) Mistyped(name, "true or false");
        return value.get<bool>();
    }
    uint64_t Unsigned(const char *name, uint64_t max = kUint64Max) {
        const json &value = Field(name);
        if (!value.is_number_unsigned() || value.get<uint64_t>() > max)
            Mistyped(name, max == kUint64Max ? std::string("a non-negative integer")
                                             : fmt::format("an integer from 0 to {}", max));
        return value.get<uint64_t>();
    }
    int64_t Signed(const char *name, int64_t min, int64_t max) {
        const json &value = Field(name);
        bool fits = value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(max)
                    : value.is_number_integer() ? value.get<int64_t>() >= min
                                                : false;
        if (!fits)
            Mistyped(name, min == kInt64Min && max == kInt64Max
                               ? std::string("an integer")
                               : fmt::format("an integer from {} to {}", min, max));
        return value.get<int64_t>();
    }
    const json &Array(const char *name) {
        const json &value = Field(name);
        if (!value.is_array()) Mistyped(name, "an array");
        return value;
    }
    /* Whether an optional field is there (it counts as read only once read). */
    bool Has(const char *name) const { return object_.contains(name); }
    /* Call after reading every field: anything left is unknown. */
    void Finish() const {
        for (const auto &item : object_.items())
            if (seen_.count(item.key()) == 0)
                throw Malformed(
                    fmt::format("{}unknown field {}", Prefix(), QuoteForMessage(item.key())));
    }

    /* Once an object's name is known ("entry \"base/1\"" rather than "entry 7"). */
    void Rename(std::string where) { where_ = std::move(where); }

    [[noreturn]] void Invalid(const char *name, const std::string &why) const {
        throw Malformed(fmt::format("{}field \"{}\": {}", Prefix(), name, why));
    }

  private:
    std::string Prefix() const { return where_.empty() ? std::string() : where_ + ": "; }
    [[noreturn]] void Mistyped(const char *name, const std::string &expected) const {
        Invalid(name, "must be " + expected);
    }

    const json &object_;
    std::string where_;
    std::set<std::string> seen_;
};

bool ParseCompressType(const std::string &text, CompressType *out) {
    for (CompressType type : {CompressType::none, CompressType::zstd}) {
        if (text == CompressTypeName(type)) {
            *out = type;
            return true;
        }
    }
    return false;
}

bool ParseEntryKind(const std::string &text, EntryKind *out) {
    for (EntryKind kind : {EntryKind::directory, EntryKind::file, EntryKind::symlink}) {
        if (text == EntryKindName(kind)) {
            *out = kind;
            return true;
        }
    }
    return false;
}

/* Lowercase hex of exactly the digest's size (SHA-256, XXH3-128). */
template <size_t Size>
bool ParseDigest(const std::string &text, std::array<uint8_t, Size> *out) {
    if (text.size() != 2 * out->size()) return false;
    auto nibble = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    for (size_t i = 0; i < out->size(); i++) {
        int high = nibble(text[2 * i]), low = nibble(text[2 * i + 1]);
        if (high < 0 || low < 0) return false;
        (*out)[i] = static_cast<uint8_t>(high << 4 | low);
    }
    return true;
}

/* Empty (not known yet, in backup.info) or a WAL segment name. */
bool IsSegmentNameOrEmpty(const std::string &text) {
    return text.empty() || ClassifyWalName(text.c_str()) == WalFileKind::segment;
}

BackupMetadata ReadMetadata(const json &object, const std::string &where) {
    ObjectReader in(object, where);
    BackupMetadata m;
    m.id = in.String("id");
    if (!IsValidBackupId(m.id)) in.Invalid("id", "invalid backup id " + QuoteForMessage(m.id));
    std::string type = in.String("type");
    if (!ParseBackupType(type, &m.type))
        in.Invalid("type", "unknown backup type " + QuoteForMessage(type));
    m.label = in.String("label");
    m.parent = in.String("parent");
    if (m.type == BackupType::full ? !m.parent.empty() : !IsValidBackupId(m.parent))
        in.Invalid("parent", "invalid parent " + QuoteForMessage(m.parent) + " for a " +
                                 BackupTypeName(m.type) + " backup");
    m.cluster = in.String("cluster");
    if (!wire::IsValidClusterName(m.cluster.c_str()))
        in.Invalid("cluster", "invalid cluster name " + QuoteForMessage(m.cluster));
    m.system_identifier = in.Unsigned("system_identifier");
    m.pg_version = in.String("pg_version");
    m.start_lsn = in.Unsigned("start_lsn");
    m.stop_lsn = in.Unsigned("stop_lsn");
    m.timeline = static_cast<uint32_t>(in.Unsigned("timeline", kUint32Max));
    m.stop_timeline = static_cast<uint32_t>(in.Unsigned("stop_timeline", kUint32Max));
    m.start_time = in.Signed("start_time", kInt64Min, kInt64Max);
    m.stop_time = in.Signed("stop_time", kInt64Min, kInt64Max);
    m.wal_start = in.String("wal_start");
    if (!IsSegmentNameOrEmpty(m.wal_start))
        in.Invalid("wal_start", "not a WAL segment name: " + QuoteForMessage(m.wal_start));
    m.wal_stop = in.String("wal_stop");
    if (!IsSegmentNameOrEmpty(m.wal_stop))
        in.Invalid("wal_stop", "not a WAL segment name: " + QuoteForMessage(m.wal_stop));
    m.data_checksums = in.Bool("data_checksums");
    m.block_size = static_cast<uint32_t>(in.Unsigned("block_size", kUint32Max));
    {
        ObjectReader compression(in.Field("compression"),
                                 where.empty() ? "compression" : where + ": compression");
        std::string type = compression.String("type");
        if (!ParseCompressType(type, &m.compression.type))
            compression.Invalid("type", "unknown compression " + QuoteForMessage(type));
        m.compression.level = static_cast<int>(compression.Signed(
            "level", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
        compression.Finish();
    }
    m.part_size = in.Unsigned("part_size");
    m.original_bytes = in.Unsigned("original_bytes");
    m.stored_bytes = in.Unsigned("stored_bytes");
    m.file_count = in.Unsigned("file_count");
    m.bad_page_count = in.Unsigned("bad_page_count");
    /* Metadata written before manifest format 2 (backup.info has no version) lacks these. */
    if (in.Has("block_files")) m.block_files = in.Unsigned("block_files");
    if (in.Has("whole_files")) m.whole_files = in.Unsigned("whole_files");
    if (in.Has("fallback")) m.fallback = in.String("fallback");
    m.copied_bytes = in.Has("copied_bytes") ? in.Unsigned("copied_bytes") : m.original_bytes;
    m.helper_version = in.String("helper_version");
    in.Finish();
    return m;
}

BackupPart ReadPart(const json &object, const std::string &where, uint64_t version) {
    ObjectReader in(object, where);
    BackupPart part;
    part.object = in.Unsigned("object");
    part.offset = in.Unsigned("offset");
    part.size = in.Unsigned("size");
    part.stored_size = in.Unsigned("stored_size");
    std::string digest = in.String("sha256");
    if (!ParseDigest(digest, &part.sha256))
        in.Invalid("sha256", "not 64 lowercase hex digits: " + QuoteForMessage(digest));
    std::string stored = in.String("stored_sha256");
    if (!ParseDigest(stored, &part.stored_sha256))
        in.Invalid("stored_sha256", "not 64 lowercase hex digits: " + QuoteForMessage(stored));
    /* Before format 3 the field did not exist: there it is unknown, like any other. */
    if (version >= 3 && in.Has("xxh128")) {
        std::string xxh128 = in.String("xxh128");
        if (!ParseDigest(xxh128, &part.xxh128))
            in.Invalid("xxh128", "not 32 lowercase hex digits: " + QuoteForMessage(xxh128));
        part.has_xxh128 = true;
    }
    in.Finish();
    return part;
}

/* [[first, count], ...]; ParseManifest checks the order against the file's size. */
BlockRuns ReadBlocks(ObjectReader &in) {
    BlockRuns runs;
    for (const json &run : in.Array("blocks")) {
        if (!run.is_array() || run.size() != 2 || !run[0].is_number_unsigned() ||
            !run[1].is_number_unsigned() || run[0].get<uint64_t>() > kUint32Max ||
            run[1].get<uint64_t>() > kUint32Max ||
            run[0].get<uint64_t>() + run[1].get<uint64_t>() > kUint32Max)
            in.Invalid("blocks", "must hold [first, count] pairs of block numbers");
        runs.push_back(BlockRun{run[0].get<uint32_t>(), run[1].get<uint32_t>()});
    }
    return runs;
}

/*
 * Each kind carries only its own fields, so a directory can never smuggle in parts. From format
 * 2 on, a file may have "blocks" (stored as those blocks only) and "reason".
 */
BackupEntry ReadEntry(const json &object, size_t index, uint64_t version) {
    ObjectReader in(object, fmt::format("entry {}", index));
    BackupEntry entry;
    entry.path = in.String("path");
    if (!IsSafeRelativePath(entry.path))
        in.Invalid("path", "unsafe path " + QuoteForMessage(entry.path));
    std::string where = "entry " + QuoteForMessage(entry.path);
    in.Rename(where);
    std::string kind = in.String("kind");
    if (!ParseEntryKind(kind, &entry.kind))
        in.Invalid("kind", "unknown kind " + QuoteForMessage(kind));
    entry.mode = static_cast<uint32_t>(in.Unsigned("mode", 07777));
    entry.mtime = in.Signed("mtime", kInt64Min, kInt64Max);
    if (entry.kind == EntryKind::symlink) {
        entry.link_target = in.String("link_target");
        if (entry.link_target.empty() || entry.link_target.find('\0') != std::string::npos)
            in.Invalid("link_target", "empty or contains a NUL byte");
    }
    if (entry.kind == EntryKind::file) {
        entry.size = in.Unsigned("size");
        const json &parts = in.Array("parts");
        for (size_t i = 0; i < parts.size(); i++)
            entry.parts.push_back(
                ReadPart(parts[i], fmt::format("{} part {}", where, i), version));
        const json &bad_pages = in.Array("bad_pages");
        for (const json &page : bad_pages) {
            if (!page.is_number_unsigned() || page.get<uint64_t>() > kUint32Max)
                in.Invalid("bad_pages", "must hold block numbers");
            entry.bad_pages.push_back(page.get<uint32_t>());
        }
        if (version >= 2 && in.Has("blocks")) {
            entry.stored_as_blocks = true;
            entry.blocks = ReadBlocks(in);
        }
        if (version >= 2 && in.Has("reason")) entry.reason = in.String("reason");
    }
    in.Finish();
    return entry;
}

nlohmann::ordered_json PartToJson(const BackupPart &part) {
    nlohmann::ordered_json out = {{"object", part.object},
                                  {"offset", part.offset},
                                  {"size", part.size},
                                  {"stored_size", part.stored_size},
                                  {"sha256", ToHex(part.sha256)},
                                  {"stored_sha256", ToHex(part.stored_sha256)}};
    if (part.has_xxh128) out["xxh128"] = ToHex(part.xxh128);
    return out;
}

nlohmann::ordered_json EntryToJson(const BackupEntry &entry) {
    nlohmann::ordered_json out = {{"path", entry.path},
                {"kind", EntryKindName(entry.kind)},
                {"mode", entry.mode},
                {"mtime", entry.mtime}};
    if (entry.kind == EntryKind::symlink) out["link_target"] = entry.link_target;
    if (entry.kind == EntryKind::file) {
        out["size"] = entry.size;
        out["parts"] = nlohmann::ordered_json::array();
        for (const BackupPart &part : entry.parts) out["parts"].push_back(PartToJson(part));
        out["bad_pages"] = entry.bad_pages;
        if (entry.stored_as_blocks) {
            out["blocks"] = nlohmann::ordered_json::array();
            for (const BlockRun &run : entry.blocks) out["blocks"].push_back({run.first, run.count});
        }
        if (!entry.reason.empty()) out["reason"] = entry.reason;
    }
    return out;
}

/* Runs a reader, turning whatever it throws into ErrorKind::corrupt. */
template <typename Function>
auto Guarded(Function read) -> Result<decltype(read())> {
    try {
        return read();
    } catch (const Malformed &e) {
        return Status(ErrorKind::corrupt, e.what());
    } catch (const json::exception &e) {
        return Status(ErrorKind::corrupt, e.what());
    }
}

}  // namespace

std::string QuoteForMessage(const std::string &text) {
    /* Invalid UTF-8 is replaced rather than thrown on: the text came from a damaged file. */
    return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

nlohmann::ordered_json MetadataToJson(const BackupMetadata &m) {
    return {{"id", m.id},
            {"type", BackupTypeName(m.type)},
            {"label", m.label},
            {"parent", m.parent},
            {"cluster", m.cluster},
            {"system_identifier", m.system_identifier},
            {"pg_version", m.pg_version},
            {"start_lsn", m.start_lsn},
            {"stop_lsn", m.stop_lsn},
            {"timeline", m.timeline},
            {"stop_timeline", m.stop_timeline},
            {"start_time", m.start_time},
            {"stop_time", m.stop_time},
            {"wal_start", m.wal_start},
            {"wal_stop", m.wal_stop},
            {"data_checksums", m.data_checksums},
            {"block_size", m.block_size},
            {"compression",
             {{"type", CompressTypeName(m.compression.type)}, {"level", m.compression.level}}},
            {"part_size", m.part_size},
            {"original_bytes", m.original_bytes},
            {"stored_bytes", m.stored_bytes},
            {"copied_bytes", m.copied_bytes},
            {"file_count", m.file_count},
            {"bad_page_count", m.bad_page_count},
            {"block_files", m.block_files},
            {"whole_files", m.whole_files},
            {"fallback", m.fallback},
            {"helper_version", m.helper_version}};
}

Result<BackupMetadata> MetadataFromJson(const nlohmann::json &json) {
    return Guarded([&] { return ReadMetadata(json, ""); });
}

nlohmann::ordered_json ManifestToJson(const Manifest &manifest) {
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    for (const BackupEntry &entry : manifest.entries) entries.push_back(EntryToJson(entry));
    return {{"format_version", kManifestFormatVersion},
            {"backup", MetadataToJson(manifest.backup)},
            {"entries", std::move(entries)}};
}

Result<Manifest> ManifestFromJson(const nlohmann::json &json) {
    return Guarded([&] {
        ObjectReader in(json, "");
        uint64_t version = in.Unsigned("format_version");
        if (version < 1 || version > kManifestFormatVersion)
            in.Invalid("format_version",
                       fmt::format("unsupported version {} (this pg_ark reads 1 to {})", version,
                                   kManifestFormatVersion));
        Manifest manifest;
        manifest.backup = ReadMetadata(in.Field("backup"), "backup");
        const nlohmann::json &entries = in.Array("entries");
        for (size_t i = 0; i < entries.size(); i++)
            manifest.entries.push_back(ReadEntry(entries[i], i, version));
        in.Finish();
        if (version == 1) {
            /* Format 1 stored every file whole and did not count them. */
            manifest.backup.block_files = 0;
            manifest.backup.whole_files = 0;
            for (const BackupEntry &entry : manifest.entries)
                manifest.backup.whole_files += entry.kind == EntryKind::file;
        }
        return manifest;
    });
}

}  // namespace pg_ark

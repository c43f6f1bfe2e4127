/*
 * manifest.cpp
 *     Names, path safety and the rules a manifest must satisfy as a whole. See manifest.h; the
 *     field-by-field JSON mapping is manifest_json.cpp.
 */
#include "manifest.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "manifest_json.h"
#include "repo_path.h"

namespace pg_ark {

namespace {

constexpr char kTablespaceDirectory[] = "pg_tblspc";

/* a += b, false on overflow: a crafted manifest must not wrap a sum into agreement. */
bool AddChecked(uint64_t *a, uint64_t b) { return !__builtin_add_overflow(*a, b, a); }

/* "/", then components that are neither empty, "." nor "..", and no NUL. */
bool IsCleanAbsolutePath(const std::string &path) {
    if (path.size() < 2 || path[0] != '/' || path.find('\0') != std::string::npos) return false;
    size_t start = 1;
    for (;;) {
        size_t slash = path.find('/', start);
        std::string component =
            path.substr(start, slash == std::string::npos ? slash : slash - start);
        if (component.empty() || component == "." || component == "..") return false;
        if (slash == std::string::npos) return true;
        start = slash + 1;
    }
}

bool IsTablespaceLinkPath(const std::string &path) {
    const std::string prefix = std::string(kTablespaceDirectory) + "/";
    if (path.compare(0, prefix.size(), prefix) != 0 || path.size() == prefix.size()) return false;
    return path.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
}

std::string ParentOf(const std::string &path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

Status Invalid(const BackupEntry &entry, const std::string &why) {
    return Status(ErrorKind::corrupt,
                  fmt::format("entry {}: {}", QuoteForMessage(entry.path), why));
}

/*
 * A blocks entry: normalized runs below a size that is a whole number of blocks, and only in a
 * backup that has a parent to supply the rest.
 */
Status CheckBlocks(const BackupEntry &entry, const BackupMetadata &backup) {
    if (backup.type == BackupType::full)
        return Invalid(entry, "a full backup cannot store a file as blocks");
    if (backup.block_size == 0) return Invalid(entry, "stored as blocks, but the block size is 0");
    if (entry.size % backup.block_size != 0)
        return Invalid(entry, fmt::format("stored as blocks, but its size {} is not a multiple of "
                                          "the block size {}",
                                          entry.size, backup.block_size));
    if (!RunsAreNormalized(entry.blocks))
        return Invalid(entry, "block runs are empty, overlapping, touching or out of order");
    if (!entry.blocks.empty() && entry.blocks.back().end() > entry.size / backup.block_size)
        return Invalid(entry, fmt::format("block run ending at {} lies past the file's {} blocks",
                                          entry.blocks.back().end(),
                                          entry.size / backup.block_size));
    return Status::Ok();
}

/*
 * A file's parts tile its stream ([0, size), or its stored blocks) in order; each object is used
 * once in the whole manifest.
 */
Status CheckParts(const BackupEntry &entry, const BackupMetadata &backup,
                  std::set<uint64_t> *objects, uint64_t *stored_bytes) {
    if (entry.stored_as_blocks) PG_ARK_RETURN_IF_ERROR(CheckBlocks(entry, backup));
    /* CheckBlocks bounds the runs by size / block_size, so this cannot overflow. */
    const uint64_t stream = entry.StreamSize(backup.block_size);
    uint64_t covered = 0;
    for (size_t i = 0; i < entry.parts.size(); i++) {
        const BackupPart &part = entry.parts[i];
        if (part.offset != covered)
            return Invalid(
                entry, fmt::format("part {} starts at {}, expected {}", i, part.offset, covered));
        /* Only an empty whole file has an empty part, and then only that one; an empty block
         * stream has no parts at all. */
        if (part.size == 0 && !(!entry.stored_as_blocks && stream == 0 && entry.parts.size() == 1))
            return Invalid(entry, fmt::format("part {} is empty", i));
        if (!AddChecked(&covered, part.size) || covered > stream)
            return Invalid(entry, fmt::format("part {} ends past the {} bytes stored", i, stream));
        if (!objects->insert(part.object).second)
            return Invalid(entry, fmt::format("part {}: object {} is used twice", i, part.object));
        if (!AddChecked(stored_bytes, part.stored_size))
            return Invalid(entry, "stored sizes overflow");
    }
    if (covered != stream)
        return Invalid(entry, fmt::format("parts cover {} of {} bytes", covered, stream));
    for (size_t i = 1; i < entry.bad_pages.size(); i++)
        if (entry.bad_pages[i] <= entry.bad_pages[i - 1])
            return Invalid(entry, "bad_pages are not strictly ascending");
    return Status::Ok();
}

/* Where an entry may be: top level, or in a directory entry or a tablespace link. */
Status CheckPlace(const BackupEntry &entry,
                  const std::map<std::string, const BackupEntry *> &seen) {
    std::string parent = ParentOf(entry.path);
    if (parent.empty()) return Status::Ok();
    auto found = seen.find(parent);
    if (found == seen.end())
        return Invalid(
            entry, fmt::format("its directory {} is not in the manifest", QuoteForMessage(parent)));
    EntryKind kind = found->second->kind;
    if (kind == EntryKind::directory) return Status::Ok();
    /* Tablespace links were checked when met; restore never writes through any other link. */
    if (kind == EntryKind::symlink && IsTablespaceLinkPath(parent)) return Status::Ok();
    return Invalid(entry, fmt::format("{} is a {}, not a directory", QuoteForMessage(parent),
                                      EntryKindName(kind)));
}

Status CheckManifest(const Manifest &manifest) {
    std::map<std::string, const BackupEntry *> seen;
    std::set<uint64_t> objects;
    uint64_t original_bytes = 0, copied_bytes = 0, stored_bytes = 0, file_count = 0,
             bad_page_count = 0;
    const BackupEntry *previous = nullptr;
    for (const BackupEntry &entry : manifest.entries) {
        /* std::string compares as unsigned bytes, the order the manifest promises. */
        if (previous != nullptr && !(previous->path < entry.path))
            return Invalid(entry, previous->path == entry.path
                                      ? "duplicate path"
                                      : "out of order (entries must be sorted by path)");
        previous = &entry;
        PG_ARK_RETURN_IF_ERROR(CheckPlace(entry, seen));
        if (entry.kind == EntryKind::symlink && ParentOf(entry.path) == kTablespaceDirectory &&
            !(IsTablespaceLinkPath(entry.path) && IsCleanAbsolutePath(entry.link_target)))
            return Invalid(entry, fmt::format("a tablespace link must be named by an OID and point "
                                              "to an absolute path without \".\", \"..\" or empty "
                                              "components, not {}",
                                              QuoteForMessage(entry.link_target)));
        if (entry.kind == EntryKind::file) {
            PG_ARK_RETURN_IF_ERROR(CheckParts(entry, manifest.backup, &objects, &stored_bytes));
            file_count++;
            if (!AddChecked(&original_bytes, entry.size))
                return Invalid(entry, "file sizes overflow");
            for (const BackupPart &part : entry.parts) copied_bytes += part.size;
            bad_page_count += entry.bad_pages.size();
        }
        seen.emplace(entry.path, &entry);
    }
    const BackupMetadata &m = manifest.backup;
    auto mismatch = [](const char *field, uint64_t stated, uint64_t counted) {
        return Status(ErrorKind::corrupt,
                      fmt::format("backup: field \"{}\" is {}, but the entries add "
                                  "up to {}",
                                  field, stated, counted));
    };
    if (m.original_bytes != original_bytes)
        return mismatch("original_bytes", m.original_bytes, original_bytes);
    if (m.copied_bytes != copied_bytes)
        return mismatch("copied_bytes", m.copied_bytes, copied_bytes);
    if (m.stored_bytes != stored_bytes)
        return mismatch("stored_bytes", m.stored_bytes, stored_bytes);
    if (m.file_count != file_count) return mismatch("file_count", m.file_count, file_count);
    if (m.bad_page_count != bad_page_count)
        return mismatch("bad_page_count", m.bad_page_count, bad_page_count);
    /* block_files and whole_files are figures for people; restore never relies on them. */
    return Status::Ok();
}

/* JSON text must be UTF-8; see the note on SerializeManifest in manifest.h. */
std::string Dump(const nlohmann::ordered_json &json) {
    return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Status Describe(const Status &status, const char *document, const std::string &what) {
    return Status(status.kind(),
                  fmt::format("invalid {} \"{}\": {}", document, what, status.message()));
}

}  // namespace

void CountTotals(const std::vector<BackupEntry> &entries, BackupMetadata *totals) {
    BackupMetadata &m = *totals;
    m.original_bytes = m.copied_bytes = m.stored_bytes = m.file_count = m.bad_page_count = 0;
    m.block_files = m.whole_files = 0;
    for (const BackupEntry &entry : entries) {
        if (entry.kind != EntryKind::file) continue;
        m.file_count++;
        (entry.stored_as_blocks ? m.block_files : m.whole_files)++;
        m.original_bytes += entry.size;
        m.bad_page_count += entry.bad_pages.size();
        for (const BackupPart &part : entry.parts) {
            m.copied_bytes += part.size;
            m.stored_bytes += part.stored_size;
        }
    }
}

const char *BackupTypeName(BackupType type) {
    switch (type) {
        case BackupType::full: return "full";
        case BackupType::incremental: return "incremental";
        case BackupType::differential: return "differential";
    }
    return "unknown";
}

bool ParseBackupType(const std::string &text, BackupType *out) {
    for (BackupType type : {BackupType::full, BackupType::incremental, BackupType::differential}) {
        if (text == BackupTypeName(type)) {
            *out = type;
            return true;
        }
    }
    return false;
}

const char *BackupStatusName(BackupStatus status) {
    switch (status) {
        case BackupStatus::running: return "running";
        case BackupStatus::complete: return "complete";
        case BackupStatus::failed: return "failed";
    }
    return "unknown";
}

const char *EntryKindName(EntryKind kind) {
    switch (kind) {
        case EntryKind::directory: return "directory";
        case EntryKind::file: return "file";
        case EntryKind::symlink: return "symlink";
    }
    return "unknown";
}

/* The rules of a repository path (repo_path.h) are exactly the ones a manifest path needs. */
bool IsSafeRelativePath(const std::string &path) { return RepoPath::Make(path).ok(); }

std::string SerializeManifest(const Manifest &manifest) { return Dump(ManifestToJson(manifest)); }

Result<Manifest> ParseManifest(const std::string &json, const std::string &what) {
    auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded())
        return Status(ErrorKind::corrupt,
                      fmt::format("invalid backup manifest \"{}\": not valid JSON", what));
    auto manifest = ManifestFromJson(parsed);
    if (!manifest.ok()) return Describe(manifest.status(), "backup manifest", what);
    Status valid = CheckManifest(*manifest);
    if (!valid.ok()) return Describe(valid, "backup manifest", what);
    return manifest;
}

std::string SerializeMetadata(const BackupMetadata &metadata) {
    return Dump(MetadataToJson(metadata));
}

Result<BackupMetadata> ParseMetadata(const std::string &json, const std::string &what) {
    auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded())
        return Status(ErrorKind::corrupt,
                      fmt::format("invalid backup metadata \"{}\": not valid JSON", what));
    auto metadata = MetadataFromJson(parsed);
    if (!metadata.ok()) return Describe(metadata.status(), "backup metadata", what);
    return metadata;
}

std::string PartObjectName(uint64_t object) { return fmt::format("data/{:08}.ark", object); }

}  // namespace pg_ark

/*
 * catalog.cpp
 *     The backups of a cluster: ids, layout and classification. See catalog.h; the index's
 *     format is catalog_index.cpp.
 *
 * Every state is read from the backup directories, and the index only ever caches settled
 * states (complete, failed): a running backup's state changes without anyone rewriting it.
 */
#include "catalog.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "catalog_index.h"
#include "log.h"
#include "manifest_json.h"
#include "protocol.h"
#include "stored_object.h"

namespace pg_ark {

namespace {

constexpr size_t kIdBaseLength = 16; /* "YYYYMMDD-HHMMSS" and the type letter */
constexpr size_t kIdTimeLength = 15;
constexpr char kInfoName[] = "backup.info";
constexpr char kManifestName[] = "backup.manifest";
constexpr char kFailedName[] = "backup.failed";
constexpr char kDataName[] = "data";
constexpr char kExpiringName[] = "backup.expiring";
constexpr char kStoppedError[] = "the helper stopped before the backup finished";

char TypeLetter(BackupType type) {
    switch (type) {
        case BackupType::full: return 'F';
        case BackupType::incremental: return 'I';
        case BackupType::differential: return 'D';
    }
    return '?';
}

bool AllDigits(const std::string &text, size_t start, size_t length) {
    for (size_t i = start; i < start + length; i++)
        if (text[i] < '0' || text[i] > '9') return false;
    return true;
}

/* 1 for an id without a suffix, n for "_n". REQUIRES: a valid id. */
int IdSuffix(const std::string &id) {
    return id.size() == kIdBaseLength ? 1 : std::stoi(id.substr(kIdBaseLength + 1));
}

/* Oldest first: by the time in the id, then by suffix ("_10" after "_9"). */
bool IdLess(const std::string &a, const std::string &b) {
    int time = a.compare(0, kIdTimeLength, b, 0, kIdTimeLength);
    if (time != 0) return time < 0;
    if (IdSuffix(a) != IdSuffix(b)) return IdSuffix(a) < IdSuffix(b);
    return a < b;
}

/* What the id itself says, for a backup whose backup.info is missing or unreadable. */
BackupMetadata MetadataFromId(const std::string &cluster, const std::string &id) {
    BackupMetadata metadata;
    metadata.id = id;
    metadata.cluster = cluster;
    metadata.type = id[15] == 'F'   ? BackupType::full
                    : id[15] == 'I' ? BackupType::incremental
                                    : BackupType::differential;
    struct tm utc = {};
    strptime(id.substr(0, kIdTimeLength).c_str(), "%Y%m%d-%H%M%S", &utc);
    metadata.start_time = timegm(&utc);
    return metadata;
}

bool Unreadable(const Status &status) {
    return status.kind() == ErrorKind::not_found || status.kind() == ErrorKind::corrupt;
}

Result<RepoPath> BackupFile(const std::string &cluster, const std::string &id, const char *name) {
    auto directory = Catalog::BackupDirectory(cluster, id);
    if (!directory.ok()) return directory.status();
    return directory->Join(name);
}

Result<RepoPath> IndexPath(const std::string &cluster) {
    return RepoPath::Make(cluster + "/backup.index");
}

Result<RepoPath> ExpiringPath(const std::string &cluster) {
    return RepoPath::Make(cluster + "/" + kExpiringName);
}

/* Whether an expiry is (or was, when it was interrupted) removing backups: see catalog.h. */
Result<bool> ExpiryMarked(Storage &storage, const std::string &cluster) {
    auto path = ExpiringPath(cluster);
    if (!path.ok()) return path.status();
    auto info = storage.Info(*path);
    if (!info.ok()) return info.status();
    return info->exists;
}

/* Sum of the sizes of the objects directly under a directory. */
Result<uint64_t> ObjectBytes(Storage &storage, const RepoPath &directory) {
    auto objects = storage.ListObjects(directory);
    if (!objects.ok()) return objects.status();
    uint64_t bytes = 0;
    for (const ListedObject &object : *objects) bytes += object.size;
    return bytes;
}

/* Removes every object directly under a directory but those named in keep. */
Status RemoveObjects(Storage &storage, const RepoPath &directory,
                     const std::vector<std::string> &keep) {
    auto objects = storage.ListObjects(directory);
    if (!objects.ok()) return objects.status();
    for (const ListedObject &object : *objects) {
        if (std::find(keep.begin(), keep.end(), object.name) != keep.end()) continue;
        auto path = directory.Join(object.name);
        if (!path.ok()) return path.status();
        PG_ARK_RETURN_IF_ERROR(storage.Remove(*path));
    }
    return Status::Ok();
}

/* Valid backup ids under <cluster>/backup/, oldest first. */
Result<std::vector<std::string>> BackupIds(Storage &storage, const std::string &cluster) {
    auto directory = RepoPath::Make(cluster + "/backup");
    if (!directory.ok()) return directory.status();
    auto names = storage.List(*directory);
    if (!names.ok()) return names.status();
    std::vector<std::string> ids;
    for (const std::string &name : *names) {
        if (IsValidBackupId(name))
            ids.push_back(name);
        else
            Log(LogLevel::debug, "ignoring \"{}/{}\": not a backup id", directory->str(), name);
    }
    std::sort(ids.begin(), ids.end(), IdLess);
    return ids;
}

/* backup.info, or what the id says when it is missing or damaged. */
Result<BackupMetadata> ReadInfo(Storage &storage, const std::string &cluster,
                                const std::string &id) {
    auto path = BackupFile(cluster, id, kInfoName);
    if (!path.ok()) return path.status();
    auto text = ReadWholeObject(storage, *path);
    if (!text.ok()) {
        if (!Unreadable(text.status())) return text.status();
        Log(LogLevel::debug, "{}", text.status().message());
        return MetadataFromId(cluster, id);
    }
    auto metadata = ParseMetadata(*text, storage.Describe() + "/" + path->str());
    if (!metadata.ok() || metadata->id != id || metadata->cluster != cluster) {
        Log(LogLevel::debug, "ignoring the backup.info of backup \"{}\": {}", id,
            metadata.ok() ? "it names another backup" : metadata.status().message());
        return MetadataFromId(cluster, id);
    }
    return metadata;
}

/*
 * The state of one backup directory. A backup with neither manifest nor failure record comes
 * back running; Scan decides whether it still is.
 */
Result<CatalogEntry> ReadBackup(Catalog &catalog, Storage &storage, const std::string &cluster,
                                const std::string &id) {
    CatalogEntry entry;
    auto manifest = catalog.LoadManifest(id);
    if (manifest.ok()) {
        entry.backup = std::move(manifest->backup);
        entry.status = BackupStatus::complete;
        return entry;
    }
    if (!Unreadable(manifest.status())) return manifest.status();
    auto metadata = ReadInfo(storage, cluster, id);
    if (!metadata.ok()) return metadata.status();
    entry.backup = std::move(*metadata);
    entry.status = BackupStatus::failed;
    /* A damaged manifest makes the backup unusable; say so rather than hide it. */
    if (manifest.status().kind() == ErrorKind::corrupt) {
        entry.error = manifest.status().message();
        return entry;
    }
    auto path = BackupFile(cluster, id, kFailedName);
    if (!path.ok()) return path.status();
    auto reason = ReadWholeObject(storage, *path);
    if (reason.ok())
        entry.error = *reason;
    else if (reason.status().kind() == ErrorKind::corrupt)
        entry.error =
            "the backup failed, but its failure record is damaged: " + reason.status().message();
    else if (reason.status().kind() == ErrorKind::not_found)
        entry.status = BackupStatus::running;
    else
        return reason.status();
    return entry;
}

/*
 * Every backup's state. The lock is per cluster, so at most one backup runs: the newest that has
 * not ended, and only while the lock is held. Any other that has not ended never will.
 */
Result<std::vector<CatalogEntry>> Scan(Catalog &catalog, Storage &storage,
                                       const std::string &cluster,
                                       const std::vector<std::string> &ids, bool backup_running) {
    std::vector<CatalogEntry> entries;
    for (const std::string &id : ids) {
        auto entry = ReadBackup(catalog, storage, cluster, id);
        if (!entry.ok()) return entry.status();
        entries.push_back(std::move(*entry));
    }
    bool running_seen = !backup_running;
    for (auto entry = entries.rbegin(); entry != entries.rend(); ++entry) {
        if (entry->status != BackupStatus::running) continue;
        if (running_seen) {
            entry->status = BackupStatus::failed;
            entry->error = kStoppedError;
        }
        running_seen = true;
    }
    return entries;
}

bool AnyRunning(const std::vector<CatalogEntry> &entries) {
    return std::any_of(entries.begin(), entries.end(), [](const CatalogEntry &entry) {
        return entry.status == BackupStatus::running;
    });
}

/*
 * Whether the index can stand for the directories. While a backup runs, its directory is the
 * newest: an index whose newest entry is not complete may have been written by someone who
 * probed the lock just before that backup took it, and lists it as failed.
 */
bool IndexMatches(const std::vector<CatalogEntry> &index, const std::vector<std::string> &ids,
                  bool backup_running) {
    if (index.size() != ids.size() || AnyRunning(index)) return false;
    for (size_t i = 0; i < ids.size(); i++)
        if (index[i].backup.id != ids[i]) return false;
    return !backup_running || index.empty() || index.back().status == BackupStatus::complete;
}

}  // namespace

std::string MakeBackupId(int64_t start_time, BackupType type) {
    time_t seconds = static_cast<time_t>(start_time);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char text[32];
    strftime(text, sizeof text, "%Y%m%d-%H%M%S", &utc);
    return std::string(text) + TypeLetter(type);
}

bool IsValidBackupId(const std::string &id) {
    if (id.size() < kIdBaseLength || !AllDigits(id, 0, 8) || id[8] != '-' || !AllDigits(id, 9, 6) ||
        (id[15] != 'F' && id[15] != 'I' && id[15] != 'D'))
        return false;
    if (id.size() == kIdBaseLength) return true;
    /* "_2" ... "_99", no leading zero, so each suffix has one spelling. */
    std::string suffix = id.substr(kIdBaseLength);
    if (suffix.size() < 2 || suffix.size() > 3 || suffix[0] != '_' || suffix[1] == '0' ||
        !AllDigits(suffix, 1, suffix.size() - 1))
        return false;
    return suffix != "_1";
}

Catalog::Catalog(Repository *repository, std::string cluster)
    : repository_(repository), cluster_(std::move(cluster)) {}

Result<RepoPath> Catalog::BackupDirectory(const std::string &cluster, const std::string &id) {
    if (!wire::IsValidClusterName(cluster.c_str()))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("invalid cluster name \"{}\"", cluster));
    if (!IsValidBackupId(id))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("invalid backup id {}", QuoteForMessage(id)));
    return RepoPath::Make(fmt::format("{}/backup/{}", cluster, id));
}

Result<std::vector<CatalogEntry>> Catalog::List(bool backup_running) {
    Storage &storage = repository_->storage();
    auto ids = BackupIds(storage, cluster_);
    if (!ids.ok()) return ids.status();
    auto index_path = IndexPath(cluster_);
    if (!index_path.ok()) return index_path.status();
    auto expiring = ExpiryMarked(storage, cluster_);
    if (!expiring.ok()) return expiring.status();
    auto index = ReadCatalogIndex(storage, *index_path, cluster_);
    if (index.ok() && !*expiring && IndexMatches(*index, *ids, backup_running)) return index;
    if (!index.ok() && index.status().kind() != ErrorKind::not_found)
        Log(LogLevel::debug, "rebuilding the backup index: {}", index.status().message());

    auto entries = Scan(*this, storage, cluster_, *ids, backup_running);
    if (!entries.ok()) return entries.status();
    if (!AnyRunning(*entries) && !*expiring) {
        Status written = WriteCatalogIndex(storage, *index_path, *entries);
        /* A cache: a reader without write access still gets a correct answer. */
        if (!written.ok())
            Log(LogLevel::warn, "could not update the backup index of cluster \"{}\": {}", cluster_,
                written.message());
    }
    return entries;
}

Result<CatalogEntry> Catalog::Get(const std::string &id, bool backup_running) {
    PG_ARK_RETURN_IF_ERROR(BackupDirectory(cluster_, id).status());
    auto entries = List(backup_running);
    if (!entries.ok()) return entries.status();
    for (CatalogEntry &entry : *entries)
        if (entry.backup.id == id) return std::move(entry);
    return Status(ErrorKind::not_found,
                  fmt::format("backup \"{}\" of cluster \"{}\" not found in repository \"{}\"", id,
                              cluster_, repository_->storage().Describe()));
}

Result<CatalogEntry> Catalog::Latest(bool backup_running) {
    auto entries = List(backup_running);
    if (!entries.ok()) return entries.status();
    for (auto entry = entries->rbegin(); entry != entries->rend(); ++entry)
        if (entry->status == BackupStatus::complete) return std::move(*entry);
    return Status(ErrorKind::not_found,
                  fmt::format("cluster \"{}\" has no complete backup in repository \"{}\"",
                              cluster_, repository_->storage().Describe()));
}

Result<Manifest> Catalog::LoadManifest(const std::string &id) {
    auto path = BackupFile(cluster_, id, kManifestName);
    if (!path.ok()) return path.status();
    Storage &storage = repository_->storage();
    auto text = ReadWholeObject(storage, *path);
    if (!text.ok()) {
        if (text.status().kind() == ErrorKind::not_found)
            return Status(ErrorKind::not_found,
                          fmt::format("backup \"{}\" of cluster \"{}\" has no manifest: it is not "
                                      "complete",
                                      id, cluster_));
        return text.status();
    }
    std::string what = storage.Describe() + "/" + path->str();
    auto manifest = ParseManifest(*text, what);
    if (!manifest.ok()) return manifest.status();
    if (manifest->backup.id != id || manifest->backup.cluster != cluster_)
        return Status(ErrorKind::corrupt,
                      fmt::format("backup manifest \"{}\" describes backup {} of cluster {}", what,
                                  QuoteForMessage(manifest->backup.id),
                                  QuoteForMessage(manifest->backup.cluster)));
    return manifest;
}

Status Catalog::WriteBackupInfo(const BackupMetadata &metadata) {
    if (metadata.cluster != cluster_)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("backup \"{}\" names cluster \"{}\", not \"{}\"", metadata.id,
                                  metadata.cluster, cluster_));
    auto path = BackupFile(cluster_, metadata.id, kInfoName);
    if (!path.ok()) return path.status();
    /*
     * Ids order backups by their start second and suffix only, so two backups of different
     * types started in the same second (an incremental, then at once a full) must not share
     * both: the second one takes the next suffix, as if the id were taken. Otherwise the full
     * would list before the incremental, and retention would count them in the wrong order.
     * (The caller holds the backup lock: nobody adds a directory meanwhile.)
     */
    auto ids = BackupIds(repository_->storage(), cluster_);
    if (!ids.ok()) return ids.status();
    for (const std::string &other : *ids)
        if (other != metadata.id && IsValidBackupId(metadata.id) &&
            other.compare(0, kIdTimeLength, metadata.id, 0, kIdTimeLength) == 0 &&
            IdSuffix(other) == IdSuffix(metadata.id))
            return Status(ErrorKind::conflict,
                          fmt::format("backup \"{}\" of cluster \"{}\" started in the same second "
                                      "as backup \"{}\"",
                                      metadata.id, cluster_, other));
    std::string text = SerializeMetadata(metadata);
    /* Refuse now what every later reader would refuse. */
    auto valid = ParseMetadata(text, path->str());
    if (!valid.ok()) return Status(ErrorKind::invalid_argument, valid.status().message());
    Status written =
        WriteWholeObject(repository_->storage(), *path, text, kUncompressed, WriteMode::create_new);
    if (written.kind() == ErrorKind::conflict)
        return Status(
            ErrorKind::conflict,
            fmt::format("backup \"{}\" of cluster \"{}\" already exists", metadata.id, cluster_));
    return written;
}

Status Catalog::WriteManifest(const Manifest &manifest) {
    const std::string &id = manifest.backup.id;
    if (manifest.backup.cluster != cluster_)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("backup \"{}\" names cluster \"{}\", not \"{}\"", id,
                                  manifest.backup.cluster, cluster_));
    auto path = BackupFile(cluster_, id, kManifestName);
    if (!path.ok()) return path.status();
    try {
        (void)ManifestToJson(manifest).dump();
    } catch (const nlohmann::json::exception &e) {
        return Status(ErrorKind::invalid_argument,
                      fmt::format("the manifest of backup \"{}\" holds text that is not UTF-8: {}",
                                  id, e.what()));
    }
    std::string text = SerializeManifest(manifest);
    auto valid = ParseManifest(text, path->str());
    if (!valid.ok()) return Status(ErrorKind::invalid_argument, valid.status().message());
    Status written = WriteWholeObject(repository_->storage(), *path, text,
                                      manifest.backup.compression, WriteMode::create_new);
    if (written.kind() == ErrorKind::conflict)
        return Status(
            ErrorKind::conflict,
            fmt::format("backup \"{}\" of cluster \"{}\" already has a manifest", id, cluster_));
    PG_ARK_RETURN_IF_ERROR(written);
    /*
     * The backup is complete now, whatever happens to the index: reporting an error here could
     * make the caller record a failure for a complete backup. And the caller holds the lock, so
     * no other backup runs: every incomplete one has failed.
     */
    Status indexed = RebuildIndex(false);
    if (!indexed.ok())
        Log(LogLevel::warn, "could not update the backup index of cluster \"{}\": {}", cluster_,
            indexed.message());
    return Status::Ok();
}

Status Catalog::WriteFailure(const std::string &id, const std::string &reason) {
    auto path = BackupFile(cluster_, id, kFailedName);
    if (!path.ok()) return path.status();
    Status written = WriteWholeObject(repository_->storage(), *path, reason, kUncompressed,
                                      WriteMode::create_new);
    /* The first reason recorded is the one that counts. */
    if (!written.ok() && written.kind() != ErrorKind::conflict) return written;
    /* As in WriteManifest: the failure is recorded; the index is a cache. */
    Status indexed = RebuildIndex(false);
    if (!indexed.ok())
        Log(LogLevel::warn, "could not update the backup index of cluster \"{}\": {}", cluster_,
            indexed.message());
    return Status::Ok();
}

Status Catalog::RemoveParts(const std::string &id) {
    auto manifest = BackupFile(cluster_, id, kManifestName);
    if (!manifest.ok()) return manifest.status();
    Storage &storage = repository_->storage();
    auto complete = storage.Info(*manifest);
    if (!complete.ok()) return complete.status();
    if (complete->exists)
        return Status(ErrorKind::conflict,
                      fmt::format("backup \"{}\" of cluster \"{}\" is complete; refusing to remove "
                                  "its data",
                                  id, cluster_));
    auto data = BackupFile(cluster_, id, kDataName);
    if (!data.ok()) return data.status();
    auto names = storage.List(*data);
    if (!names.ok()) return names.status();
    for (const std::string &name : *names) {
        auto part = data->Join(name);
        if (!part.ok()) return part.status();
        PG_ARK_RETURN_IF_ERROR(storage.Remove(*part));
    }
    return storage.RemoveDirectory(*data);
}

Status Catalog::RebuildIndex(bool backup_running) {
    Storage &storage = repository_->storage();
    auto ids = BackupIds(storage, cluster_);
    if (!ids.ok()) return ids.status();
    auto entries = Scan(*this, storage, cluster_, *ids, backup_running);
    if (!entries.ok()) return entries.status();
    if (AnyRunning(*entries)) return Status::Ok();
    auto expiring = ExpiryMarked(storage, cluster_);
    if (!expiring.ok()) return expiring.status();
    if (*expiring) return Status::Ok();
    auto index_path = IndexPath(cluster_);
    if (!index_path.ok()) return index_path.status();
    return WriteCatalogIndex(storage, *index_path, *entries);
}

Status Catalog::MarkExpiring() {
    auto path = ExpiringPath(cluster_);
    if (!path.ok()) return path.status();
    return WriteWholeObject(repository_->storage(), *path,
                            fmt::format("expiry began at {}\n", time(nullptr)), kUncompressed,
                            WriteMode::replace);
}

Result<bool> Catalog::ExpiringMarked() { return ExpiryMarked(repository_->storage(), cluster_); }

Status Catalog::EndExpiring() {
    auto path = ExpiringPath(cluster_);
    if (!path.ok()) return path.status();
    PG_ARK_RETURN_IF_ERROR(repository_->storage().Remove(*path));
    /* Every backup expiry removed is gone with its directory, so an index left from before
     * no longer matches and would be rebuilt anyway: writing it now only saves that scan. */
    Status indexed = RebuildIndex(false);
    if (!indexed.ok())
        Log(LogLevel::warn, "could not update the backup index of cluster \"{}\": {}", cluster_,
            indexed.message());
    return Status::Ok();
}

Status Catalog::RemoveBackup(const std::string &id, const std::string &reason) {
    auto directory = BackupDirectory(cluster_, id);
    if (!directory.ok()) return directory.status();
    auto manifest = BackupFile(cluster_, id, kManifestName);
    if (!manifest.ok()) return manifest.status();
    auto failed = BackupFile(cluster_, id, kFailedName);
    if (!failed.ok()) return failed.status();
    auto data = BackupFile(cluster_, id, kDataName);
    if (!data.ok()) return data.status();
    Storage &storage = repository_->storage();

    auto complete = storage.Info(*manifest);
    if (!complete.ok()) return complete.status();
    if (complete->exists) {
        /* Failed from the moment the manifest is gone, saying why, so that an interrupted
         * expiry is recognised and finished (retention.h) rather than kept as a failure. */
        Status recorded = WriteWholeObject(storage, *failed, kExpiredReasonPrefix + reason,
                                           kUncompressed, WriteMode::create_new);
        if (!recorded.ok() && recorded.kind() != ErrorKind::conflict) return recorded;
        PG_ARK_RETURN_IF_ERROR(storage.Remove(*manifest));
    }
    PG_ARK_RETURN_IF_ERROR(RemoveObjects(storage, *data, {}));
    PG_ARK_RETURN_IF_ERROR(storage.RemoveDirectory(*data));
    /* The failure record last: until the directory goes, the backup still says what it is. */
    PG_ARK_RETURN_IF_ERROR(RemoveObjects(storage, *directory, {kFailedName}));
    PG_ARK_RETURN_IF_ERROR(storage.Remove(*failed));
    return storage.RemoveDirectory(*directory);
}

Result<uint64_t> Catalog::StoredBytes(const std::string &id, bool parts_only) {
    auto directory = BackupDirectory(cluster_, id);
    if (!directory.ok()) return directory.status();
    auto data = BackupFile(cluster_, id, kDataName);
    if (!data.ok()) return data.status();
    Storage &storage = repository_->storage();
    auto parts = ObjectBytes(storage, *data);
    if (!parts.ok() || parts_only) return parts;
    auto metadata = ObjectBytes(storage, *directory);
    if (!metadata.ok()) return metadata.status();
    return *parts + *metadata;
}

}  // namespace pg_ark

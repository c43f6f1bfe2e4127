/*
 * restore.cpp
 *     `pg_ark restore`; see restore.h for what it guarantees. The work, each step durable
 *     before the next:
 *
 *   1. check all that can be checked without writing: the backup and every backup of its
 *      chain down to a full one are complete, every block of every file is supplied by the
 *      chain (restore_chain.h), --tablespace-map names its tablespaces, the target and the
 *      tablespace locations are absent or empty, restore_command can be written;
 *   2. create the target and the tablespace locations (when absent), then the directories (0700
 *      for now) and links in manifest order, which puts parents first;
 *   3. every file but global/pg_control, by the worker pool (restore_files.h);
 *   4. directory modes, and an fsync of every directory;
 *   5. recovery.signal and postgresql.auto.conf (recovery_settings.h);
 *   6. global/pg_control, then its directory.
 *
 * A failure from step 2 on removes nothing and says the target is incomplete: what is there may
 * help to understand the failure, and without pg_control PostgreSQL refuses to start it.
 */
#include "restore.h"

#include <errno.h>
#include <fmt/format.h>
#include <string.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "backup_lock.h"
#include "catalog.h"
#include "delta_target.h"
#include "progress_meter.h"
#include "recovery_settings.h"
#include "restore_chain.h"
#include "restore_files.h"
#include "target_dir.h"
#include "wal_reach.h"

namespace pg_ark {

namespace {

constexpr const char *kPgControl = "global/pg_control";
constexpr const char *kAutoConf = "postgresql.auto.conf";
constexpr const char *kPgVersion = "PG_VERSION";
constexpr const char *kTablespacePrefix = "pg_tblspc/";

/*
 * Files of a backup that restore leaves out:
 *  - tablespace_map: restore makes the tablespace links itself, and at startup PostgreSQL would
 *    re-point them at the locations in this file, undoing --tablespace-map;
 *  - standby.signal: it would start a standby that never ends recovery, where restore promises
 *    recovery to the end of the archive.
 */
bool IsLeftOut(const std::string &path) {
    return path == "tablespace_map" || path == "standby.signal";
}

bool IsTablespaceLink(const BackupEntry &entry) {
    const size_t prefix = strlen(kTablespacePrefix);
    return entry.kind == EntryKind::symlink &&
           entry.path.compare(0, prefix, kTablespacePrefix) == 0 &&
           entry.path.find('/', prefix) == std::string::npos;
}

std::string StripTrailingSlashes(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

struct Tablespace {
    std::string link;     /* pg_tblspc/<oid> */
    std::string location; /* where its entries are restored */
    DirectoryState state = DirectoryState::absent;
};

Result<CatalogEntry> SelectBackup(Repository &repository, Catalog &catalog,
                                  const RestoreOptions &options) {
    auto running = BackupLock::IsHeld(options.lock_directory, options.cluster);
    if (!running.ok()) return running.status();
    if (options.target.kind == RecoveryTarget::Kind::none && options.set.empty())
        return catalog.Latest(*running);
    auto entry = [&]() -> Result<CatalogEntry> {
        if (options.target.kind == RecoveryTarget::Kind::none) return catalog.Get(options.set, *running);
        auto entries = catalog.List(*running);
        if (!entries.ok()) return entries.status();
        return ChooseBackupForTarget(*entries, options.target, options.set);
    }();
    if (!entry.ok()) return entry;
    if (entry->status == BackupStatus::running)
        return Status(
            ErrorKind::conflict,
            fmt::format("backup {} is still running and cannot be restored yet", options.set));
    if (entry->status == BackupStatus::failed)
        return Status(
            ErrorKind::invalid_argument,
            fmt::format("backup {} failed and cannot be restored: {}", options.set, entry->error));
    /* A target past the archive would fail only after the restore and a replay (wal_reach.h);
     * a standby streaming from a primary can still get there. */
    if (!options.standby || options.primary_conninfo.empty())
        PG_ARK_RETURN_IF_ERROR(
            CheckTargetInArchive(repository, options.cluster, entry->backup, options.target));
    return entry;
}

/* Where each tablespace goes; every --tablespace-map entry must name one of the backup's. */
Result<std::vector<Tablespace>> PlanTablespaces(const Manifest &manifest,
                                                const RestoreOptions &options) {
    std::map<std::string, std::string> remap;
    for (const auto &[from, to] : options.tablespace_map) {
        std::string location = StripTrailingSlashes(to);
        if (location.empty() || location.front() != '/')
            return Status(ErrorKind::invalid_argument,
                          fmt::format("--tablespace-map \"{}={}\": the new location must be an "
                                      "absolute path",
                                      from, to));
        if (!remap.emplace(StripTrailingSlashes(from), location).second)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("--tablespace-map names \"{}\" twice", from));
    }

    std::vector<Tablespace> tablespaces;
    std::set<std::string> mapped, locations;
    std::string names;
    for (const BackupEntry &entry : manifest.entries) {
        if (!IsTablespaceLink(entry)) continue;
        std::string original = StripTrailingSlashes(entry.link_target);
        if (original.empty() || original.front() != '/')
            return Status(ErrorKind::corrupt,
                          fmt::format("manifest of backup {}: tablespace link \"{}\" points to "
                                      "\"{}\", not an absolute path",
                                      manifest.backup.id, entry.path, entry.link_target));
        auto found = remap.find(original);
        if (found != remap.end()) mapped.insert(original);
        Tablespace tablespace;
        tablespace.link = entry.path;
        tablespace.location = found != remap.end() ? found->second : original;
        if (!locations.insert(tablespace.location).second)
            return Status(
                ErrorKind::invalid_argument,
                fmt::format("two tablespaces would be restored to \"{}\"", tablespace.location));
        tablespaces.push_back(std::move(tablespace));
        names += (names.empty() ? "\"" : ", \"") + original + "\"";
    }
    for (const auto &[from, to] : remap) {
        if (!mapped.count(from))
            return Status(ErrorKind::invalid_argument,
                          fmt::format("--tablespace-map names \"{}\", which is not a tablespace "
                                      "location of backup {} (its tablespaces: {})",
                                      from, manifest.backup.id, names.empty() ? "none" : names));
    }
    return tablespaces;
}

/*
 * The state of a directory restore may write into; conflict unless absent or empty, or for a
 * delta restore a directory.
 */
Result<DirectoryState> CheckWritable(const std::string &path, const char *what, bool delta) {
    auto state = ProbeDirectory(path);
    if (!state.ok()) return state;
    if (*state == DirectoryState::not_empty && !delta)
        return Status(ErrorKind::conflict,
                      fmt::format("{} \"{}\" is not empty; restore needs an empty or absent "
                                  "directory, or --delta to restore into an existing data "
                                  "directory of a stopped server",
                                  what, path));
    if (*state == DirectoryState::not_directory)
        return Status(ErrorKind::conflict,
                      fmt::format("{} \"{}\" is not a directory; restore needs an empty or absent "
                                  "directory",
                                  what, path));
    return state;
}

Result<TargetDir> OpenOrCreate(const std::string &path, DirectoryState state) {
    return state == DirectoryState::absent ? TargetDir::Create(path, 0700) : TargetDir::Open(path);
}

/* Longer chains are refused rather than walked: a loop of parents must not hang a restore. */
constexpr size_t kMaxChainLength = 10000;

/*
 * The manifests from the chosen backup through its parents down to a full backup, newest first.
 * Every link must be complete, of the same system and block size.
 */
Result<std::vector<Manifest>> LoadChain(Catalog &catalog, bool running, Manifest chosen) {
    std::vector<Manifest> chain;
    chain.push_back(std::move(chosen));
    std::set<std::string> seen = {chain.back().backup.id};
    while (chain.back().backup.type != BackupType::full) {
        const BackupMetadata &child = chain.back().backup;
        const std::string parent = child.parent;
        if (chain.size() >= kMaxChainLength || !seen.insert(parent).second)
            return Status(ErrorKind::corrupt,
                          fmt::format("the parents of backup {} form a loop or a chain longer "
                                      "than {} backups",
                                      chain.front().backup.id, kMaxChainLength));
        auto entry = catalog.Get(parent, running);
        if (!entry.ok()) {
            if (entry.status().kind() != ErrorKind::not_found) return entry.status();
            return Status(ErrorKind::not_found,
                          fmt::format("backup {} builds on backup {}, which does not exist: the "
                                      "chain cannot be restored",
                                      child.id, parent));
        }
        if (entry->status != BackupStatus::complete)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("backup {} builds on backup {}, which is {}{}: the chain "
                                      "cannot be restored",
                                      child.id, parent, BackupStatusName(entry->status),
                                      entry->error.empty() ? "" : " (" + entry->error + ")"));
        auto manifest = catalog.LoadManifest(parent);
        if (!manifest.ok())
            return Status(manifest.status().kind(),
                          fmt::format("backup {} builds on backup {}, which cannot be read: {}",
                                      child.id, parent, manifest.status().message()));
        if (manifest->backup.system_identifier != child.system_identifier ||
            manifest->backup.block_size != child.block_size)
            return Status(ErrorKind::corrupt,
                          fmt::format("backup {} builds on backup {}, which is of another system "
                                      "or block size",
                                      child.id, parent));
        chain.push_back(std::move(*manifest));
    }
    return chain;
}

/* A directory restore made, to be given its mode and fsynced once its contents are in. */
struct MadeDirectory {
    const TargetDir *root;
    std::string relative;
    uint32_t mode;
};

/* Steps 2 to 6 of the file comment. */
class Writer {
  public:
    /* sources: per manifest entry, the parts that rebuild it (files only). */
    Writer(Repository &repository, const RestoreOptions &options, const Manifest &manifest,
           std::vector<std::vector<SourcePart>> sources)
        : repository_(repository),
          options_(options),
          manifest_(manifest),
          sources_(std::move(sources)) {}

    /* Creates or opens the target and the tablespace locations; they are still empty after. */
    Status OpenRoots(DirectoryState target_state, const std::vector<Tablespace> &tablespaces);
    /* Delta restore: pg_control and what the backup lacks removed, what stays noted. */
    Status Prune();
    /* Everything but pg_control, durable. */
    Status WriteAllButControl(const std::string &restore_command);
    Status WriteControl();
    const TransferCounters &counters() const { return counters_; }
    const RewriteCounters &rewritten() const { return rewritten_; }
    const PruneCounts &removed() const { return removed_; }
    uint64_t compared_files() const { return files_.size() + early_files_; }

  private:
    /* The directory an entry is written into, and its path there. */
    std::pair<const TargetDir *, std::string> Locate(const std::string &path) const;
    Status MakeEntries();
    Status SyncDirectories();

    Repository &repository_;
    const RestoreOptions &options_;
    const Manifest &manifest_;
    std::vector<std::vector<SourcePart>> sources_;
    std::unique_ptr<TargetDir> pgdata_;
    std::map<std::string, TargetDir> tablespaces_; /* by link path */
    std::vector<MadeDirectory> directories_;
    std::vector<FileToRestore> files_;
    FileToRestore pg_control_{};
    FileToRestore auto_conf_{}; /* postgresql.auto.conf, rewritten with the recovery settings */
    /* Delta restore: the entries left in place, per root (directories, links, files). */
    std::map<const TargetDir *, std::set<std::string>> kept_;
    TransferCounters counters_;
    RewriteCounters rewritten_;
    RewriteCounters rewritten_anyway_; /* pg_control and postgresql.auto.conf: not reported */
    PruneCounts removed_;
    bool pruned_ = false; /* a delta restore into an existing directory */
    size_t early_files_ = 0; /* written before the pool (PG_VERSION) */
    std::unique_ptr<ProgressMeter> meter_;
};

std::pair<const TargetDir *, std::string> Writer::Locate(const std::string &path) const {
    size_t slash = path.find('/', strlen(kTablespacePrefix));
    if (path.compare(0, strlen(kTablespacePrefix), kTablespacePrefix) == 0 &&
        slash != std::string::npos) {
        auto found = tablespaces_.find(path.substr(0, slash));
        if (found != tablespaces_.end()) return {&found->second, path.substr(slash + 1)};
    }
    return {pgdata_.get(), path};
}

Status Writer::MakeEntries() {
    for (size_t i = 0; i < manifest_.entries.size(); i++) {
        const BackupEntry &entry = manifest_.entries[i];
        auto [root, relative] = Locate(entry.path);
        const bool kept = kept_[root].count(relative) > 0;
        switch (entry.kind) {
            case EntryKind::directory:
                /* Owner-writable until its contents are in; SyncDirectories sets the mode. */
                if (!kept) PG_ARK_RETURN_IF_ERROR(root->MakeDirectory(relative, 0700));
                directories_.push_back({root, relative, entry.mode});
                break;
            case EntryKind::symlink: {
                auto tablespace = tablespaces_.find(entry.path);
                if (kept) {
                    if (entry.path == "pg_wal") directories_.push_back({root, relative, 0700});
                } else if (tablespace != tablespaces_.end()) {
                    PG_ARK_RETURN_IF_ERROR(root->MakeSymlink(relative, tablespace->second.path()));
                } else if (entry.path == "pg_wal") {
                    /* A linked pg_wal points at the original server's WAL: the restored server
                     * must not write there. PostgreSQL recreates archive_status itself. */
                    PG_ARK_RETURN_IF_ERROR(root->MakeDirectory(relative, 0700));
                    directories_.push_back({root, relative, 0700});
                } else {
                    PG_ARK_RETURN_IF_ERROR(root->MakeSymlink(relative, entry.link_target));
                }
                break;
            }
            case EntryKind::file: {
                if (IsLeftOut(entry.path)) break;
                FileToRestore file{&entry, root, relative, std::move(sources_[i]), kept, pruned_};
                if (entry.path == kPgControl || entry.path == kAutoConf)
                    file.report = false; /* written by every restore: not news */
                if (entry.path == kPgVersion) {
                    /* Now, ahead of the pool (and of every directory, which sort after it): a
                     * directory holding it is one --delta accepts, so a restore interrupted
                     * from here on can be finished with --delta. */
                    counters_.files_total++;
                    counters_.bytes_total += entry.size;
                    PG_ARK_RETURN_IF_ERROR(RestoreFiles(repository_.storage(), {file}, 1,
                                                        &counters_, &rewritten_));
                    early_files_++;
                    break;
                }
                if (entry.path == kPgControl)
                    pg_control_ = std::move(file);
                else if (entry.path == kAutoConf)
                    auto_conf_ = std::move(file);
                else
                    files_.push_back(std::move(file));
                counters_.files_total++;
                counters_.bytes_total += entry.size;
                break;
            }
        }
    }
    return Status::Ok();
}

Status Writer::SyncDirectories() {
    /* Children first, so a parent's mode can never keep us out of them. */
    for (auto made = directories_.rbegin(); made != directories_.rend(); ++made) {
        std::string path = made->root->Describe(made->relative);
        auto fd = made->root->OpenDirectory(made->relative);
        if (!fd.ok()) return fd.status();
        if (fchmod(fd->get(), static_cast<mode_t>(made->mode & 07777)) != 0)
            return ErrnoStatus(errno,
                               fmt::format("could not set the mode of directory \"{}\"", path));
        PG_ARK_RETURN_IF_ERROR(FsyncFd(fd->get(), path));
    }
    for (const auto &[link, location] : tablespaces_)
        PG_ARK_RETURN_IF_ERROR(FsyncFd(location.fd(), location.path()));
    return FsyncFd(pgdata_->fd(), pgdata_->path());
}

Status Writer::OpenRoots(DirectoryState target_state, const std::vector<Tablespace> &tablespaces) {
    auto pgdata = OpenOrCreate(options_.pgdata, target_state);
    if (!pgdata.ok()) return pgdata.status();
    pgdata_ = std::make_unique<TargetDir>(std::move(*pgdata));
    for (const Tablespace &tablespace : tablespaces) {
        auto location = OpenOrCreate(tablespace.location, tablespace.state);
        if (!location.ok()) return location.status();
        tablespaces_.emplace(tablespace.link, std::move(*location));
    }
    return Status::Ok();
}

Status Writer::Prune() {
    pruned_ = true;
    /* First of all, so that from here on PostgreSQL refuses to start the directory. */
    auto global = pgdata_->OpenDirectory("global");
    if (global.ok()) {
        if (unlinkat(global->get(), "pg_control", 0) != 0 && errno != ENOENT)
            return ErrnoStatus(errno, fmt::format("could not remove \"{}\"",
                                                  pgdata_->Describe(kPgControl)));
        PG_ARK_RETURN_IF_ERROR(FsyncFd(global->get(), pgdata_->Describe("global")));
    } else if (global.status().kind() != ErrorKind::not_found) {
        return global.status();
    }

    std::map<const TargetDir *, std::map<std::string, Expected>> expected;
    for (const BackupEntry &entry : manifest_.entries) {
        if (entry.kind == EntryKind::file && IsLeftOut(entry.path)) continue;
        auto [root, relative] = Locate(entry.path);
        Expected what{entry.kind, entry.link_target};
        auto tablespace = tablespaces_.find(entry.path);
        if (tablespace != tablespaces_.end()) what.link_target = tablespace->second.path();
        if (entry.kind == EntryKind::symlink && entry.path == "pg_wal")
            what = {EntryKind::directory, ""}; /* as MakeEntries restores it */
        expected[root].emplace(relative, std::move(what));
    }
    /* Written by every restore: replaced, not counted as removed or rewritten. */
    const std::set<std::string> always_written = {kPgControl, kAutoConf, "recovery.signal",
                                                  "standby.signal"},
                                none;
    for (const std::string &path : always_written)
        expected[pgdata_.get()].emplace(path, Expected{EntryKind::file, ""});
    std::vector<const TargetDir *> roots = {pgdata_.get()};
    for (const auto &[link, location] : tablespaces_) roots.push_back(&location);
    for (const TargetDir *root : roots) {
        const bool is_pgdata = root == pgdata_.get();
        auto removed = PruneTarget(*root, expected[root], !is_pgdata,
                                   is_pgdata ? always_written : none, &kept_[root]);
        if (!removed.ok()) return removed.status();
        removed_.files += removed->files;
        removed_.bytes += removed->bytes;
    }
    return Status::Ok();
}

Status Writer::WriteAllButControl(const std::string &restore_command) {
    PG_ARK_RETURN_IF_ERROR(MakeEntries());
    if (options_.progress) meter_ = std::make_unique<ProgressMeter>("restoring", &counters_);
    PG_ARK_RETURN_IF_ERROR(
        RestoreFiles(repository_.storage(), files_, options_.workers, &counters_, &rewritten_));
    if (auto_conf_.entry != nullptr)
        PG_ARK_RETURN_IF_ERROR(
            RestoreFiles(repository_.storage(), {auto_conf_}, 1, &counters_, &rewritten_anyway_));
    PG_ARK_RETURN_IF_ERROR(SyncDirectories());
    std::vector<std::string> lines = RecoveryTargetLines(options_.target);
    if (!options_.primary_conninfo.empty())
        lines.push_back("primary_conninfo = " + ConfQuote(options_.primary_conninfo));
    return WriteRecoverySettings(*pgdata_, manifest_.backup.id, restore_command, lines,
                                 options_.standby);
}

Status Writer::WriteControl() {
    PG_ARK_RETURN_IF_ERROR(
        RestoreFiles(repository_.storage(), {pg_control_}, 1, &counters_, &rewritten_anyway_));
    meter_.reset();
    auto global = pgdata_->OpenDirectory("global");
    if (!global.ok()) return global.status();
    return FsyncFd(global->get(), pgdata_->Describe("global"));
}

Status Incomplete(const Status &status, const std::string &pgdata, bool control_written) {
    return Status(
        status.kind(),
        fmt::format("{}; the restore into \"{}\" did not finish and left it incomplete{}: "
                    "restore again with --delta, or empty it and its tablespace locations first",
                    status.message(), pgdata,
                    control_written ? ""
                                    : " (without global/pg_control, so PostgreSQL "
                                      "will not start it)"));
}

}  // namespace

Result<RestoreResult> Restore(Repository &repository, const RestoreOptions &options) {
    if (options.workers < 1 || options.workers > kMaxProcessMax)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("process-max must be from 1 to {}, not {}", kMaxProcessMax,
                                  options.workers));
    auto restore_command =
        MakeRestoreCommand(options.pg_ark_binary, options.config_path, options.cluster);
    if (!restore_command.ok()) return restore_command.status();

    auto registered = repository.LoadCluster(options.cluster);
    if (!registered.ok()) return registered.status();
    Catalog catalog(&repository, options.cluster);
    auto backup = SelectBackup(repository, catalog, options);
    if (!backup.ok()) return backup.status();
    const std::string &id = backup->backup.id;
    auto loaded = catalog.LoadManifest(id);
    if (!loaded.ok()) return loaded.status();
    auto running = BackupLock::IsHeld(options.lock_directory, options.cluster);
    if (!running.ok()) return running.status();
    auto manifests = LoadChain(catalog, *running, std::move(*loaded));
    if (!manifests.ok()) return manifests.status();
    const Manifest *manifest = &manifests->front();
    std::vector<ChainLink> chain;
    for (const Manifest &link : *manifests) {
        auto directory = Catalog::BackupDirectory(options.cluster, link.backup.id);
        if (!directory.ok()) return directory.status();
        chain.push_back({&link, *directory});
    }
    /* Every byte's source, before anything is written. */
    std::vector<std::vector<SourcePart>> sources(manifest->entries.size());
    for (size_t i = 0; i < manifest->entries.size(); i++) {
        const BackupEntry &entry = manifest->entries[i];
        if (entry.kind != EntryKind::file || IsLeftOut(entry.path)) continue;
        auto planned = PlanFileSources(chain, entry);
        if (!planned.ok())
            return Status(planned.status().kind(), fmt::format("cannot restore backup {}: {}", id,
                                                               planned.status().message()));
        sources[i] = std::move(*planned);
    }
    bool has_control = false;
    for (const BackupEntry &entry : manifest->entries)
        has_control |= entry.kind == EntryKind::file && entry.path == kPgControl;
    if (!has_control)
        return Status(ErrorKind::corrupt, fmt::format("backup {} has no {}", id, kPgControl));
    auto tablespaces = PlanTablespaces(*manifest, options);
    if (!tablespaces.ok()) return tablespaces.status();

    auto target_state = CheckWritable(options.pgdata, "target directory", options.delta);
    if (!target_state.ok()) return target_state.status();
    bool in_place = *target_state == DirectoryState::not_empty;
    if (in_place) {
        PG_ARK_RETURN_IF_ERROR(CheckLooksLikeDataDirectory(options.pgdata));
        PG_ARK_RETURN_IF_ERROR(CheckNoServerRunning(options.pgdata));
    }
    for (Tablespace &tablespace : *tablespaces) {
        auto state = CheckWritable(tablespace.location, "tablespace location", options.delta);
        if (!state.ok()) return state.status();
        tablespace.state = *state;
        in_place |= *state == DirectoryState::not_empty;
    }

    Writer writer(repository, options, *manifest, std::move(sources));
    /* Empty directories at most are left if this fails: a second try accepts them. */
    PG_ARK_RETURN_IF_ERROR(writer.OpenRoots(*target_state, *tablespaces));
    if (in_place) {
        Status pruned = writer.Prune();
        if (!pruned.ok()) return Incomplete(pruned, options.pgdata, false);
    }
    Status written = writer.WriteAllButControl(*restore_command);
    if (!written.ok()) return Incomplete(written, options.pgdata, false);
    written = writer.WriteControl();
    if (!written.ok()) return Incomplete(written, options.pgdata, true);

    RestoreResult result;
    result.backup_id = id;
    result.files = writer.counters().files_total;
    result.bytes = writer.counters().bytes_total;
    result.files_rewritten = writer.rewritten().files;
    result.bytes_rewritten = writer.rewritten().bytes;
    result.files_unchanged = writer.compared_files() - result.files_rewritten;
    result.files_removed = writer.removed().files;
    result.bytes_removed = writer.removed().bytes;
    return result;
}

}  // namespace pg_ark

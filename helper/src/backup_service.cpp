/*
 * backup_service.cpp
 *     Backup sessions in the helper. See backup_service.h.
 */
#include "backup_service.h"

#include <fmt/format.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <thread>

#include "changed_blocks.h"
#include "expire.h"
#include "incremental_plan.h"
#include "log.h"
#include "pause.h"
#include "stored_object.h"

namespace pg_ark {

struct BackupJob {
    std::string cluster;
    BackupLock lock;
    CopyControl control;
    std::vector<BackupEntry> entries;
    uint64_t wal_segment_size = 0;
    uint64_t parent_start_lsn = 0; /* incremental and differential: where the maps must start */
    uint32_t parent_timeline = 0;
    bool detached = false;  // guarded by BackupService::mutex_ once published
    std::chrono::steady_clock::time_point attach_deadline;

    std::mutex mutex;
    BackupMetadata metadata;    // guarded by mutex
    std::string phase;          // guarded by mutex
    std::string cancel_reason;  // guarded by mutex; set once
    bool finished = false;      // guarded by mutex: completed or failed

    void SetPhase(const std::string &value) {
        std::lock_guard<std::mutex> guard(mutex);
        phase = value;
    }
    void Cancel(const std::string &reason) {
        std::lock_guard<std::mutex> guard(mutex);
        if (cancel_reason.empty()) cancel_reason = reason;
        control.cancelled = true;
    }
    std::string CancelReason() {
        std::lock_guard<std::mutex> guard(mutex);
        return cancel_reason;
    }
};

namespace {

constexpr auto kWatchInterval = std::chrono::milliseconds(100);

/*
 * Retention after every successful backup, while the backup still holds the cluster's lock:
 * so it runs exactly once per backup and no other backup or expiry can start in between. The
 * backup is complete whatever happens here: a failure is only a warning.
 */
void ExpireAfterBackup(const Config &config, Repository &repository, const std::string &cluster,
                       const std::string &backup_id) {
    auto section = config.Cluster(cluster);
    if (!section.ok()) return;
    auto paused = PausedState(repository, cluster);
    if (paused.ok() && paused->has_value()) {
        Log(LogLevel::info, "no expiry after backup {}: {}", backup_id,
            DescribePause(**paused, cluster));
        return;
    }
    ExpireOptions options;
    options.now = time(nullptr);
    auto report = ExpireLocked(repository, **section, options);
    if (!report.ok())
        Log(LogLevel::warn,
            "backup {} is complete, but the expiry after it failed: {}; run \"pg_ark expire "
            "--cluster {}\" once the cause is fixed",
            backup_id, report.status().message(), cluster);
}

/* The client's end closed (backend exited, connection reset). */
bool PeerGone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = {fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

BackupType TypeOf(wire::BackupKind kind) {
    switch (kind) {
        case wire::BackupKind::incremental: return BackupType::incremental;
        case wire::BackupKind::differential: return BackupType::differential;
        case wire::BackupKind::full: break;
    }
    return BackupType::full;
}

wire::BackupKind KindOf(BackupType type) {
    switch (type) {
        case BackupType::incremental: return wire::BackupKind::incremental;
        case BackupType::differential: return wire::BackupKind::differential;
        case BackupType::full: break;
    }
    return wire::BackupKind::full;
}

std::string SegmentName(uint32_t timeline, uint64_t segno, uint64_t segment_size) {
    uint64_t per_id = 0x100000000ull / segment_size;
    return fmt::format("{:08X}{:08X}{:08X}", timeline, segno / per_id, segno % per_id);
}

wire::BackupRecord ToRecord(const BackupMetadata &m, BackupStatus status, const std::string &error) {
    wire::BackupRecord r;
    wire::CopyBounded(r.backup_id, sizeof r.backup_id, m.id.c_str());
    r.kind = KindOf(m.type);
    wire::CopyBounded(r.status, sizeof r.status, BackupStatusName(status));
    wire::CopyBounded(r.label, sizeof r.label, m.label.c_str());
    wire::CopyBounded(r.parent, sizeof r.parent, m.parent.c_str());
    r.start_lsn = m.start_lsn;
    r.stop_lsn = m.stop_lsn;
    r.start_time = m.start_time;
    r.stop_time = m.stop_time;
    r.timeline = m.timeline;
    wire::CopyBounded(r.wal_start, sizeof r.wal_start, m.wal_start.c_str());
    wire::CopyBounded(r.wal_stop, sizeof r.wal_stop, m.wal_stop.c_str());
    r.original_bytes = m.original_bytes;
    r.stored_bytes = m.stored_bytes;
    r.copied_bytes = m.copied_bytes;
    wire::CopyBounded(r.error, sizeof r.error, error.c_str());
    r.block_files = m.block_files;
    r.whole_files = m.whole_files;
    wire::CopyBounded(r.fallback, sizeof r.fallback, m.fallback.c_str());
    return r;
}

/* Stores a small in-memory file (backup_label, tablespace_map) as a one-part entry. */
Result<BackupEntry> StoreSmallFile(Storage &storage, const RepoPath &directory, uint64_t object,
                                   const std::string &path, const std::string &content,
                                   Compression compression, int64_t mtime) {
    auto object_path = directory.Join(PartObjectName(object));
    if (!object_path.ok()) return object_path.status();
    ObjectSummary stored;
    PG_ARK_RETURN_IF_ERROR(
        WriteWholeObject(storage, *object_path, content, compression, WriteMode::create_new, &stored));
    BackupEntry entry;
    entry.path = path;
    entry.kind = EntryKind::file;
    entry.mode = 0600;
    entry.mtime = mtime;
    entry.size = content.size();
    BackupPart part;
    part.object = object;
    part.size = content.size();
    part.stored_size = stored.stored_size;
    part.sha256 = stored.original_sha256;
    part.stored_sha256 = stored.stored_sha256;
    part.xxh128 = stored.original_xxh128;
    part.has_xxh128 = stored.has_original_xxh128;
    entry.parts.push_back(part);
    return entry;
}

/*
 * The backup an incremental or differential builds on: for an incremental the one named, or the
 * newest complete backup of any type; for a differential the newest complete full backup.
 * It must be complete and of this cluster's system.
 */
Result<BackupMetadata> ChooseParent(Catalog &catalog, const wire::BackupBeginRequest &request,
                                    uint64_t system_identifier) {
    auto entries = catalog.List(true);
    if (!entries.ok()) return entries.status();
    std::string named = request.parent;
    if (!named.empty() && request.kind == wire::BackupKind::differential)
        return Status(ErrorKind::invalid_argument,
                      "a differential backup takes no parent: it builds on the newest full backup");
    const CatalogEntry *parent = nullptr;
    if (!named.empty()) {
        for (const CatalogEntry &entry : *entries)
            if (entry.backup.id == named) parent = &entry;
        if (parent == nullptr)
            return Status(ErrorKind::not_found,
                          fmt::format("parent backup \"{}\" of cluster \"{}\" does not exist",
                                      named, request.cluster));
        if (parent->status != BackupStatus::complete)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("parent backup {} is {}, not complete; an incremental backup "
                                      "needs a complete parent",
                                      named, BackupStatusName(parent->status)));
    } else {
        bool need_full = request.kind == wire::BackupKind::differential;
        for (auto entry = entries->rbegin(); entry != entries->rend() && parent == nullptr; ++entry)
            if (entry->status == BackupStatus::complete &&
                (!need_full || entry->backup.type == BackupType::full))
                parent = &*entry;
        if (parent == nullptr)
            return Status(ErrorKind::not_found,
                          fmt::format("cluster \"{}\" has no complete {}backup to base a {} backup "
                                      "on; take a full backup first",
                                      request.cluster, need_full ? "full " : "",
                                      BackupKindName(request.kind)));
    }
    if (parent->backup.system_identifier != system_identifier)
        return Status(ErrorKind::system_mismatch,
                      fmt::format("parent backup {} is of system {}, not {}", parent->backup.id,
                                  parent->backup.system_identifier, system_identifier));
    return parent->backup;
}

/* The size of every file of the parent backup, by path: what the chain restores it to. */
std::map<std::string, uint64_t> ParentSizes(const Manifest &parent) {
    std::map<std::string, uint64_t> sizes;
    for (const BackupEntry &entry : parent.entries)
        if (entry.kind == EntryKind::file) sizes.emplace(entry.path, entry.size);
    return sizes;
}

}  // namespace

BackupService::BackupService(const Config &config, Repository *repository, WalShipper *shipper)
    : config_(config), repository_(repository), shipper_(shipper) {}

BackupService::~BackupService() = default;

/* Both are set before the job is published and never change. */
std::string BackupService::BackupIdOf(const BackupJob &job) { return job.metadata.id; }
std::string BackupService::LabelOf(const BackupJob &job) { return job.metadata.label; }

std::shared_ptr<BackupJob> BackupService::Running(const std::string &cluster) {
    std::shared_ptr<BackupJob> job;
    bool abandoned;
    {
        std::lock_guard<std::mutex> guard(mutex_);
        auto it = running_.find(cluster);
        if (it == running_.end()) return nullptr;
        job = it->second;
        abandoned = job->detached && std::chrono::steady_clock::now() > job->attach_deadline;
    }
    /* A detached backup whose worker never attached is failed lazily, when someone looks. */
    if (abandoned) {
        Fail(*job, fmt::format("no background worker took the backup over within {} s",
                               wire::kAttachTimeoutSeconds));
        return nullptr;
    }
    return job;
}

Status BackupService::CleanAbandoned(Catalog &catalog) {
    auto entries = catalog.List(false);
    if (!entries.ok()) return entries.status();
    for (const CatalogEntry &entry : *entries) {
        if (entry.status != BackupStatus::failed) continue;
        Status removed = catalog.RemoveParts(entry.backup.id);
        if (!removed.ok())
            Log(LogLevel::warn, "could not remove the parts of failed backup {}: {}", entry.backup.id,
                removed.message());
    }
    return Status::Ok();
}

Result<std::shared_ptr<BackupJob>> BackupService::Begin(const wire::BackupBeginRequest &request) {
    auto cluster_config = config_.Cluster(request.cluster);
    if (!cluster_config.ok()) return cluster_config.status();
    auto info = repository_->LoadCluster(request.cluster);
    if (!info.ok()) return info.status();
    if (info->system_identifier != request.system_identifier)
        return Status(ErrorKind::system_mismatch,
                      fmt::format("cluster \"{}\" is registered with system identifier {}, but the "
                                  "database asking for a backup has {}",
                                  request.cluster, info->system_identifier, request.system_identifier));
    (void)Running(request.cluster); /* expires a detached backup no worker took over */
    PG_ARK_RETURN_IF_ERROR(RefuseIfPaused(*repository_, request.cluster, "backup"));

    auto job = std::make_shared<BackupJob>();
    job->cluster = request.cluster;
    time_t now = time(nullptr);
    std::string id = MakeBackupId(now, TypeOf(request.kind));
    auto lock = BackupLock::Acquire(config_.LockDirectory(), request.cluster, id);
    if (!lock.ok()) return lock.status();
    job->lock = std::move(*lock);

    Catalog catalog(repository_, request.cluster);
    PG_ARK_RETURN_IF_ERROR(CleanAbandoned(catalog));

    BackupMetadata &m = job->metadata;
    if (request.kind != wire::BackupKind::full) {
        auto parent = ChooseParent(catalog, request, info->system_identifier);
        if (!parent.ok()) return parent.status();
        m.parent = parent->id;
        job->parent_start_lsn = parent->start_lsn;
        job->parent_timeline = parent->stop_timeline;
    }
    m.type = TypeOf(request.kind);
    m.label = request.label;
    m.cluster = request.cluster;
    m.system_identifier = info->system_identifier;
    m.pg_version = info->pg_version;
    m.start_time = now;
    m.compression = (*cluster_config)->compression;
    m.helper_version = PG_ARK_VERSION;
    /* Two backups started within one second get suffixed ids. */
    Status written;
    for (int suffix = 1; suffix < 100; suffix++) {
        m.id = suffix == 1 ? id : fmt::format("{}_{}", id, suffix);
        written = catalog.WriteBackupInfo(m);
        if (written.kind() != ErrorKind::conflict) break;
    }
    if (!written.ok()) return written;
    job->detached = request.detached != 0;
    job->attach_deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(wire::kAttachTimeoutSeconds);
    job->SetPhase(job->detached ? "starting worker" : "waiting for checkpoint");
    {
        std::lock_guard<std::mutex> guard(mutex_);
        running_[request.cluster] = job;
    }
    Log(LogLevel::info, "backup {} of cluster \"{}\" begins", m.id, request.cluster);
    return job;
}

Result<std::shared_ptr<BackupJob>> BackupService::Attach(const wire::BackupRef &ref) {
    auto job = Running(ref.cluster);
    if (job == nullptr || job->metadata.id != ref.backup_id)
        return Status(ErrorKind::not_found,
                      fmt::format("backup {} of cluster \"{}\" is not waiting for a worker",
                                  ref.backup_id, ref.cluster));
    std::lock_guard<std::mutex> guard(mutex_);
    if (!job->detached)
        return Status(ErrorKind::conflict,
                      fmt::format("backup {} already has a worker", ref.backup_id));
    job->detached = false;
    job->SetPhase("waiting for checkpoint");
    return job;
}

Status BackupService::CheckGoing(BackupJob &job, int client_fd) {
    if (PeerGone(client_fd)) job.Cancel("the database session running the backup went away");
    std::string reason = job.CancelReason();
    if (!reason.empty()) return Status(ErrorKind::conflict, fmt::format("backup cancelled: {}", reason));
    std::lock_guard<std::mutex> guard(job.mutex);
    if (job.finished) return Status(ErrorKind::conflict, "the backup has already ended");
    return Status::Ok();
}

/* A step that fails ends the backup at once, before the client hears of it. */
Status BackupService::Copy(BackupJob &job, const wire::BackupCopyRequest &request, int client_fd,
                           std::string *warnings) {
    Status status = CopyFiles(job, request, client_fd, warnings);
    if (!status.ok()) Fail(job, status.message());
    return status;
}

Status BackupService::Stop(BackupJob &job, const wire::BackupStopRequest &request, int client_fd) {
    Status status = Commit(job, request, client_fd);
    if (!status.ok()) Fail(job, status.message());
    return status;
}

Status BackupService::CopyFiles(BackupJob &job, const wire::BackupCopyRequest &request, int client_fd,
                                std::string *warnings) {
    PG_ARK_RETURN_IF_ERROR(CheckGoing(job, client_fd));
    if (!job.entries.empty() || job.metadata.start_lsn != 0)
        return Status(ErrorKind::protocol, "backup_copy sent twice");
    auto cluster_config = config_.Cluster(job.cluster);
    if (!cluster_config.ok()) return cluster_config.status();
    auto directory = Catalog::BackupDirectory(job.cluster, job.metadata.id);
    if (!directory.ok()) return directory.status();

    CopyOptions options;
    options.pgdata = (*cluster_config)->pgdata;
    options.start_lsn = request.start_lsn;
    options.data_checksums = request.data_checksums != 0;
    options.block_size = request.block_size;
    options.segment_blocks = request.segment_blocks;
    options.compression = job.metadata.compression;
    options.workers = (*cluster_config)->process_max;
    {
        std::lock_guard<std::mutex> guard(job.mutex);
        job.metadata.start_lsn = request.start_lsn;
        job.metadata.timeline = request.timeline;
        job.metadata.data_checksums = options.data_checksums;
        job.metadata.block_size = request.block_size;
        job.metadata.part_size = options.part_size;
        job.phase = "copying";
    }
    job.wal_segment_size = request.wal_segment_size;

    /* Kept alive for the planner, which the copy calls for every file. */
    ChangedBlocks changes;
    std::map<std::string, uint64_t> parent_sizes;
    if (!job.metadata.parent.empty()) {
        Catalog catalog(repository_, job.cluster);
        auto parent = catalog.LoadManifest(job.metadata.parent);
        if (!parent.ok()) return parent.status();
        if (parent->backup.block_size != request.block_size)
            changes.fallback = fmt::format("the parent's block size is {}, not {}",
                                           parent->backup.block_size, request.block_size);
        else if (job.parent_timeline != request.timeline)
            /* After a promotion (a restored or standby cluster) the WAL since the parent's start
             * may be another history than the parent's: no map can prove what differs. */
            changes.fallback = fmt::format("the timeline changed from {} to {} since the parent "
                                           "backup",
                                           job.parent_timeline, request.timeline);
        else
            changes = LoadChangedBlocks(options.pgdata, job.metadata.system_identifier,
                                        job.parent_start_lsn, request.start_lsn,
                                        request.wal_segment_size);
        parent_sizes = ParentSizes(*parent);
        if (!changes.fallback.empty())
            Log(LogLevel::warn, "backup {}: relation files are copied whole: {}", job.metadata.id,
                changes.fallback);
        else
            Log(LogLevel::info, "backup {}: {} block maps cover {} to {}", job.metadata.id,
                changes.maps_used, LsnText(job.parent_start_lsn), LsnText(request.start_lsn));
        PlanInput input;
        input.changes = &changes;
        input.parent_sizes = &parent_sizes;
        input.block_size = request.block_size;
        input.segment_blocks = request.segment_blocks;
        options.planner = [input](const SourceEntry &source) { return PlanFile(source, input); };
        std::lock_guard<std::mutex> guard(job.mutex);
        job.metadata.fallback = changes.fallback;
    }

    /* Fault injection for the tests: hold the backup here, in backup mode, while a file exists. */
    for (const char *hold = getenv("PG_ARK_TEST_HOLD_COPY"); hold != nullptr && access(hold, F_OK) == 0;) {
        PG_ARK_RETURN_IF_ERROR(CheckGoing(job, client_fd));
        std::this_thread::sleep_for(kWatchInterval);
    }

    Storage &storage = repository_->storage();
    RepoPath backup_directory = *directory;
    auto copy = std::async(std::launch::async, [&]() {
        return CopyDataDirectory(storage, backup_directory, options, &job.control);
    });
    while (copy.wait_for(kWatchInterval) != std::future_status::ready) (void)CheckGoing(job, client_fd);
    auto entries = copy.get();
    PG_ARK_RETURN_IF_ERROR(CheckGoing(job, client_fd));
    if (!entries.ok()) return entries.status();
    job.entries = std::move(*entries);

    uint64_t bad_files = 0, bad_pages = 0;
    std::string examples;
    for (const BackupEntry &entry : job.entries) {
        if (entry.bad_pages.empty()) continue;
        bad_files++;
        bad_pages += entry.bad_pages.size();
        if (bad_files <= 5) examples += fmt::format("{}{} (block {})", examples.empty() ? "" : ", ",
                                                    entry.path, entry.bad_pages.front());
    }
    if (bad_pages > 0) {
        *warnings = fmt::format("{} page(s) with invalid checksums in {} file(s): {}{}", bad_pages,
                                bad_files, examples, bad_files > 5 ? ", ..." : "");
        Log(LogLevel::warn, "backup {}: {}", job.metadata.id, *warnings);
    }
    BackupMetadata counted; /* shown while the backup waits for its stop */
    CountTotals(job.entries, &counted);
    {
        std::lock_guard<std::mutex> guard(job.mutex);
        job.metadata.bad_page_count = bad_pages;
        job.metadata.block_files = counted.block_files;
        job.metadata.whole_files = counted.whole_files;
    }
    if (!job.metadata.parent.empty())
        Log(LogLevel::info, "backup {}: {} files stored as changed blocks, {} whole",
            job.metadata.id, counted.block_files, counted.whole_files);
    job.SetPhase("waiting for backup stop");
    return Status::Ok();
}

Status BackupService::WaitForWal(BackupJob &job, int client_fd) {
    const BackupMetadata &m = job.metadata;
    uint64_t first = m.start_lsn / job.wal_segment_size;
    uint64_t last = (m.stop_lsn - 1) / job.wal_segment_size;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config_.archive_timeout_seconds);
    for (uint64_t segno = first; segno <= last;) {
        std::string name = SegmentName(m.timeline, segno, job.wal_segment_size);
        auto path = Repository::WalPath(job.cluster, name);
        if (!path.ok()) return path.status();
        auto info = repository_->storage().Info(*path);
        if (!info.ok()) return info.status();
        if (info->exists) {
            segno++;
            continue;
        }
        PG_ARK_RETURN_IF_ERROR(CheckGoing(job, client_fd));
        if (std::chrono::steady_clock::now() > deadline)
            return Status(ErrorKind::unavailable,
                          fmt::format("WAL segment {} needed by backup {} was not archived within {} "
                                      "s; check archive_mode and archive_library = 'pg_ark' "
                                      "(archive-timeout)",
                                      name, m.id, config_.archive_timeout_seconds));
        shipper_->Kick();
        std::this_thread::sleep_for(kWatchInterval);
    }
    return Status::Ok();
}

Status BackupService::Commit(BackupJob &job, const wire::BackupStopRequest &request, int client_fd) {
    PG_ARK_RETURN_IF_ERROR(CheckGoing(job, client_fd));
    if (job.metadata.start_lsn == 0) return Status(ErrorKind::protocol, "backup_stop before backup_copy");
    if (request.stop_lsn < job.metadata.start_lsn)
        return Status(ErrorKind::invalid_argument, "the stop LSN precedes the start LSN");
    if (request.stop_timeline != job.metadata.timeline)
        return Status(ErrorKind::invalid_argument,
                      "the timeline changed during the backup (a standby was promoted); take the "
                      "backup again");
    auto directory = Catalog::BackupDirectory(job.cluster, job.metadata.id);
    if (!directory.ok()) return directory.status();

    time_t now = time(nullptr);
    {
        std::lock_guard<std::mutex> guard(job.mutex);
        job.metadata.stop_lsn = request.stop_lsn;
        job.metadata.stop_timeline = request.stop_timeline;
        job.metadata.stop_time = now;
        job.metadata.wal_start = SegmentName(job.metadata.timeline,
                                             job.metadata.start_lsn / job.wal_segment_size,
                                             job.wal_segment_size);
        job.metadata.wal_stop = SegmentName(job.metadata.timeline,
                                            (request.stop_lsn - 1) / job.wal_segment_size,
                                            job.wal_segment_size);
        job.phase = "waiting for WAL";
    }

    uint64_t next_object = 0;
    for (const BackupEntry &entry : job.entries)
        for (const BackupPart &part : entry.parts) next_object = std::max(next_object, part.object + 1);
    std::vector<std::pair<std::string, std::string>> extra = {{"backup_label", request.backup_label}};
    if (request.tablespace_map[0] != '\0') extra.emplace_back("tablespace_map", request.tablespace_map);
    for (const auto &[path, content] : extra) {
        auto entry = StoreSmallFile(repository_->storage(), *directory, next_object++, path, content,
                                    job.metadata.compression, now);
        if (!entry.ok()) return entry.status();
        job.entries.push_back(std::move(*entry));
    }
    std::sort(job.entries.begin(), job.entries.end(),
              [](const BackupEntry &a, const BackupEntry &b) { return a.path < b.path; });

    PG_ARK_RETURN_IF_ERROR(WaitForWal(job, client_fd));

    job.SetPhase("writing manifest");
    Manifest manifest;
    {
        std::lock_guard<std::mutex> guard(job.mutex);
        manifest.backup = job.metadata;
    }
    manifest.entries = std::move(job.entries);
    CountTotals(&manifest);
    const BackupMetadata &m = manifest.backup;
    Catalog catalog(repository_, job.cluster);
    PG_ARK_RETURN_IF_ERROR(catalog.WriteManifest(manifest));
    {
        std::lock_guard<std::mutex> guard(job.mutex);
        job.metadata = m;
        job.finished = true;
    }
    {
        std::lock_guard<std::mutex> guard(mutex_);
        running_.erase(job.cluster);
    }
    Log(LogLevel::info, "backup {} of cluster \"{}\" complete: {} files, {} bytes stored as {}", m.id,
        job.cluster, m.file_count, m.original_bytes, m.stored_bytes);
    ExpireAfterBackup(config_, *repository_, job.cluster, m.id);
    job.lock.Release();
    return Status::Ok();
}

void BackupService::Fail(BackupJob &job, const std::string &why) {
    std::string reason;
    {
        std::lock_guard<std::mutex> guard(job.mutex);
        if (job.finished) return;
        job.finished = true;
        reason = job.cancel_reason.empty() ? why : job.cancel_reason; /* the cause, not its echo */
    }
    job.control.cancelled = true;
    Catalog catalog(repository_, job.cluster);
    Status written = catalog.WriteFailure(job.metadata.id, reason);
    if (!written.ok())
        Log(LogLevel::warn, "could not record the failure of backup {}: {}", job.metadata.id,
            written.message());
    Status removed = catalog.RemoveParts(job.metadata.id);
    if (!removed.ok())
        Log(LogLevel::warn, "could not remove the parts of failed backup {}: {}", job.metadata.id,
            removed.message());
    {
        std::lock_guard<std::mutex> guard(mutex_);
        auto it = running_.find(job.cluster);
        if (it != running_.end() && it->second.get() == &job) running_.erase(it);
    }
    job.lock.Release();
    (void)catalog.RebuildIndex(false);
    Log(LogLevel::warn, "backup {} of cluster \"{}\" failed: {}", job.metadata.id, job.cluster, reason);
}

bool BackupService::Detached(const BackupJob &job) {
    std::lock_guard<std::mutex> guard(mutex_);
    return job.detached;
}

void BackupService::EndSession(BackupJob &job, const std::string &reason) {
    if (!Detached(job)) Fail(job, reason);
}

Status BackupService::Cancel(const wire::BackupRef &ref) {
    auto job = Running(ref.cluster);
    if (job == nullptr || job->metadata.id != ref.backup_id)
        return Status(ErrorKind::not_found, fmt::format("backup {} of cluster \"{}\" is not running",
                                                        ref.backup_id, ref.cluster));
    job->Cancel("cancelled by backup_cancel()");
    /* No session will notice the cancel of a backup no worker has taken over yet. */
    if (Detached(*job)) Fail(*job, "cancelled by backup_cancel()");
    return Status::Ok();
}

Result<std::vector<wire::BackupRecord>> BackupService::Query(const wire::CatalogQuery &query) {
    auto cluster_config = config_.Cluster(query.cluster);
    if (!cluster_config.ok()) return cluster_config.status();
    auto job = Running(query.cluster);
    std::vector<wire::BackupRecord> records;
    auto running_record = [&]() {
        std::lock_guard<std::mutex> guard(job->mutex);
        wire::BackupRecord r = ToRecord(job->metadata, BackupStatus::running, "");
        wire::CopyBounded(r.phase, sizeof r.phase, job->phase.c_str());
        r.files_done = job->control.files_done;
        r.files_total = job->control.files_total;
        r.bytes_done = job->control.bytes_done;
        r.bytes_total = job->control.bytes_total;
        return r;
    };
    std::string id = query.backup_id;
    if (id == "running") {
        if (job != nullptr) records.push_back(running_record());
        return records;
    }
    Catalog catalog(repository_, query.cluster);
    if (!id.empty()) {
        if (job != nullptr && job->metadata.id == id) {
            records.push_back(running_record());
            return records;
        }
        auto entry = catalog.Get(id, false);
        if (!entry.ok()) return entry.status();
        records.push_back(ToRecord(entry->backup, entry->status, entry->error));
        return records;
    }
    auto entries = catalog.List(job != nullptr);
    if (!entries.ok()) return entries.status();
    for (const CatalogEntry &entry : *entries) {
        if (job != nullptr && entry.backup.id == job->metadata.id)
            records.push_back(running_record());
        else
            records.push_back(ToRecord(entry.backup, entry.status, entry.error));
    }
    return records;
}

}  // namespace pg_ark

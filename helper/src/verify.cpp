/*
 * verify.cpp
 *     Re-reading a repository and placing each backup's reach in the archived WAL. See verify.h.
 *
 * Three steps: gather (catalog, manifests, WAL listing, history files), read every object in
 * parallel (each worker writes only its own task's result, so nothing is shared but the task
 * counter), then judge: sizes, chains, and for each backup a walk over the segments recovery
 * would replay. Rows are assembled at the end in a fixed order, so two runs over the same
 * damage print the same report.
 */
#include "verify.h"

#include <fmt/format.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "catalog.h"
#include "catalog_format.h"
#include "restore_chain.h"
#include "stored_object.h"
#include "thread_group.h"
#include "wal_name.h"
#include "wal_reach.h"
#include "xxh128.h"

namespace pg_ark {

namespace {

/* XLogLongPageHeaderData, which starts every segment: fields whose offsets PostgreSQL keeps. */
constexpr uint16_t kLongHeaderFlag = 0x0002; /* XLP_LONG_HEADER in xlp_info */
constexpr size_t kInfoOffset = 2;
constexpr size_t kSysidOffset = 24;
constexpr size_t kSegSizeOffset = 32;
constexpr size_t kLongHeaderPrefix = 40;
constexpr uint64_t kMinSegmentSize = 1u << 20;
constexpr uint64_t kMaxSegmentSize = 1u << 30;
constexpr char kManifestName[] = "backup.manifest";

bool ValidSegmentSize(uint64_t size) {
    return size >= kMinSegmentSize && size <= kMaxSegmentSize && (size & (size - 1)) == 0;
}

std::string Plural(uint64_t count, const char *one, const char *many) {
    return fmt::format("{} {}", count, count == 1 ? one : many);
}

std::string StoredAt(double stored_time) {
    return FormatTime(static_cast<int64_t>(stored_time)) + " UTC";
}

/* One object to read. */
struct Task {
    enum class Kind { part, wal };
    Task(Kind kind_in, RepoPath path_in, std::string object_in)
        : kind(kind_in), path(std::move(path_in)), object(std::move(object_in)) {}

    Kind kind;
    RepoPath path;
    const BackupPart *part = nullptr; /* parts: what the manifest says */
    size_t backup = 0;                /* parts: index into the verdicts */
    std::string object; /* the row's object */
    /* results */
    std::string problem;
    uint64_t stored_size = 0;
    uint64_t original_size = 0;
    bool decoded = false;
    std::string head; /* WAL: the first kLongHeaderPrefix original bytes */
};

std::string DescribeDigestMismatch(const char *what) {
    return fmt::format("{} differs from the one its manifest records (another object, or a "
                       "damaged manifest)",
                       what);
}

void ReadObject(Storage &storage, Task *task) {
    auto stream = storage.OpenRead(task->path);
    std::string where = storage.Describe() + "/" + task->path.str();
    if (!stream.ok()) {
        task->problem = stream.status().kind() == ErrorKind::not_found
                            ? fmt::format("missing: stored object \"{}\" does not exist", where)
                            : fmt::format("could not read: {}", stream.status().message());
        return;
    }
    const bool wal = task->kind == Task::Kind::wal;
    /* A part's XXH3-128, which delta restore trusts, is checked too: cheap beside SHA-256. */
    const bool xxh128_known = task->part != nullptr && task->part->has_xxh128;
    Xxh128 xxh128;
    auto decoded = DecodeObject(
        **stream,
        [&](const uint8_t *data, size_t size) {
            if (wal && task->head.size() < kLongHeaderPrefix)
                task->head.append(reinterpret_cast<const char *>(data),
                                  std::min(size, kLongHeaderPrefix - task->head.size()));
            if (xxh128_known) xxh128.Update(data, size);
            return Status::Ok();
        },
        where, Verify::full);
    if (!decoded.ok()) {
        task->problem = decoded.status().message();
        return;
    }
    task->decoded = true;
    task->stored_size = decoded->stored_size;
    task->original_size = decoded->original_size;
    if (task->part == nullptr) return;
    const BackupPart &part = *task->part;
    if (decoded->original_size != part.size)
        task->problem = fmt::format("stored object \"{}\" holds {} bytes, its manifest records {}",
                                    where, decoded->original_size, part.size);
    else if (decoded->stored_sha256 != part.stored_sha256 || decoded->stored_size != part.stored_size)
        task->problem = fmt::format("stored object \"{}\": {}", where,
                                    DescribeDigestMismatch("its stored checksum or size"));
    else if (decoded->original_sha256 != part.sha256)
        task->problem = fmt::format("stored object \"{}\": {}", where,
                                    DescribeDigestMismatch("its checksum"));
    else if (xxh128_known && xxh128.Finish() != part.xxh128)
        task->problem = fmt::format("stored object \"{}\": {}", where,
                                    DescribeDigestMismatch("its XXH3-128"));
}

/* Runs every task on up to `workers` threads (the caller's thread too when none starts). */
void ReadAll(Storage &storage, std::vector<Task> &tasks, int workers) {
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i = next++; i < tasks.size(); i = next++) ReadObject(storage, &tasks[i]);
    };
    ThreadGroup threads;
    int wanted = std::max(1, std::min<int>(workers, static_cast<int>(tasks.size())));
    int started = 0;
    for (int i = 0; i < wanted; i++)
        if (threads.Start(work).ok()) started++;
    if (started == 0) work();
    threads.Join();
}

/* A timeline history file: the timelines before it and the LSN at which each ended. */
struct HistoryEntry {
    uint32_t timeline;
    uint64_t end_lsn;
};

/* Lines "parentTLI <tab> X/X <tab> reason"; comments and blank lines skipped. */
Result<std::vector<HistoryEntry>> ParseHistory(const std::string &text) {
    std::vector<HistoryEntry> entries;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        start = end + 1;
        size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        unsigned int timeline = 0, high = 0, low = 0;
        if (sscanf(line.c_str() + first, "%u\t%X/%X", &timeline, &high, &low) != 3 &&
            sscanf(line.c_str() + first, "%u %X/%X", &timeline, &high, &low) != 3)
            return Status(ErrorKind::corrupt, fmt::format("unreadable line \"{}\"", line));
        entries.push_back({timeline, (uint64_t(high) << 32) | low});
    }
    return entries;
}

/* One timeline of the path recovery follows, from the segment it starts in. */
struct PathStep {
    uint32_t timeline;
    uint64_t first_segno;
};

/* The step whose timeline holds segno: the newest begun by then (path is never empty). */
const PathStep *StepOf(const std::vector<PathStep> &path, uint64_t segno) {
    for (auto step = path.rbegin(); step != path.rend(); ++step)
        if (step->first_segno <= segno) return &*step;
    return &path.front();
}

/* What the archive holds for one segment number on one timeline. */
struct ArchivedCopy {
    std::string name;
    bool sound = false;   /* a full segment or .partial that passed every check */
    bool partial = false; /* the best copy is the .partial */
    double stored_time = 0;
};

using ArchiveIndex = std::map<uint64_t, std::map<uint32_t, ArchivedCopy>>;

class Verifier {
  public:
    Verifier(Repository &repository, std::string cluster, std::string backup_id, int workers,
             bool backup_running)
        : repository_(repository),
          storage_(repository.storage()),
          cluster_(std::move(cluster)),
          backup_id_(std::move(backup_id)),
          workers_(workers),
          backup_running_(backup_running) {}

    Result<VerifyReport> Run();

  private:
    Status SelectBackups();
    void LoadChains();
    Status ListWal();
    void ReadHistories();
    void AddPartTasks();
    void AddWalTasks();
    void JudgeWal();
    void JudgeBackup(size_t index);
    std::vector<PathStep> RecoveryPath(uint32_t timeline, uint64_t stop_lsn) const;
    /* The usable copy of segno on the path, or null; *named: the name to report it under. */
    const ArchivedCopy *Usable(const std::vector<PathStep> &path, uint64_t segno,
                               std::string *named) const;
    void BackupRow(size_t index, const std::string &object, const std::string &problem);
    /* Adds `note` to the rows of segno's damaged copies on path; false when there are none. */
    bool NoteDamaged(const std::vector<PathStep> &path, uint64_t segno, const std::string &note);

    Repository &repository_;
    Storage &storage_;
    const std::string cluster_;
    const std::string backup_id_;
    const int workers_;
    const bool backup_running_;

    uint64_t system_identifier_ = 0;
    std::vector<CatalogEntry> entries_;              /* the backups verified, oldest first */
    std::map<std::string, Manifest> manifests_;      /* by id: those that could be read */
    std::map<std::string, CatalogEntry> all_;        /* every backup of the cluster, by id */
    std::vector<BackupVerdict> verdicts_;            /* parallel to entries_ */
    std::vector<std::vector<VerifyProblem>> backup_rows_; /* parallel to entries_ */
    std::vector<VerifyProblem> wal_rows_;            /* sorted by object at the end */
    std::vector<Task> tasks_;
    std::vector<std::pair<std::string, RepoPath>> wal_files_;      /* name, path */
    std::vector<std::pair<std::string, RepoPath>> history_files_;  /* name, path */
    std::map<std::string, double> stored_times_;                   /* WAL name -> stored time */
    std::map<uint32_t, std::vector<HistoryEntry>> histories_;
    uint64_t segment_size_ = kDefaultWalSegmentSize;
    uint64_t wal_segments_ = 0, wal_other_ = 0, wal_bytes_ = 0;
    ArchiveIndex archive_;
    /* Gaps after backups: the missing segment's name -> the row text's parts. */
    struct Gap {
        std::string after;
        double after_time = 0;
        std::string last_beyond;
        std::vector<std::string> backups;
    };
    std::map<std::string, Gap> gaps_;
};

void Verifier::BackupRow(size_t index, const std::string &object, const std::string &problem) {
    backup_rows_[index].push_back({object, problem});
    verdicts_[index].problems++;
}

Status Verifier::SelectBackups() {
    Catalog catalog(&repository_, cluster_);
    /* A running backup's parts are still being written: it is listed as running and skipped. */
    auto listed = catalog.List(backup_running_);
    if (!listed.ok()) return listed.status();
    for (const CatalogEntry &entry : *listed) all_[entry.backup.id] = entry;
    auto damaged_manifest = [&](const CatalogEntry &entry) {
        if (entry.status != BackupStatus::failed) return false;
        auto directory = Catalog::BackupDirectory(cluster_, entry.backup.id);
        if (!directory.ok()) return false;
        auto path = directory->Join(kManifestName);
        if (!path.ok()) return false;
        auto info = storage_.Info(*path);
        return info.ok() && info->exists;
    };
    auto kept = [&](const CatalogEntry &entry) {
        return entry.status == BackupStatus::complete || damaged_manifest(entry);
    };
    if (backup_id_.empty()) {
        for (const CatalogEntry &entry : *listed)
            if (kept(entry)) entries_.push_back(entry);
        return Status::Ok();
    }
    auto found = all_.find(backup_id_);
    if (found == all_.end())
        return Status(ErrorKind::not_found,
                      fmt::format("backup \"{}\" of cluster \"{}\" not found in repository \"{}\"",
                                  backup_id_, cluster_, storage_.Describe()));
    if (!kept(found->second))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("backup {} of cluster \"{}\" is {}: there is nothing a restore "
                                  "would use to verify",
                                  backup_id_, cluster_, BackupStatusName(found->second.status)));
    /* The chosen backup and the parents a restore of it reads, oldest first. */
    std::set<std::string> chosen;
    for (std::string id = backup_id_; !id.empty() && all_.count(id) && chosen.insert(id).second;)
        id = all_[id].backup.parent;
    for (const CatalogEntry &entry : *listed)
        if (chosen.count(entry.backup.id) && kept(entry)) entries_.push_back(entry);
    return Status::Ok();
}

void Verifier::LoadChains() {
    Catalog catalog(&repository_, cluster_);
    verdicts_.resize(entries_.size());
    backup_rows_.resize(entries_.size());
    for (size_t i = 0; i < entries_.size(); i++) {
        const BackupMetadata &backup = entries_[i].backup;
        BackupVerdict &verdict = verdicts_[i];
        verdict.id = backup.id;
        verdict.type = backup.type;
        verdict.parent = backup.parent;
        verdict.wal_start = backup.wal_start;
        verdict.wal_stop = backup.wal_stop;
        std::string object = fmt::format("backup {}: manifest", backup.id);
        if (entries_[i].status != BackupStatus::complete) {
            BackupRow(i, object, entries_[i].error);
            continue;
        }
        auto manifest = catalog.LoadManifest(backup.id);
        if (!manifest.ok()) {
            BackupRow(i, object, manifest.status().message());
            continue;
        }
        manifests_.emplace(backup.id, std::move(*manifest));
        verdict.manifest_ok = true;
    }
    /* Chains: every parent complete and readable, supplying every block a child lacks. */
    for (size_t i = 0; i < entries_.size(); i++) {
        const std::string &id = entries_[i].backup.id;
        auto self = manifests_.find(id);
        if (self == manifests_.end() || self->second.backup.type == BackupType::full) continue;
        std::vector<ChainLink> chain;
        std::set<std::string> seen;
        std::string problem;
        for (const Manifest *link = &self->second;;) {
            auto directory = Catalog::BackupDirectory(cluster_, link->backup.id);
            if (!directory.ok()) {
                problem = directory.status().message();
                break;
            }
            chain.push_back({link, *directory});
            if (link->backup.type == BackupType::full) break;
            const std::string parent = link->backup.parent;
            if (!seen.insert(link->backup.id).second) {
                problem = "its parents form a loop";
                break;
            }
            auto listed = all_.find(parent);
            if (listed == all_.end()) {
                problem = fmt::format("builds on backup {}, which does not exist: the chain "
                                      "cannot be restored",
                                      parent);
                break;
            }
            if (listed->second.status != BackupStatus::complete) {
                problem = fmt::format("builds on backup {}, which is {}{}: the chain cannot be "
                                      "restored",
                                      parent, BackupStatusName(listed->second.status),
                                      listed->second.error.empty()
                                          ? ""
                                          : " (" + listed->second.error + ")");
                break;
            }
            auto loaded = manifests_.find(parent);
            if (loaded == manifests_.end()) {
                auto manifest = catalog.LoadManifest(parent);
                if (!manifest.ok()) {
                    problem = fmt::format("builds on backup {}, which cannot be read: {}", parent,
                                          manifest.status().message());
                    break;
                }
                loaded = manifests_.emplace(parent, std::move(*manifest)).first;
            }
            if (loaded->second.backup.block_size != self->second.backup.block_size ||
                loaded->second.backup.system_identifier != self->second.backup.system_identifier) {
                problem = fmt::format("builds on backup {}, which is of another system or block "
                                      "size",
                                      parent);
                break;
            }
            link = &loaded->second;
        }
        if (!problem.empty()) {
            BackupRow(i, fmt::format("backup {}: parent", id), problem);
            continue;
        }
        for (const BackupEntry &entry : self->second.entries) {
            if (entry.kind != EntryKind::file || !entry.stored_as_blocks) continue;
            auto planned = PlanFileSources(chain, entry);
            if (!planned.ok())
                BackupRow(i, fmt::format("backup {}: {}", id, entry.path), planned.status().message());
        }
    }
}

Status Verifier::ListWal() {
    auto wal = RepoPath::Make(cluster_ + "/wal");
    if (!wal.ok()) return wal.status();
    auto directories = storage_.List(*wal);
    if (!directories.ok()) {
        wal_rows_.push_back({"wal", fmt::format("could not list: {}", directories.status().message())});
        return Status::Ok();
    }
    for (const std::string &directory : *directories) {
        const bool history = directory == "history";
        if (!history && (directory.size() != 16 ||
                         directory.find_first_not_of("0123456789ABCDEF") != std::string::npos))
            continue;
        auto path = wal->Join(directory);
        if (!path.ok()) return path.status();
        auto objects = storage_.ListObjects(*path);
        if (!objects.ok()) {
            wal_rows_.push_back({fmt::format("wal {}/", directory),
                                 fmt::format("could not list: {}", objects.status().message())});
            continue;
        }
        for (const ListedObject &object : *objects) {
            constexpr size_t kSuffix = 4; /* ".ark" */
            if (object.name.size() <= kSuffix || object.name[0] == '.' ||
                object.name.compare(object.name.size() - kSuffix, kSuffix, ".ark") != 0)
                continue;
            std::string name = object.name.substr(0, object.name.size() - kSuffix);
            WalFileKind kind = ClassifyWalName(name.c_str());
            if (kind == WalFileKind::invalid || (kind == WalFileKind::history) != history) continue;
            auto file = path->Join(object.name);
            if (!file.ok()) return file.status();
            (history ? history_files_ : wal_files_).emplace_back(name, *file);
            stored_times_[name] = object.stored_time;
        }
    }
    return Status::Ok();
}

/* History files are read first, in full: the recovery paths (and --set's WAL) depend on them. */
void Verifier::ReadHistories() {
    for (const auto &[name, path] : history_files_) {
        std::string object = "wal " + name;
        wal_other_++;
        auto text = ReadWholeObject(storage_, path);
        if (!text.ok()) {
            wal_rows_.push_back({object, text.status().kind() == ErrorKind::corrupt
                                             ? text.status().message()
                                             : "could not read: " + text.status().message()});
            continue;
        }
        auto entries = ParseHistory(*text);
        if (!entries.ok()) {
            wal_rows_.push_back({object, "not a timeline history file: " + entries.status().message()});
            continue;
        }
        histories_[WalNameTimeline(name.c_str())] = std::move(*entries);
    }
}

void Verifier::AddPartTasks() {
    for (size_t i = 0; i < entries_.size(); i++) {
        auto manifest = manifests_.find(entries_[i].backup.id);
        if (manifest == manifests_.end()) continue;
        auto directory = Catalog::BackupDirectory(cluster_, entries_[i].backup.id);
        if (!directory.ok()) continue; /* ids from the catalog are valid */
        for (const BackupEntry &entry : manifest->second.entries) {
            for (size_t p = 0; p < entry.parts.size(); p++) {
                const BackupPart &part = entry.parts[p];
                std::string name = PartObjectName(part.object);
                std::string object = fmt::format("backup {}: {} part {} ({})",
                                                 entries_[i].backup.id, entry.path, p, name);
                auto path = directory->Join(name);
                if (!path.ok()) {
                    BackupRow(i, object, path.status().message());
                    continue;
                }
                Task task(Task::Kind::part, *path, object);
                task.part = &part;
                task.backup = i;
                tasks_.push_back(std::move(task));
            }
        }
    }
}

std::vector<PathStep> Verifier::RecoveryPath(uint32_t timeline, uint64_t stop_lsn) const {
    /*
     * Like recovery_target_timeline = latest, the newest timeline that branched off this one
     * (directly or not) after the backup's consistency point; this timeline when none did.
     */
    uint32_t target = timeline;
    for (const auto &[candidate, entries] : histories_)
        for (const HistoryEntry &entry : entries)
            if (entry.timeline == timeline && entry.end_lsn >= stop_lsn && candidate > target)
                target = candidate;
    std::vector<PathStep> path;
    auto history = histories_.find(target);
    uint64_t begin = 0;
    if (history != histories_.end() && target != timeline) {
        for (const HistoryEntry &entry : history->second) {
            path.push_back({entry.timeline, begin / segment_size_});
            begin = entry.end_lsn;
        }
    }
    path.push_back({target, begin / segment_size_});
    return path;
}

const ArchivedCopy *Verifier::Usable(const std::vector<PathStep> &path, uint64_t segno,
                                     std::string *named) const {
    /*
     * The newest timeline of the path begun by then, as PostgreSQL reads it. It would also try
     * an older timeline's copy, but replay refuses the older timeline's pages after its switch
     * point, so only that one copy counts.
     */
    const PathStep *step = StepOf(path, segno);
    *named = WalSegmentName(step->timeline, segno, segment_size_);
    auto copies = archive_.find(segno);
    if (copies == archive_.end()) return nullptr;
    auto copy = copies->second.find(step->timeline);
    if (copy == copies->second.end() || !copy->second.sound) return nullptr;
    return &copy->second;
}

void Verifier::AddWalTasks() {
    /* --set: only the segments at or after the backup's start on the timelines it follows. */
    std::vector<PathStep> path;
    uint64_t first_segno = 0;
    if (!backup_id_.empty()) {
        const BackupMetadata &backup = all_[backup_id_].backup;
        segment_size_ = WalSegmentSizeOf(backup);
        path = RecoveryPath(backup.stop_timeline != 0 ? backup.stop_timeline : backup.timeline,
                            backup.stop_lsn);
        first_segno = backup.start_lsn / segment_size_;
    }
    for (const auto &[name, path_of] : wal_files_) {
        WalFileKind kind = ClassifyWalName(name.c_str());
        if (!backup_id_.empty()) {
            if (kind == WalFileKind::backup) continue;
            uint32_t timeline = WalNameTimeline(name.c_str());
            uint64_t segno = WalSegmentNumber(name, segment_size_);
            if (segno < first_segno || StepOf(path, segno)->timeline != timeline) continue;
        }
        tasks_.emplace_back(Task::Kind::wal, path_of, "wal " + name);
    }
}

/* Sizes and headers of the segments read; the archive index the walks use. */
void Verifier::JudgeWal() {
    /* The segment size: what the headers say (the most common), else the backups' names. */
    std::map<uint64_t, size_t> sizes;
    for (const Task &task : tasks_) {
        if (task.kind != Task::Kind::wal || task.head.size() < kLongHeaderPrefix) continue;
        uint16_t info;
        uint32_t size;
        memcpy(&info, task.head.data() + kInfoOffset, sizeof info);
        memcpy(&size, task.head.data() + kSegSizeOffset, sizeof size);
        if ((info & kLongHeaderFlag) != 0 && ValidSegmentSize(size)) sizes[size]++;
    }
    if (!sizes.empty())
        segment_size_ = std::max_element(sizes.begin(), sizes.end(), [](auto &a, auto &b) {
                            return a.second < b.second;
                        })->first;
    else if (backup_id_.empty() && !entries_.empty())
        segment_size_ = WalSegmentSizeOf(entries_.back().backup);

    for (Task &task : tasks_) {
        if (task.kind != Task::Kind::wal) continue;
        std::string name = task.object.substr(4);
        WalFileKind kind = ClassifyWalName(name.c_str());
        if (kind == WalFileKind::segment || kind == WalFileKind::partial) wal_segments_++;
        else wal_other_++;
        wal_bytes_ += task.stored_size;
        if (task.decoded && (kind == WalFileKind::segment || kind == WalFileKind::partial)) {
            uint64_t expected = segment_size_;
            if (task.head.size() >= kLongHeaderPrefix) {
                uint16_t info;
                uint32_t size;
                uint64_t sysid;
                memcpy(&info, task.head.data() + kInfoOffset, sizeof info);
                memcpy(&size, task.head.data() + kSegSizeOffset, sizeof size);
                memcpy(&sysid, task.head.data() + kSysidOffset, sizeof sysid);
                if ((info & kLongHeaderFlag) == 0)
                    task.problem = "not a WAL segment: its first page has no long page header";
                else if (sysid != system_identifier_)
                    task.problem = fmt::format("comes from system {}, but cluster \"{}\" is "
                                               "registered for system {}",
                                               sysid, cluster_, system_identifier_);
                else if (ValidSegmentSize(size))
                    expected = size;
            }
            if (task.problem.empty() && task.original_size < expected)
                task.problem = fmt::format("truncated: {} of {} bytes", task.original_size, expected);
            else if (task.problem.empty() && task.original_size > expected)
                task.problem = fmt::format("{} bytes, longer than a segment ({} bytes)",
                                           task.original_size, expected);
        }
        if (!task.problem.empty()) wal_rows_.push_back({task.object, task.problem});
        if (kind != WalFileKind::segment && kind != WalFileKind::partial) continue;
        std::string segment = name.substr(0, 24);
        ArchivedCopy &copy =
            archive_[WalSegmentNumber(segment, segment_size_)][WalNameTimeline(name.c_str())];
        bool sound = task.problem.empty();
        /* A sound full segment is preferred to a .partial, as archive-get prefers it. */
        if (copy.name.empty() || (sound && !copy.sound) ||
            (sound == copy.sound && kind == WalFileKind::segment)) {
            copy.name = name;
            copy.sound = sound;
            copy.partial = kind == WalFileKind::partial;
            copy.stored_time = stored_times_[name];
        }
    }
}

bool Verifier::NoteDamaged(const std::vector<PathStep> &path, uint64_t segno,
                           const std::string &note) {
    auto copies = archive_.find(segno);
    if (copies == archive_.end()) return false;
    auto copy = copies->second.find(StepOf(path, segno)->timeline);
    if (copy == copies->second.end()) return false;
    for (VerifyProblem &row : wal_rows_)
        if (row.object == "wal " + copy->second.name) row.problem += "; " + note;
    return true;
}

void Verifier::JudgeBackup(size_t index) {
    const BackupMetadata &backup = entries_[index].backup;
    BackupVerdict &verdict = verdicts_[index];
    if (backup.wal_start.size() != 24 || backup.wal_stop.size() != 24 || backup.stop_lsn == 0) {
        BackupRow(index, fmt::format("backup {}: manifest", backup.id),
                  "records no WAL range: recovery from it cannot be checked");
        return;
    }
    const uint32_t timeline = backup.stop_timeline != 0 ? backup.stop_timeline : backup.timeline;
    std::vector<PathStep> path = RecoveryPath(timeline, backup.stop_lsn);
    const uint64_t first = backup.start_lsn / segment_size_;
    const uint64_t consistent = (backup.stop_lsn - 1) / segment_size_;
    std::string named;
    verdict.wal_checked = true;
    verdict.wal_needed_ok = true;
    const ArchivedCopy *last = nullptr;
    for (uint64_t segno = first; segno <= consistent; segno++) {
        const ArchivedCopy *copy = Usable(path, segno, &named);
        if (copy != nullptr) {
            last = copy;
            continue;
        }
        verdict.wal_needed_ok = false;
        /* A damaged one already has its row; the backup counts it too. */
        if (NoteDamaged(path, segno,
                        fmt::format("backup {} needs it for consistency ({} to {})", backup.id,
                                    backup.wal_start, backup.wal_stop)))
            verdict.problems++;
        else
            BackupRow(index, "wal " + named,
                      fmt::format("missing: backup {} needs it for consistency ({} to {})",
                                  backup.id, backup.wal_start, backup.wal_stop));
    }
    if (!verdict.wal_needed_ok) return;
    /* On from the consistency point, to the first segment recovery could not read. */
    uint64_t newest = archive_.empty() ? 0 : archive_.rbegin()->first;
    uint64_t segno = consistent + 1;
    for (; segno <= newest; segno++) {
        const ArchivedCopy *copy = Usable(path, segno, &named);
        if (copy == nullptr) break;
        last = copy;
    }
    if (last == nullptr) return; /* cannot happen: stop_lsn > start_lsn */
    verdict.reachable_until = last->name;
    verdict.reachable_stored_time = last->stored_time;
    verdict.reachable_timeline = WalNameTimeline(last->name.c_str());
    if (segno > newest) return;
    /* Stopped early: a gap when the path has sound WAL beyond it, else the archive's end. */
    std::string beyond;
    for (auto later = archive_.upper_bound(segno); later != archive_.end(); ++later) {
        std::string ignored;
        const ArchivedCopy *copy = Usable(path, later->first, &ignored);
        if (copy != nullptr) beyond = copy->name;
    }
    if (beyond.empty()) return;
    /* Damaged rather than missing: that row stands, saying what it cuts off. */
    if (NoteDamaged(path, segno,
                    fmt::format("recovery from backup {} stops before it", backup.id)))
        return;
    Gap &gap = gaps_[named];
    gap.after = last->name;
    gap.after_time = last->stored_time;
    gap.last_beyond = beyond;
    gap.backups.push_back(backup.id);
}

Result<VerifyReport> Verifier::Run() {
    auto info = repository_.LoadCluster(cluster_);
    if (!info.ok()) return info.status();
    system_identifier_ = info->system_identifier;
    PG_ARK_RETURN_IF_ERROR(SelectBackups());
    LoadChains();
    PG_ARK_RETURN_IF_ERROR(ListWal());
    ReadHistories();
    AddPartTasks();
    AddWalTasks();
    ReadAll(storage_, tasks_, workers_);

    for (Task &task : tasks_) {
        if (task.kind != Task::Kind::part) continue;
        /* The manifest's size: what there is to read, damaged or not. */
        verdicts_[task.backup].objects++;
        verdicts_[task.backup].bytes += task.part->stored_size;
        if (!task.problem.empty()) BackupRow(task.backup, task.object, task.problem);
    }
    JudgeWal();
    for (size_t i = 0; i < entries_.size(); i++)
        if (manifests_.count(entries_[i].backup.id) &&
            (backup_id_.empty() || entries_[i].backup.id == backup_id_))
            JudgeBackup(i);
    for (const auto &[name, gap] : gaps_) {
        std::string backups;
        for (const std::string &id : gap.backups) backups += (backups.empty() ? "" : ", ") + id;
        wal_rows_.push_back(
            {"wal " + name,
             fmt::format("missing: recovery from backup{} {} stops at the end of {} (archived "
                         "at {}); archived WAL after it, up to {}, cannot be replayed",
                         gap.backups.size() == 1 ? "" : "s", backups, gap.after,
                         StoredAt(gap.after_time), gap.last_beyond)});
    }
    /* A child is only as restorable as its chain: say so when a parent has problems. */
    std::map<std::string, size_t> problems_by_id;
    for (size_t i = 0; i < entries_.size(); i++) problems_by_id[verdicts_[i].id] = verdicts_[i].problems;
    for (size_t i = 0; i < entries_.size(); i++) {
        std::string parent = verdicts_[i].parent;
        std::set<std::string> seen;
        while (!parent.empty() && seen.insert(parent).second) {
            auto found = problems_by_id.find(parent);
            if (found != problems_by_id.end() && found->second > 0) {
                BackupRow(i, fmt::format("backup {}: parent", verdicts_[i].id),
                          fmt::format("builds on backup {}, which has {} (see its rows): a "
                                      "restore of this backup reads it",
                                      parent, Plural(found->second, "problem", "problems")));
                break;
            }
            auto listed = all_.find(parent);
            parent = listed == all_.end() ? "" : listed->second.backup.parent;
        }
    }

    VerifyReport report;
    report.cluster = cluster_;
    report.backup_id = backup_id_;
    for (size_t i = 0; i < entries_.size(); i++)
        for (VerifyProblem &row : backup_rows_[i]) report.problems.push_back(std::move(row));
    std::stable_sort(wal_rows_.begin(), wal_rows_.end(),
                     [](const VerifyProblem &a, const VerifyProblem &b) { return a.object < b.object; });
    for (VerifyProblem &row : wal_rows_) report.problems.push_back(std::move(row));
    report.backups = std::move(verdicts_);
    report.wal.segments = wal_segments_;
    report.wal.other = wal_other_;
    report.wal.bytes = wal_bytes_;
    report.wal.problems = wal_rows_.size();
    report.wal.segment_size = segment_size_;
    return report;
}

}  // namespace

Result<VerifyReport> VerifyRepository(Repository &repository, const std::string &cluster,
                                      const std::string &backup_id, int workers,
                                      bool backup_running) {
    Verifier verifier(repository, cluster, backup_id, std::max(1, workers), backup_running);
    return verifier.Run();
}

std::string VerifySummary(const VerifyReport &report) {
    uint64_t objects = 0, bytes = 0;
    for (const BackupVerdict &verdict : report.backups) {
        objects += verdict.objects;
        bytes += verdict.bytes;
    }
    return fmt::format("verified {} ({}, {}) and {} ({}): {}",
                       Plural(report.backups.size(), "backup", "backups"),
                       Plural(objects, "object", "objects"), FormatBytes(bytes),
                       Plural(report.wal.segments + report.wal.other, "WAL file", "WAL files"),
                       Plural(report.wal.segments, "segment", "segments"),
                       report.problems.empty()
                           ? std::string("no problems")
                           : Plural(report.problems.size(), "problem", "problems"));
}

std::string DescribeVerdict(const BackupVerdict &verdict) {
    std::string state = verdict.ok() ? "ok" : Plural(verdict.problems, "problem", "problems");
    std::string reach;
    if (!verdict.manifest_ok)
        reach = "its WAL was not checked (no readable manifest)";
    else if (!verdict.wal_checked)
        reach = "its WAL was not checked (a parent of the backup verified)";
    else if (!verdict.wal_needed_ok)
        reach = fmt::format("the WAL it needs for consistency ({} to {}) is incomplete: recovery "
                            "from it cannot reach a consistent state",
                            verdict.wal_start, verdict.wal_stop);
    else
        reach = fmt::format("recovery can reach the end of segment {} (archived at {})",
                            verdict.reachable_until, StoredAt(verdict.reachable_stored_time));
    return fmt::format("backup {} ({}): {}, {}, {}; {}", verdict.id, BackupTypeName(verdict.type),
                       state, Plural(verdict.objects, "object", "objects"),
                       FormatBytes(verdict.bytes), reach);
}

}  // namespace pg_ark

/*
 * wal_shipper.cpp
 *     Archiving ahead of the archiver. See wal_shipper.h for what is guaranteed and why.
 */
#include "wal_shipper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "log.h"
#include "unique_fd.h"
#include "wal_name.h"

namespace pg_ark {

namespace {

constexpr auto kScanInterval = std::chrono::milliseconds(250);
constexpr size_t kMaxRemembered = 4096; /* stored_ entries kept; the oldest names go first */
constexpr const char *kReadySuffix = ".ready";

/* Names with a .ready status file, in the order the archiver will ask for them. */
std::vector<std::string> ReadyFiles(const std::string &pgdata) {
    std::vector<std::string> names;
    std::string directory = pgdata + "/pg_wal/archive_status";
    DIR *dir = opendir(directory.c_str());
    if (dir == nullptr) return names;
    while (struct dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        size_t suffix = strlen(kReadySuffix);
        if (name.size() <= suffix || name.compare(name.size() - suffix, suffix, kReadySuffix) != 0)
            continue;
        name.resize(name.size() - suffix);
        if (IsArchivableWalName(name.c_str())) names.push_back(name);
    }
    closedir(dir);
    /* Timeline history files first, as PostgreSQL's archiver asks for them first. */
    std::sort(names.begin(), names.end(), [](const std::string &a, const std::string &b) {
        bool a_history = ClassifyWalName(a.c_str()) == WalFileKind::history;
        bool b_history = ClassifyWalName(b.c_str()) == WalFileKind::history;
        return a_history != b_history ? a_history : a < b;
    });
    return names;
}

}  // namespace

bool WalShipper::FileIdentity::operator==(const FileIdentity &other) const {
    return device == other.device && inode == other.inode && size == other.size &&
           mtime.tv_sec == other.mtime.tv_sec && mtime.tv_nsec == other.mtime.tv_nsec;
}

WalShipper::WalShipper(const Config &config, WalStore *store, Repository *repository)
    : config_(config), store_(store), repository_(repository),
      workers_count_(config.archive_ahead_workers) {}

WalShipper::~WalShipper() { Stop(); }

void WalShipper::Start() {
    if (workers_count_ <= 0 || !threads_.empty()) return;
    threads_.emplace_back([this] { ScanLoop(); });
    for (int i = 0; i < workers_count_; i++) threads_.emplace_back([this] { WorkerLoop(); });
}

void WalShipper::Stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    work_ready_.notify_all();
    scan_wanted_.notify_all();
    shipped_.notify_all();
    for (auto &thread : threads_) thread.join();
    threads_.clear();
}

void WalShipper::Kick() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        kicked_ = true;
    }
    scan_wanted_.notify_one();
}

bool WalShipper::Identify(int fd, FileIdentity *identity) {
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    identity->device = st.st_dev;
    identity->inode = st.st_ino;
    identity->size = st.st_size;
    identity->mtime = st.st_mtim;
    return true;
}

WalShipper::Claim WalShipper::ClaimOrFindStored(const std::string &cluster,
                                                const std::string &wal_name, int fd) {
    if (workers_count_ <= 0) return Claim::unclaimed;
    FileIdentity identity;
    if (!Identify(fd, &identity)) return Claim::unclaimed;
    Key key(cluster, wal_name);
    std::unique_lock<std::mutex> lock(mutex_);
    /* If a worker (or another request) is storing it right now, wait rather than store twice. */
    shipped_.wait(lock, [&] { return stopping_ || in_flight_.count(key) == 0; });
    auto found = stored_.find(key);
    if (found != stored_.end() && found->second == identity) return Claim::already_stored;
    in_flight_.insert(key);
    return Claim::claimed;
}

void WalShipper::ReleaseClaim(const std::string &cluster, const std::string &wal_name, int fd,
                              bool stored) {
    Key key(cluster, wal_name);
    FileIdentity identity;
    bool identified = stored && Identify(fd, &identity);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        in_flight_.erase(key);
        if (identified) Remember(key, identity);
    }
    shipped_.notify_all();
}

void WalShipper::Remember(const Key &key, const FileIdentity &identity) {
    stored_[key] = identity;
    failed_.erase(key);
    if (stored_.size() > kMaxRemembered) stored_.erase(stored_.begin());
}

void WalShipper::ScanLoop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        Scan();
        lock.lock();
        scan_wanted_.wait_for(lock, kScanInterval, [this] { return stopping_ || kicked_; });
        kicked_ = false;
    }
}

void WalShipper::Scan() {
    for (const auto &[name, cluster] : config_.clusters) {
        std::vector<std::string> ready = ReadyFiles(cluster.pgdata);
        if (ready.empty()) continue;
        if (!repository_->LoadCluster(name).ok()) continue; /* not initialized: the archiver will say so */
        std::lock_guard<std::mutex> lock(mutex_);
        for (const std::string &wal_name : ready) {
            Key key(name, wal_name);
            if (in_flight_.count(key) || stored_.count(key) || failed_.count(key)) continue;
            in_flight_.insert(key);
            queue_.push_back(key);
        }
    }
    work_ready_.notify_all();
}

void WalShipper::WorkerLoop() {
    for (;;) {
        Key key;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            key = queue_.front();
            queue_.pop_front();
        }
        Ship(key);
        shipped_.notify_all();
    }
}

void WalShipper::Ship(const Key &key) {
    const auto &[cluster_name, wal_name] = key;
    const ClusterConfig &cluster = config_.clusters.at(cluster_name);
    std::string path = cluster.pgdata + "/pg_wal/" + wal_name;
    bool ok = false;
    FileIdentity identity;
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    auto info = repository_->LoadCluster(cluster_name);
    if (fd.valid() && info.ok() && Identify(fd.get(), &identity)) {
        auto start = std::chrono::steady_clock::now();
        auto outcome = store_->Push(cluster_name, info->system_identifier, wal_name, fd.get(),
                                    cluster.compression);
        if (outcome.ok()) {
            ok = true;
            double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
            Log(LogLevel::info, "archived \"{}\" ahead of the archiver ({} -> {} bytes, {:.1f} ms)",
                wal_name, outcome->original_size, outcome->stored_size, ms);
        } else {
            Log(LogLevel::debug, "could not archive \"{}\" ahead: {}", wal_name,
                outcome.status().message());
        }
    }
    /* A file that vanished was archived and recycled already: nothing to remember. */
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_.erase(key);
    if (ok) {
        Remember(key, identity);
    } else if (fd.valid()) {
        failed_.insert(key); /* not retried here: the archiver's own request reports the error */
        if (failed_.size() > kMaxRemembered) failed_.erase(failed_.begin());
    }
}

}  // namespace pg_ark

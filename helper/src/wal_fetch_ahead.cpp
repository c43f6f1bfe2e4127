/*
 * wal_fetch_ahead.cpp
 *     See wal_fetch_ahead.h.
 */
#include "wal_fetch_ahead.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

#include "log.h"
#include "target_dir.h"
#include "unique_fd.h"
#include "wal_name.h"
#include "wal_reach.h"

namespace pg_ark {

namespace {

std::string DirectoryOf(const std::string &path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseName(const std::string &path) {
    size_t slash = path.rfind('/');
    return path.substr(slash == std::string::npos ? 0 : slash + 1);
}

bool IsRecoveryDestination(const std::string &destination) {
    return BaseName(destination) == kRecoveryDestination;
}

bool IsSegment(const std::string &name) {
    return ClassifyWalName(name.c_str()) == WalFileKind::segment;
}

/* "LLLLLLLLSSSSSSSS" read as one number: orders segments of any size, across timelines. */
uint64_t Position(const std::string &name) { return strtoull(name.substr(8).c_str(), nullptr, 16); }

Status SyncDirectory(const std::string &path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path));
    return FsyncFd(fd.get(), path);
}

/* Removes every file of the spool, then the spool. */
void RemoveSpool(const std::string &spool) {
    DIR *dir = opendir(spool.c_str());
    if (dir == nullptr) return;
    std::vector<std::string> names;
    while (struct dirent *entry = readdir(dir))
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) names.push_back(entry->d_name);
    closedir(dir);
    for (const std::string &name : names) unlink((spool + "/" + name).c_str());
    if (rmdir(spool.c_str()) == 0) Log(LogLevel::info, "removed \"{}\", WAL fetched ahead", spool);
}

/* Removes the spooled segments below wal_name (and leftovers of interrupted writes). */
void Prune(const std::string &spool, const std::string &wal_name) {
    DIR *dir = opendir(spool.c_str());
    if (dir == nullptr) return;
    std::vector<std::string> stale;
    while (struct dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        bool temp = name.size() > 5 && name[0] == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0;
        if (temp || (IsSegment(name) && Position(name) < Position(wal_name))) stale.push_back(name);
    }
    closedir(dir);
    for (const std::string &name : stale)
        if (unlink((spool + "/" + name).c_str()) != 0 && errno != ENOENT)
            Log(LogLevel::debug, "could not remove \"{}/{}\": {}", spool, name, strerror(errno));
}

}  // namespace

std::string FetchAheadDirectory(const std::string &destination) {
    return DirectoryOf(destination) + "/" + kFetchAheadDirectory;
}

Result<bool> TakeFetchedAhead(const std::string &wal_name, const std::string &destination) {
    std::string spool = FetchAheadDirectory(destination);
    WalFileKind kind = ClassifyWalName(wal_name.c_str());
    /* Recovery starts, ends or looks for a new timeline. */
    if (kind == WalFileKind::history && BaseName(destination) == kRecoveryHistoryDestination) RemoveSpool(spool);
    if (kind != WalFileKind::segment || !IsRecoveryDestination(destination)) return false;
    Prune(spool, wal_name);
    std::string spooled = spool + "/" + wal_name;
    if (rename(spooled.c_str(), destination.c_str()) != 0) {
        if (errno != ENOENT)
            Log(LogLevel::warn, "could not move \"{}\" to \"{}\": {}; fetching it from the repository",
                spooled, destination, strerror(errno));
        return false; /* the destination is as it was */
    }
    PG_ARK_RETURN_IF_ERROR(SyncDirectory(DirectoryOf(destination)));
    return true;
}

int FetchAhead(WalStore &store, const std::string &cluster, const std::string &wal_name,
               const std::string &destination, int count, int workers) {
    struct stat fetched;
    if (count <= 0 || !IsSegment(wal_name) || !IsRecoveryDestination(destination) ||
        stat(destination.c_str(), &fetched) != 0)
        return 0;
    uint64_t segment_size = static_cast<uint64_t>(fetched.st_size);
    if (segment_size == 0 || (segment_size & (segment_size - 1)) != 0) return 0; /* not a segment */
    count = static_cast<int>(std::min<uint64_t>(count, std::max<uint64_t>(1, kMaxSpoolBytes / segment_size)));
    std::string spool = FetchAheadDirectory(destination);
    if (mkdir(spool.c_str(), 0700) != 0 && errno != EEXIST) {
        Log(LogLevel::debug, "could not create \"{}\": {}", spool, strerror(errno));
        return 0;
    }

    uint32_t timeline = WalNameTimeline(wal_name.c_str());
    uint64_t first = WalSegmentNumber(wal_name, segment_size) + 1;
    std::vector<std::string> names;
    for (int i = 0; i < count; i++) names.push_back(WalSegmentName(timeline, first + i, segment_size));

    /* Each thread takes the next name; a segment the repository lacks ends the run for all. */
    std::atomic<size_t> next{0};
    std::atomic<size_t> end{names.size()};
    std::atomic<int> spooled{0};
    auto work = [&] {
        for (size_t i = next++; i < end.load(); i = next++) {
            std::string target = spool + "/" + names[i];
            if (access(target.c_str(), F_OK) == 0) continue;
            /* Never a .partial in a segment's place: that one is only served when asked for. */
            Status got = store.Get(cluster, names[i], target, nullptr, WalStore::Partial::never);
            if (got.ok()) {
                spooled++;
                continue;
            }
            if (got.kind() != ErrorKind::not_found)
                Log(LogLevel::debug, "could not fetch \"{}\" ahead: {}", names[i], got.message());
            size_t stop = end.load();
            while (i < stop && !end.compare_exchange_weak(stop, i)) {}
        }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < std::min<int>(std::max(workers, 1), count); t++) {
        try {
            threads.emplace_back(work);
        } catch (const std::system_error &error) { /* no more threads: fewer workers */
            Log(LogLevel::debug, "fetching ahead with {} threads: {}", t, error.what());
            break;
        }
    }
    work();
    for (std::thread &thread : threads) thread.join();
    return spooled.load();
}

}  // namespace pg_ark

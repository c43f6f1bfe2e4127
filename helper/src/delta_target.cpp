/*
 * delta_target.cpp
 *     See delta_target.h.
 */
#include "delta_target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <vector>

#include "log.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

constexpr int kDirectoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct DirCloser {
    void operator()(DIR *dir) const { closedir(dir); }
};

struct Child {
    std::string name;
    struct stat st;
};

/* The entries of an open directory, with lstat-like information. */
Result<std::vector<Child>> ListDirectory(int fd, const std::string &path) {
    /* A new open file description: a dup() would share (and move) fd's directory offset. */
    int copy = openat(fd, ".", kDirectoryFlags);
    if (copy < 0) return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path));
    std::unique_ptr<DIR, DirCloser> dir(fdopendir(copy));
    if (!dir) {
        int saved = errno;
        close(copy);
        return ErrnoStatus(saved, fmt::format("could not open directory \"{}\"", path));
    }
    std::vector<Child> children;
    errno = 0;
    while (struct dirent *entry = readdir(dir.get())) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        Child child{name, {}};
        if (fstatat(fd, name.c_str(), &child.st, AT_SYMLINK_NOFOLLOW) != 0)
            return ErrnoStatus(errno, fmt::format("could not stat \"{}/{}\"", path, name));
        children.push_back(std::move(child));
        errno = 0;
    }
    if (errno != 0) return ErrnoStatus(errno, fmt::format("could not read directory \"{}\"", path));
    return children;
}

/* Removes name (below the directory parent) and, for a directory, all it holds. */
Status RemoveEntry(int parent, const std::string &parent_path, const Child &child,
                   PruneCounts *counts) {
    std::string path = parent_path + "/" + child.name;
    if (S_ISDIR(child.st.st_mode)) {
        UniqueFd fd(openat(parent, child.name.c_str(), kDirectoryFlags));
        if (!fd.valid()) return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path));
        auto children = ListDirectory(fd.get(), path);
        if (!children.ok()) return children.status();
        for (const Child &grandchild : *children)
            PG_ARK_RETURN_IF_ERROR(RemoveEntry(fd.get(), path, grandchild, counts));
        if (unlinkat(parent, child.name.c_str(), AT_REMOVEDIR) != 0)
            return ErrnoStatus(errno, fmt::format("could not remove directory \"{}\"", path));
        return Status::Ok();
    }
    if (unlinkat(parent, child.name.c_str(), 0) != 0)
        return ErrnoStatus(errno, fmt::format("could not remove \"{}\"", path));
    if (counts->report) Log(LogLevel::info, "delta restore: removed \"{}\"", path);
    counts->files++;
    if (S_ISREG(child.st.st_mode)) counts->bytes += static_cast<uint64_t>(child.st.st_size);
    return Status::Ok();
}

bool KindMatches(const Child &child, const Expected &expected, int parent) {
    switch (expected.kind) {
        case EntryKind::directory:
            return S_ISDIR(child.st.st_mode);
        case EntryKind::file:
            return S_ISREG(child.st.st_mode);
        case EntryKind::symlink: {
            if (!S_ISLNK(child.st.st_mode)) return false;
            std::vector<char> buffer(PATH_MAX + 1);
            ssize_t n = readlinkat(parent, child.name.c_str(), buffer.data(), buffer.size());
            return n >= 0 && static_cast<size_t>(n) < buffer.size() &&
                   std::string(buffer.data(), static_cast<size_t>(n)) == expected.link_target;
        }
    }
    return false;
}

class Pruner {
  public:
    Pruner(const TargetDir &root, const std::map<std::string, Expected> &expected,
           bool keep_unknown_top_level, const std::set<std::string> &replace,
           std::set<std::string> *kept)
        : root_(root),
          expected_(expected),
          keep_unknown_top_level_(keep_unknown_top_level),
          replace_(replace),
          kept_(kept) {}

    Status Walk(int fd, const std::string &relative) {
        std::string path = root_.Describe(relative);
        auto children = ListDirectory(fd, path);
        if (!children.ok()) return children.status();
        for (const Child &child : *children) {
            std::string child_relative = relative.empty() ? child.name : relative + "/" + child.name;
            auto found = expected_.find(child_relative);
            if (found == expected_.end()) {
                if (relative.empty() && keep_unknown_top_level_) continue;
                PG_ARK_RETURN_IF_ERROR(RemoveEntry(fd, path, child, &counts_));
                continue;
            }
            if (!KindMatches(child, found->second, fd) || replace_.count(child_relative)) {
                /* Rewritten all the same: not counted or reported as removed. */
                PruneCounts ignored;
                ignored.report = false;
                PG_ARK_RETURN_IF_ERROR(RemoveEntry(fd, path, child, &ignored));
                continue;
            }
            kept_->insert(child_relative);
            if (found->second.kind != EntryKind::directory) continue;
            UniqueFd sub(openat(fd, child.name.c_str(), kDirectoryFlags));
            if (!sub.valid())
                return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"",
                                                      root_.Describe(child_relative)));
            PG_ARK_RETURN_IF_ERROR(Walk(sub.get(), child_relative));
        }
        return Status::Ok();
    }

    const PruneCounts &counts() const { return counts_; }

  private:
    const TargetDir &root_;
    const std::map<std::string, Expected> &expected_;
    bool keep_unknown_top_level_;
    const std::set<std::string> &replace_;
    std::set<std::string> *kept_;
    PruneCounts counts_;
};

}  // namespace

Status CheckNoServerRunning(const std::string &pgdata) {
    std::string pid_file = pgdata + "/postmaster.pid";
    struct stat st;
    if (lstat(pid_file.c_str(), &st) != 0) {
        if (errno == ENOENT) return Status::Ok();
        return ErrnoStatus(errno, fmt::format("could not stat \"{}\"", pid_file));
    }
    std::ifstream in(pid_file);
    if (!in) return Status(ErrorKind::io_error, fmt::format("could not read \"{}\"", pid_file));
    std::string first_line;
    std::getline(in, first_line);
    char *end = nullptr;
    long pid = strtol(first_line.c_str(), &end, 10);
    /* A negative PID is a single-user backend's: running all the same. */
    if (pid < 0) pid = -pid;
    if (end == first_line.c_str() || pid <= 0)
        return Status(ErrorKind::conflict,
                      fmt::format("\"{}\" exists but names no process; if no PostgreSQL server "
                                  "runs in \"{}\", remove it and restore again",
                                  pid_file, pgdata));
    if (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)
        return Status(ErrorKind::conflict,
                      fmt::format("a PostgreSQL server is running in \"{}\" (postmaster.pid names "
                                  "process {}, which is alive): stop it before a delta restore",
                                  pgdata, pid));
    /* Line 7: "<key> <id>" of the server's shared memory. Backends of a postmaster killed with
     * -9 stay attached until they notice; PostgreSQL's own startup makes the same check. */
    std::string line;
    for (int number = 2; number <= 7 && std::getline(in, line); number++) {
        if (number != 7) continue;
        unsigned long key = 0, id = 0;
        struct shmid_ds shm;
        if (sscanf(line.c_str(), "%lu %lu", &key, &id) == 2 &&
            shmctl(static_cast<int>(id), IPC_STAT, &shm) == 0 && shm.shm_nattch > 0)
            return Status(ErrorKind::conflict,
                          fmt::format("processes of a PostgreSQL server are still running in \"{}\" "
                                      "(its shared memory segment {} has {} attached): wait for "
                                      "them to exit before a delta restore",
                                      pgdata, id, shm.shm_nattch));
    }
    return Status::Ok();
}

Status CheckLooksLikeDataDirectory(const std::string &pgdata) {
    struct stat st;
    std::string version = pgdata + "/PG_VERSION";
    if (lstat(version.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return Status::Ok();
    return Status(ErrorKind::invalid_argument,
                  fmt::format("\"{}\" is not empty and holds no PG_VERSION: --delta removes what "
                              "the backup does not have, so it only works on a data directory",
                              pgdata));
}

Result<PruneCounts> PruneTarget(const TargetDir &root, const std::map<std::string, Expected> &expected,
                                bool keep_unknown_top_level, const std::set<std::string> &replace,
                                std::set<std::string> *kept) {
    Pruner pruner(root, expected, keep_unknown_top_level, replace, kept);
    PG_ARK_RETURN_IF_ERROR(pruner.Walk(root.fd(), ""));
    return pruner.counts();
}

}  // namespace pg_ark

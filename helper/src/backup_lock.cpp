/*
 * backup_lock.cpp
 *     The per-cluster backup lock. See backup_lock.h.
 *
 * flock locks belong to an open file description, so two opens conflict even within one
 * process, and the kernel releases the lock when the last descriptor of it closes.
 */
#include "backup_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include "catalog.h"
#include "protocol.h"

namespace pg_ark {

namespace {

/* IsHeld's probe holds a shared lock for an instant: look again before calling it a conflict. */
constexpr int kAttempts = 5;
constexpr useconds_t kRetryDelay = 10 * 1000;

Result<std::string> LockPath(const std::string &repo_path, const std::string &cluster) {
    if (!wire::IsValidClusterName(cluster.c_str()))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("invalid cluster name \"{}\"", cluster));
    return repo_path + "/" + cluster + "/backup.lock";
}

/* flock that retries when a signal interrupts it; false with errno set on failure. */
bool Flock(int fd, int operation) {
    for (;;) {
        if (flock(fd, operation) == 0) return true;
        if (errno != EINTR) return false;
    }
}

/* What an expiry writes instead of a backup id. */
constexpr char kExpiryHolder[] = "expire";

/* The id the holder wrote (or kExpiryHolder); "" when it has not written one yet. */
std::string HolderId(int fd) {
    char buffer[64];
    ssize_t n = pread(fd, buffer, sizeof buffer, 0);
    std::string text(buffer, n > 0 ? static_cast<size_t>(n) : 0);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return IsValidBackupId(text) || text == kExpiryHolder ? text : std::string();
}

Status Busy(const std::string &cluster, const std::string &holder) {
    if (holder == kExpiryHolder)
        return Status(ErrorKind::conflict,
                      fmt::format("expiry of cluster \"{}\" is running; try again when it ends",
                                  cluster));
    return Status(ErrorKind::conflict,
                  fmt::format("a backup of cluster \"{}\" is already running{}", cluster,
                              holder.empty() ? "" : " (backup " + holder + ")"));
}

Status WriteHolderId(int fd, const std::string &path, const std::string &backup_id) {
    std::string text = backup_id + "\n";
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
        return ErrnoStatus(errno, fmt::format("could not write lock file \"{}\"", path));
    return Status::Ok();
}

}  // namespace

Result<BackupLock> BackupLock::Acquire(const std::string &repo_path, const std::string &cluster,
                                       const std::string &backup_id) {
    if (!IsValidBackupId(backup_id))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("invalid backup id \"{}\"", backup_id));
    return AcquireAs(repo_path, cluster, backup_id);
}

Result<BackupLock> BackupLock::AcquireForExpiry(const std::string &repo_path,
                                                const std::string &cluster) {
    return AcquireAs(repo_path, cluster, kExpiryHolder);
}

Result<BackupLock> BackupLock::AcquireAs(const std::string &repo_path, const std::string &cluster,
                                         const std::string &backup_id) {
    auto path = LockPath(repo_path, cluster);
    if (!path.ok()) return path.status();
    /* A posix repository has the directory; lock-path (object storage) may not yet. */
    for (const std::string &directory : {repo_path, repo_path + "/" + cluster})
        if (mkdir(directory.c_str(), 0750) != 0 && errno != EEXIST)
            return ErrnoStatus(errno, fmt::format("could not create lock directory \"{}\"", directory));
    UniqueFd fd(open(path->c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
    if (!fd.valid())
        return ErrnoStatus(errno, fmt::format("could not open lock file \"{}\"", *path));
    for (int attempt = 1; !Flock(fd.get(), LOCK_EX | LOCK_NB); attempt++) {
        if (errno != EWOULDBLOCK)
            return ErrnoStatus(errno, fmt::format("could not lock file \"{}\"", *path));
        if (attempt == kAttempts) return Busy(cluster, HolderId(fd.get()));
        usleep(kRetryDelay);
    }
    PG_ARK_RETURN_IF_ERROR(WriteHolderId(fd.get(), *path, backup_id));
    return BackupLock(std::move(fd));
}

Result<bool> BackupLock::IsHeld(const std::string &repo_path, const std::string &cluster) {
    auto path = LockPath(repo_path, cluster);
    if (!path.ok()) return path.status();
    UniqueFd fd(open(path->c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) return false;
        return ErrnoStatus(errno, fmt::format("could not open lock file \"{}\"", *path));
    }
    if (Flock(fd.get(), LOCK_SH | LOCK_NB)) {
        Flock(fd.get(), LOCK_UN);
        return false;
    }
    if (errno == EWOULDBLOCK) return true;
    return ErrnoStatus(errno, fmt::format("could not probe lock file \"{}\"", *path));
}

}  // namespace pg_ark

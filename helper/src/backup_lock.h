/*
 * backup_lock.h
 *     One backup per cluster at a time: an exclusive flock on <repo>/<cluster>/backup.lock held
 *     for the whole backup. The kernel drops it when the helper dies (even by SIGKILL), so a
 *     killed backup never blocks the next one, and anyone can tell a running backup from an
 *     abandoned one by probing the lock. The file holds the running backup's id.
 *     The lock is local: in a posix repository it lives there; with object storage in lock-path
 *     (Config::LockDirectory()), so one host writes an S3 repository's cluster at a time.
 */
#ifndef PG_ARK_HELPER_BACKUP_LOCK_H
#define PG_ARK_HELPER_BACKUP_LOCK_H

#include <string>

#include "status.h"
#include "unique_fd.h"

namespace pg_ark {

class BackupLock {
  public:
    /*
     * Takes the lock without waiting for a backup: ErrorKind::conflict when one holds it, naming
     * its id. (It does look again for a few milliseconds, as IsHeld's probe holds the lock for
     * an instant.) repo_path: the lock directory; it and <repo_path>/<cluster> are created if missing.
     */
    static Result<BackupLock> Acquire(const std::string &repo_path, const std::string &cluster,
                                      const std::string &backup_id);
    /* The same for expiry (expire.h), which must not run beside a backup either; a backup
     * refused meanwhile is told that expiry holds the lock. */
    static Result<BackupLock> AcquireForExpiry(const std::string &repo_path,
                                               const std::string &cluster);
    /* True when some process holds the lock now. */
    static Result<bool> IsHeld(const std::string &repo_path, const std::string &cluster);

    BackupLock() = default;
    BackupLock(BackupLock &&) = default;
    BackupLock &operator=(BackupLock &&) = default;
    bool held() const { return fd_.valid(); }
    void Release() { fd_.Reset(); }

  private:
    explicit BackupLock(UniqueFd fd) : fd_(std::move(fd)) {}
    /* holder: what the lock file says holds it (a backup id, or "expire"). */
    static Result<BackupLock> AcquireAs(const std::string &repo_path, const std::string &cluster,
                                        const std::string &holder);
    UniqueFd fd_;
};

}  // namespace pg_ark

#endif

/*
 * target_dir.h
 *     Creating directories, files and links below a directory without following any symlink
 *     below it: every component of a relative path is opened with O_NOFOLLOW relative to the
 *     directory above it, and the last one is created or opened with *at() calls on that
 *     directory. So whatever a manifest says or the disk already holds, nothing is created or
 *     written outside the root. The root itself is opened as given: a link there (a data
 *     directory on another disk) is the user's choice.
 *
 * Relative paths are '/'-separated with no empty, "." or ".." component; anything else is
 * refused (ErrorKind::invalid_argument) before touching the disk.
 */
#ifndef PG_ARK_HELPER_TARGET_DIR_H
#define PG_ARK_HELPER_TARGET_DIR_H

#include <sys/types.h>

#include <string>

#include "status.h"
#include "unique_fd.h"

namespace pg_ark {

enum class DirectoryState { absent, empty, not_empty, not_directory };

/* What is at path now (following a link at path itself). */
Result<DirectoryState> ProbeDirectory(const std::string &path);

/* fsync on a directory (or file) descriptor; path is for the message. */
Status FsyncFd(int fd, const std::string &path);

class TargetDir {
  public:
    /* Opens an existing directory. */
    static Result<TargetDir> Open(const std::string &path);
    /* Creates the directory (its parent must exist), fsyncs the parent, and opens it. */
    static Result<TargetDir> Create(const std::string &path, mode_t mode);

    const std::string &path() const { return path_; }
    int fd() const { return fd_.get(); }
    /* The full path of a relative one, for messages. */
    std::string Describe(const std::string &relative) const;

    /* Opens a directory below the root ("" is the root itself). */
    Result<UniqueFd> OpenDirectory(const std::string &relative) const;
    /* mkdirat; the parent must exist. The mode is subject to the umask. */
    Status MakeDirectory(const std::string &relative, mode_t mode) const;
    Status MakeSymlink(const std::string &relative, const std::string &link_target) const;
    /* openat(flags | O_NOFOLLOW | O_CLOEXEC) on the last component. */
    Result<UniqueFd> OpenFile(const std::string &relative, int flags, mode_t mode = 0) const;

  private:
    TargetDir(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    /* The directory holding relative's last component, opened, and that component. */
    Result<UniqueFd> OpenParent(const std::string &relative, std::string *name) const;

    std::string path_;
    UniqueFd fd_;
};

}  // namespace pg_ark

#endif

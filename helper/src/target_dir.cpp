/*
 * target_dir.cpp
 *     Link-proof creation below a directory. See target_dir.h.
 */
#include "target_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace pg_ark {

namespace {

constexpr int kDirectoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

Result<std::vector<std::string>> SplitRelative(const std::string &relative) {
    std::vector<std::string> components;
    size_t start = 0;
    for (;;) {
        size_t slash = relative.find('/', start);
        std::string component =
            relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (component.empty() || component == "." || component == ".." ||
            component.find('\0') != std::string::npos)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("refusing unsafe relative path \"{}\"", relative));
        components.push_back(std::move(component));
        if (slash == std::string::npos) return components;
        start = slash + 1;
    }
}

/* The parent directory of an absolute or relative path ("." for a bare name). */
std::string ParentOf(const std::string &path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Result<DirectoryState> ProbeDirectory(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return DirectoryState::absent;
        return ErrnoStatus(errno, fmt::format("could not stat \"{}\"", path));
    }
    if (!S_ISDIR(st.st_mode)) return DirectoryState::not_directory;
    DIR *dir = opendir(path.c_str());
    if (dir == nullptr)
        return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path));
    DirectoryState state = DirectoryState::empty;
    errno = 0;
    while (struct dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") {
            state = DirectoryState::not_empty;
            break;
        }
    }
    int saved = errno;
    closedir(dir);
    if (saved != 0) return ErrnoStatus(saved, fmt::format("could not read directory \"{}\"", path));
    return state;
}

Status FsyncFd(int fd, const std::string &path) {
    if (fsync(fd) != 0) return ErrnoStatus(errno, fmt::format("could not fsync \"{}\"", path));
    return Status::Ok();
}

Result<TargetDir> TargetDir::Open(const std::string &path) {
    /* O_NOFOLLOW is left out on purpose: see the file comment. */
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid())
        return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path));
    return TargetDir(path, std::move(fd));
}

Result<TargetDir> TargetDir::Create(const std::string &path, mode_t mode) {
    if (mkdir(path.c_str(), mode) != 0)
        return ErrnoStatus(errno, fmt::format("could not create directory \"{}\"", path));
    std::string parent = ParentOf(path);
    UniqueFd parent_fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd.valid())
        return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", parent));
    PG_ARK_RETURN_IF_ERROR(FsyncFd(parent_fd.get(), parent));
    return Open(path);
}

std::string TargetDir::Describe(const std::string &relative) const {
    return relative.empty() ? path_ : path_ + "/" + relative;
}

Result<UniqueFd> TargetDir::OpenDirectory(const std::string &relative) const {
    if (relative.empty()) {
        UniqueFd fd(openat(fd_.get(), ".", kDirectoryFlags));
        if (!fd.valid())
            return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path_));
        return fd;
    }
    std::string name;
    auto parent = OpenParent(relative, &name);
    if (!parent.ok()) return parent.status();
    UniqueFd fd(openat(parent->get(), name.c_str(), kDirectoryFlags));
    if (!fd.valid())
        return ErrnoStatus(errno,
                           fmt::format("could not open directory \"{}\"", Describe(relative)));
    return fd;
}

Status TargetDir::MakeDirectory(const std::string &relative, mode_t mode) const {
    std::string name;
    auto parent = OpenParent(relative, &name);
    if (!parent.ok()) return parent.status();
    if (mkdirat(parent->get(), name.c_str(), mode) != 0)
        return ErrnoStatus(errno,
                           fmt::format("could not create directory \"{}\"", Describe(relative)));
    return Status::Ok();
}

Status TargetDir::MakeSymlink(const std::string &relative, const std::string &link_target) const {
    std::string name;
    auto parent = OpenParent(relative, &name);
    if (!parent.ok()) return parent.status();
    if (symlinkat(link_target.c_str(), parent->get(), name.c_str()) != 0)
        return ErrnoStatus(
            errno, fmt::format("could not create symbolic link \"{}\"", Describe(relative)));
    return Status::Ok();
}

Result<UniqueFd> TargetDir::OpenFile(const std::string &relative, int flags, mode_t mode) const {
    std::string name;
    auto parent = OpenParent(relative, &name);
    if (!parent.ok()) return parent.status();
    UniqueFd fd(openat(parent->get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd.valid())
        return ErrnoStatus(errno, fmt::format("could not open file \"{}\"", Describe(relative)));
    return fd;
}

Result<UniqueFd> TargetDir::OpenParent(const std::string &relative, std::string *name) const {
    auto components = SplitRelative(relative);
    if (!components.ok()) return components.status();
    UniqueFd current(openat(fd_.get(), ".", kDirectoryFlags));
    if (!current.valid())
        return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", path_));
    std::string walked;
    for (size_t i = 0; i + 1 < components->size(); i++) {
        const std::string &component = (*components)[i];
        walked += walked.empty() ? component : "/" + component;
        UniqueFd next(openat(current.get(), component.c_str(), kDirectoryFlags));
        if (!next.valid())
            return ErrnoStatus(errno,
                               fmt::format("could not open directory \"{}\"", Describe(walked)));
        current = std::move(next);
    }
    *name = components->back();
    return current;
}

}  // namespace pg_ark

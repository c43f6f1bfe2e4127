/*
 * posix_storage.cpp
 *     The repository on a local (or mounted) filesystem.
 *
 * Writes go to a hidden temp file (".<name>.<random>.tmp") in the target directory. Close()
 * fsyncs it, renames it into place (renameat2 RENAME_NOREPLACE for create_new, so two writers of
 * one name cannot both win) and fsyncs the directory: only then is the object acknowledged. A
 * stream destroyed without Close() unlinks its temp file. Directories created on the way are
 * fsynced into their parents, so a crash cannot lose a directory holding acknowledged objects.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "storage.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

Status FsyncPath(const std::string &path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, fmt::format("could not open \"{}\" to fsync it", path));
    if (fsync(fd.get()) != 0) return ErrnoStatus(errno, fmt::format("could not fsync \"{}\"", path));
    return Status::Ok();
}

/* mkdir -p below root, fsyncing each parent that gained an entry. */
Status MakeDirectories(const std::string &root, const std::string &relative) {
    std::string path = root;
    size_t start = 0;
    while (start < relative.size()) {
        size_t slash = relative.find('/', start);
        std::string component =
            relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        std::string parent = path;
        path += "/" + component;
        if (mkdir(path.c_str(), 0750) == 0) {
            PG_ARK_RETURN_IF_ERROR(FsyncPath(parent));
        } else if (errno != EEXIST) {
            return ErrnoStatus(errno, fmt::format("could not create directory \"{}\"", path));
        }
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return Status::Ok();
}

/* Unlinks the ".<name>.<random>.tmp" files of writes that never reached Close(). */
Status RemoveTempFiles(const std::string &directory) {
    DIR *dir = opendir(directory.c_str());
    if (dir == nullptr) {
        if (errno == ENOENT) return Status::Ok();
        return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", directory));
    }
    std::vector<std::string> temps;
    while (struct dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name.size() > 5 && name[0] == '.' && name.compare(name.size() - 4, 4, ".tmp") == 0)
            temps.push_back(directory + "/" + name);
    }
    closedir(dir);
    for (const std::string &temp : temps)
        if (unlink(temp.c_str()) != 0 && errno != ENOENT)
            return ErrnoStatus(errno, fmt::format("could not remove file \"{}\"", temp));
    return Status::Ok();
}

std::string RandomSuffix() {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return fmt::format("{:016x}", generator());
}

class PosixReadStream : public ReadStream {
  public:
    PosixReadStream(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
    Result<size_t> Read(void *buffer, size_t size) override {
        for (;;) {
            ssize_t n = read(fd_.get(), buffer, size);
            if (n >= 0) return static_cast<size_t>(n);
            if (errno != EINTR) return ErrnoStatus(errno, fmt::format("could not read file \"{}\"", path_));
        }
    }

  private:
    UniqueFd fd_;
    std::string path_;
};

class PosixWriteStream : public WriteStream {
  public:
    PosixWriteStream(UniqueFd fd, std::string directory, std::string temp_path,
                     std::string final_path, WriteMode mode)
        : fd_(std::move(fd)), directory_(std::move(directory)), temp_path_(std::move(temp_path)),
          final_path_(std::move(final_path)), mode_(mode) {}

    ~PosixWriteStream() override {
        if (!committed_) {
            fd_.Reset();
            unlink(temp_path_.c_str());
        }
    }

    Status Write(const void *data, size_t size) override {
        const char *p = static_cast<const char *>(data);
        while (size > 0) {
            ssize_t n = write(fd_.get(), p, size);
            if (n < 0) {
                if (errno == EINTR) continue;
                return ErrnoStatus(errno, fmt::format("could not write file \"{}\"", temp_path_));
            }
            p += n;
            size -= static_cast<size_t>(n);
        }
        return Status::Ok();
    }

    Status Close() override {
        if (fsync(fd_.get()) != 0)
            return ErrnoStatus(errno, fmt::format("could not fsync file \"{}\"", temp_path_));
        if (close(fd_.Release()) != 0)
            return ErrnoStatus(errno, fmt::format("could not close file \"{}\"", temp_path_));
        unsigned int flags = mode_ == WriteMode::create_new ? RENAME_NOREPLACE : 0;
        if (renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, final_path_.c_str(), flags) != 0) {
            if (errno == EEXIST)
                return Status(ErrorKind::conflict, fmt::format("file \"{}\" already exists", final_path_));
            return ErrnoStatus(errno, fmt::format("could not rename \"{}\" to \"{}\"", temp_path_,
                                                  final_path_));
        }
        committed_ = true;
        return FsyncPath(directory_);
    }

  private:
    UniqueFd fd_;
    std::string directory_;
    std::string temp_path_;
    std::string final_path_;
    WriteMode mode_;
    bool committed_ = false;
};

class PosixStorage : public Storage {
  public:
    explicit PosixStorage(std::string root) : root_(std::move(root)) {}

    Result<std::unique_ptr<ReadStream>> OpenRead(const RepoPath &path) override {
        std::string full = Full(path);
        UniqueFd fd(open(full.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) return ErrnoStatus(errno, fmt::format("could not open file \"{}\"", full));
        return std::unique_ptr<ReadStream>(new PosixReadStream(std::move(fd), full));
    }

    Result<std::unique_ptr<WriteStream>> OpenWrite(const RepoPath &path, WriteMode mode) override {
        std::string parent = path.Parent();
        if (!parent.empty()) PG_ARK_RETURN_IF_ERROR(MakeDirectories(root_, parent));
        std::string directory = parent.empty() ? root_ : root_ + "/" + parent;
        std::string temp = fmt::format("{}/.{}.{}.tmp", directory, path.Name(), RandomSuffix());
        UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
        if (!fd.valid()) return ErrnoStatus(errno, fmt::format("could not create file \"{}\"", temp));
        return std::unique_ptr<WriteStream>(
            new PosixWriteStream(std::move(fd), directory, temp, Full(path), mode));
    }

    Result<ObjectInfo> Info(const RepoPath &path) override {
        struct stat st;
        ObjectInfo info;
        std::string full = Full(path);
        if (stat(full.c_str(), &st) != 0) {
            if (errno == ENOENT) return info;
            return ErrnoStatus(errno, fmt::format("could not stat file \"{}\"", full));
        }
        info.exists = true;
        info.size = static_cast<uint64_t>(st.st_size);
        return info;
    }

    Result<std::vector<std::string>> List(const RepoPath &directory) override {
        std::vector<std::string> names;
        std::string full = Full(directory);
        DIR *dir = opendir(full.c_str());
        if (dir == nullptr) {
            if (errno == ENOENT) return names;
            return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", full));
        }
        errno = 0;
        while (struct dirent *entry = readdir(dir)) {
            if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
        }
        int saved = errno;
        closedir(dir);
        if (saved != 0) return ErrnoStatus(saved, fmt::format("could not read directory \"{}\"", full));
        std::sort(names.begin(), names.end());
        return names;
    }

    Result<std::optional<uint64_t>> FreeBytes() override {
        struct statvfs st;
        if (statvfs(root_.c_str(), &st) != 0)
            return ErrnoStatus(errno, fmt::format("could not read the free space of \"{}\"", root_));
        return std::optional<uint64_t>(static_cast<uint64_t>(st.f_bavail) * st.f_frsize);
    }

    Result<std::vector<ListedObject>> ListObjects(const RepoPath &directory) override {
        std::vector<ListedObject> objects;
        std::string full = Full(directory);
        DIR *dir = opendir(full.c_str());
        if (dir == nullptr) {
            if (errno == ENOENT) return objects;
            return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", full));
        }
        Status failed;
        int saved = 0;
        for (;;) {
            errno = 0;
            struct dirent *entry = readdir(dir);
            if (entry == nullptr) {
                saved = errno;
                break;
            }
            if (entry->d_name[0] == '.') continue;
            struct stat st;
            if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) continue; /* removed since readdir */
                failed = ErrnoStatus(errno, fmt::format("could not stat file \"{}/{}\"", full,
                                                        entry->d_name));
                break;
            }
            if (!S_ISREG(st.st_mode)) continue; /* a sub-prefix, not an object */
            ListedObject object;
            object.name = entry->d_name;
            object.size = static_cast<uint64_t>(st.st_size);
            object.stored_time = static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
            objects.push_back(std::move(object));
        }
        closedir(dir);
        PG_ARK_RETURN_IF_ERROR(failed);
        if (saved != 0)
            return ErrnoStatus(saved, fmt::format("could not read directory \"{}\"", full));
        std::sort(objects.begin(), objects.end(),
                  [](const ListedObject &a, const ListedObject &b) { return a.name < b.name; });
        return objects;
    }

    Status Remove(const RepoPath &path) override {
        std::string full = Full(path);
        if (unlink(full.c_str()) != 0 && errno != ENOENT)
            return ErrnoStatus(errno, fmt::format("could not remove file \"{}\"", full));
        std::string parent = path.Parent();
        return FsyncPath(parent.empty() ? root_ : root_ + "/" + parent);
    }

    Status RemoveDirectory(const RepoPath &directory) override {
        std::string full = Full(directory);
        PG_ARK_RETURN_IF_ERROR(RemoveTempFiles(full));
        if (rmdir(full.c_str()) != 0 && errno != ENOENT)
            return ErrnoStatus(errno, fmt::format("could not remove directory \"{}\"", full));
        std::string parent = directory.Parent();
        return FsyncPath(parent.empty() ? root_ : root_ + "/" + parent);
    }

    std::string Describe() const override { return root_; }

  private:
    std::string Full(const RepoPath &path) const { return root_ + "/" + path.str(); }
    std::string root_;
};

}  // namespace

std::unique_ptr<Storage> MakePosixStorage(const std::string &root) {
    return std::make_unique<PosixStorage>(root);
}

Result<size_t> MemoryReadStream::Read(void *buffer, size_t size) {
    size_t n = std::min(size, data_.size() - position_);
    memcpy(buffer, data_.data() + position_, n);
    position_ += n;
    return n;
}

Result<std::string> ReadAll(Storage &storage, const RepoPath &path) {
    auto stream = storage.OpenRead(path);
    if (!stream.ok()) return stream.status();
    std::string data;
    char buffer[65536];
    for (;;) {
        Result<size_t> got = (*stream)->Read(buffer, sizeof buffer);
        if (!got.ok()) return got.status();
        if (*got == 0) return data;
        data.append(buffer, *got);
    }
}

Status WriteAll(Storage &storage, const RepoPath &path, const std::string &data, WriteMode mode) {
    auto stream = storage.OpenWrite(path, mode);
    if (!stream.ok()) return stream.status();
    PG_ARK_RETURN_IF_ERROR((*stream)->Write(data.data(), data.size()));
    return (*stream)->Close();
}

}  // namespace pg_ark

/*
 * test_util.h
 *     Small helpers shared by the unit tests: unique temporary directories that clean up after
 *     themselves, whole-file reads and writes, directory listings that include hidden names, and
 *     a fake WAL segment with a PostgreSQL 15 long page header.
 */
#ifndef PG_ARK_TESTS_UNIT_TEST_UTIL_H
#define PG_ARK_TESTS_UNIT_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace pg_ark_test {

/* A fresh directory under /tmp (mkdtemp), removed recursively on destruction. */
class TempDir {
  public:
    explicit TempDir(const char *tag = "pg_ark_unit") {
        std::string pattern = std::string("/tmp/") + tag + "_XXXXXX";
        std::vector<char> buffer(pattern.begin(), pattern.end());
        buffer.push_back('\0');
        if (mkdtemp(buffer.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = buffer.data();
    }
    ~TempDir() { RemoveTree(path_); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    std::string Sub(const std::string &relative) const { return path_ + "/" + relative; }

    static void RemoveTree(const std::string &path) {
        /* Make everything writable first, in case a test chmod-ed something read-only. */
        nftw(
            path.c_str(),
            [](const char *p, const struct stat *st, int type, struct FTW *) {
                if (type == FTW_D || type == FTW_DNR) chmod(p, 0700);
                (void)st;
                return 0;
            },
            16, FTW_PHYS);
        nftw(
            path.c_str(),
            [](const char *p, const struct stat *, int, struct FTW *) {
                ::remove(p);
                return 0;
            },
            16, FTW_DEPTH | FTW_PHYS);
    }

  private:
    std::string path_;
};

/* A sink (blockmap::Encoder's) appending to the std::string behind context. */
inline bool AppendToString(void *context, const void *data, size_t length) {
    static_cast<std::string *>(context)->append(static_cast<const char *>(data), length);
    return true;
}

inline bool PathExists(const std::string &path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

inline std::string ReadFileBytes(const std::string &path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + strerror(errno));
    std::string data;
    char buffer[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0) {
            close(fd);
            throw std::runtime_error("read " + path);
        }
        if (n == 0) break;
        data.append(buffer, static_cast<size_t>(n));
    }
    close(fd);
    return data;
}

inline void WriteFileBytes(const std::string &path, const std::string &data, mode_t mode = 0600) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + strerror(errno));
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n <= 0) {
            close(fd);
            throw std::runtime_error("write " + path);
        }
        done += static_cast<size_t>(n);
    }
    close(fd);
}

/* Every entry in a directory except "." and "..", hidden names included, sorted. */
inline std::vector<std::string> ListAllEntries(const std::string &directory) {
    std::vector<std::string> names;
    DIR *dir = opendir(directory.c_str());
    if (dir == nullptr) return names;
    while (struct dirent *entry = readdir(dir)) {
        std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        names.push_back(name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

/* Every regular file below a directory (relative paths), hidden names included, sorted. */
inline std::vector<std::string> ListAllFilesRecursive(const std::string &directory,
                                                      const std::string &prefix = "") {
    std::vector<std::string> out;
    for (const std::string &name : ListAllEntries(directory)) {
        std::string full = directory + "/" + name;
        struct stat st;
        if (lstat(full.c_str(), &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            for (const std::string &sub : ListAllFilesRecursive(full, prefix + name + "/"))
                out.push_back(sub);
        } else {
            out.push_back(prefix + name);
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

inline std::string RandomBytes(size_t size, uint32_t seed) {
    std::mt19937_64 rng(seed);
    std::string data(size, '\0');
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t v = rng();
        memcpy(&data[i], &v, 8);
    }
    for (; i < size; i++) data[i] = static_cast<char>(rng());
    return data;
}

inline void PutLe16(std::string *data, size_t offset, uint16_t value) {
    for (int i = 0; i < 2; i++) (*data)[offset + i] = static_cast<char>(value >> (8 * i));
}
inline void PutLe32(std::string *data, size_t offset, uint32_t value) {
    for (int i = 0; i < 4; i++) (*data)[offset + i] = static_cast<char>(value >> (8 * i));
}
inline void PutLe64(std::string *data, size_t offset, uint64_t value) {
    for (int i = 0; i < 8; i++) (*data)[offset + i] = static_cast<char>(value >> (8 * i));
}

constexpr size_t kSegmentSize = 16 * 1024 * 1024;
constexpr uint16_t kXlogPageMagic = 0xD110; /* PostgreSQL 15 */

/*
 * Writes PostgreSQL 15's XLogLongPageHeaderData at the start of a segment image:
 * xlp_magic (0..1), xlp_info (2..3, XLP_LONG_HEADER), xlp_tli (4..7), xlp_pageaddr (8..15),
 * xlp_rem_len (16..19), padding, xlp_sysid (24..31), xlp_seg_size (32..35),
 * xlp_xlog_blcksz (36..39).
 */
inline void WriteLongPageHeader(std::string *data, uint64_t system_identifier) {
    PutLe16(data, 0, kXlogPageMagic);
    PutLe16(data, 2, 0x0002);
    PutLe32(data, 4, 1);
    PutLe64(data, 8, 0x03000000);
    PutLe32(data, 16, 0);
    PutLe32(data, 20, 0);
    PutLe64(data, 24, system_identifier);
    PutLe32(data, 32, static_cast<uint32_t>(data->size()));
    PutLe32(data, 36, 8192);
}

/*
 * A fake 16 MiB WAL segment: mostly compressible text with some random blocks, distinct per
 * seed, starting with a long page header carrying system_identifier.
 */
inline std::string MakeFakeSegment(uint64_t system_identifier, uint32_t seed,
                                   size_t size = kSegmentSize) {
    std::string data(size, '\0');
    std::mt19937 rng(seed);
    for (size_t offset = 0; offset < size; offset += 8192) {
        size_t n = std::min<size_t>(8192, size - offset);
        if (rng() % 4 == 0) {
            std::string random = RandomBytes(n, rng());
            memcpy(&data[offset], random.data(), n);
        } else {
            std::string text =
                "record " + std::to_string(seed) + " at " + std::to_string(offset) + ";";
            for (size_t i = 0; i < n; i++) data[offset + i] = text[i % text.size()];
        }
    }
    WriteLongPageHeader(&data, system_identifier);
    return data;
}

/* Owns an fd opened read-only on a file. */
struct ReadFd {
    explicit ReadFd(const std::string &path) : fd(open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
    ~ReadFd() {
        if (fd >= 0) close(fd);
    }
    ReadFd(const ReadFd &) = delete;
    ReadFd &operator=(const ReadFd &) = delete;
    int fd;
};

}  // namespace pg_ark_test

#endif

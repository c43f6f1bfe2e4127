/*
 * backup_scan.cpp
 *     ScanDataDirectory: the list of what a base backup of a data directory holds (the rules are
 *     in backup_copy.h).
 *
 * The walk uses lstat and never follows a symbolic link, except a tablespace link directly
 * under pg_tblspc (into its version directory only) and pg_wal (recorded as an empty directory,
 * never entered). A name that vanishes between readdir and lstat, or a directory before it can
 * be opened, is skipped: the server removed it, and WAL replay from the backup's start accounts
 * for that.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "backup_copy.h"
#include "log.h"
#include "pg_layout.h"
#include "relation_file.h"

namespace pg_ark {

namespace {

/* Directories whose contents the server removes or rebuilds at startup: kept, but empty. */
constexpr const char *kExcludedDirectoryContents[] = {
    "pg_stat_tmp", "pg_replslot",  "pg_dynshmem", "pg_notify",
    "pg_serial",   "pg_snapshots", "pg_subtrans",
};

struct ExcludedFile {
    const char *name;
    bool prefix; /* pg_internal.init also has temporary variants with a suffix */
};
constexpr ExcludedFile kExcludedFiles[] = {
    {"postgresql.auto.conf.tmp", false}, {"current_logfiles.tmp", false},
    {"pg_internal.init", true},          {"backup_label", false},
    {"tablespace_map", false},           {"backup_manifest", false},
    {"postmaster.pid", false},           {"postmaster.opts", false},
};

constexpr const char kTemporaryFilePrefix[] = "pgsql_tmp";

/* The server's pg_dir_create_mode, for a link recorded as a directory whose target is gone. */
constexpr uint32_t kDefaultDirectoryMode = 0700;

bool StartsWith(const std::string &text, const char *prefix) {
    return text.compare(0, strlen(prefix), prefix) == 0;
}

bool IsExcludedFile(const std::string &name) {
    for (const ExcludedFile &excluded : kExcludedFiles)
        if (excluded.prefix ? StartsWith(name, excluded.name) : name == excluded.name) return true;
    return false;
}

bool IsExcludedDirectory(const std::string &name) {
    for (const char *excluded : kExcludedDirectoryContents)
        if (name == excluded) return true;
    return false;
}

bool AllDigits(const std::string &text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string LastComponent(const std::string &path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ParentOf(const std::string &path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

/*
 * A database directory: base/<digits>, or <digits> inside a tablespace version directory.
 * Only there are unlogged and temporary relations recognised, as in the server.
 */
bool IsDatabaseDirectory(const std::string &relative) {
    if (!AllDigits(LastComponent(relative))) return false;
    std::string parent = ParentOf(relative);
    return parent == "base" || LastComponent(parent) == PgArkTablespaceVersionDirectory;
}

struct FileId {
    dev_t device;
    ino_t inode;
    bool operator==(const FileId &other) const {
        return device == other.device && inode == other.inode;
    }
};

SourceEntry MakeEntry(const std::string &relative, EntryKind kind, const struct stat &st) {
    SourceEntry entry;
    entry.path = relative;
    entry.kind = kind;
    entry.mode = static_cast<uint32_t>(st.st_mode & 07777);
    entry.mtime = static_cast<int64_t>(st.st_mtime);
    return entry;
}

class Scanner {
  public:
    Scanner(const std::string &pgdata, uint32_t segment_blocks)
        : pgdata_(pgdata), segment_blocks_(segment_blocks) {}

    Result<std::vector<SourceEntry>> Run() {
        if (segment_blocks_ == 0)
            return Status(ErrorKind::invalid_argument, "segment_blocks must be positive");
        PG_ARK_RETURN_IF_ERROR(FindTablespaceLocations());
        UniqueDir root;
        /* The data directory itself may well be a link (/var/lib/postgresql/15/main). */
        PG_ARK_RETURN_IF_ERROR(Open(pgdata_ + "/.", &root));
        if (root.dir == nullptr)
            return Status(ErrorKind::not_found,
                          fmt::format("data directory \"{}\" does not exist", pgdata_));
        PG_ARK_RETURN_IF_ERROR(List(root, ""));
        std::sort(entries_.begin(), entries_.end(),
                  [](const SourceEntry &a, const SourceEntry &b) { return a.path < b.path; });
        return std::move(entries_);
    }

  private:
    struct UniqueDir {
        DIR *dir = nullptr;
        ~UniqueDir() {
            if (dir != nullptr) closedir(dir);
        }
    };

    std::string Full(const std::string &relative) const {
        return relative.empty() ? pgdata_ : pgdata_ + "/" + relative;
    }

    /* Opens a directory without following a final symlink; leaves out->dir null on ENOENT. */
    Status Open(const std::string &full, UniqueDir *out) {
        int fd = open(full.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) return Status::Ok();
            return ErrnoStatus(errno, fmt::format("could not open directory \"{}\"", full));
        }
        out->dir = fdopendir(fd);
        if (out->dir == nullptr) {
            int saved = errno;
            close(fd);
            return ErrnoStatus(saved, fmt::format("could not open directory \"{}\"", full));
        }
        return Status::Ok();
    }

    /*
     * A tablespace created inside the data directory (the server warns against it) is reached
     * through its link; its directory is not walked a second time, as in the server.
     */
    Status FindTablespaceLocations() {
        UniqueDir links;
        PG_ARK_RETURN_IF_ERROR(Open(Full("pg_tblspc"), &links));
        if (links.dir == nullptr) return Status::Ok();
        std::vector<std::string> names;
        PG_ARK_RETURN_IF_ERROR(ReadNames(links, "pg_tblspc", &names));
        for (const std::string &name : names) {
            struct stat st;
            if (stat(Full("pg_tblspc/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
                tablespace_locations_.push_back(FileId{st.st_dev, st.st_ino});
        }
        return Status::Ok();
    }

    Status ReadNames(UniqueDir &dir, const std::string &relative, std::vector<std::string> *names) {
        errno = 0;
        while (struct dirent *entry = readdir(dir.dir)) {
            std::string name = entry->d_name;
            if (name != "." && name != "..") names->push_back(std::move(name));
            errno = 0;
        }
        if (errno != 0)
            return ErrnoStatus(errno,
                               fmt::format("could not read directory \"{}\"", Full(relative)));
        return Status::Ok();
    }

    /* Opens a directory found by lstat and, unless it vanished, records it and its contents. */
    Status Walk(const std::string &relative, const struct stat &st) {
        UniqueDir dir;
        PG_ARK_RETURN_IF_ERROR(Open(Full(relative), &dir));
        if (dir.dir == nullptr) return Status::Ok();
        entries_.push_back(MakeEntry(relative, EntryKind::directory, st));
        return List(dir, relative);
    }

    Status List(UniqueDir &dir, const std::string &relative) {
        std::vector<std::string> names;
        PG_ARK_RETURN_IF_ERROR(ReadNames(dir, relative, &names));
        bool database_directory = IsDatabaseDirectory(relative);
        bool relation_directory = database_directory || relative == "global";
        std::unordered_set<std::string> name_set;
        if (database_directory) name_set.insert(names.begin(), names.end());

        for (const std::string &name : names) {
            if (StartsWith(name, kTemporaryFilePrefix) || IsExcludedFile(name)) continue;
            RelationFileName relation;
            bool is_relation = relation_directory && ParseRelationFileName(name, &relation);
            if (database_directory) {
                /* An unlogged relation is reset from its init fork: only that fork is kept. */
                if (is_relation && relation.fork != RelationFork::init &&
                    name_set.count(name.substr(0, relation.relfilenode_length) + "_init") != 0)
                    continue;
                if (IsTemporaryRelationFileName(name)) continue;
            }
            std::string child = relative.empty() ? name : relative + "/" + name;
            PG_ARK_RETURN_IF_ERROR(Visit(child, name, is_relation ? &relation : nullptr));
        }
        return Status::Ok();
    }

    Status Visit(const std::string &relative, const std::string &name,
                 const RelationFileName *relation) {
        std::string full = Full(relative);
        struct stat st;
        if (lstat(full.c_str(), &st) != 0) {
            if (errno == ENOENT) return Status::Ok();
            return ErrnoStatus(errno, fmt::format("could not stat file or directory \"{}\"", full));
        }
        bool directory_or_link = S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode);
        if (directory_or_link && (IsExcludedDirectory(name) || relative == "pg_wal")) {
            SourceEntry directory = LinkAsDirectory(relative, st);
            if (relative == "pg_wal") {
                /* The server expects archive_status; like pg_basebackup, give it pg_wal's mode. */
                SourceEntry archive_status = directory;
                archive_status.path = "pg_wal/archive_status";
                entries_.push_back(std::move(archive_status));
            }
            entries_.push_back(std::move(directory));
            return Status::Ok();
        }
        if (S_ISLNK(st.st_mode)) return AddLink(relative, st, ParentOf(relative) == "pg_tblspc");
        if (S_ISDIR(st.st_mode)) {
            if (std::find(tablespace_locations_.begin(), tablespace_locations_.end(),
                          FileId{st.st_dev, st.st_ino}) != tablespace_locations_.end()) {
                entries_.push_back(MakeEntry(relative, EntryKind::directory, st));
                return Status::Ok();
            }
            return Walk(relative, st);
        }
        if (S_ISREG(st.st_mode)) {
            SourceEntry entry = MakeEntry(relative, EntryKind::file, st);
            entry.size = static_cast<uint64_t>(st.st_size);
            /* A segment number no real relation reaches is left unchecked, not misnumbered. */
            if (relation != nullptr && relation->segment <= UINT32_MAX / segment_blocks_) {
                entry.relation = true;
                entry.first_block = static_cast<uint32_t>(relation->segment * segment_blocks_);
            }
            entries_.push_back(std::move(entry));
            return Status::Ok();
        }
        Log(LogLevel::warn, "skipping special file \"{}\"", full);
        return Status::Ok();
    }

    /* A directory, or a link the backup records as one, taking the mode of what it points to. */
    SourceEntry LinkAsDirectory(const std::string &relative, const struct stat &st) {
        SourceEntry entry = MakeEntry(relative, EntryKind::directory, st);
        struct stat target;
        if (S_ISLNK(st.st_mode))
            entry.mode = stat(Full(relative).c_str(), &target) == 0
                             ? static_cast<uint32_t>(target.st_mode & 07777)
                             : kDefaultDirectoryMode;
        return entry;
    }

    /* Records a link; a tablespace link is followed into this server's version directory. */
    Status AddLink(const std::string &relative, const struct stat &st, bool tablespace) {
        std::string full = Full(relative);
        std::vector<char> target(PATH_MAX);
        ssize_t length = readlink(full.c_str(), target.data(), target.size());
        if (length < 0) {
            if (errno == ENOENT) return Status::Ok();
            return ErrnoStatus(errno, fmt::format("could not read symbolic link \"{}\"", full));
        }
        if (static_cast<size_t>(length) >= target.size())
            return Status(ErrorKind::invalid_argument,
                          fmt::format("symbolic link \"{}\" target is too long", full));
        SourceEntry entry = MakeEntry(relative, EntryKind::symlink, st);
        entry.link_target.assign(target.data(), static_cast<size_t>(length));
        entries_.push_back(std::move(entry));
        if (!tablespace) return Status::Ok();

        /* Reached through the link: the one kind of link the scan follows. */
        std::string version = relative + "/" + PgArkTablespaceVersionDirectory;
        struct stat version_st;
        if (lstat(Full(version).c_str(), &version_st) != 0) {
            if (errno == ENOENT) return Status::Ok();
            return ErrnoStatus(errno,
                               fmt::format("could not stat directory \"{}\"", Full(version)));
        }
        if (!S_ISDIR(version_st.st_mode)) return Status::Ok();
        return Walk(version, version_st);
    }

    std::string pgdata_;
    uint32_t segment_blocks_;
    std::vector<FileId> tablespace_locations_;
    std::vector<SourceEntry> entries_;
};

}  // namespace

Result<std::vector<SourceEntry>> ScanDataDirectory(const std::string &pgdata,
                                                   uint32_t segment_blocks) {
    return Scanner(pgdata, segment_blocks).Run();
}

}  // namespace pg_ark

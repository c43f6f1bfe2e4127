/*
 * backup_builder.h
 *     Backups built by hand in a test repository, the way the backup engine writes them: parts
 *     through ObjectEncoder, backup.info and the manifest through the catalog. Shared by the
 *     restore, delta restore and verify tests.
 */
#ifndef PG_ARK_TESTS_UNIT_BACKUP_BUILDER_H
#define PG_ARK_TESTS_UNIT_BACKUP_BUILDER_H

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>

#include "catalog.h"
#include "manifest.h"
#include "repository.h"
#include "stored_object.h"

namespace pg_ark {
namespace test_backup {

constexpr uint64_t kSysid = 7301234567890123456ull;
constexpr const char *kCluster = "main";
constexpr uint64_t kPartSize = 100000;

/* What a file of the backup held, to compare with what the restore wrote. */
struct SourceFile {
    std::string content;
    uint32_t mode;
    int64_t mtime;
};

/* Builds one backup in a repository, the way the backup engine will. */
class BackupBuilder {
  public:
    BackupBuilder(Repository *repository, int64_t start_time, uint64_t system_identifier = kSysid,
                  BackupType type = BackupType::full, const std::string &parent = "")
        : repository_(repository) {
        manifest_.backup.id = MakeBackupId(start_time, type);
        manifest_.backup.type = type;
        manifest_.backup.parent = parent;
        manifest_.backup.label = "test";
        manifest_.backup.cluster = kCluster;
        manifest_.backup.system_identifier = system_identifier;
        manifest_.backup.pg_version = "15";
        manifest_.backup.start_lsn = 0x3000028;
        manifest_.backup.stop_lsn = 0x3000100;
        manifest_.backup.timeline = 1;
        manifest_.backup.stop_timeline = 1;
        manifest_.backup.start_time = start_time;
        manifest_.backup.stop_time = start_time + 5;
        manifest_.backup.wal_start = "000000010000000000000003";
        manifest_.backup.wal_stop = "000000010000000000000003";
        manifest_.backup.data_checksums = true;
        manifest_.backup.compression = Compression{};
        manifest_.backup.part_size = kPartSize;
        manifest_.backup.helper_version = PG_ARK_VERSION;
    }

    const std::string &id() const { return manifest_.backup.id; }
    const std::map<std::string, SourceFile> &files() const { return files_; }

    /* Applied by Commit to the manifest as built (say, to make it look like an older one's). */
    std::function<void(Manifest *)> edit_manifest;

    void Directory(const std::string &path, uint32_t mode = 0700) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::directory;
        entry.mode = mode;
        entry.mtime = 1700000000;
        manifest_.entries.push_back(entry);
    }

    void Link(const std::string &path, const std::string &target) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::symlink;
        entry.mode = 0777;
        entry.mtime = 1700000000;
        entry.link_target = target;
        manifest_.entries.push_back(entry);
    }


    /* Stores content as parts of part_size bytes (none for an empty file). */
    void File(const std::string &path, const std::string &content, uint32_t mode = 0600,
              int64_t mtime = 1700000123) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::file;
        entry.mode = mode;
        entry.mtime = mtime;
        entry.size = content.size();
        uint64_t part_size = manifest_.backup.part_size;
        for (uint64_t offset = 0; offset < content.size(); offset += part_size) {
            uint64_t size = std::min<uint64_t>(part_size, content.size() - offset);
            entry.parts.push_back(StorePart(content.substr(offset, size), offset));
        }
        manifest_.entries.push_back(entry);
        files_[path] = {content, mode, mtime};
    }

    /*
     * A file of an incremental stored as the given blocks of content (its full final content),
     * the stream cut into parts of part_size bytes.
     */
    void BlocksFile(const std::string &path, const std::string &content, BlockRuns blocks) {
        BackupEntry entry;
        entry.path = path;
        entry.kind = EntryKind::file;
        entry.mode = 0600;
        entry.mtime = 1700000123;
        entry.size = content.size();
        entry.stored_as_blocks = true;
        entry.blocks = blocks;
        const uint64_t block = manifest_.backup.block_size;
        std::string stream;
        for (const BlockRun &run : blocks)
            stream += content.substr(run.first * block, run.count * block);
        uint64_t part_size = manifest_.backup.part_size;
        for (uint64_t offset = 0; offset < stream.size(); offset += part_size) {
            uint64_t size = std::min<uint64_t>(part_size, stream.size() - offset);
            entry.parts.push_back(StorePart(stream.substr(offset, size), offset));
        }
        manifest_.entries.push_back(entry);
        files_[path] = {content, 0600, 1700000123};
    }

    /* A valid object holding data, stored under the next object number. */
    BackupPart StorePart(const std::string &data, uint64_t offset) {
        BackupPart part;
        part.object = next_object_++;
        part.offset = offset;
        part.size = data.size();
        Storage &storage = repository_->storage();
        auto directory = Catalog::BackupDirectory(kCluster, id());
        EXPECT_TRUE(directory.ok());
        auto path = directory->Join(PartObjectName(part.object));
        EXPECT_TRUE(path.ok());
        auto stream = storage.OpenWrite(*path, WriteMode::create_new);
        EXPECT_TRUE(stream.ok()) << stream.status().message();
        ObjectEncoder encoder(manifest_.backup.compression, stream->get());
        EXPECT_TRUE(encoder.Update(data.data(), data.size()).ok());
        EXPECT_TRUE(encoder.Finish().ok());
        EXPECT_TRUE((*stream)->Close().ok());
        part.stored_size = encoder.summary().stored_size;
        part.sha256 = encoder.summary().original_sha256;
        part.stored_sha256 = encoder.summary().stored_sha256;
        part.xxh128 = encoder.summary().original_xxh128;
        part.has_xxh128 = encoder.summary().has_original_xxh128;
        return part;
    }

    /* Writes backup.info and the manifest: the backup is then complete. */
    void Commit() {
        std::sort(manifest_.entries.begin(), manifest_.entries.end(),
                  [](const BackupEntry &a, const BackupEntry &b) { return a.path < b.path; });
        if (edit_manifest) edit_manifest(&manifest_);
        CountTotals(&manifest_);
        BackupMetadata &backup = manifest_.backup;
        Catalog catalog(repository_, kCluster);
        Status info = catalog.WriteBackupInfo(backup);
        ASSERT_TRUE(info.ok()) << info.message();
        Status written = catalog.WriteManifest(manifest_);
        ASSERT_TRUE(written.ok()) << written.message();
    }

    /* The stored object of a file's part, relative to the repository. */
    std::string ObjectPath(const std::string &file, size_t part) const {
        for (const BackupEntry &entry : manifest_.entries) {
            if (entry.path != file) continue;
            return Catalog::BackupDirectory(kCluster, id())->str() + "/" +
                   PartObjectName(entry.parts.at(part).object);
        }
        ADD_FAILURE() << "no file " << file;
        return "";
    }

    /* The same as a path on disk below repo_root. */
    std::string ObjectPath(const std::string &repo_root, const std::string &file,
                           size_t part) const {
        return repo_root + "/" + ObjectPath(file, part);
    }

    /* The backup starts in segment start_segno and is consistent in stop_segno (timeline 1). */
    void SetWalRange(uint64_t start_segno, uint64_t stop_segno, uint64_t segment_size) {
        BackupMetadata &m = manifest_.backup;
        m.start_lsn = start_segno * segment_size + 0x28;
        m.stop_lsn = stop_segno * segment_size + 0x100;
        m.wal_start = fmt::format("{:08X}{:08X}{:08X}", 1, start_segno / 4096, start_segno % 4096);
        m.wal_stop = fmt::format("{:08X}{:08X}{:08X}", 1, stop_segno / 4096, stop_segno % 4096);
    }

    const Manifest &manifest() const { return manifest_; }

  private:
    Repository *repository_;
    Manifest manifest_;
    std::map<std::string, SourceFile> files_;
    uint64_t next_object_ = 1;
};

}  // namespace test_backup
}  // namespace pg_ark

#endif

/*
 * manifest.h
 *     What a backup holds: its metadata and every entry of the data directory it copied.
 *
 * A manifest is JSON (format version kManifestFormatVersion) stored in the stored-object format
 * as <cluster>/backup/<id>/backup.manifest. Its presence is what makes a backup complete. A file's
 * bytes are stored as one or more parts, each one stored object holding [offset, offset + size)
 * of the file, so large files are copied and restored by several workers at once. Each part
 * carries the SHA-256 of its original bytes; that list is the file's checksum. From format 3 on,
 * a part may also carry the XXH3-128 of the same bytes: much cheaper to compute, it is what a
 * delta restore compares a file left in place with; SHA-256 stays what proves a restore right.
 *
 * ParseManifest trusts nothing: every path must be a safe relative path (no "..", no absolute
 * path, no empty or "." component, no NUL or backslash), unique, and inside a directory entry of
 * the manifest that is not a symlink (so a restore never writes through a link); parts must tile
 * the file exactly; sizes must add up. The one kind of link that may have entries beneath it is
 * a tablespace: a symlink directly under pg_tblspc/ whose target is an absolute path without
 * "." or ".." components; restore writes its entries at that (or a remapped) location.
 *
 * Incremental and differential backups may store a relation file as blocks: only the listed
 * block runs, concatenated in order into one stream that the parts tile like a whole file's
 * bytes. The file's other blocks below its size come from the parent chain. Such an entry's
 * size is a multiple of the block size and its runs are normalized and lie below it.
 */
#ifndef PG_ARK_HELPER_MANIFEST_H
#define PG_ARK_HELPER_MANIFEST_H

#include <stdint.h>

#include <string>
#include <vector>

#include "block_ranges.h"
#include "config.h"
#include "sha256.h"
#include "status.h"
#include "xxh128.h"

namespace pg_ark {

/*
 * Version 2 added stored-as-blocks entries ("blocks", "reason") and the metadata's block_files,
 * whole_files and fallback; version 1 manifests are still read (every file whole). Version 3
 * added a part's "xxh128" (optional: versions 1 and 2 have none, and a part without it is
 * compared by SHA-256).
 */
constexpr uint32_t kManifestFormatVersion = 3;

enum class BackupType { full, incremental, differential };
const char *BackupTypeName(BackupType type);
bool ParseBackupType(const std::string &text, BackupType *out);

enum class BackupStatus { running, complete, failed };
const char *BackupStatusName(BackupStatus status);

/* One stored object: bytes [offset, offset + size) of a file. */
struct BackupPart {
    uint64_t object = 0; /* stored as <backup>/data/<object as 8 digits>.ark */
    uint64_t offset = 0;
    uint64_t size = 0; /* original bytes */
    uint64_t stored_size = 0;
    Sha256Digest sha256{};        /* of the original bytes */
    Sha256Digest stored_sha256{}; /* of the stored object (its trailer's checksum) */
    /* XXH3-128 of the original bytes, when the backup recorded it (format 3 on): only for
     * telling whether bytes already in place are these. */
    Xxh128Digest xxh128{};
    bool has_xxh128 = false;
};

enum class EntryKind { directory, file, symlink };
const char *EntryKindName(EntryKind kind);

struct BackupEntry {
    std::string path; /* relative to the data directory, '/'-separated */
    EntryKind kind = EntryKind::file;
    uint32_t mode = 0;   /* permission bits (07777) */
    int64_t mtime = 0;   /* seconds since the epoch */
    uint64_t size = 0;   /* files: bytes copied */
    std::string link_target;          /* symlinks: where it pointed (tablespace location) */
    std::vector<BackupPart> parts;    /* files: ordered by offset, tiling [0, size) */
    std::vector<uint32_t> bad_pages;  /* files: blocks whose page checksum failed, ascending */
    /* files: stored as the blocks in `blocks` only (parts tile count * block_size bytes); the
     * rest comes from the parent chain. false: parts tile the whole file. */
    bool stored_as_blocks = false;
    BlockRuns blocks;
    std::string reason; /* incremental backups: why a relation file was copied whole */

    /* Bytes the parts tile: the file, or the stored blocks. */
    uint64_t StreamSize(uint32_t block_size) const {
        return stored_as_blocks ? CountBlocks(blocks) * block_size : size;
    }
};

/* What the catalog shows for a backup; also the head of its manifest. */
struct BackupMetadata {
    std::string id;
    BackupType type = BackupType::full;
    std::string label;
    std::string parent; /* empty for a full backup */
    std::string cluster;
    uint64_t system_identifier = 0;
    std::string pg_version;
    uint64_t start_lsn = 0;
    uint64_t stop_lsn = 0;
    uint32_t timeline = 0;      /* at the start */
    uint32_t stop_timeline = 0;
    int64_t start_time = 0;     /* seconds since the epoch */
    int64_t stop_time = 0;
    std::string wal_start;      /* first WAL segment needed */
    std::string wal_stop;       /* last WAL segment needed for consistency */
    bool data_checksums = false;
    uint32_t block_size = 8192;
    Compression compression;
    uint64_t part_size = 0;
    uint64_t original_bytes = 0; /* sum of file sizes: the data directory's size */
    uint64_t copied_bytes = 0;   /* sum of part sizes: what this backup read and stored, before
                                  * compression (an incremental's changed blocks) */
    uint64_t stored_bytes = 0;   /* sum of stored part sizes */
    uint64_t file_count = 0;
    uint64_t bad_page_count = 0;
    uint64_t block_files = 0; /* files stored as changed blocks only */
    uint64_t whole_files = 0; /* files stored whole */
    std::string fallback;     /* why block maps could not be used ("" if they could) */
    std::string helper_version;
};

struct Manifest {
    BackupMetadata backup;
    std::vector<BackupEntry> entries; /* sorted by path */
};

/* Sets a backup's totals (sizes, counts) from its entries, as ParseManifest will check them. */
void CountTotals(const std::vector<BackupEntry> &entries, BackupMetadata *totals);
inline void CountTotals(Manifest *manifest) { CountTotals(manifest->entries, &manifest->backup); }

/* True for a path a manifest may name; see the file comment. */
bool IsSafeRelativePath(const std::string &path);

/*
 * Text fields must be UTF-8, all JSON can hold: other bytes are replaced by U+FFFD here, and
 * Catalog::WriteManifest refuses such a manifest rather than store a path it would restore
 * under another name.
 */
std::string SerializeManifest(const Manifest &manifest);
/* ErrorKind::corrupt naming `what` and the offending entry for anything malformed. */
Result<Manifest> ParseManifest(const std::string &json, const std::string &what);

/* The metadata alone as JSON (backup.info, catalog index, `pg_ark info --json`). */
std::string SerializeMetadata(const BackupMetadata &metadata);
Result<BackupMetadata> ParseMetadata(const std::string &json, const std::string &what);

/* Name of a part's stored object inside its backup directory: "data/00000042.ark". */
std::string PartObjectName(uint64_t object);

}  // namespace pg_ark

#endif

/*
 * backup_copy.h
 *     The backup engine's copy phase: scan a data directory (and its tablespaces), skip what a
 *     base backup skips, and store every file as parts in parallel, validating page checksums.
 *
 * What is skipped follows PostgreSQL 15's base backup (src/backend/replication/basebackup.c,
 * sendDir, and the "Backing Up the Data Directory" docs): pg_wal's contents (pg_wal is kept as
 * an empty directory, even when it is a link, with an empty archive_status), postmaster.pid and
 * postmaster.opts, pg_internal.init*, backup_label, tablespace_map and backup_manifest (they
 * describe another backup; ours writes its own), postgresql.auto.conf.tmp, current_logfiles.tmp,
 * the contents of pg_dynshmem, pg_notify, pg_replslot, pg_serial, pg_snapshots, pg_stat_tmp and
 * pg_subtrans (kept as empty directories), temporary files and directories (pgsql_tmp*), and,
 * in a database directory, temporary relations (t<n>_<relfilenode>...) and every fork of an
 * unlogged relation (one with a <relfilenode>_init file) except that init fork. As in the
 * server, the file and directory names are matched at any depth. In a tablespace only the
 * directory of this server (PG_15_<catalog version>) is copied; a tablespace located inside the
 * data directory is not copied twice. One difference: the server skips (with a warning) a link
 * that is not a tablespace; the scan records it as a link, never following it.
 *
 * Files that change during the copy are handled as a base backup handles them: one that vanishes
 * is left out, one that grows is copied up to the size seen when it was scanned, one that shrinks
 * is copied as far as it goes and recorded with that size (the server pads it with zeros to the
 * scanned size instead); WAL replay from the backup's start fixes all of them.
 *
 * Page checksums (when the cluster has them) are checked on relation files (the names in
 * relation_file.h, in global/ and database directories: what the server checks, less the files
 * it exempts). A page whose LSN is at or after the backup's start LSN is skipped, since replay
 * rewrites it, and so is an all-zero (new) page; the server skips any page with pd_upper 0, but
 * only an all-zero one is valid for its reads. A failing page is read again (it may have been
 * torn by a concurrent write) and checked again; a page that still fails is stored as read and
 * reported in its entry's bad_pages, as a block number within the file.
 */
#ifndef PG_ARK_HELPER_BACKUP_COPY_H
#define PG_ARK_HELPER_BACKUP_COPY_H

#include <stdint.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "manifest.h"
#include "storage.h"

namespace pg_ark {

struct SourceEntry;
struct StoreChoice;
/* Decides how to store each scanned file (see StoreChoice below). */
using StorePlanner = std::function<StoreChoice(const SourceEntry &)>;

/* Shared between the copying threads and whoever reports progress or cancels. */
struct CopyControl {
    std::atomic<uint64_t> files_total{0};
    std::atomic<uint64_t> files_done{0};
    std::atomic<uint64_t> bytes_total{0};
    std::atomic<uint64_t> bytes_done{0};
    std::atomic<bool> cancelled{false}; /* set by anyone; the copy stops soon after */
};

struct CopyOptions {
    std::string pgdata;
    uint64_t start_lsn = 0;
    bool data_checksums = false;
    uint32_t block_size = 8192;
    uint32_t segment_blocks = 131072; /* blocks per relation segment file (RELSEG_SIZE) */
    Compression compression;
    uint64_t part_size = 64ull << 20;
    int workers = 2;
    StorePlanner planner; /* null: every file whole (a full backup) */
};

/* A file or directory found by the scan, before copying. */
struct SourceEntry {
    std::string path; /* relative to pgdata, as it will appear in the manifest */
    EntryKind kind = EntryKind::file;
    uint32_t mode = 0;
    int64_t mtime = 0;
    uint64_t size = 0;
    std::string link_target;
    bool relation = false; /* a relation data file: page checksums apply */
    uint32_t first_block = 0; /* relation files: block number of the file's first page */
};

/*
 * How to store one file. Whole (the default), or, for an incremental backup, only the blocks in
 * `blocks` (normalized, below the file's size): they are read in order and their concatenation
 * is cut into parts like a whole file's bytes. reason says why a relation file went whole.
 */
struct StoreChoice {
    bool as_blocks = false;
    BlockRuns blocks;
    std::string reason;
};
/*
 * Lists what a base backup of pgdata holds, sorted by path. segment_blocks (RELSEG_SIZE) numbers
 * the first block of relation segment files.
 */
Result<std::vector<SourceEntry>> ScanDataDirectory(const std::string &pgdata,
                                                   uint32_t segment_blocks);

/*
 * Copies everything ScanDataDirectory lists into <backup_directory>/data/, returning the
 * manifest entries (sorted by path) with parts and bad pages filled in. Files are cut into parts
 * of options.part_size bytes (a multiple of block_size, so pages never straddle parts; an empty
 * file has one empty part), numbered from 1 in path order and copied by options.workers threads,
 * largest part first. control (may be null) counts progress as it goes. ErrorKind::conflict
 * ("backup cancelled") if control->cancelled was set; otherwise the first error stops every
 * worker and is returned, naming the file. On error the parts written so far are left for the
 * caller to remove; on success only the parts the entries name are left.
 *
 * With options.planner, a file it chooses to store as blocks becomes an entry with
 * stored_as_blocks: page checks apply to the blocks read; if the file shrank during the copy,
 * the runs are cut at its new end (rounded down to a block) and that is its recorded size, as
 * for whole files WAL replay from the backup's start makes it right. An empty block list
 * stores no part at all.
 */
Result<std::vector<BackupEntry>> CopyDataDirectory(Storage &storage, const RepoPath &backup_directory,
                                                   const CopyOptions &options, CopyControl *control);

}  // namespace pg_ark

#endif

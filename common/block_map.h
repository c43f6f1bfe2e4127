/*
 * block_map.h
 *     The on-disk format of a block map: which relation blocks WAL touched in one LSN range.
 *
 * The tracker (a background worker in the extension) writes one file per contiguous range
 * [start_lsn, end_lsn) of WAL it summarized, into pg_wal/pg_ark_blockmap/ (inside pg_wal so that
 * base backups, ours and pg_basebackup's, leave the maps out: they describe this cluster's WAL,
 * not a restored copy's). The helper reads them to decide which blocks an incremental backup
 * must store. Writer and reader share this code: it allocates nothing and throws nothing.
 *
 * Layout, in the host's byte order (a map never leaves its machine):
 *   FileHeader                      48 bytes
 *   entry_count times:
 *     EntryHeader                   24 bytes
 *     range_count BlockRange        8 bytes each
 *   CRC-32C of everything before    4 bytes
 *
 * Entries are strictly ascending by (spc, db, rel, fork); ranges ascending, non-empty, neither
 * overlapping nor touching. limit_block is the lowest length (in blocks) the fork was cut to
 * within the range (created: 0, truncated: the new length, dropped: 0), kNoLimit if none: blocks
 * at or beyond it may hold anything and must come from the newer backup. An entry with rel 0
 * and fork 0 stands for a whole database directory (spc, db) that was created or dropped: every
 * file in it is new.
 */
#ifndef PG_ARK_COMMON_BLOCK_MAP_H
#define PG_ARK_COMMON_BLOCK_MAP_H

#include <stddef.h>
#include <stdint.h>

namespace pg_ark {
namespace blockmap {

constexpr char kMagic[8] = {'P', 'G', 'A', 'R', 'K', 'B', 'M', '\n'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kNoLimit = 0xFFFFFFFFu;
/* Where maps live, relative to the data directory. */
constexpr const char *kDirectory = "pg_wal/pg_ark_blockmap";

struct FileHeader {
    char magic[8];
    uint32_t version;
    uint32_t timeline;          /* of the WAL at start_lsn */
    uint64_t system_identifier; /* of the cluster whose WAL this is */
    uint64_t start_lsn;
    uint64_t end_lsn;
    uint32_t entry_count;
    uint32_t flags; /* 0 */
};
static_assert(sizeof(FileHeader) == 48, "block map header layout");

struct EntryHeader {
    uint32_t spc;
    uint32_t db;
    uint32_t rel; /* 0: the whole database directory (see above) */
    uint32_t fork;
    uint32_t limit_block;
    uint32_t range_count;
};
static_assert(sizeof(EntryHeader) == 24, "block map entry layout");

struct BlockRange {
    uint32_t first;
    uint32_t count;
};
static_assert(sizeof(BlockRange) == 8, "block map range layout");

/*
 * Where the record after one ending at `end` starts: past the page header when `end` is at a
 * WAL page boundary (the long header at a segment's start). A map ending at `end` covers every
 * record starting before NextRecordStart(end): a backup starting there is covered.
 */
constexpr uint64_t kWalPageSize = 8192;        /* XLOG_BLCKSZ */
constexpr uint64_t kWalShortPageHeader = 24;   /* SizeOfXLogShortPHD */
constexpr uint64_t kWalLongPageHeader = 40;    /* SizeOfXLogLongPHD */
uint64_t NextRecordStart(uint64_t end, uint64_t wal_segment_size);

/* A header of this format version for [start_lsn, end_lsn), flags 0. */
FileHeader MakeHeader(uint32_t timeline, uint64_t system_identifier, uint64_t start_lsn,
                      uint64_t end_lsn, uint32_t entry_count);

/* Orders entries as the file must: by spc, db, rel, fork. */
int CompareEntries(const EntryHeader &a, const EntryHeader &b);

/* CRC-32C (Castagnoli), continuing from crc (start with 0). */
uint32_t Crc32c(uint32_t crc, const void *data, size_t length);

/* The file name for a range: "<start 16 hex>-<end 16 hex>.map"; buffer of kFileNameSize. */
constexpr size_t kFileNameSize = 38;
void FormatFileName(uint64_t start_lsn, uint64_t end_lsn, char out[kFileNameSize]);
/* Parses a name FormatFileName made; false for anything else (temp files included). */
bool ParseFileName(const char *name, uint64_t *start_lsn, uint64_t *end_lsn);

/*
 * Writes a map through a sink, computing the checksum as it goes. The caller adds entries in
 * order with their ranges; the encoder checks the order and counts, and Finish fails if fewer
 * entries came than the header announced. Any sink failure or misuse makes every later call
 * fail.
 */
class Encoder {
public:
    using Sink = bool (*)(void *context, const void *data, size_t length);
    Encoder(Sink sink, void *context) : sink_(sink), context_(context) {}

    bool Begin(const FileHeader &header);
    bool AddEntry(const EntryHeader &entry, const BlockRange *ranges);
    bool Finish();

private:
    bool Write(const void *data, size_t length);

    Sink sink_;
    void *context_;
    uint32_t crc_ = 0;
    uint32_t entries_left_ = 0;
    EntryHeader last_{};
    bool have_last_ = false;
    bool failed_ = false;
};

enum class DecodeError {
    none,
    truncated,    /* shorter than its header and entries say */
    bad_magic,    /* not a block map */
    bad_version,  /* a format this build does not read */
    bad_checksum, /* damaged */
    bad_order,    /* entries or ranges out of order, overlapping, empty, or past 2^32 blocks */
    trailing,     /* bytes after the checksum */
};
const char *DecodeErrorText(DecodeError error);

/*
 * Checks a whole map held in memory (4-byte aligned) and fills *header. Nothing in it is to be
 * trusted unless this returns none.
 */
DecodeError Validate(const void *data, size_t length, FileHeader *header);

/*
 * Walks the entries of a map Validate accepted. `ranges` points into data, range_count long.
 * visit returns false to stop early.
 */
using Visitor = bool (*)(void *context, const EntryHeader &entry, const BlockRange *ranges);
void ForEachEntry(const void *data, size_t length, Visitor visit, void *context);

}  // namespace blockmap
}  // namespace pg_ark

#endif

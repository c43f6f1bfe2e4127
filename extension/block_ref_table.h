/*
 * block_ref_table.h
 *     In-memory set of changed blocks per relation fork, and its serialization as a block map.
 *
 * The tracker accumulates here what one LSN range of WAL touched: per (tablespace, database,
 * relfilenode, fork) the lowest limit block seen (create, truncate, drop) and the block numbers
 * referenced. Everything lives in one memory context, so forgetting a range is one reset.
 * Block numbers are appended unsorted (cheap per record) and sorted and deduplicated only when
 * the table is compacted or walked; the caller bounds memory by watching StoredBlocks().
 *
 * PostgreSQL side of the wall: palloc and ereport, no objects with destructors.
 */
#ifndef PG_ARK_EXTENSION_BLOCK_REF_TABLE_H
#define PG_ARK_EXTENSION_BLOCK_REF_TABLE_H

#include "pg_includes.h"

extern "C" {
#include "utils/hsearch.h"
}

#include "block_map.h"

/* Hash key: also the sort order of a map's entries (spc, db, rel, fork). */
struct BlockRefKey {
    uint32 spc;
    uint32 db;
    uint32 rel;
    uint32 fork;
};

class BlockRefTable {
public:
    /* Uses context (a fresh one the table owns: Reset resets it). Call once before anything. */
    void Init(MemoryContext context);
    /* Forgets every entry and frees their memory. */
    void Reset();

    void MarkBlock(const BlockRefKey &key, BlockNumber block);
    void MarkRange(const BlockRefKey &key, BlockNumber first, uint32 count);
    /* Lowers the entry's limit block to `limit` (the lowest limit seen wins). */
    void SetLimit(const BlockRefKey &key, BlockNumber limit);

    /* Block numbers held, duplicates included: the figure that bounds memory. */
    uint64 StoredBlocks() const { return stored_blocks_; }
    long EntryCount() const;
    /* Sorts and deduplicates every entry's blocks in place. */
    void Compact();

    /*
     * Calls visit for every entry in key order, with its blocks as sorted ranges that neither
     * overlap nor touch (the block map's rule). The ranges are valid during the call only.
     * Stops early when visit returns false; returns false then.
     */
    using Visitor = bool (*)(void *context, const pg_ark::blockmap::EntryHeader &entry,
                             const pg_ark::blockmap::BlockRange *ranges);
    bool ForEachSorted(Visitor visit, void *context);

private:
    struct Entry;
    Entry *Lookup(const BlockRefKey &key);
    void CreateHash();

    MemoryContext context_ = nullptr;
    HTAB *hash_ = nullptr;
    Entry *last_ = nullptr; /* cache: consecutive records often touch the same fork */
    uint64 stored_blocks_ = 0;
};

#endif

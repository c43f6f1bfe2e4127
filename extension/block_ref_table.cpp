/*
 * block_ref_table.cpp
 *     In-memory accumulation of changed blocks (see block_ref_table.h).
 *
 * Entries live in a dynahash table (entries never move once created, so a pointer to the
 * last one used stays valid until Reset); each holds a palloc'd array of block numbers that
 * grows by doubling. Nothing here ever drops a block number it was given: merging and
 * deduplicating only remove repeats.
 */
#include "block_ref_table.h"

#include <stdlib.h>

struct BlockRefTable::Entry {
    BlockRefKey key; /* hash key: must be first */
    uint32 limit_block;
    uint32 nblocks;
    uint32 capacity;
    uint32 *blocks;
};

namespace {

int CompareBlocks(const void *a, const void *b) {
    uint32 left = *static_cast<const uint32 *>(a);
    uint32 right = *static_cast<const uint32 *>(b);
    return left < right ? -1 : left > right ? 1 : 0;
}

int CompareKeys(const BlockRefKey &a, const BlockRefKey &b) {
    const uint32 left[] = {a.spc, a.db, a.rel, a.fork};
    const uint32 right[] = {b.spc, b.db, b.rel, b.fork};
    for (int i = 0; i < 4; ++i)
        if (left[i] != right[i]) return left[i] < right[i] ? -1 : 1;
    return 0;
}

/* Sorts and removes repeats; returns the new count. */
uint32 SortUnique(uint32 *blocks, uint32 count) {
    if (count < 2) return count;
    qsort(blocks, count, sizeof(uint32), CompareBlocks);
    uint32 kept = 1;
    for (uint32 i = 1; i < count; ++i)
        if (blocks[i] != blocks[kept - 1]) blocks[kept++] = blocks[i];
    return kept;
}

}  // namespace

void BlockRefTable::Init(MemoryContext context) {
    context_ = context;
    CreateHash();
}

void BlockRefTable::CreateHash() {
    HASHCTL ctl;
    memset(&ctl, 0, sizeof ctl);
    ctl.keysize = sizeof(BlockRefKey);
    ctl.entrysize = sizeof(Entry);
    ctl.hcxt = context_;
    hash_ = hash_create("pg_ark block references", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
    last_ = nullptr;
    stored_blocks_ = 0;
}

void BlockRefTable::Reset() {
    MemoryContextReset(context_);
    CreateHash();
}

long BlockRefTable::EntryCount() const { return hash_get_num_entries(hash_); }

BlockRefTable::Entry *BlockRefTable::Lookup(const BlockRefKey &key) {
    if (last_ != nullptr && memcmp(&last_->key, &key, sizeof key) == 0) return last_;
    BlockRefKey clean;
    memset(&clean, 0, sizeof clean); /* HASH_BLOBS hashes every byte */
    clean.spc = key.spc;
    clean.db = key.db;
    clean.rel = key.rel;
    clean.fork = key.fork;
    bool found;
    Entry *entry = static_cast<Entry *>(hash_search(hash_, &clean, HASH_ENTER, &found));
    if (!found) {
        entry->limit_block = pg_ark::blockmap::kNoLimit;
        entry->nblocks = 0;
        entry->capacity = 0;
        entry->blocks = nullptr;
    }
    last_ = entry;
    return entry;
}

void BlockRefTable::MarkBlock(const BlockRefKey &key, BlockNumber block) {
    Entry *entry = Lookup(key);
    /* The same block again (several records on one page): nothing new to store. */
    if (entry->nblocks > 0 && entry->blocks[entry->nblocks - 1] == block) return;
    if (entry->nblocks == entry->capacity) {
        uint32 capacity = entry->capacity == 0 ? 16 : entry->capacity * 2;
        if (entry->blocks == nullptr)
            entry->blocks = static_cast<uint32 *>(MemoryContextAlloc(context_, capacity * sizeof(uint32)));
        else
            entry->blocks = static_cast<uint32 *>(repalloc(entry->blocks, capacity * sizeof(uint32)));
        entry->capacity = capacity;
    }
    entry->blocks[entry->nblocks++] = block;
    ++stored_blocks_;
}

void BlockRefTable::MarkRange(const BlockRefKey &key, BlockNumber first, uint32 count) {
    for (uint32 i = 0; i < count; ++i) {
        if ((i & 0xFFFF) == 0) CHECK_FOR_INTERRUPTS();
        MarkBlock(key, first + i);
    }
}

void BlockRefTable::SetLimit(const BlockRefKey &key, BlockNumber limit) {
    Entry *entry = Lookup(key);
    if (limit < entry->limit_block) entry->limit_block = limit;
}

void BlockRefTable::Compact() {
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, hash_);
    uint64 total = 0;
    Entry *entry;
    while ((entry = static_cast<Entry *>(hash_seq_search(&status))) != nullptr) {
        CHECK_FOR_INTERRUPTS();
        entry->nblocks = SortUnique(entry->blocks, entry->nblocks);
        total += entry->nblocks;
    }
    stored_blocks_ = total;
}

bool BlockRefTable::ForEachSorted(Visitor visit, void *context) {
    long count = hash_get_num_entries(hash_);
    if (count == 0) return true;
    Entry **entries = static_cast<Entry **>(palloc(sizeof(Entry *) * count));
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, hash_);
    long n = 0;
    Entry *entry;
    uint32 widest = 1;
    while ((entry = static_cast<Entry *>(hash_seq_search(&status))) != nullptr) {
        entries[n++] = entry;
        if (entry->nblocks > widest) widest = entry->nblocks;
    }
    qsort(entries, n, sizeof(Entry *), [](const void *a, const void *b) {
        return CompareKeys((*static_cast<Entry *const *>(a))->key, (*static_cast<Entry *const *>(b))->key);
    });

    /* One range per block at worst. */
    pg_ark::blockmap::BlockRange *ranges = static_cast<pg_ark::blockmap::BlockRange *>(
        palloc_extended(sizeof(pg_ark::blockmap::BlockRange) * size_t(widest), MCXT_ALLOC_HUGE));
    bool completed = true;
    stored_blocks_ = 0;
    for (long i = 0; i < n; ++i) {
        CHECK_FOR_INTERRUPTS();
        entry = entries[i];
        entry->nblocks = SortUnique(entry->blocks, entry->nblocks);
        stored_blocks_ += entry->nblocks;
        uint32 range_count = 0;
        for (uint32 b = 0; b < entry->nblocks; ++b) {
            uint32 block = entry->blocks[b];
            /* Sorted and unique, so a block either extends the last range or starts one. */
            if (range_count > 0 &&
                uint64(ranges[range_count - 1].first) + ranges[range_count - 1].count == block)
                ranges[range_count - 1].count++;
            else
                ranges[range_count++] = {block, 1};
        }
        pg_ark::blockmap::EntryHeader header;
        header.spc = entry->key.spc;
        header.db = entry->key.db;
        header.rel = entry->key.rel;
        header.fork = entry->key.fork;
        header.limit_block = entry->limit_block;
        header.range_count = range_count;
        if (!visit(context, header, ranges)) {
            completed = false;
            break;
        }
    }
    pfree(ranges);
    pfree(entries);
    return completed;
}

/*
 * changed_blocks.h
 *     What the tracker's block maps (common/block_map.h) prove changed between two LSNs.
 *
 * An incremental backup may store a relation file as a few blocks only if every change since
 * its parent's start LSN is accounted for. LoadChangedBlocks reads the maps in
 * <pgdata>/pg_wal/pg_ark_blockmap and accepts them only as an unbroken chain (each map starting
 * where the previous one ended) from at or before from_lsn to at or after to_lsn, every map of
 * the range intact and of this system. Anything less gives a fallback reason instead, and the
 * backup copies relation files whole: marking more as changed never loses data, trusting a map
 * that cannot prove it could. Maps extending outside the range only add blocks, which is safe.
 */
#ifndef PG_ARK_HELPER_CHANGED_BLOCKS_H
#define PG_ARK_HELPER_CHANGED_BLOCKS_H

#include <stdint.h>

#include <map>
#include <set>
#include <string>
#include <utility>

#include "block_ranges.h"

namespace pg_ark {

/* A relation fork as the maps name it: tablespace, database, relfilenode, fork number. */
struct ForkKey {
    uint32_t spc = 0;
    uint32_t db = 0;
    uint32_t rel = 0;
    uint32_t fork = 0;
    bool operator<(const ForkKey &other) const {
        if (spc != other.spc) return spc < other.spc;
        if (db != other.db) return db < other.db;
        if (rel != other.rel) return rel < other.rel;
        return fork < other.fork;
    }
};

struct ForkChanges {
    /* Lowest length the fork was cut to (0: created or dropped); kNoLimitBlock if never cut. */
    uint32_t limit_block;
    BlockRuns blocks; /* relation block numbers, normalized */
};
constexpr uint32_t kNoLimitBlock = 0xFFFFFFFFu;

struct ChangedBlocks {
    /* Empty when the maps are usable; otherwise why not, and nothing else is filled. */
    std::string fallback;
    std::map<ForkKey, ForkChanges> forks;
    /* Database directories (spc, db) created or dropped: every file in them is new. */
    std::set<std::pair<uint32_t, uint32_t>> databases;
    uint64_t maps_used = 0;
};

/*
 * Reads and merges the maps covering [from_lsn, to_lsn) (see the file comment). A chain ending
 * at e reaches to_lsn when blockmap::NextRecordStart(e) does (maps end at record ends; a
 * backup's start LSN may lie just past a WAL page header).
 */
ChangedBlocks LoadChangedBlocks(const std::string &pgdata, uint64_t system_identifier,
                                uint64_t from_lsn, uint64_t to_lsn, uint64_t wal_segment_size);

/* "0/3000028", as PostgreSQL prints an LSN. */
std::string LsnText(uint64_t lsn);

}  // namespace pg_ark

#endif

/*
 * block_ranges.h
 *     Sets of block numbers kept as sorted runs, the one vocabulary of incremental backups: what
 *     the block maps say changed, what a backup stores of a file, what a restore takes from each
 *     backup of a chain.
 *
 * A normalized list is sorted by first block, every run non-empty, and no two runs overlap or
 * touch (touching runs are one run). Block numbers fit in 32 bits, as in PostgreSQL; ends are
 * computed in 64 bits so a run ending at 2^32 cannot wrap.
 */
#ifndef PG_ARK_HELPER_BLOCK_RANGES_H
#define PG_ARK_HELPER_BLOCK_RANGES_H

#include <stdint.h>

#include <vector>

namespace pg_ark {

struct BlockRun {
    uint32_t first = 0;
    uint32_t count = 0;
    uint64_t end() const { return uint64_t(first) + count; }
    bool operator==(const BlockRun &other) const {
        return first == other.first && count == other.count;
    }
};
using BlockRuns = std::vector<BlockRun>;

/* Sorts and merges any list of runs (empty runs dropped) into normalized form. */
BlockRuns NormalizeRuns(BlockRuns runs);
/* True when runs is normalized (see the file comment). */
bool RunsAreNormalized(const BlockRuns &runs);
/* The blocks of a normalized list that lie in [begin, end), as a normalized list. */
BlockRuns ClipRuns(const BlockRuns &runs, uint64_t begin, uint64_t end);
/* a minus b, both normalized. */
BlockRuns SubtractRuns(const BlockRuns &a, const BlockRuns &b);
/* a intersected with b, both normalized. */
BlockRuns IntersectRuns(const BlockRuns &a, const BlockRuns &b);
/* Number of blocks in a list. */
uint64_t CountBlocks(const BlockRuns &runs);

}  // namespace pg_ark

#endif

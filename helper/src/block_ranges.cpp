/*
 * block_ranges.cpp
 *     Operations on sorted block runs. See block_ranges.h.
 */
#include "block_ranges.h"

#include <algorithm>

namespace pg_ark {

namespace {

/* Appends [first, end) to a normalized list whose runs all start at or before first. */
void Append(BlockRuns *out, uint64_t first, uint64_t end) {
    if (end <= first) return;
    if (!out->empty() && out->back().end() >= first) {
        uint64_t merged_end = std::max(out->back().end(), end);
        out->back().count = static_cast<uint32_t>(merged_end - out->back().first);
        return;
    }
    out->push_back(BlockRun{static_cast<uint32_t>(first), static_cast<uint32_t>(end - first)});
}

}  // namespace

BlockRuns NormalizeRuns(BlockRuns runs) {
    std::sort(runs.begin(), runs.end(),
              [](const BlockRun &a, const BlockRun &b) { return a.first < b.first; });
    BlockRuns out;
    for (const BlockRun &run : runs) Append(&out, run.first, run.end());
    return out;
}

bool RunsAreNormalized(const BlockRuns &runs) {
    uint64_t next_allowed = 0;
    for (const BlockRun &run : runs) {
        if (run.count == 0 || run.first < next_allowed) return false;
        next_allowed = run.end() + 1;
    }
    return true;
}

BlockRuns ClipRuns(const BlockRuns &runs, uint64_t begin, uint64_t end) {
    BlockRuns out;
    for (const BlockRun &run : runs)
        Append(&out, std::max<uint64_t>(run.first, begin), std::min(run.end(), end));
    return out;
}

BlockRuns IntersectRuns(const BlockRuns &a, const BlockRuns &b) {
    BlockRuns out;
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        Append(&out, std::max(a[i].first, b[j].first), std::min(a[i].end(), b[j].end()));
        if (a[i].end() < b[j].end())
            i++;
        else
            j++;
    }
    return out;
}

BlockRuns SubtractRuns(const BlockRuns &a, const BlockRuns &b) {
    BlockRuns out;
    size_t j = 0;
    for (const BlockRun &run : a) {
        uint64_t position = run.first;
        while (j < b.size() && b[j].end() <= position) j++;
        for (size_t k = j; k < b.size() && b[k].first < run.end(); k++) {
            Append(&out, position, b[k].first);
            position = std::max<uint64_t>(position, b[k].end());
        }
        Append(&out, position, run.end());
    }
    return out;
}

uint64_t CountBlocks(const BlockRuns &runs) {
    uint64_t total = 0;
    for (const BlockRun &run : runs) total += run.count;
    return total;
}

}  // namespace pg_ark

/*
 * incremental_plan.cpp
 *     Choosing whole file or changed blocks. See incremental_plan.h.
 */
#include "incremental_plan.h"

#include <string.h>

#include <algorithm>
#include <vector>

#include "pg_layout.h"
#include "relation_file.h"

namespace pg_ark {

namespace {

constexpr uint32_t kMainFork = 0; /* PostgreSQL's fork numbers: main, fsm, vm, init */

std::vector<std::string> Split(const std::string &path) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t slash = path.find('/', start);
        parts.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
        if (slash == std::string::npos) return parts;
        start = slash + 1;
    }
}

/* An OID: 1 to 10 digits, at most 2^32 - 1. */
bool ParseOid(const std::string &text, uint32_t *out) {
    if (text.empty() || text.size() > 10) return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > UINT32_MAX) return false;
    *out = static_cast<uint32_t>(value);
    return true;
}

uint32_t ForkNumber(RelationFork fork) {
    switch (fork) {
        case RelationFork::main: return 0;
        case RelationFork::fsm: return 1;
        case RelationFork::vm: return 2;
        case RelationFork::init: return 3;
    }
    return 0;
}

StoreChoice Whole(std::string reason) {
    StoreChoice choice;
    choice.reason = std::move(reason);
    return choice;
}

}  // namespace

bool ParseRelationPath(const std::string &path, RelationPath *out) {
    std::vector<std::string> parts = Split(path);
    RelationPath parsed;
    const std::string *name = nullptr;
    if (parts.size() == 2 && parts[0] == "global") {
        parsed.fork.spc = kGlobalTablespaceOid;
        parsed.fork.db = 0;
        name = &parts[1];
    } else if (parts.size() == 3 && parts[0] == "base") {
        parsed.fork.spc = kDefaultTablespaceOid;
        if (!ParseOid(parts[1], &parsed.fork.db)) return false;
        name = &parts[2];
    } else if (parts.size() == 5 && parts[0] == "pg_tblspc" &&
               parts[2] == PgArkTablespaceVersionDirectory) {
        if (!ParseOid(parts[1], &parsed.fork.spc) || !ParseOid(parts[3], &parsed.fork.db))
            return false;
        name = &parts[4];
    } else {
        return false;
    }
    RelationFileName file;
    if (!ParseRelationFileName(*name, &file) ||
        !ParseOid(name->substr(0, file.relfilenode_length), &parsed.fork.rel) ||
        parsed.fork.rel == 0)
        return false;
    parsed.fork.fork = ForkNumber(file.fork);
    parsed.segment = file.segment;
    *out = parsed;
    return true;
}

StoreChoice PlanFile(const SourceEntry &source, const PlanInput &input) {
    RelationPath relation;
    if (source.kind != EntryKind::file || !ParseRelationPath(source.path, &relation))
        return Whole("");
    const ChangedBlocks &changes = *input.changes;
    if (!changes.fallback.empty()) return Whole(changes.fallback);
    if (relation.fork.fork != kMainFork) return Whole("not the main fork");
    auto parent = input.parent_sizes->find(source.path);
    if (parent == input.parent_sizes->end()) return Whole("new file");
    if (changes.databases.count({relation.fork.spc, relation.fork.db}) != 0)
        return Whole("database created or dropped");
    const uint64_t block_size = input.block_size;
    if (block_size == 0 || source.size % block_size != 0 || parent->second % block_size != 0)
        return Whole("size not a whole number of blocks");
    /* A segment number no real relation reaches cannot be numbered in 32-bit blocks. */
    if (input.segment_blocks == 0 || relation.segment > (UINT32_MAX / input.segment_blocks))
        return Whole("segment number out of range");
    const uint64_t first = relation.segment * input.segment_blocks;
    const uint64_t current = source.size / block_size;
    const uint64_t parent_blocks = parent->second / block_size;

    BlockRuns wanted;
    auto add = [&wanted, current](uint64_t begin, uint64_t end) {
        end = std::min(end, current);
        if (begin < end)
            wanted.push_back(
                BlockRun{static_cast<uint32_t>(begin), static_cast<uint32_t>(end - begin)});
    };
    auto fork = changes.forks.find(relation.fork);
    if (fork != changes.forks.end()) {
        if (fork->second.limit_block == 0) return Whole("relation created or truncated to 0");
        for (const BlockRun &run : ClipRuns(fork->second.blocks, first, first + current))
            add(run.first - first, run.end() - first);
        if (fork->second.limit_block != kNoLimitBlock)
            add(fork->second.limit_block > first ? fork->second.limit_block - first : 0, current);
    }
    add(parent_blocks, current);
    wanted = NormalizeRuns(std::move(wanted));
    if (current == 0) return Whole("empty file");
    if (CountBlocks(wanted) >= current) return Whole("every block changed");
    StoreChoice choice;
    choice.as_blocks = true;
    choice.blocks = std::move(wanted);
    return choice;
}

}  // namespace pg_ark

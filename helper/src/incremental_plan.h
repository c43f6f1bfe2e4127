/*
 * incremental_plan.h
 *     For an incremental or differential backup, which files may be stored as changed blocks
 *     only, and which blocks: pure logic over the scan, the parent's manifest and the block
 *     maps, so that every rule can be tested without a cluster.
 *
 * Only a main-fork relation segment can be stored as blocks, and only when the maps are usable,
 * the parent has the same path with a size in whole blocks, its database directory was neither
 * created nor dropped, and the relation was not created or cut to nothing. The blocks then are
 * those the maps name in this segment, every block at or past the lowest length the relation
 * was cut to (what lies there may be anything), and every block past the parent's length
 * (relation extension is not always WAL-logged), all below the file's current length. The
 * visibility map and free space map are not worth the risk (the VM truncates in its own
 * units) and are small: they, and every other file, are copied whole.
 */
#ifndef PG_ARK_HELPER_INCREMENTAL_PLAN_H
#define PG_ARK_HELPER_INCREMENTAL_PLAN_H

#include <stdint.h>

#include <map>
#include <string>

#include "backup_copy.h"
#include "changed_blocks.h"

namespace pg_ark {

/* Tablespace OIDs of base/ and global/ (pg_default, pg_global). */
constexpr uint32_t kDefaultTablespaceOid = 1663;
constexpr uint32_t kGlobalTablespaceOid = 1664;

/* The fork (as the maps name it) and segment number of a relation file path. */
struct RelationPath {
    ForkKey fork;
    uint64_t segment = 0;
};
/* False for anything but a relation file in global/, base/<db>/ or a tablespace's <db>/. */
bool ParseRelationPath(const std::string &path, RelationPath *out);

struct PlanInput {
    const ChangedBlocks *changes = nullptr;
    const std::map<std::string, uint64_t> *parent_sizes = nullptr; /* file path -> size */
    uint32_t block_size = 8192;
    uint32_t segment_blocks = 131072;
};

StoreChoice PlanFile(const SourceEntry &source, const PlanInput &input);

}  // namespace pg_ark

#endif

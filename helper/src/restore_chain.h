/*
 * restore_chain.h
 *     Where each byte of a restored file comes from, when the backup restored is an incremental
 *     or differential one: decided for every file before anything is written.
 *
 * The chain runs from the chosen backup (newest) through its parents to a full backup. A file
 * stored whole in the chosen backup is restored from it alone, as from a full backup. A file
 * stored as blocks takes every block below its final size from the newest backup that has it:
 * walking the chain from newest to oldest, a blocks entry supplies its runs not yet supplied,
 * and the first whole entry supplies every block still missing below its own size. A block
 * nothing supplies (the walk met a backup without the file, or a whole entry too short) is
 * ErrorKind::corrupt: restoring zeros there would be restoring wrong data.
 *
 * The result lists, per stored part that supplies anything, which of its bytes go where. Parts
 * that supply nothing are not listed, so a restore never reads them.
 */
#ifndef PG_ARK_HELPER_RESTORE_CHAIN_H
#define PG_ARK_HELPER_RESTORE_CHAIN_H

#include <stdint.h>

#include <string>
#include <vector>

#include "manifest.h"
#include "repo_path.h"

namespace pg_ark {

/* One backup of the chain. */
struct ChainLink {
    const Manifest *manifest;
    RepoPath directory; /* the backup's directory in the repository */
};

/* Bytes [part_offset, part_offset + length) of a part's original bytes go to file_offset. */
struct Piece {
    uint64_t part_offset;
    uint64_t file_offset;
    uint64_t length;
};

struct SourcePart {
    const RepoPath *directory;
    const BackupPart *part;
    std::vector<Piece> pieces; /* ascending and disjoint; the whole part for a whole file */
};

/*
 * The parts that rebuild `entry` (a file of chain[0]'s manifest), each with the pieces it
 * supplies. chain: newest first, every link of the same block size.
 */
Result<std::vector<SourcePart>> PlanFileSources(const std::vector<ChainLink> &chain,
                                                const BackupEntry &entry);

}  // namespace pg_ark

#endif

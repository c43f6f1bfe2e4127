/*
 * restore_chain.cpp
 *     Assigning the blocks of a file to the backups of a chain. See restore_chain.h.
 */
#include "restore_chain.h"

#include <algorithm>

#include <fmt/format.h>

#include "manifest_json.h"

namespace pg_ark {

namespace {

/* A stretch of an entry's stream that lands at file_offset. */
struct Extent {
    uint64_t stream;
    uint64_t file;
    uint64_t length;
};

/* Entries are sorted by path (ParseManifest checks it). */
const BackupEntry *Find(const Manifest &manifest, const std::string &path) {
    auto found = std::lower_bound(
        manifest.entries.begin(), manifest.entries.end(), path,
        [](const BackupEntry &entry, const std::string &wanted) { return entry.path < wanted; });
    if (found == manifest.entries.end() || found->path != path) return nullptr;
    return &*found;
}

/* Where the blocks `take` (a subset of entry.blocks) lie in a blocks entry's stream. */
std::vector<Extent> BlockExtents(const BackupEntry &entry, const BlockRuns &take,
                                 uint64_t block_size) {
    std::vector<Extent> extents;
    uint64_t stream = 0;
    size_t i = 0;
    for (const BlockRun &run : entry.blocks) {
        /* Runs of an entry never touch, so every run of take lies inside one of them. */
        for (; i < take.size() && take[i].end() <= run.end(); i++) {
            if (take[i].first < run.first) continue; /* cannot happen for a subset */
            extents.push_back({stream + (take[i].first - run.first) * block_size,
                               take[i].first * block_size, take[i].count * block_size});
        }
        stream += uint64_t(run.count) * block_size;
    }
    return extents;
}

/* The parts of entry that hold the extents, each with its pieces; both sorted by stream. */
void AddParts(const RepoPath *directory, const BackupEntry &entry,
              const std::vector<Extent> &extents, std::vector<SourcePart> *out) {
    size_t first = 0;
    for (const BackupPart &part : entry.parts) {
        SourcePart source{directory, &part, {}};
        uint64_t part_end = part.offset + part.size;
        while (first < extents.size() && extents[first].stream + extents[first].length <= part.offset)
            first++;
        for (size_t i = first; i < extents.size() && extents[i].stream < part_end; i++) {
            uint64_t from = std::max(extents[i].stream, part.offset);
            uint64_t to = std::min(extents[i].stream + extents[i].length, part_end);
            if (from < to)
                source.pieces.push_back(
                    {from - part.offset, extents[i].file + (from - extents[i].stream), to - from});
        }
        if (!source.pieces.empty()) out->push_back(std::move(source));
    }
}

Status NoData(uint64_t block, const std::string &path, const std::string &why) {
    return Status(ErrorKind::corrupt,
                  fmt::format("backup chain supplies no data for block {} of {} ({})", block,
                              QuoteForMessage(path), why));
}

}  // namespace

Result<std::vector<SourcePart>> PlanFileSources(const std::vector<ChainLink> &chain,
                                                const BackupEntry &entry) {
    std::vector<SourcePart> sources;
    if (!entry.stored_as_blocks) {
        /* Every part, even an empty file's empty one: it is still verified. */
        for (const BackupPart &part : entry.parts)
            sources.push_back({&chain[0].directory, &part, {{0, part.offset, part.size}}});
        return sources;
    }
    const uint64_t block_size = chain[0].manifest->backup.block_size;
    BlockRuns missing;
    if (entry.size / block_size > 0)
        missing.push_back(BlockRun{0, static_cast<uint32_t>(entry.size / block_size)});
    for (size_t k = 0; k < chain.size() && !missing.empty(); k++) {
        const Manifest &manifest = *chain[k].manifest;
        const BackupEntry *found = k == 0 ? &entry : Find(manifest, entry.path);
        if (found == nullptr || found->kind != EntryKind::file)
            return NoData(missing.front().first, entry.path,
                          fmt::format("backup {} has no such file", manifest.backup.id));
        std::vector<Extent> extents;
        if (found->stored_as_blocks) {
            BlockRuns take = IntersectRuns(missing, found->blocks);
            extents = BlockExtents(*found, take, block_size);
            missing = SubtractRuns(missing, take);
        } else {
            BlockRuns take = ClipRuns(missing, 0, found->size / block_size);
            for (const BlockRun &run : take)
                extents.push_back({run.first * block_size, run.first * block_size,
                                   run.count * block_size});
            missing = SubtractRuns(missing, take);
            if (!missing.empty())
                return NoData(missing.front().first, entry.path,
                              fmt::format("backup {} holds only {} bytes of it",
                                          manifest.backup.id, found->size));
        }
        AddParts(&chain[k].directory, *found, extents, &sources);
    }
    if (!missing.empty())
        return NoData(missing.front().first, entry.path, "the chain ends without a whole copy");
    return sources;
}

}  // namespace pg_ark

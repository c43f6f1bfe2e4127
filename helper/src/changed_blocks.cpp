/*
 * changed_blocks.cpp
 *     Choosing, checking and merging block maps. See changed_blocks.h.
 *
 * Every map whose name parses and whose range overlaps [from, to) is read and validated before
 * any is used: a damaged or foreign map in the range means something went wrong there, and a
 * chain that happens to avoid it proves nothing about what the tracker meant to record.
 */
#include "changed_blocks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "block_map.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

struct MapFile {
    std::string name;
    uint64_t start = 0;
    uint64_t end = 0;
    std::vector<uint32_t> data; /* 4-byte aligned, as blockmap::Validate requires */
    size_t length = 0;
};

/* Reads a whole file; an error text on failure. */
std::string ReadMap(const std::string &path, MapFile *map) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return strerror(errno);
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return strerror(errno);
    size_t size = static_cast<size_t>(st.st_size);
    map->data.assign(size / sizeof(uint32_t) + 1, 0);
    char *buffer = reinterpret_cast<char *>(map->data.data());
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd.get(), buffer + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return strerror(errno);
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    map->length = done;
    return "";
}

struct MergeContext {
    ChangedBlocks *out;
};

bool MergeEntry(void *context, const blockmap::EntryHeader &entry,
                const blockmap::BlockRange *ranges) {
    ChangedBlocks *out = static_cast<MergeContext *>(context)->out;
    if (entry.rel == 0) {
        /* A database directory created or dropped (fork is 0; any other is treated alike). */
        out->databases.emplace(entry.spc, entry.db);
        return true;
    }
    ForkKey key{entry.spc, entry.db, entry.rel, entry.fork};
    auto inserted = out->forks.emplace(key, ForkChanges{kNoLimitBlock, {}});
    ForkChanges &fork = inserted.first->second;
    fork.limit_block = std::min(fork.limit_block, entry.limit_block);
    for (uint32_t i = 0; i < entry.range_count; i++) {
        blockmap::BlockRange range;
        memcpy(&range, &ranges[i], sizeof(range));
        fork.blocks.push_back(BlockRun{range.first, range.count});
    }
    return true;
}

ChangedBlocks Fallback(std::string why) {
    ChangedBlocks result;
    result.fallback = std::move(why);
    return result;
}

}  // namespace

std::string LsnText(uint64_t lsn) {
    return fmt::format("{:X}/{:X}", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

ChangedBlocks LoadChangedBlocks(const std::string &pgdata, uint64_t system_identifier,
                                uint64_t from_lsn, uint64_t to_lsn, uint64_t wal_segment_size) {
    auto reaches_end = [&](uint64_t end) {
        return blockmap::NextRecordStart(end, wal_segment_size) >= to_lsn;
    };
    if (from_lsn >= to_lsn)
        return Fallback(fmt::format("the backup starts at {}, not after the parent's start LSN {}",
                                    LsnText(to_lsn), LsnText(from_lsn)));
    std::string directory = pgdata + "/" + blockmap::kDirectory;
    DIR *dir = opendir(directory.c_str());
    if (dir == nullptr) {
        if (errno == ENOENT) return Fallback("no block maps");
        return Fallback(
            fmt::format("could not open directory \"{}\": {}", directory, strerror(errno)));
    }
    std::vector<MapFile> maps;
    bool any = false;
    uint64_t end_before = 0, start_after = UINT64_MAX; /* of maps wholly outside the range */
    errno = 0;
    while (struct dirent *entry = readdir(dir)) {
        MapFile map;
        if (!blockmap::ParseFileName(entry->d_name, &map.start, &map.end)) continue;
        map.name = entry->d_name;
        any = true;
        if (map.end <= from_lsn) end_before = std::max(end_before, map.end);
        if (map.start >= to_lsn) start_after = std::min(start_after, map.start);
        if (map.start < to_lsn && map.end > from_lsn) maps.push_back(std::move(map));
        errno = 0;
    }
    int read_error = errno;
    closedir(dir);
    if (read_error != 0)
        return Fallback(
            fmt::format("could not read directory \"{}\": {}", directory, strerror(read_error)));
    if (!any) return Fallback("no block maps");
    if (maps.empty()) {
        if (end_before != 0 && start_after != UINT64_MAX)
            return Fallback(fmt::format("gap in block tracking from {} to {}", LsnText(end_before),
                                        LsnText(start_after)));
        if (start_after != UINT64_MAX)
            return Fallback(fmt::format("block tracking started at {}, after the parent's start "
                                        "LSN {}",
                                        LsnText(start_after), LsnText(from_lsn)));
        return Fallback(fmt::format("block tracking has summarized only up to {} (backup starts "
                                    "at {})",
                                    LsnText(end_before), LsnText(to_lsn)));
    }

    for (MapFile &map : maps) {
        std::string failed = ReadMap(directory + "/" + map.name, &map);
        if (!failed.empty())
            return Fallback(fmt::format("could not read block map {}: {}", map.name, failed));
        blockmap::FileHeader header;
        blockmap::DecodeError error = blockmap::Validate(map.data.data(), map.length, &header);
        if (error != blockmap::DecodeError::none)
            return Fallback(fmt::format("block map {} is damaged: {}", map.name,
                                        blockmap::DecodeErrorText(error)));
        if (header.start_lsn != map.start || header.end_lsn != map.end)
            return Fallback(fmt::format("block map {} is damaged: its header covers {} to {}",
                                        map.name, LsnText(header.start_lsn),
                                        LsnText(header.end_lsn)));
        if (header.system_identifier != system_identifier)
            return Fallback(fmt::format("block map {} is from another system", map.name));
    }

    /* The chain: from a map starting at or before from_lsn, each next one starting where the
     * last ended; among maps starting at the same LSN the longest goes furthest. */
    std::sort(maps.begin(), maps.end(), [](const MapFile &a, const MapFile &b) {
        return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    if (maps.front().start > from_lsn)
        return Fallback(fmt::format("block tracking started at {}, after the parent's start LSN {}",
                                    LsnText(maps.front().start), LsnText(from_lsn)));
    std::vector<const MapFile *> chain;
    const MapFile *best = nullptr;
    for (const MapFile &map : maps)
        if (map.start <= from_lsn && (best == nullptr || map.end > best->end)) best = &map;
    chain.push_back(best);
    while (!reaches_end(chain.back()->end)) {
        uint64_t reached = chain.back()->end;
        const MapFile *next = nullptr;
        uint64_t next_start = UINT64_MAX;
        for (const MapFile &map : maps) {
            if (map.start == reached && (next == nullptr || map.end > next->end)) next = &map;
            if (map.start > reached) next_start = std::min(next_start, map.start);
        }
        if (next != nullptr) {
            chain.push_back(next);
            continue;
        }
        if (next_start != UINT64_MAX)
            return Fallback(fmt::format("gap in block tracking from {} to {}", LsnText(reached),
                                        LsnText(next_start)));
        return Fallback(fmt::format("block tracking has summarized only up to {} (backup starts "
                                    "at {})",
                                    LsnText(reached), LsnText(to_lsn)));
    }

    ChangedBlocks result;
    MergeContext context{&result};
    for (const MapFile *map : chain)
        blockmap::ForEachEntry(map->data.data(), map->length, MergeEntry, &context);
    for (auto &[key, fork] : result.forks) fork.blocks = NormalizeRuns(std::move(fork.blocks));
    result.maps_used = chain.size();
    return result;
}

}  // namespace pg_ark

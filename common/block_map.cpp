/*
 * block_map.cpp
 *     Encoding and checking of block map files (see block_map.h).
 */
#include "block_map.h"

#include <stdio.h>
#include <string.h>

namespace pg_ark {
namespace blockmap {

namespace {

struct CrcTable {
    uint32_t value[256];
    constexpr CrcTable() : value() {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t crc = i;
            for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
            value[i] = crc;
        }
    }
};
constexpr CrcTable kCrcTable;

/* Ranges must be non-empty, ascending, apart (a touching pair would have been one range), and
 * end within the 2^32 - 1 blocks a fork can have. */
bool RangesInOrder(const BlockRange *ranges, uint32_t count) {
    uint64_t next_allowed = 0;
    for (uint32_t i = 0; i < count; ++i) {
        BlockRange range;
        memcpy(&range, &ranges[i], sizeof(range));
        if (range.count == 0 || range.first < next_allowed) return false;
        uint64_t end = uint64_t(range.first) + range.count;
        if (end > kNoLimit) return false;
        next_allowed = end + 1;
    }
    return true;
}

}  // namespace

uint64_t NextRecordStart(uint64_t end, uint64_t wal_segment_size) {
    if (end % kWalPageSize != 0) return end;
    return end + (end % wal_segment_size == 0 ? kWalLongPageHeader : kWalShortPageHeader);
}

FileHeader MakeHeader(uint32_t timeline, uint64_t system_identifier, uint64_t start_lsn,
                      uint64_t end_lsn, uint32_t entry_count) {
    FileHeader header;
    memset(&header, 0, sizeof header);
    memcpy(header.magic, kMagic, sizeof header.magic);
    header.version = kFormatVersion;
    header.timeline = timeline;
    header.system_identifier = system_identifier;
    header.start_lsn = start_lsn;
    header.end_lsn = end_lsn;
    header.entry_count = entry_count;
    return header;
}

int CompareEntries(const EntryHeader &a, const EntryHeader &b) {
    const uint32_t left[] = {a.spc, a.db, a.rel, a.fork};
    const uint32_t right[] = {b.spc, b.db, b.rel, b.fork};
    for (int i = 0; i < 4; ++i)
        if (left[i] != right[i]) return left[i] < right[i] ? -1 : 1;
    return 0;
}

uint32_t Crc32c(uint32_t crc, const void *data, size_t length) {
    const uint8_t *bytes = static_cast<const uint8_t *>(data);
    crc = ~crc;
    for (size_t i = 0; i < length; ++i) crc = kCrcTable.value[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

void FormatFileName(uint64_t start_lsn, uint64_t end_lsn, char out[kFileNameSize]) {
    snprintf(out, kFileNameSize, "%016llX-%016llX.map", (unsigned long long)start_lsn,
             (unsigned long long)end_lsn);
}

bool ParseFileName(const char *name, uint64_t *start_lsn, uint64_t *end_lsn) {
    if (strlen(name) != kFileNameSize - 1 || name[16] != '-' || strcmp(name + 33, ".map") != 0)
        return false;
    uint64_t values[2] = {0, 0};
    for (int which = 0; which < 2; ++which) {
        for (int i = 0; i < 16; ++i) {
            char c = name[which * 17 + i];
            int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (digit < 0) return false;
            values[which] = values[which] << 4 | uint64_t(digit);
        }
    }
    if (values[0] >= values[1]) return false;
    *start_lsn = values[0];
    *end_lsn = values[1];
    return true;
}

bool Encoder::Write(const void *data, size_t length) {
    if (failed_) return false;
    crc_ = Crc32c(crc_, data, length);
    if (length > 0 && !sink_(context_, data, length)) failed_ = true;
    return !failed_;
}

bool Encoder::Begin(const FileHeader &header) {
    if (memcmp(header.magic, kMagic, sizeof(kMagic)) != 0 || header.version != kFormatVersion ||
        header.start_lsn >= header.end_lsn)
        failed_ = true;
    entries_left_ = header.entry_count;
    return Write(&header, sizeof(header));
}

bool Encoder::AddEntry(const EntryHeader &entry, const BlockRange *ranges) {
    if (entries_left_ == 0 || (have_last_ && CompareEntries(last_, entry) >= 0) ||
        !RangesInOrder(ranges, entry.range_count))
        failed_ = true;
    --entries_left_;
    last_ = entry;
    have_last_ = true;
    return Write(&entry, sizeof(entry)) &&
           Write(ranges, size_t(entry.range_count) * sizeof(BlockRange));
}

bool Encoder::Finish() {
    if (entries_left_ != 0) failed_ = true;
    uint32_t crc = crc_;
    return Write(&crc, sizeof(crc));
}

const char *DecodeErrorText(DecodeError error) {
    switch (error) {
        case DecodeError::none: return "valid";
        case DecodeError::truncated: return "truncated";
        case DecodeError::bad_magic: return "not a pg_ark block map";
        case DecodeError::bad_version: return "unsupported block map version";
        case DecodeError::bad_checksum: return "checksum mismatch";
        case DecodeError::bad_order: return "entries out of order";
        case DecodeError::trailing: return "data after the checksum";
    }
    return "invalid";
}

DecodeError Validate(const void *data, size_t length, FileHeader *header) {
    const uint8_t *bytes = static_cast<const uint8_t *>(data);
    if (length < sizeof(FileHeader)) return DecodeError::truncated;
    memcpy(header, bytes, sizeof(*header));
    if (memcmp(header->magic, kMagic, sizeof(kMagic)) != 0) return DecodeError::bad_magic;
    if (header->version != kFormatVersion) return DecodeError::bad_version;
    /* Walk the sizes first, so a damaged count cannot make us read past the end. */
    size_t offset = sizeof(FileHeader);
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        if (length - offset < sizeof(EntryHeader)) return DecodeError::truncated;
        EntryHeader entry;
        memcpy(&entry, bytes + offset, sizeof(entry));
        offset += sizeof(EntryHeader);
        if ((length - offset) / sizeof(BlockRange) < entry.range_count) return DecodeError::truncated;
        offset += size_t(entry.range_count) * sizeof(BlockRange);
    }
    if (length - offset < sizeof(uint32_t)) return DecodeError::truncated;
    uint32_t stored;
    memcpy(&stored, bytes + offset, sizeof(stored));
    if (Crc32c(0, bytes, offset) != stored) return DecodeError::bad_checksum;
    if (length - offset != sizeof(uint32_t)) return DecodeError::trailing;
    if (header->start_lsn >= header->end_lsn) return DecodeError::bad_order;
    offset = sizeof(FileHeader);
    EntryHeader last{};
    for (uint32_t i = 0; i < header->entry_count; ++i) {
        EntryHeader entry;
        memcpy(&entry, bytes + offset, sizeof(entry));
        offset += sizeof(EntryHeader);
        if ((i > 0 && CompareEntries(last, entry) >= 0) ||
            !RangesInOrder(reinterpret_cast<const BlockRange *>(bytes + offset), entry.range_count))
            return DecodeError::bad_order;
        last = entry;
        offset += size_t(entry.range_count) * sizeof(BlockRange);
    }
    return DecodeError::none;
}

void ForEachEntry(const void *data, size_t length, Visitor visit, void *context) {
    const uint8_t *bytes = static_cast<const uint8_t *>(data);
    FileHeader header;
    memcpy(&header, bytes, sizeof(header));
    size_t offset = sizeof(FileHeader);
    for (uint32_t i = 0; i < header.entry_count && offset < length; ++i) {
        EntryHeader entry;
        memcpy(&entry, bytes + offset, sizeof(entry));
        offset += sizeof(EntryHeader);
        if (!visit(context, entry, reinterpret_cast<const BlockRange *>(bytes + offset))) return;
        offset += size_t(entry.range_count) * sizeof(BlockRange);
    }
}

}  // namespace blockmap
}  // namespace pg_ark

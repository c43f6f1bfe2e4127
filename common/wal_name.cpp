/*
 * wal_name.cpp
 *     Classifies archivable WAL file names. See wal_name.h.
 */
#include "wal_name.h"

#include <string.h>

namespace pg_ark {

namespace {

constexpr size_t kSegmentChars = 24;
constexpr size_t kTimelineChars = 8;

bool AllUpperHex(const char *text, size_t count) {
    for (size_t i = 0; i < count; i++) {
        char c = text[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
    }
    return true;
}

}  // namespace

WalFileKind ClassifyWalName(const char *name) {
    size_t length = strlen(name);
    if (length == kSegmentChars && AllUpperHex(name, kSegmentChars)) return WalFileKind::segment;
    if (length == kSegmentChars + 8 && AllUpperHex(name, kSegmentChars) &&
        strcmp(name + kSegmentChars, ".partial") == 0)
        return WalFileKind::partial;
    /* segment name, '.', 8 hex digits of the start offset, ".backup" */
    if (length == kSegmentChars + 1 + 8 + 7 && AllUpperHex(name, kSegmentChars) &&
        name[kSegmentChars] == '.' && AllUpperHex(name + kSegmentChars + 1, 8) &&
        strcmp(name + kSegmentChars + 9, ".backup") == 0)
        return WalFileKind::backup;
    if (length == kTimelineChars + 8 && AllUpperHex(name, kTimelineChars) &&
        strcmp(name + kTimelineChars, ".history") == 0)
        return WalFileKind::history;
    return WalFileKind::invalid;
}

uint32_t WalNameTimeline(const char *name) {
    if (ClassifyWalName(name) == WalFileKind::invalid) return 0;
    uint32_t timeline = 0;
    for (size_t i = 0; i < kTimelineChars; i++) {
        char c = name[i];
        timeline = timeline * 16 + static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'A' + 10);
    }
    return timeline;
}

}  // namespace pg_ark

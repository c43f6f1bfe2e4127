/*
 * catalog.cpp
 *     The backups of a cluster: ids, layout, classification and the index. See catalog.h.
 */
#include "catalog.h"

#include <fmt/format.h>
#include <time.h>

namespace pg_ark {

namespace {

constexpr size_t kIdBaseLength = 16; /* "YYYYMMDD-HHMMSS" and the type letter */

char TypeLetter(BackupType type) {
    switch (type) {
        case BackupType::full: return 'F';
        case BackupType::incremental: return 'I';
        case BackupType::differential: return 'D';
    }
    return '?';
}

bool AllDigits(const std::string &text, size_t start, size_t length) {
    for (size_t i = start; i < start + length; i++)
        if (text[i] < '0' || text[i] > '9') return false;
    return true;
}

}  // namespace

std::string MakeBackupId(int64_t start_time, BackupType type) {
    time_t seconds = static_cast<time_t>(start_time);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char text[32];
    strftime(text, sizeof text, "%Y%m%d-%H%M%S", &utc);
    return std::string(text) + TypeLetter(type);
}

bool IsValidBackupId(const std::string &id) {
    if (id.size() < kIdBaseLength || !AllDigits(id, 0, 8) || id[8] != '-' || !AllDigits(id, 9, 6) ||
        (id[15] != 'F' && id[15] != 'I' && id[15] != 'D'))
        return false;
    if (id.size() == kIdBaseLength) return true;
    /* "_2" ... "_99", no leading zero, so each suffix has one spelling. */
    std::string suffix = id.substr(kIdBaseLength);
    if (suffix.size() < 2 || suffix.size() > 3 || suffix[0] != '_' || suffix[1] == '0' ||
        !AllDigits(suffix, 1, suffix.size() - 1))
        return false;
    return suffix != "_1";
}

}  // namespace pg_ark

/*
 * recovery_target.cpp
 *     Parsing recovery targets and choosing the backup that reaches one. See recovery_target.h.
 */
#include "recovery_target.h"

#include <stdlib.h>
#include <time.h>

#include <algorithm>

#include <fmt/format.h>

#include "catalog_format.h"
#include "recovery_settings.h"

namespace pg_ark {

namespace {

Status Invalid(const std::string &message) { return Status(ErrorKind::invalid_argument, message); }

/* Exactly `count` decimal digits at text[*at], advancing past them. */
bool Digits(const std::string &text, size_t *at, size_t count, int *out) {
    if (*at + count > text.size()) return false;
    int value = 0;
    for (size_t i = 0; i < count; i++) {
        char c = text[*at + i];
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
    }
    *at += count;
    *out = value;
    return true;
}

bool Expect(const std::string &text, size_t *at, char c) {
    if (*at >= text.size() || text[*at] != c) return false;
    ++*at;
    return true;
}

bool ParseLsn(const std::string &text, uint64_t *out) {
    size_t slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash > 8 || text.size() - slash - 1 == 0 ||
        text.size() - slash - 1 > 8)
        return false;
    uint64_t parts[2];
    std::string pieces[2] = {text.substr(0, slash), text.substr(slash + 1)};
    for (int i = 0; i < 2; i++) {
        if (pieces[i].find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
        parts[i] = strtoull(pieces[i].c_str(), nullptr, 16);
    }
    *out = parts[0] << 32 | parts[1];
    return true;
}

bool IsUnsignedNumber(const std::string &text, size_t max_digits) {
    return !text.empty() && text.size() <= max_digits &&
           text.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

bool ParseTargetTime(const std::string &text, double *seconds) {
    size_t at = 0;
    struct tm tm = {};
    int year, month, day, hour, minute, second;
    if (!Digits(text, &at, 4, &year) || !Expect(text, &at, '-') || !Digits(text, &at, 2, &month) ||
        !Expect(text, &at, '-') || !Digits(text, &at, 2, &day) ||
        !(Expect(text, &at, ' ') || Expect(text, &at, 'T')) || !Digits(text, &at, 2, &hour) ||
        !Expect(text, &at, ':') || !Digits(text, &at, 2, &minute) || !Expect(text, &at, ':') ||
        !Digits(text, &at, 2, &second))
        return false;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        return false;
    double fraction = 0;
    if (at < text.size() && text[at] == '.') {
        size_t start = ++at;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9') at++;
        if (at == start || at - start > 6) return false;
        fraction = strtod(("0." + text.substr(start, at - start)).c_str(), nullptr);
    }
    if (at < text.size() && text[at] == ' ') at++;
    long offset = 0;
    std::string zone = text.substr(at);
    if (zone == "Z" || zone == "UTC" || zone == "+00" || zone == "-00") {
        offset = 0;
    } else if (!zone.empty() && (zone[0] == '+' || zone[0] == '-')) {
        size_t z = 1;
        int hours, minutes = 0;
        if (!Digits(zone, &z, 2, &hours)) return false;
        if (z < zone.size()) {
            Expect(zone, &z, ':');
            if (!Digits(zone, &z, 2, &minutes) || z != zone.size()) return false;
        }
        if (hours > 15 || minutes > 59) return false;
        offset = (zone[0] == '-' ? -1 : 1) * (hours * 3600L + minutes * 60L);
    } else {
        return false; /* no zone: it would mean the server's TimeZone, unknown here */
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    time_t utc = timegm(&tm);
    if (utc == static_cast<time_t>(-1)) return false;
    *seconds = static_cast<double>(utc - offset) + fraction;
    return true;
}

Result<RecoveryTarget> ParseRecoveryTarget(const RecoveryTargetArguments &arguments) {
    RecoveryTarget target;
    int given = 0;
    if (!arguments.time.empty()) {
        given++;
        target.kind = RecoveryTarget::Kind::time;
        target.value = arguments.time;
        if (!ParseTargetTime(arguments.time, &target.time))
            return Invalid(fmt::format(
                "--target-time \"{}\": expected YYYY-MM-DD HH:MM:SS[.ffffff] with a time zone "
                "(Z, UTC or +HH[:MM]), e.g. \"2026-12-01 14:30:00+00\"",
                arguments.time));
    }
    if (!arguments.xid.empty()) {
        given++;
        target.kind = RecoveryTarget::Kind::xid;
        target.value = arguments.xid;
        if (!IsUnsignedNumber(arguments.xid, 20) || strtoull(arguments.xid.c_str(), nullptr, 10) < 3)
            return Invalid(fmt::format("--target-xid \"{}\": expected a transaction id (a number, "
                                       "as txid_current() returns)",
                                       arguments.xid));
    }
    if (!arguments.lsn.empty()) {
        given++;
        target.kind = RecoveryTarget::Kind::lsn;
        target.value = arguments.lsn;
        if (!ParseLsn(arguments.lsn, &target.lsn))
            return Invalid(fmt::format("--target-lsn \"{}\": expected an LSN such as 0/3000028",
                                       arguments.lsn));
    }
    if (!arguments.name.empty()) {
        given++;
        target.kind = RecoveryTarget::Kind::name;
        target.value = arguments.name;
        if (arguments.name.size() > 63 || arguments.name.find_first_of("\n\r") != std::string::npos)
            return Invalid(fmt::format("--target-name \"{}\": a restore point name has at most 63 "
                                       "bytes and no line break",
                                       arguments.name));
    }
    if (arguments.immediate) {
        given++;
        target.kind = RecoveryTarget::Kind::immediate;
    }
    if (given > 1)
        return Invalid("give at most one of --target-time, --target-xid, --target-lsn, "
                       "--target-name and --target-immediate");
    target.exclusive = arguments.exclusive;
    if (target.exclusive && (target.kind == RecoveryTarget::Kind::none ||
                             target.kind == RecoveryTarget::Kind::name ||
                             target.kind == RecoveryTarget::Kind::immediate))
        return Invalid("--target-exclusive applies to --target-time, --target-xid and --target-lsn");
    target.action = arguments.action;
    if (!target.action.empty() && target.action != "pause" && target.action != "promote" &&
        target.action != "shutdown")
        return Invalid(fmt::format("--target-action \"{}\": expected pause, promote or shutdown",
                                   target.action));
    if (!target.action.empty() && target.kind == RecoveryTarget::Kind::none)
        return Invalid("--target-action needs a target (--target-time, ...)");
    target.timeline = arguments.timeline;
    if (!target.timeline.empty() && target.timeline != "latest" && target.timeline != "current" &&
        !(IsUnsignedNumber(target.timeline, 10) && strtoull(target.timeline.c_str(), nullptr, 10) > 0 &&
          strtoull(target.timeline.c_str(), nullptr, 10) <= UINT32_MAX))
        return Invalid(fmt::format("--target-timeline \"{}\": expected latest, current or a "
                                   "timeline number",
                                   target.timeline));
    return target;
}

std::vector<std::string> RecoveryTargetLines(const RecoveryTarget &target) {
    std::vector<std::string> lines;
    auto line = [&lines](const char *name, const std::string &value) {
        lines.push_back(fmt::format("{} = {}", name, ConfQuote(value)));
    };
    switch (target.kind) {
        case RecoveryTarget::Kind::none: break;
        case RecoveryTarget::Kind::time: line("recovery_target_time", target.value); break;
        case RecoveryTarget::Kind::xid: line("recovery_target_xid", target.value); break;
        case RecoveryTarget::Kind::lsn: line("recovery_target_lsn", target.value); break;
        case RecoveryTarget::Kind::name: line("recovery_target_name", target.value); break;
        case RecoveryTarget::Kind::immediate: line("recovery_target", "immediate"); break;
    }
    if (target.exclusive) line("recovery_target_inclusive", "off");
    if (!target.action.empty()) line("recovery_target_action", target.action);
    if (!target.timeline.empty()) line("recovery_target_timeline", target.timeline);
    return lines;
}

Result<CatalogEntry> ChooseBackupForTarget(const std::vector<CatalogEntry> &entries,
                                           const RecoveryTarget &target, const std::string &set) {
    /* Stop times are whole seconds, cut down: a backup stopped within [stop_time, stop_time + 1).
     * It surely ends before a time target when stop_time + 1 <= target, surely after when
     * stop_time > target; in between, chosen automatically never, named by --set it is allowed
     * (PostgreSQL says so at startup if it did end after). */
    auto reaches = [&](const BackupMetadata &m) {
        if (target.kind == RecoveryTarget::Kind::time) return double(m.stop_time) + 1 <= target.time;
        if (target.kind == RecoveryTarget::Kind::lsn) return m.stop_lsn <= target.lsn;
        return true;
    };
    auto surely_after = [&](const BackupMetadata &m) {
        if (target.kind == RecoveryTarget::Kind::time) return double(m.stop_time) > target.time;
        return target.kind == RecoveryTarget::Kind::lsn && m.stop_lsn > target.lsn;
    };
    std::vector<const CatalogEntry *> complete;
    for (const CatalogEntry &entry : entries)
        if (entry.status == BackupStatus::complete) complete.push_back(&entry);
    std::sort(complete.begin(), complete.end(), [](const CatalogEntry *a, const CatalogEntry *b) {
        return a->backup.stop_lsn < b->backup.stop_lsn;
    });
    std::string usable;
    for (const CatalogEntry *entry : complete)
        if (reaches(entry->backup))
            usable += (usable.empty() ? "" : ", ") + entry->backup.id;
    auto where = [&](const BackupMetadata &m) {
        return target.kind == RecoveryTarget::Kind::time
                   ? fmt::format("ends at {} UTC", FormatTime(m.stop_time))
                   : fmt::format("ends at LSN {}", FormatLsn(m.stop_lsn));
    };
    auto could = [&]() {
        return usable.empty() ? std::string("no backup ends before it")
                              : "backups that end before it: " + usable;
    };
    if (!set.empty()) {
        for (const CatalogEntry &entry : entries) {
            if (entry.backup.id != set) continue;
            if (entry.status == BackupStatus::complete && surely_after(entry.backup))
                return Invalid(fmt::format("backup {} {}, after the recovery target {}: recovery "
                                           "could not stop there; {}",
                                           set, where(entry.backup), target.value, could()));
            return entry;
        }
        return Status(ErrorKind::not_found, fmt::format("no backup {}", set));
    }
    for (auto it = complete.rbegin(); it != complete.rend(); ++it)
        if (reaches((*it)->backup)) return **it;
    if (complete.empty()) return Status(ErrorKind::not_found, "no complete backup to restore");
    return Invalid(fmt::format("no backup ends before the recovery target {}: the oldest, {}, {}",
                               target.value, complete.front()->backup.id,
                               where(complete.front()->backup)));
}

}  // namespace pg_ark

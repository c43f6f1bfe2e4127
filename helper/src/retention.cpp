/*
 * retention.cpp
 *     The expiry planner. See retention.h for the rules; this file only applies them.
 */
#include "retention.h"

#include <fmt/format.h>
#include <string.h>

#include <map>

namespace pg_ark {

namespace {

/* The log and segment part of a WAL file name: how segments of different timelines compare. */
std::string SegmentKey(const std::string &name) { return name.substr(8, 16); }

bool StartsWith(const std::string &text, const char *prefix) {
    return text.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}

struct Verdict {
    bool complete = false;
    bool limited = false;      /* the counts would expire it */
    std::string limit_reason;  /* the count that does, possibly through an ancestor */
    bool kept = false;
    bool removed = false;
};

}  // namespace

std::string FormatPolicyDuration(int64_t seconds) {
    if (seconds % 86400 == 0) return fmt::format("{}d", seconds / 86400);
    if (seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
    if (seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
    return fmt::format("{}s", seconds);
}

std::string DescribeRetention(const Retention &retention) {
    std::string text;
    auto add = [&text](const std::string &part) { text += (text.empty() ? "" : ", ") + part; };
    if (retention.full > 0) add(fmt::format("retention-full = {}", retention.full));
    if (retention.diff > 0) add(fmt::format("retention-diff = {}", retention.diff));
    if (retention.window_seconds > 0)
        add("retention-window = " + FormatPolicyDuration(retention.window_seconds));
    return text.empty() ? "no retention policy" : text;
}

ExpiryPlan PlanExpiry(const std::vector<CatalogEntry> &entries,
                      const std::vector<ArchivedWalFile> &wal, const Retention &retention,
                      int64_t now) {
    ExpiryPlan plan;
    const bool counted = retention.full > 0 || retention.diff > 0;
    const bool windowed = retention.window_seconds > 0;
    const bool any_policy = counted || windowed;

    std::map<std::string, size_t> position;
    std::vector<Verdict> verdicts(entries.size());
    for (size_t i = 0; i < entries.size(); i++) {
        position[entries[i].backup.id] = i;
        verdicts[i].complete = entries[i].status == BackupStatus::complete;
    }
    /* The complete parent of entry i, or -1 (a full, or a parent the catalog does not have as
     * complete: nothing can be concluded from it, so nothing is). */
    auto parent_of = [&](size_t i) -> long {
        const std::string &parent = entries[i].backup.parent;
        if (parent.empty()) return -1;
        auto it = position.find(parent);
        if (it == position.end() || !verdicts[it->second].complete) return -1;
        return static_cast<long>(it->second);
    };
    auto keep_with_ancestors = [&](size_t i) {
        for (long at = static_cast<long>(i); at >= 0; at = parent_of(static_cast<size_t>(at)))
            verdicts[static_cast<size_t>(at)].kept = true;
    };

    /* Ranks among complete backups, newest first. */
    std::vector<int> rank(entries.size(), 0);
    int fulls = 0, diffs = 0;
    for (size_t i = entries.size(); i-- > 0;) {
        if (!verdicts[i].complete) continue;
        if (entries[i].backup.type == BackupType::full) rank[i] = fulls++;
        if (entries[i].backup.type == BackupType::differential) rank[i] = diffs++;
    }

    /* The counts, oldest first so that a parent is decided before what builds on it. */
    for (size_t i = 0; i < entries.size(); i++) {
        Verdict &v = verdicts[i];
        if (!v.complete) continue;
        BackupType type = entries[i].backup.type;
        if (type == BackupType::full && retention.full > 0 && rank[i] >= retention.full) {
            v.limited = true;
            v.limit_reason = fmt::format("beyond retention-full = {}", retention.full);
        } else if (type == BackupType::differential && retention.diff > 0 &&
                   rank[i] >= retention.diff) {
            v.limited = true;
            v.limit_reason = fmt::format("beyond retention-diff = {}", retention.diff);
        } else if (long parent = parent_of(i); parent >= 0 && verdicts[parent].limited) {
            v.limited = true;
            v.limit_reason = verdicts[parent].limit_reason;
        }
    }

    long newest_complete = -1;
    for (size_t i = 0; i < entries.size(); i++)
        if (verdicts[i].complete) newest_complete = static_cast<long>(i);

    for (size_t i = 0; i < entries.size(); i++)
        if (verdicts[i].complete && (!any_policy || (counted && !verdicts[i].limited)))
            keep_with_ancestors(i);
    if (windowed) {
        /* Recovery to now - W starts from the newest backup that had stopped by then; every
         * later moment from it or a later backup. None had stopped: all are needed. */
        int64_t edge = now - retention.window_seconds;
        size_t anchor = 0;
        for (size_t i = 0; i < entries.size(); i++)
            if (verdicts[i].complete && entries[i].backup.stop_time <= edge) anchor = i;
        for (size_t i = anchor; i < entries.size(); i++)
            if (verdicts[i].complete) keep_with_ancestors(i);
    }
    if (newest_complete >= 0) keep_with_ancestors(static_cast<size_t>(newest_complete));

    const std::string window_reason =
        windowed ? "older than the retention-window (" +
                       FormatPolicyDuration(retention.window_seconds) + ")"
                 : std::string();
    long oldest_kept = -1;
    for (size_t i = 0; i < entries.size(); i++) {
        Verdict &v = verdicts[i];
        if (!v.complete) continue;
        if (v.kept) {
            if (oldest_kept < 0) oldest_kept = static_cast<long>(i);
            plan.kept.push_back(entries[i].backup.id);
            continue;
        }
        v.removed = true;
    }

    for (size_t i = entries.size(); i-- > 0;) {
        const CatalogEntry &entry = entries[i];
        const Verdict &v = verdicts[i];
        PlannedBackupRemoval removal;
        removal.id = entry.backup.id;
        removal.status = entry.status;
        removal.stored_bytes = entry.backup.stored_bytes;
        if (v.complete) {
            if (!v.removed) continue;
            long parent = parent_of(i);
            if (parent >= 0 && verdicts[parent].removed)
                removal.reason = "builds on expired backup " + entries[parent].backup.id;
            else if (v.limited)
                removal.reason = v.limit_reason;
            else
                removal.reason = window_reason;
        } else if (entry.status == BackupStatus::failed) {
            if (StartsWith(entry.error, kExpiredReasonPrefix)) {
                removal.reason = "finishing an interrupted expiry (" +
                                 entry.error.substr(strlen(kExpiredReasonPrefix)) + ")";
            } else if (entry.backup.system_identifier == 0) {
                /* No backup.info: every backup writes one first, and expiry removes it last
                 * but one, so this is a directory with nothing of a backup left in it. */
                removal.reason = "finishing an interrupted expiry (an empty backup directory)";
            } else if (any_policy && oldest_kept >= 0 && static_cast<long>(i) < oldest_kept) {
                removal.reason = "failed backup older than the oldest kept backup";
            } else {
                removal.whole = false;
                removal.reason = "leftovers of a failed backup";
            }
        } else {
            continue; /* running: never touched */
        }
        plan.backups.push_back(std::move(removal));
    }

    /* WAL: below the first segment a kept backup needs. */
    if (!any_policy || plan.kept.empty()) return plan;
    std::string boundary, boundary_backup;
    for (const std::string &id : plan.kept) {
        const std::string &start = entries[position[id]].backup.wal_start;
        if (ClassifyWalName(start.c_str()) != WalFileKind::segment) return plan; /* can't tell */
        if (boundary.empty() || SegmentKey(start) < SegmentKey(boundary)) {
            boundary = start;
            boundary_backup = id;
        }
    }
    plan.wal_boundary = boundary;
    plan.wal_reason =
        fmt::format("before {}, where kept backup {} starts", boundary, boundary_backup);
    for (const ArchivedWalFile &file : wal) {
        if (file.kind != WalFileKind::segment && file.kind != WalFileKind::partial &&
            file.kind != WalFileKind::backup)
            continue; /* timeline history: tiny, and every timeline switch needs it */
        if (SegmentKey(file.name) < SegmentKey(boundary)) plan.wal.push_back(file);
    }
    return plan;
}

}  // namespace pg_ark

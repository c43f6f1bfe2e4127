/*
 * repository_checks.cpp
 *     See repository_checks.h.
 */
#include "repository_checks.h"

#include <fmt/format.h>

#include <optional>

#include "catalog.h"
#include "pause.h"
#include "stored_object.h"

namespace pg_ark {

namespace {

CheckRow SystemIdentifier(Repository &repository, const std::string &cluster, uint64_t system_identifier) {
    auto info = repository.LoadCluster(cluster);
    if (!info.ok()) return {"system_identifier", false, info.status().message()};
    if (system_identifier == 0)
        return {"system_identifier", true,
                fmt::format("cluster \"{}\" is registered for system {}", cluster,
                            info->system_identifier)};
    if (info->system_identifier != system_identifier)
        return {"system_identifier", false,
                fmt::format("cluster \"{}\" is registered for system {}, but this database is "
                            "system {}: is pg_ark.cluster pointing at another cluster's section?",
                            cluster, info->system_identifier, system_identifier)};
    return {"system_identifier", true,
            fmt::format("cluster \"{}\" is registered for this system ({})", cluster,
                        system_identifier)};
}

CheckRow Writable(Repository &repository, const std::string &cluster) {
    auto probe = RepoPath::Make(cluster + "/check.probe");
    if (!probe.ok()) return {"repository_writable", false, probe.status().message()};
    Status written = WriteWholeObject(repository.storage(), *probe, "pg_ark check\n", kUncompressed,
                                      WriteMode::replace);
    if (written.ok()) written = repository.storage().Remove(*probe);
    if (!written.ok()) return {"repository_writable", false, written.message()};
    return {"repository_writable", true,
            fmt::format("wrote, synced and removed a probe in \"{}/{}\"",
                        repository.storage().Describe(), cluster)};
}

CheckRow Space(Repository &repository, const std::optional<CatalogEntry> &newest_full) {
    auto free = repository.storage().FreeBytes();
    if (!free.ok()) return {"repository_space", false, free.status().message()};
    if (!free->has_value()) return {"repository_space", true, "this storage does not report free space"};
    uint64_t need = newest_full ? newest_full->backup.stored_bytes : 0;
    std::string detail = fmt::format("{:.1f} GiB free", static_cast<double>(**free) / (1 << 30));
    if (newest_full)
        detail += fmt::format("; the newest full backup ({}) stored {:.1f} GiB",
                              newest_full->backup.id,
                              static_cast<double>(need) / (1 << 30));
    return {"repository_space", **free >= need,
            **free >= need ? detail : detail + ": the next full backup may not fit"};
}

CheckRow Paused(Repository &repository, const std::string &cluster) {
    auto state = PausedState(repository, cluster);
    if (!state.ok()) return {"backups_paused", false, state.status().message()};
    if (state->has_value()) return {"backups_paused", false, DescribePause(**state, cluster)};
    return {"backups_paused", true, "backups and expiry are not paused"};
}

}  // namespace

std::string FormatAge(int64_t seconds) {
    if (seconds < 0) seconds = 0;
    if (seconds >= 86400) return fmt::format("{} d {} h", seconds / 86400, seconds % 86400 / 3600);
    if (seconds >= 3600) return fmt::format("{} h {} min", seconds / 3600, seconds % 3600 / 60);
    if (seconds >= 60) return fmt::format("{} min", seconds / 60);
    return fmt::format("{} s", seconds);
}

std::vector<CheckRow> CheckRepository(Repository &repository, const ClusterConfig &cluster,
                                      uint64_t system_identifier, bool backup_running, int64_t now) {
    std::vector<CheckRow> rows;
    rows.push_back(SystemIdentifier(repository, cluster.name, system_identifier));
    rows.push_back(Writable(repository, cluster.name));

    Catalog catalog(&repository, cluster.name);
    auto entries = catalog.List(backup_running);
    std::optional<CatalogEntry> newest, newest_full;
    std::vector<std::string> failed_since;
    if (entries.ok()) {
        for (const CatalogEntry &entry : *entries) {
            if (entry.status == BackupStatus::complete) {
                newest = entry;
                if (entry.backup.type == BackupType::full) newest_full = entry;
                failed_since.clear();
            } else if (entry.status == BackupStatus::failed) {
                failed_since.push_back(entry.backup.id + " (" + entry.error + ")");
            }
        }
    }
    rows.push_back(Space(repository, newest_full));
    rows.push_back(Paused(repository, cluster.name));

    if (!entries.ok()) {
        rows.push_back({"last_backup", false, entries.status().message()});
        rows.push_back({"failed_backups", false, entries.status().message()});
        return rows;
    }
    const int64_t max_age = cluster.backup_max_age_seconds;
    if (!newest) {
        rows.push_back({"last_backup", false, fmt::format("cluster \"{}\" has no complete backup", cluster.name)});
    } else {
        int64_t age = now - newest->backup.stop_time;
        std::string detail = fmt::format("the newest complete backup, {} ({}), ended {} ago",
                                         newest->backup.id, BackupTypeName(newest->backup.type),
                                         FormatAge(age));
        if (max_age == 0)
            rows.push_back({"last_backup", true, detail + " (backup-max-age is not set)"});
        else
            rows.push_back({"last_backup", age <= max_age,
                            detail + fmt::format(" (backup-max-age {})", FormatAge(max_age))});
    }
    if (failed_since.empty()) {
        rows.push_back({"failed_backups", true, "no backup failed since the newest complete one"});
    } else {
        std::string list;
        for (const std::string &failed : failed_since) list += (list.empty() ? "" : "; ") + failed;
        rows.push_back({"failed_backups", false,
                        fmt::format("{} backup(s) failed since the newest complete one: {}",
                                    failed_since.size(), list)});
    }
    return rows;
}

}  // namespace pg_ark

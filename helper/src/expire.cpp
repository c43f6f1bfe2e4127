/*
 * expire.cpp
 *     Carrying out an expiry plan. See expire.h for the guarantees and retention.h for what
 *     goes.
 */
#include "expire.h"

#include <fmt/format.h>

#include <set>

#include "backup_lock.h"
#include "catalog.h"
#include "catalog_format.h"
#include "log.h"
#include "pause.h"
#include "retention.h"
#include "wal_store.h"

namespace pg_ark {

namespace {

std::string Plural(size_t count, const char *one, const char *many) {
    return fmt::format("{} {}", count, count == 1 ? one : many);
}

class Expiry {
  public:
    Expiry(Repository &repository, const ClusterConfig &cluster, const ExpireOptions &options)
        : repository_(repository), cluster_(cluster), options_(options),
          catalog_(&repository, cluster.name) {
        report_.dry_run = options.dry_run;
        report_.policy = DescribeRetention(cluster.retention);
    }

    /* backup_running: whether a backup other than the caller may be running (dry run only). */
    Result<ExpiryReport> Run(bool backup_running) {
        auto entries = catalog_.List(backup_running);
        if (!entries.ok()) return entries.status();
        WalStore wal_store(&repository_);
        auto wal = wal_store.ListArchived(cluster_.name);
        if (!wal.ok()) return wal.status();
        ExpiryPlan plan = PlanExpiry(*entries, *wal, cluster_.retention, options_.now);
        report_.kept = plan.kept;

        /* The marker goes up before the first backup is touched, and comes down only once
         * every removal succeeded: left by an interrupted run, this run takes it down. */
        bool marked = false;
        if (!options_.dry_run) {
            auto left = catalog_.ExpiringMarked();
            if (!left.ok()) return left.status();
            marked = *left;
            for (const PlannedBackupRemoval &removal : plan.backups) {
                if (!removal.whole || marked) continue;
                PG_ARK_RETURN_IF_ERROR(catalog_.MarkExpiring());
                marked = true;
            }
        }
        for (const PlannedBackupRemoval &removal : plan.backups)
            PG_ARK_RETURN_IF_ERROR(RemoveBackup(removal));
        if (marked) PG_ARK_RETURN_IF_ERROR(catalog_.EndExpiring());

        for (const ArchivedWalFile &file : plan.wal) PG_ARK_RETURN_IF_ERROR(RemoveWal(file, plan));
        if (!options_.dry_run) RemoveEmptyWalDirectories(plan);
        return report_;
    }

  private:
    Status RemoveBackup(const PlannedBackupRemoval &removal) {
        auto bytes = catalog_.StoredBytes(removal.id, !removal.whole);
        if (!bytes.ok()) return bytes.status();
        /* A failed backup's parts are usually gone already (the backup removed them). */
        if (!removal.whole && *bytes == 0) return Status::Ok();
        if (!options_.dry_run) {
            Status removed = removal.whole ? catalog_.RemoveBackup(removal.id, removal.reason)
                                           : catalog_.RemoveParts(removal.id);
            if (!removed.ok())
                return Status(removed.kind(),
                              fmt::format("could not expire backup {} of cluster \"{}\": {}",
                                          removal.id, cluster_.name, removed.message()));
        }
        return Record({"backup", removal.id, *bytes, removal.reason});
    }

    Status RemoveWal(const ArchivedWalFile &file, const ExpiryPlan &plan) {
        if (!options_.dry_run) {
            auto path = Repository::WalPath(cluster_.name, file.name);
            if (!path.ok()) return path.status();
            Status removed = repository_.storage().Remove(*path);
            if (!removed.ok())
                return Status(removed.kind(),
                              fmt::format("could not expire WAL file {} of cluster \"{}\": {}",
                                          file.name, cluster_.name, removed.message()));
            emptied_.insert(file.name.substr(0, 16));
        }
        return Record({"wal", file.name, file.stored_size, plan.wal_reason});
    }

    /*
     * A WAL directory (one timeline's log file, 4 GiB of WAL with 16 MiB segments) left empty
     * goes too, but only one entirely below the boundary's log: nothing archives there any
     * more. Tidying only, so a failure is a warning.
     */
    void RemoveEmptyWalDirectories(const ExpiryPlan &plan) {
        if (plan.wal_boundary.empty()) return;
        std::string boundary_log = plan.wal_boundary.substr(8, 8);
        Storage &storage = repository_.storage();
        for (const std::string &directory : emptied_) {
            if (directory.substr(8, 8) >= boundary_log) continue;
            auto path = RepoPath::Make(fmt::format("{}/wal/{}", cluster_.name, directory));
            if (!path.ok()) continue;
            auto left = storage.List(*path);
            if (!left.ok() || !left->empty()) continue;
            Status removed = storage.RemoveDirectory(*path);
            if (!removed.ok())
                Log(LogLevel::warn, "could not remove the empty WAL directory \"{}\": {}",
                    path->str(), removed.message());
        }
    }

    Status Record(ExpiredItem item) {
        if (item.kind == "backup")
            report_.backups++;
        else
            report_.wal_files++;
        report_.bytes += item.bytes;
        Log(options_.dry_run ? LogLevel::debug : LogLevel::info, "cluster \"{}\": {}",
            cluster_.name, FormatExpiredItem(item, options_.dry_run));
        if (options_.on_item) PG_ARK_RETURN_IF_ERROR(options_.on_item(item));
        report_.items.push_back(std::move(item));
        return Status::Ok();
    }

    Repository &repository_;
    const ClusterConfig &cluster_;
    const ExpireOptions &options_;
    Catalog catalog_;
    ExpiryReport report_;
    std::set<std::string> emptied_; /* WAL directories files were removed from */
};

}  // namespace

Result<ExpiryReport> ExpireLocked(Repository &repository, const ClusterConfig &cluster,
                                  const ExpireOptions &options) {
    auto registered = repository.LoadCluster(cluster.name);
    if (!registered.ok()) return registered.status();
    /* The caller holds the lock: no other backup runs, and every incomplete one failed. */
    auto report = Expiry(repository, cluster, options).Run(false);
    if (report.ok() && !options.dry_run)
        Log(LogLevel::info, "cluster \"{}\": {} ({})", cluster.name, SummarizeExpiry(*report),
            report->policy);
    return report;
}

Result<ExpiryReport> Expire(Repository &repository, const std::string &repo_path,
                            const ClusterConfig &cluster, const ExpireOptions &options) {
    auto registered = repository.LoadCluster(cluster.name);
    if (!registered.ok()) return registered.status();
    if (options.dry_run) {
        /* Reading only: a running backup is left out of the plan, as the catalog shows it. */
        auto running = BackupLock::IsHeld(repo_path, cluster.name);
        if (!running.ok()) return running.status();
        return Expiry(repository, cluster, options).Run(*running);
    }
    PG_ARK_RETURN_IF_ERROR(RefuseIfPaused(repository, cluster.name, "expiry"));
    auto lock = BackupLock::AcquireForExpiry(repo_path, cluster.name);
    if (!lock.ok()) {
        if (lock.status().kind() != ErrorKind::conflict) return lock.status();
        return Status(ErrorKind::conflict,
                      fmt::format("cannot expire now: {}; expiry also runs by itself after "
                                  "each backup completes",
                                  lock.status().message()));
    }
    return ExpireLocked(repository, cluster, options);
}

std::string FormatExpiredItem(const ExpiredItem &item, bool dry_run) {
    return fmt::format("{} {} {} ({}), {}", dry_run ? "would expire" : "expired",
                       item.kind == "wal" ? "WAL file" : "backup", item.name, item.reason,
                       FormatBytes(item.bytes));
}

std::string SummarizeExpiry(const ExpiryReport &report) {
    if (report.items.empty())
        return report.dry_run ? "nothing would be expired" : "nothing to expire";
    std::string what;
    if (report.backups > 0) what = Plural(report.backups, "backup", "backups");
    if (report.wal_files > 0)
        what += (what.empty() ? "" : " and ") + Plural(report.wal_files, "WAL file", "WAL files");
    if (report.dry_run)
        return fmt::format("would expire {}, freeing {}", what, FormatBytes(report.bytes));
    return fmt::format("expired {}, {} freed", what, FormatBytes(report.bytes));
}

}  // namespace pg_ark

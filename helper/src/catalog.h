/*
 * catalog.h
 *     The backups of one cluster in a repository: their layout, their state and an index.
 *
 *     <cluster>/backup/<id>/backup.info      metadata written when the backup starts
 *     <cluster>/backup/<id>/data/NNNNNNNN.ark  the parts (stored objects)
 *     <cluster>/backup/<id>/backup.manifest  written last: present = complete
 *     <cluster>/backup/<id>/backup.failed    why a backup failed (text), when it failed cleanly
 *     <cluster>/backup.index                 JSON index of all backups, rebuilt from the above
 *
 * A backup with neither manifest nor failure record is running while the cluster's backup lock
 * (backup_lock.h) is held, and failed (the helper stopped during it) once it is not. The index
 * is a cache: List() rebuilds it whenever it does not name exactly the backup directories
 * present, so deleting it loses nothing.
 */
#ifndef PG_ARK_HELPER_CATALOG_H
#define PG_ARK_HELPER_CATALOG_H

#include <string>
#include <vector>

#include "manifest.h"
#include "repository.h"

namespace pg_ark {

struct CatalogEntry {
    BackupMetadata backup;
    BackupStatus status = BackupStatus::running;
    std::string error; /* failed backups: why */
};

/*
 * Backup ids: "20261122-053113F" (UTC start time and F, I or D for the type). When that id is
 * taken (a backup failed and the next one started within the same second), the backup takes the
 * first free of "20261122-053113F_2" ... "_99". Ids sort by time, then suffix number.
 */
std::string MakeBackupId(int64_t start_time, BackupType type);
bool IsValidBackupId(const std::string &id);

class Catalog {
  public:
    Catalog(Repository *repository, std::string cluster);

    static Result<RepoPath> BackupDirectory(const std::string &cluster, const std::string &id);

    /*
     * Every backup, oldest first. backup_running: whether the backup lock is held now (an
     * incomplete backup is then running; otherwise it failed).
     */
    Result<std::vector<CatalogEntry>> List(bool backup_running);
    Result<CatalogEntry> Get(const std::string &id, bool backup_running);
    /* The newest complete backup; not_found when there is none. */
    Result<CatalogEntry> Latest(bool backup_running);
    /* Reads and verifies a complete backup's manifest. */
    Result<Manifest> LoadManifest(const std::string &id);

    /* Called by the backup session. */
    Status WriteBackupInfo(const BackupMetadata &metadata);
    Status WriteManifest(const Manifest &manifest);
    Status WriteFailure(const std::string &id, const std::string &reason);
    /* Removes a failed backup's parts (keeps its info and failure record for the catalog). */
    Status RemoveParts(const std::string &id);
    /* Rewrites the index from the backup directories. */
    Status RebuildIndex(bool backup_running);

  private:
    Repository *repository_;
    std::string cluster_;
};

}  // namespace pg_ark

#endif

/*
 * catalog.h
 *     The backups of one cluster in a repository: their layout, their state and an index.
 *
 *     <cluster>/backup/<id>/backup.info      metadata written when the backup starts
 *     <cluster>/backup/<id>/data/NNNNNNNN.ark  the parts (stored objects)
 *     <cluster>/backup/<id>/backup.manifest  written last: present = complete
 *     <cluster>/backup/<id>/backup.failed    why a backup failed (text), when it failed cleanly
 *     <cluster>/backup.index                 JSON index of all backups, rebuilt from the above
 *     <cluster>/backup.expiring              present while expiry removes backups (see below)
 *
 * A backup with neither manifest nor failure record is running while the cluster's backup lock
 * (backup_lock.h) is held, and failed (the helper stopped during it) once it is not. The index
 * is a cache: List() rebuilds it whenever it does not name exactly the backup directories
 * present, so deleting it loses nothing.
 *
 * Expiry removes a backup's manifest first, so a backup it stops half-way through (kill -9)
 * lists as failed, never as complete. The index would still call it complete (its id is still
 * there), so while the backup.expiring marker is present the index is neither trusted nor
 * written; the marker goes once an expiry has removed everything it set out to remove.
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

/* How the failure record of a backup that expiry is removing begins (see RemoveBackup). */
constexpr char kExpiredReasonPrefix[] = "expired: ";
bool IsValidBackupId(const std::string &id);

class Catalog {
  public:
    Catalog(Repository *repository, std::string cluster);

    static Result<RepoPath> BackupDirectory(const std::string &cluster, const std::string &id);

    /*
     * Every backup, oldest first. backup_running: whether the backup lock is held now (the
     * newest incomplete backup is then running; every other incomplete one failed). A backup
     * whose manifest is damaged is listed as failed, with the damage as its error. May rewrite
     * the index; failing to is only logged.
     */
    Result<std::vector<CatalogEntry>> List(bool backup_running);
    Result<CatalogEntry> Get(const std::string &id, bool backup_running);
    /* The newest complete backup; not_found when there is none. */
    Result<CatalogEntry> Latest(bool backup_running);
    /*
     * Reads and verifies a complete backup's manifest: not_found when there is none, corrupt
     * when it is damaged or describes another backup.
     */
    Result<Manifest> LoadManifest(const std::string &id);

    /*
     * Called by the backup session, which holds the backup lock. WriteBackupInfo comes first
     * (conflict when the id is taken); WriteManifest refuses (invalid_argument) a manifest that
     * ParseManifest would reject or that holds text other than UTF-8. Once the manifest or the
     * failure record is committed they return OK, even if updating the index failed (logged):
     * the index is a cache, and an error could make a complete backup be recorded as failed.
     * WriteFailure keeps the first reason recorded.
     */
    Status WriteBackupInfo(const BackupMetadata &metadata);
    Status WriteManifest(const Manifest &manifest);
    Status WriteFailure(const std::string &id, const std::string &reason);
    /*
     * Removes a failed backup's parts (keeps its info and failure record for the catalog);
     * conflict for a complete backup. REQUIRES: nothing writes the backup's parts any more.
     */
    Status RemoveParts(const std::string &id);
    /* Rewrites the index from the backup directories (not while a backup is running, nor while
     * an expiry is marked). */
    Status RebuildIndex(bool backup_running);

    /*
     * Expiry (expire.h). REQUIRES for all four: the caller holds the backup lock.
     * MarkExpiring comes before the first RemoveBackup; EndExpiring removes the marker and
     * rewrites the index, once every removal succeeded.
     */
    Status MarkExpiring();
    Status EndExpiring();
    /* Whether the marker is there: an expiry is running, or stopped before it finished. */
    Result<bool> ExpiringMarked();
    /*
     * Removes a backup: a complete one first gets a failure record (kExpiredReasonPrefix +
     * reason) and loses its manifest, so that from then on it lists as failed; then its parts,
     * its metadata, its failure record and its directory go. Resumes a removal that was
     * interrupted; a backup already gone is fine.
     */
    Status RemoveBackup(const std::string &id, const std::string &reason);
    /* Bytes a backup occupies in the repository (parts_only: its parts alone). */
    Result<uint64_t> StoredBytes(const std::string &id, bool parts_only);

  private:
    Repository *repository_;
    std::string cluster_;
};

}  // namespace pg_ark

#endif

/*
 * backup_service.h
 *     The helper's side of a backup session (see common/backup_protocol.h for the exchange):
 *     reserve an id under the cluster's backup lock, copy the data directory while PostgreSQL
 *     is in backup mode, then wait for the WAL the backup needs and commit its manifest.
 *
 * A session that ends any other way (error, cancel, the client going away, an attach that
 * never comes) leaves a failure record and no parts. Copying and waiting watch the client's
 * connection, so a backend that dies stops the work within a fraction of a second.
 */
#ifndef PG_ARK_HELPER_BACKUP_SERVICE_H
#define PG_ARK_HELPER_BACKUP_SERVICE_H

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backup_copy.h"
#include "backup_lock.h"
#include "backup_protocol.h"
#include "catalog.h"
#include "config.h"
#include "repository.h"
#include "wal_shipper.h"

namespace pg_ark {

struct BackupJob;

class BackupService {
  public:
    BackupService(const Config &config, Repository *repository, WalShipper *shipper);
    ~BackupService();

    /* Takes the lock, cleans up after killed backups, reserves an id and writes backup.info. */
    Result<std::shared_ptr<BackupJob>> Begin(const wire::BackupBeginRequest &request);
    /* A background worker takes over a detached backup. */
    Result<std::shared_ptr<BackupJob>> Attach(const wire::BackupRef &ref);
    /* Copies the data directory; warnings (bad pages) go to *warnings. */
    Status Copy(BackupJob &job, const wire::BackupCopyRequest &request, int client_fd,
                std::string *warnings);
    /* Stores backup_label and tablespace_map, waits for the WAL, writes the manifest. */
    Status Stop(BackupJob &job, const wire::BackupStopRequest &request, int client_fd);
    /* The session ended; fails the backup unless it completed. */
    void EndSession(BackupJob &job, const std::string &reason);
    Status Cancel(const wire::BackupRef &ref);
    /* Records for catalog_query (see CatalogQuery). */
    Result<std::vector<wire::BackupRecord>> Query(const wire::CatalogQuery &query);

    static std::string BackupIdOf(const BackupJob &job);
    static std::string LabelOf(const BackupJob &job);

  private:
    std::shared_ptr<BackupJob> Running(const std::string &cluster);
    bool Detached(const BackupJob &job);
    void Fail(BackupJob &job, const std::string &why);
    Status CopyFiles(BackupJob &job, const wire::BackupCopyRequest &request, int client_fd,
                     std::string *warnings);
    Status Commit(BackupJob &job, const wire::BackupStopRequest &request, int client_fd);
    Status CleanAbandoned(Catalog &catalog);
    Status WaitForWal(BackupJob &job, int client_fd);
    Status CheckGoing(BackupJob &job, int client_fd);

    const Config &config_;
    Repository *repository_;
    WalShipper *shipper_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<BackupJob>> running_;  // by cluster; guarded by mutex_
};

}  // namespace pg_ark

#endif

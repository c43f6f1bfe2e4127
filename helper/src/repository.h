/*
 * repository.h
 *     The repository's layout and its per-cluster registration.
 *
 *     <repo>/<cluster>/cluster.info                    JSON: system identifier, PostgreSQL version
 *     <repo>/<cluster>/wal/<timeline+log>/<segment>.ark  WAL segments, .partial and .backup files
 *     <repo>/<cluster>/wal/history/<tli>.history.ark   timeline history files
 *
 * Every object is in the stored-object format (stored_object.h). cluster.info is written once
 * by `pg_ark init` and only read afterwards.
 */
#ifndef PG_ARK_HELPER_REPOSITORY_H
#define PG_ARK_HELPER_REPOSITORY_H

#include <stdint.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "pg_files.h"
#include "storage.h"

namespace pg_ark {

struct ClusterInfo {
    std::string name;
    uint64_t system_identifier = 0;
    std::string pg_version;
};

class Repository {
  public:
    explicit Repository(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}

    Storage &storage() { return *storage_; }

    /*
     * Registers a cluster. Idempotent: registering the same system again succeeds (created is
     * false); a different system under the same name is ErrorKind::system_mismatch.
     */
    Result<bool> InitCluster(const std::string &name, const ClusterIdentity &identity);

    /* The registration, cached after the first read; not_initialized when there is none. */
    Result<ClusterInfo> LoadCluster(const std::string &name);

    /* Where a WAL file of that (validated) name is stored. */
    static Result<RepoPath> WalPath(const std::string &cluster, const std::string &wal_name);

  private:
    std::unique_ptr<Storage> storage_;
    std::mutex mutex_;
    std::map<std::string, ClusterInfo> cache_;  // guarded by mutex_
};

}  // namespace pg_ark

#endif

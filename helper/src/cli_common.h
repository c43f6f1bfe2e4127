/*
 * cli_common.h
 *     What every `pg_ark` command shares: how an error ends it, loading the configuration, and
 *     the refusal to run as root.
 */
#ifndef PG_ARK_HELPER_CLI_COMMON_H
#define PG_ARK_HELPER_CLI_COMMON_H

#include <memory>
#include <string>

#include "config.h"
#include "repository.h"
#include "status.h"

namespace pg_ark {

/* Prints "pg_ark: <message>" on stderr; returns the exit status of its kind. */
int Fail(const Status &status);

/* Loads the configuration and applies its log level. */
Result<Config> LoadAndApply(const std::string &path);

/*
 * The socket directory is 0700 and owned by the helper's user, and the repository is written by
 * it: PostgreSQL, which never runs as root, must be that user. A root helper would lock it out,
 * a root `init` would leave repository files the helper cannot write, and a root `restore` a
 * data directory owned by root, which PostgreSQL refuses.
 */
Status RefuseRoot(const char *command);

/* What a command on one registered cluster's repository works with. */
struct ClusterContext {
    Config config;
    ClusterConfig cluster;
    std::unique_ptr<Repository> repository;
    bool backup_running = false; /* the cluster's backup lock is held now */
};

/*
 * Loads the configuration and the cluster's section (invalid_argument when it has none), opens
 * the repository and checks the cluster is registered there.
 */
Result<ClusterContext> OpenCluster(const std::string &config_path, const std::string &cluster);

}  // namespace pg_ark

#endif

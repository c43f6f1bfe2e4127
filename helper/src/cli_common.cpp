/*
 * cli_common.cpp
 *     See cli_common.h.
 */
#include "cli_common.h"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "backup_lock.h"
#include "log.h"
#include "storage.h"
#include "storage_factory.h"

namespace pg_ark {

int Fail(const Status &status) {
    std::cerr << "pg_ark: " << status.message() << std::endl;
    return ErrorKindExitStatus(status.kind());
}

Result<Config> LoadAndApply(const std::string &path) {
    auto config = LoadConfig(path);
    if (!config.ok()) return config;
    SetLogLevel(config->log_level);
    return config;
}

Status RefuseRoot(const char *command) {
    if (geteuid() != 0) return Status::Ok();
    return Status(ErrorKind::invalid_argument,
                  fmt::format("pg_ark {} must not run as root; run it as the owner of the data "
                              "directories (usually postgres), e.g. runuser -u postgres -- pg_ark {}",
                              command, command));
}

Result<ClusterContext> OpenCluster(const std::string &config_path, const std::string &cluster) {
    ClusterContext context;
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return config.status();
    context.config = std::move(*config);
    auto section = context.config.Cluster(cluster);
    if (!section.ok()) return Status(ErrorKind::invalid_argument, section.status().message());
    context.cluster = **section;
    auto storage = OpenRepositoryStorage(context.config);
    if (!storage.ok()) return storage.status();
    context.repository = std::make_unique<Repository>(std::move(*storage));
    auto registered = context.repository->LoadCluster(cluster);
    if (!registered.ok()) return registered.status();
    auto running = BackupLock::IsHeld(context.config.LockDirectory(), cluster);
    if (!running.ok()) return running.status();
    context.backup_running = *running;
    return context;
}

}  // namespace pg_ark

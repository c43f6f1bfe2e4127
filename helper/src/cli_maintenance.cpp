/*
 * cli_maintenance.cpp
 *     See cli_maintenance.h.
 */
#include "cli_maintenance.h"

#include <fmt/format.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include <functional>
#include <iostream>

#include "cli_common.h"
#include "pause.h"
#include "repository.h"
#include "storage.h"
#include "storage_factory.h"

namespace pg_ark {

namespace {

std::string CurrentUser() {
    struct passwd *pw = getpwuid(geteuid());
    return pw != nullptr ? pw->pw_name : std::to_string(geteuid());
}

/* The repository of a configuration, and the cluster (when named) checked against it. */
int WithRepository(const std::string &config_path, const std::string &cluster, const char *command,
                   const std::function<int(Repository &)> &run) {
    Status refused = RefuseRoot(command);
    if (!refused.ok()) return Fail(refused);
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    if (!cluster.empty()) {
        auto section = config->Cluster(cluster);
        if (!section.ok()) return Fail(Status(ErrorKind::invalid_argument, section.status().message()));
    }
    auto storage = OpenRepositoryStorage(*config);
    if (!storage.ok()) return Fail(storage.status());
    Repository repository(std::move(*storage));
    if (!cluster.empty()) {
        auto registered = repository.LoadCluster(cluster);
        if (!registered.ok()) return Fail(registered.status());
    }
    return run(repository);
}

std::string Scope(const std::string &cluster) {
    return cluster.empty() ? "every cluster of the repository" : fmt::format("cluster \"{}\"", cluster);
}

}  // namespace

int RunStop(const std::string &config_path, const std::string &cluster) {
    return WithRepository(config_path, cluster, "stop", [&](Repository &repository) {
        auto created = Pause(repository, cluster, CurrentUser(), time(nullptr));
        if (!created.ok()) return Fail(created.status());
        std::cout << fmt::format("{} {}: new backups and expiry are refused until \"pg_ark start{}\"; "
                                 "WAL archiving continues",
                                 Scope(cluster), *created ? "paused" : "was already paused",
                                 cluster.empty() ? "" : " --cluster " + cluster)
                  << std::endl;
        return 0;
    });
}

int RunStart(const std::string &config_path, const std::string &cluster) {
    return WithRepository(config_path, cluster, "start", [&](Repository &repository) {
        auto removed = Resume(repository, cluster);
        if (!removed.ok()) return Fail(removed.status());
        std::cout << fmt::format("{} {}", Scope(cluster), *removed ? "resumed" : "was not paused")
                  << std::endl;
        if (!cluster.empty()) {
            /* The repository-wide pause still holds this cluster: say so. */
            auto state = PausedState(repository, cluster);
            if (state.ok() && state->has_value())
                std::cout << DescribePause(**state, cluster) << std::endl;
        }
        return 0;
    });
}

}  // namespace pg_ark

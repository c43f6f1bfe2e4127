/*
 * cli_expire.cpp
 *     See cli_expire.h.
 */
#include "cli_expire.h"

#include <fmt/format.h>
#include <time.h>

#include <iostream>

#include "cli_common.h"
#include "expire.h"
#include "repository.h"
#include "storage.h"
#include "storage_factory.h"

namespace pg_ark {

int RunExpire(const std::string &config_path, const std::string &cluster, bool dry_run) {
    Status refused = RefuseRoot("expire");
    if (!refused.ok()) return Fail(refused);
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    auto section = config->Cluster(cluster);
    if (!section.ok()) return Fail(Status(ErrorKind::invalid_argument, section.status().message()));

    auto storage = OpenRepositoryStorage(*config);
    if (!storage.ok()) return Fail(storage.status());
    Repository repository(std::move(*storage));
    ExpireOptions options;
    options.dry_run = dry_run;
    options.now = time(nullptr);
    /* Each line as soon as its item is gone: an interrupted run still shows what it did. */
    options.on_item = [dry_run](const ExpiredItem &item) {
        std::cout << FormatExpiredItem(item, dry_run) << std::endl;
        return Status::Ok();
    };
    auto report = Expire(repository, config->repo_path, **section, options);
    if (!report.ok()) return Fail(report.status());
    std::cout << SummarizeExpiry(*report) << std::endl;
    std::string kept;
    for (const std::string &id : report->kept) kept += (kept.empty() ? ": " : ", ") + id;
    std::cout << fmt::format("{} {} {} ({})", dry_run ? "would keep" : "kept",
                             report->kept.size(), report->kept.size() == 1 ? "backup" : "backups",
                             report->policy)
              << kept << std::endl;
    return 0;
}

}  // namespace pg_ark

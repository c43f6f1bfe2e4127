/*
 * command_service.cpp
 *     See command_service.h.
 */
#include "command_service.h"

#include <fmt/format.h>
#include <time.h>

#include "backup_lock.h"
#include "expire.h"
#include "pause.h"
#include "repository_checks.h"
#include "verify.h"

namespace pg_ark {

Status CommandService::CheckSystem(const wire::CommandRequest &request) {
    auto info = repository_->LoadCluster(request.cluster);
    if (!info.ok()) return info.status();
    if (info->system_identifier != request.system_identifier)
        return Status(ErrorKind::system_mismatch,
                      fmt::format("cluster \"{}\" is registered with system identifier {}, but the "
                                  "database asking has {}",
                                  request.cluster, info->system_identifier,
                                  request.system_identifier));
    return Status::Ok();
}

Status CommandService::Run(const wire::CommandRequest &request, const RowSink &emit,
                           std::string *reply_message) {
    auto cluster = config_.Cluster(request.cluster);
    if (!cluster.ok()) return cluster.status();
    switch (request.command) {
        case wire::Command::check: {
            auto running = BackupLock::IsHeld(config_.LockDirectory(), request.cluster);
            std::vector<CheckRow> rows = CheckRepository(*repository_, **cluster,
                                                         request.system_identifier,
                                                         running.ok() && *running, time(nullptr));
            size_t failed = 0;
            for (const CheckRow &row : rows) {
                failed += row.ok ? 0 : 1;
                PG_ARK_RETURN_IF_ERROR(emit({row.name, row.ok ? "true" : "false", row.detail}));
            }
            *reply_message = fmt::format("{} repository check(s), {} failed", rows.size(), failed);
            return Status::Ok();
        }
        case wire::Command::stop: {
            PG_ARK_RETURN_IF_ERROR(CheckSystem(request));
            auto created = Pause(*repository_, request.cluster, "backup_stop()", time(nullptr));
            if (!created.ok()) return created.status();
            *reply_message = fmt::format("cluster \"{}\" {}", request.cluster,
                                         *created ? "paused" : "was already paused");
            return Status::Ok();
        }
        case wire::Command::start: {
            PG_ARK_RETURN_IF_ERROR(CheckSystem(request));
            auto removed = Resume(*repository_, request.cluster);
            if (!removed.ok()) return removed.status();
            *reply_message = fmt::format("cluster \"{}\" {}", request.cluster,
                                         *removed ? "resumed" : "was not paused");
            return Status::Ok();
        }
        case wire::Command::verify: {
            PG_ARK_RETURN_IF_ERROR(CheckSystem(request));
            auto running = BackupLock::IsHeld(config_.LockDirectory(), request.cluster);
            if (!running.ok()) return running.status();
            auto report = VerifyRepository(*repository_, request.cluster, request.backup_id,
                                           (*cluster)->process_max, *running);
            if (!report.ok()) return report.status();
            for (const VerifyProblem &row : report->problems)
                PG_ARK_RETURN_IF_ERROR(emit({row.object, row.problem}));
            *reply_message = VerifySummary(*report);
            for (const BackupVerdict &verdict : report->backups)
                *reply_message += "\n" + DescribeVerdict(verdict);
            return Status::Ok();
        }
        case wire::Command::expire: {
            PG_ARK_RETURN_IF_ERROR(CheckSystem(request));
            ExpireOptions options;
            options.dry_run = (request.flags & wire::kCommandDryRun) != 0;
            options.now = time(nullptr);
            options.on_item = [&emit](const ExpiredItem &item) {
                return emit({item.kind, item.name, std::to_string(item.bytes), item.reason});
            };
            auto report = Expire(*repository_, config_.LockDirectory(), **cluster, options);
            if (!report.ok()) return report.status();
            *reply_message = SummarizeExpiry(*report);
            return Status::Ok();
        }
    }
    return Status(ErrorKind::invalid_argument,
                  fmt::format("this pg_ark helper cannot run \"{}\" yet",
                              wire::CommandName(request.command)));
}

}  // namespace pg_ark

/*
 * cli_verify.cpp
 *     See cli_verify.h.
 */
#include "cli_verify.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "backup_lock.h"
#include "catalog_format.h"
#include "cli_common.h"
#include "manifest.h"
#include "repository.h"

namespace pg_ark {

std::string FormatVerifyText(const VerifyReport &report) {
    std::string text;
    for (const VerifyProblem &row : report.problems)
        text += fmt::format("{}: {}\n", row.object, row.problem);
    for (const BackupVerdict &verdict : report.backups) text += DescribeVerdict(verdict) + "\n";
    if (report.backups.empty())
        text += fmt::format("no complete backups of cluster \"{}\"\n", report.cluster);
    text += VerifySummary(report) + "\n";
    return text;
}

std::string FormatVerifyJson(const VerifyReport &report) {
    nlohmann::ordered_json json;
    json["cluster"] = report.cluster;
    json["backup_id"] = report.backup_id.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(report.backup_id);
    json["ok"] = report.ok();
    json["problems"] = nlohmann::ordered_json::array();
    for (const VerifyProblem &row : report.problems)
        json["problems"].push_back({{"object", row.object}, {"problem", row.problem}});
    json["backups"] = nlohmann::ordered_json::array();
    for (const BackupVerdict &verdict : report.backups) {
        nlohmann::ordered_json backup;
        backup["id"] = verdict.id;
        backup["type"] = BackupTypeName(verdict.type);
        backup["parent"] = verdict.parent.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(verdict.parent);
        backup["ok"] = verdict.ok();
        backup["problems"] = verdict.problems;
        backup["objects"] = verdict.objects;
        backup["bytes"] = verdict.bytes;
        backup["wal_needed"] = {{"from", verdict.wal_start},
                                {"to", verdict.wal_stop},
                                {"checked", verdict.wal_checked},
                                {"ok", verdict.wal_needed_ok}};
        if (verdict.reachable_until.empty()) {
            backup["reachable_until"] = nullptr;
        } else {
            backup["reachable_until"] = {
                {"segment", verdict.reachable_until},
                {"timeline", verdict.reachable_timeline},
                {"stored_time", FormatTime(static_cast<int64_t>(verdict.reachable_stored_time))}};
        }
        json["backups"].push_back(backup);
    }
    json["wal"] = {{"segments", report.wal.segments},
                   {"other_files", report.wal.other},
                   {"bytes", report.wal.bytes},
                   {"segment_size", report.wal.segment_size},
                   {"problems", report.wal.problems}};
    json["summary"] = VerifySummary(report);
    return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

int RunVerify(const std::string &config_path, const std::string &cluster_name,
              const std::string &backup_id, bool json) {
    Status refused = RefuseRoot("verify");
    if (!refused.ok()) return Fail(refused);
    auto context = OpenCluster(config_path, cluster_name);
    if (!context.ok()) return Fail(context.status());
    auto report = VerifyRepository(*context->repository, cluster_name, backup_id,
                                   context->cluster.process_max, context->backup_running);
    if (!report.ok()) return Fail(report.status());
    std::cout << (json ? FormatVerifyJson(*report) : FormatVerifyText(*report)) << std::flush;
    return report->ok() ? 0 : ErrorKindExitStatus(ErrorKind::corrupt);
}

}  // namespace pg_ark

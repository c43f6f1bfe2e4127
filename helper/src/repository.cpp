/*
 * repository.cpp
 *     Cluster registration and repository paths. See repository.h for the layout.
 */
#include "repository.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "protocol.h"
#include "stored_object.h"
#include "wal_name.h"

namespace pg_ark {

namespace {

constexpr int kClusterInfoFormat = 1;

Status CheckClusterName(const std::string &name) {
    if (wire::IsValidClusterName(name.c_str())) return Status::Ok();
    return Status(ErrorKind::invalid_argument, fmt::format("invalid cluster name \"{}\"", name));
}

Result<RepoPath> ClusterInfoPath(const std::string &name) {
    PG_ARK_RETURN_IF_ERROR(CheckClusterName(name));
    return RepoPath::Make(name + "/cluster.info");
}

Result<ClusterInfo> ParseClusterInfo(const std::string &name, const std::string &text,
                                     const std::string &what) {
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded() || !json.is_object() || json.value("format", 0) != kClusterInfoFormat ||
        !json.contains("system-identifier") || !json["system-identifier"].is_string())
        return Status(ErrorKind::corrupt, fmt::format("\"{}\" is not a valid cluster registration", what));
    ClusterInfo info;
    info.name = name;
    try {
        info.system_identifier = std::stoull(json["system-identifier"].get<std::string>());
    } catch (const std::exception &) {
        return Status(ErrorKind::corrupt, fmt::format("\"{}\" holds an invalid system identifier", what));
    }
    info.pg_version = json.value("pg-version", "");
    return info;
}

}  // namespace

Result<ClusterInfo> Repository::LoadCluster(const std::string &name) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto cached = cache_.find(name);
        if (cached != cache_.end()) return cached->second;
    }
    auto path = ClusterInfoPath(name);
    if (!path.ok()) return path.status();
    auto text = ReadWholeObject(*storage_, *path);
    if (!text.ok()) {
        if (text.status().kind() == ErrorKind::not_found)
            return Status(ErrorKind::not_initialized,
                          fmt::format("cluster \"{}\" is not initialized in repository \"{}\"; run "
                                      "\"pg_ark init --cluster {}\"",
                                      name, storage_->Describe(), name));
        return text.status();
    }
    auto info = ParseClusterInfo(name, *text, storage_->Describe() + "/" + path->str());
    if (!info.ok()) return info.status();
    std::lock_guard<std::mutex> lock(mutex_);
    cache_[name] = *info;
    return *info;
}

Result<bool> Repository::InitCluster(const std::string &name, const ClusterIdentity &identity) {
    auto existing = LoadCluster(name);
    if (existing.ok()) {
        if (existing->system_identifier != identity.system_identifier)
            return Status(ErrorKind::system_mismatch,
                          fmt::format("cluster \"{}\" in repository \"{}\" belongs to system {}, but "
                                      "the data directory belongs to system {}",
                                      name, storage_->Describe(), existing->system_identifier,
                                      identity.system_identifier));
        return false;
    }
    if (existing.status().kind() != ErrorKind::not_initialized) return existing.status();

    nlohmann::json json = {{"format", kClusterInfoFormat},
                           {"cluster", name},
                           {"system-identifier", std::to_string(identity.system_identifier)},
                           {"pg-version", identity.pg_version}};
    std::string text = json.dump(2) + "\n";
    auto path = ClusterInfoPath(name);
    if (!path.ok()) return path.status();
    Status committed = WriteWholeObject(*storage_, *path, text, kUncompressed, WriteMode::create_new);
    if (committed.kind() == ErrorKind::conflict) {
        /* Another init won the race: succeed only if it registered the same system. */
        auto again = InitCluster(name, identity);
        if (!again.ok()) return again.status();
        return false;
    }
    PG_ARK_RETURN_IF_ERROR(committed);
    return true;
}

Result<RepoPath> Repository::WalPath(const std::string &cluster, const std::string &wal_name) {
    PG_ARK_RETURN_IF_ERROR(CheckClusterName(cluster));
    WalFileKind kind = ClassifyWalName(wal_name.c_str());
    if (kind == WalFileKind::invalid)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("\"{}\" is not a WAL file name", wal_name));
    std::string directory = kind == WalFileKind::history ? "history" : wal_name.substr(0, 16);
    return RepoPath::Make(fmt::format("{}/wal/{}/{}.ark", cluster, directory, wal_name));
}

}  // namespace pg_ark

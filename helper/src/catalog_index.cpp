/*
 * catalog_index.cpp
 *     Reading and writing the catalog index. See catalog_index.h.
 */
#include "catalog_index.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "manifest_json.h"
#include "stored_object.h"

namespace pg_ark {

namespace {

bool ParseBackupStatus(const nlohmann::json &json, BackupStatus *out) {
    for (BackupStatus status :
         {BackupStatus::running, BackupStatus::complete, BackupStatus::failed}) {
        if (json == BackupStatusName(status)) {
            *out = status;
            return true;
        }
    }
    return false;
}

Result<CatalogEntry> ParseEntry(const nlohmann::json &json, const std::string &cluster) {
    CatalogEntry entry;
    if (!json.is_object() || json.size() != 3 || !json.contains("backup") ||
        !ParseBackupStatus(json.value("status", nlohmann::json()), &entry.status) ||
        !json.value("error", nlohmann::json()).is_string())
        return Status(ErrorKind::corrupt, "malformed entry");
    auto metadata = MetadataFromJson(json["backup"]);
    if (!metadata.ok()) return metadata.status();
    if (metadata->cluster != cluster)
        return Status(ErrorKind::corrupt, "entry of cluster " + QuoteForMessage(metadata->cluster));
    entry.backup = std::move(*metadata);
    entry.error = json["error"].get<std::string>();
    return entry;
}

}  // namespace

Result<std::vector<CatalogEntry>> ReadCatalogIndex(Storage &storage, const RepoPath &path,
                                                   const std::string &cluster) {
    auto text = ReadWholeObject(storage, path);
    if (!text.ok()) return text.status();
    auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    auto corrupt = [&](const std::string &why) {
        return Status(ErrorKind::corrupt, fmt::format("invalid backup index \"{}/{}\": {}",
                                                      storage.Describe(), path.str(), why));
    };
    if (!json.is_array()) return corrupt("not a JSON array");
    std::vector<CatalogEntry> entries;
    for (size_t i = 0; i < json.size(); i++) {
        auto entry = ParseEntry(json[i], cluster);
        if (!entry.ok()) return corrupt(fmt::format("entry {}: {}", i, entry.status().message()));
        entries.push_back(std::move(*entry));
    }
    return entries;
}

Status WriteCatalogIndex(Storage &storage, const RepoPath &path,
                         const std::vector<CatalogEntry> &entries) {
    nlohmann::ordered_json json = nlohmann::ordered_json::array();
    for (const CatalogEntry &entry : entries)
        json.push_back({{"backup", MetadataToJson(entry.backup)},
                        {"status", BackupStatusName(entry.status)},
                        {"error", entry.error}});
    std::string text =
        json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    return WriteWholeObject(storage, path, text, kUncompressed, WriteMode::replace);
}

}  // namespace pg_ark

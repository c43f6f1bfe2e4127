/*
 * catalog_format.cpp
 *     Rendering catalog entries for people and scripts. See catalog_format.h.
 */
#include "catalog_format.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "manifest_json.h"

namespace pg_ark {

namespace {

constexpr char kNone[] = "-";

/* Labels and errors come from users and files: keep control characters out of the terminal. */
std::string Printable(const std::string &text) {
    std::string out = text;
    for (char &c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
}

bool Complete(const CatalogEntry &entry) { return entry.status == BackupStatus::complete; }

/* "1", or "1>2" for a complete backup that stopped on another timeline than it started on. */
std::string Timelines(const CatalogEntry &entry) {
    const BackupMetadata &m = entry.backup;
    if (!Complete(entry) || m.stop_timeline == 0 || m.stop_timeline == m.timeline)
        return std::to_string(m.timeline);
    return fmt::format("{}>{}", m.timeline, m.stop_timeline);
}

std::string CompressionText(const Compression &compression) {
    if (compression.type == CompressType::none) return CompressTypeName(compression.type);
    return fmt::format("{} level {}", CompressTypeName(compression.type), compression.level);
}

/* The metadata with its status after its type, and LSNs and the system identifier as text. */
nlohmann::ordered_json EntryToJson(const CatalogEntry &entry) {
    nlohmann::ordered_json metadata = MetadataToJson(entry.backup), json;
    for (const auto &item : metadata.items()) {
        json[item.key()] = item.value();
        if (item.key() != "type") continue;
        json["status"] = BackupStatusName(entry.status);
        json["error"] = entry.error;
    }
    json["start_lsn"] = FormatLsn(entry.backup.start_lsn);
    json["stop_lsn"] = FormatLsn(entry.backup.stop_lsn);
    json["system_identifier"] = std::to_string(entry.backup.system_identifier);
    return json;
}

std::string Dump(const nlohmann::ordered_json &json) {
    return json.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string FormatLsn(uint64_t lsn) {
    return fmt::format("{:X}/{:X}", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

std::string FormatTime(int64_t seconds) {
    time_t time = static_cast<time_t>(seconds);
    struct tm utc;
    char text[64];
    if (gmtime_r(&time, &utc) == nullptr ||
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &utc) == 0)
        return kNone;
    return text;
}

std::string FormatDuration(int64_t seconds) {
    if (seconds < 0) return kNone;
    int64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
    if (h > 0) return fmt::format("{}h{:02}m{:02}s", h, m, s);
    if (m > 0) return fmt::format("{}m{:02}s", m, s);
    return fmt::format("{}s", s);
}

std::string FormatBytes(uint64_t bytes) {
    static const char *const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return fmt::format("{} B", bytes);
    double value = static_cast<double>(bytes) / 1024;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        unit++;
    }
    return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string FormatBackupTable(const std::vector<CatalogEntry> &entries) {
    std::vector<std::vector<std::string>> rows = {{"ID", "TYPE", "PARENT", "STATUS", "START",
                                                   "DURATION", "START LSN", "STOP LSN", "TL",
                                                   "SIZE", "COPIED", "STORED", "LABEL"}};
    for (const CatalogEntry &entry : entries) {
        const BackupMetadata &m = entry.backup;
        auto ended = [&](const std::string &text) { return Complete(entry) ? text : kNone; };
        rows.push_back({m.id, BackupTypeName(m.type), m.parent.empty() ? kNone : m.parent,
                        BackupStatusName(entry.status),
                        FormatTime(m.start_time), ended(FormatDuration(m.stop_time - m.start_time)),
                        FormatLsn(m.start_lsn), ended(FormatLsn(m.stop_lsn)),
                        Timelines(entry), ended(FormatBytes(m.original_bytes)),
                        ended(FormatBytes(m.copied_bytes)), ended(FormatBytes(m.stored_bytes)),
                        Printable(m.label)});
    }
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto &row : rows)
        for (size_t i = 0; i < row.size(); i++) widths[i] = std::max(widths[i], row[i].size());
    std::string out;
    for (const auto &row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); i++)
            line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
        /* An empty last column would leave trailing blanks. */
        line.erase(line.find_last_not_of(' ') + 1);
        out += line + "\n";
    }
    return out;
}

std::string FormatBackupDetails(const CatalogEntry &entry) {
    const BackupMetadata &m = entry.backup;
    /* What only a complete backup knows. */
    auto ended = [&](const std::string &text) { return Complete(entry) ? text : kNone; };
    auto or_none = [](const std::string &text) { return text.empty() ? kNone : text; };
    auto bytes = [](uint64_t n) { return fmt::format("{} ({} bytes)", FormatBytes(n), n); };
    std::vector<std::pair<std::string, std::string>> lines = {
        {"id", m.id},
        {"type", BackupTypeName(m.type)},
        {"status", BackupStatusName(entry.status)},
    };
    if (!entry.error.empty()) lines.push_back({"error", Printable(entry.error)});
    lines.insert(
        lines.end(),
        {{"label", or_none(Printable(m.label))},
         {"parent", or_none(m.parent)},
         {"cluster", m.cluster},
         {"system identifier", std::to_string(m.system_identifier)},
         {"PostgreSQL version", or_none(m.pg_version)},
         {"start", FormatTime(m.start_time) + " UTC"},
         {"stop", ended(FormatTime(m.stop_time) + " UTC")},
         {"duration", ended(FormatDuration(m.stop_time - m.start_time))},
         {"start LSN", fmt::format("{} (timeline {})", FormatLsn(m.start_lsn), m.timeline)},
         {"stop LSN",
          ended(fmt::format("{} (timeline {})", FormatLsn(m.stop_lsn), m.stop_timeline))},
         {"WAL range", fmt::format("{} - {}", or_none(m.wal_start), or_none(m.wal_stop))},
         {"data checksums", m.data_checksums ? "on" : "off"},
         {"block size", std::to_string(m.block_size)},
         {"compression", CompressionText(m.compression)},
         {"part size", FormatBytes(m.part_size)},
         {"size", ended(bytes(m.original_bytes))},
         {"copied", ended(bytes(m.copied_bytes))},
         {"stored", ended(bytes(m.stored_bytes))},
         {"files", ended(std::to_string(m.file_count))},
         {"bad pages", ended(std::to_string(m.bad_page_count))}});
    if (m.type != BackupType::full)
        lines.insert(lines.end(),
                     {{"block files", ended(std::to_string(m.block_files))},
                      {"whole files", ended(std::to_string(m.whole_files))},
                      {"fallback", or_none(Printable(m.fallback))}});
    lines.push_back({"helper version", or_none(m.helper_version)});
    size_t width = 0;
    for (const auto &line : lines) width = std::max(width, line.first.size() + 1);
    std::string out;
    for (const auto &[key, value] : lines)
        out += fmt::format("{:<{}} {}\n", key + ":", width, value);
    return out;
}

std::string FormatBackupListJson(const std::vector<CatalogEntry> &entries) {
    nlohmann::ordered_json json = nlohmann::ordered_json::array();
    for (const CatalogEntry &entry : entries) json.push_back(EntryToJson(entry));
    return Dump(json);
}

std::string FormatBackupJson(const CatalogEntry &entry) { return Dump(EntryToJson(entry)); }

}  // namespace pg_ark

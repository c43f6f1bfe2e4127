/*
 * pause.cpp
 *     See pause.h.
 */
#include "pause.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "stored_object.h"

namespace pg_ark {

namespace {

constexpr const char *kMarker = "stop";

Result<RepoPath> MarkerPath(const std::string &cluster) {
    return RepoPath::Make(cluster.empty() ? kMarker : cluster + "/" + kMarker);
}

Result<std::optional<PauseState>> ReadMarker(Repository &repository, const std::string &cluster) {
    auto path = MarkerPath(cluster);
    if (!path.ok()) return path.status();
    auto text = ReadWholeObject(repository.storage(), *path);
    if (!text.ok()) {
        if (text.status().kind() == ErrorKind::not_found) return std::optional<PauseState>();
        return text.status();
    }
    PauseState state;
    state.all_clusters = cluster.empty();
    /* The marker's presence is the pause: a damaged one still pauses, with less to say. */
    try {
        auto json = nlohmann::json::parse(*text);
        state.since = json.value("since", int64_t{0});
        state.by = json.value("by", std::string());
    } catch (const nlohmann::json::exception &) {
    }
    return std::optional<PauseState>(state);
}

}  // namespace

Result<bool> Pause(Repository &repository, const std::string &cluster, const std::string &by,
                   int64_t now) {
    auto existing = ReadMarker(repository, cluster);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) return false;
    auto path = MarkerPath(cluster);
    if (!path.ok()) return path.status();
    nlohmann::json json = {{"since", now}, {"by", by}};
    Status written =
        WriteWholeObject(repository.storage(), *path, json.dump(), kUncompressed, WriteMode::create_new);
    if (!written.ok() && written.kind() == ErrorKind::conflict) return false; /* paused meanwhile */
    if (!written.ok()) return written;
    return true;
}

Result<bool> Resume(Repository &repository, const std::string &cluster) {
    auto path = MarkerPath(cluster);
    if (!path.ok()) return path.status();
    auto info = repository.storage().Info(*path);
    if (!info.ok()) return info.status();
    if (!info->exists) return false;
    PG_ARK_RETURN_IF_ERROR(repository.storage().Remove(*path));
    return true;
}

Result<std::optional<PauseState>> PausedState(Repository &repository, const std::string &cluster) {
    auto all = ReadMarker(repository, "");
    if (!all.ok() || all->has_value()) return all;
    return ReadMarker(repository, cluster);
}

std::string DescribePause(const PauseState &state, const std::string &cluster) {
    std::string since;
    if (state.since > 0) {
        time_t when = static_cast<time_t>(state.since);
        struct tm utc;
        gmtime_r(&when, &utc);
        char text[32];
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S+00", &utc);
        since = fmt::format(" since {}", text);
    }
    std::string by = state.by.empty() ? "" : fmt::format(" by {}", state.by);
    if (state.all_clusters)
        return fmt::format("every cluster of the repository is paused by \"pg_ark stop\"{}{}; run "
                           "\"pg_ark start\" to resume",
                           since, by);
    return fmt::format("cluster \"{}\" is paused by \"pg_ark stop --cluster {}\"{}{}; run \"pg_ark "
                       "start --cluster {}\" to resume",
                       cluster, cluster, since, by, cluster);
}

Status RefuseIfPaused(Repository &repository, const std::string &cluster, const std::string &what) {
    auto state = PausedState(repository, cluster);
    if (!state.ok()) return state.status();
    if (!state->has_value()) return Status::Ok();
    return Status(ErrorKind::conflict,
                  fmt::format("{} refused: {}", what, DescribePause(**state, cluster)));
}

}  // namespace pg_ark

/*
 * pause.h
 *     `pg_ark stop` / `pg_ark start` (pgBackRest's stop and start): pausing new backups and
 *     expiry of one cluster, or of every cluster of a repository, while WAL archiving goes on.
 *
 *     <repo>/stop              every cluster is paused
 *     <repo>/<cluster>/stop    that cluster is paused
 *
 * Each is a small stored object (JSON: when, by whom) written durably; its presence is the pause.
 * A backup already running is not stopped (cancel it with backup_cancel()). Starting removes the
 * marker; starting what is not paused is fine.
 */
#ifndef PG_ARK_HELPER_PAUSE_H
#define PG_ARK_HELPER_PAUSE_H

#include <stdint.h>

#include <optional>
#include <string>

#include "repository.h"
#include "status.h"

namespace pg_ark {

struct PauseState {
    bool all_clusters = false; /* the repository-wide marker (else the cluster's own) */
    int64_t since = 0;         /* seconds since the epoch */
    std::string by;            /* OS user that paused */
};

/* cluster empty: every cluster. created false when it was paused already (the marker stays). */
Result<bool> Pause(Repository &repository, const std::string &cluster, const std::string &by,
                   int64_t now);
/* cluster empty: the repository-wide marker only. Returns whether a marker was removed. */
Result<bool> Resume(Repository &repository, const std::string &cluster);

/* What pauses this cluster, if anything (the repository-wide marker first). */
Result<std::optional<PauseState>> PausedState(Repository &repository, const std::string &cluster);

/* ErrorKind::conflict when paused, naming what cannot run ("backups", "expiry") and how to
 * resume. */
Status RefuseIfPaused(Repository &repository, const std::string &cluster, const std::string &what);

std::string DescribePause(const PauseState &state, const std::string &cluster);

}  // namespace pg_ark

#endif

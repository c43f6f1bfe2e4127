/*
 * cli_check.h
 *     `pg_ark check --cluster NAME [--wal-timeout S] [--json]`: one line per check, as
 *     backup_check() returns them (see cli_check.cpp for how it gets them).
 */
#ifndef PG_ARK_HELPER_CLI_CHECK_H
#define PG_ARK_HELPER_CLI_CHECK_H

#include <string>

namespace pg_ark {

/* The exit status when the checks ran and at least one failed. */
constexpr int kCheckFailedExitStatus = 1;

int RunCheck(const std::string &config_path, const std::string &cluster, int wal_timeout_seconds,
             bool json);

}  // namespace pg_ark

#endif

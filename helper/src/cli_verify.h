/*
 * cli_verify.h
 *     `pg_ark verify`: re-reads a cluster's backups and WAL (verify.h) and prints every problem,
 *     then a line per backup and a summary; or all of it as JSON. Needs no daemon.
 *
 * Exit status 0 when nothing is wrong, 7 (ErrorKind::corrupt) when any problem was found: a
 * monitoring script must not be able to mistake a damaged repository for a healthy one. Errors
 * that prevent verifying at all exit with their own kind's status.
 */
#ifndef PG_ARK_HELPER_CLI_VERIFY_H
#define PG_ARK_HELPER_CLI_VERIFY_H

#include <string>

#include "verify.h"

namespace pg_ark {

int RunVerify(const std::string &config_path, const std::string &cluster,
              const std::string &backup_id, bool json);

/* The human report: problems, one line each, then one line per backup, then the summary. */
std::string FormatVerifyText(const VerifyReport &report);
std::string FormatVerifyJson(const VerifyReport &report);

}  // namespace pg_ark

#endif

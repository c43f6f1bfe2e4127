/*
 * cli_expire.h
 *     `pg_ark expire --cluster NAME [--dry-run]`: retention on demand (expire.h). Prints one
 *     line per backup or WAL file removed (or, with --dry-run, that would be) and a total.
 */
#ifndef PG_ARK_HELPER_CLI_EXPIRE_H
#define PG_ARK_HELPER_CLI_EXPIRE_H

#include <string>

namespace pg_ark {

/* Exit status 0 also when there is nothing to expire. */
int RunExpire(const std::string &config_path, const std::string &cluster, bool dry_run);

}  // namespace pg_ark

#endif

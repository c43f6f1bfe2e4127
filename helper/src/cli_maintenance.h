/*
 * cli_maintenance.h
 *     The maintenance commands of `pg_ark`: stop and start (pause.h) and check. They work on the
 *     repository directly and need no daemon.
 */
#ifndef PG_ARK_HELPER_CLI_MAINTENANCE_H
#define PG_ARK_HELPER_CLI_MAINTENANCE_H

#include <string>

namespace pg_ark {

/* cluster empty: every cluster of the repository. Exit status 0 also when already so. */
int RunStop(const std::string &config_path, const std::string &cluster);
int RunStart(const std::string &config_path, const std::string &cluster);

}  // namespace pg_ark

#endif

/*
 * cli_common.h
 *     What every `pg_ark` command shares: how an error ends it, loading the configuration, and
 *     the refusal to run as root.
 */
#ifndef PG_ARK_HELPER_CLI_COMMON_H
#define PG_ARK_HELPER_CLI_COMMON_H

#include <string>

#include "config.h"
#include "status.h"

namespace pg_ark {

/* Prints "pg_ark: <message>" on stderr; returns the exit status of its kind. */
int Fail(const Status &status);

/* Loads the configuration and applies its log level. */
Result<Config> LoadAndApply(const std::string &path);

/*
 * The socket directory is 0700 and owned by the helper's user, and the repository is written by
 * it: PostgreSQL, which never runs as root, must be that user. A root helper would lock it out,
 * a root `init` would leave repository files the helper cannot write, and a root `restore` a
 * data directory owned by root, which PostgreSQL refuses.
 */
Status RefuseRoot(const char *command);

}  // namespace pg_ark

#endif

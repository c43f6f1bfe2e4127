/*
 * cli_repo_key.h
 *     `pg_ark repo-key change`: a new passphrase for an encrypted repository (see repo_key.h).
 */
#ifndef PG_ARK_HELPER_CLI_REPO_KEY_H
#define PG_ARK_HELPER_CLI_REPO_KEY_H

#include <string>

namespace pg_ark {

/*
 * Re-seals the repository key under the passphrase in new_pass_file (a file, never an argument:
 * ps would show it), which must not be accessible to other users. Returns the exit status.
 */
int RunRepoKeyChange(const std::string &config_path, const std::string &new_pass_file);

}  // namespace pg_ark

#endif

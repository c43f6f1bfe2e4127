/*
 * recovery_settings.h
 *     What `pg_ark restore` writes so that starting PostgreSQL recovers from the repository:
 *     recovery.signal, and a restore_command calling `pg_ark archive-get` in
 *     postgresql.auto.conf.
 *
 * restore_command passes through three interpreters, each with its own quoting; innermost
 * first: the shell that runs it (arguments single-quoted, ' written '\''), PostgreSQL's %
 * substitution (a literal % written %%), and the configuration file parser (the value
 * single-quoted with ' and \ doubled, as ALTER SYSTEM writes them). A newline survives none of
 * them, so paths holding one are refused.
 *
 * Earlier settings that would change what recovery does (restore_command, recovery_end_command,
 * recovery_target*) and blocks written by an earlier restore are removed from
 * postgresql.auto.conf rather than overridden, so the file of a cluster restored again and again
 * holds one block, and ALTER SYSTEM later sees one value.
 */
#ifndef PG_ARK_HELPER_RECOVERY_SETTINGS_H
#define PG_ARK_HELPER_RECOVERY_SETTINGS_H

#include <string>
#include <vector>

#include "status.h"
#include "target_dir.h"

namespace pg_ark {

/* One shell word: unchanged when it holds only safe characters, else single-quoted. */
std::string ShellQuote(const std::string &text);

/*
 * The restore_command line, before configuration-file quoting:
 *     <binary> archive-get --config <config> --cluster <cluster> %f "%p"
 * invalid_argument when a path holds a newline.
 */
Result<std::string> MakeRestoreCommand(const std::string &pg_ark_binary,
                                       const std::string &config_path, const std::string &cluster);

/* A configuration-file string literal: 'text' with ' and \ doubled. */
std::string ConfQuote(const std::string &text);

/* postgresql.auto.conf's new text: existing (may be empty) without earlier recovery settings
 * (and lines setting what target_lines set), then the block "# added by pg_ark restore of
 * backup <id>", restore_command and target_lines (recovery_target* settings, recovery_target.h;
 * primary_conninfo for a standby). */
std::string RewriteAutoConf(const std::string &existing, const std::string &backup_id,
                            const std::string &restore_command,
                            const std::vector<std::string> &target_lines = {});

/*
 * Writes recovery.signal (standby: standby.signal), empty, and postgresql.auto.conf (rewritten
 * from the restored one, or new) in the data directory, each durable before this returns;
 * postgresql.auto.conf is replaced atomically (temporary file, fsync, rename, directory fsync)
 * and keeps its mode. target_lines replace earlier lines setting the same parameters.
 */
Status WriteRecoverySettings(const TargetDir &pgdata, const std::string &backup_id,
                             const std::string &restore_command,
                             const std::vector<std::string> &target_lines = {},
                             bool standby = false);

}  // namespace pg_ark

#endif

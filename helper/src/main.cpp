/*
 * main.cpp
 *     The pg_ark command line: `server` (the daemon) and the commands that work directly on the
 *     repository with no daemon running (init, archive-get, list, info, restore).
 *
 * Exit statuses come from the shared error table (common/error_kind.h), except archive-get,
 * whose statuses follow restore_command's contract (see RunArchiveGet).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <iostream>

#include "backup_lock.h"
#include "catalog.h"
#include "catalog_format.h"
#include "cli_check.h"
#include "cli_common.h"
#include "cli_expire.h"
#include "cli_maintenance.h"
#include "cli_repo_key.h"
#include "cli_verify.h"
#include "config.h"
#include "log.h"
#include "repository.h"
#include "restore.h"
#include "repository_encryption.h"
#include "server.h"
#include "storage_factory.h"
#include "wal_fetch_ahead.h"
#include "wal_store.h"

namespace pg_ark {

namespace {

/* restore_command: 1 tells PostgreSQL "not archived"; > 125 makes recovery stop (FATAL). */
constexpr int kArchiveGetMissing = 1;
constexpr int kArchiveGetFailed = 126;

Status MakeDirectoryTree(const std::string &path) {
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        if (mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST)
            return ErrnoStatus(errno, fmt::format("could not create directory \"{}\"", prefix));
        if (slash == std::string::npos) return Status::Ok();
    }
}

int RunServer(const std::string &config_path) {
    Status refused = RefuseRoot("server");
    if (!refused.ok()) return Fail(refused);
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    if (!config->log_path.empty() && !SetLogFile(config->log_path))
        return Fail(ErrnoStatus(errno, fmt::format("could not open log file \"{}\"", config->log_path)));
    Log(LogLevel::info, "pg_ark {} server starting with configuration \"{}\"", PG_ARK_VERSION,
        config_path);
    Status status = RunServerUntilSignalled(std::move(*config));
    if (!status.ok()) {
        Log(LogLevel::error, "{}", status.message());
        return ErrorKindExitStatus(status.kind());
    }
    return 0;
}

int RunInit(const std::string &config_path, const std::string &cluster_name) {
    Status refused = RefuseRoot("init");
    if (!refused.ok()) return Fail(refused);
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    auto cluster = config->Cluster(cluster_name);
    if (!cluster.ok()) return Fail(Status(ErrorKind::invalid_argument, cluster.status().message()));
    auto identity = ReadClusterIdentity((*cluster)->pgdata);
    if (!identity.ok()) return Fail(identity.status());
    if (config->repo_type == RepoType::posix) {
        Status made = MakeDirectoryTree(config->repo_path);
        if (!made.ok()) return Fail(made);
    }
    /* Encryption is decided here, once: repo.key is created before any other object. */
    auto raw = OpenRawRepositoryStorage(*config);
    if (!raw.ok()) return Fail(raw.status());
    auto key_created = InitRepositoryEncryption(**raw, *config);
    if (!key_created.ok()) return Fail(key_created.status());
    if (*key_created)
        std::cout << fmt::format("created the repository key \"{}/{}\" (AES-256-GCM; keep "
                                 "repo-cipher-pass safe: without it nothing can be restored)",
                                 (*raw)->Describe(), kRepositoryKeyName)
                  << std::endl;
    auto storage = OpenRepositoryStorage(*config);
    if (!storage.ok()) return Fail(storage.status());
    Repository repository(std::move(*storage));
    auto created = repository.InitCluster(cluster_name, *identity);
    if (!created.ok()) return Fail(created.status());
    std::cout << fmt::format("cluster \"{}\" {} in repository \"{}\" (system identifier {}, "
                             "PostgreSQL {})",
                             cluster_name, *created ? "initialized" : "was already initialized",
                             config->RepositoryName(), identity->system_identifier, identity->pg_version)
              << std::endl;
    return 0;
}

/*
 * Called by PostgreSQL as restore_command. Anything but "the repository does not have it" is a
 * loud failure that stops recovery: treating an unreadable or corrupt file as missing would let
 * PostgreSQL end recovery early and promote without the rest of the WAL.
 */
int RunArchiveGet(const std::string &config_path, const std::string &cluster_name,
                  const std::string &wal_name, const std::string &destination) {
    /* Fetched ahead by an earlier call: no need to open the configuration or the repository. */
    auto taken = TakeFetchedAhead(wal_name, destination);
    if (!taken.ok()) {
        std::cerr << "pg_ark: could not restore WAL file \"" << wal_name << "\": " << taken.status().message()
                  << std::endl;
        return kArchiveGetFailed;
    }
    if (*taken) {
        Log(LogLevel::debug, "restored \"{}\" to \"{}\" (fetched ahead)", wal_name, destination);
        return 0;
    }
    auto config = LoadAndApply(config_path);
    if (!config.ok()) {
        std::cerr << "pg_ark: " << config.status().message() << std::endl;
        return kArchiveGetFailed;
    }
    auto cluster = config->Cluster(cluster_name);
    if (!cluster.ok()) {
        std::cerr << "pg_ark: " << cluster.status().message() << std::endl;
        return kArchiveGetFailed;
    }
    auto storage = OpenRepositoryStorage(*config);
    if (!storage.ok()) {
        std::cerr << "pg_ark: " << storage.status().message() << std::endl;
        return kArchiveGetFailed;
    }
    Repository repository(std::move(*storage));
    WalStore store(&repository);
    std::string served;
    Status status = store.Get(cluster_name, wal_name, destination, &served);
    if (status.ok()) {
        /* At info: the server log then shows why recovery on that timeline ends mid-segment. */
        if (served != wal_name)
            Log(LogLevel::info, "restored WAL file \"{}\" from its partial copy \"{}\" (no full "
                "segment of that name is archived)", wal_name, served);
        else
            Log(LogLevel::debug, "restored \"{}\" to \"{}\"", wal_name, destination);
        if (served == wal_name && config->archive_get_ahead > 0) {
            /* Only a head start: whatever goes wrong here must not fail this call. */
            try {
                int spooled = FetchAhead(store, cluster_name, wal_name, destination,
                                         config->archive_get_ahead, (*cluster)->process_max);
                Log(LogLevel::debug, "fetched {} WAL files ahead of \"{}\"", spooled, wal_name);
            } catch (const std::exception &error) {
                Log(LogLevel::debug, "could not fetch WAL ahead of \"{}\": {}", wal_name, error.what());
            }
        }
        return 0;
    }
    if (status.kind() == ErrorKind::not_found) {
        Log(LogLevel::debug, "{}", status.message());
        return kArchiveGetMissing;
    }
    std::cerr << "pg_ark: could not restore WAL file \"" << wal_name << "\": " << status.message()
              << std::endl;
    return kArchiveGetFailed;
}

/*
 * list and info read the catalog of a registered cluster. They need no daemon: whether a backup
 * is running is what the backup lock says right now.
 */
int WithCatalog(const std::string &config_path, const std::string &cluster_name,
                const std::function<int(Catalog &, bool backup_running)> &run) {
    auto context = OpenCluster(config_path, cluster_name);
    if (!context.ok()) return Fail(context.status());
    Catalog catalog(context->repository.get(), cluster_name);
    return run(catalog, context->backup_running);
}

int RunList(const std::string &config_path, const std::string &cluster_name, bool json) {
    return WithCatalog(config_path, cluster_name, [&](Catalog &catalog, bool backup_running) {
        auto entries = catalog.List(backup_running);
        if (!entries.ok()) return Fail(entries.status());
        if (json)
            std::cout << FormatBackupListJson(*entries);
        else if (entries->empty())
            std::cout << fmt::format("no backups of cluster \"{}\"", cluster_name) << std::endl;
        else
            std::cout << FormatBackupTable(*entries);
        return 0;
    });
}

int RunInfo(const std::string &config_path, const std::string &cluster_name,
            const std::string &backup_id, bool json) {
    return WithCatalog(config_path, cluster_name, [&](Catalog &catalog, bool backup_running) {
        auto entry = catalog.Get(backup_id, backup_running);
        if (!entry.ok()) return Fail(entry.status());
        std::cout << (json ? FormatBackupJson(*entry) : FormatBackupDetails(*entry));
        return 0;
    });
}

struct RestoreArguments {
    std::string pgdata;
    std::string set;
    std::vector<std::string> tablespace_map; /* "OLD=NEW" */
    int process_max = 0;                     /* 0: the configuration's */
    RecoveryTargetArguments target;
    bool standby = false;
    std::string primary_conninfo;
    bool delta = false;
};

Result<std::string> RealPath(const std::string &path) {
    std::unique_ptr<char, decltype(&free)> resolved(realpath(path.c_str(), nullptr), &free);
    if (!resolved) return ErrnoStatus(errno, fmt::format("could not resolve \"{}\"", path));
    return std::string(resolved.get());
}

int RunRestore(const std::string &config_path, const std::string &cluster_name,
               const RestoreArguments &arguments) {
    Status refused = RefuseRoot("restore");
    if (!refused.ok()) return Fail(refused);
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    auto cluster = config->Cluster(cluster_name);
    if (!cluster.ok()) return Fail(Status(ErrorKind::invalid_argument, cluster.status().message()));

    RestoreOptions options;
    /* Absolute paths, since restore_command runs wherever PostgreSQL runs it. */
    auto config_real = RealPath(config_path);
    if (!config_real.ok()) return Fail(config_real.status());
    auto binary = RealPath("/proc/self/exe");
    if (!binary.ok()) return Fail(binary.status());
    options.config_path = *config_real;
    options.pg_ark_binary = *binary;
    options.cluster = cluster_name;
    options.pgdata = arguments.pgdata;
    options.set = arguments.set;
    auto target = ParseRecoveryTarget(arguments.target);
    if (!target.ok()) return Fail(target.status());
    options.target = *target;
    options.standby = arguments.standby;
    options.primary_conninfo = arguments.primary_conninfo;
    if (!options.primary_conninfo.empty() && !options.standby)
        return Fail(Status(ErrorKind::invalid_argument, "--primary-conninfo needs --standby"));
    if (options.primary_conninfo.find_first_of("\n\r") != std::string::npos)
        return Fail(Status(ErrorKind::invalid_argument,
                           "--primary-conninfo must not hold a line break"));
    for (const std::string &item : arguments.tablespace_map) {
        /* Split at the first '=': an old location holding one cannot be named. */
        size_t equals = item.find('=');
        if (equals == std::string::npos || equals == 0 || equals + 1 == item.size())
            return Fail(Status(ErrorKind::invalid_argument,
                               fmt::format("--tablespace-map \"{}\": expected OLD=NEW", item)));
        std::string from = item.substr(0, equals);
        if (!options.tablespace_map.emplace(from, item.substr(equals + 1)).second)
            return Fail(Status(ErrorKind::invalid_argument,
                               fmt::format("--tablespace-map names \"{}\" twice", from)));
    }
    options.workers = arguments.process_max > 0 ? arguments.process_max : (*cluster)->process_max;
    options.progress = isatty(STDERR_FILENO) == 1;
    options.delta = arguments.delta;

    options.lock_directory = config->LockDirectory();
    auto storage = OpenRepositoryStorage(*config);
    if (!storage.ok()) return Fail(storage.status());
    Repository repository(std::move(*storage));
    auto start = std::chrono::steady_clock::now();
    auto result = Restore(repository, options);
    if (!result.ok()) return Fail(result.status());
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::cout << fmt::format("restored backup {} into \"{}\": {} files, {} bytes, {:.1f} s",
                             result->backup_id, options.pgdata, result->files, result->bytes,
                             elapsed.count())
              << std::endl;
    if (options.delta)
        std::cout << fmt::format("delta: rewrote {} of {} files ({} bytes written), removed {} "
                                 "files the backup does not have ({} bytes)",
                                 result->files_rewritten,
                                 result->files_rewritten + result->files_unchanged,
                                 result->bytes_rewritten, result->files_removed,
                                 result->bytes_removed)
                  << std::endl;
    return 0;
}

}  // namespace

int Main(int argc, char **argv) {
    CLI::App app{"pg_ark: PostgreSQL backup and recovery helper"};
    app.require_subcommand(1);
    std::string config_path = kDefaultConfigPath;
    std::string cluster;

    auto *server = app.add_subcommand("server", "Run the helper daemon on its Unix socket");
    server->add_option("--config", config_path, "Configuration file")->capture_default_str();

    auto *init = app.add_subcommand("init", "Register a cluster in the repository (idempotent)");
    init->add_option("--config", config_path, "Configuration file")->capture_default_str();
    init->add_option("--cluster", cluster, "Cluster section name")->required();

    std::string wal_name, destination;
    auto *archive_get = app.add_subcommand(
        "archive-get", "Restore one WAL file (restore_command: archive-get ... %f %p)");
    archive_get->add_option("--config", config_path, "Configuration file")->capture_default_str();
    archive_get->add_option("--cluster", cluster, "Cluster section name")->required();
    archive_get->add_option("wal-file", wal_name, "WAL file name (%f)")->required();
    archive_get->add_option("destination", destination, "Path to write it to (%p)")->required();

    bool json = false;
    auto *list = app.add_subcommand("list", "List the backups of a cluster");
    list->add_option("--config", config_path, "Configuration file")->capture_default_str();
    list->add_option("--cluster", cluster, "Cluster section name")->required();
    list->add_flag("--json", json, "Print JSON");

    std::string backup_id;
    auto *info = app.add_subcommand("info", "Show one backup of a cluster");
    info->add_option("--config", config_path, "Configuration file")->capture_default_str();
    info->add_option("--cluster", cluster, "Cluster section name")->required();
    info->add_option("id", backup_id, "Backup id")->required();
    info->add_flag("--json", json, "Print JSON");

    RestoreArguments restore_arguments;
    auto *restore = app.add_subcommand(
        "restore", "Rebuild a data directory from a backup, ready to recover from the archive");
    restore->add_option("--config", config_path, "Configuration file")->capture_default_str();
    restore->add_option("--cluster", cluster, "Cluster section name")->required();
    restore->add_option("--pgdata", restore_arguments.pgdata,
                        "Directory to restore into (absent or empty)")
        ->required();
    restore->add_option("--set", restore_arguments.set, "Backup id (default: the newest complete)");
    restore->add_option("--tablespace-map", restore_arguments.tablespace_map,
                        "OLD=NEW: restore the tablespace at OLD to NEW (repeatable)")
        ->allow_extra_args(false);
    restore->add_option("--process-max", restore_arguments.process_max,
                        "Parallel workers (default: the configuration's process-max)")
        ->check(CLI::Range(1, kMaxProcessMax));
    RecoveryTargetArguments &target = restore_arguments.target;
    restore->add_option("--target-time", target.time,
                        "Stop recovery at this time (YYYY-MM-DD HH:MM:SS+ZZ)");
    restore->add_option("--target-xid", target.xid, "Stop recovery at this transaction");
    restore->add_option("--target-lsn", target.lsn, "Stop recovery at this LSN");
    restore->add_option("--target-name", target.name,
                        "Stop recovery at this restore point (pg_create_restore_point)");
    restore->add_flag("--target-immediate", target.immediate,
                      "Stop recovery as soon as the backup is consistent");
    restore->add_flag("--target-exclusive", target.exclusive,
                      "Stop just before the target time, xid or LSN instead of just after");
    restore->add_option("--target-action", target.action,
                        "At the target: pause (PostgreSQL's default), promote or shutdown");
    restore->add_option("--target-timeline", target.timeline,
                        "Timeline to follow: latest (default), current or a number");
    restore->add_flag("--standby", restore_arguments.standby,
                      "Start as a standby (standby.signal) instead of recovering and promoting");
    restore->add_flag("--delta", restore_arguments.delta,
                      "Restore into an existing data directory of a stopped server, writing only "
                      "what differs and removing what the backup does not have");
    restore->add_option("--primary-conninfo", restore_arguments.primary_conninfo,
                        "With --standby: the connection string to stream from the primary");

    auto *stop = app.add_subcommand(
        "stop", "Pause new backups and expiry (of one cluster, or all); WAL archiving continues");
    stop->add_option("--config", config_path, "Configuration file")->capture_default_str();
    stop->add_option("--cluster", cluster, "Cluster section name (default: every cluster)");
    auto *start = app.add_subcommand("start", "Lift a pause set by stop");
    start->add_option("--config", config_path, "Configuration file")->capture_default_str();
    start->add_option("--cluster", cluster, "Cluster section name (default: the repository-wide pause)");

    int wal_timeout = 60;
    auto *check = app.add_subcommand("check", "Check the configuration, archiving and repository");
    check->add_option("--config", config_path, "Configuration file")->capture_default_str();
    check->add_option("--cluster", cluster, "Cluster section name")->required();
    check->add_option("--wal-timeout", wal_timeout, "Seconds to wait for a forced WAL switch to be archived")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
    check->add_flag("--json", json, "Print JSON");

    std::string verify_set;
    auto *verify = app.add_subcommand(
        "verify", "Re-read every stored backup object and WAL file; report damage and WAL gaps");
    verify->add_option("--config", config_path, "Configuration file")->capture_default_str();
    verify->add_option("--cluster", cluster, "Cluster section name")->required();
    verify->add_option("--set", verify_set, "One backup (and its chain) instead of everything");
    verify->add_flag("--json", json, "Print JSON");

    bool dry_run = false;
    auto *expire = app.add_subcommand(
        "expire", "Remove the backups and WAL the retention policy no longer keeps");
    expire->add_option("--config", config_path, "Configuration file")->capture_default_str();
    expire->add_option("--cluster", cluster, "Cluster section name")->required();
    expire->add_flag("--dry-run", dry_run, "Report what would be removed; remove nothing");

    std::string new_pass_file;
    auto *repo_key = app.add_subcommand("repo-key", "Manage the key of an encrypted repository");
    repo_key->require_subcommand(1);
    auto *repo_key_change = repo_key->add_subcommand(
        "change", "Seal the repository key with a new passphrase (no data is rewritten)");
    repo_key_change->add_option("--config", config_path, "Configuration file")->capture_default_str();
    repo_key_change->add_option("--new-pass-file", new_pass_file,
                                "File holding the new passphrase on its first line (mode 0600)")
        ->required();

    auto *version = app.add_subcommand("version", "Print the version");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        int rc = app.exit(e);
        /* archive-get's caller is PostgreSQL: a usage error must stop recovery, not end it. */
        if (rc != 0 && archive_get->parsed()) return kArchiveGetFailed;
        return rc == 0 ? 0 : ErrorKindExitStatus(ErrorKind::invalid_argument);
    }

    if (server->parsed()) return RunServer(config_path);
    if (init->parsed()) return RunInit(config_path, cluster);
    if (archive_get->parsed()) return RunArchiveGet(config_path, cluster, wal_name, destination);
    if (list->parsed()) return RunList(config_path, cluster, json);
    if (info->parsed()) return RunInfo(config_path, cluster, backup_id, json);
    if (restore->parsed()) return RunRestore(config_path, cluster, restore_arguments);
    if (check->parsed()) return RunCheck(config_path, cluster, wal_timeout, json);
    if (stop->parsed()) return RunStop(config_path, cluster);
    if (start->parsed()) return RunStart(config_path, cluster);
    if (verify->parsed()) return RunVerify(config_path, cluster, verify_set, json);
    if (expire->parsed()) return RunExpire(config_path, cluster, dry_run);
    if (repo_key_change->parsed()) return RunRepoKeyChange(config_path, new_pass_file);
    if (version->parsed()) {
        std::cout << "pg_ark " << PG_ARK_VERSION << std::endl;
        return 0;
    }
    return ErrorKindExitStatus(ErrorKind::invalid_argument);
}

}  // namespace pg_ark

int main(int argc, char **argv) { return pg_ark::Main(argc, argv); }

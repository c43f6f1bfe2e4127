/*
 * config.h
 *     The helper's INI configuration: a [global] section and one section per PostgreSQL cluster.
 *
 *     [global]
 *     repo-path = /var/lib/pg_ark
 *     socket-path = /run/pg_ark/pg_ark.sock
 *     # zstd | none; level 1..19
 *     compress-type = zstd
 *     compress-level = 1
 *     # error | warn | info | debug
 *     log-level = info
 *     # optional; stderr when unset
 *     log-path = /var/log/pg_ark.log
 *     # threads storing .ready WAL ahead of the archiver (0..32, 0 = off; default: CPUs)
 *     archive-ahead-workers = 2
 *     # parallel workers of backup and restore (1..64, default 2); --process-max overrides
 *     process-max = 2
 *     # retention (see Retention), and how old the newest backup may be before check fails
 *     retention-full = 2
 *     retention-diff = 4
 *     retention-window = 14d
 *     backup-max-age = 26h
 *     # seconds a backup waits for the WAL it needs to be archived (1..86400, default 60)
 *     archive-timeout = 60
 *     # encryption at rest (see encrypted_storage.h, repo_key.h): none | aes-256-gcm, chosen
 *     # when the repository is created; the passphrase opens the repository key
 *     repo-cipher-type = aes-256-gcm
 *     repo-cipher-pass = <a long random passphrase>
 *     # optional: more users the peer-credential check admits (they must also be able to
 *     # reach the 0700 socket directory, so in practice: root)
 *     allowed-users = backup,1001
 *
 *     # posix (default) | s3: see docs/s3.md for the repo-s3-* keys
 *     repo-type = posix
 *     # where backup locks live when the repository is not a local directory (default /tmp/pg_ark)
 *     lock-path = /tmp/pg_ark
 *
 *     [main]
 *     pgdata = /var/lib/postgresql/15/main
 *     # the database holding the extension, for pg_ark check (default postgres)
 *     pg-database = postgres
 *     # compress-type, compress-level, process-max, retention-* and backup-max-age may be
 *     # overridden per cluster
 *     compress-level = 3
 *
 * Comments are whole lines starting with '#' or ';': a '#' after a value is part of the value.
 * Unknown sections' keys, unknown keys, duplicates and bad values are errors naming the file,
 * line and key.
 *
 * Secrets (repo-cipher-pass; repo-s3-key-secret) never appear in a message. A file holding one
 * must not be readable or writable by anyone but its owner (LoadConfig refuses any group or
 * other permission bit): the helper runs as that owner and is the only reader it needs.
 */
#ifndef PG_ARK_HELPER_CONFIG_H
#define PG_ARK_HELPER_CONFIG_H

#include <stdint.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "log.h"
#include "status.h"

namespace pg_ark {

enum class CompressType { none = 0, zstd = 1 };

enum class CipherType { none = 0, aes_256_gcm = 1 };

const char *CipherTypeName(CipherType type);

const char *CompressTypeName(CompressType type);

struct Compression {
    CompressType type = CompressType::zstd;
    int level = 1;
};

constexpr int kDefaultProcessMax = 2;
constexpr int kMaxProcessMax = 64;

/*
 * What expiry keeps (0 = no limit of that kind; with all three 0 nothing is expired):
 *   retention-full    the newest N full backups, with every backup that builds on them;
 *   retention-diff    the newest N differential backups (older ones go with their incrementals);
 *   retention-window  backups and WAL for point-in-time recovery to any moment of the last
 *                     period ("14d", "36h"; a bare number is days).
 */
struct Retention {
    int full = 0;
    int diff = 0;
    int64_t window_seconds = 0;
};

struct ClusterConfig {
    std::string name;
    std::string pgdata;
    Compression compression;
    int process_max = kDefaultProcessMax;
    Retention retention;
    /* backup-max-age: check fails when the newest complete backup is older ("26h"; 0 = off). */
    int64_t backup_max_age_seconds = 0;
    /* pg-database: where `pg_ark check` finds the extension (CREATE EXTENSION pg_ark). */
    std::string pg_database = "postgres";
};

enum class RepoType { posix, s3 };

/*
 * An S3 (or S3-compatible) repository. endpoint: "https://host[:port]" or "http://host[:port]"
 * (plain HTTP for test servers on loopback only); a bare host means https. Credentials: key and
 * key_secret from the file, else AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
 * from the environment when the storage is opened. key_secret is never printed.
 */
struct S3Config {
    std::string endpoint;
    std::string bucket;
    std::string region;
    bool host_style = true; /* repo-s3-uri-style = host (bucket.endpoint) | path (endpoint/bucket) */
    std::string prefix;     /* key prefix, like repo-path: "" or "a/b" (no leading or trailing /) */
    size_t part_size = 16u << 20; /* multipart above this */
    bool verify_tls = true;
    std::string ca_file;
    std::string key;
    std::string key_secret;
};

/* One per CPU, at least 1 and at most 8. */
int DefaultArchiveAheadWorkers();

struct Config {
    std::string path; /* the file it came from, for messages */
    RepoType repo_type = RepoType::posix;
    std::string repo_path; /* posix */
    S3Config s3;           /* s3 */
    std::string lock_path = "/tmp/pg_ark";
    std::string socket_path = "/run/pg_ark/pg_ark.sock";
    std::string log_path;
    LogLevel log_level = LogLevel::info;
    Compression compression;
    std::vector<uid_t> allowed_uids;
    int archive_ahead_workers = DefaultArchiveAheadWorkers();
    int archive_get_ahead = 8; /* segments archive-get fetches ahead (wal_fetch_ahead.h) */
    int process_max = kDefaultProcessMax;
    int archive_timeout_seconds = 60;
    Retention retention;                 /* defaults of the clusters' own */
    int64_t backup_max_age_seconds = 0;  /* default of the clusters' own */
    CipherType cipher_type = CipherType::none;
    std::string cipher_pass; /* a secret: never in a message or a log line */
    bool holds_secrets = false; /* a secret key is set: the file must be private (LoadConfig) */
    std::map<std::string, ClusterConfig> clusters;

    /* Where the clusters' backup locks (backup_lock.h) live: the repository itself when it is a
     * local directory, else lock-path (flock needs a local file). */
    const std::string &LockDirectory() const {
        return repo_type == RepoType::posix ? repo_path : lock_path;
    }
    /* The repository for messages: its path, or s3://bucket/prefix. */
    std::string RepositoryName() const;

    /* The named cluster's section, or not_found naming the file. */
    Result<const ClusterConfig *> Cluster(const std::string &name) const;
};

constexpr const char *kDefaultConfigPath = "/etc/pg_ark.conf";

/* Parses INI text; file_name is used in messages only. */
Result<Config> ParseConfig(const std::string &text, const std::string &file_name);

/*
 * Reads and parses a file. A file holding secrets with any group or other permission bit is
 * refused (invalid_argument naming the file, its mode and the chmod that fixes it).
 */
Result<Config> LoadConfig(const std::string &path);

}  // namespace pg_ark

#endif

/*
 * config.cpp
 *     INI parsing and validation of the helper's configuration. See config.h for the format.
 *     Every error names the file, the line and the key, so a DBA can fix it without guessing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>
#include <optional>
#include <set>
#include <sstream>

#include "aes_gcm.h"
#include "protocol.h"
#include "repo_path.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

std::string Trim(const std::string &text) {
    size_t begin = text.find_first_not_of(" \t\r");
    if (begin == std::string::npos) return "";
    size_t end = text.find_last_not_of(" \t\r");
    return text.substr(begin, end - begin + 1);
}

struct PendingCluster {
    ClusterConfig config;
    int line = 0;
    std::optional<CompressType> compress_type;
    std::optional<int> compress_level;
    std::optional<int> process_max;
    std::optional<int> retention_full;
    std::optional<int> retention_diff;
    std::optional<int64_t> retention_window;
    std::optional<int64_t> backup_max_age;
};

/* Keys whose value is a secret; the S3 driver's secret key is one too. */
bool IsSecretKey(const std::string &key) {
    return key == "repo-cipher-pass" || key == "repo-s3-key-secret";
}

/* Whether any line sets a secret key, whatever else is wrong with the text. */
bool MentionsSecretKey(const std::string &text) {
    std::istringstream input(text);
    std::string line;
    while (std::getline(input, line)) {
        size_t equals = line.find('=');
        if (equals == std::string::npos) continue;
        std::string key = line.substr(0, equals);
        key.erase(0, key.find_first_not_of(" \t"));
        key.erase(key.find_last_not_of(" \t\r") + 1);
        if (IsSecretKey(key)) return true;
    }
    return false;
}

bool MayHoldSecret(const std::string &line) {
    std::string lower = line;
    for (char &c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    return lower.find("pass") != std::string::npos || lower.find("secret") != std::string::npos;
}

class Parser {
  public:
    explicit Parser(std::string file_name) : file_(std::move(file_name)) {}

    Result<Config> Parse(const std::string &text);

  private:
    Status Error(int line, const std::string &message) const {
        return Status(ErrorKind::invalid_argument, fmt::format("{}:{}: {}", file_, line, message));
    }
    Status BadValue(int line, const std::string &key, const std::string &value,
                    const std::string &expected) const {
        return Error(line, fmt::format("invalid value \"{}\" for key \"{}\": expected {}", value,
                                       key, expected));
    }
    Status SetGlobal(int line, const std::string &key, const std::string &value);
    Status SetS3(int line, const std::string &key, const std::string &value);
    Status SetCluster(int line, PendingCluster &cluster, const std::string &key,
                      const std::string &value);
    Status ParseCompressType(int line, const std::string &key, const std::string &value,
                             CompressType *out) const;
    Status ParseCompressLevel(int line, const std::string &key, const std::string &value,
                              int *out) const;
    Status ParseInteger(int line, const std::string &key, const std::string &value, int min,
                        int max, int *out) const;
    Status ParseAbsolutePath(int line, const std::string &key, const std::string &value,
                             std::string *out) const;
    Status ParseUsers(int line, const std::string &key, const std::string &value);
    /* "<n>[smhd]"; a bare number counts default_unit seconds. */
    Status ParseDuration(int line, const std::string &key, const std::string &value,
                         int64_t default_unit, int64_t *out) const;
    /* The keys a cluster may set, also in [global] (as defaults); false: not one of them. */
    bool SetPolicy(int line, const std::string &key, const std::string &value,
                   PendingCluster *cluster, Status *status);

    std::string file_;
    Config config_;
    std::map<std::string, PendingCluster> clusters_;
};

Status Parser::ParseCompressType(int line, const std::string &key, const std::string &value,
                                 CompressType *out) const {
    if (value == "zstd") *out = CompressType::zstd;
    else if (value == "none") *out = CompressType::none;
    else return BadValue(line, key, value, "\"zstd\" or \"none\"");
    return Status::Ok();
}

Status Parser::ParseInteger(int line, const std::string &key, const std::string &value, int min,
                            int max, int *out) const {
    size_t used = 0;
    int number = 0;
    try {
        number = std::stoi(value, &used);
    } catch (const std::exception &) {
        used = 0;
    }
    if (used != value.size() || value.empty() || number < min || number > max)
        return BadValue(line, key, value, fmt::format("an integer from {} to {}", min, max));
    *out = number;
    return Status::Ok();
}

Status Parser::ParseCompressLevel(int line, const std::string &key, const std::string &value,
                                  int *out) const {
    return ParseInteger(line, key, value, 1, 19, out);
}

Status Parser::ParseAbsolutePath(int line, const std::string &key, const std::string &value,
                                 std::string *out) const {
    if (value.empty() || value.front() != '/')
        return BadValue(line, key, value, "an absolute path");
    *out = value;
    while (out->size() > 1 && out->back() == '/') out->pop_back();
    return Status::Ok();
}

Status Parser::ParseDuration(int line, const std::string &key, const std::string &value,
                             int64_t default_unit, int64_t *out) const {
    static const std::map<char, int64_t> units = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    std::string number = value;
    int64_t unit = default_unit;
    if (!number.empty() && units.count(number.back())) {
        unit = units.at(number.back());
        number.pop_back();
    }
    int amount = 0;
    Status parsed = ParseInteger(line, key, number, 0, 100000000, &amount);
    if (!parsed.ok() || static_cast<int64_t>(amount) * unit > int64_t{100} * 365 * 86400)
        return BadValue(line, key, value,
                        "a duration such as 36h or 14d (s, m, h, d; at most 100 years)");
    *out = static_cast<int64_t>(amount) * unit;
    return Status::Ok();
}

bool Parser::SetPolicy(int line, const std::string &key, const std::string &value,
                       PendingCluster *cluster, Status *status) {
    int number = 0;
    int64_t seconds = 0;
    if (key == "retention-full" || key == "retention-diff") {
        *status = ParseInteger(line, key, value, 0, 1000000, &number);
        if (!status->ok()) return true;
        bool full = key == "retention-full";
        if (cluster == nullptr)
            (full ? config_.retention.full : config_.retention.diff) = number;
        else
            (full ? cluster->retention_full : cluster->retention_diff) = number;
        return true;
    }
    if (key == "retention-window" || key == "backup-max-age") {
        bool window = key == "retention-window";
        *status = ParseDuration(line, key, value, window ? 86400 : 1, &seconds);
        if (!status->ok()) return true;
        if (cluster == nullptr)
            (window ? config_.retention.window_seconds : config_.backup_max_age_seconds) = seconds;
        else
            (window ? cluster->retention_window : cluster->backup_max_age) = seconds;
        return true;
    }
    return false;
}

Status Parser::ParseUsers(int line, const std::string &key, const std::string &value) {
    std::stringstream list(value);
    std::string item;
    while (std::getline(list, item, ',')) {
        item = Trim(item);
        if (item.empty()) return BadValue(line, key, value, "a comma-separated list of users");
        if (item.find_first_not_of("0123456789") == std::string::npos && item.size() < 10) {
            config_.allowed_uids.push_back(static_cast<uid_t>(std::stoul(item)));
            continue;
        }
        struct passwd entry, *found = nullptr;
        char buffer[4096];
        if (getpwnam_r(item.c_str(), &entry, buffer, sizeof buffer, &found) != 0 || found == nullptr)
            return Error(line, fmt::format("unknown user \"{}\" in key \"{}\"", item, key));
        config_.allowed_uids.push_back(found->pw_uid);
    }
    return Status::Ok();
}

Status Parser::SetGlobal(int line, const std::string &key, const std::string &value) {
    if (key == "repo-path") return ParseAbsolutePath(line, key, value, &config_.repo_path);
    if (key == "socket-path") {
        PG_ARK_RETURN_IF_ERROR(ParseAbsolutePath(line, key, value, &config_.socket_path));
        if (config_.socket_path.size() >= sizeof(((sockaddr_un *)nullptr)->sun_path))
            return BadValue(line, key, value, "a path shorter than 108 bytes");
        return Status::Ok();
    }
    if (key == "log-path") return ParseAbsolutePath(line, key, value, &config_.log_path);
    if (key == "lock-path") return ParseAbsolutePath(line, key, value, &config_.lock_path);
    if (key == "repo-type") {
        if (value == "posix") config_.repo_type = RepoType::posix;
        else if (value == "s3") config_.repo_type = RepoType::s3;
        else return BadValue(line, key, value, "\"posix\" or \"s3\"");
        return Status::Ok();
    }
    if (key.rfind("repo-s3-", 0) == 0) return SetS3(line, key, value);
    if (key == "compress-type") return ParseCompressType(line, key, value, &config_.compression.type);
    if (key == "compress-level")
        return ParseCompressLevel(line, key, value, &config_.compression.level);
    if (key == "log-level") {
        if (!ParseLogLevel(value, &config_.log_level))
            return BadValue(line, key, value, "one of error, warn, info, debug");
        return Status::Ok();
    }
    if (key == "allowed-users") return ParseUsers(line, key, value);
    if (key == "repo-cipher-type") {
        if (value == "none")
            config_.cipher_type = CipherType::none;
        else if (value == "aes-256-gcm")
            config_.cipher_type = CipherType::aes_256_gcm;
        else
            return BadValue(line, key, value, "none or aes-256-gcm");
        return Status::Ok();
    }
    if (key == "repo-cipher-pass") {
        /* The value is never echoed, not even in this message. */
        if (value.empty()) return Error(line, "key \"repo-cipher-pass\" must not be empty");
        config_.cipher_pass = value;
        return Status::Ok();
    }
    if (key == "archive-ahead-workers")
        return ParseInteger(line, key, value, 0, 32, &config_.archive_ahead_workers);
    if (key == "archive-get-ahead")
        return ParseInteger(line, key, value, 0, 64, &config_.archive_get_ahead);
    if (key == "process-max")
        return ParseInteger(line, key, value, 1, kMaxProcessMax, &config_.process_max);
    if (key == "archive-timeout")
        return ParseInteger(line, key, value, 1, 86400, &config_.archive_timeout_seconds);
    Status policy;
    if (SetPolicy(line, key, value, nullptr, &policy)) return policy;
    return Error(line, fmt::format("unknown key \"{}\" in section [global]", key));
}

Status Parser::SetS3(int line, const std::string &key, const std::string &value) {
    S3Config &s3 = config_.s3;
    auto yes_no = [&](bool *out) {
        if (value == "y") *out = true;
        else if (value == "n") *out = false;
        else return BadValue(line, key, value, "\"y\" or \"n\"");
        return Status::Ok();
    };
    auto nonempty = [&](std::string *out) {
        if (value.empty()) return BadValue(line, key, value, "a non-empty value");
        *out = value;
        return Status::Ok();
    };
    if (key == "repo-s3-endpoint") {
        std::string rest = value;
        for (const char *scheme : {"https://", "http://"})
            if (rest.rfind(scheme, 0) == 0) rest = rest.substr(strlen(scheme));
        const char *expected = "\"host[:port]\" (port 1 to 65535), optionally after https:// or http://";
        if (rest.empty() || rest.find_first_of("/?# ") != std::string::npos) return BadValue(line, key, value, expected);
        size_t colon = rest.rfind(':');
        if (colon != std::string::npos && rest.back() != ']') {
            std::string port = rest.substr(colon + 1);
            bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
            int number = digits ? std::stoi(port) : 0;
            if (colon == 0 || number < 1 || number > 65535)
                return BadValue(line, key, value, expected);
        }
        s3.endpoint = value;
        return Status::Ok();
    }
    if (key == "repo-s3-bucket") {
        if (value.size() < 3 || value.size() > 63 ||
            value.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos)
            return BadValue(line, key, value, "a bucket name: 3 to 63 lower-case letters, digits, '.' or '-'");
        s3.bucket = value;
        return Status::Ok();
    }
    if (key == "repo-s3-region") return nonempty(&s3.region);
    if (key == "repo-s3-uri-style") {
        if (value == "host") s3.host_style = true;
        else if (value == "path") s3.host_style = false;
        else return BadValue(line, key, value, "\"host\" or \"path\"");
        return Status::Ok();
    }
    if (key == "repo-s3-prefix") {
        std::string prefix = value;
        while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
        while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
        if (!prefix.empty() && !RepoPath::Make(prefix).ok())
            return BadValue(line, key, value, "a key prefix without empty, \".\" or \"..\" components");
        s3.prefix = prefix;
        return Status::Ok();
    }
    if (key == "repo-s3-part-size") {
        /* S3 wants every part but the last to be at least 5 MiB, and at most 5 GiB. */
        int mib = 0;
        size_t digits = value.find_first_not_of("0123456789");
        std::string unit = digits == std::string::npos ? "" : value.substr(digits);
        if (digits > 0 && digits <= 5 && (unit == "MiB" || unit == "GiB"))
            mib = std::stoi(value.substr(0, digits)) * (unit == "GiB" ? 1024 : 1);
        if (mib < 5 || mib > 5 * 1024) return BadValue(line, key, value, "a size from 5MiB to 5GiB, like 16MiB");
        s3.part_size = static_cast<size_t>(mib) << 20;
        return Status::Ok();
    }
    if (key == "repo-s3-verify-tls") return yes_no(&s3.verify_tls);
    if (key == "repo-s3-ca-file") return ParseAbsolutePath(line, key, value, &s3.ca_file);
    if (key == "repo-s3-key") return nonempty(&s3.key);
    /* The secret itself never appears in a message, not even a bad one. */
    if (key == "repo-s3-key-secret") {
        if (value.empty()) return Error(line, "key \"repo-s3-key-secret\" is empty");
        s3.key_secret = value;
        return Status::Ok();
    }
    return Error(line, fmt::format("unknown key \"{}\" in section [global]", key));
}

Status Parser::SetCluster(int line, PendingCluster &cluster, const std::string &key,
                          const std::string &value) {
    if (key == "pgdata") return ParseAbsolutePath(line, key, value, &cluster.config.pgdata);
    if (key == "pg-database") {
        if (value.empty() || value.size() > 63)
            return BadValue(line, key, value, "a database name of 1 to 63 bytes");
        cluster.config.pg_database = value;
        return Status::Ok();
    }
    if (key == "compress-type") {
        CompressType type;
        PG_ARK_RETURN_IF_ERROR(ParseCompressType(line, key, value, &type));
        cluster.compress_type = type;
        return Status::Ok();
    }
    if (key == "compress-level") {
        int level;
        PG_ARK_RETURN_IF_ERROR(ParseCompressLevel(line, key, value, &level));
        cluster.compress_level = level;
        return Status::Ok();
    }
    if (key == "process-max") {
        int workers;
        PG_ARK_RETURN_IF_ERROR(ParseInteger(line, key, value, 1, kMaxProcessMax, &workers));
        cluster.process_max = workers;
        return Status::Ok();
    }
    Status policy;
    if (SetPolicy(line, key, value, &cluster, &policy)) return policy;
    return Error(line, fmt::format("unknown key \"{}\" in section [{}]", key, cluster.config.name));
}

Result<Config> Parser::Parse(const std::string &text) {
    config_.path = file_;
    std::istringstream input(text);
    std::string raw;
    int line = 0;
    std::string section;
    int global_line = 0;
    std::set<std::pair<std::string, std::string>> seen_keys;

    while (std::getline(input, raw)) {
        line++;
        std::string content = Trim(raw);
        if (content.empty() || content[0] == '#' || content[0] == ';') continue;
        if (content.front() == '[') {
            if (content.back() != ']') return Error(line, "section header without closing \"]\"");
            section = Trim(content.substr(1, content.size() - 2));
            if (section == "global") {
                if (global_line != 0) return Error(line, "duplicate section [global]");
                global_line = line;
                continue;
            }
            if (!wire::IsValidClusterName(section.c_str()))
                return Error(line, fmt::format("invalid section name [{}]: cluster names are 1 to "
                                               "63 letters, digits, '_' or '-'",
                                               section));
            if (clusters_.count(section)) return Error(line, fmt::format("duplicate section [{}]", section));
            clusters_[section].config.name = section;
            clusters_[section].line = line;
            continue;
        }
        size_t equals = content.find('=');
        if (equals == std::string::npos) {
            /* Such a line may be a mistyped secret ("repo-cipher-pass: ..."): not echoed then. */
            if (MayHoldSecret(content))
                return Error(line, "expected \"key = value\" (line not shown: it may hold a secret)");
            return Error(line, fmt::format("expected \"key = value\", found \"{}\"", content));
        }
        std::string key = Trim(content.substr(0, equals));
        std::string value = Trim(content.substr(equals + 1));
        if (section.empty()) return Error(line, fmt::format("key \"{}\" outside of any section", key));
        if (!seen_keys.insert({section, key}).second)
            return Error(line, fmt::format("duplicate key \"{}\" in section [{}]", key, section));
        if (IsSecretKey(key)) config_.holds_secrets = true;
        if (section == "global")
            PG_ARK_RETURN_IF_ERROR(SetGlobal(line, key, value));
        else
            PG_ARK_RETURN_IF_ERROR(SetCluster(line, clusters_[section], key, value));
    }

    if (config_.repo_type == RepoType::posix && config_.repo_path.empty())
        return Status(ErrorKind::invalid_argument,
                      fmt::format("{}: missing required key \"repo-path\" in section [global]", file_));
    if (config_.repo_type == RepoType::s3) {
        for (auto [key, value] : {std::pair<const char *, const std::string *>{"repo-s3-endpoint", &config_.s3.endpoint},
                                  {"repo-s3-bucket", &config_.s3.bucket},
                                  {"repo-s3-region", &config_.s3.region}})
            if (value->empty())
                return Status(ErrorKind::invalid_argument,
                              fmt::format("{}: missing required key \"{}\" in section [global] "
                                          "(repo-type = s3)", file_, key));
        if (config_.s3.key.empty() != config_.s3.key_secret.empty())
            return Status(ErrorKind::invalid_argument,
                          fmt::format("{}: \"repo-s3-key\" and \"repo-s3-key-secret\" go together: "
                                      "set both, or neither to use the AWS_* environment variables",
                                      file_));
    }
    if (config_.cipher_type != CipherType::none && config_.cipher_pass.empty())
        return Status(ErrorKind::invalid_argument,
                      fmt::format("{}: repo-cipher-type = {} needs repo-cipher-pass in section [global]",
                                  file_, CipherTypeName(config_.cipher_type)));
    if (config_.cipher_type == CipherType::none && !config_.cipher_pass.empty())
        return Status(ErrorKind::invalid_argument,
                      fmt::format("{}: repo-cipher-pass is set but repo-cipher-type is none; set "
                                  "repo-cipher-type = aes-256-gcm or remove the passphrase",
                                  file_));
    for (auto &[name, pending] : clusters_) {
        if (pending.config.pgdata.empty())
            return Error(pending.line,
                         fmt::format("missing required key \"pgdata\" in section [{}]", name));
        pending.config.compression = config_.compression;
        if (pending.compress_type) pending.config.compression.type = *pending.compress_type;
        if (pending.compress_level) pending.config.compression.level = *pending.compress_level;
        pending.config.process_max = pending.process_max.value_or(config_.process_max);
        pending.config.retention.full = pending.retention_full.value_or(config_.retention.full);
        pending.config.retention.diff = pending.retention_diff.value_or(config_.retention.diff);
        pending.config.retention.window_seconds =
            pending.retention_window.value_or(config_.retention.window_seconds);
        pending.config.backup_max_age_seconds =
            pending.backup_max_age.value_or(config_.backup_max_age_seconds);
        config_.clusters[name] = pending.config;
    }
    return config_;
}

}  // namespace

int DefaultArchiveAheadWorkers() {
    unsigned int cpus = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(cpus, 1u, 8u));
}

const char *CipherTypeName(CipherType type) {
    return type == CipherType::aes_256_gcm ? "aes-256-gcm" : "none";
}

const char *CompressTypeName(CompressType type) {
    return type == CompressType::zstd ? "zstd" : "none";
}

std::string Config::RepositoryName() const {
    if (repo_type == RepoType::posix) return repo_path;
    return s3.prefix.empty() ? fmt::format("s3://{}", s3.bucket)
                             : fmt::format("s3://{}/{}", s3.bucket, s3.prefix);
}

Result<const ClusterConfig *> Config::Cluster(const std::string &name) const {
    auto found = clusters.find(name);
    if (found == clusters.end())
        return Status(ErrorKind::not_found,
                      fmt::format("cluster \"{}\" has no section in configuration file \"{}\"", name,
                                  path));
    return &found->second;
}

Result<Config> ParseConfig(const std::string &text, const std::string &file_name) {
    return Parser(file_name).Parse(text);
}

Result<Config> LoadConfig(const std::string &path) {
    /* Any failure to get a configuration is a configuration error (exit 2), whatever errno said. */
    auto config_error = [&path](const char *what) {
        return Status(ErrorKind::invalid_argument,
                      fmt::format("could not {} configuration file \"{}\": {}", what, path,
                                  strerror(errno)));
    };
    /* One descriptor for the mode check and the read: the file checked is the file read. */
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return config_error("open");
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return config_error("stat");
    std::string text;
    char buffer[8192];
    for (;;) {
        ssize_t n = read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return config_error("read");
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    /* Checked before parsing, so a file refused for a bad line is refused for its mode first. */
    bool secrets = MentionsSecretKey(text);
    auto config = ParseConfig(text, path);
    WipeString(&text);
    if ((secrets || (config.ok() && config->holds_secrets)) && (st.st_mode & 0077) != 0)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("configuration file \"{}\" holds secrets and must not be "
                                  "accessible to other users (mode {:04o} found); run: chmod 600 {}",
                                  path, st.st_mode & 07777, path));
    return config;
}

}  // namespace pg_ark

/*
 * cli_check.cpp
 *     `pg_ark check`: the rows of backup_check() (extension/check_function.cpp), fetched from the
 *     running server over its Unix socket, so the command and the SQL function never disagree.
 *     When the server is down or the extension missing, that is a failed row, and the checks
 *     that need no server still run here: the repository's (repository_checks.h, with the system
 *     identifier read from pg_control) and whether the helper's socket answers.
 */
#include "cli_check.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "backup_lock.h"
#include "cli_common.h"
#include "pg_files.h"
#include "repository.h"
#include "repository_checks.h"
#include "storage.h"
#include "storage_factory.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

struct PgConnCloser {
    void operator()(PGconn *conn) const { PQfinish(conn); }
};
struct PgResultClearer {
    void operator()(PGresult *result) const { PQclear(result); }
};
using Connection = std::unique_ptr<PGconn, PgConnCloser>;
using QueryResult = std::unique_ptr<PGresult, PgResultClearer>;

/* Where the server of pgdata listens, from its postmaster.pid (port: line 4, socket dir: 5). */
Result<std::pair<std::string, std::string>> FindServer(const std::string &pgdata) {
    std::ifstream pid_file(pgdata + "/postmaster.pid");
    if (!pid_file)
        return Status(ErrorKind::unavailable,
                      fmt::format("no PostgreSQL server is running in \"{}\" (no postmaster.pid)", pgdata));
    std::vector<std::string> lines;
    for (std::string line; std::getline(pid_file, line);) lines.push_back(line);
    long pid = lines.empty() ? 0 : std::labs(std::strtol(lines[0].c_str(), nullptr, 10));
    if (pid <= 0 || (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM))
        return Status(ErrorKind::unavailable,
                      fmt::format("no PostgreSQL server is running in \"{}\" (postmaster.pid names "
                                  "no live process)",
                                  pgdata));
    if (lines.size() < 5 || lines[4].empty())
        return Status(ErrorKind::unavailable,
                      fmt::format("the server in \"{}\" listens on no Unix socket (postmaster.pid)", pgdata));
    return std::make_pair(lines[4], lines[3]);
}

/* backup_check()'s rows, or the reason they could not be had. */
Result<std::vector<CheckRow>> ServerChecks(const ClusterConfig &cluster, int wal_timeout_seconds) {
    auto server = FindServer(cluster.pgdata);
    if (!server.ok()) return server.status();
    const char *keys[] = {"host", "port", "dbname", "application_name", nullptr};
    const char *values[] = {server->first.c_str(), server->second.c_str(),
                            cluster.pg_database.c_str(), "pg_ark check", nullptr};
    Connection conn(PQconnectdbParams(keys, values, 0));
    if (PQstatus(conn.get()) != CONNECTION_OK)
        return Status(ErrorKind::unavailable,
                      fmt::format("could not connect to database \"{}\" of the server in \"{}\": {}",
                                  cluster.pg_database, cluster.pgdata, PQerrorMessage(conn.get())));
    QueryResult schema(PQexec(conn.get(),
                              "SELECT quote_ident(n.nspname) FROM pg_extension e "
                              "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_ark'"));
    if (PQresultStatus(schema.get()) != PGRES_TUPLES_OK || PQntuples(schema.get()) != 1)
        return Status(ErrorKind::not_found,
                      fmt::format("the pg_ark extension is not installed in database \"{}\" (run "
                                  "CREATE EXTENSION pg_ark there, or set pg-database)",
                                  cluster.pg_database));
    std::string query = fmt::format("SELECT name, ok, detail FROM {}.backup_check($1)",
                                    PQgetvalue(schema.get(), 0, 0));
    std::string timeout = std::to_string(wal_timeout_seconds * 1000);
    const char *parameters[] = {timeout.c_str()};
    QueryResult rows(PQexecParams(conn.get(), query.c_str(), 1, nullptr, parameters, nullptr, nullptr, 0));
    if (PQresultStatus(rows.get()) != PGRES_TUPLES_OK)
        return Status(ErrorKind::unavailable,
                      fmt::format("backup_check() failed: {}", PQresultErrorMessage(rows.get())));
    std::vector<CheckRow> checks;
    for (int i = 0; i < PQntuples(rows.get()); i++)
        checks.push_back({PQgetvalue(rows.get(), i, 0), std::string(PQgetvalue(rows.get(), i, 1)) == "t",
                          PQgetvalue(rows.get(), i, 2)});
    return checks;
}

CheckRow HelperSocket(const Config &config) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    snprintf(address.sun_path, sizeof address.sun_path, "%s", config.socket_path.c_str());
    if (fd.valid() && connect(fd.get(), reinterpret_cast<sockaddr *>(&address), sizeof address) == 0)
        return {"helper", true, fmt::format("the helper's socket \"{}\" accepts connections", config.socket_path)};
    return {"helper", false,
            fmt::format("nothing listens on the helper's socket \"{}\": {}; is \"pg_ark server\" running?",
                        config.socket_path, strerror(errno))};
}

/* What can be checked without the server. */
std::vector<CheckRow> LocalChecks(const Config &config, const ClusterConfig &cluster, const Status &why) {
    std::vector<CheckRow> rows = {{"postgresql", false, why.message()}, HelperSocket(config)};
    auto identity = ReadClusterIdentity(cluster.pgdata);
    auto storage = OpenRepositoryStorage(config);
    if (!storage.ok()) {
        rows.push_back({"repository", false, storage.status().message()});
        return rows;
    }
    Repository repository(std::move(*storage));
    auto running = BackupLock::IsHeld(config.repo_path, cluster.name);
    for (CheckRow &row : CheckRepository(repository, cluster, identity.ok() ? identity->system_identifier : 0,
                                         running.ok() && *running, time(nullptr)))
        rows.push_back(std::move(row));
    return rows;
}

}  // namespace

int RunCheck(const std::string &config_path, const std::string &cluster_name, int wal_timeout_seconds,
             bool json) {
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    auto cluster = config->Cluster(cluster_name);
    if (!cluster.ok()) return Fail(Status(ErrorKind::invalid_argument, cluster.status().message()));
    auto server_rows = ServerChecks(**cluster, wal_timeout_seconds);
    std::vector<CheckRow> rows =
        server_rows.ok() ? *server_rows : LocalChecks(*config, **cluster, server_rows.status());
    size_t failed = 0;
    for (const CheckRow &row : rows) failed += row.ok ? 0 : 1;
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const CheckRow &row : rows) out.push_back({{"name", row.name}, {"ok", row.ok}, {"detail", row.detail}});
        std::cout << out.dump(2) << std::endl;
    } else {
        for (const CheckRow &row : rows)
            std::cout << fmt::format("{:<4} {:<24} {}", row.ok ? "ok" : "FAIL", row.name, row.detail) << std::endl;
        std::cout << fmt::format("cluster \"{}\": {} of {} checks failed", cluster_name, failed, rows.size())
                  << std::endl;
    }
    return failed == 0 ? 0 : kCheckFailedExitStatus;
}

}  // namespace pg_ark

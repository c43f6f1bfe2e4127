/*
 * cli_common.cpp
 *     See cli_common.h.
 */
#include "cli_common.h"

#include <fmt/format.h>
#include <unistd.h>

#include <iostream>

#include "log.h"

namespace pg_ark {

int Fail(const Status &status) {
    std::cerr << "pg_ark: " << status.message() << std::endl;
    return ErrorKindExitStatus(status.kind());
}

Result<Config> LoadAndApply(const std::string &path) {
    auto config = LoadConfig(path);
    if (!config.ok()) return config;
    SetLogLevel(config->log_level);
    return config;
}

Status RefuseRoot(const char *command) {
    if (geteuid() != 0) return Status::Ok();
    return Status(ErrorKind::invalid_argument,
                  fmt::format("pg_ark {} must not run as root; run it as the owner of the data "
                              "directories (usually postgres), e.g. runuser -u postgres -- pg_ark {}",
                              command, command));
}

}  // namespace pg_ark

/*
 * command_service.h
 *     The helper's side of the maintenance commands (command_protocol.h), as the SQL functions
 *     reach them through the socket:
 *
 *   check   rows (name, ok, detail): repository_checks.h
 *   expire  rows (kind, name, bytes, reason) of what went, or with kCommandDryRun would go:
 *           expire.h
 *   stop    pause backups and expiry of the cluster (pause.h); no rows
 *   start   lift that pause; no rows
 *   verify  rows (object, problem), one per problem found (verify.h), none when all is well;
 *           the reply message is the summary line ("verified ...: N problems") followed by one
 *           line per backup (its state and how far recovery from it reaches), so
 *           backup_verify(id) can show it. request.backup_id empty: everything.
 *
 * The request's system identifier must be the registered one, except for check, which reports
 * a mismatch as a failed row instead.
 */
#ifndef PG_ARK_HELPER_COMMAND_SERVICE_H
#define PG_ARK_HELPER_COMMAND_SERVICE_H

#include <functional>
#include <string>
#include <vector>

#include "command_protocol.h"
#include "config.h"
#include "repository.h"
#include "status.h"

namespace pg_ark {

/* Receives one row; an error (the client went away) stops the command. */
using RowSink = std::function<Status(const std::vector<std::string> &columns)>;

class CommandService {
  public:
    CommandService(const Config &config, Repository *repository)
        : config_(config), repository_(repository) {}

    /* Runs the command, streaming its rows; *reply_message summarizes it. */
    Status Run(const wire::CommandRequest &request, const RowSink &emit, std::string *reply_message);

  private:
    Status CheckSystem(const wire::CommandRequest &request);

    const Config &config_;
    Repository *repository_;
};

}  // namespace pg_ark

#endif

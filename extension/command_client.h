/*
 * command_client.h
 *     Running a maintenance command (common/command_protocol.h) on the helper from a backend:
 *     the request names this cluster (pg_ark.cluster) and system, and the rows come back in an
 *     array palloc'd in the current memory context.
 */
#ifndef PG_ARK_EXTENSION_COMMAND_CLIENT_H
#define PG_ARK_EXTENSION_COMMAND_CLIENT_H

#include "pg_includes.h"

#include "command_protocol.h"

struct CommandResult {
    pg_ark::wire::RowRecord *rows;
    int count;
    pg_ark::wire::Reply reply; /* the helper's final answer (ok or the error that stopped it) */
};

/*
 * Sends the command and collects its answer. Returns false with *error set when the helper
 * could not be reached or answered out of protocol; the helper's own error comes back as
 * result->reply. unbounded: no deadline (a verify of a large repository), interrupts checked.
 * ERRORs only for what PostgreSQL raises itself (pg_ark.cluster unset, out of memory).
 */
bool RunHelperCommand(pg_ark::wire::Command command, uint32_t flags, const char *backup_id,
                      bool unbounded, CommandResult *result, char **error);

/* The same, raising the transport or helper error; returns the rows. */
CommandResult RunHelperCommandOrRaise(pg_ark::wire::Command command, uint32_t flags,
                                      const char *backup_id);

#endif

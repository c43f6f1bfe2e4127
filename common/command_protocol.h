/*
 * command_protocol.h
 *     The maintenance messages of the wire protocol (see protocol.h for framing), shared by the
 *     extension and the helper: a command run on a cluster's repository, answered by rows.
 *
 *   command  (cluster, system identifier, what, options)  -> zero or more row frames, then a
 *                                                            reply (ok, or the error that
 *                                                            stopped the command)
 *
 * A row is up to kMaxColumns short texts; each command documents its columns (command_service.h
 * on the helper side). Rows stream, so a long answer (verify of a large repository) never has
 * to fit in one frame.
 */
#ifndef PG_ARK_COMMON_COMMAND_PROTOCOL_H
#define PG_ARK_COMMON_COMMAND_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "backup_protocol.h"
#include "protocol.h"

namespace pg_ark {
namespace wire {

enum class Command : uint32_t {
    check = 1,  /* the repository's side of backup_check(): rows (name, ok, detail) */
    expire = 2, /* retention: rows (kind, name, bytes, reason) of what was (or would be)
                 * removed */
    verify = 3, /* rows (object, problem) */
    stop = 4,   /* pause backups and expiry; no rows */
    start = 5,  /* lift stop; no rows */
};

constexpr size_t kMaxColumns = 4;
constexpr size_t kMaxColumnText = 2000;
constexpr uint32_t kCommandDryRun = 1; /* expire: report, remove nothing */

struct CommandRequest {
    char cluster[kMaxClusterName + 1] = {};
    uint64_t system_identifier = 0;
    Command command = Command::check;
    uint32_t flags = 0;                         /* kCommand* bits */
    char backup_id[kMaxBackupId + 1] = {};      /* verify: one backup ("" = everything) */
};

struct RowRecord {
    uint32_t count = 0; /* columns used */
    char columns[kMaxColumns][kMaxColumnText + 1] = {};
};

const char *CommandName(Command command);

size_t EncodeCommand(const CommandRequest &request, uint8_t *payload, size_t capacity);
size_t EncodeRowRecord(const RowRecord &row, uint8_t *payload, size_t capacity);
DecodeResult DecodeCommand(const uint8_t *payload, size_t length, CommandRequest *out);
DecodeResult DecodeRowRecord(const uint8_t *payload, size_t length, RowRecord *out);

}  // namespace wire
}  // namespace pg_ark

#endif

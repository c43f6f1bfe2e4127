/*
 * command_client.cpp
 *     See command_client.h.
 */
#include "command_client.h"

extern "C" {
#include "access/xlog.h"
}

#include "backup_flow.h"
#include "helper_client.h"

bool RunHelperCommand(pg_ark::wire::Command command, uint32_t flags, const char *backup_id,
                      bool unbounded, CommandResult *result, char **error) {
    pg_ark::wire::CommandRequest request;
    pg_ark::wire::CopyBounded(request.cluster, sizeof request.cluster, RequireClusterName());
    request.system_identifier = GetSystemIdentifier();
    request.command = command;
    request.flags = flags;
    pg_ark::wire::CopyBounded(request.backup_id, sizeof request.backup_id, backup_id);
    uint8_t payload[512];
    size_t length = pg_ark::wire::EncodeCommand(request, payload, sizeof payload);

    int capacity = 16;
    result->rows = (pg_ark::wire::RowRecord *)palloc(capacity * sizeof(pg_ark::wire::RowRecord));
    result->count = 0;
    HelperFrame *frame = (HelperFrame *)palloc(sizeof(HelperFrame));
    bool ok = false;
    PG_TRY();
    {
        uint32_t request_id;
        if (HelperOpen(error) && HelperSend(pg_ark::wire::MessageType::command, payload, length,
                                            &request_id, error)) {
            for (;;) {
                CHECK_FOR_INTERRUPTS();
                if (!HelperReceive(request_id, unbounded, frame, error)) break;
                if (!frame->is_record) {
                    result->reply = frame->reply;
                    ok = true;
                    break;
                }
                if (!frame->is_row) {
                    *error = pstrdup("invalid reply from the pg_ark helper: unexpected record");
                    break;
                }
                if (result->count == capacity) {
                    capacity *= 2;
                    result->rows = (pg_ark::wire::RowRecord *)repalloc(
                        result->rows, capacity * sizeof(pg_ark::wire::RowRecord));
                }
                result->rows[result->count++] = frame->row;
            }
        }
    }
    PG_FINALLY();
    {
        HelperAbortConnection();
    }
    PG_END_TRY();
    pfree(frame);
    return ok;
}

CommandResult RunHelperCommandOrRaise(pg_ark::wire::Command command, uint32_t flags,
                                      const char *backup_id) {
    CommandResult result;
    char *error = nullptr;
    if (!RunHelperCommand(command, flags, backup_id, true, &result, &error))
        HelperRaiseTransportError(error);
    if (result.reply.status != pg_ark::ErrorKind::ok) HelperRaiseReplyError(result.reply);
    return result;
}

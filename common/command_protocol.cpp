/*
 * command_protocol.cpp
 *     Encoding and validating the maintenance messages. See command_protocol.h.
 */
#include "command_protocol.h"

#include <string.h>

namespace pg_ark {
namespace wire {

namespace {

bool IsValidCommand(uint32_t command) {
    return command >= static_cast<uint32_t>(Command::check) &&
           command <= static_cast<uint32_t>(Command::start);
}

size_t Done(const Writer &writer) { return writer.Overflowed() ? 0 : writer.Length(); }

}  // namespace

const char *CommandName(Command command) {
    switch (command) {
        case Command::check: return "check";
        case Command::expire: return "expire";
        case Command::verify: return "verify";
        case Command::stop: return "stop";
        case Command::start: return "start";
    }
    return "unknown";
}

size_t EncodeCommand(const CommandRequest &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(request.cluster);
    writer.PutU64(request.system_identifier);
    writer.PutU32(static_cast<uint32_t>(request.command));
    writer.PutU32(request.flags);
    writer.PutString(request.backup_id);
    return Done(writer);
}

DecodeResult DecodeCommand(const uint8_t *payload, size_t length, CommandRequest *out) {
    Reader reader(payload, length);
    uint32_t command;
    if (!reader.GetString(out->cluster, kMaxClusterName) ||
        !reader.GetU64(&out->system_identifier) || !reader.GetU32(&command) ||
        !reader.GetU32(&out->flags) || !reader.GetString(out->backup_id, kMaxBackupId))
        return DecodeResult::truncated;
    if (!IsValidClusterName(out->cluster) || out->system_identifier == 0 ||
        !IsValidCommand(command) || (out->flags & ~kCommandDryRun) != 0 ||
        (out->backup_id[0] != '\0' && !IsValidBackupIdText(out->backup_id)))
        return DecodeResult::bad_field;
    out->command = static_cast<Command>(command);
    return Finish(reader);
}

size_t EncodeRowRecord(const RowRecord &row, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutU32(row.count);
    for (uint32_t i = 0; i < row.count && i < kMaxColumns; i++) writer.PutString(row.columns[i]);
    if (row.count > kMaxColumns) return 0;
    return Done(writer);
}

DecodeResult DecodeRowRecord(const uint8_t *payload, size_t length, RowRecord *out) {
    Reader reader(payload, length);
    if (!reader.GetU32(&out->count)) return DecodeResult::truncated;
    if (out->count > kMaxColumns) return DecodeResult::bad_field;
    for (uint32_t i = 0; i < out->count; i++) {
        if (!reader.GetString(out->columns[i], kMaxColumnText)) return DecodeResult::truncated;
        if (!IsPrintableText(out->columns[i])) return DecodeResult::bad_field;
    }
    return Finish(reader);
}

}  // namespace wire
}  // namespace pg_ark

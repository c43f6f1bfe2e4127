/*
 * backup_protocol.cpp
 *     Encoding and validating the backup messages. See backup_protocol.h.
 */
#include "backup_protocol.h"

#include <string.h>

#include "wal_name.h"

namespace pg_ark {
namespace wire {

namespace {

bool IsValidKind(uint32_t kind) { return kind <= static_cast<uint32_t>(BackupKind::differential); }

bool IsValidStatus(const char *status) {
    return strcmp(status, "running") == 0 || strcmp(status, "complete") == 0 ||
           strcmp(status, "failed") == 0;
}

/* An empty WAL name means "not known yet". */
bool IsValidOptionalWalName(const char *name) {
    return name[0] == '\0' || ClassifyWalName(name) == WalFileKind::segment;
}

bool IsValidOptionalBackupId(const char *id) { return id[0] == '\0' || IsValidBackupIdText(id); }

size_t Done(const Writer &writer) { return writer.Overflowed() ? 0 : writer.Length(); }

}  // namespace

const char *BackupKindName(BackupKind kind) {
    switch (kind) {
        case BackupKind::full: return "full";
        case BackupKind::incremental: return "incremental";
        case BackupKind::differential: return "differential";
    }
    return "unknown";
}

bool IsValidBackupIdText(const char *id) {
    size_t length = strlen(id);
    if (length == 0 || length > kMaxBackupId) return false;
    for (size_t i = 0; i < length; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-')) return false;
    }
    return true;
}

size_t EncodeBackupBegin(const BackupBeginRequest &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(request.cluster);
    writer.PutU64(request.system_identifier);
    writer.PutU32(static_cast<uint32_t>(request.kind));
    writer.PutString(request.label);
    writer.PutU32(request.detached);
    writer.PutString(request.parent);
    return Done(writer);
}

DecodeResult DecodeBackupBegin(const uint8_t *payload, size_t length, BackupBeginRequest *out) {
    Reader reader(payload, length);
    uint32_t kind;
    if (!reader.GetString(out->cluster, kMaxClusterName) || !reader.GetU64(&out->system_identifier) ||
        !reader.GetU32(&kind) || !reader.GetString(out->label, kMaxLabel) ||
        !reader.GetU32(&out->detached) || !reader.GetString(out->parent, kMaxBackupId))
        return DecodeResult::truncated;
    if (!IsValidClusterName(out->cluster) || out->system_identifier == 0 || !IsValidKind(kind) ||
        !IsPrintableText(out->label) || strchr(out->label, '\n') != nullptr || out->detached > 1 ||
        !IsValidOptionalBackupId(out->parent) ||
        (out->parent[0] != '\0' && kind != static_cast<uint32_t>(BackupKind::incremental)))
        return DecodeResult::bad_field;
    out->kind = static_cast<BackupKind>(kind);
    return Finish(reader);
}

size_t EncodeBackupRef(const BackupRef &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(request.cluster);
    writer.PutString(request.backup_id);
    return Done(writer);
}

DecodeResult DecodeBackupRef(const uint8_t *payload, size_t length, BackupRef *out) {
    Reader reader(payload, length);
    if (!reader.GetString(out->cluster, kMaxClusterName) ||
        !reader.GetString(out->backup_id, kMaxBackupId))
        return DecodeResult::truncated;
    if (!IsValidClusterName(out->cluster) || !IsValidBackupIdText(out->backup_id))
        return DecodeResult::bad_field;
    return Finish(reader);
}

size_t EncodeBackupCopy(const BackupCopyRequest &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutU64(request.start_lsn);
    writer.PutU32(request.timeline);
    writer.PutU32(request.data_checksums);
    writer.PutU32(request.block_size);
    writer.PutU32(request.segment_blocks);
    writer.PutU32(request.wal_segment_size);
    return Done(writer);
}

DecodeResult DecodeBackupCopy(const uint8_t *payload, size_t length, BackupCopyRequest *out) {
    Reader reader(payload, length);
    if (!reader.GetU64(&out->start_lsn) || !reader.GetU32(&out->timeline) ||
        !reader.GetU32(&out->data_checksums) || !reader.GetU32(&out->block_size) ||
        !reader.GetU32(&out->segment_blocks) || !reader.GetU32(&out->wal_segment_size))
        return DecodeResult::truncated;
    auto power_of_two = [](uint32_t v) { return v != 0 && (v & (v - 1)) == 0; };
    if (out->start_lsn == 0 || out->timeline == 0 || out->data_checksums > 1 ||
        !power_of_two(out->block_size) || out->block_size < 1024 || out->block_size > 32768 ||
        out->segment_blocks == 0 || !power_of_two(out->wal_segment_size) ||
        out->wal_segment_size < (1u << 20))
        return DecodeResult::bad_field;
    return Finish(reader);
}

size_t EncodeBackupStop(const BackupStopRequest &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutU64(request.stop_lsn);
    writer.PutU32(request.stop_timeline);
    writer.PutString(request.backup_label);
    writer.PutString(request.tablespace_map);
    return Done(writer);
}

DecodeResult DecodeBackupStop(const uint8_t *payload, size_t length, BackupStopRequest *out) {
    Reader reader(payload, length);
    if (!reader.GetU64(&out->stop_lsn) || !reader.GetU32(&out->stop_timeline) ||
        !reader.GetString(out->backup_label, kMaxBackupLabelFile) ||
        !reader.GetString(out->tablespace_map, kMaxTablespaceMap))
        return DecodeResult::truncated;
    if (out->stop_lsn == 0 || out->stop_timeline == 0 || out->backup_label[0] == '\0')
        return DecodeResult::bad_field;
    return Finish(reader);
}

size_t EncodeCatalogQuery(const CatalogQuery &request, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(request.cluster);
    writer.PutString(request.backup_id);
    return Done(writer);
}

DecodeResult DecodeCatalogQuery(const uint8_t *payload, size_t length, CatalogQuery *out) {
    Reader reader(payload, length);
    if (!reader.GetString(out->cluster, kMaxClusterName) ||
        !reader.GetString(out->backup_id, kMaxBackupId))
        return DecodeResult::truncated;
    if (!IsValidClusterName(out->cluster) ||
        !(IsValidOptionalBackupId(out->backup_id) || strcmp(out->backup_id, "running") == 0))
        return DecodeResult::bad_field;
    return Finish(reader);
}

size_t EncodeBackupRecord(const BackupRecord &record, uint8_t *payload, size_t capacity) {
    Writer writer(payload, capacity);
    writer.PutString(record.backup_id);
    writer.PutU32(static_cast<uint32_t>(record.kind));
    writer.PutString(record.status);
    writer.PutString(record.label);
    writer.PutString(record.parent);
    writer.PutU64(record.start_lsn);
    writer.PutU64(record.stop_lsn);
    writer.PutU64(static_cast<uint64_t>(record.start_time));
    writer.PutU64(static_cast<uint64_t>(record.stop_time));
    writer.PutU32(record.timeline);
    writer.PutString(record.wal_start);
    writer.PutString(record.wal_stop);
    writer.PutU64(record.original_bytes);
    writer.PutU64(record.stored_bytes);
    writer.PutString(record.error);
    writer.PutString(record.phase);
    writer.PutU64(record.files_done);
    writer.PutU64(record.files_total);
    writer.PutU64(record.bytes_done);
    writer.PutU64(record.bytes_total);
    writer.PutU64(record.block_files);
    writer.PutU64(record.whole_files);
    writer.PutU64(record.copied_bytes);
    writer.PutString(record.fallback);
    return Done(writer);
}

DecodeResult DecodeBackupRecord(const uint8_t *payload, size_t length, BackupRecord *out) {
    Reader reader(payload, length);
    uint32_t kind;
    uint64_t start_time, stop_time;
    if (!reader.GetString(out->backup_id, kMaxBackupId) || !reader.GetU32(&kind) ||
        !reader.GetString(out->status, sizeof out->status - 1) ||
        !reader.GetString(out->label, kMaxLabel) || !reader.GetString(out->parent, kMaxBackupId) ||
        !reader.GetU64(&out->start_lsn) || !reader.GetU64(&out->stop_lsn) ||
        !reader.GetU64(&start_time) || !reader.GetU64(&stop_time) ||
        !reader.GetU32(&out->timeline) || !reader.GetString(out->wal_start, kMaxWalName) ||
        !reader.GetString(out->wal_stop, kMaxWalName) || !reader.GetU64(&out->original_bytes) ||
        !reader.GetU64(&out->stored_bytes) || !reader.GetString(out->error, kMaxRecordError) ||
        !reader.GetString(out->phase, kMaxPhase) || !reader.GetU64(&out->files_done) ||
        !reader.GetU64(&out->files_total) || !reader.GetU64(&out->bytes_done) ||
        !reader.GetU64(&out->bytes_total) || !reader.GetU64(&out->block_files) ||
        !reader.GetU64(&out->whole_files) || !reader.GetU64(&out->copied_bytes) || !reader.GetString(out->fallback, kMaxRecordError))
        return DecodeResult::truncated;
    out->start_time = static_cast<int64_t>(start_time);
    out->stop_time = static_cast<int64_t>(stop_time);
    if (!IsValidBackupIdText(out->backup_id) || !IsValidKind(kind) || !IsValidStatus(out->status) ||
        !IsPrintableText(out->label) || !IsValidOptionalBackupId(out->parent) ||
        !IsValidOptionalWalName(out->wal_start) || !IsValidOptionalWalName(out->wal_stop) ||
        !IsPrintableText(out->error) || !IsPrintableText(out->phase) ||
        !IsPrintableText(out->fallback) || out->start_time < 0 ||
        out->stop_time < 0)
        return DecodeResult::bad_field;
    out->kind = static_cast<BackupKind>(kind);
    return Finish(reader);
}

}  // namespace wire
}  // namespace pg_ark

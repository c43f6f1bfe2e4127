/*
 * backup_protocol.h
 *     The backup messages of the wire protocol (see protocol.h for framing), shared by the
 *     extension and the helper.
 *
 * A backup is a session on one connection, driven by the PostgreSQL side:
 *
 *   backup_begin  (or backup_attach)  -> reply: ok, message = backup id
 *   pg_backup_start in PostgreSQL
 *   backup_copy   (start LSN, ...)    -> reply when every file is stored (message: warnings)
 *   pg_backup_stop in PostgreSQL
 *   backup_stop   (stop LSN, label)   -> reply once the WAL is archived and the manifest written
 *
 * The helper holds the cluster's backup lock for the session; if the connection closes before
 * backup_stop is answered, the backup fails and its parts are removed. A backup begun with
 * `detached` set is not bound to the connection that began it: a background worker takes it
 * over with backup_attach within kAttachTimeoutSeconds, or it fails.
 *
 * backup_cancel and catalog_query may come on any connection. catalog_query is answered by
 * zero or more backup_record frames, then a reply.
 */
#ifndef PG_ARK_COMMON_BACKUP_PROTOCOL_H
#define PG_ARK_COMMON_BACKUP_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

namespace pg_ark {
namespace wire {

constexpr size_t kMaxBackupId = 31;
constexpr size_t kMaxLabel = 1000;   /* PostgreSQL's own limit is MAXPGPATH (1024) bytes */
constexpr size_t kMaxBackupLabelFile = 3000;
constexpr size_t kMaxTablespaceMap = 12000;
constexpr size_t kMaxPhase = 31;
constexpr size_t kMaxRecordError = 1000;
constexpr int kAttachTimeoutSeconds = 60;

/* Backup types on the wire. */
enum class BackupKind : uint32_t { full = 0, incremental = 1, differential = 2 };

struct BackupBeginRequest {
    char cluster[kMaxClusterName + 1] = {};
    uint64_t system_identifier = 0;
    BackupKind kind = BackupKind::full;
    char label[kMaxLabel + 1] = {};
    uint32_t detached = 0;
    /* incremental only: the parent backup's id; empty = the newest usable backup (incremental)
     * or the newest full one (differential, which never names one). */
    char parent[kMaxBackupId + 1] = {};
};

/* Names one backup of a cluster: backup_attach and backup_cancel. */
struct BackupRef {
    char cluster[kMaxClusterName + 1] = {};
    char backup_id[kMaxBackupId + 1] = {};
};

struct BackupCopyRequest {
    uint64_t start_lsn = 0;
    uint32_t timeline = 0;
    uint32_t data_checksums = 0;
    uint32_t block_size = 0;
    uint32_t segment_blocks = 0;   /* RELSEG_SIZE */
    uint32_t wal_segment_size = 0;
};

struct BackupStopRequest {
    uint64_t stop_lsn = 0;
    uint32_t stop_timeline = 0;
    char backup_label[kMaxBackupLabelFile + 1] = {};
    char tablespace_map[kMaxTablespaceMap + 1] = {};
};

/* backup_id empty: every backup; "running": the running one (for progress). */
struct CatalogQuery {
    char cluster[kMaxClusterName + 1] = {};
    char backup_id[kMaxBackupId + 1] = {};
};

/* One backup as the catalog (and, while it runs, the helper) sees it. */
struct BackupRecord {
    char backup_id[kMaxBackupId + 1] = {};
    BackupKind kind = BackupKind::full;
    char status[16] = {};          /* running | complete | failed */
    char label[kMaxLabel + 1] = {};
    char parent[kMaxBackupId + 1] = {};
    uint64_t start_lsn = 0;        /* 0 = not yet known */
    uint64_t stop_lsn = 0;
    int64_t start_time = 0;        /* seconds since the epoch; 0 = not yet known */
    int64_t stop_time = 0;
    uint32_t timeline = 0;
    char wal_start[kMaxWalName + 1] = {};
    char wal_stop[kMaxWalName + 1] = {};
    uint64_t original_bytes = 0;
    uint64_t stored_bytes = 0;
    char error[kMaxRecordError + 1] = {};
    char phase[kMaxPhase + 1] = {}; /* running backups */
    uint64_t files_done = 0;
    uint64_t files_total = 0;
    uint64_t bytes_done = 0;
    uint64_t bytes_total = 0;
    /* Incremental and differential backups: relation files stored as changed blocks only, files
     * stored whole, and why block maps could not be used where they were not ("" if they were). */
    uint64_t block_files = 0;
    uint64_t whole_files = 0;
    uint64_t copied_bytes = 0; /* read and stored by this backup, before compression */
    char fallback[kMaxRecordError + 1] = {};
};

const char *BackupKindName(BackupKind kind);
/* Backup ids on the wire: 1..31 of [0-9A-Z_-]; the helper checks the exact shape. */
bool IsValidBackupIdText(const char *id);

size_t EncodeBackupBegin(const BackupBeginRequest &request, uint8_t *payload, size_t capacity);
size_t EncodeBackupRef(const BackupRef &request, uint8_t *payload, size_t capacity);
size_t EncodeBackupCopy(const BackupCopyRequest &request, uint8_t *payload, size_t capacity);
size_t EncodeBackupStop(const BackupStopRequest &request, uint8_t *payload, size_t capacity);
size_t EncodeCatalogQuery(const CatalogQuery &request, uint8_t *payload, size_t capacity);
size_t EncodeBackupRecord(const BackupRecord &record, uint8_t *payload, size_t capacity);

DecodeResult DecodeBackupBegin(const uint8_t *payload, size_t length, BackupBeginRequest *out);
DecodeResult DecodeBackupRef(const uint8_t *payload, size_t length, BackupRef *out);
DecodeResult DecodeBackupCopy(const uint8_t *payload, size_t length, BackupCopyRequest *out);
DecodeResult DecodeBackupStop(const uint8_t *payload, size_t length, BackupStopRequest *out);
DecodeResult DecodeCatalogQuery(const uint8_t *payload, size_t length, CatalogQuery *out);
DecodeResult DecodeBackupRecord(const uint8_t *payload, size_t length, BackupRecord *out);

}  // namespace wire
}  // namespace pg_ark

#endif

/*
 * helper_client.h
 *     One request/reply exchange with the pg_ark helper over its Unix socket.
 *
 * Used from the archiver and from backends. It never raises an ERROR for transport problems:
 * it returns false with a message, so that callers such as the archive callback can report one
 * WARNING and let PostgreSQL retry. Waits go through the process latch with a deadline
 * (pg_ark.request_timeout) and check for interrupts.
 */
#ifndef PG_ARK_EXTENSION_HELPER_CLIENT_H
#define PG_ARK_EXTENSION_HELPER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "backup_protocol.h"
#include "command_protocol.h"
#include "protocol.h"

/*
 * Sends one frame (payload of payload_length bytes, and pass_fd unless it is -1) and waits for
 * the reply. On transport failure returns false and writes the reason into error (palloc'd in
 * the current memory context). On success *reply holds the helper's status and message.
 */
bool HelperRequest(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                   int pass_fd, pg_ark::wire::Reply *reply, char **error);

/* Closes this process's helper connection, if open (also after an ERROR escaped a call). */
void HelperAbortConnection(void);

/*
 * A connection kept for several exchanges: a backup session or a catalog query. The caller
 * closes it with HelperAbortConnection(), in PG_FINALLY when ERRORs may escape.
 */
struct HelperFrame {
    bool is_record; /* a backup_record or a row_record; otherwise the final reply */
    bool is_row;    /* a row_record (command_protocol.h) */
    pg_ark::wire::Reply reply;
    pg_ark::wire::BackupRecord record;
    pg_ark::wire::RowRecord row;
};

bool HelperOpen(char **error);
bool HelperSend(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                uint32_t *request_id, char **error);
/*
 * Receives the next frame answering request_id. unbounded: no deadline (a backup copying a large
 * cluster); interrupts and, in a backend, the client connection are checked every second.
 */
bool HelperReceive(uint32_t request_id, bool unbounded, HelperFrame *out, char **error);

/* ERRORs for an exchange that failed in transport, and for the helper's error reply. */
void HelperRaiseTransportError(const char *error) __attribute__((noreturn));
void HelperRaiseReplyError(const pg_ark::wire::Reply &reply) __attribute__((noreturn));

/* One exchange on the open connection: sends, waits for the reply, ERRORs unless it is ok. */
void HelperCall(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                bool unbounded, pg_ark::wire::Reply *reply);

#endif

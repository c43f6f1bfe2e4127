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

#include "protocol.h"

/*
 * Sends one frame (payload of payload_length bytes, and pass_fd unless it is -1) and waits for
 * the reply. On transport failure returns false and writes the reason into error (palloc'd in
 * the current memory context). On success *reply holds the helper's status and message.
 */
bool HelperRequest(pg_ark::wire::MessageType type, const uint8_t *payload, size_t payload_length,
                   int pass_fd, pg_ark::wire::Reply *reply, char **error);

/* Closes a connection left open by an ERROR escaping HelperRequest (called from recovery). */
void HelperAbortConnection(void);

#endif

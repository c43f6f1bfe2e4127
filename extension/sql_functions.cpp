/*
 * sql_functions.cpp
 *     SQL-callable functions. Not granted to PUBLIC (see the install script).
 */
#include "pg_includes.h"

extern "C" {
#include "utils/builtins.h"
}

#include "backup_flow.h"
#include "helper_client.h"
#include "protocol.h"

extern "C" {
PG_FUNCTION_INFO_V1(pg_ark_helper_ping);
}

/* helper_ping() returns the helper's version string once it confirms it serves this cluster. */
extern "C" Datum pg_ark_helper_ping(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    pg_ark::wire::PingRequest request;
    pg_ark::wire::CopyBounded(request.cluster, sizeof request.cluster, RequireClusterName());
    uint8_t payload[pg_ark::wire::kMaxPayload];
    size_t length = pg_ark::wire::EncodePing(request, payload, sizeof payload);

    pg_ark::wire::Reply reply;
    char *error = nullptr;
    bool sent = false;
    PG_TRY();
    {
        sent = HelperRequest(pg_ark::wire::MessageType::ping, payload, length, -1, &reply, &error);
    }
    PG_FINALLY();
    {
        HelperAbortConnection(); /* a cancel while waiting must not leak the socket */
    }
    PG_END_TRY();

    if (!sent) HelperRaiseTransportError(error);
    if (reply.status != pg_ark::ErrorKind::ok) HelperRaiseReplyError(reply);
    PG_RETURN_TEXT_P(cstring_to_text(reply.message));
}

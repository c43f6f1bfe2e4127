/*
 * sql_functions.cpp
 *     SQL-callable functions. Not granted to PUBLIC (see the install script).
 */
#include "pg_includes.h"

extern "C" {
#include "utils/builtins.h"
}

#include "guc.h"
#include "helper_client.h"
#include "protocol.h"

extern "C" {
PG_FUNCTION_INFO_V1(pg_ark_helper_ping);
}

static int SqlStateOf(pg_ark::ErrorKind kind) {
    const char *s = pg_ark::ErrorKindSqlState(kind);
    return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

/* helper_ping() returns the helper's version string once it confirms it serves this cluster. */
extern "C" Datum pg_ark_helper_ping(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    if (pg_ark_cluster == nullptr || pg_ark_cluster[0] == '\0')
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("pg_ark.cluster is not set"),
                        errhint("Set pg_ark.cluster to this cluster's section in the helper's "
                                "configuration file.")));

    pg_ark::wire::PingRequest request;
    pg_ark::wire::CopyBounded(request.cluster, sizeof request.cluster, pg_ark_cluster);
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

    if (!sent)
        ereport(ERROR, (errcode(SqlStateOf(pg_ark::ErrorKind::unavailable)), errmsg("%s", error),
                        errhint("Check that \"pg_ark server\" is running.")));
    if (reply.status != pg_ark::ErrorKind::ok)
        ereport(ERROR, (errcode(SqlStateOf(reply.status)),
                        errmsg("pg_ark helper: %s", reply.message)));
    PG_RETURN_TEXT_P(cstring_to_text(reply.message));
}

/*
 * maintenance_functions.cpp
 *     backup_expire(dry_run) and backup_verify(id): the helper runs them on the repository
 *     (helper/src/command_service.h) and streams their rows; its summary comes as a NOTICE.
 */
#include "pg_includes.h"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

#include "backup_flow.h"
#include "command_client.h"

extern "C" {
PG_FUNCTION_INFO_V1(pg_ark_backup_expire);
PG_FUNCTION_INFO_V1(pg_ark_backup_verify);
}

namespace {

/* Rows of `columns` texts; a column named "bytes" is a bigint. */
void ReturnRows(FunctionCallInfo fcinfo, const CommandResult &result, int columns) {
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    TupleDesc desc = rsinfo->setDesc;
    Datum *values = (Datum *)palloc(columns * sizeof(Datum));
    bool *nulls = (bool *)palloc(columns * sizeof(bool));
    for (int i = 0; i < result.count; i++) {
        CHECK_FOR_INTERRUPTS();
        const pg_ark::wire::RowRecord &row = result.rows[i];
        if ((int)row.count != columns)
            ereport(ERROR, (errmsg("pg_ark helper: a row of %u columns where %d were expected",
                                   row.count, columns)));
        for (int c = 0; c < columns; c++) {
            nulls[c] = false;
            if (TupleDescAttr(desc, c)->atttypid == INT8OID)
                values[c] = DirectFunctionCall1(int8in, CStringGetDatum(row.columns[c]));
            else
                values[c] = CStringGetTextDatum(row.columns[c]);
        }
        tuplestore_putvalues(rsinfo->setResult, desc, values, nulls);
    }
    if (result.reply.message[0] != '\0') ereport(NOTICE, (errmsg("%s", result.reply.message)));
}

}  // namespace

extern "C" Datum pg_ark_backup_expire(PG_FUNCTION_ARGS) {
    bool dry_run = PG_GETARG_BOOL(0);
    CommandResult result = RunHelperCommandOrRaise(pg_ark::wire::Command::expire,
                                                   dry_run ? pg_ark::wire::kCommandDryRun : 0, "");
    ReturnRows(fcinfo, result, 4);
    PG_RETURN_NULL();
}

extern "C" Datum pg_ark_backup_verify(PG_FUNCTION_ARGS) {
    const char *id = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (id[0] != '\0' && !pg_ark::wire::IsValidBackupIdText(id))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid backup id \"%s\"", id),
                        errhint("Backup ids look like 20261122-053113F; see backup_list().")));
    CommandResult result = RunHelperCommandOrRaise(pg_ark::wire::Command::verify, 0, id);
    ReturnRows(fcinfo, result, 2);
    PG_RETURN_NULL();
}

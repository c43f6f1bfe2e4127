/*
 * pg_includes.h
 *     The only way extension files include PostgreSQL headers: inside extern "C".
 *
 * Files that include this are on the PostgreSQL side of the wall: they may call ereport (a
 * longjmp), so they hold no objects with destructors across calls that can raise, and the
 * extension is built with -fno-exceptions, so no C++ exception can cross PostgreSQL frames.
 */
#ifndef PG_ARK_EXTENSION_PG_INCLUDES_H
#define PG_ARK_EXTENSION_PG_INCLUDES_H

extern "C" {
#include "postgres.h"

#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/pgarch.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

/* PostgreSQL's LSN_FORMAT_ARGS checks its argument's type with a C-only builtin
 * (__builtin_types_compatible_p); this one does the same job in C++. */
#undef LSN_FORMAT_ARGS
#define LSN_FORMAT_ARGS(lsn) \
    static_cast<uint32>(static_cast<uint64>(lsn) >> 32), static_cast<uint32>(lsn)

#endif

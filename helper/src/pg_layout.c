/*
 * pg_layout.c
 *     Layout names from the server headers we build against (see pg_layout.h).
 */
#include "postgres_fe.h"

#include "common/relpath.h"

#include "pg_layout.h"

const char PgArkTablespaceVersionDirectory[] = TABLESPACE_VERSION_DIRECTORY;

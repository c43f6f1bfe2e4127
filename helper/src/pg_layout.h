/*
 * pg_layout.h
 *     Names in a PostgreSQL 15 data directory that depend on the exact server build, taken from
 *     its own headers by a C translation unit (plain C interface, no PostgreSQL types).
 */
#ifndef PG_ARK_HELPER_PG_LAYOUT_H
#define PG_ARK_HELPER_PG_LAYOUT_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * TABLESPACE_VERSION_DIRECTORY ("PG_15_202209061"): the directory inside a tablespace that
 * belongs to this major version and catalog version; others belong to other servers.
 */
extern const char PgArkTablespaceVersionDirectory[];

#ifdef __cplusplus
}
#endif

#endif

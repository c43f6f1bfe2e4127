/*
 * catalog_format.h
 *     How `pg_ark list` and `pg_ark info` show backups: a table or "key: value" lines for
 *     people, JSON for scripts. Times are UTC. LSNs are PostgreSQL's "X/X" text in both forms;
 *     in JSON, sizes and times are numbers and the system identifier is a string (it exceeds
 *     the 2^53 that JavaScript and jq keep exactly).
 */
#ifndef PG_ARK_HELPER_CATALOG_FORMAT_H
#define PG_ARK_HELPER_CATALOG_FORMAT_H

#include <stdint.h>

#include <string>
#include <vector>

#include "catalog.h"

namespace pg_ark {

std::string FormatLsn(uint64_t lsn);         /* "0/3000028" */
std::string FormatTime(int64_t seconds);     /* "2026-11-22 05:31:13" */
std::string FormatDuration(int64_t seconds); /* "45s", "3m07s", "1h02m03s" */
std::string FormatBytes(uint64_t bytes);     /* "512 B", "1.5 GiB" */

/* One line per backup under a header line; each line ends with '\n'. */
std::string FormatBackupTable(const std::vector<CatalogEntry> &entries);
/* "key: value" lines, values aligned. */
std::string FormatBackupDetails(const CatalogEntry &entry);

std::string FormatBackupListJson(const std::vector<CatalogEntry> &entries); /* an array */
std::string FormatBackupJson(const CatalogEntry &entry);                    /* an object */

}  // namespace pg_ark

#endif

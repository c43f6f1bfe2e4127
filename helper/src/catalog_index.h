/*
 * catalog_index.h
 *     <cluster>/backup.index, the catalog's cache of settled backup states, oldest first:
 *
 *     [{"backup": {...metadata...}, "status": "complete", "error": ""}, ...]
 *
 * A stored object like every other. It has no format version: an index that does not parse is
 * rebuilt from the backup directories, so a new format would cost one rebuild and nothing else.
 */
#ifndef PG_ARK_HELPER_CATALOG_INDEX_H
#define PG_ARK_HELPER_CATALOG_INDEX_H

#include <string>
#include <vector>

#include "catalog.h"
#include "storage.h"

namespace pg_ark {

/* ErrorKind::corrupt for anything malformed, or for an entry of another cluster. */
Result<std::vector<CatalogEntry>> ReadCatalogIndex(Storage &storage, const RepoPath &path,
                                                   const std::string &cluster);
/* Replaces the index. */
Status WriteCatalogIndex(Storage &storage, const RepoPath &path,
                         const std::vector<CatalogEntry> &entries);

}  // namespace pg_ark

#endif

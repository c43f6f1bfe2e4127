/*
 * pg_files.h
 *     What the helper reads from PostgreSQL's own files: a data directory's identity and the
 *     header of a WAL segment. Only fields whose position PostgreSQL keeps stable are read.
 */
#ifndef PG_ARK_HELPER_PG_FILES_H
#define PG_ARK_HELPER_PG_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "status.h"

namespace pg_ark {

struct ClusterIdentity {
    uint64_t system_identifier = 0;
    std::string pg_version; /* major version from PG_VERSION, e.g. "15" */
};

/* Reads global/pg_control (system identifier, its first field) and PG_VERSION. */
Result<ClusterIdentity> ReadClusterIdentity(const std::string &pgdata);

/*
 * The system identifier recorded in the long page header that starts every WAL segment, or 0
 * when the buffer is too short or is not a long page header.
 */
uint64_t WalSegmentSystemIdentifier(const uint8_t *data, size_t size);

}  // namespace pg_ark

#endif

/*
 * wal_name.h
 *     Recognises the file names PostgreSQL archives: WAL segments, timeline history files,
 *     backup history files and partial segments. Shared by the extension and the helper.
 *
 * A name that passes IsArchivableWalName() is safe to use as a single path component: it holds
 * only hex digits and a fixed suffix, never '/', '.' alone or "..".
 */
#ifndef PG_ARK_COMMON_WAL_NAME_H
#define PG_ARK_COMMON_WAL_NAME_H

#include <stddef.h>
#include <stdint.h>

namespace pg_ark {

enum class WalFileKind {
    invalid,
    segment,     /* 000000010000000000000003 */
    partial,     /* 000000010000000000000003.partial */
    backup,      /* 000000010000000000000003.00000028.backup */
    history,     /* 00000002.history */
};

WalFileKind ClassifyWalName(const char *name);

inline bool IsArchivableWalName(const char *name) {
    return ClassifyWalName(name) != WalFileKind::invalid;
}

/* Timeline of any valid name (first 8 hex digits); 0 for an invalid name. */
uint32_t WalNameTimeline(const char *name);

}  // namespace pg_ark

#endif

/*
 * pg_page_checksum.h
 *     PostgreSQL's data page checksum and the page header fields a backup looks at, taken from the
 *     server's own headers (storage/checksum_impl.h, storage/bufpage.h) in a C translation unit,
 *     so they can never drift from what the server computes. Plain C interface, no PostgreSQL
 *     types: C++ code includes this, never the server headers.
 */
#ifndef PG_ARK_HELPER_PG_PAGE_CHECKSUM_H
#define PG_ARK_HELPER_PG_PAGE_CHECKSUM_H

#include <stdint.h>

/* The page size (BLCKSZ) of the server headers this was built with; checked when compiling. */
#define PG_ARK_PAGE_SIZE 8192

#ifdef __cplusplus
extern "C" {
#endif

/*
 * pg_checksum_page() of a PG_ARK_PAGE_SIZE page whose block number in its relation fork is
 * blkno. The page is briefly modified (pd_checksum is zeroed and restored), hence not const.
 */
uint16_t PgArkPageChecksum(char *page, uint32_t blkno);

/* The checksum stored in the page header (pd_checksum). */
uint16_t PgArkPageStoredChecksum(const char *page);

/* The page's LSN (pd_lsn). */
uint64_t PgArkPageLsn(const char *page);

#ifdef __cplusplus
}
#endif

#endif

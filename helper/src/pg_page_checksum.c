/*
 * pg_page_checksum.c
 *     The page checksum exactly as the server computes it: this file compiles PostgreSQL's own
 *     implementation (storage/checksum_impl.h), as the server's frontend tools do.
 */
#include "postgres_fe.h"

#include "storage/bufpage.h"
#include "storage/checksum.h"
#include "storage/checksum_impl.h"

#include "pg_page_checksum.h"

StaticAssertDecl(BLCKSZ == PG_ARK_PAGE_SIZE, "PG_ARK_PAGE_SIZE must match the server's BLCKSZ");

uint16_t PgArkPageChecksum(char *page, uint32_t blkno) {
    return pg_checksum_page(page, blkno);
}

uint16_t PgArkPageStoredChecksum(const char *page) {
    return ((const PageHeaderData *)page)->pd_checksum;
}

uint64_t PgArkPageLsn(const char *page) {
    return PageXLogRecPtrGet(((const PageHeaderData *)page)->pd_lsn);
}

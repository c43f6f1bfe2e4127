/*
 * page_checksum_test.cpp
 *     Tests of PostgreSQL's page checksum as the helper builds it (helper/src/pg_page_checksum.h):
 *     known values, the header fields it reads, and that computing leaves the page unchanged.
 */
#include "pg_page_checksum.h"

#include <gtest/gtest.h>
#include <string.h>

#include <string>

#include "test_util.h"

namespace pg_ark {
namespace {

/* Bytes (i * 7 + 3) mod 256: a page with no zero runs, so every word counts. */
std::string PatternPage() {
    std::string page(PG_ARK_PAGE_SIZE, '\0');
    for (size_t i = 0; i < page.size(); i++) page[i] = static_cast<char>(i * 7 + 3);
    return page;
}

TEST(PageChecksumTest, KnownValues) {
    /* Computed independently (a direct transcription of the algorithm documented in the
     * server's storage/checksum_impl.h), so a miscompiled or mismatched build shows here. */
    std::string page = PatternPage();
    EXPECT_EQ(PgArkPageChecksum(&page[0], 0), 0xaa4c);
    EXPECT_EQ(PgArkPageChecksum(&page[0], 1), 0xaa4b);
    EXPECT_EQ(PgArkPageChecksum(&page[0], 5), 0xaa47);
    EXPECT_EQ(PgArkPageChecksum(&page[0], 1234567), 0x77d8);
}

TEST(PageChecksumTest, IgnoresStoredChecksumAndLeavesPageUnchanged) {
    std::string page = PatternPage();
    std::string before = page;
    uint16_t checksum = PgArkPageChecksum(&page[0], 42);
    EXPECT_EQ(page, before);
    pg_ark_test::PutLe16(&page, 8, checksum);
    EXPECT_EQ(PgArkPageStoredChecksum(page.data()), checksum);
    EXPECT_EQ(PgArkPageChecksum(&page[0], 42), checksum);
}

TEST(PageChecksumTest, DependsOnContentAndBlock) {
    std::string page = PatternPage();
    uint16_t checksum = PgArkPageChecksum(&page[0], 7);
    EXPECT_NE(PgArkPageChecksum(&page[0], 8), checksum);
    page[PG_ARK_PAGE_SIZE - 1] ^= 1;
    EXPECT_NE(PgArkPageChecksum(&page[0], 7), checksum);
    /* Never 0: the server reserves it for "no checksum". */
    std::string zero(PG_ARK_PAGE_SIZE, '\0');
    for (uint32_t block = 0; block < 1000; block++)
        EXPECT_NE(PgArkPageChecksum(&zero[0], block), 0);
}

TEST(PageChecksumTest, ReadsLsnFromHeader) {
    /* pd_lsn is {xlogid, xrecoff}, two native-order 32-bit halves. */
    std::string page(PG_ARK_PAGE_SIZE, '\0');
    pg_ark_test::PutLe32(&page, 0, 0x12);
    pg_ark_test::PutLe32(&page, 4, 0x345678AB);
    EXPECT_EQ(PgArkPageLsn(page.data()), 0x12345678ABull);
}

}  // namespace
}  // namespace pg_ark

/*
 * xxh128_test.cpp
 *     Tests of the XXH3-128 wrapper (helper/src/xxh128.h): known digests in canonical order (as
 *     `xxhsum -H2` prints them), and incremental hashing in any split equal to one shot.
 */
#include "xxh128.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "test_util.h"

namespace pg_ark {
namespace {

std::string HexOf(const std::string &data) { return ToHex(Xxh128Of(data.data(), data.size())); }

TEST(Xxh128Test, KnownDigests) {
    EXPECT_EQ(HexOf(""), "99aa06d3014798d86001c324468d497f");
    EXPECT_EQ(HexOf("abc"), "06b05ab6733a618578af5f94892f3950");
    EXPECT_EQ(ToHex(Xxh128Of(nullptr, 0)), "99aa06d3014798d86001c324468d497f");
}

TEST(Xxh128Test, IncrementalEqualsOneShot) {
    std::string data = pg_ark_test::RandomBytes(300007, 12);
    Xxh128Digest expected = Xxh128Of(data.data(), data.size());
    for (size_t step : {1u, 3u, 63u, 64u, 65u, 240u, 4096u, 100000u}) {
        Xxh128 hash;
        for (size_t at = 0; at < data.size(); at += step)
            hash.Update(data.data() + at, std::min(step, data.size() - at));
        hash.Update(data.data(), 0);
        EXPECT_EQ(hash.Finish(), expected) << step;
    }
}

TEST(Xxh128Test, DigestOfDifferentInputsDiffers) {
    EXPECT_NE(Xxh128Of("a", 1), Xxh128Of("b", 1));
    EXPECT_NE(Xxh128Of("a", 1), Xxh128Of("a\0", 2));
    std::string page = pg_ark_test::RandomBytes(8192, 13);
    std::string flipped = page;
    flipped[4000] ^= 1;
    EXPECT_NE(Xxh128Of(page.data(), page.size()), Xxh128Of(flipped.data(), flipped.size()));
}

}  // namespace
}  // namespace pg_ark

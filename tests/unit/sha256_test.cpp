/*
 * sha256_test.cpp
 *     Tests of the SHA-256 wrapper (helper/src/sha256.h) against FIPS 180-2 test vectors, and
 *     that incremental hashing in any split equals the one-shot digest.
 */
#include "sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace pg_ark {
namespace {

std::string HexOf(const std::string &data) {
    return ToHex(Sha256Of(data.data(), data.size()));
}

TEST(Sha256Test, KnownVectors) {
    EXPECT_EQ(HexOf("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(HexOf(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(HexOf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(HexOf(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, NullPointerWithZeroSize) {
    EXPECT_EQ(ToHex(Sha256Of(nullptr, 0)),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
    std::string data = pg_ark_test::RandomBytes(200003, 11);
    Sha256Digest expected = Sha256Of(data.data(), data.size());
    for (size_t step : {1u, 3u, 63u, 64u, 65u, 4096u, 100000u}) {
        Sha256 hash;
        for (size_t at = 0; at < data.size(); at += step)
            hash.Update(data.data() + at, std::min(step, data.size() - at));
        hash.Update(data.data(), 0);
        EXPECT_EQ(hash.Finish(), expected) << step;
    }
}

TEST(Sha256Test, DigestOfDifferentInputsDiffers) {
    EXPECT_NE(Sha256Of("a", 1), Sha256Of("b", 1));
    EXPECT_NE(Sha256Of("a", 1), Sha256Of("a\0", 2));
}

TEST(Sha256Test, ToHexIsLowercase64Chars) {
    Sha256Digest digest{};
    for (size_t i = 0; i < digest.size(); i++) digest[i] = static_cast<uint8_t>(i * 8 + 0x0F);
    std::string hex = ToHex(digest);
    ASSERT_EQ(hex.size(), 64u);
    EXPECT_EQ(hex.substr(0, 6), "0f171f");
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace pg_ark

/*
 * encrypted_storage_test.cpp
 *     The encrypted storage decorator: round trips of every size class around the chunk
 *     boundary, and that a wrong key, a flipped bit anywhere, a truncation (mid-chunk and at a
 *     chunk boundary), an object moved to another name, or an unencrypted object are refused as
 *     corrupt, naming the object, before any of their bytes are returned as verified.
 */
#include "encrypted_storage.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>
#include <string>

#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

SecretKey KeyOf(uint8_t fill) {
    uint8_t bytes[kAesKeySize];
    memset(bytes, fill, sizeof bytes);
    return SecretKey(bytes);
}

std::string RandomBytesOf(size_t size, uint32_t seed) {
    std::mt19937 generator(seed);
    std::string data(size, '\0');
    for (char &c : data) c = static_cast<char>(generator());
    return data;
}

RepoPath Path(const std::string &text) { return *RepoPath::Make(text); }

class EncryptedStorageTest : public ::testing::Test {
  protected:
    EncryptedStorageTest() : dir_("pg_ark_encrypted") {}

    /* An encrypted storage over dir_ with a key of that fill and chunk size. */
    std::unique_ptr<Storage> Encrypted(uint8_t fill = 1, size_t chunk = kEncryptionChunkSize) {
        return MakeEncryptedStorage(MakePosixStorage(dir_.path()),
                                    [fill]() -> Result<SecretKey> { return KeyOf(fill); }, chunk);
    }
    std::string Raw(const std::string &name) { return pg_ark_test::ReadFileBytes(dir_.Sub(name)); }
    void SetRaw(const std::string &name, const std::string &bytes) {
        pg_ark_test::WriteFileBytes(dir_.Sub(name), bytes);
    }
    void ExpectCorrupt(Storage &storage, const std::string &name) {
        auto read = ReadAll(storage, Path(name));
        ASSERT_FALSE(read.ok()) << "read " << name << " succeeded";
        EXPECT_EQ(read.status().kind(), ErrorKind::corrupt) << read.status().message();
        EXPECT_NE(read.status().message().find(dir_.path() + "/" + name), std::string::npos)
            << read.status().message();
    }

    pg_ark_test::TempDir dir_;
};

TEST_F(EncryptedStorageTest, RoundTripsAroundChunkBoundaries) {
    auto storage = Encrypted();
    const size_t chunk = kEncryptionChunkSize;
    for (size_t size : {size_t{0}, size_t{1}, chunk - 1, chunk, chunk + 1, 2 * chunk - 1, 2 * chunk,
                        2 * chunk + 1, size_t{5} * 1024 * 1024 + 7}) {
        std::string name = "o" + std::to_string(size);
        std::string data = RandomBytesOf(size, static_cast<uint32_t>(size));
        ASSERT_TRUE(WriteAll(*storage, Path(name), data, WriteMode::create_new).ok());
        auto read = ReadAll(*storage, Path(name));
        ASSERT_TRUE(read.ok()) << read.status().message();
        EXPECT_EQ(*read, data) << "size " << size;
        size_t chunks = size == 0 ? 1 : (size + chunk - 1) / chunk; /* the last may be full */
        EXPECT_EQ(Raw(name).size(), kEncryptionHeaderSize + size + chunks * kGcmTagSize) << size;
    }
}

TEST_F(EncryptedStorageTest, WritesInPiecesAndSmallReadsAgree) {
    auto storage = Encrypted(1, 100);
    std::string data = RandomBytesOf(1000, 7);
    auto stream = storage->OpenWrite(Path("pieces"), WriteMode::create_new);
    ASSERT_TRUE(stream.ok());
    for (size_t at = 0; at < data.size(); at += 37)
        ASSERT_TRUE((*stream)->Write(data.data() + at, std::min<size_t>(37, data.size() - at)).ok());
    ASSERT_TRUE((*stream)->Close().ok());
    auto in = storage->OpenRead(Path("pieces"));
    ASSERT_TRUE(in.ok());
    std::string read;
    char buffer[13];
    for (;;) {
        auto got = (*in)->Read(buffer, sizeof buffer);
        ASSERT_TRUE(got.ok()) << got.status().message();
        if (*got == 0) break;
        read.append(buffer, *got);
    }
    EXPECT_EQ(read, data);
}

TEST_F(EncryptedStorageTest, StoresNoPlaintext) {
    auto storage = Encrypted();
    std::string canary = "pg_ark-plaintext-canary-0123456789";
    std::string data;
    for (int i = 0; i < 1000; i++) data += canary;
    ASSERT_TRUE(WriteAll(*storage, Path("c"), data, WriteMode::create_new).ok());
    EXPECT_EQ(Raw("c").find("canary"), std::string::npos);
    /* The same bytes twice give different ciphertexts (a fresh salt per object). */
    ASSERT_TRUE(WriteAll(*storage, Path("d"), data, WriteMode::create_new).ok());
    EXPECT_NE(Raw("c").substr(kEncryptionHeaderSize), Raw("d").substr(kEncryptionHeaderSize));
}

TEST_F(EncryptedStorageTest, WrongKeyIsCorrupt) {
    ASSERT_TRUE(WriteAll(*Encrypted(1), Path("k"), "some bytes", WriteMode::create_new).ok());
    auto other = Encrypted(2);
    ExpectCorrupt(*other, "k");
}

TEST_F(EncryptedStorageTest, EveryFlippedBitIsDetected) {
    auto storage = Encrypted(1, 64);
    std::string data = RandomBytesOf(200, 3); /* chunks of 64, 64, 64, 8 */
    ASSERT_TRUE(WriteAll(*storage, Path("f"), data, WriteMode::create_new).ok());
    const std::string stored = Raw("f");
    /* Every byte of the header, every chunk's body and every tag. */
    for (size_t at = 0; at < stored.size(); at++) {
        std::string damaged = stored;
        damaged[at] = static_cast<char>(damaged[at] ^ (1 << (at % 8)));
        SetRaw("f", damaged);
        ExpectCorrupt(*storage, "f");
    }
    SetRaw("f", stored);
    EXPECT_TRUE(ReadAll(*storage, Path("f")).ok());
}

TEST_F(EncryptedStorageTest, TruncationIsDetected) {
    auto storage = Encrypted(1, 64);
    std::string data = RandomBytesOf(200, 4);
    ASSERT_TRUE(WriteAll(*storage, Path("t"), data, WriteMode::create_new).ok());
    const std::string stored = Raw("t");
    const size_t sealed_chunk = 64 + kGcmTagSize;
    /* Mid-chunk, exactly at each chunk boundary, inside the header, and empty. */
    for (size_t keep : {stored.size() - 1, stored.size() - 10, kEncryptionHeaderSize + sealed_chunk,
                        kEncryptionHeaderSize + 2 * sealed_chunk, kEncryptionHeaderSize + 3 * sealed_chunk,
                        kEncryptionHeaderSize + 5, kEncryptionHeaderSize, size_t{10}, size_t{0}}) {
        SetRaw("t", stored.substr(0, keep));
        ExpectCorrupt(*storage, "t");
    }
    /* Appended bytes too. */
    SetRaw("t", stored + "x");
    ExpectCorrupt(*storage, "t");
}

TEST_F(EncryptedStorageTest, TruncationAtBoundaryReturnsNoUnverifiedEnd) {
    /* The reader may hand out verified chunks before finding the end missing: what matters is
     * that the stream then fails instead of ending, so a caller never sees a short object as whole. */
    auto storage = Encrypted(1, 64);
    ASSERT_TRUE(WriteAll(*storage, Path("b"), RandomBytesOf(128 + 10, 5), WriteMode::create_new).ok());
    SetRaw("b", Raw("b").substr(0, kEncryptionHeaderSize + 2 * (64 + kGcmTagSize)));
    auto in = storage->OpenRead(Path("b"));
    ASSERT_TRUE(in.ok());
    char buffer[1000];
    Status failed;
    for (int i = 0; i < 10 && failed.ok(); i++) {
        auto got = (*in)->Read(buffer, sizeof buffer);
        if (!got.ok()) failed = got.status();
        else ASSERT_NE(*got, 0u) << "a truncated object read to a clean end";
    }
    EXPECT_EQ(failed.kind(), ErrorKind::corrupt);
    auto again = (*in)->Read(buffer, sizeof buffer);
    EXPECT_FALSE(again.ok()) << "a failure must stick";
}

TEST_F(EncryptedStorageTest, MovedObjectIsDetected) {
    auto storage = Encrypted();
    ASSERT_TRUE(WriteAll(*storage, Path("a/x"), "content of x", WriteMode::create_new).ok());
    ASSERT_TRUE(WriteAll(*storage, Path("a/y"), "content of y", WriteMode::create_new).ok());
    /* An intact object copied over another name. */
    SetRaw("a/y", Raw("a/x"));
    ExpectCorrupt(*storage, "a/y");
    EXPECT_TRUE(ReadAll(*storage, Path("a/x")).ok());
}

TEST_F(EncryptedStorageTest, UnencryptedObjectIsRefused) {
    auto plain = MakePosixStorage(dir_.path());
    ASSERT_TRUE(WriteWholeObject(*plain, Path("plain"), "hello", kUncompressed, WriteMode::create_new).ok());
    auto storage = Encrypted();
    auto read = ReadWholeObject(*storage, Path("plain"));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().kind(), ErrorKind::corrupt);
    EXPECT_NE(read.status().message().find("not encrypted"), std::string::npos) << read.status().message();
}

TEST_F(EncryptedStorageTest, StoredObjectsRoundTripInside) {
    auto storage = Encrypted();
    std::string data = RandomBytesOf(300000, 9);
    ASSERT_TRUE(WriteWholeObject(*storage, Path("s/obj"), data, Compression{}, WriteMode::create_new).ok());
    auto read = ReadWholeObject(*storage, Path("s/obj"));
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_EQ(*read, data);
}

TEST_F(EncryptedStorageTest, MissingIsNotFoundAndAbortedWriteLeavesNothing) {
    auto storage = Encrypted();
    auto read = storage->OpenRead(Path("absent"));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().kind(), ErrorKind::not_found);
    {
        auto stream = storage->OpenWrite(Path("aborted"), WriteMode::create_new);
        ASSERT_TRUE(stream.ok());
        ASSERT_TRUE((*stream)->Write("abc", 3).ok());
    }
    auto info = storage->Info(Path("aborted"));
    ASSERT_TRUE(info.ok());
    EXPECT_FALSE(info->exists);
}

TEST_F(EncryptedStorageTest, KeySourceFailureIsReturnedAndRetried) {
    int calls = 0;
    auto storage = MakeEncryptedStorage(MakePosixStorage(dir_.path()), [&calls]() -> Result<SecretKey> {
        if (++calls == 1) return Status(ErrorKind::not_initialized, "no key yet");
        return KeyOf(1);
    });
    auto first = storage->OpenWrite(Path("k"), WriteMode::create_new);
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(first.status().kind(), ErrorKind::not_initialized);
    ASSERT_TRUE(WriteAll(*storage, Path("k"), "x", WriteMode::create_new).ok());
    EXPECT_TRUE(ReadAll(*storage, Path("k")).ok());
    EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace pg_ark

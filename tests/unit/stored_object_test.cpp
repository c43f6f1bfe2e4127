/*
 * stored_object_test.cpp
 *     Tests of the stored-object format (helper/src/stored_object.h): byte layout, round trips
 *     with and without zstd in odd chunk sizes, summaries, and that any damaged, truncated or
 *     extended object is ErrorKind::corrupt in both DecodeObject and SummarizeObject.
 */
#include "stored_object.h"

#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace pg_ark {
namespace {

/* Collects written bytes; can be told to fail after a number of bytes. */
class StringWriteStream : public WriteStream {
  public:
    explicit StringWriteStream(size_t fail_after = SIZE_MAX) : fail_after_(fail_after) {}
    Status Write(const void *data, size_t size) override {
        if (data_.size() + size > fail_after_) return Status(ErrorKind::no_space, "test sink full");
        data_.append(static_cast<const char *>(data), size);
        writes_++;
        return Status::Ok();
    }
    Status Close() override { return Status::Ok(); }
    const std::string &data() const { return data_; }

  private:
    std::string data_;
    size_t fail_after_;
    size_t writes_ = 0;
};

/* Returns at most a varying number of bytes per Read; can fail at an offset. */
class ChunkedReadStream : public ReadStream {
  public:
    explicit ChunkedReadStream(const std::string &data, uint32_t seed = 1,
                               size_t fail_at = SIZE_MAX)
        : data_(data), rng_(seed), fail_at_(fail_at) {}
    Result<size_t> Read(void *buffer, size_t size) override {
        if (position_ >= fail_at_) return Status(ErrorKind::io_error, "test read failure");
        static const size_t kLimits[] = {1, 3, 17, 88, 89, 4095, 65536, 300000};
        size_t limit = kLimits[rng_() % 8];
        size_t n = std::min({size, limit, data_.size() - position_, fail_at_ - position_});
        memcpy(buffer, data_.data() + position_, n);
        position_ += n;
        return n;
    }

  private:
    const std::string &data_;
    size_t position_ = 0;
    std::mt19937 rng_;
    size_t fail_at_;
};

Compression Zstd(int level = 1) {
    return Compression{CompressType::zstd, level};
}
Compression None() {
    return Compression{CompressType::none, 1};
}

struct Encoded {
    std::string object;
    ObjectSummary summary;
};

Encoded Encode(const std::string &input, Compression compression,
               const std::vector<size_t> &chunks = {65536}) {
    StringWriteStream sink;
    ObjectEncoder encoder(compression, &sink);
    size_t at = 0;
    for (size_t i = 0; at < input.size(); i++) {
        size_t n = std::min(chunks[i % chunks.size()], input.size() - at);
        Status s = encoder.Update(input.data() + at, n);
        EXPECT_TRUE(s.ok()) << s.message();
        at += n;
    }
    Status s = encoder.Finish();
    EXPECT_TRUE(s.ok()) << s.message();
    return Encoded{sink.data(), encoder.summary()};
}

Result<ObjectSummary> Decode(const std::string &object, std::string *out, uint32_t seed = 1,
                             Verify verify = Verify::full) {
    out->clear();
    ChunkedReadStream in(object, seed);
    return DecodeObject(
        in,
        [out](const uint8_t *data, size_t size) {
            out->append(reinterpret_cast<const char *>(data), size);
            return Status::Ok();
        },
        "test/object.ark", verify);
}

Result<ObjectSummary> Summarize(const std::string &object, uint32_t seed = 1) {
    ChunkedReadStream in(object, seed);
    return SummarizeObject(in, "test/object.ark");
}

uint64_t Le64(const std::string &s, size_t at) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
    return v;
}
uint32_t Le32(const std::string &s, size_t at) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
    return v;
}

std::string Compressible(size_t size) {
    std::string data(size, '\0');
    const std::string text = "INSERT INTO t VALUES (42, 'the quick brown fox'); ";
    for (size_t i = 0; i < size; i++) data[i] = text[i % text.size()];
    return data;
}

/* Checks a decode result is corrupt in both entry points; returns false on the first miss. */
::testing::AssertionResult BothCorrupt(const std::string &object) {
    std::string out;
    Result<ObjectSummary> decoded = Decode(object, &out);
    if (decoded.ok()) return ::testing::AssertionFailure() << "DecodeObject accepted it";
    if (decoded.status().kind() != ErrorKind::corrupt)
        return ::testing::AssertionFailure()
               << "DecodeObject: " << ErrorKindName(decoded.status().kind()) << ": "
               << decoded.status().message();
    if (decoded.status().message().find("test/object.ark") == std::string::npos)
        return ::testing::AssertionFailure()
               << "message does not name the object: " << decoded.status().message();
    Result<ObjectSummary> summarized = Summarize(object);
    if (summarized.ok()) return ::testing::AssertionFailure() << "SummarizeObject accepted it";
    if (summarized.status().kind() != ErrorKind::corrupt)
        return ::testing::AssertionFailure()
               << "SummarizeObject: " << ErrorKindName(summarized.status().kind()) << ": "
               << summarized.status().message();
    return ::testing::AssertionSuccess();
}

/* ---------------------------------------------------------------- layout */

TEST(StoredObjectTest, ByteLayout) {
    for (Compression compression : {None(), Zstd()}) {
        std::string input = Compressible(10000);
        Encoded e = Encode(input, compression);
        const std::string &o = e.object;
        ASSERT_GE(o.size(), kObjectHeaderSize + kObjectTrailerSize);
        EXPECT_EQ(o.substr(0, 8), "PGARKOB1");
        EXPECT_EQ(Le32(o, 8), 1u);
        EXPECT_EQ(Le32(o, 12), compression.type == CompressType::zstd ? 1u : 0u);
        size_t t = o.size() - kObjectTrailerSize;
        EXPECT_EQ(Le64(o, t), input.size());
        EXPECT_EQ(Le64(o, t + 8), o.size() - kObjectHeaderSize - kObjectTrailerSize);
        Sha256Digest original = Sha256Of(input.data(), input.size());
        EXPECT_EQ(memcmp(o.data() + t + 16, original.data(), 32), 0);
        Sha256Digest stored = Sha256Of(o.data(), t + 48);
        EXPECT_EQ(memcmp(o.data() + t + 48, stored.data(), 32), 0);
        EXPECT_EQ(o.substr(o.size() - 8), "PGARKEND");
        if (compression.type == CompressType::none)
            EXPECT_EQ(o.substr(kObjectHeaderSize, input.size()), input);
        else
            EXPECT_LT(o.size(), input.size() / 4) << "zstd did not compress repetitive text";
    }
}

TEST(StoredObjectTest, SummaryMatchesInputAndObject) {
    std::string input = pg_ark_test::RandomBytes(123457, 5);
    for (Compression compression : {None(), Zstd(), Zstd(19)}) {
        Encoded e = Encode(input, compression);
        EXPECT_EQ(e.summary.original_size, input.size());
        EXPECT_EQ(e.summary.stored_size, e.object.size());
        EXPECT_EQ(e.summary.original_sha256, Sha256Of(input.data(), input.size()));
    }
}

/* ---------------------------------------------------------------- round trips */

TEST(StoredObjectTest, RoundTripSmall) {
    for (Compression compression : {None(), Zstd(), Zstd(3), Zstd(19)}) {
        for (const std::string &input :
             {std::string("x"), std::string("hello, world"), Compressible(100000),
              pg_ark_test::RandomBytes(70000, 9)}) {
            Encoded e = Encode(input, compression);
            std::string out;
            Result<ObjectSummary> decoded = Decode(e.object, &out);
            ASSERT_TRUE(decoded.ok()) << decoded.status().message();
            EXPECT_EQ(out, input);
            EXPECT_EQ(decoded->original_size, input.size());
            EXPECT_EQ(decoded->stored_size, e.object.size());
            EXPECT_EQ(decoded->original_sha256, e.summary.original_sha256);
        }
    }
}

TEST(StoredObjectTest, RoundTripEmpty) {
    for (Compression compression : {None(), Zstd()}) {
        Encoded e = Encode("", compression);
        EXPECT_EQ(e.summary.original_size, 0u);
        EXPECT_EQ(e.summary.original_sha256, Sha256Of("", 0));
        EXPECT_EQ(e.summary.stored_size, e.object.size());
        std::string out = "junk";
        Result<ObjectSummary> decoded = Decode(e.object, &out);
        ASSERT_TRUE(decoded.ok()) << decoded.status().message();
        EXPECT_EQ(out, "");
        EXPECT_EQ(decoded->original_size, 0u);
        Result<ObjectSummary> summary = Summarize(e.object);
        ASSERT_TRUE(summary.ok()) << summary.status().message();
        EXPECT_EQ(summary->original_sha256, Sha256Of("", 0));
    }
}

TEST(StoredObjectTest, FinishWithoutUpdateIsEmptyObject) {
    StringWriteStream sink;
    ObjectEncoder encoder(Zstd(), &sink);
    ASSERT_TRUE(encoder.Finish().ok());
    std::string out;
    Result<ObjectSummary> decoded = Decode(sink.data(), &out);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(out, "");
}

TEST(StoredObjectTest, RoundTripLargeStreamedInOddChunks) {
    /* 20 MiB: alternating 1 MiB of random and of compressible bytes. */
    std::string input;
    input.reserve(20 << 20);
    for (int i = 0; i < 20; i++)
        input += (i % 2) ? Compressible(1 << 20) : pg_ark_test::RandomBytes(1 << 20, 100 + i);
    Sha256Digest expected = Sha256Of(input.data(), input.size());
    for (Compression compression : {Zstd(), None()}) {
        Encoded e = Encode(input, compression, {1, 7, 4093, 65537, (1 << 20) + 3, 13});
        EXPECT_EQ(e.summary.original_size, input.size());
        EXPECT_EQ(e.summary.original_sha256, expected);
        EXPECT_EQ(e.summary.stored_size, e.object.size());
        if (compression.type == CompressType::zstd)
            EXPECT_LT(e.object.size(), input.size() * 6 / 10);

        std::string out;
        Result<ObjectSummary> decoded = Decode(e.object, &out, 77);
        ASSERT_TRUE(decoded.ok()) << decoded.status().message();
        EXPECT_TRUE(out == input) << "decoded bytes differ (size " << out.size() << ")";
        EXPECT_EQ(decoded->original_sha256, expected);
        Result<ObjectSummary> summary = Summarize(e.object, 78);
        ASSERT_TRUE(summary.ok()) << summary.status().message();
        EXPECT_EQ(summary->original_sha256, expected);
        EXPECT_EQ(summary->original_size, input.size());
        EXPECT_EQ(summary->stored_size, e.object.size());

        /* Truncation sampled at boundaries and random points. */
        std::mt19937 rng(3);
        std::vector<size_t> cuts = {0, 17, e.object.size() - kObjectTrailerSize,
                                    e.object.size() - kObjectTrailerSize + 1, e.object.size() - 1};
        for (int i = 0; i < 2; i++) cuts.push_back(rng() % e.object.size());
        /* The hold-back of the trailer is what matters here; the none case adds little. */
        if (compression.type == CompressType::none) cuts = {e.object.size() - 1};
        for (size_t cut : cuts) EXPECT_TRUE(BothCorrupt(e.object.substr(0, cut))) << "cut " << cut;

        /* One flipped bit deep in the payload. */
        std::string damaged = e.object;
        damaged[e.object.size() / 3] ^= 0x10;
        EXPECT_TRUE(BothCorrupt(damaged));
    }
}

TEST(StoredObjectTest, SummarizeObject) {
    std::string input = Compressible(300000) + pg_ark_test::RandomBytes(5000, 8);
    for (Compression compression : {None(), Zstd()}) {
        Encoded e = Encode(input, compression);
        Result<ObjectSummary> summary = Summarize(e.object);
        ASSERT_TRUE(summary.ok()) << summary.status().message();
        EXPECT_EQ(summary->original_size, input.size());
        EXPECT_EQ(summary->stored_size, e.object.size());
        EXPECT_EQ(summary->original_sha256, Sha256Of(input.data(), input.size()));
    }
}

TEST(StoredObjectTest, UpdateWholeEqualsUpdate) {
    std::string input = Compressible(3 << 20) + pg_ark_test::RandomBytes(1 << 20, 21);
    for (Compression compression : {None(), Zstd(), Zstd(5)}) {
        Encoded streamed = Encode(input, compression, {input.size()});
        StringWriteStream sink;
        ObjectEncoder encoder(compression, &sink);
        ASSERT_TRUE(encoder.UpdateWhole(input.data(), input.size()).ok());
        ASSERT_TRUE(encoder.Finish().ok());
        EXPECT_TRUE(sink.data() == streamed.object) << "UpdateWhole wrote different bytes";
        EXPECT_EQ(encoder.summary().original_size, input.size());
        EXPECT_EQ(encoder.summary().stored_size, sink.data().size());
        EXPECT_EQ(encoder.summary().original_sha256, Sha256Of(input.data(), input.size()));
        std::string out;
        Result<ObjectSummary> decoded = Decode(sink.data(), &out);
        ASSERT_TRUE(decoded.ok()) << decoded.status().message();
        EXPECT_TRUE(out == input);
    }
}

/* The manifest's XXH3-128 (not in the object): of exactly the bytes given, by either path. */
TEST(StoredObjectTest, SummaryHasXxh128OfTheOriginalBytes) {
    /* More than the encoder's 256 KiB hashing slices, in odd chunks too. */
    std::string input = pg_ark_test::RandomBytes(5 << 20, 14) + Compressible(12345);
    Xxh128Digest expected = Xxh128Of(input.data(), input.size());
    for (Compression compression : {None(), Zstd()}) {
        Encoded streamed = Encode(input, compression, {1, 7, 4093, 65537, (1 << 20) + 3, 13});
        EXPECT_TRUE(streamed.summary.has_original_xxh128);
        EXPECT_EQ(streamed.summary.original_xxh128, expected);
        StringWriteStream sink;
        ObjectEncoder encoder(compression, &sink);
        ASSERT_TRUE(encoder.UpdateWhole(input.data(), input.size()).ok());
        ASSERT_TRUE(encoder.Finish().ok());
        EXPECT_TRUE(encoder.summary().has_original_xxh128);
        EXPECT_EQ(encoder.summary().original_xxh128, expected);
        /* Decoding cannot know it: the object's bytes do not hold it. */
        std::string out;
        Result<ObjectSummary> decoded = Decode(sink.data(), &out);
        ASSERT_TRUE(decoded.ok()) << decoded.status().message();
        EXPECT_FALSE(decoded->has_original_xxh128);
    }
    EXPECT_EQ(Encode("", Zstd()).summary.original_xxh128, Xxh128Of("", 0));
}

TEST(StoredObjectTest, UpdateWholeEmpty) {
    StringWriteStream sink;
    ObjectEncoder encoder(Zstd(), &sink);
    ASSERT_TRUE(encoder.UpdateWhole("", 0).ok());
    ASSERT_TRUE(encoder.Finish().ok());
    EXPECT_EQ(encoder.summary().original_sha256, Sha256Of("", 0));
    std::string out = "junk";
    Result<ObjectSummary> decoded = Decode(sink.data(), &out);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(out, "");
}

TEST(StoredObjectTest, UpdateWholeWriteErrorIsPropagated) {
    std::string input = pg_ark_test::RandomBytes(300000, 13);
    StringWriteStream sink(1000);
    ObjectEncoder encoder(Zstd(), &sink);
    Status status = encoder.UpdateWhole(input.data(), input.size());
    if (status.ok()) status = encoder.Finish();
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.kind(), ErrorKind::no_space) << status.message();
}

/* ---------------------------------------------------------------- corruption */

TEST(StoredObjectTest, FlippedHeaderBytesAreCorrupt) {
    for (Compression compression : {None(), Zstd()}) {
        Encoded e = Encode(Compressible(5000), compression);
        for (size_t i = 0; i < kObjectHeaderSize; i++) {
            for (uint8_t mask : {0x01, 0x80}) {
                std::string damaged = e.object;
                damaged[i] ^= mask;
                EXPECT_TRUE(BothCorrupt(damaged)) << "header byte " << i << " mask " << int(mask);
            }
        }
    }
}

TEST(StoredObjectTest, CompressionFieldSwapIsCorrupt) {
    /* A none-object relabelled zstd and vice versa. */
    Encoded plain = Encode("plain text payload", None());
    std::string relabelled = plain.object;
    relabelled[12] = 1;
    EXPECT_TRUE(BothCorrupt(relabelled));
    Encoded packed = Encode(Compressible(1000), Zstd());
    relabelled = packed.object;
    relabelled[12] = 0;
    EXPECT_TRUE(BothCorrupt(relabelled));
}

TEST(StoredObjectTest, FlippedPayloadBytesAreCorrupt) {
    for (Compression compression : {None(), Zstd()}) {
        std::string input = Compressible(20000) + pg_ark_test::RandomBytes(20000, 4);
        Encoded e = Encode(input, compression);
        size_t payload = e.object.size() - kObjectHeaderSize - kObjectTrailerSize;
        ASSERT_GT(payload, 0u);
        std::mt19937 rng(5);
        std::vector<size_t> positions = {kObjectHeaderSize, kObjectHeaderSize + payload - 1};
        for (int i = 0; i < 40; i++) positions.push_back(kObjectHeaderSize + rng() % payload);
        for (size_t at : positions) {
            std::string damaged = e.object;
            damaged[at] ^= static_cast<char>(1 << (rng() % 8));
            EXPECT_TRUE(BothCorrupt(damaged)) << "payload byte " << at;
        }
    }
}

/* Verify::stored recomputes only the stored checksum, yet still misses no damage to the bytes. */
TEST(StoredObjectTest, StoredVerificationRoundTripsAndCatchesFlips) {
    for (Compression compression : {None(), Zstd()}) {
        std::string input = Compressible(20000) + pg_ark_test::RandomBytes(20000, 4);
        Encoded e = Encode(input, compression);
        size_t trailer = e.object.size() - kObjectTrailerSize;
        EXPECT_EQ(e.summary.stored_sha256, Sha256Of(e.object.data(), trailer + 48));
        std::string out;
        Result<ObjectSummary> decoded = Decode(e.object, &out, 1, Verify::stored);
        ASSERT_TRUE(decoded.ok()) << decoded.status().message();
        EXPECT_EQ(out, input);
        EXPECT_EQ(decoded->stored_sha256, e.summary.stored_sha256);
        std::mt19937 rng(11);
        for (int i = 0; i < 60; i++) {
            std::string damaged = e.object;
            size_t at = rng() % e.object.size();
            damaged[at] ^= static_cast<char>(1 << (rng() % 8));
            Result<ObjectSummary> result = Decode(damaged, &out, 1, Verify::stored);
            ASSERT_FALSE(result.ok()) << "byte " << at; /* every byte is under the stored checksum */
            EXPECT_EQ(result.status().kind(), ErrorKind::corrupt);
        }
    }
}

TEST(StoredObjectTest, FlippedTrailerBytesAreCorrupt) {
    for (Compression compression : {None(), Zstd()}) {
        Encoded e = Encode(Compressible(7000), compression);
        size_t t = e.object.size() - kObjectTrailerSize;
        for (size_t i = 0; i < kObjectTrailerSize; i++) {
            std::string damaged = e.object;
            damaged[t + i] ^= 0x04;
            EXPECT_TRUE(BothCorrupt(damaged)) << "trailer byte " << i;
        }
    }
}

TEST(StoredObjectTest, ConsistentlyForgedOriginalChecksumIsCorrupt) {
    /* Replace the original checksum and recompute the stored checksum, as a careless tool or a
     * bit flip before hashing might: DecodeObject must still notice the data does not match. */
    std::string input = "the real content";
    Encoded e = Encode(input, None());
    std::string forged = e.object;
    size_t t = forged.size() - kObjectTrailerSize;
    Sha256Digest other = Sha256Of("other", 5);
    memcpy(&forged[t + 16], other.data(), 32);
    Sha256Digest stored = Sha256Of(forged.data(), t + 48);
    memcpy(&forged[t + 48], stored.data(), 32);
    std::string out;
    Result<ObjectSummary> decoded = Decode(forged, &out);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().kind(), ErrorKind::corrupt);

    /* Same with the original size. */
    forged = e.object;
    forged[t] = static_cast<char>(input.size() + 1);
    stored = Sha256Of(forged.data(), t + 48);
    memcpy(&forged[t + 48], stored.data(), 32);
    decoded = Decode(forged, &out);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().kind(), ErrorKind::corrupt);
}

TEST(StoredObjectTest, TruncatedAtEveryCutPointIsCorrupt) {
    for (Compression compression : {None(), Zstd()}) {
        Encoded e = Encode(Compressible(3000) + "tail", compression);
        for (size_t cut = 0; cut < e.object.size(); cut++)
            EXPECT_TRUE(BothCorrupt(e.object.substr(0, cut))) << "cut at " << cut;
    }
}

TEST(StoredObjectTest, EmptyObjectTruncationsAreCorrupt) {
    Encoded e = Encode("", Zstd());
    for (size_t cut = 0; cut < e.object.size(); cut++)
        EXPECT_TRUE(BothCorrupt(e.object.substr(0, cut))) << "cut at " << cut;
}

TEST(StoredObjectTest, AppendedBytesAreCorrupt) {
    for (Compression compression : {None(), Zstd()}) {
        Encoded e = Encode(Compressible(3000), compression);
        for (const std::string &extra :
             {std::string(1, '\0'), std::string("PGARKEND"), std::string(100, 'x'), e.object}) {
            EXPECT_TRUE(BothCorrupt(e.object + extra)) << "appended " << extra.size();
        }
    }
}

TEST(StoredObjectTest, GarbageIsCorrupt) {
    EXPECT_TRUE(BothCorrupt("not an object at all"));
    EXPECT_TRUE(BothCorrupt(pg_ark_test::RandomBytes(1000, 1)));
    EXPECT_TRUE(BothCorrupt(std::string("PGARKOB1") + pg_ark_test::RandomBytes(200, 2)));
}

/* ---------------------------------------------------------------- failures of the streams */

TEST(StoredObjectTest, SinkErrorIsPropagated) {
    Encoded e = Encode(Compressible(200000), Zstd());
    ChunkedReadStream in(e.object);
    int calls = 0;
    Result<ObjectSummary> decoded = DecodeObject(
        in,
        [&calls](const uint8_t *, size_t) {
            calls++;
            return Status(ErrorKind::no_space, "destination full");
        },
        "test/object.ark");
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.status().kind(), ErrorKind::no_space) << decoded.status().message();
    EXPECT_EQ(calls, 1) << "decoding continued after the sink failed";
}

TEST(StoredObjectTest, ReadErrorIsPropagated) {
    Encoded e = Encode(Compressible(200000), Zstd());
    for (size_t fail_at : {size_t{0}, size_t{10}, e.object.size() / 2, e.object.size() - 1}) {
        ChunkedReadStream in(e.object, 1, fail_at);
        Result<ObjectSummary> decoded = DecodeObject(
            in, [](const uint8_t *, size_t) { return Status::Ok(); }, "obj");
        ASSERT_FALSE(decoded.ok()) << fail_at;
        EXPECT_EQ(decoded.status().kind(), ErrorKind::io_error) << decoded.status().message();
        ChunkedReadStream in2(e.object, 1, fail_at);
        Result<ObjectSummary> summary = SummarizeObject(in2, "obj");
        ASSERT_FALSE(summary.ok()) << fail_at;
        EXPECT_EQ(summary.status().kind(), ErrorKind::io_error) << summary.status().message();
    }
}

TEST(StoredObjectTest, WriteErrorIsPropagated) {
    std::string input = pg_ark_test::RandomBytes(500000, 12);
    for (size_t fail_after : {size_t{0}, size_t{16}, size_t{100000}, size_t{500103}}) {
        for (Compression compression : {None(), Zstd()}) {
            StringWriteStream sink(fail_after);
            ObjectEncoder encoder(compression, &sink);
            Status status;
            for (size_t at = 0; at < input.size() && status.ok(); at += 50000)
                status = encoder.Update(input.data() + at, 50000);
            if (status.ok()) status = encoder.Finish();
            ASSERT_FALSE(status.ok()) << "fail_after " << fail_after;
            EXPECT_EQ(status.kind(), ErrorKind::no_space) << status.message();
        }
    }
}

}  // namespace
}  // namespace pg_ark

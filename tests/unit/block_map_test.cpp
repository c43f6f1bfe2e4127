#include "block_map.h"

#include <gtest/gtest.h>

#include "test_util.h"

#include <string>
#include <vector>

namespace pg_ark {
namespace blockmap {
namespace {

FileHeader Header(uint32_t entries) { return MakeHeader(1, 42, 0x1000000, 0x2000000, entries); }

std::string TwoEntryMap() {
    std::string out;
    Encoder encoder(pg_ark_test::AppendToString, &out);
    EXPECT_TRUE(encoder.Begin(Header(2)));
    BlockRange first[] = {{0, 3}, {10, 1}};
    EXPECT_TRUE(encoder.AddEntry({1663, 5, 16384, 0, kNoLimit, 2}, first));
    EXPECT_TRUE(encoder.AddEntry({1663, 5, 16390, 0, 7, 0}, nullptr));
    EXPECT_TRUE(encoder.Finish());
    return out;
}

struct Seen {
    std::vector<EntryHeader> entries;
    std::vector<BlockRange> ranges;
};

bool Collect(void *context, const EntryHeader &entry, const BlockRange *ranges) {
    auto *seen = static_cast<Seen *>(context);
    seen->entries.push_back(entry);
    seen->ranges.insert(seen->ranges.end(), ranges, ranges + entry.range_count);
    return true;
}

TEST(BlockMap, RoundTrip) {
    std::string map = TwoEntryMap();
    FileHeader header;
    ASSERT_EQ(Validate(map.data(), map.size(), &header), DecodeError::none);
    EXPECT_EQ(header.entry_count, 2u);
    EXPECT_EQ(header.system_identifier, 42u);
    Seen seen;
    ForEachEntry(map.data(), map.size(), Collect, &seen);
    ASSERT_EQ(seen.entries.size(), 2u);
    EXPECT_EQ(seen.entries[0].rel, 16384u);
    EXPECT_EQ(seen.entries[1].limit_block, 7u);
    ASSERT_EQ(seen.ranges.size(), 2u);
    EXPECT_EQ(seen.ranges[1].first, 10u);
}

TEST(BlockMap, EveryFlippedByteIsDetected) {
    std::string map = TwoEntryMap();
    for (size_t i = 0; i < map.size(); ++i) {
        std::string damaged = map;
        damaged[i] ^= 0x01;
        FileHeader header;
        EXPECT_NE(Validate(damaged.data(), damaged.size(), &header), DecodeError::none) << i;
    }
}

TEST(BlockMap, TruncationAndTrailingBytesAreDetected) {
    std::string map = TwoEntryMap();
    FileHeader header;
    for (size_t length = 0; length < map.size(); ++length)
        EXPECT_NE(Validate(map.data(), length, &header), DecodeError::none) << length;
    std::string longer = map + std::string(4, '\0');
    EXPECT_EQ(Validate(longer.data(), longer.size(), &header), DecodeError::trailing);
}

TEST(BlockMap, EncoderRefusesDisorder) {
    std::string out;
    Encoder encoder(pg_ark_test::AppendToString, &out);
    ASSERT_TRUE(encoder.Begin(Header(2)));
    ASSERT_TRUE(encoder.AddEntry({1663, 5, 16390, 0, kNoLimit, 0}, nullptr));
    EXPECT_FALSE(encoder.AddEntry({1663, 5, 16384, 0, kNoLimit, 0}, nullptr));
    EXPECT_FALSE(encoder.Finish());

    std::string touching;
    Encoder second(pg_ark_test::AppendToString, &touching);
    ASSERT_TRUE(second.Begin(Header(1)));
    BlockRange ranges[] = {{0, 3}, {3, 1}};
    EXPECT_FALSE(second.AddEntry({1663, 5, 16384, 0, kNoLimit, 2}, ranges));
}

TEST(BlockMap, FinishRequiresEveryAnnouncedEntry) {
    std::string out;
    Encoder encoder(pg_ark_test::AppendToString, &out);
    ASSERT_TRUE(encoder.Begin(Header(2)));
    ASSERT_TRUE(encoder.AddEntry({1663, 5, 16384, 0, kNoLimit, 0}, nullptr));
    EXPECT_FALSE(encoder.Finish());
}

TEST(BlockMap, CrcMatchesTheCastagnoliCheckValue) {
    EXPECT_EQ(Crc32c(0, "123456789", 9), 0xE3069283u);
}

TEST(BlockMap, FileNamesRoundTrip) {
    char name[kFileNameSize];
    FormatFileName(0x16B374D48, 0x2000000A8, name);
    EXPECT_STREQ(name, "000000016B374D48-00000002000000A8.map");
    uint64_t start = 0, end = 0;
    ASSERT_TRUE(ParseFileName(name, &start, &end));
    EXPECT_EQ(start, 0x16B374D48u);
    EXPECT_EQ(end, 0x2000000A8u);
    EXPECT_FALSE(ParseFileName("000000016B374D48-00000002000000A8.map.tmp", &start, &end));
    EXPECT_FALSE(ParseFileName("00000002000000A8-000000016B374D48.map", &start, &end));
    EXPECT_FALSE(ParseFileName("000000016b374d48-00000002000000a8.map", &start, &end));
}

}  // namespace
}  // namespace blockmap
}  // namespace pg_ark

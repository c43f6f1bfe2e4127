/*
 * command_protocol_test.cpp
 *     Tests of the maintenance messages (common/command_protocol.h): round trips, every field
 *     validated on decode, and mutated frames never decoding to something invalid.
 */
#include "command_protocol.h"

#include <gtest/gtest.h>
#include <string.h>

#include <random>
#include <vector>

namespace pg_ark {
namespace wire {
namespace {

std::vector<uint8_t> Encode(const CommandRequest &request) {
    std::vector<uint8_t> buffer(kMaxPayload);
    buffer.resize(EncodeCommand(request, buffer.data(), buffer.size()));
    return buffer;
}

CommandRequest Valid() {
    CommandRequest request;
    strcpy(request.cluster, "main");
    request.system_identifier = 7301234567890123456ull;
    request.command = Command::verify;
    request.flags = 0;
    strcpy(request.backup_id, "20261201-185012F");
    return request;
}

TEST(CommandProtocolTest, RequestRoundTrip) {
    for (Command command : {Command::check, Command::expire, Command::verify, Command::stop, Command::start}) {
        CommandRequest request = Valid();
        request.command = command;
        request.flags = command == Command::expire ? kCommandDryRun : 0;
        std::vector<uint8_t> bytes = Encode(request);
        ASSERT_FALSE(bytes.empty());
        CommandRequest decoded;
        ASSERT_EQ(DecodeCommand(bytes.data(), bytes.size(), &decoded), DecodeResult::ok);
        EXPECT_STREQ(decoded.cluster, "main");
        EXPECT_EQ(decoded.system_identifier, request.system_identifier);
        EXPECT_EQ(decoded.command, command);
        EXPECT_EQ(decoded.flags, request.flags);
        EXPECT_STREQ(decoded.backup_id, request.backup_id);
        EXPECT_STRNE(CommandName(command), "unknown");
    }
}

TEST(CommandProtocolTest, BadFieldsRejected) {
    auto decode = [](const CommandRequest &request) {
        std::vector<uint8_t> bytes = Encode(request);
        CommandRequest decoded;
        return DecodeCommand(bytes.data(), bytes.size(), &decoded);
    };
    CommandRequest request = Valid();
    request.command = static_cast<Command>(0);
    EXPECT_EQ(decode(request), DecodeResult::bad_field);
    request = Valid();
    request.command = static_cast<Command>(6);
    EXPECT_EQ(decode(request), DecodeResult::bad_field);
    request = Valid();
    request.flags = 2;
    EXPECT_EQ(decode(request), DecodeResult::bad_field);
    request = Valid();
    request.system_identifier = 0;
    EXPECT_EQ(decode(request), DecodeResult::bad_field);
    request = Valid();
    strcpy(request.cluster, "bad name");
    EXPECT_EQ(decode(request), DecodeResult::bad_field);
    request = Valid();
    strcpy(request.backup_id, "../x");
    EXPECT_EQ(decode(request), DecodeResult::bad_field);
    std::vector<uint8_t> bytes = Encode(Valid());
    bytes.push_back(0);
    CommandRequest decoded;
    EXPECT_EQ(DecodeCommand(bytes.data(), bytes.size(), &decoded), DecodeResult::trailing_bytes);
    bytes.resize(bytes.size() - 3);
    EXPECT_EQ(DecodeCommand(bytes.data(), bytes.size(), &decoded), DecodeResult::truncated);
}

TEST(CommandProtocolTest, RowRoundTripAndLimits) {
    auto row = std::make_unique<RowRecord>();
    row->count = 3;
    strcpy(row->columns[0], "wal_level");
    strcpy(row->columns[1], "true");
    std::string long_text(kMaxColumnText, 'x');
    strcpy(row->columns[2], long_text.c_str());
    std::vector<uint8_t> bytes(kMaxPayload);
    bytes.resize(EncodeRowRecord(*row, bytes.data(), bytes.size()));
    ASSERT_FALSE(bytes.empty());
    auto decoded = std::make_unique<RowRecord>();
    ASSERT_EQ(DecodeRowRecord(bytes.data(), bytes.size(), decoded.get()), DecodeResult::ok);
    EXPECT_EQ(decoded->count, 3u);
    EXPECT_STREQ(decoded->columns[0], "wal_level");
    EXPECT_EQ(std::string(decoded->columns[2]), long_text);

    row->count = kMaxColumns + 1;
    EXPECT_EQ(EncodeRowRecord(*row, bytes.data(), kMaxPayload), 0u);
    row->count = 1;
    strcpy(row->columns[0], "bell\a");
    bytes.resize(kMaxPayload);
    bytes.resize(EncodeRowRecord(*row, bytes.data(), bytes.size()));
    EXPECT_EQ(DecodeRowRecord(bytes.data(), bytes.size(), decoded.get()), DecodeResult::bad_field);
}

TEST(CommandProtocolTest, MutantsNeverDecodeToInvalidRequests) {
    std::mt19937 rng(11);
    std::vector<uint8_t> seed = Encode(Valid());
    for (int iteration = 0; iteration < 20000; iteration++) {
        std::vector<uint8_t> buffer = seed;
        for (int m = 0; m < 1 + static_cast<int>(rng() % 3); m++) {
            if (buffer.empty()) break;
            switch (rng() % 3) {
                case 0: buffer[rng() % buffer.size()] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                case 1: buffer.resize(rng() % buffer.size()); break;
                case 2: buffer.push_back(static_cast<uint8_t>(rng())); break;
            }
        }
        CommandRequest decoded;
        if (DecodeCommand(buffer.data(), buffer.size(), &decoded) != DecodeResult::ok) continue;
        ASSERT_TRUE(IsValidClusterName(decoded.cluster));
        ASSERT_NE(decoded.system_identifier, 0u);
        ASSERT_STRNE(CommandName(decoded.command), "unknown");
        ASSERT_EQ(Encode(decoded), buffer);
    }
}

}  // namespace
}  // namespace wire
}  // namespace pg_ark

/*
 * backup_protocol_test.cpp
 *     The backup messages survive a round trip field for field, and every decoder refuses
 *     truncation, trailing bytes and invalid values.
 */
#include <gtest/gtest.h>
#include <string.h>

#include <vector>

#include "backup_protocol.h"

namespace pg_ark {
namespace wire {
namespace {

template <typename T, typename Encode>
std::vector<uint8_t> Encoded(const T &message, Encode encode) {
    std::vector<uint8_t> buffer(kMaxPayload);
    buffer.resize(encode(message, buffer.data(), buffer.size()));
    return buffer;
}

/* Every proper prefix is truncated and one extra byte is trailing. */
template <typename T, typename Decode>
void ExpectStrict(std::vector<uint8_t> bytes, Decode decode) {
    for (size_t length = 0; length < bytes.size(); length++) {
        auto out = std::make_unique<T>();
        EXPECT_NE(decode(bytes.data(), length, out.get()), DecodeResult::ok) << length;
    }
    bytes.push_back(0);
    auto out = std::make_unique<T>();
    EXPECT_EQ(decode(bytes.data(), bytes.size(), out.get()), DecodeResult::trailing_bytes);
}

TEST(BackupProtocolTest, BeginRoundTripAndChecks) {
    BackupBeginRequest request;
    CopyBounded(request.cluster, sizeof request.cluster, "main");
    request.system_identifier = 7300000000000000001ull;
    request.kind = BackupKind::full;
    CopyBounded(request.label, sizeof request.label, "nightly \xc3\xa9t\xc3\xa9");
    request.detached = 1;
    auto bytes = Encoded(request, EncodeBackupBegin);
    BackupBeginRequest out;
    ASSERT_EQ(DecodeBackupBegin(bytes.data(), bytes.size(), &out), DecodeResult::ok);
    EXPECT_STREQ(out.cluster, "main");
    EXPECT_EQ(out.system_identifier, request.system_identifier);
    EXPECT_EQ(out.kind, BackupKind::full);
    EXPECT_STREQ(out.label, request.label);
    EXPECT_EQ(out.detached, 1u);
    ExpectStrict<BackupBeginRequest>(bytes, DecodeBackupBegin);

    for (const char *label : {"two\nlines", "bell\a"}) {
        BackupBeginRequest bad = request;
        CopyBounded(bad.label, sizeof bad.label, label);
        auto b = Encoded(bad, EncodeBackupBegin);
        EXPECT_EQ(DecodeBackupBegin(b.data(), b.size(), &out), DecodeResult::bad_field) << label;
    }
    BackupBeginRequest no_system = request;
    no_system.system_identifier = 0;
    auto b = Encoded(no_system, EncodeBackupBegin);
    EXPECT_EQ(DecodeBackupBegin(b.data(), b.size(), &out), DecodeResult::bad_field);
}

TEST(BackupProtocolTest, RefRejectsPathLikeIds) {
    BackupRef ref;
    CopyBounded(ref.cluster, sizeof ref.cluster, "main");
    CopyBounded(ref.backup_id, sizeof ref.backup_id, "20261122-053113F_2");
    auto bytes = Encoded(ref, EncodeBackupRef);
    BackupRef out;
    ASSERT_EQ(DecodeBackupRef(bytes.data(), bytes.size(), &out), DecodeResult::ok);
    EXPECT_STREQ(out.backup_id, "20261122-053113F_2");
    ExpectStrict<BackupRef>(bytes, DecodeBackupRef);
    for (const char *id : {"../x", "a/b", "", "lower", "20261122 053113F"}) {
        BackupRef bad = ref;
        CopyBounded(bad.backup_id, sizeof bad.backup_id, id);
        auto b = Encoded(bad, EncodeBackupRef);
        EXPECT_NE(DecodeBackupRef(b.data(), b.size(), &out), DecodeResult::ok) << id;
    }
}

TEST(BackupProtocolTest, CopyRequestValidatesSizes) {
    BackupCopyRequest request;
    request.start_lsn = 0x3000028;
    request.timeline = 1;
    request.data_checksums = 1;
    request.block_size = 8192;
    request.segment_blocks = 131072;
    request.wal_segment_size = 16u << 20;
    auto bytes = Encoded(request, EncodeBackupCopy);
    BackupCopyRequest out;
    ASSERT_EQ(DecodeBackupCopy(bytes.data(), bytes.size(), &out), DecodeResult::ok);
    EXPECT_EQ(out.start_lsn, request.start_lsn);
    EXPECT_EQ(out.wal_segment_size, request.wal_segment_size);
    ExpectStrict<BackupCopyRequest>(bytes, DecodeBackupCopy);
    auto reject = [&](auto mutate) {
        BackupCopyRequest bad = request;
        mutate(bad);
        auto b = Encoded(bad, EncodeBackupCopy);
        return DecodeBackupCopy(b.data(), b.size(), &out) == DecodeResult::bad_field;
    };
    EXPECT_TRUE(reject([](BackupCopyRequest &r) { r.block_size = 8000; }));
    EXPECT_TRUE(reject([](BackupCopyRequest &r) { r.wal_segment_size = 3u << 20; }));
    EXPECT_TRUE(reject([](BackupCopyRequest &r) { r.timeline = 0; }));
    EXPECT_TRUE(reject([](BackupCopyRequest &r) { r.start_lsn = 0; }));
    EXPECT_TRUE(reject([](BackupCopyRequest &r) { r.data_checksums = 2; }));
}

TEST(BackupProtocolTest, StopCarriesLabelAndMap) {
    auto request = std::make_unique<BackupStopRequest>();
    request->stop_lsn = 0x5000100;
    request->stop_timeline = 1;
    CopyBounded(request->backup_label, sizeof request->backup_label, "START WAL LOCATION: 0/3000028\n");
    CopyBounded(request->tablespace_map, sizeof request->tablespace_map, "16384 /srv/ts\n");
    auto bytes = Encoded(*request, EncodeBackupStop);
    auto out = std::make_unique<BackupStopRequest>();
    ASSERT_EQ(DecodeBackupStop(bytes.data(), bytes.size(), out.get()), DecodeResult::ok);
    EXPECT_STREQ(out->backup_label, request->backup_label);
    EXPECT_STREQ(out->tablespace_map, request->tablespace_map);
    ExpectStrict<BackupStopRequest>(bytes, DecodeBackupStop);
}

TEST(BackupProtocolTest, CatalogQueryAcceptsAllOneOrRunning) {
    CatalogQuery out;
    for (const char *id : {"", "20261122-053113F", "running"}) {
        CatalogQuery query;
        CopyBounded(query.cluster, sizeof query.cluster, "main");
        CopyBounded(query.backup_id, sizeof query.backup_id, id);
        auto bytes = Encoded(query, EncodeCatalogQuery);
        EXPECT_EQ(DecodeCatalogQuery(bytes.data(), bytes.size(), &out), DecodeResult::ok) << id;
    }
    CatalogQuery bad;
    CopyBounded(bad.cluster, sizeof bad.cluster, "main");
    CopyBounded(bad.backup_id, sizeof bad.backup_id, "../../etc");
    auto bytes = Encoded(bad, EncodeCatalogQuery);
    EXPECT_EQ(DecodeCatalogQuery(bytes.data(), bytes.size(), &out), DecodeResult::bad_field);
}

TEST(BackupProtocolTest, RecordRoundTrip) {
    auto record = std::make_unique<BackupRecord>();
    CopyBounded(record->backup_id, sizeof record->backup_id, "20261122-053113F");
    record->kind = BackupKind::full;
    CopyBounded(record->status, sizeof record->status, "running");
    CopyBounded(record->label, sizeof record->label, "nightly");
    record->start_lsn = 0x3000028;
    record->start_time = 1795000000;
    record->timeline = 1;
    CopyBounded(record->wal_start, sizeof record->wal_start, "000000010000000000000003");
    CopyBounded(record->phase, sizeof record->phase, "copying");
    record->files_done = 10;
    record->files_total = 985;
    record->bytes_done = 1 << 20;
    record->bytes_total = 56727924;
    auto bytes = Encoded(*record, EncodeBackupRecord);
    auto out = std::make_unique<BackupRecord>();
    ASSERT_EQ(DecodeBackupRecord(bytes.data(), bytes.size(), out.get()), DecodeResult::ok);
    EXPECT_EQ(memcmp(out.get(), record.get(), sizeof(BackupRecord)), 0);
    ExpectStrict<BackupRecord>(bytes, DecodeBackupRecord);

    CopyBounded(record->status, sizeof record->status, "usable?");
    bytes = Encoded(*record, EncodeBackupRecord);
    EXPECT_EQ(DecodeBackupRecord(bytes.data(), bytes.size(), out.get()), DecodeResult::bad_field);
}

TEST(BackupProtocolTest, BeginCarriesTheParentOfAnIncremental) {
    BackupBeginRequest request;
    CopyBounded(request.cluster, sizeof request.cluster, "main");
    request.system_identifier = 7300000000000000001ull;
    request.kind = BackupKind::incremental;
    CopyBounded(request.parent, sizeof request.parent, "20261122-053113F_2");
    auto bytes = Encoded(request, EncodeBackupBegin);
    BackupBeginRequest out;
    ASSERT_EQ(DecodeBackupBegin(bytes.data(), bytes.size(), &out), DecodeResult::ok);
    EXPECT_EQ(out.kind, BackupKind::incremental);
    EXPECT_STREQ(out.parent, "20261122-053113F_2");
    ExpectStrict<BackupBeginRequest>(bytes, DecodeBackupBegin);

    /* No parent: the helper picks the newest usable backup. */
    BackupBeginRequest latest = request;
    latest.parent[0] = '\0';
    bytes = Encoded(latest, EncodeBackupBegin);
    ASSERT_EQ(DecodeBackupBegin(bytes.data(), bytes.size(), &out), DecodeResult::ok);
    EXPECT_STREQ(out.parent, "");

    /* Only an incremental names its parent; a path-like id is refused. */
    for (BackupKind kind : {BackupKind::full, BackupKind::differential}) {
        BackupBeginRequest bad = request;
        bad.kind = kind;
        bytes = Encoded(bad, EncodeBackupBegin);
        EXPECT_EQ(DecodeBackupBegin(bytes.data(), bytes.size(), &out), DecodeResult::bad_field);
    }
    BackupBeginRequest bad = request;
    CopyBounded(bad.parent, sizeof bad.parent, "../20261122-053113F");
    bytes = Encoded(bad, EncodeBackupBegin);
    EXPECT_EQ(DecodeBackupBegin(bytes.data(), bytes.size(), &out), DecodeResult::bad_field);
}

TEST(BackupProtocolTest, RecordCarriesIncrementalCounts) {
    auto record = std::make_unique<BackupRecord>();
    CopyBounded(record->backup_id, sizeof record->backup_id, "20261123-000000I");
    record->kind = BackupKind::incremental;
    CopyBounded(record->status, sizeof record->status, "complete");
    CopyBounded(record->parent, sizeof record->parent, "20261122-053113F");
    record->block_files = 812;
    record->whole_files = 96;
    CopyBounded(record->fallback, sizeof record->fallback,
                "gap in block tracking from 0/5000000 to 0/6000000");
    auto bytes = Encoded(*record, EncodeBackupRecord);
    auto out = std::make_unique<BackupRecord>();
    ASSERT_EQ(DecodeBackupRecord(bytes.data(), bytes.size(), out.get()), DecodeResult::ok);
    EXPECT_STREQ(out->parent, "20261122-053113F");
    EXPECT_EQ(out->block_files, 812u);
    EXPECT_EQ(out->whole_files, 96u);
    EXPECT_STREQ(out->fallback, record->fallback);
}

}  // namespace
}  // namespace wire
}  // namespace pg_ark

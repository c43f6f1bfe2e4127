/*
 * stream_committer_test.cpp
 *     Tests of background commits (helper/src/stream_committer.h): every submitted stream is
 *     closed once with its result reported, abandoned streams are never closed, and commits run
 *     at the same time.
 */
#include "stream_committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace pg_ark {
namespace {

/* Counts Close() calls and destructions; can fail its Close or make it slow. */
struct Counters {
    std::atomic<int> closed{0};
    std::atomic<int> destroyed{0};
    std::atomic<int> concurrent{0};
    std::atomic<int> most_concurrent{0};
};

class CountingStream : public WriteStream {
  public:
    CountingStream(Counters *counters, bool fail, int sleep_ms = 0)
        : counters_(counters), fail_(fail), sleep_ms_(sleep_ms) {}
    ~CountingStream() override { counters_->destroyed++; }
    Status Write(const void *, size_t) override { return Status::Ok(); }
    Status Close() override {
        int now = ++counters_->concurrent;
        for (int seen = counters_->most_concurrent; now > seen;)
            if (counters_->most_concurrent.compare_exchange_weak(seen, now)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
        counters_->concurrent--;
        counters_->closed++;
        return fail_ ? Status(ErrorKind::no_space, "full") : Status::Ok();
    }

  private:
    Counters *counters_;
    bool fail_;
    int sleep_ms_;
};

TEST(StreamCommitterTest, CommitsEveryStreamAndReportsResults) {
    Counters counters;
    std::atomic<int> ok{0}, failed{0};
    {
        StreamCommitter committer(3, 2);
        ASSERT_TRUE(committer.Start().ok());
        for (int i = 0; i < 50; i++) {
            bool fail = i % 10 == 0;
            committer.Submit(std::make_unique<CountingStream>(&counters, fail), [&](Status status) {
                if (status.ok()) {
                    ok++;
                } else {
                    EXPECT_EQ(status.kind(), ErrorKind::no_space);
                    failed++;
                }
            });
        }
        committer.Finish();
        EXPECT_EQ(counters.closed, 50);
        EXPECT_EQ(counters.destroyed, 50);
    }
    EXPECT_EQ(ok, 45);
    EXPECT_EQ(failed, 5);
}

TEST(StreamCommitterTest, CommitsRunAtTheSameTime) {
    Counters counters;
    StreamCommitter committer(4, 4);
    ASSERT_TRUE(committer.Start().ok());
    for (int i = 0; i < 8; i++)
        committer.Submit(std::make_unique<CountingStream>(&counters, false, 50), [](Status) {});
    committer.Finish();
    EXPECT_EQ(counters.closed, 8);
    EXPECT_GE(counters.most_concurrent, 2);
    EXPECT_LE(counters.most_concurrent, 4);
}

TEST(StreamCommitterTest, AbandonedStreamsAreNeverClosed) {
    Counters counters;
    std::atomic<int> reported{0};
    {
        StreamCommitter committer(1, 100);
        ASSERT_TRUE(committer.Start().ok());
        for (int i = 0; i < 20; i++)
            committer.Submit(std::make_unique<CountingStream>(&counters, false, 20),
                             [&](Status) { reported++; });
        committer.Abandon();
        committer.Finish();
    }
    EXPECT_LT(counters.closed, 20);
    EXPECT_EQ(reported, counters.closed);
    EXPECT_EQ(counters.destroyed, 20);
}

TEST(StreamCommitterTest, DestructorAbandonsAndJoins) {
    Counters counters;
    {
        StreamCommitter committer(2, 100);
        ASSERT_TRUE(committer.Start().ok());
        for (int i = 0; i < 30; i++)
            committer.Submit(std::make_unique<CountingStream>(&counters, false, 10), [](Status) {});
    }
    EXPECT_LT(counters.closed, 30);
    EXPECT_EQ(counters.destroyed, 30);
}

}  // namespace
}  // namespace pg_ark

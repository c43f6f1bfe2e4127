/*
 * progress_meter_test.cpp
 *     Tests of the progress line's text (helper/src/progress_meter.h).
 */
#include "progress_meter.h"

#include <gtest/gtest.h>

namespace pg_ark {
namespace {

TEST(ProgressMeterTest, FormatsFilesMibAndPercent) {
    TransferCounters counters;
    counters.files_total = 345;
    counters.files_done = 12;
    counters.bytes_total = 1500ull << 20;
    counters.bytes_done = 100ull << 20;
    EXPECT_EQ(FormatProgress("restoring", counters),
              "restoring: 12/345 files, 100.0/1500.0 MiB, 6%");
}

TEST(ProgressMeterTest, NothingToDoIsComplete) {
    TransferCounters counters;
    EXPECT_EQ(FormatProgress("restoring", counters), "restoring: 0/0 files, 0.0/0.0 MiB, 100%");
}

}  // namespace
}  // namespace pg_ark

/*
 * progress_meter.h
 *     One updating line on standard error while files are copied ("restoring: 12/345 files,
 *     100.0/1500.0 MiB, 6%"), redrawn a few times a second from counters the workers bump.
 *     Meant for a terminal: the caller decides (isatty) whether to have one.
 */
#ifndef PG_ARK_HELPER_PROGRESS_METER_H
#define PG_ARK_HELPER_PROGRESS_METER_H

#include <stdint.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace pg_ark {

/* Totals are set before the work starts; the done counters are bumped as it goes. */
struct TransferCounters {
    std::atomic<uint64_t> files_total{0};
    std::atomic<uint64_t> files_done{0};
    std::atomic<uint64_t> bytes_total{0};
    std::atomic<uint64_t> bytes_done{0};
};

/* "restoring: 12/345 files, 100.0/1500.0 MiB, 6%" */
std::string FormatProgress(const std::string &verb, const TransferCounters &counters);

class ProgressMeter {
  public:
    /* Starts drawing; counters must outlive the meter. */
    ProgressMeter(std::string verb, const TransferCounters *counters);
    /* Stops, drawing the final state and ending the line. */
    ~ProgressMeter();
    ProgressMeter(const ProgressMeter &) = delete;
    ProgressMeter &operator=(const ProgressMeter &) = delete;

  private:
    void Draw();

    std::string verb_;
    const TransferCounters *counters_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;  // guarded by mutex_
    std::thread thread_;
};

}  // namespace pg_ark

#endif

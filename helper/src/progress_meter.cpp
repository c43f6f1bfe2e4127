/*
 * progress_meter.cpp
 *     The progress line. See progress_meter.h.
 */
#include "progress_meter.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

namespace pg_ark {

namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(250);
constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

std::string FormatProgress(const std::string &verb, const TransferCounters &counters) {
    uint64_t bytes_total = counters.bytes_total.load();
    uint64_t bytes_done = counters.bytes_done.load();
    /* An empty data set is done as soon as it starts. */
    unsigned percent =
        bytes_total == 0 ? 100 : static_cast<unsigned>(bytes_done * 100 / bytes_total);
    return fmt::format("{}: {}/{} files, {:.1f}/{:.1f} MiB, {}%", verb, counters.files_done.load(),
                       counters.files_total.load(), bytes_done / kMiB, bytes_total / kMiB, percent);
}

ProgressMeter::ProgressMeter(std::string verb, const TransferCounters *counters)
    : verb_(std::move(verb)), counters_(counters), thread_([this] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!wake_.wait_for(lock, kRedrawInterval, [this] { return stop_; })) Draw();
      }) {}

ProgressMeter::~ProgressMeter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    Draw();
    (void)!write(STDERR_FILENO, "\n", 1);
}

void ProgressMeter::Draw() {
    /* Carriage return, the line, then erase what a longer previous line left. */
    std::string line = "\r" + FormatProgress(verb_, *counters_) + "\033[K";
    (void)!write(STDERR_FILENO, line.data(), line.size());  // a lost progress line is harmless
}

}  // namespace pg_ark

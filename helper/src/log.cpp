/*
 * log.cpp
 *     Leveled logging. One line per message, written with a single write() so lines from
 *     concurrent connections never interleave.
 */
#include "log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace pg_ark {

namespace {

std::atomic<int> current_level{static_cast<int>(LogLevel::info)};
std::mutex file_mutex;
int log_fd = STDERR_FILENO;  // guarded by file_mutex once set

const char *LevelName(LogLevel level) {
    switch (level) {
        case LogLevel::error: return "ERROR";
        case LogLevel::warn: return "WARN";
        case LogLevel::info: return "INFO";
        case LogLevel::debug: return "DEBUG";
    }
    return "LOG";
}

}  // namespace

bool ParseLogLevel(const std::string &text, LogLevel *level) {
    static const std::pair<const char *, LogLevel> kLevels[] = {
        {"error", LogLevel::error}, {"warn", LogLevel::warn}, {"info", LogLevel::info},
        {"debug", LogLevel::debug}};
    for (const auto &[name, value] : kLevels)
        if (text == name) {
            *level = value;
            return true;
        }
    return false;
}

void SetLogLevel(LogLevel level) { current_level = static_cast<int>(level); }

bool SetLogFile(const std::string &path) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return false;
    std::lock_guard<std::mutex> lock(file_mutex);
    if (log_fd != STDERR_FILENO) close(log_fd);
    log_fd = fd;
    return true;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= current_level.load(); }

void LogLine(LogLevel level, const std::string &message) {
    struct timeval now;
    gettimeofday(&now, nullptr);
    struct tm local;
    localtime_r(&now.tv_sec, &local);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
    std::string line = fmt::format("{}.{:03d} pg_ark[{}] {}: {}\n", stamp,
                                   static_cast<int>(now.tv_usec / 1000), getpid(),
                                   LevelName(level), message);
    std::lock_guard<std::mutex> lock(file_mutex);
    ssize_t ignored = write(log_fd, line.data(), line.size());
    (void)ignored; /* nowhere left to report a failed log write */
}

}  // namespace pg_ark

/*
 * log.h
 *     Leveled, thread-safe logging to stderr (or the file named by log-path).
 *
 * Messages follow PostgreSQL's style: lower case, quoted paths, the operation named. Secrets are
 * never passed here.
 */
#ifndef PG_ARK_HELPER_LOG_H
#define PG_ARK_HELPER_LOG_H

#include <fmt/format.h>

#include <string>

namespace pg_ark {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

/* Parses "error", "warn", "info", "debug"; false for anything else. */
bool ParseLogLevel(const std::string &text, LogLevel *level);

void SetLogLevel(LogLevel level);
/* Appends to this file instead of stderr; returns false (and keeps stderr) when it can't open. */
bool SetLogFile(const std::string &path);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, const std::string &message);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args &&...args) {
    if (LogEnabled(level)) LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace pg_ark

#endif

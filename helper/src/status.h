/*
 * status.h
 *     Status and Result<T>: how helper code reports failure without exceptions crossing module
 *     boundaries. The kind comes from the shared error table (common/error_kind.h), so a failure
 *     maps to the same CLI exit status, wire code and SQLSTATE everywhere.
 */
#ifndef PG_ARK_HELPER_STATUS_H
#define PG_ARK_HELPER_STATUS_H

#include <optional>
#include <string>
#include <utility>

#include "error_kind.h"

namespace pg_ark {

class [[nodiscard]] Status {
  public:
    Status() = default;
    Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
    static Status Ok() { return Status(); }

    bool ok() const { return kind_ == ErrorKind::ok; }
    ErrorKind kind() const { return kind_; }
    const std::string &message() const { return message_; }

  private:
    ErrorKind kind_ = ErrorKind::ok;
    std::string message_;
};

/* Status from errno after a failed system call: ENOSPC becomes no_space, EACCES permission... */
Status ErrnoStatus(int error_number, const std::string &what);

template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : value_(std::move(value)) {}
    Result(Status status) : status_(std::move(status)) {}

    bool ok() const { return status_.ok(); }
    const Status &status() const { return status_; }
    T &value() { return *value_; }
    const T &value() const { return *value_; }
    T &operator*() { return *value_; }
    T *operator->() { return &*value_; }

  private:
    Status status_;
    std::optional<T> value_;
};

}  // namespace pg_ark

/* Returns early with the failed Status of an expression yielding Status. */
#define PG_ARK_RETURN_IF_ERROR(expr)                                                               \
    do {                                                                                           \
        ::pg_ark::Status status_ = (expr);                                                         \
        if (!status_.ok()) return status_;                                                         \
    } while (0)

#endif

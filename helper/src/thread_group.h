/*
 * thread_group.h
 *     Threads that are always joined: the destructor joins whatever is still running, so no
 *     path out of a function leaks a thread. Whoever leaves early must first tell the threads
 *     to stop, or the destructor waits for them to finish their work.
 */
#ifndef PG_ARK_HELPER_THREAD_GROUP_H
#define PG_ARK_HELPER_THREAD_GROUP_H

#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "status.h"

namespace pg_ark {

class ThreadGroup {
  public:
    ThreadGroup() = default;
    ThreadGroup(const ThreadGroup &) = delete;
    ThreadGroup &operator=(const ThreadGroup &) = delete;
    ~ThreadGroup() { Join(); }

    /* ErrorKind::internal when the system refuses another thread. */
    template <typename Function>
    Status Start(Function function) {
        try {
            threads_.emplace_back(std::move(function));
        } catch (const std::system_error &error) {
            return Status(ErrorKind::internal,
                          fmt::format("could not start a thread: {}", error.what()));
        }
        return Status::Ok();
    }

    void Join() {
        for (std::thread &thread : threads_) thread.join();
        threads_.clear();
    }

  private:
    std::vector<std::thread> threads_;
};

}  // namespace pg_ark

#endif

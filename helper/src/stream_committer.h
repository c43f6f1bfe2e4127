/*
 * stream_committer.h
 *     Commits finished WriteStreams (Close(): for posix storage fsync, rename, fsync of the
 *     directory) on threads of its own, so whoever wrote a stream goes on working while the
 *     storage makes it durable. A copy of many small files is little but commits, which wait on
 *     the disk, not the CPU: several at once make it several times faster. For a big part it
 *     hides the final fsync behind the compression of the next one.
 */
#ifndef PG_ARK_HELPER_STREAM_COMMITTER_H
#define PG_ARK_HELPER_STREAM_COMMITTER_H

#include <stddef.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "storage.h"
#include "thread_group.h"

namespace pg_ark {

class StreamCommitter {
  public:
    /* Receives the result of Close(), on a committer thread. */
    using Done = std::function<void(Status)>;

    /* `threads` commit at once; Submit waits while `capacity` streams are queued. */
    StreamCommitter(int threads, size_t capacity);
    /* Abandons what is still queued and joins the threads. */
    ~StreamCommitter();
    StreamCommitter(const StreamCommitter &) = delete;
    StreamCommitter &operator=(const StreamCommitter &) = delete;

    Status Start();
    void Submit(std::unique_ptr<WriteStream> stream, Done done);
    /* Drops the streams not yet being committed: never closed, they leave nothing behind. */
    void Abandon();
    /* Waits until every submitted stream is committed (or abandoned); then joins the threads. */
    void Finish();

  private:
    struct Pending {
        std::unique_ptr<WriteStream> stream;
        Done done;
    };
    void Run();

    int thread_count_;
    size_t capacity_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Pending> queue_; /* guarded by mutex_ */
    bool finishing_ = false; /* guarded by mutex_ */
    ThreadGroup threads_; /* last: joined before the queue goes */
};

}  // namespace pg_ark

#endif

/*
 * stream_committer.cpp
 *     Background commits of WriteStreams (see stream_committer.h).
 */
#include "stream_committer.h"

#include <utility>

namespace pg_ark {

StreamCommitter::StreamCommitter(int threads, size_t capacity)
    : thread_count_(threads), capacity_(capacity) {}

StreamCommitter::~StreamCommitter() {
    Abandon();
    Finish();
}

Status StreamCommitter::Start() {
    for (int i = 0; i < thread_count_; i++)
        PG_ARK_RETURN_IF_ERROR(threads_.Start([this] { Run(); }));
    return Status::Ok();
}

void StreamCommitter::Submit(std::unique_ptr<WriteStream> stream, Done done) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return queue_.size() < capacity_; });
    queue_.push_back(Pending{std::move(stream), std::move(done)});
    changed_.notify_all();
}

void StreamCommitter::Abandon() {
    std::deque<Pending> dropped;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        dropped.swap(queue_);
        changed_.notify_all();
    }
    /* Destroyed outside the lock: each removes its temporary object. */
}

void StreamCommitter::Finish() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        finishing_ = true;
        changed_.notify_all();
    }
    threads_.Join();
}

void StreamCommitter::Run() {
    for (;;) {
        Pending pending;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            changed_.wait(lock, [this] { return !queue_.empty() || finishing_; });
            if (queue_.empty()) return;
            pending = std::move(queue_.front());
            queue_.pop_front();
            changed_.notify_all();
        }
        pending.done(pending.stream->Close());
    }
}

}  // namespace pg_ark

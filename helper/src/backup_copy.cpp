/*
 * backup_copy.cpp
 *     CopyDataDirectory: every file of the scan stored as parts by parallel workers.
 *
 * Each file is cut into parts of part_size bytes; parts get their object numbers in path order,
 * then go into one queue, largest first, so a big relation is spread over all workers and the
 * small files fill the gaps at the end. A worker reads its part in 1 MiB chunks with pread,
 * asking the kernel for the next chunk (POSIX_FADV_WILLNEED) before it checks and compresses the
 * current one, so the disk reads while the CPU compresses; the finished part is committed by a
 * StreamCommitter while the worker goes on with the next. Parts of one file learn its fate
 * through a shared FileState: whether it vanished, and the lowest end of file any part met.
 * When every worker is done the entries are assembled from the scan, dropping what vanished and
 * the parts beyond a file's new end, and removing their objects.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "backup_copy.h"
#include "log.h"
#include "pg_page_checksum.h"
#include "stored_object.h"
#include "stream_committer.h"
#include "thread_group.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

constexpr size_t kChunkSize = 1 << 20;

/* A stretch of a file's stored stream: stream bytes [stream, stream + length) are the file's
 * bytes [file, file + length). A whole file is one extent. */
struct Extent {
    uint64_t stream;
    uint64_t file;
    uint64_t length;
};

/* What the workers learn about one file while copying its parts. */
struct FileState {
    const SourceEntry *source = nullptr;
    StoreChoice choice;
    std::vector<Extent> extents; /* in stream order, which is also file order */
    uint64_t stream_size = 0;
    std::vector<BackupPart> parts; /* one slot per part, each written by one worker */
    std::vector<char> stored; /* per part: its object was committed */
    std::atomic<bool> vanished{false};
    std::atomic<uint64_t> end{0}; /* scanned size, lowered by every early end of file */
    std::atomic<size_t> parts_left{0};
    std::mutex bad_pages_mutex;
    std::vector<uint32_t> bad_pages; /* guarded by bad_pages_mutex */

    /* Bytes of the stream the part covers, as scanned. */
    uint64_t PartLength(size_t index) const {
        uint64_t next = index + 1 < parts.size() ? parts[index + 1].offset : stream_size;
        return next - parts[index].offset;
    }

    /* The file ranges behind stream bytes [begin, end), in order. */
    std::vector<Extent> FileRanges(uint64_t begin, uint64_t end) const {
        std::vector<Extent> ranges;
        for (const Extent &extent : extents) {
            uint64_t from = std::max(begin, extent.stream);
            uint64_t to = std::min(end, extent.stream + extent.length);
            if (from < to) ranges.push_back({from, extent.file + (from - extent.stream), to - from});
        }
        return ranges;
    }

    void LowerEnd(uint64_t offset) {
        uint64_t current = end.load();
        while (offset < current && !end.compare_exchange_weak(current, offset)) {
        }
    }
};

struct PartTask {
    FileState *file;
    size_t index;
};

/* The first failure, which stops every worker. */
class FirstError {
  public:
    void Record(Status status) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (status_.ok()) status_ = std::move(status);
        stop_ = true;
    }
    bool stopped() const { return stop_; }
    Status Take() {
        std::lock_guard<std::mutex> lock(mutex_);
        return status_;
    }

  private:
    std::mutex mutex_;
    Status status_;
    std::atomic<bool> stop_{false};
};

/* pread until size bytes or end of file; returns the bytes read. */
Result<size_t> ReadAt(int fd, char *buffer, size_t size, uint64_t offset, const std::string &path) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, buffer + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return ErrnoStatus(errno, fmt::format("could not read file \"{}\"", path));
        }
        if (n == 0) break;
        done += static_cast<size_t>(n);
    }
    return done;
}

/* Counts a part as done; the file is done with its last part. */
void PartDone(FileState &file, CopyControl *control) {
    if (--file.parts_left == 0) control->files_done++;
}

Status InFile(const Status &status, const SourceEntry &source) {
    if (status.ok()) return status;
    return Status(status.kind(),
                  fmt::format("could not back up file \"{}\": {}", source.path, status.message()));
}

bool AllZero(const char *data, size_t size) {
    return data[0] == 0 && memcmp(data, data + 1, size - 1) == 0;
}

class Worker {
  public:
    Worker(Storage &storage, const RepoPath &backup_directory, const CopyOptions &options,
           CopyControl *control, StreamCommitter *committer, FirstError *error)
        : storage_(storage),
          backup_directory_(backup_directory),
          options_(options),
          control_(control),
          committer_(committer),
          error_(error),
          buffer_(new char[kChunkSize]) {}

    void Run(const std::vector<PartTask> &queue, std::atomic<size_t> *next) {
        for (size_t i = (*next)++; i < queue.size() && !error_->stopped(); i = (*next)++) {
            Status status = CopyPart(*queue[i].file, queue[i].index);
            if (!status.ok()) error_->Record(std::move(status));
        }
    }

  private:
    bool Stopping() {
        if (control_->cancelled) error_->Record(Status(ErrorKind::conflict, "backup cancelled"));
        return error_->stopped();
    }

    Status CopyPart(FileState &file, size_t index) {
        uint64_t length = file.PartLength(index);
        uint64_t copied = 0;
        bool submitted = false;
        Status status = Stopping() || file.vanished
                            ? Status::Ok()
                            : Store(file, index, length, &copied, &submitted);
        /* Progress covers the scanned bytes, so it ends at bytes_total whatever the file did. */
        control_->bytes_done += length - copied;
        if (status.ok() && !submitted) PartDone(file, control_);
        return status;
    }

    /* Stores a part and, unless the file vanished, submits it for its commit. */
    Status Store(FileState &file, size_t index, uint64_t length, uint64_t *copied,
                 bool *submitted) {
        const SourceEntry &source = *file.source;
        BackupPart &part = file.parts[index];
        std::string full = options_.pgdata + "/" + source.path;
        UniqueFd fd(open(full.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) {
            if (errno != ENOENT)
                return ErrnoStatus(errno, fmt::format("could not open file \"{}\"", full));
            file.vanished = true;
            return Status::Ok();
        }
        Result<RepoPath> object = backup_directory_.Join(PartObjectName(part.object));
        if (!object.ok()) return object.status();
        auto stream = storage_.OpenWrite(*object, WriteMode::create_new);
        if (!stream.ok()) return InFile(stream.status(), source);
        ObjectEncoder encoder(options_.compression, stream->get());
        bool verify = options_.data_checksums && source.relation;
        const bool as_blocks = file.choice.as_blocks;

        bool shrank = false;
        for (const Extent &range : file.FileRanges(part.offset, part.offset + length)) {
            uint64_t end = range.file + range.length;
            for (uint64_t position = range.file; position < end && !shrank;) {
                if (Stopping()) return Status::Ok();
                size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkSize, end - position));
                Result<size_t> got = ReadAt(fd.get(), buffer_.get(), want, position, full);
                if (!got.ok()) return got.status();
                if (position + want < end)
                    posix_fadvise(
                        fd.get(), static_cast<off_t>(position + want),
                        static_cast<off_t>(std::min<uint64_t>(kChunkSize, end - position - want)),
                        POSIX_FADV_WILLNEED);
                size_t size = *got;
                if (verify) {
                    Result<size_t> checked = CheckPages(fd.get(), size, position, file, full);
                    if (!checked.ok()) return checked.status();
                    size = *checked;
                }
                /* A stored stream holds whole blocks only: a torn last block is left to WAL
                 * replay, like the rest of a file that shrinks during the copy. */
                if (as_blocks && size < want) size -= size % options_.block_size;
                PG_ARK_RETURN_IF_ERROR(InFile(encoder.Update(buffer_.get(), size), source));
                position += size;
                *copied += size;
                control_->bytes_done += size;
                if (size < want) {
                    file.LowerEnd(position); /* the file shrank: it ends here */
                    shrank = true;
                }
            }
            if (shrank) break;
        }
        PG_ARK_RETURN_IF_ERROR(InFile(encoder.Finish(), source));
        part.size = *copied;
        part.stored_size = encoder.summary().stored_size;
        part.sha256 = encoder.summary().original_sha256;
        part.stored_sha256 = encoder.summary().stored_sha256;
        part.xxh128 = encoder.summary().original_xxh128;
        part.has_xxh128 = encoder.summary().has_original_xxh128;
        CopyControl *control = control_;
        FirstError *error = error_;
        committer_->Submit(std::move(*stream), [&file, index, control, error](Status closed) {
            if (!closed.ok()) {
                error->Record(InFile(closed, *file.source));
                return;
            }
            file.stored[index] = 1;
            PartDone(file, control);
        });
        *submitted = true;
        return Status::Ok();
    }

    /*
     * Verifies the whole pages of the chunk in buffer_ (read from file offset `offset`); returns
     * how many bytes of it to keep, which is less when a page re-read found the file shorter.
     */
    Result<size_t> CheckPages(int fd, size_t size, uint64_t offset, FileState &file,
                              const std::string &full) {
        const size_t page_size = PG_ARK_PAGE_SIZE;
        for (size_t at = 0; at + page_size <= size; at += page_size) {
            char *page = buffer_.get() + at;
            uint32_t block = static_cast<uint32_t>((offset + at) / page_size);
            if (PageIsGood(page, file.source->first_block + block)) continue;
            /* Maybe torn by a write in progress: read it once more, as the server does. */
            Result<size_t> again = ReadAt(fd, page, page_size, offset + at, full);
            if (!again.ok()) return again.status();
            if (*again < page_size) return at; /* the file was truncated meanwhile */
            if (PageIsGood(page, file.source->first_block + block)) continue;
            std::lock_guard<std::mutex> lock(file.bad_pages_mutex);
            file.bad_pages.push_back(block);
        }
        return size;
    }

    bool PageIsGood(char *page, uint32_t block) {
        if (PgArkPageLsn(page) >= options_.start_lsn) return true; /* replay rewrites it */
        if (PgArkPageChecksum(page, block) == PgArkPageStoredChecksum(page)) return true;
        return AllZero(page, PG_ARK_PAGE_SIZE); /* a new page has no checksum yet */
    }

    Storage &storage_;
    const RepoPath &backup_directory_;
    const CopyOptions &options_;
    CopyControl *control_;
    StreamCommitter *committer_;
    FirstError *error_;
    std::unique_ptr<char[]> buffer_; /* one chunk, reused for every part */
};

Status CheckOptions(const CopyOptions &options) {
    uint32_t block = options.block_size;
    if (block == 0 || (block & (block - 1)) != 0 || block > kChunkSize)
        return Status(
            ErrorKind::invalid_argument,
            fmt::format("block size {} is not a power of two up to {}", block, kChunkSize));
    if (options.part_size == 0 || options.part_size % block != 0)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("part size {} is not a positive multiple of the block size {}",
                                  options.part_size, block));
    if (options.data_checksums && block != PG_ARK_PAGE_SIZE)
        return Status(
            ErrorKind::invalid_argument,
            fmt::format("page checksums need a block size of {}, not {}", PG_ARK_PAGE_SIZE, block));
    if (options.workers < 1)
        return Status(ErrorKind::invalid_argument, fmt::format("{} copy workers", options.workers));
    return Status::Ok();
}

/*
 * For a file stored as blocks that shrank to `size` bytes (a whole number of blocks): keeps the
 * runs below it and returns how many stream bytes they make. Every part that read a block at or
 * past the new end stopped there, so the parts below that stream offset tile it exactly.
 */
uint64_t CutBlocks(FileState &file, uint64_t size, uint32_t block_size) {
    file.choice.blocks = ClipRuns(file.choice.blocks, 0, size / block_size);
    return CountBlocks(file.choice.blocks) * block_size;
}

/* The entry for a copied file, or nothing if it vanished; removes objects it does not keep. */
bool AssembleFile(Storage &storage, const RepoPath &backup_directory, FileState &file,
                  uint32_t block_size, BackupEntry *entry) {
    uint64_t size = file.end;
    uint64_t stream = size;
    if (file.choice.as_blocks) stream = CutBlocks(file, size, block_size);
    for (size_t i = 0; i < file.parts.size(); i++) {
        const BackupPart &part = file.parts[i];
        bool keep = !file.vanished && (part.offset < stream || (i == 0 && !file.choice.as_blocks));
        if (keep) {
            entry->parts.push_back(part);
            continue;
        }
        if (!file.stored[i]) continue;
        /* A leftover object does no harm but takes space: warn rather than fail the backup. */
        Result<RepoPath> object = backup_directory.Join(PartObjectName(part.object));
        Status removed = object.ok() ? storage.Remove(*object) : object.status();
        if (!removed.ok())
            Log(LogLevel::warn, "could not remove unused part: {}", removed.message());
    }
    if (file.vanished) return false;
    entry->size = size;
    entry->stored_as_blocks = file.choice.as_blocks;
    entry->blocks = file.choice.blocks;
    entry->reason = file.choice.reason;
    for (uint32_t block : file.bad_pages)
        if (static_cast<uint64_t>(block) * PG_ARK_PAGE_SIZE < size)
            entry->bad_pages.push_back(block);
    std::sort(entry->bad_pages.begin(), entry->bad_pages.end());
    if (!entry->bad_pages.empty())
        Log(LogLevel::warn,
            "page checksum verification failed in file \"{}\": {} pages, first block {}",
            entry->path, entry->bad_pages.size(), entry->bad_pages.front());
    return true;
}

}  // namespace

Result<std::vector<BackupEntry>> CopyDataDirectory(Storage &storage,
                                                   const RepoPath &backup_directory,
                                                   const CopyOptions &options,
                                                   CopyControl *control) {
    PG_ARK_RETURN_IF_ERROR(CheckOptions(options));
    CopyControl unobserved;
    if (control == nullptr) control = &unobserved;
    Result<std::vector<SourceEntry>> scanned =
        ScanDataDirectory(options.pgdata, options.segment_blocks);
    if (!scanned.ok()) return scanned.status();
    const std::vector<SourceEntry> &sources = *scanned;

    /* Parts numbered in path order, then queued largest first. */
    size_t file_count = 0;
    for (const SourceEntry &source : sources) file_count += source.kind == EntryKind::file;
    std::vector<FileState> files(file_count);
    std::vector<PartTask> queue;
    uint64_t object = 0;
    uint64_t bytes_total = 0;
    size_t next_file = 0;
    for (const SourceEntry &source : sources) {
        if (source.kind != EntryKind::file) continue;
        FileState &file = files[next_file++];
        file.source = &source;
        file.end = source.size;
        if (options.planner) file.choice = options.planner(source);
        if (file.choice.as_blocks) {
            /* The planner keeps runs below the scanned size; clip anyway rather than trust. */
            file.choice.blocks = ClipRuns(file.choice.blocks, 0, source.size / options.block_size);
            for (const BlockRun &run : file.choice.blocks) {
                uint64_t length = uint64_t(run.count) * options.block_size;
                file.extents.push_back({file.stream_size, uint64_t(run.first) * options.block_size,
                                        length});
                file.stream_size += length;
            }
        } else {
            file.extents.push_back({0, 0, source.size});
            file.stream_size = source.size;
        }
        /* A whole empty file has one empty part; an empty block stream has none. */
        size_t count = file.stream_size == 0
                           ? (file.choice.as_blocks ? 0 : 1)
                           : static_cast<size_t>((file.stream_size - 1) / options.part_size + 1);
        file.parts.resize(count);
        file.stored.assign(count, 0);
        file.parts_left = count;
        if (count == 0) control->files_done++;
        for (size_t i = 0; i < count; i++) {
            file.parts[i].object = ++object;
            file.parts[i].offset = i * options.part_size;
            queue.push_back(PartTask{&file, i});
        }
        bytes_total += file.stream_size;
    }
    std::stable_sort(queue.begin(), queue.end(), [](const PartTask &a, const PartTask &b) {
        return a.file->PartLength(a.index) > b.file->PartLength(b.index);
    });
    control->files_total = file_count;
    control->bytes_total = bytes_total;

    FirstError error;
    std::atomic<size_t> next{0};
    /* Commits wait on the disk, not the CPU: twice as many as workers keep it busy. */
    StreamCommitter committer(2 * options.workers, 2 * static_cast<size_t>(options.workers));
    Status started = committer.Start();
    if (!started.ok()) error.Record(std::move(started));
    {
        std::vector<std::unique_ptr<Worker>> workers;
        ThreadGroup threads;
        for (int i = 0; i < options.workers && !error.stopped(); i++) {
            workers.push_back(std::make_unique<Worker>(storage, backup_directory, options, control,
                                                       &committer, &error));
            Worker *worker = workers.back().get();
            started = threads.Start([worker, &queue, &next] { worker->Run(queue, &next); });
            if (!started.ok()) error.Record(std::move(started));
        }
    }
    if (error.stopped()) committer.Abandon();
    committer.Finish();
    Status status = error.Take();
    if (!status.ok()) return status;

    std::vector<BackupEntry> entries;
    next_file = 0;
    for (const SourceEntry &source : sources) {
        BackupEntry entry;
        entry.path = source.path;
        entry.kind = source.kind;
        entry.mode = source.mode;
        entry.mtime = source.mtime;
        entry.link_target = source.link_target;
        if (source.kind == EntryKind::file &&
            !AssembleFile(storage, backup_directory, files[next_file++], options.block_size,
                          &entry))
            continue;
        entries.push_back(std::move(entry));
    }
    return entries;
}

}  // namespace pg_ark

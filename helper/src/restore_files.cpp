/*
 * restore_files.cpp
 *     Parallel, verified writing of a backup's files. See restore_files.h.
 *
 * Files are created with their final size before any worker starts, so parts can be written at
 * their offsets in any order, and with mode 0600 until their last part is in, so a read-only
 * final mode cannot lock out the workers that open the file later.
 */
#include "restore_files.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdint.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

#include "log.h"
#include "sha256.h"
#include "stored_object.h"
#include "xxh128.h"

namespace pg_ark {

namespace {

/* One part to write, or for a file without parts (empty) only the finishing touches. */
struct PartJob {
    size_t file;
    size_t part;
};
constexpr size_t kNoPart = SIZE_MAX;

Status PwriteAll(int fd, const uint8_t *data, size_t size, uint64_t offset,
                 const std::string &path) {
    while (size > 0) {
        ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(errno, fmt::format("could not write file \"{}\"", path));
        data += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
}

Status PreadAll(int fd, uint8_t *data, size_t size, uint64_t offset, const std::string &path) {
    while (size > 0) {
        ssize_t n = pread(fd, data, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(errno, fmt::format("could not read file \"{}\"", path));
        /* The file was sized before any worker started: a short read means it shrank under us. */
        if (n == 0)
            return Status(ErrorKind::io_error,
                          fmt::format("file \"{}\" shrank during the restore", path));
        data += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
}

/* True when the part's pieces are all of its bytes, in order: its SHA-256 describes them. */
bool CoversPart(const SourcePart &source) {
    uint64_t next = 0;
    for (const Piece &piece : source.pieces) {
        if (piece.part_offset != next) return false;
        next += piece.length;
    }
    return next == source.part->size;
}

/*
 * Whether the file's bytes at the pieces are the part's: by its XXH3-128 when the backup recorded
 * one, else by its SHA-256. XXH3 is not cryptographic, but nothing here needs that: the bytes in
 * place were written by a restore or a server, not forged to collide with a backup we made, and
 * a 128-bit checksum misses a random change with odds of 2^-128. Hashing is what an unchanged
 * delta spends its CPU on, and XXH3 does it at memory speed where SHA-256 runs at ~1 GB/s.
 */
Result<bool> SameBytes(int fd, const SourcePart &source, const std::string &path) {
    /* The whole part is asked of the disk up front, so reading runs ahead of the hashing
     * instead of alternating with it (a cold-cache delta is otherwise half as fast). */
    for (const Piece &piece : source.pieces)
        (void)posix_fadvise(fd, static_cast<off_t>(piece.file_offset), static_cast<off_t>(piece.length),
                            POSIX_FADV_WILLNEED);
    constexpr size_t kChunk = 4 << 20;
    thread_local std::unique_ptr<uint8_t[]> buffer(new uint8_t[kChunk]); /* not zeroed */
    const bool fast = source.part->has_xxh128;
    Xxh128 xxh128; /* only one is fed; setting up the other costs next to nothing */
    Sha256 sha256;
    for (const Piece &piece : source.pieces) {
        for (uint64_t done = 0; done < piece.length;) {
            size_t size = static_cast<size_t>(std::min<uint64_t>(kChunk, piece.length - done));
            PG_ARK_RETURN_IF_ERROR(PreadAll(fd, buffer.get(), size, piece.file_offset + done, path));
            if (fast)
                xxh128.Update(buffer.get(), size);
            else
                sha256.Update(buffer.get(), size);
            done += size;
        }
    }
    return fast ? xxh128.Finish() == source.part->xxh128 : sha256.Finish() == source.part->sha256;
}

/* A read-only file left in place gets written all the same; Finish sets its mode after. */
Status MakeOwnerWritable(const FileToRestore &file) {
    auto fd = file.root->OpenFile(file.relative, O_RDONLY);
    if (!fd.ok()) return fd.status();
    struct stat st;
    if (fstat(fd->get(), &st) == 0 && (st.st_mode & S_IWUSR) != 0) return Status::Ok();
    if (fchmod(fd->get(), 0600) != 0)
        return ErrnoStatus(errno, fmt::format("could not make file \"{}\" writable",
                                              file.root->Describe(file.relative)));
    return Status::Ok();
}

class FilePool {
  public:
    FilePool(Storage &storage, const std::vector<FileToRestore> &files, TransferCounters *counters,
             RewriteCounters *rewritten)
        : storage_(storage),
          files_(files),
          counters_(counters),
          rewritten_(rewritten),
          remaining_(new std::atomic<size_t>[files.size()]),
          changed_(new std::atomic<bool>[files.size()]) {}

    Status CreateAll();
    Status Run(int workers);

  private:
    void Work();
    uint64_t JobSize(const PartJob &job) const;
    Status WritePart(const PartJob &job);
    /* Writes a range of the file, or (in place) only if it differs from what is there. */
    Status Put(size_t file, int fd, const uint8_t *data, size_t size, uint64_t offset);
    Status Finish(size_t file, int fd);

    Storage &storage_;
    const std::vector<FileToRestore> &files_;
    TransferCounters *counters_;
    RewriteCounters *rewritten_;
    std::vector<PartJob> jobs_;                        /* largest part first */
    std::unique_ptr<std::atomic<size_t>[]> remaining_; /* parts not yet written, per file */
    std::unique_ptr<std::atomic<bool>[]> changed_;     /* created, resized or written, per file */
    std::atomic<size_t> next_job_{0};
    std::atomic<bool> failed_{false};
    std::mutex mutex_;
    Status first_error_;  // guarded by mutex_
};

Status FilePool::CreateAll() {
    for (size_t i = 0; i < files_.size(); i++) {
        const FileToRestore &file = files_[i];
        std::string path = file.root->Describe(file.relative);
        if (file.in_place) PG_ARK_RETURN_IF_ERROR(MakeOwnerWritable(file));
        auto fd = file.in_place ? file.root->OpenFile(file.relative, O_WRONLY)
                                : file.root->OpenFile(file.relative, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (!fd.ok()) return fd.status();
        changed_[i] = !file.in_place;
        if (file.in_place) {
            struct stat st;
            if (fstat(fd->get(), &st) != 0)
                return ErrnoStatus(errno, fmt::format("could not stat file \"{}\"", path));
            changed_[i] = static_cast<uint64_t>(st.st_size) != file.entry->size;
        }
        if (changed_[i] && ftruncate(fd->get(), static_cast<off_t>(file.entry->size)) != 0)
            return ErrnoStatus(errno, fmt::format("could not set the size of file \"{}\"", path));
        remaining_[i] = file.sources.size();
        /* Even an empty file's fsync costs a journal commit: leave it to the pool too. */
        if (file.sources.empty()) jobs_.push_back({i, kNoPart});
        for (size_t part = 0; part < file.sources.size(); part++) jobs_.push_back({i, part});
    }
    std::stable_sort(jobs_.begin(), jobs_.end(), [this](const PartJob &a, const PartJob &b) {
        return JobSize(a) > JobSize(b);
    });
    return Status::Ok();
}

uint64_t FilePool::JobSize(const PartJob &job) const {
    return job.part == kNoPart ? 0 : files_[job.file].sources[job.part].part->size;
}

Status FilePool::Run(int workers) {
    size_t count = std::min(static_cast<size_t>(std::max(workers, 1)), jobs_.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < count; i++) threads.emplace_back([this] { Work(); });
    for (std::thread &thread : threads) thread.join();
    return first_error_;
}

void FilePool::Work() {
    while (!failed_.load()) {
        size_t index = next_job_.fetch_add(1);
        if (index >= jobs_.size()) return;
        Status status = WritePart(jobs_[index]);
        if (!status.ok()) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!failed_.exchange(true)) first_error_ = status;
            return;
        }
    }
}

Status FilePool::WritePart(const PartJob &job) {
    const FileToRestore &file = files_[job.file];
    const int open_flags = file.in_place ? O_RDWR : O_WRONLY;
    if (job.part == kNoPart) {
        auto out = file.root->OpenFile(file.relative, open_flags);
        if (!out.ok()) return out.status();
        return Finish(job.file, out->get());
    }
    const SourcePart &source = file.sources[job.part];
    const BackupPart &part = *source.part;
    auto out = file.root->OpenFile(file.relative, open_flags);
    if (!out.ok()) return out.status();
    std::string path = file.root->Describe(file.relative);
    if (file.in_place && CoversPart(source)) {
        auto same = SameBytes(out->get(), source, path);
        if (!same.ok()) return same.status();
        if (*same) {
            counters_->bytes_done += part.size;
            if (remaining_[job.file].fetch_sub(1) == 1) return Finish(job.file, out->get());
            return Status::Ok();
        }
    }
    auto restore_error = [&file](ErrorKind kind, const std::string &why) {
        return Status(kind,
                      fmt::format("could not restore file \"{}\": {}", file.entry->path, why));
    };

    auto object = source.directory->Join(PartObjectName(part.object));
    if (!object.ok()) return restore_error(ErrorKind::corrupt, object.status().message());
    std::string what = storage_.Describe() + "/" + object->str();
    auto in = storage_.OpenRead(*object);
    if (!in.ok()) {
        if (in.status().kind() == ErrorKind::not_found)
            return restore_error(ErrorKind::corrupt,
                                 fmt::format("stored object \"{}\" is missing", what));
        return restore_error(in.status().kind(), in.status().message());
    }
    uint64_t written = 0; /* original bytes of the part decoded so far */
    size_t piece = 0;     /* the first piece not wholly written yet */
    auto decoded = DecodeObject(
        **in,
        [&](const uint8_t *data, size_t size) -> Status {
            /* Never past the part: that range belongs to another part, maybe being written. */
            if (size > part.size - written)
                return Status(ErrorKind::corrupt,
                              fmt::format("stored object \"{}\" holds more than the {} bytes the "
                                          "manifest records for it",
                                          what, part.size));
            uint64_t begin = written, end = written + size;
            for (; piece < source.pieces.size(); piece++) {
                const Piece &p = source.pieces[piece];
                uint64_t from = std::max(begin, p.part_offset);
                uint64_t to = std::min(end, p.part_offset + p.length);
                if (from < to) {
                    PG_ARK_RETURN_IF_ERROR(Put(job.file, out->get(), data + (from - begin),
                                               static_cast<size_t>(to - from),
                                               p.file_offset + (from - p.part_offset)));
                    counters_->bytes_done += to - from;
                }
                if (p.part_offset + p.length > end) break; /* the rest comes with later bytes */
            }
            written = end;
            return Status::Ok();
        },
        what, Verify::stored);
    if (!decoded.ok()) return restore_error(decoded.status().kind(), decoded.status().message());
    /*
     * The object is intact; it must also be the one the manifest means for this range. Its
     * stored checksum, recomputed by DecodeObject, names it exactly (see Verify::stored).
     */
    if (decoded->original_size != part.size || decoded->stored_sha256 != part.stored_sha256 ||
        decoded->original_sha256 != part.sha256)
        return restore_error(
            ErrorKind::corrupt,
            fmt::format("stored object \"{}\" is intact but does not hold bytes {} to {} of the "
                        "file as the manifest records them (size or SHA-256 differs)",
                        what, part.offset, part.offset + part.size));

    /*
     * Start writing the part back now, without waiting: otherwise nothing reaches the disk
     * until the file's fsync (the page cache holds gigabytes), which then stalls its worker
     * for the whole file. A failure here only loses the head start; fsync reports errors.
     */
    for (const Piece &p : source.pieces)
        (void)sync_file_range(out->get(), static_cast<off_t>(p.file_offset),
                              static_cast<off_t>(p.length), SYNC_FILE_RANGE_WRITE);
    if (remaining_[job.file].fetch_sub(1) == 1) return Finish(job.file, out->get());
    return Status::Ok();
}

Status FilePool::Put(size_t index, int fd, const uint8_t *data, size_t size, uint64_t offset) {
    const FileToRestore &file = files_[index];
    std::string path = file.root->Describe(file.relative);
    if (file.in_place) {
        thread_local std::vector<uint8_t> present;
        present.resize(size);
        PG_ARK_RETURN_IF_ERROR(PreadAll(fd, present.data(), size, offset, path));
        if (memcmp(present.data(), data, size) == 0) return Status::Ok();
    }
    PG_ARK_RETURN_IF_ERROR(PwriteAll(fd, data, size, offset, path));
    changed_[index] = true;
    rewritten_->bytes += size;
    return Status::Ok();
}

Status FilePool::Finish(size_t index, int fd) {
    const FileToRestore &file = files_[index];
    std::string path = file.root->Describe(file.relative);
    if (fchmod(fd, static_cast<mode_t>(file.entry->mode & 07777)) != 0)
        return ErrnoStatus(errno, fmt::format("could not set the mode of file \"{}\"", path));
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(file.entry->mtime);
    times[0].tv_nsec = times[1].tv_nsec = 0;
    if (futimens(fd, times) != 0)
        return ErrnoStatus(errno, fmt::format("could not set the times of file \"{}\"", path));
    /* Also for a file left as it was: the server that wrote it may not have synced it. */
    PG_ARK_RETURN_IF_ERROR(FsyncFd(fd, path));
    counters_->files_done++;
    if (changed_[index]) {
        rewritten_->files++;
        if (file.report) Log(LogLevel::info, "delta restore: rewrote \"{}\"", path);
    }
    return Status::Ok();
}

}  // namespace

Status RestoreFiles(Storage &storage, const std::vector<FileToRestore> &files, int workers,
                    TransferCounters *counters, RewriteCounters *rewritten) {
    FilePool pool(storage, files, counters, rewritten);
    PG_ARK_RETURN_IF_ERROR(pool.CreateAll());
    return pool.Run(workers);
}

}  // namespace pg_ark

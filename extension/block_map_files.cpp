/*
 * block_map_files.cpp
 *     Listing, reading and writing block map files (see block_map_files.h).
 */
#include "block_map_files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block_ref_table.h"

using pg_ark::blockmap::FileHeader;

void MapDirectoryPath(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", pg_ark::blockmap::kDirectory, name);
}

void MapFilePath(char *out, size_t size, XLogRecPtr start_lsn, XLogRecPtr end_lsn) {
    char name[pg_ark::blockmap::kFileNameSize];
    pg_ark::blockmap::FormatFileName(start_lsn, end_lsn, name);
    MapDirectoryPath(out, size, name);
}

static int CompareMapFiles(const void *a, const void *b) {
    const MapFile *left = static_cast<const MapFile *>(a);
    const MapFile *right = static_cast<const MapFile *>(b);
    if (left->start_lsn != right->start_lsn) return left->start_lsn < right->start_lsn ? -1 : 1;
    if (left->end_lsn != right->end_lsn) return left->end_lsn < right->end_lsn ? -1 : 1;
    return 0;
}

MapFile *ListMapFiles(int *count) {
    *count = 0;
    struct stat st;
    if (stat(pg_ark::blockmap::kDirectory, &st) != 0) {
        if (errno == ENOENT) return nullptr;
        ereport(ERROR, (errcode_for_file_access(),
                        errmsg("could not stat directory \"%s\": %m", pg_ark::blockmap::kDirectory)));
    }
    int capacity = 16;
    MapFile *maps = static_cast<MapFile *>(palloc(sizeof(MapFile) * capacity));
    DIR *dir = AllocateDir(pg_ark::blockmap::kDirectory);
    struct dirent *de;
    while ((de = ReadDir(dir, pg_ark::blockmap::kDirectory)) != nullptr) {
        CHECK_FOR_INTERRUPTS();
        uint64_t start, end;
        if (!pg_ark::blockmap::ParseFileName(de->d_name, &start, &end)) continue;
        char path[MAXPGPATH];
        MapDirectoryPath(path, sizeof path, de->d_name);
        if (stat(path, &st) != 0) {
            if (errno == ENOENT) continue; /* removed by the tracker meanwhile */
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat file \"%s\": %m", path)));
        }
        if (*count == capacity) {
            capacity *= 2;
            maps = static_cast<MapFile *>(repalloc(maps, sizeof(MapFile) * capacity));
        }
        maps[*count].start_lsn = start;
        maps[*count].end_lsn = end;
        maps[*count].bytes = uint64(st.st_size);
        ++*count;
    }
    FreeDir(dir);
    qsort(maps, *count, sizeof(MapFile), CompareMapFiles);
    return maps;
}

bool ReadMapHeader(const MapFile &map, FileHeader *header) {
    char path[MAXPGPATH];
    MapFilePath(path, sizeof path, map.start_lsn, map.end_lsn);
    int fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
    if (fd < 0) return false;
    ssize_t got = read(fd, header, sizeof *header);
    int saved = errno;
    CloseTransientFile(fd);
    errno = saved;
    if (got != ssize_t(sizeof *header)) {
        if (got >= 0) errno = EINVAL;
        return false;
    }
    return true;
}

char *ReadValidatedMap(const MapFile &map, size_t *length, FileHeader *header) {
    char path[MAXPGPATH];
    MapFilePath(path, sizeof path, map.start_lsn, map.end_lsn);
    int fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
    if (fd < 0)
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not open block map \"%s\": %m", path)));
    struct stat st;
    if (fstat(fd, &st) != 0)
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat block map \"%s\": %m", path)));
    size_t size = size_t(st.st_size);
    /* palloc returns MAXALIGNed memory: Validate wants 4-byte alignment. */
    char *data = static_cast<char *>(palloc_extended(size > 0 ? size : 1, MCXT_ALLOC_HUGE));
    size_t done = 0;
    while (done < size) {
        CHECK_FOR_INTERRUPTS();
        ssize_t got = read(fd, data + done, size - done);
        if (got < 0) {
            if (errno == EINTR) continue;
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not read block map \"%s\": %m", path)));
        }
        if (got == 0) break;
        done += size_t(got);
    }
    CloseTransientFile(fd);
    pg_ark::blockmap::DecodeError error = pg_ark::blockmap::Validate(data, done, header);
    if (error != pg_ark::blockmap::DecodeError::none)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("block map \"%s\" is damaged: %s", path,
                               pg_ark::blockmap::DecodeErrorText(error))));
    if (header->system_identifier != GetSystemIdentifier() || header->start_lsn != map.start_lsn ||
        header->end_lsn != map.end_lsn)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("block map \"%s\" does not belong here", path),
                        errdetail("It covers %X/%X to %X/%X of system %llu; its name and this "
                                  "system say otherwise.",
                                  LSN_FORMAT_ARGS(header->start_lsn), LSN_FORMAT_ARGS(header->end_lsn),
                                  (unsigned long long)header->system_identifier)));
    *length = done;
    return data;
}

namespace {

/* The encoder's sink: buffered writes to one file descriptor. */
struct FileSink {
    int fd;
    int saved_errno;
    size_t used;
    char buffer[64 * 1024];

    bool Flush() {
        size_t done = 0;
        while (done < used) {
            ssize_t wrote = write(fd, buffer + done, used - done);
            if (wrote < 0 && errno == EINTR) continue;
            if (wrote <= 0) {
                saved_errno = wrote < 0 ? errno : ENOSPC;
                return false;
            }
            done += size_t(wrote);
        }
        used = 0;
        return true;
    }

    static bool Write(void *context, const void *data, size_t length) {
        FileSink *sink = static_cast<FileSink *>(context);
        const char *bytes = static_cast<const char *>(data);
        while (length > 0) {
            if (sink->used == sizeof sink->buffer && !sink->Flush()) return false;
            size_t chunk = Min(length, sizeof sink->buffer - sink->used);
            memcpy(sink->buffer + sink->used, bytes, chunk);
            sink->used += chunk;
            bytes += chunk;
            length -= chunk;
        }
        return true;
    }
};

bool AddEntry(void *context, const pg_ark::blockmap::EntryHeader &entry,
              const pg_ark::blockmap::BlockRange *ranges) {
    return static_cast<pg_ark::blockmap::Encoder *>(context)->AddEntry(entry, ranges);
}

}  // namespace

void WriteMapFile(BlockRefTable *table, XLogRecPtr start_lsn, XLogRecPtr end_lsn, TimeLineID timeline) {
    char temp_path[MAXPGPATH];
    char path[MAXPGPATH];
    MapDirectoryPath(temp_path, sizeof temp_path, kMapTempName);
    MapFilePath(path, sizeof path, start_lsn, end_lsn);

    int fd = OpenTransientFile(temp_path, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
    if (fd < 0)
        ereport(ERROR, (errcode_for_file_access(), errmsg("could not create file \"%s\": %m", temp_path)));
    FileSink *sink = static_cast<FileSink *>(palloc(sizeof(FileSink)));
    sink->fd = fd;
    sink->saved_errno = 0;
    sink->used = 0;

    FileHeader header = pg_ark::blockmap::MakeHeader(timeline, GetSystemIdentifier(), start_lsn,
                                                     end_lsn, uint32(table->EntryCount()));

    pg_ark::blockmap::Encoder encoder(&FileSink::Write, sink);
    bool ok = encoder.Begin(header) && table->ForEachSorted(AddEntry, &encoder) && encoder.Finish() &&
              sink->Flush();
    int saved = sink->saved_errno;
    pfree(sink);
    if (CloseTransientFile(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(temp_path);
        errno = saved;
        if (saved != 0)
            ereport(ERROR, (errcode_for_file_access(), errmsg("could not write file \"%s\": %m", temp_path)));
        /* No I/O error: the encoder refused what the table gave it, which is a bug here. */
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("block map %X/%X-%X/%X could not be encoded", LSN_FORMAT_ARGS(start_lsn),
                               LSN_FORMAT_ARGS(end_lsn))));
    }
    /* durable_rename fsyncs the temp file before renaming it, then the new name and the
     * directory: the map is either absent or complete and durable. */
    (void)durable_rename(temp_path, path, ERROR);
}

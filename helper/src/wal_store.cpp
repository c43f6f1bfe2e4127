/*
 * wal_store.cpp
 *     Archiving WAL into the repository and restoring it. See wal_store.h for the guarantees.
 */
#include "wal_store.h"

#include <errno.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "stored_object.h"
#include "wal_name.h"

namespace pg_ark {

namespace {

constexpr off_t kMaxWalFileSize = 1024L * 1024 * 1024; /* largest wal_segment_size */

Result<std::string> ReadWholeFd(int fd, const std::string &wal_name) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ErrnoStatus(errno, fmt::format("could not stat WAL file \"{}\"", wal_name));
    if (!S_ISREG(st.st_mode))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("WAL file \"{}\" is not a regular file", wal_name));
    if (st.st_size > kMaxWalFileSize)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("WAL file \"{}\" is larger than 1 GB", wal_name));
    std::string data(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = pread(fd, data.data() + done, data.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoStatus(errno, fmt::format("could not read WAL file \"{}\"", wal_name));
        if (n == 0)
            return Status(ErrorKind::io_error,
                          fmt::format("WAL file \"{}\" shrank while being read", wal_name));
        done += static_cast<size_t>(n);
    }
    return data;
}

/* The name is taken: identical content is a successful re-archive, anything else a conflict. */
Result<PushOutcome> CompareWithStored(Storage &storage, const RepoPath &path,
                                      const std::string &wal_name, const std::string &data) {
    auto stream = storage.OpenRead(path);
    if (!stream.ok()) return stream.status();
    auto stored = SummarizeObject(**stream, storage.Describe() + "/" + path.str());
    if (!stored.ok())
        return Status(ErrorKind::conflict,
                      fmt::format("WAL file \"{}\" is already archived but the stored copy cannot "
                                  "be verified ({}); refusing to overwrite it",
                                  wal_name, stored.status().message()));
    if (stored->original_size != data.size() ||
        stored->original_sha256 != Sha256Of(data.data(), data.size()))
        return Status(ErrorKind::conflict,
                      fmt::format("WAL file \"{}\" is already archived with different content; "
                                  "refusing to overwrite it",
                                  wal_name));
    PushOutcome outcome;
    outcome.already_archived = true;
    outcome.original_size = stored->original_size;
    outcome.stored_size = stored->stored_size;
    return outcome;
}

}  // namespace

Result<PushOutcome> WalStore::Push(const std::string &cluster, uint64_t system_identifier,
                                   const std::string &wal_name, int fd,
                                   const Compression &compression) {
    auto path = Repository::WalPath(cluster, wal_name);
    if (!path.ok()) return path.status();
    auto info = repository_->LoadCluster(cluster);
    if (!info.ok()) return info.status();
    if (system_identifier != info->system_identifier)
        return Status(ErrorKind::system_mismatch,
                      fmt::format("WAL file \"{}\" comes from system {}, but cluster \"{}\" is "
                                  "registered for system {}",
                                  wal_name, system_identifier, cluster, info->system_identifier));

    auto data = ReadWholeFd(fd, wal_name);
    if (!data.ok()) return data.status();
    WalFileKind kind = ClassifyWalName(wal_name.c_str());
    if (kind == WalFileKind::segment || kind == WalFileKind::partial) {
        uint64_t header_system = WalSegmentSystemIdentifier(
            reinterpret_cast<const uint8_t *>(data->data()), data->size());
        if (header_system != 0 && header_system != info->system_identifier)
            return Status(ErrorKind::system_mismatch,
                          fmt::format("WAL file \"{}\" has a page header of system {}, but cluster "
                                      "\"{}\" is registered for system {}",
                                      wal_name, header_system, cluster, info->system_identifier));
    }

    Storage &storage = repository_->storage();
    auto existing = storage.Info(*path);
    if (!existing.ok()) return existing.status();
    if (existing->exists) return CompareWithStored(storage, *path, wal_name, *data);

    auto stream = storage.OpenWrite(*path, WriteMode::create_new);
    if (!stream.ok()) return stream.status();
    ObjectEncoder encoder(compression, stream->get());
    PG_ARK_RETURN_IF_ERROR(encoder.UpdateWhole(data->data(), data->size()));
    PG_ARK_RETURN_IF_ERROR(encoder.Finish());
    Status committed = (*stream)->Close();
    if (committed.kind() == ErrorKind::conflict)  // a concurrent push of the same name won
        return CompareWithStored(storage, *path, wal_name, *data);
    PG_ARK_RETURN_IF_ERROR(committed);

    PushOutcome outcome;
    outcome.original_size = encoder.summary().original_size;
    outcome.stored_size = encoder.summary().stored_size;
    return outcome;
}

Status WalStore::Get(const std::string &cluster, const std::string &wal_name,
                     const std::string &destination, std::string *served, Partial partial) {
    auto path = Repository::WalPath(cluster, wal_name);
    if (!path.ok()) return path.status();
    auto info = repository_->LoadCluster(cluster);
    if (!info.ok()) return info.status();
    Storage &storage = repository_->storage();
    std::string source = wal_name;
    auto stream = storage.OpenRead(*path);
    if (!stream.ok() && stream.status().kind() == ErrorKind::not_found && partial == Partial::if_missing &&
        ClassifyWalName(wal_name.c_str()) == WalFileKind::segment) {
        /* Opening rather than checking first: no window between the check and the read. */
        source = wal_name + ".partial";
        path = Repository::WalPath(cluster, source);
        if (!path.ok()) return path.status();
        stream = storage.OpenRead(*path);
    }
    if (!stream.ok()) {
        if (stream.status().kind() == ErrorKind::not_found)
            return Status(ErrorKind::not_found,
                          fmt::format("WAL file \"{}\" is not in the repository", wal_name));
        return stream.status();
    }

    /*
     * The destination is written through the same commit protocol as the repository. Its
     * failures are io_error even when errno was ENOENT: not_found must only ever mean "the
     * repository does not have this file", which archive-get reports as a normal end of archive.
     */
    auto destination_error = [&destination](const Status &status) {
        if (status.kind() != ErrorKind::not_found) return status;
        return Status(ErrorKind::io_error,
                      fmt::format("could not write \"{}\": {}", destination, status.message()));
    };
    size_t slash = destination.rfind('/');
    std::string directory = slash == std::string::npos ? "." : destination.substr(0, slash);
    if (directory.empty()) directory = "/";
    auto name = RepoPath::Make(slash == std::string::npos ? destination : destination.substr(slash + 1));
    if (!name.ok()) return name.status();
    auto target = MakePosixStorage(directory);
    auto out = target->OpenWrite(*name, WriteMode::replace);
    if (!out.ok()) return destination_error(out.status());
    /* Verify::stored: the stored bytes' checksum and zstd's content checksum vouch for what is
     * written (as in a restore); a second SHA-256 of 16 MiB would only slow recovery down. */
    auto decoded = DecodeObject(
        **stream,
        [&](const uint8_t *data, size_t size) { return destination_error((*out)->Write(data, size)); },
        storage.Describe() + "/" + path->str(), Verify::stored);
    if (!decoded.ok()) return decoded.status();  // *out is destroyed uncommitted: nothing appears
    PG_ARK_RETURN_IF_ERROR(destination_error((*out)->Close()));
    if (served != nullptr) *served = source;
    return Status::Ok();
}

Result<std::vector<ArchivedWal>> WalStore::ListSegments(const std::string &cluster) {
    auto files = ListArchived(cluster);
    if (!files.ok()) return files.status();
    std::vector<ArchivedWal> archived;
    for (const ArchivedWalFile &file : *files)
        if (file.kind == WalFileKind::segment || file.kind == WalFileKind::partial)
            archived.push_back({file.name, file.stored_time});
    return archived;
}

Result<std::vector<ArchivedWalFile>> WalStore::ListArchived(const std::string &cluster) {
    auto info = repository_->LoadCluster(cluster);
    if (!info.ok()) return info.status();
    auto wal = RepoPath::Make(cluster + "/wal");
    if (!wal.ok()) return wal.status();
    Storage &storage = repository_->storage();
    auto directories = storage.List(*wal);
    if (!directories.ok()) return directories.status();
    std::vector<ArchivedWalFile> archived;
    for (const std::string &directory : *directories) {
        bool history = directory == "history";
        if (!history && (directory.size() != 16 ||
                         directory.find_first_not_of("0123456789ABCDEF") != std::string::npos))
            continue;
        auto path = wal->Join(directory);
        if (!path.ok()) return path.status();
        auto objects = storage.ListObjects(*path);
        if (!objects.ok()) return objects.status();
        for (const ListedObject &object : *objects) {
            constexpr size_t kSuffix = 4; /* ".ark" */
            if (object.name.size() <= kSuffix ||
                object.name.compare(object.name.size() - kSuffix, kSuffix, ".ark") != 0)
                continue;
            std::string name = object.name.substr(0, object.name.size() - kSuffix);
            WalFileKind kind = ClassifyWalName(name.c_str());
            /* Only where WalPath would have stored it: anything else is not ours to weigh. */
            if (kind == WalFileKind::invalid || (kind == WalFileKind::history) != history ||
                (!history && name.compare(0, 16, directory) != 0))
                continue;
            archived.push_back({name, kind, object.size, object.stored_time});
        }
    }
    std::sort(archived.begin(), archived.end(),
              [](const ArchivedWalFile &a, const ArchivedWalFile &b) { return a.name < b.name; });
    return archived;
}

}  // namespace pg_ark

/*
 * storage.h
 *     The repository's storage interface. Posix implements it now; object storage later. Nothing
 *     above this interface knows which one it has.
 *
 * A WriteStream's Close() is the commit point: before it returns OK the object is durable
 * (posix: file fsynced, renamed into place, directory fsynced) and visible under its name. A
 * stream destroyed without Close() leaves nothing visible. Objects are immutable: with
 * WriteMode::create_new, Close() fails with ErrorKind::conflict if the name already exists.
 */
#ifndef PG_ARK_HELPER_STORAGE_H
#define PG_ARK_HELPER_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "repo_path.h"
#include "status.h"

namespace pg_ark {

class ReadStream {
  public:
    virtual ~ReadStream() = default;
    /* Reads up to size bytes; 0 at the end. */
    virtual Result<size_t> Read(void *buffer, size_t size) = 0;
};

class WriteStream {
  public:
    virtual ~WriteStream() = default;
    virtual Status Write(const void *data, size_t size) = 0;
    /* Commit point; see the file comment. */
    virtual Status Close() = 0;
};

enum class WriteMode { replace, create_new };

struct ObjectInfo {
    bool exists = false;
    uint64_t size = 0;
};

/* One object of a listing. stored_time: when it was committed, by the storage's clock (posix:
 * the file's mtime; object stores: their last-modified time). */
struct ListedObject {
    std::string name;
    uint64_t size = 0;
    double stored_time = 0; /* seconds since the epoch */
};

class Storage {
  public:
    virtual ~Storage() = default;
    /* ErrorKind::not_found when absent. */
    virtual Result<std::unique_ptr<ReadStream>> OpenRead(const RepoPath &path) = 0;
    virtual Result<std::unique_ptr<WriteStream>> OpenWrite(const RepoPath &path, WriteMode mode) = 0;
    virtual Result<ObjectInfo> Info(const RepoPath &path) = 0;
    /* Names directly under a directory-like prefix, sorted; empty when there is none. */
    virtual Result<std::vector<std::string>> List(const RepoPath &directory) = 0;
    /* The objects directly under a directory-like prefix (no sub-prefixes), sorted by name, with
     * size and stored time: one listing call on an object store, not one request per object. */
    virtual Result<std::vector<ListedObject>> ListObjects(const RepoPath &directory) = 0;
    virtual Status Remove(const RepoPath &path) = 0;
    /*
     * Removes a directory-like prefix whose objects have all been removed, together with what
     * interrupted writes left in it; absent is fine. Storage without directories (object
     * stores) has nothing to do, hence the default. REQUIRES: nobody writes below it.
     */
    virtual Status RemoveDirectory(const RepoPath & /*directory*/) { return Status::Ok(); }
    /* Bytes a new object may still use; nullopt when the storage cannot tell (object stores). */
    virtual Result<std::optional<uint64_t>> FreeBytes() { return std::optional<uint64_t>(); }
    /* Where this storage lives, for messages ("/var/lib/pg_ark"). */
    virtual std::string Describe() const = 0;
};

/* Reads from a string that outlives the stream. */
class MemoryReadStream : public ReadStream {
  public:
    explicit MemoryReadStream(const std::string &data) : data_(data) {}
    Result<size_t> Read(void *buffer, size_t size) override;

  private:
    const std::string &data_;
    size_t position_ = 0;
};

/* Reads a whole (small) object into memory. */
Result<std::string> ReadAll(Storage &storage, const RepoPath &path);
/* Writes a whole (small) object and commits it. */
Status WriteAll(Storage &storage, const RepoPath &path, const std::string &data, WriteMode mode);

std::unique_ptr<Storage> MakePosixStorage(const std::string &root);

}  // namespace pg_ark

#endif

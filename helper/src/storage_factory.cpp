/*
 * storage_factory.cpp
 *     See storage_factory.h.
 */
#include "storage_factory.h"

#include "repository_encryption.h"
#include "s3_storage.h"

namespace pg_ark {

Result<std::unique_ptr<Storage>> OpenRawRepositoryStorage(const Config &config) {
    if (config.repo_type == RepoType::s3) return MakeS3Storage(config.s3);
    return MakePosixStorage(config.repo_path);
}

Result<std::unique_ptr<Storage>> OpenRepositoryStorage(const Config &config) {
    auto raw = OpenRawRepositoryStorage(config);
    if (!raw.ok()) return raw.status();
    return WrapRepositoryEncryption(std::move(*raw), config);
}

}  // namespace pg_ark

/*
 * storage_factory.cpp
 *     See storage_factory.h.
 */
#include "storage_factory.h"

#include "repository_encryption.h"

namespace pg_ark {

Result<std::unique_ptr<Storage>> OpenRawRepositoryStorage(const Config &config) {
    return MakePosixStorage(config.repo_path);
}

Result<std::unique_ptr<Storage>> OpenRepositoryStorage(const Config &config) {
    auto raw = OpenRawRepositoryStorage(config);
    if (!raw.ok()) return raw.status();
    return WrapRepositoryEncryption(std::move(*raw), config);
}

}  // namespace pg_ark

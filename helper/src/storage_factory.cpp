/*
 * storage_factory.cpp
 *     See storage_factory.h.
 */
#include "storage_factory.h"

#include "s3_storage.h"

namespace pg_ark {

Result<std::unique_ptr<Storage>> OpenRepositoryStorage(const Config &config) {
    if (config.repo_type == RepoType::s3) return MakeS3Storage(config.s3);
    return MakePosixStorage(config.repo_path);
}

}  // namespace pg_ark

/*
 * storage_factory.h
 *     The one place that turns a configuration into the repository's Storage: repo-type = posix
 *     (the default) or s3, encrypted when the repository is. Everything above the storage layer
 *     opens the repository here, so a storage driver or the encryption layer is added in one
 *     place and nothing above it changes.
 */
#ifndef PG_ARK_HELPER_STORAGE_FACTORY_H
#define PG_ARK_HELPER_STORAGE_FACTORY_H

#include <memory>

#include "config.h"
#include "status.h"
#include "storage.h"

namespace pg_ark {

/* The storage the configuration names (posix at repo-path, or S3), without encryption: for
 * repo.key. */
Result<std::unique_ptr<Storage>> OpenRawRepositoryStorage(const Config &config);

/* The repository's storage: the raw storage, encrypted when the repository is (see
 * repository_encryption.h). Errors name the repository and what to fix, never a secret. */
Result<std::unique_ptr<Storage>> OpenRepositoryStorage(const Config &config);

}  // namespace pg_ark

#endif

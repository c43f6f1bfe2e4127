/*
 * storage_factory.h
 *     The one place that knows which Storage a repository has: repo-type = posix (the default)
 *     or s3. Everything above works on the Storage it returns.
 */
#ifndef PG_ARK_HELPER_STORAGE_FACTORY_H
#define PG_ARK_HELPER_STORAGE_FACTORY_H

#include <memory>

#include "config.h"
#include "status.h"
#include "storage.h"

namespace pg_ark {

Result<std::unique_ptr<Storage>> OpenRepositoryStorage(const Config &config);

}  // namespace pg_ark

#endif

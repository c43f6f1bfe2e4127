// TEMPORARY: PartObjectName lives in manifest.cpp on wip-catalog; delete this file on merge.
#include <fmt/format.h>

#include "manifest.h"

namespace pg_ark {
std::string PartObjectName(uint64_t object) { return fmt::format("data/{:08}.ark", object); }
}  // namespace pg_ark

/*
 * pg_files.cpp
 *     Reading a data directory's identity and a WAL segment's long page header.
 *
 * system_identifier is the first field of ControlFileData and xlp_sysid sits at offset 24 of
 * XLogLongPageHeaderData in every PostgreSQL release we support, so we read just those offsets
 * rather than depend on the whole (version-specific) structs. Both are in the server's native
 * byte order, which is ours: the helper runs on the database host.
 */
#include "pg_files.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <string.h>
#include <unistd.h>

#include <fstream>

#include "unique_fd.h"

namespace pg_ark {

namespace {
constexpr uint16_t kLongHeaderFlag = 0x0002; /* XLP_LONG_HEADER */
constexpr size_t kSysidOffset = 24;
}  // namespace

Result<ClusterIdentity> ReadClusterIdentity(const std::string &pgdata) {
    ClusterIdentity identity;
    std::string control = pgdata + "/global/pg_control";
    UniqueFd fd(open(control.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, fmt::format("could not open file \"{}\"", control));
    uint8_t bytes[8];
    ssize_t n = pread(fd.get(), bytes, sizeof bytes, 0);
    if (n != static_cast<ssize_t>(sizeof bytes))
        return Status(ErrorKind::corrupt, fmt::format("could not read the system identifier from \"{}\"", control));
    memcpy(&identity.system_identifier, bytes, sizeof bytes);
    if (identity.system_identifier == 0)
        return Status(ErrorKind::corrupt, fmt::format("file \"{}\" holds no system identifier", control));

    std::string version_file = pgdata + "/PG_VERSION";
    std::ifstream version(version_file);
    if (!version || !std::getline(version, identity.pg_version) || identity.pg_version.empty())
        return Status(ErrorKind::not_found, fmt::format("could not read file \"{}\"", version_file));
    return identity;
}

uint64_t WalSegmentSystemIdentifier(const uint8_t *data, size_t size) {
    if (size < kSysidOffset + 8) return 0;
    uint16_t info;
    memcpy(&info, data + 2, sizeof info);
    if ((info & kLongHeaderFlag) == 0) return 0;
    uint64_t sysid;
    memcpy(&sysid, data + kSysidOffset, sizeof sysid);
    return sysid;
}

}  // namespace pg_ark

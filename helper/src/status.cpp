/*
 * status.cpp
 *     Mapping errno to error kinds, so that "disk full" and "permission denied" stay
 *     distinguishable all the way to the archiver's WARNING and the CLI's exit status.
 */
#include "status.h"

#include <errno.h>
#include <string.h>

namespace pg_ark {

Status ErrnoStatus(int error_number, const std::string &what) {
    ErrorKind kind = ErrorKind::io_error;
    switch (error_number) {
        case ENOSPC:
        case EDQUOT: kind = ErrorKind::no_space; break;
        case EACCES:
        case EPERM:
        case EROFS: kind = ErrorKind::permission_denied; break;
        case ENOENT: kind = ErrorKind::not_found; break;
        default: break;
    }
    return Status(kind, what + ": " + strerror(error_number));
}

}  // namespace pg_ark

/*
 * fd_passing.h
 *     One non-blocking send on a Unix stream socket, optionally carrying a file descriptor
 *     (SCM_RIGHTS). Shared by the extension and the helper; plain POSIX, no exceptions.
 */
#ifndef PG_ARK_COMMON_FD_PASSING_H
#define PG_ARK_COMMON_FD_PASSING_H

#include <stddef.h>
#include <sys/types.h>

namespace pg_ark {

/*
 * Sends up to size bytes without blocking or raising SIGPIPE; pass_fd (unless -1) rides with
 * the first byte. Returns what sendmsg returns: bytes sent, or -1 with errno (EAGAIN: wait for
 * the socket to be writable and call again with the rest and pass_fd = -1).
 */
ssize_t SendWithFd(int socket, const void *data, size_t size, int pass_fd);

}  // namespace pg_ark

#endif

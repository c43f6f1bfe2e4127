/*
 * fd_passing.cpp
 *     See fd_passing.h.
 */
#include "fd_passing.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace pg_ark {

ssize_t SendWithFd(int socket, const void *data, size_t size, int pass_fd) {
    struct iovec iov;
    iov.iov_base = const_cast<void *>(data);
    iov.iov_len = size;
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    if (pass_fd >= 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = control.buffer;
        message.msg_controllen = sizeof control.buffer;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &pass_fd, sizeof(int));
    }
    return sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace pg_ark

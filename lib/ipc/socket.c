/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "ipc/envelope.h"
#include "ipc/socket.h"

void ipc_packet_done(IpcPacket *p) {
        if (!p)
                return;
        p->data = mfree(p->data);
        p->size = 0;
        for (size_t i = 0; i < p->n_fds && i < IPC_FDS_MAX; i++)
                p->fds[i] = safe_close(p->fds[i]);
        p->n_fds = 0;
}

static int sockaddr_un_from_path(const char *path, struct sockaddr_un *ret, socklen_t *ret_len) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t n;

        assert_return(path, -EINVAL);
        n = strlen(path);
        if (n == 0)
                return -EINVAL;
        if (n >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, n + 1);
        *ret = sa;
        *ret_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
}

static int mkdir_parent(const char *path) {
        _cleanup_free_ char *parent = strdup(path);
        char *slash;

        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return 0;
        *slash = 0;
        if (mkdir(parent, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* A socket file may be left behind by a daemon that died. Only remove it when nobody answers on
 * it, so that starting a second instance never steals the first one's address. */
static int remove_stale_socket(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;

        fd = ipc_socket_connect(path);
        if (fd >= 0)
                return -EADDRINUSE;
        if (fd != -ECONNREFUSED)
                return fd;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int ipc_socket_listen(const char *path, bool make_parent) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        socklen_t sa_len;
        int r;

        r = sockaddr_un_from_path(path, &sa, &sa_len);
        if (r < 0)
                return r;
        if (make_parent) {
                r = mkdir_parent(path);
                if (r < 0)
                        return r;
        }
        r = remove_stale_socket(path);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* On Linux bind() takes the socket inode's mode, so this closes the window between bind()
         * and chmod() in which the umask's mode would apply. */
        (void) fchmod(fd, 0600);
        if (bind(fd, (const struct sockaddr *) &sa, sa_len) < 0)
                return -errno;
        if (chmod(path, 0600) < 0) {
                r = -errno;
                (void) unlink(path);
                return r;
        }
        if (listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                (void) unlink(path);
                return r;
        }
        return TAKE_FD(fd);
}

int ipc_socket_connect(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa;
        socklen_t sa_len;
        int r;

        r = sockaddr_un_from_path(path, &sa, &sa_len);
        if (r < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sa_len) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int ipc_socket_accept(int listen_fd) {
        int fd;

        assert_return(listen_fd >= 0, -EBADF);
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return -errno;
        return fd;
}

int ipc_socketpair(int ret_fds[2]) {
        int fds[2];

        assert_return(ret_fds, -EINVAL);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return -errno;
        ret_fds[0] = fds[0];
        ret_fds[1] = fds[1];
        return 0;
}

int ipc_peer_get_cred(int fd, struct ucred *ret) {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        assert_return(fd >= 0, -EBADF);
        assert_return(ret, -EINVAL);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        /* The kernel reports pid 0 when the peer's credentials were never recorded. */
        if (len != sizeof(cred) || cred.pid <= 0)
                return -ENODATA;
        *ret = cred;
        return 0;
}

int ipc_peer_check_uid(int fd, uid_t uid) {
        struct ucred cred;
        int r;

        r = ipc_peer_get_cred(fd, &cred);
        if (r < 0)
                return r;
        return cred.uid == uid ? 0 : -EPERM;
}

int ipc_send_packet(int fd, const void *data, size_t size, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = (void *) data, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        assert_return(fd >= 0, -EBADF);
        assert_return(data && size > 0, -EINVAL);
        assert_return(size <= IPC_MESSAGE_SIZE_MAX, -EMSGSIZE);
        assert_return(n_fds <= IPC_FDS_MAX, -ETOOMANYREFS);
        assert_return(fds || n_fds == 0, -EINVAL);

        if (n_fds > 0) {
                struct cmsghdr *cmsg;

                memset(&control, 0, sizeof(control));
                mh.msg_control = control.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
        }

        for (;;) {
                if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

static void close_cmsg_fds(struct msghdr *mh) {
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg)) {
                size_t n;

                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                        safe_close(fd);
                }
        }
}

/* Moves the received fds into p; -ETOOMANYREFS (with every fd closed) when there are more than
 * max_fds or the kernel had to drop some for lack of room. */
static int collect_fds(struct msghdr *mh, size_t max_fds, IpcPacket *p) {
        size_t n = 0;

        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS)
                        n += (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        if (n > max_fds || (mh->msg_flags & MSG_CTRUNC)) {
                close_cmsg_fds(mh);
                return -ETOOMANYREFS;
        }

        p->n_fds = 0;
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg)) {
                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                memcpy(p->fds + p->n_fds, CMSG_DATA(cmsg), n * sizeof(int));
                p->n_fds += n;
        }
        return 0;
}

/* Drops the packet at the head of the queue unread. Fds it carried are released by the kernel
 * because no control buffer is offered for them. */
static void discard_packet(int fd) {
        while (recv(fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC) < 0 && errno == EINTR)
                ;
}

int ipc_recv_packet(int fd, size_t max_size, size_t max_fds, IpcPacket *ret) {
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
        } control;
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        struct iovec iov;
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                /* Room for one more fd than allowed, so that a sender who exceeds the limit is
                 * seen (and refused) rather than silently cut short. */
                .msg_controllen = CMSG_SPACE(sizeof(int) * MIN(max_fds + 1, (size_t) IPC_FDS_MAX)),
        };
        ssize_t n;
        int r;

        assert_return(fd >= 0, -EBADF);
        assert_return(ret, -EINVAL);
        assert_return(max_fds <= IPC_FDS_MAX, -EINVAL);

        do
                n = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return 0;
        if ((size_t) n > max_size) {
                discard_packet(fd);
                return -EMSGSIZE;
        }

        p.data = malloc((size_t) n);
        if (!p.data)
                return -ENOMEM;
        iov = (struct iovec) { .iov_base = p.data, .iov_len = (size_t) n };
        do
                n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        r = collect_fds(&mh, max_fds, &p);
        if (r < 0)
                return r;
        /* Only possible if another reader took the peeked packet; the one we got is bigger. */
        if (mh.msg_flags & MSG_TRUNC)
                return -EMSGSIZE;
        if (n == 0)
                return 0;

        p.size = (size_t) n;
        *ret = p;
        p = (IpcPacket) {};
        return 1;
}

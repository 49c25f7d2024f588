/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                /* close() always releases the fd on Linux, even on EINTR, so never retry it. */
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

void closep(int *fd) {
        *fd = safe_close(*fd);
}

static int fd_update_flag(int fd, int get, int set, int flag, bool on) {
        int flags = fcntl(fd, get);
        if (flags < 0)
                return -errno;
        int nflags = on ? (flags | flag) : (flags & ~flag);
        if (nflags == flags)
                return 0;
        if (fcntl(fd, set, nflags) < 0)
                return -errno;
        return 0;
}

int fd_set_nonblock(int fd, bool nonblock) {
        assert_return(fd >= 0, -EBADF);
        return fd_update_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, nonblock);
}

int fd_set_cloexec(int fd, bool cloexec) {
        assert_return(fd >= 0, -EBADF);
        return fd_update_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, cloexec);
}

ssize_t loop_read(int fd, void *buf, size_t size) {
        uint8_t *p = buf;
        size_t done = 0;

        assert_return(fd >= 0, -EBADF);
        while (done < size) {
                ssize_t k = read(fd, p + done, size - done);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return done > 0 ? (ssize_t) done : -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

int loop_write(int fd, const void *buf, size_t size) {
        const uint8_t *p = buf;

        assert_return(fd >= 0, -EBADF);
        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

int read_full_fd(int fd, size_t max_size, char **ret_data, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t allocated = 0, size = 0;

        assert_return(fd >= 0, -EBADF);
        assert_return(ret_data, -EINVAL);

        for (;;) {
                if (size + 1 >= allocated) {
                        /* The buffer holds max_size + 1 bytes at most: one more than allowed
                         * is how an oversized file is told from one of exactly max_size. */
                        if (allocated >= max_size + 2)
                                return -EFBIG;
                        size_t n = allocated == 0 ? 4096 : allocated * 2;
                        n = MIN(n, max_size + 2);
                        char *t = realloc(buf, n);
                        if (!t)
                                return -ENOMEM;
                        buf = t;
                        allocated = n;
                }
                ssize_t k = read(fd, buf + size, allocated - size - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > max_size)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_full_file_at(int dir_fd, const char *path, size_t max_size, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;

        assert_return(path, -EINVAL);
        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max_size, ret_data, ret_size);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-records.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/paths.h"

/* Records are a line or two; anything bigger is not ours. */
#define CTL_RECORD_SIZE_MAX 4096U

int ctl_record_path(const char *name, char **ret) {
        _cleanup_free_ char *dir = NULL;
        char *p;
        int r;

        r = troupe_path_get(TROUPE_PATH_RUNTIME, &dir);
        if (r < 0)
                return r;
        p = strjoin(dir, "/", name);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int ctl_record_read(const char *name, char **ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t n;
        int r;

        r = ctl_record_path(name, &path);
        if (r < 0)
                return r;
        r = read_full_file_at(AT_FDCWD, path, CTL_RECORD_SIZE_MAX, &data, &n);
        if (r < 0)
                return r;
        while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == ' '))
                data[--n] = 0;
        if (n == 0 || strlen(data) != n)
                return -EINVAL;
        *ret = TAKE_PTR(data);
        return 0;
}

int ctl_record_write(const char *name, const char *value) {
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        int r;

        r = troupe_path_get(TROUPE_PATH_RUNTIME, &dir);
        if (r < 0)
                return r;
        r = mkdir_p_secure(dir, 0700, &dfd);
        if (r < 0)
                return r;
        tmp = strjoin(".", name, ".tmp");
        if (!tmp)
                return -ENOMEM;
        (void) unlinkat(dfd, tmp, 0);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, value, strlen(value));
        if (r >= 0)
                r = loop_write(fd, "\n", 1);
        if (r >= 0)
                r = RET_NERRNO(renameat(dfd, tmp, dfd, name));
        if (r < 0)
                (void) unlinkat(dfd, tmp, 0);
        return r;
}

int ctl_record_remove(const char *name) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = ctl_record_path(name, &path);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int ctl_record_read_pid(const char *name, pid_t *ret) {
        _cleanup_free_ char *s = NULL;
        char *end;
        long v;
        int r;

        r = ctl_record_read(name, &s);
        if (r < 0)
                return r;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end || v <= 1 || v > INT32_MAX)
                return -EINVAL;
        *ret = (pid_t) v;
        return 0;
}

static int proc_read(pid_t pid, const char *what, char **ret) {
        char path[64];
        size_t n;

        (void) snprintf(path, sizeof(path), "/proc/%i/%s", (int) pid, what);
        return read_full_file_at(AT_FDCWD, path, 4096, ret, &n);
}

bool pid_is_alive(pid_t pid) {
        _cleanup_free_ char *stat = NULL;
        const char *p;

        if (pid <= 1)
                return false;
        if (kill(pid, 0) < 0 && errno == ESRCH)
                return false;
        /* The state follows the last ')' of "pid (comm) S ...". */
        if (proc_read(pid, "stat", &stat) < 0)
                return false;
        p = strrchr(stat, ')');
        return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

bool pid_has_comm(pid_t pid, const char *comm) {
        _cleanup_free_ char *s = NULL;
        size_t n;

        if (proc_read(pid, "comm", &s) < 0)
                return false;
        n = strlen(s);
        if (n > 0 && s[n - 1] == '\n')
                s[n - 1] = 0;
        /* comm is cut at 15 bytes. */
        return strncmp(s, comm, 15) == 0;
}

int ctl_private_bus_get(char **ret_address, pid_t *ret_pid) {
        _cleanup_free_ char *address = NULL;
        pid_t pid;
        int r;

        r = ctl_record_read_pid(CTL_RECORD_BUS_PID, &pid);
        if (r == -ENOENT || r == -ENXIO || r == -EINVAL)
                return 0;
        if (r < 0)
                return r;
        if (!pid_is_alive(pid) || !pid_has_comm(pid, "dbus-daemon"))
                return 0;
        r = ctl_record_read(CTL_RECORD_BUS_ADDRESS, &address);
        if (r == -ENOENT || r == -EINVAL)
                return 0;
        if (r < 0)
                return r;

        if (ret_address)
                *ret_address = TAKE_PTR(address);
        if (ret_pid)
                *ret_pid = pid;
        return 1;
}

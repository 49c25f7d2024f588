/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/path-resolve.h"

/* How often an -EAGAIN from openat2() is retried; bounded so a peer renaming in a loop cannot spin us. */
#define OPENAT2_EAGAIN_RETRIES 8

static bool has_control_chars(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = s[i];

                if (c < 0x20 || c == 0x7f)
                        return true;
                /* C1 controls U+0080..U+009F (0xC2 0x80..0x9F): U+009B is a terminal CSI. */
                if (c == 0xc2 && i + 1 < len && (unsigned char) s[i + 1] <= 0x9f)
                        return true;
        }
        return false;
}

int path_validate_relative(const char *path, size_t len) {
        size_t start = 0;

        if (!path || len == 0)
                return -EINVAL;
        if (len >= PATH_MAX)
                return -ENAMETOOLONG;
        if (memchr(path, 0, len))
                return -EINVAL;
        if (path[0] == '/')
                return -EINVAL;
        if (!utf8_is_valid_n(path, len) || has_control_chars(path, len))
                return -EINVAL;

        for (;;) {
                const char *slash = memchr(path + start, '/', len - start);
                size_t end = slash ? (size_t) (slash - path) : len, n = end - start;

                if (n == 0)
                        return -EINVAL;
                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                if (path[start] == '.' && (n == 1 || (n == 2 && path[start + 1] == '.')))
                        return -EINVAL;
                if (!slash)
                        return 0;
                start = end + 1;
        }
}

static int openat2_beneath(int dir_fd, const char *path, int flags, mode_t mode) {
        /* openat2() refuses O_PATH combined with flags that do not apply to it, such as O_NOCTTY. */
        struct open_how how = {
                .flags = (uint64_t) (unsigned) (flags | O_CLOEXEC | (flags & O_PATH ? 0 : O_NOCTTY)),
                .mode = mode,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };

        for (unsigned attempt = 0;; attempt++) {
                long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int) fd;
                /* The kernel asks for a retry when a concurrent rename or mount kept it from proving
                 * the lookup stayed beneath the root. */
                if (errno == EAGAIN && attempt < OPENAT2_EAGAIN_RETRIES)
                        continue;
                return -errno;
        }
}

/* Validates and returns a NUL-terminated copy, which openat2() needs. */
static int validated_copy(const char *path, size_t len, char **ret) {
        char *p;
        int r;

        r = path_validate_relative(path, len);
        if (r < 0)
                return r;
        p = strndup(path, len);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int path_open_beneath(int root_fd, const char *path, size_t len, int flags) {
        _cleanup_free_ char *p = NULL;
        int r;

        assert_return(root_fd >= 0, -EBADF);
        /* O_TMPFILE contains O_DIRECTORY's bit, so compare the whole mask. */
        assert_return(!(flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE, -EINVAL);

        r = validated_copy(path, len, &p);
        if (r < 0)
                return r;
        return openat2_beneath(root_fd, p, flags, 0);
}

int path_create_beneath(int root_fd, const char *path, size_t len, int flags, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        int r;

        assert_return(root_fd >= 0, -EBADF);
        assert_return((flags & O_TMPFILE) != O_TMPFILE, -EINVAL);
        assert_return((mode & ~07777) == 0, -EINVAL);

        r = validated_copy(path, len, &p);
        if (r < 0)
                return r;
        return openat2_beneath(root_fd, p, flags | O_CREAT | O_EXCL, mode);
}

int path_mkdir_beneath(int root_fd, const char *path, size_t len, mode_t mode, PathMkdirFlags flags) {
        _cleanup_free_ char *p = NULL;
        _cleanup_close_ int parent_fd = -EBADF;
        const char *name;
        char *slash;
        int r;

        assert_return(root_fd >= 0, -EBADF);
        assert_return((mode & ~07777) == 0, -EINVAL);

        r = validated_copy(path, len, &p);
        if (r < 0)
                return r;

        slash = strrchr(p, '/');
        if (slash) {
                *slash = 0;
                parent_fd = openat2_beneath(root_fd, p, O_PATH | O_DIRECTORY, 0);
                if (parent_fd < 0)
                        return parent_fd;
                name = slash + 1;
        } else
                name = p;

        /* `name` is one validated component and the parent was resolved beneath the root, so
         * mkdirat() cannot land outside it; it never follows a symlink in its last component. */
        if (mkdirat(parent_fd >= 0 ? parent_fd : root_fd, name, mode) < 0 &&
            (errno != EEXIST || !(flags & PATH_MKDIR_EXIST_OK)))
                return -errno;

        return openat2_beneath(parent_fd >= 0 ? parent_fd : root_fd, name, O_RDONLY | O_DIRECTORY, 0);
}

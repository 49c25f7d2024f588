/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "registryd-workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/path-resolve.h"
#include "paths/paths.h"

bool workspace_name_is_valid(const char *name) {
        return name_is_valid(name, WORKSPACE_NAME_MAX);
}

int workspace_create_full(const char *root, const char *name, bool reuse, char **ret_path,
                          bool *ret_created) {
        _cleanup_close_ int root_fd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        bool created = true;
        int r;

        assert_return(root && root[0] == '/', -EINVAL);
        assert_return(ret_path, -EINVAL);

        /* The string check gives a precise error early; openat2() beneath the root is what
         * actually keeps the directory inside it. */
        if (!workspace_name_is_valid(name))
                return -EINVAL;

        r = mkdir_p_secure(root, 0700, &root_fd);
        if (r < 0)
                return r;

        fd = path_mkdir_beneath(root_fd, name, strlen(name), 0700, 0);
        if (fd == -EEXIST && reuse) {
                created = false;
                fd = path_mkdir_beneath(root_fd, name, strlen(name), 0700, PATH_MKDIR_EXIST_OK);
        }
        if (fd < 0)
                return fd;

        path = strjoin(root, "/", name);
        if (!path)
                return -ENOMEM;

        *ret_path = TAKE_PTR(path);
        if (ret_created)
                *ret_created = created;
        return 0;
}

int workspace_create(const char *root, const char *name, bool reuse, char **ret_path) {
        return workspace_create_full(root, name, reuse, ret_path, NULL);
}

static int open_root(const char *root, int *ret_fd) {
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int workspace_move_aside(const char *root, const char *name, const char *aside_name, char **ret_path) {
        _cleanup_close_ int root_fd = -EBADF, aside_fd = -EBADF;
        _cleanup_free_ char *path = NULL;
        struct stat st;
        int r;

        assert_return(root && root[0] == '/', -EINVAL);
        assert_return(ret_path, -EINVAL);

        if (!workspace_name_is_valid(name) || !aside_name ||
            path_validate_relative(aside_name, strlen(aside_name)) < 0 || strchr(aside_name, '/'))
                return -EINVAL;

        r = open_root(root, &root_fd);
        if (r < 0)
                return r;
        if (fstatat(root_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;

        aside_fd = path_mkdir_beneath(root_fd, WORKSPACE_ASIDE_DIR, strlen(WORKSPACE_ASIDE_DIR), 0700,
                                      PATH_MKDIR_EXIST_OK);
        if (aside_fd < 0)
                return aside_fd;
        /* Both names are single components of directories we hold: rename(2) resolves nothing else
         * and moves a symlink swapped in meanwhile as a symlink, beneath the root either way. */
        if (renameat2(root_fd, name, aside_fd, aside_name, RENAME_NOREPLACE) < 0)
                return -errno;

        path = strjoin(root, "/" WORKSPACE_ASIDE_DIR "/", aside_name);
        if (!path)
                return -ENOMEM;
        *ret_path = TAKE_PTR(path);
        return 0;
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static int remove_entry(int dir_fd, const char *name, dev_t dev, unsigned depth);

/* Empties the directory dir_fd (which it takes). */
static int remove_contents(int dir_fd, dev_t dev, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        d = fdopendir(dir_fd);
        if (!d) {
                r = -errno;
                safe_close(dir_fd);
                return r;
        }
        for (;;) {
                int k;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0 && r == 0)
                                r = -errno;
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = remove_entry(dirfd(d), de->d_name, dev, depth);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

static int remove_entry(int dir_fd, const char *name, dev_t dev, unsigned depth) {
        struct stat st;
        int fd, r;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                /* Files, sockets, fifos and symlinks alike: the entry goes, whatever it points to. */
                return RET_NERRNO(unlinkat(dir_fd, name, 0));
        if (st.st_dev != dev)
                return -EXDEV;
        if (depth >= WORKSPACE_REMOVE_DEPTH_MAX)
                return -ENAMETOOLONG;

        /* O_NOFOLLOW: a symlink swapped in since fstatat() is not entered (ELOOP). */
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = remove_contents(fd, dev, depth + 1);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && r == 0)
                r = -errno;
        return r;
}

int workspace_remove(const char *root, const char *name) {
        _cleanup_close_ int root_fd = -EBADF, fd = -EBADF;
        struct stat st;
        int r;

        assert_return(root && root[0] == '/', -EINVAL);

        if (!workspace_name_is_valid(name))
                return -EINVAL;
        r = open_root(root, &root_fd);
        if (r < 0)
                return r;
        /* openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): the workspace itself, never what a symlink
         * in its place points to. */
        fd = path_open_beneath(root_fd, name, strlen(name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        r = remove_contents(TAKE_FD(fd), st.st_dev, 1);
        if (unlinkat(root_fd, name, AT_REMOVEDIR) < 0 && r == 0)
                r = -errno;
        return r;
}

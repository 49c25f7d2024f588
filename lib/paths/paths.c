/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "paths/paths.h"

static const char *const troupe_path_table[_TROUPE_PATH_MAX] = {
        [TROUPE_PATH_RUNTIME] = "runtime",
        [TROUPE_PATH_STATE] = "state",
        [TROUPE_PATH_DATA] = "data",
        [TROUPE_PATH_WORKSPACES] = "workspaces",
        [TROUPE_PATH_CONFIG] = "config",
        [TROUPE_PATH_LOGS] = "logs",
        [TROUPE_PATH_AGENT_SOCKET] = "agent-socket",
        [TROUPE_PATH_LIBEXEC] = "libexec",
};

DEFINE_STRING_TABLE_LOOKUP(troupe_path, TroupePath);

/* Reads a variable naming a directory. Returns 0 with *ret = NULL when it is unset or empty (the
 * XDG spec's rule), else 1 with a copy stripped of trailing slashes. A relative value is refused
 * rather than ignored: it is a configuration mistake the user should hear about. */
static int getenv_dir(const char *name, char **ret) {
        const char *e = secure_getenv(name);
        char *copy;
        size_t n;

        if (isempty(e)) {
                *ret = NULL;
                return 0;
        }
        if (e[0] != '/')
                return -EINVAL;
        n = strnlen(e, PATH_MAX);
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        while (n > 1 && e[n - 1] == '/')
                n--;
        copy = strndup(e, n);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 1;
}

static char *path_join2(const char *a, const char *b) {
        return strjoin(a, endswith(a, "/") ? "" : "/", b);
}

/* <override>, else <xdg>/troupe, else $HOME/<home_suffix>/troupe; no home_suffix means there is
 * no sensible default and the caller gets -ENXIO instead of a guess. */
static int base_dir(const char *override, const char *xdg, const char *home_suffix, char **ret) {
        _cleanup_free_ char *v = NULL;
        char *p;
        int r;

        r = getenv_dir(override, &v);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret = TAKE_PTR(v);
                return 0;
        }

        r = getenv_dir(xdg, &v);
        if (r < 0)
                return r;
        if (r > 0)
                p = path_join2(v, "troupe");
        else {
                if (!home_suffix)
                        return -ENXIO;
                r = getenv_dir("HOME", &v);
                if (r < 0)
                        return r;
                if (r == 0)
                        return -ENXIO;
                p = strjoin(v, streq(v, "/") ? "" : "/", home_suffix, "/troupe");
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* A location below another one, unless `override` names it directly. */
static int sub_dir(TroupePath parent, const char *override, const char *name, char **ret) {
        _cleanup_free_ char *v = NULL, *base = NULL;
        char *p;
        int r;

        if (override) {
                r = getenv_dir(override, &v);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = TAKE_PTR(v);
                        return 0;
                }
        }

        r = troupe_path_get(parent, &base);
        if (r < 0)
                return r;
        p = path_join2(base, name);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* Where the daemons are installed, or a build tree named by $TROUPE_LIBEXECDIR (tests, dev/up). */
static int libexec_dir(char **ret) {
        char *v;
        int r;

        r = getenv_dir("TROUPE_LIBEXECDIR", &v);
        if (r < 0)
                return r;
        if (r == 0) {
                v = strdup(TROUPE_LIBEXECDIR);
                if (!v)
                        return -ENOMEM;
        }
        *ret = v;
        return 0;
}

static int troupe_path_compute(TroupePath p, char **ret) {
        switch (p) {
        case TROUPE_PATH_RUNTIME:
                return base_dir("TROUPE_RUNTIME_DIR", "XDG_RUNTIME_DIR", NULL, ret);
        case TROUPE_PATH_STATE:
                return base_dir("TROUPE_STATE_DIR", "XDG_STATE_HOME", ".local/state", ret);
        case TROUPE_PATH_DATA:
                return base_dir("TROUPE_DATA_DIR", "XDG_DATA_HOME", ".local/share", ret);
        case TROUPE_PATH_CONFIG:
                return base_dir("TROUPE_CONFIG_DIR", "XDG_CONFIG_HOME", ".config", ret);
        case TROUPE_PATH_WORKSPACES:
                return sub_dir(TROUPE_PATH_DATA, "TROUPE_WORKSPACES_DIR", "workspaces", ret);
        case TROUPE_PATH_LOGS:
                return sub_dir(TROUPE_PATH_STATE, NULL, "logs", ret);
        case TROUPE_PATH_AGENT_SOCKET:
                return sub_dir(TROUPE_PATH_RUNTIME, NULL, "agent.sock", ret);
        case TROUPE_PATH_LIBEXEC:
                return libexec_dir(ret);
        case _TROUPE_PATH_MAX:
        case _TROUPE_PATH_INVALID:
                break;
        }
        return -EINVAL;
}

int troupe_path_get(TroupePath p, char **ret) {
        _cleanup_free_ char *path = NULL;
        size_t max = PATH_MAX;
        int r;

        assert_return(ret, -EINVAL);

        r = troupe_path_compute(p, &path);
        if (r < 0)
                return r;
        /* A socket path that does not fit sun_path could never be bound or connected to. */
        if (p == TROUPE_PATH_AGENT_SOCKET)
                max = sizeof(((struct sockaddr_un *) NULL)->sun_path);
        if (strlen(path) >= max)
                return -ENAMETOOLONG;

        *ret = TAKE_PTR(path);
        return 0;
}

/* Opens a directory entry that must be a real directory: a symlink is -ELOOP, anything else -ENOTDIR. */
static int open_dir_nofollow(int dir_fd, const char *name) {
        struct stat st;
        int fd;

        fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0)
                return fd;
        if (errno != ENOTDIR && errno != ELOOP)
                return -errno;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
}

/* One component of the walk; returns an O_PATH fd of the directory. */
static int mkdir_p_step(int dir_fd, const char *name, mode_t mode, bool last, bool *created) {
        int fd;

        fd = open_dir_nofollow(dir_fd, name);
        if (fd == -ENOENT) {
                if (mkdirat(dir_fd, name, mode) >= 0)
                        *created = true;
                else if (errno != EEXIST)
                        return -errno;
                /* Whoever made it in the end, it must be a real directory: no following here. */
                return open_dir_nofollow(dir_fd, name);
        }
        if (fd != -ELOOP || *created || last)
                return fd;

        /* A symlink in the part of the path that existed before us: the user's own layout. */
        fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd >= 0 ? fd : -errno;
}

int mkdir_p_secure(const char *path, mode_t mode, int *ret_fd) {
        _cleanup_close_ int dir_fd = -EBADF;
        bool created = false;
        struct stat st;

        assert_return(path, -EINVAL);
        assert_return(path[0] == '/', -EINVAL);
        if (strnlen(path, PATH_MAX) >= PATH_MAX)
                return -ENAMETOOLONG;

        dir_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;

        for (const char *p = path + strspn(path, "/"); *p; p += strspn(p, "/")) {
                char name[NAME_MAX + 1];
                size_t n = strcspn(p, "/");
                int fd;

                if (n > NAME_MAX)
                        return -ENAMETOOLONG;
                memcpy(name, p, n);
                name[n] = 0;
                p += n;
                /* The paths handed here are computed, so "." and ".." can only be mistakes. */
                if (streq(name, ".") || streq(name, ".."))
                        return -EINVAL;

                fd = mkdir_p_step(dir_fd, name, mode, p[strspn(p, "/")] == 0, &created);
                if (fd < 0)
                        return fd;
                safe_close(dir_fd);
                dir_fd = fd;
        }

        if (fstat(dir_fd, &st) < 0)
                return -errno;
        if (st.st_uid != geteuid())
                return -EPERM;

        if (ret_fd) {
                int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                *ret_fd = fd;
        }
        return 0;
}

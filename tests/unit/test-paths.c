/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "paths/path-resolve.h"
#include "paths/paths.h"

static const char *const all_vars[] = {
        "TROUPE_RUNTIME_DIR", "TROUPE_STATE_DIR",  "TROUPE_DATA_DIR", "TROUPE_WORKSPACES_DIR",
        "TROUPE_CONFIG_DIR",  "XDG_RUNTIME_DIR",   "XDG_STATE_HOME",  "XDG_DATA_HOME",
        "XDG_CONFIG_HOME",    "HOME",
};

static void env_clear(void) {
        for (size_t i = 0; i < ELEMENTSOF(all_vars); i++)
                ck_assert_int_eq(unsetenv(all_vars[i]), 0);
}

static void setenv_checked(const char *name, const char *value) {
        ck_assert_int_eq(setenv(name, value, 1), 0);
}

/* Asserts troupe_path_get(p) returns `expected` (a path) or fails with `error`. */
static void check_path(TroupePath p, const char *expected, int error) {
        _cleanup_free_ char *s = NULL;
        int r = troupe_path_get(p, &s);

        if (expected) {
                ck_assert_msg(r == 0, "%s: got %d, expected %s", troupe_path_to_string(p), r, expected);
                ck_assert_str_eq(s, expected);
        } else {
                ck_assert_msg(r == error, "%s: got %d (%s), expected %d", troupe_path_to_string(p), r,
                              strna(s), error);
                ck_assert_ptr_null(s);
        }
}

START_TEST(test_runtime_dir) {
        env_clear();
        setenv_checked("HOME", "/home/u");
        /* No runtime dir is ever guessed from $HOME or /tmp. */
        check_path(TROUPE_PATH_RUNTIME, NULL, -ENXIO);
        check_path(TROUPE_PATH_AGENT_SOCKET, NULL, -ENXIO);
        setenv_checked("XDG_RUNTIME_DIR", "");
        check_path(TROUPE_PATH_RUNTIME, NULL, -ENXIO);

        setenv_checked("XDG_RUNTIME_DIR", "/run/user/1000");
        check_path(TROUPE_PATH_RUNTIME, "/run/user/1000/troupe", 0);
        check_path(TROUPE_PATH_AGENT_SOCKET, "/run/user/1000/troupe/agent.sock", 0);
        setenv_checked("XDG_RUNTIME_DIR", "/run/user/1000//");
        check_path(TROUPE_PATH_RUNTIME, "/run/user/1000/troupe", 0);
        setenv_checked("XDG_RUNTIME_DIR", "/");
        check_path(TROUPE_PATH_RUNTIME, "/troupe", 0);
        setenv_checked("XDG_RUNTIME_DIR", "run/user/1000");
        check_path(TROUPE_PATH_RUNTIME, NULL, -EINVAL);

        setenv_checked("XDG_RUNTIME_DIR", "/run/user/1000");
        setenv_checked("TROUPE_RUNTIME_DIR", "/tmp/t/");
        check_path(TROUPE_PATH_RUNTIME, "/tmp/t", 0);
        check_path(TROUPE_PATH_AGENT_SOCKET, "/tmp/t/agent.sock", 0);
        setenv_checked("TROUPE_RUNTIME_DIR", "tmp/t");
        check_path(TROUPE_PATH_RUNTIME, NULL, -EINVAL);
        check_path(TROUPE_PATH_AGENT_SOCKET, NULL, -EINVAL);
        setenv_checked("TROUPE_RUNTIME_DIR", "");
        check_path(TROUPE_PATH_RUNTIME, "/run/user/1000/troupe", 0);
}
END_TEST

START_TEST(test_agent_socket_too_long) {
        char dir[200];

        env_clear();
        /* 96 + strlen("/agent.sock") = 107 bytes plus NUL fill the 108 of sun_path; 97 do not. */
        memset(dir, 'x', sizeof(dir));
        dir[0] = '/';
        dir[97] = 0;
        setenv_checked("TROUPE_RUNTIME_DIR", dir);
        check_path(TROUPE_PATH_AGENT_SOCKET, NULL, -ENAMETOOLONG);
        dir[96] = 0;
        setenv_checked("TROUPE_RUNTIME_DIR", dir);
        {
                _cleanup_free_ char *s = NULL;
                ck_assert_int_eq(troupe_path_get(TROUPE_PATH_AGENT_SOCKET, &s), 0);
                ck_assert_int_eq(strlen(s), 107);
                /* The directory itself may be longer: only the socket has the small limit. */
                dir[97] = 'x';
                dir[150] = 0;
                setenv_checked("TROUPE_RUNTIME_DIR", dir);
                check_path(TROUPE_PATH_RUNTIME, dir, 0);
        }
}
END_TEST

static const struct {
        TroupePath path;
        const char *override, *xdg, *home_default;
} home_bases[] = {
        { TROUPE_PATH_STATE, "TROUPE_STATE_DIR", "XDG_STATE_HOME", "/home/u/.local/state/troupe" },
        { TROUPE_PATH_DATA, "TROUPE_DATA_DIR", "XDG_DATA_HOME", "/home/u/.local/share/troupe" },
        { TROUPE_PATH_CONFIG, "TROUPE_CONFIG_DIR", "XDG_CONFIG_HOME", "/home/u/.config/troupe" },
};

START_TEST(test_home_based_dirs) {
        TroupePath p = home_bases[_i].path;

        env_clear();
        check_path(p, NULL, -ENXIO);
        setenv_checked("HOME", "home/u");
        check_path(p, NULL, -EINVAL);
        setenv_checked("HOME", "/home/u/");
        check_path(p, home_bases[_i].home_default, 0);

        setenv_checked(home_bases[_i].xdg, "/x/y");
        check_path(p, "/x/y/troupe", 0);
        setenv_checked(home_bases[_i].xdg, "x/y");
        check_path(p, NULL, -EINVAL);
        setenv_checked(home_bases[_i].xdg, "");
        check_path(p, home_bases[_i].home_default, 0);

        setenv_checked(home_bases[_i].override, "/o/p");
        check_path(p, "/o/p", 0);
        setenv_checked(home_bases[_i].override, "./o/p");
        check_path(p, NULL, -EINVAL);
        unsetenv("HOME");
        setenv_checked(home_bases[_i].override, "/o/p");
        check_path(p, "/o/p", 0);
}
END_TEST

START_TEST(test_derived_dirs) {
        env_clear();
        setenv_checked("HOME", "/home/u");
        check_path(TROUPE_PATH_WORKSPACES, "/home/u/.local/share/troupe/workspaces", 0);
        check_path(TROUPE_PATH_LOGS, "/home/u/.local/state/troupe/logs", 0);

        setenv_checked("XDG_DATA_HOME", "/d");
        setenv_checked("XDG_STATE_HOME", "/s");
        check_path(TROUPE_PATH_WORKSPACES, "/d/troupe/workspaces", 0);
        check_path(TROUPE_PATH_LOGS, "/s/troupe/logs", 0);

        setenv_checked("TROUPE_DATA_DIR", "/td");
        setenv_checked("TROUPE_STATE_DIR", "/ts");
        check_path(TROUPE_PATH_WORKSPACES, "/td/workspaces", 0);
        check_path(TROUPE_PATH_LOGS, "/ts/logs", 0);

        setenv_checked("TROUPE_WORKSPACES_DIR", "/w");
        check_path(TROUPE_PATH_WORKSPACES, "/w", 0);
        setenv_checked("TROUPE_WORKSPACES_DIR", "w");
        check_path(TROUPE_PATH_WORKSPACES, NULL, -EINVAL);

        /* A broken base breaks what is derived from it. */
        setenv_checked("TROUPE_DATA_DIR", "td");
        unsetenv("TROUPE_WORKSPACES_DIR");
        check_path(TROUPE_PATH_WORKSPACES, NULL, -EINVAL);
}
END_TEST

START_TEST(test_libexec_dir) {
        env_clear();
        unsetenv("TROUPE_LIBEXECDIR");
        check_path(TROUPE_PATH_LIBEXEC, TROUPE_LIBEXECDIR, 0);
        setenv_checked("TROUPE_LIBEXECDIR", "/build/tree/");
        check_path(TROUPE_PATH_LIBEXEC, "/build/tree", 0);
        setenv_checked("TROUPE_LIBEXECDIR", "build");
        check_path(TROUPE_PATH_LIBEXEC, NULL, -EINVAL);
        setenv_checked("TROUPE_LIBEXECDIR", "");
        check_path(TROUPE_PATH_LIBEXEC, TROUPE_LIBEXECDIR, 0);
        unsetenv("TROUPE_LIBEXECDIR");
}
END_TEST

START_TEST(test_path_names) {
        _cleanup_free_ char *s = NULL;

        for (TroupePath p = 0; p < _TROUPE_PATH_MAX; p++)
                ck_assert_int_eq(troupe_path_from_string(troupe_path_to_string(p)), p);
        ck_assert_str_eq(troupe_path_to_string(TROUPE_PATH_AGENT_SOCKET), "agent-socket");
        ck_assert_int_eq(troupe_path_from_string("home"), -EINVAL);
        ck_assert_int_eq(troupe_path_get(_TROUPE_PATH_MAX, &s), -EINVAL);
        ck_assert_int_eq(troupe_path_get((TroupePath) -1, &s), -EINVAL);
        ck_assert_ptr_null(s);
}
END_TEST

/* A temporary root shared by the tests below:
 *   file (contains "hello"), dir/, dir/nested/, dir/nested/deep, out -> /etc, up -> .., in -> file,
 *   dirlink -> dir, loop -> loop, dangling -> nonexistent */
static char *root;
static int root_fd = -EBADF;

static void root_setup(void) {
        _cleanup_free_ char *tmp = make_tmpdir();
        _cleanup_close_ int fd = -EBADF;

        /* The real path, since the fds' /proc links are compared with it. */
        ck_assert_ptr_nonnull(tmp);
        root = realpath(tmp, NULL);
        ck_assert_ptr_nonnull(root);
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(root_fd, 0);

        fd = openat(root_fd, "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(loop_write(fd, "hello", 5), 0);
        ck_assert_int_eq(mkdirat(root_fd, "dir", 0755), 0);
        ck_assert_int_eq(mkdirat(root_fd, "dir/nested", 0755), 0);
        safe_close(fd);
        fd = openat(root_fd, "dir/nested/deep", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(symlinkat("/etc", root_fd, "out"), 0);
        ck_assert_int_eq(symlinkat("..", root_fd, "up"), 0);
        ck_assert_int_eq(symlinkat("file", root_fd, "in"), 0);
        ck_assert_int_eq(symlinkat("dir", root_fd, "dirlink"), 0);
        ck_assert_int_eq(symlinkat("loop", root_fd, "loop"), 0);
        ck_assert_int_eq(symlinkat("nonexistent", root_fd, "dangling"), 0);
        umask(022);
}

static void root_teardown(void) {
        root_fd = safe_close(root_fd);
        rm_rf_tmpdir(root);
        root = mfree(root);
}

static int open_str(const char *path, int flags) {
        return path_open_beneath(root_fd, path, strlen(path), flags);
}

/* The fd must name something strictly beneath the root and be close-on-exec. */
static void check_beneath(int fd, const char *expected_rel) {
        char proc[64], target[PATH_MAX];
        _cleanup_free_ char *expected = strjoin(root, "/", expected_rel);
        ssize_t n;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        n = readlink(proc, target, sizeof(target) - 1);
        ck_assert_int_gt(n, 0);
        target[n] = 0;
        ck_assert_str_eq(target, expected);
}

START_TEST(test_open_normal) {
        _cleanup_close_ int fd = -EBADF, dfd = -EBADF, pfd = -EBADF;
        char buf[16] = {};

        fd = open_str("file", O_RDONLY);
        check_beneath(fd, "file");
        ck_assert_int_eq(loop_read(fd, buf, sizeof(buf) - 1), 5);
        ck_assert_str_eq(buf, "hello");

        dfd = open_str("dir/nested", O_RDONLY | O_DIRECTORY);
        check_beneath(dfd, "dir/nested");
        pfd = open_str("dir/nested/deep", O_PATH);
        check_beneath(pfd, "dir/nested/deep");

        ck_assert_int_eq(open_str("file", O_RDONLY | O_DIRECTORY), -ENOTDIR);
        ck_assert_int_eq(open_str("missing", O_RDONLY), -ENOENT);
        ck_assert_int_eq(open_str("file/x", O_RDONLY), -ENOTDIR);
        /* Valid UTF-8 names are fine; this one simply does not exist. */
        ck_assert_int_eq(open_str("h\xc3\xa9llo", O_RDONLY), -ENOENT);
}
END_TEST

START_TEST(test_open_bad_shape) {
        static const char *const bad[] = {
                "..", "../file", "dir/..", "dir/../file", "a/../../b", ".", "./file", "dir/./nested",
                "/etc/passwd", "/", "dir//nested", "dir/", "file/", "a\nb", "a\x1b[31m", "\x7f",
                "\302\23331m", "\xff", "\xc0\xaf", "caf\xc3",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(open_str(bad[i], O_RDONLY) == -EINVAL, "'%s' not refused", bad[i]);
        ck_assert_int_eq(path_open_beneath(root_fd, "", 0, O_RDONLY), -EINVAL);
        ck_assert_int_eq(path_open_beneath(root_fd, NULL, 3, O_RDONLY), -EINVAL);
        /* The NUL would otherwise cut "file\0/../../etc" down to "file". */
        ck_assert_int_eq(path_open_beneath(root_fd, "file\0/../x", 10, O_RDONLY), -EINVAL);
        ck_assert_int_eq(path_open_beneath(root_fd, "file\0", 5, O_RDONLY), -EINVAL);
        /* Only len bytes count: the same buffer, cut before the NUL, is a fine path. */
        {
                _cleanup_close_ int fd = path_open_beneath(root_fd, "file\0/../x", 4, O_RDONLY);
                check_beneath(fd, "file");
        }
        ck_assert_int_eq(path_validate_relative("dir/nested", 10), 0);
        ck_assert_int_eq(path_validate_relative("..x/.y/z..", 10), 0);
}
END_TEST

START_TEST(test_open_too_long) {
        char buf[PATH_MAX + 10];

        memset(buf, 'a', sizeof(buf));
        /* NAME_MAX is the longest component; one more byte is refused before the kernel sees it. */
        ck_assert_int_eq(path_open_beneath(root_fd, buf, NAME_MAX, O_RDONLY), -ENOENT);
        ck_assert_int_eq(path_open_beneath(root_fd, buf, NAME_MAX + 1, O_RDONLY), -ENAMETOOLONG);
        memcpy(buf + 5, "/", 1);
        ck_assert_int_eq(path_open_beneath(root_fd, buf, NAME_MAX + 7, O_RDONLY), -ENAMETOOLONG);

        /* Total length: components of 100 bytes, PATH_MAX - 1 in all is the longest. */
        memset(buf, 'a', sizeof(buf));
        for (size_t i = 100; i < sizeof(buf); i += 101)
                buf[i] = '/';
        ck_assert_int_eq(path_validate_relative(buf, PATH_MAX - 1), 0);
        ck_assert_int_eq(path_open_beneath(root_fd, buf, PATH_MAX - 1, O_RDONLY), -ENOENT);
        ck_assert_int_eq(path_open_beneath(root_fd, buf, PATH_MAX, O_RDONLY), -ENAMETOOLONG);
        ck_assert_int_eq(path_open_beneath(root_fd, buf, 5000, O_RDONLY), -ENAMETOOLONG);
}
END_TEST

START_TEST(test_open_symlinks) {
        /* RESOLVE_NO_SYMLINKS: every symlink is refused, out of the root or not. */
        static const char *const links[] = {
                "out", "out/passwd", "up", "up/etc/passwd", "in", "dirlink", "dirlink/nested/deep",
                "loop", "loop/x", "dangling",
        };

        _cleanup_close_ int fd = -EBADF;

        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                ck_assert_msg(open_str(links[i], O_RDONLY) == -ELOOP, "'%s' not refused", links[i]);
                ck_assert_msg(open_str(links[i], O_PATH) == -ELOOP, "'%s' not refused (O_PATH)", links[i]);
                ck_assert_msg(open_str(links[i], O_RDONLY | O_NOFOLLOW) == -ELOOP,
                              "'%s' not refused (O_NOFOLLOW)", links[i]);
        }
        /* As with open(2), O_PATH|O_NOFOLLOW names the trailing symlink itself, not its target. */
        fd = open_str("out", O_PATH | O_NOFOLLOW);
        check_beneath(fd, "out");
        ck_assert_int_eq(open_str("out/passwd", O_PATH | O_NOFOLLOW), -ELOOP);
}
END_TEST

START_TEST(test_open_swapped_for_symlink) {
        _cleanup_close_ int fd = -EBADF;

        fd = open_str("dir/nested/deep", O_RDONLY);
        check_beneath(fd, "dir/nested/deep");
        fd = safe_close(fd);

        /* The name was fine when checked; what counts is what the kernel finds when it opens. */
        ck_assert_int_eq(path_validate_relative("dir/nested/deep", 15), 0);
        ck_assert_int_eq(unlinkat(root_fd, "dir/nested/deep", 0), 0);
        ck_assert_int_eq(symlinkat("/etc/passwd", root_fd, "dir/nested/deep"), 0);
        ck_assert_int_eq(open_str("dir/nested/deep", O_RDONLY), -ELOOP);

        /* Same for a parent directory replaced by a symlink to an outside directory. */
        ck_assert_int_eq(renameat(root_fd, "dir", root_fd, "dir.old"), 0);
        ck_assert_int_eq(symlinkat("/etc", root_fd, "dir"), 0);
        ck_assert_int_eq(open_str("dir/passwd", O_RDONLY), -ELOOP);
}
END_TEST

START_TEST(test_open_misuse) {
        _cleanup_close_ int file_fd = -EBADF;

        ck_assert_int_eq(open_str("file", O_RDONLY | O_CREAT), -EINVAL);
        ck_assert_int_eq(open_str("dir", O_TMPFILE | O_RDWR), -EINVAL);
        ck_assert_int_eq(path_open_beneath(-EBADF, "file", 4, O_RDONLY), -EBADF);
        ck_assert_int_eq(path_open_beneath(AT_FDCWD, "file", 4, O_RDONLY), -EBADF);
        file_fd = open_str("file", O_PATH);
        ck_assert_int_ge(file_fd, 0);
        ck_assert_int_eq(path_open_beneath(file_fd, "x", 1, O_RDONLY), -ENOTDIR);
}
END_TEST

START_TEST(test_create) {
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF;
        struct stat st;

        fd = path_create_beneath(root_fd, "new", 3, O_WRONLY, 0600);
        check_beneath(fd, "new");
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(path_create_beneath(root_fd, "new", 3, O_WRONLY, 0600), -EEXIST);

        fd2 = path_create_beneath(root_fd, "dir/nested/new2", 15, O_RDWR, 0640);
        check_beneath(fd2, "dir/nested/new2");

        /* O_EXCL never follows the last component, so even a dangling symlink is in the way. */
        ck_assert_int_eq(path_create_beneath(root_fd, "in", 2, O_WRONLY, 0600), -EEXIST);
        ck_assert_int_eq(path_create_beneath(root_fd, "dangling", 8, O_WRONLY, 0600), -EEXIST);
        ck_assert_int_eq(faccessat(root_fd, "nonexistent", F_OK, 0), -1);
        ck_assert_int_eq(path_create_beneath(root_fd, "dirlink/x", 9, O_WRONLY, 0600), -ELOOP);
        ck_assert_int_eq(path_create_beneath(root_fd, "out/x", 5, O_WRONLY, 0600), -ELOOP);
        ck_assert_int_eq(path_create_beneath(root_fd, "nodir/x", 7, O_WRONLY, 0600), -ENOENT);
        ck_assert_int_eq(path_create_beneath(root_fd, "../x", 4, O_WRONLY, 0600), -EINVAL);
        ck_assert_int_eq(path_create_beneath(root_fd, "/tmp/x", 6, O_WRONLY, 0600), -EINVAL);
        ck_assert_int_eq(path_create_beneath(root_fd, "x", 1, O_WRONLY, 010000), -EINVAL);
}
END_TEST

START_TEST(test_mkdir) {
        _cleanup_close_ int fd = -EBADF, fd2 = -EBADF, fd3 = -EBADF;
        struct stat st;

        fd = path_mkdir_beneath(root_fd, "billing", 7, 0700, 0);
        check_beneath(fd, "billing");
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        /* The fd is usable as a root for what lives inside. */
        fd2 = path_create_beneath(fd, "README", 6, O_WRONLY, 0600);
        ck_assert_int_ge(fd2, 0);
        fd2 = safe_close(fd2);

        ck_assert_int_eq(path_mkdir_beneath(root_fd, "billing", 7, 0700, 0), -EEXIST);
        fd2 = path_mkdir_beneath(root_fd, "billing", 7, 0700, PATH_MKDIR_EXIST_OK);
        check_beneath(fd2, "billing");

        fd3 = path_mkdir_beneath(root_fd, "dir/nested/sub", 14, 0700, 0);
        check_beneath(fd3, "dir/nested/sub");
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "nodir/sub", 9, 0700, 0), -ENOENT);
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "file", 4, 0700, PATH_MKDIR_EXIST_OK), -ENOTDIR);
}
END_TEST

START_TEST(test_mkdir_hostile) {
        static const char *const bad[] = { "..", "../x", "x/..", "/abs", "a/../b", ".", "a/", "a//b" };
        char buf[NAME_MAX + 2];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ck_assert_msg(path_mkdir_beneath(root_fd, bad[i], strlen(bad[i]), 0700, 0) == -EINVAL,
                              "'%s' not refused", bad[i]);
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "a\0b", 3, 0700, 0), -EINVAL);
        memset(buf, 'n', sizeof(buf));
        ck_assert_int_eq(path_mkdir_beneath(root_fd, buf, NAME_MAX + 1, 0700, 0), -ENAMETOOLONG);

        /* Through a symlinked parent (inside or outside the root): nothing is created anywhere. */
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "dirlink/new", 11, 0700, 0), -ELOOP);
        ck_assert_int_eq(faccessat(root_fd, "dir/new", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "up/escaped", 10, 0700, 0), -ELOOP);
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "out/escaped", 11, 0700, 0), -ELOOP);
        ck_assert_int_eq(access("/etc/escaped", F_OK), -1);

        /* A symlink in the directory's own place is never accepted as the directory. */
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "dirlink", 7, 0700, 0), -EEXIST);
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "dirlink", 7, 0700, PATH_MKDIR_EXIST_OK), -ELOOP);
        ck_assert_int_eq(path_mkdir_beneath(root_fd, "out", 3, 0700, PATH_MKDIR_EXIST_OK), -ELOOP);
}
END_TEST

START_TEST(test_mkdir_p_secure) {
        _cleanup_free_ char *target = strjoin(root, "/a/b/c"), *viafile = strjoin(root, "/file/x"),
                            *vialink = strjoin(root, "/dirlink/made"), *dotdot = strjoin(root, "/a/../b"),
                            *finallink = strjoin(root, "/dirlink");
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        ck_assert_int_eq(mkdir_p_secure(target, 0700, &fd), 0);
        check_beneath(fd, "a/b/c");
        ck_assert_int_eq(fstatat(root_fd, "a", &st, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        ck_assert_int_eq(fstatat(root_fd, "a/b/c", &st, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        /* Idempotent, with or without an fd. */
        ck_assert_int_eq(mkdir_p_secure(target, 0700, NULL), 0);

        ck_assert_int_eq(mkdir_p_secure(viafile, 0700, NULL), -ENOTDIR);
        ck_assert_int_eq(mkdir_p_secure(finallink, 0700, NULL), -ELOOP);
        ck_assert_int_eq(mkdir_p_secure(dotdot, 0700, NULL), -EINVAL);
        ck_assert_int_eq(mkdir_p_secure("relative/dir", 0700, NULL), -EINVAL);

        /* A symlink that already existed above the directory is the user's layout and followed. */
        ck_assert_int_eq(mkdir_p_secure(vialink, 0700, NULL), 0);
        ck_assert_int_eq(fstatat(root_fd, "dir/made", &st, AT_SYMLINK_NOFOLLOW), 0);
        ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

START_TEST(test_mkdir_p_foreign_owner) {
        _cleanup_free_ char *target = strjoin(root, "/foreign");

        if (geteuid() != 0)
                return; /* chown() to another user needs root; nothing to check otherwise */
        ck_assert_int_eq(mkdirat(root_fd, "foreign", 0700), 0);
        ck_assert_int_eq(fchownat(root_fd, "foreign", 65534, 65534, 0), 0);
        ck_assert_int_eq(mkdir_p_secure(target, 0700, NULL), -EPERM);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("paths");
        TCase *tc = tcase_create("xdg");

        tcase_add_test(tc, test_runtime_dir);
        tcase_add_test(tc, test_agent_socket_too_long);
        tcase_add_loop_test(tc, test_home_based_dirs, 0, ELEMENTSOF(home_bases));
        tcase_add_test(tc, test_derived_dirs);
        tcase_add_test(tc, test_libexec_dir);
        tcase_add_test(tc, test_path_names);
        suite_add_tcase(s, tc);

        tc = tcase_create("resolve");
        tcase_add_checked_fixture(tc, root_setup, root_teardown);
        tcase_add_test(tc, test_open_normal);
        tcase_add_test(tc, test_open_bad_shape);
        tcase_add_test(tc, test_open_too_long);
        tcase_add_test(tc, test_open_symlinks);
        tcase_add_test(tc, test_open_swapped_for_symlink);
        tcase_add_test(tc, test_open_misuse);
        tcase_add_test(tc, test_create);
        tcase_add_test(tc, test_mkdir);
        tcase_add_test(tc, test_mkdir_hostile);
        tcase_add_test(tc, test_mkdir_p_secure);
        tcase_add_test(tc, test_mkdir_p_foreign_owner);
        suite_add_tcase(s, tc);
        return s;
}

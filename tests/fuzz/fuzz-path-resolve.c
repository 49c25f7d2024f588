/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property: whatever bytes arrive as a path, path_open_beneath(), path_create_beneath() and
 * path_mkdir_beneath() give either an error or an fd whose real path is strictly beneath the root.
 * The root holds a file, nested directories and symlinks pointing out, up, inside and in a loop;
 * anything an input creates is removed again so every input meets the same tree. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "fuzz.h"
#include "paths/path-resolve.h"

static const struct {
        const char *name, *target;
} links[] = {
        { "out", "/etc" },           /* out of the root, absolute */
        { "passwd", "/etc/passwd" },
        { "up", ".." },              /* out of the root, relative */
        { "dir/up3", "../../.." },
        { "in", "file" },            /* inside the root: refused all the same */
        { "dirlink", "dir" },
        { "loop", "loop" },
        { "loop-a", "loop-b" },
        { "loop-b", "loop-a" },
        { "magic", "/proc/self/root" },
};

static char *root;      /* real path of the temporary root */
static int root_fd = -EBADF;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void cleanup_root(void) {
        root_fd = safe_close(root_fd);
        if (root)
                (void) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        root = mfree(root);
}

static void check_detail(bool b, const char *what, const char *detail) {
        if (b)
                return;
        fprintf(stderr, "fuzz-path-resolve: %s%s%s\n", what, detail ? ": " : "", strempty(detail));
        /* Not even a failed run leaves the tree behind; the message above is the evidence. */
        cleanup_root();
        abort();
}

static void check(bool b, const char *what) {
        check_detail(b, what, NULL);
}

static void setup_root(void) {
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *t = strjoin(isempty(tmp) ? "/tmp" : tmp, "/troupe-fuzz-XXXXXX");
        int fd;

        check(t && mkdtemp(t), "cannot make the temporary root");
        root = realpath(t, NULL);
        check(root, "cannot resolve the temporary root");
        check(atexit(cleanup_root) == 0, "atexit failed");
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        check(root_fd >= 0, "cannot open the temporary root");

        fd = openat(root_fd, "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        check(fd >= 0, "cannot create file");
        safe_close(fd);
        check(mkdirat(root_fd, "dir", 0700) >= 0 && mkdirat(root_fd, "dir/sub", 0700) >= 0, "mkdir failed");
        fd = openat(root_fd, "dir/sub/deep", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        check(fd >= 0, "cannot create dir/sub/deep");
        safe_close(fd);
        for (size_t i = 0; i < ELEMENTSOF(links); i++)
                check_detail(symlinkat(links[i].target, root_fd, links[i].name) >= 0, "symlink failed",
                             links[i].name);
}

/* Stores the real path of fd in ret_target after checking that it lies strictly beneath the root. */
static void check_beneath(int fd, char *ret_target) {
        char proc[64];
        ssize_t n;
        const char *rest;

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        n = readlink(proc, ret_target, PATH_MAX - 1);
        check(n > 0, "readlink of the result failed");
        ret_target[n] = 0;
        rest = startswith(ret_target, root);
        check_detail(rest && rest[0] == '/' && rest[1] != 0, "resolved outside the root", ret_target);
        check((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "fd without O_CLOEXEC");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *path = (const char *) data;
        char target[PATH_MAX];
        int fd;

        if (!root)
                setup_root();

        fd = path_open_beneath(root_fd, path, size, O_PATH);
        if (fd >= 0) {
                check_beneath(fd, target);
                safe_close(fd);
        }

        /* O_NONBLOCK: the tree has no FIFOs, but opening must never hang a fuzzer. */
        fd = path_open_beneath(root_fd, path, size, O_RDONLY | O_NONBLOCK);
        if (fd >= 0) {
                check_beneath(fd, target);
                safe_close(fd);
        }

        fd = path_create_beneath(root_fd, path, size, O_WRONLY, 0600);
        if (fd >= 0) {
                check_beneath(fd, target);
                safe_close(fd);
                check(unlink(target) >= 0, "cannot remove a created file");
        }

        fd = path_mkdir_beneath(root_fd, path, size, 0700, 0);
        if (fd >= 0) {
                check_beneath(fd, target);
                safe_close(fd);
                check(rmdir(target) >= 0, "cannot remove a created directory");
        }

        /* An existing directory given back with EXIST_OK is held to the same property. */
        fd = path_mkdir_beneath(root_fd, path, size, 0700, PATH_MKDIR_EXIST_OK);
        if (fd >= 0) {
                check_beneath(fd, target);
                safe_close(fd);
                (void) rmdir(target); /* only succeeds for one this call made */
        }
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "confinement.h"
#include "paths/path-resolve.h"
#include "workspace.h"

void spawn_workspace_done(SpawnWorkspace *w) {
        w->cwd_fd = safe_close(w->cwd_fd);
        w->private_dir = mfree(w->private_dir);
}

/* The length of an absolute path without its trailing slashes ("/" stays "/"). */
static size_t path_length_trimmed(const char *path) {
        size_t n = strlen(path);

        while (n > 1 && path[n - 1] == '/')
                n--;
        return n;
}

static int open_dir(const char *key, const char *path, sd_bus_error *error) {
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Cannot use '%s' as the %s: %s", path,
                                      key, strerror(errno));
        return fd;
}

/* `cwd` as a path relative to the workspace, or NULL when it is outside. */
static const char *cwd_relative(const char *workspace, const char *cwd) {
        size_t n = path_length_trimmed(workspace);

        if (strncmp(cwd, workspace, n) != 0)
                return NULL;
        if (n == 1) /* the workspace is "/" */
                return cwd + 1;
        if (cwd[n] == 0)
                return cwd + n;
        return cwd[n] == '/' ? cwd + n + 1 : NULL;
}

static int open_cwd_beneath(const SpawnOptions *o, int ws_fd, sd_bus_error *error) {
        const char *rel = cwd_relative(o->workspace, o->cwd);
        size_t len;
        int fd;

        if (!rel)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'cwd' must be inside the workspace '%s', got '%s'.",
                                      o->workspace, o->cwd);
        len = path_length_trimmed(rel);
        if (len == 0 || (len == 1 && rel[0] == '/'))
                return RET_NERRNO(fcntl(ws_fd, F_DUPFD_CLOEXEC, 3));
        if (path_validate_relative(rel, len) < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'cwd' '%s' is not a plain path beneath the workspace (no '.', "
                                      "'..' or empty components).",
                                      o->cwd);
        fd = path_open_beneath(ws_fd, rel, len, O_PATH | O_DIRECTORY);
        if (fd == -ELOOP)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'cwd' '%s' goes through a symlink; it must be a directory "
                                      "beneath the workspace reached without one.",
                                      o->cwd);
        if (fd < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'cwd' '%s' cannot be opened beneath the workspace: %s", o->cwd,
                                      strerror(-fd));
        return fd;
}

static int make_dir(int parent_fd, const char *name, const char *where, sd_bus_error *error) {
        int fd = path_mkdir_beneath(parent_fd, name, strlen(name), 0700, PATH_MKDIR_EXIST_OK);

        if (fd == -ELOOP || fd == -ENOTDIR)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Cannot make the private directory %s/%s: something that is not a "
                                      "directory is in the way.",
                                      where, name);
        if (fd < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Cannot make the private directory %s/%s: %s", where, name,
                                      strerror(-fd));
        return fd;
}

static int make_private_dirs(const SpawnOptions *o, int ws_fd, sd_bus_error *error, char **ret) {
        _cleanup_close_ int dir_fd = -EBADF, home_fd = -EBADF, tmp_fd = -EBADF;
        _cleanup_free_ char *dir = NULL;

        if (asprintf_safe(&dir, "%.*s/%s", (int) path_length_trimmed(o->workspace), o->workspace,
                          CONFINEMENT_PRIVATE_DIR) < 0)
                return -ENOMEM;
        dir_fd = make_dir(ws_fd, CONFINEMENT_PRIVATE_DIR, o->workspace, error);
        if (dir_fd < 0)
                return dir_fd;
        home_fd = make_dir(dir_fd, CONFINEMENT_PRIVATE_HOME, dir, error);
        if (home_fd < 0)
                return home_fd;
        tmp_fd = make_dir(dir_fd, CONFINEMENT_PRIVATE_TMP, dir, error);
        if (tmp_fd < 0)
                return tmp_fd;
        *ret = TAKE_PTR(dir);
        return 0;
}

int spawn_workspace_open(const SpawnOptions *o, sd_bus_error *error, SpawnWorkspace *ret) {
        _cleanup_close_ int ws_fd = -EBADF, cwd_fd = -EBADF;
        _cleanup_free_ char *private_dir = NULL;
        int r;

        if (!o->workspace) {
                if (o->cwd) {
                        cwd_fd = open_dir("working directory", o->cwd, error);
                        if (cwd_fd < 0)
                                return cwd_fd;
                }
                *ret = (SpawnWorkspace) {.cwd_fd = TAKE_FD(cwd_fd)};
                return 0;
        }

        ws_fd = open_dir("workspace", o->workspace, error);
        if (ws_fd < 0)
                return ws_fd;
        if (confinement_has_private_dirs(o)) {
                r = make_private_dirs(o, ws_fd, error, &private_dir);
                if (r < 0)
                        return r;
        }
        if (o->cwd) {
                cwd_fd = open_cwd_beneath(o, ws_fd, error);
                if (cwd_fd < 0)
                        return cwd_fd;
        } else
                cwd_fd = TAKE_FD(ws_fd);

        *ret = (SpawnWorkspace) {.cwd_fd = TAKE_FD(cwd_fd), .private_dir = TAKE_PTR(private_dir)};
        return 0;
}

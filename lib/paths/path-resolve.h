/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* path-resolve.h: validating relative paths from outside and opening them beneath a root with openat2(). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "basic/macro.h"

/* Checks that `path` (len bytes, not necessarily NUL-terminated) is a relative path in canonical
 * form, the only shape troupe accepts from outside:
 *   - not empty (-EINVAL), shorter than PATH_MAX in total and NAME_MAX per component (-ENAMETOOLONG);
 *   - no NUL byte inside, not absolute, no "." or ".." component, no empty component ("a//b"), no
 *     trailing slash (-EINVAL). One spelling per file keeps paths comparable as strings in the
 *     audit log and in consent prompts, and "." would only ever name the root the caller already
 *     holds;
 *   - valid UTF-8 without control characters (-EINVAL): every path travels on through D-Bus,
 *     JSON and log lines, which carry only UTF-8, and a newline or escape sequence in a name
 *     would forge log lines or terminal output.
 * Validation is a courtesy that gives exact errors early; the openat2() below is what enforces
 * confinement, so a path that passes here can still be refused there. */
int path_validate_relative(const char *path, size_t len);

/* Opens an existing file or directory `path` beneath the directory root_fd, with open(2) flags
 * (O_CLOEXEC is always added; O_CREAT and O_TMPFILE are refused, use path_create_beneath()). The
 * kernel resolves it with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS atomically:
 * any symlink on the way is -ELOOP, an escape is -EXDEV (only reachable through "..", which
 * validation already refuses). The one exception is open(2)'s own: O_PATH|O_NOFOLLOW returns a
 * trailing symlink itself, which still lies beneath the root. Without openat2() this fails with
 * -ENOSYS, never falling back to string checks. Returns the new fd. */
int path_open_beneath(int root_fd, const char *path, size_t len, int flags);

/* Like path_open_beneath() with O_CREAT|O_EXCL added: creates a new file with `mode`, -EEXIST if
 * anything (even a dangling symlink) is in the way. */
int path_create_beneath(int root_fd, const char *path, size_t len, int flags, mode_t mode);

typedef enum PathMkdirFlags {
        PATH_MKDIR_EXIST_OK = 1 << 0, /* an existing real directory is fine (never a symlink) */
} PathMkdirFlags;

/* Creates the single directory `path` beneath root_fd (its parent must exist) with `mode` and
 * returns an O_DIRECTORY fd of it. An existing entry is -EEXIST unless PATH_MKDIR_EXIST_OK is
 * given; a symlink swapped in after creation is -ELOOP. */
int path_mkdir_beneath(int root_fd, const char *path, size_t len, mode_t mode, PathMkdirFlags flags);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-workspace.h: task workspaces: name validation and creation beneath the workspaces root. */
#pragma once

#include "basic/macro.h"

#define WORKSPACE_NAME_MAX 64U

/* Lowercase letters, digits, ".", "_" and "-", starting with a letter or digit, no "..", 1..64
 * bytes: a name that is one path component and cannot climb out of the root. */
bool workspace_name_is_valid(const char *name);

/* Creates `root` (mkdir -p, 0700) if needed, then the directory `name` beneath it (0700), resolved
 * with openat2(RESOLVE_BENEATH) so no symlink or ".." leads out. An existing workspace is -EEXIST
 * unless `reuse` is set (and even then a symlink in its place is refused). Returns the absolute
 * path in *ret_path. */
int workspace_create(const char *root, const char *name, bool reuse, char **ret_path);

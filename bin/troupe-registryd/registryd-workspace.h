/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-workspace.h: task workspaces beneath the workspaces root: name validation, creation, moving
 * an old one aside, and removal. */
#pragma once

#include "basic/macro.h"

#define WORKSPACE_NAME_MAX 64U
/* Where replaced workspaces go, beneath the root: a name no workspace can have (it starts with '.'). */
#define WORKSPACE_ASIDE_DIR ".aside"
/* Directories nested deeper than this are not removed (each level holds a file descriptor). */
#define WORKSPACE_REMOVE_DEPTH_MAX 256U

/* What workspace names may be, for error messages. */
#define WORKSPACE_NAME_RULES "1..64 of a-z 0-9 . _ -, starting with a letter or digit, without '..'"

/* Lowercase letters, digits, ".", "_" and "-", starting with a letter or digit, no "..", 1..64
 * bytes: a name that is one path component and cannot climb out of the root. */
bool workspace_name_is_valid(const char *name);

/* Creates `root` (mkdir -p, 0700) if needed, then the directory `name` beneath it (0700), resolved
 * with openat2(RESOLVE_BENEATH) so no symlink or ".." leads out. An existing workspace is -EEXIST
 * unless `reuse` is set (and even then a symlink in its place is refused). Returns the absolute
 * path in *ret_path, and in *ret_created (if given) whether the directory was made now. */
int workspace_create_full(const char *root, const char *name, bool reuse, char **ret_path,
                          bool *ret_created);
int workspace_create(const char *root, const char *name, bool reuse, char **ret_path);

/* Moves the workspace `name` to <root>/.aside/<aside_name> (renameat2 with RENAME_NOREPLACE, both
 * directories opened beneath the root without following symlinks). -ENOENT when there is no such
 * workspace, -ENOTDIR when `name` is not a real directory (a symlink is not moved), -EEXIST when
 * the aside name is taken. *ret_path gets the new absolute path. */
int workspace_move_aside(const char *root, const char *name, const char *aside_name, char **ret_path);

/* Removes the workspace `name` and everything in it, beneath the root: every directory is opened
 * with O_NOFOLLOW relative to its parent, symlinks are unlinked, never followed, and no other
 * filesystem is entered (-EXDEV), nor directories nested deeper than WORKSPACE_REMOVE_DEPTH_MAX
 * (-ENAMETOOLONG). Goes on past errors and returns the first one: -ENOENT when the workspace is
 * not there, -ELOOP or -ENOTDIR when it is a symlink (left alone). */
int workspace_remove(const char *root, const char *name);

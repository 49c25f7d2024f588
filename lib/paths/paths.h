/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* paths.h: where troupe keeps its sockets, state, data, workspaces and config (XDG, TROUPE_* overrides). */
#pragma once

#include <sys/types.h>

#include "basic/macro.h"

/* Each is the TROUPE_* variable if set, else the XDG one plus "/troupe", else the XDG default under
 * $HOME plus "/troupe"; the runtime directory has no default and is never guessed. */
typedef enum TroupePath {
        TROUPE_PATH_RUNTIME,      /* $TROUPE_RUNTIME_DIR, $XDG_RUNTIME_DIR */
        TROUPE_PATH_STATE,        /* $TROUPE_STATE_DIR, $XDG_STATE_HOME, ~/.local/state */
        TROUPE_PATH_DATA,         /* $TROUPE_DATA_DIR, $XDG_DATA_HOME, ~/.local/share */
        TROUPE_PATH_WORKSPACES,   /* $TROUPE_WORKSPACES_DIR, else <data>/workspaces */
        TROUPE_PATH_CONFIG,       /* $TROUPE_CONFIG_DIR, $XDG_CONFIG_HOME, ~/.config */
        TROUPE_PATH_LOGS,         /* <state>/logs */
        TROUPE_PATH_AGENT_SOCKET, /* <runtime>/agent.sock */
        TROUPE_PATH_LIBEXEC,      /* $TROUPE_LIBEXECDIR, else the daemons' install dir */
        _TROUPE_PATH_MAX,
        _TROUPE_PATH_INVALID = -EINVAL,
} TroupePath;

/* Short names ("runtime", "state", "agent-socket", ...) for Describe() output and troupectl. */
const char *troupe_path_to_string(TroupePath p) _const_;
TroupePath troupe_path_from_string(const char *s) _pure_;

/* Computes one location as a malloc'd absolute path without a trailing slash; creates nothing.
 * An empty variable counts as unset (as the XDG spec says); a relative one is refused with -EINVAL,
 * a missing $XDG_RUNTIME_DIR (or $HOME where it is needed) with -ENXIO, and a result longer than
 * PATH_MAX (or than a socket address holds, for the agent socket) with -ENAMETOOLONG. */
int troupe_path_get(TroupePath p, char **ret);

/* mkdir -p for an absolute path, creating missing directories with `mode` (0700 for everything
 * troupe owns). Symlinks are followed only in the part of the path that already exists (the user's
 * own layout, e.g. /home -> /var/home); every directory this call creates is made and entered by
 * fd with O_NOFOLLOW, so a symlink planted there meanwhile is refused with -ELOOP, and the final
 * directory must be a real directory owned by us (-ELOOP for a symlink, -ENOTDIR, -EPERM). If
 * ret_fd is non-NULL it receives an O_DIRECTORY fd of the final directory. */
int mkdir_p_secure(const char *path, mode_t mode, int *ret_fd);

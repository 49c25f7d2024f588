/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdk-cards.h: where agent cards and agent executables are found (shared by the agent SDK and the router). */
#pragma once

#include "basic/macro.h"

/* The card directories, in search order: each entry of $TROUPE_AGENT_CARDS_DIR (colon-separated),
 * then <config>/agents (lib/paths: $TROUPE_CONFIG_DIR or $XDG_CONFIG_HOME/troupe), then
 * TROUPE_DATADIR/agents. Relative and empty entries are skipped, duplicates kept once. */
int agent_card_dirs(char ***ret);

/* The path of agent `name`'s card in `dir`: <dir>/<name>.json, else <dir>/<name>/<name>.json, if
 * either is a regular file; -ENOENT otherwise, -EINVAL for a name that is not name_is_valid(). */
int agent_card_find_in(const char *dir, const char *name, char **ret_path);

/* The first card of `name` in the card directories; -ENOENT if there is none. */
int agent_card_find(const char *name, char **ret_path);

/* The executable directories, in search order: each entry of $TROUPE_AGENT_PATH (colon-separated),
 * then TROUPE_LIBEXECDIR/agents. Relative and empty entries are skipped. */
int agent_exec_dirs(char ***ret);

/* The absolute path of the first regular, executable file called `file` (a plain file name, as
 * exec.path in a card) in the executable directories; -ENOENT if there is none, -EINVAL if `file`
 * is not a plain name. */
int agent_exec_find(const char *file, char **ret_path);

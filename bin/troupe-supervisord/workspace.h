/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* workspace.h: a spawn's workspace: its working directory resolved beneath it, and the private
 * HOME and TMPDIR directories made in it, so that nothing confined needs /tmp or the real home. */
#pragma once

#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "spawn-options.h"

/* What a spawn gets of its workspace; every fd O_CLOEXEC. */
typedef struct SpawnWorkspace {
        int cwd_fd; /* O_PATH directory to run in, or -EBADF for "/" */
        char *private_dir; /* <workspace>/.troupe, holding home/ and tmp/; NULL: none */
} SpawnWorkspace;

#define SPAWN_WORKSPACE_NULL ((SpawnWorkspace){.cwd_fd = -EBADF})

void spawn_workspace_done(SpawnWorkspace *w);

/* Opens the workspace and the working directory: `cwd` when given, else the workspace. With a
 * workspace, `cwd` must lie beneath it and is resolved there by the kernel (openat2() with
 * RESOLVE_BENEATH and no symlinks), so ".." or a symlink out is refused. Without a workspace, `cwd`
 * is any absolute directory. With confinement_has_private_dirs(), <workspace>/.troupe/home and
 * .troupe/tmp are made (0700, beneath the workspace, never through a symlink). Refusals are
 * org.troupe.Error.InvalidArgs naming the option. */
int spawn_workspace_open(const SpawnOptions *o, sd_bus_error *error, SpawnWorkspace *ret);

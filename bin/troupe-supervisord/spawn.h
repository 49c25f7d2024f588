/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spawn.h: starting one child: clone (as posix_spawn() does) or fork, the child's setup (session,
 * signals, fds, working directory, confinement) and exec, with a failure before exec reported back to
 * the parent. */
#pragma once

#include <sys/types.h>

#include "basic/macro.h"
#include "sandbox/sandbox.h"

/* The steps of the child's setup, in order; a failure names the step. */
typedef enum SpawnStep {
        SPAWN_STEP_SIGNALS,
        SPAWN_STEP_SESSION,
        SPAWN_STEP_PARENT_DEATH,
        SPAWN_STEP_CWD,
        SPAWN_STEP_FDS,
        SPAWN_STEP_PLACEMENT,
        SPAWN_STEP_CONFINEMENT,
        SPAWN_STEP_EXEC,
        _SPAWN_STEP_MAX,
        _SPAWN_STEP_INVALID = -EINVAL,
} SpawnStep;

const char *spawn_step_to_string(SpawnStep s) _const_;
SpawnStep spawn_step_from_string(const char *s) _pure_;

typedef struct SpawnRequest {
        char *const *argv; /* argv[0] is the absolute path executed */
        char *const *envp;
        int cwd_fd; /* directory to run in (O_PATH is fine), or -EBADF for "/" */
        int output_fd; /* write end of the log pipe: the child's stdout and stderr */
        int agent_fd; /* the child's fd 3, or -EBADF */
        const Sandbox *sandbox; /* entered last before exec; NULL: none */
        /* Called in the parent with the child's pid before the child does anything (a systemd scope
         * must hold the pid before the child enters its sandbox); the child waits for it. Returns 1
         * when the sandbox's limits were placed outside (the child then skips its own cgroups), 0
         * when not, or a negative errno that fails the spawn. NULL: the child is started at once. */
        int (*place)(pid_t pid, void *userdata);
        void *place_userdata;
} SpawnRequest;

#define SPAWN_LAYER_MAX 32U

/* Where a child failed before exec. */
typedef struct SpawnFailure {
        SpawnStep step;
        char layer[SPAWN_LAYER_MAX]; /* the sandbox layer, when step is confinement; else "" */
} SpawnFailure;

/* Starts the child with sandbox_clone_vfork() (the parent is suspended until the child has exec'd
 * or failed, and reads the child's report from the memory they share), or, when req->place is set,
 * with fork() (the parent must run between the clone and the child's setup, which a vfork-suspended
 * parent cannot; the report then comes through a CLOEXEC pipe). Returns once the child has exec'd (the pid
 * in *ret_pid) or failed before exec (the child is reaped, the failing step and layer in *ret_failure, its
 * errno returned). The child runs in its own session and process group, with stdin on /dev/null, stdout and
 * stderr on output_fd, fd 3 as agent_fd if given and no other fd, an empty signal mask, default signal
 * dispositions, SIGTERM as its parent-death signal, and the sandbox entered last. SIGCHLD must be
 * blocked in the caller (sd-event needs that anyway), so the child cannot be reaped behind the
 * caller's back. */
int spawn_start(const SpawnRequest *req, pid_t *ret_pid, SpawnFailure *ret_failure);

/* Opens argv[0] as spawn_start() will run it: -ENOENT, -EACCES, -EISDIR (not a regular file)
 * or 0. */
int spawn_check_executable(const char *path);

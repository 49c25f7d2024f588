/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* limits.h: memory, tasks and CPU weight for one confined process and everything it forks.
 *
 * Tried in this order, each reported (docs/sandbox.md):
 *   1. cgroup v2: a child group beneath our own cgroup when it is delegated to us (writable, with
 *      the memory/pids/cpu controllers available); we move ourselves into a leaf first, since v2
 *      forbids processes in inner groups.
 *   (a transient systemd scope comes here, when a manager answers: sandbox-scope.c; this file then
 *   prepares the next layer as its fallback and adopts the scope's groups once it holds the pid.)
 *   2. cgroup v1: the memory, pids and cpu controllers' hierarchies, a child group beneath our own
 *      group in each, when we may create one.
 *   3. rlimits: RLIMIT_AS for memory, RLIMIT_NPROC for tasks (not enforced for uid 0), nice for CPU
 *      weight below the default; last, since they are per process or per user, not per sandbox.
 * A limit none of them can apply is listed as missing with the reason. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macro.h"

#define SANDBOX_LIMIT_UNSET UINT64_MAX

typedef struct SandboxLimits {
        uint64_t memory_max; /* bytes, or SANDBOX_LIMIT_UNSET */
        uint64_t tasks_max;
        uint64_t cpu_weight; /* 1..10000, 100 is the default */
} SandboxLimits;

#define SANDBOX_LIMITS_UNSET                                                                        \
        ((SandboxLimits){.memory_max = SANDBOX_LIMIT_UNSET,                                          \
                         .tasks_max = SANDBOX_LIMIT_UNSET,                                           \
                         .cpu_weight = SANDBOX_LIMIT_UNSET})

typedef enum SandboxCgroupMode {
        SANDBOX_CGROUP_NONE,
        SANDBOX_CGROUP_V2,
        SANDBOX_CGROUP_V1,
        _SANDBOX_CGROUP_MODE_MAX,
        _SANDBOX_CGROUP_MODE_INVALID = -EINVAL,
} SandboxCgroupMode;

/* "none", "cgroup-v2", "cgroup-v1" */
const char *sandbox_cgroup_mode_to_string(SandboxCgroupMode m) _const_;
SandboxCgroupMode sandbox_cgroup_mode_from_string(const char *s) _pure_;

/* Found once at start by sandbox_limits_detect(): where our groups go. A zeroed struct (mode NONE,
 * no paths) is valid too: it makes sandbox_limits_create() fall back to rlimits, which tests use. */
typedef struct SandboxLimitsSupport {
        SandboxCgroupMode mode;
        char *v2_parent; /* the directory our child groups are made in (v2) */
        char *v1_memory, *v1_pids, *v1_cpu; /* the same per v1 controller, NULL if unusable */
        char *reason; /* why v2 (and v1) could not be used, for the report */
        bool v2_cpu; /* v2: the cpu controller is enabled for our groups as well */
        char *v2_leaf; /* v2: the leaf detect moved us into, NULL if it needed none */
        char *v2_enabled; /* v2: the controllers detect enabled in v2_parent ("memory pids") */
        /* Per limit, why no cgroup controller takes it (NULL when one does): the "missing"
         * reasons of sandbox_limits_report(). */
        char *reason_memory, *reason_pids, *reason_cpu;
} SandboxLimitsSupport;

/* Which cgroup layers the limits may use: the supervisor's --cgroup= option. */
typedef enum SandboxCgroupChoice {
        SANDBOX_CGROUP_CHOICE_AUTO, /* v2, else a systemd scope, else v1, else rlimits */
        SANDBOX_CGROUP_CHOICE_V2, /* v2 or rlimits */
        SANDBOX_CGROUP_CHOICE_SCOPE, /* a systemd scope, else v1, else rlimits (never v2) */
        SANDBOX_CGROUP_CHOICE_V1, /* v1 or rlimits */
        SANDBOX_CGROUP_CHOICE_NONE, /* rlimits only */
        _SANDBOX_CGROUP_CHOICE_MAX,
        _SANDBOX_CGROUP_CHOICE_INVALID = -EINVAL,
} SandboxCgroupChoice;

/* "auto", "v2", "scope", "v1", "none" */
const char *sandbox_cgroup_choice_to_string(SandboxCgroupChoice c) _const_;
SandboxCgroupChoice sandbox_cgroup_choice_from_string(const char *s) _pure_;

/* Never fails for lack of cgroups (that is mode NONE with the reasons filled in); only for lack of
 * memory or an unreadable /proc. On v2 it may move the calling process into a leaf group: call it
 * once, early, from the supervisor's main process. Calling it again in the same process finds the
 * leaf and reuses it. */
int sandbox_limits_detect(SandboxLimitsSupport *ret);
/* The same, trying only the layers `choice` allows (a layer left out is given that as its reason). */
int sandbox_limits_detect_choice(SandboxCgroupChoice choice, SandboxLimitsSupport *ret);
void sandbox_limits_support_done(SandboxLimitsSupport *s);
/* {"mode":"cgroup-v1","v2_parent":null,"v1":{"memory":"/sys/...","pids":...,"cpu":...},
 *  "reason":"...","memory_max":"cgroup-v1-memory","tasks_max":"cgroup-v1-pids","cpu_weight":...}
 * where the last three name the layer each limit would get (as in sandbox_limits_report()). */
int sandbox_limits_support_to_json(const SandboxLimitsSupport *s, json_t **ret);

/* One process's limits: created by the parent, joined by the child. */
typedef struct SandboxLimitsGroup SandboxLimitsGroup;

/* Creates the group(s) "troupe-<name>" and writes the limits; opens the cgroup.procs files the child
 * writes itself into. Limits the cgroups cannot take are prepared as rlimits. `name` is
 * [a-zA-Z0-9_-]{1,64} (-EINVAL otherwise); a cpu_weight outside 1..10000 is -EINVAL. A stale empty
 * group of the same name is replaced, a populated one is -EEXIST. Groups are made even when no
 * limit is set, in the memory and pids hierarchies (v1) or the one v2 group, so that
 * sandbox_limits_kill() reaches everything the process forks. */
int sandbox_limits_create(const SandboxLimitsSupport *s, const SandboxLimits *limits, const char *name,
                          SandboxLimitsGroup **ret);
SandboxLimitsGroup *sandbox_limits_group_free(SandboxLimitsGroup *g); /* closes fds only */
DEFINE_TRIVIAL_CLEANUP_FUNC(SandboxLimitsGroup *, sandbox_limits_group_free);

/* In the child: join the group(s), then set the rlimits. Async-signal-safe. */
int sandbox_limits_enter_in_child(const SandboxLimitsGroup *g);
/* In the parent, for a child that waits (sandbox_clone_parked()): moves `pid` into the group(s) by
 * writing it into their cgroup.procs. Returns 1, or 0 when there is no group. */
int sandbox_limits_place(const SandboxLimitsGroup *g, pid_t pid);
/* The same in two steps, for a child that enters a user namespace: join the groups before (a
 * cgroup or user namespace can forbid the move), set the rlimits after it, so that RLIMIT_NPROC
 * counts the processes of this sandbox's namespace rather than every process of the user. */
int sandbox_limits_join_in_child(const SandboxLimitsGroup *g);
int sandbox_limits_set_rlimits_in_child(const SandboxLimitsGroup *g);

/* Adds what was applied to `applied` (strings such as "cgroup-v1-memory", "rlimit-nproc"), what
 * could not be to `missing` ({"layer","reason"} objects), and the effective values to the object
 * `limits` ({"memory_max":N,"tasks_max":N,"cpu_weight":N,"nice":N,"via":{"memory_max":layer,...}},
 * only the keys of limits that were applied). Any of the three may be NULL. */
int sandbox_limits_report(const SandboxLimitsGroup *g, json_t *applied, json_t *missing, json_t *limits);

/* Whether any cgroup holds the process: if not, sandbox_limits_kill() cannot find its processes
 * and the caller must signal the pid it knows. */
bool sandbox_limits_has_cgroup(const SandboxLimitsGroup *g) _pure_;

/* Sends `sig` to every process in the group (cgroup.kill on v2 for SIGKILL, each pid otherwise),
 * repeating while new pids show up (a fork bomb forks while we kill). Returns the number of
 * processes signalled (0 for cgroup.kill, which does not say), 0 without a cgroup. */
int sandbox_limits_kill(SandboxLimitsGroup *g, int sig);
/* The limits went to a systemd scope instead (sandbox-scope.c): removes the groups create() made as
 * the fallback (nobody joined them), forgets its rlimits, and takes the scope's groups (`dirs`: in
 * the memory, pids and cpu hierarchies for v1, dirs[0] alone for v2; NULL where there is none) for
 * kill() and the report, reading each limit back from the scope's files. A limit that does not read
 * back as asked is reported missing. The dirs are taken over; destroy() never removes them. */
int sandbox_limits_adopt_scope(SandboxLimitsGroup *g, const SandboxLimits *limits, SandboxCgroupMode mode,
                               char *dirs[static 3]);
/* "systemd-scope", "cgroup-v2", "cgroup-v1", or "none" (rlimits only); and the group's first dir. */
const char *sandbox_limits_cgroup_kind(const SandboxLimitsGroup *g);
const char *sandbox_limits_cgroup_dir(const SandboxLimitsGroup *g);

/* Kills what is left and removes the group(s); waits (bounded, about 2 s) for them to empty.
 * -EBUSY if they did not. Safe to call again; a no-op after it succeeded. */
int sandbox_limits_destroy(SandboxLimitsGroup *g);

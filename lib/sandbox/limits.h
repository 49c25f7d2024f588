/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* limits.h: memory, tasks and CPU weight for one confined process and everything it forks.
 *
 * Tried in this order, each reported (docs/sandbox.md):
 *   1. cgroup v2: a child group beneath our own cgroup when it is delegated to us (writable, with
 *      the memory/pids/cpu controllers available); we move ourselves into a leaf first, since v2
 *      forbids processes in inner groups.
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
} SandboxCgroupMode;

/* Found once at start by sandbox_limits_detect(): where our groups go. */
typedef struct SandboxLimitsSupport {
        SandboxCgroupMode mode;
        char *v2_parent; /* the directory our child groups are made in (v2) */
        char *v1_memory, *v1_pids, *v1_cpu; /* the same per v1 controller, NULL if unusable */
        char *reason; /* why v2 (and v1) could not be used, for the report */
} SandboxLimitsSupport;

int sandbox_limits_detect(SandboxLimitsSupport *ret);
void sandbox_limits_support_done(SandboxLimitsSupport *s);
int sandbox_limits_support_to_json(const SandboxLimitsSupport *s, json_t **ret);

/* One process's limits: created by the parent, joined by the child. */
typedef struct SandboxLimitsGroup SandboxLimitsGroup;

/* Creates the group(s) named `name` and writes the limits; opens the cgroup.procs files the child
 * writes itself into. Limits the cgroups cannot take are prepared as rlimits. */
int sandbox_limits_create(const SandboxLimitsSupport *s, const SandboxLimits *limits, const char *name,
                          SandboxLimitsGroup **ret);
SandboxLimitsGroup *sandbox_limits_group_free(SandboxLimitsGroup *g); /* closes fds only */
DEFINE_TRIVIAL_CLEANUP_FUNC(SandboxLimitsGroup *, sandbox_limits_group_free);

/* In the child: join the group(s), then set the rlimits. Async-signal-safe. */
int sandbox_limits_enter_in_child(const SandboxLimitsGroup *g);

/* Adds what was applied to `applied` (strings such as "cgroup-v1-memory", "rlimit-nproc") and what
 * could not be to `missing` ({"layer","reason"} objects). */
int sandbox_limits_report(const SandboxLimitsGroup *g, json_t *applied, json_t *missing, json_t *limits);

/* Sends `sig` to every process in the group (cgroup.kill on v2, each pid on v1). */
int sandbox_limits_kill(SandboxLimitsGroup *g, int sig);
/* Kills what is left and removes the group(s); waits (bounded) for them to empty. */
int sandbox_limits_destroy(SandboxLimitsGroup *g);

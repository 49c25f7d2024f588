/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* confinement.h: the sandbox of every spawned process: which profile it gets, what the machine
 * supports (detected once), building it in the parent, entering it in the child, and the report of
 * what was applied. The layers themselves are lib/sandbox/'s (docs/sandbox.md). */
#pragma once

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "sandbox/sandbox.h"
#include "spawn-options.h"

#define CONFINEMENT_PROFILES "agent, task, unconfined"

/* The environment variable with more read-only paths (colon-separated), beside --read-only-path. */
#define CONFINEMENT_READ_ONLY_ENV "TROUPE_SANDBOX_READ_ONLY"
#define CONFINEMENT_READ_ONLY_MAX 64U

/* Beneath a workspace: the private HOME and TMPDIR of what runs in it. */
#define CONFINEMENT_PRIVATE_DIR ".troupe"
#define CONFINEMENT_PRIVATE_HOME "home"
#define CONFINEMENT_PRIVATE_TMP "tmp"

/* What the supervisor knows for all its spawns: set up once at start. */
typedef struct Confinement {
        SandboxSupport machine;
        SandboxFilters *filters;
        char **read_only; /* --read-only-path and $TROUPE_SANDBOX_READ_ONLY, validated */
        json_t *support; /* what the machine supports: Describe() */
        char *support_json; /* the same: the ConfinementSupport property */
} Confinement;

/* Detects what the machine supports, compiles the seccomp filters and logs a one-line summary.
 * `read_only` (absolute, existing paths) is taken over. */
int confinement_setup(Confinement *c, char **read_only, SandboxCgroupChoice cgroup_choice);
void confinement_done(Confinement *c);
/* ConfinementSupport as a JSON object, for Describe(). */
int confinement_support_json(const Confinement *c, json_t **ret);

/* Checks the extra read-only paths given to the supervisor or in a Spawn(): absolute, shorter than
 * PATH_MAX, existing. Returns -EINVAL, -ENAMETOOLONG or stat()'s error, naming the bad one in
 * *ret_bad. */
int confinement_read_only_validate(char *const *paths, const char **ret_bad);
/* Appends the paths of a colon-separated list ($TROUPE_SANDBOX_READ_ONLY), skipping empty ones. */
int confinement_read_only_parse(const char *list, char ***l);

bool confinement_profile_is_known(const char *name) _pure_;
/* The profile a spawn gets: the `profile` option, else "task" with a workspace, else "agent";
 * suite members (SPAWN_ENV_SUITE) are our own daemons, which need the bus: unconfined. */
SandboxProfileKind confinement_choose_profile(const SpawnOptions *o) _pure_;
/* Whether the spawn gets private HOME and TMPDIR directories beneath its workspace. */
bool confinement_has_private_dirs(const SpawnOptions *o) _pure_;

/* Builds the sandbox of one run of process `id` (the private directories beneath the workspace
 * already exist). Refusals (an invalid capability, a read-only path that is gone) are set in
 * `error` as org.troupe.Error.InvalidArgs; a layer the machine lacks is not one: the report says so.
 * *ret_report is the Confinement property: sandbox_report() plus what was asked for ("requested"). */
int confinement_prepare(const Confinement *c, const SpawnOptions *o, const char *id, const char *private_dir,
                        sd_bus_error *error, Sandbox **ret, char **ret_report);

/* Runs in the child between clone and exec, after its fds, working directory and environment are
 * set up: the one place where the sandbox is entered. Async-signal-safe code only (no malloc).
 * `placed`: the parent put the child into a systemd scope, which holds its limits. Returns 0 or a
 * negative errno, which fails the spawn, with the failing layer in *ret_layer. */
int confinement_apply_in_child(const Sandbox *s, bool placed, const char **ret_layer);

/* Whether the sandbox has cgroups of its own, and the step that moves a parked child into them
 * (spawn_start() runs it between the clone and the child's setup). 1: placed, 0: nothing to do. */
bool confinement_has_cgroups(const Sandbox *s) _pure_;
int confinement_place_cgroups(const Sandbox *s, pid_t pid);

/* The spawn's placement step (SpawnRequest.place) for a sandbox that wants a systemd scope
 * (sandbox_wants_scope()); userdata is the Sandbox. */
int confinement_place(pid_t pid, void *userdata);

/* The Confinement property of a sandbox: sandbox_report() plus what was asked for ("requested").
 * Built again after a spawn that tried a scope, since that changes what holds the limits. */
int confinement_build_report(const Sandbox *s, const SpawnOptions *o, char **ret);

/* The "requested" block of the report: the options as they were asked for. */
int confinement_requested(const SpawnOptions *o, json_t **ret);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* confinement.h: the confinement step of a spawn and the report of what it applied. Profiles,
 * capabilities and cgroup limits are accepted and validated now; the layers themselves (Landlock,
 * seccomp, capabilities, namespaces, cgroups) are applied here by the confinement work (issue 4). */
#pragma once

#include "basic/macro.h"
#include "spawn-options.h"

#define CONFINEMENT_PROFILES "agent, task"

bool confinement_profile_is_known(const char *name) _pure_;

/* Runs in the child between fork and exec, after its fds, working directory and environment are
 * set up: the one place where the sandbox is entered. Async-signal-safe code only (no malloc).
 * Returns 0 or a negative errno, which fails the spawn. */
int confinement_apply_in_child(const SpawnOptions *o);

/* The Confinement property: a JSON object naming every layer applied ("applied"), what was asked
 * for ("requested") and a note. Never names a layer that was not applied. */
int confinement_report(const SpawnOptions *o, char **ret);

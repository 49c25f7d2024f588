/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* limits-internal.h: cgroup file access and /proc parsing shared by limits.c and limits-detect.c,
 * exposed for tests. */
#pragma once

#include "sandbox/limits.h"

/* The file names of a group's members are short; the pid list of a fork bomb is the largest file we
 * read (pids are at most 7 digits plus a newline, and a group holds at most pid_max of them). */
#define LIMITS_SMALL_FILE_MAX (64U * 1024U)
#define LIMITS_PROCS_FILE_MAX (32U * 1024U * 1024U)
#define LIMITS_PROC_FILE_MAX (1024U * 1024U)

/* The leaf sandbox_limits_detect() moves the supervisor into on cgroup v2. Our groups are all
 * "troupe-<name>", so the two never collide. */
#define LIMITS_V2_LEAF "supervisor"
#define LIMITS_GROUP_PREFIX "troupe-"
#define LIMITS_NAME_MAX 64U

/* pids.max takes at most PID_MAX_LIMIT (4M); beyond that only "max" is accepted. */
#define LIMITS_PIDS_MAX ((uint64_t) 4194304)

int cg_write(const char *dir, const char *file, const char *value);
int cg_read(const char *dir, const char *file, size_t max_size, char **ret);
int cg_read_u64(const char *dir, const char *file, uint64_t *ret); /* "max" reads as UINT64_MAX */
bool cg_has_file(const char *dir, const char *file);

/* True if `word` is one of the items of `list` separated by any of `seps`. */
bool limits_list_contains(const char *list, const char *word, const char *seps);

/* From /proc/self/cgroup text: the path of our group in the hierarchy holding `controller`, or in
 * the cgroup v2 hierarchy ("0::") when controller is NULL. -ENOENT if there is no such line. */
int limits_parse_proc_cgroup(const char *text, const char *controller, char **ret_path);

/* From /proc/self/mountinfo text: the mount point and the mount's root within its hierarchy of the
 * cgroup v1 hierarchy holding `controller`, or of cgroup2 when controller is NULL (preferring
 * /sys/fs/cgroup, then /sys/fs/cgroup/unified, then the first one). -ENOENT if none is mounted. */
int limits_parse_mountinfo(const char *text, const char *controller, char **ret_mountpoint, char **ret_root);

/* Joins a mount point, the mount's root and our path beneath it into a directory; -ENOENT when
 * our group is not visible through that mount (it lies outside the mount's root). */
int limits_cgroup_dir(const char *mountpoint, const char *root, const char *path, char **ret);

/* The nice value whose scheduler weight is closest to that of cgroup cpu weight `weight` (1..10000,
 * 100 being nice 0), clamped to -20..19. */
int limits_weight_to_nice(uint64_t weight) _const_;

/* True for [a-zA-Z0-9_-]{1,64}: the name becomes a directory name. */
bool limits_name_is_valid(const char *name) _pure_;

/* sandbox_limits_detect() from given /proc/self/mountinfo and /proc/self/cgroup texts. The paths in
 * them are used for real, so a test can point them at a directory tree of its own. */
int limits_detect_from(const char *mountinfo, const char *proc_cgroup, SandboxLimitsSupport *ret);
int limits_detect_from_choice(const char *mountinfo, const char *proc_cgroup, SandboxCgroupChoice choice,
                              SandboxLimitsSupport *ret);

/* For tests, which must leave the hierarchy as they found it: removes the v2 leaf detect created
 * (after moving us back into our own group and disabling the controllers it enabled). Never
 * needed by the supervisor, which lives in the leaf until it exits. */
int limits_v2_restore(SandboxLimitsSupport *s);

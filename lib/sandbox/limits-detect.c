/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding where our limit groups can go: a delegated cgroup v2 group, the cgroup v1 memory, pids and
 * cpu hierarchies, or nowhere (rlimits), with the reason for each one that cannot be used. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "sandbox/limits-internal.h"

static const char *const sandbox_cgroup_mode_table[_SANDBOX_CGROUP_MODE_MAX] = {
        [SANDBOX_CGROUP_NONE] = "none",
        [SANDBOX_CGROUP_V2] = "cgroup-v2",
        [SANDBOX_CGROUP_V1] = "cgroup-v1",
};
DEFINE_STRING_TABLE_LOOKUP(sandbox_cgroup_mode, SandboxCgroupMode);

static const char *const sandbox_cgroup_choice_table[_SANDBOX_CGROUP_CHOICE_MAX] = {
        [SANDBOX_CGROUP_CHOICE_AUTO] = "auto",   [SANDBOX_CGROUP_CHOICE_V2] = "v2",
        [SANDBOX_CGROUP_CHOICE_SCOPE] = "scope", [SANDBOX_CGROUP_CHOICE_V1] = "v1",
        [SANDBOX_CGROUP_CHOICE_NONE] = "none",
};
DEFINE_STRING_TABLE_LOOKUP(sandbox_cgroup_choice, SandboxCgroupChoice);

/* The controllers a v1 limit needs, in the order of the support's v1_* fields. */
static const char *const v1_controllers[] = {"memory", "pids", "cpu"};

/* Sets *ret to a formatted reason and returns 0 ("not usable"), or -ENOMEM. */
_printf_(2, 3) static int reasonf(char **ret, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(ret, fmt, ap);
        va_end(ap);
        return n < 0 ? -ENOMEM : 0;
}

static void strip_newlines(char *s) {
        for (char *p = s; *p; p++)
                if (*p == '\n')
                        *p = *(p + 1) ? ' ' : 0;
}

static int v2_disable(const char *dir, const char *enabled) {
        char buf[32];
        int r = 0;

        for (const char *p = enabled; *p;) {
                size_t k = strcspn(p, " ");
                if (k > 0 && k < sizeof(buf) - 1) {
                        snprintf(buf, sizeof(buf), "-%.*s", (int) k, p);
                        int q = cg_write(dir, "cgroup.subtree_control", buf);
                        if (q < 0 && r == 0)
                                r = q;
                }
                p += k;
                p += strspn(p, " ");
        }
        return r;
}

/* Enables memory, pids and (when offered) cpu for dir's children. On failure undoes its own
 * changes; *ret_enabled lists what it changed, for limits_v2_restore(). */
static int v2_enable_controllers(const char *dir, const char *available, bool *ret_cpu, char **ret_enabled) {
        static const char *const want[] = {"memory", "pids", "cpu"};
        _cleanup_free_ char *subtree = NULL, *enabled = strdup("");
        bool cpu = false;
        int r;

        if (!enabled)
                return -ENOMEM;
        r = cg_read(dir, "cgroup.subtree_control", LIMITS_SMALL_FILE_MAX, &subtree);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                bool optional = streq(want[i], "cpu");
                char buf[16];

                if (limits_list_contains(subtree, want[i], " \n")) {
                        cpu = cpu || optional;
                        continue;
                }
                if (optional && !limits_list_contains(available, want[i], " \n"))
                        continue;
                snprintf(buf, sizeof(buf), "+%s", want[i]);
                r = cg_write(dir, "cgroup.subtree_control", buf);
                if (r < 0 && optional) /* cpu is refused while realtime tasks are about: weight by nice */
                        continue;
                if (r < 0) {
                        (void) v2_disable(dir, enabled);
                        return r;
                }
                cpu = cpu || optional;
                char *t = isempty(enabled) ? strdup(want[i]) : strjoin(enabled, " ", want[i]);
                if (!t)
                        return -ENOMEM;
                free(enabled);
                enabled = t;
        }
        *ret_cpu = cpu;
        *ret_enabled = TAKE_PTR(enabled);
        return 0;
}

/* v2 lets no process live in a group whose controllers are enabled for its children, so the
 * supervisor moves itself into a leaf first and its sandboxes' groups go beside that leaf. */
static int v2_enable_from_leaf(const char *dir, const char *available, SandboxLimitsSupport *s,
                               char **ret_reason) {
        _cleanup_free_ char *leaf = strjoin(dir, "/" LIMITS_V2_LEAF);
        bool made;
        int r;

        if (!leaf)
                return -ENOMEM;
        made = mkdir(leaf, 0755) >= 0;
        if (!made && errno != EEXIST)
                return reasonf(ret_reason, "cannot create the leaf %s: %s", leaf, strerror(errno));
        r = cg_write(leaf, "cgroup.procs", "0");
        if (r < 0) {
                if (made)
                        (void) rmdir(leaf);
                return reasonf(ret_reason, "cannot move ourselves into %s: %s", leaf, strerror(-r));
        }
        r = v2_enable_controllers(dir, available, &s->v2_cpu, &s->v2_enabled);
        if (r < 0) {
                (void) cg_write(dir, "cgroup.procs", "0");
                if (made)
                        (void) rmdir(leaf);
                if (r == -EBUSY)
                        return reasonf(
                                ret_reason,
                                "other processes share our cgroup %s: the supervisor needs one of its "
                                "own (a systemd unit with Delegate=yes)",
                                dir);
                return reasonf(ret_reason, "cannot enable the memory and pids controllers in %s: %s", dir,
                               strerror(-r));
        }
        s->v2_leaf = TAKE_PTR(leaf);
        return 1;
}

/* We were here before in this process: we sit in our leaf and its parent has the controllers on. */
static int v2_reuse_leaf(const char *dir, SandboxLimitsSupport *s) {
        const char *slash = strrchr(dir, '/');
        _cleanup_free_ char *parent = NULL, *subtree = NULL;

        if (!slash || !streq(slash + 1, LIMITS_V2_LEAF))
                return 0;
        parent = strndup(dir, (size_t) (slash - dir));
        if (!parent)
                return -ENOMEM;
        if (cg_read(parent, "cgroup.subtree_control", LIMITS_SMALL_FILE_MAX, &subtree) < 0 ||
            !limits_list_contains(subtree, "memory", " \n") || !limits_list_contains(subtree, "pids", " \n"))
                return 0;
        s->v2_leaf = strdup(dir);
        if (!s->v2_leaf)
                return -ENOMEM;
        s->v2_cpu = limits_list_contains(subtree, "cpu", " \n");
        s->v2_parent = TAKE_PTR(parent);
        return 1;
}

/* 1: usable (s->v2_* filled in), 0: not (*ret_reason says why), <0: error. */
static int detect_v2(const char *mountinfo, const char *proc_cgroup, SandboxLimitsSupport *s,
                     char **ret_reason) {
        _cleanup_free_ char *path = NULL, *mp = NULL, *root = NULL, *dir = NULL, *available = NULL;
        int r;

        r = limits_parse_proc_cgroup(proc_cgroup, NULL, &path);
        if (r == -ENOENT)
                return reasonf(ret_reason,
                               "/proc/self/cgroup has no cgroup v2 entry, or it lies outside our "
                               "cgroup namespace");
        if (r < 0)
                return r;
        r = limits_parse_mountinfo(mountinfo, NULL, &mp, &root);
        if (r == -ENOENT)
                return reasonf(ret_reason, "no cgroup2 file system is mounted");
        if (r < 0)
                return r;
        r = limits_cgroup_dir(mp, root, path, &dir);
        if (r == -ENOENT)
                return reasonf(ret_reason, "our cgroup %s is not visible beneath the cgroup2 mount %s", path,
                               mp);
        if (r < 0)
                return r;

        r = v2_reuse_leaf(dir, s);
        if (r != 0)
                return r;

        r = cg_read(dir, "cgroup.controllers", LIMITS_SMALL_FILE_MAX, &available);
        if (r < 0)
                return reasonf(ret_reason, "cannot read %s/cgroup.controllers: %s", dir, strerror(-r));
        strip_newlines(available);
        if (!limits_list_contains(available, "memory", " ") || !limits_list_contains(available, "pids", " "))
                return reasonf(ret_reason,
                               "the memory and pids controllers are not available in %s "
                               "(cgroup.controllers: \"%s\")",
                               dir, available);
        if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) < 0)
                return reasonf(ret_reason, "%s is not delegated to us: %s", dir, strerror(errno));

        r = v2_enable_controllers(dir, available, &s->v2_cpu, &s->v2_enabled);
        if (r == -EBUSY) {
                r = v2_enable_from_leaf(dir, available, s, ret_reason);
                if (r <= 0)
                        return r;
        } else if (r < 0)
                return reasonf(ret_reason, "cannot enable the memory and pids controllers in %s: %s", dir,
                               strerror(-r));
        s->v2_parent = TAKE_PTR(dir);
        return 1;
}

/* A v1 hierarchy is usable when we may create a group beneath our own there: try it. */
static int detect_v1(const char *mountinfo, const char *proc_cgroup, const char *controller, char **ret_dir,
                     char **ret_reason) {
        _cleanup_free_ char *path = NULL, *mp = NULL, *root = NULL, *dir = NULL, *probe = NULL;
        int r;

        r = limits_parse_mountinfo(mountinfo, controller, &mp, &root);
        if (r == -ENOENT)
                return reasonf(ret_reason, "no cgroup v1 hierarchy with the %s controller is mounted",
                               controller);
        if (r < 0)
                return r;
        r = limits_parse_proc_cgroup(proc_cgroup, controller, &path);
        if (r == -ENOENT)
                return reasonf(ret_reason, "/proc/self/cgroup names no %s hierarchy we can see", controller);
        if (r < 0)
                return r;
        r = limits_cgroup_dir(mp, root, path, &dir);
        if (r == -ENOENT)
                return reasonf(ret_reason, "our %s cgroup %s is not visible beneath %s", controller, path,
                               mp);
        if (r < 0)
                return r;

        if (asprintf(&probe, "%s/" LIMITS_GROUP_PREFIX "probe-%d", dir, (int) getpid()) < 0)
                return -ENOMEM;
        /* A probe of a crashed process that had our pid may be left over: it is empty, remove it. */
        if (mkdir(probe, 0755) < 0 && (errno != EEXIST || rmdir(probe) < 0 || mkdir(probe, 0755) < 0))
                return reasonf(ret_reason, "cannot create a group in %s: %s", dir, strerror(errno));
        (void) rmdir(probe);
        *ret_dir = TAKE_PTR(dir);
        return 1;
}

static int detect_v1_all(const char *mountinfo, const char *proc_cgroup, const char *v2_reason,
                         SandboxLimitsSupport *s) {
        char **dirs[] = {&s->v1_memory, &s->v1_pids, &s->v1_cpu};
        char **missing[] = {&s->reason_memory, &s->reason_pids, &s->reason_cpu};
        _cleanup_free_ char *reason = NULL;
        int r;

        if (asprintf(&reason, "cgroup v2: %s", v2_reason) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(v1_controllers); i++) {
                _cleanup_free_ char *why = NULL;

                r = detect_v1(mountinfo, proc_cgroup, v1_controllers[i], dirs[i], &why);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                char *t = strjoin(reason, "; cgroup v1 ", v1_controllers[i], ": ", why);
                if (!t)
                        return -ENOMEM;
                free(reason);
                reason = t;
                if (asprintf(missing[i], "no %s cgroup (cgroup v2: %s; cgroup v1: %s)", v1_controllers[i],
                             v2_reason, why) < 0)
                        return -ENOMEM;
        }
        s->mode = s->v1_memory || s->v1_pids || s->v1_cpu ? SANDBOX_CGROUP_V1 : SANDBOX_CGROUP_NONE;
        s->reason = TAKE_PTR(reason);
        return 0;
}

/* Detection from given /proc/self/mountinfo and /proc/self/cgroup texts: the paths in them are
 * real, so tests point them at a directory tree of their own. */
int limits_detect_from_choice(const char *mountinfo, const char *proc_cgroup, SandboxCgroupChoice choice,
                              SandboxLimitsSupport *ret) {
        _cleanup_(sandbox_limits_support_done) SandboxLimitsSupport s = {};
        _cleanup_free_ char *v2_reason = NULL;
        bool v2 = choice == SANDBOX_CGROUP_CHOICE_AUTO || choice == SANDBOX_CGROUP_CHOICE_V2,
             v1 = choice == SANDBOX_CGROUP_CHOICE_AUTO || choice == SANDBOX_CGROUP_CHOICE_SCOPE ||
                  choice == SANDBOX_CGROUP_CHOICE_V1;
        int r = 0;

        assert_return(mountinfo && proc_cgroup && ret, -EINVAL);
        assert_return(choice >= 0 && choice < _SANDBOX_CGROUP_CHOICE_MAX, -EINVAL);

        if (v2)
                r = detect_v2(mountinfo, proc_cgroup, &s, &v2_reason);
        else
                r = reasonf(&v2_reason, "not tried (--cgroup=%s)", sandbox_cgroup_choice_to_string(choice));
        if (r < 0)
                return r;
        if (r > 0) {
                s.mode = SANDBOX_CGROUP_V2;
                if (!s.v2_cpu) {
                        if (asprintf(&s.reason_cpu,
                                     "no cpu cgroup: the cpu controller is not available in %s",
                                     s.v2_parent) < 0)
                                return -ENOMEM;
                        s.reason = strdup(s.reason_cpu);
                        if (!s.reason)
                                return -ENOMEM;
                }
        } else if (v1) {
                r = detect_v1_all(mountinfo, proc_cgroup, v2_reason, &s);
                if (r < 0)
                        return r;
        } else {
                _cleanup_free_ char *why = NULL;
                char **missing[] = {&s.reason_memory, &s.reason_pids, &s.reason_cpu};

                if (reasonf(&why, "cgroup v2: %s; cgroup v1: not tried (--cgroup=%s)", v2_reason,
                            sandbox_cgroup_choice_to_string(choice)) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < ELEMENTSOF(missing); i++)
                        if (asprintf(missing[i], "no %s cgroup (%s)", v1_controllers[i], why) < 0)
                                return -ENOMEM;
                s.mode = SANDBOX_CGROUP_NONE;
                s.reason = TAKE_PTR(why);
        }
        *ret = s;
        s = (SandboxLimitsSupport){};
        return 0;
}

int limits_detect_from(const char *mountinfo, const char *proc_cgroup, SandboxLimitsSupport *ret) {
        return limits_detect_from_choice(mountinfo, proc_cgroup, SANDBOX_CGROUP_CHOICE_AUTO, ret);
}

int sandbox_limits_detect_choice(SandboxCgroupChoice choice, SandboxLimitsSupport *ret) {
        _cleanup_free_ char *mountinfo = NULL, *proc_cgroup = NULL;
        int r;

        assert_return(ret, -EINVAL);

        r = read_full_file_at(AT_FDCWD, "/proc/self/mountinfo", LIMITS_PROC_FILE_MAX * 4, &mountinfo, NULL);
        if (r < 0)
                return r;
        r = read_full_file_at(AT_FDCWD, "/proc/self/cgroup", LIMITS_PROC_FILE_MAX, &proc_cgroup, NULL);
        if (r < 0)
                return r;
        return limits_detect_from_choice(mountinfo, proc_cgroup, choice, ret);
}

int sandbox_limits_detect(SandboxLimitsSupport *ret) {
        return sandbox_limits_detect_choice(SANDBOX_CGROUP_CHOICE_AUTO, ret);
}

void sandbox_limits_support_done(SandboxLimitsSupport *s) {
        if (!s)
                return;
        free(s->v2_parent);
        free(s->v1_memory);
        free(s->v1_pids);
        free(s->v1_cpu);
        free(s->reason);
        free(s->v2_leaf);
        free(s->v2_enabled);
        free(s->reason_memory);
        free(s->reason_pids);
        free(s->reason_cpu);
        *s = (SandboxLimitsSupport){};
}

int limits_v2_restore(SandboxLimitsSupport *s) {
        int r;

        assert_return(s, -EINVAL);
        if (s->mode != SANDBOX_CGROUP_V2 || !s->v2_parent)
                return 0;
        if (s->v2_enabled) {
                r = v2_disable(s->v2_parent, s->v2_enabled);
                if (r < 0)
                        return r;
                s->v2_enabled = mfree(s->v2_enabled);
        }
        if (s->v2_leaf) {
                r = cg_write(s->v2_parent, "cgroup.procs", "0");
                if (r < 0)
                        return r;
                if (rmdir(s->v2_leaf) < 0)
                        return -errno;
                s->v2_leaf = mfree(s->v2_leaf);
        }
        return 0;
}

/* Which layer each limit gets on this machine: what sandbox_limits_create() will pick. */
static const char *support_layer(const SandboxLimitsSupport *s, size_t i) {
        static const char *const v1_layer[] = {"cgroup-v1-memory", "cgroup-v1-pids", "cgroup-v1-cpu"};
        const char *const v1_dirs[] = {s->v1_memory, s->v1_pids, s->v1_cpu};

        if (s->mode == SANDBOX_CGROUP_V2 && s->v2_parent && (i != 2 || s->v2_cpu))
                return "cgroup-v2";
        if (s->mode == SANDBOX_CGROUP_V1 && v1_dirs[i])
                return v1_layer[i];
        switch (i) {
        case 0:
                return "rlimit-as";
        case 1: /* RLIMIT_NPROC binds no process of uid 0 */
                return getuid() == 0 ? "none" : "rlimit-nproc";
        default:
                return "nice";
        }
}

int sandbox_limits_support_to_json(const SandboxLimitsSupport *s, json_t **ret) {
        json_t *o;

        assert_return(s && ret, -EINVAL);

        o = json_pack("{s:s, s:s?, s:s?, s:b, s:{s:s?, s:s?, s:s?}, s:s?, s:s, s:s, s:s}", "mode",
                      sandbox_cgroup_mode_to_string(s->mode), "v2_parent", s->v2_parent, "v2_leaf",
                      s->v2_leaf, "v2_cpu", s->v2_cpu, "v1", "memory", s->v1_memory, "pids", s->v1_pids,
                      "cpu", s->v1_cpu, "reason", s->reason, "memory_max", support_layer(s, 0), "tasks_max",
                      support_layer(s, 1), "cpu_weight", support_layer(s, 2));
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One sandbox's limit groups: made and filled in by the parent, joined by the child, reported, killed
 * and removed. Where no cgroup takes a limit it becomes an rlimit or a nice value. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "sandbox/limits-internal.h"

/* The group directories: v2 uses only the first slot, v1 one per controller. */
typedef enum LimitsSlot {
        LIMITS_SLOT_MEMORY,
        LIMITS_SLOT_PIDS,
        LIMITS_SLOT_CPU,
        _LIMITS_SLOT_MAX,
} LimitsSlot;

typedef enum LimitKind {
        LIMIT_MEMORY,
        LIMIT_TASKS,
        LIMIT_CPU,
        _LIMIT_KIND_MAX,
} LimitKind;

/* How a limit was applied: the strings are the report's "applied" layers. */
typedef enum LimitsVia {
        LIMITS_VIA_NONE,
        LIMITS_VIA_CGROUP_V2,
        LIMITS_VIA_CGROUP_V1_MEMORY,
        LIMITS_VIA_CGROUP_V1_PIDS,
        LIMITS_VIA_CGROUP_V1_CPU,
        LIMITS_VIA_RLIMIT_AS,
        LIMITS_VIA_RLIMIT_NPROC,
        LIMITS_VIA_NICE,
        LIMITS_VIA_SCOPE,
        _LIMITS_VIA_MAX,
} LimitsVia;

static const char *const limits_via_table[_LIMITS_VIA_MAX] = {
        [LIMITS_VIA_NONE] = "none",
        [LIMITS_VIA_CGROUP_V2] = "cgroup-v2",
        [LIMITS_VIA_CGROUP_V1_MEMORY] = "cgroup-v1-memory",
        [LIMITS_VIA_CGROUP_V1_PIDS] = "cgroup-v1-pids",
        [LIMITS_VIA_CGROUP_V1_CPU] = "cgroup-v1-cpu",
        [LIMITS_VIA_RLIMIT_AS] = "rlimit-as",
        [LIMITS_VIA_RLIMIT_NPROC] = "rlimit-nproc",
        [LIMITS_VIA_NICE] = "nice",
        [LIMITS_VIA_SCOPE] = "systemd-scope",
};

static const char *const limit_key[_LIMIT_KIND_MAX] = {"memory_max", "tasks_max", "cpu_weight"};

/* At most: a missing cgroup per limit, and rlimit-nproc or nice besides. */
#define LIMITS_MISSING_MAX 6

/* How long destroy waits for killed processes to leave, and how long it naps between looks. */
#define LIMITS_DESTROY_TIMEOUT_USEC (2 * USEC_PER_SEC)
#define LIMITS_DESTROY_NAP_NSEC (2 * 1000 * 1000)
/* kill() passes over a group until a pass finds no new pid, at most this often. */
#define LIMITS_KILL_ROUNDS 64
/* How deep destroy and kill follow groups made beneath ours (by nobody we know of, normally). */
#define LIMITS_SUBGROUP_DEPTH 8

struct SandboxLimitsGroup {
        SandboxCgroupMode mode;
        char *dirs[_LIMITS_SLOT_MAX];
        int procs_fds[_LIMITS_SLOT_MAX];
        bool destroyed;
        bool scope; /* the dirs are a systemd scope's: never joined nor removed by us */

        /* What enter_in_child applies besides joining the groups, decided by the parent. */
        bool set_as, set_nproc, set_nice;
        rlim_t as, nproc;
        int nice;

        /* The report. */
        LimitsVia via[_LIMIT_KIND_MAX];
        uint64_t effective[_LIMIT_KIND_MAX];
        struct {
                char *layer, *reason;
        } missing[LIMITS_MISSING_MAX];
        size_t n_missing;
};

SandboxLimitsGroup *sandbox_limits_group_free(SandboxLimitsGroup *g) {
        if (!g)
                return NULL;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++) {
                safe_close(g->procs_fds[i]);
                free(g->dirs[i]);
        }
        for (size_t i = 0; i < g->n_missing; i++) {
                free(g->missing[i].layer);
                free(g->missing[i].reason);
        }
        free(g);
        return NULL;
}

static int group_add_missing(SandboxLimitsGroup *g, const char *layer, const char *reason) {
        if (g->n_missing >= LIMITS_MISSING_MAX)
                return -ENOBUFS;
        g->missing[g->n_missing].layer = strdup(layer);
        g->missing[g->n_missing].reason = strdup(reason ?: "unknown");
        if (!g->missing[g->n_missing].layer || !g->missing[g->n_missing].reason) {
                g->missing[g->n_missing].layer = mfree(g->missing[g->n_missing].layer);
                g->missing[g->n_missing].reason = mfree(g->missing[g->n_missing].reason);
                return -ENOMEM;
        }
        g->n_missing++;
        return 0;
}

static int write_u64(const char *dir, const char *file, uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        return cg_write(dir, file, buf);
}

/* A group left by a supervisor that crashed is replaced when it is empty (rmdir fails otherwise). */
static int make_group(const char *parent, const char *name, char **ret) {
        _cleanup_free_ char *dir = strjoin(parent, "/" LIMITS_GROUP_PREFIX, name);

        if (!dir)
                return -ENOMEM;
        if (mkdir(dir, 0755) < 0) {
                if (errno != EEXIST)
                        return -errno;
                if (rmdir(dir) < 0)
                        return -EEXIST;
                if (mkdir(dir, 0755) < 0)
                        return -errno;
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

/* Calls f on dir and every group beneath it, children first. */
static int group_walk(const char *dir, unsigned depth, int (*f)(const char *dir, void *userdata),
                      void *userdata) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (depth < LIMITS_SUBGROUP_DEPTH) {
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return errno == ENOENT ? 0 : -errno;
                DIR *d = fdopendir(fd);
                if (!d)
                        return -errno;
                TAKE_FD(fd);
                r = 0;
                for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                        _cleanup_free_ char *sub = NULL;
                        if (de->d_type != DT_DIR || de->d_name[0] == '.')
                                continue;
                        sub = strjoin(dir, "/", de->d_name);
                        r = sub ? group_walk(sub, depth + 1, f, userdata) : -ENOMEM;
                }
                closedir(d);
                if (r < 0)
                        return r;
        }
        return f(dir, userdata);
}

static int rmdir_one(const char *dir, void *userdata) {
        (void) userdata;
        return rmdir(dir) < 0 && errno != ENOENT ? -errno : 0;
}

static int group_rmdir_tree(const char *dir, unsigned depth) {
        return group_walk(dir, depth, rmdir_one, NULL);
}

static int group_open_procs(SandboxLimitsGroup *g, LimitsSlot slot) {
        char path[PATH_MAX];

        if (snprintf(path, sizeof(path), "%s/cgroup.procs", g->dirs[slot]) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        g->procs_fds[slot] = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        return g->procs_fds[slot] < 0 ? -errno : 0;
}

static int create_v2(SandboxLimitsGroup *g, const SandboxLimitsSupport *s, const SandboxLimits *l,
                     const char *name) {
        const char *dir;
        int r;

        r = make_group(s->v2_parent, name, &g->dirs[0]);
        if (r < 0)
                return r;
        dir = g->dirs[0];
        if (l->memory_max != SANDBOX_LIMIT_UNSET) {
                r = write_u64(dir, "memory.max", l->memory_max);
                /* Without this the kernel lets a group swap out what it cannot keep in memory.max. */
                if (r >= 0 && cg_has_file(dir, "memory.swap.max"))
                        r = cg_write(dir, "memory.swap.max", "0");
                if (r >= 0)
                        r = cg_read_u64(dir, "memory.max", &g->effective[LIMIT_MEMORY]);
                if (r < 0)
                        return r;
                g->via[LIMIT_MEMORY] = LIMITS_VIA_CGROUP_V2;
        }
        if (l->tasks_max != SANDBOX_LIMIT_UNSET) {
                r = l->tasks_max > LIMITS_PIDS_MAX ? cg_write(dir, "pids.max", "max")
                                                   : write_u64(dir, "pids.max", l->tasks_max);
                if (r < 0)
                        return r;
                g->effective[LIMIT_TASKS] = l->tasks_max;
                g->via[LIMIT_TASKS] = LIMITS_VIA_CGROUP_V2;
        }
        if (l->cpu_weight != SANDBOX_LIMIT_UNSET && s->v2_cpu && cg_has_file(dir, "cpu.weight")) {
                r = write_u64(dir, "cpu.weight", l->cpu_weight);
                if (r < 0)
                        return r;
                g->effective[LIMIT_CPU] = l->cpu_weight;
                g->via[LIMIT_CPU] = LIMITS_VIA_CGROUP_V2;
        }
        return group_open_procs(g, 0);
}

static int create_v1_memory(SandboxLimitsGroup *g, uint64_t max) {
        const char *dir = g->dirs[LIMITS_SLOT_MEMORY];
        int r;

        r = write_u64(dir, "memory.limit_in_bytes", max);
        /* memory+swap: without it a v1 group swaps out what it cannot keep (it must not be lower than
         * limit_in_bytes, hence written second). */
        if (r >= 0 && cg_has_file(dir, "memory.memsw.limit_in_bytes"))
                r = write_u64(dir, "memory.memsw.limit_in_bytes", max);
        if (r >= 0)
                r = cg_read_u64(dir, "memory.limit_in_bytes", &g->effective[LIMIT_MEMORY]);
        if (r < 0)
                return r;
        g->via[LIMIT_MEMORY] = LIMITS_VIA_CGROUP_V1_MEMORY;
        return 0;
}

static int create_v1(SandboxLimitsGroup *g, const SandboxLimitsSupport *s, const SandboxLimits *l,
                     const char *name) {
        int r;

        /* memory and pids groups are made even without a limit: they are how kill() finds everything
         * the process forked. A cpu group without a weight would only change how the scheduler
         * shares time out, so it is made only for one. */
        if (s->v1_memory) {
                r = make_group(s->v1_memory, name, &g->dirs[LIMITS_SLOT_MEMORY]);
                if (r >= 0 && l->memory_max != SANDBOX_LIMIT_UNSET)
                        r = create_v1_memory(g, l->memory_max);
                if (r >= 0)
                        r = group_open_procs(g, LIMITS_SLOT_MEMORY);
                if (r < 0)
                        return r;
        }
        if (s->v1_pids) {
                r = make_group(s->v1_pids, name, &g->dirs[LIMITS_SLOT_PIDS]);
                if (r >= 0 && l->tasks_max != SANDBOX_LIMIT_UNSET) {
                        r = l->tasks_max > LIMITS_PIDS_MAX
                                    ? cg_write(g->dirs[LIMITS_SLOT_PIDS], "pids.max", "max")
                                    : write_u64(g->dirs[LIMITS_SLOT_PIDS], "pids.max", l->tasks_max);
                        g->effective[LIMIT_TASKS] = l->tasks_max;
                        g->via[LIMIT_TASKS] = LIMITS_VIA_CGROUP_V1_PIDS;
                }
                if (r >= 0)
                        r = group_open_procs(g, LIMITS_SLOT_PIDS);
                if (r < 0)
                        return r;
        }
        if (s->v1_cpu && l->cpu_weight != SANDBOX_LIMIT_UNSET) {
                /* cpu.shares 1024 is the default, as weight 100 is; the kernel's minimum is 2. */
                r = make_group(s->v1_cpu, name, &g->dirs[LIMITS_SLOT_CPU]);
                if (r >= 0)
                        r = write_u64(g->dirs[LIMITS_SLOT_CPU], "cpu.shares",
                                      MAX(l->cpu_weight * 1024 / 100, 2));
                if (r >= 0)
                        r = group_open_procs(g, LIMITS_SLOT_CPU);
                if (r < 0)
                        return r;
                g->effective[LIMIT_CPU] = l->cpu_weight;
                g->via[LIMIT_CPU] = LIMITS_VIA_CGROUP_V1_CPU;
        }
        return 0;
}

/* The rlimit the child will get: ours is inherited and an unprivileged child cannot raise its hard
 * limit, so it is the lower of the two. */
static rlim_t rlimit_effective(int resource, uint64_t want) {
        struct rlimit rl;

        if (getrlimit(resource, &rl) < 0)
                return (rlim_t) want;
        return MIN((rlim_t) want, rl.rlim_max);
}

static int fallback_memory(SandboxLimitsGroup *g, const SandboxLimitsSupport *s, uint64_t max) {
        g->set_as = true;
        g->as = rlimit_effective(RLIMIT_AS, max);
        g->effective[LIMIT_MEMORY] = g->as;
        g->via[LIMIT_MEMORY] = LIMITS_VIA_RLIMIT_AS;
        return group_add_missing(g, "cgroup-memory", s->reason_memory);
}

static int fallback_tasks(SandboxLimitsGroup *g, const SandboxLimitsSupport *s, uint64_t max) {
        int r;

        /* Set even where the kernel ignores it (uid 0): it takes hold as soon as the process runs
         * as another user. */
        g->set_nproc = true;
        g->nproc = rlimit_effective(RLIMIT_NPROC, max);
        r = group_add_missing(g, "cgroup-pids", s->reason_pids);
        if (r < 0)
                return r;
        if (getuid() == 0)
                return group_add_missing(g, "rlimit-nproc",
                                         "Linux does not enforce RLIMIT_NPROC for processes of uid 0");
        g->effective[LIMIT_TASKS] = g->nproc;
        g->via[LIMIT_TASKS] = LIMITS_VIA_RLIMIT_NPROC;
        return 0;
}

static int fallback_cpu(SandboxLimitsGroup *g, const SandboxLimitsSupport *s, uint64_t weight) {
        int r, nice = limits_weight_to_nice(weight);

        r = group_add_missing(g, "cgroup-cpu", s->reason_cpu);
        if (r < 0)
                return r;
        if (nice < 0)
                return group_add_missing(g, "nice",
                                         "a cpu_weight above the default needs a negative nice value, which "
                                         "takes CAP_SYS_NICE: confined processes do not keep it");
        g->set_nice = true;
        g->nice = nice;
        g->effective[LIMIT_CPU] = weight;
        g->via[LIMIT_CPU] = LIMITS_VIA_NICE;
        return 0;
}

static int create_fallbacks(SandboxLimitsGroup *g, const SandboxLimitsSupport *s, const SandboxLimits *l) {
        int r = 0;

        if (l->memory_max != SANDBOX_LIMIT_UNSET && g->via[LIMIT_MEMORY] == LIMITS_VIA_NONE)
                r = fallback_memory(g, s, l->memory_max);
        if (r >= 0 && l->tasks_max != SANDBOX_LIMIT_UNSET && g->via[LIMIT_TASKS] == LIMITS_VIA_NONE)
                r = fallback_tasks(g, s, l->tasks_max);
        if (r >= 0 && l->cpu_weight != SANDBOX_LIMIT_UNSET && g->via[LIMIT_CPU] == LIMITS_VIA_NONE)
                r = fallback_cpu(g, s, l->cpu_weight);
        return r;
}

int sandbox_limits_create(const SandboxLimitsSupport *s, const SandboxLimits *limits, const char *name,
                          SandboxLimitsGroup **ret) {
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g = NULL;
        int r = 0;

        assert_return(s && limits && ret, -EINVAL);
        assert_return(limits_name_is_valid(name), -EINVAL);
        assert_return(limits->cpu_weight == SANDBOX_LIMIT_UNSET ||
                              (limits->cpu_weight >= 1 && limits->cpu_weight <= 10000),
                      -EINVAL);

        g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                g->procs_fds[i] = -EBADF;
        g->mode = s->mode;

        if (s->mode == SANDBOX_CGROUP_V2 && s->v2_parent)
                r = create_v2(g, s, limits, name);
        else if (s->mode == SANDBOX_CGROUP_V1)
                r = create_v1(g, s, limits, name);
        if (r >= 0)
                r = create_fallbacks(g, s, limits);
        if (r < 0) {
                for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                        if (g->dirs[i])
                                (void) group_rmdir_tree(g->dirs[i], 0);
                return r;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

bool sandbox_limits_has_cgroup(const SandboxLimitsGroup *g) {
        if (!g || g->destroyed)
                return false;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                if (g->dirs[i])
                        return true;
        return false;
}

/* Never raises a limit: the lower of ours and the inherited hard limit, as rlimit_effective(). */
static int child_set_rlimit(int resource, rlim_t v) {
        struct rlimit rl;

        if (getrlimit(resource, &rl) < 0)
                return -errno;
        rl.rlim_max = MIN(rl.rlim_max, v);
        rl.rlim_cur = rl.rlim_max;
        return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

int sandbox_limits_join_in_child(const SandboxLimitsGroup *g) {
        if (!g)
                return 0;
        /* "0" is the writing process itself; cgroup.procs moves the whole thread group. */
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                if (g->procs_fds[i] >= 0 && write(g->procs_fds[i], "0", 1) != 1)
                        return -errno;
        return 0;
}

int sandbox_limits_place(const SandboxLimitsGroup *g, pid_t pid) {
        char buf[16];
        int n, placed = 0;

        if (!g)
                return 0;
        n = snprintf(buf, sizeof(buf), "%d", (int) pid);
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++) {
                if (g->procs_fds[i] < 0)
                        continue;
                if (write(g->procs_fds[i], buf, (size_t) n) != n)
                        return -errno;
                placed = 1;
        }
        return placed;
}

int sandbox_limits_set_rlimits_in_child(const SandboxLimitsGroup *g) {
        int r;

        if (!g)
                return 0;
        if (g->set_as) {
                r = child_set_rlimit(RLIMIT_AS, g->as);
                if (r < 0)
                        return r;
        }
        if (g->set_nproc) {
                r = child_set_rlimit(RLIMIT_NPROC, g->nproc);
                if (r < 0)
                        return r;
        }
        if (g->set_nice) {
                /* Only ever lower the priority: a niced supervisor's children keep at least its nice
                 * value, and lowering a nice value takes a capability. */
                errno = 0;
                int cur = getpriority(PRIO_PROCESS, 0);
                if ((cur == -1 && errno != 0) || cur < g->nice)
                        if (setpriority(PRIO_PROCESS, 0, g->nice) < 0)
                                return -errno;
        }
        return 0;
}

int sandbox_limits_enter_in_child(const SandboxLimitsGroup *g) {
        int r = sandbox_limits_join_in_child(g);
        return r < 0 ? r : sandbox_limits_set_rlimits_in_child(g);
}

static int json_array_add_unique(json_t *a, const char *s) {
        size_t i;
        json_t *v;

        json_array_foreach(a, i, v) {
                if (json_is_string(v) && streq(json_string_value(v), s))
                        return 0;
        }
        return json_array_append_new(a, json_string(s)) < 0 ? -ENOMEM : 0;
}

int sandbox_limits_report(const SandboxLimitsGroup *g, json_t *applied, json_t *missing, json_t *limits) {
        _cleanup_(json_decrefp) json_t *via = NULL;
        int r;

        assert_return(g, -EINVAL);

        via = json_object();
        if (!via)
                return -ENOMEM;
        for (size_t k = 0; k < _LIMIT_KIND_MAX; k++) {
                if (g->via[k] == LIMITS_VIA_NONE)
                        continue;
                const char *name = limits_via_table[g->via[k]];
                if (applied) {
                        r = json_array_add_unique(applied, name);
                        if (r < 0)
                                return r;
                }
                if (json_object_set_new(via, limit_key[k], json_string(name)) < 0 ||
                    (limits && json_object_set_new(limits, limit_key[k],
                                                   json_integer((json_int_t) MIN(
                                                           g->effective[k], (uint64_t) INT64_MAX))) < 0))
                        return -ENOMEM;
        }
        for (size_t i = 0; missing && i < g->n_missing; i++)
                if (json_array_append_new(missing, json_pack("{s:s, s:s}", "layer", g->missing[i].layer,
                                                             "reason", g->missing[i].reason)) < 0)
                        return -ENOMEM;
        if (limits && g->set_nice && json_object_set_new(limits, "nice", json_integer(g->nice)) < 0)
                return -ENOMEM;
        if (limits && json_object_set(limits, "via", via) < 0)
                return -ENOMEM;
        return 0;
}

/* pids we signalled already, kept sorted for lookup. */
typedef struct PidSet {
        pid_t *pids;
        size_t n, allocated;
} PidSet;

static int pid_cmp(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

/* The first n_sorted entries are sorted (earlier rounds), the rest were added in this round. */
static bool pid_set_contains(const PidSet *s, size_t n_sorted, pid_t p) {
        if (n_sorted > 0 && bsearch(&p, s->pids, n_sorted, sizeof(pid_t), pid_cmp))
                return true;
        for (size_t i = n_sorted; i < s->n; i++)
                if (s->pids[i] == p)
                        return true;
        return false;
}

static int pid_set_add_unsorted(PidSet *s, pid_t p) {
        if (s->n >= s->allocated) {
                size_t n = MAX(s->allocated * 2, (size_t) 64);
                pid_t *t = reallocarray(s->pids, n, sizeof(pid_t));
                if (!t)
                        return -ENOMEM;
                s->pids = t;
                s->allocated = n;
        }
        s->pids[s->n++] = p;
        return 0;
}

/* Signals the pids in one group's cgroup.procs that are not in `done` yet; returns how many. */
static int kill_procs_file(const char *dir, int sig, PidSet *done, size_t n_sorted) {
        _cleanup_free_ char *text = NULL;
        int r, n = 0;

        r = cg_read(dir, "cgroup.procs", LIMITS_PROCS_FILE_MAX, &text);
        if (r == -ENOENT || r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        for (char *p = text, *end; *p; p = end) {
                long v = strtol(p, &end, 10);
                if (end == p)
                        break;
                end += strspn(end, "\n");
                if (v <= 0 || v > INT_MAX)
                        continue;
                if (pid_set_contains(done, n_sorted, (pid_t) v))
                        continue;
                /* ESRCH: it exited between the read and now, which is what we want anyway. */
                if (kill((pid_t) v, sig) < 0 && errno != ESRCH)
                        return -errno;
                r = pid_set_add_unsorted(done, (pid_t) v);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

typedef struct KillPass {
        int sig;
        PidSet done;
        size_t n_sorted;
        int signalled;
} KillPass;

static int kill_pass_one(const char *dir, void *userdata) {
        KillPass *k = userdata;
        int r = kill_procs_file(dir, k->sig, &k->done, k->n_sorted);

        if (r < 0)
                return r;
        k->signalled += r;
        return 0;
}

int sandbox_limits_kill(SandboxLimitsGroup *g, int sig) {
        KillPass k = {.sig = sig};
        int r = 0, total = 0;

        assert_return(g, -EINVAL);
        if (!sandbox_limits_has_cgroup(g))
                return 0;

        /* cgroup.kill reaches every process beneath, forking or not, in one step (Linux 5.14). */
        if (g->mode == SANDBOX_CGROUP_V2 && sig == SIGKILL && cg_has_file(g->dirs[0], "cgroup.kill"))
                return cg_write(g->dirs[0], "cgroup.kill", "1");

        for (unsigned round = 0; round < LIMITS_KILL_ROUNDS; round++) {
                k.signalled = 0;
                for (size_t i = 0; r >= 0 && i < _LIMITS_SLOT_MAX; i++)
                        if (g->dirs[i])
                                r = group_walk(g->dirs[i], 0, kill_pass_one, &k);
                if (r < 0)
                        break;
                total += k.signalled;
                if (k.signalled == 0)
                        break;
                qsort(k.done.pids, k.done.n, sizeof(pid_t), pid_cmp);
                k.n_sorted = k.done.n;
        }
        free(k.done.pids);
        return r < 0 ? r : total;
}

static int procs_empty_one(const char *dir, void *userdata) {
        _cleanup_free_ char *text = NULL;
        int r;

        (void) userdata;
        r = cg_read(dir, "cgroup.procs", LIMITS_PROCS_FILE_MAX, &text);
        if (r == -ENOENT || r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        return text[0] == 0 ? 0 : -EBUSY;
}

static int group_remove(SandboxLimitsGroup *g) {
        int r;

        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++) {
                if (!g->dirs[i])
                        continue;
                r = group_walk(g->dirs[i], 0, procs_empty_one, NULL);
                /* A scope's groups are its manager's to remove, once we stopped it. */
                if (r >= 0 && !g->scope)
                        r = group_rmdir_tree(g->dirs[i], 0);
                if (r < 0)
                        return r;
                g->dirs[i] = mfree(g->dirs[i]);
        }
        return 0;
}

/* The usual case, after the process and everything it forked have exited: the groups are empty and
 * removing them is all there is to do. rmdir() refuses a group that still holds a process or a group
 * (EBUSY), so a success proves there was nothing left to kill; on the first refusal the caller goes
 * the long way (kill, wait, walk). Saves reading every group's cgroup.procs and listing its
 * directory three times per process (docs/performance.md). */
static bool group_remove_empty(SandboxLimitsGroup *g) {
        if (g->scope)
                return false;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++) {
                if (!g->dirs[i])
                        continue;
                if (rmdir(g->dirs[i]) < 0)
                        return false;
                g->dirs[i] = mfree(g->dirs[i]);
        }
        return true;
}

int sandbox_limits_destroy(SandboxLimitsGroup *g) {
        usec_t deadline;
        int r;

        assert_return(g, -EINVAL);
        if (g->destroyed)
                return 0;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                g->procs_fds[i] = safe_close(g->procs_fds[i]);
        if (group_remove_empty(g)) {
                g->destroyed = true;
                return 0;
        }

        deadline = now_usec(CLOCK_MONOTONIC) + LIMITS_DESTROY_TIMEOUT_USEC;
        for (;;) {
                r = sandbox_limits_kill(g, SIGKILL);
                if (r >= 0)
                        r = group_remove(g);
                if (r >= 0)
                        break;
                /* SIGKILLed processes take a moment to leave; rmdir says EBUSY until they have. */
                if (r != -EBUSY || now_usec(CLOCK_MONOTONIC) >= deadline)
                        return r;
                (void) nanosleep(&(struct timespec){.tv_nsec = LIMITS_DESTROY_NAP_NSEC}, NULL);
        }
        g->destroyed = true;
        return 0;
}

/* The value a scope's manager wrote for limit k, read back from the group's file: the report says
 * what holds, not what was asked for. 1 and the value when it holds, 0 with a reason when not. */
static int scope_read_limit(const SandboxLimitsGroup *g, LimitKind k, uint64_t want, uint64_t *ret,
                            char **ret_reason) {
        static const char *const v1_files[_LIMIT_KIND_MAX] = {"memory.limit_in_bytes", "pids.max",
                                                              "cpu.shares"};
        static const char *const v2_files[_LIMIT_KIND_MAX] = {"memory.max", "pids.max", "cpu.weight"};
        static const LimitsSlot slots[_LIMIT_KIND_MAX] = {LIMITS_SLOT_MEMORY, LIMITS_SLOT_PIDS,
                                                          LIMITS_SLOT_CPU};
        const char *dir = g->dirs[g->mode == SANDBOX_CGROUP_V2 ? 0 : slots[k]];
        const char *file = (g->mode == SANDBOX_CGROUP_V2 ? v2_files : v1_files)[k];
        uint64_t v, expect = want, page = (uint64_t) sysconf(_SC_PAGESIZE);
        int r;

        if (!dir)
                return asprintf_safe(ret_reason, "the scope has no group in the %s hierarchy",
                                     k == LIMIT_MEMORY  ? "memory"
                                     : k == LIMIT_TASKS ? "pids"
                                                        : "cpu") < 0
                               ? -ENOMEM
                               : 0;
        r = cg_read_u64(dir, file, &v);
        if (r < 0)
                return asprintf_safe(ret_reason, "cannot read %s/%s: %s", dir, file, strerror(-r)) < 0
                               ? -ENOMEM
                               : 0;
        /* systemd turns a weight into shares as we do (weight 100 = 1024 shares), and the kernel
         * rounds a memory limit down to a page. */
        if (k == LIMIT_CPU && g->mode != SANDBOX_CGROUP_V2)
                expect = MAX(want * 1024 / 100, 2);
        if (k == LIMIT_TASKS && want > LIMITS_PIDS_MAX)
                expect = UINT64_MAX;
        if (v == expect || (k == LIMIT_MEMORY && v <= want && want - v < page)) {
                *ret = k == LIMIT_MEMORY ? v : want;
                return 1;
        }
        return asprintf_safe(ret_reason, "%s/%s reads %" PRIu64 ", not %" PRIu64, dir, file, v, expect) < 0
                       ? -ENOMEM
                       : 0;
}

int sandbox_limits_adopt_scope(SandboxLimitsGroup *g, const SandboxLimits *l, SandboxCgroupMode mode,
                               char *dirs[static _LIMITS_SLOT_MAX]) {
        const uint64_t want[_LIMIT_KIND_MAX] = {l->memory_max, l->tasks_max, l->cpu_weight};
        int r;

        assert_return(g && l && dirs, -EINVAL);
        assert_return(mode == SANDBOX_CGROUP_V1 || mode == SANDBOX_CGROUP_V2, -EINVAL);

        /* The fallback nobody joined: its groups are empty. */
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++) {
                g->procs_fds[i] = safe_close(g->procs_fds[i]);
                if (g->dirs[i])
                        (void) group_rmdir_tree(g->dirs[i], 0);
                g->dirs[i] = mfree(g->dirs[i]);
        }
        for (size_t i = 0; i < g->n_missing; i++) {
                g->missing[i].layer = mfree(g->missing[i].layer);
                g->missing[i].reason = mfree(g->missing[i].reason);
        }
        g->n_missing = 0;
        g->set_as = g->set_nproc = g->set_nice = false;

        g->mode = mode;
        g->scope = true;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                g->dirs[i] = TAKE_PTR(dirs[i]);

        for (LimitKind k = 0; k < _LIMIT_KIND_MAX; k++) {
                static const char *const layer[_LIMIT_KIND_MAX] = {
                        "systemd-scope-memory", "systemd-scope-pids", "systemd-scope-cpu"};
                _cleanup_free_ char *reason = NULL;

                g->via[k] = LIMITS_VIA_NONE;
                g->effective[k] = 0;
                if (want[k] == SANDBOX_LIMIT_UNSET)
                        continue;
                r = scope_read_limit(g, k, want[k], &g->effective[k], &reason);
                if (r < 0)
                        return r;
                if (r > 0) {
                        g->via[k] = LIMITS_VIA_SCOPE;
                        continue;
                }
                r = group_add_missing(g, layer[k], reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

const char *sandbox_limits_cgroup_kind(const SandboxLimitsGroup *g) {
        if (!sandbox_limits_has_cgroup(g))
                return "none";
        if (g->scope)
                return "systemd-scope";
        return sandbox_cgroup_mode_to_string(g->mode);
}

const char *sandbox_limits_cgroup_dir(const SandboxLimitsGroup *g) {
        if (!sandbox_limits_has_cgroup(g))
                return NULL;
        for (size_t i = 0; i < _LIMITS_SLOT_MAX; i++)
                if (g->dirs[i])
                        return g->dirs[i];
        return NULL;
}

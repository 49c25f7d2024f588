/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The limits layer on this machine, whichever of cgroup v2, cgroup v1 and rlimits it gives us: a
 * child joins the group and sees the limits, a fork bomb gets EAGAIN at the tasks limit, a memory hog
 * is OOM-killed (or gets ENOMEM under RLIMIT_AS), kill() and destroy() leave nothing behind. Passes as
 * root and as an unprivileged user (the integration tests run it both ways). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "json/json-util.h"
#include "paths/paths.h"
#include "sandbox/limits-internal.h"

#define MIB (UINT64_C(1024) * 1024)
/* The limits every case asks for (DESIGN's Spawn options). */
#define TEST_MEMORY (64 * MIB)
#define TEST_TASKS 8
#define TEST_WEIGHT 50
#define TEST_NICE 3 /* the nice value closest to weight 50 */

/* Detected once in the main process: on v2 that moves the test into a leaf, which every case forked
 * from it then shares, as the supervisor's children do. */
static SandboxLimitsSupport support;
static pid_t main_pid;
static bool userns_available;
/* TCase names carrying "# SKIP reason" (the TAP directive), kept for the life of the runner. */
static char *skip_names[4];

static const SandboxLimits test_limits = {
        .memory_max = TEST_MEMORY,
        .tasks_max = TEST_TASKS,
        .cpu_weight = TEST_WEIGHT,
};

/* Group names unique to this run, so parallel runs (normal and sanitizer builds) do not collide and
 * the main process can remove what a failed case left. */
static const char *group_name(const char *what) {
        static char buf[64];
        snprintf(buf, sizeof(buf), "test-%d-%s", (int) main_pid, what);
        return buf;
}

static void setup(void) {
        /* Orphans of the probes (a fork bomb's children) are reparented to this process, which reaps
         * them: nothing outlives a case. */
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

static void reap_all(void) {
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
}

/* What a probe tells its parent over a pipe. */
typedef struct ProbeResult {
        int enter; /* sandbox_limits_enter_in_child() */
        int error; /* errno of the probe's own step, 0 if it succeeded */
        int count; /* how many times it succeeded */
} ProbeResult;

typedef void (*ProbeFunc)(ProbeResult *r, int arg);

typedef struct Probe {
        pid_t pid;
        int result_fd; /* read end: one ProbeResult */
        int go_fd; /* write end: closing it releases a probe waiting in probe_wait_for_parent() */
} Probe;

static int probe_go_fd = -EBADF;

/* Runs in the child: blocks until the parent closes its end. */
static void probe_wait_for_parent(void) {
        char c;
        while (read(probe_go_fd, &c, 1) < 0 && errno == EINTR)
                ;
}

static void probe_pause(ProbeResult *r, int arg) {
        (void) r;
        (void) arg;
}

/* Forks `arg` children that wait for the parent: a small tree to kill. */
static void probe_fork_sleepers(ProbeResult *r, int arg) {
        for (int i = 0; i < arg; i++) {
                pid_t p = fork();
                if (p < 0) {
                        r->error = errno;
                        return;
                }
                if (p == 0) {
                        probe_wait_for_parent();
                        pause();
                        _exit(0);
                }
                r->count++;
        }
}

/* Forks until fork fails; each child sleeps until killed. */
static void probe_fork_bomb(ProbeResult *r, int arg) {
        for (int i = 0; i < arg; i++) {
                pid_t p = fork();
                if (p < 0) {
                        r->error = errno;
                        return;
                }
                if (p == 0) {
                        for (;;)
                                pause();
                }
                r->count++;
        }
}

/* Maps `arg` MiB and touches every page. The raw syscall bypasses sanitizer interceptors, which
 * would rather abort than return ENOMEM. */
static void probe_memory_hog(ProbeResult *r, int arg) {
        size_t size = (size_t) arg * MIB;
        long page = sysconf(_SC_PAGESIZE);
        long p = syscall(SYS_mmap, NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == -1) {
                r->error = errno;
                return;
        }
        for (size_t off = 0; off < size; off += (size_t) page)
                ((volatile char *) (uintptr_t) p)[off] = 1;
        r->count = arg;
}

/* How the probe enters: as sandbox_enter_in_child() does by default, or with a user namespace made
 * between joining the groups and setting the rlimits. */
typedef enum ProbeEnter {
        PROBE_ENTER,
        PROBE_ENTER_USERNS,
} ProbeEnter;

static int probe_enter(const SandboxLimitsGroup *g, ProbeEnter how) {
        int r;

        if (how == PROBE_ENTER)
                return sandbox_limits_enter_in_child(g);
        r = sandbox_limits_join_in_child(g);
        if (r < 0)
                return r;
        if (unshare(CLONE_NEWUSER) < 0)
                return -errno;
        return sandbox_limits_set_rlimits_in_child(g);
}

static Probe probe_start_how(const SandboxLimitsGroup *g, ProbeEnter how, ProbeFunc f, int arg) {
        int result[2], go[2];
        Probe p;

        ck_assert_int_eq(pipe2(result, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
        p.pid = fork();
        ck_assert_int_ge(p.pid, 0);
        if (p.pid == 0) {
                ProbeResult r = {};

                safe_close(result[0]);
                safe_close(go[1]);
                probe_go_fd = go[0];
                /* check's handlers would pass a SIGTERM on to the test's process group. */
                for (int sig = 1; sig < _NSIG; sig++)
                        if (sig != SIGKILL && sig != SIGSTOP)
                                (void) signal(sig, SIG_DFL);
                /* Its own process group, so the test can kill a tree that no cgroup holds. */
                (void) setpgid(0, 0);
                r.enter = probe_enter(g, how);
                if (r.enter >= 0)
                        f(&r, arg);
                if (write(result[1], &r, sizeof(r)) != sizeof(r))
                        _exit(2);
                probe_wait_for_parent();
                _exit(0);
        }
        safe_close(result[1]);
        safe_close(go[0]);
        p.result_fd = result[0];
        p.go_fd = go[1];
        return p;
}

static Probe probe_start(const SandboxLimitsGroup *g, ProbeFunc f, int arg) {
        return probe_start_how(g, PROBE_ENTER, f, arg);
}

static ProbeResult probe_result(const Probe *p) {
        ProbeResult r;

        ck_assert_int_eq(loop_read(p->result_fd, &r, sizeof(r)), sizeof(r));
        ck_assert_msg(r.enter == 0, "sandbox_limits_enter_in_child: %s", strerror(-r.enter));
        return r;
}

/* Releases the probe and its children, then kills the rest of its process group (what a fork bomb
 * left when no cgroup holds it), and reaps everything. Returns the probe's wait status. */
static int probe_finish(Probe *p) {
        int status;

        p->go_fd = safe_close(p->go_fd);
        p->result_fd = safe_close(p->result_fd);
        ck_assert_int_eq(waitpid(p->pid, &status, 0), p->pid);
        (void) kill(-p->pid, SIGKILL);
        reap_all();
        return status;
}

static SandboxLimitsGroup *create_ok(const SandboxLimitsSupport *s, const SandboxLimits *l,
                                     const char *what) {
        SandboxLimitsGroup *g = NULL;
        int r = sandbox_limits_create(s, l, group_name(what), &g);

        ck_assert_msg(r == 0, "sandbox_limits_create(%s): %s", group_name(what), strerror(-r));
        ck_assert_ptr_nonnull(g);
        return g;
}

/* The group directories this case's group would have, by slot (v2: only the first). */
static void group_dirs(const char *what, char *ret[static 3]) {
        const char *parents[3] = {};

        if (support.mode == SANDBOX_CGROUP_V2)
                parents[0] = support.v2_parent;
        else if (support.mode == SANDBOX_CGROUP_V1) {
                parents[0] = support.v1_memory;
                parents[1] = support.v1_pids;
                parents[2] = support.v1_cpu;
        }
        for (size_t i = 0; i < 3; i++) {
                ret[i] = NULL;
                if (parents[i])
                        ck_assert_int_eq(
                                asprintf_safe(&ret[i], "%s/troupe-%s", parents[i], group_name(what)), 0);
        }
}

static void free_dirs(char *d[static 3]) {
        for (size_t i = 0; i < 3; i++)
                d[i] = mfree(d[i]);
}

static bool dir_exists(const char *p) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool procs_empty(const char *dir) {
        _cleanup_free_ char *text = NULL;

        if (!dir_exists(dir)) /* a cpu group is made only for a weight */
                return true;
        ck_assert_int_eq(cg_read(dir, "cgroup.procs", LIMITS_PROCS_FILE_MAX, &text), 0);
        return text[0] == 0;
}

static void assert_file_u64(const char *dir, const char *file, uint64_t want) {
        uint64_t v;
        int r = cg_read_u64(dir, file, &v);

        ck_assert_msg(r == 0, "%s/%s: %s", dir, file, strerror(-r));
        ck_assert_msg(v == want, "%s/%s is %" PRIu64 ", want %" PRIu64, dir, file, v, want);
}

static bool json_array_has_string(json_t *a, const char *s) {
        size_t i;
        json_t *v;

        json_array_foreach(a, i, v) {
                if (streq(json_string_value(v) ?: "", s))
                        return true;
        }
        return false;
}

static json_t *missing_layer(json_t *missing, const char *layer) {
        size_t i;
        json_t *v;

        json_array_foreach(missing, i, v) {
                if (streq(json_string_value(json_object_get(v, "layer")) ?: "", layer))
                        return v;
        }
        return NULL;
}

typedef struct Report {
        json_t *applied, *missing, *limits;
} Report;

static void report_done(Report *r) {
        json_decref(r->applied);
        json_decref(r->missing);
        json_decref(r->limits);
}

static void report_get(const SandboxLimitsGroup *g, Report *ret) {
        *ret = (Report){json_array(), json_array(), json_object()};
        ck_assert(ret->applied && ret->missing && ret->limits);
        ck_assert_int_eq(sandbox_limits_report(g, ret->applied, ret->missing, ret->limits), 0);
}

static const char *report_via(const Report *r, const char *key) {
        return json_string_value(json_object_get(json_object_get(r->limits, "via"), key));
}

/* The layer each limit must get from `s` (NULL: none, it is missing). */
static const char *expected_via(const SandboxLimitsSupport *s, const char *key) {
        bool v2 = s->mode == SANDBOX_CGROUP_V2;

        if (streq(key, "memory_max"))
                return v2 ? "cgroup-v2" : s->v1_memory ? "cgroup-v1-memory" : "rlimit-as";
        if (streq(key, "tasks_max"))
                return v2              ? "cgroup-v2"
                       : s->v1_pids    ? "cgroup-v1-pids"
                       : getuid() == 0 ? NULL
                                       : "rlimit-nproc";
        return v2 && s->v2_cpu ? "cgroup-v2" : s->v1_cpu ? "cgroup-v1-cpu" : "nice";
}

/* The report names the layer and the value for each limit, and every limit without a cgroup is
 * listed as missing. */
static void assert_report(const SandboxLimitsGroup *g, const SandboxLimitsSupport *s) {
        static const char *const keys[] = {"memory_max", "tasks_max", "cpu_weight"};
        static const char *const cgroup_layer[] = {"cgroup-memory", "cgroup-pids", "cgroup-cpu"};
        const uint64_t values[] = {TEST_MEMORY, TEST_TASKS, TEST_WEIGHT};
        _cleanup_(report_done) Report r = {};

        report_get(g, &r);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *want = expected_via(s, keys[i]);

                if (!want) {
                        ck_assert_ptr_null(report_via(&r, keys[i]));
                        ck_assert_ptr_null(json_object_get(r.limits, keys[i]));
                        ck_assert_ptr_nonnull(missing_layer(r.missing, "rlimit-nproc"));
                } else {
                        ck_assert_str_eq(strna(report_via(&r, keys[i])), want);
                        ck_assert(json_array_has_string(r.applied, want));
                        ck_assert_int_eq(json_integer_value(json_object_get(r.limits, keys[i])), values[i]);
                }
                if (!startswith(want ?: "", "cgroup-"))
                        ck_assert_ptr_nonnull(missing_layer(r.missing, cgroup_layer[i]));
                else
                        ck_assert_ptr_null(missing_layer(r.missing, cgroup_layer[i]));
        }
        if (streq(expected_via(s, "cpu_weight"), "nice"))
                ck_assert_int_eq(json_integer_value(json_object_get(r.limits, "nice")), TEST_NICE);
}

START_TEST(test_parse_proc_cgroup) {
        static const char hybrid[] = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n"
                                     "2:cpu,cpuacct:/a b\n0::/user.slice/x.service\n";
        _cleanup_free_ char *p = NULL, *q = NULL, *v2 = NULL, *sys = NULL;

        ck_assert_int_eq(limits_parse_proc_cgroup(hybrid, "memory", &p), 0);
        ck_assert_str_eq(p, "/process_api/abc");
        ck_assert_int_eq(limits_parse_proc_cgroup(hybrid, "cpu", &q), 0);
        ck_assert_str_eq(q, "/a b");
        ck_assert_int_eq(limits_parse_proc_cgroup(hybrid, NULL, &v2), 0);
        ck_assert_str_eq(v2, "/user.slice/x.service");
        ck_assert_int_eq(limits_parse_proc_cgroup(hybrid, "name=systemd", &sys), 0);
        ck_assert_str_eq(sys, "/");
        {
                char *x = NULL;
                ck_assert_int_eq(limits_parse_proc_cgroup(hybrid, "cpuacc", &x), -ENOENT);
                ck_assert_int_eq(limits_parse_proc_cgroup(hybrid, "blkio", &x), -ENOENT);
                ck_assert_int_eq(limits_parse_proc_cgroup("1:memory:/\n", NULL, &x), -ENOENT);
                ck_assert_int_eq(limits_parse_proc_cgroup("", NULL, &x), -ENOENT);
                /* Outside our cgroup namespace: no mount shows it. */
                ck_assert_int_eq(limits_parse_proc_cgroup("0::/../../other\n", NULL, &x), -ENOENT);
                ck_assert_int_eq(limits_parse_proc_cgroup("0::/..\n", NULL, &x), -ENOENT);
                ck_assert_int_eq(limits_parse_proc_cgroup("0::relative\n", NULL, &x), -ENOENT);
                ck_assert_ptr_null(x);
        }
        {
                _cleanup_free_ char *y = NULL;
                ck_assert_int_eq(limits_parse_proc_cgroup("0::/a..b/..c\n", NULL, &y), 0);
                ck_assert_str_eq(y, "/a..b/..c");
        }
}
END_TEST

START_TEST(test_parse_mountinfo) {
        static const char text[] =
                "22 1 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
                "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 master:2 - cgroup cgroup "
                "rw,cpu,cpuacct\n"
                "34 30 0:31 /outer /mnt/my\\040mem rw,relatime - cgroup cgroup rw,memory\n"
                "40 30 0:37 / /elsewhere rw,relatime - cgroup2 cgroup2 rw\n"
                "41 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
                "42 30 0:38 / /broken rw - cgroup\n";
        _cleanup_free_ char *mp = NULL, *root = NULL, *mp2 = NULL, *root2 = NULL, *mp3 = NULL, *root3 = NULL;

        ck_assert_int_eq(limits_parse_mountinfo(text, NULL, &mp, &root), 0);
        ck_assert_str_eq(mp, "/sys/fs/cgroup/unified");
        ck_assert_str_eq(root, "/");
        ck_assert_int_eq(limits_parse_mountinfo(text, "cpu", &mp2, &root2), 0);
        ck_assert_str_eq(mp2, "/sys/fs/cgroup/cpu,cpuacct");
        ck_assert_int_eq(limits_parse_mountinfo(text, "memory", &mp3, &root3), 0);
        ck_assert_str_eq(mp3, "/mnt/my mem");
        ck_assert_str_eq(root3, "/outer");
        {
                char *a = NULL, *b = NULL;
                ck_assert_int_eq(limits_parse_mountinfo(text, "pids", &a, &b), -ENOENT);
                ck_assert_int_eq(limits_parse_mountinfo("", NULL, &a, &b), -ENOENT);
                ck_assert_ptr_null(a);
        }
        {
                _cleanup_free_ char *a = NULL, *b = NULL;
                ck_assert_int_eq(limits_parse_mountinfo("1 0 0:1 / /sys/fs/cgroup rw - cgroup2 none rw\n"
                                                        "2 0 0:1 / /other rw - cgroup2 none rw\n",
                                                        NULL, &a, &b),
                                 0);
                ck_assert_str_eq(a, "/sys/fs/cgroup");
        }
}
END_TEST

START_TEST(test_cgroup_dir_and_helpers) {
        struct {
                const char *mp, *root, *path, *want;
        } cases[] = {
                {"/sys/fs/cgroup", "/", "/", "/sys/fs/cgroup"},
                {"/sys/fs/cgroup", "/", "/a/b", "/sys/fs/cgroup/a/b"},
                {"/m", "/outer", "/outer", "/m"},
                {"/m", "/outer", "/outer/in", "/m/in"},
                {"/m", "/outer", "/outerx/in", NULL},
                {"/m", "/outer", "/", NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *d = NULL;
                int r = limits_cgroup_dir(cases[i].mp, cases[i].root, cases[i].path, &d);
                if (cases[i].want) {
                        ck_assert_int_eq(r, 0);
                        ck_assert_str_eq(d, cases[i].want);
                } else
                        ck_assert_int_eq(r, -ENOENT);
        }

        ck_assert_int_eq(limits_weight_to_nice(100), 0);
        ck_assert_int_eq(limits_weight_to_nice(TEST_WEIGHT), TEST_NICE);
        ck_assert_int_eq(limits_weight_to_nice(1), 19);
        ck_assert_int_eq(limits_weight_to_nice(10000), -20);
        ck_assert_int_eq(limits_weight_to_nice(200), -3);

        ck_assert(limits_list_contains("cpu memory pids\n", "pids", " \n"));
        ck_assert(!limits_list_contains("cpu memory pids", "mem", " "));
        ck_assert(!limits_list_contains("", "cpu", " "));
        ck_assert(limits_list_contains("rw,cpu,cpuacct", "cpuacct", ","));

        ck_assert_str_eq(sandbox_cgroup_mode_to_string(SANDBOX_CGROUP_V1), "cgroup-v1");
        ck_assert_int_eq(sandbox_cgroup_mode_from_string("cgroup-v2"), SANDBOX_CGROUP_V2);
        ck_assert_int_eq(sandbox_cgroup_mode_from_string("v3"), -EINVAL);
}
END_TEST

START_TEST(test_names_refused) {
        static const char *const bad[] = {"", "a/b", "..", ".", "a b", "name\n", "caf\xc3\xa9", "a.b", "*"};
        SandboxLimitsSupport none = {};
        SandboxLimits l = SANDBOX_LIMITS_UNSET;
        char long_name[LIMITS_NAME_MAX + 2];
        SandboxLimitsGroup *g = NULL;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_int_eq(sandbox_limits_create(&support, &l, bad[i], &g), -EINVAL);
                ck_assert_int_eq(sandbox_limits_create(&none, &l, bad[i], &g), -EINVAL);
        }
        ck_assert_int_eq(sandbox_limits_create(&support, &l, NULL, &g), -EINVAL);
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = 0;
        ck_assert_int_eq(sandbox_limits_create(&none, &l, long_name, &g), -EINVAL);
        ck_assert_ptr_null(g);

        long_name[LIMITS_NAME_MAX] = 0;
        ck_assert_int_eq(sandbox_limits_create(&none, &l, long_name, &g), 0);
        g = sandbox_limits_group_free(g);

        l.cpu_weight = 0;
        ck_assert_int_eq(sandbox_limits_create(&none, &l, "ok", &g), -EINVAL);
        l.cpu_weight = 10001;
        ck_assert_int_eq(sandbox_limits_create(&none, &l, "ok", &g), -EINVAL);
        ck_assert_ptr_null(g);

        /* A valid name makes real groups, and nothing is left after destroy. */
        {
                _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *h = NULL;
                char *dirs[3];

                l = SANDBOX_LIMITS_UNSET;
                h = create_ok(&support, &l, "Valid_name-1");
                group_dirs("Valid_name-1", dirs);
                for (size_t i = 0; i < 2; i++) /* memory and pids: made even without a limit */
                        if (dirs[i])
                                ck_assert(dir_exists(dirs[i]));
                if (dirs[2])
                        ck_assert(!dir_exists(dirs[2])); /* cpu: only for a weight */
                ck_assert_int_eq(sandbox_limits_destroy(h), 0);
                for (size_t i = 0; i < 3; i++)
                        if (dirs[i])
                                ck_assert(!dir_exists(dirs[i]));
                free_dirs(dirs);
        }
}
END_TEST

/* Whether `path` is a cgroup v1 mount holding `controller` (its name is the convention). */
static bool is_v1_mount(const char *controller) {
        _cleanup_free_ char *mountinfo = NULL, *mp = NULL, *root = NULL;

        return read_full_file_at(AT_FDCWD, "/proc/self/mountinfo", 4 * LIMITS_PROC_FILE_MAX, &mountinfo,
                                 NULL) == 0 &&
               limits_parse_mountinfo(mountinfo, controller, &mp, &root) == 0;
}

START_TEST(test_detect) {
        _cleanup_(sandbox_limits_support_done) SandboxLimitsSupport s = {};
        _cleanup_json_ json_t *j = NULL;

        /* Again in this process: it must agree with the main process's detection (on v2 it finds
         * the leaf that one made instead of nesting another). */
        ck_assert_int_eq(sandbox_limits_detect(&s), 0);
        ck_assert_int_eq(s.mode, support.mode);
        ck_assert_str_eq(strna(s.v2_parent), strna(support.v2_parent));
        ck_assert_str_eq(strna(s.v1_memory), strna(support.v1_memory));
        ck_assert_str_eq(strna(s.v1_pids), strna(support.v1_pids));
        ck_assert_str_eq(strna(s.v1_cpu), strna(support.v1_cpu));

        switch (s.mode) {
        case SANDBOX_CGROUP_V2:
                ck_assert(dir_exists(s.v2_parent));
                ck_assert(!s.v1_memory && !s.v1_pids && !s.v1_cpu);
                ck_assert(!s.reason_memory && !s.reason_pids);
                break;
        case SANDBOX_CGROUP_V1:
                ck_assert(s.v1_memory || s.v1_pids || s.v1_cpu);
                ck_assert_ptr_nonnull(strstr(strempty(s.reason), "cgroup v2: "));
                ck_assert(!s.v1_memory == !!s.reason_memory);
                ck_assert(!s.v1_pids == !!s.reason_pids);
                ck_assert(!s.v1_cpu == !!s.reason_cpu);
                break;
        case SANDBOX_CGROUP_NONE:
                ck_assert_ptr_nonnull(strstr(strempty(s.reason), "cgroup v2: "));
                ck_assert(s.reason_memory && s.reason_pids && s.reason_cpu);
                break;
        default:
                ck_abort_msg("mode %d", s.mode);
        }
        /* This machine's CI: root in a hybrid setup with the v1 memory and pids hierarchies. */
        if (geteuid() == 0 && s.mode != SANDBOX_CGROUP_V2 && is_v1_mount("memory") && is_v1_mount("pids")) {
                ck_assert_int_eq(s.mode, SANDBOX_CGROUP_V1);
                ck_assert_ptr_nonnull(s.v1_memory);
                ck_assert_ptr_nonnull(s.v1_pids);
        }

        ck_assert_int_eq(sandbox_limits_support_to_json(&s, &j), 0);
        ck_assert_str_eq(json_string_value(json_object_get(j, "mode")),
                         sandbox_cgroup_mode_to_string(s.mode));
        ck_assert_str_eq(json_string_value(json_object_get(j, "memory_max")),
                         expected_via(&s, "memory_max"));
        ck_assert_str_eq(json_string_value(json_object_get(j, "tasks_max")),
                         expected_via(&s, "tasks_max") ?: "none");
        ck_assert_str_eq(json_string_value(json_object_get(j, "cpu_weight")),
                         expected_via(&s, "cpu_weight"));
        ck_assert(json_is_object(json_object_get(j, "v1")));
}
END_TEST

/* A directory tree with cgroup files as plain files: detection's parsing and decisions, without
 * the kernel's semantics (so no leaf move: writing a plain subtree_control never says EBUSY). */
static void write_file(const char *dir, const char *file, const char *text) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;

        ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, file), (int) sizeof(path));
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(loop_write(fd, text, strlen(text)), 0);
}

static char *fake_tree(const char *dir, const char *rel, const char *controllers, const char *subtree) {
        char *p = NULL;

        ck_assert_int_eq(asprintf_safe(&p, "%s/%s", dir, rel), 0);
        ck_assert_int_eq(mkdir_p_secure(p, 0755, NULL), 0);
        if (controllers) {
                write_file(p, "cgroup.controllers", controllers);
                write_file(p, "cgroup.subtree_control", subtree);
                write_file(p, "cgroup.procs", "");
        }
        return p;
}

START_TEST(test_detect_fake_trees) {
        _cleanup_free_ char *tmp = make_tmpdir(), *mountinfo = NULL, *grp = NULL, *mem = NULL, *cpu = NULL,
                            *pids = NULL, *leafparent = NULL;

        ck_assert_ptr_nonnull(tmp);
        grp = fake_tree(tmp, "v2/user.slice/troupe.service", "cpu io memory pids\n", "");
        leafparent = fake_tree(tmp, "v2/reuse", "memory pids\n", "memory pids\n");
        mem = fake_tree(tmp, "v1 mem/process_api/abc", NULL, NULL);
        cpu = fake_tree(tmp, "v1cpu", NULL, NULL);
        pids = fake_tree(tmp, "v1pids/inner", NULL, NULL);
        ck_assert_int_eq(asprintf_safe(&mountinfo,
                                       "30 22 0:27 / %s/v2 rw,relatime shared:4 - cgroup2 cgroup2 rw\n"
                                       "34 30 0:31 / %s/v1\\040mem rw,relatime - cgroup cgroup rw,memory\n"
                                       "35 30 0:32 / %s/v1cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
                                       "36 30 0:33 /outer %s/v1pids rw - cgroup cgroup rw,pids\n",
                                       tmp, tmp, tmp, tmp),
                         0);

        /* A delegated v2 group with every controller: v2, children beside us, cpu as well. */
        {
                _cleanup_(sandbox_limits_support_done) SandboxLimitsSupport s = {};
                ck_assert_int_eq(limits_detect_from(mountinfo, "0::/user.slice/troupe.service\n", &s), 0);
                ck_assert_int_eq(s.mode, SANDBOX_CGROUP_V2);
                ck_assert_str_eq(s.v2_parent, grp);
                ck_assert(s.v2_cpu);
                ck_assert_str_eq(s.v2_enabled, "memory pids cpu");
                ck_assert_ptr_null(s.v2_leaf);
                ck_assert_ptr_null(s.reason);
                ck_assert_ptr_null(s.reason_cpu);
        }
        /* Detected before in this process: we sit in the leaf, its parent has the controllers. */
        {
                _cleanup_(sandbox_limits_support_done) SandboxLimitsSupport s = {};
                _cleanup_free_ char *leaf = fake_tree(tmp, "v2/reuse/supervisor", NULL, NULL);
                ck_assert_int_eq(limits_detect_from(mountinfo, "0::/reuse/supervisor\n", &s), 0);
                ck_assert_int_eq(s.mode, SANDBOX_CGROUP_V2);
                ck_assert_str_eq(s.v2_parent, leafparent);
                ck_assert_str_eq(s.v2_leaf, leaf);
                ck_assert(!s.v2_cpu);
                ck_assert_ptr_nonnull(strstr(strempty(s.reason_cpu), "cpu controller is not available"));
        }
        /* Hybrid: v2 without the controllers, so the v1 hierarchies, found through escaped mount
         * points, combined controllers and a mount root that is not "/". */
        {
                _cleanup_(sandbox_limits_support_done) SandboxLimitsSupport s = {};
                _cleanup_free_ char *nomem = fake_tree(tmp, "v2/hybrid", "hugetlb\n", "");
                ck_assert_int_eq(limits_detect_from(mountinfo,
                                                    "8:pids:/outer/inner\n4:memory:/process_api/abc\n"
                                                    "2:cpu,cpuacct:/\n0::/hybrid\n",
                                                    &s),
                                 0);
                ck_assert_int_eq(s.mode, SANDBOX_CGROUP_V1);
                ck_assert_str_eq(s.v1_memory, mem);
                ck_assert_str_eq(s.v1_cpu, cpu);
                ck_assert_str_eq(s.v1_pids, pids);
                ck_assert_ptr_nonnull(
                        strstr(strempty(s.reason), "memory and pids controllers are not available"));
                ck_assert_ptr_nonnull(strstr(strempty(s.reason), "hugetlb"));
                ck_assert(!s.reason_memory && !s.reason_pids && !s.reason_cpu);
                /* The probe group is gone again. */
                ck_assert_int_eq(rmdir(mem), 0);
        }
        /* Nothing usable: every reason says why. */
        {
                _cleanup_(sandbox_limits_support_done) SandboxLimitsSupport s = {};
                ck_assert_int_eq(limits_detect_from("", "0::/\n", &s), 0);
                ck_assert_int_eq(s.mode, SANDBOX_CGROUP_NONE);
                ck_assert_ptr_nonnull(strstr(strempty(s.reason), "no cgroup2 file system is mounted"));
                ck_assert_ptr_nonnull(
                        strstr(strempty(s.reason_memory), "no cgroup v1 hierarchy with the memory"));
                ck_assert_ptr_nonnull(s.reason_pids);
                ck_assert_ptr_nonnull(s.reason_cpu);
        }
        rm_rf_tmpdir(tmp);
}
END_TEST

/* The child is in the group (or has the rlimits) and the limit files hold the values. */
START_TEST(test_create_enter) {
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g =
                create_ok(&support, &test_limits, "enter");
        _cleanup_free_ char *cgroup = NULL, *proc = NULL;
        char *dirs[3];
        Probe p = probe_start(g, probe_pause, 0);

        (void) probe_result(&p);
        group_dirs("enter", dirs);
        ck_assert_int_eq(asprintf_safe(&proc, "/proc/%d/cgroup", (int) p.pid), 0);
        ck_assert_int_eq(read_full_file_at(AT_FDCWD, proc, LIMITS_PROC_FILE_MAX, &cgroup, NULL), 0);

        if (support.mode == SANDBOX_CGROUP_V2) {
                _cleanup_free_ char *path = NULL, *want = NULL;
                ck_assert_int_eq(limits_parse_proc_cgroup(cgroup, NULL, &path), 0);
                ck_assert_int_eq(asprintf_safe(&want, "/troupe-%s", group_name("enter")), 0);
                ck_assert_msg(endswith(path, want), "%s is not in %s", proc, want);
                assert_file_u64(dirs[0], "memory.max", TEST_MEMORY);
                assert_file_u64(dirs[0], "pids.max", TEST_TASKS);
                if (cg_has_file(dirs[0], "memory.swap.max"))
                        assert_file_u64(dirs[0], "memory.swap.max", 0);
                if (support.v2_cpu)
                        assert_file_u64(dirs[0], "cpu.weight", TEST_WEIGHT);
        }
        static const char *const controllers[] = {"memory", "pids", "cpu"};
        for (size_t i = 0; support.mode == SANDBOX_CGROUP_V1 && i < 3; i++) {
                _cleanup_free_ char *path = NULL;
                if (!dirs[i])
                        continue;
                ck_assert_int_eq(limits_parse_proc_cgroup(cgroup, controllers[i], &path), 0);
                ck_assert_msg(endswith(path, group_name("enter")), "%s: %s is %s", proc, controllers[i],
                              path);
        }
        if (support.mode == SANDBOX_CGROUP_V1 && dirs[0]) {
                assert_file_u64(dirs[0], "memory.limit_in_bytes", TEST_MEMORY);
                if (cg_has_file(dirs[0], "memory.memsw.limit_in_bytes"))
                        assert_file_u64(dirs[0], "memory.memsw.limit_in_bytes", TEST_MEMORY);
        }
        if (support.mode == SANDBOX_CGROUP_V1 && dirs[1])
                assert_file_u64(dirs[1], "pids.max", TEST_TASKS);
        if (support.mode == SANDBOX_CGROUP_V1 && dirs[2])
                assert_file_u64(dirs[2], "cpu.shares", TEST_WEIGHT * 1024 / 100);

        /* What no cgroup took, the child has as rlimits and nice. */
        {
                struct rlimit rl;
                if (streq(expected_via(&support, "memory_max"), "rlimit-as")) {
                        ck_assert_int_eq(prlimit(p.pid, RLIMIT_AS, NULL, &rl), 0);
                        ck_assert_uint_eq(rl.rlim_cur, TEST_MEMORY);
                }
                if (!startswith(expected_via(&support, "tasks_max") ?: "", "cgroup-")) {
                        ck_assert_int_eq(prlimit(p.pid, RLIMIT_NPROC, NULL, &rl), 0);
                        ck_assert_uint_eq(rl.rlim_cur, TEST_TASKS);
                }
                if (streq(expected_via(&support, "cpu_weight"), "nice")) {
                        errno = 0;
                        ck_assert_int_eq(getpriority(PRIO_PROCESS, (id_t) p.pid), TEST_NICE);
                }
        }
        assert_report(g, &support);

        ck_assert_int_eq(sandbox_limits_destroy(g), 0);
        ck_assert_int_eq(sandbox_limits_destroy(g), 0); /* again: a no-op */
        for (size_t i = 0; i < 3; i++)
                if (dirs[i])
                        ck_assert(!dir_exists(dirs[i]));
        {
                int status = probe_finish(&p);
                /* destroy() killed it where a cgroup held it. */
                if (support.mode != SANDBOX_CGROUP_NONE)
                        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        }
        free_dirs(dirs);
}
END_TEST

static bool tasks_limited(const SandboxLimitsSupport *s) {
        return expected_via(s, "tasks_max") != NULL;
}

/* Forks against the tasks limit: the exact errno, and not one process more than allowed. */
static void fork_bomb(const SandboxLimitsSupport *s, const char *what) {
        SandboxLimits l = SANDBOX_LIMITS_UNSET;
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g = NULL;
        ProbeResult r;
        Probe p;

        l.tasks_max = TEST_TASKS;
        g = create_ok(s, &l, what);
        p = probe_start(g, probe_fork_bomb, 64);
        r = probe_result(&p);
        ck_assert_msg(r.error == EAGAIN, "fork after %d children: %s", r.count, strerror(r.error));
        if (startswith(expected_via(s, "tasks_max"), "cgroup-"))
                /* The probe and its children: exactly the limit. */
                ck_assert_int_eq(r.count, TEST_TASKS - 1);
        else
                /* RLIMIT_NPROC counts every process of our user, not only the probe's. */
                ck_assert_int_lt(r.count, TEST_TASKS);
        if (sandbox_limits_has_cgroup(g)) {
                char *dirs[3];
                int status;

                /* kill() alone ends the bomb: the probe and all its children. */
                ck_assert_int_ge(sandbox_limits_kill(g, SIGKILL), 0);
                ck_assert_int_eq(waitpid(p.pid, &status, 0), p.pid);
                ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
                reap_all();
                group_dirs(what, dirs);
                for (size_t i = 0; i < 3; i++)
                        if (dirs[i])
                                ck_assert(procs_empty(dirs[i]));
                free_dirs(dirs);
                safe_close(p.go_fd);
                safe_close(p.result_fd);
        } else
                (void) probe_finish(&p);
        ck_assert_int_eq(sandbox_limits_destroy(g), 0);
}

START_TEST(test_fork_bomb) {
        if (!tasks_limited(&support)) {
                /* Root without a pids cgroup: the report says so, and there is nothing to test. */
                _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g =
                        create_ok(&support, &test_limits, "bomb");
                _cleanup_(report_done) Report rep = {};
                report_get(g, &rep);
                ck_assert_ptr_nonnull(missing_layer(rep.missing, "rlimit-nproc"));
                ck_assert_int_eq(sandbox_limits_destroy(g), 0);
                return;
        }
        fork_bomb(&support, "bomb");
}
END_TEST

/* Touches four times the memory limit: the group's OOM killer ends it with SIGKILL, or under
 * RLIMIT_AS the mapping fails with ENOMEM. */
static void memory_hog(const SandboxLimitsSupport *s, const char *what) {
        SandboxLimits l = SANDBOX_LIMITS_UNSET;
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g = NULL;
        int result[2], status;
        pid_t pid;

        l.memory_max = TEST_MEMORY;
        g = create_ok(s, &l, what);
        ck_assert_int_eq(pipe2(result, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                ProbeResult r = {};
                r.enter = sandbox_limits_enter_in_child(g);
                if (r.enter >= 0)
                        probe_memory_hog(&r, (int) (4 * TEST_MEMORY / MIB));
                ssize_t k = write(result[1], &r, sizeof(r));
                _exit(k == sizeof(r) ? 0 : 2);
        }
        safe_close(result[1]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        if (streq(expected_via(s, "memory_max"), "rlimit-as")) {
                ProbeResult r;
                ck_assert_int_eq(loop_read(result[0], &r, sizeof(r)), sizeof(r));
                ck_assert_int_eq(r.enter, 0);
                ck_assert_msg(r.error == ENOMEM, "mmap: %s, %d MiB touched", strerror(r.error), r.count);
                ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        } else {
                ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                              "hog ended with status %#x", (unsigned) status);
                ck_assert_int_eq(loop_read(result[0], &(ProbeResult){}, sizeof(ProbeResult)), 0);
        }
        safe_close(result[0]);
        ck_assert_int_eq(sandbox_limits_destroy(g), 0);
}

START_TEST(test_memory_hog) {
        memory_hog(&support, "hog");
}
END_TEST

/* kill() reaches the probe and everything it forked, with any signal; then the group is empty. */
START_TEST(test_kill) {
        SandboxLimits l = SANDBOX_LIMITS_UNSET;
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g = create_ok(&support, &l, "kill");
        char *dirs[3];

        if (!sandbox_limits_has_cgroup(g)) {
                /* No cgroup finds the processes: the caller must signal the pid it knows. */
                ck_assert_int_eq(sandbox_limits_kill(g, SIGKILL), 0);
                ck_assert_int_eq(sandbox_limits_destroy(g), 0);
                return;
        }
        group_dirs("kill", dirs);
        for (unsigned pass = 0; pass < 2; pass++) {
                int sig = pass == 0 ? SIGTERM : SIGKILL;
                Probe p = probe_start(g, probe_fork_sleepers, 4);
                ProbeResult r = probe_result(&p);
                int n, status;

                ck_assert_int_eq(r.error, 0);
                ck_assert_int_eq(r.count, 4);
                n = sandbox_limits_kill(g, sig);
                /* cgroup.kill (v2, SIGKILL) does not count; pid by pid, each process counts once. */
                if (support.mode == SANDBOX_CGROUP_V2 && sig == SIGKILL &&
                    cg_has_file(dirs[0], "cgroup.kill"))
                        ck_assert_int_eq(n, 0);
                else
                        ck_assert_int_eq(n, 5);
                ck_assert_int_eq(waitpid(p.pid, &status, 0), p.pid);
                ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig);
                reap_all();
                for (size_t i = 0; i < 3; i++)
                        if (dirs[i])
                                ck_assert(procs_empty(dirs[i]));
                safe_close(p.go_fd);
                safe_close(p.result_fd);
        }
        ck_assert_int_eq(sandbox_limits_destroy(g), 0);
        free_dirs(dirs);
}
END_TEST

/* destroy() with processes still inside, and with a group someone made beneath ours. */
START_TEST(test_destroy) {
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g =
                create_ok(&support, &test_limits, "destroy");
        char *dirs[3];
        Probe p = probe_start(g, probe_fork_sleepers, 3);
        ProbeResult r = probe_result(&p);
        int status;

        ck_assert_int_eq(r.count, 3);
        group_dirs("destroy", dirs);
        if (dirs[0]) {
                _cleanup_free_ char *sub = NULL;
                ck_assert_int_eq(asprintf_safe(&sub, "%s/nested", dirs[0]), 0);
                ck_assert_int_eq(mkdir(sub, 0755), 0);
        }
        ck_assert_int_eq(sandbox_limits_destroy(g), 0);
        for (size_t i = 0; i < 3; i++)
                if (dirs[i])
                        ck_assert(!dir_exists(dirs[i]));
        ck_assert(!sandbox_limits_has_cgroup(g));
        ck_assert_int_eq(sandbox_limits_destroy(g), 0);
        ck_assert_int_eq(sandbox_limits_kill(g, SIGKILL), 0);

        status = probe_finish(&p);
        if (support.mode != SANDBOX_CGROUP_NONE)
                ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        free_dirs(dirs);
}
END_TEST

/* A SandboxLimitsSupport with mode NONE: what a machine without usable cgroups gets. */
static const SandboxLimitsSupport no_cgroups = {
        .mode = SANDBOX_CGROUP_NONE,
        .reason = (char *) "pretending: no cgroups",
        .reason_memory = (char *) "pretending: no memory cgroup",
        .reason_pids = (char *) "pretending: no pids cgroup",
        .reason_cpu = (char *) "pretending: no cpu cgroup",
};

START_TEST(test_rlimit_fallback) {
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g =
                create_ok(&no_cgroups, &test_limits, "rlimit");
        Probe p = probe_start(g, probe_pause, 0);
        struct rlimit rl;

        ck_assert(!sandbox_limits_has_cgroup(g));
        (void) probe_result(&p);
        ck_assert_int_eq(prlimit(p.pid, RLIMIT_AS, NULL, &rl), 0);
        ck_assert_uint_eq(rl.rlim_cur, TEST_MEMORY);
        ck_assert_uint_eq(rl.rlim_max, TEST_MEMORY);
        /* Set for uid 0 as well, though the kernel does not enforce it there. */
        ck_assert_int_eq(prlimit(p.pid, RLIMIT_NPROC, NULL, &rl), 0);
        ck_assert_uint_eq(rl.rlim_cur, TEST_TASKS);
        ck_assert_uint_eq(rl.rlim_max, TEST_TASKS);
        errno = 0;
        ck_assert_int_eq(getpriority(PRIO_PROCESS, (id_t) p.pid), TEST_NICE);
        assert_report(g, &no_cgroups);
        {
                _cleanup_(report_done) Report r = {};
                report_get(g, &r);
                ck_assert_str_eq(json_string_value(json_object_get(missing_layer(r.missing, "cgroup-memory"),
                                                                   "reason")),
                                 "pretending: no memory cgroup");
                if (getuid() == 0)
                        ck_assert_ptr_nonnull(
                                strstr(json_string_value(json_object_get(
                                               missing_layer(r.missing, "rlimit-nproc"), "reason")),
                                       "uid 0"));
                else
                        ck_assert_ptr_null(missing_layer(r.missing, "rlimit-nproc"));
        }
        (void) probe_finish(&p);

        /* Above the default weight nice cannot help: reported, nothing applied. */
        {
                SandboxLimits l = SANDBOX_LIMITS_UNSET;
                _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *h = NULL;
                _cleanup_(report_done) Report r = {};

                l.cpu_weight = 200;
                h = create_ok(&no_cgroups, &l, "rlimit-high");
                report_get(h, &r);
                ck_assert_ptr_nonnull(strstr(
                        json_string_value(json_object_get(missing_layer(r.missing, "nice"), "reason")),
                        "CAP_SYS_NICE"));
                ck_assert_ptr_nonnull(missing_layer(r.missing, "cgroup-cpu"));
                ck_assert_uint_eq(json_array_size(r.applied), 0);
                ck_assert_ptr_null(json_object_get(r.limits, "cpu_weight"));
                p = probe_start(h, probe_pause, 0);
                (void) probe_result(&p);
                errno = 0;
                ck_assert_int_eq(getpriority(PRIO_PROCESS, (id_t) p.pid), getpriority(PRIO_PROCESS, 0));
                (void) probe_finish(&p);
        }
        /* Nothing set: nothing applied, nothing missing. */
        {
                SandboxLimits l = SANDBOX_LIMITS_UNSET;
                _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *h =
                        create_ok(&no_cgroups, &l, "unset");
                _cleanup_(report_done) Report r = {};

                report_get(h, &r);
                ck_assert_uint_eq(json_array_size(r.applied), 0);
                ck_assert_uint_eq(json_array_size(r.missing), 0);
                ck_assert_uint_eq(json_object_size(json_object_get(r.limits, "via")), 0);
        }
        memory_hog(&no_cgroups, "rlimit-hog");
}
END_TEST

START_TEST(test_rlimit_fork_bomb) {
        if (getuid() == 0)
                return; /* registered as skipped: RLIMIT_NPROC does not bind uid 0 */
        fork_bomb(&no_cgroups, "rlimit-bomb");
}
END_TEST

/* With the rlimits set after the user namespace is made, RLIMIT_NPROC counts the processes of
 * that namespace only: exactly the limit, whatever else the user runs. (Set before, it makes every
 * fork fail.) */
START_TEST(test_rlimit_nproc_userns) {
        SandboxLimits l = SANDBOX_LIMITS_UNSET;
        _cleanup_(sandbox_limits_group_freep) SandboxLimitsGroup *g = NULL;
        ProbeResult r;
        Probe p;

        if (getuid() == 0 || !userns_available)
                return; /* registered as skipped */
        l.tasks_max = TEST_TASKS;
        g = create_ok(&no_cgroups, &l, "userns-bomb");
        p = probe_start_how(g, PROBE_ENTER_USERNS, probe_fork_bomb, 64);
        r = probe_result(&p);
        ck_assert_msg(r.error == EAGAIN, "fork after %d children: %s", r.count, strerror(r.error));
        ck_assert_int_eq(r.count, TEST_TASKS - 1);
        (void) probe_finish(&p);
}
END_TEST

/* Detection moved us into the leaf and enabled the controllers beside it. */
START_TEST(test_v2_layout) {
        _cleanup_free_ char *subtree = NULL, *self = NULL, *path = NULL;

        if (support.mode != SANDBOX_CGROUP_V2)
                return; /* registered as skipped */
        ck_assert_int_eq(
                cg_read(support.v2_parent, "cgroup.subtree_control", LIMITS_SMALL_FILE_MAX, &subtree), 0);
        ck_assert(limits_list_contains(subtree, "memory", " \n"));
        ck_assert(limits_list_contains(subtree, "pids", " \n"));
        ck_assert(limits_list_contains(subtree, "cpu", " \n") == support.v2_cpu);
        ck_assert_int_eq(read_full_file_at(AT_FDCWD, "/proc/self/cgroup", LIMITS_PROC_FILE_MAX, &self, NULL),
                         0);
        ck_assert_int_eq(limits_parse_proc_cgroup(self, NULL, &path), 0);
        if (support.v2_leaf)
                ck_assert(endswith(path, "/" LIMITS_V2_LEAF));
}
END_TEST

/* Removes what a failed case left behind (its checked teardown does not run), in the main process. */
static void cleanup_leftovers(void) {
        const char *parents[] = {support.v2_parent, support.v1_memory, support.v1_pids, support.v1_cpu};
        char prefix[64];

        if (getpid() != main_pid)
                return;
        snprintf(prefix, sizeof(prefix), "troupe-test-%d-", (int) main_pid);
        for (size_t i = 0; i < ELEMENTSOF(parents); i++) {
                DIR *d = parents[i] ? opendir(parents[i]) : NULL;
                if (!d)
                        continue;
                for (struct dirent *de; (de = readdir(d));) {
                        _cleanup_free_ char *dir = NULL, *procs = NULL;
                        if (!startswith(de->d_name, prefix) ||
                            asprintf_safe(&dir, "%s/%s", parents[i], de->d_name) < 0)
                                continue;
                        for (unsigned tries = 0; tries < 200 && rmdir(dir) < 0 && errno == EBUSY; tries++) {
                                procs = mfree(procs);
                                if (cg_read(dir, "cgroup.procs", LIMITS_PROCS_FILE_MAX, &procs) >= 0)
                                        for (char *s = procs, *e; *s; s = e + (*e != 0)) {
                                                long pid = strtol(s, &e, 10);
                                                if (e == s)
                                                        break;
                                                if (pid > 0)
                                                        (void) kill((pid_t) pid, SIGKILL);
                                        }
                                (void) usleep(10000);
                        }
                }
                closedir(d);
        }
}

static void at_exit(void) {
        if (getpid() != main_pid)
                return;
        cleanup_leftovers();
        (void) limits_v2_restore(&support);
        sandbox_limits_support_done(&support);
        for (size_t i = 0; i < ELEMENTSOF(skip_names); i++)
                skip_names[i] = mfree(skip_names[i]);
}

/* Whether this user may make a user namespace: tried in a throwaway child. */
static bool probe_userns(void) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return false;
        if (pid == 0)
                _exit(unshare(CLONE_NEWUSER) < 0 ? 1 : 0);
        return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* check has no skipped test cases; TAP has: a TCase named "<name> # SKIP <reason>" makes the
 * driver count its one line as a skip. */
static TCase *tcase_maybe_skipped(const char *name, const char *skip_reason, size_t slot) {
        if (!skip_reason)
                return tcase_create(name);
        if (asprintf_safe(&skip_names[slot], "%s # SKIP %s", name, skip_reason) < 0)
                abort();
        for (char *c = skip_names[slot]; *c; c++)
                if (*c == '\n' || *c == ':')
                        *c = ' ';
        return tcase_create(skip_names[slot]);
}

Suite *test_suite(void) {
        Suite *s = suite_create("sandbox-limits");
        TCase *tc = tcase_create("limits");
        TCase *bomb, *nsbomb, *v2;
        _cleanup_free_ char *v2_reason = NULL;
        int r;

        main_pid = getpid();
        r = sandbox_limits_detect(&support);
        if (r < 0) {
                fprintf(stderr, "sandbox_limits_detect: %s\n", strerror(-r));
                abort();
        }
        atexit(at_exit);
        /* Visible in the test's log: what this machine gave us. */
        fprintf(stderr, "# uid %d, limits mode %s: v2 %s, v1 memory %s, pids %s, cpu %s; %s\n",
                (int) getuid(), sandbox_cgroup_mode_to_string(support.mode), strna(support.v2_parent),
                strna(support.v1_memory), strna(support.v1_pids), strna(support.v1_cpu),
                strna(support.reason));

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_unchecked_fixture(tc, NULL, cleanup_leftovers);
        tcase_add_test(tc, test_parse_proc_cgroup);
        tcase_add_test(tc, test_parse_mountinfo);
        tcase_add_test(tc, test_cgroup_dir_and_helpers);
        tcase_add_test(tc, test_names_refused);
        tcase_add_test(tc, test_detect);
        tcase_add_test(tc, test_detect_fake_trees);
        tcase_add_test(tc, test_create_enter);
        tcase_add_test(tc, test_fork_bomb);
        tcase_add_test(tc, test_memory_hog);
        tcase_add_test(tc, test_kill);
        tcase_add_test(tc, test_destroy);
        tcase_add_test(tc, test_rlimit_fallback);
        suite_add_tcase(s, tc);

        bomb = tcase_maybe_skipped("rlimit-nproc", getuid() == 0 ? "RLIMIT_NPROC does not bind uid 0" : NULL,
                                   0);
        tcase_add_checked_fixture(bomb, setup, NULL);
        tcase_add_test(bomb, test_rlimit_fork_bomb);
        suite_add_tcase(s, bomb);

        if (support.mode != SANDBOX_CGROUP_V2) {
                /* The reason detection gave, up to where it turns to v1. */
                const char *why = startswith(strempty(support.reason), "cgroup v2: ") ?: "not usable";
                v2_reason = strndup(why, MIN(strcspn(why, ";"), (size_t) 160));
        }
        userns_available = probe_userns();
        nsbomb = tcase_maybe_skipped("rlimit-nproc-userns",
                                     getuid() == 0       ? "RLIMIT_NPROC does not bind uid 0"
                                     : !userns_available ? "no unprivileged user namespaces here"
                                                         : NULL,
                                     2);
        tcase_add_checked_fixture(nsbomb, setup, NULL);
        tcase_add_test(nsbomb, test_rlimit_nproc_userns);
        suite_add_tcase(s, nsbomb);

        v2 = tcase_maybe_skipped("cgroup-v2", v2_reason, 1);
        tcase_add_test(v2, test_v2_layout);
        suite_add_tcase(s, v2);
        return s;
}

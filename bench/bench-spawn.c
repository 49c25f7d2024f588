/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-spawn: a confined spawn beside a plain posix_spawn() of the same binary, in the same run.
 *
 * Method. A confined spawn is what the supervisor does for every process: sandbox_prepare() of a
 * task profile with a workspace and the agent card's default limits (512M memory, 256 tasks, CPU
 * weight 100); a child started with sandbox_clone_parked() (clone(CLONE_VM) as posix_spawn() starts
 * one, the child parked until sandbox_place() has written its pid into its cgroups) that runs
 * sandbox_enter_in_child_placed() (every other layer this machine has: a network namespace,
 * capabilities, no_new_privs, Landlock, seccomp) and execve(); waitpid(); sandbox_release() (the
 * cgroups removed). Measured too: the child joining its cgroups itself after
 * sandbox_clone_vfork() (what the supervisor did before), the same with fork(), and the parked
 * spawn with no CPU weight (no cpu cgroup). The baseline is
 * posix_spawn() and waitpid() of the same binary (default /usr/bin/true). --warmup rounds of each run first;
 * then --iterations rounds each run the three, rotating which goes first, so that load changes hit all
 * alike. Each spawn is timed from its first call to the end of its last with CLOCK_MONOTONIC.
 *
 * Reported: p50 and p99 of each beside posix_spawn's; confined spawns per second (the iterations
 * over the summed times); the CPU time each spawn costs (ours and the reaped child's, from
 * getrusage(): on a loaded machine the times are mostly waiting for a CPU) and the spawns per CPU
 * second that gives; the p50 of the confined spawn's parts (prepare, start to reaped, release);
 * and, from a separate pass of fork()ed children that time each layer of sandbox_enter_in_child()
 * in turn (through sandbox-internal.h), the p50 of every layer.
 * Goals (issue 4): p50 within 1.3x of posix_spawn, at least 200 confined spawns per second.
 *
 * Then the throughput: --jobs processes (default one per CPU) spawning at once, plain and confined in
 * turn; the rate goal is judged on it, since the sequential rate leaves all but one CPU idle while
 * each child runs to its end.
 *
 * Usage: bench-spawn [--json] [--iterations N] [--warmup N] [--binary PATH] [--jobs N] */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/string-util.h"
#include "bench-util.h"
#include "sandbox/sandbox-internal.h"

#define RATIO_GOAL 1.3
#define RATE_GOAL 200.0

extern char **environ;

static unsigned arg_iterations = 500;
static unsigned arg_jobs = 0; /* 0: one per CPU */
static unsigned arg_warmup = 20;
static const char *arg_binary = "/usr/bin/true";
static bool arg_json = false;

typedef enum Kind {
        KIND_PLAIN,
        KIND_PARKED, /* the confined spawn, as the supervisor does it */
        KIND_VFORK, /* the child joins its cgroups itself */
        KIND_FORK, /* the same with fork() */
        KIND_PARKED_NO_CPU, /* KIND_PARKED without a CPU weight: see docs/performance.md */
        _KIND_MAX,
} Kind;

typedef struct Bench {
        SandboxSupport support;
        SandboxFilters *filters;
        char *tmp, *workspace;
        unsigned counter;
        /* Per kind and iteration: the whole spawn; for KIND_PARKED also its parts. */
        uint64_t *total[_KIND_MAX], *prepare, *run, *release;
        /* Per kind: CPU time (ours and the reaped children's) summed over the iterations, in us. */
        uint64_t cpu[_KIND_MAX];
} Bench;

typedef struct Child {
        const Sandbox *sandbox;
        bool placed; /* written by the parent before a parked child goes on */
        int error;
} Child;

static int plain_spawn(uint64_t *ret_nsec) {
        char *argv[] = {(char *) arg_binary, NULL};
        uint64_t t0 = bench_now_nsec();
        int status, r;
        pid_t pid;

        r = posix_spawn(&pid, arg_binary, NULL, NULL, argv, environ);
        if (r != 0)
                return -r;
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        *ret_nsec = bench_now_nsec() - t0;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

/* Runs in the child, on the parent's memory (vfork) or a copy (fork): syscalls only. */
static int confined_child(void *userdata) {
        Child *c = userdata;
        char *argv[] = {(char *) arg_binary, NULL};

        c->error = sandbox_enter_in_child_placed(c->sandbox, c->placed, NULL);
        if (c->error < 0)
                return c->error;
        execve(arg_binary, argv, environ);
        c->error = -errno;
        return c->error;
}

static const SandboxProfile *bench_profile(const Bench *b, Kind kind) {
        static SandboxProfile p;

        p = (SandboxProfile){
                .kind = SANDBOX_PROFILE_TASK,
                .workspace = b->workspace,
                .limits = {.memory_max = 512ULL << 20,
                           .tasks_max = 256,
                           .cpu_weight = kind == KIND_PARKED_NO_CPU ? SANDBOX_LIMIT_UNSET : 100},
        };
        return &p;
}

static int place_child(pid_t pid, void *userdata) {
        Child *c = userdata;
        int r = sandbox_place(c->sandbox, pid);

        if (r < 0)
                return r;
        c->placed = r > 0;
        return 0;
}

static int confined_spawn(Bench *b, Kind kind, unsigned i) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        _cleanup_free_ char *err = NULL;
        Child c = {};
        char name[64];
        uint64_t t0, t1, t2;
        int status, r;
        pid_t pid;

        (void) snprintf(name, sizeof(name), "bench-spawn-%d-%u", (int) getpid(), b->counter++);
        t0 = bench_now_nsec();
        r = sandbox_prepare(bench_profile(b, kind), &b->support, b->filters, name, &s, &err);
        if (r < 0) {
                fprintf(stderr, "bench-spawn: sandbox_prepare: %s\n", strna(err));
                return r;
        }
        c.sandbox = s;
        t1 = bench_now_nsec();
        if (kind == KIND_PARKED || kind == KIND_PARKED_NO_CPU) {
                r = sandbox_clone_parked(confined_child, &c, place_child, &c, &pid);
                if (r < 0)
                        return r;
        } else if (kind == KIND_VFORK) {
                r = sandbox_clone_vfork(confined_child, &c, &pid);
                if (r < 0)
                        return r;
        } else {
                pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0)
                        _exit(confined_child(&c) < 0 ? 100 : 0);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        t2 = bench_now_nsec();
        r = sandbox_release(s);
        if (r < 0)
                return r;
        s = sandbox_free(s);
        if (c.error < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "bench-spawn: the confined child failed (status %d): %s\n", status,
                        strerror(-c.error));
                return -ECHILD;
        }
        if (i == UINT_MAX)
                return 0;
        b->total[kind][i] = bench_now_nsec() - t0;
        if (kind == KIND_PARKED) {
                b->prepare[i] = t1 - t0;
                b->run[i] = t2 - t1;
                b->release[i] = b->total[kind][i] - b->prepare[i] - b->run[i];
        }
        return 0;
}

/* CPU time of this process and of the children it reaped, in microseconds. */
static uint64_t cpu_usec(void) {
        struct rusage self, children;

        if (getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &children) < 0)
                return 0;
        return (uint64_t) (self.ru_utime.tv_sec + self.ru_stime.tv_sec + children.ru_utime.tv_sec +
                           children.ru_stime.tv_sec) *
                       USEC_PER_SEC +
               (uint64_t) (self.ru_utime.tv_usec + self.ru_stime.tv_usec + children.ru_utime.tv_usec +
                           children.ru_stime.tv_usec);
}

static int spawn_one(Bench *b, Kind kind, unsigned i) {
        uint64_t t = 0, cpu = cpu_usec();
        int r;

        if (kind != KIND_PLAIN)
                r = confined_spawn(b, kind, i);
        else {
                r = plain_spawn(&t);
                if (r >= 0 && i != UINT_MAX)
                        b->total[kind][i] = t;
        }
        if (r >= 0 && i != UINT_MAX)
                b->cpu[kind] += cpu_usec() - cpu;
        return r;
}

/* ---- the layers, one by one -------------------------------------------------------------------- */

typedef enum Layer {
        LAYER_LIMITS,
        LAYER_NETNS,
        LAYER_CAPABILITIES,
        LAYER_NO_NEW_PRIVS,
        LAYER_LANDLOCK,
        LAYER_SECCOMP,
        _LAYER_MAX,
} Layer;

static const char *const layer_names[_LAYER_MAX] = {"limits",       "netns",    "capabilities",
                                                    "no-new-privs", "landlock", "seccomp"};

/* What sandbox_enter_in_child() does, in its order, with a timestamp after each step. */
static _noreturn_ void layers_child(const Sandbox *s, uint64_t *t) {
        char *argv[] = {(char *) arg_binary, NULL};
        int r = 0;

        t[0] = bench_now_nsec();
        if (s->limits)
                r = sandbox_limits_enter_in_child(s->limits);
        t[1 + LAYER_LIMITS] = bench_now_nsec();
        if (r >= 0)
                r = sandbox_namespaces_enter_in_child(s);
        t[1 + LAYER_NETNS] = bench_now_nsec();
        if (r >= 0)
                r = sandbox_caps_drop_in_child(s);
        t[1 + LAYER_CAPABILITIES] = bench_now_nsec();
        if (r >= 0)
                r = sandbox_no_new_privs_in_child();
        t[1 + LAYER_NO_NEW_PRIVS] = bench_now_nsec();
        if (r >= 0 && s->ruleset_fd >= 0)
                r = sandbox_landlock_enter_in_child(s->ruleset_fd);
        t[1 + LAYER_LANDLOCK] = bench_now_nsec();
        if (r >= 0 && s->seccomp.filter)
                r = sandbox_seccomp_enter_in_child(&s->seccomp);
        t[1 + LAYER_SECCOMP] = bench_now_nsec();
        if (r < 0)
                _exit(100);
        execve(arg_binary, argv, environ);
        _exit(101);
}

static int measure_layers(BenchReport *report, Bench *b, unsigned n) {
        _cleanup_free_ uint64_t *samples = calloc((size_t) n * _LAYER_MAX, sizeof(uint64_t));
        size_t size = sizeof(uint64_t) * (_LAYER_MAX + 1);
        uint64_t *t;
        char name[64];
        int r = 0;

        if (!samples)
                return -ENOMEM;
        t = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (t == MAP_FAILED)
                return -errno;
        for (unsigned i = 0; i < n && r >= 0; i++) {
                _cleanup_(sandbox_freep) Sandbox *s = NULL;
                int status;
                pid_t pid;

                (void) snprintf(name, sizeof(name), "bench-spawn-%d-%u", (int) getpid(), b->counter++);
                r = sandbox_prepare(bench_profile(b, KIND_PARKED), &b->support, b->filters, name, &s, NULL);
                if (r < 0)
                        break;
                pid = fork();
                if (pid < 0) {
                        r = -errno;
                        break;
                }
                if (pid == 0)
                        layers_child(s, t);
                if (waitpid(pid, &status, 0) < 0)
                        r = -errno;
                else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        r = -ECHILD;
                for (unsigned l = 0; l < _LAYER_MAX; l++)
                        samples[(size_t) l * n + i] = t[l + 1] - t[l];
                if (r >= 0)
                        r = sandbox_release(s);
        }
        (void) munmap(t, size);
        if (r < 0)
                return r;
        for (unsigned l = 0; l < _LAYER_MAX; l++)
                bench_report_value(report, bench_name(name, sizeof(name), "layer %s p50", layer_names[l]),
                                   bench_percentile_u64(samples + (size_t) l * n, n, 50) / 1e3, "us");
        return 0;
}

/* ---- set-up and the report ---------------------------------------------------------------------- */

static int bench_setup(Bench *b) {
        const char *base = getenv("TMPDIR");
        int r;

        r = sandbox_support_detect(&b->support);
        if (r < 0)
                return r;
        /* The groups the supervisor makes itself; a transient systemd scope (a D-Bus round trip and a
         * job per spawn, with fork()) is not what is measured here. */
        b->support.scope = sandbox_scope_manager_free(b->support.scope);
        r = sandbox_filters_new(&b->filters);
        if (r < 0)
                return r;
        for (Kind k = 0; k < _KIND_MAX; k++)
                if (!(b->total[k] = calloc(arg_iterations, sizeof(uint64_t))))
                        return -ENOMEM;
        b->prepare = calloc(arg_iterations, sizeof(uint64_t));
        b->run = calloc(arg_iterations, sizeof(uint64_t));
        b->release = calloc(arg_iterations, sizeof(uint64_t));
        if (!b->prepare || !b->run || !b->release)
                return -ENOMEM;
        b->tmp = strjoin(isempty(base) ? "/tmp" : base, "/troupe-bench-spawn-XXXXXX");
        if (!b->tmp || !mkdtemp(b->tmp))
                return -errno;
        b->workspace = strjoin(b->tmp, "/workspace");
        if (!b->workspace)
                return -ENOMEM;
        return RET_NERRNO(mkdir(b->workspace, 0700));
}

static void bench_done(Bench *b) {
        if (b->workspace)
                (void) rmdir(b->workspace);
        if (b->tmp)
                (void) rmdir(b->tmp);
        free(b->workspace);
        free(b->tmp);
        for (Kind k = 0; k < _KIND_MAX; k++)
                free(b->total[k]);
        free(b->prepare);
        free(b->run);
        free(b->release);
        sandbox_filters_free(b->filters);
        sandbox_support_done(&b->support);
}

static void report_layers(BenchReport *report, Bench *b) {
        _cleanup_(sandbox_freep) Sandbox *s = NULL;
        char *applied = NULL, *missing = NULL;
        json_t *j = NULL;

        if (sandbox_prepare(bench_profile(b, KIND_PARKED), &b->support, b->filters, "bench-spawn-report", &s,
                            NULL) < 0)
                return;
        if (sandbox_report(s, &j) >= 0) {
                applied = json_dumps(json_object_get(j, "applied"), JSON_COMPACT);
                missing = json_dumps(json_object_get(j, "missing"), JSON_COMPACT);
        }
        bench_report_text(report, "confined layers", strna(applied));
        bench_report_text(report, "confined missing", strna(missing));
        free(applied);
        free(missing);
        json_decref(j);
        (void) sandbox_release(s);
}

static double sum_sec(const uint64_t *v, size_t n) {
        double sum = 0;

        for (size_t i = 0; i < n; i++)
                sum += (double) v[i] / 1e9;
        return sum;
}

/* ---- throughput: every CPU spawning at once ---------------------------------------------------- */

/* Wall time for `jobs` processes to do `per_job` spawns of `kind` each, at the same time. The
 * sequential rate above waits for each child to exit before starting the next, on one CPU; a
 * supervisor serving many clients overlaps them, and the machine's rate is what all its CPUs do. */
static int throughput_round(Bench *b, Kind kind, unsigned jobs, unsigned per_job, double *ret_sec) {
        pid_t pids[64];
        uint64_t t0 = bench_now_nsec();
        int r = 0;

        assert(jobs <= ELEMENTSOF(pids));
        for (unsigned j = 0; j < jobs; j++) {
                pids[j] = fork();
                if (pids[j] < 0)
                        return -errno;
                if (pids[j] == 0) {
                        for (unsigned i = 0; i < per_job; i++)
                                if (spawn_one(b, kind, UINT_MAX) < 0)
                                        _exit(EXIT_FAILURE);
                        _exit(EXIT_SUCCESS);
                }
        }
        for (unsigned j = 0; j < jobs; j++) {
                int status;

                if (waitpid(pids[j], &status, 0) < 0)
                        r = -errno;
                else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        r = -ECHILD;
        }
        *ret_sec = (double) (bench_now_nsec() - t0) / 1e9;
        return r;
}

/* Rounds of plain and confined in turn, so that load changes hit both alike; returns spawns/s. */
static int measure_throughput(Bench *b, unsigned jobs, double *ret_plain, double *ret_confined) {
        unsigned per_job = MAX(arg_iterations / jobs / 4, 10U);
        double plain = 0, confined = 0;
        int r;

        for (unsigned round = 0; round < 4; round++) {
                double sec;

                r = throughput_round(b, KIND_PLAIN, jobs, per_job, &sec);
                if (r < 0)
                        return r;
                plain += sec;
                r = throughput_round(b, KIND_PARKED, jobs, per_job, &sec);
                if (r < 0)
                        return r;
                confined += sec;
        }
        *ret_plain = 4.0 * jobs * per_job / plain;
        *ret_confined = 4.0 * jobs * per_job / confined;
        return 0;
}

static int run(BenchReport *report, Bench *b) {
        size_t n = arg_iterations;
        int r;

        bench_progress("bench-spawn: %u warm-up and %u measured rounds of %s", arg_warmup, arg_iterations,
                       arg_binary);
        for (unsigned i = 0; i < arg_warmup; i++)
                for (Kind k = 0; k < _KIND_MAX; k++)
                        if ((r = spawn_one(b, k, UINT_MAX)) < 0)
                                return r;
        for (unsigned i = 0; i < arg_iterations; i++)
                for (unsigned j = 0; j < _KIND_MAX; j++)
                        if ((r = spawn_one(b, (Kind) ((i + j) % _KIND_MAX), i)) < 0)
                                return r;

        double base50 = bench_percentile_u64(b->total[KIND_PLAIN], n, 50) / 1e3;
        double base99 = bench_percentile_u64(b->total[KIND_PLAIN], n, 99) / 1e3;
        double p50 = bench_percentile_u64(b->total[KIND_PARKED], n, 50) / 1e3;
        double rate = n / sum_sec(b->total[KIND_PARKED], n);

        bench_report_figure(report, "confined spawn p50", p50, base50, "us");
        bench_report_figure(report, "confined spawn p99",
                            bench_percentile_u64(b->total[KIND_PARKED], n, 99) / 1e3, base99, "us");
        bench_report_figure(report, "confined spawn joining its cgroups itself p50",
                            bench_percentile_u64(b->total[KIND_VFORK], n, 50) / 1e3, base50, "us");
        bench_report_figure(report, "confined spawn with fork() p50",
                            bench_percentile_u64(b->total[KIND_FORK], n, 50) / 1e3, base50, "us");
        bench_report_figure(report, "confined spawn with fork() p99",
                            bench_percentile_u64(b->total[KIND_FORK], n, 99) / 1e3, base99, "us");
        bench_report_figure(report, "confined spawn without CPU weight p50",
                            bench_percentile_u64(b->total[KIND_PARKED_NO_CPU], n, 50) / 1e3, base50, "us");
        bench_report_figure(report, "confined spawns per second", rate, n / sum_sec(b->total[KIND_PLAIN], n),
                            "/s");
        bench_report_value(report, "confined spawns per second with fork()",
                           n / sum_sec(b->total[KIND_FORK], n), "/s");
        /* On a loaded machine the times above are mostly waiting for a CPU; the CPU each spawn
         * costs says what an idle machine would do. Work the kernel defers to its own threads
         * (cgroup and namespace teardown, RCU) is not in it. */
        double cpu_plain = (double) b->cpu[KIND_PLAIN] / n, cpu_confined = (double) b->cpu[KIND_PARKED] / n;
        bench_report_figure(report, "confined spawn CPU time", cpu_confined, cpu_plain, "us");
        bench_report_figure(report, "confined spawn with fork() CPU time", (double) b->cpu[KIND_FORK] / n,
                            cpu_plain, "us");
        bench_report_figure(report, "confined spawns per CPU second", 1e6 / cpu_confined, 1e6 / cpu_plain,
                            "/s");
        bench_report_value(report, "part prepare p50", bench_percentile_u64(b->prepare, n, 50) / 1e3, "us");
        bench_report_value(report, "part start to reaped p50", bench_percentile_u64(b->run, n, 50) / 1e3,
                           "us");
        bench_report_value(report, "part release p50", bench_percentile_u64(b->release, n, 50) / 1e3, "us");
        r = measure_layers(report, b, MAX(arg_iterations / 5, 20U));
        if (r < 0)
                return r;

        unsigned jobs = arg_jobs ?: (unsigned) MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L);
        double tp_plain, tp_confined;
        bench_progress("bench-spawn: throughput with %u spawning at once", jobs);
        r = measure_throughput(b, jobs, &tp_plain, &tp_confined);
        if (r < 0)
                return r;
        bench_report_value(report, "throughput jobs", jobs, "");
        bench_report_figure(report, "confined spawns per second, all CPUs", tp_confined, tp_plain, "/s");

        bench_report_goal(report, "spawn-ratio", "confined spawn p50 within 1.3x of posix_spawn",
                          p50 <= base50 * RATIO_GOAL);
        bench_report_goal(report, "spawn-rate", "at least 200 confined spawns per second on this machine (all CPUs)",
                          tp_confined >= RATE_GOAL);
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"iterations", required_argument, NULL, 'n'},
                {"warmup", required_argument, NULL, 'w'},
                {"binary", required_argument, NULL, 'b'},
                {"jobs", required_argument, NULL, 'J'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        arg_json = true;
                        break;
                case 'n':
                        arg_iterations = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'w':
                        arg_warmup = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'b':
                        arg_binary = optarg;
                        break;
                case 'J':
                        arg_jobs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                default:
                        return -EINVAL;
                }
        if (arg_iterations == 0 || arg_binary[0] != '/' || arg_jobs > 64) {
                fprintf(stderr, "bench-spawn: --iterations must be > 0, --binary an absolute path and --jobs at most 64\n");
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        BenchReport report = {};
        Bench b = {};
        int r;

        if (parse_argv(argc, argv) < 0)
                return EXIT_FAILURE;
        r = bench_report_init(&report, "spawn", arg_json);
        if (r >= 0)
                r = bench_setup(&b);
        if (r >= 0) {
                bench_report_load(&report, "load");
                bench_report_text(&report, "binary", arg_binary);
                report_layers(&report, &b);
                r = run(&report, &b);
        }
        if (r >= 0)
                r = bench_report_finish(&report);
        if (r < 0)
                fprintf(stderr, "bench-spawn: %s\n", strerror(-r));
        bench_done(&b);
        bench_report_done(&report);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bench-util.h"

#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"

extern char **environ;

#define PROC_FILE_MAX ((size_t) 64U * 1024U)

/* ---- output ---------------------------------------------------------------------------------- */

int bench_report_init(BenchReport *r, const char *benchmark, bool json) {
        *r = (BenchReport){.json = json};
        r->root = json_pack("{s:s, s:{}, s:{}, s:{}}", "benchmark", benchmark, "figures", "goals", "info");
        return r->root ? 0 : -ENOMEM;
}

void bench_report_done(BenchReport *r) {
        json_decref(r->root);
        r->root = NULL;
}

/* Enough digits to read, not so many that noise looks like precision. */
static const char *format_value(char *buf, size_t size, double v) {
        double a = fabs(v);

        if (a >= 1000 || (a == floor(a) && a < 1e15))
                (void) snprintf(buf, size, "%.0f", v);
        else if (a >= 10)
                (void) snprintf(buf, size, "%.1f", v);
        else
                (void) snprintf(buf, size, "%.2f", v);
        return buf;
}

static void report_set(BenchReport *r, const char *section, const char *name, json_t *v) {
        if (v)
                (void) json_object_set_new(json_object_get(r->root, section), name, v);
}

void bench_report_figure(BenchReport *r, const char *name, double value, double baseline, const char *unit) {
        double ratio = baseline != 0 ? value / baseline : NAN;
        char a[64], b[64];

        if (!r->json) {
                const char *sp = isempty(unit) ? "" : " ";
                char q[32] = "n/a";

                if (isfinite(ratio))
                        (void) snprintf(q, sizeof(q), "%.2f", ratio);
                printf("%s: %s%s%s (baseline: %s%s%s, ratio: %s)\n", name, format_value(a, sizeof(a), value),
                       sp, unit, format_value(b, sizeof(b), baseline), sp, unit, q);
                fflush(stdout);
        }
        report_set(r, "figures", name,
                   json_pack("{s:f, s:f, s:s, s:o}", "value", value, "baseline", baseline, "unit", unit,
                             "ratio", isfinite(ratio) ? json_real(ratio) : json_null()));
}

void bench_report_value(BenchReport *r, const char *name, double value, const char *unit) {
        char a[64];

        if (!r->json)
                printf("%s: %s%s%s\n", name, format_value(a, sizeof(a), value), isempty(unit) ? "" : " ",
                       strempty(unit));
        fflush(stdout);
        report_set(r, "figures", name, json_pack("{s:f, s:s}", "value", value, "unit", strempty(unit)));
}

void bench_report_text(BenchReport *r, const char *name, const char *text) {
        if (!r->json)
                printf("%s: %s\n", name, text);
        report_set(r, "info", name, json_string(text));
}

bool bench_report_goal(BenchReport *r, const char *name, const char *what, bool met) {
        if (!r->json)
                printf("goal %s: %s (%s)\n", name, what, met ? "met" : "missed");
        report_set(r, "goals", name, json_pack("{s:s, s:b}", "goal", what, "met", met));
        return met;
}

void bench_report_load(BenchReport *r, const char *name) {
        double l[3] = {};
        char buf[128];

        if (getloadavg(l, 3) < 3)
                return;
        (void) snprintf(buf, sizeof(buf), "%.2f %.2f %.2f (%ld CPUs)", l[0], l[1], l[2],
                        sysconf(_SC_NPROCESSORS_ONLN));
        if (!r->json)
                printf("%s: %s\n", name, buf);
        report_set(r, "info", name,
                   json_pack("{s:f, s:f, s:f, s:i}", "1min", l[0], "5min", l[1], "15min", l[2], "cpus",
                             (json_int_t) sysconf(_SC_NPROCESSORS_ONLN)));
}

int bench_report_finish(BenchReport *r) {
        _cleanup_free_ char *s = NULL;

        if (!r->json) {
                fflush(stdout);
                return 0;
        }
        s = json_dumps(r->root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        if (!s)
                return -ENOMEM;
        printf("%s\n", s);
        fflush(stdout);
        return 0;
}

const char *bench_name(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return buf;
}

void bench_progress(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "# ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

/* ---- statistics ------------------------------------------------------------------------------ */

static int compare_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

double bench_percentile_sorted_u64(const uint64_t *v, size_t n, double p) {
        size_t i;

        if (n == 0)
                return 0;
        i = (size_t) ceil(p / 100.0 * (double) n);
        i = i > 0 ? i - 1 : 0;
        return (double) v[MIN(i, n - 1)];
}

double bench_percentile_u64(uint64_t *v, size_t n, double p) {
        qsort(v, n, sizeof(uint64_t), compare_u64);
        return bench_percentile_sorted_u64(v, n, p);
}

uint64_t bench_now_nsec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

/* ---- /proc ----------------------------------------------------------------------------------- */

static int proc_read(pid_t pid, const char *file, char **ret) {
        char path[64];

        (void) snprintf(path, sizeof(path), "/proc/%i/%s", (int) pid, file);
        return read_full_file_at(AT_FDCWD, path, PROC_FILE_MAX, ret, NULL);
}

int proc_cpu_usec(pid_t pid, usec_t *ret) {
        _cleanup_free_ char *s = NULL;
        unsigned long long utime, stime;
        long ticks = sysconf(_SC_CLK_TCK);
        const char *p;
        int r;

        r = proc_read(pid, "stat", &s);
        if (r < 0)
                return r;
        /* The command name may contain anything, including ") ": skip to the last one. */
        p = strrchr(s, ')');
        if (!p || ticks <= 0)
                return -EBADMSG;
        /* After ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14)
         * stime(15) */
        if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                return -EBADMSG;
        *ret = (usec_t) (utime + stime) * USEC_PER_SEC / (usec_t) ticks;
        return 0;
}

static int kib_field(const char *text, const char *field, uint64_t *ret) {
        size_t len = strlen(field);

        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                unsigned long long v;

                if (strncmp(p, field, len) != 0 || p[len] != ':')
                        continue;
                if (sscanf(p + len + 1, " %llu kB", &v) != 1)
                        return -EBADMSG;
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

int proc_status_kib(pid_t pid, const char *field, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = proc_read(pid, "status", &s);
        if (r < 0)
                return r;
        return kib_field(s, field, ret);
}

int proc_pss_kib(pid_t pid, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = proc_read(pid, "smaps_rollup", &s);
        if (r < 0)
                return r;
        return kib_field(s, "Pss", ret);
}

int bench_pin_cpu(pid_t pid) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cpu_set_t set;

        if (n < 2)
                return 0;
        CPU_ZERO(&set);
        CPU_SET((int) (n - 1), &set);
        return sched_setaffinity(pid, sizeof(set), &set) < 0 ? -errno : 0;
}

int bench_raise_nofile(uint64_t *ret) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return -errno;
        }
        *ret = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t) rl.rlim_cur;
        return 0;
}

/* ---- processes ------------------------------------------------------------------------------- */

/* environ with `extra` entries added, replacing those of the same name. Entries are borrowed. */
static char **env_merge(char *const extra[]) {
        size_t n = 0, k = 0, m = 0;
        char **l;

        while (environ[n])
                n++;
        while (extra && extra[m])
                m++;
        l = calloc(n + m + 1, sizeof(char *));
        if (!l)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(environ[i], '=');
                size_t len = eq ? (size_t) (eq - environ[i]) + 1 : strlen(environ[i]);
                bool replaced = false;

                for (size_t j = 0; j < m && !replaced; j++)
                        replaced = strncmp(extra[j], environ[i], len) == 0;
                if (!replaced)
                        l[k++] = environ[i];
        }
        for (size_t j = 0; j < m; j++)
                l[k++] = extra[j];
        return l;
}

static int spawn_full(char *const argv[], char *const env[], const char *log_path, int output_fd,
                      int pass_fd, pid_t *ret_pid) {
        _cleanup_free_ char **envp = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, defaults;
        pid_t pid;
        int r;

        envp = env_merge(env);
        if (!envp)
                return -ENOMEM;
        (void) sigemptyset(&none);
        (void) sigemptyset(&defaults);
        (void) sigaddset(&defaults, SIGPIPE);
        (void) sigaddset(&defaults, SIGTERM);
        (void) sigaddset(&defaults, SIGINT);
        (void) sigaddset(&defaults, SIGCHLD);

        if (posix_spawn_file_actions_init(&fa) != 0)
                return -ENOMEM;
        if (posix_spawnattr_init(&attr) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -ENOMEM;
        }
        /* The bench blocks or ignores signals for itself; the children get a clean slate. */
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &defaults);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (r == 0 && log_path) {
                r = posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
                if (r == 0)
                        r = posix_spawn_file_actions_adddup2(&fa, 1, 2);
        }
        if (r == 0 && output_fd >= 0) {
                r = posix_spawn_file_actions_adddup2(&fa, output_fd, 1);
                if (r == 0)
                        r = posix_spawn_file_actions_adddup2(&fa, output_fd, 2);
        }
        if (r == 0 && pass_fd >= 0)
                r = posix_spawn_file_actions_adddup2(&fa, pass_fd, 3);
        if (r == 0)
                r = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], &fa, &attr, argv, envp)
                                         : posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;
        *ret_pid = pid;
        return 0;
}

int bench_spawn(char *const argv[], char *const env[], const char *log_path, pid_t *ret_pid) {
        return spawn_full(argv, env, log_path, -EBADF, -EBADF, ret_pid);
}

int bench_spawn_output(char *const argv[], int output_fd, pid_t *ret_pid) {
        return spawn_full(argv, NULL, NULL, output_fd, -EBADF, ret_pid);
}

bool bench_exited(pid_t pid) {
        siginfo_t si = {};

        /* WNOWAIT: look without reaping, so bench_stop() still finds it. */
        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return errno == ECHILD;
        return si.si_pid == pid;
}

int bench_stop(pid_t pid, usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;
        int status;

        if (pid <= 0)
                return -ESRCH;
        (void) kill(pid, SIGTERM);
        for (;;) {
                pid_t k = waitpid(pid, &status, WNOHANG);

                if (k == pid)
                        return status;
                if (k < 0)
                        return -errno;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        break;
                (void) usleep(1000);
        }
        (void) kill(pid, SIGKILL);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return status;
}

void bench_dump_log(const char *path, unsigned lines) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        const char *p;
        unsigned n = 0;

        if (!path || read_full_file_at(AT_FDCWD, path, 16U * 1024U * 1024U, &s, &size) < 0 || size == 0)
                return;
        p = s + size;
        while (p > s && n <= lines)
                if (*--p == '\n')
                        n++;
        fprintf(stderr, "# --- last lines of %s\n%s", path, p == s ? p : p + 1);
}

/* ---- the environment and its bus ------------------------------------------------------------- */

static const char *const env_unset[] = {
        "TROUPE_RUNTIME_DIR",
        "TROUPE_STATE_DIR",
        "TROUPE_DATA_DIR",
        "TROUPE_WORKSPACES_DIR",
        "TROUPE_CONFIG_DIR",
        "TROUPE_AGENT_SOCKET",
        "TROUPE_BUS_ADDRESS",
        "DBUS_SESSION_BUS_ADDRESS",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "LISTEN_FDS",
        "LISTEN_PID",
        "LISTEN_FDNAMES",
        "TROUPE_HEARTBEAT_INTERVAL_MS",
};

static const struct {
        const char *var, *sub;
} env_dirs[] = {
        {"XDG_RUNTIME_DIR", "run"}, {"XDG_STATE_HOME", "state"},
        {"XDG_DATA_HOME", "data"},  {"XDG_CONFIG_HOME", "config"},
        {"HOME", "home"},
};

char *bench_env_path(const BenchEnv *e, const char *name) {
        return strjoin(e->dir, "/", name);
}

static int env_make_dirs(BenchEnv *e) {
        for (size_t i = 0; i < ELEMENTSOF(env_dirs); i++) {
                _cleanup_free_ char *p = bench_env_path(e, env_dirs[i].sub);

                if (!p)
                        return -ENOMEM;
                if (mkdir(p, 0700) < 0 && errno != EEXIST)
                        return -errno;
                if (setenv(env_dirs[i].var, p, 1) < 0)
                        return -errno;
        }
        return 0;
}

int bench_env_new(BenchEnv **ret) {
        _cleanup_(bench_env_freep) BenchEnv *e = NULL;
        const char *tmp = getenv("TMPDIR");
        int r;

        e = calloc(1, sizeof(BenchEnv));
        if (!e)
                return -ENOMEM;
        e->bus_pid = -1;
        e->dir = strjoin(isempty(tmp) ? "/tmp" : tmp, "/troupe-bench-XXXXXX");
        if (!e->dir)
                return -ENOMEM;
        if (!mkdtemp(e->dir)) {
                e->dir = mfree(e->dir);
                return -errno;
        }
        r = env_make_dirs(e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(env_unset); i++)
                (void) unsetenv(env_unset[i]);
        if (setenv("TROUPE_LOG_TARGET", "console", 1) < 0 || setenv("TROUPE_LOG_LEVEL", "info", 0) < 0)
                return -errno;

        *ret = TAKE_PTR(e);
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

static void remove_tree(const char *dir) {
        (void) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int bench_env_reset_state(BenchEnv *e) {
        static const char *const subs[] = {"run", "state", "data"};

        for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
                _cleanup_free_ char *p = bench_env_path(e, subs[i]);

                if (!p)
                        return -ENOMEM;
                remove_tree(p);
        }
        return env_make_dirs(e);
}

BenchEnv *bench_env_free(BenchEnv *e) {
        if (!e)
                return NULL;
        if (e->bus_pid > 0)
                (void) bench_stop(e->bus_pid, 5 * USEC_PER_SEC);
        if (e->dir && !getenv("TROUPE_BENCH_KEEP"))
                remove_tree(e->dir);
        free(e->bus_address);
        free(e->dir);
        return mfree(e);
}

/* Reads the address line dbus-daemon prints when it is ready to take connections. */
static int read_address_line(int fd, usec_t timeout, char **ret) {
        char buf[512];
        size_t n = 0;
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        while (n < sizeof(buf) - 1) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                usec_t now = now_usec(CLOCK_MONOTONIC);
                ssize_t k;

                if (now >= end)
                        return -ETIMEDOUT;
                if (poll(&p, 1, (int) ((end - now) / USEC_PER_MSEC) + 1) < 0 && errno != EINTR)
                        return -errno;
                k = read(fd, buf + n, sizeof(buf) - 1 - n);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EPIPE;
                n += (size_t) k;
                buf[n] = 0;
                if (strchr(buf, '\n')) {
                        *strchr(buf, '\n') = 0;
                        *ret = strdup(buf);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return -E2BIG;
}

int bench_env_start_bus(BenchEnv *e) {
        _cleanup_free_ char *log = NULL, *address = NULL, *arg = NULL, *line = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        const char *dbus = getenv("DBUS_DAEMON");
        int fds[2], r;

        log = bench_env_path(e, "dbus.log");
        address = strjoin("unix:path=", e->dir, "/bus");
        if (!log || !address)
                return -ENOMEM;
        arg = strjoin("--address=", address);
        if (!arg)
                return -ENOMEM;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        rfd = fds[0];
        wfd = fds[1];

        char *argv[] = {(char *) (isempty(dbus) ? "dbus-daemon" : dbus),
                        (char *) "--session",
                        (char *) "--nofork",
                        (char *) "--nopidfile",
                        arg,
                        (char *) "--print-address=3",
                        NULL};
        r = spawn_full(argv, NULL, log, -EBADF, wfd, &e->bus_pid);
        if (r < 0)
                return r;
        wfd = safe_close(wfd);
        r = read_address_line(rfd, 30 * USEC_PER_SEC, &line);
        if (r < 0) {
                bench_dump_log(log, 20);
                return r;
        }
        if (setenv("DBUS_SESSION_BUS_ADDRESS", address, 1) < 0 ||
            setenv("TROUPE_BUS_ADDRESS", address, 1) < 0)
                return -errno;
        e->bus_address = TAKE_PTR(address);
        return 0;
}

int bench_bus_open(sd_bus **ret) {
        const char *address = getenv("TROUPE_BUS_ADDRESS");

        if (isempty(address))
                return -ENXIO;
        return bus_open_address(address, ret);
}

int bench_bus_wait_name(sd_bus *bus, const char *name, pid_t pid, usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                int has = 0, r;

                r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s", name);
                if (r < 0)
                        return r;
                r = sd_bus_message_read(reply, "b", &has);
                if (r < 0)
                        return r;
                if (has)
                        return 0;
                if (pid > 0 && bench_exited(pid))
                        return -ESRCH;
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        return -ETIMEDOUT;
                (void) usleep(5000);
        }
}

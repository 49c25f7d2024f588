/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-daemons: each daemon's time from exec to READY=1 and its idle RSS, beside a trivial program.
 *
 * Method. The bench starts a private dbus-daemon in temporary XDG directories and listens on an
 * AF_UNIX datagram socket, as systemd does for Type=notify services, with SO_PASSCRED so that each
 * notification names its sender. Each daemon given with --daemon is started --repeat times with
 * posix_spawn() and NOTIFY_SOCKET pointing at that socket; the time from just before
 * posix_spawn() to the READY=1 datagram from that pid (CLOCK_MONOTONIC) is its start-up time. Then
 * it is left alone for --settle-ms, after which VmRSS is read every 100 ms until it stops changing
 * (at most 2 s more): that is its idle RSS, reported with its anonymous and file-backed parts
 * (RssAnon, RssFile: shared libraries count in full in VmRSS) and its Pss (shared pages divided by
 * their users). Then SIGTERM, and the time until it has exited.
 * Baseline, in the same run and interleaved with the daemons (one start of each in turn, so that
 * load changes hit all alike): bench-notify-ready, a trivial program linked with libc and
 * libsystemd that calls sd_notify("READY=1") at once and then waits: exec, dynamic linking and one
 * datagram, and the RSS of those libraries when idle.
 * The state directory is emptied once before the first start, so the first start of each daemon
 * creates its state (e.g. the registry's database) and the others find it. Figures are medians
 * over the starts, with the slowest start beside them.
 * Goal (issue 3): idle RSS of each daemon at most 4 MiB. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bench-util.h"

#define DAEMONS_MAX 8U
#define REPEAT_MAX 50U
#define READY_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define SETTLE_POLL_USEC (100 * USEC_PER_MSEC)
#define SETTLE_MAX_USEC (2 * USEC_PER_SEC)
#define RSS_GOAL_KIB (4U * 1024U)

typedef struct Target {
        const char *path;
        const char *name; /* basename */
        uint64_t ready_usec[REPEAT_MAX];
        uint64_t stop_usec[REPEAT_MAX];
        uint64_t rss_kib[REPEAT_MAX], anon_kib[REPEAT_MAX], file_kib[REPEAT_MAX], pss_kib[REPEAT_MAX];
        unsigned n;
} Target;

static Target arg_daemons[DAEMONS_MAX];
static size_t arg_n_daemons = 0;
static Target arg_baseline = {};
static unsigned arg_repeat = 5;
static unsigned arg_settle_ms = 1000;
static bool arg_json = false;

/* ---- the notification socket ----------------------------------------------------------------- */

static int notify_socket_open(BenchEnv *env, char **ret_path) {
        _cleanup_free_ char *path = bench_env_path(env, "notify.sock");
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int one = 1;

        if (!path)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return -errno;
        *ret_path = TAKE_PTR(path);
        return TAKE_FD(fd);
}

/* One datagram: 1 if it is from `pid` and says READY=1, 0 if not, -EAGAIN if none is waiting. */
static int notify_read(int fd, pid_t pid) {
        char buf[4096];
        union {
                struct cmsghdr cmsg;
                uint8_t data[CMSG_SPACE(sizeof(struct ucred))];
        } control = {};
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = &control,
                            .msg_controllen = sizeof(control)};
        struct ucred *cred = NULL;
        ssize_t n;

        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                        cred = (struct ucred *) CMSG_DATA(c);
        if (!cred || cred->pid != pid)
                return 0;
        for (const char *line = buf; line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
                if (startswith(line, "READY=1") && (line[7] == 0 || line[7] == '\n'))
                        return 1;
        return 0;
}

static int wait_ready(int fd, pid_t pid) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + READY_TIMEOUT_USEC;

        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                usec_t now = now_usec(CLOCK_MONOTONIC);
                int r;

                r = notify_read(fd, pid);
                if (r > 0)
                        return 0;
                if (r < 0 && r != -EAGAIN && r != -EINTR)
                        return r;
                if (r == 0)
                        continue;
                if (bench_exited(pid))
                        return -ESRCH;
                if (now >= end)
                        return -ETIMEDOUT;
                /* Wake up now and then to notice a daemon that died without a word. */
                if (poll(&p, 1, (int) MIN((end - now) / USEC_PER_MSEC + 1, (usec_t) 100)) < 0 &&
                    errno != EINTR)
                        return -errno;
        }
}

/* ---- one start ------------------------------------------------------------------------------- */

/* VmRSS, read until two readings SETTLE_POLL_USEC apart agree. */
static int settle(pid_t pid) {
        usec_t end;
        uint64_t last = 0, rss;
        int r;

        (void) usleep(arg_settle_ms * 1000U);
        end = now_usec(CLOCK_MONOTONIC) + SETTLE_MAX_USEC;
        for (;;) {
                r = proc_status_kib(pid, "VmRSS", &rss);
                if (r < 0)
                        return r;
                if (rss == last || now_usec(CLOCK_MONOTONIC) >= end)
                        return 0;
                last = rss;
                (void) usleep(SETTLE_POLL_USEC);
        }
}

static int sample_memory(Target *t, pid_t pid) {
        unsigned i = t->n;
        int r;

        r = proc_status_kib(pid, "VmRSS", &t->rss_kib[i]);
        if (r >= 0)
                r = proc_status_kib(pid, "RssAnon", &t->anon_kib[i]);
        if (r >= 0)
                r = proc_status_kib(pid, "RssFile", &t->file_kib[i]);
        if (r >= 0)
                r = proc_pss_kib(pid, &t->pss_kib[i]);
        return r;
}

static int start_once(BenchEnv *env, Target *t, int notify_fd, const char *notify_path) {
        _cleanup_free_ char *env_notify = strjoin("NOTIFY_SOCKET=", notify_path);
        _cleanup_free_ char *log_name = strjoin(t->name, ".log");
        _cleanup_free_ char *log = log_name ? bench_env_path(env, log_name) : NULL;
        char *argv[] = {(char *) t->path, NULL};
        char *extra[] = {env_notify, NULL};
        uint64_t start, stop;
        pid_t pid;
        int r, status;

        if (!env_notify || !log)
                return -ENOMEM;
        /* Nothing left over from the previous start. */
        while (notify_read(notify_fd, 0) >= 0)
                ;
        start = now_usec(CLOCK_MONOTONIC);
        r = bench_spawn(argv, extra, log, &pid);
        if (r < 0)
                return r;
        r = wait_ready(notify_fd, pid);
        if (r >= 0) {
                t->ready_usec[t->n] = now_usec(CLOCK_MONOTONIC) - start;
                r = settle(pid);
        }
        if (r >= 0)
                r = sample_memory(t, pid);
        stop = now_usec(CLOCK_MONOTONIC);
        status = bench_stop(pid, 10 * USEC_PER_SEC);
        t->stop_usec[t->n] = now_usec(CLOCK_MONOTONIC) - stop;
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", t->name, r == -ESRCH ? "exited before READY=1" : strerror(-r));
                bench_dump_log(log, 20);
                return r;
        }
        if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                /* Only a remark: how a daemon ends is not what is measured here. */
                bench_progress("%s did not exit cleanly on SIGTERM (wait status %d)", t->name, status);
        t->n++;
        return 0;
}

/* ---- report ---------------------------------------------------------------------------------- */

static double median(const uint64_t *v, unsigned n) {
        uint64_t c[REPEAT_MAX];

        memcpy(c, v, n * sizeof(uint64_t));
        return bench_percentile_u64(c, n, 50);
}

static double maximum(const uint64_t *v, unsigned n) {
        uint64_t m = 0;

        for (unsigned i = 0; i < n; i++)
                m = MAX(m, v[i]);
        return (double) m;
}

static void report_target(BenchReport *rep, const Target *t, const Target *b) {
        char name[160], what[160];
        double rss = median(t->rss_kib, t->n);

        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.ready_time", t->name),
                            median(t->ready_usec, t->n) / USEC_PER_MSEC,
                            median(b->ready_usec, b->n) / USEC_PER_MSEC, "ms");
        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.ready_time_max", t->name),
                            maximum(t->ready_usec, t->n) / USEC_PER_MSEC,
                            maximum(b->ready_usec, b->n) / USEC_PER_MSEC, "ms");
        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.idle_rss", t->name),
                            rss / KIB_PER_MIB, median(b->rss_kib, b->n) / KIB_PER_MIB, "MiB");
        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.idle_rss_anon", t->name),
                            median(t->anon_kib, t->n) / KIB_PER_MIB, median(b->anon_kib, b->n) / KIB_PER_MIB,
                            "MiB");
        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.idle_rss_file", t->name),
                            median(t->file_kib, t->n) / KIB_PER_MIB, median(b->file_kib, b->n) / KIB_PER_MIB,
                            "MiB");
        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.idle_pss", t->name),
                            median(t->pss_kib, t->n) / KIB_PER_MIB, median(b->pss_kib, b->n) / KIB_PER_MIB,
                            "MiB");
        bench_report_figure(rep, bench_name(name, sizeof(name), "daemons.%s.stop_time", t->name),
                            median(t->stop_usec, t->n) / USEC_PER_MSEC,
                            median(b->stop_usec, b->n) / USEC_PER_MSEC, "ms");
        (void) snprintf(what, sizeof(what), "idle RSS at most %u MiB (%.2f MiB)", RSS_GOAL_KIB / 1024U,
                        rss / KIB_PER_MIB);
        bench_report_goal(rep, bench_name(name, sizeof(name), "daemons.%s.idle_rss", t->name), what,
                          rss <= RSS_GOAL_KIB);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void help(void) {
        printf("%s --baseline=PATH --daemon=PATH [--daemon=PATH...] [OPTIONS...]\n\n"
               "Each daemon's time from exec to READY=1 and idle RSS, beside a trivial sd_notify() "
               "program.\n\n"
               "  -h --help             Show this help\n"
               "     --daemon=PATH      A daemon executable (not a libtool wrapper script); repeatable\n"
               "     --baseline=PATH    The bench-notify-ready executable\n"
               "     --repeat=N         Starts of each (default 5, at most 50)\n"
               "     --settle-ms=MS     Idle time after READY=1 before reading RSS (default 1000)\n"
               "     --json             Print one JSON object\n",
               program_invocation_short_name);
}

/* A libtool wrapper would add a shell's start-up to the time measured. */
static void target_init(Target *t, const char *path) {
        const char *slash = strrchr(path, '/');
        char head[2] = {};
        FILE *f;

        *t = (Target){.path = path, .name = slash ? slash + 1 : path};
        f = fopen(path, "re");
        if (f && fread(head, 1, 2, f) == 2 && head[0] == '#' && head[1] == '!')
                bench_progress(
                        "warning: %s is a script (a libtool wrapper?): its start-up time includes the "
                        "shell's; use the binary in .libs/",
                        path);
        if (f)
                fclose(f);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_DAEMON = 0x100, ARG_BASELINE, ARG_REPEAT, ARG_SETTLE, ARG_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"daemon", required_argument, NULL, ARG_DAEMON},
                {"baseline", required_argument, NULL, ARG_BASELINE},
                {"repeat", required_argument, NULL, ARG_REPEAT},
                {"settle-ms", required_argument, NULL, ARG_SETTLE},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_DAEMON:
                        if (arg_n_daemons >= DAEMONS_MAX)
                                return -E2BIG;
                        target_init(&arg_daemons[arg_n_daemons++], optarg);
                        break;
                case ARG_BASELINE:
                        target_init(&arg_baseline, optarg);
                        break;
                case ARG_REPEAT:
                        arg_repeat = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_repeat == 0 || arg_repeat > REPEAT_MAX)
                                return -EINVAL;
                        break;
                case ARG_SETTLE:
                        arg_settle_ms = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_settle_ms > 60000)
                                return -EINVAL;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_baseline.path || arg_n_daemons == 0) {
                fprintf(stderr, "--baseline=PATH and at least one --daemon=PATH are required.\n");
                return -EINVAL;
        }
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(bench_env_freep) BenchEnv *env = NULL;
        _cleanup_(bench_report_done) BenchReport rep = {};
        _cleanup_free_ char *notify_path = NULL;
        _cleanup_close_ int notify_fd = -EBADF;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        r = bench_report_init(&rep, "bench-daemons", arg_json);
        if (r < 0)
                return r;
        bench_report_load(&rep, "load_average_start");
        r = bench_env_new(&env);
        if (r >= 0)
                r = bench_env_start_bus(env);
        if (r < 0)
                return r;
        notify_fd = notify_socket_open(env, &notify_path);
        if (notify_fd < 0)
                return notify_fd;

        for (unsigned i = 0; i < arg_repeat; i++) {
                bench_progress("start %u/%u of each", i + 1, arg_repeat);
                r = start_once(env, &arg_baseline, notify_fd, notify_path);
                for (size_t k = 0; k < arg_n_daemons && r >= 0; k++)
                        r = start_once(env, &arg_daemons[k], notify_fd, notify_path);
                if (r < 0)
                        return r;
        }
        bench_report_value(&rep, "daemons.starts_each", arg_repeat, "");
        bench_report_value(&rep, "daemons.settle_time", arg_settle_ms, "ms");
        for (size_t k = 0; k < arg_n_daemons; k++)
                report_target(&rep, &arg_daemons[k], &arg_baseline);
        bench_report_load(&rep, "load_average_end");
        return bench_report_finish(&rep);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (r < 0)
                fprintf(stderr, "bench-daemons failed: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

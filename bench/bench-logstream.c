/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-logstream: a child's output streamed live through troupe-supervisord, beside a plain pipe.
 *
 * Method. bench-log-writer writes --size bytes (default 256 MiB) of a deterministic text (64-byte
 * numbered lines, bench-pattern.h) to stdout as fast as it can, in 64 KiB writes.
 *   - Baseline: the bench posix_spawn()s the writer with stdout and stderr on a plain pipe and
 *     reads it to the end itself.
 *   - troupe: a private dbus-daemon and troupe-supervisord in temporary XDG directories (with a
 *     troupe-registryd, which records every Spawn() in the audit log); the bench
 *     calls Spawn() for the writer, then OpenLog(0) on the new process and reads that pipe to
 *     the end (the supervisor closes it once the child has exited and everything is sent).
 * The reader is the same in both: read() into a 1 MiB buffer, compare every byte with the pattern
 * at its offset in the writer's stream, hash what was read; nothing is kept. Throughput is
 * --size bytes over the time from just before the spawn to end of file (MB = 10^6 bytes), the
 * median of --repeat runs, which alternate between baseline and troupe. Bytes lost = written -
 * read; corrupted = bytes that differ from the pattern at their offset; the hash of what was read
 * is compared with the hash of what was written.
 * The supervisor caps each log file and rotates it once; bytes rotated away before a reader gets
 * them are skipped with a note in the stream. So the main runs use --log-size-max above --size,
 * where nothing may be lost; one more run with the default cap (8 MiB) reports how much a reader
 * that drains as fast as it can still loses to rotation (announced by the supervisor's notes, and
 * checked: every byte outside the skipped ranges must arrive intact).
 * The supervisor's memory: VmRSS when idle before the first stream, VmHWM (peak) after the last. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bench-pattern.h"
#include "bench-util.h"

#define SUPERVISOR_NAME "org.troupe.Supervisor1"
#define SUPERVISOR_PATH "/org/troupe/Supervisor1"
#define SUPERVISOR_MANAGER "org.troupe.Supervisor1.Manager"
#define SUPERVISOR_PROCESS "org.troupe.Supervisor1.Process"
#define READ_BUFFER ((size_t) 1024U * 1024U)
#define NOTE_MAX 256U
#define NOTE_PREFIX "[troupe-supervisord: "
#define REPEAT_MAX 20U
#define PEAK_GROWTH_GOAL_KIB 1024U

static uint64_t arg_size = UINT64_C(256) * 1024U * 1024U;
static unsigned arg_repeat = 3;
static const char *arg_supervisord = NULL;
static const char *arg_writer = NULL;
static const char *arg_registryd = NULL;
static bool arg_json = false;

static uint8_t pattern[BENCH_PATTERN_SIZE];

/* ---- checking what was read ------------------------------------------------------------------ */

/* A fast 64-bit hash of a byte stream, fed in pieces of any size. */
typedef struct StreamHash {
        uint64_t h, carry, length;
        unsigned n_carry;
} StreamHash;

static inline uint64_t hash_mix(uint64_t h, uint64_t w) {
        h ^= w;
        h *= UINT64_C(0x9E3779B97F4A7C15);
        return h ^ (h >> 32);
}

static void stream_hash_feed(StreamHash *s, const uint8_t *p, size_t n) {
        s->length += n;
        while (n > 0 && s->n_carry > 0) {
                s->carry |= (uint64_t) *p++ << (8 * s->n_carry);
                n--;
                if (++s->n_carry == 8) {
                        s->h = hash_mix(s->h, s->carry);
                        s->carry = 0;
                        s->n_carry = 0;
                }
        }
        for (; n >= 8; p += 8, n -= 8) {
                uint64_t w;

                memcpy(&w, p, 8);
                s->h = hash_mix(s->h, w);
        }
        for (; n > 0; n--) {
                s->carry |= (uint64_t) *p++ << (8 * s->n_carry);
                s->n_carry++;
        }
}

static uint64_t stream_hash_final(const StreamHash *s) {
        return hash_mix(hash_mix(s->h, s->carry), s->length);
}

static uint64_t pattern_hash(uint64_t size) {
        StreamHash s = {};

        for (uint64_t off = 0; off < size;) {
                size_t n = (size_t) MIN(size - off, (uint64_t) BENCH_PATTERN_SLACK);

                stream_hash_feed(&s, pattern + off % BENCH_PATTERN_PERIOD, n);
                off += n;
        }
        return stream_hash_final(&s);
}

typedef struct Verifier {
        uint64_t offset; /* in the writer's stream, of the next data byte */
        uint64_t received; /* data bytes (notes excluded) */
        uint64_t corrupted; /* data bytes unlike the pattern at their offset */
        uint64_t announced; /* bytes the supervisor's notes say were rotated away */
        unsigned notes;
        bool in_note;
        char note[NOTE_MAX];
        size_t note_len;
        StreamHash hash;
} Verifier;

static void verifier_end_note(Verifier *v) {
        uint64_t k;

        v->note[MIN(v->note_len, sizeof(v->note) - 1)] = 0;
        v->in_note = false;
        v->notes++;
        if (startswith(v->note, NOTE_PREFIX) && sscanf(v->note + STRLEN(NOTE_PREFIX), "%" SCNu64, &k) == 1) {
                v->announced += k;
                v->offset += k;
        } else
                v->corrupted += v->note_len;
}

/* Takes note bytes up to and including '\n'; returns how many it took. */
static size_t verifier_note(Verifier *v, const uint8_t *p, size_t n) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t) (nl - p) + 1 : n;

        for (size_t i = 0; i < k; i++)
                if (v->note_len < sizeof(v->note) - 1)
                        v->note[v->note_len++] = (char) p[i];
        if (nl)
                verifier_end_note(v);
        return k;
}

static void verifier_data(Verifier *v, const uint8_t *p, size_t n) {
        stream_hash_feed(&v->hash, p, n);
        v->offset += n;
        v->received += n;
}

static void verifier_feed(Verifier *v, const uint8_t *p, size_t n) {
        while (n > 0) {
                const uint8_t *expected = pattern + v->offset % BENCH_PATTERN_PERIOD;
                size_t len = MIN(n, BENCH_PATTERN_SLACK), i = 0, k;

                if (v->in_note) {
                        k = verifier_note(v, p, n);
                        p += k;
                        n -= k;
                        continue;
                }
                if (memcmp(p, expected, len) != 0)
                        while (p[i] == expected[i])
                                i++;
                else
                        i = len;
                verifier_data(v, p, i);
                p += i;
                n -= i;
                if (i == len || n == 0)
                        continue;
                /* The pattern has no '[': one here starts a note from the supervisor. */
                if (*p == '[') {
                        v->in_note = true;
                        v->note_len = 0;
                        continue;
                }
                v->corrupted++;
                verifier_data(v, p, 1);
                p++;
                n--;
        }
}

/* Reads fd to its end through a verifier. */
static int drain(int fd, Verifier *v) {
        _cleanup_free_ uint8_t *buf = malloc(READ_BUFFER);

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf, READ_BUFFER);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                verifier_feed(v, buf, (size_t) n);
        }
}

typedef struct Result {
        double mbps;
        uint64_t lost, corrupted, announced, hash;
        unsigned notes;
} Result;

static void result_from(Result *res, const Verifier *v, uint64_t elapsed_nsec) {
        *res = (Result){
                .mbps = (double) arg_size / ((double) elapsed_nsec / 1e9) / 1e6,
                .lost = arg_size > v->received + v->announced ? arg_size - v->received - v->announced : 0,
                .corrupted = v->corrupted,
                .announced = v->announced,
                .hash = stream_hash_final(&v->hash),
                .notes = v->notes,
        };
}

/* ---- baseline: a plain pipe ------------------------------------------------------------------ */

static int stream_plain_pipe(Result *res) {
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        char size[32];
        char *argv[] = {(char *) arg_writer, size, NULL};
        Verifier v = {};
        uint64_t start;
        pid_t pid;
        int fds[2], status, r;

        (void) snprintf(size, sizeof(size), "%" PRIu64, arg_size);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        rfd = fds[0];
        wfd = fds[1];
        start = bench_now_nsec();
        r = bench_spawn_output(argv, wfd, &pid);
        if (r < 0)
                return r;
        wfd = safe_close(wfd);
        r = drain(rfd, &v);
        result_from(res, &v, bench_now_nsec() - start);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (r < 0)
                return r;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* ---- troupe: Spawn() and OpenLog(0) ---------------------------------------------------------- */

static int supervisor_spawn(sd_bus *bus, char **ret_path) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char size[32];
        char *argv[] = {(char *) arg_writer, size, NULL};
        const char *id, *path;
        int r;

        (void) snprintf(size, sizeof(size), "%" PRIu64, arg_size);
        r = sd_bus_message_new_method_call(bus, &m, SUPERVISOR_NAME, SUPERVISOR_PATH, SUPERVISOR_MANAGER,
                                           "Spawn");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "bench-log-writer");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 0);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                fprintf(stderr, "Spawn() failed: %s\n", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return r;
        *ret_path = strdup(path);
        return *ret_path ? 0 : -ENOMEM;
}

static int supervisor_open_log(sd_bus *bus, const char *path, int *ret_fd) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int fd, r;

        r = sd_bus_call_method(bus, SUPERVISOR_NAME, path, SUPERVISOR_PROCESS, "OpenLog", &error, &reply,
                               "t", (uint64_t) 0);
        if (r < 0) {
                fprintf(stderr, "OpenLog(0) failed: %s\n", error.message ?: strerror(-r));
                return r;
        }
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return r;
        /* The message owns the fd it carries. */
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static int stream_supervisor(sd_bus *bus, Result *res) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        Verifier v = {};
        uint64_t start = bench_now_nsec();
        int r;

        r = supervisor_spawn(bus, &path);
        if (r < 0)
                return r;
        r = supervisor_open_log(bus, path, &fd);
        if (r < 0)
                return r;
        r = drain(fd, &v);
        result_from(res, &v, bench_now_nsec() - start);
        return r;
}

static void remove_logs(void) {
        _cleanup_free_ char *path = strjoin(getenv("XDG_STATE_HOME"), "/troupe/logs");
        DIR *d = path ? opendir(path) : NULL;
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (strstr(de->d_name, ".log"))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

typedef struct Supervisor {
        pid_t pid;
        uint64_t idle_kib, hwm_kib;
        char *log;
} Supervisor;

static int supervisor_start(BenchEnv *env, sd_bus *bus, uint64_t log_size_max, Supervisor *ret) {
        _cleanup_free_ char *log = bench_env_path(env, "supervisord.log");
        char opt[64];
        char *argv[] = {(char *) arg_supervisord, log_size_max > 0 ? opt : NULL, NULL};
        pid_t pid;
        int r;

        if (!log)
                return -ENOMEM;
        (void) snprintf(opt, sizeof(opt), "--log-size-max=%" PRIu64, log_size_max);
        r = bench_env_reset_state(env);
        if (r < 0)
                return r;
        r = bench_spawn(argv, NULL, log, &pid);
        if (r < 0)
                return r;
        r = bench_bus_wait_name(bus, SUPERVISOR_NAME, pid, 30 * USEC_PER_SEC);
        if (r < 0) {
                bench_dump_log(log, 30);
                (void) bench_stop(pid, 5 * USEC_PER_SEC);
                return r;
        }
        /* Settled: whatever start-up allocated has been touched. */
        (void) usleep(200 * 1000);
        *ret = (Supervisor){.pid = pid, .log = TAKE_PTR(log)};
        return proc_status_kib(pid, "VmRSS", &ret->idle_kib);
}

/* Every Spawn() is recorded in the registry's audit log before it starts, so a registry runs beside
 * the supervisors, with state and an agent socket of its own: theirs is reset between runs. */
static int registry_start(BenchEnv *env, sd_bus *bus, pid_t *ret) {
        _cleanup_free_ char *log = bench_env_path(env, "registryd.log"),
                            *state = bench_env_path(env, "registry-state"),
                            *socket = bench_env_path(env, "registry.sock"), *state_env = NULL,
                            *socket_env = NULL;
        char *argv[] = {(char *) arg_registryd, NULL};
        pid_t pid;
        int r;

        if (!log || !state || !socket)
                return -ENOMEM;
        state_env = strjoin("TROUPE_STATE_DIR=", state);
        socket_env = strjoin("TROUPE_AGENT_SOCKET=", socket);
        if (!state_env || !socket_env)
                return -ENOMEM;
        r = bench_spawn(argv, (char *[]){state_env, socket_env, NULL}, log, &pid);
        if (r < 0)
                return r;
        r = bench_bus_wait_name(bus, "org.troupe.Registry1", pid, 30 * USEC_PER_SEC);
        if (r < 0) {
                bench_dump_log(log, 30);
                (void) bench_stop(pid, 5 * USEC_PER_SEC);
                return r;
        }
        *ret = pid;
        return 0;
}

static int supervisor_stop(Supervisor *s) {
        int r = proc_status_kib(s->pid, "VmHWM", &s->hwm_kib);

        (void) bench_stop(s->pid, 10 * USEC_PER_SEC);
        s->pid = -1;
        return r;
}

static void supervisor_done(Supervisor *s) {
        if (s->pid > 0)
                (void) bench_stop(s->pid, 10 * USEC_PER_SEC);
        if (s->pid > 0 || getenv("TROUPE_BENCH_VERBOSE"))
                bench_dump_log(s->log, 20);
        free(s->log);
}

/* ---- report ---------------------------------------------------------------------------------- */

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double median_mbps(const Result *r, unsigned n) {
        double v[REPEAT_MAX];

        for (unsigned i = 0; i < n; i++)
                v[i] = r[i].mbps;
        qsort(v, n, sizeof(double), compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void sum_losses(const Result *r, unsigned n, uint64_t expected_hash, uint64_t *lost,
                       uint64_t *corrupted, unsigned *hash_mismatches) {
        *lost = *corrupted = 0;
        *hash_mismatches = 0;
        for (unsigned i = 0; i < n; i++) {
                *lost += r[i].lost;
                *corrupted += r[i].corrupted;
                *hash_mismatches += r[i].hash != expected_hash;
        }
}

static void report_main(BenchReport *rep, const Result *plain, const Result *sup, const Supervisor *s,
                        uint64_t expected_hash) {
        uint64_t lost, corrupted, plain_lost, plain_corrupted;
        unsigned bad_hash, plain_bad_hash;
        char hash[32], what[160];

        sum_losses(sup, arg_repeat, expected_hash, &lost, &corrupted, &bad_hash);
        sum_losses(plain, arg_repeat, expected_hash, &plain_lost, &plain_corrupted, &plain_bad_hash);
        bench_report_value(rep, "logstream.bytes_per_run", (double) arg_size, "bytes");
        bench_report_value(rep, "logstream.runs", arg_repeat, "");
        bench_report_figure(rep, "logstream.throughput", median_mbps(sup, arg_repeat),
                            median_mbps(plain, arg_repeat), "MB/s");
        bench_report_figure(rep, "logstream.bytes_lost", (double) lost, (double) plain_lost, "bytes");
        bench_report_figure(rep, "logstream.bytes_corrupted", (double) corrupted, (double) plain_corrupted,
                            "bytes");
        bench_report_figure(rep, "logstream.hash_mismatches", bad_hash, plain_bad_hash, "runs");
        (void) snprintf(hash, sizeof(hash), "%016" PRIx64, expected_hash);
        bench_report_text(rep, "logstream.expected_hash", hash);
        bench_report_figure(rep, "logstream.supervisor_peak_rss", s->hwm_kib / KIB_PER_MIB,
                            s->idle_kib / KIB_PER_MIB, "MiB");
        bench_report_goal(rep, "logstream.nothing_lost", "every byte read, intact (count, pattern and hash)",
                          lost == 0 && corrupted == 0 && bad_hash == 0);
        (void) snprintf(
                what, sizeof(what),
                "supervisor peak RSS (VmHWM) within %u KiB of its idle RSS after streaming %u x %" PRIu64
                " MiB",
                PEAK_GROWTH_GOAL_KIB, arg_repeat, arg_size / (1024U * 1024U));
        bench_report_goal(rep, "logstream.peak_rss_bounded", what,
                          s->hwm_kib <= s->idle_kib + PEAK_GROWTH_GOAL_KIB);
}

static void report_default_cap(BenchReport *rep, const Result *res, const Result *plain,
                               const Supervisor *s) {
        bench_report_figure(rep, "logstream.default_cap.throughput", res->mbps, plain->mbps, "MB/s");
        bench_report_value(rep, "logstream.default_cap.bytes_rotated_away", (double) res->announced,
                           "bytes");
        bench_report_value(rep, "logstream.default_cap.skip_notes", res->notes, "");
        bench_report_value(rep, "logstream.default_cap.bytes_lost_unannounced", (double) res->lost, "bytes");
        bench_report_value(rep, "logstream.default_cap.bytes_corrupted", (double) res->corrupted, "bytes");
        bench_report_figure(rep, "logstream.default_cap.supervisor_peak_rss", s->hwm_kib / KIB_PER_MIB,
                            s->idle_kib / KIB_PER_MIB, "MiB");
        bench_report_goal(rep, "logstream.default_cap.only_announced_skips",
                          "with rotation, every byte not announced as rotated away arrives intact",
                          res->lost == 0 && res->corrupted == 0);
}

/* ---- main ------------------------------------------------------------------------------------ */

static int run_main(BenchReport *rep, BenchEnv *env, sd_bus *bus, uint64_t expected_hash, Result *plain) {
        _cleanup_(supervisor_done) Supervisor s = {.pid = -1};
        Result sup[REPEAT_MAX] = {};
        int r;

        r = supervisor_start(env, bus, arg_size + 1024U * 1024U, &s);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < arg_repeat; i++) {
                bench_progress("run %u/%u: plain pipe, then supervisor", i + 1, arg_repeat);
                r = stream_plain_pipe(&plain[i]);
                if (r < 0)
                        return r;
                r = stream_supervisor(bus, &sup[i]);
                if (r < 0)
                        return r;
                /* The log of this run is no longer needed: keep the disk and page cache small. */
                remove_logs();
        }
        r = supervisor_stop(&s);
        if (r < 0)
                return r;
        report_main(rep, plain, sup, &s, expected_hash);
        return 0;
}

static int run_default_cap(BenchReport *rep, BenchEnv *env, sd_bus *bus, const Result *plain) {
        _cleanup_(supervisor_done) Supervisor s = {.pid = -1};
        Result res = {};
        int r;

        r = supervisor_start(env, bus, 0, &s);
        if (r < 0)
                return r;
        bench_progress("one more run with the supervisor's default log cap");
        r = stream_supervisor(bus, &res);
        if (r < 0)
                return r;
        r = supervisor_stop(&s);
        if (r < 0)
                return r;
        report_default_cap(rep, &res, plain, &s);
        return 0;
}

static void help(void) {
        printf("%s --supervisord=PATH --writer=PATH --registryd=PATH [OPTIONS...]\n\n"
               "A child's output streamed through troupe-supervisord's OpenLog(), beside a plain pipe.\n\n"
               "  -h --help               Show this help\n"
               "     --supervisord=PATH   The troupe-supervisord executable\n"
               "     --writer=PATH        The bench-log-writer executable\n"
               "     --registryd=PATH     The troupe-registryd executable (it records every Spawn())\n"
               "     --size=BYTES         Bytes the child writes per run (default 268435456)\n"
               "     --repeat=N           Runs of each (default 3, at most 20)\n"
               "     --json               Print one JSON object\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_SUPERVISORD = 0x100, ARG_WRITER, ARG_REGISTRYD, ARG_SIZE, ARG_REPEAT, ARG_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"supervisord", required_argument, NULL, ARG_SUPERVISORD},
                {"writer", required_argument, NULL, ARG_WRITER},
                {"registryd", required_argument, NULL, ARG_REGISTRYD},
                {"size", required_argument, NULL, ARG_SIZE},
                {"repeat", required_argument, NULL, ARG_REPEAT},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_SUPERVISORD:
                        arg_supervisord = optarg;
                        break;
                case ARG_WRITER:
                        arg_writer = optarg;
                        break;
                case ARG_REGISTRYD:
                        arg_registryd = optarg;
                        break;
                case ARG_SIZE:
                        arg_size = strtoull(optarg, NULL, 10);
                        if (arg_size < 4096 || arg_size > UINT64_C(16) * 1024 * 1024 * 1024)
                                return -EINVAL;
                        break;
                case ARG_REPEAT:
                        arg_repeat = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_repeat == 0 || arg_repeat > REPEAT_MAX)
                                return -EINVAL;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_supervisord || !arg_registryd || !arg_writer || arg_writer[0] != '/') {
                fprintf(stderr, "--supervisord=PATH, --registryd=PATH and --writer=/ABSOLUTE/PATH are required.\n");
                return -EINVAL;
        }
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(bench_env_freep) BenchEnv *env = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(bench_report_done) BenchReport rep = {};
        Result plain[REPEAT_MAX] = {};
        uint64_t expected_hash;
        pid_t registry = -1;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        (void) signal(SIGPIPE, SIG_IGN);
        bench_pattern_fill(pattern);
        expected_hash = pattern_hash(arg_size);
        r = bench_report_init(&rep, "bench-logstream", arg_json);
        if (r < 0)
                return r;
        bench_report_load(&rep, "load_average_start");
        r = bench_env_new(&env);
        if (r >= 0)
                r = bench_env_start_bus(env);
        if (r >= 0)
                r = bench_bus_open(&bus);
        if (r >= 0)
                r = registry_start(env, bus, &registry);
        if (r >= 0)
                r = run_main(&rep, env, bus, expected_hash, plain);
        if (r >= 0)
                r = run_default_cap(&rep, env, bus, &plain[0]);
        if (registry > 0)
                (void) bench_stop(registry, 10 * USEC_PER_SEC);
        if (r < 0)
                return r;
        bench_report_load(&rep, "load_average_end");
        return bench_report_finish(&rep);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (r < 0)
                fprintf(stderr, "bench-logstream failed: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-health: org.troupe.Registry1.Manager.Health() round trips beside a bare sd-bus echo service.
 *
 * Method. The bench starts a private dbus-daemon and troupe-registryd in temporary XDG
 * directories, and forks a bare sd-bus service on the same bus: it owns org.troupe.BenchEcho1 and
 * serves one method, Health() -> s, that answers "ok" from an sd-event loop, exactly the way the
 * daemons attach sd-bus to sd-event, with nothing else behind it. One client connection then calls
 * both methods synchronously (sd_bus_call_method(), reading the "s" reply and checking it is
 * "ok"), --warmup calls each first, then --calls calls each, interleaved one by one and swapping
 * which goes first every iteration so that load changes on this machine hit both alike. Each
 * round trip (client -> dbus-daemon -> service -> dbus-daemon -> client) is timed with
 * CLOCK_MONOTONIC; p50, p99 and mean are reported with the echo service as the baseline. Both
 * services are pinned to the same CPU (see bench_pin_cpu(); --no-pin to leave them free).
 * Goal: registry p50 within 1.3x of the echo service's p50. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/string-util.h"
#include "bench-util.h"

#define REGISTRY_NAME "org.troupe.Registry1"
#define REGISTRY_PATH "/org/troupe/Registry1"
#define REGISTRY_MANAGER "org.troupe.Registry1.Manager"
#define ECHO_NAME "org.troupe.BenchEcho1"
#define ECHO_PATH "/org/troupe/BenchEcho1"
#define ECHO_INTERFACE "org.troupe.BenchEcho1"
#define RATIO_GOAL 1.3

static unsigned arg_calls = 10000;
static unsigned arg_warmup = 1000;
static const char *arg_registryd = NULL;
static bool arg_json = false;
static bool arg_pin = true;

typedef struct Target {
        const char *name, *path, *interface;
        uint64_t *nsec;
        size_t n;
} Target;

/* ---- the baseline service -------------------------------------------------------------------- */

static int echo_health(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "s", "ok");
}

static const sd_bus_vtable echo_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Health", "", "s", echo_health, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int echo_service_run(void) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_event_new(&event);
        if (r < 0)
                return r;
        r = bench_bus_open(&bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(bus, NULL, ECHO_PATH, ECHO_INTERFACE, echo_vtable, NULL);
        if (r < 0)
                return r;
        r = sd_bus_request_name(bus, ECHO_NAME, 0);
        if (r < 0)
                return r;
        return sd_event_loop(event);
}

static int echo_service_start(pid_t *ret) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) signal(SIGTERM, SIG_DFL);
                _exit(echo_service_run() < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        *ret = pid;
        return 0;
}

/* ---- calls ----------------------------------------------------------------------------------- */

static int call_health(sd_bus *bus, const Target *t, uint64_t *ret_nsec) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *status;
        uint64_t start = bench_now_nsec();
        int r;

        r = sd_bus_call_method(bus, t->name, t->path, t->interface, "Health", &error, &reply, "");
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &status);
        if (r < 0) {
                fprintf(stderr, "%s Health() failed: %s\n", t->name, error.message ?: strerror(-r));
                return r;
        }
        if (!streq(status, "ok")) {
                fprintf(stderr, "%s Health() says \"%s\", not \"ok\".\n", t->name, status);
                return -EIO;
        }
        if (ret_nsec)
                *ret_nsec = bench_now_nsec() - start;
        return 0;
}

static int call_both(sd_bus *bus, Target t[2], unsigned iteration, bool record) {
        for (unsigned k = 0; k < 2; k++) {
                Target *x = &t[(iteration + k) % 2];
                uint64_t ns;
                int r;

                r = call_health(bus, x, &ns);
                if (r < 0)
                        return r;
                if (record)
                        x->nsec[x->n++] = ns;
        }
        return 0;
}

static double mean_usec(const uint64_t *v, size_t n) {
        double sum = 0;

        for (size_t i = 0; i < n; i++)
                sum += (double) v[i];
        return n > 0 ? sum / (double) n / 1000.0 : 0;
}

static void report(BenchReport *rep, Target *reg, Target *echo) {
        double p50 = bench_percentile_u64(reg->nsec, reg->n, 50) / 1000.0;
        double b50 = bench_percentile_u64(echo->nsec, echo->n, 50) / 1000.0;
        char what[128];

        bench_report_value(rep, "health.calls", (double) reg->n, "");
        bench_report_figure(rep, "health.rtt_p50", p50, b50, "us");
        bench_report_figure(rep, "health.rtt_p99",
                            bench_percentile_sorted_u64(reg->nsec, reg->n, 99) / 1000.0,
                            bench_percentile_sorted_u64(echo->nsec, echo->n, 99) / 1000.0, "us");
        bench_report_figure(rep, "health.rtt_mean", mean_usec(reg->nsec, reg->n),
                            mean_usec(echo->nsec, echo->n), "us");
        (void) snprintf(what, sizeof(what),
                        "registry Health() p50 within %.1fx of a bare sd-bus echo (%.2fx)", RATIO_GOAL,
                        b50 > 0 ? p50 / b50 : 0);
        bench_report_goal(rep, "health.p50_ratio", what, b50 > 0 && p50 / b50 <= RATIO_GOAL);
}

static int measure(BenchReport *rep, sd_bus *bus) {
        Target t[2] = {
                {.name = REGISTRY_NAME, .path = REGISTRY_PATH, .interface = REGISTRY_MANAGER},
                {.name = ECHO_NAME, .path = ECHO_PATH, .interface = ECHO_INTERFACE},
        };
        int r = 0;

        t[0].nsec = calloc(arg_calls, sizeof(uint64_t));
        t[1].nsec = calloc(arg_calls, sizeof(uint64_t));
        if (!t[0].nsec || !t[1].nsec) {
                r = -ENOMEM;
                goto finish;
        }
        for (unsigned i = 0; i < arg_warmup && r >= 0; i++)
                r = call_both(bus, t, i, false);
        for (unsigned i = 0; i < arg_calls && r >= 0; i++)
                r = call_both(bus, t, i, true);
        if (r >= 0)
                report(rep, &t[0], &t[1]);
finish:
        free(t[0].nsec);
        free(t[1].nsec);
        return r;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void help(void) {
        printf("%s --registryd=PATH [OPTIONS...]\n\n"
               "Registry1 Health() round trips beside a bare sd-bus echo service on the same private "
               "bus.\n\n"
               "  -h --help             Show this help\n"
               "     --registryd=PATH   The troupe-registryd executable\n"
               "     --calls=N          Measured calls to each (default 10000)\n"
               "     --warmup=N         Calls to each before measuring (default 1000)\n"
               "     --no-pin           Do not put both services on the same CPU\n"
               "     --json             Print one JSON object\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_REGISTRYD = 0x100, ARG_CALLS, ARG_WARMUP, ARG_NO_PIN, ARG_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"registryd", required_argument, NULL, ARG_REGISTRYD},
                {"calls", required_argument, NULL, ARG_CALLS},
                {"warmup", required_argument, NULL, ARG_WARMUP},
                {"no-pin", no_argument, NULL, ARG_NO_PIN},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_REGISTRYD:
                        arg_registryd = optarg;
                        break;
                case ARG_NO_PIN:
                        arg_pin = false;
                        break;
                case ARG_CALLS:
                        arg_calls = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_calls == 0 || arg_calls > 10000000)
                                return -EINVAL;
                        break;
                case ARG_WARMUP:
                        arg_warmup = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_warmup > 10000000)
                                return -EINVAL;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_registryd) {
                fprintf(stderr, "--registryd=PATH is required.\n");
                return -EINVAL;
        }
        return 1;
}

static int start_services(BenchEnv *env, sd_bus *bus, pid_t *ret_registry, pid_t echo) {
        _cleanup_free_ char *log = bench_env_path(env, "registryd.log");
        char *argv[] = {(char *) arg_registryd, NULL};
        int r;

        if (!log)
                return -ENOMEM;
        r = bench_spawn(argv, NULL, log, ret_registry);
        if (r < 0)
                return r;
        r = bench_bus_wait_name(bus, REGISTRY_NAME, *ret_registry, 30 * USEC_PER_SEC);
        if (r < 0) {
                bench_dump_log(log, 30);
                return r;
        }
        return bench_bus_wait_name(bus, ECHO_NAME, echo, 30 * USEC_PER_SEC);
}

static int pin_services(pid_t registry, pid_t echo) {
        int r;

        if (!arg_pin)
                return 0;
        r = bench_pin_cpu(registry);
        return r < 0 ? r : bench_pin_cpu(echo);
}

static int run(int argc, char *argv[]) {
        _cleanup_(bench_env_freep) BenchEnv *env = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(bench_report_done) BenchReport rep = {};
        pid_t registry = -1, echo = -1;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        r = bench_report_init(&rep, "bench-health", arg_json);
        if (r < 0)
                return r;
        bench_report_load(&rep, "load_average_start");
        r = bench_env_new(&env);
        if (r >= 0)
                r = bench_env_start_bus(env);
        /* Forked before this process has a bus connection of its own. */
        if (r >= 0)
                r = echo_service_start(&echo);
        if (r >= 0)
                r = bench_bus_open(&bus);
        if (r >= 0)
                r = start_services(env, bus, &registry, echo);
        if (r >= 0)
                r = pin_services(registry, echo);
        if (r >= 0) {
                bench_progress("Health(): %u warm-up and %u measured calls to each service", arg_warmup,
                               arg_calls);
                r = measure(&rep, bus);
        }
        if (r >= 0)
                bench_report_load(&rep, "load_average_end");
        if (registry > 0)
                (void) bench_stop(registry, 10 * USEC_PER_SEC);
        if (echo > 0)
                (void) bench_stop(echo, 10 * USEC_PER_SEC);
        if (r < 0)
                return r;
        return bench_report_finish(&rep);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (r < 0)
                fprintf(stderr, "bench-health failed: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupe-registryd: agents, tasks and their journal, on org.troupe.Registry1 and the agent socket. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "bus/daemon-util.h"
#include "registryd.h"

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Registers agents, tracks their liveness, runs their tasks and journals every task event.\n"
               "Serves org.troupe.Registry1 on the session bus (or $TROUPE_BUS_ADDRESS) and the agent\n"
               "socket $XDG_RUNTIME_DIR/troupe/agent.sock.\n\n"
               "  -h --help                      Show this help\n"
               "     --version                   Show the version\n"
               "     --heartbeat-interval-ms=N   Heartbeat interval agents are told (default 1000,\n"
               "                                 or $TROUPE_HEARTBEAT_INTERVAL_MS)\n"
               "     --max-connections=N         Agent socket connections at once (default %u)\n"
               "     --max-unregistered=N        Connections that have not registered yet (default %u)\n"
               "     --register-timeout-ms=N     Close a connection that sends no Register (default %" PRIu64
               ")\n"
               "     --reclaim-grace-ms=N        How long a running task waits for its agent after a\n"
               "                                 restart or for a retry (default %" PRIu64 ")\n"
               "     --cancel-timeout-ms=N       How long an agent has to confirm a cancel (default %" PRIu64
               ")\n"
               "     --max-finished-tasks=N      Finished tasks kept in the journal (default %u)\n"
               "     --max-event-readers=N       OpenEvents() streams at once (default %u)\n\n"
               "See troupe-registryd(8) and org.troupe.Registry1(5).\n",
               program_invocation_short_name, MAX_CONNECTIONS_DEFAULT, MAX_UNREGISTERED_DEFAULT,
               REGISTER_TIMEOUT_USEC_DEFAULT / USEC_PER_MSEC, RECLAIM_GRACE_USEC_DEFAULT / USEC_PER_MSEC,
               CANCEL_TIMEOUT_USEC_DEFAULT / USEC_PER_MSEC, MAX_FINISHED_TASKS_DEFAULT,
               MAX_EVENT_READERS_DEFAULT);
}

/* A decimal number in [min, max], nothing else. */
static int parse_number(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_heartbeat_ms(const char *s, const char *what, usec_t *ret) {
        uint64_t v;
        int r;

        r = parse_number(s, HEARTBEAT_INTERVAL_USEC_MIN / USEC_PER_MSEC,
                         HEARTBEAT_INTERVAL_USEC_MAX / USEC_PER_MSEC, &v);
        if (r < 0)
                return log_error_errno(r,
                                       "Invalid %s '%s': expected milliseconds in %" PRIu64 "..%" PRIu64 ".",
                                       what, s, HEARTBEAT_INTERVAL_USEC_MIN / USEC_PER_MSEC,
                                       HEARTBEAT_INTERVAL_USEC_MAX / USEC_PER_MSEC);
        *ret = v * USEC_PER_MSEC;
        return 0;
}

static int parse_option_number(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        int r = parse_number(s, min, max, ret);
        if (r < 0)
                return log_error_errno(r,
                                       "Invalid --%s='%s': expected a number in %" PRIu64 "..%" PRIu64 ".",
                                       name, s, min, max);
        return 0;
}

static int parse_argv(int argc, char *argv[], Context *c) {
        enum {
                ARG_VERSION = 0x100,
                ARG_HEARTBEAT,
                ARG_MAX_CONNECTIONS,
                ARG_MAX_UNREGISTERED,
                ARG_REGISTER_TIMEOUT,
                ARG_RECLAIM_GRACE,
                ARG_CANCEL_TIMEOUT,
                ARG_MAX_FINISHED,
                ARG_MAX_READERS,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"heartbeat-interval-ms", required_argument, NULL, ARG_HEARTBEAT},
                {"max-connections", required_argument, NULL, ARG_MAX_CONNECTIONS},
                {"max-unregistered", required_argument, NULL, ARG_MAX_UNREGISTERED},
                {"register-timeout-ms", required_argument, NULL, ARG_REGISTER_TIMEOUT},
                {"reclaim-grace-ms", required_argument, NULL, ARG_RECLAIM_GRACE},
                {"cancel-timeout-ms", required_argument, NULL, ARG_CANCEL_TIMEOUT},
                {"max-finished-tasks", required_argument, NULL, ARG_MAX_FINISHED},
                {"max-event-readers", required_argument, NULL, ARG_MAX_READERS},
                {},
        };
        const char *e;
        uint64_t v;
        int opt, r;

        e = getenv("TROUPE_HEARTBEAT_INTERVAL_MS");
        if (!isempty(e)) {
                r = parse_heartbeat_ms(e, "$TROUPE_HEARTBEAT_INTERVAL_MS", &c->heartbeat_interval_usec);
                if (r < 0)
                        return r;
        }

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                r = 0;
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
                        return 0;
                case ARG_HEARTBEAT:
                        r = parse_heartbeat_ms(optarg, "--heartbeat-interval-ms",
                                               &c->heartbeat_interval_usec);
                        break;
                case ARG_MAX_CONNECTIONS:
                        r = parse_option_number("max-connections", optarg, 1, 1000000, &v);
                        c->max_connections = v;
                        break;
                case ARG_MAX_UNREGISTERED:
                        r = parse_option_number("max-unregistered", optarg, 1, 1000000, &v);
                        c->max_unregistered = v;
                        break;
                case ARG_REGISTER_TIMEOUT:
                        r = parse_option_number("register-timeout-ms", optarg, 10, 3600000, &v);
                        c->register_timeout_usec = v * USEC_PER_MSEC;
                        break;
                case ARG_RECLAIM_GRACE:
                        r = parse_option_number("reclaim-grace-ms", optarg, 0, 86400000, &v);
                        c->reclaim_grace_usec = v * USEC_PER_MSEC;
                        break;
                case ARG_CANCEL_TIMEOUT:
                        r = parse_option_number("cancel-timeout-ms", optarg, 1, 3600000, &v);
                        c->cancel_timeout_usec = v * USEC_PER_MSEC;
                        break;
                case ARG_MAX_FINISHED:
                        r = parse_option_number("max-finished-tasks", optarg, 0, 10000000,
                                                &c->max_finished_tasks);
                        break;
                case ARG_MAX_READERS:
                        r = parse_option_number("max-event-readers", optarg, 1, 1000000, &v);
                        c->max_event_readers = v;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option %d.", opt);
                }
                if (r < 0)
                        return r;
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no positional arguments.",
                                       program_invocation_short_name);
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(context_freep) Context *c = NULL;
        int r;

        log_set_identifier(program_invocation_short_name);
        log_parse_environment();

        r = context_new(&c);
        if (r < 0)
                return log_oom();
        r = parse_argv(argc, argv, c);
        if (r <= 0)
                return r;

        /* Event readers write into pipes whose other end may be gone: EPIPE, not death. */
        (void) signal(SIGPIPE, SIG_IGN);

        r = daemon_event_new(&c->event);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        r = context_load(c);
        if (r < 0)
                return r;
        r = bus_open_daemon(c->event, &c->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");
        r = registry_bus_setup(c);
        if (r < 0)
                return r;

        r = daemon_event_loop(c->event, "Serving agents and tasks.");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        /* Whatever the last loop iteration journaled. */
        (void) context_flush(c);
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : r;
}

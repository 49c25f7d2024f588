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
#include "registryd-privilege.h"
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
               "     --max-event-readers=N       OpenEvents() streams at once (default %u)\n"
               "     --token-lifetime=SEC        How long a task's capability token is valid (default %u)\n"
               "     --consent-timeout=SEC       Unanswered consent requests are denied after this long\n"
               "                                 (default %u)\n"
               "     --audit-max-size=BYTES      Cap the audit log's size (K, M, G suffixes; 0: no cap):\n"
               "                                 privileged actions are refused once it is full\n"
               "     --audit-forget-anchor       Accept an audit log that no longer reaches the head\n"
               "                                 kept from the last run (recorded in the log)\n\n"
               "See troupe-registryd(8) and org.troupe.Registry1(5).\n",
               program_invocation_short_name, MAX_CONNECTIONS_DEFAULT, MAX_UNREGISTERED_DEFAULT,
               REGISTER_TIMEOUT_USEC_DEFAULT / USEC_PER_MSEC, RECLAIM_GRACE_USEC_DEFAULT / USEC_PER_MSEC,
               CANCEL_TIMEOUT_USEC_DEFAULT / USEC_PER_MSEC, MAX_FINISHED_TASKS_DEFAULT,
               MAX_EVENT_READERS_DEFAULT, (unsigned) (TOKEN_LIFETIME_USEC_DEFAULT / USEC_PER_SEC),
               (unsigned) (CONSENT_TIMEOUT_USEC_DEFAULT / USEC_PER_SEC));
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

/* A byte count with an optional K, M or G (powers of 1024), as troupe-supervisord's --log-size-max. */
static int parse_size(const char *s, uint64_t *ret) {
        uint64_t factor = 1;
        unsigned long long v;
        char *end;

        if (isempty(s) || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -EINVAL;
        if (streq(end, "K"))
                factor = 1024;
        else if (streq(end, "M"))
                factor = 1024 * 1024;
        else if (streq(end, "G"))
                factor = 1024 * 1024 * 1024;
        else if (*end != 0)
                return -EINVAL;
        if (v > UINT64_MAX / factor)
                return -ERANGE;
        *ret = v * factor;
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
                ARG_TOKEN_LIFETIME,
                ARG_CONSENT_TIMEOUT,
                ARG_AUDIT_MAX_SIZE,
                ARG_AUDIT_FORGET_ANCHOR,
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
                {"token-lifetime", required_argument, NULL, ARG_TOKEN_LIFETIME},
                {"consent-timeout", required_argument, NULL, ARG_CONSENT_TIMEOUT},
                {"audit-max-size", required_argument, NULL, ARG_AUDIT_MAX_SIZE},
                {"audit-forget-anchor", no_argument, NULL, ARG_AUDIT_FORGET_ANCHOR},
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
                case ARG_TOKEN_LIFETIME:
                        r = parse_option_number("token-lifetime", optarg, 1, TOKEN_LIFETIME_SEC_MAX, &v);
                        c->token_lifetime_usec = v * USEC_PER_SEC;
                        break;
                case ARG_CONSENT_TIMEOUT:
                        r = parse_option_number("consent-timeout", optarg, 1, CONSENT_TIMEOUT_SEC_MAX, &v);
                        c->consent_timeout_usec = v * USEC_PER_SEC;
                        break;
                case ARG_AUDIT_MAX_SIZE:
                        r = parse_size(optarg, &c->audit_max_size);
                        if (r < 0)
                                return log_error_errno(r,
                                                       "Invalid --audit-max-size='%s': expected bytes, "
                                                       "with an optional K, M or G.",
                                                       optarg);
                        break;
                case ARG_AUDIT_FORGET_ANCHOR:
                        c->audit_forget_anchor = true;
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
        /* Before the registry takes its name: the supervisor's first RecordAudit() may follow at once. */
        r = registry_audit_bus_setup(c);
        if (r < 0)
                return r;
        r = registry_bus_setup(c);
        if (r < 0)
                return r;
        r = exec_setup(c);
        if (r < 0)
                return r;

        r = daemon_event_loop(c->event, "Serving agents and tasks.");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        /* The audit rows still queued first: what their handlers do is journaled with the rest. */
        registry_audit_close(c);
        /* Whatever the last loop iteration journaled. */
        (void) context_flush(c);
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : r;
}

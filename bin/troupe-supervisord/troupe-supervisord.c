/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "bus/daemon-util.h"
#include "process-log.h"
#include "suite.h"
#include "supervisor-bus.h"
#include "supervisor.h"

static void help(void) {
        printf("Usage: troupe-supervisord [OPTIONS...]\n\n"
               "Starts and stops processes for troupe, captures their output and restarts them by policy\n"
               "(org.troupe.Supervisor1 on the session bus, or on $TROUPE_BUS_ADDRESS).\n\n"
               "  -h --help                 Show this help and exit\n"
               "     --version              Show the version and exit\n"
               "     --suite                Also start and watch the suite (troupe-registryd,\n"
               "                            troupe-routerd) from the built-in table\n"
               "     --suite-table=FILE     Like --suite, with the table read from FILE\n"
               "     --log-size-max=BYTES   Size of a process log file before it is rotated\n"
               "                            (K, M, G suffixes; default 8M)\n"
               "     --read-only-path=PATH  Let confined processes also read and execute PATH\n"
               "                            (repeatable; $TROUPE_SANDBOX_READ_ONLY adds a\n"
               "                            colon-separated list): a build tree, for example\n"
               "     --cgroup=auto|v2|scope|v1|none\n"
               "                            Where the memory, tasks and CPU limits of confined\n"
               "                            processes go (default auto: cgroup v2, else a\n"
               "                            transient systemd scope, else cgroup v1, else rlimits)\n\n"
               "See troupe-supervisord(8).\n");
}

static int parse_size(const char *s, uint64_t *ret) {
        unsigned long long v;
        uint64_t factor = 1;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || s[0] == '-')
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

static int parse_argv(int argc, char *argv[], Arguments *args) {
        enum {
                ARG_VERSION = 0x100,
                ARG_SUITE,
                ARG_SUITE_TABLE,
                ARG_LOG_SIZE_MAX,
                ARG_READ_ONLY_PATH,
                ARG_CGROUP
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"suite", no_argument, NULL, ARG_SUITE},
                {"suite-table", required_argument, NULL, ARG_SUITE_TABLE},
                {"log-size-max", required_argument, NULL, ARG_LOG_SIZE_MAX},
                {"read-only-path", required_argument, NULL, ARG_READ_ONLY_PATH},
                {"cgroup", required_argument, NULL, ARG_CGROUP},
                {}};
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("troupe-supervisord %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_SUITE:
                        args->suite = true;
                        break;
                case ARG_SUITE_TABLE:
                        r = free_and_strdup(&args->suite_table, optarg);
                        if (r < 0)
                                return log_oom();
                        args->suite = true;
                        break;
                case ARG_LOG_SIZE_MAX:
                        r = parse_size(optarg, &args->log_size_max);
                        if (r < 0 || args->log_size_max < PROCESS_LOG_SIZE_MIN)
                                return log_error_errno(-EINVAL,
                                                       "Invalid --log-size-max '%s': at least %llu bytes.",
                                                       optarg, (unsigned long long) PROCESS_LOG_SIZE_MIN);
                        break;
                case ARG_READ_ONLY_PATH:
                        /* Checked with the environment's, in context_new(). */
                        r = strv_extend(&args->read_only, optarg);
                        if (r < 0)
                                return log_oom();
                        break;
                case ARG_CGROUP:
                        args->cgroup_choice = sandbox_cgroup_choice_from_string(optarg);
                        if (args->cgroup_choice < 0)
                                return log_error_errno(
                                        args->cgroup_choice,
                                        "Invalid --cgroup=%s: use auto, v2, scope, v1 or none.", optarg);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unhandled option.");
                }

        if (optind < argc)
                return log_error_errno(-EINVAL, "This program takes no arguments.");
        return 1;
}

static int run(int argc, char *argv[]) {
        _cleanup_(arguments_done) Arguments args = {.log_size_max = PROCESS_LOG_SIZE_MAX_DEFAULT};
        _cleanup_(context_freep) Context *c = NULL;
        int r;

        log_set_identifier("troupe-supervisord");
        log_parse_environment();

        r = parse_argv(argc, argv, &args);
        if (r <= 0)
                return r;

        r = context_new(&args, &c);
        if (r < 0)
                return r;
        r = supervisor_setup_event(c);
        if (r < 0)
                return r;

        r = bus_open_daemon(c->event, &c->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");
        r = supervisor_bus_add(c);
        if (r < 0)
                return r;
        r = bus_request_name(c->bus, SUPERVISOR_BUS_NAME);
        if (r == -EEXIST)
                return log_error_errno(r, "%s is already owned: another supervisor is running.",
                                       SUPERVISOR_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", SUPERVISOR_BUS_NAME);

        if (c->suite)
                (void) suite_start(c->suite);
        else
                supervisor_notify_ready(c);

        r = sd_event_loop(c->event);
        (void) daemon_notify_stopping();
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupe-routerd: org.troupe.Router1, turning requests into tasks for the right agent. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "bus/daemon-util.h"
#include "routerd-bus.h"
#include "routerd.h"

static uint64_t arg_spawn_timeout_usec = ROUTER_SPAWN_TIMEOUT_DEFAULT_USEC;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Serves org.troupe.Router1: turns a request (an agent, a skill or a prompt) into a task,\n"
               "starting the agent through troupe-supervisord when it is not registered.\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --spawn-timeout=MSEC   How long to wait for a started agent to register\n"
               "                            (default 10000)\n\n"
               "Agent cards are read from $TROUPE_AGENT_CARDS_DIR, $XDG_CONFIG_HOME/troupe/agents and\n"
               "%s/agents; SIGHUP or Reload() reads them again. See troupe-routerd(8).\n",
               program_invocation_short_name, TROUPE_DATADIR);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_SPAWN_TIMEOUT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "spawn-timeout", required_argument, NULL, ARG_SPAWN_TIMEOUT },
                {},
        };
        char *end;
        unsigned long long ms;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("%s %s\n", program_invocation_short_name, PACKAGE_VERSION);
                        return 0;
                case ARG_SPAWN_TIMEOUT:
                        errno = 0;
                        ms = strtoull(optarg, &end, 10);
                        if (errno != 0 || *end != '\0' || isempty(optarg) || ms < 1 || ms > 600000)
                                return log_error_errno(-EINVAL, "--spawn-timeout= takes 1..600000 ms, not '%s'.",
                                                       optarg);
                        arg_spawn_timeout_usec = ms * USEC_PER_MSEC;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unknown option code %c.", c);
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no arguments.", program_invocation_short_name);
        return 1;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Context *c = userdata;
        int r;

        r = context_reload_cards(c);
        if (r < 0)
                log_warning_errno(r, "Failed to read the agent cards again, keeping the old ones: %m");
        return 0;
}

static int add_sighup(Context *c) {
        sigset_t mask;

        if (sigemptyset(&mask) < 0 || sigaddset(&mask, SIGHUP) < 0)
                return -EINVAL;
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        return sd_event_add_signal(c->event, &c->sighup_source, SIGHUP, on_sighup, c);
}

static int run(int argc, char *argv[]) {
        _cleanup_(context_freep) Context *c = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        int r;

        log_set_identifier(program_invocation_short_name);
        log_parse_environment();

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        r = daemon_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");
        r = context_new(event, &c);
        if (r < 0)
                return log_oom();
        c->spawn_timeout_usec = arg_spawn_timeout_usec;
        r = context_reload_cards(c);
        if (r < 0)
                return log_error_errno(r, "Failed to read the agent cards: %m");
        r = add_sighup(c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGHUP: %m");

        r = bus_open_daemon(event, &c->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the bus: %m");
        r = router_bus_setup(c);
        if (r < 0)
                return r;

        return daemon_event_loop(event, "Routing requests.");
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent SDK's entry points: the Agent object, its card, stopping, idling, and agent_main(). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/sdk-cards.h"
#include "agent/sdk-internal.h"
#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"

int agent_new(sd_event *event, const AgentDefinition *def, Agent **ret) {
        _cleanup_(agent_freep) Agent *a = NULL;
        int r;

        assert_return(def && def->start, -EINVAL);
        assert_return(!def->name || name_is_valid(def->name, AGENT_NAME_MAX), -EINVAL);
        assert_return(ret, -EINVAL);

        a = calloc(1, sizeof(Agent));
        if (!a)
                return -ENOMEM;
        a->def = *def;
        a->first_fd = -EBADF;
        a->handle_signals = true;
        a->exit_code = EXIT_SUCCESS;
        if (event)
                a->event = sd_event_ref(event);
        else {
                r = sd_event_default(&a->event);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;
        agent_tasks_free(a);
        agent_requests_free(a);
        agent_link_free(a);
        a->idle_timer = sd_event_source_disable_unref(a->idle_timer);
        a->stop_timer = sd_event_source_disable_unref(a->stop_timer);
        for (size_t i = 0; i < ELEMENTSOF(a->signal_sources); i++)
                a->signal_sources[i] = sd_event_source_disable_unref(a->signal_sources[i]);
        safe_close(a->first_fd);
        agent_card_free(a->card);
        free(a->card_json);
        free(a->card_path);
        free(a->socket_path);
        sd_event_unref(a->event);
        return mfree(a);
}

int agent_set_card_path(Agent *a, const char *path) {
        assert_return(a && !a->card, -EINVAL);
        return free_and_strdup(&a->card_path, path);
}

int agent_set_socket_path(Agent *a, const char *path) {
        assert_return(a, -EINVAL);
        return free_and_strdup(&a->socket_path, path);
}

int agent_set_fd(Agent *a, int fd) {
        assert_return(a && fd >= 0, -EINVAL);
        safe_close(a->first_fd);
        a->first_fd = fd;
        return 0;
}

void agent_set_handle_signals(Agent *a, bool b) {
        if (a)
                a->handle_signals = b;
}

const AgentCard *agent_get_card(Agent *a) {
        return a ? a->card : NULL;
}

sd_event *agent_get_event(Agent *a) {
        return a ? a->event : NULL;
}

bool agent_is_registered(Agent *a) {
        return a && a->link == AGENT_LINK_REGISTERED;
}

uint64_t agent_get_heartbeat_interval_usec(Agent *a) {
        return a ? a->heartbeat_interval_usec : 0;
}

size_t agent_get_n_tasks(Agent *a) {
        return a ? a->n_tasks : 0;
}

unsigned agent_get_n_connections(Agent *a) {
        return a ? a->n_connections : 0;
}

/* agent_set_card_path() (--card), else $TROUPE_AGENT_CARD, else the definition's path, else the
 * card of our name in the card directories. */
static int card_locate(Agent *a, char **ret) {
        const char *e = getenv("TROUPE_AGENT_CARD"), *p;
        char *copy;

        p = a->card_path ?: !isempty(e) ? e : a->def.card_path;
        if (!p) {
                if (!a->def.name)
                        return -ENOENT;
                return agent_card_find(a->def.name, ret);
        }
        copy = strdup(p);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static int card_load(Agent *a) {
        _cleanup_(agent_card_freep) AgentCard *card = NULL;
        _cleanup_free_ char *path = NULL, *data = NULL, *error = NULL;
        size_t size = 0;
        int r;

        r = card_locate(a, &path);
        if (r == -ENOENT)
                return log_error_errno(r, "No card found for agent '%s': set $TROUPE_AGENT_CARD or install "
                                          "<name>.json in a card directory.", strna(a->def.name));
        if (r < 0)
                return log_error_errno(r, "Failed to locate the agent card: %m");

        r = read_full_file_at(AT_FDCWD, path, AGENT_CARD_SIZE_MAX, &data, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read agent card %s: %m", path);
        r = agent_card_parse(data, size, &card, &error);
        if (r < 0)
                return log_error_errno(r, "Invalid agent card %s: %s", path, error ?: strerror(-r));
        if (a->def.name && !streq(card->name, a->def.name))
                return log_error_errno(-EINVAL, "Agent card %s is for agent '%s', not '%s'.", path,
                                       card->name, a->def.name);

        log_debug("Using agent card %s.", path);
        free(a->card_path);
        a->card_path = TAKE_PTR(path);
        a->card_json = TAKE_PTR(data);
        a->card = TAKE_PTR(card);
        return 0;
}

/* $TROUPE_AGENT_FD: the connection the supervisor opened for us. */
static int take_inherited_fd(Agent *a) {
        const char *e = getenv("TROUPE_AGENT_FD");
        char *end = NULL;
        long fd;
        int r;

        if (a->first_fd >= 0 || isempty(e))
                return 0;
        errno = 0;
        fd = strtol(e, &end, 10);
        if (errno != 0 || !end || *end != '\0' || fd < 3 || fd > INT32_MAX)
                return log_error_errno(-EINVAL, "Invalid $TROUPE_AGENT_FD '%s'.", e);
        if (fcntl((int) fd, F_GETFD) < 0)
                return log_error_errno(negative_errno(), "$TROUPE_AGENT_FD=%ld is not open: %m", fd);

        /* Nothing we start may inherit our connection, or believe it has one. */
        r = fd_set_cloexec((int) fd, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set FD_CLOEXEC on $TROUPE_AGENT_FD: %m");
        (void) unsetenv("TROUPE_AGENT_FD");
        a->first_fd = (int) fd;
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Agent *a = userdata;

        log_debug("Received %s, stopping.", strsignal((int) si->ssi_signo));
        return agent_stop(a, EXIT_SUCCESS);
}

static int install_signals(Agent *a) {
        static const int signals[] = { SIGTERM, SIGINT };
        sigset_t mask;
        int r;

        if (!a->handle_signals)
                return 0;
        if (sigemptyset(&mask) < 0 || sigaddset(&mask, SIGTERM) < 0 || sigaddset(&mask, SIGINT) < 0)
                return -EINVAL;
        /* sd-event reads signals through a signalfd, which only sees blocked ones. */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                r = sd_event_add_signal(a->event, &a->signal_sources[i], signals[i], on_signal, a);
                if (r < 0)
                        return r;
        }
        return 0;
}

int agent_start(Agent *a) {
        int r;

        assert_return(a && !a->card, -EINVAL);

        r = card_load(a);
        if (r < 0)
                return r;
        r = take_inherited_fd(a);
        if (r < 0)
                return r;
        r = install_signals(a);
        if (r < 0)
                return log_error_errno(r, "Failed to install signal handlers: %m");
        r = agent_link_start(a);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the registry: %m");
        return 0;
}

void agent_stop_finished(Agent *a) {
        a->stop_timer = sd_event_source_disable_unref(a->stop_timer);
        (void) sd_event_exit(a->event, a->exit_code);
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;

        log_warning("The registry did not take our last messages in time, exiting anyway.");
        agent_stop_finished(a);
        return 0;
}

int agent_stop(Agent *a, int code) {
        int r;

        assert_return(a, -EINVAL);

        if (a->stopping)
                return 0;
        a->stopping = true;
        a->exit_code = code;
        (void) sd_event_source_set_enabled(a->idle_timer, SD_EVENT_OFF);

        /* Results first, then the stopping heartbeat, so the registry files them as canceled
         * rather than failing them with the lost agent. */
        agent_tasks_cancel_all(a, "the agent is stopping");
        if (!a->connection) {
                (void) agent_link_stop(a);
                agent_stop_finished(a);
                return 0;
        }
        r = agent_link_stop(a);
        if (r < 0)
                log_debug_errno(r, "Failed to send the stopping heartbeat, ignoring: %m");
        r = sd_event_add_time_relative(a->event, &a->stop_timer, CLOCK_MONOTONIC, AGENT_STOP_TIMEOUT_USEC, 0,
                                       on_stop_timeout, a);
        if (r < 0) {
                agent_stop_finished(a);
                return r;
        }
        return 0;
}

static int on_idle_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;

        log_info("No task for %" PRIu64 " s, stopping.", a->card->exec.idle_timeout_sec);
        return agent_stop(a, EXIT_SUCCESS);
}

void agent_update_idle(Agent *a) {
        uint64_t timeout;
        int r;

        if (!a->card || a->card->exec.idle_timeout_sec == 0)
                return;
        if (a->stopping || a->n_tasks > 0 || a->link != AGENT_LINK_REGISTERED) {
                (void) sd_event_source_set_enabled(a->idle_timer, SD_EVENT_OFF);
                return;
        }

        timeout = a->card->exec.idle_timeout_sec * USEC_PER_SEC;
        if (!a->idle_timer)
                r = sd_event_add_time_relative(a->event, &a->idle_timer, CLOCK_MONOTONIC, timeout, 0,
                                               on_idle_timeout, a);
        else {
                r = sd_event_source_set_time_relative(a->idle_timer, timeout);
                if (r >= 0)
                        r = sd_event_source_set_enabled(a->idle_timer, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                log_warning_errno(r, "Failed to arm the idle timer, ignoring: %m");
}

static void help(const AgentDefinition *def, const char *program) {
        printf("%s [OPTIONS...]\n\n"
               "%s\n\n"
               "A troupe agent: it registers with troupe-registryd over the agent socket and runs\n"
               "the tasks the registry gives it. Normally started by troupe-routerd through\n"
               "troupe-supervisord; see docs/agent-sdk.md.\n\n"
               "Options:\n"
               "  -h --help         Show this help\n"
               "     --version      Show the version\n"
               "     --card=PATH    Read the agent card from PATH\n\n"
               "Environment: TROUPE_AGENT_FD, TROUPE_AGENT_SOCKET, TROUPE_AGENT_CARD,\n"
               "TROUPE_AGENT_CARDS_DIR, TROUPE_LOG_LEVEL, TROUPE_LOG_TARGET.\n",
               program, def->summary ?: "A troupe agent.");
}

/* Returns 0 to go on, 1 to exit successfully (--help, --version), or a negative errno. */
static int parse_argv(const AgentDefinition *def, int argc, char *argv[], char **ret_card) {
        enum { ARG_VERSION = 0x100, ARG_CARD };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "card", required_argument, NULL, ARG_CARD },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(def, program_invocation_short_name);
                        return 1;
                case ARG_VERSION:
                        printf("%s %s\n", program_invocation_short_name, PACKAGE_VERSION);
                        return 1;
                case ARG_CARD:
                        if (free_and_strdup(ret_card, optarg) < 0)
                                return log_oom();
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(-EINVAL, "Unknown option code %c.", c);
                }
        if (optind < argc)
                return log_error_errno(-EINVAL, "%s takes no arguments.", program_invocation_short_name);
        return 0;
}

int agent_main(const AgentDefinition *def, int argc, char *argv[]) {
        _cleanup_(agent_freep) Agent *a = NULL;
        _cleanup_free_ char *card = NULL;
        int r;

        log_set_identifier(program_invocation_short_name);
        log_parse_environment();

        r = parse_argv(def, argc, argv, &card);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;

        r = agent_new(NULL, def, &a);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the agent: %m"), EXIT_FAILURE;
        if (card && agent_set_card_path(a, card) < 0)
                return log_oom(), EXIT_FAILURE;
        r = agent_start(a);
        if (r < 0)
                return EXIT_FAILURE;

        r = sd_event_loop(a->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        return r;
}

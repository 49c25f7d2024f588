/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"

static const char *const ctl_bus_source_table[_CTL_BUS_SOURCE_MAX] = {
        [CTL_BUS_OPTION] = "option",
        [CTL_BUS_ENVIRONMENT] = "environment",
        [CTL_BUS_PRIVATE] = "private",
        [CTL_BUS_SESSION] = "session",
};

static const char *const ctl_bus_source_description_table[_CTL_BUS_SOURCE_MAX] = {
        [CTL_BUS_OPTION] = "from --bus-address",
        [CTL_BUS_ENVIRONMENT] = "from $TROUPE_BUS_ADDRESS",
        [CTL_BUS_PRIVATE] = "the private bus troupectl up started",
        [CTL_BUS_SESSION] = "the session bus",
};

const char *ctl_bus_source_to_string(CtlBusSource s) {
        if ((size_t) s >= ELEMENTSOF(ctl_bus_source_table))
                return NULL;
        return ctl_bus_source_table[s];
}

const char *ctl_bus_source_describe(CtlBusSource s) {
        if ((size_t) s >= ELEMENTSOF(ctl_bus_source_description_table))
                return NULL;
        return ctl_bus_source_description_table[s];
}

Ctl *ctl_free(Ctl *c) {
        if (!c)
                return NULL;
        free(c->bus_address_option);
        strv_free(c->params);
        free(c->prompt);
        free(c->filter_agent);
        free(c->filter_state);
        free(c->filter_task);
        strv_free(c->sets);
        free(c->path);
        strv_free(c->args);
        sd_bus_flush_close_unref(c->bus);
        free(c->bus_address);
        return mfree(c);
}

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_BUS_ADDRESS,
        ARG_WAIT,
        ARG_PROMPT,
        ARG_AGENT,
        ARG_STATE,
        ARG_LIMIT,
        ARG_ALWAYS,
        ARG_TASK,
        ARG_AFTER,
        ARG_SET,
        ARG_OPEN,
        ARG_FORCE,
        ARG_LIST,
        ARG_PATH,
};

static const struct option ctl_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, ARG_VERSION},
        {"json", no_argument, NULL, ARG_JSON},
        {"bus-address", required_argument, NULL, ARG_BUS_ADDRESS},
        {"wait", no_argument, NULL, ARG_WAIT},
        {"follow", no_argument, NULL, 'f'},
        {"param", required_argument, NULL, 'p'},
        {"prompt", required_argument, NULL, ARG_PROMPT},
        {"agent", required_argument, NULL, ARG_AGENT},
        {"state", required_argument, NULL, ARG_STATE},
        {"limit", required_argument, NULL, ARG_LIMIT},
        {"always", no_argument, NULL, ARG_ALWAYS},
        {"task", required_argument, NULL, ARG_TASK},
        {"after", required_argument, NULL, ARG_AFTER},
        {"set", required_argument, NULL, ARG_SET},
        {"open", no_argument, NULL, ARG_OPEN},
        {"force", no_argument, NULL, ARG_FORCE},
        {"list", no_argument, NULL, ARG_LIST},
        {"path", required_argument, NULL, ARG_PATH},
        {},
};

static int parse_limit(const char *s, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || end == s || *end || s[0] == '-' || v == 0 || v > CTL_LIMIT_MAX)
                return log_error_errno(-EINVAL, "--limit wants a number from 1 to %u, not '%s'.",
                                       CTL_LIMIT_MAX, s);
        *ret = (unsigned) v;
        return 0;
}

/* An audit seq: 0 (from the start) or more. */
static int parse_after(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        /* strtoull() would take a sign or leading blanks; a seq is digits only. */
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || s[0] < '0' || s[0] > '9' || *end)
                return log_error_errno(-EINVAL,
                                       "--after wants an audit sequence number (0 or more), not '%s'.", s);
        *ret = (uint64_t) v;
        return 0;
}

static int set_string(char **p, const char *value, unsigned *seen, unsigned flag) {
        *seen |= flag;
        return free_and_strdup(p, value) < 0 ? log_oom() : 0;
}

/* One option; returns 1 when --version asked us to stop, 0 to go on, -EINVAL on a usage error. */
static int parse_one(Ctl *c, int opt, const char *arg) {
        switch (opt) {
        case 'h':
                c->help = true;
                return 0;
        case ARG_VERSION:
                printf("troupectl %s\n", PACKAGE_VERSION);
                return 1;
        case ARG_JSON:
                c->json = true;
                return 0;
        case ARG_BUS_ADDRESS:
                if (isempty(arg))
                        return log_error_errno(-EINVAL, "--bus-address wants an address, e.g. "
                                                        "unix:path=/run/user/1000/bus.");
                return free_and_strdup(&c->bus_address_option, arg) < 0 ? log_oom() : 0;
        case ARG_WAIT:
                c->wait = true;
                c->options_seen |= CTL_OPTION_WAIT;
                return 0;
        case 'f':
                c->follow = true;
                c->options_seen |= CTL_OPTION_FOLLOW;
                return 0;
        case 'p':
                c->options_seen |= CTL_OPTION_PARAM;
                return strv_extend(&c->params, arg) < 0 ? log_oom() : 0;
        case ARG_PROMPT:
                return set_string(&c->prompt, arg, &c->options_seen, CTL_OPTION_PROMPT);
        case ARG_AGENT:
                return set_string(&c->filter_agent, arg, &c->options_seen, CTL_OPTION_AGENT);
        case ARG_STATE:
                return set_string(&c->filter_state, arg, &c->options_seen, CTL_OPTION_STATE);
        case ARG_LIMIT:
                c->options_seen |= CTL_OPTION_LIMIT;
                return parse_limit(arg, &c->limit);
        case ARG_ALWAYS:
                c->always = true;
                c->options_seen |= CTL_OPTION_ALWAYS;
                return 0;
        case ARG_TASK:
                if (isempty(arg))
                        return log_error_errno(-EINVAL, "--task wants a task id.");
                return set_string(&c->filter_task, arg, &c->options_seen, CTL_OPTION_TASK);
        case ARG_AFTER:
                c->options_seen |= CTL_OPTION_AFTER;
                return parse_after(arg, &c->after);
        case ARG_SET:
                c->options_seen |= CTL_OPTION_SET;
                return strv_extend(&c->sets, arg) < 0 ? log_oom() : 0;
        case ARG_OPEN:
                c->open = true;
                c->options_seen |= CTL_OPTION_OPEN;
                return 0;
        case ARG_FORCE:
                c->force = true;
                c->options_seen |= CTL_OPTION_FORCE;
                return 0;
        case ARG_LIST:
                c->list = true;
                c->options_seen |= CTL_OPTION_LIST;
                return 0;
        case ARG_PATH:
                if (isempty(arg))
                        return log_error_errno(-EINVAL, "--path wants a path inside the workspace.");
                return set_string(&c->path, arg, &c->options_seen, CTL_OPTION_PATH);
        case '?':
                /* getopt printed what was wrong. */
                return -EINVAL;
        }
        return log_error_errno(-EINVAL, "Unhandled option.");
}

int ctl_parse_argv(int argc, char *argv[], Ctl **ret) {
        _cleanup_(ctl_freep) Ctl *c = NULL;
        int opt, r;

        c = calloc(1, sizeof(Ctl));
        if (!c)
                return log_oom();
        c->stdout_tty = isatty(STDOUT_FILENO) > 0;
        c->stderr_tty = isatty(STDERR_FILENO) > 0;
        c->args = calloc(1, sizeof(char *));
        if (!c->args)
                return log_oom();

        /* GNU getopt permutes, so options may follow the verb: `troupectl run echo --wait`. */
        optind = 0;
        while ((opt = getopt_long(argc, argv, "hfp:", ctl_options, NULL)) >= 0) {
                r = parse_one(c, opt, optarg);
                if (r != 0) {
                        if (r > 0)
                                *ret = NULL;
                        return r;
                }
        }
        for (int i = optind; i < argc; i++)
                if (strv_extend(&c->args, argv[i]) < 0)
                        return log_oom();

        *ret = TAKE_PTR(c);
        return 0;
}

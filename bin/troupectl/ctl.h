/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl.h: troupectl's command line state, exit codes and the verbs it dispatches to. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"

/* What scripts may rely on; documented in troupectl(1). */
typedef enum CtlExit {
        CTL_EXIT_OK = 0,
        CTL_EXIT_FAILURE = 1,
        CTL_EXIT_USAGE = 2,
        CTL_EXIT_TASK_INCOMPLETE = 3, /* run --wait: the task ended failed, canceled or rejected */
        CTL_EXIT_NO_SUCH_OBJECT = 4, /* unknown task, agent, process, consent request or grant */
} CtlExit;

/* Where the bus came from, for `status` and for `up`/`down` to know what they may stop. */
typedef enum CtlBusSource {
        CTL_BUS_OPTION, /* --bus-address */
        CTL_BUS_ENVIRONMENT, /* $TROUPE_BUS_ADDRESS */
        CTL_BUS_PRIVATE, /* the dbus-daemon `troupectl up` started and recorded */
        CTL_BUS_SESSION, /* the session bus */
        _CTL_BUS_SOURCE_MAX,
        _CTL_BUS_SOURCE_INVALID = -EINVAL,
} CtlBusSource;

/* "option", "environment", "private", "session": for --json. */
const char *ctl_bus_source_to_string(CtlBusSource s) _const_;
/* The same for people: "from --bus-address", "the session bus"... */
const char *ctl_bus_source_describe(CtlBusSource s) _const_;

/* The verb options, so each verb can refuse the ones it does not take. */
typedef enum CtlOptionFlags {
        CTL_OPTION_WAIT = 1 << 0,
        CTL_OPTION_FOLLOW = 1 << 1,
        CTL_OPTION_PARAM = 1 << 2,
        CTL_OPTION_PROMPT = 1 << 3,
        CTL_OPTION_AGENT = 1 << 4,
        CTL_OPTION_STATE = 1 << 5,
        CTL_OPTION_LIMIT = 1 << 6,
        CTL_OPTION_ALWAYS = 1 << 7,
        CTL_OPTION_TASK = 1 << 8,
        CTL_OPTION_AFTER = 1 << 9,
        CTL_OPTION_SET = 1 << 10,
        CTL_OPTION_OPEN = 1 << 11,
        CTL_OPTION_FORCE = 1 << 12,
        CTL_OPTION_LIST = 1 << 13,
        CTL_OPTION_PATH = 1 << 14,
} CtlOptionFlags;

/* --limit: ListTasks takes at most this many (org.troupe.Registry1); audit pages up to it. */
#define CTL_LIMIT_MAX 10000U

typedef struct Ctl {
        /* global options */
        bool json;
        bool help;
        char *bus_address_option;

        /* verb options; each verb refuses the ones it does not take */
        bool wait;
        bool follow;
        char **params; /* K=V or K:=JSON, in order */
        char *prompt;
        char *filter_agent;
        char *filter_state;
        unsigned limit;
        bool always; /* consent allow --always */
        char *filter_task; /* audit --task */
        uint64_t after; /* audit --after */
        unsigned options_seen; /* CtlOptionFlags of the verb options given */
        char **sets; /* bootstrap --set KEY=VALUE, in order */
        bool open; /* bootstrap --open */
        bool force; /* bootstrap --force */
        bool list; /* bootstrap --list */
        char *path; /* open --path */

        /* positional arguments: the verb and its operands */
        char **args;

        /* stdout and stderr are terminals: tables get headers and alignment, events go live */
        bool stdout_tty;
        bool stderr_tty;

        /* the connection, opened on first use by ctl_bus() */
        sd_bus *bus;
        CtlBusSource bus_source;
        char *bus_address; /* the address actually in use */
} Ctl;

Ctl *ctl_free(Ctl *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Ctl *, ctl_free);

/* Verb implementations: each returns a CtlExit (>= 0) or a negative errno after logging why. */
int verb_up(Ctl *c);
int verb_down(Ctl *c);
int verb_status(Ctl *c);
int verb_health(Ctl *c);
int verb_agents(Ctl *c);
int verb_tasks(Ctl *c);
int verb_task(Ctl *c);
int verb_run(Ctl *c);
int verb_logs(Ctl *c);
int verb_cancel(Ctl *c);
int verb_consent(Ctl *c);
int verb_audit(Ctl *c);
int verb_bootstrap(Ctl *c);
int verb_open(Ctl *c);

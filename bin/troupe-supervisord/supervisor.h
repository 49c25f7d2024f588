/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervisor.h: the daemon's state (one Context), its process table, retention and shutdown. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"
#include "confinement.h"

#define SUPERVISOR_BUS_NAME "org.troupe.Supervisor1"
#define SUPERVISOR_PATH "/org/troupe/Supervisor1"
#define SUPERVISOR_MANAGER_INTERFACE "org.troupe.Supervisor1.Manager"
#define SUPERVISOR_PROCESS_PREFIX "/org/troupe/Supervisor1/process"
#define SUPERVISOR_PROCESS_INTERFACE "org.troupe.Supervisor1.Process"

/* Live processes (starting or running) at once; Spawn() beyond that is Overloaded. */
#define SUPERVISOR_ACTIVE_MAX 1024U
/* Ended processes kept (object and log files); the oldest goes first beyond that. */
#define SUPERVISOR_ENDED_MAX 128U

typedef struct Process Process;
typedef struct Suite Suite;

typedef struct Arguments {
        bool suite;
        char *suite_table; /* a table file instead of the built-in one; implies suite */
        uint64_t log_size_max;
        char **read_only; /* --read-only-path, then $TROUPE_SANDBOX_READ_ONLY */
        SandboxCgroupChoice cgroup_choice; /* --cgroup= */
} Arguments;

void arguments_done(Arguments *a);

typedef struct Context {
        sd_event *event;
        sd_bus *bus;

        char *log_dir;
        int log_dir_fd;
        uint64_t log_size_max;

        Confinement confinement;

        Process *processes; /* newest first */
        unsigned n_processes;

        Suite *suite; /* NULL unless --suite */
        bool ready; /* READY=1 was sent */

        bool shutting_down;
        int exit_code;
        sd_event_source *check_source; /* deferred: retention and shutdown progress */
} Context;

int context_new(const Arguments *args, Context **ret);
Context *context_free(Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Context *, context_free);

/* SIGTERM/SIGINT stop everything gracefully (see supervisor_shutdown()); SIGCHLD is blocked for
 * sd-event's child sources and SIGPIPE ignored (we write to pipes readers may close). */
int supervisor_setup_event(Context *c);

/* READY=1 (once), after the bus name is ours and, in suite mode, every member owns its name. */
void supervisor_notify_ready(Context *c);

void supervisor_add_process(Context *c, Process *p);
Process *supervisor_find_process(Context *c, const char *id);
unsigned supervisor_count_active(Context *c);

/* Something ended: look at retention and shutdown progress soon (from a defer source, so callers
 * deep in a process's exit handling are not re-entered). */
void supervisor_schedule_check(Context *c);

/* Stops every child (non-suite processes first, then suite members in reverse order) and leaves the
 * loop with exit_code once all have exited. Idempotent. */
void supervisor_shutdown(Context *c, int exit_code);

/* Describe(): version, counts by state, log directory, suite members, confinement support. */
int supervisor_describe(void *userdata, json_t **ret);

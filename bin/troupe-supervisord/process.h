/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* process.h: one supervised process: spawn, exit handling, Stop()/Kill(), restart policy with a
 * rate limit, and its log. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/time-util.h"
#include "process-log.h"
#include "sandbox/sandbox.h"
#include "spawn-options.h"
#include "supervisor.h"

/* At most this many restarts within PROCESS_RESTART_INTERVAL_USEC; one more and it stays failed. */
#define PROCESS_RESTART_BURST 5U
#define PROCESS_RESTART_INTERVAL_USEC (10 * USEC_PER_SEC)
/* Pause before a restart, so a crash loop does not spin. */
#define PROCESS_RESTART_DELAY_USEC (100 * USEC_PER_MSEC)
#define PROCESS_ID_LENGTH 16U

typedef enum ProcessState {
        PROCESS_STARTING, /* waiting to be (re)started */
        PROCESS_RUNNING,
        PROCESS_EXITED, /* ended with status 0, or because Stop() asked */
        PROCESS_FAILED, /* ended otherwise, or could not be restarted */
        _PROCESS_STATE_MAX,
        _PROCESS_STATE_INVALID = -EINVAL,
} ProcessState;

const char *process_state_to_string(ProcessState s) _const_;
ProcessState process_state_from_string(const char *s) _pure_;

/* Called after every state change (the suite follows its members this way). */
typedef void (*ProcessWatch)(Process *p, void *userdata);

struct Process {
        Context *context;
        Process *prev, *next;

        char *id;
        char *name;
        char *path; /* object path */
        char **argv;
        SpawnOptions options;
        char *confinement; /* JSON: the report of the latest run's sandbox */
        Sandbox *sandbox; /* the running child's, NULL once it has exited */
        ProcessLog *log;

        ProcessState state;
        pid_t pid; /* 0 when not running */
        int exit_code; /* si_code of the last exit: CLD_EXITED, CLD_KILLED, CLD_DUMPED; 0 before */
        int exit_status; /* exit status or signal number */
        unsigned restarts;
        usec_t restart_times[PROCESS_RESTART_BURST]; /* CLOCK_MONOTONIC, a ring */
        bool restart_limit_hit;
        bool stopping; /* Stop() was asked: the exit is not a failure and is not restarted */
        usec_t ended_usec; /* CLOCK_MONOTONIC, when it reached exited/failed for good */

        sd_event_source *child_source;
        sd_event_source *kill_timer;
        sd_event_source *restart_timer;

        bool published; /* in the context's table and on the bus */
        bool pinned; /* suite members are never dropped by retention */
        ProcessWatch watch;
        void *watch_userdata;
};

/* Validates, creates the log, starts the child and adds it to the context. `options` is always
 * taken over (and reset). Refusals are set in `error`. */
int process_spawn(Context *c, const char *name, char *const *argv, SpawnOptions *options,
                  sd_bus_error *error, Process **ret);
/* Unlinks from the context and frees; a child still running is killed with SIGKILL (its group
 * too). With remove_log the log files go as well. */
Process *process_free(Process *p, bool remove_log);

bool process_is_active(const Process *p) _pure_; /* starting or running */

/* SIGTERM (and SIGCONT) to the process group and its sandbox, SIGKILL after stop_timeout_usec. A pending
 * restart is cancelled. -ESRCH when the process has ended. */
int process_stop(Process *p);
/* Sends `sig` to the process group and to everything in its sandbox's cgroup (children that left
 * the group too). -ESRCH when it is not running. */
int process_kill(Process *p, int sig);

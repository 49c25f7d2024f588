/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/daemon-util.h"
#include "json/json-util.h"
#include "paths/paths.h"
#include "process.h"
#include "suite.h"
#include "supervisor-bus.h"
#include "supervisor.h"

void arguments_done(Arguments *a) {
        a->suite_table = mfree(a->suite_table);
        a->read_only = strv_free(a->read_only);
}

/* --read-only-path values, then $TROUPE_SANDBOX_READ_ONLY: absolute paths that exist. */
static int context_read_only(const Arguments *args, char ***ret) {
        _cleanup_strv_free_ char **l = strv_copy(args->read_only);
        const char *bad = NULL;
        int r;

        if (!l && args->read_only)
                return log_oom();
        r = confinement_read_only_parse(getenv(CONFINEMENT_READ_ONLY_ENV), &l);
        if (r < 0)
                return log_oom();
        r = confinement_read_only_validate(l, &bad);
        if (r == -EINVAL)
                return log_error_errno(r, "Read-only path '%s' (--read-only-path or $%s) is not absolute.",
                                       bad, CONFINEMENT_READ_ONLY_ENV);
        if (r == -E2BIG)
                return log_error_errno(r, "More than %u read-only paths (--read-only-path and $%s).",
                                       CONFINEMENT_READ_ONLY_MAX, CONFINEMENT_READ_ONLY_ENV);
        if (r < 0)
                return log_error_errno(r, "Read-only path '%s' (--read-only-path or $%s): %m", bad,
                                       CONFINEMENT_READ_ONLY_ENV);
        *ret = TAKE_PTR(l);
        return 0;
}

int context_new(const Arguments *args, Context **ret) {
        _cleanup_(context_freep) Context *c = NULL;
        char **read_only = NULL;
        int r;

        c = calloc(1, sizeof(Context));
        if (!c)
                return log_oom();
        c->log_dir_fd = -EBADF;
        c->log_size_max = args->log_size_max;

        r = troupe_path_get(TROUPE_PATH_LOGS, &c->log_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to find the log directory: %m");
        r = mkdir_p_secure(c->log_dir, 0700, &c->log_dir_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to create the log directory %s: %m", c->log_dir);

        /* Before the suite and any spawn: every process gets a sandbox built from this. */
        r = context_read_only(args, &read_only);
        if (r < 0)
                return r;
        r = confinement_setup(&c->confinement, read_only, args->cgroup_choice);
        if (r < 0)
                return r;

        if (args->suite) {
                r = suite_new(c, args->suite_table, &c->suite);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Context *context_free(Context *c) {
        if (!c)
                return NULL;

        /* The suite first: it points at processes. */
        suite_free(c->suite);
        while (c->processes)
                process_free(c->processes, false);
        sd_event_source_disable_unref(c->check_source);
        sd_bus_flush_close_unref(c->bus);
        sd_event_unref(c->event);
        confinement_done(&c->confinement);
        safe_close(c->log_dir_fd);
        free(c->log_dir);
        return mfree(c);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Context *c = userdata;

        log_info("Received %s, stopping every child.", strsignal((int) si->ssi_signo));
        supervisor_shutdown(c, 0);
        return 0;
}

static int on_check(sd_event_source *s, void *userdata);

int supervisor_setup_event(Context *c) {
        sigset_t mask;
        int r;

        r = daemon_event_new_with_stop(on_signal, c, &c->event);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        /* Child sources need SIGCHLD blocked: sd-event reads it through a signalfd. */
        if (sigemptyset(&mask) < 0 || sigaddset(&mask, SIGCHLD) < 0 || sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(negative_errno(), "Failed to block SIGCHLD: %m");
        /* We write to pipes whose readers may go away: that is an EPIPE to handle, not a death. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_error_errno(negative_errno(), "Failed to ignore SIGPIPE: %m");

        r = sd_event_add_defer(c->event, &c->check_source, on_check, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the check source: %m");
        return sd_event_source_set_enabled(c->check_source, SD_EVENT_OFF);
}

void supervisor_notify_ready(Context *c) {
        int r;

        if (c->ready)
                return;
        c->ready = true;
        log_info("Ready%s.", c->suite ? ": every suite member owns its bus name" : "");
        r = daemon_notify_ready(c->suite ? "Supervising the suite." : "Supervising processes.");
        if (r < 0)
                log_debug_errno(r, "Failed to send READY=1, ignoring: %m");
}

void supervisor_add_process(Context *c, Process *p) {
        p->next = c->processes;
        p->prev = NULL;
        if (c->processes)
                c->processes->prev = p;
        c->processes = p;
        c->n_processes++;
        p->published = true;
        supervisor_bus_process_added(p);
}

Process *supervisor_find_process(Context *c, const char *id) {
        for (Process *p = c->processes; p; p = p->next)
                if (streq(p->id, id))
                        return p;
        return NULL;
}

unsigned supervisor_count_active(Context *c) {
        unsigned n = 0;

        for (Process *p = c->processes; p; p = p->next)
                if (process_is_active(p))
                        n++;
        return n;
}

void supervisor_schedule_check(Context *c) {
        if (c->check_source)
                (void) sd_event_source_set_enabled(c->check_source, SD_EVENT_ONESHOT);
}

/* Keeps at most SUPERVISOR_ENDED_MAX ended processes, dropping the oldest with its log files. */
static void supervisor_enforce_retention(Context *c) {
        for (;;) {
                Process *oldest = NULL;
                unsigned n = 0;

                for (Process *p = c->processes; p; p = p->next) {
                        if (process_is_active(p) || p->pinned)
                                continue;
                        n++;
                        if (!oldest || p->ended_usec < oldest->ended_usec)
                                oldest = p;
                }
                if (n <= SUPERVISOR_ENDED_MAX)
                        return;
                log_debug("Forgetting process %s (%s) and its log.", oldest->id, oldest->name);
                supervisor_bus_process_removed(oldest);
                process_free(oldest, true);
        }
}

/* Children first, then the suite from its last member to its first, one at a time. */
static void supervisor_shutdown_continue(Context *c) {
        bool waiting = false;

        for (Process *p = c->processes; p; p = p->next)
                if (!p->pinned && process_is_active(p)) {
                        (void) process_stop(p);
                        waiting = true;
                }
        if (waiting)
                return;
        if (c->suite && suite_stop_next(c->suite))
                return;

        log_info("Every child has exited.");
        (void) sd_event_exit(c->event, c->exit_code);
}

static int on_check(sd_event_source *s, void *userdata) {
        Context *c = userdata;

        supervisor_enforce_retention(c);
        if (c->shutting_down)
                supervisor_shutdown_continue(c);
        return 0;
}

void supervisor_shutdown(Context *c, int exit_code) {
        if (c->shutting_down)
                return;
        c->shutting_down = true;
        c->exit_code = exit_code;
        (void) daemon_notify_stopping();
        supervisor_schedule_check(c);
}

static int describe_counts(Context *c, json_t **ret) {
        _cleanup_json_ json_t *counts = json_object();
        unsigned n[_PROCESS_STATE_MAX] = {};

        if (!counts)
                return -ENOMEM;
        for (Process *p = c->processes; p; p = p->next)
                n[p->state]++;
        for (ProcessState s = 0; s < _PROCESS_STATE_MAX; s++)
                if (json_object_set_new(counts, process_state_to_string(s), json_integer(n[s])) < 0)
                        return -ENOMEM;
        if (json_object_set_new(counts, "total", json_integer(c->n_processes)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(counts);
        return 0;
}

int supervisor_describe(void *userdata, json_t **ret) {
        _cleanup_json_ json_t *v = NULL;
        Context *c = userdata;
        json_t *counts, *suite = NULL, *support = NULL;
        int r;

        r = describe_counts(c, &counts);
        if (r < 0)
                return r;
        if (c->suite) {
                r = suite_describe(c->suite, &suite);
                if (r < 0) {
                        json_decref(counts);
                        return r;
                }
        }
        (void) confinement_support_json(&c->confinement, &support);
        v = json_pack("{s:s, s:i, s:b, s:b, s:s, s:I, s:o, s:o*, s:o*}", "version", PACKAGE_VERSION, "pid",
                      (int) getpid(), "ready", c->ready, "shutting_down", c->shutting_down, "log_directory",
                      c->log_dir, "log_size_max", (json_int_t) c->log_size_max, "processes", counts, "suite",
                      suite, "confinement_support", support);
        if (!v)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

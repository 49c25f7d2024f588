/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl up and down: run the suite without systemd, through troupe-supervisord --suite, on the
 * session bus or on a private dbus-daemon started for it; and stop exactly that again. */
#include <stdio.h>
#include <sys/wait.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-records.h"
#include "ctl-suite.h"
#include "json/json-util.h"
#include "paths/paths.h"

typedef struct Up {
        char *address; /* the bus the suite runs on */
        pid_t bus_pid; /* the private dbus-daemon we started, or 0 */
        pid_t suite_pid; /* troupe-supervisord --suite */
        char *log_path; /* its output */
        char *state_dir;
} Up;

static void up_done(Up *u) {
        free(u->address);
        free(u->log_path);
        free(u->state_dir);
}

static int log_path_get(const char *file, char **ret) {
        _cleanup_free_ char *logs = NULL;
        int r;

        r = troupe_path_get(TROUPE_PATH_LOGS, &logs);
        if (r < 0)
                return log_error_errno(r, "Cannot find the log directory ($XDG_STATE_HOME or $HOME): %m");
        *ret = strjoin(logs, "/", file);
        return *ret ? 0 : log_oom();
}

/* Without any bus to use, start one and record it for later commands. */
static int up_private_bus(Ctl *c, Up *u) {
        _cleanup_free_ char *log_path = NULL, *pid = NULL;
        int r;

        r = log_path_get("bus.log", &log_path);
        if (r < 0)
                return r;
        r = ctl_private_bus_start(log_path, &u->address, &u->bus_pid);
        if (r == -ENXIO)
                return log_error_errno(r,
                                       "There is no session bus and $XDG_RUNTIME_DIR is not set, so there "
                                       "is no place for a private one. Set XDG_RUNTIME_DIR, or pass "
                                       "--bus-address.");
        if (r < 0)
                return log_error_errno(r,
                                       "Failed to start a private dbus-daemon: %m. Is the dbus package "
                                       "installed? See %s",
                                       log_path);
        if (asprintf_safe(&pid, "%i", (int) u->bus_pid) < 0)
                return log_oom();
        r = ctl_record_write(CTL_RECORD_BUS_ADDRESS, u->address);
        if (r >= 0)
                r = ctl_record_write(CTL_RECORD_BUS_PID, pid);
        if (r < 0)
                return log_error_errno(r, "Failed to record the private bus in the runtime directory: %m");
        c->bus_source = CTL_BUS_PRIVATE;
        return 0;
}

/* Connects to the bus the suite should run on, starting a private one when there is none. */
static int up_connect(Ctl *c, Up *u) {
        _cleanup_free_ char *address = NULL;
        const char *a;
        int r;

        r = ctl_bus_choose(c, &c->bus_source, &address);
        if (r < 0)
                return log_error_errno(r, "Failed to find out which bus to use: %m");
        if (c->bus_source == CTL_BUS_SESSION && !ctl_session_bus_exists()) {
                r = up_private_bus(c, u);
                if (r < 0)
                        return r;
                address = strdup(u->address);
                if (!address)
                        return log_oom();
        }
        r = ctl_bus_open_address(address, &c->bus);
        if (r < 0)
                return log_error_errno(r, "Cannot connect to the bus at %s: %m", strna(address));
        r = sd_bus_get_address(c->bus, &a);
        if (r < 0)
                return log_error_errno(r, "Failed to read the bus address: %m");
        if (free_and_strdup(&c->bus_address, a) < 0 || free_and_strdup(&u->address, a) < 0)
                return log_oom();
        return 0;
}

static void up_print(Ctl *c, const Up *u, bool already) {
        _cleanup_json_ json_t *o = NULL;

        if (c->json) {
                o = json_pack("{sb s:s s:s s:i s:s?}", "already_running", already, "bus", u->address,
                              "bus_source", ctl_bus_source_to_string(c->bus_source), "supervisor_pid",
                              (int) u->suite_pid, "log", u->log_path);
                if (o)
                        (void) ctl_print_json(o, c->stdout_tty);
                return;
        }
        if (already) {
                printf("troupe is already running on %s (%s).\n", u->address,
                       ctl_bus_source_describe(c->bus_source));
                return;
        }
        printf("troupe is up.\n"
               "  bus:        %s (%s)\n"
               "  supervisor: pid %i, output in %s\n"
               "  state:      %s\n",
               u->address, ctl_bus_source_describe(c->bus_source), (int) u->suite_pid, strna(u->log_path),
               strna(u->state_dir));
        if (c->bus_source == CTL_BUS_PRIVATE)
                printf("troupectl finds this bus by itself; for busctl and other shells:\n"
                       "  export TROUPE_BUS_ADDRESS='%s'\n",
                       u->address);
        printf("Try: troupectl status; troupectl run echo --param hello=world --wait\n"
               "Stop it with: troupectl down\n");
}

/* Undo a failed `up`: stop what it started, forget the records. */
static void up_rollback(Up *u) {
        if (u->suite_pid > 0) {
                (void) ctl_child_stop(u->suite_pid);
                (void) ctl_record_remove(CTL_RECORD_SUITE_PID);
        }
        if (u->bus_pid > 0) {
                (void) ctl_private_bus_stop(u->bus_pid);
                (void) ctl_record_remove(CTL_RECORD_BUS_ADDRESS);
                (void) ctl_record_remove(CTL_RECORD_BUS_PID);
        }
}

static int up_start_suite(Ctl *c, Up *u) {
        _cleanup_free_ char *pid = NULL;
        int r, status = 0;

        r = ctl_supervisor_start(u->address, u->log_path, &u->suite_pid);
        if (r == -ENOENT || r == -EACCES)
                return log_error_errno(r,
                                       "Cannot run troupe-supervisord from %s: %m. Install troupe, or "
                                       "point TROUPE_LIBEXECDIR at a build tree.",
                                       getenv("TROUPE_LIBEXECDIR") ?: TROUPE_LIBEXECDIR);
        if (r == -EINVAL)
                return log_error_errno(r, "TROUPE_LIBEXECDIR='%s' is not an absolute path; set it to the "
                                       "absolute path of a build tree, or unset it.",
                                       strempty(getenv("TROUPE_LIBEXECDIR")));
        if (r < 0)
                return log_error_errno(r, "Failed to start troupe-supervisord: %m");
        if (asprintf_safe(&pid, "%i", (int) u->suite_pid) < 0)
                return log_oom();
        r = ctl_record_write(CTL_RECORD_SUITE_PID, pid);
        if (r < 0)
                return log_error_errno(r, "Failed to record the supervisor's pid: %m");

        r = ctl_suite_wait(c->bus, true, u->suite_pid, &status);
        if (r == -ECHILD) {
                u->suite_pid = 0; /* reaped */
                return log_error_errno(r,
                                       "troupe-supervisord exited (%s %i) before the suite was up. "
                                       "Its output is in %s",
                                       WIFEXITED(status) ? "status" : "signal",
                                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                                       u->log_path);
        }
        if (r < 0)
                return log_error_errno(r, "The suite did not answer on %s within %u s. See %s", u->address,
                                       (unsigned) (CTL_SUITE_TIMEOUT_USEC / USEC_PER_SEC), u->log_path);
        return 0;
}

int verb_up(Ctl *c) {
        _cleanup_(up_done) Up u = {};
        int r;

        r = up_connect(c, &u);
        if (r >= 0)
                r = log_path_get("suite.log", &u.log_path);
        if (r >= 0 && troupe_path_get(TROUPE_PATH_STATE, &u.state_dir) < 0)
                u.state_dir = NULL;
        if (r < 0) {
                up_rollback(&u);
                return r;
        }

        /* The supervisor is there: the suite is running or on its way up. */
        if (ctl_name_answers(c->bus, ctl_supervisor.name, ctl_supervisor.path)) {
                r = ctl_suite_wait(c->bus, true, 0, NULL);
                if (r < 0)
                        return log_error_errno(r,
                                               "The supervisor runs on %s, but the registry and the router "
                                               "did not answer within %u s. See: troupectl status",
                                               u.address,
                                               (unsigned) (CTL_SUITE_TIMEOUT_USEC / USEC_PER_SEC));
                (void) ctl_record_read_pid(CTL_RECORD_SUITE_PID, &u.suite_pid);
                up_print(c, &u, true);
                return CTL_EXIT_OK;
        }

        r = up_start_suite(c, &u);
        if (r < 0) {
                up_rollback(&u);
                return r;
        }
        up_print(c, &u, false);
        return CTL_EXIT_OK;
}

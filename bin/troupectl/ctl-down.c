/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl down: stop the suite `troupectl up` started, then the private bus it started. */
#include <stdio.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl-bus.h"
#include "ctl-records.h"
#include "ctl-suite.h"

/* The private bus is ours (recorded by `up`): stop it and forget it. */
static int down_private_bus(Ctl *c) {
        _cleanup_free_ char *socket_path = NULL;
        pid_t pid;
        int r;

        r = ctl_private_bus_get(NULL, &pid);
        if (r < 0)
                return log_error_errno(r, "Failed to read the private bus records: %m");
        /* Leave the bus before it goes, so the disconnect is ours and not an error. */
        c->bus = sd_bus_flush_close_unref(c->bus);
        if (r > 0) {
                r = ctl_private_bus_stop(pid);
                if (r < 0)
                        return log_error_errno(r, "Failed to stop the private dbus-daemon (pid %i): %m",
                                               (int) pid);
        }
        (void) ctl_record_remove(CTL_RECORD_BUS_ADDRESS);
        (void) ctl_record_remove(CTL_RECORD_BUS_PID);
        if (ctl_record_path(CTL_PRIVATE_BUS_SOCKET, &socket_path) >= 0)
                (void) unlink(socket_path);
        return 0;
}

/* The supervisor's pid, 0 when no one owns its name. */
static int supervisor_pid(sd_bus *bus, pid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_get_name_creds(bus, ctl_supervisor.name, SD_BUS_CREDS_PID, &creds);
        if (r < 0) {
                *ret = 0;
                return 0;
        }
        return sd_bus_creds_get_pid(creds, ret);
}

static int down_shutdown(Ctl *c, pid_t pid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(c->bus, ctl_supervisor.name, ctl_supervisor.path, ctl_supervisor.interface,
                               "Shutdown", &error, NULL, NULL);
        /* A supervisor that leaves the bus before its reply is gone all the same. */
        if (r < 0 && !sd_bus_error_has_names(&error, SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                             SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_DISCONNECTED))
                return ctl_log_call_error(c, &ctl_supervisor, "ask the supervisor to shut down", &error, r);

        r = ctl_suite_wait(c->bus, false, 0, NULL);
        if (r < 0)
                return log_error_errno(r,
                                       "The suite's names were still on the bus after %u s. See: troupectl "
                                       "status",
                                       (unsigned) (CTL_SUITE_TIMEOUT_USEC / USEC_PER_SEC));
        r = ctl_pid_wait_gone(pid, CTL_SUITE_TIMEOUT_USEC);
        if (r < 0)
                return log_error_errno(r, "troupe-supervisord (pid %i) left the bus but did not exit.",
                                       (int) pid);
        (void) ctl_record_remove(CTL_RECORD_SUITE_PID);
        return 0;
}

int verb_down(Ctl *c) {
        _cleanup_free_ char *address = NULL;
        pid_t pid, recorded = 0;
        sd_bus *bus;
        bool private_bus;
        int r;

        r = ctl_bus_choose(c, &c->bus_source, &address);
        if (r < 0)
                return log_error_errno(r, "Failed to find out which bus to use: %m");
        private_bus = c->bus_source == CTL_BUS_PRIVATE;
        if (c->bus_source == CTL_BUS_SESSION && !ctl_session_bus_exists()) {
                (void) ctl_record_remove(CTL_RECORD_SUITE_PID);
                (void) down_private_bus(c);
                printf("troupe is not running (there is no bus).\n");
                return CTL_EXIT_OK;
        }

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = supervisor_pid(bus, &pid);
        if (r < 0)
                return log_error_errno(r, "Failed to find the supervisor's pid: %m");
        if (pid == 0) {
                printf("troupe is not running on %s.\n", strna(c->bus_address));
                (void) ctl_record_remove(CTL_RECORD_SUITE_PID);
                return private_bus && down_private_bus(c) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_OK;
        }

        (void) ctl_record_read_pid(CTL_RECORD_SUITE_PID, &recorded);
        if (recorded != pid)
                return log_error_errno(-EPERM,
                                       "The suite on %s was not started by troupectl up (supervisor pid "
                                       "%i). Stop it the way it was started: systemctl --user stop "
                                       "troupe.target, or Ctrl-C in dev/up.",
                                       strna(c->bus_address), (int) pid);

        r = down_shutdown(c, pid);
        if (r < 0)
                return r;
        if (private_bus && down_private_bus(c) < 0)
                return CTL_EXIT_FAILURE;
        printf("troupe is down%s.\n", private_bus ? " and its private bus stopped" : "");
        return CTL_EXIT_OK;
}

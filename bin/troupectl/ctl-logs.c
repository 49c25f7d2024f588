/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl logs: a task's events from the registry, or a process's output from the supervisor. */
#include <stdio.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "ctl-bus.h"
#include "ctl-stream.h"
#include "ctl-tasks.h"

/* Reads a string property; -ENOENT (not logged) when the object does not exist, -ESRCH when the
 * daemon does not run, other errors logged. */
static int get_state(Ctl *c, const CtlService *service, const char *path, const char *interface,
                     char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_get_property_string(bus, service->name, path, interface, "State", &error, ret);
        if (r < 0 && ctl_error_is_no_such_object(&error))
                return -ENOENT;
        if (r < 0 && ctl_error_is_not_running(&error))
                return -ESRCH;
        if (r < 0)
                return ctl_log_call_error(c, service, "read the state", &error, r);
        return 0;
}

static int logs_event(json_t *event, void *userdata) {
        Ctl *c = userdata;
        return ctl_event_print(event, c->json, stdout);
}

/* 1 when `id` is a task and its events were printed, 0 when there is no such task, -ESRCH (not
 * logged) when the registry does not run. */
static int logs_task(Ctl *c, const char *id) {
        _cleanup_free_ char *path = NULL, *state = NULL;
        int r;

        if (ctl_task_path(id, &path) < 0)
                return 0;
        r = get_state(c, &ctl_registry, path, CTL_TASK_INTERFACE, &state);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        /* A finished task's stream ends by itself; a running one ends when the task does, which
         * only -f waits for. */
        r = ctl_task_events(c, id, 0,
                            c->follow || task_state_is_final(state) ? CTL_STREAM_UNTIL_EOF
                                                                    : CTL_STREAM_IDLE_MSEC,
                            logs_event, c);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

/* The newest process called `name`, preferring one that runs; NULL when there is none. */
static int process_find_by_name(Ctl *c, const char *name, char **ret_path) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *found = NULL;
        const char *id, *n, *state, *path;
        bool found_running = false;
        uint32_t pid;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_supervisor.name, ctl_supervisor.path, ctl_supervisor.interface,
                               "ListProcesses", &error, &reply, NULL);
        if (r < 0 && ctl_error_is_not_running(&error))
                return -ESRCH;
        if (r < 0)
                return ctl_log_call_error(c, &ctl_supervisor, "list processes", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(ssuso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssuso)", &id, &n, &pid, &state, &path)) > 0) {
                bool running = streq(state, "running") || streq(state, "starting");

                if (!streq(n, name) || (found_running && !running))
                        continue;
                if (free_and_strdup(&found, path) < 0)
                        return log_oom();
                found_running = running;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListProcesses() reply: %m");
        *ret_path = TAKE_PTR(found);
        return 0;
}

static int process_open_log(Ctl *c, const char *path, int *ret_fd) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_supervisor.name, path, CTL_PROCESS_INTERFACE, "OpenLog", &error,
                               &reply, "t", (uint64_t) 0);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_supervisor, "open the process's log", &error, r);
        r = ctl_message_read_fd(reply, ret_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to read the OpenLog() reply: %m");
        return 0;
}

/* 1 when `id` names a process (by id or by name) and its output was printed, 0 when none, -ESRCH
 * (not logged) when the supervisor does not run. */
static int logs_process(Ctl *c, const char *id) {
        _cleanup_free_ char *path = NULL, *state = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = bus_object_path(CTL_PROCESS_PREFIX, id, &path);
        if (r >= 0)
                r = get_state(c, &ctl_supervisor, path, CTL_PROCESS_INTERFACE, &state);
        if (r == -ENOENT || r == -EINVAL) {
                path = mfree(path);
                r = process_find_by_name(c, id, &path);
                if (r < 0 || !path)
                        return r;
                r = get_state(c, &ctl_supervisor, path, CTL_PROCESS_INTERFACE, &state);
        }
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        r = process_open_log(c, path, &fd);
        if (r < 0)
                return r;
        r = ctl_copy_to_stdout(fd, c->follow || streq(state, "exited") || streq(state, "failed")
                                           ? CTL_STREAM_UNTIL_EOF
                                           : CTL_STREAM_IDLE_MSEC);
        if (r < 0)
                return log_error_errno(r, "Failed to copy the process's log: %m");
        return 1;
}

int verb_logs(Ctl *c) {
        const char *id = c->args[1];
        int task, process = 0;

        task = logs_task(c, id);
        if (task < 0 && task != -ESRCH)
                return task;
        if (task <= 0)
                process = logs_process(c, id);
        if (process < 0 && process != -ESRCH)
                return process;
        if (task == -ESRCH && process == -ESRCH)
                return log_error_errno(-ESRCH, "The suite is not running on %s. Start it with: troupectl up",
                                       strna(c->bus_address));
        if (task <= 0 && process <= 0) {
                log_error("No task or process '%s'. List tasks with: troupectl tasks; "
                          "processes with: busctl call org.troupe.Supervisor1 /org/troupe/Supervisor1 "
                          "org.troupe.Supervisor1.Manager ListProcesses",
                          id);
                return CTL_EXIT_NO_SUCH_OBJECT;
        }
        return CTL_EXIT_OK;
}

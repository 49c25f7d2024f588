/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl tasks, task show and cancel. */
#include "ctl-tasks.h"

#include <inttypes.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "json/json-util.h"

/* Result is the agent's JSON; the registry bounds it, this only keeps a broken daemon in check. */
#define CTL_RESULT_SIZE_MAX (16U * 1024U * 1024U)

bool task_state_is_final(const char *state) {
        return streq_ptr(state, "completed") || streq_ptr(state, "failed") || streq_ptr(state, "canceled") ||
               streq_ptr(state, "rejected");
}

int ctl_task_path(const char *id, char **ret) {
        return bus_object_path(CTL_TASK_PREFIX, id, ret);
}

int ctl_task_log_missing(const char *id) {
        log_error("No task '%s'. List tasks with: troupectl tasks", id);
        return CTL_EXIT_NO_SUCH_OBJECT;
}

/* `result` arrives as a JSON string; scripts want the value itself. Text that does not parse is
 * kept as it is rather than lost. */
static int task_fix_fields(json_t *task) {
        const char *result = json_get_string(task, "result", NULL);
        const char *error = json_get_string(task, "error", NULL);

        if (result) {
                json_t *v = NULL;

                if (!isempty(result))
                        (void) json_parse(result, strlen(result), CTL_RESULT_SIZE_MAX, 0,
                                          JSON_PARSE_ANY_VALUE, &v, NULL);
                if (!v && isempty(result))
                        v = json_null();
                if (v && json_object_set_new(task, "result", v) < 0)
                        return -ENOMEM;
        }
        if (error && isempty(error) && json_object_set_new(task, "error", json_null()) < 0)
                return -ENOMEM;
        return 0;
}

static int task_fetch_path(Ctl *c, sd_bus *bus, const char *path, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_t *task = NULL;
        int r;

        r = ctl_get_properties(bus, ctl_registry.name, path, CTL_TASK_INTERFACE, &error, &task);
        if (r < 0 && ctl_error_is_no_such_object(&error))
                return -ENOENT;
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "read the task's properties", &error, r);
        r = task_fix_fields(task);
        if (r < 0)
                return log_oom();
        *ret = TAKE_PTR(task);
        return 0;
}

int ctl_task_fetch(Ctl *c, const char *id, json_t **ret) {
        _cleanup_free_ char *path = NULL;
        sd_bus *bus;
        int r;

        r = ctl_task_path(id, &path);
        if (r == -EINVAL)
                return -ENOENT;
        if (r < 0)
                return log_oom();
        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        return task_fetch_path(c, bus, path, ret);
}

static void print_field(const char *key, const char *value) {
        printf("%-10s %s\n", key, isempty(value) ? "-" : value);
}

int ctl_task_print(Ctl *c, json_t *task) {
        static const char *const shown[] = {"id",        "agent",        "state",         "progress",
                                            "workspace", "created_usec", "finished_usec", "result",
                                            "error"};
        _cleanup_free_ char *result = json_cell(json_object_get(task, "result"));
        _cleanup_free_ char *error = json_cell(json_object_get(task, "error"));
        char created[32], finished[32], progress[16];
        const char *key;
        json_t *v;

        if (c->json)
                return ctl_print_json(task, c->stdout_tty);
        if (!result || !error)
                return -ENOMEM;

        (void) snprintf(progress, sizeof(progress), "%.0f%%", json_get_real(task, "progress") * 100.0);
        print_field("id:", json_get_string(task, "id", NULL));
        print_field("agent:", json_get_string(task, "agent", NULL));
        print_field("state:", json_get_string(task, "state", NULL));
        print_field("progress:", progress);
        print_field("workspace:", json_get_string(task, "workspace", NULL));
        print_field("created:", format_realtime(json_get_uint(task, "created_usec"), created));
        print_field("finished:", format_realtime(json_get_uint(task, "finished_usec"), finished));
        print_field("result:", result);
        print_field("error:", error);

        /* Properties added after v1 still show up. */
        json_object_foreach(task, key, v) {
                _cleanup_free_ char *label = NULL, *s = NULL;
                bool known = false;

                for (size_t i = 0; i < ELEMENTSOF(shown); i++)
                        known = known || streq(shown[i], key);
                if (known)
                        continue;
                label = strjoin(key, ":");
                s = json_cell(v);
                if (!label || !s)
                        return -ENOMEM;
                print_field(label, s);
        }
        return fflush(stdout) == 0 ? 0 : -errno;
}

int verb_task(Ctl *c) {
        _cleanup_json_ json_t *task = NULL;
        const char *id = c->args[2];
        int r;

        if (!streq(c->args[1], "show")) {
                log_error("Unknown 'task' command '%s'. Usage: troupectl task show ID", c->args[1]);
                return CTL_EXIT_USAGE;
        }
        r = ctl_task_fetch(c, id, &task);
        if (r == -ENOENT)
                return ctl_task_log_missing(id);
        if (r < 0)
                return r;
        r = ctl_task_print(c, task);
        if (r < 0)
                return log_error_errno(r, "Failed to print the task: %m");
        return CTL_EXIT_OK;
}

static int tasks_append_filter(Ctl *c, sd_bus_message *m) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (c->filter_agent) {
                r = sd_bus_message_append(m, "{sv}", "agent", "s", c->filter_agent);
                if (r < 0)
                        return r;
        }
        if (c->filter_state) {
                r = sd_bus_message_append(m, "{sv}", "state", "s", c->filter_state);
                if (r < 0)
                        return r;
        }
        if (c->limit > 0) {
                r = sd_bus_message_append(m, "{sv}", "limit", "u", (uint32_t) c->limit);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int tasks_list(Ctl *c, sd_bus *bus, sd_bus_message **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, ctl_registry.name, ctl_registry.path,
                                           ctl_registry.interface, "ListTasks");
        if (r >= 0)
                r = tasks_append_filter(c, m);
        if (r < 0)
                return log_error_errno(r, "Failed to build the ListTasks() call: %m");
        r = sd_bus_call(bus, m, 0, &error, ret);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "list tasks", &error, r);
        return 0;
}

static int tasks_fetch(Ctl *c, sd_bus *bus, json_t **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_t *tasks = json_array();
        const char *id, *agent, *state, *path;
        int r;

        if (!tasks)
                return log_oom();
        r = tasks_list(c, bus, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListTasks() reply: %m");
        while ((r = sd_bus_message_read(reply, "(ssso)", &id, &agent, &state, &path)) > 0) {
                json_t *task = NULL;

                r = task_fetch_path(c, bus, path, &task);
                if (r == -ENOENT) /* removed by retention meanwhile */
                        continue;
                if (r < 0)
                        return r;
                if (json_array_append_new(tasks, task) < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListTasks() reply: %m");
        *ret = TAKE_PTR(tasks);
        return 0;
}

static int tasks_print_table(Ctl *c, json_t *tasks) {
        static const char *const headers[] = {"ID",      "AGENT",    "STATE", "PROGRESS",
                                              "CREATED", "FINISHED", "ERROR"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        json_t *task;
        size_t i;

        if (!t)
                return -ENOMEM;
        if (c->stdout_tty && json_array_size(tasks) == 0) {
                printf("No tasks. Start one with: troupectl run AGENT\n");
                return 0;
        }
        json_array_foreach(tasks, i, task) {
                char progress[16], created[32], finished[32];

                (void) snprintf(progress, sizeof(progress), "%.0f%%",
                                json_get_real(task, "progress") * 100.0);
                const char *row[] = {
                        json_get_string(task, "id", "?"),
                        json_get_string(task, "agent", "?"),
                        json_get_string(task, "state", "?"),
                        progress,
                        format_realtime(json_get_uint(task, "created_usec"), created),
                        format_realtime(json_get_uint(task, "finished_usec"), finished),
                        json_get_string(task, "error", NULL),
                };
                if (table_add_row(t, row) < 0)
                        return -ENOMEM;
        }
        return table_print(t, c->stdout_tty);
}

int verb_tasks(Ctl *c) {
        _cleanup_json_ json_t *tasks = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = tasks_fetch(c, bus, &tasks);
        if (r < 0)
                return r;
        r = c->json ? ctl_print_json(tasks, c->stdout_tty) : tasks_print_table(c, tasks);
        if (r < 0)
                return log_error_errno(r, "Failed to print the tasks: %m");
        return CTL_EXIT_OK;
}

int verb_cancel(Ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *id = c->args[1];
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "CancelTask", &error, NULL, "s", id);
        if (r < 0 && ctl_error_is_no_such_object(&error))
                return ctl_task_log_missing(id);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "cancel the task", &error, r);
        return CTL_EXIT_OK;
}

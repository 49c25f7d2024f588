/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl run: submit a task through the router, and optionally follow it to its end. */
#include <stdio.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-stream.h"
#include "ctl-tasks.h"
#include "json/json-util.h"

/* The registry refuses params over 64 KiB; say so before sending. */

/* "K=V" gives a string, "K:=JSON" any JSON value. */
static int param_parse(const char *arg, char **ret_key, json_t **ret_value) {
        _cleanup_free_ char *key = NULL, *error = NULL;
        const char *eq = strchr(arg, '=');
        bool raw;
        size_t n;
        int r;

        if (!eq || eq == arg)
                return log_error_errno(-EINVAL, "--param wants K=V or K:=JSON, not '%s'.", arg);
        n = (size_t) (eq - arg);
        raw = arg[n - 1] == ':';
        if (raw)
                n--;
        if (n == 0)
                return log_error_errno(-EINVAL, "--param '%s' has no name before '='.", arg);
        key = strndup(arg, n);
        if (!key)
                return log_oom();
        if (!raw) {
                *ret_value = json_string(eq + 1);
                if (!*ret_value)
                        return log_error_errno(-EINVAL, "--param '%s' is not valid UTF-8.", key);
        } else {
                r = json_parse(eq + 1, strlen(eq + 1), CTL_PARAMS_SIZE_MAX, 0, JSON_PARSE_ANY_VALUE,
                               ret_value, &error);
                if (r < 0)
                        return log_error_errno(r, "--param %s:= wants a JSON value: %s", key, strna(error));
        }
        *ret_key = TAKE_PTR(key);
        return 0;
}

static int params_build(Ctl *c, char **ret) {
        _cleanup_json_ json_t *o = json_object();
        int r;

        if (!o)
                return log_oom();
        STRV_FOREACH (p, c->params) {
                _cleanup_free_ char *key = NULL;
                json_t *value = NULL;

                r = param_parse(*p, &key, &value);
                if (r < 0)
                        return r;
                if (json_object_get(o, key)) {
                        json_decref(value);
                        return log_error_errno(-EINVAL, "--param '%s' is given twice.", key);
                }
                if (json_object_set_new(o, key, value) < 0)
                        return log_oom();
        }
        return ctl_params_dump(o, "parameters", ret);
}

/* The router's refusal, with the agents it knows when the name was wrong. */
static int run_log_submit_error(Ctl *c, const char *agent, const sd_bus_error *error, int r) {
        if (sd_bus_error_has_name(error, BUS_ERROR_NO_SUCH_AGENT)) {
                log_error("No agent '%s': %s List the agents with: troupectl agents", agent,
                          strna(error->message));
                return CTL_EXIT_NO_SUCH_OBJECT;
        }
        if (sd_bus_error_has_name(error, BUS_ERROR_INVALID_ARGS))
                return log_error_errno(r, "The router refused the task: %s See: troupectl run --help",
                                       strna(error->message));
        return ctl_log_call_error(c, &ctl_router, "submit the task", error, r);
}

static int run_submit(Ctl *c, const char *agent, const char *params, char **ret_id) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id, *path;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_router.name, ctl_router.path, ctl_router.interface, "Submit", &error,
                               &reply, "ssa{sv}", agent, strempty(c->prompt), 1, "params", "s", params);
        if (r < 0)
                return run_log_submit_error(c, agent, &error, r);
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the Submit() reply: %m");
        *ret_id = strdup(id);
        return *ret_id ? 0 : log_oom();
}

typedef struct RunWait {
        Ctl *c;
        bool final; /* the stream carried the task's final state */
} RunWait;

static int run_wait_event(json_t *event, void *userdata) {
        RunWait *w = userdata;

        if (streq(json_get_string(event, "type", ""), "state") &&
            task_state_is_final(json_get_string(event, "state", NULL)))
                w->final = true;
        /* Live progress for a person watching; stdout keeps only the final task. */
        if (w->c->stderr_tty)
                return ctl_event_print(event, false, stderr);
        return 0;
}

static int run_wait(Ctl *c, const char *id) {
        _cleanup_json_ json_t *task = NULL;
        RunWait w = {.c = c};
        const char *state;
        int r;

        r = ctl_task_events(c, id, 0, CTL_STREAM_UNTIL_EOF, run_wait_event, &w);
        if (r == -ENOENT)
                return ctl_task_log_missing(id);
        if (r < 0)
                return r;
        r = ctl_task_fetch(c, id, &task);
        if (r == -ENOENT)
                return ctl_task_log_missing(id);
        if (r < 0)
                return r;
        state = json_get_string(task, "state", "?");
        if (!task_state_is_final(state))
                return log_error_errno(-EPIPE,
                                       "The events of task %s ended before the task did (it is %s). "
                                       "Follow it again with: troupectl logs -f %s",
                                       id, state, id);
        r = ctl_task_print(c, task);
        if (r < 0)
                return log_error_errno(r, "Failed to print the task: %m");
        if (!streq(state, "completed")) {
                const char *error = json_get_string(task, "error", NULL);
                log_error("Task %s %s%s%s", id, state, error ? ": " : ".", strempty(error));
                return CTL_EXIT_TASK_INCOMPLETE;
        }
        return CTL_EXIT_OK;
}

int verb_run(Ctl *c) {
        _cleanup_free_ char *params = NULL, *id = NULL;
        const char *agent = c->args[1];
        int r;

        r = params_build(c, &params);
        if (r < 0)
                return CTL_EXIT_USAGE;
        r = run_submit(c, agent, params, &id);
        if (r != 0)
                return r;
        if (c->wait)
                return run_wait(c, id);

        if (c->json) {
                _cleanup_json_ json_t *o = json_pack("{ss}", "id", id);
                if (!o)
                        return log_oom();
                r = ctl_print_json(o, c->stdout_tty);
        } else
                r = printf("%s\n", id) < 0 || fflush(stdout) != 0 ? -errno : 0;
        if (r < 0)
                return log_error_errno(r, "Failed to print the task id: %m");
        return CTL_EXIT_OK;
}

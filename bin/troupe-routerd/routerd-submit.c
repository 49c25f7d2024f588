/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bus/bus-error.h"
#include "routerd-launch.h"
#include "routerd-submit.h"

/* Agent states in which the registry can take a task for the agent: it has a live connection. */
static bool agent_state_is_present(const char *state) {
        return streq(state, "registered") || streq(state, "healthy") || streq(state, "unresponsive");
}

int submit_check_params(sd_bus_message *m, sd_bus_error *error) {
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "prompt"))
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "The prompt is Submit()'s second argument, not a key of params.");
                if (++n > SUBMIT_PARAMS_MAX)
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "More than %u params.",
                                              SUBMIT_PARAMS_MAX);
                r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

Submit *submit_free(Submit *s) {
        if (!s)
                return NULL;
        launch_leave(s);
        if (s->prev)
                s->prev->next = s->next;
        else if (s->context->submits == s)
                s->context->submits = s->next;
        if (s->next)
                s->next->prev = s->prev;
        s->context->n_submits--;

        sd_bus_slot_unref(s->slot);
        sd_bus_message_unref(s->request);
        free(s->agent);
        free(s->prompt);
        return mfree(s);
}

void submit_fail(Submit *s, const sd_bus_error *error) {
        int r;

        log_full_errno_field(LOG_NOTICE, sd_bus_error_get_errno(error), "AGENT", s->agent,
                             "Submit for agent %s failed: %s", s->agent, strna(error->message));
        s->context->n_failed++;
        r = sd_bus_reply_method_error(s->request, error);
        if (r < 0)
                log_debug_errno(r, "Failed to answer Submit(), ignoring: %m");
        submit_free(s);
}

static void submit_fail_errno(Submit *s, int r, const char *what) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        (void) bus_error_set_errnof(&error, r, "%s: %m", what);
        submit_fail(s, &error);
}

static int on_create_task_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Submit *s = userdata;
        const char *id, *path;
        int r;

        s->slot = sd_bus_slot_unref(s->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                submit_fail(s, sd_bus_message_get_error(reply));
                return 0;
        }
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0) {
                submit_fail_errno(s, r, "Unexpected CreateTask() reply from the registry");
                return 0;
        }

        log_full_errno_field(LOG_INFO, 0, "TASK", id, "Submitted task %s to agent %s.", id, s->agent);
        s->context->n_submitted++;
        r = sd_bus_reply_method_return(s->request, "so", id, path);
        if (r < 0)
                log_debug_errno(r, "Failed to answer Submit(), ignoring: %m");
        submit_free(s);
        return 0;
}

/* CreateTask(agent, params + {"prompt": prompt}), params copied from the Submit() call. */
static int submit_create_task(Submit *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(s->context->bus, &m, REGISTRY_BUS_NAME, REGISTRY_PATH,
                                           REGISTRY_MANAGER_INTERFACE, "CreateTask");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", s->agent);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        r = sd_bus_message_rewind(s->request, true);
        if (r < 0)
                return r;
        r = sd_bus_message_skip(s->request, "ss");
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(s->request, 'a', "{sv}");
        if (r < 0)
                return r;
        r = sd_bus_message_copy(m, s->request, true);
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(s->request);
        if (r < 0)
                return r;

        if (!isempty(s->prompt)) {
                r = sd_bus_message_append(m, "{sv}", "prompt", "s", s->prompt);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_call_async(s->context->bus, &s->slot, m, on_create_task_reply, s, 0);
}

void submit_agent_ready(Submit *s) {
        int r;

        s->launch = NULL;
        r = submit_create_task(s);
        if (r < 0)
                submit_fail_errno(s, r, "Failed to call CreateTask() on the registry");
}

static int agents_find_state(sd_bus_message *reply, const char *agent, const char **ret_state) {
        const char *name, *state, *path;
        int r;

        *ret_state = NULL;
        r = sd_bus_message_enter_container(reply, 'a', "(sso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sso)", &name, &state, &path)) > 0)
                if (streq(name, agent)) {
                        *ret_state = state;
                        return 0;
                }
        return r;
}

static int on_list_agents_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Submit *s = userdata;
        const char *state;
        int r;

        s->slot = sd_bus_slot_unref(s->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                submit_fail(s, sd_bus_message_get_error(reply));
                return 0;
        }
        r = agents_find_state(reply, s->agent, &state);
        if (r < 0) {
                submit_fail_errno(s, r, "Unexpected ListAgents() reply from the registry");
                return 0;
        }

        if (state && agent_state_is_present(state)) {
                log_debug("Agent %s is %s, creating the task.", s->agent, state);
                submit_agent_ready(s);
                return 0;
        }
        log_debug("Agent %s is %s, starting it.", s->agent, state ?: "not registered");
        r = launch_join(s->context, s->agent, s, &error);
        if (r < 0) {
                if (!sd_bus_error_is_set(&error))
                        (void) bus_error_set_errnof(&error, r, "Failed to start agent '%s': %m", s->agent);
                submit_fail(s, &error);
        }
        return 0;
}

int submit_start(Context *c, sd_bus_message *request, const char *agent, const char *prompt) {
        _cleanup_(submit_freep) Submit *s = NULL;
        int r;

        if (c->n_submits >= ROUTER_SUBMITS_MAX)
                return -ENOBUFS;

        s = calloc(1, sizeof(Submit));
        if (!s)
                return -ENOMEM;
        s->context = c;
        s->next = c->submits;
        if (c->submits)
                c->submits->prev = s;
        c->submits = s;
        c->n_submits++;

        s->request = sd_bus_message_ref(request);
        s->agent = strdup(agent);
        s->prompt = strdup(strempty(prompt));
        if (!s->agent || !s->prompt)
                return -ENOMEM;
        s->started_usec = now_usec(CLOCK_MONOTONIC);

        /* Asked each time rather than cached: the registry is the one source of truth, and one
         * call per Submit is cheap. */
        r = sd_bus_call_method_async(c->bus, &s->slot, REGISTRY_BUS_NAME, REGISTRY_PATH, REGISTRY_MANAGER_INTERFACE,
                                     "ListAgents", on_list_agents_reply, s, NULL);
        if (r < 0)
                return r;
        TAKE_PTR(s);
        return 0;
}

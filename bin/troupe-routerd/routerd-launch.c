/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sdk-cards.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bus/bus-error.h"
#include "json/json-util.h"
#include "routerd-launch.h"
#include "routerd-submit.h"

static Launch *launch_find(Context *c, const char *agent) {
        for (Launch *l = c->launches; l; l = l->next)
                if (streq(l->agent, agent))
                        return l;
        return NULL;
}

Launch *launch_free(Launch *l) {
        if (!l)
                return NULL;
        /* Waiters still here are answered by their own cleanup (daemon shutdown). */
        while (l->waiters)
                launch_leave(l->waiters);
        if (l->prev)
                l->prev->next = l->next;
        else if (l->context->launches == l)
                l->context->launches = l->next;
        if (l->next)
                l->next->prev = l->prev;

        sd_bus_slot_unref(l->spawn_slot);
        sd_event_source_disable_unref(l->timer);
        free(l->agent);
        free(l->process_id);
        free(l->process_path);
        return mfree(l);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Launch *, launch_free);

void launch_leave(Submit *s) {
        Launch *l = s->launch;

        if (!l)
                return;
        if (s->launch_prev)
                s->launch_prev->launch_next = s->launch_next;
        else
                l->waiters = s->launch_next;
        if (s->launch_next)
                s->launch_next->launch_prev = s->launch_prev;
        s->launch_prev = s->launch_next = NULL;
        s->launch = NULL;
        l->n_waiters--;
}

static void launch_add_waiter(Launch *l, Submit *s) {
        s->launch = l;
        s->launch_prev = NULL;
        s->launch_next = l->waiters;
        if (l->waiters)
                l->waiters->launch_prev = s;
        l->waiters = s;
        l->n_waiters++;
}

/* Answers every waiter with `error` and ends the launch. */
static void launch_fail(Launch *l, const sd_bus_error *error) {
        log_full_errno_field(LOG_WARNING, sd_bus_error_get_errno(error), "AGENT", l->agent,
                             "Starting agent %s failed: %s", l->agent, strna(error->message));
        while (l->waiters) {
                Submit *s = l->waiters;

                launch_leave(s);
                submit_fail(s, error);
        }
        launch_free(l);
}

/* The agent registered: every waiter creates its task. */
static void launch_ready(Launch *l) {
        log_full_errno_field(LOG_INFO, 0, "AGENT", l->agent, "Agent %s registered after %" PRIu64 " ms.",
                             l->agent, (now_usec(CLOCK_MONOTONIC) - l->started_usec) / USEC_PER_MSEC);
        while (l->waiters) {
                Submit *s = l->waiters;

                launch_leave(s);
                submit_agent_ready(s);
        }
        launch_free(l);
}

/* A started agent that missed its deadline is of no use to anyone: stop it, so that it does not
 * register later with nobody waiting, or linger forever. */
static void launch_stop_process(Launch *l) {
        int r;

        if (!l->process_path)
                return;
        r = sd_bus_call_method_async(l->context->bus, NULL, SUPERVISOR_BUS_NAME, l->process_path,
                                     SUPERVISOR_PROCESS_INTERFACE, "Stop", NULL, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to stop process %s of agent %s, ignoring: %m", l->process_id, l->agent);
}

static int on_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Launch *l = userdata;

        (void) bus_error_setf(&error, BUS_ERROR_TIMEOUT,
                              "Agent '%s' did not register within %" PRIu64 " ms after it was started%s%s%s.",
                              l->agent, l->context->spawn_timeout_usec / USEC_PER_MSEC,
                              l->process_id ? "; see `troupectl logs " : "", strempty(l->process_id),
                              l->process_id ? "`" : "");
        launch_stop_process(l);
        launch_fail(l, &error);
        return 0;
}

static int on_spawn_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Launch *l = userdata;
        const char *id, *path;
        int r;

        l->spawn_slot = sd_bus_slot_unref(l->spawn_slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                (void) bus_error_setf(&error, e->name, "The supervisor could not start agent '%s': %s", l->agent,
                                      strna(e->message));
                launch_fail(l, &error);
                return 0;
        }
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0) {
                (void) bus_error_set_errnof(&error, r, "Unexpected Spawn() reply from the supervisor: %m");
                launch_fail(l, &error);
                return 0;
        }

        r = free_and_strdup(&l->process_id, id);
        if (r >= 0)
                r = free_and_strdup(&l->process_path, path);
        if (r < 0) {
                (void) bus_error_set_errno(&error, r);
                launch_fail(l, &error);
                return 0;
        }
        log_full_errno_field(LOG_INFO, 0, "AGENT", l->agent, "Started agent %s as process %s.", l->agent, id);
        context_remember_spawn(l->context, l->agent, id, path);
        return 0;
}

static int append_spawn_options(sd_bus_message *m, const CardEntry *e) {
        const AgentCard *card = e->card;
        _cleanup_free_ char *card_env = strjoin("TROUPE_AGENT_CARD=", e->path);
        int r;

        if (!card_env)
                return -ENOMEM;
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        /* The agent reads the very card we routed by, whatever its environment lacks. */
        r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}", "agent", "b", 1, "profile", "s", "agent", "restart", "s",
                                  agent_restart_to_string(card->exec.restart), "env", "as", 1, card_env);
        if (r < 0)
                return r;
        if (card->limits.memory_max > 0) {
                r = sd_bus_message_append(m, "{sv}", "memory_max", "t", card->limits.memory_max);
                if (r < 0)
                        return r;
        }
        if (card->limits.tasks_max > 0) {
                r = sd_bus_message_append(m, "{sv}", "tasks_max", "t", card->limits.tasks_max);
                if (r < 0)
                        return r;
        }
        if (card->limits.cpu_weight > 0) {
                r = sd_bus_message_append(m, "{sv}", "cpu_weight", "t", card->limits.cpu_weight);
                if (r < 0)
                        return r;
        }
        /* The sandbox grants what the card pre-grants (net.connect: ... becomes a network); what it
         * may only request is decided per task, through consent. */
        if (card->permissions.capabilities) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "capabilities");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_append_strv(m, card->permissions.capabilities);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        /* The card lies outside the agent's sandbox (beneath the data or config directory, or a
         * source tree): only that one file becomes readable. */
        r = sd_bus_message_append(m, "{sv}", "read_only", "as", 1, e->path);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* Spawn(name, [executable, args...], options) */
static int launch_spawn(Launch *l, const CardEntry *e, const char *executable) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(l->context->bus, &m, SUPERVISOR_BUS_NAME, SUPERVISOR_PATH,
                                           SUPERVISOR_MANAGER_INTERFACE, "Spawn");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", l->agent);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", executable);
        if (r < 0)
                return r;
        STRV_FOREACH(a, e->card->exec.args) {
                r = sd_bus_message_append(m, "s", *a);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        r = append_spawn_options(m, e);
        if (r < 0)
                return r;
        return sd_bus_call_async(l->context->bus, &l->spawn_slot, m, on_spawn_reply, l, 0);
}

static int launch_new(Context *c, const char *agent, sd_bus_error *error, Launch **ret) {
        _cleanup_(launch_freep) Launch *l = NULL;
        _cleanup_free_ char *executable = NULL;
        const CardEntry *e;
        int r;

        e = card_set_find(c->cards, agent);
        if (!e)
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_AGENT,
                                      "Agent '%s' has no card any more (the cards were reloaded).", agent);
        r = agent_exec_find(e->card->exec.path, &executable);
        if (r == -ENOENT)
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_AGENT,
                                      "Agent '%s' is not installed: no executable '%s' in $TROUPE_AGENT_PATH or "
                                      "%s/agents.", agent, e->card->exec.path, TROUPE_LIBEXECDIR);
        if (r < 0)
                return r;

        l = calloc(1, sizeof(Launch));
        if (!l)
                return -ENOMEM;
        l->context = c;
        l->agent = strdup(agent);
        if (!l->agent)
                return -ENOMEM;
        l->restarts = e->card->exec.restart == AGENT_RESTART_ON_FAILURE;
        l->started_usec = now_usec(CLOCK_MONOTONIC);
        l->next = c->launches;
        if (c->launches)
                c->launches->prev = l;
        c->launches = l;

        r = sd_event_add_time_relative(c->event, &l->timer, CLOCK_MONOTONIC, c->spawn_timeout_usec, 0, on_timeout,
                                       l);
        if (r < 0)
                return r;
        r = launch_spawn(l, e, executable);
        if (r < 0)
                return r;
        log_full_errno_field(LOG_INFO, 0, "AGENT", agent, "Starting agent %s (%s).", agent, executable);
        *ret = TAKE_PTR(l);
        return 0;
}

int launch_join(Context *c, const char *agent, Submit *s, sd_bus_error *error) {
        Launch *l;
        int r;

        assert_return(c && agent && s && !s->launch, -EINVAL);

        l = launch_find(c, agent);
        if (!l) {
                r = launch_new(c, agent, error, &l);
                if (r < 0)
                        return r;
        } else
                log_debug("Agent %s is being started already; waiting for it.", agent);
        launch_add_waiter(l, s);
        return 0;
}

static int on_agent_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Context *c = userdata;
        const char *name, *state;
        Launch *l;

        if (sd_bus_message_read(m, "ss", &name, &state) < 0)
                return 0;
        if (!streq(state, "registered") && !streq(state, "healthy"))
                return 0;
        l = launch_find(c, name);
        if (l)
                launch_ready(l);
        return 0;
}

static Launch *launch_find_process(Context *c, const char *process_id) {
        for (Launch *l = c->launches; l; l = l->next)
                if (streq_ptr(l->process_id, process_id))
                        return l;
        return NULL;
}

static int on_process_exited(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Context *c = userdata;
        const char *id;
        int32_t code, status;
        Launch *l;

        if (sd_bus_message_read(m, "sii", &id, &code, &status) < 0)
                return 0;
        l = launch_find_process(c, id);
        /* With restart=on-failure the supervisor tries again; the deadline still holds. */
        if (!l || l->restarts)
                return 0;

        (void) bus_error_setf(&error, BUS_ERROR_FAILED,
                              "Agent '%s' %s %d before it registered; see `troupectl logs %s`.", l->agent,
                              code == CLD_EXITED ? "exited with status" : "was killed by signal", status, id);
        launch_fail(l, &error);
        return 0;
}

int launch_add_matches(Context *c) {
        int r;

        r = sd_bus_match_signal_async(c->bus, &c->match_agent_state, REGISTRY_BUS_NAME, REGISTRY_PATH,
                                      REGISTRY_MANAGER_INTERFACE, "AgentStateChanged", on_agent_state_changed, NULL,
                                      c);
        if (r < 0)
                return r;
        return sd_bus_match_signal_async(c->bus, &c->match_process_exited, SUPERVISOR_BUS_NAME, SUPERVISOR_PATH,
                                         SUPERVISOR_MANAGER_INTERFACE, "ProcessExited", on_process_exited, NULL, c);
}

int launch_to_json(const Launch *l, json_t **ret) {
        json_t *o;

        o = json_pack("{s:s, s:s?, s:I, s:I}", "agent", l->agent, "process_id", l->process_id, "waiting",
                      (json_int_t) l->n_waiters, "elapsed_ms",
                      (json_int_t) ((now_usec(CLOCK_MONOTONIC) - l->started_usec) / USEC_PER_MSEC));
        if (!o)
                return -ENOMEM;
        *ret = o;
        return 0;
}

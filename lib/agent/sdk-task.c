/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's tasks: StartTask to the start handler, events, results, cancellation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sdk-internal.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"

static char *text_copy(const char *s, size_t max) {
        return utf8_sanitize_copy(strempty(s), strlen(strempty(s)), max, NULL);
}

static AgentTask *task_find(Agent *a, const char *id) {
        for (AgentTask *t = a->tasks; t; t = t->next)
                if (streq(t->id, id))
                        return t;
        return NULL;
}

static void task_free(AgentTask *t) {
        Agent *a;

        if (!t)
                return;
        a = t->agent;
        if (t->prev)
                t->prev->next = t->next;
        else
                a->tasks = t->next;
        if (t->next)
                t->next->prev = t->prev;
        a->n_tasks--;
        agent_requests_forget_task(t);

        free(t->id);
        free(t->token);
        agent_bootstrap_params_free(t->bootstrap);
        free(t->workspace);
        free(t->params_json);
        json_decref(t->params);
        free(t->reject_reason);
        free(t->result_json);
        free(t->error);
        free(t);
        agent_update_idle(a);
}

static int send_event(AgentTask *t, Troupe__V1__TaskEvent *ev) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;

        ev->task_id = t->id;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_EVENT;
        e.task_event = ev;
        return agent_link_send(t->agent, &e);
}

static int send_state(AgentTask *t, Troupe__V1__TaskState state, const char *message) {
        _cleanup_free_ char *m = text_copy(message, AGENT_TEXT_MAX);
        Troupe__V1__TaskEvent__StateChange sc = TROUPE__V1__TASK_EVENT__STATE_CHANGE__INIT;
        Troupe__V1__TaskEvent ev = TROUPE__V1__TASK_EVENT__INIT;

        if (!m)
                return -ENOMEM;
        sc.state = state;
        sc.message = m;
        ev.event_case = TROUPE__V1__TASK_EVENT__EVENT_STATE;
        ev.state = &sc;
        return send_event(t, &ev);
}

static int send_accepted(Agent *a, const char *id, bool accepted, const char *reason) {
        _cleanup_free_ char *r = text_copy(reason, AGENT_TEXT_MAX);
        Troupe__V1__TaskAccepted ta = TROUPE__V1__TASK_ACCEPTED__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;

        if (!r)
                return -ENOMEM;
        ta.task_id = (char *) id;
        ta.accepted = accepted;
        ta.reason = r;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED;
        e.task_accepted = &ta;
        return agent_link_send(a, &e);
}

/* Accepting is implicit: the first thing a task sends, or the start handler returning 0. */
static int task_ensure_accepted(AgentTask *t) {
        int r;

        if (t->accepted)
                return 0;
        r = send_accepted(t->agent, t->id, true, NULL);
        if (r < 0)
                return r;
        t->accepted = true;
        return send_state(t, TROUPE__V1__TASK_STATE__TASK_STATE_WORKING, NULL);
}

static int task_send_result(AgentTask *t) {
        Troupe__V1__TaskResult tr = TROUPE__V1__TASK_RESULT__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        int r;

        r = task_ensure_accepted(t);
        if (r < 0)
                return r;
        tr.task_id = t->id;
        tr.state = t->final_state;
        tr.result_json = t->result_json ?: (char *) "";
        tr.error = t->error ?: (char *) "";
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_RESULT;
        e.task_result = &tr;
        return agent_link_send(t->agent, &e);
}

/* Sends the result now, or keeps it for after the reconnection when the registry is away. */
static void task_deliver(AgentTask *t) {
        int r;

        if (t->in_handler)
                return;
        r = task_send_result(t);
        if (r == -ENOTCONN || r == -ECONNRESET || r == -ENOBUFS) {
                log_debug("Task %s ended while the registry is away; its result waits.", t->id);
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to send the result of task %s, dropping it: %m", t->id);
        task_free(t);
}

static int task_end(AgentTask *t, Troupe__V1__TaskState state, char *result_json, char *error) {
        assert_return(t && !t->ended, -EINVAL);

        t->ended = true;
        t->final_state = state;
        t->result_json = result_json;
        t->error = error;
        task_deliver(t);
        return 0;
}

/* Keeps the token of the latest StartTask: after a reconnection the registry sends a fresh one. */
static int task_set_token(AgentTask *t, const ProtobufCBinaryData *token) {
        void *copy = NULL;

        if (token->len > 0) {
                copy = malloc(token->len);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, token->data, token->len);
        }
        free(t->token);
        t->token = copy;
        t->token_size = token->len;
        return 0;
}

static int task_new(Agent *a, const Troupe__V1__StartTask *st, AgentTask **ret) {
        _cleanup_free_ AgentTask *t = calloc(1, sizeof(AgentTask));
        const char *reason = NULL;
        int r;

        if (!t)
                return -ENOMEM;
        t->agent = a;
        t->id = strdup(st->task_id);
        t->workspace = strdup(strempty(st->workspace));
        t->params_json = strdup(isempty(st->params_json) ? "{}" : st->params_json);
        r = t->id && t->workspace && t->params_json ? task_set_token(t, &st->capability_token) : -ENOMEM;
        if (r >= 0 && st->typed_params_case == TROUPE__V1__START_TASK__TYPED_PARAMS_BOOTSTRAP)
                /* Checked before the task exists (agent_task_dispatch_start()): only ENOMEM here. */
                r = agent_bootstrap_params_copy(st->bootstrap, &t->bootstrap, &reason);
        if (r < 0) {
                free(t->id);
                free(t->workspace);
                free(t->params_json);
                free(t->token);
                return r;
        }
        t->next = a->tasks;
        if (a->tasks)
                a->tasks->prev = t;
        a->tasks = t;
        a->n_tasks++;
        agent_update_idle(a);
        *ret = TAKE_PTR(t);
        return 0;
}

static bool task_id_is_valid(const char *id) {
        size_t n = strlen(strempty(id));

        return n > 0 && n <= AGENT_TASK_ID_MAX && strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Parses the parameters; a refusal is the reason to reject the task with. */
static int task_parse_params(AgentTask *t, char **ret_reason) {
        _cleanup_free_ char *err = NULL;
        int r;

        r = json_parse(t->params_json, strlen(t->params_json), AGENT_JSON_MAX, 0, 0, &t->params, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return asprintf_safe(ret_reason, "params are not valid JSON: %s", strna(err)) < 0 ? -ENOMEM : -EINVAL;
        if (!json_is_object(t->params))
                return (*ret_reason = strdup("params must be a JSON object")) ? -EINVAL : -ENOMEM;
        return 0;
}

static int task_start_refuse(Agent *a, const char *id, const char *reason) {
        log_info("Rejecting task %s: %s", id, reason);
        return send_accepted(a, id, false, reason);
}

/* The start handler has returned `r`: accept or reject, then deliver an early end. */
static int task_after_start(AgentTask *t, int r) {
        _cleanup_free_ char *reason = NULL;

        if (r < 0 && !t->accepted && !t->ended) {
                reason = t->reject_reason ? strdup(t->reject_reason) : strdup(strerror(-r));
                if (!reason)
                        return -ENOMEM;
                r = task_start_refuse(t->agent, t->id, reason);
                task_free(t);
                return r;
        }
        if (r < 0 && !t->ended) {
                /* It already sent events, so it was accepted: a late refusal is a failure. */
                reason = text_copy(t->reject_reason ?: strerror(-r), AGENT_TEXT_MAX);
                return task_end(t, TROUPE__V1__TASK_STATE__TASK_STATE_FAILED, NULL, TAKE_PTR(reason));
        }
        r = task_ensure_accepted(t);
        if (r < 0)
                log_debug_errno(r, "Failed to accept task %s: %m", t->id);
        if (t->ended)
                task_deliver(t);
        return 0;
}

/* Typed parameters beyond the proto's limits: refused before the start handler sees them. */
static const char *start_task_check_typed(const Troupe__V1__StartTask *st) {
        _cleanup_(agent_bootstrap_params_freep) AgentBootstrapParams *p = NULL;
        const char *reason = NULL;

        if (st->typed_params_case != TROUPE__V1__START_TASK__TYPED_PARAMS_BOOTSTRAP)
                return NULL;
        if (agent_bootstrap_params_copy(st->bootstrap, &p, &reason) == -EINVAL)
                return reason;
        return NULL;
}

int agent_task_dispatch_start(Agent *a, const Troupe__V1__StartTask *st) {
        _cleanup_free_ char *reason = NULL;
        AgentTask *t, *existing;
        const char *typed_error;
        int r;

        if (!task_id_is_valid(st->task_id) || strlen(strempty(st->workspace)) > AGENT_WORKSPACE_MAX ||
            st->capability_token.len > AGENT_TOKEN_MAX)
                return -EINVAL;

        existing = task_find(a, st->task_id);
        if (existing && !existing->ended) {
                /* Dispatched again (the registry restarted): it is still ours and running. */
                log_debug("Task %s is already running.", st->task_id);
                r = task_set_token(existing, &st->capability_token);
                if (r < 0)
                        return r;
                return send_accepted(a, st->task_id, true, NULL);
        }
        if (existing || a->stopping || a->n_tasks >= AGENT_TASKS_MAX)
                return task_start_refuse(a, st->task_id,
                                         existing ? "task already ended" :
                                         a->stopping ? "agent is stopping" : "busy: too many tasks running");
        typed_error = start_task_check_typed(st);
        if (typed_error)
                return task_start_refuse(a, st->task_id, typed_error);

        r = task_new(a, st, &t);
        if (r < 0)
                return r;
        r = task_parse_params(t, &reason);
        if (r < 0) {
                if (reason)
                        r = task_start_refuse(a, t->id, reason);
                task_free(t);
                return r;
        }

        log_debug("Starting task %s.", t->id);
        t->in_handler = true;
        r = a->def.start(a, t, a->def.userdata);
        t->in_handler = false;
        return task_after_start(t, r);
}

static void task_cancel(AgentTask *t) {
        Agent *a = t->agent;
        int r = 0;

        t->cancel_requested = true;
        if (a->def.cancel) {
                t->in_handler = true;
                r = a->def.cancel(a, t, a->def.userdata);
                t->in_handler = false;
        }
        if (t->ended) {
                task_deliver(t);
                return;
        }
        if (r > 0) {
                t->canceling = true;
                return;
        }
        (void) task_end(t, TROUPE__V1__TASK_STATE__TASK_STATE_CANCELED, NULL, NULL);
}

int agent_task_dispatch_cancel(Agent *a, const Troupe__V1__CancelTask *ct) {
        AgentTask *t = task_find(a, strempty(ct->task_id));

        if (!t || t->ended || t->cancel_requested) {
                log_debug("Nothing to cancel for task %s.", strempty(ct->task_id));
                return 0;
        }
        log_debug("Canceling task %s: %s", t->id, strna(ct->reason));
        task_cancel(t);
        return 0;
}

void agent_tasks_cancel_all(Agent *a, const char *reason) {
        AgentTask *t;

        /* Rescan after each one: a cancel handler may end other tasks too. */
        for (;;) {
                for (t = a->tasks; t; t = t->next)
                        if (!t->ended && !t->cancel_requested)
                                break;
                if (!t)
                        return;
                log_debug("Canceling task %s: %s", t->id, reason);
                task_cancel(t);
        }
}

void agent_tasks_flush(Agent *a) {
        AgentTask *t, *next;

        for (t = a->tasks; t; t = next) {
                next = t->next;
                if (t->ended)
                        task_deliver(t);
        }
}

void agent_tasks_free(Agent *a) {
        while (a->tasks)
                task_free(a->tasks);
}

int agent_tasks_ids(Agent *a, bool running_only, char ***ret) {
        _cleanup_free_ char **ids = calloc(a->n_tasks + 1, sizeof(char *));
        size_t n = 0;

        if (!ids)
                return -ENOMEM;
        for (AgentTask *t = a->tasks; t; t = t->next) {
                if (running_only && t->ended)
                        continue;
                ids[n] = strdup(t->id);
                if (!ids[n]) {
                        strv_free(TAKE_PTR(ids));
                        return -ENOMEM;
                }
                n++;
        }
        *ret = TAKE_PTR(ids);
        return 0;
}

const char *agent_task_get_id(AgentTask *t) {
        return t ? t->id : NULL;
}

const char *agent_task_get_workspace(AgentTask *t) {
        return t ? t->workspace : NULL;
}

const char *agent_task_get_params_json(AgentTask *t) {
        return t ? t->params_json : NULL;
}

json_t *agent_task_get_params(AgentTask *t) {
        return t ? t->params : NULL;
}

const AgentBootstrapParams *agent_task_get_bootstrap_params(AgentTask *t) {
        return t ? t->bootstrap : NULL;
}

Agent *agent_task_get_agent(AgentTask *t) {
        return t ? t->agent : NULL;
}

void agent_task_set_userdata(AgentTask *t, void *userdata) {
        if (t)
                t->userdata = userdata;
}

void *agent_task_get_userdata(AgentTask *t) {
        return t ? t->userdata : NULL;
}

int agent_task_set_reject_reason(AgentTask *t, const char *reason) {
        assert_return(t, -EINVAL);

        free(t->reject_reason);
        t->reject_reason = text_copy(reason, AGENT_TEXT_MAX);
        return t->reject_reason ? 0 : -ENOMEM;
}

/* Events of a task whose registry is away are dropped: it could not journal them meanwhile. */
static int event_result(AgentTask *t, int r) {
        if (r == -ENOTCONN || r == -ECONNRESET) {
                log_debug("Dropped an event of task %s: the registry is away.", t->id);
                return 0;
        }
        return r;
}

int agent_task_progress(AgentTask *t, double fraction, const char *message) {
        _cleanup_free_ char *m = NULL;
        Troupe__V1__TaskEvent__Progress p = TROUPE__V1__TASK_EVENT__PROGRESS__INIT;
        Troupe__V1__TaskEvent ev = TROUPE__V1__TASK_EVENT__INIT;
        int r;

        assert_return(t && !t->ended, -EINVAL);

        if (!(fraction >= 0.0)) /* also NaN */
                fraction = 0.0;
        t->progress = MAX(t->progress, MIN(fraction, 1.0));
        m = text_copy(message, AGENT_TEXT_MAX);
        if (!m)
                return -ENOMEM;

        r = task_ensure_accepted(t);
        if (r < 0)
                return event_result(t, r);
        p.fraction = t->progress;
        p.message = m;
        ev.event_case = TROUPE__V1__TASK_EVENT__EVENT_PROGRESS;
        ev.progress = &p;
        return event_result(t, send_event(t, &ev));
}

static int send_log_line(AgentTask *t, AgentLogStream stream, const char *line, size_t n) {
        /* One event per chunk of at most AGENT_LOG_LINE_MAX bytes, cut between characters. */
        while (n > 0) {
                Troupe__V1__TaskEvent__LogLine l = TROUPE__V1__TASK_EVENT__LOG_LINE__INIT;
                Troupe__V1__TaskEvent ev = TROUPE__V1__TASK_EVENT__INIT;
                _cleanup_free_ char *chunk = NULL;
                size_t used = 0;
                int r;

                chunk = utf8_sanitize_copy(line, n, AGENT_LOG_LINE_MAX, &used);
                if (!chunk)
                        return -ENOMEM;
                l.stream = (Troupe__V1__TaskEvent__LogStream) stream;
                l.text = chunk;
                ev.event_case = TROUPE__V1__TASK_EVENT__EVENT_LOG;
                ev.log = &l;
                r = send_event(t, &ev);
                if (r < 0)
                        return r;
                line += used;
                n -= used;
        }
        return 0;
}

int agent_task_log(AgentTask *t, AgentLogStream stream, const char *text) {
        const char *p = strempty(text);
        int r;

        assert_return(t && !t->ended, -EINVAL);
        assert_return(stream == AGENT_LOG_AGENT || stream == AGENT_LOG_STDOUT || stream == AGENT_LOG_STDERR,
                      -EINVAL);

        r = task_ensure_accepted(t);
        if (r < 0)
                return event_result(t, r);
        do {
                size_t n = strcspn(p, "\n");

                r = send_log_line(t, stream, p, n);
                if (r < 0)
                        return event_result(t, r);
                p += n;
                if (*p == '\n')
                        p++;
        } while (*p);
        return 0;
}

int agent_task_logf(AgentTask *t, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        assert_return(t && format, -EINVAL);

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return agent_task_log(t, AGENT_LOG_AGENT, s);
}

int agent_task_set_input_required(AgentTask *t, bool input_required, const char *message) {
        int r;

        assert_return(t && !t->ended, -EINVAL);

        if (t->input_required == input_required)
                return 0;
        r = task_ensure_accepted(t);
        if (r < 0)
                return event_result(t, r);
        t->input_required = input_required;
        return event_result(t, send_state(t, input_required ? TROUPE__V1__TASK_STATE__TASK_STATE_INPUT_REQUIRED
                                                             : TROUPE__V1__TASK_STATE__TASK_STATE_WORKING,
                                          message));
}

int agent_task_complete_json(AgentTask *t, const char *result_json) {
        _cleanup_json_ json_t *v = NULL;
        char *copy;
        int r;

        assert_return(t && !t->ended, -EINVAL);

        if (isempty(result_json))
                return task_end(t, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED, NULL, NULL);

        /* Checked here, where the agent author can see the failure, not by the registry. */
        r = json_parse(result_json, strlen(result_json), AGENT_JSON_MAX, 0, JSON_PARSE_ANY_VALUE, &v, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return agent_task_failf(t, "the agent produced an invalid result (%s)",
                                        r == -EFBIG ? "larger than 64 KiB" : "not JSON");
        copy = strdup(result_json);
        if (!copy)
                return -ENOMEM;
        return task_end(t, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED, copy, NULL);
}

int agent_task_complete(AgentTask *t, json_t *result) {
        _cleanup_free_ char *s = NULL;
        int r;

        assert_return(t && !t->ended, -EINVAL);

        if (!result)
                return agent_task_complete_json(t, NULL);
        r = json_dump_string(result, JSON_DUMP_COMPACT, &s);
        if (r < 0)
                return r;
        return agent_task_complete_json(t, s);
}

int agent_task_fail(AgentTask *t, const char *error) {
        char *e;

        assert_return(t && !t->ended, -EINVAL);

        e = text_copy(isempty(error) ? "failed" : error, AGENT_TEXT_MAX);
        if (!e)
                return -ENOMEM;
        return task_end(t, TROUPE__V1__TASK_STATE__TASK_STATE_FAILED, NULL, e);
}

int agent_task_failf(AgentTask *t, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        assert_return(t && format, -EINVAL);

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return agent_task_fail(t, s);
}

int agent_task_canceled(AgentTask *t) {
        assert_return(t && !t->ended, -EINVAL);

        return task_end(t, TROUPE__V1__TASK_STATE__TASK_STATE_CANCELED, NULL, NULL);
}

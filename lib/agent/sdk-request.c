/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an agent asks of the suite for a task: ExecRequest (run a command in the task's sandbox) and
 * ActionRequest (a privileged action), each with the task's capability token, answered by request
 * id; and the typed parameters StartTask carries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sdk-internal.h"
#include "basic/log.h"
#include "basic/string-util.h"

/* From the protos: exec.proto, bootstrap.proto. */
#define EXEC_ARGV_MAX 256U
#define EXEC_ENV_MAX 128U
#define EXEC_TIMEOUT_MS_MAX UINT32_MAX
#define ACTION_NAME_MAX 128U
#define ACTION_ARGS_MAX 64U
#define BOOTSTRAP_NAME_MAX 64U
#define BOOTSTRAP_VALUE_MAX 1024U
#define BOOTSTRAP_OPTIONS_MAX 64U

typedef enum AgentRequestKind {
        AGENT_REQUEST_EXEC,
        AGENT_REQUEST_ACTION,
} AgentRequestKind;

struct AgentRequest {
        Agent *agent;
        AgentTask *task;
        AgentRequestKind kind;
        char id[AGENT_REQUEST_ID_MAX + 1];
        AgentExecHandler exec_handler;
        AgentActionHandler action_handler;
        void *userdata;
        AgentRequest *prev, *next;
};

static void request_free(AgentRequest *q) {
        Agent *a;

        if (!q)
                return;
        a = q->agent;
        if (q->prev)
                q->prev->next = q->next;
        else
                a->requests = q->next;
        if (q->next)
                q->next->prev = q->prev;
        free(q);
}

static AgentRequest *request_find(Agent *a, AgentRequestKind kind, const char *id) {
        for (AgentRequest *q = a->requests; q; q = q->next)
                if (q->kind == kind && streq(q->id, id))
                        return q;
        return NULL;
}

static AgentRequest *request_new(AgentTask *t, AgentRequestKind kind) {
        Agent *a = t->agent;
        AgentRequest *q = calloc(1, sizeof(AgentRequest));

        if (!q)
                return NULL;
        q->agent = a;
        q->task = t;
        q->kind = kind;
        /* Unique among this agent's outstanding requests, and across reconnections too. */
        (void) snprintf(q->id, sizeof(q->id), "%s%" PRIu64, kind == AGENT_REQUEST_EXEC ? "x" : "a",
                        ++a->n_requests_sent);
        q->next = a->requests;
        if (a->requests)
                a->requests->prev = q;
        a->requests = q;
        return q;
}

static int request_check_task(AgentTask *t) {
        assert_return(t && !t->ended, -EINVAL);

        if (!agent_is_registered(t->agent))
                return -ENOTCONN;
        return 0;
}

/* ---- exec ---- */

int agent_task_exec(AgentTask *t, char *const *argv, const AgentExecOptions *o, AgentExecHandler h,
                    void *userdata) {
        Troupe__V1__ExecRequest req = TROUPE__V1__EXEC_REQUEST__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        AgentRequest *q;
        uint64_t timeout_ms = 0;
        size_t n_argv = strv_length(argv), n_env = o ? strv_length(o->env) : 0;
        int r;

        assert_return(h, -EINVAL);
        assert_return(n_argv >= 1 && n_argv <= EXEC_ARGV_MAX && argv[0][0] == '/', -EINVAL);
        assert_return(n_env <= EXEC_ENV_MAX, -EINVAL);
        r = request_check_task(t);
        if (r < 0)
                return r;

        if (o && o->timeout_usec > 0) {
                timeout_ms = DIV_ROUND_UP(o->timeout_usec, USEC_PER_MSEC);
                timeout_ms = MIN(timeout_ms, (uint64_t) EXEC_TIMEOUT_MS_MAX);
        }

        q = request_new(t, AGENT_REQUEST_EXEC);
        if (!q)
                return -ENOMEM;
        q->exec_handler = h;
        q->userdata = userdata;

        req.request_id = q->id;
        req.task_id = t->id;
        req.token.data = t->token;
        req.token.len = t->token_size;
        req.n_argv = n_argv;
        req.argv = (char **) argv;
        req.n_env = n_env;
        req.env = n_env > 0 ? (char **) o->env : NULL;
        req.cwd = (char *) (o && o->cwd ? o->cwd : "");
        req.timeout_ms = (uint32_t) timeout_ms;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST;
        e.exec_request = &req;
        r = agent_link_send(t->agent, &e);
        if (r < 0) {
                request_free(q);
                return r;
        }
        log_debug("Task %s: exec %s sent (%s).", t->id, q->id, argv[0]);
        return 0;
}

int agent_requests_dispatch_exec_result(Agent *a, const Troupe__V1__ExecResult *res) {
        AgentRequest *q = request_find(a, AGENT_REQUEST_EXEC, strempty(res->request_id));
        AgentExecResult result = {
                .request_id = res->request_id,
                .output = res->stdout_tail.data,
                .output_size = res->stdout_tail.len,
                .output_truncated = res->stdout_truncated,
                .error = isempty(res->error) ? NULL : res->error,
                .duration_usec = res->duration_usec,
        };
        AgentExecHandler h;
        AgentTask *t;
        void *userdata;

        if (!q) {
                log_debug("Ignoring the result of exec %s, which nothing waits for.",
                          strna(res->request_id));
                return 0;
        }
        if (res->termination_case == TROUPE__V1__EXEC_RESULT__TERMINATION_EXIT_CODE) {
                result.exited = true;
                result.exit_code = res->exit_code;
        } else if (res->termination_case == TROUPE__V1__EXEC_RESULT__TERMINATION_SIGNAL)
                result.signal = res->signal;

        /* Off the list first: the handler may end the task, which forgets the task's requests. */
        h = q->exec_handler;
        t = q->task;
        userdata = q->userdata;
        request_free(q);
        h(t, &result, userdata);
        return 0;
}

/* ---- actions ---- */

int agent_task_action(AgentTask *t, const char *action, char *const *args, AgentActionHandler h,
                      void *userdata) {
        Troupe__V1__ActionRequest req = TROUPE__V1__ACTION_REQUEST__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        size_t n_args = strv_length(args);
        AgentRequest *q;
        int r;

        assert_return(h, -EINVAL);
        assert_return(!isempty(action) && strlen(action) <= ACTION_NAME_MAX, -EINVAL);
        assert_return(n_args <= ACTION_ARGS_MAX, -EINVAL);
        r = request_check_task(t);
        if (r < 0)
                return r;

        q = request_new(t, AGENT_REQUEST_ACTION);
        if (!q)
                return -ENOMEM;
        q->action_handler = h;
        q->userdata = userdata;

        req.request_id = q->id;
        req.task_id = t->id;
        req.token.data = t->token;
        req.token.len = t->token_size;
        req.action = (char *) action;
        req.n_args = n_args;
        req.args = n_args > 0 ? (char **) args : NULL;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST;
        e.action_request = &req;
        r = agent_link_send(t->agent, &e);
        if (r < 0) {
                request_free(q);
                return r;
        }
        log_debug("Task %s: action %s sent (%s).", t->id, q->id, action);
        return 0;
}

static bool action_status_is_valid(Troupe__V1__ActionStatus s) {
        return s == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE ||
               s == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED ||
               s == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING ||
               s == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED;
}

int agent_requests_dispatch_action_result(Agent *a, const Troupe__V1__ActionResult *res) {
        AgentRequest *q = request_find(a, AGENT_REQUEST_ACTION, strempty(res->request_id));
        AgentActionResult result = {
                .request_id = res->request_id,
                .status = (AgentActionStatus) res->status,
                .message = strempty(res->message),
                .consent_id = strempty(res->consent_id),
        };
        AgentActionHandler h;
        AgentTask *t;
        void *userdata;

        if (!q) {
                log_debug("Ignoring the result of action %s, which nothing waits for.",
                          strna(res->request_id));
                return 0;
        }
        if (!action_status_is_valid(res->status)) {
                /* Nothing we could tell the agent: a final answer it cannot interpret. */
                log_warning("Action %s got an unknown status %d, taking it as failed.", q->id,
                            (int) res->status);
                result.status = AGENT_ACTION_FAILED;
        }

        h = q->action_handler;
        t = q->task;
        userdata = q->userdata;
        /* A pending answer keeps the request for the final one; the handler may still end the task. */
        if (result.status != AGENT_ACTION_CONSENT_PENDING)
                request_free(q);
        h(t, &result, userdata);
        return 0;
}

/* ---- bookkeeping ---- */

void agent_requests_forget_task(AgentTask *t) {
        Agent *a = t->agent;
        AgentRequest *q, *next;

        for (q = a->requests; q; q = next) {
                next = q->next;
                if (q->task == t) {
                        log_debug("Task %s ended: forgetting its request %s.", t->id, q->id);
                        request_free(q);
                }
        }
}

void agent_requests_fail_all(Agent *a, const char *why) {
        /* One at a time from the head: a handler may end tasks, and so free other requests. */
        while (a->requests) {
                AgentRequest *q = a->requests;
                AgentTask *t = q->task;
                void *userdata = q->userdata;
                char id[AGENT_REQUEST_ID_MAX + 1];

                memcpy(id, q->id, sizeof(id));
                if (q->kind == AGENT_REQUEST_EXEC) {
                        AgentExecHandler h = q->exec_handler;
                        AgentExecResult result = {.request_id = id, .error = why};

                        request_free(q);
                        h(t, &result, userdata);
                } else {
                        AgentActionHandler h = q->action_handler;
                        AgentActionResult result = {.request_id = id,
                                                    .status = AGENT_ACTION_FAILED,
                                                    .message = why,
                                                    .consent_id = ""};

                        request_free(q);
                        h(t, &result, userdata);
                }
        }
}

void agent_requests_free(Agent *a) {
        while (a->requests)
                request_free(a->requests);
}

/* ---- typed parameters ---- */

AgentBootstrapParams *agent_bootstrap_params_free(AgentBootstrapParams *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_options; i++) {
                free(p->options[i].key);
                free(p->options[i].value);
        }
        free(p->options);
        free(p->stack);
        free(p->project_name);
        return mfree(p);
}

static int refuse(const char **ret_reason, const char *reason) {
        *ret_reason = reason;
        return -EINVAL;
}

static bool text_within(const char *s, size_t min, size_t max) {
        size_t n = strlen(strempty(s));

        return n >= min && n <= max && utf8_is_valid_n(strempty(s), n);
}

int agent_bootstrap_params_copy(const Troupe__V1__BootstrapParams *p, AgentBootstrapParams **ret,
                                const char **ret_reason) {
        _cleanup_(agent_bootstrap_params_freep) AgentBootstrapParams *c = NULL;

        if (!text_within(p->stack, 1, BOOTSTRAP_NAME_MAX))
                return refuse(ret_reason, "bootstrap.stack: 1 to 64 bytes of UTF-8");
        if (!text_within(p->project_name, 1, BOOTSTRAP_NAME_MAX))
                return refuse(ret_reason, "bootstrap.project_name: 1 to 64 bytes of UTF-8");
        if (p->n_options > BOOTSTRAP_OPTIONS_MAX)
                return refuse(ret_reason, "bootstrap.options: at most 64 entries");
        for (size_t i = 0; i < p->n_options; i++)
                if (!text_within(p->options[i]->key, 1, BOOTSTRAP_NAME_MAX) ||
                    !text_within(p->options[i]->value, 0, BOOTSTRAP_VALUE_MAX))
                        return refuse(
                                ret_reason,
                                "bootstrap.options: keys of 1 to 64 bytes, values of at most 1 KiB, UTF-8");

        c = calloc(1, sizeof(AgentBootstrapParams));
        if (!c)
                return -ENOMEM;
        c->stack = strdup(p->stack);
        c->project_name = strdup(p->project_name);
        c->options = calloc(p->n_options + 1, sizeof(AgentBootstrapOption));
        if (!c->stack || !c->project_name || !c->options)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_options; i++) {
                c->options[i].key = strdup(p->options[i]->key);
                c->options[i].value = strdup(strempty(p->options[i]->value));
                c->n_options++;
                if (!c->options[i].key || !c->options[i].value)
                        return -ENOMEM;
        }
        c->force = p->force;
        c->open = p->open;
        *ret = TAKE_PTR(c);
        return 0;
}

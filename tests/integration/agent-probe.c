/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agent-probe: a scriptable agent for the registry's integration tests. It speaks the agent protocol
 * through lib/ipc (well-behaved, or on purpose not) and prints one line per thing that happens, so a
 * test can wait for and assert on them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bus/bus-util.h"
#include "ipc/connection.h"
#include "ipc/envelope.h"
#include "ipc/socket.h"
#include "json/json-util.h"
#include "paths/paths.h"

typedef struct ProbeTask ProbeTask;
typedef struct Probe Probe;

struct ProbeTask {
        Probe *probe;
        char *id;
        char *params;
        unsigned delay_ms;
        unsigned events;
        bool fail;
        bool hold; /* until SIGUSR1 */
        bool bogus; /* first send what the registry must refuse */
        bool bad_result; /* a result_json that is not JSON */
        /* {"action": NAME, "action_args": [...]}: an ActionRequest sent once the task is accepted,
         * with the token StartTask brought. */
        char *action;
        char **action_args;
        void *token;
        size_t token_size;
        /* {"exec": [ARGV...], "exec_cwd": S, "exec_env": [...], "exec_timeout_ms": N}: an ExecRequest
         * sent once the task is accepted (or on SIGUSR2 with "exec_on_signal": true); with
         * "exec_finish": true the task completes when its ExecResult arrives, with it as the result.
         * To test refusals: "exec_task": ID claims another task, "token_hex": HEX replaces the token
         * (for the action too), "tamper": "flip" flips one bit in the middle of it. */
        char **exec_argv;
        char **exec_env;
        char *exec_cwd;
        char *exec_task;
        char *token_hex;
        char *tamper;
        unsigned exec_timeout_ms;
        unsigned exec_count; /* "exec_count": N sends N identical requests at once (default 1) */
        unsigned exec_sent;
        bool exec_on_signal;
        bool exec_finish;
        sd_event_source *timer;
        ProbeTask *next;
};

struct Probe {
        sd_event *event;
        IpcConnection *conn;
        const char *socket_path;
        const char *name;
        const char *version;
        char *card_json;
        char **claims;
        usec_t interval;
        bool interval_forced;
        int heartbeats; /* -1: forever */
        int silent_after; /* stop heartbeating after this many (connection stays); -1: never */
        unsigned sent;
        bool registered;
        bool accept, reject, hold, ignore_cancel, reconnect, stopping, send_exec, fork_fd;
        int inherited_fd; /* a connection opened by our parent (as the supervisor does); -1: none */
        unsigned delay_ms;
        ProbeTask *tasks;
        sd_event_source *heartbeat_timer, *retry_timer;
};

static int probe_connect(Probe *p);

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
}

static int probe_send(Probe *p, IpcEnvelope *e) {
        int r;

        if (!p->conn || !ipc_connection_is_open(p->conn))
                return -ENOTCONN;
        r = ipc_connection_send(p->conn, e);
        if (r < 0)
                say("send-failed %s", strerror(-r));
        return r;
}

static int probe_send_register(Probe *p) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__Register reg = TROUPE__V1__REGISTER__INIT;
        _cleanup_strv_free_ char **running = NULL;

        running = strv_copy(p->claims);
        if (!running)
                return -ENOMEM;
        for (ProbeTask *t = p->tasks; t; t = t->next)
                if (!strv_contains(running, t->id) && strv_extend(&running, t->id) < 0)
                        return -ENOMEM;

        reg.name = (char *) p->name;
        reg.version = (char *) p->version;
        reg.pid = (uint32_t) getpid();
        reg.card_json = p->card_json;
        reg.n_current_task_ids = strv_length(running);
        reg.current_task_ids = running;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_REGISTER;
        e.register_ = &reg;
        return probe_send(p, &e);
}

static int probe_send_heartbeat(Probe *p, bool stopping) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__Heartbeat hb = TROUPE__V1__HEARTBEAT__INIT;
        char *ids[64];
        size_t n = 0;

        for (ProbeTask *t = p->tasks; t && n < ELEMENTSOF(ids); t = t->next)
                ids[n++] = t->id;
        hb.monotonic_usec = now_usec(CLOCK_MONOTONIC);
        hb.n_current_task_ids = n;
        hb.current_task_ids = ids;
        hb.stopping = stopping;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        return probe_send(p, &e);
}

static ProbeTask *probe_task_free(ProbeTask *t) {
        if (!t)
                return NULL;
        for (ProbeTask **i = &t->probe->tasks; *i; i = &(*i)->next)
                if (*i == t) {
                        *i = t->next;
                        break;
                }
        sd_event_source_disable_unref(t->timer);
        free(t->id);
        free(t->params);
        free(t->action);
        strv_free(t->action_args);
        free(t->token);
        strv_free(t->exec_argv);
        strv_free(t->exec_env);
        free(t->exec_cwd);
        free(t->exec_task);
        free(t->token_hex);
        free(t->tamper);
        return mfree(t);
}

static ProbeTask *probe_task_find(Probe *p, const char *id) {
        for (ProbeTask *t = p->tasks; t; t = t->next)
                if (streq(t->id, id))
                        return t;
        return NULL;
}

static int send_task_event_log(Probe *p, const char *id, const char *text) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__TaskEvent ev = TROUPE__V1__TASK_EVENT__INIT;
        Troupe__V1__TaskEvent__LogLine line = TROUPE__V1__TASK_EVENT__LOG_LINE__INIT;

        line.stream = TROUPE__V1__TASK_EVENT__LOG_STREAM__LOG_STREAM_AGENT;
        line.text = (char *) text;
        ev.task_id = (char *) id;
        ev.event_case = TROUPE__V1__TASK_EVENT__EVENT_LOG;
        ev.log = &line;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_EVENT;
        e.task_event = &ev;
        return probe_send(p, &e);
}

static int send_task_progress(Probe *p, const char *id, double fraction, const char *message) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__TaskEvent ev = TROUPE__V1__TASK_EVENT__INIT;
        Troupe__V1__TaskEvent__Progress pr = TROUPE__V1__TASK_EVENT__PROGRESS__INIT;

        pr.fraction = fraction;
        pr.message = (char *) message;
        ev.task_id = (char *) id;
        ev.event_case = TROUPE__V1__TASK_EVENT__EVENT_PROGRESS;
        ev.progress = &pr;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_EVENT;
        e.task_event = &ev;
        return probe_send(p, &e);
}

static int send_task_result(Probe *p, const char *id, Troupe__V1__TaskState state, const char *result,
                            const char *error) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__TaskResult res = TROUPE__V1__TASK_RESULT__INIT;

        res.task_id = (char *) id;
        res.state = state;
        res.result_json = (char *) strempty(result);
        res.error = (char *) strempty(error);
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_RESULT;
        e.task_result = &res;
        return probe_send(p, &e);
}

static int send_task_accepted(Probe *p, const char *id, bool accepted, const char *reason) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__TaskAccepted acc = TROUPE__V1__TASK_ACCEPTED__INIT;

        acc.task_id = (char *) id;
        acc.accepted = accepted;
        acc.reason = (char *) strempty(reason);
        e.body_case = TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED;
        e.task_accepted = &acc;
        return probe_send(p, &e);
}

/* The task's work: `events` log lines, progress, then its params back as the result. */
static int on_task_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ProbeTask *t = userdata;
        Probe *p = t->probe;
        char line[64];

        if (!p->registered)
                /* The registry is away: finish once we are registered again. */
                return sd_event_source_set_time_relative(s, 50 * USEC_PER_MSEC) < 0
                               ? 0
                               : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);

        if (t->bogus) {
                (void) send_task_event_log(p, "ffffffffffffffff", "not my task");
                (void) send_task_progress(p, t->id, 2.0, "more than done");
                (void) send_task_accepted(p, t->id, true, NULL);
        }
        for (unsigned i = 0; i < t->events; i++) {
                (void) snprintf(line, sizeof(line), "line %u", i + 1);
                (void) send_task_event_log(p, t->id, line);
        }
        (void) send_task_progress(p, t->id, 1.0, "done");
        if (t->bad_result)
                (void) send_task_result(p, t->id, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED, "{oops",
                                        NULL);
        else if (t->fail)
                (void) send_task_result(p, t->id, TROUPE__V1__TASK_STATE__TASK_STATE_FAILED, NULL,
                                        "probe failed it");
        else
                (void) send_task_result(p, t->id, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED, t->params,
                                        NULL);
        say("task-done %s", t->id);
        probe_task_free(t);
        return 0;
}

static void task_read_params(ProbeTask *t) {
        _cleanup_json_ json_t *v = NULL;
        json_t *x;

        if (json_parse(t->params, strlen(t->params), 64 * 1024, 0, 0, &v, NULL) < 0 || !json_is_object(v))
                return;
        if ((x = json_object_get(v, "delay_ms")) && json_is_integer(x) && json_integer_value(x) >= 0)
                t->delay_ms = (unsigned) json_integer_value(x);
        if ((x = json_object_get(v, "events")) && json_is_integer(x) && json_integer_value(x) >= 0)
                t->events = (unsigned) MIN(json_integer_value(x), 100000);
        if ((x = json_object_get(v, "fail")) && json_is_true(x))
                t->fail = true;
        if ((x = json_object_get(v, "hold")) && json_is_true(x))
                t->hold = true;
        if ((x = json_object_get(v, "bogus")) && json_is_true(x))
                t->bogus = true;
        if ((x = json_object_get(v, "bad_result")) && json_is_true(x))
                t->bad_result = true;
        if ((x = json_object_get(v, "action")) && json_is_string(x))
                t->action = strdup(json_string_value(x));
        if ((x = json_object_get(v, "action_args")) && json_is_array(x)) {
                size_t i;
                json_t *a;

                json_array_foreach(x, i, a)
                        if (json_is_string(a))
                                (void) strv_extend(&t->action_args, json_string_value(a));
        }
}

static char **json_strv(json_t *x) {
        char **l = calloc(1, sizeof(char *));
        json_t *a;
        size_t i;

        if (!l)
                return NULL;
        json_array_foreach(x, i, a)
                if (json_is_string(a) && strv_extend(&l, json_string_value(a)) < 0)
                        return strv_free(l);
        return l;
}

static char *json_strdup(json_t *v, const char *key) {
        json_t *x = json_object_get(v, key);

        return json_is_string(x) ? strdup(json_string_value(x)) : NULL;
}

static void task_read_exec_params(ProbeTask *t) {
        _cleanup_json_ json_t *v = NULL;
        json_t *x;

        if (json_parse(t->params, strlen(t->params), 64 * 1024, 0, 0, &v, NULL) < 0 || !json_is_object(v))
                return;
        if ((x = json_object_get(v, "exec")) && json_is_array(x))
                t->exec_argv = json_strv(x);
        if ((x = json_object_get(v, "exec_env")) && json_is_array(x))
                t->exec_env = json_strv(x);
        t->exec_cwd = json_strdup(v, "exec_cwd");
        t->exec_task = json_strdup(v, "exec_task");
        t->token_hex = json_strdup(v, "token_hex");
        t->tamper = json_strdup(v, "tamper");
        if ((x = json_object_get(v, "exec_timeout_ms")) && json_is_integer(x) && json_integer_value(x) >= 0)
                t->exec_timeout_ms = (unsigned) json_integer_value(x);
        t->exec_count = 1;
        if ((x = json_object_get(v, "exec_count")) && json_is_integer(x) && json_integer_value(x) > 0)
                t->exec_count = (unsigned) MIN(json_integer_value(x), 1000);
        t->exec_on_signal = json_is_true(json_object_get(v, "exec_on_signal"));
        t->exec_finish = json_is_true(json_object_get(v, "exec_finish"));
}

static char *hex_encode(const uint8_t *p, size_t n) {
        char *s = malloc(n * 2 + 1);

        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++)
                (void) snprintf(s + 2 * i, 3, "%02x", p[i]);
        s[n * 2] = '\0';
        return s;
}

/* Prints the token (hex, and its expiry from the public layout of docs/tokens.md, so a test can wait
 * for it to pass), then applies "token_hex" and "tamper". */
static int task_token_setup(ProbeTask *t) {
        _cleanup_free_ char *hex = hex_encode(t->token, t->token_size);
        const uint8_t *b = t->token;
        uint64_t expires = 0;

        if (!hex)
                return -ENOMEM;
        for (size_t i = 34; i < 42 && t->token_size >= 42; i++)
                expires = expires << 8 | b[i];
        say("token %s %s %" PRIu64, t->id, hex, expires);

        if (t->token_hex) {
                size_t n = strlen(t->token_hex) / 2;
                uint8_t *d = malloc(n + 1);

                if (!d)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        unsigned x;

                        if (sscanf(t->token_hex + 2 * i, "%2x", &x) != 1)
                                x = 0;
                        d[i] = (uint8_t) x;
                }
                free(t->token);
                t->token = d;
                t->token_size = n;
        }
        if (streq_ptr(t->tamper, "flip") && t->token_size > 0)
                ((uint8_t *) t->token)[t->token_size / 2] ^= 0x01;
        return 0;
}

/* The task's ExecRequest; its request_id is "x-<task id>-<n>". */
static int send_task_exec(Probe *p, ProbeTask *t) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__ExecRequest ex = TROUPE__V1__EXEC_REQUEST__INIT;
        char request_id[64];

        (void) snprintf(request_id, sizeof(request_id), "x-%s-%u", t->id, ++t->exec_sent);
        ex.request_id = request_id;
        ex.task_id = t->exec_task ?: t->id;
        ex.token.data = t->token;
        ex.token.len = t->token_size;
        ex.n_argv = strv_length(t->exec_argv);
        ex.argv = t->exec_argv;
        ex.n_env = strv_length(t->exec_env);
        ex.env = t->exec_env;
        ex.cwd = t->exec_cwd ?: (char *) "";
        ex.timeout_ms = t->exec_timeout_ms;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST;
        e.exec_request = &ex;
        say("exec-sent %s %s", request_id, t->exec_argv[0]);
        return probe_send(p, &e);
}

/* One line: "exec-result REQUEST exit=N|signal=N|none truncated=0|1 duration_ms=N output=ESCAPED
 * error=TEXT", the output with \n for newlines and \\ for backslashes. */
static void handle_exec_result(Probe *p, const Troupe__V1__ExecResult *res) {
        _cleanup_free_ char *out = malloc(res->stdout_tail.len * 2 + 1);
        char term[32] = "none";
        size_t n = 0;

        if (!out)
                return;
        for (size_t i = 0; i < res->stdout_tail.len; i++) {
                char ch = (char) res->stdout_tail.data[i];

                if (ch == '\n' || ch == '\\') {
                        out[n++] = '\\';
                        ch = ch == '\n' ? 'n' : '\\';
                }
                out[n++] = ch == '\0' ? '.' : ch;
        }
        out[n] = '\0';
        if (res->termination_case == TROUPE__V1__EXEC_RESULT__TERMINATION_EXIT_CODE)
                (void) snprintf(term, sizeof(term), "exit=%d", res->exit_code);
        else if (res->termination_case == TROUPE__V1__EXEC_RESULT__TERMINATION_SIGNAL)
                (void) snprintf(term, sizeof(term), "signal=%d", res->signal);
        say("exec-result %s %s truncated=%d duration_ms=%" PRIu64 " output=%s error=%s", res->request_id, term,
            res->stdout_truncated, res->duration_usec / 1000, out, res->error);

        for (ProbeTask *t = p->tasks; t; t = t->next) {
                char prefix[80];

                (void) snprintf(prefix, sizeof(prefix), "x-%s-", t->id);
                if (!t->exec_finish || !startswith(strempty(res->request_id), prefix))
                        continue;
                (void) send_task_result(p, t->id, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED, "{}", NULL);
                say("task-done %s", t->id);
                probe_task_free(t);
                break;
        }
}

/* The task's ActionRequest; its request_id is "act-<task id>". */
static int send_task_action(Probe *p, ProbeTask *t) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__ActionRequest ar = TROUPE__V1__ACTION_REQUEST__INIT;
        char request_id[64];

        (void) snprintf(request_id, sizeof(request_id), "act-%s", t->id);
        ar.request_id = request_id;
        ar.task_id = t->id;
        ar.token.data = t->token;
        ar.token.len = t->token_size;
        ar.action = t->action;
        ar.n_args = strv_length(t->action_args);
        ar.args = t->action_args;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST;
        e.action_request = &ar;
        say("action-sent %s %s", request_id, t->action);
        return probe_send(p, &e);
}

static void handle_action_result(const Troupe__V1__ActionResult *res) {
        static const char *const status[] = {"unspecified", "done", "denied", "consent-pending", "failed"};

        say("action-result %s %s %s %s", res->request_id,
            res->status >= 0 && (size_t) res->status < ELEMENTSOF(status) ? status[res->status] : "unknown",
            isempty(res->consent_id) ? "-" : res->consent_id, res->message);
}

static int handle_start_task(Probe *p, const Troupe__V1__StartTask *st) {
        ProbeTask *t;
        int r;

        say("start-task %s %s %s", st->task_id, st->workspace, st->params_json);
        if (st->typed_params_case == TROUPE__V1__START_TASK__TYPED_PARAMS_BOOTSTRAP) {
                const Troupe__V1__BootstrapParams *b = st->bootstrap;

                printf("bootstrap %s stack=%s project_name=%s force=%d open=%d options=", st->task_id,
                       b->stack, b->project_name, (int) b->force, (int) b->open);
                for (size_t i = 0; i < b->n_options; i++)
                        printf("%s%s=%s", i ? "," : "", b->options[i]->key, b->options[i]->value);
                say("%s", "");
        }
        if (p->reject)
                return send_task_accepted(p, st->task_id, false, "probe rejects every task");
        if (!p->accept)
                return 0;

        t = calloc(1, sizeof(ProbeTask));
        if (!t)
                return -ENOMEM;
        t->probe = p;
        t->id = strdup(st->task_id);
        t->params = strdup(isempty(st->params_json) ? "{}" : st->params_json);
        t->delay_ms = p->delay_ms;
        t->next = p->tasks;
        p->tasks = t;
        if (!t->id || !t->params)
                return -ENOMEM;
        task_read_params(t);
        if (st->capability_token.len > 0) {
                t->token = malloc(st->capability_token.len);
                if (!t->token)
                        return -ENOMEM;
                memcpy(t->token, st->capability_token.data, st->capability_token.len);
                t->token_size = st->capability_token.len;
        }
        task_read_exec_params(t);
        r = task_token_setup(t);
        if (r < 0)
                return r;

        r = send_task_accepted(p, t->id, true, NULL);
        if (r < 0)
                return r;
        (void) send_task_progress(p, t->id, 0.25, "started");
        if (t->action)
                (void) send_task_action(p, t);
        for (unsigned i = 0; t->exec_argv && t->exec_argv[0] && !t->exec_on_signal && i < t->exec_count; i++)
                (void) send_task_exec(p, t);
        if (p->hold || t->hold || t->exec_finish)
                return 0;
        return sd_event_add_time_relative(p->event, &t->timer, CLOCK_MONOTONIC, t->delay_ms * USEC_PER_MSEC,
                                          0, on_task_timer, t);
}

static int handle_cancel_task(Probe *p, const Troupe__V1__CancelTask *ct) {
        ProbeTask *t = probe_task_find(p, ct->task_id);

        say("cancel-task %s %s", ct->task_id, ct->reason);
        if (p->ignore_cancel || !t)
                return 0;
        (void) send_task_result(p, t->id, TROUPE__V1__TASK_STATE__TASK_STATE_CANCELED, NULL, ct->reason);
        probe_task_free(t);
        return 0;
}

static int on_heartbeat(sd_event_source *s, uint64_t usec, void *userdata) {
        Probe *p = userdata;

        if (p->heartbeats >= 0 && p->sent >= (unsigned) p->heartbeats) {
                say("heartbeats-done %u", p->sent);
                if (p->stopping)
                        (void) probe_send_heartbeat(p, true);
                (void) ipc_connection_close(p->conn, 0);
                return 0;
        }
        if (p->silent_after >= 0 && p->sent >= (unsigned) p->silent_after) {
                say("silent");
                return 0;
        }
        (void) probe_send_heartbeat(p, false);
        p->sent++;
        (void) sd_event_source_set_time_relative(s, p->interval);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* What an agent asks of the suite, without a token and for a task it does not have: refused. */
static int send_exec_and_action(Probe *p) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT, e2 = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__ExecRequest ex = TROUPE__V1__EXEC_REQUEST__INIT;
        Troupe__V1__ActionRequest ac = TROUPE__V1__ACTION_REQUEST__INIT;
        char *argv[] = {(char *) "/bin/true"};

        ex.request_id = (char *) "x1";
        ex.task_id = (char *) "0000000000000000";
        ex.n_argv = 1;
        ex.argv = argv;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST;
        e.exec_request = &ex;
        (void) probe_send(p, &e);

        ac.request_id = (char *) "a1";
        ac.task_id = (char *) "0000000000000000";
        ac.action = (char *) "exec.editor";
        e2.body_case = TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST;
        e2.action_request = &ac;
        return probe_send(p, &e2);
}

static int handle_register_reply(Probe *p, const Troupe__V1__RegisterReply *reply) {
        if (!reply->accepted) {
                say("refused %s", reply->error);
                return 0;
        }
        if (!p->interval_forced)
                p->interval = (reply->heartbeat_interval_ms ?: 1000) * USEC_PER_MSEC;
        p->registered = true;
        say("registered interval_ms=%" PRIu32, reply->heartbeat_interval_ms);
        if (p->send_exec)
                (void) send_exec_and_action(p);

        p->heartbeat_timer = sd_event_source_disable_unref(p->heartbeat_timer);
        /* The first heartbeat at once: it makes the agent healthy. */
        return sd_event_add_time_relative(p->event, &p->heartbeat_timer, CLOCK_MONOTONIC, 0, 0, on_heartbeat,
                                          p);
}

static int on_message(IpcConnection *c, const IpcEnvelope *e, int *fds, size_t n_fds, void *userdata) {
        Probe *p = userdata;

        switch (e->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY:
                return handle_register_reply(p, e->register_reply);
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
                return 0;
        case TROUPE__V1__ENVELOPE__BODY_START_TASK:
                return handle_start_task(p, e->start_task);
        case TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK:
                return handle_cancel_task(p, e->cancel_task);
        case TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT:
                handle_action_result(e->action_result);
                return 0;
        case TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT:
                handle_exec_result(p, e->exec_result);
                return 0;
        case TROUPE__V1__ENVELOPE__BODY_ERROR:
                say("error %s %s", strna(ipc_error_code_to_string(e->error->code)), e->error->message);
                return 0;
        default:
                say("unexpected %s", strna(envelope_body_to_string(e->body_case)));
                return 0;
        }
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Probe *p = userdata;

        if (probe_connect(p) < 0) {
                (void) sd_event_source_set_time_relative(s, 100 * USEC_PER_MSEC);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        say("reconnected");
        return 0;
}

static void schedule_retry(Probe *p) {
        if (!p->retry_timer)
                (void) sd_event_add_time_relative(p->event, &p->retry_timer, CLOCK_MONOTONIC,
                                                  100 * USEC_PER_MSEC, 0, on_retry, p);
        else {
                (void) sd_event_source_set_time_relative(p->retry_timer, 100 * USEC_PER_MSEC);
                (void) sd_event_source_set_enabled(p->retry_timer, SD_EVENT_ONESHOT);
        }
}

static void on_disconnect(IpcConnection *c, int reason, void *userdata) {
        Probe *p = userdata;

        say("disconnected %s", strerror(-reason));
        p->registered = false;
        p->heartbeat_timer = sd_event_source_disable_unref(p->heartbeat_timer);
        p->conn = ipc_connection_unref(p->conn);
        if (!p->reconnect) {
                (void) sd_event_exit(p->event, 0);
                return;
        }
        schedule_retry(p);
}

static int probe_connect(Probe *p) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (p->inherited_fd >= 0) {
                fd = p->inherited_fd;
                p->inherited_fd = -EBADF;
        } else
                fd = ipc_socket_connect(p->socket_path);
        if (fd < 0)
                return fd;
        r = ipc_connection_new(p->event, fd, &p->conn);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        ipc_connection_set_handlers(p->conn, on_message, on_disconnect, p);
        /* A task may send thousands of log lines in one go; the registry reads them in turn. */
        r = ipc_connection_set_queue_limits(p->conn, 65536, 64U * 1024U * 1024U);
        if (r < 0)
                return r;
        return probe_send_register(p);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Probe *p = userdata;

        say("stopping");
        p->reconnect = false;
        if (p->conn && ipc_connection_is_open(p->conn)) {
                /* Tell the registry this is on purpose; the close delivers it first. */
                (void) probe_send_heartbeat(p, true);
                (void) ipc_connection_close(p->conn, 0);
        } else
                (void) sd_event_exit(p->event, 0);
        return 0;
}

/* SIGUSR1 finishes the tasks held with {"hold": true} (or --hold-tasks). */
static int on_sigusr1(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Probe *p = userdata;

        say("release");
        for (ProbeTask *t = p->tasks; t; t = t->next)
                if (!t->timer)
                        (void) sd_event_add_time_relative(p->event, &t->timer, CLOCK_MONOTONIC, 0, 0,
                                                          on_task_timer, t);
        return 0;
}

/* SIGUSR2 sends the ExecRequests held with {"exec_on_signal": true}. */
static int on_sigusr2(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Probe *p = userdata;

        say("exec-now");
        for (ProbeTask *t = p->tasks; t; t = t->next)
                if (t->exec_on_signal && t->exec_argv && t->exec_argv[0])
                        (void) send_task_exec(p, t);
        return 0;
}

static void probe_done(Probe *p) {
        while (p->tasks)
                probe_task_free(p->tasks);
        p->heartbeat_timer = sd_event_source_disable_unref(p->heartbeat_timer);
        p->retry_timer = sd_event_source_disable_unref(p->retry_timer);
        p->conn = ipc_connection_unref(p->conn);
        p->event = sd_event_unref(p->event);
        free(p->card_json);
        strv_free(p->claims);
}

/* --fork-fd: connect here and run the agent in a child that inherits the connection, the way the
 * supervisor starts agents (TROUPE_AGENT_FD). The parent only waits. */
static int fork_with_connection(Probe *p) {
        int fd, status;
        pid_t pid;

        fd = ipc_socket_connect(p->socket_path);
        if (fd < 0)
                return fd;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                p->inherited_fd = fd;
                say("pid %i", (int) getpid());
                return 0;
        }
        safe_close(fd);
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static int run_agent(Probe *p) {
        sigset_t mask;
        int r;

        if (p->fork_fd) {
                r = fork_with_connection(p);
                if (r < 0)
                        return r;
        }

        r = sd_event_default(&p->event);
        if (r < 0)
                return r;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGUSR2);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) sd_event_add_signal(p->event, NULL, SIGTERM, on_sigterm, p);
        (void) sd_event_add_signal(p->event, NULL, SIGINT, on_sigterm, p);
        (void) sd_event_add_signal(p->event, NULL, SIGUSR1, on_sigusr1, p);
        (void) sd_event_add_signal(p->event, NULL, SIGUSR2, on_sigusr2, p);

        r = probe_connect(p);
        if (r < 0 && !p->reconnect) {
                say("connect-failed %s", strerror(-r));
                return r;
        }
        if (r < 0) {
                p->conn = ipc_connection_unref(p->conn);
                schedule_retry(p);
        }
        return sd_event_loop(p->event);
}

/* ---- raw modes: bytes the registry must refuse ---- */

/* Waits for what the registry answers: prints "error CODE" for an Error and "closed" at hang-up. */
static int raw_expect(int fd) {
        bool got_error = false;

        for (;;) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                IpcPacket pk = {};
                int r;

                r = poll(&pfd, 1, 15000);
                if (r <= 0) {
                        say("timeout");
                        return 1;
                }
                r = ipc_recv_packet(fd, IPC_MESSAGE_SIZE_MAX, 0, &pk);
                if (r == 0 || r == -ECONNRESET) {
                        say("closed");
                        return got_error ? 0 : 1;
                }
                if (r < 0) {
                        say("recv-failed %s", strerror(-r));
                        return 1;
                }
                _cleanup_(envelope_freep) IpcEnvelope *e = NULL;
                r = envelope_unpack(pk.data, pk.size, &e);
                ipc_packet_done(&pk);
                if (r >= 0 && e->body_case == TROUPE__V1__ENVELOPE__BODY_ERROR) {
                        say("error %s", strna(ipc_error_code_to_string(e->error->code)));
                        got_error = true;
                } else
                        say("reply %s",
                            r >= 0 ? strna(envelope_body_to_string(e->body_case)) : "undecodable");
        }
}

static int raw_send(int fd, const void *data, size_t size) {
        if (send(fd, data, size, MSG_NOSIGNAL) < 0) {
                say("send-failed %s", strerror(errno));
                return -errno;
        }
        return 0;
}

static int run_raw(const char *socket_path, const char *mode) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        int r;

        fd = ipc_socket_connect(socket_path);
        if (fd < 0) {
                say("connect-failed %s", strerror(-fd));
                return 1;
        }

        if (streq(mode, "garbage")) {
                size = 64 + (size_t) (random() % 1024);
                buf = malloc(size);
                if (!buf || getrandom(buf, size, 0) != (ssize_t) size)
                        return 1;
                /* Make sure it is no valid Envelope: field 0 is never valid protobuf. */
                buf[0] = 0x00;
        } else if (streq(mode, "oversized")) {
                size = IPC_MESSAGE_SIZE_MAX + 4096;
                buf = calloc(1, size);
                if (!buf)
                        return 1;
                memset(buf, 0x08, size);
        } else if (streq(mode, "truncated")) {
                IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
                Troupe__V1__Register reg = TROUPE__V1__REGISTER__INIT;

                reg.name = (char *) "truncated";
                reg.version = (char *) "1";
                reg.card_json =
                        (char *) "{\"name\":\"truncated\",\"description\":\"a card that is cut short\"}";
                e.version = IPC_PROTOCOL_VERSION;
                e.seq = 1;
                e.body_case = TROUPE__V1__ENVELOPE__BODY_REGISTER;
                e.register_ = &reg;
                r = envelope_pack(&e, &buf, &size);
                if (r < 0)
                        return 1;
                size -= 10;
        } else if (streq(mode, "wrong-version")) {
                static const uint8_t pkt[] = {0x08, 0x02, 0x10, 0x01, 0x62, 0x00};
                buf = malloc(sizeof(pkt));
                if (!buf)
                        return 1;
                memcpy(buf, pkt, sizeof(pkt));
                size = sizeof(pkt);
        } else if (streq(mode, "unknown-body")) {
                /* Field 99, length-delimited and empty: a body case nobody knows. */
                static const uint8_t pkt[] = {0x08, 0x01, 0x10, 0x01, 0x9a, 0x06, 0x00};
                buf = malloc(sizeof(pkt));
                if (!buf)
                        return 1;
                memcpy(buf, pkt, sizeof(pkt));
                size = sizeof(pkt);
        } else if (streq(mode, "before-register")) {
                /* A heartbeat (field 12, empty) as the first packet. */
                static const uint8_t pkt[] = {0x08, 0x01, 0x10, 0x01, 0x62, 0x00};
                buf = malloc(sizeof(pkt));
                if (!buf)
                        return 1;
                memcpy(buf, pkt, sizeof(pkt));
                size = sizeof(pkt);
        } else {
                say("unknown mode %s", mode);
                return 2;
        }

        if (raw_send(fd, buf, size) < 0)
                return 1;
        return raw_expect(fd);
}

static unsigned count_closed(int *fds, unsigned n) {
        unsigned closed = 0;

        for (unsigned i = 0; i < n; i++) {
                struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
                char b[4096];

                /* The registry's last word (an Error) may come first; the hang-up reads as 0. */
                while (fds[i] >= 0 && poll(&pfd, 1, 0) > 0) {
                        ssize_t k = recv(fds[i], b, sizeof(b), MSG_DONTWAIT);
                        if (k <= 0) {
                                fds[i] = safe_close(fds[i]);
                                break;
                        }
                }
                if (fds[i] < 0)
                        closed++;
        }
        return closed;
}

/* Opens n connections and holds them without a word. Prints how many the registry had closed after
 * early_ms, then after at most hold_sec how many it closed in all. */
static int run_idle(const char *socket_path, unsigned n, unsigned hold_sec, unsigned early_ms) {
        _cleanup_free_ int *fds = NULL;
        unsigned opened = 0, closed = 0;
        struct rlimit rl;
        usec_t start, end;

        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        fds = calloc(n, sizeof(int));
        if (!fds)
                return 1;
        for (unsigned i = 0; i < n; i++) {
                fds[i] = ipc_socket_connect(socket_path);
                if (fds[i] < 0) {
                        say("connect-failed %s", strerror(-fds[i]));
                        break;
                }
                opened++;
        }
        say("opened %u", opened);

        start = now_usec(CLOCK_MONOTONIC);
        if (early_ms > 0) {
                usleep(early_ms * 1000);
                say("closed-early %u", count_closed(fds, opened));
        }
        end = start + hold_sec * USEC_PER_SEC;
        while (now_usec(CLOCK_MONOTONIC) < end && closed < opened) {
                closed = count_closed(fds, opened);
                usleep(50 * 1000);
        }
        say("closed %u", closed);
        for (unsigned i = 0; i < opened; i++)
                safe_close(fds[i]);
        return 0;
}

/* ---- bus client modes: what busctl cannot do (error names, reading an OpenEvents fd) ---- */

static int print_bus_error(const sd_bus_error *error, int r) {
        say("error %s: %s", error->name ?: "errno", error->message ?: strerror(-r));
        return 1;
}

/* create-task AGENT [--params JSON] [--prompt S] [--workspace W] [--reuse] [--replace] [--unknown-key]
 *             [--params-int]: prints "ok ID PATH" or "error NAME: MESSAGE". */
static int run_create_task(int argc, char *argv[]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const char *id, *path;
        int r;

        if (argc < 2)
                return 2;
        r = bus_open(&bus);
        if (r < 0)
                return say("bus-failed %s", strerror(-r)), 1;
        r = sd_bus_message_new_method_call(bus, &m, "org.troupe.Registry1", "/org/troupe/Registry1",
                                           "org.troupe.Registry1.Manager", "CreateTask");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", argv[1]);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (int i = 2; r >= 0 && i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

                if (streq(a, "--params") || streq(a, "--prompt") || streq(a, "--workspace")) {
                        r = sd_bus_message_append(m, "{sv}", a + 2, "s", v);
                        i++;
                } else if (streq(a, "--reuse"))
                        r = sd_bus_message_append(m, "{sv}", "reuse_workspace", "b", 1);
                else if (streq(a, "--replace"))
                        r = sd_bus_message_append(m, "{sv}", "replace_workspace", "b", 1);
                else if (streq(a, "--unknown-key"))
                        r = sd_bus_message_append(m, "{sv}", "bogus", "s", "x");
                else if (streq(a, "--params-int"))
                        r = sd_bus_message_append(m, "{sv}", "params", "i", 42);
                else
                        return say("unknown option %s", a), 2;
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return say("build-failed %s", strerror(-r)), 1;

        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return print_bus_error(&error, r);
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return 1;
        say("ok %s %s", id, path);
        return 0;
}

/* manager METHOD [ARGS...]: calls a Manager method with string arguments only (CancelTask,
 * AnswerConsent), printing "ok" or "error NAME: MESSAGE". */
static int run_manager_call(int argc, char *argv[]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (argc < 2)
                return 2;
        r = bus_open(&bus);
        if (r < 0)
                return 1;
        r = sd_bus_message_new_method_call(bus, &m, "org.troupe.Registry1", "/org/troupe/Registry1",
                                           "org.troupe.Registry1.Manager", argv[1]);
        for (int i = 2; r >= 0 && i < argc; i++)
                r = sd_bus_message_append(m, "s", argv[i]);
        if (r < 0)
                return 1;
        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                return print_bus_error(&error, r);
        say("ok");
        return 0;
}

/* events ID [AFTER_SEQ] [--max N] [--stall-ms N]: copies the task's event stream to stdout until
 * EOF (or N lines). --stall-ms waits before reading anything, so that the registry finds the pipe
 * full. */
static int run_events(int argc, char *argv[]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long after = 0;
        long max = -1, stall_ms = 0, lines = 0;
        char buf[128 * 1024];
        int fd, r;

        if (argc < 2)
                return 2;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--max") && i + 1 < argc)
                        max = atol(argv[++i]);
                else if (streq(argv[i], "--stall-ms") && i + 1 < argc)
                        stall_ms = atol(argv[++i]);
                else
                        after = strtoull(argv[i], NULL, 10);
        }

        r = bus_open(&bus);
        if (r < 0)
                return 1;
        r = sd_bus_path_encode("/org/troupe/Registry1/task", argv[1], &path);
        if (r < 0)
                return 1;
        r = sd_bus_call_method(bus, "org.troupe.Registry1", path, "org.troupe.Registry1.Task", "OpenEvents",
                               &error, &reply, "t", (uint64_t) after);
        if (r < 0)
                return print_bus_error(&error, r);
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return 1;
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return 1;
        if (stall_ms > 0)
                usleep((useconds_t) stall_ms * 1000);

        f = fdopen(fd, "r");
        if (!f)
                return 1;
        while ((max < 0 || lines < max) && fgets(buf, sizeof(buf), f)) {
                fputs(buf, stdout);
                lines++;
        }
        fflush(stdout);
        return 0;
}

static void help(void) {
        printf("agent-probe [--socket PATH] COMMAND ...\n\n"
               "  register NAME --card FILE [--version V] [--heartbeats N|--forever] [--silent-after N]\n"
               "           [--interval-ms MS] [--accept-tasks|--reject-tasks] [--hold-tasks] [--delay-ms "
               "MS]\n"
               "           [--ignore-cancel] [--reconnect] [--stopping] [--claim ID]... [--send-exec]\n"
               "           [--fork-fd]\n"
               "  garbage | oversized | truncated | wrong-version | unknown-body | before-register\n"
               "  idle N [SECONDS] [EARLY-MS]\n"
               "  create-task AGENT [--params JSON] [--prompt S] [--workspace W] [--reuse] [--replace] "
               "[--unknown-key] "
               "[--params-int]\n"
               "  manager METHOD [STRING-ARGS...]\n"
               "  events TASK-ID [AFTER-SEQ] [--max N] [--stall-ms N]\n");
}

static int parse_register(Probe *p, int argc, char *argv[]) {
        enum {
                A_CARD = 0x100,
                A_VERSION,
                A_HEARTBEATS,
                A_FOREVER,
                A_SILENT,
                A_INTERVAL,
                A_ACCEPT,
                A_REJECT,
                A_HOLD,
                A_DELAY,
                A_IGNORE_CANCEL,
                A_RECONNECT,
                A_STOPPING,
                A_CLAIM,
                A_SEND_EXEC,
                A_FORK_FD,
        };
        static const struct option options[] = {
                {"card", required_argument, NULL, A_CARD},
                {"version", required_argument, NULL, A_VERSION},
                {"heartbeats", required_argument, NULL, A_HEARTBEATS},
                {"forever", no_argument, NULL, A_FOREVER},
                {"silent-after", required_argument, NULL, A_SILENT},
                {"interval-ms", required_argument, NULL, A_INTERVAL},
                {"accept-tasks", no_argument, NULL, A_ACCEPT},
                {"reject-tasks", no_argument, NULL, A_REJECT},
                {"hold-tasks", no_argument, NULL, A_HOLD},
                {"delay-ms", required_argument, NULL, A_DELAY},
                {"ignore-cancel", no_argument, NULL, A_IGNORE_CANCEL},
                {"reconnect", no_argument, NULL, A_RECONNECT},
                {"stopping", no_argument, NULL, A_STOPPING},
                {"claim", required_argument, NULL, A_CLAIM},
                {"send-exec", no_argument, NULL, A_SEND_EXEC},
                {"fork-fd", no_argument, NULL, A_FORK_FD},
                {},
        };
        const char *card = NULL;
        int opt;

        p->heartbeats = -1;
        p->silent_after = -1;
        p->inherited_fd = -EBADF;
        p->version = "1.0";
        optind = 1;
        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case A_CARD:
                        card = optarg;
                        break;
                case A_VERSION:
                        p->version = optarg;
                        break;
                case A_HEARTBEATS:
                        p->heartbeats = atoi(optarg);
                        break;
                case A_FOREVER:
                        p->heartbeats = -1;
                        break;
                case A_SILENT:
                        p->silent_after = atoi(optarg);
                        break;
                case A_INTERVAL:
                        p->interval = (usec_t) atoi(optarg) * USEC_PER_MSEC;
                        p->interval_forced = true;
                        break;
                case A_ACCEPT:
                        p->accept = true;
                        break;
                case A_REJECT:
                        p->reject = true;
                        break;
                case A_HOLD:
                        p->hold = true;
                        p->accept = true;
                        break;
                case A_DELAY:
                        p->delay_ms = (unsigned) atoi(optarg);
                        break;
                case A_IGNORE_CANCEL:
                        p->ignore_cancel = true;
                        break;
                case A_RECONNECT:
                        p->reconnect = true;
                        break;
                case A_STOPPING:
                        p->stopping = true;
                        break;
                case A_SEND_EXEC:
                        p->send_exec = true;
                        break;
                case A_FORK_FD:
                        p->fork_fd = true;
                        break;
                case A_CLAIM:
                        if (strv_extend(&p->claims, optarg) < 0)
                                return -ENOMEM;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind != argc - 1 || !card)
                return -EINVAL;
        p->name = argv[optind];
        if (read_full_file_at(AT_FDCWD, card, 64 * 1024, &p->card_json, NULL) < 0) {
                say("cannot read card %s", card);
                return -EINVAL;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *default_socket = NULL;
        const char *socket_path = getenv("TROUPE_AGENT_SOCKET");
        Probe p = {};
        int r;

        setvbuf(stdout, NULL, _IOLBF, 0);
        srandom((unsigned) getpid());
        if (argc > 2 && streq(argv[1], "--socket")) {
                socket_path = argv[2];
                argv += 2;
                argc -= 2;
        }
        if (isempty(socket_path)) {
                if (troupe_path_get(TROUPE_PATH_AGENT_SOCKET, &default_socket) < 0)
                        return 1;
                socket_path = default_socket;
        }
        if (argc < 2) {
                help();
                return 2;
        }

        if (streq(argv[1], "register")) {
                p.socket_path = socket_path;
                r = parse_register(&p, argc - 1, argv + 1);
                if (r < 0) {
                        help();
                        return 2;
                }
                r = run_agent(&p);
                probe_done(&p);
                return r < 0 ? 1 : 0;
        }
        if (streq(argv[1], "create-task"))
                return run_create_task(argc - 1, argv + 1);
        if (streq(argv[1], "manager"))
                return run_manager_call(argc - 1, argv + 1);
        if (streq(argv[1], "events"))
                return run_events(argc - 1, argv + 1);
        if (streq(argv[1], "idle"))
                return run_idle(socket_path, argc > 2 ? (unsigned) atoi(argv[2]) : 100,
                                argc > 3 ? (unsigned) atoi(argv[3]) : 3600,
                                argc > 4 ? (unsigned) atoi(argv[4]) : 0);
        return run_raw(socket_path, argv[1]);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent SDK against an in-process fake registry built from lib/ipc, on one event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent-sdk.h"
#include "agent/sdk-cards.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "check-main.h"
#include "ipc/connection.h"
#include "json/json-util.h"

#define FAKE_TASKS_MAX 8U
#define FAKE_HEARTBEATS_MAX 256U

static const char test_card[] =
        "{\"name\":\"sdktest\",\"description\":\"SDK test agent\",\"version\":\"1.2.3\","
        "\"skills\":[{\"id\":\"echo\",\"name\":\"Echo\",\"description\":\"echoes\"},"
        "{\"id\":\"other\",\"name\":\"Other\",\"description\":\"other\"}]}";

typedef struct FakeTask {
        char id[65];
        int accepted; /* -1: no answer yet */
        char reason[1025];
        unsigned n_working, n_progress, n_log, n_input_required;
        double progress;
        char logs[1024];
        int result_state; /* 0: none yet */
        char result_json[1024];
        char error[1025];
        unsigned result_connection;
} FakeTask;

typedef struct Fake {
        sd_event *event; /* the fake registry's loop */
        sd_event *agent_event; /* the agent's: two loops, as two processes would have */
        char *dir, *path;
        IpcServer *server;
        IpcConnection *connection;
        uint32_t interval_ms;
        bool refuse, no_ack;

        unsigned n_connections, n_registers, n_disconnects, n_errors;
        char name[65], version[65];
        size_t n_skills;
        bool card_parses;
        char register_task_ids[512]; /* comma-separated, of the last Register */

        unsigned n_heartbeats;
        usec_t heartbeat_usec[FAKE_HEARTBEATS_MAX];
        bool stopping_seen, stopping_after_results;
        char heartbeat_task_ids[512];

        FakeTask tasks[FAKE_TASKS_MAX];
        size_t n_tasks;

        /* The last ExecRequest and ActionRequest, and whether to answer them. */
        bool exec_silent;
        unsigned n_exec, n_action;
        char exec_request_id[65], exec_task[65], exec_token[64], exec_argv[256], exec_env[256], exec_cwd[64];
        uint32_t exec_timeout_ms;
        char action_token[64], action_name[129], action_args[256];
} Fake;

/* The test agent's own bookkeeping. */
typedef struct TestAgent {
        unsigned n_started, n_canceled;
        sd_event_source *timers[FAKE_TASKS_MAX];
        size_t n_timers;
} TestAgent;

static Fake fake;
static TestAgent ta;
static char *tmp;

static FakeTask *fake_task(const char *id) {
        for (size_t i = 0; i < fake.n_tasks; i++)
                if (streq(fake.tasks[i].id, id))
                        return &fake.tasks[i];
        ck_assert_uint_lt(fake.n_tasks, FAKE_TASKS_MAX);
        FakeTask *t = &fake.tasks[fake.n_tasks++];
        *t = (FakeTask) { .accepted = -1 };
        strscpy(t->id, sizeof(t->id), id);
        return t;
}

static void join_ids(char *buf, size_t size, char **ids, size_t n) {
        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strncat(buf, ",", size - strlen(buf) - 1);
                strncat(buf, ids[i], size - strlen(buf) - 1);
        }
}

static void fake_send(IpcEnvelope *e) {
        ck_assert_ptr_nonnull(fake.connection);
        ck_assert_int_eq(ipc_connection_send(fake.connection, e), 0);
}

static void fake_on_register(const Troupe__V1__Register *reg) {
        Troupe__V1__RegisterReply reply = TROUPE__V1__REGISTER_REPLY__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        _cleanup_(agent_card_freep) AgentCard *card = NULL;

        fake.n_registers++;
        strscpy(fake.name, sizeof(fake.name), reg->name);
        strscpy(fake.version, sizeof(fake.version), reg->version);
        fake.n_skills = reg->n_skills;
        fake.card_parses = agent_card_parse(reg->card_json, strlen(reg->card_json), &card, NULL) >= 0 &&
                           reg->pid == (uint32_t) getpid();
        join_ids(fake.register_task_ids, sizeof(fake.register_task_ids), reg->current_task_ids,
                 reg->n_current_task_ids);

        reply.accepted = !fake.refuse;
        reply.heartbeat_interval_ms = fake.interval_ms;
        reply.error = fake.refuse ? (char *) "refused by the test" : (char *) "";
        e.body_case = TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY;
        e.register_reply = &reply;
        fake_send(&e);
}

static bool any_result_missing(void) {
        for (size_t i = 0; i < fake.n_tasks; i++)
                if (fake.tasks[i].accepted == 1 && fake.tasks[i].result_state == 0)
                        return true;
        return false;
}

static void fake_on_heartbeat(const IpcEnvelope *in) {
        Troupe__V1__HeartbeatAck ack = TROUPE__V1__HEARTBEAT_ACK__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;

        if (fake.n_heartbeats < FAKE_HEARTBEATS_MAX)
                fake.heartbeat_usec[fake.n_heartbeats] = now_usec(CLOCK_MONOTONIC);
        fake.n_heartbeats++;
        join_ids(fake.heartbeat_task_ids, sizeof(fake.heartbeat_task_ids), in->heartbeat->current_task_ids,
                 in->heartbeat->n_current_task_ids);
        if (in->heartbeat->stopping) {
                fake.stopping_seen = true;
                fake.stopping_after_results = !any_result_missing();
        }
        if (fake.no_ack)
                return;
        ack.monotonic_usec = in->heartbeat->monotonic_usec;
        ack.heartbeat_seq = in->seq;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
        e.heartbeat_ack = &ack;
        /* A stopping agent may have hung up already. */
        (void) ipc_connection_send(fake.connection, &e);
}

static void token_text(char *buf, size_t size, const ProtobufCBinaryData *token) {
        size_t n = MIN(token->len, size - 1);

        memcpy(buf, token->data, n);
        buf[n] = '\0';
}

/* Answers like the registry: exit 3 with its output, or nothing when told to stay silent. */
static void fake_on_exec(const Troupe__V1__ExecRequest *req) {
        static const char output[] = "hello\nerr\n";
        Troupe__V1__ExecResult res = TROUPE__V1__EXEC_RESULT__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;

        fake.n_exec++;
        strscpy(fake.exec_request_id, sizeof(fake.exec_request_id), req->request_id);
        strscpy(fake.exec_task, sizeof(fake.exec_task), req->task_id);
        token_text(fake.exec_token, sizeof(fake.exec_token), &req->token);
        join_ids(fake.exec_argv, sizeof(fake.exec_argv), req->argv, req->n_argv);
        join_ids(fake.exec_env, sizeof(fake.exec_env), req->env, req->n_env);
        strscpy(fake.exec_cwd, sizeof(fake.exec_cwd), req->cwd);
        fake.exec_timeout_ms = req->timeout_ms;
        if (fake.exec_silent)
                return;

        res.request_id = req->request_id;
        res.termination_case = TROUPE__V1__EXEC_RESULT__TERMINATION_EXIT_CODE;
        res.exit_code = 3;
        res.stdout_tail.data = (uint8_t *) output;
        res.stdout_tail.len = strlen(output);
        res.duration_usec = 1234;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT;
        e.exec_result = &res;
        fake_send(&e);
}

static void fake_send_action_result(const char *id, Troupe__V1__ActionStatus status, const char *message,
                                    const char *consent_id) {
        Troupe__V1__ActionResult res = TROUPE__V1__ACTION_RESULT__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;

        res.request_id = (char *) id;
        res.status = status;
        res.message = (char *) message;
        res.consent_id = (char *) consent_id;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT;
        e.action_result = &res;
        fake_send(&e);
}

/* First the user is asked, then the action is done: two answers with the same id. */
static void fake_on_action(const Troupe__V1__ActionRequest *req) {
        fake.n_action++;
        token_text(fake.action_token, sizeof(fake.action_token), &req->token);
        strscpy(fake.action_name, sizeof(fake.action_name), req->action);
        join_ids(fake.action_args, sizeof(fake.action_args), req->args, req->n_args);
        fake_send_action_result(req->request_id, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING,
                                "asking the user", "c0ffee");
        /* An answer to a request nobody made is ignored by the SDK. */
        fake_send_action_result("a-unknown", TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE, "", "");
        fake_send_action_result(req->request_id, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE, "opened", "");
}

static void fake_on_event(const Troupe__V1__TaskEvent *ev) {
        FakeTask *t = fake_task(ev->task_id);

        switch (ev->event_case) {
        case TROUPE__V1__TASK_EVENT__EVENT_PROGRESS:
                t->n_progress++;
                t->progress = ev->progress->fraction;
                break;
        case TROUPE__V1__TASK_EVENT__EVENT_LOG:
                t->n_log++;
                strncat(t->logs, ev->log->text, sizeof(t->logs) - strlen(t->logs) - 2);
                strcat(t->logs, "|");
                break;
        case TROUPE__V1__TASK_EVENT__EVENT_STATE:
                if (ev->state->state == TROUPE__V1__TASK_STATE__TASK_STATE_WORKING)
                        t->n_working++;
                else if (ev->state->state == TROUPE__V1__TASK_STATE__TASK_STATE_INPUT_REQUIRED)
                        t->n_input_required++;
                break;
        default:
                ck_abort_msg("unexpected event case %d", ev->event_case);
        }
}

static int fake_on_message(IpcConnection *c, const IpcEnvelope *e, int *fds, size_t n_fds, void *userdata) {
        FakeTask *t;

        switch (e->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_REGISTER:
                fake_on_register(e->register_);
                break;
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT:
                fake_on_heartbeat(e);
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED:
                t = fake_task(e->task_accepted->task_id);
                t->accepted = e->task_accepted->accepted;
                strscpy(t->reason, sizeof(t->reason), e->task_accepted->reason);
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_EVENT:
                fake_on_event(e->task_event);
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_RESULT:
                t = fake_task(e->task_result->task_id);
                t->result_state = e->task_result->state;
                strscpy(t->result_json, sizeof(t->result_json), e->task_result->result_json);
                strscpy(t->error, sizeof(t->error), e->task_result->error);
                t->result_connection = fake.n_connections;
                break;
        case TROUPE__V1__ENVELOPE__BODY_ERROR:
                fake.n_errors++;
                break;
        case TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST:
                fake_on_exec(e->exec_request);
                break;
        case TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST:
                fake_on_action(e->action_request);
                break;
        default:
                ck_abort_msg("unexpected message %s", envelope_body_to_string(e->body_case));
        }
        return 0;
}

static void fake_on_disconnect(IpcConnection *c, int reason, void *userdata) {
        fake.n_disconnects++;
        if (fake.connection == c)
                fake.connection = ipc_connection_unref(fake.connection);
}

static void fake_adopt(IpcConnection *c) {
        ck_assert_ptr_null(fake.connection);
        fake.connection = ipc_connection_ref(c);
        fake.n_connections++;
        ipc_connection_set_handlers(c, fake_on_message, fake_on_disconnect, NULL);
}

static int fake_on_connect(IpcServer *s, IpcConnection *c, void *userdata) {
        fake_adopt(c);
        return 0;
}

static void fake_listen(void) {
        int fd = ipc_socket_listen(fake.path, false);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ipc_server_new(fake.event, fd, fake_on_connect, NULL, &fake.server), 0);
}

/* The registry goes away: its listening socket and the agent's connection. */
static void fake_vanish(void) {
        fake.server = ipc_server_unref(fake.server);
        (void) unlink(fake.path);
        if (fake.connection)
                ck_assert_int_eq(ipc_connection_close(fake.connection, -ESHUTDOWN), 0);
}

/* StartTask with a token ("token-" and the id, as the fake's stand-in for a minted one) and, if
 * given, typed bootstrap parameters. */
static void fake_start_task_full(const char *id, const char *params_json, Troupe__V1__BootstrapParams *bootstrap) {
        Troupe__V1__StartTask st = TROUPE__V1__START_TASK__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        char token[80];

        (void) snprintf(token, sizeof(token), "token-%s", id);
        st.task_id = (char *) id;
        st.workspace = tmp;
        st.params_json = (char *) params_json;
        st.capability_token.data = (uint8_t *) token;
        st.capability_token.len = strlen(token);
        if (bootstrap) {
                st.typed_params_case = TROUPE__V1__START_TASK__TYPED_PARAMS_BOOTSTRAP;
                st.bootstrap = bootstrap;
        }
        e.body_case = TROUPE__V1__ENVELOPE__BODY_START_TASK;
        e.start_task = &st;
        fake_send(&e);
}

static void fake_start_task(const char *id, const char *params_json) {
        fake_start_task_full(id, params_json, NULL);
}

static void fake_cancel_task(const char *id) {
        Troupe__V1__CancelTask ct = TROUPE__V1__CANCEL_TASK__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;

        ct.task_id = (char *) id;
        ct.reason = (char *) "canceled by the test";
        e.body_case = TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK;
        e.cancel_task = &ct;
        fake_send(&e);
}

/* One turn of each loop; the agent's stops turning once it has exited. */
static void run_once(void) {
        if (sd_event_get_state(fake.agent_event) != SD_EVENT_FINISHED)
                ck_assert_int_ge(sd_event_run(fake.agent_event, 2 * USEC_PER_MSEC), 0);
        ck_assert_int_ge(sd_event_run(fake.event, 2 * USEC_PER_MSEC), 0);
}

/* Runs the loops until `pred` holds, at most `timeout`; returns whether it held. */
static bool run_until(bool (*pred)(void *), void *userdata, usec_t timeout) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + timeout;

        while (!pred(userdata)) {
                if (now_usec(CLOCK_MONOTONIC) >= end)
                        return pred(userdata);
                run_once();
        }
        return true;
}

static void run_for(usec_t duration) {
        usec_t end = now_usec(CLOCK_MONOTONIC) + duration;

        while (now_usec(CLOCK_MONOTONIC) < end)
                run_once();
}

static bool is_registered(void *a) {
        return agent_is_registered(a) && fake.n_registers > 0;
}

static bool has_result(void *id) {
        for (size_t i = 0; i < fake.n_tasks; i++)
                if (streq(fake.tasks[i].id, id))
                        return fake.tasks[i].result_state != 0;
        return false;
}

static bool has_answer(void *id) {
        for (size_t i = 0; i < fake.n_tasks; i++)
                if (streq(fake.tasks[i].id, id))
                        return fake.tasks[i].accepted >= 0;
        return false;
}

static bool loop_finished(void *unused) {
        return sd_event_get_state(fake.agent_event) == SD_EVENT_FINISHED;
}

static bool has_error(void *unused) {
        return fake.n_errors > 0;
}

static bool fake_disconnected(void *unused) {
        return fake.n_disconnects > 0;
}

static unsigned wanted_registers;
static bool registers_reached(void *a) {
        return fake.n_registers >= wanted_registers && agent_is_registered(a);
}

static int test_on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        AgentTask *t = userdata;

        for (size_t i = 0; i < ta.n_timers; i++)
                if (ta.timers[i] == s)
                        ta.timers[i] = sd_event_source_disable_unref(ta.timers[i]);
        ck_assert_int_eq(agent_task_progress(t, 1.0, "done"), 0);
        ck_assert_int_eq(agent_task_complete(t, agent_task_get_params(t)), 0);
        return 0;
}

/* The exec's result, as the task's result: what the handler saw. */
static void test_on_exec(AgentTask *t, const AgentExecResult *res, void *userdata) {
        _cleanup_json_ json_t *v = NULL;

        ck_assert_ptr_eq(userdata, &ta);
        v = json_pack("{s:s, s:b, s:i, s:i, s:s#, s:b, s:s?, s:I}", "id", res->request_id, "exited", res->exited,
                      "exit", res->exit_code, "signal", res->signal, "output",
                      res->output ? (const char *) res->output : "", (int) res->output_size, "truncated", res->output_truncated, "error", res->error,
                      "duration", (json_int_t) res->duration_usec);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(agent_task_complete(t, v), 0);
}

static char action_statuses[256];

static void test_on_action(AgentTask *t, const AgentActionResult *res, void *userdata) {
        char entry[128];

        (void) snprintf(entry, sizeof(entry), "%d:%s:%s;", (int) res->status, res->message, res->consent_id);
        strncat(action_statuses, entry, sizeof(action_statuses) - strlen(action_statuses) - 1);
        if (res->status != AGENT_ACTION_CONSENT_PENDING)
                ck_assert_int_eq(agent_task_complete_json(t, "\"acted\""), 0);
}

/* Starts what params.mode asks for: "exec", "exec-bad" or "action"; 1 if it was one of those. */
static int test_start_request(AgentTask *t, const char *mode) {
        static char *const argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) "echo hello; echo err >&2; exit 3",
                                     NULL};
        static char *const env[] = {(char *) "A=1", (char *) "B=two", NULL};
        static char *const args[] = {(char *) "README.md", NULL};
        static char *const relative[] = {(char *) "sh", NULL};
        const AgentExecOptions o = {.cwd = "sub", .env = env, .timeout_usec = 1500 * USEC_PER_MSEC + 1};

        if (streq(mode, "exec")) {
                ck_assert_int_eq(agent_task_exec(t, argv, &o, test_on_exec, &ta), 0);
                return 1;
        }
        if (streq(mode, "exec-bad")) {
                /* Refused by the SDK itself: nothing is sent. */
                ck_assert_int_eq(agent_task_exec(t, relative, NULL, test_on_exec, &ta), -EINVAL);
                ck_assert_int_eq(agent_task_exec(t, NULL, NULL, test_on_exec, &ta), -EINVAL);
                ck_assert_int_eq(agent_task_exec(t, argv, NULL, NULL, NULL), -EINVAL);
                ck_assert_int_eq(agent_task_action(t, "", NULL, test_on_action, NULL), -EINVAL);
                ck_assert_int_eq(agent_task_exec(t, argv, NULL, test_on_exec, &ta), 0);
                return 1;
        }
        if (streq(mode, "action")) {
                ck_assert_int_eq(agent_task_action(t, "exec.editor", args, test_on_action, NULL), 0);
                return 1;
        }
        return 0;
}

/* The typed parameters, echoed as the result. */
static int test_start_bootstrap(AgentTask *t) {
        const AgentBootstrapParams *b = agent_task_get_bootstrap_params(t);
        _cleanup_json_ json_t *v = NULL, *options = json_array();

        ck_assert_ptr_nonnull(b);
        ck_assert_ptr_nonnull(options);
        for (size_t i = 0; i < b->n_options; i++)
                ck_assert_int_eq(json_array_append_new(options, json_pack("[s,s]", b->options[i].key,
                                                                          b->options[i].value)),
                                 0);
        v = json_pack("{s:s, s:s, s:O, s:b}", "stack", b->stack, "project", b->project_name, "options", options,
                      "force", b->force);
        ck_assert_ptr_nonnull(v);
        return agent_task_complete(t, v);
}

/* params.mode: "reject", "sync", "fail", "input", "exec", "exec-bad", "action", "bootstrap", else
 * wait params.delay_ms and echo params. */
static int test_start(Agent *a, AgentTask *t, void *userdata) {
        json_t *p = agent_task_get_params(t);
        const char *mode = json_string_value(json_object_get(p, "mode")) ?: "async";
        sd_event_source *timer = NULL;

        ta.n_started++;
        ck_assert_str_eq(agent_task_get_workspace(t), tmp);
        if (streq(mode, "bootstrap"))
                return test_start_bootstrap(t);
        ck_assert_ptr_null(agent_task_get_bootstrap_params(t));
        if (test_start_request(t, mode))
                return 0;
        if (streq(mode, "reject")) {
                ck_assert_int_eq(agent_task_set_reject_reason(t, "not today"), 0);
                return -EINVAL;
        }
        if (streq(mode, "sync"))
                return agent_task_complete_json(t, "{\"sync\":true}");
        if (streq(mode, "fail"))
                return agent_task_failf(t, "broken %d", 42);
        if (streq(mode, "input"))
                ck_assert_int_eq(agent_task_set_input_required(t, true, "which one?"), 0);

        ck_assert_int_eq(sd_event_add_time_relative(agent_get_event(a), &timer, CLOCK_MONOTONIC,
                                                    json_integer_value(json_object_get(p, "delay_ms")) *
                                                            USEC_PER_MSEC,
                                                    0, test_on_timer, t),
                         0);
        ck_assert_uint_lt(ta.n_timers, FAKE_TASKS_MAX);
        ta.timers[ta.n_timers++] = timer;
        agent_task_set_userdata(t, timer);
        ck_assert_int_eq(agent_task_progress(t, 0.5, "half way"), 0);
        ck_assert_int_eq(agent_task_progress(t, 0.25, "going back is ignored"), 0);
        ck_assert_int_eq(agent_task_log(t, AGENT_LOG_AGENT, "hello\nworld"), 0);
        return 0;
}

static int test_cancel(Agent *a, AgentTask *t, void *userdata) {
        sd_event_source *timer = agent_task_get_userdata(t);

        ta.n_canceled++;
        for (size_t i = 0; i < ta.n_timers; i++)
                if (ta.timers[i] == timer)
                        ta.timers[i] = sd_event_source_disable_unref(ta.timers[i]);
        return 0;
}

static const AgentDefinition test_def = {
        .name = "sdktest",
        .start = test_start,
        .cancel = test_cancel,
};

static void setup(void) {
        _cleanup_free_ char *card = NULL;
        FILE *f;

        tmp = make_tmpdir();
        ck_assert_ptr_nonnull(tmp);
        card = strjoin(tmp, "/sdktest.json");
        f = fopen(card, "we");
        ck_assert_ptr_nonnull(f);
        fputs(test_card, f);
        fclose(f);

        fake = (Fake) { .interval_ms = 50 };
        ta = (TestAgent) {};
        fake.path = strjoin(tmp, "/agent.sock");
        ck_assert_int_eq(sd_event_new(&fake.event), 0);
        ck_assert_int_eq(sd_event_new(&fake.agent_event), 0);
        fake_listen();
        ck_assert_int_eq(setenv("TROUPE_AGENT_CARDS_DIR", tmp, 1), 0);
        (void) unsetenv("TROUPE_AGENT_CARD");
        (void) unsetenv("TROUPE_AGENT_FD");
}

static void teardown(void) {
        for (size_t i = 0; i < ta.n_timers; i++)
                sd_event_source_disable_unref(ta.timers[i]);
        fake.connection = ipc_connection_unref(fake.connection);
        fake.server = ipc_server_unref(fake.server);
        fake.event = sd_event_unref(fake.event);
        fake.agent_event = sd_event_unref(fake.agent_event);
        free(fake.path);
        rm_rf_tmpdir(tmp);
        tmp = mfree(tmp);
}

static Agent *start_agent(void) {
        Agent *a = NULL;

        ck_assert_int_eq(agent_new(fake.agent_event, &test_def, &a), 0);
        agent_set_handle_signals(a, false);
        ck_assert_int_eq(agent_set_socket_path(a, fake.path), 0);
        ck_assert_int_eq(agent_start(a), 0);
        ck_assert(run_until(is_registered, a, 5 * USEC_PER_SEC));
        return a;
}

START_TEST(test_register) {
        _cleanup_(agent_freep) Agent *a = start_agent();

        ck_assert_str_eq(fake.name, "sdktest");
        ck_assert_str_eq(fake.version, "1.2.3");
        ck_assert_uint_eq(fake.n_skills, 2);
        ck_assert(fake.card_parses);
        ck_assert_str_eq(fake.register_task_ids, "");
        ck_assert_uint_eq(agent_get_heartbeat_interval_usec(a), 50 * USEC_PER_MSEC);
        ck_assert_str_eq(agent_get_card(a)->name, "sdktest");
        ck_assert_uint_eq(agent_get_n_connections(a), 1);
}
END_TEST

START_TEST(test_card_lookup) {
        _cleanup_free_ char *p = NULL, *nested = NULL;
        FILE *f;

        /* Found by name in $TROUPE_AGENT_CARDS_DIR, both layouts. */
        ck_assert_int_eq(agent_card_find("sdktest", &p), 0);
        ck_assert(endswith(p, "/sdktest.json"));
        ck_assert_int_eq(agent_card_find("nosuchagent", &nested), -ENOENT);
        ck_assert_int_eq(agent_card_find("../etc", &nested), -EINVAL);
        nested = strjoin(tmp, "/nested");
        ck_assert_int_eq(mkdir(nested, 0700), 0);
        free(nested);
        nested = strjoin(tmp, "/nested/nested.json");
        f = fopen(nested, "we");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        p = mfree(p);
        ck_assert_int_eq(agent_card_find_in(tmp, "nested", &p), 0);
        ck_assert_str_eq(p, nested);
        /* The flat layout wins over the nested one in the same directory. */
        p = mfree(p);
        ck_assert_int_eq(agent_card_find_in(tmp, "sdktest", &p), 0);
        ck_assert(endswith(p, "/sdktest.json") && !strstr(p, "/sdktest/"));
}
END_TEST

START_TEST(test_refused) {
        _cleanup_(agent_freep) Agent *a = NULL;
        int code = -1;

        fake.refuse = true;
        ck_assert_int_eq(agent_new(fake.agent_event, &test_def, &a), 0);
        agent_set_handle_signals(a, false);
        ck_assert_int_eq(agent_set_socket_path(a, fake.path), 0);
        ck_assert_int_eq(agent_start(a), 0);
        ck_assert(run_until(loop_finished, NULL, 5 * USEC_PER_SEC));
        ck_assert_int_eq(sd_event_get_exit_code(fake.agent_event, &code), 0);
        ck_assert_int_eq(code, EXIT_FAILURE);
        ck_assert(!agent_is_registered(a));
}
END_TEST

START_TEST(test_heartbeat_cadence) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        usec_t span;

        run_for(600 * USEC_PER_MSEC);
        /* One at once, then one per 50 ms: about 12 in 600 ms; timers on a busy machine run late,
         * never early. */
        ck_assert_uint_ge(fake.n_heartbeats, 6);
        ck_assert_uint_le(fake.n_heartbeats, 14);
        span = fake.heartbeat_usec[fake.n_heartbeats - 1] - fake.heartbeat_usec[1];
        ck_assert_uint_ge(span / (fake.n_heartbeats - 2), 45 * USEC_PER_MSEC);
        ck_assert_uint_eq(agent_get_n_connections(a), 1);
}
END_TEST

START_TEST(test_task_lifecycle) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        FakeTask *t;

        fake_start_task("t-1", "{\"delay_ms\":30,\"msg\":\"hi\"}");
        ck_assert(run_until(has_result, (void *) "t-1", 5 * USEC_PER_SEC));
        t = fake_task("t-1");
        ck_assert_int_eq(t->accepted, 1);
        ck_assert_uint_eq(t->n_working, 1);
        ck_assert_uint_eq(t->n_progress, 3);
        ck_assert(t->progress == 1.0);
        ck_assert_uint_eq(t->n_log, 2);
        ck_assert_str_eq(t->logs, "hello|world|");
        ck_assert_int_eq(t->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED);
        ck_assert_str_eq(t->result_json, "{\"delay_ms\":30,\"msg\":\"hi\"}");
        ck_assert_uint_eq(agent_get_n_tasks(a), 0);

        /* Ended inside the start handler: accepted, then the result. */
        fake_start_task("t-2", "{\"mode\":\"sync\"}");
        ck_assert(run_until(has_result, (void *) "t-2", 5 * USEC_PER_SEC));
        t = fake_task("t-2");
        ck_assert_int_eq(t->accepted, 1);
        ck_assert_str_eq(t->result_json, "{\"sync\":true}");

        fake_start_task("t-3", "{\"mode\":\"fail\"}");
        ck_assert(run_until(has_result, (void *) "t-3", 5 * USEC_PER_SEC));
        t = fake_task("t-3");
        ck_assert_int_eq(t->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_FAILED);
        ck_assert_str_eq(t->error, "broken 42");

        fake_start_task("t-4", "{\"mode\":\"input\",\"delay_ms\":10}");
        ck_assert(run_until(has_result, (void *) "t-4", 5 * USEC_PER_SEC));
        ck_assert_uint_eq(fake_task("t-4")->n_input_required, 1);

        /* The heartbeat lists running tasks only: none now. */
        run_for(120 * USEC_PER_MSEC);
        ck_assert_str_eq(fake.heartbeat_task_ids, "");
}
END_TEST

START_TEST(test_reject) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        FakeTask *t;

        fake_start_task("r-1", "{\"mode\":\"reject\"}");
        ck_assert(run_until(has_answer, (void *) "r-1", 5 * USEC_PER_SEC));
        t = fake_task("r-1");
        ck_assert_int_eq(t->accepted, 0);
        ck_assert_str_eq(t->reason, "not today");

        /* Not an object, not JSON: the SDK rejects before the handler sees them. */
        fake_start_task("r-2", "[1,2]");
        fake_start_task("r-3", "{nope");
        ck_assert(run_until(has_answer, (void *) "r-3", 5 * USEC_PER_SEC));
        ck_assert_int_eq(fake_task("r-2")->accepted, 0);
        ck_assert_str_eq(fake_task("r-2")->reason, "params must be a JSON object");
        ck_assert_int_eq(fake_task("r-3")->accepted, 0);
        ck_assert(startswith(fake_task("r-3")->reason, "params are not valid JSON"));
        ck_assert_uint_eq(ta.n_started, 1);
        ck_assert_uint_eq(agent_get_n_tasks(a), 0);
        run_for(100 * USEC_PER_MSEC);
        ck_assert_int_eq(fake_task("r-1")->result_state, 0);

        /* A task id the protocol does not allow: an Error back, and the connection stays. */
        fake_start_task("Not An Id", "{}");
        ck_assert(run_until(has_error, NULL, 5 * USEC_PER_SEC));
        fake_start_task("r-4", "{\"mode\":\"sync\"}");
        ck_assert(run_until(has_result, (void *) "r-4", 5 * USEC_PER_SEC));
        ck_assert_uint_eq(agent_get_n_connections(a), 1);
        ck_assert_uint_eq(fake.n_disconnects, 0);
}
END_TEST

START_TEST(test_cancel_task) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        FakeTask *t;

        fake_start_task("c-1", "{\"delay_ms\":60000}");
        ck_assert(run_until(has_answer, (void *) "c-1", 5 * USEC_PER_SEC));
        run_for(120 * USEC_PER_MSEC);
        ck_assert_str_eq(fake.heartbeat_task_ids, "c-1");
        fake_cancel_task("c-1");
        ck_assert(run_until(has_result, (void *) "c-1", 5 * USEC_PER_SEC));
        t = fake_task("c-1");
        ck_assert_int_eq(t->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_CANCELED);
        ck_assert_uint_eq(ta.n_canceled, 1);
        ck_assert_uint_eq(agent_get_n_tasks(a), 0);
        /* Canceling again, or an unknown task, is harmless. */
        fake_cancel_task("c-1");
        run_for(50 * USEC_PER_MSEC);
        ck_assert_uint_eq(ta.n_canceled, 1);
}
END_TEST

START_TEST(test_reconnect) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        usec_t gone;

        fake_start_task("k-1", "{\"delay_ms\":60000}");
        fake_start_task("k-2", "{\"delay_ms\":400}");
        ck_assert(run_until(has_answer, (void *) "k-2", 5 * USEC_PER_SEC));

        /* The registry dies; k-2 ends while it is away, so its result must wait. */
        fake_vanish();
        gone = now_usec(CLOCK_MONOTONIC);
        run_for(600 * USEC_PER_MSEC);
        ck_assert(!agent_is_registered(a));
        ck_assert_int_eq(fake_task("k-2")->result_state, 0);
        ck_assert_uint_eq(agent_get_n_tasks(a), 2);

        fake_listen();
        wanted_registers = 2;
        ck_assert(run_until(registers_reached, a, 10 * USEC_PER_SEC));
        /* Backoff: 100 ms doubling with jitter, so 600 ms of absence cost a few attempts, and
         * the agent is back within the next backoff step. */
        ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC) - gone, 3 * USEC_PER_SEC);
        ck_assert_uint_eq(agent_get_n_connections(a), 2);
        ck_assert(streq(fake.register_task_ids, "k-1,k-2") || streq(fake.register_task_ids, "k-2,k-1"));
        ck_assert(run_until(has_result, (void *) "k-2", 5 * USEC_PER_SEC));
        ck_assert_int_eq(fake_task("k-2")->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED);
        ck_assert_uint_eq(fake_task("k-2")->result_connection, 2);
        ck_assert_uint_eq(agent_get_n_tasks(a), 1);

        fake_cancel_task("k-1");
        ck_assert(run_until(has_result, (void *) "k-1", 5 * USEC_PER_SEC));
        ck_assert_int_eq(fake_task("k-1")->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_CANCELED);
}
END_TEST

START_TEST(test_inherited_fd) {
        _cleanup_(agent_freep) Agent *a = NULL;
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = NULL;
        _cleanup_free_ char *fdstr = NULL;
        int pair[2];

        /* What the supervisor does: one end for us, the other named in $TROUPE_AGENT_FD. */
        ck_assert_int_eq(ipc_socketpair(pair), 0);
        ck_assert_int_eq(ipc_connection_new(fake.event, pair[0], &c), 0);
        fake_adopt(c);
        ck_assert_int_eq(asprintf_safe(&fdstr, "%d", pair[1]), 0);
        ck_assert_int_eq(setenv("TROUPE_AGENT_FD", fdstr, 1), 0);

        ck_assert_int_eq(agent_new(fake.agent_event, &test_def, &a), 0);
        agent_set_handle_signals(a, false);
        ck_assert_int_eq(agent_set_socket_path(a, fake.path), 0);
        ck_assert_int_eq(agent_start(a), 0);
        ck_assert_ptr_null(getenv("TROUPE_AGENT_FD"));
        ck_assert(run_until(is_registered, a, 5 * USEC_PER_SEC));
        ck_assert_uint_eq(fake.n_connections, 1);

        /* That connection drops: the agent comes back through the socket path. */
        ck_assert_int_eq(ipc_connection_close(fake.connection, -ESHUTDOWN), 0);
        wanted_registers = 2;
        ck_assert(run_until(registers_reached, a, 10 * USEC_PER_SEC));
        ck_assert_uint_eq(fake.n_connections, 2);
        ck_assert_uint_eq(agent_get_n_connections(a), 2);
}
END_TEST

START_TEST(test_stalled_registry) {
        _cleanup_(agent_freep) Agent *a = NULL;

        fake.interval_ms = 20;
        fake.no_ack = true;
        a = start_agent();
        /* Ten unanswered heartbeats, 200 ms, then a new connection. */
        wanted_registers = 2;
        ck_assert(run_until(registers_reached, a, 5 * USEC_PER_SEC));
        ck_assert_uint_ge(fake.n_heartbeats, AGENT_HEARTBEAT_MISSES_MAX);
}
END_TEST

START_TEST(test_stop) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        int code = -1;

        fake_start_task("s-1", "{\"delay_ms\":60000}");
        ck_assert(run_until(has_answer, (void *) "s-1", 5 * USEC_PER_SEC));
        ck_assert_int_eq(agent_stop(a, 0), 0);
        ck_assert(run_until(loop_finished, NULL, 5 * USEC_PER_SEC));
        ck_assert_int_eq(sd_event_get_exit_code(fake.agent_event, &code), 0);
        ck_assert_int_eq(code, 0);
        ck_assert(run_until(fake_disconnected, NULL, 5 * USEC_PER_SEC));
        /* Canceled, then the stopping heartbeat, then the connection closed. */
        ck_assert_int_eq(fake_task("s-1")->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_CANCELED);
        ck_assert(fake.stopping_seen);
        ck_assert(fake.stopping_after_results);
        ck_assert_uint_eq(ta.n_canceled, 1);
}
END_TEST

START_TEST(test_idle_timeout) {
        _cleanup_(agent_freep) Agent *a = NULL;
        _cleanup_free_ char *path = strjoin(tmp, "/idle.json");
        FILE *f = fopen(path, "we");
        usec_t start;
        int code = -1;

        ck_assert_ptr_nonnull(f);
        fputs("{\"name\":\"sdktest\",\"description\":\"idles\",\"version\":\"1.0.0\","
              "\"skills\":[{\"id\":\"x\",\"name\":\"X\",\"description\":\"x\"}],"
              "\"exec\":{\"idle_timeout_sec\":1}}", f);
        fclose(f);
        ck_assert_int_eq(setenv("TROUPE_AGENT_CARD", path, 1), 0);
        a = start_agent();
        start = now_usec(CLOCK_MONOTONIC);

        /* A task in between restarts the idle period. */
        run_for(600 * USEC_PER_MSEC);
        fake_start_task("i-1", "{\"delay_ms\":300}");
        ck_assert(run_until(has_result, (void *) "i-1", 5 * USEC_PER_SEC));
        ck_assert(sd_event_get_state(fake.agent_event) != SD_EVENT_FINISHED);
        ck_assert(run_until(loop_finished, NULL, 5 * USEC_PER_SEC));
        ck_assert_uint_ge(now_usec(CLOCK_MONOTONIC) - start, 1900 * USEC_PER_MSEC);
        ck_assert_int_eq(sd_event_get_exit_code(fake.agent_event, &code), 0);
        ck_assert_int_eq(code, 0);
        ck_assert(run_until(fake_disconnected, NULL, 5 * USEC_PER_SEC));
        ck_assert(fake.stopping_seen);
}
END_TEST

static bool exec_seen(void *unused) {
        return fake.n_exec > 0;
}

/* The task's result, parsed: the handlers above put what they saw there. */
static json_t *result_of(const char *id) {
        json_t *v = NULL;

        ck_assert_int_eq(json_parse(fake_task(id)->result_json, strlen(fake_task(id)->result_json), 4096, 0,
                                    JSON_PARSE_ANY_VALUE, &v, NULL),
                         0);
        return v;
}

START_TEST(test_exec) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        _cleanup_json_ json_t *v = NULL;

        fake_start_task("e-1", "{\"mode\":\"exec\"}");
        ck_assert(run_until(has_result, (void *) "e-1", 5 * USEC_PER_SEC));
        /* What went out: the task's token from StartTask, and the request as given. */
        ck_assert_uint_eq(fake.n_exec, 1);
        ck_assert_str_eq(fake.exec_task, "e-1");
        ck_assert_str_eq(fake.exec_token, "token-e-1");
        ck_assert_str_eq(fake.exec_argv, "/bin/sh,-c,echo hello; echo err >&2; exit 3");
        ck_assert_str_eq(fake.exec_env, "A=1,B=two");
        ck_assert_str_eq(fake.exec_cwd, "sub");
        ck_assert_uint_eq(fake.exec_timeout_ms, 1501); /* rounded up, never down */
        ck_assert(!isempty(fake.exec_request_id));

        /* What came back reached the handler. */
        ck_assert_int_eq(fake_task("e-1")->result_state, TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED);
        v = result_of("e-1");
        ck_assert_str_eq(json_string_value(json_object_get(v, "id")), fake.exec_request_id);
        ck_assert(json_is_true(json_object_get(v, "exited")));
        ck_assert_int_eq(json_integer_value(json_object_get(v, "exit")), 3);
        ck_assert_int_eq(json_integer_value(json_object_get(v, "signal")), 0);
        ck_assert_str_eq(json_string_value(json_object_get(v, "output")), "hello\nerr\n");
        ck_assert(json_is_false(json_object_get(v, "truncated")));
        ck_assert(json_is_null(json_object_get(v, "error")));
        ck_assert_int_eq(json_integer_value(json_object_get(v, "duration")), 1234);

        /* Bad arguments are refused before anything is sent. */
        fake.n_exec = 0;
        fake_start_task("e-2", "{\"mode\":\"exec-bad\"}");
        ck_assert(run_until(has_result, (void *) "e-2", 5 * USEC_PER_SEC));
        ck_assert_uint_eq(fake.n_exec, 1);
        ck_assert_str_eq(fake.exec_token, "token-e-2");
}
END_TEST

START_TEST(test_action) {
        _cleanup_(agent_freep) Agent *a = start_agent();

        action_statuses[0] = '\0';
        fake_start_task("a-1", "{\"mode\":\"action\"}");
        ck_assert(run_until(has_result, (void *) "a-1", 5 * USEC_PER_SEC));
        ck_assert_uint_eq(fake.n_action, 1);
        ck_assert_str_eq(fake.action_token, "token-a-1");
        ck_assert_str_eq(fake.action_name, "exec.editor");
        ck_assert_str_eq(fake.action_args, "README.md");
        /* CONSENT_PENDING first, then DONE, same request; the stray answer in between is ignored. */
        ck_assert_str_eq(action_statuses, "3:asking the user:c0ffee;1:opened:;");
        ck_assert_str_eq(fake_task("a-1")->result_json, "\"acted\"");
}
END_TEST

START_TEST(test_exec_connection_lost) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        _cleanup_json_ json_t *v = NULL;

        fake.exec_silent = true;
        fake_start_task("l-1", "{\"mode\":\"exec\"}");
        ck_assert(run_until(exec_seen, NULL, 5 * USEC_PER_SEC));
        ck_assert(!has_result((void *) "l-1"));

        /* The registry goes: the handler hears so, and the task's result waits for the next one. */
        fake_vanish();
        fake_listen();
        wanted_registers = 2;
        ck_assert(run_until(registers_reached, a, 10 * USEC_PER_SEC));
        ck_assert(run_until(has_result, (void *) "l-1", 5 * USEC_PER_SEC));
        v = result_of("l-1");
        ck_assert(json_is_false(json_object_get(v, "exited")));
        ck_assert(startswith(json_string_value(json_object_get(v, "error")), "the connection to the registry was lost"));
}
END_TEST

START_TEST(test_bootstrap_params) {
        _cleanup_(agent_freep) Agent *a = start_agent();
        _cleanup_json_ json_t *v = NULL, *want = NULL;
        Troupe__V1__BootstrapParams__Option o1 = TROUPE__V1__BOOTSTRAP_PARAMS__OPTION__INIT,
                                            o2 = TROUPE__V1__BOOTSTRAP_PARAMS__OPTION__INIT;
        Troupe__V1__BootstrapParams__Option *options[] = {&o1, &o2};
        Troupe__V1__BootstrapParams bp = TROUPE__V1__BOOTSTRAP_PARAMS__INIT;

        o1.key = (char *) "python_version";
        o1.value = (char *) "3.12";
        o2.key = (char *) "license";
        o2.value = (char *) "MIT";
        bp.stack = (char *) "fastapi";
        bp.project_name = (char *) "billing";
        bp.n_options = 2;
        bp.options = options;
        bp.force = true;
        fake_start_task_full("b-1", "{\"mode\":\"bootstrap\"}", &bp);
        ck_assert(run_until(has_result, (void *) "b-1", 5 * USEC_PER_SEC));
        v = result_of("b-1");
        want = json_pack("{s:s, s:s, s:[[s,s],[s,s]], s:b}", "stack", "fastapi", "project", "billing", "options",
                         "python_version", "3.12", "license", "MIT", "force", 1);
        ck_assert(json_equal(v, want));

        /* Out of the proto's limits: rejected before the start handler runs. */
        bp.stack = (char *) "";
        fake_start_task_full("b-2", "{\"mode\":\"bootstrap\"}", &bp);
        ck_assert(run_until(has_answer, (void *) "b-2", 5 * USEC_PER_SEC));
        ck_assert_int_eq(fake_task("b-2")->accepted, 0);
        ck_assert_str_eq(fake_task("b-2")->reason, "bootstrap.stack: 1 to 64 bytes of UTF-8");
        ck_assert_uint_eq(ta.n_started, 1);
}
END_TEST

START_TEST(test_bad_card) {
        _cleanup_(agent_freep) Agent *a = NULL;
        _cleanup_free_ char *bad = strjoin(tmp, "/bad.json");
        FILE *f = fopen(bad, "we");

        fputs("{\"name\":\"sdktest\"}", f);
        fclose(f);
        ck_assert_int_eq(agent_new(fake.agent_event, &test_def, &a), 0);
        agent_set_handle_signals(a, false);
        ck_assert_int_eq(setenv("TROUPE_AGENT_CARD", bad, 1), 0);
        ck_assert_int_eq(agent_start(a), -EINVAL);
        ck_assert_uint_eq(fake.n_connections, 0);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("agent-sdk");
        TCase *tc = tcase_create("sdk");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_register);
        tcase_add_test(tc, test_card_lookup);
        tcase_add_test(tc, test_refused);
        tcase_add_test(tc, test_heartbeat_cadence);
        tcase_add_test(tc, test_task_lifecycle);
        tcase_add_test(tc, test_reject);
        tcase_add_test(tc, test_cancel_task);
        tcase_add_test(tc, test_reconnect);
        tcase_add_test(tc, test_inherited_fd);
        tcase_add_test(tc, test_stalled_registry);
        tcase_add_test(tc, test_stop);
        tcase_add_test(tc, test_idle_timeout);
        tcase_add_test(tc, test_bad_card);
        tcase_add_test(tc, test_exec);
        tcase_add_test(tc, test_action);
        tcase_add_test(tc, test_exec_connection_lost);
        tcase_add_test(tc, test_bootstrap_params);
        suite_add_tcase(s, tc);
        return s;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "basic/string-util.h"
#include "check-main.h"
#include "ipc/envelope.h"

/* Every body case the contract defines; a new case must be added here and to build_body(). */
static const IpcBodyCase all_bodies[] = {
        TROUPE__V1__ENVELOPE__BODY_REGISTER,       TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY,
        TROUPE__V1__ENVELOPE__BODY_HEARTBEAT,      TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK,
        TROUPE__V1__ENVELOPE__BODY_ERROR,          TROUPE__V1__ENVELOPE__BODY_START_TASK,
        TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED,  TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK,
        TROUPE__V1__ENVELOPE__BODY_TASK_EVENT,     TROUPE__V1__ENVELOPE__BODY_TASK_RESULT,
        TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST,   TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT,
        TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST, TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT,
};

/* Storage for one envelope of each kind, filled with distinctive values. */
typedef struct Bodies {
        Troupe__V1__TraceContext trace;
        uint8_t trace_id[16], span_id[8];
        Troupe__V1__Register reg;
        char *skills[2];
        Troupe__V1__RegisterReply reg_reply;
        Troupe__V1__Heartbeat hb;
        char *task_ids[3];
        Troupe__V1__HeartbeatAck hb_ack;
        Troupe__V1__Error error;
        Troupe__V1__StartTask start;
        Troupe__V1__BootstrapParams bootstrap;
        Troupe__V1__BootstrapParams__Option opt[2], *opts[2];
        Troupe__V1__TaskAccepted accepted;
        Troupe__V1__CancelTask cancel;
        Troupe__V1__TaskEvent event;
        Troupe__V1__TaskEvent__Progress progress;
        Troupe__V1__TaskResult result;
        Troupe__V1__ExecRequest exec;
        char *argv[3], *env[1];
        Troupe__V1__ExecResult exec_result;
        Troupe__V1__ActionRequest action;
        char *args[2];
        Troupe__V1__ActionResult action_result;
} Bodies;

static void build_body(Bodies *b, IpcEnvelope *e, IpcBodyCase body) {
        *e = (IpcEnvelope) TROUPE__V1__ENVELOPE__INIT;
        e->version = IPC_PROTOCOL_VERSION;
        e->seq = 4242;
        e->body_case = body;

        switch (body) {
        case TROUPE__V1__ENVELOPE__BODY_REGISTER:
                b->reg = (Troupe__V1__Register) TROUPE__V1__REGISTER__INIT;
                b->reg.name = (char *) "bootstrap";
                b->reg.version = (char *) "1.2.3";
                b->reg.pid = 4321;
                b->reg.card_json = (char *) "{\"name\":\"bootstrap\",\"d\":\"h\xc3\xa9\"}";
                b->skills[0] = (char *) "scaffold";
                b->skills[1] = (char *) "review";
                b->reg.skills = b->skills;
                b->reg.n_skills = 2;
                e->register_ = &b->reg;
                break;
        case TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY:
                b->reg_reply = (Troupe__V1__RegisterReply) TROUPE__V1__REGISTER_REPLY__INIT;
                b->reg_reply.accepted = true;
                b->reg_reply.heartbeat_interval_ms = 1500;
                b->reg_reply.error = (char *) "none";
                e->register_reply = &b->reg_reply;
                break;
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT:
                b->hb = (Troupe__V1__Heartbeat) TROUPE__V1__HEARTBEAT__INIT;
                b->hb.monotonic_usec = UINT64_C(123456789012345);
                b->task_ids[0] = (char *) "t-1";
                b->task_ids[1] = (char *) "t-2";
                b->task_ids[2] = (char *) "t-3";
                b->hb.current_task_ids = b->task_ids;
                b->hb.n_current_task_ids = 3;
                e->heartbeat = &b->hb;
                break;
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
                b->hb_ack = (Troupe__V1__HeartbeatAck) TROUPE__V1__HEARTBEAT_ACK__INIT;
                b->hb_ack.monotonic_usec = UINT64_MAX;
                b->hb_ack.heartbeat_seq = 77;
                e->heartbeat_ack = &b->hb_ack;
                break;
        case TROUPE__V1__ENVELOPE__BODY_ERROR:
                b->error = (Troupe__V1__Error) TROUPE__V1__ERROR__INIT;
                b->error.code = TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_TASK;
                b->error.message = (char *) "no task t-9";
                b->error.seq = 9;
                e->error = &b->error;
                break;
        case TROUPE__V1__ENVELOPE__BODY_START_TASK:
                b->start = (Troupe__V1__StartTask) TROUPE__V1__START_TASK__INIT;
                b->start.task_id = (char *) "t-1";
                b->start.workspace = (char *) "/home/u/.local/share/troupe/workspaces/billing";
                b->start.capability_token.data = (uint8_t *) "\x00\x01\xfftoken";
                b->start.capability_token.len = 8;
                b->start.params_json = (char *) "{\"x\":1}";
                b->bootstrap = (Troupe__V1__BootstrapParams) TROUPE__V1__BOOTSTRAP_PARAMS__INIT;
                b->bootstrap.stack = (char *) "fastapi";
                b->bootstrap.project_name = (char *) "billing";
                b->bootstrap.force = true;
                for (size_t i = 0; i < 2; i++) {
                        b->opt[i] = (Troupe__V1__BootstrapParams__Option)
                                TROUPE__V1__BOOTSTRAP_PARAMS__OPTION__INIT;
                        b->opts[i] = &b->opt[i];
                }
                b->opt[0].key = (char *) "python_version";
                b->opt[0].value = (char *) "3.11";
                b->opt[1].key = (char *) "db";
                b->opt[1].value = (char *) "postgres";
                b->bootstrap.options = b->opts;
                b->bootstrap.n_options = 2;
                b->start.typed_params_case = TROUPE__V1__START_TASK__TYPED_PARAMS_BOOTSTRAP;
                b->start.bootstrap = &b->bootstrap;
                e->start_task = &b->start;
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED:
                b->accepted = (Troupe__V1__TaskAccepted) TROUPE__V1__TASK_ACCEPTED__INIT;
                b->accepted.task_id = (char *) "t-1";
                b->accepted.accepted = false;
                b->accepted.reason = (char *) "busy";
                e->task_accepted = &b->accepted;
                break;
        case TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK:
                b->cancel = (Troupe__V1__CancelTask) TROUPE__V1__CANCEL_TASK__INIT;
                b->cancel.task_id = (char *) "t-2";
                b->cancel.reason = (char *) "canceled by user";
                e->cancel_task = &b->cancel;
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_EVENT:
                b->event = (Troupe__V1__TaskEvent) TROUPE__V1__TASK_EVENT__INIT;
                b->event.task_id = (char *) "t-3";
                b->progress = (Troupe__V1__TaskEvent__Progress) TROUPE__V1__TASK_EVENT__PROGRESS__INIT;
                b->progress.fraction = 0.625;
                b->progress.message = (char *) "rendering templates";
                b->event.event_case = TROUPE__V1__TASK_EVENT__EVENT_PROGRESS;
                b->event.progress = &b->progress;
                e->task_event = &b->event;
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_RESULT:
                b->result = (Troupe__V1__TaskResult) TROUPE__V1__TASK_RESULT__INIT;
                b->result.task_id = (char *) "t-4";
                b->result.state = TROUPE__V1__TASK_STATE__TASK_STATE_COMPLETED;
                b->result.result_json = (char *) "{\"files\":12}";
                b->result.error = (char *) "";
                e->task_result = &b->result;
                break;
        case TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST:
                b->exec = (Troupe__V1__ExecRequest) TROUPE__V1__EXEC_REQUEST__INIT;
                b->exec.request_id = (char *) "r-1";
                b->exec.task_id = (char *) "t-1";
                b->exec.token.data = (uint8_t *) "tok";
                b->exec.token.len = 3;
                b->argv[0] = (char *) "git";
                b->argv[1] = (char *) "init";
                b->argv[2] = (char *) "-q";
                b->exec.argv = b->argv;
                b->exec.n_argv = 3;
                b->env[0] = (char *) "LANG=C.UTF-8";
                b->exec.env = b->env;
                b->exec.n_env = 1;
                b->exec.cwd = (char *) "billing";
                b->exec.timeout_ms = 30000;
                b->exec.stdin_data.data = (uint8_t *) "in\0put";
                b->exec.stdin_data.len = 6;
                e->exec_request = &b->exec;
                break;
        case TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT:
                b->exec_result = (Troupe__V1__ExecResult) TROUPE__V1__EXEC_RESULT__INIT;
                b->exec_result.request_id = (char *) "r-1";
                b->exec_result.termination_case = TROUPE__V1__EXEC_RESULT__TERMINATION_SIGNAL;
                b->exec_result.signal = 9;
                b->exec_result.stdout_tail.data = (uint8_t *) "\xff\xfe out";
                b->exec_result.stdout_tail.len = 6;
                b->exec_result.stderr_tail.data = (uint8_t *) "err";
                b->exec_result.stderr_tail.len = 3;
                b->exec_result.stderr_truncated = true;
                b->exec_result.error = (char *) "timed out";
                b->exec_result.duration_usec = 30000001;
                e->exec_result = &b->exec_result;
                break;
        case TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST:
                b->action = (Troupe__V1__ActionRequest) TROUPE__V1__ACTION_REQUEST__INIT;
                b->action.request_id = (char *) "r-2";
                b->action.task_id = (char *) "t-1";
                b->action.token.data = (uint8_t *) "tok2";
                b->action.token.len = 4;
                b->action.action = (char *) "exec.editor";
                b->args[0] = (char *) "billing/main.py";
                b->args[1] = (char *) "+12";
                b->action.args = b->args;
                b->action.n_args = 2;
                e->action_request = &b->action;
                break;
        case TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT:
                b->action_result = (Troupe__V1__ActionResult) TROUPE__V1__ACTION_RESULT__INIT;
                b->action_result.request_id = (char *) "r-2";
                b->action_result.status = TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING;
                b->action_result.message = (char *) "asked the user";
                b->action_result.consent_id = (char *) "c-7";
                e->action_result = &b->action_result;
                break;
        default:
                ck_abort_msg("test does not know body case %d", (int) body);
        }
}

static void assert_bytes_eq(ProtobufCBinaryData a, ProtobufCBinaryData b) {
        ck_assert_uint_eq(a.len, b.len);
        ck_assert(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static void assert_strv_eq(char **a, size_t n_a, char **b, size_t n_b) {
        ck_assert_uint_eq(n_a, n_b);
        for (size_t i = 0; i < n_a; i++)
                ck_assert_str_eq(a[i], b[i]);
}

static void assert_body_eq(const IpcEnvelope *x, const IpcEnvelope *y) {
        ck_assert_int_eq(x->body_case, y->body_case);

        switch (x->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_REGISTER:
                ck_assert_str_eq(x->register_->name, y->register_->name);
                ck_assert_str_eq(x->register_->version, y->register_->version);
                ck_assert_uint_eq(x->register_->pid, y->register_->pid);
                ck_assert_str_eq(x->register_->card_json, y->register_->card_json);
                assert_strv_eq(x->register_->skills, x->register_->n_skills, y->register_->skills,
                               y->register_->n_skills);
                break;
        case TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY:
                ck_assert_int_eq(x->register_reply->accepted, y->register_reply->accepted);
                ck_assert_uint_eq(x->register_reply->heartbeat_interval_ms,
                                  y->register_reply->heartbeat_interval_ms);
                ck_assert_str_eq(x->register_reply->error, y->register_reply->error);
                break;
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT:
                ck_assert_uint_eq(x->heartbeat->monotonic_usec, y->heartbeat->monotonic_usec);
                assert_strv_eq(x->heartbeat->current_task_ids, x->heartbeat->n_current_task_ids,
                               y->heartbeat->current_task_ids, y->heartbeat->n_current_task_ids);
                break;
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
                ck_assert_uint_eq(x->heartbeat_ack->monotonic_usec, y->heartbeat_ack->monotonic_usec);
                ck_assert_uint_eq(x->heartbeat_ack->heartbeat_seq, y->heartbeat_ack->heartbeat_seq);
                break;
        case TROUPE__V1__ENVELOPE__BODY_ERROR:
                ck_assert_int_eq(x->error->code, y->error->code);
                ck_assert_str_eq(x->error->message, y->error->message);
                ck_assert_uint_eq(x->error->seq, y->error->seq);
                break;
        case TROUPE__V1__ENVELOPE__BODY_START_TASK: {
                const Troupe__V1__StartTask *a = x->start_task, *b = y->start_task;

                ck_assert_str_eq(a->task_id, b->task_id);
                ck_assert_str_eq(a->workspace, b->workspace);
                assert_bytes_eq(a->capability_token, b->capability_token);
                ck_assert_str_eq(a->params_json, b->params_json);
                ck_assert_int_eq(a->typed_params_case, b->typed_params_case);
                ck_assert_str_eq(a->bootstrap->stack, b->bootstrap->stack);
                ck_assert_str_eq(a->bootstrap->project_name, b->bootstrap->project_name);
                ck_assert_int_eq(a->bootstrap->force, b->bootstrap->force);
                ck_assert_uint_eq(a->bootstrap->n_options, b->bootstrap->n_options);
                for (size_t i = 0; i < a->bootstrap->n_options; i++) {
                        ck_assert_str_eq(a->bootstrap->options[i]->key, b->bootstrap->options[i]->key);
                        ck_assert_str_eq(a->bootstrap->options[i]->value, b->bootstrap->options[i]->value);
                }
                break;
        }
        case TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED:
                ck_assert_str_eq(x->task_accepted->task_id, y->task_accepted->task_id);
                ck_assert_int_eq(x->task_accepted->accepted, y->task_accepted->accepted);
                ck_assert_str_eq(x->task_accepted->reason, y->task_accepted->reason);
                break;
        case TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK:
                ck_assert_str_eq(x->cancel_task->task_id, y->cancel_task->task_id);
                ck_assert_str_eq(x->cancel_task->reason, y->cancel_task->reason);
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_EVENT:
                ck_assert_str_eq(x->task_event->task_id, y->task_event->task_id);
                ck_assert_int_eq(x->task_event->event_case, y->task_event->event_case);
                ck_assert(x->task_event->progress->fraction == y->task_event->progress->fraction);
                ck_assert_str_eq(x->task_event->progress->message, y->task_event->progress->message);
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_RESULT:
                ck_assert_str_eq(x->task_result->task_id, y->task_result->task_id);
                ck_assert_int_eq(x->task_result->state, y->task_result->state);
                ck_assert_str_eq(x->task_result->result_json, y->task_result->result_json);
                ck_assert_str_eq(x->task_result->error, y->task_result->error);
                break;
        case TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST: {
                const Troupe__V1__ExecRequest *a = x->exec_request, *b = y->exec_request;

                ck_assert_str_eq(a->request_id, b->request_id);
                ck_assert_str_eq(a->task_id, b->task_id);
                assert_bytes_eq(a->token, b->token);
                assert_strv_eq(a->argv, a->n_argv, b->argv, b->n_argv);
                assert_strv_eq(a->env, a->n_env, b->env, b->n_env);
                ck_assert_str_eq(a->cwd, b->cwd);
                ck_assert_uint_eq(a->timeout_ms, b->timeout_ms);
                assert_bytes_eq(a->stdin_data, b->stdin_data);
                break;
        }
        case TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT: {
                const Troupe__V1__ExecResult *a = x->exec_result, *b = y->exec_result;

                ck_assert_str_eq(a->request_id, b->request_id);
                ck_assert_int_eq(a->termination_case, b->termination_case);
                ck_assert_int_eq(a->signal, b->signal);
                assert_bytes_eq(a->stdout_tail, b->stdout_tail);
                assert_bytes_eq(a->stderr_tail, b->stderr_tail);
                ck_assert_int_eq(a->stdout_truncated, b->stdout_truncated);
                ck_assert_int_eq(a->stderr_truncated, b->stderr_truncated);
                ck_assert_str_eq(a->error, b->error);
                ck_assert_uint_eq(a->duration_usec, b->duration_usec);
                break;
        }
        case TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST:
                ck_assert_str_eq(x->action_request->request_id, y->action_request->request_id);
                ck_assert_str_eq(x->action_request->task_id, y->action_request->task_id);
                assert_bytes_eq(x->action_request->token, y->action_request->token);
                ck_assert_str_eq(x->action_request->action, y->action_request->action);
                assert_strv_eq(x->action_request->args, x->action_request->n_args, y->action_request->args,
                               y->action_request->n_args);
                break;
        case TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT:
                ck_assert_str_eq(x->action_result->request_id, y->action_result->request_id);
                ck_assert_int_eq(x->action_result->status, y->action_result->status);
                ck_assert_str_eq(x->action_result->message, y->action_result->message);
                ck_assert_str_eq(x->action_result->consent_id, y->action_result->consent_id);
                break;
        default:
                ck_abort_msg("test does not know body case %d", (int) x->body_case);
        }
}

static void pack_body(IpcBodyCase body, uint8_t **ret_data, size_t *ret_size) {
        Bodies b = {};
        IpcEnvelope e;

        build_body(&b, &e, body);
        ck_assert_int_eq(envelope_pack(&e, ret_data, ret_size), 0);
}

START_TEST(test_round_trip_every_body) {
        for (size_t i = 0; i < ELEMENTSOF(all_bodies); i++) {
                _cleanup_(envelope_freep) IpcEnvelope *out = NULL;
                _cleanup_free_ uint8_t *data = NULL;
                Bodies b = {};
                IpcEnvelope in;
                size_t size;

                build_body(&b, &in, all_bodies[i]);
                /* Every other one also carries a trace context. */
                if (i % 2 == 0) {
                        b.trace = (Troupe__V1__TraceContext) TROUPE__V1__TRACE_CONTEXT__INIT;
                        memset(b.trace_id, 0xab, sizeof(b.trace_id));
                        memset(b.span_id, 0xcd, sizeof(b.span_id));
                        b.trace.trace_id = (ProtobufCBinaryData) { sizeof(b.trace_id), b.trace_id };
                        b.trace.span_id = (ProtobufCBinaryData) { sizeof(b.span_id), b.span_id };
                        b.trace.flags = 1;
                        in.trace = &b.trace;
                }
                ck_assert_int_eq(envelope_pack(&in, &data, &size), 0);
                ck_assert_uint_gt(size, 0);
                ck_assert_int_eq(envelope_unpack(data, size, &out), 0);
                ck_assert_uint_eq(out->version, IPC_PROTOCOL_VERSION);
                ck_assert_uint_eq(out->seq, 4242);
                if (in.trace) {
                        ck_assert_ptr_nonnull(out->trace);
                        assert_bytes_eq(out->trace->trace_id, in.trace->trace_id);
                        assert_bytes_eq(out->trace->span_id, in.trace->span_id);
                        ck_assert_uint_eq(out->trace->flags, 1);
                } else
                        ck_assert_ptr_null(out->trace);
                assert_body_eq(&in, out);
        }
}
END_TEST

START_TEST(test_body_names) {
        /* Every case has a name that maps back to it; the table covers the whole oneof. */
        for (size_t i = 0; i < ELEMENTSOF(all_bodies); i++) {
                const char *name = envelope_body_to_string(all_bodies[i]);

                ck_assert_ptr_nonnull(name);
                ck_assert_int_eq(envelope_body_from_string(name), (int) all_bodies[i]);
        }
        ck_assert_str_eq(envelope_body_to_string(TROUPE__V1__ENVELOPE__BODY_REGISTER), "register");
        ck_assert_str_eq(envelope_body_to_string(TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK), "heartbeat_ack");
        ck_assert_ptr_null(envelope_body_to_string(TROUPE__V1__ENVELOPE__BODY__NOT_SET));
        ck_assert_ptr_null(envelope_body_to_string((IpcBodyCase) 1)); /* version: not in the oneof */
        ck_assert_ptr_null(envelope_body_to_string((IpcBodyCase) 99));
        ck_assert_int_eq(envelope_body_from_string("seq"), -EINVAL);
        ck_assert_int_eq(envelope_body_from_string("nope"), -EINVAL);
        ck_assert_int_eq(envelope_body_from_string(NULL), -EINVAL);
        ck_assert_uint_eq(troupe__v1__envelope__descriptor.n_fields, 3 + ELEMENTSOF(all_bodies));
}
END_TEST

START_TEST(test_empty) {
        IpcEnvelope *e = NULL;

        /* An empty buffer is a valid protobuf encoding of all-default fields: version 0. */
        ck_assert_int_eq(envelope_unpack((const uint8_t *) "", 0, &e), -EPROTO);
        ck_assert_int_eq(envelope_unpack(NULL, 0, &e), -EPROTO);
        ck_assert_ptr_null(e);
}
END_TEST

START_TEST(test_every_prefix_fails_cleanly) {
        for (size_t i = 0; i < ELEMENTSOF(all_bodies); i++) {
                _cleanup_free_ uint8_t *data = NULL;
                size_t size, body_start;

                pack_body(all_bodies[i], &data, &size);
                /* version (2 bytes: 08 01) and seq (3 bytes: 10 92 21) come first, the body
                 * last, so every strict prefix lacks or cuts the body. */
                ck_assert_uint_eq(data[0], 0x08);
                ck_assert_uint_eq(data[2], 0x10);
                body_start = 5;
                for (size_t n = 0; n < size; n++) {
                        IpcEnvelope *e = NULL;
                        int r = envelope_unpack(data, n, &e);

                        ck_assert_ptr_null(e);
                        if (n == 0)
                                ck_assert_int_eq(r, -EPROTO);
                        else if (n == 1 || n == 3 || n == 4)
                                ck_assert_int_eq(r, -ENODATA); /* inside version or seq */
                        else if (n == 2)
                                ck_assert_int_eq(r, -EBADMSG); /* seq 0 */
                        else if (n == body_start)
                                ck_assert_int_eq(r, -EOPNOTSUPP); /* no body */
                        else
                                ck_assert_int_eq(r, -ENODATA); /* inside the body */
                }
        }
}
END_TEST

START_TEST(test_oversized) {
        _cleanup_free_ uint8_t *big = calloc(1, IPC_MESSAGE_SIZE_MAX + 1), *data = NULL;
        _cleanup_free_ char *id = malloc(IPC_MESSAGE_SIZE_MAX);
        Troupe__V1__Heartbeat hb = TROUPE__V1__HEARTBEAT__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT, *out = NULL;
        char *ids[1];
        size_t size = 7;

        ck_assert_ptr_nonnull(big);
        ck_assert_ptr_nonnull(id);
        /* Refused on size alone: a valid header in front makes no difference. */
        memcpy(big, "\x08\x01\x10\x01", 4);
        ck_assert_int_eq(envelope_unpack(big, IPC_MESSAGE_SIZE_MAX + 1, &out), -EMSGSIZE);
        ck_assert_ptr_null(out);

        memset(id, 'a', IPC_MESSAGE_SIZE_MAX - 1);
        id[IPC_MESSAGE_SIZE_MAX - 1] = 0;
        ids[0] = id;
        hb.current_task_ids = ids;
        hb.n_current_task_ids = 1;
        e.version = IPC_PROTOCOL_VERSION;
        e.seq = 1;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        ck_assert_int_eq(envelope_pack(&e, &data, &size), -EMSGSIZE);
        ck_assert_ptr_null(data);
        ck_assert_uint_eq(size, 7);

        /* Just under the limit packs and unpacks. */
        id[IPC_MESSAGE_SIZE_MAX - 20] = 0;
        ck_assert_int_eq(envelope_pack(&e, &data, &size), 0);
        ck_assert_uint_le(size, IPC_MESSAGE_SIZE_MAX);
        ck_assert_int_eq(envelope_unpack(data, size, &out), 0);
        ck_assert_uint_eq(strlen(out->heartbeat->current_task_ids[0]), IPC_MESSAGE_SIZE_MAX - 20);
        envelope_free(out);
}
END_TEST

START_TEST(test_unknown_body) {
        IpcEnvelope *e = NULL;
        /* version 1, seq 1, then field 99 (not in the oneof), length-delimited and empty. */
        static const uint8_t unknown_message[] = { 0x08, 0x01, 0x10, 0x01, 0x9a, 0x06, 0x00 };
        /* ... field 50 as a varint. */
        static const uint8_t unknown_varint[] = { 0x08, 0x01, 0x10, 0x01, 0x90, 0x03, 0x01 };
        /* ... no body at all. */
        static const uint8_t no_body[] = { 0x08, 0x01, 0x10, 0x01 };
        /* A known body plus an unknown field is fine: that is how the protocol grows. */
        static const uint8_t known_plus_unknown[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x00, 0x9a, 0x06, 0x00 };

        ck_assert_int_eq(envelope_unpack(unknown_message, sizeof(unknown_message), &e), -EOPNOTSUPP);
        ck_assert_int_eq(envelope_unpack(unknown_varint, sizeof(unknown_varint), &e), -EOPNOTSUPP);
        ck_assert_int_eq(envelope_unpack(no_body, sizeof(no_body), &e), -EOPNOTSUPP);
        ck_assert_ptr_null(e);
        ck_assert_int_eq(envelope_unpack(known_plus_unknown, sizeof(known_plus_unknown), &e), 0);
        ck_assert_int_eq(e->body_case, TROUPE__V1__ENVELOPE__BODY_HEARTBEAT);
        envelope_free(e);
}
END_TEST

START_TEST(test_wrong_version) {
        IpcEnvelope *e = NULL;
        static const uint8_t v2[] = { 0x08, 0x02, 0x10, 0x01, 0x62, 0x00 };
        static const uint8_t v0[] = { 0x10, 0x01, 0x62, 0x00 };
        static const uint8_t v1[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x00 };
        _cleanup_free_ uint8_t *data = NULL;
        Troupe__V1__Heartbeat hb = TROUPE__V1__HEARTBEAT__INIT;
        IpcEnvelope in = TROUPE__V1__ENVELOPE__INIT;
        size_t size;

        ck_assert_int_eq(envelope_unpack(v2, sizeof(v2), &e), -EPROTO);
        ck_assert_int_eq(envelope_unpack(v0, sizeof(v0), &e), -EPROTO);
        ck_assert_ptr_null(e);
        ck_assert_int_eq(envelope_unpack(v1, sizeof(v1), &e), 0);
        envelope_free(e);

        /* What unpack refuses, pack refuses to produce. */
        in.version = 2;
        in.seq = 1;
        in.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        in.heartbeat = &hb;
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EPROTO);
        in.version = 1;
        in.seq = 0;
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EBADMSG);
        in.seq = 1;
        in.body_case = TROUPE__V1__ENVELOPE__BODY__NOT_SET;
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EOPNOTSUPP);
        ck_assert_ptr_null(data);
}
END_TEST

START_TEST(test_overlong_varint) {
        IpcEnvelope *e = NULL;
        /* version encoded in 11 bytes. */
        static const uint8_t eleven[] = { 0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                          0x80, 0x80, 0x80, 0x00, 0x10, 0x01, 0x62, 0x00 };
        /* 10 bytes, but the last carries more than bit 63. */
        static const uint8_t overflow[] = { 0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                            0x80, 0x80, 0x02, 0x10, 0x01, 0x62, 0x00 };
        /* An overlong tag. */
        static const uint8_t tag[] = {
                0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01
        };
        /* A varint that never ends. */
        static const uint8_t endless[] = { 0x08, 0xff, 0xff, 0xff };
        /* Redundant but legal: version 1 in 2 bytes. */
        static const uint8_t padded[] = { 0x08, 0x81, 0x00, 0x10, 0x01, 0x62, 0x00 };

        ck_assert_int_eq(envelope_unpack(eleven, sizeof(eleven), &e), -EBADMSG);
        ck_assert_int_eq(envelope_unpack(overflow, sizeof(overflow), &e), -EBADMSG);
        ck_assert_int_eq(envelope_unpack(tag, sizeof(tag), &e), -EBADMSG);
        ck_assert_int_eq(envelope_unpack(endless, sizeof(endless), &e), -ENODATA);
        ck_assert_ptr_null(e);
        ck_assert_int_eq(envelope_unpack(padded, sizeof(padded), &e), 0);
        ck_assert_uint_eq(e->version, 1);
        envelope_free(e);
}
END_TEST

START_TEST(test_invalid_utf8) {
        IpcEnvelope *e = NULL;
        /* Heartbeat { current_task_ids: "\xff" } */
        static const uint8_t bad_byte[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x03, 0x12, 0x01, 0xff };
        /* Heartbeat { current_task_ids: "a\0b" }: protobuf-c would hand out "a". */
        static const uint8_t nul[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x05, 0x12, 0x03, 'a', 0x00, 'b' };
        /* Overlong encoding of '/'. */
        static const uint8_t overlong[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x04, 0x12, 0x02, 0xc0, 0xaf };
        /* Three levels down: StartTask { bootstrap { options { key: "\xfe" } } } */
        static const uint8_t nested[] = { 0x08, 0x01, 0x10, 0x01, 0xa2, 0x01, 0x07,
                                          0x52, 0x05, 0x1a, 0x03, 0x0a, 0x01, 0xfe };
        /* Bytes fields may hold anything: ExecRequest { token: "\xff\x00" } */
        static const uint8_t bytes_ok[] = {
                0x08, 0x01, 0x10, 0x01, 0xf2, 0x01, 0x04, 0x1a, 0x02, 0xff, 0x00
        };
        _cleanup_free_ uint8_t *data = NULL;
        Troupe__V1__Heartbeat hb = TROUPE__V1__HEARTBEAT__INIT;
        IpcEnvelope in = TROUPE__V1__ENVELOPE__INIT;
        char *ids[] = { (char *) "ok", (char *) "\xe2\x82" };
        size_t size;

        ck_assert_int_eq(envelope_unpack(bad_byte, sizeof(bad_byte), &e), -EILSEQ);
        ck_assert_int_eq(envelope_unpack(nul, sizeof(nul), &e), -EILSEQ);
        ck_assert_int_eq(envelope_unpack(overlong, sizeof(overlong), &e), -EILSEQ);
        ck_assert_int_eq(envelope_unpack(nested, sizeof(nested), &e), -EILSEQ);
        ck_assert_ptr_null(e);
        ck_assert_int_eq(envelope_unpack(bytes_ok, sizeof(bytes_ok), &e), 0);
        ck_assert_uint_eq(e->exec_request->token.len, 2);
        envelope_free(e);

        in.version = 1;
        in.seq = 1;
        in.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        in.heartbeat = &hb;
        hb.current_task_ids = ids;
        hb.n_current_task_ids = 2;
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EILSEQ);
        ck_assert_ptr_null(data);
}
END_TEST

START_TEST(test_garbage) {
        IpcEnvelope *e = NULL;
        static const struct {
                const char *name;
                uint8_t data[8];
                size_t size;
                int error;
        } cases[] = {
                { "field number 0", { 0x00, 0x01 }, 2, -EBADMSG },
                { "wire type 7", { 0x0f, 0x01 }, 2, -EBADMSG },
                { "start group", { 0x0b, 0x0c }, 2, -EBADMSG },
                { "wire type 6", { 0x0e }, 1, -EBADMSG },
                /* version sent as a string: a known field with the wrong wire type. */
                { "version as bytes", { 0x0a, 0x01, 0x01, 0x10, 0x01, 0x62, 0x00 }, 7, -EBADMSG },
                /* heartbeat sent as a varint. */
                { "body as varint", { 0x08, 0x01, 0x10, 0x01, 0x60, 0x00 }, 6, -EBADMSG },
                /* a length running past the end. */
                { "length past end", { 0x08, 0x01, 0x10, 0x01, 0x62, 0x7f, 0x00 }, 7, -ENODATA },
                /* a nested length running past its parent's end is a lie, not truncation. */
                { "nested overrun", { 0x08, 0x01, 0x10, 0x01, 0x62, 0x02, 0x12, 0x05 }, 8, -EBADMSG },
                /* fixed64 cut short. */
                { "short fixed64", { 0x08, 0x01, 0x10, 0x01, 0x09, 0x01, 0x02 }, 7, -ENODATA },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = envelope_unpack(cases[i].data, cases[i].size, &e);

                ck_assert_msg(r == cases[i].error, "%s: got %d, expected %d", cases[i].name, r,
                              cases[i].error);
                ck_assert_ptr_null(e);
        }

        /* A deterministic spray of pseudo-random bytes must never crash or be accepted half-way. */
        uint32_t x = 0x12345678;
        for (unsigned round = 0; round < 2000; round++) {
                uint8_t buf[64];
                size_t n = 1 + round % sizeof(buf);
                int r;

                for (size_t j = 0; j < n; j++) {
                        x = x * 1103515245U + 12345U;
                        buf[j] = (uint8_t) (x >> 16);
                }
                r = envelope_unpack(buf, n, &e);
                if (r == 0) {
                        ck_assert_uint_eq(e->version, 1);
                        ck_assert_ptr_nonnull(envelope_body_to_string(e->body_case));
                        e = envelope_free(e);
                } else
                        ck_assert(r == -EBADMSG || r == -ENODATA || r == -EILSEQ || r == -EPROTO ||
                                  r == -EOPNOTSUPP);
        }
}
END_TEST

START_TEST(test_trace_context) {
        _cleanup_free_ uint8_t *data = NULL;
        Troupe__V1__TraceContext t = TROUPE__V1__TRACE_CONTEXT__INIT;
        Troupe__V1__HeartbeatAck ack = TROUPE__V1__HEARTBEAT_ACK__INIT;
        IpcEnvelope in = TROUPE__V1__ENVELOPE__INIT, *e = NULL;
        uint8_t trace_id[16] = { 1 }, span_id[8] = { 2 }, zero[16] = {};
        size_t size;

        in.version = 1;
        in.seq = 3;
        in.trace = &t;
        in.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
        in.heartbeat_ack = &ack;
        t.trace_id = (ProtobufCBinaryData) { 15, trace_id };
        t.span_id = (ProtobufCBinaryData) { 8, span_id };
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EBADMSG);
        t.trace_id = (ProtobufCBinaryData) { 16, zero };
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EBADMSG);
        t.trace_id = (ProtobufCBinaryData) { 16, trace_id };
        t.span_id = (ProtobufCBinaryData) { 8, zero };
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EBADMSG);
        t.span_id = (ProtobufCBinaryData) { 8, span_id };
        t.flags = 256;
        ck_assert_int_eq(envelope_pack(&in, &data, &size), -EBADMSG);
        t.flags = 0;
        ck_assert_int_eq(envelope_pack(&in, &data, &size), 0);
        ck_assert_int_eq(envelope_unpack(data, size, &e), 0);
        ck_assert_uint_eq(e->trace->trace_id.data[0], 1);
        envelope_free(e);

        /* The same refusal on receipt: trace { trace_id: 1 byte } */
        static const uint8_t short_id[] = {
                0x08, 0x01, 0x10, 0x01, 0x1a, 0x03, 0x0a, 0x01, 0x07, 0x6a, 0x00
        };
        ck_assert_int_eq(envelope_unpack(short_id, sizeof(short_id), &e), -EBADMSG);
}
END_TEST

START_TEST(test_error_codes) {
        static const IpcErrorCode codes[] = {
                TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_TRUNCATED,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_VERSION,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGS,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_TASK,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_AGENT,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERLOADED,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_INTERNAL,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_CONSENT_REQUIRED,
                TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_STATE,
        };

        /* Every code the contract defines is covered, has a name, and survives errno and back. */
        ck_assert_uint_eq(troupe__v1__error_code__descriptor.n_values, ELEMENTSOF(codes) + 1);
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                const char *name = ipc_error_code_to_string(codes[i]);
                int error = ipc_error_code_to_errno(codes[i]);

                ck_assert_ptr_nonnull(name);
                ck_assert_int_eq(ipc_error_code_from_string(name), (int) codes[i]);
                ck_assert_int_lt(error, 0);
                ck_assert_int_eq(ipc_error_code_from_errno(error), codes[i]);
        }

        /* The errno envelope_unpack() gives for each kind of bad packet. */
        ck_assert_int_eq(ipc_error_code_from_errno(-EMSGSIZE), TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED);
        ck_assert_int_eq(ipc_error_code_from_errno(-ENODATA), TROUPE__V1__ERROR_CODE__ERROR_CODE_TRUNCATED);
        ck_assert_int_eq(ipc_error_code_from_errno(-EBADMSG), TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED);
        ck_assert_int_eq(ipc_error_code_from_errno(-EILSEQ), TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED);
        ck_assert_int_eq(ipc_error_code_from_errno(-EPROTO),
                         TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_VERSION);
        ck_assert_int_eq(ipc_error_code_from_errno(-EOPNOTSUPP),
                         TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY);
        ck_assert_int_eq(ipc_error_code_from_errno(-ETOOMANYREFS),
                         TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED);
        ck_assert_int_eq(ipc_error_code_from_errno(EACCES),
                         TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED);
        ck_assert_int_eq(ipc_error_code_from_errno(-ENOMEM), TROUPE__V1__ERROR_CODE__ERROR_CODE_INTERNAL);

        ck_assert_str_eq(ipc_error_code_to_string(TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY),
                         "unknown-body");
        ck_assert_ptr_null(ipc_error_code_to_string(1000));
        ck_assert_ptr_null(ipc_error_code_to_string(-1));
        ck_assert_int_eq(ipc_error_code_from_string("bogus"), -EINVAL);
        ck_assert_int_eq(ipc_error_code_to_errno((IpcErrorCode) 1000), -EIO);
        ck_assert_int_eq(ipc_error_code_to_errno((IpcErrorCode) -1), -EIO);
}
END_TEST

START_TEST(test_error_envelope) {
        _cleanup_(envelope_freep) IpcEnvelope *out = NULL;
        _cleanup_free_ uint8_t *data = NULL;
        Troupe__V1__Error error;
        IpcEnvelope e;
        size_t size;

        envelope_error_init(&e, &error, TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY, 17, "try later");
        ck_assert_uint_eq(e.version, IPC_PROTOCOL_VERSION);
        /* The sender sets seq; until then the envelope is incomplete. */
        ck_assert_int_eq(envelope_pack(&e, &data, &size), -EBADMSG);
        e.seq = 2;
        ck_assert_int_eq(envelope_pack(&e, &data, &size), 0);
        ck_assert_int_eq(envelope_unpack(data, size, &out), 0);
        ck_assert_int_eq(out->body_case, TROUPE__V1__ENVELOPE__BODY_ERROR);
        ck_assert_int_eq(out->error->code, TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY);
        ck_assert_uint_eq(out->error->seq, 17);
        ck_assert_str_eq(out->error->message, "try later");

        envelope_error_init(&e, &error, TROUPE__V1__ERROR_CODE__ERROR_CODE_INTERNAL, 0, NULL);
        ck_assert_str_eq(error.message, "");
}
END_TEST

START_TEST(test_free_null) {
        ck_assert_ptr_null(envelope_free(NULL));
        { _cleanup_(envelope_freep) IpcEnvelope *e = NULL; }
        ck_assert_int_eq(envelope_pack(NULL, NULL, NULL), -EINVAL);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("envelope");
        TCase *tc = tcase_create("envelope");

        tcase_add_test(tc, test_round_trip_every_body);
        tcase_add_test(tc, test_body_names);
        tcase_add_test(tc, test_empty);
        tcase_add_test(tc, test_every_prefix_fails_cleanly);
        tcase_add_test(tc, test_oversized);
        tcase_add_test(tc, test_unknown_body);
        tcase_add_test(tc, test_wrong_version);
        tcase_add_test(tc, test_overlong_varint);
        tcase_add_test(tc, test_invalid_utf8);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_trace_context);
        tcase_add_test(tc, test_error_codes);
        tcase_add_test(tc, test_error_envelope);
        tcase_add_test(tc, test_free_null);
        suite_add_tcase(s, tc);
        return s;
}

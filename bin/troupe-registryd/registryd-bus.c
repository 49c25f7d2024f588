/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.troupe.Registry1 on the bus: the Manager, agent and task objects, and their signals.
 * Handlers go read -> validate -> act -> publish -> reply; every task change they cause is
 * committed to the journal before the reply or any signal leaves. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-describe.h"
#include "bus/bus-error.h"
#include "bus/bus-log-control.h"
#include "bus/bus-util.h"
#include "json/json-util.h"
#include "registryd-privilege.h"
#include "registryd.h"

/* ---- signals ---- */

static void registry_emit_agent_state(Agent *a) {
        int r = sd_bus_emit_signal(a->context->bus, REGISTRY_PATH, REGISTRY_MANAGER_INTERFACE,
                                   "AgentStateChanged", "ss", a->name, agent_state_to_string(a->state));
        if (r < 0)
                log_debug_errno(r, "Failed to emit AgentStateChanged for %s, ignoring: %m", a->name);
}

void registry_emit_agent_added(Agent *a) {
        int r;

        if (!a->context->bus)
                return;
        r = bus_emit_object_added(a->context->bus, REGISTRY_AGENT_PREFIX, a->name);
        if (r < 0)
                log_debug_errno(r, "Failed to announce agent %s, ignoring: %m", a->name);
        registry_emit_agent_state(a);
}

void registry_emit_agent_changed(Agent *a, char **properties, bool state_signal) {
        int r;

        if (!a->context->bus)
                return;
        r = bus_emit_properties_changed(a->context->bus, REGISTRY_AGENT_PREFIX, a->name,
                                        REGISTRY_AGENT_INTERFACE, properties);
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged for agent %s, ignoring: %m", a->name);
        if (state_signal)
                registry_emit_agent_state(a);
}

void registry_emit_task_published(Task *t, bool added, uint32_t props, const TaskState *states,
                                  size_t n_states) {
        static const struct {
                TaskProp prop;
                const char *name;
        } names[] = {
                {TASK_PROP_STATE, "State"},           {TASK_PROP_PROGRESS, "Progress"},
                {TASK_PROP_FINISHED, "FinishedUSec"}, {TASK_PROP_RESULT, "Result"},
                {TASK_PROP_ERROR, "Error"},
        };
        sd_bus *bus = t->context->bus;
        char *changed[ELEMENTSOF(names) + 1];
        size_t n = 0;
        int r;

        if (!bus)
                return;

        if (added)
                r = bus_emit_object_added(bus, REGISTRY_TASK_PREFIX, t->id);
        else {
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (props & names[i].prop)
                                changed[n++] = (char *) names[i].name;
                changed[n] = NULL;
                r = n > 0 ? bus_emit_properties_changed(bus, REGISTRY_TASK_PREFIX, t->id,
                                                        REGISTRY_TASK_INTERFACE, changed)
                          : 0;
        }
        if (r < 0)
                log_debug_errno(r, "Failed to announce changes of task %s, ignoring: %m", t->id);

        for (size_t i = 0; i < n_states; i++) {
                r = sd_bus_emit_signal(bus, REGISTRY_PATH, REGISTRY_MANAGER_INTERFACE, "TaskStateChanged",
                                       "ss", t->id, task_state_to_string(states[i]));
                if (r < 0)
                        log_debug_errno(r, "Failed to emit TaskStateChanged for %s, ignoring: %m", t->id);
        }
}

/* ---- Manager ---- */

static int method_health(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *status = NULL;
        int r;

        r = context_health(userdata, &status);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "s", status);
}

static int method_describe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_describe_reply(m, context_describe, userdata, error);
}

static int method_list_agents(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Context *c = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sso)");
        if (r < 0)
                return r;
        LIST_FOREACH(agents, a, c->agents_head) {
                _cleanup_free_ char *path = NULL;

                r = bus_object_path(REGISTRY_AGENT_PREFIX, a->name, &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(sso)", a->name, agent_state_to_string(a->state), path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

typedef struct ListTasksFilter {
        char *agent;
        char *state;
        uint32_t limit;
} ListTasksFilter;

static void list_tasks_filter_done(ListTasksFilter *f) {
        free(f->agent);
        free(f->state);
}

static int list_tasks_append(sd_bus_message *reply, Task *t) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = bus_object_path(REGISTRY_TASK_PREFIX, t->id, &path);
        if (r < 0)
                return r;
        return sd_bus_message_append(reply, "(ssso)", t->id, t->agent_name,
                                     task_state_to_string(t->pub_state), path);
}

static int method_list_tasks_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        static const BusOption table[] = {
                {"agent", "s", bus_option_string, offsetof(ListTasksFilter, agent)},
                {"state", "s", bus_option_string, offsetof(ListTasksFilter, state)},
                {"limit", "u", bus_option_uint32, offsetof(ListTasksFilter, limit)},
                {},
        };
        _cleanup_(list_tasks_filter_done) ListTasksFilter f = {.limit = LIST_TASKS_LIMIT_DEFAULT};
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Context *c = userdata;
        TaskState state = _TASK_STATE_INVALID;
        uint32_t n = 0;
        int r;

        r = bus_read_options(m, table, &f, error);
        if (r < 0)
                return r;
        if (f.state) {
                state = task_state_from_string(f.state);
                if (state < 0)
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "Filter 'state': unknown task state.");
        }
        if (f.agent && !name_is_valid(f.agent, AGENT_NAME_MAX))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Filter 'agent': not a valid agent name.");
        if (f.limit == 0 || f.limit > LIST_TASKS_LIMIT_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Filter 'limit': must be 1..%u.",
                                      LIST_TASKS_LIMIT_MAX);

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        LIST_FOREACH_BACKWARDS(tasks, t, c->tasks_tail) {
                if (n >= f.limit)
                        break;
                if (t->is_new || (f.agent && !streq(f.agent, t->agent_name)) ||
                    (state >= 0 && t->pub_state != state))
                        continue;
                r = list_tasks_append(reply, t);
                if (r < 0)
                        return r;
                n++;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

BUS_DEFINE_METHOD_HANDLER(method_list_tasks, method_list_tasks_impl);

/* Stopping work is never refused for want of an audit row: the row is written as well as it can be. */
static void task_cancel_audit(Task *t) {
        _cleanup_json_ json_t *detail = NULL;
        int r;

        if (task_state_is_final(t->state) || t->cancel_requested)
                return;
        detail = json_pack("{s:s, s:s}", "state", task_state_to_string(t->state), "reason",
                           "canceled by the user");
        r = detail ? registry_audit(t->context, NULL, "task-cancel", t->id, t->agent_name, detail, NULL,
                                    NULL)
                   : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to audit the cancel of task %s, canceling anyway: %m", t->id);
}

static int task_cancel_and_reply(sd_bus_message *m, Task *t) {
        int r;

        task_cancel_audit(t);
        r = task_cancel(t, "canceled by the user");
        if (r < 0)
                return r;
        r = context_flush(t->context);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_cancel_task_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *id;
        Task *t;
        int r;

        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        t = task_get(userdata, id);
        if (!t || t->is_new)
                return bus_error_no_such_task(error, id);
        return task_cancel_and_reply(m, t);
}

BUS_DEFINE_METHOD_HANDLER(method_cancel_task, method_cancel_task_impl);

/* ---- Consent (Manager side) ---- */

static int method_list_consents(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Context *c = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        LIST_FOREACH(consents, req, c->consents_head) {
                _cleanup_free_ char *path = NULL;

                if (req->state != CONSENT_STATE_PENDING)
                        continue;
                r = bus_object_path(REGISTRY_CONSENT_PREFIX, req->id, &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "(ssso)", req->id, req->agent, req->capability, path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* What a user may answer; "expired" and "canceled" are the registry's to give. */
static int consent_decision_from_bus(const char *s, sd_bus_error *error, ConsentDecision *ret) {
        ConsentDecision d = consent_decision_from_string(s);

        if (d != CONSENT_ALLOW_ONCE && d != CONSENT_ALLOW_ALWAYS && d != CONSENT_DENY)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Unknown decision '%s': use allow-once, allow-always or deny.", s);
        *ret = d;
        return 0;
}

static int method_answer_consent_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *id, *decision;
        ConsentRequest *req;
        ConsentDecision d = _CONSENT_DECISION_INVALID;
        int r;

        r = sd_bus_message_read(m, "ss", &id, &decision);
        if (r < 0)
                return r;
        r = consent_decision_from_bus(decision, error, &d);
        if (r < 0)
                return r;
        req = consent_get(userdata, id);
        if (!req || req->state != CONSENT_STATE_PENDING)
                return bus_error_no_such_consent(error, id);
        return consent_answer_call(req, d, m, error);
}

BUS_DEFINE_METHOD_HANDLER(method_answer_consent, method_answer_consent_impl);

static int list_grants_append(const JournalGrant *g, void *userdata) {
        return sd_bus_message_append(userdata, "(ssst)", g->agent, g->capability, g->consent_id,
                                     (uint64_t) g->granted_usec);
}

static int method_list_grants_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Context *c = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssst)");
        if (r < 0)
                return r;
        r = journal_grant_foreach(c->journal, list_grants_append, reply);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to read the stored grants: %m");
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

BUS_DEFINE_METHOD_HANDLER(method_list_grants, method_list_grants_impl);

static int method_revoke_grant_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *agent, *capability;
        int r;

        r = sd_bus_message_read(m, "ss", &agent, &capability);
        if (r < 0)
                return r;
        return consent_grant_revoke(userdata, agent, capability, m, error);
}

BUS_DEFINE_METHOD_HANDLER(method_revoke_grant, method_revoke_grant_impl);

/* ---- Audit ---- */

static int audit_reply_rows(sd_bus_message *m, Context *c, const char *task, uint64_t after_seq,
                            uint32_t max, sd_bus_error *error) {
        _cleanup_free_ char *json = NULL;
        int r;

        r = registry_audit_query(c, task, after_seq, max, &json);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to read the audit log %s: %m",
                                            strna(c->audit_path));
        return sd_bus_reply_method_return(m, "s", json);
}

static int method_get_audit_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        uint64_t after_seq;
        uint32_t max;
        int r;

        r = sd_bus_message_read(m, "tu", &after_seq, &max);
        if (r < 0)
                return r;
        return audit_reply_rows(m, userdata, NULL, after_seq, max, error);
}

BUS_DEFINE_METHOD_HANDLER(method_get_audit, method_get_audit_impl);

static int method_get_task_audit_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *task;
        uint64_t after_seq;
        uint32_t max;
        int r;

        r = sd_bus_message_read(m, "stu", &task, &after_seq, &max);
        if (r < 0)
                return r;
        /* Not task_get(): the rows outlive the tasks that retention prunes. */
        if (!name_is_valid(task, AUDIT_FIELD_MAX))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Not a valid task id.");
        return audit_reply_rows(m, userdata, task, after_seq, max, error);
}

BUS_DEFINE_METHOD_HANDLER(method_get_task_audit, method_get_task_audit_impl);

static int audit_verify_or_fail(Context *c, AuditVerification *v, sd_bus_error *error) {
        int r;

        r = registry_audit_verify(c, v);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to read the audit log %s: %m",
                                            strna(c->audit_path));
        if (!v->ok)
                log_warning("The audit log %s is damaged at seq %" PRIu64 ": %s.", c->audit_path, v->bad_seq,
                            audit_damage_explain(v->damage));
        return 0;
}

static int method_verify_audit_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        AuditVerification v;
        int r;

        r = audit_verify_or_fail(userdata, &v, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "bts", v.ok, v.rows, v.head);
}

BUS_DEFINE_METHOD_HANDLER(method_verify_audit, method_verify_audit_impl);

static int method_verify_audit_detailed_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        AuditVerification v;
        int r;

        r = audit_verify_or_fail(userdata, &v, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "btsts", v.ok, v.rows, v.head, v.bad_seq,
                                          v.ok ? "" : audit_damage_to_string(v.damage));
}

BUS_DEFINE_METHOD_HANDLER(method_verify_audit_detailed, method_verify_audit_detailed_impl);

/* A RecordAudit() waiting for its row to be durable: only then does the supervisor spawn. */
typedef struct RecordAuditCall {
        sd_bus_message *call;
        uint64_t seq;
} RecordAuditCall;

static void record_audit_done(Context *c, int error, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        RecordAuditCall *rc = userdata;
        int r;

        if (error < 0) {
                (void) registry_audit_refused(c, error, &e);
                r = sd_bus_reply_method_error(rc->call, &e);
        } else
                r = sd_bus_reply_method_return(rc->call, "t", rc->seq);
        if (r < 0)
                log_debug_errno(r, "Failed to answer RecordAudit(), ignoring: %m");
        sd_bus_message_unref(rc->call);
        free(rc);
}

static int method_record_audit_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_free_ RecordAuditCall *rc = NULL;
        _cleanup_free_ char *parse_error = NULL;
        _cleanup_json_ json_t *detail = NULL;
        const char *action, *task, *agent, *detail_json;
        Context *c = userdata;
        int r;

        r = sd_bus_message_read(m, "ssss", &action, &task, &agent, &detail_json);
        if (r < 0)
                return r;
        r = registry_audit_check_recorder(c, m, error);
        if (r < 0)
                return r;
        r = json_parse(detail_json, strlen(detail_json), AUDIT_DETAIL_MAX, 0, 0, &detail, &parse_error);
        if (r < 0 || !json_is_object(detail))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "The detail must be a JSON object of at most %u bytes%s%s",
                                      AUDIT_DETAIL_MAX, parse_error ? ": " : ".", strempty(parse_error));

        rc = calloc(1, sizeof(RecordAuditCall));
        if (!rc)
                return -ENOMEM;
        r = registry_audit_append(c,
                                  &(AuditEntry){.actor = "supervisor",
                                                .action = action,
                                                .task = task,
                                                .agent = agent,
                                                .detail = detail},
                                  record_audit_done, rc, &rc->seq);
        if (r == -EINVAL)
                return bus_error_setf(
                        error, BUS_ERROR_INVALID_ARGS,
                        "Not a valid audit row: the action is 1..%u of a-z 0-9 . -, the task and "
                        "agent at most %u bytes of UTF-8.",
                        AUDIT_ACTION_MAX, AUDIT_FIELD_MAX);
        if (r == -EMSGSIZE)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "The detail exceeds %u bytes.",
                                      AUDIT_DETAIL_MAX);
        if (r < 0)
                return registry_audit_refused(c, r, error);
        rc->call = sd_bus_message_ref(m);
        TAKE_PTR(rc);
        return 1;
}

BUS_DEFINE_METHOD_HANDLER(method_record_audit, method_record_audit_impl);

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_socket(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        return sd_bus_message_append(reply, "s", strempty(c->socket_path));
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AgentSocket", "s", property_get_socket, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HeartbeatIntervalUSec", "t", NULL, offsetof(Context, heartbeat_interval_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ConsentTimeoutUSec", "t", NULL, offsetof(Context, consent_timeout_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Health", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", status), method_health,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        BUS_DESCRIBE_METHOD(method_describe),
        SD_BUS_METHOD_WITH_ARGS("ListAgents", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sso)", agents),
                                method_list_agents, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListTasks", SD_BUS_ARGS("a{sv}", filter), SD_BUS_RESULT("a(ssso)", tasks),
                                method_list_tasks, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateTask", SD_BUS_ARGS("s", agent, "a{sv}", params),
                                SD_BUS_RESULT("s", id, "o", path), method_create_task,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CancelTask", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_cancel_task,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListConsents", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssso)", consents),
                                method_list_consents, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AnswerConsent", SD_BUS_ARGS("s", id, "s", decision), SD_BUS_NO_RESULT,
                                method_answer_consent, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListGrants", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssst)", grants),
                                method_list_grants, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RevokeGrant", SD_BUS_ARGS("s", agent, "s", capability), SD_BUS_NO_RESULT,
                                method_revoke_grant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetAudit", SD_BUS_ARGS("t", after_seq, "u", max), SD_BUS_RESULT("s", json),
                                method_get_audit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTaskAudit", SD_BUS_ARGS("s", task, "t", after_seq, "u", max),
                                SD_BUS_RESULT("s", json), method_get_task_audit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("VerifyAudit", SD_BUS_NO_ARGS, SD_BUS_RESULT("b", ok, "t", rows, "s", head),
                                method_verify_audit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("VerifyAuditDetailed", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("b", ok, "t", rows, "s", head, "t", bad_seq, "s", damage),
                                method_verify_audit_detailed, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RecordAudit",
                                SD_BUS_ARGS("s", action, "s", task, "s", agent, "s", detail_json),
                                SD_BUS_RESULT("t", seq), method_record_audit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenWorkspace", SD_BUS_ARGS("s", target, "a{sv}", options),
                                SD_BUS_RESULT("s", status, "s", message), method_open_workspace,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("TaskStateChanged", SD_BUS_ARGS("s", id, "s", state), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ConsentRequested", SD_BUS_ARGS("s", id, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ConsentAnswered", SD_BUS_ARGS("s", id, "s", decision), 0),
        SD_BUS_SIGNAL_WITH_ARGS("AgentStateChanged", SD_BUS_ARGS("s", name, "s", state), 0),
        SD_BUS_VTABLE_END,
};

/* ---- Agents ---- */

static int agent_property_get_state(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        Agent *a = userdata;
        return sd_bus_message_append(reply, "s", agent_state_to_string(a->state));
}

static int agent_property_get_version(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        Agent *a = userdata;
        return sd_bus_message_append(reply, "s", strempty(a->version));
}

static int agent_property_get_skills(sd_bus *bus, const char *path, const char *interface,
                                     const char *property, sd_bus_message *reply, void *userdata,
                                     sd_bus_error *error) {
        Agent *a = userdata;
        return sd_bus_message_append_strv(reply, a->skills ?: STRV_MAKE(NULL));
}

static int agent_property_get_current_tasks(sd_bus *bus, const char *path, const char *interface,
                                            const char *property, sd_bus_message *reply, void *userdata,
                                            sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = agent_current_task_ids(userdata, &l);
        if (r < 0)
                return r;
        return sd_bus_message_append_strv(reply, l);
}

/* LastHeartbeatUSec changes every heartbeat of every agent; announcing it would put 10,000 signals
 * a second on the bus for 10,000 agents, so it is read on demand (EmitsChangedSignal=false) and
 * State carries what it means. */
static const sd_bus_vtable agent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Agent, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", agent_property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Pid", "u", NULL, offsetof(Agent, pid), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Version", "s", agent_property_get_version, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Skills", "as", agent_property_get_skills, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastHeartbeatUSec", "t", NULL, offsetof(Agent, last_heartbeat_usec), 0),
        SD_BUS_PROPERTY("CurrentTasks", "as", agent_property_get_current_tasks, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

static int agent_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                             void **found, sd_bus_error *error) {
        _cleanup_free_ char *name = NULL;
        Agent *a;

        if (bus_object_name(REGISTRY_AGENT_PREFIX, path, &name) < 0)
                return 0;
        a = agent_get(userdata, name);
        if (!a)
                return 0;
        *found = a;
        return 1;
}

static int agent_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                 sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Context *c = userdata;
        size_t i = 0;
        int r;

        l = calloc(c->n_agents + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        LIST_FOREACH(agents, a, c->agents_head) {
                r = bus_object_path(REGISTRY_AGENT_PREFIX, a->name, &l[i]);
                if (r < 0)
                        return r;
                i++;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

/* ---- Tasks ---- */

static int task_property_get_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Task *t = userdata;
        return sd_bus_message_append(reply, "s", t->id);
}

static int task_property_get_state(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Task *t = userdata;
        return sd_bus_message_append(reply, "s", task_state_to_string(t->pub_state));
}

static int task_property_get_finished(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        Task *t = userdata;
        return sd_bus_message_append(reply, "t", task_state_is_final(t->pub_state) ? t->finished_usec : 0);
}

static int task_property_get_error(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        Task *t = userdata;
        return sd_bus_message_append(reply, "s",
                                     task_state_is_final(t->pub_state) ? strempty(t->error) : "");
}

/* Results can be 64 KiB each: they stay in the journal, not in memory. */
static int task_property_get_result(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error) {
        _cleanup_free_ char *result = NULL;
        Task *t = userdata;
        int r;

        if (!task_state_is_final(t->pub_state))
                return sd_bus_message_append(reply, "s", "");
        r = journal_task_get_text(t->context->journal, t->id, JOURNAL_TASK_RESULT, &result);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to read the result of task %s: %m", t->id);
        return sd_bus_message_append(reply, "s", result);
}

static int method_task_cancel_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return task_cancel_and_reply(m, userdata);
}

BUS_DEFINE_METHOD_HANDLER(method_task_cancel, method_task_cancel_impl);

static int method_task_open_events_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t after_seq;
        int r;

        r = sd_bus_message_read(m, "t", &after_seq);
        if (r < 0)
                return r;
        r = event_reader_open(userdata, after_seq, &fd);
        if (r == -ENOBUFS)
                return bus_error_setf(error, BUS_ERROR_OVERLOADED,
                                      "Too many event readers; try again later.");
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "h", fd);
}

BUS_DEFINE_METHOD_HANDLER(method_task_open_events, method_task_open_events_impl);

static const sd_bus_vtable task_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", task_property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Agent", "s", NULL, offsetof(Task, agent_name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", task_property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Workspace", "s", NULL, offsetof(Task, workspace), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CreatedUSec", "t", NULL, offsetof(Task, created_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FinishedUSec", "t", task_property_get_finished, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Progress", "d", NULL, offsetof(Task, pub_progress),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Result", "s", task_property_get_result, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", task_property_get_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_task_cancel,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenEvents", SD_BUS_ARGS("t", after_seq), SD_BUS_RESULT("h", events),
                                method_task_open_events, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int task_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                            void **found, sd_bus_error *error) {
        _cleanup_free_ char *id = NULL;
        Task *t;

        if (bus_object_name(REGISTRY_TASK_PREFIX, path, &id) < 0)
                return 0;
        t = task_get(userdata, id);
        /* A task exists on the bus once it is committed. */
        if (!t || t->is_new)
                return 0;
        *found = t;
        return 1;
}

static int task_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Context *c = userdata;
        size_t i = 0;
        int r;

        l = calloc(c->n_tasks + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        LIST_FOREACH(tasks, t, c->tasks_head) {
                if (t->is_new)
                        continue;
                r = bus_object_path(REGISTRY_TASK_PREFIX, t->id, &l[i]);
                if (r < 0)
                        return r;
                i++;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

/* ---- Consent requests ---- */

void registry_emit_consent_added(ConsentRequest *req) {
        _cleanup_free_ char *path = NULL;
        sd_bus *bus = req->context->bus;
        int r;

        if (!bus)
                return;
        r = bus_emit_object_added(bus, REGISTRY_CONSENT_PREFIX, req->id);
        if (r < 0)
                log_debug_errno(r, "Failed to announce consent request %s, ignoring: %m", req->id);
        r = bus_object_path(REGISTRY_CONSENT_PREFIX, req->id, &path);
        if (r >= 0)
                r = sd_bus_emit_signal(bus, REGISTRY_PATH, REGISTRY_MANAGER_INTERFACE, "ConsentRequested",
                                       "so", req->id, path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit ConsentRequested for %s, ignoring: %m", req->id);
}

/* While the object can still be found: sd-bus reads the properties and interfaces from it. */
void registry_emit_consent_settled(ConsentRequest *req, ConsentDecision d) {
        sd_bus *bus = req->context->bus;
        int r;

        if (!bus)
                return;
        r = bus_emit_properties_changed(bus, REGISTRY_CONSENT_PREFIX, req->id, REGISTRY_CONSENT_INTERFACE,
                                        STRV_MAKE("State"));
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged for consent %s, ignoring: %m", req->id);
        r = sd_bus_emit_signal(bus, REGISTRY_PATH, REGISTRY_MANAGER_INTERFACE, "ConsentAnswered", "ss",
                               req->id, consent_decision_to_string(d));
        if (r < 0)
                log_warning_errno(r, "Failed to emit ConsentAnswered for %s, ignoring: %m", req->id);
        r = bus_emit_object_removed(bus, REGISTRY_CONSENT_PREFIX, req->id);
        if (r < 0)
                log_debug_errno(r, "Failed to announce removal of consent %s, ignoring: %m", req->id);
}

static int consent_property_get_id(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        ConsentRequest *req = userdata;
        return sd_bus_message_append(reply, "s", req->id);
}

static int consent_property_get_state(sd_bus *bus, const char *path, const char *interface,
                                      const char *property, sd_bus_message *reply, void *userdata,
                                      sd_bus_error *error) {
        ConsentRequest *req = userdata;
        return sd_bus_message_append(reply, "s", consent_state_to_string(req->state));
}

static int method_consent_answer_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ConsentRequest *req = userdata;
        const char *decision;
        ConsentDecision d = _CONSENT_DECISION_INVALID;
        int r;

        r = sd_bus_message_read(m, "s", &decision);
        if (r < 0)
                return r;
        r = consent_decision_from_bus(decision, error, &d);
        if (r < 0)
                return r;
        if (req->state != CONSENT_STATE_PENDING)
                return bus_error_no_such_consent(error, req->id);
        return consent_answer_call(req, d, m, error);
}

BUS_DEFINE_METHOD_HANDLER(method_consent_answer, method_consent_answer_impl);

static const sd_bus_vtable consent_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", consent_property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Task", "s", NULL, offsetof(ConsentRequest, task_id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Agent", "s", NULL, offsetof(ConsentRequest, agent), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Capability", "s", NULL, offsetof(ConsentRequest, capability),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Reason", "s", NULL, offsetof(ConsentRequest, reason), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CreatedUSec", "t", NULL, offsetof(ConsentRequest, created_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ExpiresUSec", "t", NULL, offsetof(ConsentRequest, expires_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", consent_property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Answer", SD_BUS_ARGS("s", decision), SD_BUS_NO_RESULT,
                                method_consent_answer, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int consent_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                               void **found, sd_bus_error *error) {
        _cleanup_free_ char *id = NULL;
        ConsentRequest *req;

        if (bus_object_name(REGISTRY_CONSENT_PREFIX, path, &id) < 0)
                return 0;
        req = consent_get(userdata, id);
        if (!req)
                return 0;
        *found = req;
        return 1;
}

static int consent_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                   sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Context *c = userdata;
        size_t i = 0;
        int r;

        l = calloc(c->n_consents + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        LIST_FOREACH(consents, req, c->consents_head) {
                r = bus_object_path(REGISTRY_CONSENT_PREFIX, req->id, &l[i]);
                if (r < 0)
                        return r;
                i++;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

int registry_bus_setup(Context *c) {
        int r;

        r = sd_bus_add_object_vtable(c->bus, NULL, REGISTRY_PATH, REGISTRY_MANAGER_INTERFACE, manager_vtable,
                                     c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the Manager object: %m");
        r = sd_bus_add_fallback_vtable(c->bus, NULL, REGISTRY_AGENT_PREFIX, REGISTRY_AGENT_INTERFACE,
                                       agent_vtable, agent_object_find, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the agent objects: %m");
        r = sd_bus_add_node_enumerator(c->bus, NULL, REGISTRY_AGENT_PREFIX, agent_node_enumerator, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the agent enumerator: %m");
        r = sd_bus_add_fallback_vtable(c->bus, NULL, REGISTRY_TASK_PREFIX, REGISTRY_TASK_INTERFACE,
                                       task_vtable, task_object_find, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the task objects: %m");
        r = sd_bus_add_node_enumerator(c->bus, NULL, REGISTRY_TASK_PREFIX, task_node_enumerator, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the task enumerator: %m");
        r = sd_bus_add_fallback_vtable(c->bus, NULL, REGISTRY_CONSENT_PREFIX, REGISTRY_CONSENT_INTERFACE,
                                       consent_vtable, consent_object_find, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the consent objects: %m");
        r = sd_bus_add_node_enumerator(c->bus, NULL, REGISTRY_CONSENT_PREFIX, consent_node_enumerator, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the consent enumerator: %m");
        r = bus_add_object_manager(c->bus, REGISTRY_PATH, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = bus_log_control_add(c->bus, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add LogControl1: %m");

        /* Last, so that no call arrives before the objects exist. */
        r = bus_request_name(c->bus, REGISTRY_BUS_NAME);
        if (r == -EEXIST)
                return log_error_errno(r, "Another instance already owns %s.", REGISTRY_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", REGISTRY_BUS_NAME);
        return 0;
}

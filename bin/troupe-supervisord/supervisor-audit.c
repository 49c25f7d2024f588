/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's rows in the audit log, which the registry writes (docs/audit.md): a spawn is
 * recorded, durably, before the process starts; what becomes of it is recorded after the fact. */
#include "supervisor-audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"

#define REGISTRY_BUS_NAME "org.troupe.Registry1"
#define REGISTRY_PATH "/org/troupe/Registry1"
#define REGISTRY_MANAGER_INTERFACE "org.troupe.Registry1.Manager"

/* A followed process remembers the pid whose exit is still to be recorded in its watch userdata. */
#define PID_TO_PTR(p) ((void *) (uintptr_t) (p))
#define PTR_TO_PID(p) ((pid_t) (uintptr_t) (p))

typedef struct AuditCall {
        Context *context;
        SupervisorAuditDone done; /* NULL once called */
        SupervisorAuditFree free_userdata;
        void *userdata;
} AuditCall;

static void audit_call_destroy(void *userdata) {
        AuditCall *ac = userdata;

        /* Never answered: the bus went away first. */
        if (ac->done && ac->free_userdata)
                ac->free_userdata(ac->userdata);
        free(ac);
}

static int on_record_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        AuditCall *ac = userdata;
        SupervisorAuditDone done = TAKE_PTR(ac->done);
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint64_t seq = 0;
        int r;

        if (e) {
                r = -sd_bus_error_get_errno(e);
                done(ac->context, r < 0 ? r : -EIO, e->message ?: e->name, 0, ac->userdata);
                return 0;
        }
        r = sd_bus_message_read(reply, "t", &seq);
        done(ac->context, MIN(r, 0), r < 0 ? "the registry's answer to RecordAudit() is malformed" : NULL,
             seq, ac->userdata);
        return 0;
}

/* Rows nobody waits for: a failure is logged, and that is all that can be done. */
static int on_best_effort_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                log_warning("Failed to record '%s' in the audit log, ignoring: %s", (const char *) userdata,
                            e->message ?: e->name);
        return 0;
}

/* RecordAudit(action, "", agent, detail). With `ac` the answer goes to its handler, else to the log. */
static int audit_call(Context *c, const char *action, const char *agent, const json_t *detail,
                      AuditCall *ac) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *json = NULL;
        int r;

        if (!c->bus)
                return -ENOTCONN;
        r = json_dump_string(detail, JSON_DUMP_COMPACT | JSON_DUMP_SORT_KEYS, &json);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(c->bus, &m, REGISTRY_BUS_NAME, REGISTRY_PATH,
                                           REGISTRY_MANAGER_INTERFACE, "RecordAudit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ssss", action, "", strempty(agent), json);
        if (r < 0)
                return r;
        r = sd_bus_call_async(c->bus, &slot, m, ac ? on_record_reply : on_best_effort_reply,
                              ac ?: (void *) action, SUPERVISOR_AUDIT_TIMEOUT_USEC);
        if (r < 0)
                return r;
        /* The bus keeps the slot until the answer (or the timeout) has been handled. */
        if (ac)
                (void) sd_bus_slot_set_destroy_callback(slot, audit_call_destroy);
        (void) sd_bus_slot_set_floating(slot, true);
        return 0;
}

static void audit_best_effort(Context *c, const char *action, const char *agent, const json_t *detail) {
        int r;

        r = detail ? audit_call(c, action, agent, detail, NULL) : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to record '%s' in the audit log, ignoring: %m", action);
}

/* ---- spawn ------------------------------------------------------------------------------------- */

static json_t *strv_to_json(char *const *l, size_t max) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; l && l[i] && i < max; i++)
                if (json_array_append_new(a, json_string(l[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* Only the names: values are often secrets, and the detail says what ran, not with which keys. */
static json_t *env_names_to_json(char *const *env) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; env && env[i]; i++)
                if (json_array_append_new(a, json_stringn(env[i], strcspn(env[i], "="))) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_t *limits_to_json(const SpawnOptions *o) {
        _cleanup_json_ json_t *v = json_object();
        const struct {
                const char *name;
                uint64_t value;
        } limits[] = {
                {"memory_max", o->memory_max},
                {"tasks_max", o->tasks_max},
                {"cpu_weight", o->cpu_weight},
        };

        if (!v)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(limits); i++)
                if (limits[i].value != SPAWN_LIMIT_UNSET &&
                    json_object_set_new(v, limits[i].name, json_integer((json_int_t) limits[i].value)) < 0)
                        return NULL;
        return TAKE_PTR(v);
}

static json_t *spawn_detail(const char *sender, const char *name, char *const *argv, size_t argv_max,
                            const SpawnOptions *o) {
        size_t argc = strv_length(argv);

        return json_pack("{s:s, s:o, s:I, s:b, s:s?, s:s?, s:s?, s:o, s:o, s:o, s:o, s:b, s:s, s:s?}",
                         "name", name, "argv", strv_to_json(argv, argv_max), "argc", (json_int_t) argc,
                         "argv_truncated", argc > argv_max, "profile", o->profile, "workspace", o->workspace,
                         "cwd", o->cwd, "capabilities", strv_to_json(o->capabilities, SIZE_MAX), "read_only",
                         strv_to_json(o->read_only, SIZE_MAX), "limits", limits_to_json(o), "env",
                         env_names_to_json(o->env), "agent", o->agent, "restart",
                         restart_policy_to_string(o->restart), "requested_by", sender);
}

/* The whole argv if it fits in a row, else as much of it as does (argc and argv_truncated say so):
 * a spawn is not refused for a long command line. */
static int spawn_detail_fitted(const char *sender, const char *name, char *const *argv,
                               const SpawnOptions *o, json_t **ret) {
        size_t n = strv_length(argv);

        for (;;) {
                _cleanup_json_ json_t *v = spawn_detail(sender, name, argv, n, o);
                _cleanup_free_ char *s = NULL;
                int r;

                if (!v)
                        return -ENOMEM;
                r = json_dump_string(v, JSON_DUMP_COMPACT, &s);
                if (r < 0)
                        return r;
                if (strlen(s) <= AUDIT_DETAIL_MAX) {
                        *ret = TAKE_PTR(v);
                        return 0;
                }
                if (n == 0)
                        return -EMSGSIZE;
                n /= 2;
        }
}

int supervisor_audit_spawn(Context *c, const char *sender, const char *name, char *const *argv,
                           const SpawnOptions *o, SupervisorAuditDone done,
                           SupervisorAuditFree free_userdata, void *userdata) {
        _cleanup_json_ json_t *detail = NULL;
        AuditCall *ac;
        int r;

        r = spawn_detail_fitted(sender, name, argv, o, &detail);
        if (r < 0)
                return r;
        ac = malloc(sizeof(AuditCall));
        if (!ac)
                return -ENOMEM;
        *ac = (AuditCall){.context = c, .done = done, .free_userdata = free_userdata, .userdata = userdata};
        r = audit_call(c, "spawn", o->agent ? name : NULL, detail, ac);
        if (r < 0)
                /* It never went out, so the slot does not own it. */
                free(ac);
        return r;
}

void supervisor_audit_spawn_failed(Context *c, const char *name, uint64_t spawn_seq, const char *message) {
        _cleanup_json_ json_t *detail = json_pack("{s:s, s:I, s:s}", "name", name, "spawn_seq",
                                                  (json_int_t) spawn_seq, "error", strna(message));

        audit_best_effort(c, "spawn-failed", NULL, detail);
}

/* ---- afterwards -------------------------------------------------------------------------------- */

static const char *exit_code_to_string(int code) {
        switch (code) {
        case CLD_EXITED:
                return "exited";
        case CLD_KILLED:
                return "killed";
        case CLD_DUMPED:
                return "dumped";
        default:
                return "unknown";
        }
}

static void on_process_changed(Process *p, void *userdata) {
        pid_t recorded = PTR_TO_PID(userdata);
        const char *agent = p->options.agent ? p->name : NULL;

        if (p->state == PROCESS_RUNNING && p->pid > 0 && p->pid != recorded) {
                _cleanup_json_ json_t *detail =
                        json_pack("{s:s, s:s, s:i, s:I}", "id", p->id, "name", p->name, "pid", (int) p->pid,
                                  "restarts", (json_int_t) p->restarts);

                p->watch_userdata = PID_TO_PTR(p->pid);
                audit_best_effort(p->context, "restart", agent, detail);
        } else if (p->state != PROCESS_RUNNING && recorded > 0) {
                _cleanup_json_ json_t *detail = json_pack(
                        "{s:s, s:s, s:i, s:i, s:s, s:i, s:s}", "id", p->id, "name", p->name, "pid",
                        (int) recorded, "code", p->exit_code, "how", exit_code_to_string(p->exit_code),
                        "status", p->exit_status, "state", process_state_to_string(p->state));

                p->watch_userdata = PID_TO_PTR(0);
                audit_best_effort(p->context, "exit", agent, detail);
        }
}

void supervisor_audit_follow(Process *p, uint64_t spawn_seq) {
        _cleanup_json_ json_t *detail = NULL, *confinement = NULL;

        /* What was actually applied, as the Confinement property says; a report that does not parse
         * is recorded as the text it is. */
        if (p->confinement && json_parse(p->confinement, strlen(p->confinement), AUDIT_DETAIL_MAX / 2, 0, 0,
                                         &confinement, NULL) < 0)
                confinement = json_string(p->confinement);
        detail = json_pack("{s:s, s:s, s:i, s:I, s:O?}", "id", p->id, "name", p->name, "pid", (int) p->pid,
                           "spawn_seq", (json_int_t) spawn_seq, "confinement", confinement);
        audit_best_effort(p->context, "spawned", p->options.agent ? p->name : NULL, detail);

        /* Bus-spawned processes have no other watcher: only suite members do. */
        p->watch = on_process_changed;
        p->watch_userdata = PID_TO_PTR(p->pid);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Privileged actions the suite performs for a task, outside its sandbox: asked for by the task's agent
 * (ActionRequest) or by the user over the bus (OpenWorkspace(), registryd-open.c). Both go the same
 * way: capability (pre-granted -- for an agent, carried in its token --, stored grant or policy, else
 * the user's consent) -> audit row, durable -> perform; the asker gets one answer once decided (an
 * agent: CONSENT_PENDING first when the user is asked, then the final ActionResult with the same
 * request_id; a bus caller: the method's reply). The actions: exec.editor (the supervisor runs the
 * user's editor on the task's workspace, unconfined) and capability.request (an agent asks for a
 * lasting grant of a requestable capability, which the tokens of its later tasks then carry). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/capability.h"
#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "json/json-util.h"
#include "paths/path-resolve.h"
#include "registryd-editor.h"
#include "registryd-privilege.h"

#define ACTION_REQUEST_ID_MAX 64U
#define ACTION_NAME_MAX 128U
#define ACTION_ARGS_MAX 64U
#define ACTION_MESSAGE_MAX 1024U
/* ActionRequests in flight at once (most of them waiting for the user). */
#define ACTIONS_PENDING_MAX 1024U


#define SUPERVISOR_BUS_NAME "org.troupe.Supervisor1"
#define SUPERVISOR_PATH "/org/troupe/Supervisor1"
#define SUPERVISOR_MANAGER_INTERFACE "org.troupe.Supervisor1.Manager"

/* The session's display and desktop: what a graphical editor needs to appear where the user is. */
static const char *const editor_env_passed[] = {
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "XAUTHORITY",
        "XDG_RUNTIME_DIR",
        "XDG_SESSION_TYPE",
        "XDG_CURRENT_DESKTOP",
        "DBUS_SESSION_BUS_ADDRESS",
        "HOME",
        "PATH",
        "LANG",
        "LC_ALL",
};

typedef enum ActionKind {
        ACTION_EDITOR,
        ACTION_CAPABILITY_REQUEST,
} ActionKind;

typedef struct ActionType {
        const char *name;
        ActionKind kind;
        const char *capability; /* NULL: the action's one argument names it */
        size_t max_args;
        /* What the user is asked, in the consent request's Reason. */
        const char *what;
} ActionType;

struct ActionPending {
        Context *context; /* NULL once orphaned: the registry exits while its audit row is in flight */
        /* Where the answer goes: the agent's connection (a reference) or the bus call (OpenWorkspace()). */
        IpcConnection *ipc;
        sd_bus_message *call;
        const ActionType *type;
        char *request_id;
        char *task_id;
        char *agent;
        char *actor; /* who asked: the agent, or "user" for a bus caller */
        char *capability; /* what is checked: the type's, or capability.request's argument */
        AgentCard *card; /* a card loaded for an agent the registry has not seen since it started */
        char *path; /* exec.editor's argument, NULL for the workspace itself */
        char *workspace; /* the task's, as it was when asked */
        char *target; /* what the editor opens, once resolved */
        char *consent_id;
        const char *granted_by; /* "token", "card", "grant", "policy", "user" */
        uid_t caller_uid; /* a bus caller's */
        pid_t caller_pid;
        /* Once allowed: what is spawned, kept while its audit row is being made durable. */
        char **argv;
        bool audit_in_flight;
        sd_bus_slot *spawn_slot;
        LIST_FIELDS(ActionPending, actions);
};

/* The token an agent's request carries, checked again when its capability is pre-granted. */
typedef struct ActionToken {
        AgentConn *conn;
        const void *data;
        size_t size;
} ActionToken;

static const ActionType action_types[] = {
        {"exec.editor", ACTION_EDITOR, "exec.editor", 1, "open the task workspace in your editor"},
        {"capability.request", ACTION_CAPABILITY_REQUEST, NULL, 1,
         "use it in the tasks it starts from now on (a lasting grant: answer allow-always to give it)"},
};

static const ActionType *action_type_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(action_types); i++)
                if (streq(action_types[i].name, name))
                        return &action_types[i];
        return NULL;
}

static const char *action_status_to_string(Troupe__V1__ActionStatus s) {
        switch (s) {
        case TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE:
                return "done";
        case TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED:
                return "denied";
        case TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING:
                return "consent-pending";
        default:
                return "failed";
        }
}

static ActionPending *action_pending_free(ActionPending *p) {
        if (!p)
                return NULL;
        if (p->context) {
                LIST_REMOVE(actions, p->context->actions_head, p->context->actions_tail, p);
                p->context->n_actions--;
        }
        p->spawn_slot = sd_bus_slot_unref(p->spawn_slot);
        ipc_connection_unref(p->ipc);
        sd_bus_message_unref(p->call);
        free(p->request_id);
        free(p->task_id);
        free(p->agent);
        free(p->actor);
        free(p->capability);
        agent_card_free(p->card);
        free(p->path);
        free(p->workspace);
        free(p->target);
        free(p->consent_id);
        strv_free(p->argv);
        return mfree(p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(ActionPending *, action_pending_free);

/* A new pending action on the context's list; the caller sets where its answer goes. */
static int action_pending_new(Context *c, const ActionType *type, const char *request_id, Task *t,
                              const char *actor, ActionPending **ret) {
        _cleanup_(action_pending_freep) ActionPending *p = NULL;

        p = calloc(1, sizeof(ActionPending));
        if (!p)
                return -ENOMEM;
        p->context = c;
        LIST_APPEND(actions, c->actions_head, c->actions_tail, p);
        c->n_actions++;
        p->type = type;
        p->request_id = strdup(request_id);
        p->task_id = strdup(t->id);
        p->agent = strdup(t->agent_name);
        p->actor = strdup(actor);
        p->workspace = strdup(t->workspace);
        if (!p->request_id || !p->task_id || !p->agent || !p->actor || !p->workspace)
                return -ENOMEM;
        if (type && type->capability) {
                p->capability = strdup(type->capability);
                if (!p->capability)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

void action_free_all(Context *c) {
        while (c->actions_head) {
                ActionPending *p = c->actions_head;

                if (!p->audit_in_flight) {
                        action_pending_free(p);
                        continue;
                }
                /* Its audit handler still holds it and frees it when told the outcome. */
                LIST_REMOVE(actions, c->actions_head, c->actions_tail, p);
                c->n_actions--;
                p->context = NULL;
                p->spawn_slot = sd_bus_slot_unref(p->spawn_slot);
        }
}

static int action_send_result(IpcConnection *ipc, const char *request_id, Troupe__V1__ActionStatus status,
                              const char *message, const char *consent_id) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__ActionResult res = TROUPE__V1__ACTION_RESULT__INIT;
        _cleanup_free_ char *msg = NULL;

        if (!ipc || !ipc_connection_is_open(ipc))
                return -ENOTCONN;
        msg = utf8_sanitize_copy(strempty(message), strlen(strempty(message)), ACTION_MESSAGE_MAX, NULL);
        if (!msg)
                return -ENOMEM;
        res.request_id = (char *) request_id;
        res.status = status;
        res.message = msg;
        res.consent_id = (char *) strempty(consent_id);
        e.body_case = TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT;
        e.action_result = &res;
        return ipc_connection_send(ipc, &e);
}

/* An answer to whoever asked: an ActionResult to the agent, or, for a final one, the reply to the
 * bus call (which has no interim answer: it waits). */
static int action_answer(ActionPending *p, Troupe__V1__ActionStatus status, const char *message) {
        _cleanup_free_ char *msg = NULL;

        if (!p->call)
                return action_send_result(p->ipc, p->request_id, status, message, p->consent_id);
        if (status == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING)
                return 0;
        msg = utf8_sanitize_copy(strempty(message), strlen(strempty(message)), ACTION_MESSAGE_MAX, NULL);
        if (!msg)
                return -ENOMEM;
        return sd_bus_reply_method_return(p->call, "ss", action_status_to_string(status), msg);
}

/* The final result of a pending action, which then is done. */
static void action_finish(ActionPending *p, Troupe__V1__ActionStatus status, const char *message) {
        int r;

        r = action_answer(p, status, message);
        if (r < 0)
                log_debug_errno(r, "Failed to send the result of action %s (request %s) to %s, ignoring: %m",
                                p->type->name, p->request_id, p->call ? "the bus caller" : p->agent);
        log_full_errno_field(status == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE ? LOG_INFO : LOG_NOTICE,
                             0, "TASK", p->task_id, "Action %s of %s%s for task %s: %s%s%s.", p->type->name,
                             p->call ? "the user via OpenWorkspace(), agent " : "agent ", p->agent,
                             p->task_id, action_status_to_string(status), isempty(message) ? "" : ": ",
                             strempty(message));
        action_pending_free(p);
}

static void action_finishf(ActionPending *p, Troupe__V1__ActionStatus status, const char *format, ...)
        _printf_(3, 4);
static void action_finishf(ActionPending *p, Troupe__V1__ActionStatus status, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        action_finish(p, status, msg ?: format);
}

/* For a bus caller's action: how it came (the audit row names the caller's pid and uid). */
static int action_detail_add_caller(ActionPending *p, json_t *detail) {
        json_t *caller;

        if (!p->call)
                return 0;
        caller = json_pack("{s:I, s:I, s:s?}", "pid", (json_int_t) p->caller_pid, "uid",
                           (json_int_t) p->caller_uid, "sender", sd_bus_message_get_sender(p->call));
        if (!caller || json_object_set_new(detail, "caller", caller) < 0 ||
            json_object_set_new(detail, "via", json_string("OpenWorkspace")) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- the editor ---- */

/* What the editor opens: the workspace, or `path` beneath it, checked with openat2() so that ".." and
 * symlinks cannot lead it anywhere else. */
static int editor_target(const char *workspace, const char *path, char **ret, const char **reterr) {
        _cleanup_close_ int ws = -EBADF, fd = -EBADF;

        ws = open(workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ws < 0) {
                *reterr = "the task's workspace is gone";
                return -errno;
        }
        if (!path)
                return (*ret = strdup(workspace)) ? 0 : -ENOMEM;

        fd = path_open_beneath(ws, path, strlen(path), O_PATH);
        if (fd == -ELOOP || fd == -EXDEV) {
                *reterr = "the path leads out of the workspace (a symlink or '..')";
                return fd;
        }
        if (fd == -ENOENT) {
                *reterr = "the path does not exist in the workspace";
                return fd;
        }
        if (fd < 0) {
                *reterr = "the path cannot be opened in the workspace";
                return fd;
        }
        return (*ret = strjoin(workspace, "/", path)) ? 0 : -ENOMEM;
}

static int spawn_append_env(sd_bus_message *m) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(editor_env_passed); i++) {
                _cleanup_free_ char *entry = NULL;
                const char *v = getenv(editor_env_passed[i]);

                if (isempty(v))
                        continue;
                if (asprintf_safe(&entry, "%s=%s", editor_env_passed[i], v) < 0)
                        return -ENOMEM;
                r = sd_bus_message_append_basic(m, 's', entry);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int on_spawn_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        ActionPending *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *id, *path;

        p->spawn_slot = sd_bus_slot_unref(p->spawn_slot);
        if (e) {
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                               "the supervisor could not start the editor: %s", e->message ?: e->name);
                return 0;
        }
        if (sd_bus_message_read(reply, "so", &id, &path) < 0) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                              "the supervisor's reply to Spawn was not understood");
                return 0;
        }
        if (p->call)
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE, "opened %s with %s",
                               p->target, p->argv[0]);
        else
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE,
                               "the editor is running (process %s)", id);
        return 0;
}

/* Spawn(name, argv, {profile: unconfined, cwd: workspace, env}) on the supervisor, not waited for. */
static int editor_spawn(ActionPending *p) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *name = NULL;
        Context *c = p->context;
        int r;

        if (!c->bus)
                return -ENOTCONN;
        if (asprintf_safe(&name, "editor-%s", p->task_id) < 0)
                return -ENOMEM;
        r = sd_bus_message_new_method_call(c->bus, &m, SUPERVISOR_BUS_NAME, SUPERVISOR_PATH,
                                           SUPERVISOR_MANAGER_INTERFACE, "Spawn");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, p->argv);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                /* Outside the agent's sandbox on purpose: the user's editor needs the user's desktop. */
                r = sd_bus_message_append(m, "{sv}{sv}", "profile", "s", "unconfined", "cwd", "s",
                                          p->workspace);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "env");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = spawn_append_env(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;
        return sd_bus_call_async(c->bus, &p->spawn_slot, m, on_spawn_reply, p, 0);
}

static void on_action_audited(Context *c, int error, void *userdata) {
        ActionPending *p = userdata;
        int r;

        p->audit_in_flight = false;
        if (!p->context) {
                /* The registry is exiting; nobody waits for this any more. */
                action_pending_free(p);
                return;
        }
        if (error < 0) {
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                               "refused: the audit log cannot be written (%s)",
                               registry_audit_unavailable(c) ?: strerror(-error));
                return;
        }
        switch (p->type->kind) {
        case ACTION_CAPABILITY_REQUEST:
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE,
                               "%s is granted to agent %s (by %s): the tokens of the tasks it starts from "
                               "now on carry it",
                               p->capability, p->agent, p->granted_by);
                return;
        case ACTION_EDITOR:
                break;
        }
        r = editor_spawn(p);
        if (r < 0)
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                               "failed to ask the supervisor to start the editor: %s", strerror(-r));
}

/* Appends the action's row; the action is performed once it is durable (on_action_audited()). */
static void action_record(ActionPending *p) {
        _cleanup_json_ json_t *detail = NULL, *argv = NULL;
        int r;

        argv = json_array();
        if (!argv)
                goto oom;
        STRV_FOREACH (a, p->argv)
                if (json_array_append_new(argv, json_string(*a)) < 0)
                        goto oom;
        if (p->type->kind == ACTION_EDITOR)
                detail = json_pack("{s:s, s:s, s:O, s:s, s:s?, s:s}", "action", p->type->name, "request",
                                   p->request_id, "argv", argv, "granted_by", p->granted_by, "consent",
                                   p->consent_id, "profile", "unconfined");
        else
                detail = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "action", p->type->name, "request",
                                   p->request_id, "capability", p->capability, "granted_by", p->granted_by,
                                   "consent", p->consent_id);
        if (!detail || action_detail_add_caller(p, detail) < 0)
                goto oom;

        p->audit_in_flight = true;
        r = registry_audit(p->context, p->actor, "action", p->task_id, p->agent, detail, on_action_audited,
                           p);
        if (r < 0) {
                p->audit_in_flight = false;
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                               "refused: the audit log cannot be written (%s)",
                               registry_audit_unavailable(p->context) ?: strerror(-r));
        }
        return;
oom:
        log_oom();
        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, "out of memory");
}

/* Allowed: find what to run (again: the workspace and the config may have changed while the user
 * was asked), then record it. An agent's action needs its task still running; the user's
 * (OpenWorkspace()) does not: a finished task's workspace is opened too. */
static void action_perform(ActionPending *p) {
        _cleanup_free_ char *err = NULL;
        const char *reason = NULL;
        Task *t;
        int r;

        t = task_get(p->context, p->task_id);
        if (!p->call && (!t || task_state_is_final(t->state))) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED, "the task has ended");
                return;
        }
        switch (p->type->kind) {
        case ACTION_CAPABILITY_REQUEST:
                action_record(p);
                return;
        case ACTION_EDITOR:
                break;
        }
        p->target = mfree(p->target);
        r = editor_target(p->workspace, p->path, &p->target, &reason);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, reason);
                return;
        }
        p->argv = strv_free(p->argv);
        r = editor_resolve(&p->argv, &err);
        if (r < 0 && !err)
                goto oom;
        if (r < 0) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, err);
                return;
        }
        if (strv_extend(&p->argv, p->target) < 0)
                goto oom;
        action_record(p);
        return;
oom:
        log_oom();
        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, "out of memory");
}

static void action_ask(ActionPending *p, Task *t);

static void on_consent_answered(Context *c, const char *consent_id, ConsentDecision d, void *userdata) {
        ActionPending *p = userdata;
        Task *t;

        switch (d) {
        case CONSENT_ALLOW_ONCE:
                if (p->type->kind == ACTION_CAPABILITY_REQUEST) {
                        /* A capability reaches a task only through its token, minted when the task
                         * starts: a grant for this answer alone would reach nothing. */
                        action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                                       "allowed once, which grants nothing: %s reaches a task through its "
                                       "token, minted when the task starts; the user must answer "
                                       "allow-always",
                                       p->capability);
                        return;
                }
                _fallthrough_;
        case CONSENT_ALLOW_ALWAYS:
                p->granted_by = "user";
                action_perform(p);
                return;
        case CONSENT_DENY:
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED, "denied by the user");
                return;
        case CONSENT_EXPIRED:
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                               "no answer within %" PRIu64 " s",
                               (uint64_t) (c->consent_timeout_usec / USEC_PER_SEC));
                return;
        case CONSENT_CANCELED:
                /* The user's own request is about the workspace, which outlives the task: asked
                 * again, now for the finished task (whose requests are not canceled any more). */
                t = p->call ? task_get(c, p->task_id) : NULL;
                if (t && task_state_is_final(t->state)) {
                        p->consent_id = mfree(p->consent_id);
                        action_ask(p, t);
                        return;
                }
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                              "the task ended before the user answered");
                return;
        case _CONSENT_DECISION_MAX:
        case _CONSENT_DECISION_INVALID:
                break;
        }
        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED, "denied");
}

/* Records a refusal that needs no decision: the card does not allow asking. Nothing waits for it. */
static void action_audit_refusal(ActionPending *p, const char *why) {
        _cleanup_json_ json_t *detail = NULL;
        int r;

        detail = json_pack("{s:s, s:s, s:s, s:s}", "action", p->type->name, "capability", p->capability,
                           "request", p->request_id, "reason", why);
        if (!detail || action_detail_add_caller(p, detail) < 0) {
                log_oom();
                return;
        }
        r = registry_audit(p->context, p->actor, "action-denied", p->task_id, p->agent, detail, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to audit the refusal of %s for agent %s, ignoring: %m",
                                  p->type->name, p->agent);
}

/* A stored grant or the policy decided: audited like the user's decision would be. No handler: an
 * allowed action's own row comes after this one in the chain and waits for durability; a denial
 * needs none. */
static void action_audit_decision(ActionPending *p, ConsentSource by, bool allow) {
        _cleanup_json_ json_t *detail = NULL;
        int r;

        detail = json_pack("{s:s, s:s, s:s, s:s, s:s}", "capability", p->capability, "decision",
                           allow ? "allow" : "deny", "by", consent_source_to_string(by), "action",
                           p->type->name, "request", p->request_id);
        if (!detail || action_detail_add_caller(p, detail) < 0) {
                log_oom();
                return;
        }
        r = registry_audit(p->context, "registry", "consent", p->task_id, p->agent, detail, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to audit the consent decision for agent %s, ignoring: %m",
                                  p->agent);
}

/* Nothing decides without the user: a consent request, answered in on_consent_answered(). */
static void action_ask(ActionPending *p, Task *t) {
        _cleanup_free_ char *reason = NULL;
        int r;

        if (p->type->kind == ACTION_CAPABILITY_REQUEST)
                r = asprintf_safe(&reason, "%s: %s", p->capability, p->type->what);
        else if (p->path)
                r = asprintf_safe(&reason, "%s: %s", p->type->what, p->path);
        else
                r = asprintf_safe(&reason, "%s", p->type->what);
        if (r < 0)
                goto oom;
        r = consent_request(p->context, t, p->capability, reason, on_consent_answered, p, &p->consent_id);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED, "cannot ask the user: %s",
                               r == -ENOBUFS ? "too many consent requests are waiting" : strerror(-r));
                return;
        }
        r = action_answer(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING,
                          "waiting for the user's consent");
        if (r < 0)
                log_debug_errno(r, "Failed to tell agent %s that consent is pending, ignoring: %m",
                                p->agent);
        return;
oom:
        log_oom();
        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, "out of memory");
}

/* The agent's card as installed: the one its tokens were minted from, not the copy it sent. For an
 * agent the registry has not seen since it started (the user opens an old task's workspace), read
 * from the card directories now. */
static const AgentCard *action_card(ActionPending *p) {
        if (agent_get(p->context, p->agent))
                return registry_agent_card(p->context, p->agent);
        if (!p->card)
                (void) registry_agent_card_load(p->agent, &p->card);
        return p->card;
}

/* Capability: pre-granted by the card (and for an agent, in its token), stored grant or policy, else
 * the user. `tok` is the agent's token, NULL for the user's own request over the bus. */
static void action_authorize(ActionPending *p, Task *t, const ActionToken *tok) {
        _cleanup_free_ char *err = NULL;
        const char *cap = p->capability;
        const AgentCard *card = action_card(p);
        ConsentSource by = _CONSENT_SOURCE_INVALID;
        Task *checked;
        int r;

        if (card && strv_contains(card->permissions.capabilities, cap)) {
                if (tok) {
                        r = registry_token_check(p->context, tok->conn, p->task_id, tok->data, tok->size,
                                                 cap, &checked, &err);
                        if (r < 0) {
                                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                                              err ?: "token refused");
                                return;
                        }
                }
                p->granted_by = tok ? "token" : "card";
                action_perform(p);
                return;
        }
        /* A stored grant or a wildcard policy rule never reaches past what the card may ask for. */
        if (!card || !strv_contains(card->permissions.requestable, cap)) {
                _cleanup_free_ char *why = NULL;

                if (asprintf_safe(&why,
                                  "capability %s is neither granted nor requestable in the card of agent %s",
                                  cap, p->agent) < 0)
                        why = NULL;
                action_audit_refusal(p, why ?: "not in the agent card");
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                              why ?: "not in the agent card");
                return;
        }

        r = consent_lookup_full(p->context, p->agent, cap, &by);
        if (r > 0) {
                action_audit_decision(p, by, true);
                p->granted_by = consent_source_to_string(by);
                action_perform(p);
                return;
        }
        if (r < 0) {
                action_audit_decision(p, by, false);
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                               "%s is denied by the consent policy", cap);
                return;
        }
        action_ask(p, t);
}

/* What the request names, checked before anything is asked or done. NULL when fine, else why not. */
static const char *action_check_args(const Troupe__V1__ActionRequest *ar, const ActionType *type) {
        const char *reason = NULL;

        switch (type->kind) {
        case ACTION_EDITOR:
                if (ar->n_args > ACTION_ARGS_MAX || ar->n_args > type->max_args)
                        return "too many arguments: exec.editor takes at most one, a path relative to the "
                               "workspace";
                if (ar->n_args == 1 && path_validate_relative(ar->args[0], strlen(ar->args[0])) < 0)
                        return "args[0] must be a path relative to the workspace, without '..', '.' or a "
                               "leading '/'";
                return NULL;
        case ACTION_CAPABILITY_REQUEST:
                if (ar->n_args != 1)
                        return "capability.request takes one argument, the capability";
                if (capability_check(ar->args[0], &reason) < 0)
                        return "args[0] must be a capability (docs/agent-card.md)";
                return NULL;
        }
        return "unknown action";
}

/* FAILED at once for bad arguments: -EINVAL (the request is done), or -ENOMEM. */
static int action_refuse_args(ActionPending *p, const char *why) {
        int r = action_send_result(p->ipc, p->request_id, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                                   why, NULL);
        return r == -ENOMEM ? r : -EINVAL;
}

/* The rest of an agent's request, once its token and the action are known to be good. */
static int action_request_args(ActionPending *p, const Troupe__V1__ActionRequest *ar, Task *t) {
        _cleanup_free_ char *target = NULL;
        const char *reason = NULL, *bad;
        int r;

        bad = action_check_args(ar, p->type);
        if (bad)
                return action_refuse_args(p, bad);
        if (p->type->kind == ACTION_CAPABILITY_REQUEST) {
                p->capability = strdup(ar->args[0]);
                return p->capability ? 0 : -ENOMEM;
        }
        if (ar->n_args == 0)
                return 0;
        p->path = strdup(ar->args[0]);
        if (!p->path)
                return -ENOMEM;
        /* Checked now so the user is not asked about a path that cannot be opened; checked again
         * when performing, since the workspace may change while the user thinks. */
        r = editor_target(t->workspace, p->path, &target, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return action_refuse_args(p, reason);
        return 0;
}

int action_handle_request(AgentConn *conn, const IpcEnvelope *e) {
        const Troupe__V1__ActionRequest *ar = e->action_request;
        _cleanup_(action_pending_freep) ActionPending *p = NULL;
        _cleanup_free_ char *err = NULL;
        Context *c = conn->context;
        const ActionType *type;
        Task *t;
        int r;

        if (isempty(ar->request_id) || strlen(ar->request_id) > ACTION_REQUEST_ID_MAX ||
            !utf8_is_valid_n(ar->request_id, strlen(ar->request_id)))
                return ipc_connection_send_error(conn->ipc, ipc_error_code_from_errno(-EINVAL), e->seq,
                                                 "request_id: must be 1..64 bytes of UTF-8");
        if (c->n_actions >= ACTIONS_PENDING_MAX)
                return action_send_result(conn->ipc, ar->request_id,
                                          TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                                          "too many actions in flight; try again later", NULL);

        r = registry_token_check(c, conn, ar->task_id, ar->token.data, ar->token.len, NULL, &t, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                (void) action_send_result(conn->ipc, ar->request_id,
                                          TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                                          err ?: "capability token refused", NULL);
                return 0;
        }

        type = strlen(ar->action) <= ACTION_NAME_MAX ? action_type_find(ar->action) : NULL;
        if (!type) {
                (void) action_send_result(conn->ipc, ar->request_id,
                                          TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, "unknown action",
                                          NULL);
                return 0;
        }
        r = action_pending_new(c, type, ar->request_id, t, conn->agent->name, &p);
        if (r < 0)
                return r;
        p->ipc = ipc_connection_ref(conn->ipc);
        r = action_request_args(p, ar, t);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;

        action_authorize(TAKE_PTR(p), t, &(ActionToken){conn, ar->token.data, ar->token.len});
        return 0;
}

int action_open_workspace(Context *c, Task *t, const char *path, sd_bus_message *call, sd_bus_error *error) {
        _cleanup_(action_pending_freep) ActionPending *p = NULL;
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_free_ char *target = NULL, *request_id = NULL;
        const char *reason = NULL;
        uint64_t cookie = 0;
        uid_t uid;
        pid_t pid = 0;
        int r;

        /* The bus policy admits only our own uid; checked here too, so a policy mistake opens nothing. */
        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_AUGMENT,
                                      &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to identify the caller: %m");
        if (uid != geteuid())
                return bus_error_setf(error, BUS_ERROR_PERMISSION_DENIED,
                                      "Only the user running the registry (uid %u) may open its workspaces.",
                                      (unsigned) geteuid());
        (void) sd_bus_creds_get_pid(creds, &pid);

        if (c->n_actions >= ACTIONS_PENDING_MAX)
                return bus_error_setf(error, BUS_ERROR_OVERLOADED,
                                      "Too many actions are in flight (%u); try again later.",
                                      ACTIONS_PENDING_MAX);
        if (path && path_validate_relative(path, strlen(path)) < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option path must be a path relative to the workspace of task %s, "
                                      "without '..', '.', '//' or a leading '/'.",
                                      t->id);
        if (access(t->workspace, F_OK) < 0) {
                _cleanup_free_ char *msg = NULL;

                if (asprintf_safe(&msg, "the workspace %s of task %s is gone (removed, or moved aside)",
                                  t->workspace, t->id) < 0)
                        return -ENOMEM;
                return sd_bus_reply_method_return(call, "ss", "failed", msg);
        }
        r = editor_target(t->workspace, path, &target, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Option path '%s': %s.", strempty(path),
                                      strna(reason));

        (void) sd_bus_message_get_cookie(call, &cookie);
        r = asprintf_safe(&request_id, "bus:%s/%" PRIu64, strna(sd_bus_message_get_sender(call)), cookie);
        if (r < 0)
                return -ENOMEM;
        r = action_pending_new(c, action_type_find("exec.editor"), request_id, t, "user", &p);
        if (r < 0)
                return r;
        p->call = sd_bus_message_ref(call);
        p->caller_uid = uid;
        p->caller_pid = pid;
        if (path) {
                p->path = strdup(path);
                if (!p->path)
                        return -ENOMEM;
        }
        action_authorize(TAKE_PTR(p), t, NULL);
        /* Answered once decided, maybe already. */
        return 1;
}

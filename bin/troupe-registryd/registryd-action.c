/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ActionRequest: privileged actions an agent asks the suite to perform for a task, outside its sandbox.
 * Each one goes token -> capability (pre-granted, stored grant or policy, else the user's consent) ->
 * audit row, durable -> perform; the agent gets one ActionResult, or CONSENT_PENDING first and the
 * final one, with the same request_id, once the user answered. The one action so far is exec.editor:
 * the supervisor runs the user's editor on the task's workspace, unconfined. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "paths/path-resolve.h"
#include "paths/paths.h"
#include "registryd-privilege.h"

#define ACTION_REQUEST_ID_MAX 64U
#define ACTION_NAME_MAX 128U
#define ACTION_ARGS_MAX 64U
#define ACTION_MESSAGE_MAX 1024U
/* ActionRequests in flight at once (most of them waiting for the user). */
#define ACTIONS_PENDING_MAX 1024U

#define EDITOR_WORDS_MAX 64U
#define EDITOR_COMMAND_MAX 4096U
#define TROUPE_CONF_FILE "troupe.conf"
#define TROUPE_CONF_SIZE_MAX ((size_t) 64U * 1024U)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

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

typedef struct ActionType ActionType;

struct ActionPending {
        Context *context; /* NULL once orphaned: the registry exits while its audit row is in flight */
        IpcConnection *ipc; /* a reference: the result goes where the request came from, or nowhere */
        const ActionType *type;
        char *request_id;
        char *task_id;
        char *agent;
        char *path; /* exec.editor's argument, NULL for the workspace itself */
        char *consent_id;
        const char *granted_by; /* "token", "grant", "policy", "user" */
        /* Once allowed: what is spawned, kept while its audit row is being made durable. */
        char **argv;
        char *workspace;
        bool audit_in_flight;
        sd_bus_slot *spawn_slot;
        LIST_FIELDS(ActionPending, actions);
};

struct ActionType {
        const char *name;
        const char *capability;
        size_t max_args;
        /* What the user is asked, in the consent request's Reason. */
        const char *what;
};

static const ActionType action_types[] = {
        {"exec.editor", "exec.editor", 1, "open the task workspace in your editor"},
};

static const ActionType *action_type_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(action_types); i++)
                if (streq(action_types[i].name, name))
                        return &action_types[i];
        return NULL;
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
        free(p->request_id);
        free(p->task_id);
        free(p->agent);
        free(p->path);
        free(p->consent_id);
        strv_free(p->argv);
        free(p->workspace);
        return mfree(p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(ActionPending *, action_pending_free);

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

/* The final result of a pending action, which then is done. */
static void action_finish(ActionPending *p, Troupe__V1__ActionStatus status, const char *message) {
        int r;

        r = action_send_result(p->ipc, p->request_id, status, message, p->consent_id);
        if (r < 0)
                log_debug_errno(
                        r, "Failed to send the result of action %s (request %s) to agent %s, ignoring: %m",
                        p->type->name, p->request_id, p->agent);
        log_full_errno_field(status == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE ? LOG_INFO : LOG_NOTICE,
                             0, "TASK", p->task_id, "Action %s of agent %s for task %s: %s%s%s.",
                             p->type->name, p->agent, p->task_id,
                             status == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE     ? "done"
                             : status == TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED ? "denied"
                                                                                         : "failed",
                             isempty(message) ? "" : ": ", strempty(message));
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

/* ---- the editor ---- */

/* Splits a command line into words the way a shell would, without running one: blanks separate,
 * '...' is literal, "..." and a backslash escape; nothing is expanded. */
static int split_command(const char *s, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *word = NULL;
        size_t n = 0, len = strlen(s);
        bool in_word = false;
        char quote = 0;

        if (len > EDITOR_COMMAND_MAX)
                return -E2BIG;
        word = malloc(len + 1);
        if (!word)
                return -ENOMEM;

        for (const char *p = s;; p++) {
                char ch = *p;

                if (ch == 0 || (!quote && strchr(" \t\n", ch))) {
                        if (quote)
                                return -EINVAL;
                        if (in_word) {
                                word[n] = 0;
                                if (strv_length(l) >= EDITOR_WORDS_MAX)
                                        return -E2BIG;
                                if (strv_extend(&l, word) < 0)
                                        return -ENOMEM;
                                n = 0;
                                in_word = false;
                        }
                        if (ch == 0)
                                break;
                        continue;
                }
                in_word = true;
                if (quote == '\'') {
                        if (ch == '\'')
                                quote = 0;
                        else
                                word[n++] = ch;
                } else if (ch == '\\' && (!quote || p[1] == '"' || p[1] == '\\')) {
                        if (p[1] == 0)
                                return -EINVAL;
                        word[n++] = *++p;
                } else if (ch == '"' || (!quote && ch == '\''))
                        quote = quote ? 0 : ch;
                else
                        word[n++] = ch;
        }
        if (!l)
                return -ENOENT;
        *ret = TAKE_PTR(l);
        return 0;
}

static bool is_executable_file(const char *path) {
        struct stat st;

        return stat(path, &st) >= 0 && S_ISREG(st.st_mode) && access(path, X_OK) >= 0;
}

/* The absolute path of `name`: itself when it has a slash (then it must be absolute), else the first
 * executable of that name in the registry's $PATH. */
static int find_executable(const char *name, char **ret) {
        const char *path, *p;

        if (strchr(name, '/')) {
                if (name[0] != '/' || !is_executable_file(name))
                        return -ENOENT;
                return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        path = getenv("PATH");
        for (p = isempty(path) ? DEFAULT_PATH : path; *p;) {
                size_t k = strcspn(p, ":");
                _cleanup_free_ char *candidate = NULL;

                /* Relative entries would depend on our working directory: skipped. */
                if (k > 0 && p[0] == '/') {
                        if (asprintf_safe(&candidate, "%.*s/%s", (int) k, p, name) < 0)
                                return -ENOMEM;
                        if (is_executable_file(candidate)) {
                                *ret = TAKE_PTR(candidate);
                                return 0;
                        }
                }
                p += k;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

/* `editor=` in troupe.conf: the last one wins; NULL when there is none. */
static int troupe_conf_editor(char **ret) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *text = NULL, *value = NULL;
        int r;

        r = troupe_path_get(TROUPE_PATH_CONFIG, &dir);
        if (r == -ENXIO) {
                /* No $HOME and no override: there is no config file to read. */
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        path = strjoin(dir, "/" TROUPE_CONF_FILE);
        if (!path)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, path, TROUPE_CONF_SIZE_MAX, &text, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;

        for (char *line = text, *next; line; line = next) {
                char *v, *end;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line += strspn(line, " \t");
                if (!startswith(line, "editor"))
                        continue;
                v = line + strlen("editor");
                v += strspn(v, " \t");
                if (*v != '=')
                        continue;
                v++;
                v += strspn(v, " \t");
                for (end = v + strlen(v); end > v && strchr(" \t\r", end[-1]); end--)
                        ;
                *end = 0;
                r = free_and_strdup(&value, isempty(v) ? NULL : v);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(value);
        return 0;
}

/* Sets *reterr to the message for the agent and returns `error` (-ENOMEM if even that fails). */
static int editor_fail(char **reterr, int error, const char *format, ...) _printf_(3, 4);
static int editor_fail(char **reterr, int error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(reterr, format, ap);
        va_end(ap);
        if (r < 0) {
                *reterr = NULL;
                return -ENOMEM;
        }
        return error;
}

/* `command` as argv with argv[0] made absolute; -ENOENT when it is not installed, and then
 * *ret_missing (if given) is the program it names. */
static int editor_command(const char *command, char ***ret, char **ret_missing) {
        _cleanup_strv_free_ char **argv = NULL;
        char *exe;
        int r;

        r = split_command(command, &argv);
        if (r < 0)
                return r;
        r = find_executable(argv[0], &exe);
        if (r == -ENOENT && ret_missing) {
                *ret_missing = strdup(argv[0]);
                if (!*ret_missing)
                        return -ENOMEM;
        }
        if (r < 0)
                return r;
        free(argv[0]);
        argv[0] = exe;
        *ret = TAKE_PTR(argv);
        return 0;
}

/* The editor command as argv with argv[0] absolute: $TROUPE_EDITOR, else editor= in troupe.conf (an
 * explicit choice that is not installed is an error, not a reason to pick another), else the first
 * of code, $VISUAL and xdg-open that is installed. */
static int editor_resolve(char ***ret, char **reterr) {
        _cleanup_free_ char *conf = NULL, *missing = NULL;
        const char *explicit, *from = "$TROUPE_EDITOR";
        const char *fallbacks[] = {"code", getenv("VISUAL"), "xdg-open"};
        int r;

        explicit = getenv("TROUPE_EDITOR");
        if (isempty(explicit)) {
                r = troupe_conf_editor(&conf);
                if (r < 0)
                        return editor_fail(reterr, r, "cannot read %s: %s", TROUPE_CONF_FILE, strerror(-r));
                explicit = conf;
                from = "editor= in " TROUPE_CONF_FILE;
        }
        if (!isempty(explicit)) {
                r = editor_command(explicit, ret, &missing);
                if (r == -ENOENT && missing)
                        return editor_fail(reterr, r,
                                           "editor '%s' (from %s) is not installed or not in PATH", missing,
                                           from);
                if (r < 0 && r != -ENOMEM)
                        return editor_fail(reterr, r,
                                           "the editor command from %s cannot be split into words", from);
                return r;
        }

        for (size_t i = 0; i < ELEMENTSOF(fallbacks); i++) {
                if (isempty(fallbacks[i]))
                        continue;
                r = editor_command(fallbacks[i], ret, NULL);
                if (r >= 0 || r == -ENOMEM)
                        return r;
        }
        return editor_fail(
                reterr, -ENOENT,
                "no editor found: set $TROUPE_EDITOR or editor= in %s (tried code, $VISUAL, xdg-open)",
                TROUPE_CONF_FILE);
}

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
                               "the supervisor could not start "
                               "the editor: %s",
                               e->message ?: e->name);
                return 0;
        }
        if (sd_bus_message_read(reply, "so", &id, &path) < 0) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                              "the supervisor's reply to Spawn was not understood");
                return 0;
        }
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
        r = editor_spawn(p);
        if (r < 0)
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                               "failed to ask the supervisor to start the editor: %s", strerror(-r));
}

/* Appends the action's row; the editor starts once it is durable (on_action_audited()). */
static void action_record(ActionPending *p) {
        _cleanup_json_ json_t *detail = NULL, *argv = NULL;
        int r;

        argv = json_array();
        if (!argv)
                goto oom;
        STRV_FOREACH (a, p->argv)
                if (json_array_append_new(argv, json_string(*a)) < 0)
                        goto oom;
        detail = json_pack("{s:s, s:s, s:O, s:s, s:s?, s:s}", "action", p->type->name, "request",
                           p->request_id, "argv", argv, "granted_by", p->granted_by, "consent",
                           p->consent_id, "profile", "unconfined");
        if (!detail)
                goto oom;

        p->audit_in_flight = true;
        r = registry_audit(p->context, p->agent, "action", p->task_id, p->agent, detail, on_action_audited,
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
 * was asked), then record it. */
static void action_perform(ActionPending *p) {
        _cleanup_free_ char *err = NULL, *target = NULL;
        const char *reason = NULL;
        Task *t;
        int r;

        t = task_get(p->context, p->task_id);
        if (!t || task_state_is_final(t->state)) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED, "the task has ended");
                return;
        }
        if (free_and_strdup(&p->workspace, t->workspace) < 0)
                goto oom;
        r = editor_target(t->workspace, p->path, &target, &reason);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, reason);
                return;
        }
        r = editor_resolve(&p->argv, &err);
        if (r < 0 && !err)
                goto oom;
        if (r < 0) {
                action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, err);
                return;
        }
        if (strv_extend(&p->argv, target) < 0)
                goto oom;
        action_record(p);
        return;
oom:
        log_oom();
        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, "out of memory");
}

static void on_consent_answered(Context *c, const char *consent_id, ConsentDecision d, void *userdata) {
        ActionPending *p = userdata;

        switch (d) {
        case CONSENT_ALLOW_ONCE:
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

        detail = json_pack("{s:s, s:s, s:s, s:s}", "action", p->type->name, "capability",
                           p->type->capability, "request", p->request_id, "reason", why);
        if (!detail) {
                log_oom();
                return;
        }
        r = registry_audit(p->context, p->agent, "action-denied", p->task_id, p->agent, detail, NULL, NULL);
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

        detail = json_pack("{s:s, s:s, s:s, s:s, s:s}", "capability", p->type->capability, "decision",
                           allow ? "allow" : "deny", "by", consent_source_to_string(by), "action",
                           p->type->name, "request", p->request_id);
        if (!detail) {
                log_oom();
                return;
        }
        r = registry_audit(p->context, "registry", "consent", p->task_id, p->agent, detail, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to audit the consent decision for agent %s, ignoring: %m",
                                  p->agent);
}

/* Token, then capability: pre-granted (and in the token), stored grant or policy, else the user. */
static void action_authorize(ActionPending *p, AgentConn *conn, Task *t, const void *token,
                             size_t token_size) {
        _cleanup_free_ char *reason = NULL, *err = NULL;
        const char *cap = p->type->capability;
        /* The installed card, the one the token was minted from: not the copy the agent sent. */
        const AgentCard *card = registry_agent_card(p->context, p->agent);
        ConsentSource by = _CONSENT_SOURCE_INVALID;
        Task *checked;
        int r;

        if (card && strv_contains(card->permissions.capabilities, cap)) {
                r = registry_token_check(p->context, conn, p->task_id, token, token_size, cap, &checked,
                                         &err);
                if (r < 0) {
                        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                                      err ?: "token refused");
                        return;
                }
                p->granted_by = "token";
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

        if (p->path)
                r = asprintf_safe(&reason, "%s: %s", p->type->what, p->path);
        else
                r = asprintf_safe(&reason, "%s", p->type->what);
        if (r < 0)
                goto oom;
        r = consent_request(p->context, t, cap, reason, on_consent_answered, p, &p->consent_id);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                action_finishf(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED, "cannot ask the user: %s",
                               r == -ENOBUFS ? "too many consent requests are waiting" : strerror(-r));
                return;
        }
        r = action_send_result(p->ipc, p->request_id,
                               TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING,
                               "waiting for the user's consent", p->consent_id);
        if (r < 0)
                log_debug_errno(r, "Failed to tell agent %s that consent is pending, ignoring: %m",
                                p->agent);
        return;
oom:
        log_oom();
        action_finish(p, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, "out of memory");
}

/* What the request names, checked before anything is asked or done. NULL when fine, else why not. */
static const char *action_check_args(const Troupe__V1__ActionRequest *ar, const ActionType *type) {
        if (ar->n_args > ACTION_ARGS_MAX || ar->n_args > type->max_args)
                return "too many arguments: exec.editor takes at most one, a path relative to the workspace";
        if (ar->n_args == 1 && path_validate_relative(ar->args[0], strlen(ar->args[0])) < 0)
                return "args[0] must be a path relative to the workspace, without '..', '.' or a leading "
                       "'/'";
        return NULL;
}

int action_handle_request(AgentConn *conn, const IpcEnvelope *e) {
        const Troupe__V1__ActionRequest *ar = e->action_request;
        _cleanup_(action_pending_freep) ActionPending *p = NULL;
        _cleanup_free_ char *err = NULL;
        Context *c = conn->context;
        const char *bad;
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

        p = calloc(1, sizeof(ActionPending));
        if (!p)
                return -ENOMEM;
        p->request_id = strdup(ar->request_id);
        p->agent = strdup(conn->agent->name);
        p->task_id = strdup(strempty(ar->task_id));
        if (!p->request_id || !p->agent || !p->task_id)
                return -ENOMEM;
        p->ipc = ipc_connection_ref(conn->ipc);
        p->context = c;
        LIST_APPEND(actions, c->actions_head, c->actions_tail, p);
        c->n_actions++;

        r = registry_token_check(c, conn, ar->task_id, ar->token.data, ar->token.len, NULL, &t, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                action_send_result(p->ipc, p->request_id, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
                                   err ?: "capability token refused", NULL);
                return 0;
        }

        p->type = action_type_find(ar->action);
        if (!p->type || strlen(ar->action) > ACTION_NAME_MAX) {
                action_send_result(p->ipc, p->request_id, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                                   "unknown action", NULL);
                return 0;
        }
        bad = action_check_args(ar, p->type);
        if (bad) {
                action_send_result(p->ipc, p->request_id, TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
                                   bad, NULL);
                return 0;
        }
        if (ar->n_args == 1) {
                _cleanup_free_ char *target = NULL;
                const char *reason = NULL;

                p->path = strdup(ar->args[0]);
                if (!p->path)
                        return -ENOMEM;
                /* Checked now so the user is not asked about a path that cannot be opened; checked
                 * again when performing, since the workspace may change while the user thinks. */
                r = editor_target(t->workspace, p->path, &target, &reason);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        action_send_result(p->ipc, p->request_id,
                                           TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED, reason, NULL);
                        return 0;
                }
        }

        action_authorize(TAKE_PTR(p), conn, t, ar->token.data, ar->token.len);
        return 0;
}

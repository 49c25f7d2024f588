/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CreateTask(): read and check the call (the options, and what the agent's installed card says about
 * its tasks: typed parameters, the workspace named after a parameter, whether it is kept), audit it,
 * then prepare the workspace (moved aside, created) and create the task. Nothing is created unless
 * the audit row is durable and every check passed. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/typed-params.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"
#include "json/json-util.h"
#include "registryd-privilege.h"
#include "template/template.h"
#include "registryd-workspace.h"
#include "registryd.h"

typedef struct CreateTaskArgs {
        json_t *params;
        char *prompt;
        char *workspace;
        bool reuse_workspace;
        bool replace_workspace;
} CreateTaskArgs;

static void create_task_args_done(CreateTaskArgs *a) {
        json_decref(a->params);
        free(a->prompt);
        free(a->workspace);
}

static int option_params(sd_bus_message *m, const char *key, void *p, sd_bus_error *error) {
        _cleanup_free_ char *parse_error = NULL;
        json_t **v = p;
        const char *s;
        int r;

        r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &s);
        if (r < 0)
                return r;
        json_decref(*v);
        *v = NULL;
        r = json_parse(s, strlen(s), TASK_PARAMS_MAX, 0, 0, v, &parse_error);
        if (r == -EFBIG)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option '%s' is too long: at most %zu bytes.", key, TASK_PARAMS_MAX);
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Option '%s' is not valid JSON: %s",
                                      key, strna(parse_error));
        if (!json_is_object(*v))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option '%s' must be a JSON object, not %s.", key, json_kind_name(*v));
        return 0;
}

/* The agent sees the prompt as params' "prompt" member, unless params already has one. */
static int create_task_params_json(CreateTaskArgs *args, char **ret) {
        if (!args->params) {
                args->params = json_object();
                if (!args->params)
                        return -ENOMEM;
        }
        if (args->prompt && !json_object_get(args->params, "prompt") &&
            json_object_set_new(args->params, "prompt", json_string(args->prompt)) < 0)
                return -ENOMEM;
        return json_dump_string(args->params, JSON_DUMP_COMPACT, ret);
}

/* Everything about the arguments that can be checked before anything is created. */
static int create_task_check(const char *name, CreateTaskArgs *args, sd_bus_error *error,
                             char **ret_params) {
        _cleanup_free_ char *params = NULL;
        int r;

        if (!name_is_valid(name, AGENT_NAME_MAX))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Not a valid agent name.");
        if (args->workspace && !workspace_name_is_valid(args->workspace))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Option 'workspace' is not a valid name: " WORKSPACE_NAME_RULES ".");
        if (args->reuse_workspace && args->replace_workspace)
                return bus_error_setf(
                        error, BUS_ERROR_INVALID_ARGS,
                        "Options 'reuse_workspace' and 'replace_workspace' exclude each other.");
        r = create_task_params_json(args, &params);
        if (r < 0)
                return r;
        if (strlen(params) > TASK_PARAMS_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "The parameters and prompt exceed %zu bytes.", TASK_PARAMS_MAX);

        *ret_params = TAKE_PTR(params);
        return 0;
}

/* What the agent's card says about the task: its typed parameters must fit, and the workspace may
 * be named after a parameter. Sets *ret_workspace to the workspace's name (borrowed from `args`
 * or params), or NULL for the task id. */
static int create_task_check_card(const char *name, const AgentCard *card, CreateTaskArgs *args,
                                  sd_bus_error *error, char **params, const char **ret_workspace) {
        _cleanup_free_ char *err = NULL;
        const char *member;
        json_t *v;
        int r;

        *ret_workspace = args->workspace;
        if (!card)
                return 0;

        /* "bootstrap a FastAPI service called billing" through the router: the prompt names the
         * stack and the project when the caller gave no explicit parameters. */
        if (card->task.typed_params == AGENT_TYPED_PARAMS_BOOTSTRAP) {
                _cleanup_strv_free_ char **stacks = NULL;

                (void) template_list_names(NULL, &stacks); /* none installed: nothing to match */
                r = bootstrap_params_fill_from_prompt(args->params, stacks);
                if (r < 0)
                        return r;
                *params = mfree(*params);
                r = json_dump_string(args->params, JSON_DUMP_COMPACT, params);
                if (r < 0)
                        return r;
                if (strlen(*params) > TASK_PARAMS_MAX)
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "The parameters and prompt exceed %zu bytes.", TASK_PARAMS_MAX);
        }

        r = typed_params_check(card->task.typed_params, args->params, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Agent '%s' takes %s parameters: %s; the members are stack, "
                                      "project_name, options (an object of strings), force and open.",
                                      name, agent_typed_params_to_string(card->task.typed_params),
                                      strna(err));

        member = card->task.workspace_from_param;
        if (args->workspace || !member)
                return 0;
        v = json_object_get(args->params, member);
        if (!v)
                return bus_error_setf(
                        error, BUS_ERROR_INVALID_ARGS,
                        "Parameter '%s' is missing: agent '%s' names the task's workspace after "
                        "it (or give the 'workspace' option).",
                        member, name);
        if (!json_is_string(v) || !workspace_name_is_valid(json_string_value(v)))
                return bus_error_setf(
                        error, BUS_ERROR_INVALID_ARGS,
                        "Parameter '%s' names the task's workspace and is not a valid workspace "
                        "name: " WORKSPACE_NAME_RULES ".",
                        member);
        *ret_workspace = json_string_value(v);
        return 0;
}

static int create_task_workspace(Context *c, const char *name, bool reuse, sd_bus_error *error, char **ret,
                                 bool *ret_created) {
        int r;

        r = workspace_create_full(c->workspaces_dir, name, reuse, ret, ret_created);
        if (r == -EEXIST)
                return bus_error_setf(error, BUS_ERROR_ALREADY_EXISTS,
                                      "Workspace '%s' exists already; set reuse_workspace to use it or "
                                      "replace_workspace to move it aside.",
                                      name);
        if (r == -ELOOP || r == -EXDEV || r == -ENOTDIR)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Workspace '%s' is not a plain directory beneath the workspaces root.",
                                      name);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to create workspace '%s': %m", name);
        return 0;
}

/* A CreateTask() whose audit row is being committed: the task is created once the row is durable. */
typedef struct CreateTaskCall {
        sd_bus_message *call;
        char id[TASK_ID_LEN + 1];
        char *agent;
        char *workspace; /* its name */
        bool reuse_workspace;
        bool replace_workspace;
        bool keep_completed_only; /* the card's keep_workspace is "completed" */
        char *params;
        char *prompt;
} CreateTaskCall;

static CreateTaskCall *create_task_call_free(CreateTaskCall *call) {
        if (!call)
                return NULL;
        sd_bus_message_unref(call->call);
        free(call->agent);
        free(call->workspace);
        free(call->params);
        free(call->prompt);
        return mfree(call);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CreateTaskCall *, create_task_call_free);

/* What the task may do: the capabilities its token will carry (the agent's installed card's). */
static int create_task_audit_detail(Context *c, const CreateTaskCall *call, json_t **ret) {
        const AgentCard *card = registry_agent_card(c, call->agent);
        _cleanup_json_ json_t *caps = json_array(), *v = NULL;

        if (!caps)
                return -ENOMEM;
        for (char **cap = card ? card->permissions.capabilities : NULL; cap && *cap; cap++)
                if (json_array_append_new(caps, json_string(*cap)) < 0)
                        return -ENOMEM;
        v = json_pack("{s:s, s:b, s:b, s:s, s:O}", "workspace", call->workspace, "reuse_workspace",
                      call->reuse_workspace, "replace_workspace", call->replace_workspace, "keep_workspace",
                      call->keep_completed_only ? "completed" : "always", "capabilities", caps);
        if (!v)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

/* replace_workspace: the old workspace goes to .aside/<name>-<task id>; *ret_aside is NULL when
 * there was none. */
static int create_task_move_aside(Context *c, const CreateTaskCall *call, sd_bus_error *error,
                                  char **ret_aside) {
        _cleanup_free_ char *aside_name = NULL, *aside = NULL, *from = NULL;
        _cleanup_json_ json_t *detail = NULL;
        int r;

        *ret_aside = NULL;
        aside_name = strjoin(call->workspace, "-", call->id);
        if (!aside_name)
                return -ENOMEM;
        r = workspace_move_aside(c->workspaces_dir, call->workspace, aside_name, &aside);
        if (r == -ENOENT)
                return 0;
        if (r == -ENOTDIR || r == -ELOOP || r == -EXDEV)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Workspace '%s' is not a plain directory beneath the workspaces root.",
                                      call->workspace);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to move workspace '%s' aside to %s/%s/%s: %m",
                                            call->workspace, c->workspaces_dir, WORKSPACE_ASIDE_DIR,
                                            aside_name);

        log_info("Task %s: moved workspace %s aside to %s.", call->id, call->workspace, aside);
        from = strjoin(c->workspaces_dir, "/", call->workspace);
        if (!from)
                return -ENOMEM;
        detail = json_pack("{s:s, s:s, s:s}", "workspace", call->workspace, "from", from, "to", aside);
        r = detail ? registry_audit(c, NULL, "workspace-moved-aside", call->id, call->agent, detail, NULL,
                                    NULL)
                   : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to audit that workspace %s was moved aside, ignoring: %m",
                                  call->workspace);
        *ret_aside = TAKE_PTR(aside);
        return 0;
}

/* The task's first log event, when there is something to say about its workspace. */
static int create_task_log_workspace(Task *t, const char *aside) {
        _cleanup_free_ char *moved = NULL, *text = NULL;
        int r;

        if (aside) {
                moved = strjoin("the existing workspace ", t->workspace, " was moved aside to ", aside);
                if (!moved)
                        return -ENOMEM;
        }
        if (t->workspace_disposable) {
                r = asprintf_safe(&text,
                                  "%s%sworkspace %s created for this task: it is removed if the task "
                                  "does not complete",
                                  strempty(moved), moved ? "; " : "", t->workspace);
                if (r < 0)
                        return r;
        } else
                text = TAKE_PTR(moved);
        return text ? task_log_workspace(t, text) : 0;
}

/* The agent may have gone while the row was being written. */
/* A workspace that a task still works in, or that a task that did not complete is about to remove,
 * must not be moved aside (the task would go on writing in the new one, or remove it) nor be shared
 * with such a task's removal pending. Sharing a workspace with a running task that keeps it stays
 * allowed (reuse_workspace), as before. */
static int create_task_check_busy(Context *c, const CreateTaskCall *call, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;

        if (!call->replace_workspace && !call->reuse_workspace)
                return 0; /* a new workspace: it must not exist at all */
        path = strjoin(c->workspaces_dir, "/", call->workspace);
        if (!path)
                return -ENOMEM;
        LIST_FOREACH(tasks, t, c->tasks_head) {
                bool running = !task_state_is_final(t->state), removing = t->workspace_removal_pending;

                if (!streq(t->workspace, path))
                        continue;
                if (removing || (running && (call->replace_workspace || t->workspace_disposable)))
                        return bus_error_setf(error, BUS_ERROR_BUSY,
                                              "Workspace '%s' is in use by task %s (%s%s); cancel it or wait "
                                              "for it to end.",
                                              call->workspace, t->id, task_state_to_string(t->state),
                                              removing ? ", its workspace is being removed" : "");
        }
        return 0;
}

static int create_task_finish(Context *c, CreateTaskCall *call, sd_bus_error *error) {
        _cleanup_free_ char *workspace = NULL, *path = NULL, *aside = NULL;
        bool created = false;
        Agent *a;
        Task *t;
        int r;

        a = agent_get(c, call->agent);
        if (!a || !agent_is_connected(a))
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_AGENT,
                                      "Agent '%s' went away while the task was being created.", call->agent);
        r = create_task_check_busy(c, call, error);
        if (r < 0)
                return r;
        if (call->replace_workspace) {
                r = create_task_move_aside(c, call, error, &aside);
                if (r < 0)
                        return r;
        }
        r = create_task_workspace(c, call->workspace, call->reuse_workspace, error, &workspace, &created);
        if (r < 0)
                return r;

        r = task_create(c, a, call->id, workspace, call->params, call->prompt, &t);
        if (r < 0)
                return r;
        t->workspace_disposable = created && call->keep_completed_only;
        r = create_task_log_workspace(t, aside);
        if (r < 0)
                return r;
        r = context_flush(c);
        if (r < 0)
                return r;
        (void) task_dispatch(t);

        r = bus_object_path(REGISTRY_TASK_PREFIX, t->id, &path);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(call->call, "so", t->id, path);
}

/* The row said the task was about to be created: say too that it was not. */
static void create_task_audit_failure(Context *c, const CreateTaskCall *call, const char *message) {
        _cleanup_json_ json_t *detail = json_pack("{s:s}", "error", strna(message));
        int r;

        r = detail ? registry_audit(c, NULL, "task-create-failed", call->id, call->agent, detail, NULL, NULL)
                   : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to audit that task %s was not created, ignoring: %m", call->id);
}

static void create_task_audited(Context *c, int error, void *userdata) {
        _cleanup_(create_task_call_freep) CreateTaskCall *call = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (error < 0)
                r = registry_audit_refused(c, error, &e);
        else {
                r = bus_error_from_return(&e, create_task_finish(c, call, &e));
                if (r < 0)
                        create_task_audit_failure(c, call, e.message);
        }
        if (r >= 0)
                return;
        r = sd_bus_reply_method_error(call->call, &e);
        if (r < 0)
                log_debug_errno(r, "Failed to answer CreateTask(), ignoring: %m");
}

static int method_create_task_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        static const BusOption table[] = {
                {"params", "s", option_params, offsetof(CreateTaskArgs, params)},
                {"prompt", "s", bus_option_string, offsetof(CreateTaskArgs, prompt)},
                {"workspace", "s", bus_option_string, offsetof(CreateTaskArgs, workspace)},
                {"reuse_workspace", "b", bus_option_bool, offsetof(CreateTaskArgs, reuse_workspace)},
                {"replace_workspace", "b", bus_option_bool, offsetof(CreateTaskArgs, replace_workspace)},
                {},
        };
        _cleanup_(create_task_args_done) CreateTaskArgs args = {};
        _cleanup_(create_task_call_freep) CreateTaskCall *call = NULL;
        _cleanup_json_ json_t *detail = NULL;
        _cleanup_free_ char *params = NULL;
        char id[TASK_ID_LEN + 1];
        Context *c = userdata;
        const AgentCard *card;
        const char *name, *workspace;
        Agent *a;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_read_options(m, table, &args, error);
        if (r < 0)
                return r;

        r = create_task_check(name, &args, error, &params);
        if (r < 0)
                return r;

        a = agent_get(c, name);
        if (!a)
                return bus_error_no_such_agent(error, name);
        if (!agent_is_connected(a))
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_AGENT,
                                      "Agent '%s' is %s, not registered; the router starts agents.", name,
                                      agent_state_to_string(a->state));
        card = registry_agent_card(c, name);
        r = create_task_check_card(name, card, &args, error, &params, &workspace);
        if (r < 0)
                return r;

        r = task_id_generate(c, id);
        if (r < 0)
                return r;
        call = calloc(1, sizeof(CreateTaskCall));
        if (!call)
                return -ENOMEM;
        memcpy(call->id, id, sizeof(id));
        call->call = sd_bus_message_ref(m);
        call->agent = strdup(name);
        call->workspace = strdup(workspace ?: id);
        call->reuse_workspace = args.reuse_workspace;
        call->replace_workspace = args.replace_workspace;
        call->keep_completed_only = card && card->task.keep_workspace == AGENT_KEEP_WORKSPACE_COMPLETED;
        call->params = TAKE_PTR(params);
        call->prompt = TAKE_PTR(args.prompt);
        if (!call->agent || !call->workspace)
                return -ENOMEM;

        /* Fail closed: nothing is created, not even the workspace, unless the row is written. */
        r = create_task_audit_detail(c, call, &detail);
        if (r < 0)
                return r;
        r = registry_audit(c, NULL, "task-create", id, name, detail, create_task_audited, call);
        if (r < 0)
                return registry_audit_refused(c, r, error);
        TAKE_PTR(call);
        return 1;
}

int method_create_task(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_error_from_return(error, method_create_task_impl(m, userdata, error));
}

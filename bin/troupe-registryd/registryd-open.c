/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OpenWorkspace(): the user asks to open a task's workspace in the editor. This file reads the call
 * and finds what to open (the task, by id or by the workspace it used, and the folder in it);
 * registryd-action.c then handles exec.editor exactly as an ActionRequest of the task's agent:
 * capability, consent, audit, the supervisor. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"
#include "json/json-util.h"
#include "paths/path-resolve.h"
#include "registryd-workspace.h"
#include "registryd.h"

/* A target longer than this names neither a task id nor a workspace. */
#define OPEN_TARGET_MAX 256U

typedef struct OpenArgs {
        char *path;
} OpenArgs;

static void open_args_done(OpenArgs *a) {
        free(a->path);
}

/* The last path component of a task's workspace: the name it was created under. */
static const char *workspace_name_of(const Task *t) {
        const char *slash = strrchr(t->workspace, '/');

        return slash ? slash + 1 : t->workspace;
}

/* A task id, else the newest task whose workspace has that name. */
static Task *open_find_task(Context *c, const char *target) {
        Task *t = task_get(c, target), *newest = NULL;

        if (t && !t->is_new)
                return t;
        if (!workspace_name_is_valid(target))
                return NULL;
        LIST_FOREACH(tasks, x, c->tasks_head) {
                if (x->is_new || !streq(workspace_name_of(x), target))
                        continue;
                if (!newest || x->created_usec >= newest->created_usec)
                        newest = x;
        }
        return newest;
}

/* The folder a task's params name as "project_name" (a bootstrap's project), when it is one
 * directory that exists in the workspace; NULL otherwise (then the workspace itself is opened). */
static int open_project_dir(Context *c, Task *t, char **ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_t *params = NULL;
        _cleanup_close_ int ws = -EBADF, fd = -EBADF;
        const char *name;
        struct stat st;
        int r;

        *ret = NULL;
        r = journal_task_get_text(c->journal, t->id, JOURNAL_TASK_PARAMS, &text);
        if (r < 0) {
                log_debug_errno(r, "Failed to read the params of task %s, opening its workspace: %m", t->id);
                return 0;
        }
        if (isempty(text) || json_parse(text, strlen(text), TASK_PARAMS_MAX, 0, 0, &params, NULL) < 0)
                return 0;
        name = json_string_value(json_object_get(params, "project_name"));
        if (!name || strchr(name, '/') || path_validate_relative(name, strlen(name)) < 0)
                return 0;
        ws = open(t->workspace, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (ws < 0)
                return 0;
        fd = path_open_beneath(ws, name, strlen(name), O_PATH);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        *ret = strdup(name);
        return *ret ? 0 : -ENOMEM;
}

static int method_open_workspace_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        static const BusOption table[] = {
                {"path", "s", bus_option_string, offsetof(OpenArgs, path)},
                {},
        };
        _cleanup_(open_args_done) OpenArgs args = {};
        _cleanup_free_ char *project = NULL;
        Context *c = userdata;
        const char *target;
        Task *t;
        int r;

        r = sd_bus_message_read(m, "s", &target);
        if (r < 0)
                return r;
        r = bus_read_options(m, table, &args, error);
        if (r < 0)
                return r;
        if (isempty(target) || strlen(target) > OPEN_TARGET_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "The target must be a task id or a workspace name (1..%u bytes).",
                                      OPEN_TARGET_MAX);

        t = open_find_task(c, target);
        if (!t)
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_TASK,
                                      "No task '%s', and no task used a workspace named '%s'. List the "
                                      "tasks with: troupectl tasks",
                                      target, target);
        if (!args.path) {
                r = open_project_dir(c, t, &project);
                if (r < 0)
                        return r;
        }
        return action_open_workspace(c, t, args.path ?: project, m, error);
}

int method_open_workspace(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_error_from_return(error, method_open_workspace_impl(m, userdata, error));
}

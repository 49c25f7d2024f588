/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-tasks.h: reading and printing tasks, shared by `tasks`, `task show`, `run --wait` and `logs`. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ctl.h"

/* The task's object path, or -EINVAL when `id` cannot be a task id. */
int ctl_task_path(const char *id, char **ret);

/* The task's properties as JSON (snake_case keys, `result` parsed, empty `result`/`error` as null).
 * A task that does not exist gives -ENOENT without logging; other failures are logged. */
int ctl_task_fetch(Ctl *c, const char *id, json_t **ret);

/* Logs "no task 'ID'" with how to list tasks, and returns CTL_EXIT_NO_SUCH_OBJECT. */
int ctl_task_log_missing(const char *id);

/* One task, as `task show` prints it: "key: value" lines, or one JSON object with --json. */
int ctl_task_print(Ctl *c, json_t *task);

/* Whether a task state is final (completed, failed, canceled, rejected). */
bool task_state_is_final(const char *state);

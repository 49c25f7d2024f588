/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tasks: their A2A states, the events they journal, and what happens when their agent goes away. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "agent/typed-params.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "json/json-util.h"
#include "registryd-privilege.h"
#include "registryd-workspace.h"
#include "registryd.h"

static const char *const task_state_table[_TASK_STATE_MAX] = {
        [TASK_SUBMITTED] = "submitted", [TASK_ACCEPTED] = "accepted",
        [TASK_WORKING] = "working",     [TASK_INPUT_REQUIRED] = "input-required",
        [TASK_COMPLETED] = "completed", [TASK_FAILED] = "failed",
        [TASK_CANCELED] = "canceled",   [TASK_REJECTED] = "rejected",
};

DEFINE_STRING_TABLE_LOOKUP(task_state, TaskState);

#define log_task(level, t, ...) log_full_errno_field(level, 0, "TASK", (t)->id, __VA_ARGS__)

static int task_compare(const void *a, const void *b) {
        return strcmp(((const Task *) a)->id, ((const Task *) b)->id);
}

Task *task_get(Context *c, const char *id) {
        Task key;
        void *found;

        if (!id || strlen(id) != TASK_ID_LEN)
                return NULL;
        memcpy(key.id, id, TASK_ID_LEN + 1);
        found = tfind(&key, &c->tasks_by_id, task_compare);
        return found ? *(Task **) found : NULL;
}

/* Takes the task off its agent's (or the orphans') list of running tasks. */
static void task_detach(Task *t) {
        Context *c = t->context;

        if (t->agent)
                LIST_REMOVE(agent_tasks, t->agent->tasks_head, t->agent->tasks_tail, t);
        else if (t->agent_tasks_next || t->agent_tasks_prev || c->orphans_head == t)
                LIST_REMOVE(agent_tasks, c->orphans_head, c->orphans_tail, t);
        t->agent = NULL;
}

static void task_stop_timer(Task *t) {
        t->timer = sd_event_source_disable_unref(t->timer);
        t->timer_kind = TASK_TIMER_NONE;
}

Task *task_free(Task *t) {
        Context *c;

        if (!t)
                return NULL;
        c = t->context;

        while (t->readers_head)
                event_reader_free(t->readers_head);
        task_stop_timer(t);
        task_detach(t);
        if (t->is_dirty)
                LIST_REMOVE(dirty, c->dirty_head, c->dirty_tail, t);
        LIST_REMOVE(tasks, c->tasks_head, c->tasks_tail, t);
        (void) tdelete(t, &c->tasks_by_id, task_compare);
        c->n_tasks--;

        free(t->pending_states);
        free(t->agent_name);
        free(t->workspace);
        free(t->error);
        return mfree(t);
}

int task_remove(Task *t) {
        Context *c = t->context;

        if (task_state_is_final(t->pub_state) && c->n_finished_tasks > 0)
                c->n_finished_tasks--;
        if (!t->is_new && c->bus) {
                int r = bus_emit_object_removed(c->bus, REGISTRY_TASK_PREFIX, t->id);
                if (r < 0)
                        log_debug_errno(r, "Failed to announce removal of task %s, ignoring: %m", t->id);
        }
        task_free(t);
        return 0;
}

static int task_new(Context *c, const char *id, const char *agent_name, const char *workspace, Task **ret) {
        _cleanup_free_ Task *t = NULL;
        void *node;

        t = calloc(1, sizeof(Task));
        if (!t)
                return -ENOMEM;
        t->context = c;
        if (strlen(id) != TASK_ID_LEN)
                return -EINVAL;
        memcpy(t->id, id, TASK_ID_LEN + 1);
        t->agent_name = strdup(agent_name);
        t->workspace = strdup(workspace);
        if (!t->agent_name || !t->workspace) {
                free(t->agent_name);
                free(t->workspace);
                return -ENOMEM;
        }

        node = tsearch(t, &c->tasks_by_id, task_compare);
        if (!node || *(Task **) node != t) {
                free(t->agent_name);
                free(t->workspace);
                return node ? -EEXIST : -ENOMEM;
        }
        LIST_APPEND(tasks, c->tasks_head, c->tasks_tail, t);
        c->n_tasks++;

        *ret = TAKE_PTR(t);
        return 0;
}

int task_id_generate(Context *c, char ret[static TASK_ID_LEN + 1]) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                uint64_t v;

                if (getrandom(&v, sizeof(v), 0) != sizeof(v))
                        return -errno ?: -EIO;
                /* The first digit is a letter (a-f): sd_bus_path_encode() escapes a leading
                 * digit, and the id should be the object path's last element as it is. */
                (void) snprintf(ret, TASK_ID_LEN + 1, "%016" PRIx64, v);
                ret[0] = "abcdef"[(v >> 60) % 6];
                if (!task_get(c, ret))
                        return 0;
        }
        return -EEXIST;
}

/* Journal writes are part of the transaction the next commit makes durable. If one fails we are
 * ahead of the journal for good: stop, so that a restart brings back the last consistent state. */
static int task_journal_failed(Task *t, int r) {
        log_error_errno(r, "Failed to journal task %s, exiting: %s", t->id,
                        journal_last_error(t->context->journal));
        (void) sd_event_exit(t->context->event, EXIT_FAILURE);
        return r;
}

static int task_journal_event(Task *t, const char *type, json_t *payload) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = json_dump_string(payload, JSON_DUMP_COMPACT, &text);
        if (r < 0)
                return r;
        r = context_journal_begin(t->context);
        if (r < 0)
                return task_journal_failed(t, r);
        r = journal_event_append(t->context->journal, t->id, t->seq + 1, now_usec(CLOCK_REALTIME), type,
                                 text);
        if (r < 0)
                return task_journal_failed(t, r);
        t->seq++;
        task_mark_dirty(t, 0);
        return 0;
}

int task_log(Task *t, const char *stream, const char *text) {
        _cleanup_json_ json_t *p = NULL;

        p = json_pack("{s:s, s:s}", "stream", stream, "text", text);
        if (!p)
                return -ENOMEM;
        return task_journal_event(t, "log", p);
}

int task_log_workspace(Task *t, const char *text) {
        _cleanup_json_ json_t *p = NULL;

        /* "workspace_disposable" is how task_load() knows it again after a restart. */
        p = json_pack("{s:s, s:s, s:b}", "stream", "registry", "text", text, "workspace_disposable",
                      t->workspace_disposable);
        if (!p)
                return -ENOMEM;
        return task_journal_event(t, "log", p);
}

static int task_load_workspace_event(uint64_t seq, uint64_t time_usec, const char *type, const char *payload,
                                     void *userdata) {
        _cleanup_json_ json_t *v = NULL;
        Task *t = userdata;

        if (!streq(type, "log"))
                return 0;
        if (json_parse(payload, strlen(payload), TASK_LOG_TEXT_MAX * 2, 0, 0, &v, NULL) < 0)
                return 0;
        if (!json_object_get(v, "workspace_disposable"))
                return 0;
        t->workspace_disposable = json_is_true(json_object_get(v, "workspace_disposable"));
        return 1;
}

static int on_task_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int task_arm_timer(Task *t, TaskTimer kind, usec_t after) {
        usec_t when = now_usec(CLOCK_MONOTONIC) + after;
        int r;

        if (t->timer) {
                r = sd_event_source_set_time(t->timer, when);
                if (r >= 0)
                        r = sd_event_source_set_enabled(t->timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time(t->context->event, &t->timer, CLOCK_MONOTONIC, when,
                                      10 * USEC_PER_MSEC, on_task_timer, t);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the timer of task %s: %m", t->id);
        t->timer_kind = kind;
        return 0;
}

/* Journals the state event `payload` and moves the task. */
static int task_change_state(Task *t, TaskState s, json_t *payload) {
        int r;

        if (task_state_is_final(t->state))
                return -ESTALE;

        r = task_journal_event(t, "state", payload);
        if (r < 0)
                return r;

        log_task(LOG_DEBUG, t, "Task %s: %s -> %s.", t->id, task_state_to_string(t->state),
                 task_state_to_string(s));
        t->state = s;
        return task_queue_state(t, s);
}

/* {"state": s} to begin a state event's payload with. */
static json_t *state_payload(TaskState s) {
        return json_pack("{s:s}", "state", task_state_to_string(s));
}

static int task_transition(Task *t, TaskState s, const char *message) {
        _cleanup_json_ json_t *p = state_payload(s);

        if (!p)
                return -ENOMEM;
        if (t->state == s)
                return 0;
        if (!isempty(message) && json_object_set_new(p, "message", json_string(message)) < 0)
                return -ENOMEM;
        return task_change_state(t, s, p);
}

/* The workspace's name: t->workspace is <workspaces root>/<name>. NULL when it is not (the root
 * was moved between two runs of the registry): then it is left alone. */
static const char *task_workspace_name(Task *t) {
        const char *name = startswith(t->workspace, t->context->workspaces_dir);

        if (!name || name[0] != '/' || !workspace_name_is_valid(name + 1))
                return NULL;
        return name + 1;
}

static void task_workspace_audit(Task *t, const char *action, const char *error) {
        _cleanup_json_ json_t *detail = NULL;
        int r;

        detail = json_pack("{s:s, s:s, s:s*}", "path", t->workspace, "state", task_state_to_string(t->state),
                           "error", error);
        r = detail ? registry_audit(t->context, NULL, action, t->id, t->agent_name, detail, NULL, NULL)
                   : -ENOMEM;
        if (r < 0)
                log_task(LOG_WARNING, t, "Failed to audit %s of task %s, ignoring: %s", action, t->id,
                         strerror(-r));
}

/* Removes the workspace of a task that did not complete, once none of its commands is left. */
static void task_workspace_remove(Task *t) {
        const char *name = task_workspace_name(t);
        int r;

        if (!t->workspace_removal_pending || exec_count_task(t->context, t->id) > 0)
                return;
        t->workspace_removal_pending = false;
        if (!name) {
                log_task(LOG_WARNING, t, "Not removing workspace %s of task %s: it is not beneath %s.",
                         t->workspace, t->id, t->context->workspaces_dir);
                task_workspace_audit(t, "workspace-remove-failed", "not beneath the workspaces root");
                return;
        }
        r = workspace_remove(t->context->workspaces_dir, name);
        if (r == -ENOENT) {
                log_task(LOG_DEBUG, t, "Workspace %s of task %s is gone already.", t->workspace, t->id);
                return;
        }
        if (r < 0) {
                /* Swapped for a symlink (by whoever can write the workspaces root): left alone. */
                const char *why = r == -ENOTDIR || r == -ELOOP
                                          ? "not a directory: a symbolic link is never followed"
                                          : strerror(-r);

                log_task(LOG_WARNING, t, "Failed to remove workspace %s of task %s %s, ignoring: %s",
                         t->workspace, t->id, task_state_to_string(t->state), why);
                task_workspace_audit(t, "workspace-remove-failed", why);
                return;
        }
        log_task(LOG_INFO, t, "Removed workspace %s of task %s, which ended %s.", t->workspace, t->id,
                 task_state_to_string(t->state));
        task_workspace_audit(t, "workspace-removed", NULL);
}

void task_exec_done(Context *c, const char *task_id) {
        Task *t = task_get(c, task_id);

        if (t)
                task_workspace_remove(t);
}

/* Moves the task to a final state. `result` is the parsed result_json (or NULL). */
static int task_finish(Task *t, TaskState s, const char *error, const char *result_json, json_t *result) {
        _cleanup_json_ json_t *p = state_payload(s);
        int r;

        if (!p)
                return -ENOMEM;
        if (!isempty(error) && json_object_set_new(p, "error", json_string(error)) < 0)
                return -ENOMEM;
        if (result && json_object_set(p, "result", result) < 0)
                return -ENOMEM;

        r = task_change_state(t, s, p);
        if (r < 0)
                return r;

        if (!isempty(result_json)) {
                r = journal_task_set_result(t->context->journal, t->id, result_json);
                if (r < 0)
                        return task_journal_failed(t, r);
        }
        r = free_and_strdup(&t->error, isempty(error) ? NULL : error);
        if (r < 0)
                return r;
        t->finished_usec = now_usec(CLOCK_REALTIME);
        if (s == TASK_COMPLETED)
                t->progress = 1.0;
        task_mark_dirty(t, TASK_PROP_FINISHED | TASK_PROP_ERROR | TASK_PROP_RESULT | TASK_PROP_PROGRESS);
        task_stop_timer(t);
        task_detach(t);
        t->dispatched = false;
        exec_task_stop(t, s == TASK_CANCELED ? "stopped: the task was canceled" : "stopped: the task ended");
        /* Questions about a task that is over have one answer. */
        consent_task_ended(t->context, t);
        /* Partial output goes, after every command of the task has exited. */
        if (t->workspace_disposable && s != TASK_COMPLETED) {
                t->workspace_removal_pending = true;
                task_workspace_remove(t);
        }

        log_task(s == TASK_COMPLETED ? LOG_INFO : LOG_NOTICE, t, "Task %s of agent %s %s%s%s.", t->id,
                 t->agent_name, task_state_to_string(s), isempty(error) ? "" : ": ", strempty(error));
        return 0;
}

static int task_fail(Task *t, const char *error) {
        return task_finish(t, TASK_FAILED, error, NULL, NULL);
}

static int on_task_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Task *t = userdata;
        _cleanup_free_ char *msg = NULL;
        TaskTimer kind = t->timer_kind;
        usec_t sec;

        t->timer_kind = TASK_TIMER_NONE;
        if (task_state_is_final(t->state))
                return 0;

        switch (kind) {
        case TASK_TIMER_CANCEL:
                sec = t->context->cancel_timeout_usec / USEC_PER_SEC;
                (void) asprintf_safe(&msg, "canceled: the agent did not confirm within %" PRIu64 " s", sec);
                (void) task_finish(t, TASK_CANCELED, msg ?: "canceled", NULL, NULL);
                break;
        case TASK_TIMER_RECLAIM:
                sec = t->context->reclaim_grace_usec / USEC_PER_SEC;
                if (t->retried)
                        (void) asprintf_safe(&msg,
                                             "agent %s did not come back within %" PRIu64
                                             " s to run the task once more",
                                             t->agent_name, sec);
                else
                        (void) asprintf_safe(&msg,
                                             "agent %s did not reclaim the task within %" PRIu64
                                             " s after the registry restarted",
                                             t->agent_name, sec);
                (void) task_fail(t, msg ?: "agent did not come back");
                break;
        case TASK_TIMER_NONE:
                break;
        }
        return 0;
}

int task_create(Context *c, Agent *a, const char *id, const char *workspace, const char *params_json,
                const char *prompt, Task **ret) {
        _cleanup_json_ json_t *p = NULL;
        JournalTask row;
        Task *t;
        int r;

        r = task_new(c, id, a->name, workspace, &t);
        if (r < 0)
                return r;

        t->state = t->pub_state = TASK_SUBMITTED;
        t->created_usec = now_usec(CLOCK_REALTIME);
        t->is_new = true;
        t->agent = a;
        LIST_APPEND(agent_tasks, a->tasks_head, a->tasks_tail, t);

        row = (JournalTask){.id = t->id,
                            .agent = t->agent_name,
                            .state = "submitted",
                            .workspace = t->workspace,
                            .created_usec = t->created_usec};
        r = context_journal_begin(c);
        if (r >= 0)
                r = journal_task_insert(c->journal, &row, params_json, prompt);
        if (r < 0) {
                task_journal_failed(t, r);
                task_free(t);
                return r;
        }

        p = json_pack("{s:s}", "state", "submitted");
        if (!p)
                return -ENOMEM;
        r = task_journal_event(t, "state", p);
        if (r < 0)
                return r;
        r = task_queue_state(t, TASK_SUBMITTED);
        if (r < 0)
                return r;

        log_task(LOG_INFO, t, "Task %s created for agent %s in %s.", t->id, a->name, t->workspace);
        *ret = t;
        return 0;
}

int task_load(Context *c, const JournalTask *row) {
        TaskState s;
        Task *t;
        int r;

        s = task_state_from_string(row->state);
        if (s < 0)
                return log_error_errno(-EBADMSG, "Task %s in the journal has an unknown state '%s'.",
                                       row->id, row->state);

        r = task_new(c, row->id, row->agent, row->workspace, &t);
        if (r < 0)
                return log_error_errno(r, "Failed to load task %s from the journal: %m", row->id);

        t->state = t->pub_state = s;
        t->created_usec = row->created_usec;
        t->finished_usec = row->finished_usec;
        t->progress = t->pub_progress = row->progress;
        t->seq = t->committed_seq = row->seq;
        t->retried = row->retried;
        t->cancel_requested = row->cancel_requested;
        if (!isempty(row->error) && free_and_strdup(&t->error, row->error) < 0)
                return log_oom();

        if (task_state_is_final(s)) {
                c->n_finished_tasks++;
                return 0;
        }

        /* The workspace note is among the first few events (task_log_workspace()). */
        r = journal_event_foreach(c->journal, t->id, 0, t->seq, 4, task_load_workspace_event, t);
        if (r < 0)
                log_task(LOG_WARNING, t, "Failed to read the first events of task %s, ignoring: %s", t->id,
                         journal_last_error(c->journal));

        /* Until its agent registers and claims it (or the grace period ends). */
        LIST_APPEND(agent_tasks, c->orphans_head, c->orphans_tail, t);
        return task_arm_timer(t, TASK_TIMER_RECLAIM, c->reclaim_grace_usec);
}

/* The typed parameters the agent's card asks for, built from the stored params each time, so that
 * a task dispatched again after a restart gets the same StartTask. NULL when the card asks none.
 * -EINVAL (after failing the task) when the params do not fit. */
static int task_typed_params(Task *t, const char *params, Troupe__V1__BootstrapParams **ret) {
        const AgentCard *card = registry_agent_card(t->context, t->agent_name);
        _cleanup_free_ char *error = NULL, *msg = NULL;
        _cleanup_json_ json_t *v = NULL;
        int r;

        *ret = NULL;
        if (!card || card->task.typed_params == AGENT_TYPED_PARAMS_NONE)
                return 0;
        r = json_parse(params, strlen(params), TASK_PARAMS_MAX, 0, 0, &v, &error);
        if (r >= 0)
                r = bootstrap_params_from_json(v, ret, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                /* Checked by CreateTask: only a card changed since then gets here. */
                (void) asprintf_safe(
                        &msg, "the task's parameters do not fit the %s parameters of agent %s: %s",
                        agent_typed_params_to_string(card->task.typed_params), t->agent_name, strna(error));
                (void) task_fail(t, msg ?: "the task's parameters do not fit the agent's typed parameters");
                return -EINVAL;
        }
        return 0;
}

int task_dispatch(Task *t) {
        _cleanup_(bootstrap_params_message_freep) Troupe__V1__BootstrapParams *bootstrap = NULL;
        _cleanup_free_ char *params = NULL;
        _cleanup_free_ void *token = NULL;
        size_t token_size = 0;
        int r;

        if (!t->agent || !t->agent->conn)
                return -ENOTCONN;

        r = journal_task_get_text(t->context->journal, t->id, JOURNAL_TASK_PARAMS, &params);
        if (r < 0)
                return log_error_errno(r, "Failed to read the parameters of task %s: %s", t->id,
                                       journal_last_error(t->context->journal));
        r = task_typed_params(t, params, &bootstrap);
        if (r < 0)
                return r;
        /* A fresh token per dispatch: one that was sent on a connection now gone stays valid until
         * it expires, but the task's agent is the only one it names. */
        r = registry_token_mint(t->context, t, &token, &token_size);
        if (r < 0) {
                log_task(LOG_ERR, t, "Failed to mint the capability token of task %s: %s", t->id, strerror(-r));
                return task_fail(t, "the registry could not mint the task's capability token");
        }

        r = conn_send_start_task(t->agent->conn, t, params, bootstrap, token, token_size);
        if (r < 0)
                /* The connection is going: its disconnect handler deals with the task. */
                return log_warning_errno(r, "Failed to send task %s to agent %s: %m", t->id, t->agent_name);

        t->dispatched = true;
        if (t->timer_kind == TASK_TIMER_RECLAIM)
                task_stop_timer(t);
        log_task(LOG_DEBUG, t, "Task %s sent to agent %s.", t->id, t->agent_name);
        return 0;
}

int task_cancel(Task *t, const char *reason) {
        _cleanup_free_ char *msg = NULL;
        int r;

        if (task_state_is_final(t->state) || t->cancel_requested)
                return 0;

        t->cancel_requested = true;
        r = asprintf_safe(&msg, "cancel requested: %s", reason);
        if (r < 0)
                return r;
        r = task_log(t, "registry", msg);
        if (r < 0)
                return r;
        /* Its commands stop now, not when the agent gets round to answering. */
        exec_task_stop(t, "stopped: the task was canceled");

        if (t->dispatched && t->agent && t->agent->conn) {
                r = conn_send_cancel_task(t->agent->conn, t->id, reason);
                if (r >= 0)
                        return task_arm_timer(t, TASK_TIMER_CANCEL, t->context->cancel_timeout_usec);
        }
        /* Nobody is running it: it ends here. */
        return task_finish(t, TASK_CANCELED, reason, NULL, NULL);
}

int task_agent_gone(Task *t, const char *why) {
        _cleanup_free_ char *msg = NULL;
        Agent *a = t->agent;
        int r;

        t->dispatched = false;
        if (task_state_is_final(t->state))
                return 0;
        /* Nobody is left to read their results; a retry runs them again. */
        exec_task_stop(t, "stopped: the agent that asked for it is gone");
        if (t->cancel_requested)
                return task_finish(t, TASK_CANCELED, why, NULL, NULL);
        if (!a || !a->retry || t->retried)
                return task_fail(t, why);

        t->retried = true;
        r = asprintf_safe(&msg, "%s; it is dispatched once more when the agent registers again", why);
        if (r < 0)
                return r;
        if (t->state == TASK_SUBMITTED)
                r = task_log(t, "registry", msg);
        else
                r = task_transition(t, TASK_SUBMITTED, msg);
        if (r < 0)
                return r;
        return task_arm_timer(t, TASK_TIMER_RECLAIM, t->context->reclaim_grace_usec);
}

static void task_reclaimed(Task *t) {
        t->dispatched = true;
        if (t->timer_kind == TASK_TIMER_RECLAIM)
                task_stop_timer(t);
        (void) task_log(t, "registry", "reclaimed by the agent after it registered again");
        if (t->cancel_requested && t->timer_kind != TASK_TIMER_CANCEL) {
                if (conn_send_cancel_task(t->agent->conn, t->id, "canceled") >= 0)
                        (void) task_arm_timer(t, TASK_TIMER_CANCEL, t->context->cancel_timeout_usec);
        }
}

/* The agent registered (again): it keeps the tasks it names, gets the ones that wait for it, and
 * those it no longer has are treated as if it had died running them. */
void task_agent_back(Agent *a, char **claimed) {
        LIST_FOREACH_SAFE(agent_tasks, t, n, a->tasks_head) {
                if (strv_contains(claimed, t->id)) {
                        task_reclaimed(t);
                        continue;
                }
                /* Not accepted yet as far as we know: (re)send it. Anything further along was lost
                 * with the agent's previous life. */
                if (t->state != TASK_SUBMITTED)
                        (void) task_agent_gone(t, "the agent registered again without this task");
                if (t->state == TASK_SUBMITTED)
                        (void) task_dispatch(t);
        }

        STRV_FOREACH (id, claimed) {
                Task *t = task_get(a->context, *id);

                if (t && t->agent == a)
                        continue;
                log_notice("Agent %s claims task %s, which it does not run for the registry; canceling it.",
                           a->name, *id);
                (void) conn_send_cancel_task(a->conn, *id,
                                             "the registry has no such running task for this agent");
        }
}

/* A progress or log line from an accepted task means the agent is working on it. */
static int task_ensure_working(Task *t) {
        int r;

        if (t->state == TASK_SUBMITTED) {
                r = task_transition(t, TASK_ACCEPTED, NULL);
                if (r < 0)
                        return r;
        }
        if (t->state == TASK_ACCEPTED)
                return task_transition(t, TASK_WORKING, NULL);
        return 0;
}

int task_handle_accepted(Task *t, bool accepted, const char *reason) {
        if (t->state != TASK_SUBMITTED)
                return -EISCONN;
        if (strlen(reason) > TASK_MESSAGE_MAX)
                return -EINVAL;
        if (accepted)
                return task_transition(t, TASK_ACCEPTED, NULL);
        return task_finish(t, TASK_REJECTED, isempty(reason) ? "rejected by the agent" : reason, NULL, NULL);
}

int task_handle_progress(Task *t, double fraction, const char *message) {
        _cleanup_json_ json_t *p = NULL;
        int r;

        if (!isfinite(fraction) || fraction < 0 || fraction > 1 || strlen(message) > TASK_MESSAGE_MAX)
                return -EINVAL;
        r = task_ensure_working(t);
        if (r < 0)
                return r;

        /* Progress never goes backwards, whatever the agent says. */
        fraction = MAX(fraction, t->progress);
        p = json_pack("{s:f}", "progress", fraction);
        if (!p || (!isempty(message) && json_object_set_new(p, "message", json_string(message)) < 0))
                return -ENOMEM;
        r = task_journal_event(t, "progress", p);
        if (r < 0)
                return r;
        if (fraction != t->progress) {
                t->progress = fraction;
                task_mark_dirty(t, TASK_PROP_PROGRESS);
        }
        return 0;
}

int task_handle_log(Task *t, int stream, const char *text) {
        static const char *const streams[] = {"agent", "stdout", "stderr", "agent"};
        int r;

        if (strlen(text) > TASK_LOG_TEXT_MAX)
                return -EINVAL;
        r = task_ensure_working(t);
        if (r < 0)
                return r;
        return task_log(t, stream >= 0 && (size_t) stream < ELEMENTSOF(streams) ? streams[stream] : "agent",
                        text);
}

int task_handle_state(Task *t, TaskState s, const char *message) {
        int r;

        /* Final states come with TaskResult, the first ones from the registry and TaskAccepted. */
        if ((s != TASK_WORKING && s != TASK_INPUT_REQUIRED) || strlen(message) > TASK_MESSAGE_MAX)
                return -EINVAL;
        if (t->state == TASK_SUBMITTED) {
                r = task_transition(t, TASK_ACCEPTED, NULL);
                if (r < 0)
                        return r;
        }
        return task_transition(t, s, message);
}

int task_handle_result(Task *t, TaskState s, const char *result_json, const char *error) {
        _cleanup_json_ json_t *result = NULL;
        _cleanup_free_ char *parse_error = NULL, *msg = NULL;
        int r;

        if (!task_state_is_final(s) || strlen(error) > TASK_MESSAGE_MAX)
                return -EINVAL;

        if (!isempty(result_json)) {
                r = json_parse(result_json, strlen(result_json), TASK_RESULT_MAX, 0, JSON_PARSE_ANY_VALUE,
                               &result, &parse_error);
                if (r < 0) {
                        /* The task is over either way; it did not deliver a usable result. */
                        (void) asprintf_safe(&msg, "the agent's result is not valid JSON: %s",
                                             strna(parse_error));
                        return task_fail(t, msg ?: "the agent's result is not valid JSON");
                }
        }

        if (s == TASK_FAILED && isempty(error))
                error = "the agent reported failure without a reason";
        return task_finish(t, s, error, result ? result_json : NULL, result);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Journal first, publish second: changes are written into one open transaction, committed in a
 * group once the event loop has handled everything that was ready, and only then announced on the
 * bus and to event readers. A crash can lose what was never announced, never what was. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "basic/log.h"
#include "registryd.h"

static int on_commit(sd_event_source *s, void *userdata) {
        Context *c = userdata;
        int r;

        r = context_flush(c);
        if (r < 0) {
                /* In memory we are now ahead of the journal and cannot take it back: stop, so that
                 * the service manager restarts us from the last commit, which is consistent. */
                log_error_errno(r, "Cannot continue without a working journal, exiting.");
                (void) sd_event_exit(c->event, EXIT_FAILURE);
        }
        return 0;
}

int context_journal_begin(Context *c) {
        int r;

        r = journal_begin(c->journal);
        if (r < 0)
                return log_error_errno(r, "Failed to begin a journal transaction: %s",
                                       journal_last_error(c->journal));

        if (!c->commit_source) {
                r = sd_event_add_defer(c->event, &c->commit_source, on_commit, c);
                if (r < 0)
                        return log_error_errno(r, "Failed to add the journal commit source: %m");
                /* After every other source that is ready at normal priority: this is what groups
                 * the messages of one loop iteration into one commit. */
                r = sd_event_source_set_priority(c->commit_source, SD_EVENT_PRIORITY_NORMAL + 1);
                if (r < 0)
                        return log_error_errno(r, "Failed to set the commit source's priority: %m");
                (void) sd_event_source_set_description(c->commit_source, "journal-commit");
        }
        r = sd_event_source_set_enabled(c->commit_source, SD_EVENT_ONESHOT);
        if (r < 0)
                return log_error_errno(r, "Failed to schedule the journal commit: %m");
        return 0;
}

void task_mark_dirty(Task *t, uint32_t props) {
        Context *c = t->context;

        t->dirty_props |= props;
        if (t->is_dirty)
                return;
        t->is_dirty = true;
        LIST_APPEND(dirty, c->dirty_head, c->dirty_tail, t);
}

int task_queue_state(Task *t, TaskState s) {
        TaskState *n;

        n = reallocarray(t->pending_states, t->n_pending_states + 1, sizeof(TaskState));
        if (!n)
                return -ENOMEM;
        t->pending_states = n;
        t->pending_states[t->n_pending_states++] = s;
        task_mark_dirty(t, TASK_PROP_STATE);
        return 0;
}

static JournalTask task_to_row(const Task *t) {
        return (JournalTask){
                .id = t->id,
                .agent = t->agent_name,
                .state = task_state_to_string(t->state),
                .workspace = t->workspace,
                .error = t->error,
                .created_usec = t->created_usec,
                .finished_usec = t->finished_usec,
                .progress = t->progress,
                .seq = t->seq,
                .retried = t->retried,
                .cancel_requested = t->cancel_requested,
        };
}

static void task_publish(Task *t) {
        _cleanup_free_ TaskState *states = TAKE_PTR(t->pending_states);
        size_t n_states = t->n_pending_states;
        bool was_final = task_state_is_final(t->pub_state), added = t->is_new;
        uint32_t props = t->dirty_props;

        t->n_pending_states = 0;
        t->dirty_props = 0;
        t->is_new = false;
        t->committed_seq = t->seq;
        t->pub_state = t->state;
        t->pub_progress = t->progress;

        registry_emit_task_published(t, added, props, states, n_states);

        if (!was_final && task_state_is_final(t->pub_state))
                t->context->n_finished_tasks++;
        if (added || (!was_final && task_state_is_final(t->pub_state))) {
                Agent *a = agent_get(t->context, t->agent_name);
                if (a)
                        registry_emit_agent_changed(a, STRV_MAKE("CurrentTasks"), false);
        }

        task_wake_readers(t);
}

/* Keeps at most max_finished_tasks finished tasks: the oldest go, with their events. */
static int context_prune(Context *c) {
        _cleanup_free_ Task **victims = NULL;
        size_t n = 0, want;
        int r;

        if (c->n_finished_tasks <= c->max_finished_tasks)
                return 0;
        want = c->n_finished_tasks - c->max_finished_tasks;

        victims = calloc(want, sizeof(Task *));
        if (!victims)
                return -ENOMEM;

        r = journal_begin(c->journal);
        if (r < 0)
                return r;
        LIST_FOREACH(tasks, t, c->tasks_head) {
                if (n >= want)
                        break;
                if (!task_state_is_final(t->pub_state) || t->is_dirty)
                        continue;
                r = journal_task_delete(c->journal, t->id);
                if (r < 0) {
                        (void) journal_rollback(c->journal);
                        return r;
                }
                victims[n++] = t;
        }
        r = journal_commit(c->journal);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                log_debug("Task %s pruned (retention %" PRIu64 " finished tasks).", victims[i]->id,
                          c->max_finished_tasks);
                (void) task_remove(victims[i]);
        }
        return 0;
}

/* Writes the rows of the changed tasks, commits, then announces everything the commit covered. */
static int context_commit(Context *c) {
        int r;

        LIST_FOREACH(dirty, t, c->dirty_head) {
                JournalTask row = task_to_row(t);

                r = journal_task_update(c->journal, &row);
                if (r < 0) {
                        (void) journal_rollback(c->journal);
                        return log_error_errno(r, "Failed to journal task %s: %s", t->id,
                                               journal_last_error(c->journal));
                }
        }

        r = journal_commit(c->journal);
        if (r < 0)
                return log_error_errno(r, "Failed to commit the task journal: %s",
                                       journal_last_error(c->journal));

        LIST_FOREACH_SAFE(dirty, t, n, c->dirty_head) {
                LIST_REMOVE(dirty, c->dirty_head, c->dirty_tail, t);
                t->is_dirty = false;
                task_publish(t);
        }
        return 0;
}

int context_flush(Context *c) {
        int r;

        if (c->commit_source)
                (void) sd_event_source_set_enabled(c->commit_source, SD_EVENT_OFF);
        if (journal_in_transaction(c->journal) || c->dirty_head) {
                r = context_commit(c);
                if (r < 0)
                        return r;
        }

        r = context_prune(c);
        if (r < 0)
                log_warning_errno(r, "Failed to prune finished tasks, ignoring: %s",
                                  journal_last_error(c->journal));
        return 0;
}

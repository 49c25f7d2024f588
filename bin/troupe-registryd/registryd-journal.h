/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-journal.h: the task journal: tasks and their numbered events, and the stored consent grants, in
 * SQLite, through lib/store. */
#pragma once

#include <stdint.h>

#include "audit/audit.h"
#include "basic/macro.h"

typedef struct Journal Journal;

/* One row of the tasks table. Strings are borrowed: from the caller when writing, from the
 * statement (valid during the callback only) when reading. */
typedef struct JournalTask {
        const char *id;
        const char *agent;
        const char *state;
        const char *workspace;
        const char *error; /* NULL or "" for none */
        uint64_t created_usec;
        uint64_t finished_usec;
        double progress;
        uint64_t seq; /* last event's sequence number */
        bool retried;
        bool cancel_requested;
} JournalTask;

typedef enum JournalTaskText {
        JOURNAL_TASK_PARAMS,
        JOURNAL_TASK_PROMPT,
        JOURNAL_TASK_RESULT,
        _JOURNAL_TASK_TEXT_MAX,
} JournalTaskText;

/* Opens (creating and migrating) the journal at `path`; the second writer of one file gets -EBUSY.
 * reterr_message as store_open(). */
int journal_open(const char *path, Journal **ret, char **reterr_message);
Journal *journal_free(Journal *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Journal *, journal_free);

const char *journal_path(Journal *j);
const char *journal_last_error(Journal *j);
/* store_health(): whether the file is still there, ours and writable. */
int journal_health(Journal *j);

/* A transaction groups any number of writes; begin on an open one does nothing. Commit makes them
 * durable (synchronous=FULL) or, failing that, rolls them back. */
int journal_begin(Journal *j);
int journal_commit(Journal *j);
int journal_rollback(Journal *j);
bool journal_in_transaction(Journal *j);

int journal_task_insert(Journal *j, const JournalTask *t, const char *params_json, const char *prompt);
/* Writes state, error, finished_usec, progress, seq, retried and cancel_requested of t->id. */
int journal_task_update(Journal *j, const JournalTask *t);
int journal_task_set_result(Journal *j, const char *id, const char *result_json);
/* A text column of the task, "" when NULL; -ENOENT for an unknown task. */
int journal_task_get_text(Journal *j, const char *id, JournalTaskText which, char **ret);
/* Deletes the task and its events. */
int journal_task_delete(Journal *j, const char *id);

typedef int (*JournalTaskFunc)(const JournalTask *t, void *userdata);
/* Calls f for every task, oldest first; stops at (and returns) a negative return of f. */
int journal_task_foreach(Journal *j, JournalTaskFunc f, void *userdata);

int journal_event_append(Journal *j, const char *id, uint64_t seq, uint64_t time_usec, const char *type,
                         const char *payload_json);

typedef int (*JournalEventFunc)(uint64_t seq, uint64_t time_usec, const char *type, const char *payload_json,
                                void *userdata);
/* Calls f for up to `limit` events of task `id` with after_seq < seq <= max_seq, in order, until f
 * returns non-zero (a negative return is passed on). Returns how many events f took. */
int journal_event_foreach(Journal *j, const char *id, uint64_t after_seq, uint64_t max_seq, size_t limit,
                          JournalEventFunc f, void *userdata);

/* One line of Task.OpenEvents(): {"seq":N,"time_usec":T,"type":"...",<payload's members>}\n.
 * `payload` must be a compact JSON object (as journal_event_append() got it). */
int journal_event_format_line(uint64_t seq, uint64_t time_usec, const char *type, const char *payload,
                              char **ret, size_t *ret_size);

/* One stored "allow-always" consent decision. Strings borrowed as for JournalTask. */
typedef struct JournalGrant {
        const char *agent;
        const char *capability;
        const char *consent_id; /* the request that was answered allow-always */
        uint64_t granted_usec; /* CLOCK_REALTIME */
} JournalGrant;

/* Stores (or replaces) the grant of g->capability to g->agent, in the open transaction if any. */
int journal_grant_put(Journal *j, const JournalGrant *g);
/* 1 when `agent` holds a stored grant of `capability`, 0 when not. */
int journal_grant_get(Journal *j, const char *agent, const char *capability);
/* Deletes a grant; -ENOENT when there was none. */
int journal_grant_delete(Journal *j, const char *agent, const char *capability);

typedef int (*JournalGrantFunc)(const JournalGrant *g, void *userdata);
/* Calls f for every grant, ordered by agent and capability; stops at a negative return of f. */
int journal_grant_foreach(Journal *j, JournalGrantFunc f, void *userdata);

/* The audit log's anchor (docs/audit.md): the head of audit.db last seen committed. Put writes it in
 * the open transaction if any; get is -ENOENT when none was ever stored. */
int journal_audit_anchor_put(Journal *j, const AuditAnchor *anchor);
int journal_audit_anchor_get(Journal *j, AuditAnchor *ret);

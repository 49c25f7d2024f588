/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "registryd-journal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"
#include "store/store.h"

/* Entry i takes the schema from user_version i to i + 1. Never edit a released entry: add one. */
static const char *const journal_migrations[] = {
        "CREATE TABLE tasks ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  agent TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  workspace TEXT NOT NULL,"
        "  created_usec INTEGER NOT NULL,"
        "  finished_usec INTEGER NOT NULL DEFAULT 0,"
        "  progress_ppm INTEGER NOT NULL DEFAULT 0,"
        "  seq INTEGER NOT NULL DEFAULT 0,"
        "  retried INTEGER NOT NULL DEFAULT 0,"
        "  cancel_requested INTEGER NOT NULL DEFAULT 0,"
        "  error TEXT,"
        "  params TEXT NOT NULL DEFAULT '{}',"
        "  prompt TEXT,"
        "  result TEXT"
        ");"
        "CREATE TABLE events ("
        "  task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
        "  seq INTEGER NOT NULL,"
        "  time_usec INTEGER NOT NULL,"
        "  type TEXT NOT NULL,"
        "  payload TEXT NOT NULL,"
        "  PRIMARY KEY (task_id, seq)"
        ") WITHOUT ROWID;",
        /* 1 -> 2: "allow-always" consent decisions, one per agent and capability. */
        "CREATE TABLE consent_grants ("
        "  agent TEXT NOT NULL,"
        "  capability TEXT NOT NULL,"
        "  consent_id TEXT NOT NULL,"
        "  granted_usec INTEGER NOT NULL,"
        "  PRIMARY KEY (agent, capability)"
        ") WITHOUT ROWID;",
        /* 2 -> 3: the audit log's anchor (registryd-audit.c): the last head of audit.db the registry
         * saw committed, kept here so that a tail cut off or rewritten there is noticed. One row. */
        "CREATE TABLE audit_anchor ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  seq INTEGER NOT NULL CHECK (seq >= 0),"
        "  hash BLOB NOT NULL CHECK (length(hash) = 32)"
        ");",
        NULL,
};

typedef enum JournalStatementId {
        ST_TASK_INSERT,
        ST_TASK_UPDATE,
        ST_TASK_SET_RESULT,
        ST_TASK_GET_PARAMS,
        ST_TASK_GET_PROMPT,
        ST_TASK_GET_RESULT,
        ST_TASK_DELETE,
        ST_TASK_ALL,
        ST_EVENT_INSERT,
        ST_EVENT_RANGE,
        ST_GRANT_PUT,
        ST_GRANT_GET,
        ST_GRANT_DELETE,
        ST_GRANT_ALL,
        ST_ANCHOR_PUT,
        ST_ANCHOR_GET,
        _ST_MAX,
} JournalStatementId;

static const char *const journal_sql[_ST_MAX] = {
        [ST_TASK_INSERT] = "INSERT INTO tasks (id, agent, state, workspace, created_usec, finished_usec,"
                           " progress_ppm, seq, retried, cancel_requested, error, params, prompt)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        [ST_TASK_UPDATE] = "UPDATE tasks SET state = ?2, finished_usec = ?3, progress_ppm = ?4, seq = ?5,"
                           " retried = ?6, cancel_requested = ?7, error = ?8 WHERE id = ?1",
        [ST_TASK_SET_RESULT] = "UPDATE tasks SET result = ?2 WHERE id = ?1",
        [ST_TASK_GET_PARAMS] = "SELECT params FROM tasks WHERE id = ?1",
        [ST_TASK_GET_PROMPT] = "SELECT prompt FROM tasks WHERE id = ?1",
        [ST_TASK_GET_RESULT] = "SELECT result FROM tasks WHERE id = ?1",
        [ST_TASK_DELETE] = "DELETE FROM tasks WHERE id = ?1",
        [ST_TASK_ALL] = "SELECT id, agent, state, workspace, created_usec, finished_usec, progress_ppm, seq,"
                        " retried, cancel_requested, error FROM tasks ORDER BY rowid",
        [ST_EVENT_INSERT] = "INSERT INTO events (task_id, seq, time_usec, type, payload)"
                            " VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_EVENT_RANGE] = "SELECT seq, time_usec, type, payload FROM events"
                           " WHERE task_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq LIMIT ?4",
        [ST_GRANT_PUT] = "INSERT OR REPLACE INTO consent_grants"
                         " (agent, capability, consent_id, granted_usec) VALUES (?1, ?2, ?3, ?4)",
        [ST_GRANT_GET] = "SELECT 1 FROM consent_grants WHERE agent = ?1 AND capability = ?2",
        [ST_GRANT_DELETE] = "DELETE FROM consent_grants WHERE agent = ?1 AND capability = ?2",
        [ST_GRANT_ALL] = "SELECT agent, capability, consent_id, granted_usec FROM consent_grants"
                         " ORDER BY agent, capability",
        [ST_ANCHOR_PUT] = "INSERT OR REPLACE INTO audit_anchor (id, seq, hash) VALUES (1, ?1, ?2)",
        [ST_ANCHOR_GET] = "SELECT seq, hash FROM audit_anchor WHERE id = 1",
};

struct Journal {
        Store *store;
        Store *tx; /* the open transaction, if any */
        StoreStatement *statements[_ST_MAX];
};

/* Progress is kept in parts per million: lib/store binds integers and text, and a millionth is
 * finer than anyone reads a progress bar. */
#define PROGRESS_PPM 1000000.0

static int64_t progress_to_ppm(double p) {
        if (!isfinite(p) || p <= 0)
                return 0;
        if (p >= 1)
                return (int64_t) PROGRESS_PPM;
        return (int64_t) llround(p * PROGRESS_PPM);
}

Journal *journal_free(Journal *j) {
        if (!j)
                return NULL;
        if (j->tx)
                (void) store_rollback(TAKE_PTR(j->tx));
        for (size_t i = 0; i < _ST_MAX; i++)
                store_statement_free(j->statements[i]);
        store_close(j->store);
        return mfree(j);
}

int journal_open(const char *path, Journal **ret, char **reterr_message) {
        _cleanup_(journal_freep) Journal *j = NULL;
        int r;

        assert_return(path, -EINVAL);
        assert_return(ret, -EINVAL);

        j = calloc(1, sizeof(Journal));
        if (!j)
                return -ENOMEM;

        r = store_open(path, 0, journal_migrations, &j->store, reterr_message);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(j);
        return 0;
}

const char *journal_path(Journal *j) {
        return store_path(j->store);
}

const char *journal_last_error(Journal *j) {
        return store_last_error(j->store);
}

int journal_health(Journal *j) {
        return store_health(j->store);
}

/* The prepared statement `id`, rewound and with its bindings cleared. */
static int journal_statement(Journal *j, JournalStatementId id, StoreStatement **ret) {
        int r;

        if (!j->statements[id]) {
                r = store_prepare(j->store, journal_sql[id], &j->statements[id]);
                if (r < 0)
                        return r;
        } else
                store_reset(j->statements[id]);

        *ret = j->statements[id];
        return 0;
}

/* Runs a statement that returns no rows. */
static int journal_run(StoreStatement *st) {
        int r;

        r = store_step(st);
        store_reset(st);
        return r < 0 ? r : 0;
}

int journal_begin(Journal *j) {
        assert_return(j, -EINVAL);

        if (j->tx)
                return 0;
        return store_begin(j->store, &j->tx);
}

int journal_commit(Journal *j) {
        assert_return(j, -EINVAL);

        if (!j->tx)
                return 0;
        return store_commit(TAKE_PTR(j->tx));
}

int journal_rollback(Journal *j) {
        assert_return(j, -EINVAL);

        if (!j->tx)
                return 0;
        return store_rollback(TAKE_PTR(j->tx));
}

bool journal_in_transaction(Journal *j) {
        return j && j->tx;
}

static int bind_text_or_null(StoreStatement *st, int idx, const char *s) {
        return store_bind_text(st, idx, isempty(s) ? NULL : s);
}

int journal_task_insert(Journal *j, const JournalTask *t, const char *params_json, const char *prompt) {
        StoreStatement *st;
        int r;

        assert_return(j && t && t->id && t->agent && t->state && t->workspace, -EINVAL);

        r = journal_statement(j, ST_TASK_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, t->id)) < 0 || (r = store_bind_text(st, 2, t->agent)) < 0 ||
            (r = store_bind_text(st, 3, t->state)) < 0 || (r = store_bind_text(st, 4, t->workspace)) < 0 ||
            (r = store_bind_int64(st, 5, (int64_t) t->created_usec)) < 0 ||
            (r = store_bind_int64(st, 6, (int64_t) t->finished_usec)) < 0 ||
            (r = store_bind_int64(st, 7, progress_to_ppm(t->progress))) < 0 ||
            (r = store_bind_int64(st, 8, (int64_t) t->seq)) < 0 ||
            (r = store_bind_int64(st, 9, t->retried)) < 0 ||
            (r = store_bind_int64(st, 10, t->cancel_requested)) < 0 ||
            (r = bind_text_or_null(st, 11, t->error)) < 0 ||
            (r = store_bind_text(st, 12, isempty(params_json) ? "{}" : params_json)) < 0 ||
            (r = bind_text_or_null(st, 13, prompt)) < 0)
                return r;
        return journal_run(st);
}

int journal_task_update(Journal *j, const JournalTask *t) {
        StoreStatement *st;
        int r;

        assert_return(j && t && t->id && t->state, -EINVAL);

        r = journal_statement(j, ST_TASK_UPDATE, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, t->id)) < 0 || (r = store_bind_text(st, 2, t->state)) < 0 ||
            (r = store_bind_int64(st, 3, (int64_t) t->finished_usec)) < 0 ||
            (r = store_bind_int64(st, 4, progress_to_ppm(t->progress))) < 0 ||
            (r = store_bind_int64(st, 5, (int64_t) t->seq)) < 0 ||
            (r = store_bind_int64(st, 6, t->retried)) < 0 ||
            (r = store_bind_int64(st, 7, t->cancel_requested)) < 0 ||
            (r = bind_text_or_null(st, 8, t->error)) < 0)
                return r;
        return journal_run(st);
}

int journal_task_set_result(Journal *j, const char *id, const char *result_json) {
        StoreStatement *st;
        int r;

        assert_return(j && id, -EINVAL);

        r = journal_statement(j, ST_TASK_SET_RESULT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, id)) < 0 || (r = bind_text_or_null(st, 2, result_json)) < 0)
                return r;
        return journal_run(st);
}

int journal_task_get_text(Journal *j, const char *id, JournalTaskText which, char **ret) {
        static const JournalStatementId ids[_JOURNAL_TASK_TEXT_MAX] = {
                [JOURNAL_TASK_PARAMS] = ST_TASK_GET_PARAMS,
                [JOURNAL_TASK_PROMPT] = ST_TASK_GET_PROMPT,
                [JOURNAL_TASK_RESULT] = ST_TASK_GET_RESULT,
        };
        StoreStatement *st;
        char *s;
        int r;

        assert_return(j && id && ret, -EINVAL);
        assert_return((size_t) which < _JOURNAL_TASK_TEXT_MAX, -EINVAL);

        r = journal_statement(j, ids[which], &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, id);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;

        s = strdup(strempty(store_column_text(st, 0)));
        store_reset(st);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int journal_task_delete(Journal *j, const char *id) {
        StoreStatement *st;
        int r;

        assert_return(j && id, -EINVAL);

        /* The events go with it: ON DELETE CASCADE, with foreign_keys=ON set by lib/store. */
        r = journal_statement(j, ST_TASK_DELETE, &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, id);
        if (r < 0)
                return r;
        return journal_run(st);
}

static void journal_task_from_row(StoreStatement *st, JournalTask *ret) {
        *ret = (JournalTask){
                .id = store_column_text(st, 0),
                .agent = store_column_text(st, 1),
                .state = store_column_text(st, 2),
                .workspace = store_column_text(st, 3),
                .created_usec = (uint64_t) store_column_int64(st, 4),
                .finished_usec = (uint64_t) store_column_int64(st, 5),
                .progress = (double) store_column_int64(st, 6) / PROGRESS_PPM,
                .seq = (uint64_t) store_column_int64(st, 7),
                .retried = store_column_int64(st, 8) != 0,
                .cancel_requested = store_column_int64(st, 9) != 0,
                .error = store_column_text(st, 10),
        };
}

int journal_task_foreach(Journal *j, JournalTaskFunc f, void *userdata) {
        StoreStatement *st;
        int r;

        assert_return(j && f, -EINVAL);

        r = journal_statement(j, ST_TASK_ALL, &st);
        if (r < 0)
                return r;

        for (;;) {
                JournalTask t;

                r = store_step(st);
                if (r <= 0)
                        break;
                journal_task_from_row(st, &t);
                if (!t.id || !t.agent || !t.state || !t.workspace) {
                        r = -EBADMSG;
                        break;
                }
                r = f(&t, userdata);
                if (r < 0)
                        break;
        }

        store_reset(st);
        return r < 0 ? r : 0;
}

int journal_event_append(Journal *j, const char *id, uint64_t seq, uint64_t time_usec, const char *type,
                         const char *payload_json) {
        StoreStatement *st;
        int r;

        assert_return(j && id && type && payload_json, -EINVAL);

        r = journal_statement(j, ST_EVENT_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, id)) < 0 || (r = store_bind_int64(st, 2, (int64_t) seq)) < 0 ||
            (r = store_bind_int64(st, 3, (int64_t) time_usec)) < 0 ||
            (r = store_bind_text(st, 4, type)) < 0 || (r = store_bind_text(st, 5, payload_json)) < 0)
                return r;
        return journal_run(st);
}

int journal_event_foreach(Journal *j, const char *id, uint64_t after_seq, uint64_t max_seq, size_t limit,
                          JournalEventFunc f, void *userdata) {
        StoreStatement *st;
        int r, n = 0;

        assert_return(j && id && f, -EINVAL);

        if (max_seq <= after_seq || limit == 0)
                return 0;
        limit = MIN(limit, (size_t) INT32_MAX);

        r = journal_statement(j, ST_EVENT_RANGE, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, id)) < 0 || (r = store_bind_int64(st, 2, (int64_t) after_seq)) < 0 ||
            (r = store_bind_int64(st, 3, (int64_t) MIN(max_seq, (uint64_t) INT64_MAX))) < 0 ||
            (r = store_bind_int64(st, 4, (int64_t) limit)) < 0)
                return r;

        for (;;) {
                const char *type, *payload;

                r = store_step(st);
                if (r <= 0)
                        break;
                type = store_column_text(st, 2);
                payload = store_column_text(st, 3);
                if (!type || !payload) {
                        r = -EBADMSG;
                        break;
                }
                r = f((uint64_t) store_column_int64(st, 0), (uint64_t) store_column_int64(st, 1), type,
                      payload, userdata);
                if (r < 0)
                        break;
                n++;
                if (r > 0) {
                        r = 0;
                        break;
                }
        }

        store_reset(st);
        return r < 0 ? r : n;
}

int journal_event_format_line(uint64_t seq, uint64_t time_usec, const char *type, const char *payload,
                              char **ret, size_t *ret_size) {
        const char *rest;
        char *s;
        int n;

        assert_return(type && payload && ret, -EINVAL);

        /* The payload is a compact JSON object we wrote ourselves: splice its members after ours. */
        if (payload[0] != '{')
                return -EBADMSG;
        rest = payload + 1;
        while (*rest == ' ')
                rest++;
        n = asprintf(&s, "{\"seq\":%" PRIu64 ",\"time_usec\":%" PRIu64 ",\"type\":\"%s\"%s%s\n", seq,
                     time_usec, type, *rest == '}' ? "" : ",", *rest == '}' ? "}" : rest);
        if (n < 0)
                return -ENOMEM;

        *ret = s;
        if (ret_size)
                *ret_size = (size_t) n;
        return 0;
}

int journal_grant_put(Journal *j, const JournalGrant *g) {
        StoreStatement *st;
        int r;

        assert_return(j && g && g->agent && g->capability && g->consent_id, -EINVAL);

        r = journal_statement(j, ST_GRANT_PUT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, g->agent)) < 0 || (r = store_bind_text(st, 2, g->capability)) < 0 ||
            (r = store_bind_text(st, 3, g->consent_id)) < 0 ||
            (r = store_bind_int64(st, 4, (int64_t) g->granted_usec)) < 0)
                return r;
        return journal_run(st);
}

static int journal_grant_bind(Journal *j, JournalStatementId id, const char *agent, const char *capability,
                              StoreStatement **ret) {
        StoreStatement *st;
        int r;

        r = journal_statement(j, id, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(st, 1, agent)) < 0 || (r = store_bind_text(st, 2, capability)) < 0)
                return r;
        *ret = st;
        return 0;
}

int journal_grant_get(Journal *j, const char *agent, const char *capability) {
        StoreStatement *st;
        int r;

        assert_return(j && agent && capability, -EINVAL);

        r = journal_grant_bind(j, ST_GRANT_GET, agent, capability, &st);
        if (r < 0)
                return r;
        r = store_step(st);
        store_reset(st);
        return r;
}

int journal_grant_delete(Journal *j, const char *agent, const char *capability) {
        StoreStatement *st;
        int r;

        assert_return(j && agent && capability, -EINVAL);

        r = journal_grant_bind(j, ST_GRANT_DELETE, agent, capability, &st);
        if (r < 0)
                return r;
        r = journal_run(st);
        if (r < 0)
                return r;
        return store_changes(j->store) > 0 ? 0 : -ENOENT;
}

int journal_grant_foreach(Journal *j, JournalGrantFunc f, void *userdata) {
        StoreStatement *st;
        int r;

        assert_return(j && f, -EINVAL);

        r = journal_statement(j, ST_GRANT_ALL, &st);
        if (r < 0)
                return r;
        for (;;) {
                JournalGrant g;

                r = store_step(st);
                if (r <= 0)
                        break;
                g = (JournalGrant){
                        .agent = store_column_text(st, 0),
                        .capability = store_column_text(st, 1),
                        .consent_id = store_column_text(st, 2),
                        .granted_usec = (uint64_t) store_column_int64(st, 3),
                };
                if (!g.agent || !g.capability || !g.consent_id) {
                        r = -EBADMSG;
                        break;
                }
                r = f(&g, userdata);
                if (r < 0)
                        break;
        }
        store_reset(st);
        return r < 0 ? r : 0;
}

int journal_audit_anchor_put(Journal *j, const AuditAnchor *anchor) {
        StoreStatement *st;
        int r;

        assert_return(j && anchor, -EINVAL);
        assert_return(anchor->seq <= INT64_MAX, -ERANGE);

        r = journal_statement(j, ST_ANCHOR_PUT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(st, 1, (int64_t) anchor->seq)) < 0 ||
            (r = store_bind_blob(st, 2, anchor->hash, AUDIT_HASH_SIZE)) < 0)
                return r;
        return journal_run(st);
}

int journal_audit_anchor_get(Journal *j, AuditAnchor *ret) {
        StoreStatement *st;
        const void *hash;
        size_t size;
        int64_t seq;
        int r;

        assert_return(j && ret, -EINVAL);

        r = journal_statement(j, ST_ANCHOR_GET, &st);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r <= 0) {
                store_reset(st);
                return r < 0 ? r : -ENOENT;
        }
        seq = store_column_int64(st, 0);
        hash = store_column_blob(st, 1, &size);
        if (seq < 0 || !hash || size != AUDIT_HASH_SIZE) {
                store_reset(st);
                return -EBADMSG;
        }
        ret->seq = (uint64_t) seq;
        memcpy(ret->hash, hash, AUDIT_HASH_SIZE);
        store_reset(st);
        return 0;
}

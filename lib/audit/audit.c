/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit log's writer: rows are chained as they are queued and committed in durable groups. */
#include <inttypes.h>
#include <stdio.h>

#include "audit/audit-internal.h"
#include "basic/string-util.h"
#include "json/json-util.h"

#define AUDIT_INSERT_SQL                                                                                    \
        "INSERT INTO audit(seq, time, actor, action, task, agent, detail, prev, hash) "                     \
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"

const char *audit_path(Audit *a) {
        return a ? store_path(a->store) : NULL;
}

const char *audit_last_error(Audit *a) {
        return a ? store_last_error(a->store) : "";
}

int audit_health(Audit *a) {
        assert_return(a, -EINVAL);
        return store_health(a->store);
}

size_t audit_pending(Audit *a) {
        return a ? a->n_queued : 0;
}

int audit_head(Audit *a, uint64_t *ret_seq, uint8_t ret_hash[AUDIT_HASH_SIZE]) {
        int r;

        assert_return(a, -EINVAL);

        /* A reader looks again: the writer may have moved on since. */
        if (a->read_only) {
                r = audit_load_head(a);
                if (r < 0)
                        return r;
        }
        if (ret_seq)
                *ret_seq = a->committed_seq;
        if (ret_hash)
                memcpy(ret_hash, a->committed_hash, AUDIT_HASH_SIZE);
        return 0;
}

int audit_set_size_limit(Audit *a, uint64_t bytes) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        int64_t page_size;
        uint64_t pages;
        char sql[64];
        int r;

        assert_return(a, -EINVAL);

        r = store_prepare(a->store, "PRAGMA page_size", &st);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        page_size = r > 0 ? store_column_int64(st, 0) : 0;
        if (page_size <= 0)
                return -EIO;
        /* SQLite's largest page count; it never goes below what the file already has. */
        pages = bytes == 0 ? UINT32_MAX - 1
                           : MIN(MAX(bytes / (uint64_t) page_size, 1), (uint64_t) UINT32_MAX - 1);
        (void) snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%" PRIu64, pages);
        return store_exec(a->store, sql);
}

/* ---- building rows ----------------------------------------------------------------------------- */

static void audit_row_done(AuditRow *row) {
        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                row->text[i] = mfree(row->text[i]);
}

static bool action_is_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= AUDIT_ACTION_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static bool field_is_valid(const char *s, bool may_be_empty) {
        size_t n = strlen(s);

        return (may_be_empty || n > 0) && n <= AUDIT_FIELD_MAX && utf8_is_valid_n(s, n);
}

static int detail_to_text(const json_t *detail, char **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        if (!detail)
                return (*ret = strdup("{}")) ? 0 : -ENOMEM;
        if (!json_is_object(detail))
                return -EINVAL;
        /* Compact with sorted keys: one spelling of each object, so a reader can compare rows. */
        r = json_dump_string(detail, JSON_DUMP_COMPACT | JSON_DUMP_SORT_KEYS, &s);
        if (r < 0)
                return r;
        if (strlen(s) > AUDIT_DETAIL_MAX)
                return -EMSGSIZE;
        *ret = TAKE_PTR(s);
        return 0;
}

/* Fills the row's time and strings from the entry; seq and hashes come when it is queued. */
static int audit_row_fill(AuditRow *row, const AuditEntry *e) {
        const char *task = strempty(e->task), *agent = strempty(e->agent);
        int r;

        if (!e->actor || !e->action || !field_is_valid(e->actor, false) || !action_is_valid(e->action) ||
            !field_is_valid(task, true) || !field_is_valid(agent, true))
                return -EINVAL;
        if (e->time > INT64_MAX)
                return -ERANGE;

        *row = (AuditRow){.time = e->time ?: now_usec(CLOCK_REALTIME)};
        row->text[AUDIT_TEXT_ACTOR] = strdup(e->actor);
        row->text[AUDIT_TEXT_ACTION] = strdup(e->action);
        row->text[AUDIT_TEXT_TASK] = strdup(task);
        row->text[AUDIT_TEXT_AGENT] = strdup(agent);
        r = detail_to_text(e->detail, &row->text[AUDIT_TEXT_DETAIL]);
        for (size_t i = 0; r >= 0 && i < _AUDIT_TEXT_MAX; i++)
                if (!row->text[i])
                        r = -ENOMEM;
        if (r < 0)
                audit_row_done(row);
        return r;
}

/* The row that records rows dropped by failed commits, so that a gap is itself in the log. */
static int audit_row_fill_lost(Audit *a, AuditRow *row) {
        _cleanup_(json_decrefp) json_t *detail = NULL;
        int r;

        detail = json_pack("{s:I, s:i, s:s}", "lost", (json_int_t) a->n_lost, "errno", -a->lost_error,
                           "error", strerror(-a->lost_error));
        if (!detail)
                return -ENOMEM;
        r = audit_row_fill(row, &(AuditEntry){.actor = "audit", .action = "audit-lost", .detail = detail});
        if (r < 0)
                return r;
        row->lost_marker = true;
        return 0;
}

/* Gives the row its seq and chains it to the tail of the queue (or the committed head). */
static void audit_queue_row(Audit *a, AuditRow *row) {
        AuditBytes text[_AUDIT_TEXT_MAX];
        const AuditRow *tail = a->n_queued > 0 ? &a->queue[a->n_queued - 1] : NULL;

        row->seq = (tail ? tail->seq : a->committed_seq) + 1;
        memcpy(row->prev, tail ? tail->hash : a->committed_hash, AUDIT_HASH_SIZE);
        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                text[i] = (AuditBytes){row->text[i], strlen(row->text[i])};
        audit_row_hash(row->prev, row->seq, row->time, text, row->hash);
        a->queue[a->n_queued++] = *row;
        *row = (AuditRow){};
}

/* ---- committing -------------------------------------------------------------------------------- */

static int audit_insert_row(Audit *a, const AuditRow *row) {
        StoreStatement *st = a->insert;
        int r;

        r = store_bind_int64(st, 1, (int64_t) row->seq);
        if (r >= 0)
                r = store_bind_int64(st, 2, (int64_t) row->time);
        for (size_t i = 0; r >= 0 && i < _AUDIT_TEXT_MAX; i++)
                r = store_bind_text(st, 3 + (int) i, row->text[i]);
        if (r >= 0)
                r = store_bind_blob(st, 8, row->prev, AUDIT_HASH_SIZE);
        if (r >= 0)
                r = store_bind_blob(st, 9, row->hash, AUDIT_HASH_SIZE);
        if (r >= 0)
                r = store_step(st);
        store_reset(st);
        return r;
}

/* One transaction for the whole queue: synchronous=FULL makes its commit one fsync. Either all
 * rows are in the file afterwards, or none is. */
static int audit_commit_queue(Audit *a) {
        _cleanup_(store_rollbackp) Store *tx = NULL;
        int r;

        r = store_begin(a->store, &tx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a->n_queued; i++) {
                r = audit_insert_row(a, &a->queue[i]);
                if (r < 0)
                        return r;
        }
        return store_commit(TAKE_PTR(tx));
}

typedef struct AuditNotify {
        uint64_t seq;
        AuditDurableHandler handler;
        void *userdata;
} AuditNotify;

/* Empties the queue after a commit (r >= 0) or a failed one, and collects the handlers to call. */
static size_t audit_settle_queue(Audit *a, int r, AuditNotify notify[static AUDIT_GROUP_MAX]) {
        uint8_t last_hash[AUDIT_HASH_SIZE];
        uint64_t last_seq = 0;
        size_t n_notify = 0;
        bool had_marker = false;

        for (size_t i = 0; i < a->n_queued; i++) {
                AuditRow *row = &a->queue[i];

                last_seq = row->seq;
                memcpy(last_hash, row->hash, AUDIT_HASH_SIZE);
                had_marker = had_marker || row->lost_marker;
                if (r < 0 && !row->lost_marker)
                        a->n_lost++;
                if (row->handler)
                        notify[n_notify++] = (AuditNotify){row->seq, row->handler, row->userdata};
                audit_row_done(row);
        }

        if (r >= 0 && last_seq > 0) {
                a->committed_seq = last_seq;
                memcpy(a->committed_hash, last_hash, AUDIT_HASH_SIZE);
                if (had_marker) {
                        a->n_lost = 0;
                        a->lost_error = 0;
                }
        } else if (r < 0) {
                a->lost_error = r;
                /* Rolled back, so the head is where it was. Look anyway: if a failed COMMIT did
                 * reach the file after all, the chain must go on from there. */
                (void) audit_load_head(a);
        }
        a->n_queued = 0;
        if (a->flush_source)
                (void) sd_event_source_set_enabled(a->flush_source, SD_EVENT_OFF);
        return n_notify;
}

int audit_flush(Audit *a) {
        AuditNotify notify[AUDIT_GROUP_MAX];
        size_t n_notify, n;
        int r;

        assert_return(a, -EINVAL);

        if (a->n_queued == 0)
                return 0;
        n = a->n_queued;
        r = audit_commit_queue(a);
        n_notify = audit_settle_queue(a, r, notify);

        /* Last, with the queue empty and consistent: a handler may append and flush again. */
        for (size_t i = 0; i < n_notify; i++)
                notify[i].handler(a, notify[i].seq, r < 0 ? r : 0, notify[i].userdata);
        return r < 0 ? r : (int) n;
}

/* ---- appending --------------------------------------------------------------------------------- */

static int audit_arm_flush(Audit *a) {
        int r;

        if (!a->flush_source)
                return 0;
        r = sd_event_source_set_time_relative(a->flush_source, a->flush_delay);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(a->flush_source, SD_EVENT_ONESHOT);
}

/* Makes room for `n` rows; the handlers of a flush may queue rows meanwhile, hence the loop. */
static int audit_make_room(Audit *a, size_t n) {
        while (a->n_queued + n > AUDIT_GROUP_MAX) {
                int r = audit_flush(a);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int audit_enqueue(Audit *a, AuditRow *row) {
        AuditRow marker = {};
        bool with_marker;
        int r;

        with_marker = a->n_queued == 0 && a->n_lost > 0;
        r = audit_make_room(a, with_marker ? 2 : 1);
        if (r < 0)
                return r;
        /* The flush may have settled the loss, or made a new one. */
        with_marker = a->n_queued == 0 && a->n_lost > 0;

        if (a->n_queued == 0) {
                r = audit_arm_flush(a);
                if (r < 0)
                        return r;
        }
        if (with_marker) {
                r = audit_row_fill_lost(a, &marker);
                if (r < 0)
                        return r;
                audit_queue_row(a, &marker);
        }
        audit_queue_row(a, row);
        return 0;
}

int audit_append(Audit *a, const AuditEntry *entry, AuditDurableHandler handler, void *userdata,
                 uint64_t *ret_seq) {
        AuditRow row;
        int r;

        assert_return(a, -EINVAL);
        assert_return(entry, -EINVAL);

        if (a->read_only)
                return -EROFS;
        r = audit_row_fill(&row, entry);
        if (r < 0)
                return r;
        row.handler = handler;
        row.userdata = userdata;

        r = audit_enqueue(a, &row);
        if (r < 0) {
                audit_row_done(&row);
                return r;
        }
        if (ret_seq)
                *ret_seq = a->queue[a->n_queued - 1].seq;
        return 0;
}

int audit_append_durable(Audit *a, const AuditEntry *entry, uint64_t *ret_seq) {
        uint64_t seq;
        int r;

        r = audit_append(a, entry, NULL, NULL, &seq);
        if (r < 0)
                return r;
        r = audit_flush(a);
        if (r < 0)
                return r;
        if (ret_seq)
                *ret_seq = seq;
        return 0;
}

/* ---- the event loop ---------------------------------------------------------------------------- */

static int on_flush_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        /* The outcome reaches every row's handler, and a loss the next "audit-lost" row. */
        (void) audit_flush(userdata);
        return 0;
}

void audit_detach_event(Audit *a) {
        if (a)
                a->flush_source = sd_event_source_disable_unref(a->flush_source);
}

int audit_attach_event(Audit *a, sd_event *event, int64_t priority, usec_t delay) {
        _cleanup_(sd_event_source_unrefp) sd_event_source *s = NULL;
        int r;

        assert_return(a, -EINVAL);
        assert_return(event, -EINVAL);
        assert_return(!a->flush_source, -EBUSY);

        /* Accuracy of 1us: the default (250ms) would let the timer slip far past `delay`. */
        r = sd_event_add_time_relative(event, &s, CLOCK_MONOTONIC, delay, 1, on_flush_timer, a);
        if (r < 0)
                return r;
        r = sd_event_source_set_priority(s, priority);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s, "audit-flush");
        r = sd_event_source_set_enabled(s, a->n_queued > 0 ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
        if (r < 0)
                return r;

        a->flush_source = TAKE_PTR(s);
        a->flush_delay = delay;
        return 0;
}

/* ---- opening and closing ----------------------------------------------------------------------- */

Audit *audit_close(Audit *a) {
        if (!a)
                return NULL;
        (void) audit_flush(a);
        audit_detach_event(a);
        store_statement_free(a->insert);
        store_close(a->store);
        return mfree(a);
}

/* The writer's statement and the head the chain continues from. */
static int audit_prepare(Audit *a) {
        int r;

        if (!a->read_only) {
                r = store_prepare(a->store, AUDIT_INSERT_SQL, &a->insert);
                if (r < 0)
                        return r;
        }
        /* -EBADMSG: a last row without a proper seq or hash leaves no chain to go on from. */
        return audit_load_head(a);
}

int audit_open(const char *path, AuditOpenFlags flags, Audit **ret, char **reterr_message) {
        _cleanup_(audit_closep) Audit *a = NULL;
        int r;

        assert_return(path, -EINVAL);
        assert_return((flags & ~AUDIT_OPEN_READ_ONLY) == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        a = calloc(1, sizeof(Audit));
        if (!a)
                return -ENOMEM;
        a->read_only = flags & AUDIT_OPEN_READ_ONLY;

        r = store_open(path, a->read_only ? STORE_OPEN_READ_ONLY : 0, audit_migrations, &a->store,
                       reterr_message);
        if (r < 0)
                return r;
        r = audit_prepare(a);
        if (r < 0) {
                if (reterr_message)
                        *reterr_message =
                                r == -EBADMSG && isempty(store_last_error(a->store))
                                        ? strjoin("The last row of ", path, " has no valid seq or hash")
                                        : strdup(store_last_error(a->store));
                return r;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

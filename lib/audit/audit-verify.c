/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading the audit log: proving the hash chain, and pages of rows as JSON for GetAudit(). */
#include <sodium.h>

#include "audit/audit-internal.h"
#include "basic/string-util.h"
#include "json/json-util.h"

#define AUDIT_SELECT_COLUMNS "seq, time, actor, action, task, agent, detail, prev, hash"
enum {
        COL_SEQ,
        COL_TIME,
        COL_TEXT, /* the five AuditText columns in order */
        COL_PREV = COL_TEXT + _AUDIT_TEXT_MAX,
        COL_HASH,
};

/* How far a renumbered row is searched for its original seq. */
#define AUDIT_MOVED_SEARCH_MAX 4096U

static const uint8_t zero_hash[AUDIT_HASH_SIZE];

static void row_texts(StoreStatement *st, AuditBytes ret[static _AUDIT_TEXT_MAX]) {
        /* As bytes, not C strings: the hash covers exactly what is stored, NUL bytes and all. */
        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                ret[i].p = store_column_blob(st, COL_TEXT + (int) i, &ret[i].size);
}

static bool row_hash_matches(StoreStatement *st, const uint8_t prev[static AUDIT_HASH_SIZE], uint64_t seq,
                             const uint8_t hash[static AUDIT_HASH_SIZE]) {
        AuditBytes text[_AUDIT_TEXT_MAX];
        uint8_t h[AUDIT_HASH_SIZE];

        row_texts(st, text);
        audit_row_hash(prev, seq, (uint64_t) store_column_int64(st, COL_TIME), text, h);
        return sodium_memcmp(h, hash, AUDIT_HASH_SIZE) == 0;
}

/* The seq of the row whose stored hash is `hash`, 0 if none. Only run for the first bad row. */
static int find_seq_of_hash(Audit *a, const uint8_t hash[static AUDIT_HASH_SIZE], uint64_t *ret) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        int r;

        r = store_prepare(a->store, "SELECT seq FROM audit WHERE hash = ?1 ORDER BY seq LIMIT 1", &st);
        if (r < 0)
                return r;
        r = store_bind_blob(st, 1, hash, AUDIT_HASH_SIZE);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        *ret = r > 0 ? (uint64_t) store_column_int64(st, 0) : 0;
        return 0;
}

/* A self-consistent row that was given another seq: did it come from further down? */
static bool row_moved_up(StoreStatement *st, const uint8_t prev[static AUDIT_HASH_SIZE], uint64_t seq,
                         const uint8_t hash[static AUDIT_HASH_SIZE]) {
        for (uint64_t s = seq + 1; s <= seq + AUDIT_MOVED_SEARCH_MAX; s++)
                if (row_hash_matches(st, prev, s, hash))
                        return true;
        return false;
}

/* The row's stored prev is not the hash of the row before it: say where it points instead. */
static int classify_broken_link(Audit *a, StoreStatement *st, uint64_t seq, const uint8_t *prev,
                                const uint8_t *hash, bool self_ok, AuditVerification *v) {
        uint64_t where;
        int r;

        r = find_seq_of_hash(a, prev, &where);
        if (r < 0)
                return r;
        v->bad_seq = seq;
        if (where > seq)
                v->damage = AUDIT_DAMAGE_REORDERED;
        else if (where > 0 && where + 1 < seq) {
                /* It used to follow row `where`: what stands between was put there. */
                v->damage = AUDIT_DAMAGE_INSERTED;
                v->bad_seq = where + 1;
        } else if (self_ok || row_moved_up(st, prev, seq, hash))
                /* Its predecessor is nowhere; if it was renumbered, from further down. */
                v->damage = AUDIT_DAMAGE_DELETED;
        else
                v->damage = AUDIT_DAMAGE_MODIFIED;
        return 0;
}

/* Checks the row under `st` against the chain so far; on damage fills v->damage and v->bad_seq. */
static int check_row(Audit *a, StoreStatement *st, uint64_t expected_seq,
                     const uint8_t expected_prev[static AUDIT_HASH_SIZE], AuditVerification *v) {
        int64_t seq = store_column_int64(st, COL_SEQ);
        size_t prev_size, hash_size;
        const uint8_t *prev = store_column_blob(st, COL_PREV, &prev_size);
        const uint8_t *hash = store_column_blob(st, COL_HASH, &hash_size);
        bool self_ok, link_ok;

        if (seq <= 0 || (uint64_t) seq < expected_seq) {
                v->damage = AUDIT_DAMAGE_INSERTED;
                v->bad_seq = expected_seq;
                return 0;
        }
        if ((uint64_t) seq > expected_seq) {
                v->damage = AUDIT_DAMAGE_DELETED;
                v->bad_seq = expected_seq;
                return 0;
        }
        if (prev_size != AUDIT_HASH_SIZE || hash_size != AUDIT_HASH_SIZE ||
            store_column_int64(st, COL_TIME) < 0) {
                v->damage = AUDIT_DAMAGE_MODIFIED;
                v->bad_seq = expected_seq;
                return 0;
        }

        self_ok = row_hash_matches(st, prev, expected_seq, hash);
        link_ok = memcmp(prev, expected_prev, AUDIT_HASH_SIZE) == 0;
        if (link_ok && self_ok)
                return 0;
        if (link_ok) {
                v->damage = AUDIT_DAMAGE_MODIFIED;
                v->bad_seq = expected_seq;
                return 0;
        }
        return classify_broken_link(a, st, expected_seq, prev, hash, self_ok, v);
}

/* After a clean walk: does the chain still reach the head the caller remembered? */
static void check_anchor(const AuditAnchor *anchor, bool anchor_seen, const uint8_t *anchor_row_hash,
                         AuditVerification *v) {
        if (!anchor || anchor->seq == 0 || v->damage != AUDIT_DAMAGE_NONE)
                return;
        if (!anchor_seen) {
                v->damage = AUDIT_DAMAGE_TRUNCATED;
                v->bad_seq = v->head_seq + 1;
        } else if (memcmp(anchor_row_hash, anchor->hash, AUDIT_HASH_SIZE) != 0) {
                v->damage = AUDIT_DAMAGE_REWRITTEN;
                v->bad_seq = anchor->seq;
        }
}

static int verify_walk(Audit *a, const AuditAnchor *anchor, AuditVerification *v) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        uint8_t prev[AUDIT_HASH_SIZE] = {}, anchor_row_hash[AUDIT_HASH_SIZE] = {};
        bool anchor_seen = false;
        uint64_t expected = 1;
        int r;

        r = store_prepare(a->store, "SELECT " AUDIT_SELECT_COLUMNS " FROM audit ORDER BY seq", &st);
        if (r < 0)
                return r;
        while ((r = store_step(st)) > 0) {
                size_t hash_size;
                const void *hash = store_column_blob(st, COL_HASH, &hash_size);
                int64_t seq = store_column_int64(st, COL_SEQ);

                v->rows++;
                if (v->damage == AUDIT_DAMAGE_NONE) {
                        r = check_row(a, st, expected, prev, v);
                        if (r < 0)
                                return r;
                }
                /* Go on from what the row says, to count the rows and find the stored head. */
                memcpy(prev, hash_size == AUDIT_HASH_SIZE ? hash : zero_hash, AUDIT_HASH_SIZE);
                v->head_seq = seq > 0 ? (uint64_t) seq : 0;
                expected = v->head_seq + 1;
                if (anchor && v->head_seq == anchor->seq) {
                        anchor_seen = true;
                        memcpy(anchor_row_hash, prev, AUDIT_HASH_SIZE);
                }
        }
        if (r < 0)
                return r;

        audit_hash_to_hex(prev, v->head);
        check_anchor(anchor, anchor_seen, anchor_row_hash, v);
        v->ok = v->damage == AUDIT_DAMAGE_NONE;
        return 0;
}

int audit_verify(Audit *a, const AuditAnchor *anchor, AuditVerification *ret) {
        _cleanup_(store_rollbackp) Store *tx = NULL;
        AuditVerification v = {.damage = AUDIT_DAMAGE_NONE};
        int r;

        assert_return(a, -EINVAL);
        assert_return(ret, -EINVAL);

        /* One snapshot: a writer committing meanwhile must not make a consistent log look torn. */
        r = store_begin(a->store, &tx);
        if (r < 0)
                return r;
        r = verify_walk(a, anchor, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

/* ---- queries ----------------------------------------------------------------------------------- */

static json_t *detail_to_json(const AuditBytes *b) {
        json_t *v = NULL;

        /* What we wrote is an object; anything else in that column is shown as the text it is. */
        if (b->size > 0 && json_parse(b->p, b->size, SIZE_MAX, 0, 0, &v, NULL) >= 0 && json_is_object(v))
                return v;
        json_decref(v);
        return json_stringn(b->p ?: "", b->size);
}

static json_t *hash_to_json(StoreStatement *st, int col) {
        char hex[AUDIT_HASH_HEX_SIZE];
        size_t size;
        const void *p = store_column_blob(st, col, &size);

        if (size != AUDIT_HASH_SIZE)
                return json_null();
        return json_string(audit_hash_to_hex(p, hex));
}

static json_t *row_to_json(StoreStatement *st) {
        static const char *const names[_AUDIT_TEXT_MAX] = {"actor", "action", "task", "agent", "detail"};
        _cleanup_(json_decrefp) json_t *o = json_object();
        AuditBytes text[_AUDIT_TEXT_MAX];
        int k = 0;

        if (!o)
                return NULL;
        row_texts(st, text);
        k |= json_object_set_new(o, "seq", json_integer(store_column_int64(st, COL_SEQ)));
        k |= json_object_set_new(o, "time", json_integer(store_column_int64(st, COL_TIME)));
        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                k |= json_object_set_new(o, names[i],
                                         i == AUDIT_TEXT_DETAIL
                                                 ? detail_to_json(&text[i])
                                                 : json_stringn(text[i].p ?: "", text[i].size));
        k |= json_object_set_new(o, "prev", hash_to_json(st, COL_PREV));
        k |= json_object_set_new(o, "hash", hash_to_json(st, COL_HASH));
        return k == 0 ? TAKE_PTR(o) : NULL;
}

static int query_bind(StoreStatement *st, uint64_t after_seq, unsigned max, const char *task) {
        int r;

        r = store_bind_int64(st, 1, (int64_t) MIN(after_seq, (uint64_t) INT64_MAX));
        if (r < 0)
                return r;
        r = store_bind_int64(st, 2, max == 0 ? AUDIT_QUERY_MAX : MIN(max, AUDIT_QUERY_MAX));
        if (r < 0)
                return r;
        return task ? store_bind_text(st, 3, task) : 0;
}

int audit_query(Audit *a, uint64_t after_seq, unsigned max, const char *task, json_t **ret) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        _cleanup_(json_decrefp) json_t *array = NULL;
        int r;

        assert_return(a, -EINVAL);
        assert_return(ret, -EINVAL);

        r = store_prepare(a->store,
                          task ? "SELECT " AUDIT_SELECT_COLUMNS " FROM audit WHERE seq > ?1 AND task = ?3 "
                                 "ORDER BY seq LIMIT ?2"
                               : "SELECT " AUDIT_SELECT_COLUMNS
                                 " FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                          &st);
        if (r < 0)
                return r;
        r = query_bind(st, after_seq, max, task);
        if (r < 0)
                return r;

        array = json_array();
        if (!array)
                return -ENOMEM;
        while ((r = store_step(st)) > 0)
                if (json_array_append_new(array, row_to_json(st)) < 0)
                        return -ENOMEM;
        if (r < 0)
                return r;

        *ret = TAKE_PTR(array);
        return 0;
}

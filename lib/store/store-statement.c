/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "basic/string-util.h"
#include "store/store-internal.h"

int store_prepare(Store *s, const char *sql, StoreStatement **ret) {
        sqlite3_stmt *stmt = NULL, *extra = NULL;
        StoreStatement *st;
        const char *tail = NULL;
        int rc;

        assert_return(s, -EINVAL);
        assert_return(sql, -EINVAL);
        assert_return(ret, -EINVAL);

        rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, &tail);
        if (rc != SQLITE_OK)
                return store_record_sqlite_error(s, rc);
        if (!stmt)
                return store_record_error(s, -EINVAL, "No SQL statement in '%s'", sql);

        /* Whatever follows must compile to nothing (whitespace, comments): a second statement
         * would silently never run. */
        if (!isempty(tail)) {
                rc = sqlite3_prepare_v2(s->db, tail, -1, &extra, NULL);
                if (rc != SQLITE_OK || extra) {
                        sqlite3_finalize(extra);
                        sqlite3_finalize(stmt);
                        return store_record_error(s, -EINVAL, "More than one SQL statement in '%s'", sql);
                }
        }

        st = malloc(sizeof(StoreStatement));
        if (!st) {
                sqlite3_finalize(stmt);
                return -ENOMEM;
        }
        *st = (StoreStatement) { .store = s, .stmt = stmt };
        *ret = st;
        return 0;
}

StoreStatement *store_statement_free(StoreStatement *st) {
        if (!st)
                return NULL;
        /* finalize() repeats the last step's error, which that step already reported. */
        (void) sqlite3_finalize(st->stmt);
        return mfree(st);
}

static int bind_result(StoreStatement *st, int rc) {
        return rc == SQLITE_OK ? 0 : store_record_sqlite_error(st->store, rc);
}

int store_bind_int64(StoreStatement *st, int idx, int64_t v) {
        assert_return(st, -EINVAL);
        return bind_result(st, sqlite3_bind_int64(st->stmt, idx, v));
}

int store_bind_text(StoreStatement *st, int idx, const char *s) {
        assert_return(st, -EINVAL);
        if (!s)
                return store_bind_null(st, idx);
        return bind_result(st,
                           sqlite3_bind_text64(st->stmt, idx, s, strlen(s), SQLITE_TRANSIENT, SQLITE_UTF8));
}

int store_bind_blob(StoreStatement *st, int idx, const void *p, size_t size) {
        assert_return(st, -EINVAL);
        assert_return(p || size == 0, -EINVAL);
        /* SQLite binds NULL for a NULL pointer; an empty blob is not NULL. */
        if (size == 0)
                return bind_result(st, sqlite3_bind_zeroblob(st->stmt, idx, 0));
        return bind_result(st, sqlite3_bind_blob64(st->stmt, idx, p, size, SQLITE_TRANSIENT));
}

int store_bind_null(StoreStatement *st, int idx) {
        assert_return(st, -EINVAL);
        return bind_result(st, sqlite3_bind_null(st->stmt, idx));
}

int store_step(StoreStatement *st) {
        int rc;

        assert_return(st, -EINVAL);

        rc = sqlite3_step(st->stmt);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_record_sqlite_error(st->store, rc);
}

void store_reset(StoreStatement *st) {
        if (!st)
                return;
        /* reset() only repeats the last step's error, which that step already reported; the reset
         * itself always happens. */
        (void) sqlite3_reset(st->stmt);
        (void) sqlite3_clear_bindings(st->stmt);
}

bool store_column_is_null(StoreStatement *st, int col) {
        return !st || sqlite3_column_type(st->stmt, col) == SQLITE_NULL;
}

int64_t store_column_int64(StoreStatement *st, int col) {
        return st ? sqlite3_column_int64(st->stmt, col) : 0;
}

const char *store_column_text(StoreStatement *st, int col) {
        return st ? (const char *) sqlite3_column_text(st->stmt, col) : NULL;
}

const void *store_column_blob(StoreStatement *st, int col, size_t *ret_size) {
        const void *p = NULL;
        int n = 0;

        if (st) {
                /* bytes() after blob(), as SQLite asks: the blob call may convert the value. */
                p = sqlite3_column_blob(st->stmt, col);
                n = sqlite3_column_bytes(st->stmt, col);
        }
        if (ret_size)
                *ret_size = p ? (size_t) n : 0;
        return p;
}

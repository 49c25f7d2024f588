/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* store.h: troupe's SQLite databases: one writer per file, WAL, durable commits, schema migrations. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "basic/macro.h"

/* No service calls sqlite3_* itself: this API is the whole of what they get. Every function returns
 * a negative errno on failure, mapped from SQLite's result code:
 *   SQLITE_FULL -> -ENOSPC, READONLY -> -EROFS, BUSY/LOCKED -> -EBUSY, NOMEM -> -ENOMEM,
 *   CONSTRAINT (UNIQUE, PRIMARY KEY) -> -EEXIST, other CONSTRAINT (NOT NULL, CHECK, FOREIGN KEY)
 *   -> -EINVAL, CORRUPT/NOTADB -> -EBADMSG, CANTOPEN -> the OS error (-ENOENT, -EACCES, ...),
 *   IOERR -> -EIO, ERROR (bad SQL) / MISUSE / RANGE / MISMATCH -> -EINVAL, TOOBIG -> -E2BIG,
 *   and store_last_error() holds SQLite's message (or ours) for the daemon's log line. */
typedef struct Store Store;
typedef struct StoreStatement StoreStatement;

typedef enum StoreOpenFlags {
        /* A reader (troupectl, Describe()): no lock, no migrations, writes fail with -EROFS.
         * Creates nothing; a missing file is -ENOENT. */
        STORE_OPEN_READ_ONLY = 1 << 0,
} StoreOpenFlags;

/* How long a statement waits for a lock another connection holds before failing with -EBUSY.
 * Readers never block the WAL writer; this only covers checkpoints and recovery. */
#define STORE_BUSY_TIMEOUT_MSEC 2000

/* Opens (and for a writer creates, with its parent directories at 0700) the database at `path`.
 *
 * A writer takes an exclusive flock() on "<path>.lock" (left in place on close: deleting a lock
 * file races with the next writer), so a second writer of the same file, in this process or
 * another, fails with -EBUSY. It sets WAL mode, synchronous=FULL, foreign_keys=ON
 * and the busy timeout, then brings the schema up to date: `migrations` is a NULL-terminated array
 * of SQL scripts, entry i taking PRAGMA user_version from i to i+1. All pending entries run in one
 * transaction: a failure leaves the file exactly as it was found. They must not hold statements
 * that cannot run in a transaction (VACUUM, journal_mode). A database whose user_version is past
 * the end of `migrations` comes from newer code and is refused with -EPROTONOSUPPORT, by readers
 * too.
 *
 * On failure, if reterr_message is non-NULL it receives a malloc'd explanation (the other writer's
 * pid, the schema versions, SQLite's message), or NULL if even that could not be allocated. */
int store_open(
                const char *path,
                StoreOpenFlags flags,
                const char *const *migrations,
                Store **ret,
                char **reterr_message);

/* Closes the database (any open transaction is rolled back) and releases the writer lock. All
 * statements must have been freed. Accepts NULL; returns NULL. */
Store *store_close(Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_close);

const char *store_path(Store *s) _pure_;
/* SQLite's (or the store's) message for the last failure on this store; "" if none yet. */
const char *store_last_error(Store *s) _pure_;
/* PRAGMA user_version: how many migrations have been applied. */
int store_schema_version(Store *s);

/* Runs one or more statements, discarding any rows. */
int store_exec(Store *s, const char *sql);
/* The rowid of the last successful INSERT and the rows changed by the last statement. */
int64_t store_last_insert_rowid(Store *s);
int64_t store_changes(Store *s);

/* Cheap enough for every Health() call: the connection answers SELECT 1, the file at the path is
 * still the one we opened (-ENOENT if deleted, -ESTALE if replaced) and, for a writer, is still
 * writable (-EROFS after a read-only remount). */
int store_health(Store *s);
/* PRAGMA quick_check: reads the whole database, so for startup or an operator, not for Health().
 * -EBADMSG when SQLite finds damage. */
int store_quick_check(Store *s);

/* Transactions. store_begin() takes the write lock up front (BEGIN IMMEDIATE) so a conflict shows
 * at the start, not halfway through; a second begin on an open transaction is -EBUSY.
 * store_commit() either commits or, when that fails, rolls back, so the store never stays inside
 * a half-done transaction. store_rollback() does nothing when no transaction is open (SQLite
 * rolls back by itself after some errors), so the cleanup helper can run unconditionally:
 *
 *         _cleanup_(store_rollbackp) Store *tx = NULL;
 *         r = store_begin(s, &tx);
 *         ...statements; an early return rolls back...
 *         r = store_commit(TAKE_PTR(tx));
 */
int store_begin(Store *s, Store **ret_tx);
int store_commit(Store *s);
int store_rollback(Store *s);
static inline void store_rollbackp(Store **tx) {
        if (*tx)
                (void) store_rollback(*tx);
}

/* Prepared statements: exactly one SQL statement (-EINVAL for none or trailing ones). Parameters
 * are numbered from 1 and columns from 0, as in SQLite. */
int store_prepare(Store *s, const char *sql, StoreStatement **ret);
StoreStatement *store_statement_free(StoreStatement *st);
DEFINE_TRIVIAL_CLEANUP_FUNC(StoreStatement *, store_statement_free);

int store_bind_int64(StoreStatement *st, int idx, int64_t v);
/* Text and blobs are copied. NULL text binds SQL NULL. */
int store_bind_text(StoreStatement *st, int idx, const char *s);
int store_bind_blob(StoreStatement *st, int idx, const void *p, size_t size);
int store_bind_null(StoreStatement *st, int idx);

/* Returns 1 when a row is available, 0 when the statement has finished. */
int store_step(StoreStatement *st);
/* Rewinds the statement for another run and clears its bindings. Cannot fail: an error of the
 * last run was already returned by store_step(). */
void store_reset(StoreStatement *st);

/* Column values of the current row; pointers stay valid until the next step, reset or free. */
bool store_column_is_null(StoreStatement *st, int col);
int64_t store_column_int64(StoreStatement *st, int col);
/* NULL for SQL NULL. */
const char *store_column_text(StoreStatement *st, int col);
/* NULL with size 0 for SQL NULL or an empty blob. */
const void *store_column_blob(StoreStatement *st, int col, size_t *ret_size);

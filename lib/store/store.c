/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "paths/paths.h"
#include "store/store-internal.h"

int store_errno_from_sqlite(int rc, int sys_errno) {
        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_ROWID:
                return -EEXIST;
        case SQLITE_CANTOPEN_SYMLINK:
                return -ELOOP;
        case SQLITE_CANTOPEN_ISDIR:
                return -EISDIR;
        }

        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
                return sys_errno > 0 ? -sys_errno : -ENOENT;
        case SQLITE_PERM:
                return -EPERM;
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_INTERRUPT:
                return -EINTR;
        case SQLITE_ABORT:
                return -ECANCELED;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_NOLFS:
                return -EFBIG;
        case SQLITE_SCHEMA:
                return -EAGAIN;
        /* NOT NULL, CHECK and FOREIGN KEY failures: the request was wrong, nothing exists twice. */
        case SQLITE_CONSTRAINT:
        case SQLITE_ERROR:
        case SQLITE_MISUSE:
        case SQLITE_RANGE:
        case SQLITE_MISMATCH:
                return -EINVAL;
        default:
                return -EIO;
        }
}

int store_record_sqlite_error(Store *s, int rc) {
        int r = store_errno_from_sqlite(rc, sqlite3_system_errno(s->db));

        if (free_and_strdup(&s->error, sqlite3_errmsg(s->db)) < 0)
                s->error = mfree(s->error);
        log_debug("%s: %s (SQLite result %d)", s->path, strempty(s->error), rc);
        return r;
}

int store_record_error(Store *s, int error, const char *format, ...) {
        char *m = NULL;
        va_list ap;

        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);
        free(s->error);
        s->error = m;
        log_debug("%s: %s", s->path, strempty(m));
        return error;
}

const char *store_path(Store *s) {
        return s ? s->path : NULL;
}

const char *store_last_error(Store *s) {
        return s && s->error ? s->error : "";
}

int store_exec(Store *s, const char *sql) {
        int rc;

        assert_return(s, -EINVAL);
        assert_return(sql, -EINVAL);

        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_record_sqlite_error(s, rc);
        return 0;
}

int64_t store_last_insert_rowid(Store *s) {
        return s ? sqlite3_last_insert_rowid(s->db) : 0;
}

int64_t store_changes(Store *s) {
        return s ? sqlite3_changes(s->db) : 0;
}

/* Runs a statement that yields one integer, such as a PRAGMA. */
static int query_int64(Store *s, const char *sql, int64_t *ret) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        if (r == 0)
                return store_record_error(s, -ENODATA, "'%s' returned no row", sql);
        *ret = store_column_int64(st, 0);
        return 0;
}

int store_schema_version(Store *s) {
        int64_t v;
        int r;

        assert_return(s, -EINVAL);

        r = query_int64(s, "PRAGMA user_version", &v);
        if (r < 0)
                return r;
        /* user_version is a signed 32-bit field in the header; only migrations ever write it. */
        if (v < 0)
                return store_record_error(s, -EBADMSG, "Database has a negative schema version %" PRIi64, v);
        return (int) v;
}

int store_begin(Store *s, Store **ret_tx) {
        int r;

        assert_return(s, -EINVAL);

        if (!sqlite3_get_autocommit(s->db))
                return store_record_error(s, -EBUSY, "A transaction is already open");
        /* Readers have no write lock to take; BEGIN gives them one consistent snapshot. */
        r = store_exec(s, s->read_only ? "BEGIN" : "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        if (ret_tx)
                *ret_tx = s;
        return 0;
}

int store_rollback(Store *s) {
        assert_return(s, -EINVAL);

        /* SQLite rolls back by itself after some errors (SQLITE_FULL, IOERR); nothing left to do. */
        if (sqlite3_get_autocommit(s->db))
                return 0;
        return store_exec(s, "ROLLBACK");
}

int store_commit(Store *s) {
        int r;

        assert_return(s, -EINVAL);

        r = store_exec(s, "COMMIT");
        /* A failed COMMIT (a deferred constraint, a full disk) can leave the transaction open.
         * Roll it back so the caller never stays inside it, keeping the COMMIT's error message. */
        if (r < 0 && !sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int store_health(Store *s) {
        int64_t n;
        struct stat st;
        int r;

        assert_return(s, -EINVAL);

        /* Reads the schema page, so an unreadable or damaged file shows here, not just a dead handle. */
        r = query_int64(s, "SELECT count(*) FROM sqlite_master", &n);
        if (r < 0)
                return r;
        if (stat(s->path, &st) < 0)
                return store_record_error(s, -errno, "Database file %s is gone: %m", s->path);
        if (st.st_dev != s->dev || st.st_ino != s->ino)
                return store_record_error(s, -ESTALE, "Database file %s was replaced by another file",
                                          s->path);
        /* access() reports EROFS even for root, unlike permission bits. */
        if (!s->read_only && faccessat(AT_FDCWD, s->path, W_OK, AT_EACCESS) < 0)
                return store_record_error(s, -errno, "Database file %s is not writable: %m", s->path);
        return 0;
}

int store_quick_check(Store *s) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        const char *result;
        int r;

        assert_return(s, -EINVAL);

        r = store_prepare(s, "PRAGMA quick_check", &st);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        result = r > 0 ? store_column_text(st, 0) : NULL;
        if (!streq_ptr(result, "ok"))
                return store_record_error(s, -EBADMSG, "Integrity check of %s failed: %s", s->path,
                                          strna(result));
        return 0;
}

/* Writers only: an exclusive flock() on "<path>.lock", holding the owner's pid for the message a
 * second writer gets. A sidecar file rather than the database itself, because SQLite's own POSIX
 * locks on the database must stay out of our way (and closing any fd of it would drop them). */
static int store_lock(Store *s) {
        _cleanup_free_ char *lock_path = strjoin(s->path, ".lock");
        _cleanup_close_ int fd = -EBADF;
        char pid[32];
        int n;

        if (!lock_path)
                return -ENOMEM;
        fd = open(lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
        if (fd < 0)
                return store_record_error(s, -errno, "Cannot open lock file %s: %m", lock_path);

        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                ssize_t k;

                if (errno != EWOULDBLOCK)
                        return store_record_error(s, -errno, "Cannot lock %s: %m", lock_path);
                k = pread(fd, pid, sizeof(pid) - 1, 0);
                pid[MAX(k, 0)] = 0;
                pid[strcspn(pid, "\n")] = 0;
                return store_record_error(s, -EBUSY,
                                          "Database %s is already open for writing by process %s; "
                                          "there is one writer per database",
                                          s->path, isempty(pid) ? "(unknown)" : pid);
        }

        n = snprintf(pid, sizeof(pid), "%i\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t) n, 0) != n)
                return store_record_error(s, -errno, "Cannot write lock file %s: %m", lock_path);

        s->lock_fd = TAKE_FD(fd);
        return 0;
}

static int store_configure_writer(Store *s) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        const char *mode;
        int r;

        /* The first statement to read the file: garbage shows up here as -EBADMSG. */
        r = store_prepare(s, "PRAGMA journal_mode=WAL", &st);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        mode = r > 0 ? store_column_text(st, 0) : NULL;
        if (!streq_ptr(mode, "wal"))
                return store_record_error(s, -EOPNOTSUPP, "Cannot put %s in WAL mode (journal mode is %s)",
                                          s->path, strna(mode));

        /* FULL, not WAL's usual NORMAL: a journaled task event or audit row that was reported
         * committed must survive power loss. */
        return store_exec(s,
                          "PRAGMA synchronous=FULL;"
                          "PRAGMA foreign_keys=ON;"
                          "PRAGMA trusted_schema=OFF");
}

static int store_migrate(Store *s, const char *const *migrations) {
        _cleanup_(store_rollbackp) Store *tx = NULL;
        char sql[64];
        size_t n = 0;
        int version, r;

        while (migrations && migrations[n])
                n++;

        version = store_schema_version(s);
        if (version < 0)
                return version;
        if ((size_t) version > n)
                return store_record_error(s, -EPROTONOSUPPORT,
                                          "Database %s has schema version %i, newer than version %zu that "
                                          "this program knows; refusing to use it (downgrade?)",
                                          s->path, version, n);
        if ((size_t) version == n || s->read_only)
                return 0;

        /* One transaction for all pending steps: the file is either fully migrated or untouched. */
        r = store_begin(s, &tx);
        if (r < 0)
                return r;
        for (size_t i = (size_t) version; i < n; i++) {
                r = store_exec(s, migrations[i]);
                if (r < 0) {
                        _cleanup_free_ char *m = TAKE_PTR(s->error);
                        return store_record_error(s, r, "Migration %zu of %s failed: %s", i + 1, s->path,
                                                  strna(m));
                }
        }
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%zu", n);
        r = store_exec(s, sql);
        if (r < 0)
                return r;
        return store_commit(TAKE_PTR(tx));
}

static int store_open_db(Store *s) {
        int flags = SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX |
                (s->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        struct stat st;
        int rc;

        /* Even a failed open allocates a handle, which store_close() frees. */
        rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
        if (!s->db)
                return store_record_error(s, -ENOMEM, "Out of memory opening %s", s->path);
        /* Extended codes are not on yet, but the handle remembers the detailed one (a symlink...). */
        if (rc != SQLITE_OK)
                return store_record_sqlite_error(s, sqlite3_extended_errcode(s->db));

        (void) sqlite3_extended_result_codes(s->db, 1);
        rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MSEC);
        if (rc != SQLITE_OK)
                return store_record_sqlite_error(s, rc);
        /* Our files come from disk, where anyone with our uid could have edited them: no schema
         * tricks (writable_schema, functions in views and triggers) get to run. */
        rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        if (rc != SQLITE_OK)
                return store_record_sqlite_error(s, rc);

        if (stat(s->path, &st) < 0)
                return store_record_error(s, -errno, "Cannot stat %s: %m", s->path);
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        return 0;
}

Store *store_close(Store *s) {
        if (!s)
                return NULL;
        if (s->db) {
                if (!sqlite3_get_autocommit(s->db))
                        (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                /* The last connection checkpoints the WAL here, while we still hold the lock. */
                (void) sqlite3_close_v2(s->db);
        }
        safe_close(s->lock_fd);
        free(s->error);
        free(s->path);
        return mfree(s);
}

static int store_open_full(Store *s, const char *const *migrations) {
        _cleanup_free_ char *dir = NULL;
        int r;

        if (!s->read_only) {
                dir = strndup(s->path, strrchr(s->path, '/') - s->path);
                if (!dir)
                        return -ENOMEM;
                r = mkdir_p_secure(isempty(dir) ? "/" : dir, 0700, NULL);
                if (r < 0)
                        return store_record_error(s, r, "Cannot create directory for %s: %s", s->path,
                                                  strerror(-r));
                r = store_lock(s);
                if (r < 0)
                        return r;
        }

        r = store_open_db(s);
        if (r < 0)
                return r;
        if (!s->read_only) {
                r = store_configure_writer(s);
                if (r < 0)
                        return r;
        }
        return store_migrate(s, migrations);
}

int store_open(
                const char *path,
                StoreOpenFlags flags,
                const char *const *migrations,
                Store **ret,
                char **reterr_message) {

        _cleanup_(store_closep) Store *s = NULL;
        int r;

        assert_return(path && path[0] == '/', -EINVAL);
        assert_return((flags & ~STORE_OPEN_READ_ONLY) == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        s = malloc(sizeof(Store));
        if (!s)
                return -ENOMEM;
        *s = (Store) {
                .lock_fd = -EBADF,
                .read_only = flags & STORE_OPEN_READ_ONLY,
                .path = strdup(path),
        };
        if (!s->path)
                return -ENOMEM;

        r = store_open_full(s, migrations);
        if (r < 0) {
                if (reterr_message)
                        *reterr_message = TAKE_PTR(s->error);
                return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "paths/paths.h"
#include "store/store.h"

static const char *const schema_v1[] = {
        "CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB)",
        NULL,
};

static const char *const schema_v2[] = {
        "CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB)",
        "CREATE TABLE agents(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "CREATE TABLE tasks(id INTEGER PRIMARY KEY, agent INTEGER NOT NULL REFERENCES agents(id),"
        "                   state TEXT CHECK (state IN ('submitted', 'working')))",
        NULL,
};

static char *dir;
static char *db_path;

static void dir_setup(void) {
        dir = make_tmpdir();
        ck_assert_ptr_nonnull(dir);
        /* Below directories that do not exist yet: the store creates them. */
        db_path = strjoin(dir, "/state/sub/test.db");
        ck_assert_ptr_nonnull(db_path);
}

static void dir_teardown(void) {
        rm_rf_tmpdir(dir);
        dir = mfree(dir);
        db_path = mfree(db_path);
}

static Store *open_ok(const char *const *migrations, StoreOpenFlags flags) {
        _cleanup_free_ char *m = NULL;
        Store *s = NULL;
        int r;

        r = store_open(db_path, flags, migrations, &s, &m);
        ck_assert_msg(r == 0, "store_open: %s: %s", strerror(-r), strna(m));
        ck_assert_ptr_nonnull(s);
        return s;
}

/* Runs a query expected to return one row and returns its first column as an integer. */
static int64_t query_int(Store *s, const char *sql) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        int64_t v;

        ck_assert_int_eq(store_prepare(s, sql, &st), 0);
        ck_assert_int_eq(store_step(st), 1);
        v = store_column_int64(st, 0);
        ck_assert_int_eq(store_step(st), 0);
        return v;
}

static char *query_text(Store *s, const char *sql) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        char *v;

        ck_assert_int_eq(store_prepare(s, sql, &st), 0);
        ck_assert_int_eq(store_step(st), 1);
        v = strdup(strna(store_column_text(st, 0)));
        ck_assert_ptr_nonnull(v);
        return v;
}

static int insert_kv(Store *s, const char *k, const void *v, size_t size) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        int r;

        r = store_prepare(s, "INSERT INTO kv(k, v) VALUES (?1, ?2)", &st);
        if (r < 0)
                return r;
        r = store_bind_text(st, 1, k);
        if (r < 0)
                return r;
        r = store_bind_blob(st, 2, v, size);
        if (r < 0)
                return r;
        return store_step(st);
}

static int64_t count_kv(Store *s) {
        return query_int(s, "SELECT count(*) FROM kv");
}

START_TEST(test_open_settings) {
        _cleanup_(store_closep) Store *s = NULL;
        _cleanup_free_ char *mode = NULL, *state = strjoin(dir, "/state"), *lock = strjoin(db_path, ".lock");
        struct stat st;

        s = open_ok(schema_v1, 0);
        ck_assert_str_eq(store_path(s), db_path);
        ck_assert_str_eq(store_last_error(s), "");

        ck_assert_int_eq(stat(db_path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(stat(state, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        ck_assert_int_eq(stat(lock, &st), 0);

        mode = query_text(s, "PRAGMA journal_mode");
        ck_assert_str_eq(mode, "wal");
        ck_assert_int_eq(query_int(s, "PRAGMA synchronous"), 2); /* FULL */
        ck_assert_int_eq(query_int(s, "PRAGMA foreign_keys"), 1);
        ck_assert_int_eq(query_int(s, "PRAGMA busy_timeout"), STORE_BUSY_TIMEOUT_MSEC);
        ck_assert_int_eq(store_health(s), 0);
        ck_assert_int_eq(store_quick_check(s), 0);
}
END_TEST

START_TEST(test_open_fds_cloexec) {
        _cleanup_(store_closep) Store *s = NULL;
        _cleanup_free_ char *before = NULL;
        DIR *d;
        struct dirent *de;

        /* Fds already open (the test harness's) are not ours to judge: note them first. */
        before = calloc(4096, 1);
        ck_assert_ptr_nonnull(before);
        d = opendir("/proc/self/fd");
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)))
                if (atoi(de->d_name) > 0 && atoi(de->d_name) < 4096)
                        before[atoi(de->d_name)] = 1;
        closedir(d);

        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(insert_kv(s, "k", "v", 1), 0);

        d = opendir("/proc/self/fd");
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (fd <= 2 || fd >= 4096 || before[fd] || fd == dirfd(d))
                        continue;
                ck_assert_msg(fcntl(fd, F_GETFD) & FD_CLOEXEC, "fd %d without O_CLOEXEC", fd);
        }
        closedir(d);
}
END_TEST

START_TEST(test_open_refusals) {
        _cleanup_free_ char *link = strjoin(dir, "/link.db"), *m = NULL;
        Store *s = NULL;

        ck_assert_int_eq(store_open("relative.db", 0, NULL, &s, NULL), -EINVAL);
        ck_assert_int_eq(store_open(db_path, 0x100, NULL, &s, NULL), -EINVAL);
        ck_assert_int_eq(store_open(db_path, 0, NULL, NULL, NULL), -EINVAL);

        /* A reader creates nothing. */
        ck_assert_int_eq(store_open(db_path, STORE_OPEN_READ_ONLY, NULL, &s, &m), -ENOENT);
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(access(db_path, F_OK), -1);

        /* The database file itself is never reached through a symlink. */
        ck_assert_int_eq(symlink("/etc/passwd", link), 0);
        m = mfree(m);
        ck_assert_int_eq(store_open(link, 0, NULL, &s, &m), -ELOOP);
        ck_assert_ptr_nonnull(m);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_migrations) {
        _cleanup_free_ char *m = NULL;
        Store *s;

        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(store_schema_version(s), 1);
        ck_assert_int_eq(insert_kv(s, "kept", "x", 1), 0);
        s = store_close(s);

        /* Reopening runs nothing again (it would fail: the table exists) and keeps the data. */
        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(store_schema_version(s), 1);
        ck_assert_int_eq(count_kv(s), 1);
        s = store_close(s);

        /* Newer code applies only what is new. */
        s = open_ok(schema_v2, 0);
        ck_assert_int_eq(store_schema_version(s), 2);
        ck_assert_int_eq(count_kv(s), 1);
        ck_assert_int_eq(query_int(s, "SELECT count(*) FROM agents"), 0);
        s = store_close(s);

        /* Older code meets a newer file: refused, by writers and readers, and the file is untouched. */
        ck_assert_int_eq(store_open(db_path, 0, schema_v1, &s, &m), -EPROTONOSUPPORT);
        ck_assert_ptr_nonnull(strstr(m, "schema version 2"));
        ck_assert_ptr_nonnull(strstr(m, "version 1 that"));
        m = mfree(m);
        ck_assert_int_eq(store_open(db_path, STORE_OPEN_READ_ONLY, schema_v1, &s, &m), -EPROTONOSUPPORT);
        s = open_ok(schema_v2, STORE_OPEN_READ_ONLY);
        ck_assert_int_eq(store_schema_version(s), 2);
        s = store_close(s);
}
END_TEST

START_TEST(test_migration_failure_rolls_back) {
        static const char *const broken[] = {
                "CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB)",
                "CREATE TABLE a(x); INSERT INTO kv VALUES ('from-step-2', NULL)",
                "CREATE TABEL b(x)",
                NULL,
        };
        _cleanup_free_ char *m = NULL;
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        Store *s;

        /* From scratch: nothing of steps 1 and 2 survives step 3's failure. */
        ck_assert_int_eq(store_open(db_path, 0, broken, &s, &m), -EINVAL);
        ck_assert_ptr_nonnull(strstr(m, "Migration 3 of "));
        ck_assert_msg(strstr(m, "syntax error"), "%s", m);
        s = open_ok(NULL, STORE_OPEN_READ_ONLY);
        ck_assert_int_eq(store_schema_version(s), 0);
        ck_assert_int_eq(store_prepare(s, "SELECT * FROM kv", &st), -EINVAL);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "no such table"));
        s = store_close(s);

        /* From version 1 with data: version and data stay as they were. */
        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(insert_kv(s, "kept", NULL, 0), 0);
        s = store_close(s);
        m = mfree(m);
        ck_assert_int_eq(store_open(db_path, 0, broken, &s, &m), -EINVAL);
        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(store_schema_version(s), 1);
        ck_assert_int_eq(count_kv(s), 1);
        ck_assert_int_eq(store_prepare(s, "SELECT * FROM a", &st), -EINVAL);
        s = store_close(s);
}
END_TEST

START_TEST(test_round_trip) {
        static const char utf8[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x8e\xad";
        static const uint8_t blob[] = { 'a', 0, 'b', 0, 0xff, 0 };
        static const int64_t ints[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX };
        _cleanup_(store_closep) Store *s = open_ok(NULL, 0);
        _cleanup_(store_statement_freep) StoreStatement *ins = NULL, *sel = NULL;
        const void *p;
        size_t size;

        ck_assert_int_eq(store_exec(s, "CREATE TABLE t(n INTEGER PRIMARY KEY, i INTEGER, s TEXT, b BLOB)"),
                         0);
        ck_assert_int_eq(store_prepare(s, "INSERT INTO t(i, s, b) VALUES (?, ?, ?)", &ins), 0);
        for (size_t k = 0; k < ELEMENTSOF(ints); k++) {
                ck_assert_int_eq(store_bind_int64(ins, 1, ints[k]), 0);
                ck_assert_int_eq(store_bind_text(ins, 2, k % 2 ? utf8 : ""), 0);
                ck_assert_int_eq(store_bind_blob(ins, 3, blob, k % 2 ? sizeof(blob) : 0), 0);
                ck_assert_int_eq(store_step(ins), 0);
                ck_assert_int_eq(store_changes(s), 1);
                ck_assert_int_eq(store_last_insert_rowid(s), (int64_t) k + 1);
                store_reset(ins);
        }
        /* Reset clears bindings: an unbound run inserts NULLs. */
        ck_assert_int_eq(store_step(ins), 0);
        store_reset(ins);
        ck_assert_int_eq(store_bind_null(ins, 1), 0);
        ck_assert_int_eq(store_bind_text(ins, 2, NULL), 0);
        ck_assert_int_eq(store_bind_null(ins, 3), 0);
        ck_assert_int_eq(store_step(ins), 0);

        ck_assert_int_eq(store_prepare(s, "SELECT i, s, b FROM t ORDER BY n", &sel), 0);
        for (size_t k = 0; k < ELEMENTSOF(ints); k++) {
                ck_assert_int_eq(store_step(sel), 1);
                ck_assert(!store_column_is_null(sel, 0));
                ck_assert(store_column_int64(sel, 0) == ints[k]);
                ck_assert_str_eq(store_column_text(sel, 1), k % 2 ? utf8 : "");
                p = store_column_blob(sel, 2, &size);
                ck_assert(!store_column_is_null(sel, 2));
                if (k % 2) {
                        ck_assert_int_eq(size, sizeof(blob));
                        ck_assert_mem_eq(p, blob, sizeof(blob));
                } else
                        ck_assert_int_eq(size, 0);
        }
        for (unsigned k = 0; k < 2; k++) {
                ck_assert_int_eq(store_step(sel), 1);
                for (int col = 0; col < 3; col++)
                        ck_assert(store_column_is_null(sel, col));
                ck_assert_ptr_null(store_column_text(sel, 1));
                ck_assert_ptr_null(store_column_blob(sel, 2, &size));
                ck_assert_int_eq(size, 0);
        }
        ck_assert_int_eq(store_step(sel), 0);
}
END_TEST

START_TEST(test_statement_misuse) {
        _cleanup_(store_closep) Store *s = open_ok(schema_v1, 0);
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;

        ck_assert_int_eq(store_prepare(s, "SELECT 1; SELECT 2", &st), -EINVAL);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "More than one"));
        ck_assert_int_eq(store_prepare(s, "", &st), -EINVAL);
        ck_assert_int_eq(store_prepare(s, "  -- nothing", &st), -EINVAL);
        ck_assert_int_eq(store_prepare(s, "SELEKT 1", &st), -EINVAL);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "syntax error"));
        ck_assert_int_eq(store_prepare(s, "SELECT * FROM nonexistent", &st), -EINVAL);
        ck_assert_ptr_null(st);

        /* A trailing semicolon or comment is still one statement. */
        ck_assert_int_eq(store_prepare(s, "SELECT ?1 ; -- the end\n", &st), 0);
        ck_assert_int_eq(store_bind_int64(st, 0, 1), -EINVAL);
        ck_assert_int_eq(store_bind_int64(st, 2, 1), -EINVAL);
        ck_assert_int_eq(store_bind_text(st, 7, "x"), -EINVAL);
        ck_assert_int_eq(store_bind_blob(st, 1, NULL, 3), -EINVAL);
        ck_assert_int_eq(store_bind_int64(st, 1, 42), 0);
        ck_assert_int_eq(store_step(st), 1);
        ck_assert_int_eq(store_column_int64(st, 0), 42);
        ck_assert_int_eq(store_step(st), 0);

        ck_assert_int_eq(store_exec(s, "CREATE TABLE x(a); DROP TABLE x"), 0);
        ck_assert_int_eq(store_exec(s, "DROP TABLE x"), -EINVAL);
}
END_TEST

START_TEST(test_constraints) {
        _cleanup_(store_closep) Store *s = open_ok(schema_v2, 0);

        ck_assert_int_eq(insert_kv(s, "a", "1", 1), 0);
        ck_assert_int_eq(insert_kv(s, "a", "2", 1), -EEXIST);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "UNIQUE constraint failed: kv.k"));
        ck_assert_int_eq(store_exec(s, "INSERT INTO agents(id, name) VALUES (1, 'echo')"), 0);
        ck_assert_int_eq(store_exec(s, "INSERT INTO agents(id, name) VALUES (2, 'echo')"), -EEXIST);
        ck_assert_int_eq(store_exec(s, "INSERT INTO agents(id, name) VALUES (1, 'other')"), -EEXIST);

        /* Wrong requests rather than duplicates; the FOREIGN KEY one shows foreign_keys=ON. */
        ck_assert_int_eq(store_exec(s, "INSERT INTO agents(name) VALUES (NULL)"), -EINVAL);
        ck_assert_int_eq(store_exec(s, "INSERT INTO tasks(agent, state) VALUES (1, 'bogus')"), -EINVAL);
        ck_assert_int_eq(store_exec(s, "INSERT INTO tasks(agent, state) VALUES (99, 'working')"), -EINVAL);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "FOREIGN KEY"));
        ck_assert_int_eq(store_exec(s, "INSERT INTO tasks(agent, state) VALUES (1, 'working')"), 0);
        ck_assert_int_eq(query_int(s, "SELECT count(*) FROM tasks"), 1);
}
END_TEST

START_TEST(test_transactions) {
        _cleanup_(store_closep) Store *s = open_ok(schema_v2, 0);
        Store *tx = NULL;

        ck_assert_int_eq(store_begin(s, &tx), 0);
        ck_assert_ptr_eq(tx, s);
        ck_assert_int_eq(insert_kv(s, "committed", "1", 1), 0);
        ck_assert_int_eq(store_begin(s, NULL), -EBUSY);
        ck_assert_int_eq(store_commit(TAKE_PTR(tx)), 0);
        ck_assert_int_eq(count_kv(s), 1);

        ck_assert_int_eq(store_begin(s, NULL), 0);
        ck_assert_int_eq(insert_kv(s, "rolled-back", "2", 1), 0);
        ck_assert_int_eq(count_kv(s), 2);
        ck_assert_int_eq(store_rollback(s), 0);
        ck_assert_int_eq(count_kv(s), 1);
        /* Nothing open: a no-op, which is what lets the cleanup helper run unconditionally. */
        ck_assert_int_eq(store_rollback(s), 0);

        {
                _cleanup_(store_rollbackp) Store *scoped = NULL;
                ck_assert_int_eq(store_begin(s, &scoped), 0);
                ck_assert_int_eq(insert_kv(s, "abandoned", "3", 1), 0);
                /* leaving the scope without commit */
        }
        ck_assert_int_eq(count_kv(s), 1);

        /* A COMMIT that fails (here a deferred foreign key) rolls back instead of staying open. */
        ck_assert_int_eq(store_exec(s, "CREATE TABLE d(a INTEGER REFERENCES agents(id)"
                                       "                DEFERRABLE INITIALLY DEFERRED)"),
                         0);
        ck_assert_int_eq(store_begin(s, &tx), 0);
        ck_assert_int_eq(store_exec(s, "INSERT INTO d VALUES (77)"), 0);
        ck_assert_int_eq(insert_kv(s, "in-failed-commit", "4", 1), 0);
        ck_assert_int_eq(store_commit(TAKE_PTR(tx)), -EINVAL);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "FOREIGN KEY"));
        ck_assert_int_eq(count_kv(s), 1);
        ck_assert_int_eq(store_begin(s, NULL), 0);
        ck_assert_int_eq(store_commit(s), 0);
}
END_TEST

START_TEST(test_full_database) {
        _cleanup_free_ char *before = NULL;
        char big[3000], key[32], sql[64];
        Store *s = open_ok(schema_v1, 0);
        int64_t pages, inserted = 0;
        int r = 0;

        memset(big, 'z', sizeof(big));
        ck_assert_int_eq(insert_kv(s, "before", "precious", 8), 0);

        /* max_page_count caps the file for this connection only: a disk full on demand. */
        pages = query_int(s, "PRAGMA page_count");
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%" PRIi64, pages + 8);
        ck_assert_int_eq(store_exec(s, sql), 0);
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                r = insert_kv(s, key, big, sizeof(big));
                if (r < 0)
                        break;
                inserted++;
        }
        ck_assert_int_eq(r, -ENOSPC);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "full"));
        ck_assert_int_gt(inserted, 0);

        /* A transaction that runs out of space is gone entirely. */
        ck_assert_int_eq(store_exec(s, "PRAGMA max_page_count=1000000"), 0);
        ck_assert_int_eq(store_exec(s, "DELETE FROM kv WHERE k != 'before'"), 0);
        ck_assert_int_eq(store_exec(s, "PRAGMA max_page_count=20"), 0);
        ck_assert_int_eq(store_begin(s, NULL), 0);
        ck_assert_int_eq(insert_kv(s, "in-tx", "x", 1), 0);
        for (int i = 0; i < 1000 && r != -ENOSPC; i++) {
                snprintf(key, sizeof(key), "t%d", i);
                r = insert_kv(s, key, big, sizeof(big));
        }
        ck_assert_int_eq(r, -ENOSPC);
        ck_assert_int_eq(store_rollback(s), 0);
        s = store_close(s);

        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(count_kv(s), 1);
        before = query_text(s, "SELECT CAST(v AS TEXT) FROM kv WHERE k = 'before'");
        ck_assert_str_eq(before, "precious");
        ck_assert_int_eq(store_quick_check(s), 0);
        s = store_close(s);
}
END_TEST

START_TEST(test_read_only) {
        _cleanup_(store_closep) Store *w = open_ok(schema_v1, 0), *r = NULL, *w2 = NULL;

        ck_assert_int_eq(insert_kv(w, "seen", "1", 1), 0);

        /* Readers take no lock: they open beside the writer and see what it committed. */
        r = open_ok(schema_v1, STORE_OPEN_READ_ONLY);
        ck_assert_int_eq(count_kv(r), 1);
        ck_assert_int_eq(insert_kv(w, "later", "2", 1), 0);
        ck_assert_int_eq(count_kv(r), 2);

        ck_assert_int_eq(insert_kv(r, "nope", "x", 1), -EROFS);
        ck_assert_ptr_nonnull(strstr(store_last_error(r), "readonly"));
        ck_assert_int_eq(store_exec(r, "CREATE TABLE x(a)"), -EROFS);
        ck_assert_int_eq(store_exec(r, "DELETE FROM kv"), -EROFS);
        ck_assert_int_eq(store_begin(r, NULL), 0);
        ck_assert_int_eq(count_kv(r), 2);
        ck_assert_int_eq(store_commit(r), 0);
        ck_assert_int_eq(store_health(r), 0);

        /* And a reader alone, after the writer closed. */
        w = store_close(w);
        r = store_close(r);
        r = open_ok(schema_v1, STORE_OPEN_READ_ONLY);
        ck_assert_int_eq(count_kv(r), 2);
        ck_assert_int_eq(store_exec(r, "DELETE FROM kv"), -EROFS);

        /* With a reader open, a writer still gets in. */
        w2 = open_ok(schema_v1, 0);
        ck_assert_int_eq(insert_kv(w2, "third", "3", 1), 0);
}
END_TEST

START_TEST(test_second_writer) {
        _cleanup_(store_closep) Store *a = open_ok(schema_v1, 0);
        _cleanup_free_ char *m = NULL, *pid = NULL;
        Store *b = NULL;

        ck_assert_int_eq(store_open(db_path, 0, schema_v1, &b, &m), -EBUSY);
        ck_assert_ptr_null(b);
        ck_assert_int_eq(asprintf_safe(&pid, "by process %i;", (int) getpid()), 0);
        ck_assert_msg(strstr(m, pid) && strstr(m, db_path), "unclear message: %s", m);
        ck_assert_int_eq(insert_kv(a, "still", "fine", 4), 0);

        a = store_close(a);
        b = open_ok(schema_v1, 0);
        ck_assert_int_eq(count_kv(b), 1);
        b = store_close(b);
}
END_TEST

START_TEST(test_second_writer_other_process) {
        _cleanup_(store_closep) Store *a = open_ok(schema_v1, 0);
        int status;
        pid_t pid;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Store *b = NULL;
                _exit(store_open(db_path, 0, schema_v1, &b, NULL) == -EBUSY ? 0 : 1);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert_int_eq(insert_kv(a, "still", "mine", 4), 0);
}
END_TEST

static void write_garbage(const char *path, off_t offset, size_t size) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        char junk[4096];

        ck_assert_int_ge(fd, 0);
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (char) (i * 7 + 13);
        memcpy(junk, "this is not a database, just garbage", 36);
        ck_assert_int_eq(lseek(fd, offset, SEEK_SET), offset);
        for (size_t done = 0; done < size; done += sizeof(junk))
                ck_assert_int_eq(loop_write(fd, junk, MIN(sizeof(junk), size - done)), 0);
}

START_TEST(test_corrupt_file) {
        _cleanup_free_ char *m = NULL, *parent = strjoin(dir, "/state/sub");
        Store *s = NULL;

        ck_assert_int_eq(mkdir_p_secure(parent, 0700, NULL), 0);
        write_garbage(db_path, 0, 8192);
        ck_assert_int_eq(store_open(db_path, 0, schema_v1, &s, &m), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(m, "not a database"));
        m = mfree(m);
        ck_assert_int_eq(store_open(db_path, STORE_OPEN_READ_ONLY, schema_v1, &s, &m), -EBADMSG);
        ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_damaged_pages) {
        char big[2000], key[16];
        Store *s = open_ok(schema_v1, 0);

        memset(big, 'q', sizeof(big));
        for (int i = 0; i < 50; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                ck_assert_int_eq(insert_kv(s, key, big, sizeof(big)), 0);
        }
        s = store_close(s); /* checkpoints everything into the main file */

        /* Page 1 (header and schema) stays intact, so the damage is only found by looking. */
        write_garbage(db_path, 3 * 4096, 4 * 4096);
        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(store_health(s), 0);
        ck_assert_int_eq(store_quick_check(s), -EBADMSG);
        ck_assert_int_ne(strlen(store_last_error(s)), 0);
        s = store_close(s);
}
END_TEST

START_TEST(test_health) {
        _cleanup_(store_closep) Store *s = open_ok(schema_v1, 0);
        _cleanup_free_ char *moved = strjoin(db_path, ".moved");

        ck_assert_int_eq(store_health(s), 0);
        ck_assert_int_eq(rename(db_path, moved), 0);
        ck_assert_int_eq(store_health(s), -ENOENT);
        ck_assert_ptr_nonnull(strstr(store_last_error(s), "is gone"));
        write_garbage(db_path, 0, 10);
        ck_assert_int_eq(store_health(s), -ESTALE);
        ck_assert_int_eq(rename(moved, db_path), 0);
        ck_assert_int_eq(store_health(s), 0);
}
END_TEST

START_TEST(test_survives_kill) {
        _cleanup_free_ char *wal = strjoin(db_path, "-wal");
        Store *s;
        struct stat st;
        int status;
        pid_t pid;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Store *c = NULL;
                Store *tx = NULL;
                char key[16];

                if (store_open(db_path, 0, schema_v1, &c, NULL) < 0 || store_begin(c, &tx) < 0)
                        _exit(1);
                for (int i = 0; i < 100; i++) {
                        snprintf(key, sizeof(key), "k%d", i);
                        if (insert_kv(c, key, key, strlen(key)) < 0)
                                _exit(1);
                }
                if (store_commit(tx) < 0 || insert_kv(c, "autocommit", "x", 1) < 0)
                        _exit(1);
                /* An uncommitted transaction that must not survive. */
                if (store_begin(c, NULL) < 0 || insert_kv(c, "uncommitted", "x", 1) < 0)
                        _exit(1);
                raise(SIGKILL);
                _exit(2);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);

        /* The commits are only in the WAL, which the next open has to replay. */
        ck_assert_int_eq(stat(wal, &st), 0);
        ck_assert_int_gt(st.st_size, 0);

        s = open_ok(schema_v1, 0);
        ck_assert_int_eq(count_kv(s), 101);
        ck_assert_int_eq(query_int(s, "SELECT count(*) FROM kv WHERE k = 'uncommitted'"), 0);
        ck_assert_int_eq(store_quick_check(s), 0);
        s = store_close(s);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("store");
        TCase *tc = tcase_create("store");

        tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
        tcase_add_test(tc, test_open_settings);
        tcase_add_test(tc, test_open_fds_cloexec);
        tcase_add_test(tc, test_open_refusals);
        tcase_add_test(tc, test_migrations);
        tcase_add_test(tc, test_migration_failure_rolls_back);
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_statement_misuse);
        tcase_add_test(tc, test_constraints);
        tcase_add_test(tc, test_transactions);
        tcase_add_test(tc, test_full_database);
        tcase_add_test(tc, test_read_only);
        tcase_add_test(tc, test_second_writer);
        tcase_add_test(tc, test_second_writer_other_process);
        tcase_add_test(tc, test_corrupt_file);
        tcase_add_test(tc, test_damaged_pages);
        tcase_add_test(tc, test_health);
        tcase_add_test(tc, test_survives_kill);
        suite_add_tcase(s, tc);
        return s;
}

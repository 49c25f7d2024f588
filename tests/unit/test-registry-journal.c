/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry's task journal and workspaces, without a bus or an event loop. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/string-util.h"
#include "check-main.h"
#include "registryd-journal.h"
#include "store/store.h"
#include "registryd-workspace.h"

static char *tmp;

static void setup(void) {
        tmp = make_tmpdir();
}

static void teardown(void) {
        rm_rf_tmpdir(tmp);
        free(tmp);
        tmp = NULL;
}

static char *db_path(void) {
        char *p = strjoin(tmp, "/state/registry.db");
        ck_assert_ptr_nonnull(p);
        return p;
}

static const JournalTask task_a = {
        .id = "0123456789abcdef",
        .agent = "echo",
        .state = "submitted",
        .workspace = "/w/0123456789abcdef",
        .created_usec = 1000,
};

typedef struct Collected {
        uint64_t seqs[64];
        char *types[64];
        size_t n;
        int stop_after; /* return 1 after this many; 0 never */
} Collected;

static int collect(uint64_t seq, uint64_t time_usec, const char *type, const char *payload, void *userdata) {
        Collected *c = userdata;

        ck_assert_uint_lt(c->n, 64);
        c->seqs[c->n] = seq;
        c->types[c->n] = strdup(type);
        c->n++;
        return c->stop_after > 0 && c->n >= (size_t) c->stop_after;
}

static void collected_done(Collected *c) {
        for (size_t i = 0; i < c->n; i++)
                free(c->types[i]);
        c->n = 0;
}

START_TEST(test_journal_roundtrip) {
        _cleanup_free_ char *path = db_path(), *params = NULL, *result = NULL, *prompt = NULL;
        Journal *j = NULL;
        Collected col = {};

        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        ck_assert_int_eq(journal_health(j), 0);

        ck_assert_int_eq(journal_begin(j), 0);
        ck_assert(journal_in_transaction(j));
        ck_assert_int_eq(journal_begin(j), 0); /* nested begin: nothing */
        ck_assert_int_eq(journal_task_insert(j, &task_a, "{\"x\":1}", "say hi"), 0);
        for (uint64_t s = 1; s <= 10; s++)
                ck_assert_int_eq(
                        journal_event_append(j, task_a.id, s, 2000 + s, s == 1 ? "state" : "log", "{}"), 0);
        /* The same seq twice is refused: sequence numbers are unique per task. */
        ck_assert_int_eq(journal_event_append(j, task_a.id, 3, 1, "log", "{}"), -EEXIST);
        ck_assert_int_eq(journal_commit(j), 0);
        ck_assert(!journal_in_transaction(j));

        /* (after, max] with a limit, in order. */
        ck_assert_int_eq(journal_event_foreach(j, task_a.id, 2, 8, 4, collect, &col), 4);
        ck_assert_uint_eq(col.seqs[0], 3);
        ck_assert_uint_eq(col.seqs[3], 6);
        ck_assert_str_eq(col.types[0], "log");
        collected_done(&col);
        ck_assert_int_eq(journal_event_foreach(j, task_a.id, 0, 100, 100, collect, &col), 10);
        ck_assert_uint_eq(col.seqs[0], 1);
        ck_assert_str_eq(col.types[0], "state");
        collected_done(&col);
        /* A positive return stops early and counts the event it took. */
        col.stop_after = 2;
        ck_assert_int_eq(journal_event_foreach(j, task_a.id, 0, 100, 100, collect, &col), 2);
        collected_done(&col);
        col.stop_after = 0;
        ck_assert_int_eq(journal_event_foreach(j, task_a.id, 8, 8, 100, collect, &col), 0);

        ck_assert_int_eq(journal_task_get_text(j, task_a.id, JOURNAL_TASK_PARAMS, &params), 0);
        ck_assert_str_eq(params, "{\"x\":1}");
        ck_assert_int_eq(journal_task_get_text(j, task_a.id, JOURNAL_TASK_PROMPT, &prompt), 0);
        ck_assert_str_eq(prompt, "say hi");
        ck_assert_int_eq(journal_task_get_text(j, task_a.id, JOURNAL_TASK_RESULT, &result), 0);
        ck_assert_str_eq(result, "");
        ck_assert_int_eq(journal_task_get_text(j, "ffffffffffffffff", JOURNAL_TASK_RESULT, &result),
                         -ENOENT);

        journal_free(j);
}
END_TEST

static int expect_one_task(const JournalTask *t, void *userdata) {
        int *n = userdata;

        ck_assert_str_eq(t->id, task_a.id);
        ck_assert_str_eq(t->state, "completed");
        ck_assert_str_eq(t->error, "none really");
        ck_assert_uint_eq(t->seq, 3);
        ck_assert_uint_eq(t->finished_usec, 5000);
        ck_assert(t->retried);
        ck_assert(!t->cancel_requested);
        ck_assert(t->progress > 0.9999 && t->progress <= 1.0);
        (*n)++;
        return 0;
}

START_TEST(test_journal_persists_and_deletes) {
        _cleanup_free_ char *path = db_path(), *result = NULL;
        Journal *j = NULL, *j2 = NULL;
        JournalTask t = task_a;
        Collected col = {};
        int n = 0;

        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        /* One writer per file. */
        ck_assert_int_eq(journal_open(path, &j2, NULL), -EBUSY);

        ck_assert_int_eq(journal_begin(j), 0);
        ck_assert_int_eq(journal_task_insert(j, &t, NULL, NULL), 0);
        for (uint64_t s = 1; s <= 3; s++)
                ck_assert_int_eq(journal_event_append(j, t.id, s, s, "state", "{\"state\":\"x\"}"), 0);
        t.state = "completed";
        t.error = "none really";
        t.seq = 3;
        t.finished_usec = 5000;
        t.retried = true;
        t.progress = 1.0;
        ck_assert_int_eq(journal_task_update(j, &t), 0);
        ck_assert_int_eq(journal_task_set_result(j, t.id, "{\"ok\":true}"), 0);
        ck_assert_int_eq(journal_commit(j), 0);

        /* Uncommitted work is gone after a rollback. */
        ck_assert_int_eq(journal_begin(j), 0);
        ck_assert_int_eq(journal_event_append(j, t.id, 4, 4, "log", "{}"), 0);
        ck_assert_int_eq(journal_rollback(j), 0);
        journal_free(j);

        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        ck_assert_int_eq(journal_task_foreach(j, expect_one_task, &n), 0);
        ck_assert_int_eq(n, 1);
        ck_assert_int_eq(journal_event_foreach(j, t.id, 0, 100, 100, collect, &col), 3);
        collected_done(&col);
        ck_assert_int_eq(journal_task_get_text(j, t.id, JOURNAL_TASK_RESULT, &result), 0);
        ck_assert_str_eq(result, "{\"ok\":true}");

        /* Deleting a task takes its events with it. */
        ck_assert_int_eq(journal_begin(j), 0);
        ck_assert_int_eq(journal_task_delete(j, t.id), 0);
        ck_assert_int_eq(journal_commit(j), 0);
        ck_assert_int_eq(journal_event_foreach(j, t.id, 0, 100, 100, collect, &col), 0);
        n = 0;
        ck_assert_int_eq(journal_task_foreach(j, expect_one_task, &n), 0);
        ck_assert_int_eq(n, 0);
        journal_free(j);
}
END_TEST

typedef struct Grants {
        char *lines[8];
        size_t n;
} Grants;

static int collect_grant(const JournalGrant *g, void *userdata) {
        Grants *gs = userdata;
        char *line;

        ck_assert_uint_lt(gs->n, 8);
        ck_assert_int_ge(asprintf(&line, "%s %s %s %llu", g->agent, g->capability, g->consent_id,
                                  (unsigned long long) g->granted_usec),
                         0);
        gs->lines[gs->n++] = line;
        return 0;
}

static void grants_done(Grants *gs) {
        for (size_t i = 0; i < gs->n; i++)
                free(gs->lines[i]);
        gs->n = 0;
}

START_TEST(test_journal_grants) {
        static const char *const v1[] = {
                "CREATE TABLE tasks (id TEXT PRIMARY KEY NOT NULL, agent TEXT NOT NULL,"
                " state TEXT NOT NULL, workspace TEXT NOT NULL, created_usec INTEGER NOT NULL,"
                " finished_usec INTEGER NOT NULL DEFAULT 0, progress_ppm INTEGER NOT NULL DEFAULT 0,"
                " seq INTEGER NOT NULL DEFAULT 0, retried INTEGER NOT NULL DEFAULT 0,"
                " cancel_requested INTEGER NOT NULL DEFAULT 0, error TEXT,"
                " params TEXT NOT NULL DEFAULT '{}', prompt TEXT, result TEXT);"
                "CREATE TABLE events (task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
                " seq INTEGER NOT NULL, time_usec INTEGER NOT NULL, type TEXT NOT NULL,"
                " payload TEXT NOT NULL, PRIMARY KEY (task_id, seq)) WITHOUT ROWID;"
                "INSERT INTO tasks (id, agent, state, workspace, created_usec, finished_usec,"
                " progress_ppm, seq, retried, error) VALUES ('0123456789abcdef', 'echo', 'completed',"
                " '/w', 1, 5000, 1000000, 3, 1, 'none really');",
                NULL,
        };
        _cleanup_free_ char *path = db_path();
        JournalGrant g = {
                .agent = "bootstrap",
                .capability = "exec.editor",
                .consent_id = "a000000000000001",
                .granted_usec = 42,
        };
        Grants gs = {};
        Store *old = NULL;
        Journal *j = NULL;
        int n = 0;

        /* A journal written before grants existed is migrated, its tasks kept. */
        ck_assert_int_eq(store_open(path, 0, v1, &old, NULL), 0);
        store_close(old);
        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        ck_assert_int_eq(journal_task_foreach(j, expect_one_task, &n), 0);
        ck_assert_int_eq(n, 1);

        ck_assert_int_eq(journal_grant_get(j, "bootstrap", "exec.editor"), 0);
        ck_assert_int_eq(journal_grant_delete(j, "bootstrap", "exec.editor"), -ENOENT);
        ck_assert_int_eq(journal_grant_put(j, &g), 0);
        /* Granting again replaces: one grant per agent and capability. */
        g.consent_id = "b000000000000002";
        g.granted_usec = 43;
        ck_assert_int_eq(journal_grant_put(j, &g), 0);
        g = (JournalGrant){.agent = "alpha", .capability = "fs.workspace", .consent_id = "c000000000000003",
                           .granted_usec = 7};
        ck_assert_int_eq(journal_grant_put(j, &g), 0);
        ck_assert_int_eq(journal_grant_get(j, "bootstrap", "exec.editor"), 1);
        ck_assert_int_eq(journal_grant_get(j, "bootstrap", "fs.workspace"), 0);
        journal_free(j);

        /* They survive a restart, listed by agent and capability. */
        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        ck_assert_int_eq(journal_grant_foreach(j, collect_grant, &gs), 0);
        ck_assert_uint_eq(gs.n, 2);
        ck_assert_str_eq(gs.lines[0], "alpha fs.workspace c000000000000003 7");
        ck_assert_str_eq(gs.lines[1], "bootstrap exec.editor b000000000000002 43");
        grants_done(&gs);

        ck_assert_int_eq(journal_grant_delete(j, "bootstrap", "exec.editor"), 0);
        ck_assert_int_eq(journal_grant_get(j, "bootstrap", "exec.editor"), 0);
        ck_assert_int_eq(journal_grant_foreach(j, collect_grant, &gs), 0);
        ck_assert_uint_eq(gs.n, 1);
        grants_done(&gs);
        journal_free(j);
}
END_TEST

START_TEST(test_journal_audit_anchor) {
        _cleanup_free_ char *path = db_path();
        AuditAnchor a = {.seq = 41}, got;
        Journal *j = NULL;

        memset(a.hash, 0xab, sizeof(a.hash));
        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        ck_assert_int_eq(journal_audit_anchor_get(j, &got), -ENOENT);
        ck_assert_int_eq(journal_audit_anchor_put(j, &a), 0);
        /* One anchor: a newer head replaces it, also inside a transaction. */
        a.seq = 42;
        a.hash[0] = 0x01;
        ck_assert_int_eq(journal_begin(j), 0);
        ck_assert_int_eq(journal_audit_anchor_put(j, &a), 0);
        ck_assert_int_eq(journal_commit(j), 0);
        journal_free(j);

        ck_assert_int_eq(journal_open(path, &j, NULL), 0);
        ck_assert_int_eq(journal_audit_anchor_get(j, &got), 0);
        ck_assert_uint_eq(got.seq, 42);
        ck_assert_mem_eq(got.hash, a.hash, sizeof(a.hash));
        journal_free(j);
}
END_TEST

START_TEST(test_event_line) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t n;

        ck_assert_int_eq(journal_event_format_line(7, 123, "state", "{\"state\":\"working\"}", &a, &n), 0);
        ck_assert_str_eq(a, "{\"seq\":7,\"time_usec\":123,\"type\":\"state\",\"state\":\"working\"}\n");
        ck_assert_uint_eq(n, strlen(a));
        ck_assert_int_eq(journal_event_format_line(1, 2, "log", "{}", &b, NULL), 0);
        ck_assert_str_eq(b, "{\"seq\":1,\"time_usec\":2,\"type\":\"log\"}\n");
        ck_assert_int_eq(journal_event_format_line(1, 2, "log", "[]", &b, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_workspace_names) {
        static const char *const good[] = {"a", "billing", "0123456789abcdef", "my.proj_1-x", NULL};
        static const char *const bad[] = {"",  "../x", "/tmp/x", "a/b", ".x", "-x", "_x",
                                          "A", "a..b", "a b",    "x\n", "ü",  NULL};
        char long_name[301];

        for (size_t i = 0; good[i]; i++)
                ck_assert_msg(workspace_name_is_valid(good[i]), "%s should be valid", good[i]);
        for (size_t i = 0; bad[i]; i++)
                ck_assert_msg(!workspace_name_is_valid(bad[i]), "%s should be invalid", bad[i]);
        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[300] = 0;
        ck_assert(!workspace_name_is_valid(long_name));
        long_name[64] = 0;
        ck_assert(workspace_name_is_valid(long_name));
        long_name[64] = 'a';
        long_name[65] = 0;
        ck_assert(!workspace_name_is_valid(long_name));
}
END_TEST

START_TEST(test_workspace_create) {
        _cleanup_free_ char *root = strjoin(tmp, "/data/workspaces"), *path = NULL, *outside = NULL,
                            *link = NULL, *expected = NULL;
        struct stat st;

        ck_assert_int_eq(workspace_create(root, "proj", false, &path), 0);
        expected = strjoin(root, "/proj");
        ck_assert_str_eq(path, expected);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0700);
        free(path);
        path = NULL;

        ck_assert_int_eq(workspace_create(root, "proj", false, &path), -EEXIST);
        ck_assert_int_eq(workspace_create(root, "proj", true, &path), 0);
        free(path);
        path = NULL;

        ck_assert_int_eq(workspace_create(root, "../escape", false, &path), -EINVAL);
        ck_assert_int_eq(workspace_create(root, "a/b", false, &path), -EINVAL);
        ck_assert_ptr_null(path);

        /* A symlink planted where a workspace would go is never followed, even with reuse. */
        outside = strjoin(tmp, "/outside");
        link = strjoin(root, "/planted");
        ck_assert_int_eq(mkdir(outside, 0700), 0);
        ck_assert_int_eq(symlink(outside, link), 0);
        ck_assert_int_lt(workspace_create(root, "planted", true, &path), 0);
        ck_assert_int_lt(workspace_create(root, "planted", false, &path), 0);
        ck_assert_ptr_null(path);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("registry-journal");
        TCase *tc = tcase_create("journal");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_journal_roundtrip);
        tcase_add_test(tc, test_journal_persists_and_deletes);
        tcase_add_test(tc, test_journal_grants);
        tcase_add_test(tc, test_journal_audit_anchor);
        tcase_add_test(tc, test_event_line);
        tcase_add_test(tc, test_workspace_names);
        tcase_add_test(tc, test_workspace_create);
        suite_add_tcase(s, tc);
        return s;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "json/json-util.h"
#include "store/store.h"

#define T0 UINT64_C(1700000000000000)

static char *dir;
static char *db_path;

static void setup(void) {
        dir = make_tmpdir();
        ck_assert_ptr_nonnull(dir);
        /* Below a directory that does not exist yet: the store creates it. */
        db_path = strjoin(dir, "/state/audit.db");
        ck_assert_ptr_nonnull(db_path);
}

static void teardown(void) {
        rm_rf_tmpdir(dir);
        dir = mfree(dir);
        db_path = mfree(db_path);
}

static Audit *open_ok(AuditOpenFlags flags) {
        _cleanup_free_ char *m = NULL;
        Audit *a = NULL;
        int r;

        r = audit_open(db_path, flags, &a, &m);
        ck_assert_msg(r == 0, "audit_open: %s: %s", strerror(-r), strna(m));
        return a;
}

/* Row i of a test log: every other row belongs to a task, times go up by one. */
static int append_row(Audit *a, unsigned i, AuditDurableHandler handler, void *userdata, uint64_t *ret_seq) {
        _cleanup_(json_decrefp) json_t *detail =
                json_pack("{s:i, s:[s, s]}", "i", (int) i, "argv", "make", "test");
        AuditEntry e = {
                .time = T0 + i,
                .actor = i % 3 == 0 ? "user" : "registry",
                .action = i % 2 == 0 ? "exec" : "consent",
                .task = i % 2 == 0 ? "a1b2c3d4e5f60718" : NULL,
                .agent = i % 2 == 0 ? "bootstrap" : NULL,
                .detail = detail,
        };

        ck_assert_ptr_nonnull(detail);
        return audit_append(a, &e, handler, userdata, ret_seq);
}

/* A closed log of n durable rows; returns its head as an anchor. */
static AuditAnchor build_log(unsigned n) {
        Audit *a = open_ok(0);
        AuditAnchor anchor;

        for (unsigned i = 1; i <= n; i++)
                ck_assert_int_eq(append_row(a, i, NULL, NULL, NULL), 0);
        ck_assert_int_ge(audit_flush(a), 0);
        ck_assert_int_eq(audit_head(a, &anchor.seq, anchor.hash), 0);
        ck_assert_uint_eq(anchor.seq, n);
        audit_close(a);
        return anchor;
}

static AuditVerification verify_file(const AuditAnchor *anchor) {
        Audit *a = open_ok(AUDIT_OPEN_READ_ONLY);
        AuditVerification v;

        ck_assert_int_eq(audit_verify(a, anchor, &v), 0);
        audit_close(a);
        return v;
}

static void assert_damage(const AuditAnchor *anchor, uint64_t bad_seq, AuditDamage damage) {
        AuditVerification v = verify_file(anchor);

        ck_assert_msg(!v.ok && v.bad_seq == bad_seq && v.damage == damage,
                      "expected %s at %" PRIu64 ", got ok=%d %s at %" PRIu64, audit_damage_to_string(damage),
                      bad_seq, v.ok, audit_damage_to_string(v.damage), v.bad_seq);
}

/* A second connection to the file, as someone with our uid and the sqlite3 tool would have. */
static Store *raw_open(void) {
        _cleanup_free_ char *m = NULL;
        Store *s = NULL;
        int r;

        r = store_open(db_path, 0, audit_migrations, &s, &m);
        ck_assert_msg(r == 0, "store_open: %s: %s", strerror(-r), strna(m));
        return s;
}

static void raw_exec(Store *s, const char *fmt, ...) _printf_(2, 3);
static void raw_exec(Store *s, const char *fmt, ...) {
        _cleanup_free_ char *sql = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&sql, fmt, ap);
        va_end(ap);
        ck_assert_int_ge(r, 0);
        r = store_exec(s, sql);
        ck_assert_msg(r == 0, "%s: %s", sql, store_last_error(s));
}

static void tamper(const char *sql) {
        Store *s = raw_open();

        raw_exec(s, "%s", sql);
        store_close(s);
}

static int64_t raw_count(const char *sql) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        _cleanup_(store_closep) Store *s = NULL;
        _cleanup_free_ char *m = NULL;
        int64_t v;

        ck_assert_int_eq(store_open(db_path, STORE_OPEN_READ_ONLY, audit_migrations, &s, &m), 0);
        ck_assert_int_eq(store_prepare(s, sql, &st), 0);
        ck_assert_int_eq(store_step(st), 1);
        v = store_column_int64(st, 0);
        return v;
}

/* What a forger who knows the encoding does: recompute hash (and prev) of rows first..last so each
 * links to the row before it. */
static void rechain(Store *s, uint64_t first, uint64_t last) {
        for (uint64_t seq = first; seq <= last; seq++) {
                _cleanup_(store_statement_freep) StoreStatement *st = NULL, *up = NULL;
                uint8_t prev[AUDIT_HASH_SIZE] = {}, hash[AUDIT_HASH_SIZE];
                AuditBytes text[_AUDIT_TEXT_MAX];
                size_t size;

                if (seq > 1) {
                        _cleanup_(store_statement_freep) StoreStatement *p = NULL;
                        ck_assert_int_eq(store_prepare(s, "SELECT hash FROM audit WHERE seq = ?1", &p), 0);
                        ck_assert_int_eq(store_bind_int64(p, 1, (int64_t) seq - 1), 0);
                        ck_assert_int_eq(store_step(p), 1);
                        memcpy(prev, store_column_blob(p, 0, &size), AUDIT_HASH_SIZE);
                }
                ck_assert_int_eq(store_prepare(s,
                                               "SELECT time, actor, action, task, agent, detail "
                                               "FROM audit WHERE seq = ?1",
                                               &st),
                                 0);
                ck_assert_int_eq(store_bind_int64(st, 1, (int64_t) seq), 0);
                ck_assert_int_eq(store_step(st), 1);
                for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                        text[i].p = store_column_blob(st, 1 + (int) i, &text[i].size);
                audit_row_hash(prev, seq, (uint64_t) store_column_int64(st, 0), text, hash);

                ck_assert_int_eq(
                        store_prepare(s, "UPDATE audit SET prev = ?1, hash = ?2 WHERE seq = ?3", &up), 0);
                ck_assert_int_eq(store_bind_blob(up, 1, prev, sizeof(prev)), 0);
                ck_assert_int_eq(store_bind_blob(up, 2, hash, sizeof(hash)), 0);
                ck_assert_int_eq(store_bind_int64(up, 3, (int64_t) seq), 0);
                ck_assert_int_eq(store_step(up), 0);
        }
}

/* ---- the chain --------------------------------------------------------------------------------- */

/* Pins the encoding of docs/audit.md: these values come from its Python verifier. */
START_TEST(test_hash_encoding) {
        static const char *const first[] = {"registry", "exec", "a1b2c3d4e5f60718", "bootstrap",
                                            "{\"argv\":[\"make\"]}"};
        static const char *const second[] = {"user", "consent", "", "", "{}"};
        uint8_t zero[AUDIT_HASH_SIZE] = {}, h1[AUDIT_HASH_SIZE], h2[AUDIT_HASH_SIZE], back[AUDIT_HASH_SIZE];
        char hex[AUDIT_HASH_HEX_SIZE];
        AuditBytes text[_AUDIT_TEXT_MAX];

        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                text[i] = (AuditBytes){first[i], strlen(first[i])};
        audit_row_hash(zero, 1, T0, text, h1);
        ck_assert_str_eq(audit_hash_to_hex(h1, hex),
                         "791cbd5473037bd282e515c7e0ff9642e9e8fef4cbab657cf66c94ceb1ae6a02");
        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++)
                text[i] = (AuditBytes){second[i], strlen(second[i])};
        audit_row_hash(h1, 2, T0 + 1, text, h2);
        ck_assert_str_eq(audit_hash_to_hex(h2, hex),
                         "f5381c5d86c52d887fad8d42bf607d1bb875be976611ad20c2f3693262300992");

        /* Moving a byte from one field to the next changes the hash: lengths are part of it. */
        text[0] = (AuditBytes){"use", 3};
        text[1] = (AuditBytes){"rconsent", 8};
        audit_row_hash(h1, 2, T0 + 1, text, back);
        ck_assert_mem_ne(back, h2, AUDIT_HASH_SIZE);

        ck_assert_int_eq(audit_hash_from_hex(hex, back), 0);
        ck_assert_mem_eq(back, h2, AUDIT_HASH_SIZE);
        ck_assert_int_eq(audit_hash_from_hex(
                                 "F5381C5D86C52D887FAD8D42BF607D1BB875BE976611AD20C2F3693262300992", back),
                         0);
        ck_assert_mem_eq(back, h2, AUDIT_HASH_SIZE);
        ck_assert_int_eq(audit_hash_from_hex("f5381c", back), -EINVAL);
        ck_assert_int_eq(audit_hash_from_hex(
                                 "g5381c5d86c52d887fad8d42bf607d1bb875be976611ad20c2f3693262300992", back),
                         -EINVAL);
        ck_assert_str_eq(audit_damage_to_string(AUDIT_DAMAGE_REORDERED), "reordered");
        ck_assert_int_eq(audit_damage_from_string("truncated"), AUDIT_DAMAGE_TRUNCATED);
        for (AuditDamage d = 0; d < _AUDIT_DAMAGE_MAX; d++)
                ck_assert_ptr_nonnull(audit_damage_explain(d));
}
END_TEST

START_TEST(test_append_and_verify) {
        _cleanup_(audit_closep) Audit *a = open_ok(0);
        uint8_t head[AUDIT_HASH_SIZE], zero[AUDIT_HASH_SIZE] = {};
        char hex[AUDIT_HASH_HEX_SIZE];
        AuditVerification v;
        AuditAnchor anchor;
        uint64_t seq;

        /* An empty log is intact, with an all-zero head. */
        ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
        ck_assert(v.ok);
        ck_assert_uint_eq(v.rows, 0);
        ck_assert_str_eq(v.head, "0000000000000000000000000000000000000000000000000000000000000000");
        ck_assert_int_eq(audit_head(a, &seq, head), 0);
        ck_assert_uint_eq(seq, 0);
        ck_assert_mem_eq(head, zero, AUDIT_HASH_SIZE);

        for (unsigned i = 1; i <= 200; i++) {
                ck_assert_int_eq(append_row(a, i, NULL, NULL, &seq), 0);
                ck_assert_uint_eq(seq, i);
        }
        ck_assert_int_ge(audit_flush(a), 0);
        ck_assert_uint_eq(audit_pending(a), 0);

        ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
        ck_assert(v.ok);
        ck_assert_uint_eq(v.rows, 200);
        ck_assert_uint_eq(v.head_seq, 200);
        ck_assert_uint_eq(v.bad_seq, 0);
        ck_assert_int_eq(v.damage, AUDIT_DAMAGE_NONE);
        ck_assert_int_eq(audit_head(a, &anchor.seq, anchor.hash), 0);
        ck_assert_uint_eq(anchor.seq, 200);
        ck_assert_str_eq(v.head, audit_hash_to_hex(anchor.hash, hex));

        /* The head it remembers is reached; an older head too. */
        ck_assert_int_eq(audit_verify(a, &anchor, &v), 0);
        ck_assert(v.ok);

        /* The chain goes on after a reopen. */
        a = audit_close(a);
        a = open_ok(0);
        ck_assert_int_eq(append_row(a, 201, NULL, NULL, &seq), 0);
        ck_assert_uint_eq(seq, 201);
        ck_assert_int_eq(audit_flush(a), 1);
        ck_assert_int_eq(audit_verify(a, &anchor, &v), 0);
        ck_assert(v.ok);
        ck_assert_uint_eq(v.rows, 201);
        ck_assert_int_eq(audit_health(a), 0);
        ck_assert_str_eq(audit_path(a), db_path);
}
END_TEST

START_TEST(test_entry_validation) {
        _cleanup_(audit_closep) Audit *a = open_ok(0);
        _cleanup_(json_decrefp) json_t *array = json_array(), *big = json_object();
        _cleanup_free_ char *long_field = calloc(AUDIT_FIELD_MAX + 2, 1),
                            *filler = calloc(AUDIT_DETAIL_MAX, 1);
        AuditEntry e = {.actor = "registry", .action = "exec"};
        uint64_t seq = 0;

        ck_assert_ptr_nonnull(long_field);
        ck_assert_ptr_nonnull(filler);
        memset(long_field, 'x', AUDIT_FIELD_MAX + 1);
        memset(filler, 'y', AUDIT_DETAIL_MAX - 1);
        ck_assert_int_eq(json_object_set_new(big, "f", json_string(filler)), 0);

        e.action = "Exec";
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.action = "";
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.action = NULL;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.action = "token-refused";
        e.actor = "";
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.actor = "\xff\xfe";
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.actor = long_field;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.actor = "registry";
        e.task = long_field;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.task = NULL;
        e.detail = array;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EINVAL);
        e.detail = big;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -EMSGSIZE);
        e.time = (usec_t) INT64_MAX + 1;
        e.detail = NULL;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), -ERANGE);
        ck_assert_uint_eq(seq, 0);
        ck_assert_uint_eq(audit_pending(a), 0);

        /* Nothing refused took a seq. */
        e.time = 0;
        ck_assert_int_eq(audit_append(a, &e, NULL, NULL, &seq), 0);
        ck_assert_uint_eq(seq, 1);
}
END_TEST

START_TEST(test_query) {
        _cleanup_(audit_closep) Audit *a = NULL;
        _cleanup_(json_decrefp) json_t *all = NULL, *page = NULL, *task = NULL, *none = NULL;
        _cleanup_free_ char *dump = NULL;
        json_t *row;

        build_log(30);
        a = open_ok(AUDIT_OPEN_READ_ONLY);

        ck_assert_int_eq(audit_query(a, 0, 0, NULL, &all), 0);
        ck_assert_uint_eq(json_array_size(all), 30);
        for (size_t i = 0; i < 30; i++) {
                row = json_array_get(all, i);
                ck_assert_int_eq(json_integer_value(json_object_get(row, "seq")), (json_int_t) i + 1);
                ck_assert_int_eq(json_integer_value(json_object_get(row, "time")),
                                 (json_int_t) (T0 + i + 1));
                /* Each row's prev is the hash of the one before it. */
                if (i > 0)
                        ck_assert_str_eq(
                                json_string_value(json_object_get(row, "prev")),
                                json_string_value(json_object_get(json_array_get(all, i - 1), "hash")));
        }

        row = json_array_get(all, 1);
        ck_assert_int_eq(json_dump_string(row, JSON_DUMP_COMPACT, &dump), 0);
        ck_assert_str_eq(json_string_value(json_object_get(row, "actor")), "registry");
        ck_assert_str_eq(json_string_value(json_object_get(row, "action")), "exec");
        ck_assert_str_eq(json_string_value(json_object_get(row, "task")), "a1b2c3d4e5f60718");
        ck_assert_str_eq(json_string_value(json_object_get(row, "agent")), "bootstrap");
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(row, "detail"), "i")), 2);
        ck_assert_uint_eq(strlen(json_string_value(json_object_get(row, "hash"))), 64);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "task")), "");

        ck_assert_int_eq(audit_query(a, 10, 5, NULL, &page), 0);
        ck_assert_uint_eq(json_array_size(page), 5);
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(page, 0), "seq")), 11);

        ck_assert_int_eq(audit_query(a, 20, 0, "a1b2c3d4e5f60718", &task), 0);
        ck_assert_uint_eq(json_array_size(task), 5);
        for (size_t i = 0; i < 5; i++)
                ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(task, i), "seq")),
                                 (json_int_t) (22 + 2 * i));

        ck_assert_int_eq(audit_query(a, 30, 0, NULL, &none), 0);
        ck_assert_uint_eq(json_array_size(none), 0);
}
END_TEST

/* ---- durability -------------------------------------------------------------------------------- */

typedef struct Outcome {
        unsigned calls;
        uint64_t last_seq;
        int error;
        bool out_of_order;
        uint64_t committed_at_call; /* rows a reader saw when the handler ran */
} Outcome;

static void on_durable(Audit *a, uint64_t seq, int error, void *userdata) {
        Outcome *o = userdata;

        if (o->calls > 0 && seq != o->last_seq + 1)
                o->out_of_order = true;
        o->calls++;
        o->last_seq = seq;
        o->error = error;
        if (error == 0)
                o->committed_at_call = (uint64_t) raw_count("SELECT count(*) FROM audit");
}

START_TEST(test_group_commit) {
        _cleanup_(audit_closep) Audit *a = open_ok(0);
        Outcome o = {};
        uint64_t seq;

        /* A full group stays queued: nothing is in the file yet. */
        for (unsigned i = 1; i <= AUDIT_GROUP_MAX; i++)
                ck_assert_int_eq(append_row(a, i, on_durable, &o, NULL), 0);
        ck_assert_uint_eq(audit_pending(a), AUDIT_GROUP_MAX);
        ck_assert_int_eq(raw_count("SELECT count(*) FROM audit"), 0);
        ck_assert_uint_eq(o.calls, 0);

        /* The next append commits the group first, and every handler hears about it, in order,
         * with its rows already readable from another connection. */
        ck_assert_int_eq(append_row(a, AUDIT_GROUP_MAX + 1, on_durable, &o, &seq), 0);
        ck_assert_uint_eq(seq, AUDIT_GROUP_MAX + 1);
        ck_assert_uint_eq(o.calls, AUDIT_GROUP_MAX);
        ck_assert(!o.out_of_order);
        ck_assert_int_eq(o.error, 0);
        ck_assert_uint_eq(o.last_seq, AUDIT_GROUP_MAX);
        ck_assert_uint_eq(o.committed_at_call, AUDIT_GROUP_MAX);
        ck_assert_uint_eq(audit_pending(a), 1);

        ck_assert_int_eq(audit_flush(a), 1);
        ck_assert_int_eq(audit_flush(a), 0);
        ck_assert_uint_eq(o.calls, AUDIT_GROUP_MAX + 1);
        ck_assert_int_eq(raw_count("SELECT count(*) FROM audit"), AUDIT_GROUP_MAX + 1);

        /* The synchronous form returns once the row is readable by others. */
        ck_assert_int_eq(
                audit_append_durable(a, &(AuditEntry){.actor = "registry", .action = "spawn"}, &seq), 0);
        ck_assert_uint_eq(seq, AUDIT_GROUP_MAX + 2);
        ck_assert_int_eq(raw_count("SELECT count(*) FROM audit"), AUDIT_GROUP_MAX + 2);

        /* A second writer is refused while this one is open. */
        {
                Audit *b = NULL;
                ck_assert_int_eq(audit_open(db_path, 0, &b, NULL), -EBUSY);
        }
        /* Close commits what is queued. */
        ck_assert_int_eq(append_row(a, 1000, on_durable, &o, NULL), 0);
        a = audit_close(a);
        ck_assert_uint_eq(o.calls, AUDIT_GROUP_MAX + 2);
        ck_assert_int_eq(raw_count("SELECT count(*) FROM audit"), AUDIT_GROUP_MAX + 3);
        ck_assert(verify_file(NULL).ok);
}
END_TEST

typedef struct LoopState {
        Audit *audit;
        sd_event *event;
        unsigned durable;
        unsigned appended_from_handler;
        int error;
} LoopState;

static void on_durable_loop(Audit *a, uint64_t seq, int error, void *userdata) {
        LoopState *s = userdata;

        s->durable++;
        if (error < 0)
                s->error = error;
        /* A handler may queue the next row itself (for example the outcome of its action). */
        if (seq == 3 && s->appended_from_handler == 0) {
                s->appended_from_handler++;
                ck_assert_int_eq(append_row(a, 100, on_durable_loop, s, NULL), 0);
        }
}

START_TEST(test_event_loop_flush) {
        _cleanup_(audit_closep) Audit *a = open_ok(0);
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        LoopState s = {.audit = a};

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(audit_attach_event(a, e, SD_EVENT_PRIORITY_NORMAL + 1, USEC_PER_MSEC), 0);
        ck_assert_int_eq(audit_attach_event(a, e, 0, 0), -EBUSY);

        for (unsigned i = 1; i <= 5; i++)
                ck_assert_int_eq(append_row(a, i, on_durable_loop, &s, NULL), 0);
        ck_assert_uint_eq(s.durable, 0);

        /* The timer commits the group; the handler's own row goes into the next one. */
        while (s.durable < 6)
                ck_assert_int_ge(sd_event_run(e, UINT64_MAX), 0);
        ck_assert_int_eq(s.error, 0);
        ck_assert_uint_eq(s.appended_from_handler, 1);
        ck_assert_uint_eq(audit_pending(a), 0);
        ck_assert_int_eq(raw_count("SELECT count(*) FROM audit"), 6);

        audit_detach_event(a);
        ck_assert_int_eq(append_row(a, 7, NULL, NULL, NULL), 0);
        ck_assert_uint_eq(audit_pending(a), 1);
        ck_assert_int_eq(sd_event_run(e, 0), 0);
        ck_assert_uint_eq(audit_pending(a), 1);
}
END_TEST

START_TEST(test_survives_sigkill) {
        int pipefd[2], status;
        uint64_t seq;
        char c;
        pid_t pid;

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                Audit *a = NULL;

                safe_close(pipefd[0]);
                if (audit_open(db_path, 0, &a, NULL) < 0)
                        _exit(1);
                for (unsigned i = 1; i <= 100; i++)
                        if (append_row(a, i, NULL, NULL, NULL) < 0)
                                _exit(1);
                if (audit_flush(a) < 0)
                        _exit(1);
                /* Queued, never committed: must not be found afterwards, nor break the chain. */
                for (unsigned i = 101; i <= 110; i++)
                        if (append_row(a, i, NULL, NULL, NULL) < 0)
                                _exit(1);
                if (write(pipefd[1], "x", 1) != 1)
                        _exit(1);
                for (;;)
                        pause();
        }
        safe_close(pipefd[1]);
        ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
        safe_close(pipefd[0]);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        {
                _cleanup_(audit_closep) Audit *a = open_ok(0);
                AuditVerification v;

                ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
                ck_assert(v.ok);
                ck_assert_uint_eq(v.rows, 100);
                ck_assert_int_eq(append_row(a, 101, NULL, NULL, &seq), 0);
                ck_assert_uint_eq(seq, 101);
                ck_assert_int_eq(audit_flush(a), 1);
                ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
                ck_assert(v.ok);
        }
}
END_TEST

/* ---- failing closed ---------------------------------------------------------------------------- */

/* A row of about 4 KiB; with handler == NULL and `durable`, through audit_append_durable(). */
static int append_big(Audit *a, bool durable, AuditDurableHandler handler, void *userdata) {
        _cleanup_free_ char *filler = calloc(4001, 1);
        _cleanup_(json_decrefp) json_t *detail = NULL;

        ck_assert_ptr_nonnull(filler);
        memset(filler, 'z', 4000);
        detail = json_pack("{s:s}", "output", filler);
        ck_assert_ptr_nonnull(detail);
        if (durable)
                return audit_append_durable(
                        a, &(AuditEntry){.actor = "registry", .action = "exec", .detail = detail}, NULL);
        return audit_append(a, &(AuditEntry){.actor = "registry", .action = "exec", .detail = detail},
                            handler, userdata, NULL);
}

START_TEST(test_disk_full) {
        _cleanup_(audit_closep) Audit *a = open_ok(0);
        _cleanup_(json_decrefp) json_t *rows = NULL;
        uint8_t head_before[AUDIT_HASH_SIZE], head_after[AUDIT_HASH_SIZE];
        uint64_t committed, seq_before, seq_after, seq;
        Outcome o = {};
        AuditVerification v;
        int r = 0;

        for (unsigned i = 1; i <= 10; i++)
                ck_assert_int_eq(append_row(a, i, NULL, NULL, NULL), 0);
        ck_assert_int_eq(audit_flush(a), 10);

        /* A size cap is a full disk on demand: write durable rows until it is reached. */
        ck_assert_int_eq(audit_set_size_limit(a, 64 * 1024), 0);
        for (unsigned i = 0; i < 100 && r >= 0; i++) {
                r = append_big(a, false, NULL, NULL);
                if (r >= 0)
                        r = audit_flush(a);
        }
        ck_assert_int_eq(r, -ENOSPC);
        ck_assert_msg(strstr(audit_last_error(a), "full"), "message: %s", audit_last_error(a));
        ck_assert_uint_eq(audit_pending(a), 0);
        ck_assert_int_eq(audit_head(a, &seq_before, head_before), 0);

        /* A group of several rows fails as a whole: every handler hears it, none is written. */
        for (unsigned i = 0; i < 5; i++)
                ck_assert_int_eq(append_big(a, false, on_durable, &o), 0);
        ck_assert_int_eq(audit_flush(a), -ENOSPC);
        ck_assert_uint_eq(o.calls, 5);
        ck_assert_int_eq(o.error, -ENOSPC);
        ck_assert_int_eq(append_big(a, true, NULL, NULL), -ENOSPC);

        ck_assert_int_eq(audit_head(a, &seq_after, head_after), 0);
        ck_assert_uint_eq(seq_after, seq_before);
        ck_assert_mem_eq(head_after, head_before, AUDIT_HASH_SIZE);
        ck_assert_int_eq(raw_count("SELECT count(*) FROM audit"), (int64_t) seq_before);
        ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
        ck_assert(v.ok);
        ck_assert_uint_eq(v.rows, seq_before);
        committed = seq_before;

        /* Space again: the chain goes on from the last durable row, after a row that says how
         * many rows were lost and why. */
        ck_assert_int_eq(audit_set_size_limit(a, 0), 0);
        ck_assert_int_eq(
                audit_append_durable(a, &(AuditEntry){.actor = "registry", .action = "spawn"}, &seq), 0);
        ck_assert_uint_eq(seq, committed + 2);
        ck_assert_int_eq(audit_query(a, committed, 0, NULL, &rows), 0);
        ck_assert_uint_eq(json_array_size(rows), 2);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "action")),
                         "audit-lost");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 0), "actor")), "audit");
        /* The row of the first failure, the group of five, and the durable one. */
        ck_assert_int_eq(json_integer_value(json_object_get(
                                 json_object_get(json_array_get(rows, 0), "detail"), "lost")),
                         7);
        ck_assert_int_eq(json_integer_value(json_object_get(
                                 json_object_get(json_array_get(rows, 0), "detail"), "errno")),
                         ENOSPC);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 1), "action")), "spawn");
        ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
        ck_assert(v.ok);

        /* The loss is recorded once. */
        ck_assert_int_eq(
                audit_append_durable(a, &(AuditEntry){.actor = "registry", .action = "spawn"}, &seq), 0);
        ck_assert_uint_eq(seq, committed + 3);
}
END_TEST

START_TEST(test_read_only_handle) {
        _cleanup_(audit_closep) Audit *a = NULL;
        AuditVerification v;
        uint64_t seq = 0;

        ck_assert_int_eq(audit_open(db_path, AUDIT_OPEN_READ_ONLY, &a, NULL), -ENOENT);
        build_log(3);
        a = open_ok(AUDIT_OPEN_READ_ONLY);
        ck_assert_int_eq(append_row(a, 4, NULL, NULL, &seq), -EROFS);
        ck_assert_int_eq(audit_append_durable(a, &(AuditEntry){.actor = "x", .action = "y"}, &seq), -EROFS);
        ck_assert_uint_eq(seq, 0);
        ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
        ck_assert(v.ok);
        ck_assert_uint_eq(v.rows, 3);

        /* A reader sees the writer's head as it moves. */
        {
                _cleanup_(audit_closep) Audit *w = open_ok(0);
                ck_assert_int_eq(audit_append_durable(w, &(AuditEntry){.actor = "x", .action = "y"}, &seq),
                                 0);
                ck_assert_int_eq(audit_head(a, &seq, NULL), 0);
                ck_assert_uint_eq(seq, 4);
        }
}
END_TEST

/* Runs in a child: the state directory becomes a read-only bind mount in a private mount
 * namespace. Returns 77 where namespaces are not available. */
static int write_proc(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return loop_write(fd, text, strlen(text));
}

/* A mount namespace: as root directly, otherwise inside a user namespace that maps us to ourselves. */
static int enter_mount_namespace(void) {
        char uid_map[64], gid_map[64];

        snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned) geteuid(), (unsigned) geteuid());
        snprintf(gid_map, sizeof(gid_map), "%u %u 1\n", (unsigned) getegid(), (unsigned) getegid());
        if (unshare(CLONE_NEWNS) >= 0)
                return 0;
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                return -errno;
        if (write_proc("/proc/self/setgroups", "deny") < 0 ||
            write_proc("/proc/self/uid_map", uid_map) < 0 || write_proc("/proc/self/gid_map", gid_map) < 0)
                return -EPERM;
        return 0;
}

static int child_read_only_fs(void) {
        _cleanup_free_ char *state = strjoin(dir, "/state"), *m = NULL;
        Audit *a = NULL;
        int r;

        if (enter_mount_namespace() < 0)
                return 77;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(state, state, NULL, MS_BIND, NULL) < 0 ||
            mount(NULL, state, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
                return 77;

        /* The writer cannot even start; the daemon shows this message and refuses actions. */
        r = audit_open(db_path, 0, &a, &m);
        if (r != -EROFS || !m || !strstr(m, "Read-only file system")) {
                fprintf(stderr, "audit_open on a read-only file system: %s, %s\n", strerror(-r), strna(m));
                return 1;
        }
        return 0;
}

START_TEST(test_read_only_fs) {
        int status;
        pid_t pid;

        build_log(3);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                _exit(child_read_only_fs());
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77) {
                fprintf(stderr, "test_read_only_fs: no mount namespace here, not tested\n");
                return;
        }
        ck_assert_int_eq(WEXITSTATUS(status), 0);
        ck_assert(verify_file(NULL).ok);
}
END_TEST

/* ---- tampering --------------------------------------------------------------------------------- */

START_TEST(test_tamper_modify) {
        static const char *const edits[] = {
                "UPDATE audit SET detail = '{\"argv\":[\"rm\",\"-rf\"]}' WHERE seq = 4",
                "UPDATE audit SET actor = 'nobody' WHERE seq = 4",
                "UPDATE audit SET action = 'spawn' WHERE seq = 4",
                "UPDATE audit SET task = 'f000000000000000' WHERE seq = 4",
                "UPDATE audit SET agent = 'other' WHERE seq = 4",
                "UPDATE audit SET time = time + 1 WHERE seq = 4",
                "UPDATE audit SET hash = zeroblob(32) WHERE seq = 4",
        };

        for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
                teardown();
                setup();
                build_log(10);
                tamper(edits[i]);
                assert_damage(NULL, 4, AUDIT_DAMAGE_MODIFIED);
        }
}
END_TEST

START_TEST(test_tamper_modify_prev) {
        build_log(10);
        /* The stored link alone: the row no longer follows its predecessor, nor matches its hash. */
        tamper("UPDATE audit SET prev = zeroblob(32) WHERE seq = 6");
        assert_damage(NULL, 6, AUDIT_DAMAGE_MODIFIED);
}
END_TEST

START_TEST(test_tamper_delete_middle) {
        build_log(10);
        tamper("DELETE FROM audit WHERE seq = 5");
        assert_damage(NULL, 5, AUDIT_DAMAGE_DELETED);
}
END_TEST

START_TEST(test_tamper_delete_and_renumber) {
        Store *s;

        build_log(10);
        s = raw_open();
        raw_exec(s, "DELETE FROM audit WHERE seq IN (5, 6)");
        for (int seq = 7; seq <= 10; seq++)
                raw_exec(s, "UPDATE audit SET seq = %d WHERE seq = %d", seq - 2, seq);
        store_close(s);
        assert_damage(NULL, 5, AUDIT_DAMAGE_DELETED);
}
END_TEST

START_TEST(test_tamper_delete_first) {
        build_log(10);
        tamper("DELETE FROM audit WHERE seq = 1");
        assert_damage(NULL, 1, AUDIT_DAMAGE_DELETED);
}
END_TEST

START_TEST(test_tamper_delete_tail) {
        AuditAnchor anchor = build_log(10);
        AuditVerification v;

        tamper("DELETE FROM audit WHERE seq >= 9");
        /* Without a remembered head, a shorter log is a consistent log (docs/audit.md). */
        v = verify_file(NULL);
        ck_assert(v.ok);
        ck_assert_uint_eq(v.rows, 8);
        /* With it, the missing tail shows. */
        assert_damage(&anchor, 9, AUDIT_DAMAGE_TRUNCATED);
}
END_TEST

START_TEST(test_tamper_swap) {
        Store *s;

        build_log(10);
        s = raw_open();
        raw_exec(s, "UPDATE audit SET seq = 1000 WHERE seq = 3");
        raw_exec(s, "UPDATE audit SET seq = 3 WHERE seq = 4");
        raw_exec(s, "UPDATE audit SET seq = 4 WHERE seq = 1000");
        store_close(s);
        assert_damage(NULL, 3, AUDIT_DAMAGE_REORDERED);
}
END_TEST

START_TEST(test_tamper_insert_forged_tail) {
        build_log(10);
        tamper("INSERT INTO audit(seq, time, actor, action, task, agent, detail, prev, hash) "
               "SELECT 11, time + 1, 'registry', 'consent', '', '', '{\"decision\":\"allow-always\"}', "
               "hash, "
               "randomblob(32) FROM audit WHERE seq = 10");
        assert_damage(NULL, 11, AUDIT_DAMAGE_MODIFIED);
}
END_TEST

START_TEST(test_tamper_insert_middle) {
        Store *s;

        build_log(10);
        s = raw_open();
        for (int seq = 10; seq >= 6; seq--)
                raw_exec(s, "UPDATE audit SET seq = %d WHERE seq = %d", seq + 1, seq);
        raw_exec(s,
                 "INSERT INTO audit(seq, time, actor, action, task, agent, detail, prev, hash) VALUES "
                 "(6, %" PRIu64 ", 'user', 'consent', '', '', '{}', zeroblob(32), zeroblob(32))",
                 T0 + 5);
        /* A forged row that links properly to row 5: the break shows at the row after it. */
        rechain(s, 6, 6);
        store_close(s);
        assert_damage(NULL, 6, AUDIT_DAMAGE_INSERTED);
}
END_TEST

START_TEST(test_tamper_rewrite_chain) {
        AuditAnchor anchor = build_log(10), old = anchor;
        Store *s;

        /* An older head the operator wrote down. */
        {
                Audit *a = open_ok(AUDIT_OPEN_READ_ONLY);
                _cleanup_(json_decrefp) json_t *rows = NULL;
                ck_assert_int_eq(audit_query(a, 6, 1, NULL, &rows), 0);
                old.seq = 7;
                ck_assert_int_eq(audit_hash_from_hex(
                                         json_string_value(json_object_get(json_array_get(rows, 0), "hash")),
                                         old.hash),
                                 0);
                audit_close(a);
        }

        s = raw_open();
        raw_exec(s, "UPDATE audit SET detail = '{\"argv\":[\"curl\",\"evil\"]}' WHERE seq = 4");
        rechain(s, 4, 10);
        store_close(s);

        /* Someone who recomputes every hash after the edit leaves a consistent chain: only a head
         * remembered from before the edit tells (docs/audit.md). */
        ck_assert(verify_file(NULL).ok);
        assert_damage(&anchor, 10, AUDIT_DAMAGE_REWRITTEN);
        assert_damage(&old, 7, AUDIT_DAMAGE_REWRITTEN);
}
END_TEST

START_TEST(test_tamper_tail_while_writer_runs) {
        _cleanup_(audit_closep) Audit *a = open_ok(0);
        _cleanup_free_ char *lock = strjoin(db_path, ".lock");
        AuditVerification v;
        AuditAnchor head;
        Store *s;

        for (unsigned i = 1; i <= 10; i++)
                ck_assert_int_eq(append_row(a, i, NULL, NULL, NULL), 0);
        ck_assert_int_eq(audit_flush(a), 10);
        ck_assert_int_eq(audit_head(a, &head.seq, head.hash), 0);

        /* The writer's lock only keeps honest writers out: remove the lock file and a second
         * connection gets in, deletes the last row, and leaves a consistent-looking shorter log. */
        ck_assert_int_eq(unlink(lock), 0);
        s = raw_open();
        raw_exec(s, "DELETE FROM audit WHERE seq = 10");
        store_close(s);
        ck_assert(verify_file(NULL).ok);

        /* The head the daemon remembers tells, as VerifyAudit() passes it. */
        ck_assert_int_eq(audit_verify(a, &head, &v), 0);
        ck_assert(!v.ok);
        ck_assert_int_eq(v.damage, AUDIT_DAMAGE_TRUNCATED);
        ck_assert_uint_eq(v.bad_seq, 10);

        /* And the writer's next row, chained to the row it knows, leaves the gap in the file. */
        ck_assert_int_eq(append_row(a, 11, NULL, NULL, NULL), 0);
        ck_assert_int_eq(audit_flush(a), 1);
        ck_assert_int_eq(audit_verify(a, NULL, &v), 0);
        ck_assert(!v.ok);
        ck_assert_int_eq(v.damage, AUDIT_DAMAGE_DELETED);
        ck_assert_uint_eq(v.bad_seq, 10);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("audit");
        TCase *tc = tcase_create("audit");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_hash_encoding);
        tcase_add_test(tc, test_append_and_verify);
        tcase_add_test(tc, test_entry_validation);
        tcase_add_test(tc, test_query);
        tcase_add_test(tc, test_group_commit);
        tcase_add_test(tc, test_event_loop_flush);
        tcase_add_test(tc, test_survives_sigkill);
        tcase_add_test(tc, test_disk_full);
        tcase_add_test(tc, test_read_only_handle);
        tcase_add_test(tc, test_read_only_fs);
        tcase_add_test(tc, test_tamper_modify);
        tcase_add_test(tc, test_tamper_modify_prev);
        tcase_add_test(tc, test_tamper_delete_middle);
        tcase_add_test(tc, test_tamper_delete_and_renumber);
        tcase_add_test(tc, test_tamper_delete_first);
        tcase_add_test(tc, test_tamper_delete_tail);
        tcase_add_test(tc, test_tamper_swap);
        tcase_add_test(tc, test_tamper_insert_forged_tail);
        tcase_add_test(tc, test_tamper_insert_middle);
        tcase_add_test(tc, test_tamper_rewrite_chain);
        tcase_add_test(tc, test_tamper_tail_while_writer_runs);
        suite_add_tcase(s, tc);
        return s;
}

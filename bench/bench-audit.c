/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-audit: audit log appends per second with durable group commit, and verification time, each
 * beside a baseline measured in the same run on the same file system:
 *
 *   - appends: audit_append() of N rows, committed in groups of AUDIT_GROUP_MAX (one fsync each),
 *     every row durable at the end (its handler has run) -- beside the same rows INSERTed through
 *     lib/store one transaction per row (synchronous=FULL, an fsync per row), which is what the
 *     log would cost without grouping, and beside write()+fdatasync() of the same rows' bytes in
 *     the same groups, the floor that any durable group commit pays;
 *   - audit_append_durable(), one row per commit, beside the per-row INSERT baseline;
 *   - verify: audit_verify() of the N-row log (SHA-256 of every row) beside reading the same rows
 *     without hashing.
 * The append figures are medians of three rounds that alternate with their baselines.
 *
 * Usage: bench-audit [--json] [--rows N] [--baseline-rows N] [--dir DIR]
 * DIR (default $TMPDIR or /var/tmp) must be on the disk whose fsync is to be measured. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit-internal.h"
#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "store/store.h"

#define ROUNDS 3

static bool arg_json;
static unsigned arg_rows = 100000;
static unsigned arg_baseline_rows = 2000;
static const char *arg_dir;

static json_t *report;

static double now_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void figure(const char *name, double value, double baseline, const char *unit) {
        if (arg_json) {
                json_t *o = json_pack("{s:f, s:f, s:f, s:s}", "value", value, "baseline", baseline, "ratio",
                                      baseline > 0 ? value / baseline : 0.0, "unit", unit);
                if (o)
                        json_object_set_new(report, name, o);
                return;
        }
        printf("%s: %.1f %s (baseline: %.1f %s, ratio: %.2f)\n", name, value, unit, baseline, unit,
               baseline > 0 ? value / baseline : 0.0);
        fflush(stdout);
}

static void value(const char *name, double v, const char *unit) {
        if (arg_json) {
                json_object_set_new(report, name, json_pack("{s:f, s:s}", "value", v, "unit", unit));
                return;
        }
        printf("%s: %.1f %s\n", name, v, unit);
        fflush(stdout);
}

static void goal(const char *name, const char *what, bool met) {
        if (arg_json) {
                json_object_set_new(report, name, json_pack("{s:s, s:b}", "goal", what, "met", met));
                return;
        }
        printf("goal %s: %s (%s)\n", name, what, met ? "met" : "missed");
}

static void progress(const char *s) {
        fprintf(stderr, "bench-audit: %s\n", s);
}

/* ---- the rows -------------------------------------------------------------------------------- */

/* Row i as an entry: about what the registry writes for an exec. */
static json_t *row_detail(unsigned i) {
        return json_pack("{s:[s, s], s:s, s:i}", "argv", "make", "test", "cwd",
                         "/home/user/.local/share/troupe/workspaces/billing", "i", (int) i);
}

static AuditEntry row_entry(unsigned i, const json_t *detail) {
        return (AuditEntry){
                .time = 1700000000000000ULL + i,
                .actor = "registry",
                .action = "exec",
                .task = "a1b2c3d4e5f60718",
                .agent = "bootstrap",
                .detail = detail,
        };
}

/* The five text fields of row i, as audit_append() stores them. */
static void row_texts(unsigned i, char **detail_text, AuditBytes text[static _AUDIT_TEXT_MAX]) {
        _cleanup_(json_decrefp) json_t *detail = row_detail(i);

        if (!detail || json_dump_string(detail, JSON_DUMP_COMPACT | JSON_DUMP_SORT_KEYS, detail_text) < 0)
                abort();
        text[AUDIT_TEXT_ACTOR] = (AuditBytes){"registry", 8};
        text[AUDIT_TEXT_ACTION] = (AuditBytes){"exec", 4};
        text[AUDIT_TEXT_TASK] = (AuditBytes){"a1b2c3d4e5f60718", 16};
        text[AUDIT_TEXT_AGENT] = (AuditBytes){"bootstrap", 9};
        text[AUDIT_TEXT_DETAIL] = (AuditBytes){*detail_text, strlen(*detail_text)};
}

static char *bench_path(const char *name) {
        char *p = strjoin(arg_dir, "/", name);

        if (!p)
                abort();
        return p;
}

/* Removes a database and its -wal, -shm and .lock files. */
static void remove_db(const char *path) {
        static const char *const suffixes[] = {"", "-wal", "-shm", ".lock"};

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                _cleanup_free_ char *p = strjoin(path, suffixes[i]);
                if (p)
                        (void) unlink(p);
        }
}

/* ---- troupe's path ----------------------------------------------------------------------------- */

static void count_durable(Audit *a, uint64_t seq, int error, void *userdata) {
        unsigned *n = userdata;

        if (error < 0) {
                fprintf(stderr, "bench-audit: row %" PRIu64 " not durable: %s\n", seq, strerror(-error));
                exit(EXIT_FAILURE);
        }
        (*n)++;
}

/* N appends in groups; returns rows per second, all of them durable. */
static double bench_group_commit(const char *path, unsigned n) {
        _cleanup_(audit_closep) Audit *a = NULL;
        unsigned durable = 0;
        double t0, t;
        int r;

        r = audit_open(path, 0, &a, NULL);
        if (r < 0) {
                fprintf(stderr, "bench-audit: cannot open %s: %s\n", path, strerror(-r));
                exit(EXIT_FAILURE);
        }
        t0 = now_sec();
        for (unsigned i = 1; i <= n; i++) {
                _cleanup_(json_decrefp) json_t *detail = row_detail(i);
                AuditEntry e = row_entry(i, detail);

                if (audit_append(a, &e, count_durable, &durable, NULL) < 0)
                        abort();
        }
        if (audit_flush(a) < 0)
                abort();
        t = now_sec() - t0;
        if (durable != n)
                abort();
        return n / t;
}

static double bench_append_durable(const char *path, unsigned n) {
        _cleanup_(audit_closep) Audit *a = NULL;
        double t0, t;

        if (audit_open(path, 0, &a, NULL) < 0)
                abort();
        t0 = now_sec();
        for (unsigned i = 1; i <= n; i++) {
                _cleanup_(json_decrefp) json_t *detail = row_detail(i);
                AuditEntry e = row_entry(i, detail);

                if (audit_append_durable(a, &e, NULL) < 0)
                        abort();
        }
        t = now_sec() - t0;
        return n / t;
}

/* ---- baselines --------------------------------------------------------------------------------- */

/* The same rows, chained the same way, one autocommit INSERT (and fsync) each. */
static double bench_insert_per_row(const char *path, unsigned n) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        _cleanup_(store_closep) Store *s = NULL;
        uint8_t prev[AUDIT_HASH_SIZE] = {}, hash[AUDIT_HASH_SIZE];
        double t0, t;

        if (store_open(path, 0, audit_migrations, &s, NULL) < 0 ||
            store_prepare(s,
                          "INSERT INTO audit(seq, time, actor, action, task, agent, detail, prev, hash) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                          &st) < 0)
                abort();
        t0 = now_sec();
        for (unsigned i = 1; i <= n; i++) {
                _cleanup_free_ char *detail = NULL;
                AuditBytes text[_AUDIT_TEXT_MAX];
                int r;

                row_texts(i, &detail, text);
                audit_row_hash(prev, i, 1700000000000000ULL + i, text, hash);
                r = store_bind_int64(st, 1, i);
                r = r < 0 ? r : store_bind_int64(st, 2, (int64_t) (1700000000000000ULL + i));
                for (size_t k = 0; r >= 0 && k < _AUDIT_TEXT_MAX; k++)
                        r = store_bind_text(st, 3 + (int) k, text[k].p);
                r = r < 0 ? r : store_bind_blob(st, 8, prev, sizeof(prev));
                r = r < 0 ? r : store_bind_blob(st, 9, hash, sizeof(hash));
                r = r < 0 ? r : store_step(st);
                store_reset(st);
                if (r < 0)
                        abort();
                memcpy(prev, hash, sizeof(hash));
        }
        t = now_sec() - t0;
        return n / t;
}

/* The floor: the rows' bytes (their hash encoding and hash) appended with write() and made durable
 * with one fdatasync() per group of AUDIT_GROUP_MAX, no database. */
static double bench_raw_groups(const char *path, unsigned n) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t prev[AUDIT_HASH_SIZE] = {}, hash[AUDIT_HASH_SIZE];
        _cleanup_free_ uint8_t *buf = malloc(AUDIT_GROUP_MAX * 1024);
        size_t used = 0;
        unsigned in_group = 0;
        double t0, t;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 || !buf)
                abort();
        t0 = now_sec();
        for (unsigned i = 1; i <= n; i++) {
                _cleanup_free_ char *detail = NULL;
                AuditBytes text[_AUDIT_TEXT_MAX];

                row_texts(i, &detail, text);
                audit_row_hash(prev, i, 1700000000000000ULL + i, text, hash);
                for (size_t k = 0; k < _AUDIT_TEXT_MAX; k++) {
                        uint32_t len = (uint32_t) text[k].size;
                        memcpy(buf + used, &len, sizeof(len));
                        memcpy(buf + used + sizeof(len), text[k].p, text[k].size);
                        used += sizeof(len) + text[k].size;
                }
                memcpy(buf + used, hash, sizeof(hash));
                used += sizeof(hash);
                memcpy(prev, hash, sizeof(hash));
                if (++in_group == AUDIT_GROUP_MAX || i == n) {
                        if (loop_write(fd, buf, used) < 0 || fdatasync(fd) < 0)
                                abort();
                        used = 0;
                        in_group = 0;
                }
        }
        t = now_sec() - t0;
        return n / t;
}

/* Reading every row's columns without hashing: what verification costs besides SHA-256. */
static double bench_read_all(const char *path) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        _cleanup_(store_closep) Store *s = NULL;
        size_t bytes = 0, size;
        double t0;
        int r;

        if (store_open(path, STORE_OPEN_READ_ONLY, audit_migrations, &s, NULL) < 0 ||
            store_prepare(s,
                          "SELECT seq, time, actor, action, task, agent, detail, prev, hash FROM audit "
                          "ORDER BY seq",
                          &st) < 0)
                abort();
        t0 = now_sec();
        while ((r = store_step(st)) > 0)
                for (int c = 2; c <= 8; c++) {
                        (void) store_column_blob(st, c, &size);
                        bytes += size;
                }
        if (r < 0 || bytes == 0)
                abort();
        return (now_sec() - t0) * 1000.0;
}

static double bench_verify(const char *path, unsigned rows) {
        _cleanup_(audit_closep) Audit *a = NULL;
        AuditVerification v;
        double t0, t;

        if (audit_open(path, AUDIT_OPEN_READ_ONLY, &a, NULL) < 0)
                abort();
        t0 = now_sec();
        if (audit_verify(a, NULL, &v) < 0)
                abort();
        t = (now_sec() - t0) * 1000.0;
        if (!v.ok || v.rows != rows) {
                fprintf(stderr, "bench-audit: the benchmark's own log does not verify\n");
                exit(EXIT_FAILURE);
        }
        return t;
}

/* ---- main -------------------------------------------------------------------------------------- */

static int parse_argv(int argc, char *argv[]) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'},
                {"rows", required_argument, NULL, 'n'},
                {"baseline-rows", required_argument, NULL, 'b'},
                {"dir", required_argument, NULL, 'd'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        arg_json = true;
                        break;
                case 'n':
                        arg_rows = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'b':
                        arg_baseline_rows = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 'h':
                        printf("%s [--json] [--rows N] [--baseline-rows N] [--dir DIR]\n", argv[0]);
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
        if (arg_rows == 0 || arg_baseline_rows == 0)
                return -EINVAL;
        return 0;
}

static double median3(double v[static 3]) {
        double a = v[0], b = v[1], c = v[2];

        return MAX(MIN(a, b), MIN(MAX(a, b), c));
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *tmpl = NULL, *group_db = NULL, *durable_db = NULL, *insert_db = NULL,
                            *raw = NULL;
        double group[ROUNDS], durable[ROUNDS], insert[ROUNDS], raw_rate[ROUNDS], verify, read_ms;
        const char *tmp = getenv("TMPDIR");

        if (parse_argv(argc, argv) < 0)
                return EXIT_FAILURE;
        tmpl = strjoin(arg_dir ?: (isempty(tmp) ? "/var/tmp" : tmp), "/bench-audit-XXXXXX");
        if (!tmpl || !mkdtemp(tmpl)) {
                perror("bench-audit: mkdtemp");
                return EXIT_FAILURE;
        }
        arg_dir = tmpl;
        report = json_object();
        group_db = bench_path("group.db");
        durable_db = bench_path("durable.db");
        insert_db = bench_path("insert.db");
        raw = bench_path("raw.log");

        value("rows", arg_rows, "rows");
        value("baseline rows", arg_baseline_rows, "rows");
        value("group size", AUDIT_GROUP_MAX, "rows");
        value("rounds", ROUNDS, "medians of");

        /* fsync latency drifts within a run: the figures and their baselines are measured in
         * alternating rounds, and each is the median of its rounds. */
        for (unsigned r = 0; r < ROUNDS; r++) {
                remove_db(group_db);
                remove_db(durable_db);
                remove_db(insert_db);
                progress("group commit");
                group[r] = bench_group_commit(group_db, arg_rows);
                progress("insert per row");
                insert[r] = bench_insert_per_row(insert_db, arg_baseline_rows);
                progress("raw write+fdatasync");
                raw_rate[r] = bench_raw_groups(raw, arg_rows);
                progress("append durable");
                durable[r] = bench_append_durable(durable_db, arg_baseline_rows);
        }

        figure("audit append, durable group commit", median3(group), median3(insert), "rows/s");
        figure("audit append, durable group commit vs raw write+fdatasync", median3(group),
               median3(raw_rate), "rows/s");
        figure("audit append_durable, one row per commit", median3(durable), median3(insert), "rows/s");

        progress("verify");
        /* Each one opens its own connection, so neither starts with SQLite's page cache warm. */
        verify = bench_verify(group_db, arg_rows);
        read_ms = bench_read_all(group_db);
        figure("audit verify", verify, read_ms, "ms");
        value("audit verify rate", arg_rows / (verify / 1000.0), "rows/s");
        goal("appends", ">= 10000 rows/s with durable group commit", median3(group) >= 10000);

        remove_db(group_db);
        remove_db(durable_db);
        remove_db(insert_db);
        (void) unlink(raw);
        (void) rmdir(tmpl);

        if (arg_json) {
                _cleanup_free_ char *s = NULL;
                if (json_dump_string(report, 0, &s) < 0)
                        return EXIT_FAILURE;
                puts(s);
        }
        json_decref(report);
        return EXIT_SUCCESS;
}

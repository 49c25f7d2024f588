/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-output.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "json/json-util.h"

struct Table {
        size_t n_columns;
        char **headers;
        char **cells; /* row-major, n_columns per row */
        size_t n_cells, allocated;
};

Table *table_new(size_t n_columns, const char *const *headers) {
        Table *t;

        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        for (size_t i = 0; i < n_columns; i++)
                if (strv_extend(&t->headers, headers[i]) < 0)
                        return table_free(t);
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        strv_free(t->headers);
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        return mfree(t);
}

int table_add_row(Table *t, const char *const *cells) {
        if (t->n_cells + t->n_columns > t->allocated) {
                size_t n = MAX(t->allocated * 2, t->n_cells + t->n_columns);
                char **a = reallocarray(t->cells, n, sizeof(char *));

                if (!a)
                        return -ENOMEM;
                t->cells = a;
                t->allocated = n;
        }
        for (size_t i = 0; i < t->n_columns; i++) {
                char *s = strdup(isempty(cells[i]) ? "-" : cells[i]);

                if (!s)
                        return -ENOMEM;
                for (char *p = s; *p; p++)
                        if ((unsigned char) *p < ' ' || *p == 0x7f)
                                *p = ' ';
                t->cells[t->n_cells++] = s;
        }
        return 0;
}

/* Display width of a UTF-8 string, counting each code point as one column. */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        w++;
        return w;
}

static void print_cell(const char *s, size_t width, bool last) {
        fputs(s, stdout);
        if (!last)
                for (size_t w = text_width(s); w < width + 2; w++)
                        putchar(' ');
}

int table_print(Table *t, bool tty) {
        size_t n_rows = t->n_cells / t->n_columns;
        _cleanup_free_ size_t *width = calloc(t->n_columns, sizeof(size_t));

        if (!width)
                return -ENOMEM;
        if (!tty) {
                for (size_t r = 0; r < n_rows; r++)
                        for (size_t i = 0; i < t->n_columns; i++)
                                printf("%s%c", t->cells[r * t->n_columns + i],
                                       i + 1 == t->n_columns ? '\n' : '\t');
                return fflush(stdout) == 0 ? 0 : -errno;
        }

        for (size_t i = 0; i < t->n_columns; i++)
                width[i] = text_width(t->headers[i]);
        for (size_t c = 0; c < t->n_cells; c++)
                width[c % t->n_columns] = MAX(width[c % t->n_columns], text_width(t->cells[c]));

        for (size_t i = 0; i < t->n_columns; i++)
                print_cell(t->headers[i], width[i], i + 1 == t->n_columns);
        putchar('\n');
        for (size_t c = 0; c < t->n_cells; c++) {
                bool last = (c + 1) % t->n_columns == 0;
                print_cell(t->cells[c], width[c % t->n_columns], last);
                if (last)
                        putchar('\n');
        }
        return fflush(stdout) == 0 ? 0 : -errno;
}

int ctl_print_json(const json_t *v, bool tty) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = json_dump_string(v, tty ? 0 : JSON_DUMP_COMPACT, &s);
        if (r < 0)
                return r;
        if (puts(s) < 0 || fflush(stdout) != 0)
                return -errno;
        return 0;
}

const char *format_realtime(uint64_t usec, char buf[static 32]) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (usec == 0 || !localtime_r(&sec, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return "-";
        return buf;
}

const char *format_clock(uint64_t usec, char buf[static 32]) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;
        char hms[16];

        if (usec == 0 || !localtime_r(&sec, &tm) || strftime(hms, sizeof(hms), "%H:%M:%S", &tm) == 0)
                return "--:--:--.---";
        (void) snprintf(buf, 32, "%s.%03u", hms, (unsigned) (usec % USEC_PER_SEC / USEC_PER_MSEC));
        return buf;
}

const char *format_monotonic_ago(uint64_t usec, char buf[static 32]) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        uint64_t d;

        if (usec == 0)
                return "never";
        d = now > usec ? now - usec : 0;
        if (d < 60 * USEC_PER_SEC)
                (void) snprintf(buf, 32, "%.1fs ago", (double) d / (double) USEC_PER_SEC);
        else if (d < 3600 * USEC_PER_SEC)
                (void) snprintf(buf, 32, "%umin ago", (unsigned) (d / (60 * USEC_PER_SEC)));
        else
                (void) snprintf(buf, 32, "%uh ago", (unsigned) (d / (3600 * USEC_PER_SEC)));
        return buf;
}

static char *strv_cell(const json_t *v) {
        _cleanup_free_ char *s = strdup("");
        size_t i;
        json_t *e;

        json_array_foreach(v, i, e) {
                char *n;

                if (!json_is_string(e))
                        return NULL;
                n = strjoin(s, i > 0 ? "," : "", json_string_value(e));
                if (!n)
                        return NULL;
                free(s);
                s = n;
        }
        return TAKE_PTR(s);
}

char *json_cell(const json_t *v) {
        char *s = NULL;

        if (!v || json_is_null(v))
                return strdup("");
        if (json_is_string(v))
                return strdup(json_string_value(v));
        if (json_is_array(v)) {
                s = strv_cell(v);
                if (s)
                        return s;
        }
        if (json_dump_string(v, JSON_DUMP_COMPACT, &s) < 0)
                return NULL;
        return s;
}

const char *json_get_string(const json_t *o, const char *key, const char *fallback) {
        const json_t *v = json_object_get(o, key);
        return json_is_string(v) ? json_string_value(v) : fallback;
}

uint64_t json_get_uint(const json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);

        if (json_is_integer(v) && json_integer_value(v) >= 0)
                return (uint64_t) json_integer_value(v);
        if (json_is_real(v) && json_real_value(v) >= 0)
                return (uint64_t) json_real_value(v);
        return 0;
}

double json_get_real(const json_t *o, const char *key) {
        return json_number_value(json_object_get(o, key));
}

int ctl_params_dump(const json_t *params, const char *what, char **ret) {
        _cleanup_free_ char *s = NULL;

        if (json_dump_string(params, JSON_DUMP_COMPACT, &s) < 0)
                return log_oom();
        if (strlen(s) > CTL_PARAMS_SIZE_MAX)
                return log_error_errno(-E2BIG, "The %s are larger than %u bytes.", what, CTL_PARAMS_SIZE_MAX);
        *ret = TAKE_PTR(s);
        return 0;
}

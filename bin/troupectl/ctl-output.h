/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-output.h: tables (aligned with a header on a terminal, tab-separated otherwise), JSON and
 * the text forms of times, progress and values shared by the verbs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "basic/macro.h"

typedef struct Table Table;

Table *table_new(size_t n_columns, const char *const *headers);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Adds one row of n_columns cells; NULL cells print as "-". Control characters (a tab or a newline
 * in an error message) become spaces so one row stays one line. */
int table_add_row(Table *t, const char *const *cells);

/* On a terminal: a header line and columns padded to their widest cell. Otherwise: no header and
 * one tab between cells, for cut(1) and awk(1). */
int table_print(Table *t, bool tty);

/* Prints a value as JSON to stdout: indented on a terminal, one line otherwise. */
int ctl_print_json(const json_t *v, bool tty);

/* A CLOCK_REALTIME time in µs as local "YYYY-MM-DD HH:MM:SS"; "-" for 0. buf needs 32 bytes. */
const char *format_realtime(uint64_t usec, char buf[static 32]);
/* "HH:MM:SS.mmm" of a CLOCK_REALTIME time, for event lines. buf needs 32 bytes. */
const char *format_clock(uint64_t usec, char buf[static 32]);
/* How long ago a CLOCK_MONOTONIC time was: "1.2s ago", "3min ago"; "never" for 0. buf: 32 bytes. */
const char *format_monotonic_ago(uint64_t usec, char buf[static 32]);

/* The text form of a JSON value in a table cell: strings bare, arrays of strings joined with ",",
 * anything else as compact JSON. Returns a new string, or NULL on OOM. */
char *json_cell(const json_t *v);

/* A task's params as CreateTask takes them: compact JSON of at most CTL_PARAMS_SIZE_MAX bytes (the
 * registry's limit, checked here for a clear message before anything is sent). Logs the error;
 * `what` names the parameters in it ("parameters", "options"). */
#define CTL_PARAMS_SIZE_MAX (64U * 1024U)
int ctl_params_dump(const json_t *params, const char *what, char **ret);

/* Helpers that read a field of a property object, with a fallback for missing or mistyped ones. */
const char *json_get_string(const json_t *o, const char *key, const char *fallback);
uint64_t json_get_uint(const json_t *o, const char *key);
double json_get_real(const json_t *o, const char *key);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* suite.h: suite mode: the daemons of the suite declared in one table (OpenBSD httpd's procs[]),
 * started in order, each waited for until it owns its bus name, restarted when it dies, stopped in
 * reverse order. */
#pragma once

#include <jansson.h>

#include "spawn-options.h"
#include "supervisor.h"

/* Members in a table file, and its size. */
#define SUITE_MEMBERS_MAX 16U
#define SUITE_TABLE_SIZE_MAX ((size_t) 64U * 1024U)
/* How long a started member may take to own its bus name before it is killed (and restarted). */
#define SUITE_START_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef struct SuiteMember SuiteMember;

/* The built-in table (troupe-registryd then troupe-routerd) or, with table_path, a table file:
 * one member per line, `NAME BUS_NAME RESTART EXECUTABLE [ARGS...]`, fields separated by blanks,
 * '#' starting a comment line. An EXECUTABLE without a '/' is looked up in $TROUPE_LIBEXECDIR,
 * else the compile-time TROUPE_LIBEXECDIR. */
int suite_new(Context *c, const char *table_path, Suite **ret);
Suite *suite_free(Suite *s);

/* Parses a table (exposed for tests). */
int suite_parse_table(const char *text, SuiteMember **ret, size_t *ret_n);
void suite_members_free(SuiteMember *m, size_t n);

/* Installs the name watches and starts the first member; the others follow as each one before
 * them owns its bus name. READY=1 is sent when all do. */
int suite_start(Suite *s);

/* For shutdown: stops the last member still active. Returns true while one is still active. */
bool suite_stop_next(Suite *s);

int suite_describe(Suite *s, json_t **ret);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-stream.h: reading the pipes the daemons hand out (task events, process logs) until they end
 * or go quiet, and following a task's events. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ctl.h"

/* Wait for the writer to close the pipe. */
#define CTL_STREAM_UNTIL_EOF (-1)
/* Without --follow on something still running: stop once nothing has come for this long, since the
 * daemons write what they have recorded at once and only live events come later. */
#define CTL_STREAM_IDLE_MSEC 300

typedef int (*CtlLineFunc)(const char *line, void *userdata);

/* Calls f for each '\n'-terminated line (a last unterminated line too) read from fd, until EOF or,
 * when idle_msec >= 0, until nothing arrived for idle_msec. A line longer than max_line is -E2BIG;
 * a negative return of f stops the loop and is returned. Returns 1 at EOF, 0 when it went quiet. */
int ctl_read_lines(int fd, int idle_msec, size_t max_line, CtlLineFunc f, void *userdata);

/* Copies fd to stdout until EOF or until nothing arrived for idle_msec (when >= 0). */
int ctl_copy_to_stdout(int fd, int idle_msec);

typedef int (*CtlEventFunc)(json_t *event, void *userdata);

/* Opens the events of task `id` from after_seq (Task.OpenEvents) and calls f for each event, until
 * the task's final event (the registry closes the pipe then) or until idle_msec of quiet. -ENOENT,
 * not logged, when there is no such task; other failures are logged. */
int ctl_task_events(Ctl *c, const char *id, uint64_t after_seq, int idle_msec, CtlEventFunc f,
                    void *userdata);

/* Prints one event: one JSON line with --json, else "HH:MM:SS.mmm  TYPE  details". */
int ctl_event_print(json_t *event, bool json, FILE *f);

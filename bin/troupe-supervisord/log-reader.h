/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log-reader.h: one OpenLog() stream: a per-reader cursor into the log files, spliced into a
 * non-blocking pipe when it has room, so a slow reader costs no memory and blocks nobody. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "process-log.h"

struct LogReader {
        ProcessLog *log;
        LogReader *prev, *next;
        int fd; /* write end of the pipe handed out */
        sd_event_source *source;
        LogSegment *segment; /* a reference to the file the cursor is in */
        uint64_t offset; /* next byte to send, in the process's output */
        uint64_t skipped; /* bytes skipped that no note has reported yet */
        char note[128]; /* a line about skipped bytes, sent before the data */
        size_t note_size, note_sent;
};

/* Creates a reader at `offset` (<= l->total) and links it into l; returns the pipe's read end. */
int log_reader_new(ProcessLog *l, uint64_t offset, int *ret_fd);
/* Unlinks from its log and closes the pipe (the client then sees end of file). */
LogReader *log_reader_free(LogReader *r);
/* New data was written, or the log finished: send what fits. */
void log_reader_wake(LogReader *r);

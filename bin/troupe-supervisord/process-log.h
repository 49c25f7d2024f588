/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* process-log.h: one process's output log: reads its stdout/stderr pipe on sd-event, appends to
 * <logs>/<id>.log with a size cap and one rotation to <id>.log.1, and hands out readers. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"

#define PROCESS_LOG_SIZE_MAX_DEFAULT ((uint64_t) 8U * 1024U * 1024U)
#define PROCESS_LOG_SIZE_MIN ((uint64_t) 4096U)
/* OpenLog() readers per process at once. */
#define PROCESS_LOG_READERS_MAX 64U

typedef struct LogReader LogReader;

/* One file of the log. Readers hold a reference, so a file that is rotated away (and unlinked)
 * while a reader is in it stays readable until that reader moves on. */
typedef struct LogSegment {
        unsigned n_ref;
        int fd;
        uint64_t start; /* offset of its first byte in the process's output */
        uint64_t size;
} LogSegment;

LogSegment *log_segment_ref(LogSegment *s);
LogSegment *log_segment_unref(LogSegment *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(LogSegment *, log_segment_unref);

typedef struct ProcessLog {
        sd_event *event;
        int dir_fd;
        char *file_name; /* <id>.log */
        char *rotated_name; /* <id>.log.1 */
        char *path; /* absolute, for LogPath */
        uint64_t size_max; /* per file */

        LogSegment *current; /* <id>.log, written */
        LogSegment *previous; /* <id>.log.1, or NULL */
        uint64_t total; /* offset of the next byte: bytes written since the process started */
        uint64_t lost; /* bytes that could not be written (disk full, I/O errors) */

        int input_fd; /* read end of the running child's output pipe */
        sd_event_source *input_source;
        bool finished; /* no more input will ever come: readers end after what is on disk */

        LogReader *readers;
        unsigned n_readers;
} ProcessLog;

/* Creates <id>.log in dir_fd (which names dir_path): -EEXIST if it exists. */
int process_log_new(sd_event *event, int dir_fd, const char *dir_path, const char *id, uint64_t size_max,
                    ProcessLog **ret);
/* Closes everything; with remove_files the log files are unlinked too. Readers are closed. */
ProcessLog *process_log_free(ProcessLog *l, bool remove_files);
static inline void process_log_freep(ProcessLog **l) {
        process_log_free(*l, false);
}

/* Starts reading `fd` (taken; the read end of a new child's output pipe). */
int process_log_attach(ProcessLog *l, int fd);
/* The child is gone: reads what is left in the pipe (bounded), then closes it. */
void process_log_detach(ProcessLog *l);
/* No more children will write to this log: readers close once they have everything. */
void process_log_finish(ProcessLog *l);

/* The segment holding `offset`, or the current one when offset == total. When `offset` was rotated
 * away, returns the oldest segment left and how many bytes were skipped in *ret_skipped. */
LogSegment *process_log_find_segment(ProcessLog *l, uint64_t offset, uint64_t *ret_skipped);

/* OpenLog(): the read end of a new pipe that streams the log from `offset`. -ERANGE if offset is
 * beyond what was written, -ENOBUFS when PROCESS_LOG_READERS_MAX readers are open. */
int process_log_open_reader(ProcessLog *l, uint64_t offset, int *ret_fd);

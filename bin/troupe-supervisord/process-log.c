/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "log-reader.h"
#include "paths/path-resolve.h"
#include "process-log.h"

/* One read per wakeup, so a child that writes without pause cannot starve the bus. */
#define LOG_READ_CHUNK ((size_t) 64U * 1024U)
/* What process_log_detach() reads at most once the child is gone: a grandchild that kept the pipe
 * and writes on cannot hold the loop. */
#define LOG_DRAIN_MAX ((size_t) 4U * 1024U * 1024U)

/* The daemon is single-threaded and reads one pipe at a time: one buffer serves every log. */
static uint8_t log_buffer[LOG_READ_CHUNK];

LogSegment *log_segment_ref(LogSegment *s) {
        if (s)
                s->n_ref++;
        return s;
}

LogSegment *log_segment_unref(LogSegment *s) {
        if (!s || --s->n_ref > 0)
                return NULL;
        safe_close(s->fd);
        return mfree(s);
}

static int log_open_current(ProcessLog *l) {
        LogSegment *s;
        int fd;

        fd = path_create_beneath(l->dir_fd, l->file_name, strlen(l->file_name), O_RDWR | O_APPEND, 0600);
        if (fd < 0)
                return fd;
        s = malloc(sizeof(LogSegment));
        if (!s) {
                safe_close(fd);
                return -ENOMEM;
        }
        *s = (LogSegment) { .n_ref = 1, .fd = fd, .start = l->total };
        l->current = s;
        return 0;
}

int process_log_new(sd_event *event, int dir_fd, const char *dir_path, const char *id, uint64_t size_max,
                    ProcessLog **ret) {
        _cleanup_(process_log_freep) ProcessLog *l = NULL;
        int r;

        assert_return(event && dir_fd >= 0 && dir_path && id && ret, -EINVAL);
        assert_return(size_max >= PROCESS_LOG_SIZE_MIN, -EINVAL);

        l = calloc(1, sizeof(ProcessLog));
        if (!l)
                return -ENOMEM;
        *l = (ProcessLog) {
                .event = sd_event_ref(event),
                .dir_fd = dir_fd,
                .size_max = size_max,
                .input_fd = -EBADF,
        };
        if (asprintf_safe(&l->file_name, "%s.log", id) < 0 ||
            asprintf_safe(&l->rotated_name, "%s.log.1", id) < 0 ||
            asprintf_safe(&l->path, "%s/%s.log", dir_path, id) < 0)
                return -ENOMEM;

        r = log_open_current(l);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(l);
        return 0;
}

static void log_close_input(ProcessLog *l) {
        l->input_source = sd_event_source_disable_unref(l->input_source);
        l->input_fd = safe_close(l->input_fd);
}

ProcessLog *process_log_free(ProcessLog *l, bool remove_files) {
        if (!l)
                return NULL;

        while (l->readers)
                log_reader_free(l->readers);
        log_close_input(l);
        log_segment_unref(l->current);
        log_segment_unref(l->previous);
        if (remove_files && l->file_name) {
                (void) unlinkat(l->dir_fd, l->file_name, 0);
                (void) unlinkat(l->dir_fd, l->rotated_name, 0);
        }
        free(l->file_name);
        free(l->rotated_name);
        free(l->path);
        sd_event_unref(l->event);
        return mfree(l);
}

/* The current file is full: it becomes <id>.log.1 (replacing the older one, which lives on only
 * for readers still in it) and a new <id>.log starts where it ended. */
static int log_rotate(ProcessLog *l) {
        if (renameat(l->dir_fd, l->file_name, l->dir_fd, l->rotated_name) < 0)
                return -errno;
        log_segment_unref(l->previous);
        l->previous = TAKE_PTR(l->current);
        return log_open_current(l);
}

static int log_make_room(ProcessLog *l) {
        int r;

        if (l->current && l->current->size < l->size_max)
                return 0;
        r = l->current ? log_rotate(l) : log_open_current(l);
        if (r < 0)
                return log_warning_errno(r, "Failed to rotate log %s, dropping output: %m", l->path);
        return 0;
}

static void log_append(ProcessLog *l, const uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k;

                if (log_make_room(l) < 0)
                        break;
                k = write(l->current->fd, p, MIN(n, l->size_max - l->current->size));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        if (l->lost == 0)
                                log_warning_errno(k < 0 ? -errno : -EIO,
                                                  "Failed to write log %s, dropping output: %m", l->path);
                        break;
                }
                l->current->size += (uint64_t) k;
                l->total += (uint64_t) k;
                p += k;
                n -= (size_t) k;
        }
        l->lost += n;
}

static void log_wake_readers(ProcessLog *l) {
        LogReader *next;

        /* A reader that is done frees itself, so step on before waking it. */
        for (LogReader *r = l->readers; r; r = next) {
                next = r->next;
                log_reader_wake(r);
        }
}

/* Returns the bytes read, 0 at end of file, -EAGAIN when the pipe is empty. */
static ssize_t log_read_once(ProcessLog *l) {
        ssize_t n;

        do
                n = read(l->input_fd, log_buffer, sizeof(log_buffer));
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        log_append(l, log_buffer, (size_t) n);
        return n;
}

static int on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ProcessLog *l = userdata;
        ssize_t n;

        n = log_read_once(l);
        if (n == 0 || (n < 0 && n != -EAGAIN)) {
                if (n < 0)
                        log_debug_errno((int) n, "Failed to read output for %s, closing it: %m", l->path);
                /* Every writer is gone (or the pipe broke): nothing more will come this run. */
                log_close_input(l);
        }
        if (n != -EAGAIN)
                log_wake_readers(l);
        return 0;
}

int process_log_attach(ProcessLog *l, int fd) {
        _cleanup_close_ int input = fd;
        int r;

        assert_return(l && fd >= 0, -EINVAL);

        process_log_detach(l);
        r = fd_set_nonblock(input, true);
        if (r < 0)
                return r;
        r = sd_event_add_io(l->event, &l->input_source, input, EPOLLIN, on_input, l);
        if (r < 0)
                return r;
        l->input_fd = TAKE_FD(input);
        l->finished = false;
        return 0;
}

void process_log_detach(ProcessLog *l) {
        size_t drained = 0;

        if (l->input_fd < 0)
                return;
        while (drained < LOG_DRAIN_MAX) {
                ssize_t n = log_read_once(l);
                if (n <= 0)
                        break;
                drained += (size_t) n;
        }
        log_close_input(l);
        log_wake_readers(l);
}

void process_log_finish(ProcessLog *l) {
        process_log_detach(l);
        l->finished = true;
        log_wake_readers(l);
}

LogSegment *process_log_find_segment(ProcessLog *l, uint64_t offset, uint64_t *ret_skipped) {
        LogSegment *oldest = l->previous ?: l->current;

        *ret_skipped = 0;
        if (l->previous && offset >= l->previous->start && offset < l->previous->start + l->previous->size)
                return l->previous;
        if (l->current && offset >= l->current->start)
                return l->current;
        if (oldest && offset < oldest->start) {
                *ret_skipped = oldest->start - offset;
                return oldest;
        }
        /* Past <id>.log.1 while <id>.log could not be created: nothing to read yet. */
        return NULL;
}

int process_log_open_reader(ProcessLog *l, uint64_t offset, int *ret_fd) {
        assert_return(l && ret_fd, -EINVAL);

        if (offset > l->total)
                return -ERANGE;
        if (l->n_readers >= PROCESS_LOG_READERS_MAX)
                return -ENOBUFS;
        return log_reader_new(l, offset, ret_fd);
}

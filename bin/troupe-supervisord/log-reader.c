/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "log-reader.h"

/* Bytes sent per wakeup before the loop gets a turn again. */
#define READER_BUDGET ((size_t) 1024U * 1024U)
/* Kernel pipe buffer asked for (the default is 64 KiB); a refusal is fine. */
#define READER_PIPE_SIZE (256 * 1024)

typedef enum PumpResult {
        PUMP_DONE, /* everything sent and no more will come: close */
        PUMP_IDLE, /* caught up: wait for the log to grow */
        PUMP_BLOCKED, /* the pipe is full (or the budget is spent): wait for EPOLLOUT */
} PumpResult;

LogReader *log_reader_free(LogReader *r) {
        ProcessLog *l;

        if (!r)
                return NULL;
        l = r->log;
        if (r->prev)
                r->prev->next = r->next;
        else
                l->readers = r->next;
        if (r->next)
                r->next->prev = r->prev;
        l->n_readers--;

        sd_event_source_disable_unref(r->source);
        log_segment_unref(r->segment);
        safe_close(r->fd);
        return mfree(r);
}

/* Points r->segment at the file holding r->offset; false when nothing is there yet. Bytes that
 * were rotated away are skipped and counted in r->skipped, for the note. */
static bool reader_locate(LogReader *r) {
        LogSegment *s = r->segment, *n;
        uint64_t k;

        if (s && r->offset < s->start + s->size)
                return true;
        if (s && s == r->log->current)
                return false;

        n = process_log_find_segment(r->log, r->offset, &k);
        if (n != s) {
                log_segment_unref(s);
                r->segment = log_segment_ref(n);
        }
        if (!n)
                return false;
        r->offset += k;
        r->skipped += k;
        return r->offset < n->start + n->size;
}

static void reader_format_note(LogReader *r, uint64_t skipped) {
        int n = snprintf(r->note, sizeof(r->note),
                         "[troupe-supervisord: %" PRIu64
                         " bytes of this log were rotated away before they were read]\n",
                         skipped);

        r->note_size = n > 0 ? MIN((size_t) n, sizeof(r->note) - 1) : 0;
        r->note_sent = 0;
}

static int reader_send_note(LogReader *r) {
        while (r->note_sent < r->note_size) {
                ssize_t n = write(r->fd, r->note + r->note_sent, r->note_size - r->note_sent);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                r->note_sent += (size_t) n;
        }
        return 0;
}

/* Sends from the files into the pipe until it is full, the budget is spent or the reader has
 * caught up. A negative errno (-EPIPE: the client closed its end) ends the reader. */
static int reader_pump(LogReader *r) {
        size_t budget = READER_BUDGET;

        for (;;) {
                LogSegment *s;
                loff_t off;
                ssize_t n;
                bool have;
                int k;

                have = reader_locate(r);
                if (r->skipped > 0 && r->note_sent == r->note_size) {
                        reader_format_note(r, r->skipped);
                        r->skipped = 0;
                }
                k = reader_send_note(r);
                if (k == -EAGAIN)
                        return PUMP_BLOCKED;
                if (k < 0)
                        return k;
                if (!have)
                        return r->log->finished ? PUMP_DONE : PUMP_IDLE;
                if (budget == 0)
                        return PUMP_BLOCKED;

                s = r->segment;
                off = (loff_t) (r->offset - s->start);
                n = splice(s->fd, &off, r->fd, NULL, MIN(s->start + s->size - r->offset, (uint64_t) budget),
                           SPLICE_F_NONBLOCK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return PUMP_BLOCKED;
                if (n < 0)
                        return -errno;
                if (n == 0) /* the file is shorter than what we wrote to it */
                        return -EIO;
                r->offset += (uint64_t) n;
                budget -= (size_t) n;
        }
}

static void reader_dispatch(LogReader *r) {
        int k = reader_pump(r);

        if (k < 0 && k != -EPIPE)
                log_debug_errno(k, "Failed to send log %s to a reader, closing it: %m", r->log->path);
        if (k < 0 || k == PUMP_DONE) {
                log_reader_free(r);
                return;
        }
        /* With no events asked for, epoll still reports EPOLLERR: a client that closed its end while
         * we had nothing to send is noticed and freed all the same. */
        (void) sd_event_source_set_io_events(r->source, k == PUMP_BLOCKED ? EPOLLOUT : 0);
}

static int on_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        /* On a pipe's write end EPOLLERR means the read end is closed: the client went away. This
         * is checked first, since a reader with nothing to send would not find out by writing. */
        if (revents & (EPOLLERR | EPOLLHUP)) {
                log_reader_free(userdata);
                return 0;
        }
        reader_dispatch(userdata);
        return 0;
}

void log_reader_wake(LogReader *r) {
        uint32_t events = 0;

        /* A reader waiting for room in its pipe gets it from EPOLLOUT, not from us. */
        if (sd_event_source_get_io_events(r->source, &events) >= 0 && (events & EPOLLOUT))
                return;
        reader_dispatch(r);
}

int log_reader_new(ProcessLog *l, uint64_t offset, int *ret_fd) {
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        LogReader *r;
        int fds[2], k;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        read_fd = fds[0];
        write_fd = fds[1];
        k = fd_set_nonblock(write_fd, true);
        if (k < 0)
                return k;
        (void) fcntl(write_fd, F_SETPIPE_SZ, READER_PIPE_SIZE);

        r = calloc(1, sizeof(LogReader));
        if (!r)
                return -ENOMEM;
        *r = (LogReader) { .log = l, .fd = -EBADF, .offset = offset };
        k = sd_event_add_io(l->event, &r->source, write_fd, 0, on_writable, r);
        if (k < 0) {
                free(r);
                return k;
        }
        r->fd = TAKE_FD(write_fd);
        r->next = l->readers;
        if (l->readers)
                l->readers->prev = r;
        l->readers = r;
        l->n_readers++;

        *ret_fd = TAKE_FD(read_fd);
        /* May free r at once: a finished log with nothing to send ends the stream right away. */
        log_reader_wake(r);
        return 0;
}

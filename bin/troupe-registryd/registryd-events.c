/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Task.OpenEvents(): a pipe per reader, fed from the journal. A reader holds only a cursor (the next
 * sequence number) and the lines of one refill, so a slow one costs a few KiB and never blocks us:
 * when its pipe is full we wait for EPOLLOUT and carry on from the journal. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "registryd.h"

/* Events per refill, and the size after which a refill stops early. */
#define READER_REFILL_EVENTS 32U
#define READER_REFILL_BYTES ((size_t) 64U * 1024U)

EventReader *event_reader_free(EventReader *r) {
        if (!r)
                return NULL;
        if (r->task) {
                LIST_REMOVE(readers, r->task->readers_head, r->task->readers_tail, r);
                r->task->context->n_readers--;
        }
        r->io = sd_event_source_disable_unref(r->io);
        safe_close(r->fd);
        free(r->buf);
        return mfree(r);
}

static int reader_append(uint64_t seq, uint64_t time_usec, const char *type, const char *payload,
                         void *userdata) {
        EventReader *r = userdata;
        _cleanup_free_ char *line = NULL;
        size_t n;
        int k;

        k = journal_event_format_line(seq, time_usec, type, payload, &line, &n);
        if (k < 0)
                return k;

        if (r->buf_size + n > r->buf_allocated) {
                size_t want = MAX(r->buf_size + n, r->buf_allocated * 2);
                char *b = realloc(r->buf, want);
                if (!b)
                        return -ENOMEM;
                r->buf = b;
                r->buf_allocated = want;
        }
        memcpy(r->buf + r->buf_size, line, n);
        r->buf_size += n;
        r->next_seq = seq + 1;

        return r->buf_size >= READER_REFILL_BYTES;
}

static int reader_refill(EventReader *r) {
        Task *t = r->task;
        int k;

        r->buf_off = r->buf_size = 0;
        k = journal_event_foreach(t->context->journal, t->id, r->next_seq - 1, t->committed_seq,
                                  READER_REFILL_EVENTS, reader_append, r);
        if (k < 0)
                return log_error_errno(k, "Failed to read events of task %s from the journal: %s", t->id,
                                       journal_last_error(t->context->journal));
        if (k == 0 && r->next_seq <= t->committed_seq) {
                /* The journal holds fewer events than the task counts: skip the gap rather than spin. */
                log_warning("Task %s: events %" PRIu64 "..%" PRIu64 " missing from the journal, skipping.",
                            t->id, r->next_seq, t->committed_seq);
                r->next_seq = t->committed_seq + 1;
        }
        return 0;
}

static int reader_watch(EventReader *r, uint32_t events) {
        int k = sd_event_source_set_io_events(r->io, events);
        if (k < 0)
                return log_error_errno(k, "Failed to watch an event reader's pipe: %m");
        return 0;
}

/* Writes what the pipe takes. Frees the reader when it is done or gone. */
static void reader_pump(EventReader *r) {
        for (;;) {
                if (r->buf_off < r->buf_size) {
                        ssize_t n = write(r->fd, r->buf + r->buf_off, r->buf_size - r->buf_off);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN) {
                                if (reader_watch(r, EPOLLOUT) < 0)
                                        event_reader_free(r);
                                return;
                        }
                        if (n < 0) {
                                /* EPIPE: the reader closed its end. */
                                log_debug_errno(errno, "Event reader of task %s gone: %m", r->task->id);
                                event_reader_free(r);
                                return;
                        }
                        r->buf_off += (size_t) n;
                        continue;
                }

                if (r->next_seq <= r->task->committed_seq) {
                        if (reader_refill(r) < 0) {
                                event_reader_free(r);
                                return;
                        }
                        continue;
                }

                /* Caught up. The final event has been written once the task is final. */
                if (task_state_is_final(r->task->pub_state)) {
                        event_reader_free(r);
                        return;
                }
                r->buf_off = r->buf_size = 0;
                /* Keep watching with no events: EPOLLERR still tells us when the reader leaves. */
                if (reader_watch(r, 0) < 0)
                        event_reader_free(r);
                return;
        }
}

static int on_reader_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        EventReader *r = userdata;

        if ((revents & EPOLLERR) && !(revents & EPOLLOUT)) {
                event_reader_free(r);
                return 0;
        }
        reader_pump(r);
        return 0;
}

void task_wake_readers(Task *t) {
        LIST_FOREACH_SAFE(readers, r, n, t->readers_head)
        if (r->buf_off >= r->buf_size)
                reader_pump(r);
}

int event_reader_open(Task *t, uint64_t after_seq, int *ret_fd) {
        Context *c = t->context;
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        _cleanup_free_ EventReader *r = NULL;
        int fds[2], k;

        assert_return(ret_fd, -EINVAL);

        if (c->n_readers >= c->max_event_readers)
                return -ENOBUFS;
        if (after_seq == UINT64_MAX)
                after_seq = UINT64_MAX - 1;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        read_fd = fds[0];
        write_fd = fds[1];
        /* Only our end: the reader may well want to block. */
        k = fd_set_nonblock(write_fd, true);
        if (k < 0)
                return k;

        r = calloc(1, sizeof(EventReader));
        if (!r)
                return -ENOMEM;
        r->fd = -EBADF;
        r->next_seq = after_seq + 1;

        k = sd_event_add_io(c->event, &r->io, write_fd, 0, on_reader_io, r);
        if (k < 0)
                return k;
        (void) sd_event_source_set_description(r->io, "event-reader");

        r->fd = TAKE_FD(write_fd);
        r->task = t;
        LIST_APPEND(readers, t->readers_head, t->readers_tail, r);
        c->n_readers++;

        /* May finish (and free) the reader at once for a final task: the pipe holds the lines. */
        reader_pump(TAKE_PTR(r));

        *ret_fd = TAKE_FD(read_fd);
        return 0;
}

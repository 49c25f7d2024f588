/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl-stream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "ctl-tasks.h"
#include "json/json-util.h"

#define CTL_READ_CHUNK (64U * 1024U)
/* An event line carries at most a task result (the registry caps params at 64 KiB; results are
 * bounded likewise) plus its envelope; this is a generous ceiling against a broken daemon. */
#define CTL_EVENT_LINE_MAX (16U * 1024U * 1024U)

/* Waits until fd is readable: 1 when it is (or hung up), 0 when idle_msec passed first. */
static int wait_readable(int fd, int idle_msec) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r;

        do
                r = poll(&p, 1, idle_msec);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r > 0;
}

/* Hands every complete line in buf[0..*n) to f and moves the rest to the front. */
static int split_lines(char *buf, size_t *n, CtlLineFunc f, void *userdata) {
        size_t start = 0;
        char *nl;
        int r;

        while ((nl = memchr(buf + start, '\n', *n - start))) {
                *nl = 0;
                r = f(buf + start, userdata);
                if (r < 0)
                        return r;
                start = (size_t) (nl - buf) + 1;
        }
        memmove(buf, buf + start, *n - start);
        *n -= start;
        return 0;
}

int ctl_read_lines(int fd, int idle_msec, size_t max_line, CtlLineFunc f, void *userdata) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, allocated = 0;
        int r;

        for (;;) {
                ssize_t k;

                if (allocated - n < CTL_READ_CHUNK + 1) {
                        char *b;

                        if (n > max_line)
                                return -E2BIG;
                        b = realloc(buf, n + CTL_READ_CHUNK + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        allocated = n + CTL_READ_CHUNK + 1;
                }
                r = wait_readable(fd, idle_msec);
                if (r <= 0)
                        return r;
                k = read(fd, buf + n, CTL_READ_CHUNK);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t) k;
                r = split_lines(buf, &n, f, userdata);
                if (r < 0)
                        return r;
        }
        if (n > 0) {
                buf[n] = 0;
                r = f(buf, userdata);
                if (r < 0)
                        return r;
        }
        return 1;
}

int ctl_copy_to_stdout(int fd, int idle_msec) {
        char buf[CTL_READ_CHUNK];
        int r;

        for (;;) {
                ssize_t k;

                r = wait_readable(fd, idle_msec);
                if (r <= 0)
                        return r;
                k = read(fd, buf, sizeof(buf));
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 1;
                r = loop_write(STDOUT_FILENO, buf, (size_t) k);
                if (r < 0)
                        return r;
        }
}

typedef struct EventLines {
        CtlEventFunc f;
        void *userdata;
} EventLines;

static int event_line(const char *line, void *userdata) {
        EventLines *e = userdata;
        _cleanup_json_ json_t *event = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        if (isempty(line))
                return 0;
        r = json_parse(line, strlen(line), CTL_EVENT_LINE_MAX, 0, 0, &event, &error);
        if (r < 0)
                return log_error_errno(r, "The registry sent an event that is not JSON (%s).", strna(error));
        return e->f(event, e->userdata);
}

static int task_open_events(Ctl *c, const char *id, uint64_t after_seq, int *ret_fd) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *path = NULL;
        sd_bus *bus;
        int r;

        r = ctl_task_path(id, &path);
        if (r == -EINVAL)
                return -ENOENT;
        if (r < 0)
                return log_oom();
        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_registry.name, path, CTL_TASK_INTERFACE, "OpenEvents", &error,
                               &reply, "t", after_seq);
        if (r < 0 && ctl_error_is_no_such_object(&error))
                return -ENOENT;
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "open the task's events", &error, r);
        r = ctl_message_read_fd(reply, ret_fd);
        if (r < 0)
                return log_error_errno(r, "Failed to read the OpenEvents() reply: %m");
        return 0;
}

int ctl_task_events(Ctl *c, const char *id, uint64_t after_seq, int idle_msec, CtlEventFunc f,
                    void *userdata) {
        _cleanup_close_ int fd = -EBADF;
        EventLines e = {f, userdata};
        int r;

        r = task_open_events(c, id, after_seq, &fd);
        if (r < 0)
                return r;
        r = ctl_read_lines(fd, idle_msec, CTL_EVENT_LINE_MAX, event_line, &e);
        if (r == -E2BIG)
                return log_error_errno(r, "The registry sent an event line longer than %u bytes.",
                                       CTL_EVENT_LINE_MAX);
        if (r < 0 && r != -EPIPE)
                return log_error_errno(r, "Failed to read the task's events: %m");
        return r;
}

static int event_details(json_t *event, char **ret) {
        const char *type = json_get_string(event, "type", "");

        if (streq(type, "state")) {
                const char *error = json_get_string(event, "error", NULL);
                return asprintf_safe(ret, "%s%s%s", json_get_string(event, "state", "?"), error ? ": " : "",
                                     strempty(error));
        }
        if (streq(type, "progress"))
                return asprintf_safe(ret, "%3.0f%% %s", json_get_real(event, "progress") * 100.0,
                                     json_get_string(event, "message", ""));
        if (streq(type, "log"))
                return asprintf_safe(ret, "[%s] %s", json_get_string(event, "stream", "agent"),
                                     json_get_string(event, "text", ""));
        /* Event types added later: show them whole. */
        return json_dump_string(event, JSON_DUMP_COMPACT, ret);
}

int ctl_event_print(json_t *event, bool json, FILE *f) {
        _cleanup_free_ char *s = NULL;
        char clock[32];
        int r;

        if (json) {
                r = json_dump_string(event, JSON_DUMP_COMPACT, &s);
                if (r < 0)
                        return log_oom();
                fprintf(f, "%s\n", s);
                return fflush(f) == 0 ? 0 : -errno;
        }

        r = event_details(event, &s);
        if (r < 0)
                return log_oom();
        /* Agents write these lines; escape sequences must not reach the terminal. */
        for (char *p = s; *p; p++)
                if (((unsigned char) *p < ' ' && *p != '\t') || *p == 0x7f)
                        *p = '?';
        fprintf(f, "%s  %-8s  %s\n", format_clock(json_get_uint(event, "time_usec"), clock),
                json_get_string(event, "type", "?"), s);
        return fflush(f) == 0 ? 0 : -errno;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "basic/string-util.h"
#include "bus/bus-error.h"

/* One errno per name: this is what a client gets back. The way back (errno -> name, for a server)
 * is bus_error_name_from_errno(), which can fold several errnos into one name. */
const sd_bus_error_map bus_troupe_errors[] = {
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_AGENT, ENOENT),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_TASK, ENOENT),
        SD_BUS_ERROR_MAP(BUS_ERROR_INVALID_ARGS, EINVAL),
        SD_BUS_ERROR_MAP(BUS_ERROR_PERMISSION_DENIED, EACCES),
        SD_BUS_ERROR_MAP(BUS_ERROR_CONSENT_REQUIRED, ENOKEY),
        SD_BUS_ERROR_MAP(BUS_ERROR_BUSY, EBUSY),
        SD_BUS_ERROR_MAP(BUS_ERROR_TIMEOUT, ETIMEDOUT),
        SD_BUS_ERROR_MAP(BUS_ERROR_OVERLOADED, ENOBUFS),
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_OBJECT, ENOENT),
        SD_BUS_ERROR_MAP(BUS_ERROR_ALREADY_EXISTS, EEXIST),
        SD_BUS_ERROR_MAP(BUS_ERROR_NOT_SUPPORTED, EOPNOTSUPP),
        SD_BUS_ERROR_MAP(BUS_ERROR_FAILED, EIO),
        SD_BUS_ERROR_MAP_END,
};

/* Registered at load time: sd-bus consults its maps whenever a client turns an error reply into an
 * errno, and that must not depend on every program remembering a setup call. */
__attribute__((__constructor__)) static void bus_error_add_troupe_map(void) {
        (void) sd_bus_error_add_map(bus_troupe_errors);
}

const char *bus_error_name_from_errno(int error) {
        switch (abs(error)) {
        case EINVAL:
                return BUS_ERROR_INVALID_ARGS;
        case EPERM:
        case EACCES:
                return BUS_ERROR_PERMISSION_DENIED;
        case ENOKEY:
                return BUS_ERROR_CONSENT_REQUIRED;
        case EBUSY:
                return BUS_ERROR_BUSY;
        case ETIMEDOUT:
        case ETIME:
                return BUS_ERROR_TIMEOUT;
        case ENOBUFS:
                return BUS_ERROR_OVERLOADED;
        case ENOENT:
                return BUS_ERROR_NO_SUCH_OBJECT;
        case EEXIST:
                return BUS_ERROR_ALREADY_EXISTS;
        case EOPNOTSUPP:
                return BUS_ERROR_NOT_SUPPORTED;
        case EIO:
                return BUS_ERROR_FAILED;
        }
        return NULL;
}

static size_t utf8_sequence_length(unsigned char c) {
        if (c < 0x80)
                return 1;
        if ((c & 0xe0) == 0xc0)
                return 2;
        if ((c & 0xf0) == 0xe0)
                return 3;
        if ((c & 0xf8) == 0xf0)
                return 4;
        return 0;
}

/* sd-bus refuses to append a string that is not valid UTF-8, and then no error reply goes out at
 * all and the client waits for its timeout. So cut long messages at a character boundary and
 * replace what is left of any broken sequence with '?'. */
static void message_sanitize(char *s, size_t max) {
        size_t n = strlen(s);

        if (n > max) {
                n = max;
                while (n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80)
                        n--;
                s[n] = 0;
        }

        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence_length((unsigned char) s[i]);

                if (len == 0 || len > n - i || !utf8_is_valid_n(s + i, len)) {
                        s[i++] = '?';
                        continue;
                }
                i += len;
        }
}

_printf_(3, 0) static int format_message(char **ret, int error, const char *format, va_list ap) {
        char *m;

        /* %m in the format means the error we were given, not whatever errno happens to be. */
        errno = abs(error);
        if (vasprintf(&m, format, ap) < 0)
                return -ENOMEM;
        message_sanitize(m, BUS_ERROR_MESSAGE_MAX);
        *ret = m;
        return 0;
}

int bus_error_setf(sd_bus_error *error, const char *name, const char *format, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int r;

        assert_return(name, -EINVAL);
        assert_return(format, -EINVAL);

        va_start(ap, format);
        r = format_message(&message, 0, format, ap);
        va_end(ap);
        if (r < 0)
                /* The name alone still tells the client what went wrong. */
                return sd_bus_error_set(error, name, NULL);

        return sd_bus_error_set(error, name, message);
}

_printf_(3, 0) static int set_errnofv(sd_bus_error *error, int r, const char *format, va_list ap) {
        _cleanup_free_ char *message = NULL;
        const char *name;

        r = -abs(r);
        name = bus_error_name_from_errno(r);
        if (!name)
                return sd_bus_error_set_errnofv(error, r, format, ap);

        if (format_message(&message, r, format, ap) < 0)
                (void) sd_bus_error_set(error, name, NULL);
        else
                (void) sd_bus_error_set(error, name, message);
        return r;
}

int bus_error_set_errnof(sd_bus_error *error, int r, const char *format, ...) {
        va_list ap;

        assert_return(r != 0, -EINVAL);
        assert_return(format, -EINVAL);

        va_start(ap, format);
        r = set_errnofv(error, r, format, ap);
        va_end(ap);
        return r;
}

int bus_error_set_errno(sd_bus_error *error, int r) {
        return bus_error_set_errnof(error, r, "%m");
}

int bus_error_no_such_agent(sd_bus_error *error, const char *name) {
        assert_return(name, -EINVAL);
        return bus_error_setf(error, BUS_ERROR_NO_SUCH_AGENT,
                              "No agent named '%s'. List agents with: troupectl agents", name);
}

int bus_error_no_such_task(sd_bus_error *error, const char *id) {
        assert_return(id, -EINVAL);
        return bus_error_setf(error, BUS_ERROR_NO_SUCH_TASK,
                              "No task with id '%s'. List tasks with: troupectl tasks", id);
}

int bus_error_from_return(sd_bus_error *error, int r) {
        if (r >= 0 || sd_bus_error_is_set(error))
                return r;
        return bus_error_set_errno(error, r);
}

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
        SD_BUS_ERROR_MAP(BUS_ERROR_NO_SUCH_CONSENT, ENOENT),
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

_printf_(3, 0) static int format_message(char **ret, int error, const char *format, va_list ap) {
        _cleanup_free_ char *m = NULL;
        char *t;
        int n;

        /* %m in the format means the error we were given, not whatever errno happens to be. */
        errno = abs(error);
        n = vasprintf(&m, format, ap);
        if (n < 0)
                return -ENOMEM;
        /* sd-bus refuses to append a string that is not valid UTF-8, and then no error reply goes out at
         * all and the client waits for its timeout. So cut long messages at a character boundary and
         * replace what is left of any broken sequence with '?'. */
        t = utf8_sanitize_copy(m, (size_t) n, BUS_ERROR_MESSAGE_MAX, NULL);
        if (!t)
                return -ENOMEM;
        *ret = t;
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

int bus_error_no_such_consent(sd_bus_error *error, const char *id) {
        assert_return(id, -EINVAL);
        return bus_error_setf(error, BUS_ERROR_NO_SUCH_CONSENT,
                              "No pending consent request with id '%s' (answered, expired or never "
                              "raised). List pending requests with: troupectl consent list",
                              id);
}

int bus_error_from_return(sd_bus_error *error, int r) {
        if (r >= 0 || sd_bus_error_is_set(error))
                return r;
        return bus_error_set_errno(error, r);
}

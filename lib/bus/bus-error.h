/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus-error.h: the org.troupe.Error.* names, their errno mapping, and helpers that set them. */
#pragma once

#include <systemd/sd-bus.h>

#include "basic/macro.h"

/* The names of DESIGN.md §2 first, then the generic ones. Each maps to one errno for clients
 * (sd_bus_error_get_errno(), the return value of sd_bus_call()); see docs/dbus-conventions.md. */
#define BUS_ERROR_NO_SUCH_AGENT "org.troupe.Error.NoSuchAgent"         /* ENOENT */
#define BUS_ERROR_NO_SUCH_TASK "org.troupe.Error.NoSuchTask"           /* ENOENT */
#define BUS_ERROR_INVALID_ARGS "org.troupe.Error.InvalidArgs"          /* EINVAL */
#define BUS_ERROR_PERMISSION_DENIED "org.troupe.Error.PermissionDenied" /* EACCES (and EPERM) */
#define BUS_ERROR_CONSENT_REQUIRED "org.troupe.Error.ConsentRequired"  /* ENOKEY */
#define BUS_ERROR_BUSY "org.troupe.Error.Busy"                         /* EBUSY */
#define BUS_ERROR_TIMEOUT "org.troupe.Error.Timeout"                   /* ETIMEDOUT (and ETIME) */
#define BUS_ERROR_OVERLOADED "org.troupe.Error.Overloaded"             /* ENOBUFS */
#define BUS_ERROR_NO_SUCH_OBJECT "org.troupe.Error.NoSuchObject"       /* ENOENT */
#define BUS_ERROR_ALREADY_EXISTS "org.troupe.Error.AlreadyExists"      /* EEXIST */
#define BUS_ERROR_NOT_SUPPORTED "org.troupe.Error.NotSupported"        /* EOPNOTSUPP */
#define BUS_ERROR_FAILED "org.troupe.Error.Failed"                     /* EIO */
#define BUS_ERROR_NO_SUCH_CONSENT "org.troupe.Error.NoSuchConsent"     /* ENOENT */

/* Longest human message sent with an error, in bytes; longer ones are cut at a character boundary. */
#define BUS_ERROR_MESSAGE_MAX 1024U

/* The map is registered with sd_bus_error_add_map() when libtroupe is loaded, so every process that
 * links it gets the errno back from a troupe error name without doing anything. */
extern const sd_bus_error_map bus_troupe_errors[];

/* The troupe name a (positive or negative) errno goes out as, or NULL when troupe has none and
 * sd-bus's own name (org.freedesktop.DBus.Error.*, System.Error.E*) carries it instead. */
const char *bus_error_name_from_errno(int error) _const_;

/* Sets `name` with a printf-style message that names the thing and the fix. The message is capped
 * at BUS_ERROR_MESSAGE_MAX and made valid UTF-8, since sd-bus cannot send an error reply otherwise.
 * Returns the negative errno `name` maps to. */
int bus_error_setf(sd_bus_error *error, const char *name, const char *format, ...) _printf_(3, 4);

/* Sets the name bus_error_name_from_errno() gives for `error`, with a printf-style message in which
 * %m is strerror(error). Returns -abs(error). */
int bus_error_set_errnof(sd_bus_error *error, int r, const char *format, ...) _printf_(3, 4);
/* Same, with strerror() as the message. */
int bus_error_set_errno(sd_bus_error *error, int r);

/* The canonical "no such" errors, so every daemon phrases them the same way. */
int bus_error_no_such_agent(sd_bus_error *error, const char *name);
int bus_error_no_such_task(sd_bus_error *error, const char *id);
int bus_error_no_such_consent(sd_bus_error *error, const char *id);

/* For the end of a method handler: a negative `r` with no error set yet becomes its troupe error;
 * anything else passes through unchanged. */
int bus_error_from_return(sd_bus_error *error, int r);

/* Defines the method handler `name` that calls `impl` (same signature) and passes its result
 * through bus_error_from_return(): sd-bus on its own sends a bare negative errno under its generic
 * names, so without this `return -EBUSY;` would not reach the client as org.troupe.Error.Busy. */
#define BUS_DEFINE_METHOD_HANDLER(name, impl)                                                  \
        static int name(sd_bus_message *_m_, void *_userdata_, sd_bus_error *_error_) {        \
                return bus_error_from_return(_error_, impl(_m_, _userdata_, _error_));       \
        }

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus-util.h: connecting, object paths for names, change signals, bounded a{sv} and as readers. */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"

/* Longest name (agent name, task id...) that becomes the last component of an object path. */
#define BUS_OBJECT_NAME_MAX 128U
/* What the stock option parsers accept: bytes per string, and strings per `as`. */
#define BUS_OPTION_STRING_MAX 4096U
#define BUS_OPTION_STRV_ITEMS_MAX 256U
/* A BusOption table holds at most this many entries (one bit each to catch repeated keys). */
#define BUS_OPTIONS_MAX 64U

/* Connects as a client: to $TROUPE_BUS_ADDRESS when set (for tests and `troupectl up`'s private
 * bus), else to the session bus ($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus). Like the
 * session bus, a $TROUPE_BUS_ADDRESS bus is trusted: only our own user can reach it. */
/* A client connection to the bus at `address` (a D-Bus address string), started. */
int bus_open_address(const char *address, sd_bus **ret);
int bus_open(sd_bus **ret);

/* bus_open(), attached to `event`, whose loop then exits when the bus goes away. Add the objects
 * first and call bus_request_name() last, so that no call arrives before they exist. */
int bus_open_daemon(sd_event *event, sd_bus **ret);

/* Takes a well-known name without queueing or replacing: -EEXIST when another connection owns it,
 * 0 when we own it (already or now). */
int bus_request_name(sd_bus *bus, const char *name);

/* org.freedesktop.DBus.ObjectManager at `path`, for the collections beneath it. */
int bus_add_object_manager(sd_bus *bus, const char *path, sd_bus_slot **ret_slot);

/* prefix + "/" + the name escaped with sd_bus_path_encode(), after name_is_valid() accepted it
 * (-EINVAL otherwise). */
int bus_object_path(const char *prefix, const char *name, char **ret);
/* The way back: -ENXIO when `path` is not beneath `prefix`, -EINVAL when what follows the prefix
 * does not decode to a valid name (including further path components). */
int bus_object_name(const char *prefix, const char *path, char **ret);

/* InterfacesAdded/InterfacesRemoved and PropertiesChanged for the object `name` beneath `prefix`,
 * or for `prefix` itself when name is NULL. An ObjectManager must exist at or above `prefix`.
 * With `properties` NULL, PropertiesChanged carries every property flagged EMITS_CHANGE or
 * EMITS_INVALIDATION in `interface`. */
int bus_emit_object_added(sd_bus *bus, const char *prefix, const char *name);
int bus_emit_object_removed(sd_bus *bus, const char *prefix, const char *name);
int bus_emit_properties_changed(sd_bus *bus, const char *prefix, const char *name, const char *interface,
                                char **properties);

/* Reads an `as` argument of at most max_items strings of at most max_len bytes each; an empty
 * array gives an empty (non-NULL) strv. Too many or too long is refused with
 * org.troupe.Error.InvalidArgs naming `what`. */
int bus_read_strv(sd_bus_message *m, const char *what, size_t max_items, size_t max_len,
                  sd_bus_error *error, char ***ret);

/* Parses one option's value: `m` is inside the variant, whose signature was already checked, and
 * `p` points at the field (userdata + offset). Refusals should set an error naming `key`. */
typedef int (*BusOptionParse)(sd_bus_message *m, const char *key, void *p, sd_bus_error *error);

typedef struct BusOption {
        const char *key;
        const char *signature; /* the single complete type the variant must hold, e.g. "t", "as" */
        BusOptionParse parse;
        size_t offset;
} BusOption;

/* Stock parsers: "s" into char * (replacing, at most BUS_OPTION_STRING_MAX bytes), "b" into bool,
 * "t" into uint64_t, "u" into uint32_t, "as" into char ** (replacing, BUS_OPTION_STRV_ITEMS_MAX
 * strings of at most BUS_OPTION_STRING_MAX bytes). */
int bus_option_string(sd_bus_message *m, const char *key, void *p, sd_bus_error *error);
int bus_option_bool(sd_bus_message *m, const char *key, void *p, sd_bus_error *error);
int bus_option_uint64(sd_bus_message *m, const char *key, void *p, sd_bus_error *error);
int bus_option_uint32(sd_bus_message *m, const char *key, void *p, sd_bus_error *error);
int bus_option_strv(sd_bus_message *m, const char *key, void *p, sd_bus_error *error);

/* Reads an a{sv} argument against `table`, which ends with an entry whose key is NULL. Unknown
 * keys, values of the wrong type and keys given twice are refused with org.troupe.Error.InvalidArgs
 * naming the key. Every option is optional: fields of absent keys are left alone. On failure the
 * fields already parsed stay set, for the caller's cleanup to free. */
int bus_read_options(sd_bus_message *m, const BusOption *table, void *userdata, sd_bus_error *error);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus-describe.h: the Describe() -> s method every daemon serves, returning its state as JSON. */
#pragma once

#include <jansson.h>
#include <systemd/sd-bus.h>

/* Builds the daemon's state. Returns a new reference in *ret, or a negative errno, which reaches
 * the caller as its org.troupe.Error.* name. */
typedef int (*BusDescribeFunc)(void *userdata, json_t **ret);

/* Adds Describe() to `interface` at `path` as a separate small vtable. `interface` may be the
 * daemon's main interface (sd-bus merges vtables of one interface), so it shows up there in
 * introspection. With ret_slot NULL the method lives as long as the bus connection. */
int bus_describe_add(sd_bus *bus, const char *path, const char *interface, BusDescribeFunc func,
                     void *userdata, sd_bus_slot **ret_slot);

/* For a daemon that lists Describe in its own vtable with BUS_DESCRIBE_METHOD: its handler calls
 * this with its callback. */
int bus_describe_reply(sd_bus_message *m, BusDescribeFunc func, void *userdata, sd_bus_error *error);

#define BUS_DESCRIBE_METHOD(handler)                                                             \
        SD_BUS_METHOD_WITH_ARGS("Describe", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", json), handler,   \
                                SD_BUS_VTABLE_UNPRIVILEGED)

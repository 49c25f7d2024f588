/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "bus/bus-log-control.h"

/* The allowed values come from log.h's own tables, so the message cannot drift from what is
 * accepted. The list is short and fixed, so the buffer is too. */
static void allowed_values(char *buf, size_t size, const char *(*to_string)(int), int n) {
        size_t used = 0;

        buf[0] = 0;
        for (int i = 0; i < n; i++) {
                const char *s = to_string(i);
                int k;

                if (!s)
                        continue;
                k = snprintf(buf + used, size - used, "%s%s", used > 0 ? ", " : "", s);
                if (k < 0 || (size_t) k >= size - used)
                        return;
                used += k;
        }
}

/* log_target_to_string() takes the enum, so it needs this adapter to share allowed_values(). */
static const char *target_to_string(int i) {
        return log_target_to_string((LogTarget) i);
}

static int property_get_log_level(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *reply, void *userdata,
                                  sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_level_to_string(log_get_max_level()));
}

/* Refused values get the standard org.freedesktop.DBus.Error.InvalidArgs: this is a freedesktop
 * interface and tools written against systemd's daemons expect its names. */
static int property_set_log_level(sd_bus *bus, const char *path, const char *interface,
                                  const char *property, sd_bus_message *value, void *userdata,
                                  sd_bus_error *error) {
        char allowed[256];
        const char *s;
        int level, r;

        r = sd_bus_message_read(value, "s", &s);
        if (r < 0)
                return r;

        level = log_level_from_string(s);
        if (level < 0) {
                allowed_values(allowed, sizeof(allowed), log_level_to_string, LOG_DEBUG + 1);
                return bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Invalid log level '%s'. Allowed values: %s.", s, allowed);
        }

        log_debug("Setting log level to %s.", s);
        log_set_max_level(level);
        return 0;
}

static int property_get_log_target(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_target_to_string(log_get_target()));
}

static int property_set_log_target(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *value, void *userdata,
                                   sd_bus_error *error) {
        char allowed[256];
        LogTarget target;
        const char *s;
        int r;

        r = sd_bus_message_read(value, "s", &s);
        if (r < 0)
                return r;

        target = log_target_from_string(s);
        if (target < 0) {
                allowed_values(allowed, sizeof(allowed), target_to_string, _LOG_TARGET_MAX);
                return bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                      "Invalid log target '%s'. Allowed values: %s.", s, allowed);
        }

        log_debug("Setting log target to %s.", s);
        log_set_target(target);
        return 0;
}

static int property_get_syslog_identifier(sd_bus *bus, const char *path, const char *interface,
                                          const char *property, sd_bus_message *reply, void *userdata,
                                          sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", log_get_identifier());
}

/* No change signals, as org.freedesktop.LogControl1(5) specifies (EmitsChangedSignal "false"). */
static const sd_bus_vtable log_control_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_WRITABLE_PROPERTY("LogLevel", "s", property_get_log_level, property_set_log_level, 0, 0),
        SD_BUS_WRITABLE_PROPERTY("LogTarget", "s", property_get_log_target, property_set_log_target, 0,
                                 0),
        SD_BUS_PROPERTY("SyslogIdentifier", "s", property_get_syslog_identifier, 0, 0),
        SD_BUS_VTABLE_END,
};

int bus_log_control_add(sd_bus *bus, sd_bus_slot **ret_slot) {
        assert_return(bus, -EINVAL);

        return sd_bus_add_object_vtable(bus, ret_slot, BUS_LOG_CONTROL_PATH, BUS_LOG_CONTROL_INTERFACE,
                                        log_control_vtable, NULL);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus-log-control.h: org.freedesktop.LogControl1 at /org/freedesktop/LogControl1, backed by basic/log. */
#pragma once

#include <systemd/sd-bus.h>

#define BUS_LOG_CONTROL_PATH "/org/freedesktop/LogControl1"
#define BUS_LOG_CONTROL_INTERFACE "org.freedesktop.LogControl1"

/* Serves LogLevel (s, rw), LogTarget (s, rw) and SyslogIdentifier (s, ro) as systemd's
 * org.freedesktop.LogControl1(5) describes them, so `systemctl --user service-log-level` works on a
 * troupe daemon. With ret_slot NULL the object lives as long as the bus connection. */
int bus_log_control_add(sd_bus *bus, sd_bus_slot **ret_slot);

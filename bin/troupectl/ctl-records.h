/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-records.h: what `troupectl up` records in the runtime directory so `down` and later commands
 * find the private bus and know what they started; and checks on those processes. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Files in $XDG_RUNTIME_DIR/troupe/ (the TROUPE_PATH_RUNTIME directory). */
#define CTL_RECORD_BUS_ADDRESS "bus.address"
#define CTL_RECORD_BUS_PID "bus.pid"
#define CTL_RECORD_SUITE_PID "suite.pid"
/* Where the private dbus-daemon listens, beneath the same directory. */
#define CTL_PRIVATE_BUS_SOCKET "bus"

/* Reads a record without its trailing newline: -ENOENT when it does not exist. */
int ctl_record_read(const char *name, char **ret);
/* Writes a record atomically (temporary file, then rename), creating the directory (0700). */
int ctl_record_write(const char *name, const char *value);
/* Removes a record; a missing one is fine. */
int ctl_record_remove(const char *name);
/* Reads a record holding a pid: -ENOENT when missing, -EINVAL when it is not a pid. */
int ctl_record_read_pid(const char *name, pid_t *ret);
/* The path of a file in the records directory (which is not created). */
int ctl_record_path(const char *name, char **ret);

/* A process that exists and is not a zombie (our children are reaped by someone else once
 * detached, and a zombie has already let go of everything). */
bool pid_is_alive(pid_t pid);
/* Whether /proc/PID/comm is `comm`: guards against signalling a recycled pid. */
bool pid_has_comm(pid_t pid, const char *comm);

/* The private bus `troupectl up` recorded: 1 with its address (and dbus-daemon pid) when it is
 * recorded and its dbus-daemon still runs, 0 when there is none. */
int ctl_private_bus_get(char **ret_address, pid_t *ret_pid);

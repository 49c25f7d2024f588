/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-suite.h: starting and stopping what `troupectl up` runs: a private dbus-daemon and
 * troupe-supervisord --suite, both detached, and waiting for the suite's names. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "basic/time-util.h"

/* How long `up` and `down` wait for the suite's names to come or go. */
#define CTL_SUITE_TIMEOUT_USEC (30U * USEC_PER_SEC)

/* Whether a session bus exists: $DBUS_SESSION_BUS_ADDRESS, or a socket at $XDG_RUNTIME_DIR/bus. */
bool ctl_session_bus_exists(void);

/* Starts `dbus-daemon --session --fork` ($DBUS_DAEMON, else from $PATH) listening on
 * <runtime>/bus, and returns the address and pid it printed. Its stderr goes to `log_path`. */
int ctl_private_bus_start(const char *log_path, char **ret_address, pid_t *ret_pid);

/* SIGTERM to the dbus-daemon at `pid` (checked to be one), SIGKILL if it is still there after
 * 10 s; returns once it is gone. */
int ctl_private_bus_stop(pid_t pid);

/* $TROUPE_LIBEXECDIR/<name>, else the compiled-in TROUPE_LIBEXECDIR; -ENOENT if not executable. */
int ctl_libexec_path(const char *name, char **ret);

/* Starts `troupe-supervisord --suite` in a new session, stdin from /dev/null and output appended
 * to `log_path`, with TROUPE_BUS_ADDRESS=`address`. The child is ours until we exit. */
int ctl_supervisor_start(const char *address, const char *log_path, pid_t *ret_pid);

/* Waits until `pid` (not necessarily our child) is gone or `timeout` passed: 0 or -ETIMEDOUT. */
int ctl_pid_wait_gone(pid_t pid, usec_t timeout);

/* SIGTERM to our child `pid`, SIGKILL after 10 s, and reaps it. */
int ctl_child_stop(pid_t pid);

/* Polls until every name of the suite answers (present) or none is owned (!present), for at most
 * CTL_SUITE_TIMEOUT_USEC. When `child` > 0 and it exits meanwhile, returns -ECHILD with its wait
 * status in *ret_status. Returns -ETIMEDOUT when the time runs out. */
int ctl_suite_wait(sd_bus *bus, bool present, pid_t child, int *ret_status);

/* Whether `name` has an owner that answers a Ping (never auto-starting it). */
bool ctl_name_answers(sd_bus *bus, const char *name, const char *path);

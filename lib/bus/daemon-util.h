/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* daemon-util.h: the common start and end of a daemon's run(): event loop, signals, watchdog, sd_notify. */
#pragma once

#include <systemd/sd-event.h>

/* The thread's default event loop, which SIGTERM and SIGINT make exit with code 0 (the signals are
 * blocked and read through a signalfd), with the watchdog enabled when $WATCHDOG_USEC asks for it. */
int daemon_event_new(sd_event **ret);
/* The same, but SIGTERM and SIGINT call `on_stop` instead, for a daemon that has work to finish
 * (stopping its children) before it ends the loop itself with sd_event_exit(). */
int daemon_event_new_with_stop(sd_event_signal_handler_t on_stop, void *userdata, sd_event **ret);

/* READY=1 with STATUS=`status` (no newline allowed); 0 when not started by a service manager. */
int daemon_notify_ready(const char *status);
/* STOPPING=1; 0 when not started by a service manager. */
int daemon_notify_stopping(void);

/* Announces readiness, runs the loop until it exits, announces STOPPING=1 and returns the loop's
 * exit code (or a negative errno). Failed notifications are ignored: they do not stop a daemon
 * that works, and a service manager that misses READY=1 reports it on its own. */
int daemon_event_loop(sd_event *event, const char *status);

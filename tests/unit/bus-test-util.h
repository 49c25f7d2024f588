/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bus-test-util.h: a private dbus-daemon for tests, in its own temporary directory, and child waits. */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "basic/time-util.h"

typedef struct TestBus {
        pid_t pid;
        char *dir;     /* holds the configuration and the listening socket */
        char *address; /* as dbus-daemon printed it: for TROUPE_BUS_ADDRESS or busctl --address= */
} TestBus;

/* The first executable `name` in $PATH, or NULL. */
char *test_find_executable(const char *name);

/* $DBUS_DAEMON when it names an executable, else dbus-daemon from $PATH; NULL when there is none. */
char *test_bus_find_daemon(void);

/* Call first in test_suite(): without a dbus-daemon, prints a TAP plan that skips every test, with
 * the reason, and exits. (Under the TAP driver a skipped program says so in its plan; an exit
 * status of 77 would count as an error.) */
void test_bus_skip_if_unavailable(void);

/* Starts dbus-daemon with a minimal session configuration listening in a new temporary directory.
 * It gets SIGKILL if the calling process dies first, so a crashed test leaves no daemon behind. */
int test_bus_start(TestBus **ret);
/* Stops the daemon, removes the directory; accepts NULL, returns NULL. */
TestBus *test_bus_stop(TestBus *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(TestBus *, test_bus_stop);

/* A client connection to the test bus, with method calls timing out after 10 s. */
int test_bus_connect(const TestBus *b, sd_bus **ret);

/* fork() for tests: stdio is flushed first so nothing is written twice, and the child gets the
 * default SIGTERM/SIGINT dispositions back (check's forwarding handler would otherwise signal the
 * whole test) and SIGKILL when the test process dies. Returns the pid, 0 in the child, or -errno. */
pid_t test_fork(void);

/* Waits up to `timeout` for pid to exit and returns 0 with its wait status, or kills it, reaps it
 * and returns -ETIMEDOUT. */
int test_wait_pid(pid_t pid, usec_t timeout, int *ret_status);

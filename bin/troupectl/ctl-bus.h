/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ctl-bus.h: choosing and opening the bus, the suite's services, calls and error reporting. */
#pragma once

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "ctl.h"

typedef struct CtlService {
        const char *name; /* bus name */
        const char *path; /* the manager object */
        const char *interface; /* the manager interface */
} CtlService;

extern const CtlService ctl_registry, ctl_supervisor, ctl_router;
/* The three in the order the suite starts them, for status, health, up and down. */
extern const CtlService *const ctl_suite[3];

#define CTL_TASK_PREFIX "/org/troupe/Registry1/task"
#define CTL_TASK_INTERFACE "org.troupe.Registry1.Task"
#define CTL_AGENT_INTERFACE "org.troupe.Registry1.Agent"
#define CTL_CONSENT_PREFIX "/org/troupe/Registry1/consent"
#define CTL_CONSENT_INTERFACE "org.troupe.Registry1.Consent"
#define CTL_PROCESS_PREFIX "/org/troupe/Supervisor1/process"
#define CTL_PROCESS_INTERFACE "org.troupe.Supervisor1.Process"

/* Picks the address as troupectl(1) describes: --bus-address, $TROUPE_BUS_ADDRESS, the private
 * bus recorded by `troupectl up` while its dbus-daemon lives, else the session bus (NULL address).
 * Does not connect. */
int ctl_bus_choose(Ctl *c, CtlBusSource *ret_source, char **ret_address);

/* The connection, opened on first use with ctl_bus_choose(); logs how to fix a failure. */
int ctl_bus(Ctl *c, sd_bus **ret);

/* Connects to `address`, or to the session bus when it is NULL, without logging. */
int ctl_bus_open_address(const char *address, sd_bus **ret);

/* Whether an error reply says the object, task or agent does not exist. */
bool ctl_error_is_no_such_object(const sd_bus_error *error);
/* Whether an error reply says no one owns the bus name. */
bool ctl_error_is_not_running(const sd_bus_error *error);

/* Logs a failed call on `service` with the best advice for the error, and returns -abs(r). */
int ctl_log_call_error(Ctl *c, const CtlService *service, const char *what, const sd_bus_error *error,
                       int r);

/* Calls org.freedesktop.DBus.Properties.GetAll and converts the answer into a JSON object whose
 * keys are the property names in snake_case. Errors are returned, not logged. */
int ctl_get_properties(sd_bus *bus, const char *destination, const char *path, const char *interface,
                       sd_bus_error *error, json_t **ret);

/* "LastHeartbeatUSec" -> "last_heartbeat_usec": a '_' goes before each capital that follows a
 * lower-case letter or a digit. */
int ctl_snake_case(const char *name, char **ret);

/* Reads one complete value of any D-Bus type at the current position of `m` as JSON: variants
 * are unwrapped, dictionaries become objects, arrays and structs become arrays. */
int ctl_message_read_json(sd_bus_message *m, json_t **ret);

/* Reads an "h" from `m` and returns a duplicate the caller owns (O_CLOEXEC). */
int ctl_message_read_fd(sd_bus_message *m, int *ret);

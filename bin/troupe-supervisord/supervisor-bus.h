/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervisor-bus.h: org.troupe.Supervisor1 on the bus: the Manager and Process vtables and the
 * signals the rest of the daemon emits through them. */
#pragma once

#include "process.h"
#include "supervisor.h"

/* Manager object, process objects (fallback vtable + enumerator), ObjectManager, LogControl1. */
int supervisor_bus_add(Context *c);

/* InterfacesAdded / InterfacesRemoved for a process object. */
void supervisor_bus_process_added(Process *p);
void supervisor_bus_process_removed(Process *p);
/* PropertiesChanged for the properties that change (State, Pid, ExitStatus, ...). */
void supervisor_bus_process_changed(Process *p);
/* ProcessExited(id, code, status). */
void supervisor_bus_process_exited(Process *p);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* routerd-bus.h: org.troupe.Router1 on the bus: the vtable and its handlers. */
#pragma once

#include "routerd.h"

/* Adds the Router1 object, LogControl1 and the signal matches, then takes the bus name. */
int router_bus_setup(Context *c);
/* PropertiesChanged for Cards and CardDirectories, after a reload. */
void router_bus_emit_cards_changed(Context *c);

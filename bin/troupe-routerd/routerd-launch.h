/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* routerd-launch.h: starting an agent through the supervisor and waiting for it to register. */
#pragma once

#include <jansson.h>
#include <systemd/sd-bus.h>

#include "routerd.h"

struct Launch {
        Context *context;
        char *agent;
        char *process_id;       /* from Spawn()'s reply */
        char *process_path;
        bool restarts;          /* the supervisor restarts it on failure: an exit is not the end */
        sd_bus_slot *spawn_slot;
        sd_event_source *timer; /* the registration deadline */
        Submit *waiters;
        size_t n_waiters;
        uint64_t started_usec;
        Launch *prev, *next;
};

/* Makes `s` wait for `agent` to register, asking the supervisor to start it unless a launch of
 * that agent is under way already: concurrent Submits of one agent start it once. Refusals (no
 * card, no executable) are set in `error`. */
int launch_join(Context *c, const char *agent, Submit *s, sd_bus_error *error);
/* Takes `s` off its launch's waiters (it is being freed). */
void launch_leave(Submit *s);

/* Subscribes to the registry's AgentStateChanged and the supervisor's ProcessExited. */
int launch_add_matches(Context *c);

Launch *launch_free(Launch *l);
int launch_to_json(const Launch *l, json_t **ret);

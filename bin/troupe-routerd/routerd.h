/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* routerd.h: troupe-routerd's state, one Context for the whole daemon. */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"
#include "routerd-cards.h"

#define ROUTER_BUS_NAME "org.troupe.Router1"
#define ROUTER_PATH "/org/troupe/Router1"
#define ROUTER_INTERFACE "org.troupe.Router1"

#define REGISTRY_BUS_NAME "org.troupe.Registry1"
#define REGISTRY_PATH "/org/troupe/Registry1"
#define REGISTRY_MANAGER_INTERFACE "org.troupe.Registry1.Manager"

#define SUPERVISOR_BUS_NAME "org.troupe.Supervisor1"
#define SUPERVISOR_PATH "/org/troupe/Supervisor1"
#define SUPERVISOR_MANAGER_INTERFACE "org.troupe.Supervisor1.Manager"
#define SUPERVISOR_PROCESS_INTERFACE "org.troupe.Supervisor1.Process"

/* How long Submit waits for a spawned agent to register. */
#define ROUTER_SPAWN_TIMEOUT_DEFAULT_USEC (10 * USEC_PER_SEC)
/* Submits in flight at once (each holds a bus message and a pending call); more are Overloaded. */
#define ROUTER_SUBMITS_MAX 1024U
/* Agents started by this router that Describe() remembers. */
#define ROUTER_SPAWNED_MAX 64U

typedef struct Launch Launch;
typedef struct Submit Submit;

/* An agent this router asked the supervisor to start. */
typedef struct Spawned {
        char *agent;
        char *process_id;
        char *process_path;
        uint64_t realtime_usec;
} Spawned;

typedef struct Context {
        sd_event *event;
        sd_bus *bus;
        CardSet *cards;
        uint64_t spawn_timeout_usec;

        Launch *launches; /* agents being started, one per name */
        Submit *submits;  /* Submit calls not answered yet */
        size_t n_submits;

        Spawned spawned[ROUTER_SPAWNED_MAX]; /* ring buffer, newest at (n_spawned - 1) % MAX */
        uint64_t n_spawned;
        uint64_t n_submitted; /* Submit calls answered with a task */
        uint64_t n_failed;    /* Submit calls answered with an error */

        sd_bus_slot *match_agent_state;
        sd_bus_slot *match_process_exited;
        sd_event_source *sighup_source;
} Context;

int context_new(sd_event *event, Context **ret);
Context *context_free(Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Context *, context_free);

/* Reads the card directories again; on failure the cards loaded before stay. */
int context_reload_cards(Context *c);
/* Remembers an agent we started, for Describe(). */
void context_remember_spawn(Context *c, const char *agent, const char *process_id, const char *process_path);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* routerd-submit.h: one Submit() call on its way: is the agent there, start it, create the task. */
#pragma once

#include <systemd/sd-bus.h>

#include "routerd.h"

/* Keys of Submit()'s params that are passed on to CreateTask; at most this many. */
#define SUBMIT_PARAMS_MAX 64U

struct Submit {
        Context *context;
        sd_bus_message *request; /* the Submit() call, answered when the task exists */
        char *agent;
        char *prompt;
        sd_bus_slot *slot;       /* ListAgents or CreateTask in flight */
        Launch *launch;          /* waiting for this agent to register */
        uint64_t started_usec;
        Submit *prev, *next;               /* Context.submits */
        Submit *launch_prev, *launch_next; /* Launch.waiters */
};

/* Checks Submit()'s a{sv} params (they are passed on to CreateTask, which checks their values):
 * at most SUBMIT_PARAMS_MAX keys, none of them "prompt", which is Submit()'s own argument. Leaves
 * the message after the array. */
int submit_check_params(sd_bus_message *m, sd_bus_error *error);

/* Answers `request` (target, prompt, params: the params not read yet) later with the task made
 * for `agent`, starting the agent first when it is not registered. */
int submit_start(Context *c, sd_bus_message *request, const char *agent, const char *prompt);

/* The launch the submit waited for has registered its agent: create the task. */
void submit_agent_ready(Submit *s);
/* Answers with `error` and frees the submit. */
void submit_fail(Submit *s, const sd_bus_error *error);

Submit *submit_free(Submit *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Submit *, submit_free);

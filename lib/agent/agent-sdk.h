/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agent-sdk.h: what an agent is built on: connect, register, heartbeat, run tasks, report, reconnect. */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <systemd/sd-event.h>

#include "agent/agentcard.h"
#include "basic/macro.h"
#include "troupe/v1/task.pb-c.h"

/* How to write an agent: docs/agent-sdk.md. In short, an agent is a card, a start handler and
 *
 *     int main(int argc, char *argv[]) {
 *             static const AgentDefinition def = { .name = "echo", .start = echo_start };
 *             return agent_main(&def, argc, argv);
 *     }
 *
 * Everything runs on one sd-event loop: handlers must not block; long work is done from timers,
 * I/O sources or child processes, and a task ends whenever the agent calls agent_task_complete(),
 * agent_task_fail() or agent_task_canceled(), from the start handler or any later event. */

/* Reconnection after the registry went away: 100 ms doubling to 5 s, each plus up to 25% jitter. */
#define AGENT_RECONNECT_MIN_USEC (100 * USEC_PER_MSEC)
#define AGENT_RECONNECT_MAX_USEC (5 * USEC_PER_SEC)
/* Tasks one agent runs at once; StartTask beyond this is rejected as busy. */
#define AGENT_TASKS_MAX 256U
/* A registry that acknowledges no heartbeat for this many intervals is taken for dead. */
#define AGENT_HEARTBEAT_MISSES_MAX 10U
/* After SIGTERM, the longest the agent waits for its last messages to be delivered. */
#define AGENT_STOP_TIMEOUT_USEC (2 * USEC_PER_SEC)

typedef struct Agent Agent;
typedef struct AgentTask AgentTask;

typedef enum AgentLogStream {
        AGENT_LOG_AGENT = TROUPE__V1__TASK_EVENT__LOG_STREAM__LOG_STREAM_AGENT,
        AGENT_LOG_STDOUT = TROUPE__V1__TASK_EVENT__LOG_STREAM__LOG_STREAM_STDOUT,
        AGENT_LOG_STDERR = TROUPE__V1__TASK_EVENT__LOG_STREAM__LOG_STREAM_STDERR,
} AgentLogStream;

/* Called for each StartTask. Return 0 to accept the task: it is then running until the agent ends
 * it. Return a negative errno to reject it (TaskAccepted false), with the reason set by
 * agent_task_set_reject_reason() or else the errno's description. A task ended from inside the
 * handler is accepted and ends at once. */
typedef int (*AgentStartHandler)(Agent *a, AgentTask *t, void *userdata);

/* Called when the registry cancels a running task, and for every running task on SIGTERM. Stop the
 * work and drop every reference to `t` (timers, child watches) before returning 0: the SDK then
 * ends the task canceled and frees it. Return 1 to end it later yourself, with
 * agent_task_canceled() (or its real outcome, if it finished first). Without a handler, the task
 * is ended canceled at once, so agents that keep references to tasks must set one. */
typedef int (*AgentCancelHandler)(Agent *a, AgentTask *t, void *userdata);

typedef struct AgentDefinition {
        const char *name;        /* the agent's name, as in its card; finds the card when no path is given */
        const char *card_path;   /* the card; --card and $TROUPE_AGENT_CARD override it; NULL: searched by name */
        const char *summary;     /* one line for --help */
        AgentStartHandler start; /* mandatory */
        AgentCancelHandler cancel;
        void *userdata;
} AgentDefinition;

/* The whole main() of an agent: parses --help, --version and --card=PATH, sets up logging, runs
 * the agent on the default event loop until SIGTERM, SIGINT or an idle timeout, and returns the
 * process exit status (0 after a clean stop). */
int agent_main(const AgentDefinition *def, int argc, char *argv[]);

/* The building blocks agent_main() uses, for agents that need their own loop setup. */
int agent_new(sd_event *event, const AgentDefinition *def, Agent **ret);
Agent *agent_free(Agent *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Agent *, agent_free);

/* Where the card is read from (before agent_start()), over $TROUPE_AGENT_CARD and the definition. */
int agent_set_card_path(Agent *a, const char *path);
/* Connects to this socket path instead of the one lib/paths and $TROUPE_AGENT_SOCKET give. */
int agent_set_socket_path(Agent *a, const char *path);
/* Uses this connected socket for the first connection instead of $TROUPE_AGENT_FD; takes the fd. */
int agent_set_fd(Agent *a, int fd);
/* Whether SIGTERM and SIGINT stop the agent (default true; tests running several agents in one
 * process turn it off and call agent_stop()). */
void agent_set_handle_signals(Agent *a, bool b);

/* Loads and validates the card, then connects (the inherited fd, else the socket path) and
 * registers; failures to connect are retried with backoff from the event loop. Errors: the card's
 * (reading or parsing; logged with the reason). */
int agent_start(Agent *a);
/* What SIGTERM does: cancels running tasks, sends a last Heartbeat with stopping set, closes the
 * connection and, once delivered, exits the event loop with `code`. */
int agent_stop(Agent *a, int code);

const AgentCard *agent_get_card(Agent *a);
sd_event *agent_get_event(Agent *a);
/* True once the registry accepted the Register on the current connection. */
bool agent_is_registered(Agent *a);
/* The interval the registry asked for in its last RegisterReply (0 before the first). */
uint64_t agent_get_heartbeat_interval_usec(Agent *a);
/* Number of tasks started and not ended yet. */
size_t agent_get_n_tasks(Agent *a);
/* Connections opened so far (1 after the first registration, 2 after one reconnection, ...). */
unsigned agent_get_n_connections(Agent *a);

/* The task's id, workspace (absolute path), raw parameters and parameters as an object ({} when
 * none were given; borrowed, valid as long as the task). */
const char *agent_task_get_id(AgentTask *t);
const char *agent_task_get_workspace(AgentTask *t);
const char *agent_task_get_params_json(AgentTask *t);
json_t *agent_task_get_params(AgentTask *t);
Agent *agent_task_get_agent(AgentTask *t);
void agent_task_set_userdata(AgentTask *t, void *userdata);
void *agent_task_get_userdata(AgentTask *t);
/* Only meaningful inside the start handler, before it returns an error. */
int agent_task_set_reject_reason(AgentTask *t, const char *reason);

/* Events of a running task. While the registry is unreachable they are dropped (the registry can
 * journal nothing meanwhile); results are kept and delivered after reconnecting. Progress is
 * clamped to 0..1 and never goes down. A log text is split into lines, each cut at 16 KiB. */
int agent_task_progress(AgentTask *t, double fraction, const char *message);
int agent_task_log(AgentTask *t, AgentLogStream stream, const char *text);
int agent_task_logf(AgentTask *t, const char *format, ...) _printf_(2, 3);
/* Moves the task between working and input-required (the question goes in `message`). */
int agent_task_set_input_required(AgentTask *t, bool input_required, const char *message);

/* Ending a task: each sends the TaskResult and frees `t`, which must not be used afterwards.
 * `result` is any JSON value (NULL for none); result_json must be valid JSON. */
int agent_task_complete(AgentTask *t, json_t *result);
int agent_task_complete_json(AgentTask *t, const char *result_json);
int agent_task_fail(AgentTask *t, const char *error);
int agent_task_failf(AgentTask *t, const char *format, ...) _printf_(2, 3);
int agent_task_canceled(AgentTask *t);

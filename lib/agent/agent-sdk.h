/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agent-sdk.h: what an agent is built on: connect, register, heartbeat, run tasks, report, reconnect. */
#pragma once

#include <jansson.h>
#include <stdarg.h>
#include <systemd/sd-event.h>

#include "agent/agentcard.h"
#include "basic/macro.h"
#include "troupe/v1/exec.pb-c.h"
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

/* ---- Typed parameters ----
 *
 * Agents that declare typed parameters get them from StartTask as well as params_json. Strings are
 * UTF-8 within the proto's limits (the SDK rejects a StartTask that exceeds them); what the values
 * mean, and whether they are acceptable, is the agent's to check. */

typedef struct AgentBootstrapOption {
        char *key;   /* 1..64 bytes */
        char *value; /* at most 1 KiB */
} AgentBootstrapOption;

/* proto/troupe/v1/bootstrap.proto */
typedef struct AgentBootstrapParams {
        char *stack;        /* template name, 1..64 bytes */
        char *project_name; /* 1..64 bytes */
        AgentBootstrapOption *options; /* in the order given, at most 64 */
        size_t n_options;
        bool force;         /* replace an existing project folder */
        bool open;          /* after success, ask for exec.editor on the project (bootstrap.proto) */
} AgentBootstrapParams;

/* The task's BootstrapParams (borrowed, valid as long as the task), or NULL when StartTask carried
 * none. */
const AgentBootstrapParams *agent_task_get_bootstrap_params(AgentTask *t);

/* ---- Asking the suite: commands and privileged actions ----
 *
 * Both are asynchronous: the call sends the request with the task's capability token (from
 * StartTask) and a request id of the SDK's, and returns; the handler is called from the event loop
 * when the answer comes. The call fails at once with -ENOTCONN while the registry is unreachable,
 * -EINVAL for bad arguments or an ended task. A handler may end the task. Ending a task forgets its
 * outstanding requests (their handlers are not called); losing the connection answers them with an
 * error, since the registry cannot deliver their results any more. */

#define AGENT_EXEC_OUTPUT_MAX (16U * 1024U)

typedef struct AgentExecOptions {
        const char *cwd;       /* relative to the workspace, without "." or ".."; NULL or "": the workspace */
        char *const *env;      /* extra "NAME=value" entries (not TROUPE_*), NULL-terminated; NULL: none */
        uint64_t timeout_usec; /* the command is killed after it; 0: the registry's default (10 min) */
} AgentExecOptions;

typedef struct AgentExecResult {
        const char *request_id;
        bool exited;            /* it exited with exit_code */
        int exit_code;          /* 0..255 when exited */
        int signal;             /* the signal that killed it (a timeout's SIGKILL too), else 0 */
        /* The last bytes of its stdout and stderr, merged in the order they were written (one pipe),
         * at most AGENT_EXEC_OUTPUT_MAX; raw bytes, not necessarily UTF-8 or NUL-terminated. The
         * whole output went to the task's events as log lines while it ran. */
        const uint8_t *output;
        size_t output_size;
        bool output_truncated;  /* earlier output is not in `output` */
        /* Why it was not run (refused, bad request, no supervisor...) or was stopped ("timed out
         * after N ms", the task was canceled); NULL otherwise. */
        const char *error;
        uint64_t duration_usec;
} AgentExecResult;

/* Everything in `result` is borrowed for the duration of the call. */
typedef void (*AgentExecHandler)(AgentTask *t, const AgentExecResult *result, void *userdata);

/* Runs argv (argv[0] an absolute path: /usr/bin/python3, not python3) confined to the task's
 * workspace, under the task profile and the card's limits; needs exec.command in the card. */
int agent_task_exec(AgentTask *t, char *const *argv, const AgentExecOptions *o, AgentExecHandler h,
                    void *userdata);

typedef enum AgentActionStatus {
        AGENT_ACTION_DONE = TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DONE,
        AGENT_ACTION_DENIED = TROUPE__V1__ACTION_STATUS__ACTION_STATUS_DENIED,
        /* The user is being asked; the handler is called again with the final status. */
        AGENT_ACTION_CONSENT_PENDING = TROUPE__V1__ACTION_STATUS__ACTION_STATUS_CONSENT_PENDING,
        AGENT_ACTION_FAILED = TROUPE__V1__ACTION_STATUS__ACTION_STATUS_FAILED,
} AgentActionStatus;

typedef struct AgentActionResult {
        const char *request_id;
        AgentActionStatus status;
        const char *message;    /* human-readable detail; "" when none */
        const char *consent_id; /* with CONSENT_PENDING: the consent request; "" otherwise */
} AgentActionResult;

/* Called once, or twice when the first status is CONSENT_PENDING. */
typedef void (*AgentActionHandler)(AgentTask *t, const AgentActionResult *result, void *userdata);

/* Asks for a privileged action, e.g. "exec.editor" with a workspace-relative path; args may be
 * NULL. */
int agent_task_action(AgentTask *t, const char *action, char *const *args, AgentActionHandler h,
                      void *userdata);

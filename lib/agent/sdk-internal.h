/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdk-internal.h: the agent SDK's state, shared by its files (agent-sdk.c, sdk-link.c, sdk-task.c,
 * sdk-request.c). */
#pragma once

#include <jansson.h>
#include <systemd/sd-event.h>

#include "agent/agent-sdk.h"
#include "agent/agentcard.h"
#include "ipc/connection.h"

/* Limits of what the SDK sends, from the proto's comments. */
#define AGENT_TEXT_MAX 1024U            /* reasons, errors, progress messages */
#define AGENT_LOG_LINE_MAX (16U * 1024U) /* one log line */
#define AGENT_JSON_MAX (64U * 1024U)     /* params and results */
#define AGENT_TASK_ID_MAX 64U
#define AGENT_WORKSPACE_MAX 4096U
#define AGENT_TOKEN_MAX 4096U /* StartTask.capability_token */
#define AGENT_REQUEST_ID_MAX 64U

typedef enum AgentLink {
        AGENT_LINK_DISCONNECTED, /* no connection; the reconnect timer may be armed */
        AGENT_LINK_REGISTERING,  /* Register sent, waiting for RegisterReply */
        AGENT_LINK_REGISTERED,
} AgentLink;

typedef struct AgentRequest AgentRequest;

struct AgentTask {
        Agent *agent;
        char *id;
        char *workspace;
        char *params_json;
        json_t *params;
        void *token; /* the capability token of the last StartTask, sent back with every request */
        size_t token_size;
        AgentBootstrapParams *bootstrap;
        void *userdata;
        char *reject_reason;
        double progress;
        bool in_handler;       /* inside the start or cancel handler: an end is delivered after it */
        bool accepted;         /* TaskAccepted(true) was sent */
        bool input_required;
        bool cancel_requested; /* the cancel handler was called */
        bool canceling;        /* ... and asked to end the task later itself */
        bool ended;          /* a final call was made; the result waits to be sent */
        Troupe__V1__TaskState final_state;
        char *result_json;
        char *error;
        AgentTask *prev, *next;
};

struct Agent {
        sd_event *event;
        AgentDefinition def; /* strings borrowed from the caller */
        char *card_path;
        char *card_json;
        AgentCard *card;
        char *socket_path;
        int first_fd;        /* inherited connection, used once */
        bool handle_signals;

        IpcConnection *connection;
        AgentLink link;
        unsigned n_connections;
        unsigned reconnect_attempt;
        sd_event_source *reconnect_timer;
        sd_event_source *heartbeat_timer;
        uint64_t heartbeat_interval_usec;
        unsigned heartbeats_unacked;

        AgentTask *tasks;    /* running, and ended ones whose result is not delivered yet */
        size_t n_tasks;

        AgentRequest *requests; /* ExecRequests and ActionRequests waiting for their answer */
        uint64_t n_requests_sent;

        sd_event_source *idle_timer;
        sd_event_source *signal_sources[2];
        sd_event_source *stop_timer;
        bool stopping;
        int exit_code;
};

/* sdk-link.c: the connection to the registry. */
/* Connects now, or schedules retries with backoff when the registry cannot be reached. */
int agent_link_start(Agent *a);
int agent_link_connect(Agent *a);
/* Closes the connection (a stalled registry); reconnecting follows. */
void agent_link_drop(Agent *a);
/* Sends on a registered connection; -ENOTCONN when there is none. */
int agent_link_send(Agent *a, const IpcEnvelope *e);
/* Sends the last Heartbeat (stopping) and closes; no reconnecting follows. */
int agent_link_stop(Agent *a);
void agent_link_free(Agent *a);

/* sdk-task.c: tasks. */
int agent_task_dispatch_start(Agent *a, const Troupe__V1__StartTask *st);
int agent_task_dispatch_cancel(Agent *a, const Troupe__V1__CancelTask *ct);
/* Sends the results of tasks that ended while the registry was away. */
void agent_tasks_flush(Agent *a);
/* Cancels every running task (SIGTERM). */
void agent_tasks_cancel_all(Agent *a, const char *reason);
void agent_tasks_free(Agent *a);
/* The ids of tasks the registry should consider ours (all of them, or only the running ones). */
int agent_tasks_ids(Agent *a, bool running_only, char ***ret);

/* sdk-request.c: ExecRequest and ActionRequest. */
int agent_requests_dispatch_exec_result(Agent *a, const Troupe__V1__ExecResult *res);
int agent_requests_dispatch_action_result(Agent *a, const Troupe__V1__ActionResult *res);
/* The task ends: its requests are forgotten, their handlers not called. */
void agent_requests_forget_task(AgentTask *t);
/* The connection is gone: every request is answered with an error. */
void agent_requests_fail_all(Agent *a, const char *why);
void agent_requests_free(Agent *a);
/* Copies StartTask's typed parameters; -EINVAL (with *ret_reason) when they exceed the proto's limits. */
int agent_bootstrap_params_copy(const Troupe__V1__BootstrapParams *p, AgentBootstrapParams **ret,
                                const char **ret_reason);
AgentBootstrapParams *agent_bootstrap_params_free(AgentBootstrapParams *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(AgentBootstrapParams *, agent_bootstrap_params_free);

/* agent-sdk.c: called when the task count changes, to arm or disarm the card's idle timeout. */
void agent_update_idle(Agent *a);
/* Called when the connection is gone for good while stopping. */
void agent_stop_finished(Agent *a);

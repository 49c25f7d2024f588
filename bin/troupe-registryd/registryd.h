/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd.h: troupe-registryd's state: the Context, agents, their connections, tasks and event readers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "agent/agentcard.h"
#include "audit/audit.h"
#include "basic/macro.h"
#include "basic/time-util.h"
#include "ipc/connection.h"
#include "list.h"
#include "registryd-journal.h"

#define REGISTRY_BUS_NAME "org.troupe.Registry1"
#define REGISTRY_PATH "/org/troupe/Registry1"
#define REGISTRY_AGENT_PREFIX "/org/troupe/Registry1/agent"
#define REGISTRY_TASK_PREFIX "/org/troupe/Registry1/task"
#define REGISTRY_CONSENT_PREFIX "/org/troupe/Registry1/consent"
#define REGISTRY_MANAGER_INTERFACE "org.troupe.Registry1.Manager"
#define REGISTRY_AGENT_INTERFACE "org.troupe.Registry1.Agent"
#define REGISTRY_TASK_INTERFACE "org.troupe.Registry1.Task"
#define REGISTRY_CONSENT_INTERFACE "org.troupe.Registry1.Consent"

/* Defaults of the command line options (see troupe-registryd(8)). */
#define HEARTBEAT_INTERVAL_USEC_DEFAULT (1 * USEC_PER_SEC)
#define HEARTBEAT_INTERVAL_USEC_MIN (10 * USEC_PER_MSEC)
#define HEARTBEAT_INTERVAL_USEC_MAX (60 * USEC_PER_SEC)
#define HEARTBEATS_UNRESPONSIVE 3U
#define HEARTBEATS_LOST 10U
#define MAX_CONNECTIONS_DEFAULT 16384U
#define MAX_UNREGISTERED_DEFAULT 1024U
#define REGISTER_TIMEOUT_USEC_DEFAULT (10 * USEC_PER_SEC)
#define RECLAIM_GRACE_USEC_DEFAULT (30 * USEC_PER_SEC)
#define CANCEL_TIMEOUT_USEC_DEFAULT (5 * USEC_PER_SEC)
#define MAX_FINISHED_TASKS_DEFAULT 10000U
#define MAX_EVENT_READERS_DEFAULT 1024U
#define CONSENT_TIMEOUT_USEC_DEFAULT (120 * USEC_PER_SEC)
#define CONSENT_TIMEOUT_SEC_MAX 86400U
#define MAX_AGENTS 65536U
#define TOKEN_LIFETIME_USEC_DEFAULT (24 * 3600 * USEC_PER_SEC)
#define TOKEN_LIFETIME_SEC_MAX (366U * 24U * 3600U)

/* Limits on what agents and bus clients send. */
#define TASK_ID_LEN 16U
#define TASK_PARAMS_MAX ((size_t) 64U * 1024U)
#define TASK_RESULT_MAX ((size_t) 64U * 1024U)
#define TASK_MESSAGE_MAX ((size_t) 1024U)
#define TASK_LOG_TEXT_MAX ((size_t) 16U * 1024U)
#define AGENT_VERSION_MAX 64U
#define AGENT_SKILLS_MAX 64U
#define AGENT_TASK_IDS_MAX 256U
#define LIST_TASKS_LIMIT_DEFAULT 100U
#define LIST_TASKS_LIMIT_MAX 10000U

#define STRV_MAKE(...) ((char **) (const char *[]){__VA_ARGS__, NULL})

typedef struct Context Context;
typedef struct Agent Agent;
typedef struct AgentConn AgentConn;
typedef struct Task Task;
typedef struct EventReader EventReader;
typedef struct Exec Exec;
typedef struct TokenKey TokenKey;
typedef struct ConsentRequest ConsentRequest;
typedef struct ConsentPolicy ConsentPolicy;
typedef struct ActionPending ActionPending;

typedef enum AgentState {
        AGENT_REGISTERED,
        AGENT_HEALTHY,
        AGENT_UNRESPONSIVE,
        AGENT_LOST,
        AGENT_STOPPED,
        _AGENT_STATE_MAX,
        _AGENT_STATE_INVALID = -EINVAL,
} AgentState;

const char *agent_state_to_string(AgentState s) _const_;
AgentState agent_state_from_string(const char *s) _pure_;

typedef enum TaskState {
        TASK_SUBMITTED,
        TASK_ACCEPTED,
        TASK_WORKING,
        TASK_INPUT_REQUIRED,
        TASK_COMPLETED,
        TASK_FAILED,
        TASK_CANCELED,
        TASK_REJECTED,
        _TASK_STATE_MAX,
        _TASK_STATE_INVALID = -EINVAL,
} TaskState;

const char *task_state_to_string(TaskState s) _const_;
TaskState task_state_from_string(const char *s) _pure_;

static inline bool task_state_is_final(TaskState s) {
        return s >= TASK_COMPLETED;
}

/* Task properties whose change is announced at the next publication. */
typedef enum TaskProp {
        TASK_PROP_STATE = 1 << 0,
        TASK_PROP_PROGRESS = 1 << 1,
        TASK_PROP_FINISHED = 1 << 2,
        TASK_PROP_RESULT = 1 << 3,
        TASK_PROP_ERROR = 1 << 4,
} TaskProp;

typedef enum TaskTimer {
        TASK_TIMER_NONE,
        TASK_TIMER_CANCEL, /* CancelTask sent: the agent has until then to answer */
        TASK_TIMER_RECLAIM, /* waiting for the agent to come back (restart, or a retry) */
} TaskTimer;

/* An agent known by name. The object outlives its connections: it stays, lost or stopped, until
 * the same name registers again. */
struct Agent {
        Context *context;
        char *name;
        char *version;
        char **skills;
        uint32_t pid;
        AgentState state;
        bool retry; /* the card's exec.retry: dispatch a task once more after the agent died */
        bool stopping; /* its last heartbeat said it is shutting down on purpose */
        usec_t registered_usec; /* CLOCK_MONOTONIC */
        usec_t last_heartbeat_usec; /* CLOCK_MONOTONIC, 0 before the first */
        usec_t last_seen_usec; /* CLOCK_MONOTONIC: any message counts as a sign of life */
        AgentConn *conn; /* NULL unless connected */
        /* Its card as installed in the card directories (not the copy it sent with Register, which
         * it could have written itself): what its tokens grant and its commands' limits. NULL when
         * none is installed. Loaded at registration (registryd-token.c). */
        AgentCard *card;
        /* Its tasks that are not final (in creation order). */
        Task *tasks_head, *tasks_tail;
        LIST_FIELDS(Agent, agents);
};

/* One connection on the agent socket; `agent` is set once Register is accepted. */
struct AgentConn {
        Context *context;
        IpcConnection *ipc;
        Agent *agent;
        struct ucred ucred;
        uint32_t pid; /* the agent's: the peer's, or the child the peer handed the connection to */
        bool registered;
        bool unregistered_listed; /* on the context's list of connections still to register */
        usec_t accepted_usec; /* CLOCK_MONOTONIC */
        sd_event_source *register_timeout;
        LIST_FIELDS(AgentConn, conns);
        LIST_FIELDS(AgentConn, unregistered);
};

struct Task {
        Context *context;
        char id[TASK_ID_LEN + 1];
        char *agent_name;
        Agent *agent; /* set while the task is not final and its agent object exists */
        char *workspace;
        usec_t created_usec; /* CLOCK_REALTIME */
        usec_t finished_usec; /* CLOCK_REALTIME, 0 until final */
        TaskState state;
        double progress;
        char *error;
        uint64_t seq; /* last journaled event */
        uint64_t committed_seq; /* last event known to be committed, so readers may see it */
        bool retried; /* dispatched once more already */
        bool cancel_requested;
        bool dispatched; /* StartTask sent on the agent's current connection (or reclaimed) */
        unsigned n_execs_started; /* ExecRequests spawned so far: names its processes task-<id>-<n> */
        /* The workspace was made for this task (not reused) and the agent's card keeps workspaces of
         * completed tasks only: it is removed when the task ends otherwise, once its commands have
         * exited (removal_pending until then). */
        bool workspace_disposable;
        bool workspace_removal_pending;

        /* What the bus shows: the state as of the last commit. */
        TaskState pub_state;
        double pub_progress;

        /* Waiting for publication after the next commit. */
        bool is_new;
        bool is_dirty;
        uint32_t dirty_props;
        TaskState *pending_states;
        size_t n_pending_states;

        sd_event_source *timer;
        TaskTimer timer_kind;

        EventReader *readers_head, *readers_tail;
        LIST_FIELDS(Task, tasks); /* all tasks, oldest first */
        LIST_FIELDS(Task, agent_tasks); /* the agent's, or the orphans', non-final tasks */
        LIST_FIELDS(Task, dirty);
};

/* A pipe that streams one task's events (Task.OpenEvents). */
struct EventReader {
        Task *task;
        int fd;
        sd_event_source *io;
        uint64_t next_seq;
        char *buf;
        size_t buf_size, buf_off, buf_allocated;
        LIST_FIELDS(EventReader, readers);
};

struct Context {
        sd_event *event;
        sd_bus *bus;
        IpcServer *server;
        Journal *journal;
        char *socket_path;
        bool socket_owned; /* we bound it (not socket activation), so we remove it on exit */
        char *store_path;
        char *workspaces_dir;
        usec_t started_usec;

        /* Options. */
        usec_t heartbeat_interval_usec;
        size_t max_connections;
        size_t max_unregistered;
        usec_t register_timeout_usec;
        usec_t reclaim_grace_usec;
        usec_t cancel_timeout_usec;
        uint64_t max_finished_tasks;
        size_t max_event_readers;
        usec_t consent_timeout_usec;

        void *agents_by_name; /* tsearch() tree of Agent */
        Agent *agents_head, *agents_tail;
        size_t n_agents;
        sd_event_source *sweep_source;

        AgentConn *conns_head, *conns_tail;
        /* Connections that have not registered yet, oldest first. */
        AgentConn *unregistered_head, *unregistered_tail;
        size_t n_conns, n_unregistered;

        void *tasks_by_id; /* tsearch() tree of Task */
        Task *tasks_head, *tasks_tail;
        size_t n_tasks, n_finished_tasks;
        /* Non-final tasks whose agent has not registered since the registry started. */
        Task *orphans_head, *orphans_tail;

        /* Tasks with journaled but unpublished changes, and the deferred commit. */
        Task *dirty_head, *dirty_tail;
        sd_event_source *commit_source;

        size_t n_readers;

        /* Capability tokens (registryd-token.c). */
        TokenKey *token_key;
        usec_t token_lifetime_usec;
        /* Commands run for ExecRequests, oldest first (registryd-exec.c). */
        Exec *execs_head, *execs_tail;
        size_t n_execs;
        sd_bus_slot *exec_exited_slot; /* the supervisor's ProcessExited */

        /* Consent requests not yet settled, oldest first (registryd-consent.c). */
        ConsentRequest *consents_head, *consents_tail;
        size_t n_consents;
        ConsentPolicy *consent_policy; /* consent.json as last read */
        /* ActionRequests waiting for consent, the audit log or the supervisor (registryd-action.c). */
        ActionPending *actions_head, *actions_tail;
        size_t n_actions;

        /* The audit log (registryd-audit.c). */
        Audit *audit; /* NULL while it cannot be opened */
        char *audit_path;
        uint64_t audit_max_size; /* --audit-max-size, 0: no cap */
        bool audit_forget_anchor; /* --audit-forget-anchor */
        char *audit_error; /* why the last open or commit failed, NULL once one succeeds */
        char *audit_health_error; /* what audit_health() said last (the storage for the message) */
        AuditAnchor audit_anchor; /* the last head seen committed, kept in the journal */
        bool audit_anchor_kept; /* the log did not reach it at start-up: it stays as evidence */
        char *audit_anchor_damage; /* and what was found there */
        char *supervisor_owner; /* unique name owning org.troupe.Supervisor1: may RecordAudit() */
        sd_bus_slot *supervisor_owner_slot;
};

/* registryd-context.c */
void context_init_options(Context *c);
int context_new(Context **ret);
Context *context_free(Context *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Context *, context_free);
int context_load(Context *c);
int context_describe(void *userdata, json_t **ret);
int context_health(Context *c, char **ret);

/* registryd-publish.c: every change is journaled in the open transaction first and published
 * (signals, properties, readers) only after the commit. */
int context_journal_begin(Context *c);
int context_flush(Context *c);
void task_mark_dirty(Task *t, uint32_t props);
int task_queue_state(Task *t, TaskState s);

/* registryd-agent.c */
Agent *agent_get(Context *c, const char *name);
Agent *agent_free(Agent *a);
/* Binds the name to the connection (replacing an older one); call agent_resume_tasks() once the
 * RegisterReply is on its way, since that may send StartTask and CancelTask. */
int agent_register(Context *c, AgentConn *conn, const char *name, const char *version, char **skills,
                   bool retry, Agent **ret);
void agent_resume_tasks(Agent *a, char **claimed_task_ids);
void agent_heartbeat(Agent *a, bool stopping);
void agent_seen(Agent *a);
void agent_disconnected(Agent *a, AgentState state, const char *reason);
int agent_sweep_start(Context *c);
int agent_current_task_ids(Agent *a, char ***ret);
bool agent_is_connected(Agent *a);

/* registryd-conn.c */
int conn_server_start(Context *c);
AgentConn *conn_free(AgentConn *c);
/* StartTask with the task's capability token (registry_token_mint()). */
int conn_send_start_task(AgentConn *c, const Task *t, const char *params_json,
                         const Troupe__V1__BootstrapParams *bootstrap, const void *token, size_t token_size);
int conn_send_cancel_task(AgentConn *c, const char *task_id, const char *reason);
void conn_close(AgentConn *c, int reason, const char *message);

/* registryd-task.c */
Task *task_get(Context *c, const char *id);
int task_id_generate(Context *c, char ret[static TASK_ID_LEN + 1]);
/* Creates and journals a task; it appears on the bus and goes to its agent after context_flush(). */
int task_create(Context *c, Agent *a, const char *id, const char *workspace, const char *params_json,
                const char *prompt, Task **ret);
int task_load(Context *c, const JournalTask *row);
Task *task_free(Task *t);
int task_remove(Task *t);
int task_dispatch(Task *t);
int task_set_state(Task *t, TaskState s, json_t *extra);
int task_log(Task *t, const char *stream, const char *text);
int task_cancel(Task *t, const char *reason);
int task_agent_gone(Task *t, const char *why);
void task_agent_back(Agent *a, char **claimed_task_ids);
int task_handle_accepted(Task *t, bool accepted, const char *reason);
int task_handle_progress(Task *t, double fraction, const char *message);
int task_handle_log(Task *t, int stream, const char *text);
int task_handle_state(Task *t, TaskState s, const char *message);
int task_handle_result(Task *t, TaskState s, const char *result_json, const char *error);
/* The first log event of a task whose workspace was moved aside or is disposable: `text` for the
 * user, and what the registry needs to know again after a restart. */
int task_log_workspace(Task *t, const char *text);
/* One of the task's commands is done (registryd-exec.c): a pending workspace removal may go ahead. */
void task_exec_done(Context *c, const char *task_id);
/* registryd-exec.c: the task's commands not done yet (running, or about to be). */
size_t exec_count_task(Context *c, const char *task_id);

/* registryd-events.c */
int event_reader_open(Task *t, uint64_t after_seq, int *ret_fd);
EventReader *event_reader_free(EventReader *r);
void task_wake_readers(Task *t);

/* registryd-create.c: CreateTask(s agent, a{sv} params) -> (s id, o path), for the vtable. */
int method_create_task(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* registryd-bus.c */
int registry_bus_setup(Context *c);
void registry_emit_agent_added(Agent *a);
/* PropertiesChanged for `properties` (NULL: all that emit change), and AgentStateChanged if asked. */
void registry_emit_agent_changed(Agent *a, char **properties, bool state_signal);
void registry_emit_task_published(Task *t, bool added, uint32_t props, const TaskState *states,
                                  size_t n_states);

/* registryd-open.c: OpenWorkspace(s target, a{sv} options) -> (s status, s message), for the vtable. */
int method_open_workspace(sd_bus_message *m, void *userdata, sd_bus_error *error);

/* registryd-action.c: exec.editor on task t's workspace (or `path` beneath it) for the bus caller of
 * `call`, through the same capability, consent and audit pipeline as the agent's ActionRequest; the
 * finished task's workspace too. Bad arguments are set in `error` (InvalidArgs, PermissionDenied,
 * Overloaded); otherwise returns 1 and `call` is answered (status, message) once decided. */
int action_open_workspace(Context *c, Task *t, const char *path, sd_bus_message *call, sd_bus_error *error);

/* registryd-token.c: the installed card of `agent` read from the card directories now (for an
 * agent the registry has no object for); -ENOENT when none is installed. */
int registry_agent_card_load(const char *agent, AgentCard **ret);

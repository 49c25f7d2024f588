/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-privilege.h: what the registry's privileged paths share: the audit log
 * (registryd-audit.c), consent requests and grants (registryd-consent.c), capability tokens
 * (registryd-token.c), and the ExecRequest/ActionRequest handlers built on them
 * (registryd-exec.c, registryd-action.c). */
#pragma once

#include <jansson.h>

#include "registryd.h"
#include "token/token.h"

/* registryd-audit.c ------------------------------------------------------------------------- */

/* Called once per row given to registry_audit(): error 0 when the row is durable (now perform the
 * action), or the negative errno of the failed commit (refuse the action, say why). */
typedef void (*RegistryAuditDone)(Context *c, int error, void *userdata);

int registry_audit_open(Context *c);
void registry_audit_close(Context *c);
/* Queues a row (actor "registry" unless given). `done` may be NULL for rows that only record
 * (a refusal); when it is not NULL the privileged action must wait for it. Returns a negative errno
 * when the row could not even be queued (then `done` is not called): fail closed. */
int registry_audit(Context *c, const char *actor, const char *action, const char *task, const char *agent,
                   json_t *detail, RegistryAuditDone done, void *userdata);
/* NULL while the log is writable, else why it is not (for error messages and Health()). */
const char *registry_audit_unavailable(Context *c);

/* The rest of the audit side, for the bus methods, Describe() and Health(). */

/* registry_audit() of a whole entry, which also gives the row's seq (valid once `done` says 0).
 * -EINVAL for a malformed entry, -EMSGSIZE for a detail over AUDIT_DETAIL_MAX. */
int registry_audit_append(Context *c, const AuditEntry *entry, RegistryAuditDone done, void *userdata,
                          uint64_t *ret_seq);
/* The fail-closed refusal, org.troupe.Error.PermissionDenied: "The audit log cannot be written
 * (REASON): privileged actions are refused until it can." Returns the negative errno. */
int registry_audit_refused(Context *c, int error, sd_bus_error *ret_error);
/* audit_query() as compact JSON (task NULL: every row); works read-only while the writer cannot open. */
int registry_audit_query(Context *c, const char *task, uint64_t after_seq, unsigned max, char **ret);
/* audit_verify() against the anchor the registry keeps (the last head it saw committed). */
int registry_audit_verify(Context *c, AuditVerification *ret);
/* The "audit" member of Describe(). */
int registry_audit_describe(Context *c, json_t **ret);
/* Follows who owns org.troupe.Supervisor1; before the registry takes its own name. */
int registry_audit_bus_setup(Context *c);
/* RecordAudit() is accepted only from the current owner of org.troupe.Supervisor1. */
int registry_audit_check_recorder(Context *c, sd_bus_message *m, sd_bus_error *error);
/* Commits what is queued, closes the log and frees the audit state, at exit. */
void registry_audit_done(Context *c);

/* registryd-consent.c ----------------------------------------------------------------------- */

typedef enum ConsentDecision {
        CONSENT_ALLOW_ONCE,
        CONSENT_ALLOW_ALWAYS,
        CONSENT_DENY,
        CONSENT_EXPIRED, /* nobody answered in time: a deny */
        CONSENT_CANCELED, /* the task ended first: a deny */
        _CONSENT_DECISION_MAX,
        _CONSENT_DECISION_INVALID = -EINVAL,
} ConsentDecision;

const char *consent_decision_to_string(ConsentDecision d) _const_;
ConsentDecision consent_decision_from_string(const char *s) _pure_;

static inline bool consent_decision_allows(ConsentDecision d) {
        return d == CONSENT_ALLOW_ONCE || d == CONSENT_ALLOW_ALWAYS;
}

typedef void (*ConsentAnswered)(Context *c, const char *consent_id, ConsentDecision d, void *userdata);

/* What the stored "always" grants and the policy file say about `capability` for `agent`:
 * 1 allowed without asking, 0 ask the user, -EACCES the policy denies it. */
int consent_lookup(Context *c, const char *agent, const char *capability);
/* Raises a consent request for task `t`: an object on the bus and ConsentRequested. `answered` is
 * called exactly once, from the event loop (never from inside this call). ret_id may be NULL. */
int consent_request(Context *c, Task *t, const char *capability, const char *reason,
                    ConsentAnswered answered, void *userdata, char **ret_id);
/* The task ended: its pending requests are answered CONSENT_CANCELED. */
void consent_task_ended(Context *c, Task *t);

/* The rest of the consent API: the bus objects, grants and the registry's lifetime. */

#define CONSENT_ID_LEN 16U
#define CONSENT_REASON_MAX 1024U

typedef enum ConsentState {
        CONSENT_STATE_PENDING,
        CONSENT_STATE_ALLOWED,
        CONSENT_STATE_DENIED,
        CONSENT_STATE_EXPIRED,
        CONSENT_STATE_CANCELED,
        _CONSENT_STATE_MAX,
        _CONSENT_STATE_INVALID = -EINVAL,
} ConsentState;

const char *consent_state_to_string(ConsentState s) _const_;

typedef struct ConsentAnswer ConsentAnswer;

/* A question to the user, on the bus at REGISTRY_CONSENT_PREFIX/<id> until it is settled. */
struct ConsentRequest {
        Context *context;
        char id[CONSENT_ID_LEN + 1];
        char *task_id;
        char *agent;
        char *capability;
        char *reason;
        usec_t created_usec; /* CLOCK_REALTIME */
        usec_t expires_usec; /* CLOCK_REALTIME */
        ConsentState state;
        bool task_ended; /* answer CONSENT_CANCELED as soon as no other answer is in flight */
        ConsentAnswered answered;
        void *userdata;
        sd_event_source *timer; /* expiry (CLOCK_MONOTONIC), or the deferred cancel */
        ConsentAnswer *answer; /* the decision whose audit row is being written, if any */
        LIST_FIELDS(ConsentRequest, consents);
};

/* Who decided: the user (bus), a stored grant, the policy file, or the registry (timeout, cancel). */
typedef enum ConsentSource {
        CONSENT_SOURCE_USER,
        CONSENT_SOURCE_GRANT,
        CONSENT_SOURCE_POLICY,
        CONSENT_SOURCE_REGISTRY,
        _CONSENT_SOURCE_MAX,
        _CONSENT_SOURCE_INVALID = -EINVAL,
} ConsentSource;

const char *consent_source_to_string(ConsentSource s) _const_;

/* consent_lookup() that also says where the answer came from (unset when it is 0: ask). */
int consent_lookup_full(Context *c, const char *agent, const char *capability, ConsentSource *ret_source);
ConsentRequest *consent_get(Context *c, const char *id);
/* Answers a pending request for the user, from AnswerConsent() or Consent.Answer(): the decision is
 * audited, an "always" grant stored, and only then `call` gets its reply (an error, with the
 * request still pending, when either fails). Returns < 0 when the answer cannot even start. */
int consent_answer_call(ConsentRequest *req, ConsentDecision d, sd_bus_message *call, sd_bus_error *error);
/* Deletes the stored grant after auditing it ("consent-revoke"); replies to `call` once done.
 * -ENOENT (with `error` set) when there is no such grant. */
int consent_grant_revoke(Context *c, const char *agent, const char *capability, sd_bus_message *call,
                         sd_bus_error *error);
/* Reads the timeout and the policy file's path; called once at start-up. */
int consent_setup(Context *c);
/* Settles nothing: frees every request and the policy at exit. */
void consent_free_all(Context *c);

/* registryd-bus.c: InterfacesAdded and ConsentRequested; then, once settled, PropertiesChanged(State),
 * ConsentAnswered and InterfacesRemoved. */
void registry_emit_consent_added(ConsentRequest *req);
void registry_emit_consent_settled(ConsentRequest *req, ConsentDecision d);

/* registryd-action.c ------------------------------------------------------------------------ */

/* Handles an ActionRequest from a registered connection: token, consent, audit, perform. Answers
 * with one ActionResult, or CONSENT_PENDING and later a second one. */
int action_handle_request(AgentConn *conn, const IpcEnvelope *e);
/* Drops every ActionRequest still in flight, at exit. */
void action_free_all(Context *c);

/* registryd-token.c ------------------------------------------------------------------------- */

/* Loads or creates the registry's token key ($TROUPE_STATE_DIR/token.key, 0600). */
int registry_token_open(Context *c);
/* Mints the token of task `t` (task id, agent, the card's pre-granted capabilities, expiry). */
int registry_token_mint(Context *c, Task *t, void **ret, size_t *ret_size);
/* Checks a token sent by `conn` with an ExecRequest or ActionRequest for `task_id`: the MAC, the
 * expiry, that it names this task and the connection's agent, and (unless NULL) that it allows
 * `capability`. Refusals are audited ("token-refused") and return -EACCES (forged, wrong task or
 * agent, capability not in the token), -ETIME (expired), -ENOENT (no such task of this agent);
 * *reterr gets a message for the agent. On success *ret_task is the task. */
int registry_token_check(Context *c, AgentConn *conn, const char *task_id, const void *token, size_t size,
                         const char *capability, Task **ret_task, char **reterr);
/* registry_token_check() that also names the request in the audit row ("exec", "action") and hands
 * back the verified token (ret_token may be NULL): the exec path shapes the sandbox from it. */
int registry_token_check_full(Context *c, AgentConn *conn, const char *request, const char *task_id,
                              const void *token, size_t size, const char *capability, Task **ret_task,
                              Token **ret_token, char **reterr);
/* The agent's installed card (Agent.card), loaded now if it is not yet; NULL when it has none. */
const AgentCard *registry_agent_card(Context *c, const char *agent);
/* (Re)loads the agent's card from the card directories, at registration: a card changed on disk
 * applies to the tasks created after it registered again. */
void registry_agent_card_reload(Agent *a);
void registry_token_close(Context *c);

/* registryd-exec.c -------------------------------------------------------------------------- */

/* Commands one task, and the whole registry, run at once; ExecRequests beyond are refused (busy). */
#define EXEC_PER_TASK_MAX 16U
#define EXEC_MAX 256U

/* Handles an ExecRequest from a registered connection: validate, token (exec.command), audit, then
 * Spawn through the supervisor, stream the output into the task's journal, and answer with one
 * ExecResult when the command has ended (or could not be started). */
int exec_handle_request(AgentConn *conn, const IpcEnvelope *e);
/* Subscribes to the supervisor's ProcessExited; once the bus is connected. */
int exec_setup(Context *c);
/* Stops every command of task `t` that is running or about to be (the task is being canceled, has
 * ended, or its agent is gone); each one still gets its ExecResult, with `reason` as the error. */
void exec_task_stop(Task *t, const char *reason);
/* At exit: asks the supervisor to stop every command still running (nobody would read its result)
 * and forgets them all. */
void exec_free_all(Context *c);

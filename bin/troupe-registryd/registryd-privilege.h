/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-privilege.h: what the registry's privileged paths share: the audit log
 * (registryd-audit.c), consent requests and grants (registryd-consent.c), capability tokens
 * (registryd-token.c), and the ExecRequest/ActionRequest handlers built on them
 * (registryd-exec.c, registryd-action.c). */
#pragma once

#include <jansson.h>

#include "registryd.h"

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

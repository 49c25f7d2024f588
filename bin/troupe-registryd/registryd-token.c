/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capability tokens in the registry: the key, the agents' installed cards (what their tokens grant),
 * minting at dispatch, and the check every ExecRequest and ActionRequest goes through. The token
 * format and its rules are lib/token's (docs/tokens.md); this file decides what goes into a token
 * and audits every refusal. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/sdk-cards.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "paths/paths.h"
#include "registryd-privilege.h"

int registry_token_open(Context *c) {
        _cleanup_free_ char *state_dir = NULL, *path = NULL;
        char id[TOKEN_KEY_ID_STRING_SIZE];
        int r;

        r = troupe_path_get(TROUPE_PATH_STATE, &state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to determine the state directory: %m");
        path = strjoin(state_dir, "/token.key");
        if (!path)
                return log_oom();

        r = token_key_load_or_create(path, &c->token_key);
        if (r == -ELOOP)
                return log_error_errno(r, "Refusing token key %s: it is a symbolic link.", path);
        if (r == -EBADMSG)
                return log_error_errno(r, "Refusing token key %s: not a regular file of %u bytes.", path,
                                       TOKEN_KEY_SIZE);
        if (r == -EPERM)
                return log_error_errno(r,
                                       "Refusing token key %s: it must be owned by us and accessible to "
                                       "nobody else (mode 0600).",
                                       path);
        if (r < 0)
                return log_error_errno(r, "Failed to load or create the token key %s: %m", path);

        log_full(r > 0 ? LOG_INFO : LOG_DEBUG, "%s token key %s (id %s).", r > 0 ? "Created" : "Loaded",
                 path, token_key_id_to_string(token_key_id(c->token_key), id));
        return 0;
}

void registry_token_close(Context *c) {
        c->token_key = token_key_free(c->token_key);
}

/* ---- the installed cards ---- */

static int card_load(const char *name, AgentCard **ret) {
        _cleanup_(agent_card_freep) AgentCard *card = NULL;
        _cleanup_free_ char *path = NULL, *error = NULL;
        int r;

        r = agent_card_find(name, &path);
        if (r < 0)
                return r;
        r = agent_card_load(AT_FDCWD, path, &card, &error);
        if (r < 0)
                return log_warning_errno(r, "Ignoring agent card %s: %s", path, error ?: strerror(-r));
        /* The file name is how the card was found; a card for another name grants nothing here. */
        if (!streq(card->name, name))
                return log_warning_errno(-EINVAL, "Ignoring agent card %s: it is for agent '%s', not '%s'.",
                                         path, card->name, name);
        log_debug("Agent %s: card %s grants %zu capabilities.", name, path,
                  strv_length(card->permissions.capabilities));
        *ret = TAKE_PTR(card);
        return 0;
}

void registry_agent_card_reload(Agent *a) {
        AgentCard *card = NULL;
        int r;

        r = card_load(a->name, &card);
        if (r == -ENOENT)
                log_full_errno_field(LOG_NOTICE, 0, "AGENT", a->name,
                                     "Agent %s has no card in the card directories: its tasks get tokens "
                                     "without capabilities.",
                                     a->name);
        else if (r < 0 && r != -EINVAL)
                log_full_errno_field(LOG_WARNING, r, "AGENT", a->name,
                                     "Failed to load the card of agent %s, its tasks get tokens without "
                                     "capabilities: %m",
                                     a->name);
        agent_card_free(a->card);
        a->card = card;
}

const AgentCard *registry_agent_card(Context *c, const char *agent) {
        Agent *a = agent_get(c, agent);

        if (!a)
                return NULL;
        /* A card installed since the agent registered counts from its next task on; a missing one
         * was reported at registration already. */
        if (!a->card)
                (void) card_load(a->name, &a->card);
        return a->card;
}

int registry_agent_card_load(const char *agent, AgentCard **ret) {
        return card_load(agent, ret);
}

/* ---- minting ---- */

/* What the token of a task of `agent` grants: the card's pre-granted capabilities, and each of its
 * requestable ones that a stored grant ("allow-always") or an allow rule of the policy file gives
 * without asking -- what an ActionRequest for it would be allowed anyway. A revoked grant or a
 * changed policy counts from the next token on. Never more than a token holds. */
static int token_capabilities(Context *c, const char *agent, const AgentCard *card, char ***ret,
                              char ***ret_granted) {
        _cleanup_strv_free_ char **caps = NULL, **granted = NULL;

        if (!card) {
                *ret = NULL;
                *ret_granted = NULL;
                return 0;
        }
        caps = strv_copy(card->permissions.capabilities);
        if (!caps)
                return -ENOMEM;
        STRV_FOREACH (cap, card->permissions.requestable) {
                if (strv_contains(caps, *cap) || consent_lookup(c, agent, *cap) <= 0)
                        continue;
                if (strv_length(caps) >= TOKEN_CAPABILITIES_MAX) {
                        log_full_errno_field(LOG_WARNING, 0, "AGENT", agent,
                                             "Agent %s: a token holds at most %u capabilities, leaving "
                                             "out the granted %s.",
                                             agent, TOKEN_CAPABILITIES_MAX, *cap);
                        continue;
                }
                if (strv_extend(&caps, *cap) < 0 || strv_extend(&granted, *cap) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(caps);
        *ret_granted = TAKE_PTR(granted);
        return 0;
}

int registry_token_mint(Context *c, Task *t, void **ret, size_t *ret_size) {
        _cleanup_strv_free_ char **caps = NULL, **granted = NULL;
        int r;

        assert_return(c->token_key, -ENOKEY);

        r = token_capabilities(c, t->agent_name, registry_agent_card(c, t->agent_name), &caps, &granted);
        if (r < 0)
                return r;
        STRV_FOREACH (cap, granted)
                log_full_errno_field(LOG_INFO, 0, "TASK", t->id,
                                     "Task %s: its token carries %s, granted to agent %s by a stored grant "
                                     "or the consent policy.",
                                     t->id, *cap, t->agent_name);
        return token_mint(c->token_key, t->id, t->agent_name, caps, c->token_lifetime_usec, ret, ret_size);
}

/* ---- checking ---- */

/* What a refusal says, in the audit row (`reason`) and to the agent (`message`). */
typedef struct Refusal {
        int error;
        const char *reason;
        char *message;
} Refusal;

static int refusal_set(Refusal *f, int error, const char *reason, const char *format, ...) _printf_(4, 5);
static int refusal_set(Refusal *f, int error, const char *reason, const char *format, ...) {
        va_list ap;
        int r;

        f->error = error;
        f->reason = reason;
        va_start(ap, format);
        r = vasprintf(&f->message, format, ap);
        va_end(ap);
        if (r < 0) {
                f->message = NULL;
                return -ENOMEM;
        }
        return error;
}

/* A string from outside goes into the audit row only when it is a valid name: the row's fields must
 * be UTF-8 of bounded length, and an agent must not be able to write arbitrary text into it. */
static const char *audit_name(const char *s) {
        return name_is_valid(s, TOKEN_NAME_MAX) ? s : "";
}

static int refusal_audit(Context *c, AgentConn *conn, const char *request, const char *task_id,
                         const char *capability, const Token *tok, const Refusal *f) {
        _cleanup_json_ json_t *detail = NULL;
        char id[TOKEN_KEY_ID_STRING_SIZE];
        int r;

        detail = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:i}", "reason", f->reason, "request", request,
                           "capability", capability, "task", audit_name(task_id), "error", f->message,
                           "errno", -f->error);
        if (!detail)
                return -ENOMEM;
        if (tok) {
                /* What the token itself says, for whoever reconstructs what was tried. */
                json_t *t = json_pack("{s:s, s:s, s:s, s:I}", "task", tok->task, "agent", tok->agent,
                                      "key_id", token_key_id_to_string(tok->key_id, id), "expires_usec",
                                      (json_int_t) tok->expires_usec);
                if (!t || json_object_set_new(detail, "token", t) < 0)
                        return -ENOMEM;
        }

        r = registry_audit(c, NULL, "token-refused", audit_name(task_id), conn->agent->name, detail, NULL,
                           NULL);
        if (r < 0)
                log_full_errno_field(LOG_WARNING, r, "AGENT", conn->agent->name,
                                     "Failed to audit a refused token of agent %s: %m", conn->agent->name);
        return 0;
}

static const char *format_realtime(char *buf, size_t size, usec_t usec) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                (void) snprintf(buf, size, "%" PRIu64 " us after the epoch", usec);
        return buf;
}

/* The checks, in order; the first that fails fills `f`. */
static int token_check_one(Context *c, AgentConn *conn, const char *task_id, const void *token, size_t size,
                           const char *capability, Task **ret_task, Token **ret_token, Refusal *f) {
        _cleanup_(token_freep) Token *tok = NULL;
        const char *agent = conn->agent->name;
        char when[64];
        Task *t;
        int r;

        if (size == 0)
                return refusal_set(f, -EACCES, "missing", "the request carries no capability token");
        r = token_verify(c->token_key, token, size, 0, &tok);
        if (r == -EKEYEXPIRED) {
                /* Authentic, so what it names may be shown: decoded as of the epoch, when it was not
                 * expired yet. */
                if (token_verify(c->token_key, token, size, 1, &tok) < 0)
                        return refusal_set(f, -ETIME, "expired", "the capability token has expired");
                r = refusal_set(f, -ETIME, "expired", "the capability token expired at %s",
                                format_realtime(when, sizeof(when), tok->expires_usec));
                *ret_token = TAKE_PTR(tok);
                return r;
        }
        if (r == -EKEYREJECTED)
                return refusal_set(f, -EACCES, "forged",
                                   "the capability token was not minted by this registry (forged, altered, "
                                   "or made with an older key)");
        if (r == -EBADMSG || r == -EMSGSIZE)
                return refusal_set(f, -EACCES, "malformed", "the capability token is malformed");
        if (r < 0)
                return r;

        if (!streq(tok->agent, agent)) {
                r = refusal_set(f, -EACCES, "wrong-agent",
                                "the capability token belongs to agent '%s', not '%s'", tok->agent, agent);
                *ret_token = TAKE_PTR(tok);
                return r;
        }
        if (!streq(tok->task, strempty(task_id))) {
                r = refusal_set(f, -EACCES, "wrong-task",
                                "the capability token is for task %s, not this one", tok->task);
                *ret_token = TAKE_PTR(tok);
                return r;
        }
        t = task_get(c, task_id);
        if (!t || !streq(t->agent_name, agent) || task_state_is_final(t->state)) {
                r = refusal_set(f, -ENOENT, "no-such-task", "agent '%s' has no running task %s", agent,
                                task_id);
                *ret_token = TAKE_PTR(tok);
                return r;
        }
        if (capability && !token_allows(tok, task_id, capability)) {
                r = refusal_set(f, -EACCES, "capability-not-granted",
                                "the capability token of task %s does not grant '%s'", task_id, capability);
                *ret_token = TAKE_PTR(tok);
                return r;
        }

        *ret_task = t;
        *ret_token = TAKE_PTR(tok);
        return 0;
}

int registry_token_check_full(Context *c, AgentConn *conn, const char *request, const char *task_id,
                              const void *token, size_t size, const char *capability, Task **ret_task,
                              Token **ret_token, char **reterr) {
        _cleanup_(token_freep) Token *tok = NULL;
        _cleanup_free_ char *message = NULL;
        Refusal f = {};
        Task *t = NULL;
        int r;

        assert_return(c && conn && conn->agent && request && reterr, -EINVAL);
        assert_return(c->token_key, -ENOKEY);

        r = token_check_one(c, conn, task_id, token, size, capability, &t, &tok, &f);
        message = f.message;
        if (r == -ENOMEM || (r < 0 && !f.reason))
                return r;
        if (r < 0) {
                log_full_errno_field(LOG_NOTICE, 0, "AGENT", conn->agent->name,
                                     "Refused %s of agent %s for task %s: %s.", request, conn->agent->name,
                                     audit_name(task_id), message);
                if (refusal_audit(c, conn, request, task_id, capability, tok, &f) < 0)
                        return -ENOMEM;
                *reterr = TAKE_PTR(message);
                return f.error;
        }

        *ret_task = t;
        if (ret_token)
                *ret_token = TAKE_PTR(tok);
        return 0;
}

int registry_token_check(Context *c, AgentConn *conn, const char *task_id, const void *token, size_t size,
                         const char *capability, Task **ret_task, char **reterr) {
        return registry_token_check_full(c, conn, streq_ptr(capability, "exec.command") ? "exec" : "action",
                                         task_id, token, size, capability, ret_task, NULL, reterr);
}

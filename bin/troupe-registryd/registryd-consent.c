/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Consent: questions to the user about a capability an agent's card does not pre-grant, their answers
 * (by the user over the bus, by a timeout, or because the task ended), the "always" grants stored in the
 * journal, and the user's policy file. Every decision is in the audit log before it takes effect. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "agent/capability.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "json/json-util.h"
#include "paths/paths.h"
#include "registryd-consent-policy.h"
#include "registryd-privilege.h"

/* Questions waiting at once: in all, and from one agent (one agent must not drown the others). */
#define CONSENT_PENDING_MAX 1024U
#define CONSENT_PENDING_PER_AGENT_MAX 32U

#define log_consent(level, error, req, ...)                                                                 \
        log_full_errno_field(level, error, "CONSENT", (req)->id, __VA_ARGS__)

static const char *const consent_decision_table[_CONSENT_DECISION_MAX] = {
        [CONSENT_ALLOW_ONCE] = "allow-once",
        [CONSENT_ALLOW_ALWAYS] = "allow-always",
        [CONSENT_DENY] = "deny",
        [CONSENT_EXPIRED] = "expired",
        [CONSENT_CANCELED] = "canceled",
};

DEFINE_STRING_TABLE_LOOKUP(consent_decision, ConsentDecision);

static const char *const consent_state_table[_CONSENT_STATE_MAX] = {
        [CONSENT_STATE_PENDING] = "pending",   [CONSENT_STATE_ALLOWED] = "allowed",
        [CONSENT_STATE_DENIED] = "denied",     [CONSENT_STATE_EXPIRED] = "expired",
        [CONSENT_STATE_CANCELED] = "canceled",
};

const char *consent_state_to_string(ConsentState s) {
        if ((size_t) s >= ELEMENTSOF(consent_state_table))
                return NULL;
        return consent_state_table[s];
}

static const char *const consent_source_table[_CONSENT_SOURCE_MAX] = {
        [CONSENT_SOURCE_USER] = "user",
        [CONSENT_SOURCE_GRANT] = "grant",
        [CONSENT_SOURCE_POLICY] = "policy",
        [CONSENT_SOURCE_REGISTRY] = "registry",
};

const char *consent_source_to_string(ConsentSource s) {
        if ((size_t) s >= ELEMENTSOF(consent_source_table))
                return NULL;
        return consent_source_table[s];
}

static ConsentState consent_state_from_decision(ConsentDecision d) {
        switch (d) {
        case CONSENT_ALLOW_ONCE:
        case CONSENT_ALLOW_ALWAYS:
                return CONSENT_STATE_ALLOWED;
        case CONSENT_DENY:
                return CONSENT_STATE_DENIED;
        case CONSENT_EXPIRED:
                return CONSENT_STATE_EXPIRED;
        case CONSENT_CANCELED:
                return CONSENT_STATE_CANCELED;
        case _CONSENT_DECISION_MAX:
        case _CONSENT_DECISION_INVALID:
                break;
        }
        return CONSENT_STATE_DENIED;
}

int consent_setup(Context *c) {
        _cleanup_free_ char *dir = NULL, *path = NULL;
        ConsentPolicy *p;
        int r;

        r = troupe_path_get(TROUPE_PATH_CONFIG, &dir);
        if (r < 0) {
                /* No place for a policy means no policy: every request asks, which is the default. */
                log_warning_errno(r, "Failed to determine the config directory, no consent policy: %m");
                return 0;
        }
        path = strjoin(dir, "/" CONSENT_POLICY_FILE);
        if (!path)
                return log_oom();
        r = consent_policy_new(path, &p);
        if (r < 0)
                return log_oom();
        c->consent_policy = p;
        /* Read now, so a bad file is reported at start-up, not at the first request. */
        consent_policy_refresh(p);
        return 0;
}

int consent_lookup_full(Context *c, const char *agent, const char *capability, ConsentSource *ret_source) {
        int r;

        assert_return(agent && capability, -EINVAL);

        r = journal_grant_get(c->journal, agent, capability);
        if (r < 0)
                /* A grant that cannot be read is no grant: ask. */
                log_warning_errno(r, "Failed to look up the grants of agent %s, asking instead: %s", agent,
                                  journal_last_error(c->journal));
        if (r > 0) {
                if (ret_source)
                        *ret_source = CONSENT_SOURCE_GRANT;
                return 1;
        }
        r = consent_policy_decide(c->consent_policy, agent, capability);
        if (r != 0 && ret_source)
                *ret_source = CONSENT_SOURCE_POLICY;
        return r;
}

int consent_lookup(Context *c, const char *agent, const char *capability) {
        return consent_lookup_full(c, agent, capability, NULL);
}

/* ---- requests ---- */

/* The answer being audited. It outlives its request when the registry exits meanwhile. */
struct ConsentAnswer {
        ConsentRequest *request; /* NULL once the request was freed */
        ConsentDecision decision;
        ConsentSource source;
        sd_bus_message *call; /* the method call to reply to, if a user answered */
};

static ConsentAnswer *consent_answer_free(ConsentAnswer *a) {
        if (!a)
                return NULL;
        sd_bus_message_unref(a->call);
        return mfree(a);
}

ConsentRequest *consent_get(Context *c, const char *id) {
        if (!id || strlen(id) != CONSENT_ID_LEN)
                return NULL;
        LIST_FOREACH(consents, req, c->consents_head)
        if (streq(req->id, id))
                return req;
        return NULL;
}

static ConsentRequest *consent_request_free(ConsentRequest *req) {
        if (!req)
                return NULL;
        req->timer = sd_event_source_disable_unref(req->timer);
        if (req->answer)
                req->answer->request = NULL;
        free(req->task_id);
        free(req->agent);
        free(req->capability);
        free(req->reason);
        return mfree(req);
}

void consent_free_all(Context *c) {
        while (c->consents_head) {
                ConsentRequest *req = c->consents_head;

                LIST_REMOVE(consents, c->consents_head, c->consents_tail, req);
                c->n_consents--;
                consent_request_free(req);
        }
        c->consent_policy = consent_policy_free(c->consent_policy);
}

/* The request is decided and its decision durable: announce it, take it off the bus, tell the caller. */
static void consent_settle(ConsentRequest *req, ConsentDecision d) {
        Context *c = req->context;
        char id[CONSENT_ID_LEN + 1];

        req->state = consent_state_from_decision(d);
        log_consent(consent_decision_allows(d) ? LOG_INFO : LOG_NOTICE, 0, req,
                    "Consent %s (%s for agent %s, task %s): %s.", req->id, req->capability, req->agent,
                    req->task_id, consent_decision_to_string(d));
        registry_emit_consent_settled(req, d);

        LIST_REMOVE(consents, c->consents_head, c->consents_tail, req);
        c->n_consents--;
        memcpy(id, req->id, sizeof(id));
        if (req->answered)
                req->answered(c, id, d, req->userdata);
        consent_request_free(req);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(ConsentAnswer *, consent_answer_free);

static void on_consent_audited(Context *c, int error, void *userdata);

/* Queues the audit row of decision `d`; the decision takes effect in on_consent_audited(). */
static int consent_answer_start(ConsentRequest *req, ConsentDecision d, ConsentSource source,
                                sd_bus_message *call) {
        _cleanup_json_ json_t *detail = NULL;
        ConsentAnswer *a;
        int r;

        assert(!req->answer);

        detail = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "consent", req->id, "capability",
                           req->capability, "decision", consent_decision_to_string(d), "by",
                           consent_source_to_string(source), "reason", strempty(req->reason),
                           "requested_usec", (json_int_t) req->created_usec, "expires_usec",
                           (json_int_t) req->expires_usec);
        if (!detail)
                return -ENOMEM;
        a = calloc(1, sizeof(ConsentAnswer));
        if (!a)
                return -ENOMEM;
        *a = (ConsentAnswer){
                .request = req,
                .decision = d,
                .source = source,
                .call = sd_bus_message_ref(call),
        };
        req->answer = a;

        /* `done` may run before this returns; then `req` may be gone already: do not touch it after. */
        r = registry_audit(req->context, source == CONSENT_SOURCE_USER ? "user" : "registry", "consent",
                           req->task_id, req->agent, detail, on_consent_audited, a);
        if (r < 0) {
                req->answer = NULL;
                consent_answer_free(a);
                return r;
        }
        return 0;
}

/* The registry's own decisions (timeout, task ended) are denials: if even their audit row cannot be
 * written they take effect anyway, since refusing is what failing closed means. */
static void consent_registry_decide(ConsentRequest *req, ConsentDecision d) {
        int r;

        r = consent_answer_start(req, d, CONSENT_SOURCE_REGISTRY, NULL);
        if (r < 0) {
                log_consent(LOG_WARNING, r, req, "Failed to audit consent %s %s, denying it anyway: %m",
                            req->id, consent_decision_to_string(d));
                consent_settle(req, d);
        }
}

static int on_consent_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        ConsentRequest *req = userdata;

        /* An answer in flight decides; if it fails, it re-arms this timer. */
        if (req->answer)
                return 0;
        consent_registry_decide(req, req->task_ended ? CONSENT_CANCELED : CONSENT_EXPIRED);
        return 0;
}

/* Arms the timer for the expiry, or for at once when the task ended or the expiry has passed. */
static int consent_arm(ConsentRequest *req) {
        usec_t now = now_usec(CLOCK_REALTIME), left;
        int r;

        left = req->task_ended || req->expires_usec <= now ? 0 : req->expires_usec - now;
        if (!req->timer) {
                r = sd_event_add_time_relative(req->context->event, &req->timer, CLOCK_MONOTONIC, left,
                                               10 * USEC_PER_MSEC, on_consent_timer, req);
                if (r >= 0)
                        (void) sd_event_source_set_description(req->timer, "consent-timer");
        } else {
                r = sd_event_source_set_time_relative(req->timer, left);
                if (r >= 0)
                        r = sd_event_source_set_enabled(req->timer, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                return log_consent(LOG_ERR, r, req, "Failed to arm the timer of consent %s: %m", req->id);
        return 0;
}

static int consent_store_grant(ConsentRequest *req) {
        Context *c = req->context;
        JournalGrant g = {
                .agent = req->agent,
                .capability = req->capability,
                .consent_id = req->id,
                .granted_usec = now_usec(CLOCK_REALTIME),
        };
        int r;

        r = context_journal_begin(c);
        if (r < 0)
                return r;
        r = journal_grant_put(c->journal, &g);
        if (r < 0)
                return log_consent(LOG_ERR, r, req, "Failed to store the grant of %s to agent %s: %s",
                                   req->capability, req->agent, journal_last_error(c->journal));
        /* Durable before the reply and before the action it allows. */
        r = context_flush(c);
        if (r < 0)
                return log_consent(LOG_ERR, r, req, "Failed to commit the grant of %s to agent %s: %m",
                                   req->capability, req->agent);
        return 0;
}

static void consent_reply_error(sd_bus_message *call, int error, const char *format, ...) _printf_(3, 4);
static void consent_reply_error(sd_bus_message *call, int error, const char *format, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (!call)
                return;
        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0)
                msg = NULL;
        (void) bus_error_set_errnof(&e, error, "%s", msg ?: "Failed to answer the consent request.");
        r = sd_bus_reply_method_error(call, &e);
        if (r < 0)
                log_debug_errno(r, "Failed to reply to the consent answer, ignoring: %m");
}

static void on_consent_audited(Context *c, int error, void *userdata) {
        _cleanup_(consent_answer_freep) ConsentAnswer *a = userdata;
        ConsentRequest *req = a->request;
        const char *why;
        int r;

        if (!req) {
                consent_reply_error(a->call, -ESHUTDOWN,
                                    "The registry is shutting down; the request is gone.");
                return;
        }
        req->answer = NULL;

        if (error < 0) {
                why = registry_audit_unavailable(c);
                if (a->source != CONSENT_SOURCE_USER) {
                        log_consent(LOG_WARNING, error, req,
                                    "Failed to audit consent %s %s, denying it anyway: %m", req->id,
                                    consent_decision_to_string(a->decision));
                        consent_settle(req, a->decision);
                        return;
                }
                consent_reply_error(
                        a->call, error,
                        "The decision could not be recorded in the audit log (%s), so it was not "
                        "taken; consent request %s is still pending.",
                        why ?: strerror(-error), req->id);
                (void) consent_arm(req); /* it may have expired, or its task ended, meanwhile */
                return;
        }

        if (a->decision == CONSENT_ALLOW_ALWAYS) {
                r = consent_store_grant(req);
                if (r < 0) {
                        consent_reply_error(
                                a->call, r,
                                "The grant could not be stored (%s); consent request %s is still "
                                "pending. Answer allow-once to allow it this time.",
                                strerror(-r), req->id);
                        (void) consent_arm(req);
                        return;
                }
        }

        if (a->call) {
                r = sd_bus_reply_method_return(a->call, NULL);
                if (r < 0)
                        log_debug_errno(r, "Failed to reply to the consent answer, ignoring: %m");
        }
        consent_settle(req, a->decision);
}

int consent_answer_call(ConsentRequest *req, ConsentDecision d, sd_bus_message *call, sd_bus_error *error) {
        int r;

        if (d != CONSENT_ALLOW_ONCE && d != CONSENT_ALLOW_ALWAYS && d != CONSENT_DENY)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Decision must be allow-once, allow-always or deny.");
        if (req->answer)
                return bus_error_setf(error, BUS_ERROR_BUSY,
                                      "Consent request %s is being answered already; try again in a moment.",
                                      req->id);
        if (req->task_ended)
                return bus_error_setf(error, BUS_ERROR_NO_SUCH_CONSENT,
                                      "Consent request %s is void: its task %s has ended.", req->id,
                                      req->task_id);

        r = consent_answer_start(req, d, CONSENT_SOURCE_USER, call);
        if (r < 0)
                return bus_error_set_errnof(
                        error, r,
                        "The decision could not be recorded in the audit log (%s), so it "
                        "was not taken; consent request %s is still pending.",
                        registry_audit_unavailable(req->context) ?: strerror(-r), req->id);
        /* The reply goes out once the decision is durable. */
        return 1;
}

static int consent_id_generate(Context *c, char ret[static CONSENT_ID_LEN + 1]) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                uint64_t v;

                if (getrandom(&v, sizeof(v), 0) != sizeof(v))
                        return -errno ?: -EIO;
                /* A letter first, as task ids: it stays the object path's last element unescaped. */
                (void) snprintf(ret, CONSENT_ID_LEN + 1, "%016" PRIx64, v);
                ret[0] = "abcdef"[(v >> 60) % 6];
                if (!consent_get(c, ret))
                        return 0;
        }
        return -EEXIST;
}

static size_t consent_count_agent(Context *c, const char *agent) {
        size_t n = 0;

        LIST_FOREACH(consents, req, c->consents_head)
        if (streq(req->agent, agent))
                n++;
        return n;
}

int consent_request(Context *c, Task *t, const char *capability, const char *reason,
                    ConsentAnswered answered, void *userdata, char **ret_id) {
        ConsentRequest *req;
        int r;

        assert_return(c && t && capability && answered, -EINVAL);

        if (!capability_is_valid(capability) || strlen(strempty(reason)) > CONSENT_REASON_MAX)
                return -EINVAL;
        if (c->n_consents >= CONSENT_PENDING_MAX ||
            consent_count_agent(c, t->agent_name) >= CONSENT_PENDING_PER_AGENT_MAX)
                return -ENOBUFS;

        req = calloc(1, sizeof(ConsentRequest));
        if (!req)
                return -ENOMEM;
        req->context = c;
        req->task_id = strdup(t->id);
        req->agent = strdup(t->agent_name);
        req->capability = strdup(capability);
        req->reason = strdup(strempty(reason));
        if (!req->task_id || !req->agent || !req->capability || !req->reason) {
                consent_request_free(req);
                return -ENOMEM;
        }
        r = consent_id_generate(c, req->id);
        if (r < 0) {
                consent_request_free(req);
                return r;
        }
        req->created_usec = now_usec(CLOCK_REALTIME);
        req->expires_usec = req->created_usec + c->consent_timeout_usec;
        req->state = CONSENT_STATE_PENDING;
        req->answered = answered;
        req->userdata = userdata;
        r = consent_arm(req);
        if (r < 0) {
                consent_request_free(req);
                return r;
        }
        if (ret_id) {
                *ret_id = strdup(req->id);
                if (!*ret_id) {
                        consent_request_free(req);
                        return -ENOMEM;
                }
        }

        LIST_APPEND(consents, c->consents_head, c->consents_tail, req);
        c->n_consents++;
        log_consent(LOG_INFO, 0, req, "Consent %s requested: agent %s wants %s for task %s%s%s.", req->id,
                    req->agent, req->capability, req->task_id, isempty(reason) ? "" : ": ",
                    strempty(reason));
        registry_emit_consent_added(req);
        return 0;
}

void consent_task_ended(Context *c, Task *t) {
        LIST_FOREACH(consents, req, c->consents_head) {
                if (!streq(req->task_id, t->id) || req->task_ended)
                        continue;
                req->task_ended = true;
                /* Answered from the event loop, not from inside whatever ended the task. */
                if (!req->answer)
                        (void) consent_arm(req);
        }
}

/* ---- revoking grants ---- */

typedef struct GrantRevoke {
        Context *context;
        char *agent;
        char *capability;
        sd_bus_message *call;
} GrantRevoke;

static GrantRevoke *grant_revoke_free(GrantRevoke *g) {
        if (!g)
                return NULL;
        free(g->agent);
        free(g->capability);
        sd_bus_message_unref(g->call);
        return mfree(g);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(GrantRevoke *, grant_revoke_free);

static void on_revoke_audited(Context *c, int error, void *userdata) {
        _cleanup_(grant_revoke_freep) GrantRevoke *g = userdata;
        int r;

        if (error < 0) {
                consent_reply_error(
                        g->call, error,
                        "The revocation could not be recorded in the audit log (%s); the grant of %s "
                        "to agent %s stays.",
                        registry_audit_unavailable(c) ?: strerror(-error), g->capability, g->agent);
                return;
        }
        r = c->journal ? context_journal_begin(c) : -ESHUTDOWN;
        if (r >= 0)
                r = journal_grant_delete(c->journal, g->agent, g->capability);
        if (r >= 0)
                r = context_flush(c);
        if (r == -ENOENT) {
                /* Revoked twice at once: the first one did it. */
                (void) sd_bus_reply_method_return(g->call, NULL);
                return;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to delete the grant of %s to agent %s: %m", g->capability,
                                g->agent);
                consent_reply_error(g->call, r, "Failed to delete the grant of %s to agent %s: %s",
                                    g->capability, g->agent, strerror(-r));
                return;
        }
        log_info("Grant of %s to agent %s revoked.", g->capability, g->agent);
        r = sd_bus_reply_method_return(g->call, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to reply to RevokeGrant, ignoring: %m");
}

int consent_grant_revoke(Context *c, const char *agent, const char *capability, sd_bus_message *call,
                         sd_bus_error *error) {
        _cleanup_(grant_revoke_freep) GrantRevoke *g = NULL;
        _cleanup_json_ json_t *detail = NULL;
        const char *reason = NULL;
        int r;

        if (!name_is_valid(agent, AGENT_NAME_MAX))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Not a valid agent name.");
        if (capability_check(capability, &reason) < 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "Not a valid capability: %s.", reason);

        r = journal_grant_get(c->journal, agent, capability);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to read the stored grants: %m");
        if (r == 0)
                return bus_error_setf(
                        error, BUS_ERROR_NO_SUCH_CONSENT,
                        "Agent '%s' holds no stored grant of '%s'. List grants with: troupectl "
                        "consent grants",
                        agent, capability);

        g = calloc(1, sizeof(GrantRevoke));
        if (!g)
                return -ENOMEM;
        g->context = c;
        g->agent = strdup(agent);
        g->capability = strdup(capability);
        g->call = sd_bus_message_ref(call);
        detail = json_pack("{s:s}", "capability", capability);
        if (!g->agent || !g->capability || !detail)
                return -ENOMEM;

        r = registry_audit(c, "user", "consent-revoke", NULL, agent, detail, on_revoke_audited, g);
        if (r < 0)
                return bus_error_set_errnof(
                        error, r,
                        "The revocation could not be recorded in the audit log (%s); the grant "
                        "stays.",
                        registry_audit_unavailable(c) ?: strerror(-r));
        TAKE_PTR(g);
        return 1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The registry's side of the audit log (docs/audit.md): the one writer of audit.db, the anchor it
 * keeps in its own journal, failing closed when rows cannot be written, and who may record rows for
 * the supervisor. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-error.h"
#include "json/json-util.h"
#include "paths/paths.h"
#include "registryd-privilege.h"

#define SUPERVISOR_BUS_NAME "org.troupe.Supervisor1"
#define SUPERVISOR_OWNER_MATCH                                                                              \
        "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"                         \
        "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" SUPERVISOR_BUS_NAME "'"

/* One row given to registry_audit(), until its group is committed or dropped. */
typedef struct AuditPending {
        Context *context;
        RegistryAuditDone done;
        void *userdata;
} AuditPending;

/* ---- why rows cannot be written ---------------------------------------------------------------- */

/* SQLite's message says what happened ("database or disk is full"), the errno how it maps. */
static int audit_reason(Audit *a, int error, char **ret) {
        const char *last = audit_last_error(a);

        if (isempty(last) || strstr(last, strerror(-error)))
                return (*ret = strdup(isempty(last) ? strerror(-error) : last)) ? 0 : -ENOMEM;
        return asprintf_safe(ret, "%s: %s", strerror(-error), last);
}

/* Remembers why the last attempt to write failed; logged once per new reason, since every row of
 * a failed group reports the same one. */
static void audit_failed(Context *c, int error, const char *reason) {
        if (streq_ptr(c->audit_error, reason))
                return;
        log_error_errno(
                error,
                "The audit log %s cannot be written (%s): privileged actions are refused until it can.",
                c->audit_path, reason);
        (void) free_and_strdup(&c->audit_error, reason);
}

static void audit_failed_errno(Context *c, int error) {
        _cleanup_free_ char *reason = NULL;

        if (audit_reason(c->audit, error, &reason) < 0)
                return audit_failed(c, error, strerror(-error));
        audit_failed(c, error, reason);
}

/* audit_health(): the file is still there, ours, and writable at its path. Unlike a failed commit,
 * this is known again at every look, so it is not remembered past the next good one. */
static int audit_check_health(Context *c) {
        _cleanup_free_ char *reason = NULL;
        int r;

        r = audit_health(c->audit);
        if (r >= 0) {
                if (c->audit_health_error)
                        log_info("The audit log %s is usable again.", c->audit_path);
                c->audit_health_error = mfree(c->audit_health_error);
                return 0;
        }
        if (audit_reason(c->audit, r, &reason) < 0)
                return r;
        if (!streq_ptr(c->audit_health_error, reason)) {
                log_error_errno(
                        r,
                        "The audit log %s is not usable (%s): privileged actions are refused until it is.",
                        c->audit_path, reason);
                free(c->audit_health_error);
                c->audit_health_error = TAKE_PTR(reason);
        }
        return r;
}

const char *registry_audit_unavailable(Context *c) {
        int r;

        /* A read-only remount or a deleted file shows here before any commit fails. */
        if (c->audit) {
                r = audit_check_health(c);
                if (r < 0)
                        return c->audit_health_error ?: strerror(-r);
        }
        return c->audit_error;
}

int registry_audit_refused(Context *c, int error, sd_bus_error *ret_error) {
        const char *reason = registry_audit_unavailable(c);

        return bus_error_setf(
                ret_error, BUS_ERROR_PERMISSION_DENIED,
                "The audit log cannot be written (%s): privileged actions are refused until it can.",
                reason ?: strerror(-error));
}

/* ---- the anchor -------------------------------------------------------------------------------- */

static void audit_anchor_store(Context *c) {
        int r;

        r = context_journal_begin(c);
        if (r >= 0)
                r = journal_audit_anchor_put(c->journal, &c->audit_anchor);
        if (r < 0)
                log_warning_errno(r, "Failed to keep the audit anchor (seq %" PRIu64 ") in %s, ignoring: %s",
                                  c->audit_anchor.seq, c->store_path, journal_last_error(c->journal));
}

/* After a commit: the new head is the anchor, unless the one found broken at start-up is kept. */
static void audit_anchor_advance(Context *c) {
        AuditAnchor head;

        if (c->audit_anchor_kept || audit_head(c->audit, &head.seq, head.hash) < 0)
                return;
        if (head.seq == c->audit_anchor.seq && memcmp(head.hash, c->audit_anchor.hash, AUDIT_HASH_SIZE) == 0)
                return;
        c->audit_anchor = head;
        audit_anchor_store(c);
}

/* Whether the row at the anchor's seq is still there with the anchor's hash: a cheap check at
 * start-up (VerifyAudit() walks the whole chain). Returns 1 if so, 0 if not (with what was found). */
static int audit_reaches_anchor(Audit *a, const AuditAnchor *anchor, const char **ret_found) {
        _cleanup_json_ json_t *rows = NULL;
        char hex[AUDIT_HASH_HEX_SIZE];
        json_t *row;
        int r;

        r = audit_query(a, anchor->seq - 1, 1, NULL, &rows);
        if (r < 0)
                return r;
        row = json_array_get(rows, 0);
        if (!row || (uint64_t) json_integer_value(json_object_get(row, "seq")) != anchor->seq) {
                *ret_found = "that row is missing: rows were deleted (truncated)";
                return 0;
        }
        if (!streq_ptr(json_string_value(json_object_get(row, "hash")),
                       audit_hash_to_hex(anchor->hash, hex))) {
                *ret_found = "that row carries another hash: rows were rewritten";
                return 0;
        }
        return 1;
}

static void audit_record_anchor_reset(Context *c, const AuditAnchor *old, const char *found) {
        _cleanup_json_ json_t *detail = NULL;
        char hex[AUDIT_HASH_HEX_SIZE];
        int r;

        detail = json_pack("{s:I, s:s, s:s}", "anchor_seq", (json_int_t) old->seq, "anchor_hash",
                           audit_hash_to_hex(old->hash, hex), "found", found);
        r = detail ? registry_audit(c, NULL, "audit-anchor-reset", NULL, NULL, detail, NULL, NULL) : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Failed to record the anchor reset in the audit log, ignoring: %m");
}

/* The log just opened must still reach the anchor kept from the last run; if not, the anchor is
 * kept as it is (so that VerifyAudit() keeps naming the damage) unless the operator said to forget
 * it. */
static int audit_check_anchor(Context *c) {
        AuditAnchor old = c->audit_anchor;
        const char *found = NULL;
        int r;

        c->audit_anchor_kept = false;
        if (old.seq > 0) {
                r = audit_reaches_anchor(c->audit, &old, &found);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the audit log %s: %s", c->audit_path,
                                               audit_last_error(c->audit));
                if (r == 0 && !c->audit_forget_anchor) {
                        log_error("The audit log %s does not reach the anchor kept in %s (seq %" PRIu64
                                  "): %s while the registry was not running. VerifyAudit() names the first "
                                  "bad row; --audit-forget-anchor accepts the log as it is.",
                                  c->audit_path, c->store_path, old.seq, found);
                        c->audit_anchor_kept = true;
                        (void) free_and_strdup(&c->audit_anchor_damage, found);
                        return 0;
                }
        }

        r = audit_head(c->audit, &c->audit_anchor.seq, c->audit_anchor.hash);
        if (r < 0)
                return r;
        audit_anchor_store(c);
        if (found) {
                log_warning("Forgetting the audit anchor (seq %" PRIu64 ") as asked: %s.", old.seq, found);
                audit_record_anchor_reset(c, &old, found);
        }
        return 0;
}

/* ---- opening ----------------------------------------------------------------------------------- */

static int audit_try_open(Context *c) {
        _cleanup_(audit_closep) Audit *a = NULL;
        _cleanup_free_ char *message = NULL, *reason = NULL;
        int r;

        r = audit_open(c->audit_path, 0, &a, &message);
        if (r < 0) {
                if (asprintf_safe(&reason, "cannot open %s: %s", c->audit_path, message ?: strerror(-r)) < 0)
                        return log_oom();
                audit_failed(c, r, reason);
                return r;
        }
        if (c->audit_max_size > 0) {
                r = audit_set_size_limit(a, c->audit_max_size);
                if (r < 0)
                        return log_error_errno(r, "Failed to cap the audit log at %" PRIu64 " bytes: %s",
                                               c->audit_max_size, audit_last_error(a));
        }
        /* Just above the journal's commit: rows queued while handling one loop iteration's messages
         * share one fsync. */
        r = audit_attach_event(a, c->event, SD_EVENT_PRIORITY_NORMAL, AUDIT_FLUSH_DELAY_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the audit log to the event loop: %m");

        c->audit = TAKE_PTR(a);
        c->audit_error = mfree(c->audit_error);
        r = audit_check_anchor(c);
        if (r < 0) {
                c->audit = audit_close(c->audit);
                return r;
        }
        log_info("Audit log %s: head at seq %" PRIu64 "%s.", c->audit_path, c->audit_anchor.seq,
                 c->audit_anchor_kept ? " (damaged: see above)" : "");
        return 0;
}

int registry_audit_open(Context *c) {
        _cleanup_free_ char *dir = NULL;
        int r;

        r = troupe_path_get(TROUPE_PATH_STATE, &dir);
        if (r < 0)
                return log_error_errno(r, "Failed to determine the state directory: %m");
        c->audit_path = strjoin(dir, "/audit.db");
        if (!c->audit_path)
                return log_oom();

        r = journal_audit_anchor_get(c->journal, &c->audit_anchor);
        if (r == -ENOENT)
                c->audit_anchor = (AuditAnchor){};
        else if (r < 0)
                return log_error_errno(r, "Failed to read the audit anchor from %s: %s", c->store_path,
                                       journal_last_error(c->journal));

        /* Not fatal: the registry runs, refuses privileged actions and says why (Health()), and
         * tries again with the next one. */
        (void) audit_try_open(c);
        return 0;
}

void registry_audit_close(Context *c) {
        int r;

        if (!c->audit)
                return;
        r = audit_flush(c->audit);
        if (r < 0)
                log_error_errno(r, "Failed to commit the last audit rows: %s", audit_last_error(c->audit));
        c->audit = audit_close(c->audit);
}

void registry_audit_done(Context *c) {
        registry_audit_close(c);
        c->supervisor_owner_slot = sd_bus_slot_unref(c->supervisor_owner_slot);
        c->supervisor_owner = mfree(c->supervisor_owner);
        c->audit_path = mfree(c->audit_path);
        c->audit_error = mfree(c->audit_error);
        c->audit_health_error = mfree(c->audit_health_error);
        c->audit_anchor_damage = mfree(c->audit_anchor_damage);
}

/* ---- appending --------------------------------------------------------------------------------- */

static void audit_on_durable(Audit *a, uint64_t seq, int error, void *userdata) {
        _cleanup_free_ AuditPending *p = userdata;
        Context *c = p->context;

        if (error < 0)
                audit_failed_errno(c, error);
        else {
                if (c->audit_error)
                        log_info("The audit log %s is writable again (seq %" PRIu64 ").", c->audit_path,
                                 seq);
                c->audit_error = mfree(c->audit_error);
                audit_anchor_advance(c);
        }
        if (p->done)
                p->done(c, error, p->userdata);
}

/* Opens the log if an earlier attempt failed, and checks that it is still there and writable. */
static int audit_writable(Context *c) {
        int r;

        if (!c->audit) {
                r = audit_try_open(c);
                if (r < 0)
                        return r;
        }
        return audit_check_health(c);
}

int registry_audit_append(Context *c, const AuditEntry *entry, RegistryAuditDone done, void *userdata,
                          uint64_t *ret_seq) {
        AuditPending *p;
        uint64_t seq;
        int r;

        assert_return(c && entry, -EINVAL);

        r = audit_writable(c);
        if (r < 0)
                return r;

        p = malloc(sizeof(AuditPending));
        if (!p)
                return -ENOMEM;
        *p = (AuditPending){.context = c, .done = done, .userdata = userdata};
        r = audit_append(c->audit, entry, audit_on_durable, p, &seq);
        if (r < 0) {
                free(p);
                /* A malformed row is the caller's mistake; anything else is the log's. */
                if (r != -EINVAL && r != -EMSGSIZE && r != -ENOMEM)
                        audit_failed_errno(c, r);
                return r;
        }
        if (ret_seq)
                *ret_seq = seq;
        return 0;
}

int registry_audit(Context *c, const char *actor, const char *action, const char *task, const char *agent,
                   json_t *detail, RegistryAuditDone done, void *userdata) {
        return registry_audit_append(c,
                                     &(AuditEntry){
                                             .actor = actor ?: "registry",
                                             .action = action,
                                             .task = task,
                                             .agent = agent,
                                             .detail = detail,
                                     },
                                     done, userdata, NULL);
}

/* ---- reading ----------------------------------------------------------------------------------- */

/* The writer, or a reader of the file while the writer cannot be opened. */
static int audit_reader(Context *c, Audit **ret_tmp, Audit **ret) {
        _cleanup_free_ char *message = NULL;
        int r;

        if (c->audit) {
                *ret_tmp = NULL;
                *ret = c->audit;
                return 0;
        }
        r = audit_open(c->audit_path, AUDIT_OPEN_READ_ONLY, ret_tmp, &message);
        if (r < 0)
                return log_debug_errno(r, "Failed to open %s to read it: %s", c->audit_path,
                                       message ?: strerror(-r));
        *ret = *ret_tmp;
        return 0;
}

int registry_audit_query(Context *c, const char *task, uint64_t after_seq, unsigned max, char **ret) {
        _cleanup_(audit_closep) Audit *tmp = NULL;
        _cleanup_json_ json_t *rows = NULL;
        Audit *a;
        int r;

        r = audit_reader(c, &tmp, &a);
        if (r < 0)
                return r;
        r = audit_query(a, after_seq, max, task, &rows);
        if (r < 0)
                return r;
        return json_dump_string(rows, JSON_DUMP_COMPACT, ret);
}

int registry_audit_verify(Context *c, AuditVerification *ret) {
        _cleanup_(audit_closep) Audit *tmp = NULL;
        Audit *a;
        int r;

        r = audit_reader(c, &tmp, &a);
        if (r < 0)
                return r;
        /* The anchor is the head this registry last saw committed (or the one kept from before a
         * damage found at start-up): a tail cut off or rewritten behind its back shows. */
        return audit_verify(a, c->audit_anchor.seq > 0 ? &c->audit_anchor : NULL, ret);
}

int registry_audit_describe(Context *c, json_t **ret) {
        _cleanup_json_ json_t *v = NULL;
        char hex[AUDIT_HASH_HEX_SIZE];
        const char *reason = registry_audit_unavailable(c);
        uint64_t head = 0;

        if (c->audit)
                (void) audit_head(c->audit, &head, NULL);
        v = json_pack("{s:s?, s:b, s:s?, s:I, s:I, s:I, s:{s:I, s:s, s:b, s:s?}}", "path", c->audit_path,
                      "writable", reason == NULL, "error", reason, "head_seq", (json_int_t) head, "pending",
                      (json_int_t) audit_pending(c->audit), "max_size", (json_int_t) c->audit_max_size,
                      "anchor", "seq", (json_int_t) c->audit_anchor.seq, "hash",
                      audit_hash_to_hex(c->audit_anchor.hash, hex), "reached", !c->audit_anchor_kept,
                      "damage", c->audit_anchor_damage);
        if (!v)
                return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- who may record rows ----------------------------------------------------------------------- */

static int on_supervisor_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        r = sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner);
        if (r < 0 || !streq(name, SUPERVISOR_BUS_NAME))
                return 0;
        log_debug("%s is now owned by %s.", SUPERVISOR_BUS_NAME, isempty(new_owner) ? "nobody" : new_owner);
        (void) free_and_strdup(&c->supervisor_owner, isempty(new_owner) ? NULL : new_owner);
        return 0;
}

int registry_audit_bus_setup(Context *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *owner;
        int r;

        /* The match first, then the current owner: the bus sends a change that happens in between
         * after the answer, so the last word is always the newest. */
        r = sd_bus_add_match(c->bus, &c->supervisor_owner_slot, SUPERVISOR_OWNER_MATCH,
                             on_supervisor_owner_changed, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the owner of %s: %m", SUPERVISOR_BUS_NAME);
        r = sd_bus_call_method(c->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetNameOwner", &error, &reply, "s",
                               SUPERVISOR_BUS_NAME);
        if (r < 0) {
                if (!sd_bus_error_has_name(&error, "org.freedesktop.DBus.Error.NameHasNoOwner"))
                        log_warning_errno(r, "Failed to ask who owns %s, ignoring: %s", SUPERVISOR_BUS_NAME,
                                          error.message ?: strerror(-r));
                return 0;
        }
        r = sd_bus_message_read(reply, "s", &owner);
        if (r < 0)
                return log_error_errno(r, "Failed to read the owner of %s: %m", SUPERVISOR_BUS_NAME);
        return free_and_strdup(&c->supervisor_owner, owner);
}

int registry_audit_check_recorder(Context *c, sd_bus_message *m, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(m);

        /* The supervisor records the spawns it makes; anyone else could write what they like under
         * its name. */
        if (!c->supervisor_owner)
                return bus_error_setf(error, BUS_ERROR_PERMISSION_DENIED,
                                      "RecordAudit() is accepted only from the owner of %s, and nobody "
                                      "owns it now.",
                                      SUPERVISOR_BUS_NAME);
        if (!streq_ptr(sender, c->supervisor_owner))
                return bus_error_setf(
                        error, BUS_ERROR_PERMISSION_DENIED,
                        "RecordAudit() is accepted only from the owner of %s (%s), not from %s.",
                        SUPERVISOR_BUS_NAME, c->supervisor_owner, strna(sender));
        return 0;
}

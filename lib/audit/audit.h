/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* audit.h: the tamper-evident audit log: a SHA-256 hash chain in SQLite with durable group commits. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"
#include "basic/time-util.h"

/* The table, the exact hash encoding, what verification catches and what it cannot, and the
 * fail-closed rule are described in docs/audit.md.
 *
 * Durability. audit_append() only queues a row: it gets its seq and its place in the chain at
 * once, but is on disk only after the group it belongs to has been committed (one transaction,
 * synchronous=FULL, so one fsync for the whole group). A group is committed
 *   - when AUDIT_GROUP_MAX rows are queued (by the append that finds the queue full),
 *   - by audit_flush(), or audit_append_durable() which appends and flushes,
 *   - on the event loop, once a daemon has called audit_attach_event(): `delay` after the first
 *     row of a group was queued,
 *   - by audit_close().
 * A privileged action is performed only after its row is durable: either synchronously
 * (audit_append_durable() returned 0) or from the AuditDurableHandler given to audit_append(),
 * called with error 0 once its group is committed.
 *
 * Fail closed. When a group cannot be committed (-ENOSPC for a full disk or a size limit, -EROFS
 * for a read-only file system, -EIO...), its transaction is rolled back so that no part of it is in
 * the file, its rows are dropped from the queue (their seqs are given out again), every handler of
 * those rows is called with the error, and the error is returned by the call that flushed. The
 * caller refuses the action it was about to take and shows the reason. The next row that does get
 * committed is preceded by an "audit-lost" row that records how many rows were dropped and why. */

typedef struct Audit Audit;

#define AUDIT_HASH_SIZE 32U /* SHA-256 */
#define AUDIT_HASH_HEX_SIZE (AUDIT_HASH_SIZE * 2 + 1) /* lowercase hex and NUL */
#define AUDIT_GROUP_MAX 64U /* rows per commit at most */
#define AUDIT_FLUSH_DELAY_USEC (2 * USEC_PER_MSEC) /* default for audit_attach_event() */
#define AUDIT_FIELD_MAX 256U /* actor, task, agent: bytes */
#define AUDIT_ACTION_MAX 64U /* action: bytes */
#define AUDIT_DETAIL_MAX (16U * 1024U) /* the detail object, as compact JSON */
#define AUDIT_QUERY_MAX 1000U /* rows per audit_query() */

typedef enum AuditOpenFlags {
        /* For readers (troupectl, a verifier): no writer lock; audit_append() fails with -EROFS. */
        AUDIT_OPEN_READ_ONLY = 1 << 0,
} AuditOpenFlags;

/* One event. Strings are borrowed for the duration of the call. */
typedef struct AuditEntry {
        usec_t time; /* CLOCK_REALTIME; 0: now */
        const char *actor; /* who acted: "registry", "user", an agent's name... (1..AUDIT_FIELD_MAX) */
        const char *action; /* "spawn", "exec", "action", "token-refused", "consent"...: [a-z0-9.-]+ */
        const char *task; /* task id, or NULL/"" for none */
        const char *agent; /* agent name, or NULL/"" for none */
        const json_t *detail; /* a JSON object, or NULL for {}; stored as compact JSON, keys sorted */
} AuditEntry;

/* Called once for a row given to audit_append(): error 0 when the row is durable, or the negative
 * errno of the commit that failed (the row is then not in the log). May append and flush again;
 * must not close the log. */
typedef void (*AuditDurableHandler)(Audit *a, uint64_t seq, int error, void *userdata);

/* Opens (a writer creates, migrates and locks) the log at `path`, e.g. $XDG_STATE_HOME/troupe/audit.db.
 * One writer per file: a second gets -EBUSY. reterr_message as store_open(). */
int audit_open(const char *path, AuditOpenFlags flags, Audit **ret, char **reterr_message);
/* Commits what is queued (its handlers are told the outcome), detaches from the event loop and
 * closes. A daemon calls audit_flush() itself first if it wants to log the outcome. Accepts NULL. */
Audit *audit_close(Audit *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(Audit *, audit_close);

const char *audit_path(Audit *a);
/* The message of the last failure (SQLite's or ours), for the daemon's log line; "" if none. */
const char *audit_last_error(Audit *a);
/* store_health(): the file is still there, still ours and, for a writer, still writable. */
int audit_health(Audit *a);

/* Caps the database file at about `bytes` (SQLite's max_page_count; 0: no cap). A group that
 * would grow it further fails with -ENOSPC, exactly like a full disk. */
int audit_set_size_limit(Audit *a, uint64_t bytes);

/* Queues a row and returns its seq. If the queue is full, first commits it; if that fails, the
 * error is returned and this row is not queued. -EINVAL for a malformed entry, -EMSGSIZE for a
 * detail larger than AUDIT_DETAIL_MAX, -EROFS for a reader. `handler` may be NULL. */
int audit_append(Audit *a, const AuditEntry *entry, AuditDurableHandler handler, void *userdata,
                 uint64_t *ret_seq);
/* Queues a row and commits the queue: returns 0 only once the row is durable. */
int audit_append_durable(Audit *a, const AuditEntry *entry, uint64_t *ret_seq);
/* Commits the queue as one transaction. Returns the number of rows committed (0: none queued). */
int audit_flush(Audit *a);
/* Rows queued and not yet committed. */
size_t audit_pending(Audit *a);

/* Commits on the event loop `delay` after the first row of a group is queued (0: on the next
 * iteration), with a timer source at `priority`. A commit that fails there is reported to the
 * rows' handlers and leaves the "audit-lost" row behind, as described above. */
int audit_attach_event(Audit *a, sd_event *event, int64_t priority, usec_t delay);
void audit_detach_event(Audit *a);

/* The last durable row: its seq (0 for an empty log) and hash (all zeros for an empty log); either
 * out parameter may be NULL. A
 * daemon keeps or publishes it as an anchor, so that a later verification can tell a truncated or
 * rewritten tail (see AuditAnchor). */
int audit_head(Audit *a, uint64_t *ret_seq, uint8_t ret_hash[AUDIT_HASH_SIZE]);

const char *audit_hash_to_hex(const uint8_t hash[static AUDIT_HASH_SIZE],
                              char buf[static AUDIT_HASH_HEX_SIZE]);
/* 64 hex digits, either case; -EINVAL otherwise. */
int audit_hash_from_hex(const char *s, uint8_t ret[static AUDIT_HASH_SIZE]);

/* What is wrong with the first bad row. */
typedef enum AuditDamage {
        AUDIT_DAMAGE_NONE,
        AUDIT_DAMAGE_MODIFIED, /* its contents do not match its hash: edited, or a forged row */
        AUDIT_DAMAGE_DELETED, /* the row with this seq is missing, or rows before it were removed */
        AUDIT_DAMAGE_REORDERED, /* it follows a row that comes later in the table */
        AUDIT_DAMAGE_INSERTED, /* rows were inserted before it */
        AUDIT_DAMAGE_TRUNCATED, /* rows up to the anchor are missing at the end */
        AUDIT_DAMAGE_REWRITTEN, /* the chain is intact but does not reach the anchor's hash */
        _AUDIT_DAMAGE_MAX,
        _AUDIT_DAMAGE_INVALID = -EINVAL,
} AuditDamage;

const char *audit_damage_to_string(AuditDamage d) _const_;
AuditDamage audit_damage_from_string(const char *s) _pure_;
/* One sentence for troupectl and the daemon's log. */
const char *audit_damage_explain(AuditDamage d) _const_;

/* A head remembered from earlier (audit_head()); verification then also proves the log still
 * reaches it. */
typedef struct AuditAnchor {
        uint64_t seq;
        uint8_t hash[AUDIT_HASH_SIZE];
} AuditAnchor;

typedef struct AuditVerification {
        bool ok;
        uint64_t rows; /* rows in the table */
        uint64_t head_seq; /* the last row's seq (0: empty) */
        char head[AUDIT_HASH_HEX_SIZE]; /* and its stored hash (zeros: empty) */
        uint64_t bad_seq; /* the first bad seq, 0 when ok */
        AuditDamage damage;
} AuditVerification;

/* Walks the committed rows in one read transaction and recomputes the chain. Returns 0 when the
 * walk was done, whether or not the log is intact (ret says), or a negative errno when it could
 * not be read. Rows still queued are not part of it: flush first. `anchor` may be NULL. */
int audit_verify(Audit *a, const AuditAnchor *anchor, AuditVerification *ret);

/* Up to `max` committed rows with seq > after_seq (0 or more than AUDIT_QUERY_MAX:
 * AUDIT_QUERY_MAX), only those of `task` unless NULL, oldest first, as a JSON array of objects:
 * {"seq","time","actor","action","task","agent","detail" (the object),"prev","hash" (hex)}.
 * This is what Registry1.GetAudit() returns, dumped compact. */
int audit_query(Audit *a, uint64_t after_seq, unsigned max, const char *task, json_t **ret);

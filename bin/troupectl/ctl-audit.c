/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl audit: the audit log, paged through GetAudit()/GetTaskAudit(), and `audit verify`, which
 * asks the registry to recompute the hash chain and names the first bad row. */
#include <inttypes.h>
#include <stdio.h>

#include "audit/audit.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "json/json-util.h"

/* A page holds at most AUDIT_QUERY_MAX rows of at most AUDIT_DETAIL_MAX bytes of detail each, plus
 * their other fields: this bounds what a broken daemon can make us parse. */
#define CTL_AUDIT_PAGE_SIZE_MAX ((size_t) AUDIT_QUERY_MAX * (AUDIT_DETAIL_MAX + 4U * 1024U))
/* The detail column on a terminal; a pipe gets it whole. */
#define CTL_AUDIT_DETAIL_WIDTH 80U

/* One GetAudit()/GetTaskAudit() call: up to `max` rows after `after`, as a JSON array. */
static int audit_fetch_page(Ctl *c, sd_bus *bus, uint64_t after, unsigned max, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *parse_error = NULL;
        _cleanup_json_ json_t *page = NULL;
        const char *s;
        int r;

        if (c->filter_task)
                r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                                       "GetTaskAudit", &error, &reply, "stu", c->filter_task, after,
                                       (uint32_t) max);
        else
                r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                                       "GetAudit", &error, &reply, "tu", after, (uint32_t) max);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "read the audit log", &error, r);
        r = sd_bus_message_read_basic(reply, 's', &s);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the audit reply: %m");
        r = json_parse(s, strlen(s), CTL_AUDIT_PAGE_SIZE_MAX, 0, 0, &page, &parse_error);
        if (r >= 0 && !json_is_array(page))
                r = -EBADMSG;
        if (r < 0)
                return log_error_errno(r, "The registry sent audit rows that are not a JSON array (%s).",
                                       strna(parse_error));
        *ret = TAKE_PTR(page);
        return 0;
}

/* Every row after --after (at most --limit), oldest first, in as many calls as it takes: the
 * registry returns at most AUDIT_QUERY_MAX rows per call. */
static int audit_fetch(Ctl *c, sd_bus *bus, json_t **ret) {
        _cleanup_json_ json_t *rows = json_array();
        uint64_t after = c->after, remaining = c->limit > 0 ? c->limit : UINT64_MAX;
        int r;

        if (!rows)
                return log_oom();
        while (remaining > 0) {
                _cleanup_json_ json_t *page = NULL;
                json_t *row;
                size_t i;

                r = audit_fetch_page(c, bus, after, (unsigned) MIN(remaining, (uint64_t) AUDIT_QUERY_MAX),
                                     &page);
                if (r < 0)
                        return r;
                /* A short page is not the end: only an empty one is, whatever the registry's page size. */
                if (json_array_size(page) == 0)
                        break;
                json_array_foreach(page, i, row) {
                        uint64_t seq = json_get_uint(row, "seq");

                        if (remaining == 0)
                                break;
                        /* Paging relies on rising seqs; a registry that breaks that would loop us. */
                        if (seq <= after)
                                return log_error_errno(-EBADMSG,
                                                       "The registry sent audit row %" PRIu64
                                                       " after row %" PRIu64 ", out of order.",
                                                       seq, after);
                        if (json_array_append(rows, row) < 0)
                                return log_oom();
                        after = seq;
                        remaining--;
                }
        }
        *ret = TAKE_PTR(rows);
        return 0;
}

/* A detail value in the summary: a plain word bare, other strings quoted, the rest as JSON. */
static int detail_value(const json_t *v, char **ret) {
        const char *s = json_string_value(v);

        if (s && !isempty(s) && !strpbrk(s, " \"="))
                return (*ret = strdup(s)) ? 0 : -ENOMEM;
        if (s)
                return json_quote(s, AUDIT_DETAIL_MAX, ret);
        return json_dump_string(v, JSON_DUMP_COMPACT, ret);
}

/* The detail object on one line: "key=value key=value", in the stored (sorted) key order. */
static int detail_summary(const json_t *detail, char **ret) {
        _cleanup_free_ char *s = strdup("");
        const char *key;
        json_t *v;
        int r;

        if (!s)
                return -ENOMEM;
        if (!json_is_object(detail))
                return json_dump_string(detail, JSON_DUMP_COMPACT, ret);
        json_object_foreach((json_t *) detail, key, v) {
                _cleanup_free_ char *value = NULL;
                char *n;

                r = detail_value(v, &value);
                if (r < 0)
                        return r;
                n = strjoin(s, isempty(s) ? "" : " ", key, "=", value);
                if (!n)
                        return -ENOMEM;
                free(s);
                s = n;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int audit_print_table(Ctl *c, json_t *rows) {
        static const char *const headers[] = {"SEQ", "TIME", "ACTOR", "ACTION", "TASK", "AGENT", "DETAIL"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        json_t *row;
        size_t i;

        if (!t)
                return -ENOMEM;
        if (c->stdout_tty && json_array_size(rows) == 0) {
                if (c->filter_task)
                        printf("No audit rows for task %s.\n", c->filter_task);
                else
                        printf("The audit log has no rows%s.\n", c->after > 0 ? " after that one" : "");
                return 0;
        }
        json_array_foreach(rows, i, row) {
                _cleanup_free_ char *detail = NULL;
                char seq[24], time[32];
                int r;

                r = detail_summary(json_object_get(row, "detail"), &detail);
                if (r < 0)
                        return r;
                if (c->stdout_tty && strlen(detail) > CTL_AUDIT_DETAIL_WIDTH) {
                        size_t n = utf8_truncate(detail, strlen(detail), CTL_AUDIT_DETAIL_WIDTH - 3);
                        memcpy(detail + n, "...", 4);
                }
                (void) snprintf(seq, sizeof(seq), "%" PRIu64, json_get_uint(row, "seq"));
                const char *cells[] = {
                        seq,
                        format_realtime(json_get_uint(row, "time"), time),
                        json_get_string(row, "actor", "?"),
                        json_get_string(row, "action", "?"),
                        json_get_string(row, "task", NULL),
                        json_get_string(row, "agent", NULL),
                        detail,
                };
                if (table_add_row(t, cells) < 0)
                        return -ENOMEM;
        }
        return table_print(t, c->stdout_tty);
}

static int audit_list(Ctl *c) {
        _cleanup_json_ json_t *rows = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = audit_fetch(c, bus, &rows);
        if (r < 0)
                return r;
        r = c->json ? ctl_print_json(rows, c->stdout_tty) : audit_print_table(c, rows);
        if (r < 0)
                return log_error_errno(r, "Failed to print the audit log: %m");
        return CTL_EXIT_OK;
}

typedef struct AuditVerdict {
        int ok;
        uint64_t rows, bad_seq;
        const char *head, *damage;
} AuditVerdict;

static int audit_verify_call(Ctl *c, sd_bus_message **ret_reply, AuditVerdict *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        AuditVerdict v = {};
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "VerifyAuditDetailed", &error, ret_reply, NULL);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "verify the audit log", &error, r);
        r = sd_bus_message_read(*ret_reply, "btsts", &v.ok, &v.rows, &v.head, &v.bad_seq, &v.damage);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the VerifyAuditDetailed() reply: %m");
        *ret = v;
        return 0;
}

/* The sentence for a damage name, or the name itself when this troupectl does not know it. */
static const char *damage_explain(const char *damage) {
        AuditDamage d = audit_damage_from_string(damage);
        const char *s = d >= 0 ? audit_damage_explain(d) : NULL;
        return s ?: damage;
}

static int audit_verify_verb(Ctl *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        AuditVerdict v = {};
        int r;

        r = audit_verify_call(c, &reply, &v);
        if (r < 0)
                return r;
        if (c->json) {
                _cleanup_json_ json_t *o =
                        json_pack("{sb sI ss sI ss}", "ok", v.ok, "rows",
                                  (json_int_t) MIN(v.rows, (uint64_t) INT64_MAX), "head", v.head, "bad_seq",
                                  (json_int_t) MIN(v.bad_seq, (uint64_t) INT64_MAX), "damage", v.damage);
                if (!o)
                        return log_oom();
                r = ctl_print_json(o, c->stdout_tty);
        } else {
                if (v.ok)
                        printf("audit log intact: %" PRIu64 " rows, head %s\n", v.rows,
                               isempty(v.head) ? "-" : v.head);
                else
                        printf("audit log damaged at row %" PRIu64 ": %s (%s)\n", v.bad_seq,
                               damage_explain(v.damage), v.damage);
                r = fflush(stdout) == 0 && !ferror(stdout) ? 0 : -EIO;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to print the verification: %m");
        return v.ok ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

int verb_audit(Ctl *c) {
        if (!c->args[1])
                return audit_list(c);
        if (!streq(c->args[1], "verify")) {
                log_error("Unknown 'audit' command '%s'. Usage: troupectl audit [verify] [--task ID] "
                          "[--after SEQ] [--limit N]",
                          c->args[1]);
                return CTL_EXIT_USAGE;
        }
        if (c->options_seen & (CTL_OPTION_TASK | CTL_OPTION_AFTER | CTL_OPTION_LIMIT)) {
                log_error("'audit verify' checks the whole log and takes no --task, --after or --limit.");
                return CTL_EXIT_USAGE;
        }
        return audit_verify_verb(c);
}

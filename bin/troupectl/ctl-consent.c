/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl consent: the pending consent requests, answering them, and the stored "always" grants.
 * `consent watch` lives in ctl-consent-watch.c. */
#include "ctl-consent.h"

#include <inttypes.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bus/bus-error.h"
#include "bus/bus-util.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "json/json-util.h"

bool ctl_error_is_no_such_consent(const sd_bus_error *error) {
        return sd_bus_error_has_name(error, BUS_ERROR_NO_SUCH_CONSENT) || ctl_error_is_no_such_object(error);
}

int ctl_consent_log_missing(const char *id) {
        log_error("No pending consent request '%s': it does not exist, was answered or expired. "
                  "List pending requests with: troupectl consent list",
                  id);
        return CTL_EXIT_NO_SUCH_OBJECT;
}

char *ctl_printable(const char *s) {
        char *p = strdup(strempty(s));

        if (!p)
                return NULL;
        /* Reasons come from agents: escape sequences must not reach the terminal. */
        for (char *q = p; *q; q++)
                if (((unsigned char) *q < ' ' && *q != '\t') || *q == 0x7f)
                        *q = '?';
        return p;
}

const char *format_expires_in(uint64_t usec, char buf[static 32]) {
        usec_t now = now_usec(CLOCK_REALTIME);
        uint64_t s;

        if (usec == 0)
                return "-";
        if (usec <= now)
                return "expired";
        /* Round up, so that "1s" is shown until the very end rather than "0s" for a whole second. */
        s = DIV_ROUND_UP(usec - now, USEC_PER_SEC);
        if (s < 60)
                (void) snprintf(buf, 32, "%" PRIu64 "s", s);
        else if (s < 3600)
                (void) snprintf(buf, 32, "%" PRIu64 "min %" PRIu64 "s", s / 60, s % 60);
        else
                (void) snprintf(buf, 32, "%" PRIu64 "h %" PRIu64 "min", s / 3600, s % 3600 / 60);
        return buf;
}

int ctl_consent_fetch(Ctl *c, sd_bus *bus, const char *path, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = ctl_get_properties(bus, ctl_registry.name, path, CTL_CONSENT_INTERFACE, &error, ret);
        if (r < 0 && ctl_error_is_no_such_consent(&error))
                return -ENOENT;
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "read the consent request", &error, r);
        return 0;
}

int ctl_consent_answer(Ctl *c, const char *id, const char *decision) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus;
        int r;

        /* Ids are object path components; anything else cannot name a request. */
        if (!name_is_valid(id, BUS_OBJECT_NAME_MAX))
                return -ENOENT;
        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "AnswerConsent", &error, NULL, "ss", id, decision);
        if (r < 0 && ctl_error_is_no_such_consent(&error))
                return -ENOENT;
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "answer the consent request", &error, r);
        return CTL_EXIT_OK;
}

/* ListConsents() and each request's properties; one answered in between is left out. */
static int consents_fetch(Ctl *c, sd_bus *bus, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_t *consents = json_array();
        const char *id, *agent, *capability, *path;
        int r;

        if (!consents)
                return log_oom();
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "ListConsents", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "list consent requests", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListConsents() reply: %m");
        while ((r = sd_bus_message_read(reply, "(ssso)", &id, &agent, &capability, &path)) > 0) {
                json_t *consent = NULL;

                r = ctl_consent_fetch(c, bus, path, &consent);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (!streq(json_get_string(consent, "state", "pending"), "pending")) {
                        json_decref(consent);
                        continue;
                }
                if (json_array_append_new(consents, consent) < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListConsents() reply: %m");
        *ret = TAKE_PTR(consents);
        return 0;
}

static int consents_print_table(Ctl *c, json_t *consents) {
        static const char *const headers[] = {"ID", "AGENT", "CAPABILITY", "TASK", "REASON", "EXPIRES-IN"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        json_t *consent;
        size_t i;

        if (!t)
                return -ENOMEM;
        if (c->stdout_tty && json_array_size(consents) == 0) {
                printf("No pending consent requests.\n");
                return 0;
        }
        json_array_foreach(consents, i, consent) {
                char expires[32];
                const char *row[] = {
                        json_get_string(consent, "id", "?"),
                        json_get_string(consent, "agent", "?"),
                        json_get_string(consent, "capability", "?"),
                        json_get_string(consent, "task", NULL),
                        json_get_string(consent, "reason", NULL),
                        format_expires_in(json_get_uint(consent, "expires_usec"), expires),
                };
                if (table_add_row(t, row) < 0)
                        return -ENOMEM;
        }
        return table_print(t, c->stdout_tty);
}

static int consent_list(Ctl *c) {
        _cleanup_json_ json_t *consents = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = consents_fetch(c, bus, &consents);
        if (r < 0)
                return r;
        r = c->json ? ctl_print_json(consents, c->stdout_tty) : consents_print_table(c, consents);
        if (r < 0)
                return log_error_errno(r, "Failed to print the consent requests: %m");
        return CTL_EXIT_OK;
}

static int consent_allow_or_deny(Ctl *c) {
        const char *id = c->args[2];
        const char *decision = streq(c->args[1], "deny") ? CTL_CONSENT_DENY
                               : c->always               ? CTL_CONSENT_ALLOW_ALWAYS
                                                         : CTL_CONSENT_ALLOW_ONCE;
        int r;

        r = ctl_consent_answer(c, id, decision);
        if (r == -ENOENT)
                return ctl_consent_log_missing(id);
        return r;
}

static int grants_fetch(Ctl *c, sd_bus *bus, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_t *grants = json_array();
        const char *agent, *capability, *consent_id;
        uint64_t granted;
        int r;

        if (!grants)
                return log_oom();
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "ListGrants", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "list the stored grants", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(ssst)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListGrants() reply: %m");
        while ((r = sd_bus_message_read(reply, "(ssst)", &agent, &capability, &consent_id, &granted)) > 0) {
                json_t *g = json_pack("{ss ss ss sI}", "agent", agent, "capability", capability,
                                      "consent_id", consent_id, "granted_usec",
                                      (json_int_t) MIN(granted, (uint64_t) INT64_MAX));

                if (!g || json_array_append_new(grants, g) < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse the ListGrants() reply: %m");
        *ret = TAKE_PTR(grants);
        return 0;
}

static int grants_print_table(Ctl *c, json_t *grants) {
        static const char *const headers[] = {"AGENT", "CAPABILITY", "GRANTED", "CONSENT"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        json_t *g;
        size_t i;

        if (!t)
                return -ENOMEM;
        if (c->stdout_tty && json_array_size(grants) == 0) {
                printf("No stored grants. `troupectl consent allow ID --always` stores one.\n");
                return 0;
        }
        json_array_foreach(grants, i, g) {
                char granted[32];
                const char *row[] = {
                        json_get_string(g, "agent", "?"),
                        json_get_string(g, "capability", "?"),
                        format_realtime(json_get_uint(g, "granted_usec"), granted),
                        json_get_string(g, "consent_id", NULL),
                };
                if (table_add_row(t, row) < 0)
                        return -ENOMEM;
        }
        return table_print(t, c->stdout_tty);
}

static int consent_grants(Ctl *c) {
        _cleanup_json_ json_t *grants = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = grants_fetch(c, bus, &grants);
        if (r < 0)
                return r;
        r = c->json ? ctl_print_json(grants, c->stdout_tty) : grants_print_table(c, grants);
        if (r < 0)
                return log_error_errno(r, "Failed to print the grants: %m");
        return CTL_EXIT_OK;
}

static int consent_revoke(Ctl *c) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *agent = c->args[2], *capability = c->args[3];
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "RevokeGrant", &error, NULL, "ss", agent, capability);
        if (r < 0 && (ctl_error_is_no_such_consent(&error) ||
                      sd_bus_error_has_name(&error, BUS_ERROR_NO_SUCH_AGENT))) {
                log_error(
                        "No stored grant of '%s' to agent '%s'. List grants with: troupectl consent grants",
                        capability, agent);
                return CTL_EXIT_NO_SUCH_OBJECT;
        }
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "revoke the grant", &error, r);
        return CTL_EXIT_OK;
}

typedef struct ConsentCommand {
        const char *name;
        const char *usage; /* what follows "troupectl consent " */
        unsigned n_args; /* operands after the command */
        bool always; /* takes --always */
        int (*run)(Ctl *c);
} ConsentCommand;

static const ConsentCommand consent_commands[] = {
        {"list", "list", 0, false, consent_list},
        {"allow", "allow ID [--always]", 1, true, consent_allow_or_deny},
        {"deny", "deny ID", 1, false, consent_allow_or_deny},
        {"watch", "watch", 0, false, ctl_consent_watch},
        {"grants", "grants", 0, false, consent_grants},
        {"revoke", "revoke AGENT CAPABILITY", 2, false, consent_revoke},
};

int verb_consent(Ctl *c) {
        size_t n = strv_length(c->args) - 2;

        for (size_t i = 0; i < ELEMENTSOF(consent_commands); i++) {
                const ConsentCommand *cmd = &consent_commands[i];

                if (!streq(c->args[1], cmd->name))
                        continue;
                if (n != cmd->n_args) {
                        log_error("%s operands for 'consent %s'. Usage: troupectl consent %s",
                                  n < cmd->n_args ? "Missing" : "Too many", cmd->name, cmd->usage);
                        return CTL_EXIT_USAGE;
                }
                if (c->always && !cmd->always) {
                        log_error("Only 'consent allow' takes --always. See: troupectl consent --help");
                        return CTL_EXIT_USAGE;
                }
                return cmd->run(c);
        }
        log_error("Unknown 'consent' command '%s'. See: troupectl consent --help", c->args[1]);
        return CTL_EXIT_USAGE;
}

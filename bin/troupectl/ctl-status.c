/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl status and health: who owns each of the suite's names, what they answer, and what
 * confinement this machine supports (the supervisor's ConfinementSupport). */
#include <stdio.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "json/json-util.h"

/* A daemon that does not answer this fast is reported, not waited for. */
#define CTL_STATUS_TIMEOUT_USEC (5U * USEC_PER_SEC)
#define CTL_DESCRIBE_SIZE_MAX (1024U * 1024U)
#define CTL_SUPPORT_SIZE_MAX (64U * 1024U)

static int call_string(sd_bus *bus, const CtlService *s, const char *member, sd_bus_error *error,
                       char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *v;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, s->name, s->path, s->interface, member);
        if (r < 0)
                return r;
        r = sd_bus_call(bus, m, CTL_STATUS_TIMEOUT_USEC, error, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read_basic(reply, 's', &v);
        if (r < 0)
                return r;
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static json_t *error_json(const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error))
                return json_string(error->message ?: error->name);
        return json_string(strerror(-r));
}

/* Health(): its answer, or the error in its place. The contract requires Health() of the registry
 * only; a daemon without it counts as healthy when its main loop answers Describe(), which every
 * daemon serves, and "health_method" says which of the two answered. */
static int daemon_health(sd_bus *bus, const CtlService *s, json_t *o) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *health = NULL;
        const char *method = "Health";
        int r;

        r = call_string(bus, s, method, &error, &health);
        if (r < 0 && sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                sd_bus_error_free(&error);
                method = "Describe";
                r = call_string(bus, s, method, &error, &health);
                if (r >= 0 && free_and_strdup(&health, "ok") < 0)
                        return -ENOMEM;
        }
        if (json_object_set_new(o, "health_method", json_string(method)) < 0)
                return -ENOMEM;
        if (r < 0)
                return json_object_set_new(o, "health", error_json(&error, r));
        return json_object_set_new(o, "health", json_string(health));
}

static int daemon_describe(sd_bus *bus, const CtlService *s, json_t *o) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *describe = NULL;
        json_t *v = NULL;
        int r;

        r = call_string(bus, s, "Describe", &error, &describe);
        if (r < 0)
                return json_object_set_new(o, "describe_error", error_json(&error, r));
        r = json_parse(describe, strlen(describe), CTL_DESCRIBE_SIZE_MAX, 0, JSON_PARSE_ANY_VALUE, &v, NULL);
        if (r < 0)
                return json_object_set_new(o, "describe_error",
                                           json_string("Describe() did not return JSON"));
        return json_object_set_new(o, "describe", v);
}

/* One daemon: {name, running, owner, pid, health[, describe]}. */
static int daemon_status(sd_bus *bus, const CtlService *s, bool describe, json_t **ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_json_ json_t *o = json_pack("{ss}", "name", s->name);
        const char *owner = NULL;
        pid_t pid = 0;
        int r;

        if (!o)
                return -ENOMEM;
        r = sd_bus_get_name_creds(bus, s->name, SD_BUS_CREDS_UNIQUE_NAME | SD_BUS_CREDS_PID, &creds);
        if (r >= 0) {
                (void) sd_bus_creds_get_unique_name(creds, &owner);
                (void) sd_bus_creds_get_pid(creds, &pid);
        }
        if (json_object_set_new(o, "running", json_boolean(r >= 0)) < 0 ||
            json_object_set_new(o, "owner", owner ? json_string(owner) : json_null()) < 0 ||
            json_object_set_new(o, "pid", pid > 0 ? json_integer(pid) : json_null()) < 0)
                return -ENOMEM;
        if (r < 0) {
                if (json_object_set_new(o, "health", json_string("not running")) < 0)
                        return -ENOMEM;
                *ret = TAKE_PTR(o);
                return 0;
        }
        r = daemon_health(bus, s, o);
        if (r >= 0 && describe)
                r = daemon_describe(bus, s, o);
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int suite_status(Ctl *c, bool describe, json_t **ret) {
        _cleanup_json_ json_t *daemons = json_array();
        sd_bus *bus;
        int r;

        if (!daemons)
                return log_oom();
        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(ctl_suite); i++) {
                json_t *d = NULL;

                r = daemon_status(bus, ctl_suite[i], describe, &d);
                if (r < 0 || json_array_append_new(daemons, d) < 0)
                        return log_oom();
        }
        *ret = TAKE_PTR(daemons);
        return 0;
}

/* The supervisor's ConfinementSupport as JSON; {"error": "..."} in its place when it cannot be had
 * (no supervisor, or one that predates the property), so the output says why it is missing. */
static int confinement_support(Ctl *c, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *text = NULL;
        json_t *v = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = sd_bus_get_property_string(bus, ctl_supervisor.name, ctl_supervisor.path,
                                       ctl_supervisor.interface, "ConfinementSupport", &error, &text);
        if (r < 0)
                v = json_pack("{s:o}", "error", error_json(&error, r));
        else if (json_parse(text, strlen(text), CTL_SUPPORT_SIZE_MAX, 0, 0, &v, NULL) < 0)
                v = json_pack("{s:s}", "error", "ConfinementSupport is not a JSON object");
        if (!v)
                return log_oom();
        *ret = v;
        return 0;
}

static void confinement_print_text(const json_t *support) {
        const json_t *layers = json_object_get(support, "layers"), *l;
        const json_t *limits = json_object_get(support, "limits");
        const char *error = json_get_string(support, "error", NULL), *mode;
        size_t i;

        printf("\nconfinement (what this machine supports)\n");
        if (error) {
                printf("    unknown: %s\n", error);
                return;
        }
        json_array_foreach(layers, i, l)
                printf("    %-20s %-4s %s\n", json_get_string(l, "layer", "?"),
                       json_is_true(json_object_get(l, "available")) ? "yes" : "no",
                       json_get_string(l, "detail", ""));
        mode = json_get_string(limits, "mode", "none");
        /* Without cgroups, rlimits still stand in for some limits: which one does each is the point. */
        printf("    %-20s %-4s %s (memory: %s, tasks: %s, cpu weight: %s)\n", "limits",
               streq(mode, "none") ? "no" : "yes", mode, json_get_string(limits, "memory_max", "none"),
               json_get_string(limits, "tasks_max", "none"), json_get_string(limits, "cpu_weight", "none"));
        if (streq(mode, "none"))
                printf("    %-20s      %s\n", "", json_get_string(limits, "reason", ""));
}

/* Describe()'s top-level scalars as "key=value", the rest left to --json. */
static char *describe_summary(const json_t *describe) {
        _cleanup_free_ char *s = strdup("");
        const char *key;
        json_t *v;

        json_object_foreach((json_t *) describe, key, v) {
                _cleanup_free_ char *cell = NULL;
                char *n;

                if (json_is_object(v) || json_is_array(v))
                        continue;
                cell = json_cell(v);
                if (!s || !cell)
                        return NULL;
                n = strjoin(s, isempty(s) ? "" : " ", key, "=", cell);
                if (!n)
                        return NULL;
                free(s);
                s = n;
        }
        return TAKE_PTR(s);
}

static int status_print_text(Ctl *c, json_t *daemons, const json_t *support) {
        json_t *d;
        size_t i;

        printf("bus:  %s (%s)\n", strna(c->bus_address), ctl_bus_source_describe(c->bus_source));
        json_array_foreach(daemons, i, d) {
                _cleanup_free_ char *summary = NULL;
                const json_t *describe = json_object_get(d, "describe");

                printf("\n%s\n", json_get_string(d, "name", "?"));
                if (!json_is_true(json_object_get(d, "running"))) {
                        printf("    not running\n");
                        continue;
                }
                printf("    owner:    %s (pid %" PRIu64 ")\n", json_get_string(d, "owner", "?"),
                       json_get_uint(d, "pid"));
                printf("    health:   %s\n", json_get_string(d, "health", "?"));
                if (describe) {
                        summary = describe_summary(describe);
                        if (!summary)
                                return -ENOMEM;
                        printf("    state:    %s\n", summary);
                } else
                        printf("    state:    %s\n", json_get_string(d, "describe_error", "?"));
        }
        confinement_print_text(support);
        return fflush(stdout) == 0 ? 0 : -errno;
}

int verb_status(Ctl *c) {
        _cleanup_json_ json_t *daemons = NULL, *support = NULL, *o = NULL;
        int r;

        r = suite_status(c, true, &daemons);
        if (r < 0)
                return r;
        r = confinement_support(c, &support);
        if (r < 0)
                return r;
        if (c->json) {
                o = json_pack("{s:s?,s:s,s:O,s:O}", "bus", c->bus_address, "bus_source",
                              ctl_bus_source_to_string(c->bus_source), "daemons", daemons, "confinement",
                              support);
                r = o ? ctl_print_json(o, c->stdout_tty) : -ENOMEM;
        } else
                r = status_print_text(c, daemons, support);
        if (r < 0)
                return log_error_errno(r, "Failed to print the status: %m");
        return CTL_EXIT_OK;
}

int verb_health(Ctl *c) {
        _cleanup_json_ json_t *daemons = NULL;
        bool healthy = true;
        json_t *d;
        size_t i;
        int r;

        r = suite_status(c, false, &daemons);
        if (r < 0)
                return r;
        json_array_foreach(daemons, i, d) {
                bool ok = streq(json_get_string(d, "health", ""), "ok");

                healthy = healthy && ok;
                if (json_object_set_new(d, "ok", json_boolean(ok)) < 0)
                        return log_oom();
                if (!c->json)
                        printf("%s: %s\n", json_get_string(d, "name", "?"),
                               json_get_string(d, "health", "?"));
        }
        r = c->json ? ctl_print_json(daemons, c->stdout_tty) : (fflush(stdout) == 0 ? 0 : -errno);
        if (r < 0)
                return log_error_errno(r, "Failed to print the health: %m");
        return healthy ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl agents: the registered agents with their properties. */
#include <stdio.h>

#include "basic/log.h"
#include "ctl-bus.h"
#include "ctl-output.h"
#include "json/json-util.h"

/* ListAgents() and then each agent's properties; an agent that goes away in between is left out. */
static int agents_fetch(Ctl *c, sd_bus *bus, json_t **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_t *agents = json_array();
        const char *name, *state, *path;
        int r;

        if (!agents)
                return log_oom();
        r = sd_bus_call_method(bus, ctl_registry.name, ctl_registry.path, ctl_registry.interface,
                               "ListAgents", &error, &reply, NULL);
        if (r < 0)
                return ctl_log_call_error(c, &ctl_registry, "list agents", &error, r);

        r = sd_bus_message_enter_container(reply, 'a', "(sso)");
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListAgents() reply: %m");
        while ((r = sd_bus_message_read(reply, "(sso)", &name, &state, &path)) > 0) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                json_t *agent = NULL;

                r = ctl_get_properties(bus, ctl_registry.name, path, CTL_AGENT_INTERFACE, &e, &agent);
                if (r < 0 && ctl_error_is_no_such_object(&e))
                        continue;
                if (r < 0)
                        return ctl_log_call_error(c, &ctl_registry, "read the agent's properties", &e, r);
                if (json_array_append_new(agents, agent) < 0)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListAgents() reply: %m");

        *ret = TAKE_PTR(agents);
        return 0;
}

static int agents_print_table(Ctl *c, json_t *agents) {
        static const char *const headers[] = {"NAME",   "STATE",     "PID",  "VERSION",
                                              "SKILLS", "HEARTBEAT", "TASKS"};
        _cleanup_(table_freep) Table *t = table_new(ELEMENTSOF(headers), headers);
        json_t *a;
        size_t i;

        if (!t)
                return log_oom();
        json_array_foreach(agents, i, a) {
                _cleanup_free_ char *skills = json_cell(json_object_get(a, "skills"));
                _cleanup_free_ char *tasks = json_cell(json_object_get(a, "current_tasks"));
                char pid[24], ago[32];

                if (!skills || !tasks)
                        return log_oom();
                (void) snprintf(pid, sizeof(pid), "%" PRIu64, json_get_uint(a, "pid"));
                const char *row[] = {
                        json_get_string(a, "name", "?"),
                        json_get_string(a, "state", "?"),
                        json_get_uint(a, "pid") > 0 ? pid : "-",
                        json_get_string(a, "version", ""),
                        skills,
                        format_monotonic_ago(json_get_uint(a, "last_heartbeat_usec"), ago),
                        tasks,
                };
                if (table_add_row(t, row) < 0)
                        return log_oom();
        }
        if (c->stdout_tty && json_array_size(agents) == 0) {
                printf("No agents registered. Agents start on demand: troupectl run AGENT\n");
                return 0;
        }
        return table_print(t, c->stdout_tty);
}

int verb_agents(Ctl *c) {
        _cleanup_json_ json_t *agents = NULL;
        sd_bus *bus;
        int r;

        r = ctl_bus(c, &bus);
        if (r < 0)
                return r;
        r = agents_fetch(c, bus, &agents);
        if (r < 0)
                return r;
        r = c->json ? ctl_print_json(agents, c->stdout_tty) : agents_print_table(c, agents);
        if (r < 0)
                return log_error_errno(r, "Failed to print the agents: %m");
        return CTL_EXIT_OK;
}

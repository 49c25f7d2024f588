/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "agent/agentcard.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-describe.h"
#include "bus/bus-error.h"
#include "bus/bus-log-control.h"
#include "bus/bus-util.h"
#include "json/json-util.h"
#include "route.h"
#include "routerd-bus.h"
#include "routerd-launch.h"
#include "routerd-submit.h"

static int check_prompt(const char *prompt, sd_bus_error *error) {
        if (strlen(prompt) > ROUTE_PROMPT_MAX)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS, "The prompt is longer than %u bytes.",
                                      ROUTE_PROMPT_MAX);
        return 0;
}

/* An agent name, else a skill id, else (empty) the best match for the prompt. */
static int resolve_target(Context *c, const char *target, const char *prompt, const char **ret_agent,
                          sd_bus_error *error) {
        _cleanup_free_ RouteCandidate *candidates = NULL;
        const CardEntry *e;
        int r;

        if (!isempty(target)) {
                if (!name_is_valid(target, AGENT_NAME_MAX))
                        return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                              "'%s' is not a valid agent name or skill id.", target);
                e = card_set_find(c->cards, target) ?: card_set_find_skill(c->cards, target);
                if (!e)
                        return bus_error_setf(error, BUS_ERROR_NO_SUCH_AGENT,
                                              "No agent or skill is called '%s'; try `troupectl agents`.", target);
                *ret_agent = e->card->name;
                return 0;
        }

        if (isempty(prompt))
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "Give a target (an agent or skill) or a prompt to route by.");
        r = route_rank(c->cards->cards, c->cards->n_cards, prompt, &candidates);
        if (r < 0)
                return r;
        if (r == 0)
                return bus_error_setf(error, BUS_ERROR_INVALID_ARGS,
                                      "No agent matches the prompt; try `troupectl agents`.");
        log_debug("Routed the prompt to agent %s (score %.3f, skill %s).", candidates[0].card->name,
                  candidates[0].score, strna(candidates[0].skill));
        *ret_agent = candidates[0].card->name;
        return 0;
}

static int method_submit_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        const char *target, *prompt, *agent = NULL;
        int r;

        r = sd_bus_message_read(m, "ss", &target, &prompt);
        if (r < 0)
                return r;
        r = check_prompt(prompt, error);
        if (r < 0)
                return r;
        r = submit_check_params(m, error);
        if (r < 0)
                return r;
        r = resolve_target(c, target, prompt, &agent, error);
        if (r < 0)
                return r;

        r = submit_start(c, m, agent, prompt);
        if (r == -ENOBUFS)
                return bus_error_setf(error, BUS_ERROR_OVERLOADED, "%u Submit() calls are in flight already.",
                                      ROUTER_SUBMITS_MAX);
        if (r < 0)
                return r;
        return 1; /* answered when the task exists */
}
BUS_DEFINE_METHOD_HANDLER(method_submit, method_submit_impl);

static int method_route_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ RouteCandidate *candidates = NULL;
        Context *c = userdata;
        const char *prompt;
        int r, n;

        r = sd_bus_message_read(m, "s", &prompt);
        if (r < 0)
                return r;
        r = check_prompt(prompt, error);
        if (r < 0)
                return r;

        n = route_rank(c->cards->cards, c->cards->n_cards, prompt, &candidates);
        if (n < 0)
                return n;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sd)");
        if (r < 0)
                return r;
        for (int i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "(sd)", candidates[i].card->name, candidates[i].score);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
BUS_DEFINE_METHOD_HANDLER(method_route, method_route_impl);

static int method_list_cards_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Context *c = userdata;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->cards->n_cards; i++) {
                const CardEntry *e = &c->cards->entries[i];

                r = sd_bus_message_append(reply, "(sss)", e->card->name, e->card->version, e->path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
BUS_DEFINE_METHOD_HANDLER(method_list_cards, method_list_cards_impl);

static int method_reload_impl(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Context *c = userdata;
        int r;

        r = context_reload_cards(c);
        if (r < 0)
                return bus_error_set_errnof(error, r, "Failed to read the agent cards: %m");
        return sd_bus_reply_method_return(m, "u", (uint32_t) c->cards->n_cards);
}
BUS_DEFINE_METHOD_HANDLER(method_reload, method_reload_impl);

static int json_add_submits(const Context *c, json_t *o) {
        json_t *a = json_array();

        if (!a || json_object_set_new(o, "submits", a) < 0)
                return -ENOMEM;
        for (const Submit *s = c->submits; s; s = s->next) {
                json_t *e = json_pack("{s:s, s:b}", "agent", s->agent, "waiting_for_agent", s->launch != NULL);

                if (!e || json_array_append_new(a, e) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int json_add_launches(const Context *c, json_t *o) {
        json_t *a = json_array();
        int r;

        if (!a || json_object_set_new(o, "starting", a) < 0)
                return -ENOMEM;
        for (const Launch *l = c->launches; l; l = l->next) {
                json_t *e;

                r = launch_to_json(l, &e);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, e) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int json_add_spawned(const Context *c, json_t *o) {
        json_t *a = json_array();
        uint64_t first = c->n_spawned > ROUTER_SPAWNED_MAX ? c->n_spawned - ROUTER_SPAWNED_MAX : 0;

        if (!a || json_object_set_new(o, "started", a) < 0)
                return -ENOMEM;
        for (uint64_t i = first; i < c->n_spawned; i++) {
                const Spawned *s = &c->spawned[i % ROUTER_SPAWNED_MAX];
                json_t *e = json_pack("{s:s, s:s, s:s, s:I}", "agent", s->agent, "process_id", s->process_id,
                                      "process_path", s->process_path, "realtime_usec",
                                      (json_int_t) s->realtime_usec);

                if (!e || json_array_append_new(a, e) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int describe(void *userdata, json_t **ret) {
        _cleanup_json_ json_t *o = NULL;
        Context *c = userdata;
        int r;

        r = card_set_to_json(c->cards, &o);
        if (r < 0)
                return r;
        if (json_object_set_new(o, "version", json_string(PACKAGE_VERSION)) < 0 ||
            json_object_set_new(o, "spawn_timeout_ms",
                                json_integer((json_int_t) (c->spawn_timeout_usec / USEC_PER_MSEC))) < 0 ||
            json_object_set_new(o, "submitted", json_integer((json_int_t) c->n_submitted)) < 0 ||
            json_object_set_new(o, "failed", json_integer((json_int_t) c->n_failed)) < 0 ||
            json_object_set_new(o, "agents_started", json_integer((json_int_t) c->n_spawned)) < 0)
                return -ENOMEM;
        r = json_add_submits(c, o);
        if (r < 0)
                return r;
        r = json_add_launches(c, o);
        if (r < 0)
                return r;
        r = json_add_spawned(c, o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int method_describe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return bus_describe_reply(m, describe, userdata, error);
}

static int property_get_cards(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Context *c = userdata;

        return sd_bus_message_append(reply, "u", (uint32_t) c->cards->n_cards);
}

static int property_get_card_directories(sd_bus *bus, const char *path, const char *interface,
                                         const char *property, sd_bus_message *reply, void *userdata,
                                         sd_bus_error *error) {
        Context *c = userdata;

        return sd_bus_message_append_strv(reply, c->cards->dirs);
}

static const sd_bus_vtable router_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("CardDirectories", "as", property_get_card_directories, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Cards", "u", property_get_cards, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Submit", SD_BUS_ARGS("s", target, "s", prompt, "a{sv}", params),
                                SD_BUS_RESULT("s", id, "o", path), method_submit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Route", SD_BUS_ARGS("s", prompt), SD_BUS_RESULT("a(sd)", candidates),
                                method_route, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListCards", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sss)", cards), method_list_cards,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_RESULT("u", cards), method_reload,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        BUS_DESCRIBE_METHOD(method_describe),
        SD_BUS_VTABLE_END,
};

int router_bus_setup(Context *c) {
        int r;

        r = sd_bus_add_object_vtable(c->bus, NULL, ROUTER_PATH, ROUTER_INTERFACE, router_vtable, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the %s object: %m", ROUTER_PATH);
        r = bus_log_control_add(c->bus, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to add LogControl1: %m");
        r = launch_add_matches(c);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the registry's and supervisor's signals: %m");
        r = bus_request_name(c->bus, ROUTER_BUS_NAME);
        if (r == -EEXIST)
                return log_error_errno(r, "%s is taken: is another troupe-routerd running on this bus?",
                                       ROUTER_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take the name %s: %m", ROUTER_BUS_NAME);
        return 0;
}

void router_bus_emit_cards_changed(Context *c) {
        int r;

        if (!c->bus)
                return;
        r = bus_emit_properties_changed(c->bus, ROUTER_PATH, NULL, ROUTER_INTERFACE, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the new cards, ignoring: %m");
}

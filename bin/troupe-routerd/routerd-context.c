/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "routerd-bus.h"
#include "routerd-launch.h"
#include "routerd-submit.h"
#include "routerd.h"

int context_new(sd_event *event, Context **ret) {
        _cleanup_(context_freep) Context *c = NULL;

        assert_return(event && ret, -EINVAL);

        c = calloc(1, sizeof(Context));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->spawn_timeout_usec = ROUTER_SPAWN_TIMEOUT_DEFAULT_USEC;
        *ret = TAKE_PTR(c);
        return 0;
}

static void spawned_done(Spawned *s) {
        s->agent = mfree(s->agent);
        s->process_id = mfree(s->process_id);
        s->process_path = mfree(s->process_path);
}

Context *context_free(Context *c) {
        if (!c)
                return NULL;
        /* Calls still in flight get no answer: their callers see the name vanish. */
        while (c->submits)
                submit_free(c->submits);
        while (c->launches)
                launch_free(c->launches);
        for (size_t i = 0; i < ROUTER_SPAWNED_MAX; i++)
                spawned_done(&c->spawned[i]);
        sd_bus_slot_unref(c->match_agent_state);
        sd_bus_slot_unref(c->match_process_exited);
        sd_event_source_disable_unref(c->sighup_source);
        card_set_free(c->cards);
        sd_bus_flush_close_unref(c->bus);
        sd_event_unref(c->event);
        return mfree(c);
}

int context_reload_cards(Context *c) {
        _cleanup_(card_set_freep) CardSet *cards = NULL;
        int r;

        r = card_set_load(&cards);
        if (r < 0)
                return r;
        log_info("Loaded %zu agent card%s from %zu director%s.", cards->n_cards, cards->n_cards == 1 ? "" : "s",
                 strv_length(cards->dirs), strv_length(cards->dirs) == 1 ? "y" : "ies");
        STRV_FOREACH(d, cards->dirs)
                log_debug("Card directory: %s", *d);

        /* Submits and launches keep agent names, not cards, so the old set can go now. */
        card_set_free(c->cards);
        c->cards = TAKE_PTR(cards);
        router_bus_emit_cards_changed(c);
        return 0;
}

void context_remember_spawn(Context *c, const char *agent, const char *process_id, const char *process_path) {
        Spawned *s = &c->spawned[c->n_spawned % ROUTER_SPAWNED_MAX];

        spawned_done(s);
        s->agent = strdup(agent);
        s->process_id = strdup(process_id);
        s->process_path = strdup(process_path);
        if (!s->agent || !s->process_id || !s->process_path) {
                spawned_done(s);
                log_oom();
                return;
        }
        s->realtime_usec = now_usec(CLOCK_REALTIME);
        c->n_spawned++;
}

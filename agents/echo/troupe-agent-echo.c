/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupe-agent-echo: answers with its parameters after an optional delay_ms (the SDK's sample agent). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent-sdk.h"
#include "basic/log.h"
#include "basic/string-util.h"

/* Ten minutes: long enough for any test of cancellation or streaming, short enough to end. */
#define ECHO_DELAY_MS_MAX UINT64_C(600000)

typedef struct EchoTask {
        AgentTask *task;
        sd_event_source *timer;
        uint64_t delay_ms;
} EchoTask;

static EchoTask *echo_task_free(EchoTask *e) {
        if (!e)
                return NULL;
        sd_event_source_disable_unref(e->timer);
        return mfree(e);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(EchoTask *, echo_task_free);

/* delay_ms: absent, a non-negative integer, or a string of decimal digits; at most 10 minutes. */
static int parse_delay(json_t *params, uint64_t *ret, AgentTask *t) {
        json_t *v = json_object_get(params, "delay_ms");
        const char *s;
        char *end = NULL;
        unsigned long long x;

        *ret = 0;
        if (!v)
                return 0;
        if (json_is_integer(v)) {
                if (json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > ECHO_DELAY_MS_MAX)
                        goto invalid;
                *ret = (uint64_t) json_integer_value(v);
                return 0;
        }
        if (!json_is_string(v))
                goto invalid;
        s = json_string_value(v);
        if (isempty(s) || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
                goto invalid;
        errno = 0;
        x = strtoull(s, &end, 10);
        if (errno != 0 || *end != '\0' || x > ECHO_DELAY_MS_MAX)
                goto invalid;
        *ret = (uint64_t) x;
        return 0;

invalid:
        (void) agent_task_set_reject_reason(t, "delay_ms must be an integer from 0 to 600000 (milliseconds)");
        return -EINVAL;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(echo_task_freep) EchoTask *e = userdata;
        AgentTask *t = e->task;

        log_debug("Task %s: done waiting, answering.", agent_task_get_id(t));
        (void) agent_task_progress(t, 1.0, "done");
        (void) agent_task_complete(t, agent_task_get_params(t));
        return 0;
}

static int echo_start(Agent *a, AgentTask *t, void *userdata) {
        _cleanup_(echo_task_freep) EchoTask *e = NULL;
        int r;

        e = calloc(1, sizeof(EchoTask));
        if (!e)
                return -ENOMEM;
        e->task = t;
        r = parse_delay(agent_task_get_params(t), &e->delay_ms, t);
        if (r < 0)
                return r;

        r = sd_event_add_time_relative(agent_get_event(a), &e->timer, CLOCK_MONOTONIC,
                                       e->delay_ms * USEC_PER_MSEC, 0, on_timer, e);
        if (r < 0)
                return r;

        (void) agent_task_progress(t, 0.0, "waiting");
        (void) agent_task_logf(t, "echo: answering in %" PRIu64 " ms", e->delay_ms);
        agent_task_set_userdata(t, e);
        TAKE_PTR(e);
        return 0;
}

static int echo_cancel(Agent *a, AgentTask *t, void *userdata) {
        /* Stop the timer; the SDK then ends the task canceled. */
        echo_task_free(agent_task_get_userdata(t));
        agent_task_set_userdata(t, NULL);
        return 0;
}

int main(int argc, char *argv[]) {
        static const AgentDefinition def = {
                .name = "echo",
                .summary = "Answers every task with its parameters, after an optional delay_ms.",
                .start = echo_start,
                .cancel = echo_cancel,
        };

        return agent_main(&def, argc, argv);
}

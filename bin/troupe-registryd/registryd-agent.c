/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Agents: registration, liveness from heartbeats, and their state as the bus shows it.
 *
 * Liveness costs O(1) per heartbeat (a timestamp) plus one sweeping timer per heartbeat interval
 * that walks the connected agents; no per-agent timer is re-armed on every heartbeat, so 10,000
 * agents at 1 Hz cost 10,000 small packets a second and one pass over a list. */
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "bus/bus-util.h"
#include "registryd.h"

static const char *const agent_state_table[_AGENT_STATE_MAX] = {
        [AGENT_REGISTERED] = "registered",     [AGENT_HEALTHY] = "healthy",
        [AGENT_UNRESPONSIVE] = "unresponsive", [AGENT_LOST] = "lost",
        [AGENT_STOPPED] = "stopped",
};

DEFINE_STRING_TABLE_LOOKUP(agent_state, AgentState);

#define log_agent(level, a, ...) log_full_errno_field(level, 0, "AGENT", (a)->name, __VA_ARGS__)

static int agent_compare(const void *a, const void *b) {
        return strcmp(((const Agent *) a)->name, ((const Agent *) b)->name);
}

Agent *agent_get(Context *c, const char *name) {
        Agent key = {.name = (char *) name};
        void *found;

        if (!name)
                return NULL;
        found = tfind(&key, &c->agents_by_name, agent_compare);
        return found ? *(Agent **) found : NULL;
}

bool agent_is_connected(Agent *a) {
        return a && a->conn;
}

Agent *agent_free(Agent *a) {
        Context *c;

        if (!a)
                return NULL;
        c = a->context;

        /* Its running tasks wait as orphans, as after a restart. */
        LIST_FOREACH_SAFE(agent_tasks, t, n, a->tasks_head) {
                LIST_REMOVE(agent_tasks, a->tasks_head, a->tasks_tail, t);
                t->agent = NULL;
                LIST_APPEND(agent_tasks, c->orphans_head, c->orphans_tail, t);
        }
        if (a->conn)
                a->conn->agent = NULL;
        (void) tdelete(a, &c->agents_by_name, agent_compare);
        LIST_REMOVE(agents, c->agents_head, c->agents_tail, a);
        c->n_agents--;

        free(a->name);
        free(a->version);
        strv_free(a->skills);
        agent_card_free(a->card);
        return mfree(a);
}

static int agent_new(Context *c, const char *name, Agent **ret) {
        Agent *a;
        void *node;

        a = calloc(1, sizeof(Agent));
        if (!a)
                return -ENOMEM;
        a->context = c;
        a->name = strdup(name);
        if (!a->name) {
                free(a);
                return -ENOMEM;
        }
        node = tsearch(a, &c->agents_by_name, agent_compare);
        if (!node || *(Agent **) node != a) {
                free(a->name);
                free(a);
                return node ? -EEXIST : -ENOMEM;
        }
        LIST_APPEND(agents, c->agents_head, c->agents_tail, a);
        c->n_agents++;

        *ret = a;
        return 0;
}

/* Makes room for a new name by forgetting the oldest agent that is gone and runs nothing. */
static int agent_make_room(Context *c) {
        if (c->n_agents < MAX_AGENTS)
                return 0;
        LIST_FOREACH(agents, a, c->agents_head)
        if (!a->conn && !a->tasks_head) {
                (void) bus_emit_object_removed(c->bus, REGISTRY_AGENT_PREFIX, a->name);
                agent_free(a);
                return 0;
        }
        return -ENOBUFS;
}

static void agent_set_state(Agent *a, AgentState s) {
        if (a->state == s)
                return;
        log_agent(s == AGENT_HEALTHY || s == AGENT_REGISTERED ? LOG_INFO : LOG_NOTICE, a,
                  "Agent %s: %s -> %s.", a->name, agent_state_to_string(a->state), agent_state_to_string(s));
        a->state = s;
        registry_emit_agent_changed(a, STRV_MAKE("State"), true);
}

/* Moves the orphaned tasks of this name (left by a registry restart) to the agent. */
static void agent_adopt_orphans(Agent *a) {
        Context *c = a->context;

        LIST_FOREACH_SAFE(agent_tasks, t, n, c->orphans_head) {
                if (!streq(t->agent_name, a->name))
                        continue;
                LIST_REMOVE(agent_tasks, c->orphans_head, c->orphans_tail, t);
                t->agent = a;
                LIST_APPEND(agent_tasks, a->tasks_head, a->tasks_tail, t);
        }
}

int agent_register(Context *c, AgentConn *conn, const char *name, const char *version, char **skills,
                   bool retry, Agent **ret) {
        _cleanup_strv_free_ char **skills_copy = NULL;
        _cleanup_free_ char *version_copy = NULL;
        AgentState old_state;
        bool added = false;
        Agent *a;
        int r;

        skills_copy = strv_copy(skills);
        version_copy = strdup(version);
        if (!skills_copy || !version_copy)
                return -ENOMEM;

        a = agent_get(c, name);
        if (!a) {
                r = agent_make_room(c);
                if (r < 0)
                        return r;
                r = agent_new(c, name, &a);
                if (r < 0)
                        return r;
                added = true;
        } else if (a->conn) {
                /* The same name again: the newer connection wins (the agent restarted, or lost its
                 * connection before we noticed). Its tasks are sorted out by task_agent_back(). */
                AgentConn *old = a->conn;

                log_agent(LOG_NOTICE, a, "Agent %s registered again (pid %i), replacing its old connection.",
                          name, (int) conn->ucred.pid);
                old->agent = NULL;
                a->conn = NULL;
                conn_close(old, -ECONNABORTED, "replaced by a newer registration of the same agent");
        }

        a->conn = conn;
        conn->agent = a;
        free(a->version);
        a->version = TAKE_PTR(version_copy);
        strv_free(a->skills);
        a->skills = TAKE_PTR(skills_copy);
        a->pid = conn->pid;
        a->retry = retry;
        a->stopping = false;
        a->registered_usec = now_usec(CLOCK_MONOTONIC);
        a->last_heartbeat_usec = a->last_seen_usec = 0;

        old_state = a->state;
        a->state = AGENT_REGISTERED;
        if (added)
                registry_emit_agent_added(a);
        else
                /* Everything but Name may have changed. */
                registry_emit_agent_changed(a, NULL, old_state != AGENT_REGISTERED);
        log_agent(LOG_INFO, a, "Agent %s %s registered (pid %" PRIu32 ").", a->name, a->version, a->pid);

        *ret = a;
        return 0;
}

void agent_resume_tasks(Agent *a, char **claimed_task_ids) {
        agent_adopt_orphans(a);
        task_agent_back(a, claimed_task_ids);
}

/* A message of any kind proves the agent alive: a flood of task events must not make an agent
 * whose heartbeats wait behind them look unresponsive. */
void agent_seen(Agent *a) {
        a->last_seen_usec = now_usec(CLOCK_MONOTONIC);
}

void agent_heartbeat(Agent *a, bool stopping) {
        a->last_heartbeat_usec = a->last_seen_usec = now_usec(CLOCK_MONOTONIC);
        a->stopping = stopping;
        if (a->state != AGENT_HEALTHY)
                agent_set_state(a, AGENT_HEALTHY);
}

void agent_disconnected(Agent *a, AgentState state, const char *reason) {
        _cleanup_free_ char *why = NULL;

        if (a->conn) {
                a->conn->agent = NULL;
                a->conn = NULL;
        }
        agent_set_state(a, state);

        if (!a->tasks_head)
                return;
        if (asprintf_safe(&why, "agent %s %s: %s", a->name, state == AGENT_STOPPED ? "stopped" : "was lost",
                          reason) < 0) {
                log_oom();
                return;
        }
        LIST_FOREACH_SAFE(agent_tasks, t, n, a->tasks_head)
        (void) task_agent_gone(t, why);
}

int agent_current_task_ids(Agent *a, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        LIST_FOREACH(agent_tasks, t, a->tasks_head) {
                r = strv_extend(&l, t->id);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static void agent_check_liveness(Agent *a, usec_t now) {
        usec_t interval = a->context->heartbeat_interval_usec;
        usec_t last = MAX(a->last_seen_usec, a->registered_usec);
        usec_t silent = now > last ? now - last : 0;

        if (silent >= HEARTBEATS_LOST * interval) {
                AgentConn *conn = a->conn;

                agent_disconnected(a, AGENT_LOST, "no heartbeat for 10 intervals");
                if (conn)
                        conn_close(conn, -ETIMEDOUT, "no heartbeat for too long");
        } else if (silent >= HEARTBEATS_UNRESPONSIVE * interval && a->state != AGENT_UNRESPONSIVE)
                agent_set_state(a, AGENT_UNRESPONSIVE);
}

static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata) {
        Context *c = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        LIST_FOREACH_SAFE(agents, a, n, c->agents_head)
        if (a->conn)
                agent_check_liveness(a, now);

        r = sd_event_source_set_time_relative(s, c->heartbeat_interval_usec / 2);
        if (r < 0)
                return log_error_errno(r, "Failed to re-arm the heartbeat sweep: %m");
        return sd_event_source_set_enabled(s, SD_EVENT_ON);
}

int agent_sweep_start(Context *c) {
        int r;

        /* Every half interval: a silent agent is marked within half an interval of its deadline. */
        r = sd_event_add_time_relative(c->event, &c->sweep_source, CLOCK_MONOTONIC,
                                       c->heartbeat_interval_usec / 2, c->heartbeat_interval_usec / 20,
                                       on_sweep, c);
        if (r < 0)
                return log_error_errno(r, "Failed to start the heartbeat sweep: %m");
        (void) sd_event_source_set_description(c->sweep_source, "heartbeat-sweep");
        /* After the agent sockets (and the journal commit): heartbeats that have arrived but wait
         * in a backlog must be read before anyone is judged silent. */
        r = sd_event_source_set_priority(c->sweep_source, SD_EVENT_PRIORITY_NORMAL + 2);
        if (r < 0)
                return log_error_errno(r, "Failed to set the heartbeat sweep's priority: %m");
        return 0;
}

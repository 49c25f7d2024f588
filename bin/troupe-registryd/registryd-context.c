/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Context: defaults, start-up (journal, agent socket, heartbeat sweep), teardown, Describe(), Health().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "paths/paths.h"
#include "registryd-privilege.h"
#include "registryd.h"

void context_init_options(Context *c) {
        c->heartbeat_interval_usec = HEARTBEAT_INTERVAL_USEC_DEFAULT;
        c->max_connections = MAX_CONNECTIONS_DEFAULT;
        c->max_unregistered = MAX_UNREGISTERED_DEFAULT;
        c->register_timeout_usec = REGISTER_TIMEOUT_USEC_DEFAULT;
        c->reclaim_grace_usec = RECLAIM_GRACE_USEC_DEFAULT;
        c->cancel_timeout_usec = CANCEL_TIMEOUT_USEC_DEFAULT;
        c->max_finished_tasks = MAX_FINISHED_TASKS_DEFAULT;
        c->max_event_readers = MAX_EVENT_READERS_DEFAULT;
        c->token_lifetime_usec = TOKEN_LIFETIME_USEC_DEFAULT;
        c->consent_timeout_usec = CONSENT_TIMEOUT_USEC_DEFAULT;
}

int context_new(Context **ret) {
        Context *c;

        c = calloc(1, sizeof(Context));
        if (!c)
                return -ENOMEM;
        context_init_options(c);
        *ret = c;
        return 0;
}

Context *context_free(Context *c) {
        if (!c)
                return NULL;

        /* First, while the bus is up: their Stop() calls go out with its last flush. */
        exec_free_all(c);
        /* Before the audit log closes: handlers it still calls then find their requests detached. */
        action_free_all(c);
        consent_free_all(c);
        /* While tasks and agents still exist: handlers of the rows it commits may look at them. */
        registry_audit_done(c);
        while (c->conns_head)
                conn_free(c->conns_head);
        while (c->tasks_head)
                task_free(c->tasks_head);
        while (c->agents_head)
                agent_free(c->agents_head);

        c->sweep_source = sd_event_source_disable_unref(c->sweep_source);
        c->commit_source = sd_event_source_disable_unref(c->commit_source);
        c->server = ipc_server_unref(c->server);
        if (c->socket_path && c->socket_owned)
                (void) unlink(c->socket_path);
        c->journal = journal_free(c->journal);
        registry_token_close(c);
        c->bus = sd_bus_flush_close_unref(c->bus);
        c->event = sd_event_unref(c->event);

        free(c->socket_path);
        free(c->store_path);
        free(c->workspaces_dir);
        return mfree(c);
}

static int load_task(const JournalTask *row, void *userdata) {
        return task_load(userdata, row);
}

static int context_open_journal(Context *c) {
        _cleanup_free_ char *state_dir = NULL, *message = NULL;
        int r;

        r = troupe_path_get(TROUPE_PATH_STATE, &state_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to determine the state directory: %m");
        c->store_path = strjoin(state_dir, "/registry.db");
        if (!c->store_path)
                return log_oom();

        r = journal_open(c->store_path, &c->journal, &message);
        if (r == -EBUSY)
                return log_error_errno(r, "%s is in use by another registry: %s", c->store_path,
                                       strna(message));
        if (r < 0)
                return log_error_errno(r, "Failed to open the task journal %s: %s", c->store_path,
                                       message ?: strerror(-r));

        r = journal_task_foreach(c->journal, load_task, c);
        if (r < 0)
                return log_error_errno(r, "Failed to load the tasks from %s: %s", c->store_path,
                                       journal_last_error(c->journal));

        log_info("Journal %s: %zu tasks, %zu of them finished, %zu waiting for their agents.", c->store_path,
                 c->n_tasks, c->n_finished_tasks, c->n_tasks - c->n_finished_tasks);
        /* Applies the retention limit, which may have shrunk since the last run. */
        return context_flush(c);
}

int context_load(Context *c) {
        int r;

        c->started_usec = now_usec(CLOCK_MONOTONIC);

        r = troupe_path_get(TROUPE_PATH_WORKSPACES, &c->workspaces_dir);
        if (r < 0)
                return log_error_errno(r, "Failed to determine the workspaces directory: %m");

        r = context_open_journal(c);
        if (r < 0)
                return r;
        /* Before the socket: every StartTask carries a token. */
        r = registry_token_open(c);
        if (r < 0)
                return r;
        r = consent_setup(c);
        if (r < 0)
                return r;
        /* After the journal, which keeps its anchor. */
        r = registry_audit_open(c);
        if (r < 0)
                return r;
        r = conn_server_start(c);
        if (r < 0)
                return r;
        return agent_sweep_start(c);
}

static int describe_counts(Context *c, json_t **ret_agents, json_t **ret_tasks) {
        _cleanup_json_ json_t *agents = json_object(), *tasks = json_object();
        size_t by_agent[_AGENT_STATE_MAX] = {}, by_task[_TASK_STATE_MAX] = {};

        if (!agents || !tasks)
                return -ENOMEM;
        LIST_FOREACH(agents, a, c->agents_head)
        by_agent[a->state]++;
        LIST_FOREACH(tasks, t, c->tasks_head)
        if (!t->is_new)
                by_task[t->pub_state]++;

        if (json_object_set_new(agents, "total", json_integer((json_int_t) c->n_agents)) < 0 ||
            json_object_set_new(tasks, "total", json_integer((json_int_t) c->n_tasks)) < 0)
                return -ENOMEM;
        for (AgentState s = 0; s < _AGENT_STATE_MAX; s++)
                if (json_object_set_new(agents, agent_state_to_string(s),
                                        json_integer((json_int_t) by_agent[s])) < 0)
                        return -ENOMEM;
        for (TaskState s = 0; s < _TASK_STATE_MAX; s++)
                if (json_object_set_new(tasks, task_state_to_string(s),
                                        json_integer((json_int_t) by_task[s])) < 0)
                        return -ENOMEM;

        *ret_agents = TAKE_PTR(agents);
        *ret_tasks = TAKE_PTR(tasks);
        return 0;
}

int context_describe(void *userdata, json_t **ret) {
        _cleanup_json_ json_t *v = NULL, *agents = NULL, *tasks = NULL, *audit = NULL;
        Context *c = userdata;
        int r;

        r = describe_counts(c, &agents, &tasks);
        if (r < 0)
                return r;

        v = json_pack(
                "{s:s, s:s?, s:s?, s:s?, s:I, s:o, s:o, s:{s:I, s:I}, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, "
                "s:I, s:I}}",
                "version", PACKAGE_VERSION, "agent_socket", c->socket_path, "store", c->store_path,
                "workspaces", c->workspaces_dir, "heartbeat_interval_ms",
                (json_int_t) (c->heartbeat_interval_usec / USEC_PER_MSEC), "agents", TAKE_PTR(agents),
                "tasks", TAKE_PTR(tasks), "connections", "total", (json_int_t) c->n_conns, "unregistered",
                (json_int_t) c->n_unregistered, "event_readers", (json_int_t) c->n_readers, "uptime_usec",
                (json_int_t) (now_usec(CLOCK_MONOTONIC) - c->started_usec), "limits", "max_connections",
                (json_int_t) c->max_connections, "max_unregistered", (json_int_t) c->max_unregistered,
                "register_timeout_ms", (json_int_t) (c->register_timeout_usec / USEC_PER_MSEC),
                "reclaim_grace_ms", (json_int_t) (c->reclaim_grace_usec / USEC_PER_MSEC),
                "cancel_timeout_ms", (json_int_t) (c->cancel_timeout_usec / USEC_PER_MSEC),
                "max_finished_tasks", (json_int_t) c->max_finished_tasks, "max_event_readers",
                (json_int_t) c->max_event_readers);
        if (!v)
                return -ENOMEM;
        r = registry_audit_describe(c, &audit);
        if (r < 0)
                return r;
        if (json_object_set_new(v, "audit", TAKE_PTR(audit)) < 0)
                return -ENOMEM;
        /* Commands followed for ExecRequests, and how long tokens are minted for. */
        if (json_object_set_new(v, "execs", json_integer((json_int_t) c->n_execs)) < 0 ||
            json_object_set_new(v, "token_lifetime_sec",
                                json_integer((json_int_t) (c->token_lifetime_usec / USEC_PER_SEC))) < 0)
                return -ENOMEM;

        *ret = TAKE_PTR(v);
        return 0;
}

int context_health(Context *c, char **ret) {
        /* An audit log that cannot be written makes every privileged action fail: say so too. */
        const char *audit = registry_audit_unavailable(c);
        char *s;
        int r;

        r = journal_health(c->journal);
        if (r < 0)
                r = asprintf_safe(&s, "store: %s%s%s", strerror(-r), audit ? "; audit: " : "",
                                  strempty(audit));
        else if (!c->server)
                r = asprintf_safe(&s, "agent socket: not listening");
        else if (audit)
                r = asprintf_safe(&s, "audit: %s", audit);
        else
                r = asprintf_safe(&s, "ok");
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

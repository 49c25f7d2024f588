/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's link to the registry: connect, Register, heartbeats, reconnect with backoff. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "agent/sdk-internal.h"
#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "paths/paths.h"

#define HEARTBEAT_INTERVAL_DEFAULT_USEC (1 * USEC_PER_SEC)
#define HEARTBEAT_INTERVAL_MIN_USEC (10 * USEC_PER_MSEC)
#define HEARTBEAT_INTERVAL_MAX_USEC (3600 * USEC_PER_SEC)

static uint64_t random_u64(void) {
        uint64_t x;

        if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t) sizeof(x))
                x = now_usec(CLOCK_MONOTONIC) ^ ((uint64_t) getpid() << 32);
        return x;
}

/* 100 ms doubling to 5 s, plus up to a quarter more, so that agents cut off together by a
 * registry restart do not all come back in the same millisecond. */
static uint64_t reconnect_delay_usec(unsigned attempt) {
        uint64_t d = AGENT_RECONNECT_MIN_USEC;

        for (unsigned i = 0; i < attempt && d < AGENT_RECONNECT_MAX_USEC; i++)
                d *= 2;
        d = MIN(d, AGENT_RECONNECT_MAX_USEC);
        return d + random_u64() % (d / 4 + 1);
}

static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata);

static int schedule_reconnect(Agent *a) {
        uint64_t delay = reconnect_delay_usec(a->reconnect_attempt);
        int r;

        a->reconnect_attempt++;
        if (!a->reconnect_timer)
                return sd_event_add_time_relative(a->event, &a->reconnect_timer, CLOCK_MONOTONIC, delay, 0,
                                                  on_reconnect_timer, a);
        r = sd_event_source_set_time_relative(a->reconnect_timer, delay);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(a->reconnect_timer, SD_EVENT_ONESHOT);
}

static int on_reconnect_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        int r;

        if (a->stopping || a->connection)
                return 0;
        r = agent_link_connect(a);
        if (r >= 0)
                return 0;

        log_debug_errno(r, "Failed to reach the registry (attempt %u), retrying: %m", a->reconnect_attempt);
        r = schedule_reconnect(a);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule reconnecting to the registry: %m");
                return sd_event_exit(a->event, EXIT_FAILURE);
        }
        return 0;
}

static int socket_path(Agent *a, char **ret) {
        const char *e;
        char *p;

        if (a->socket_path)
                e = a->socket_path;
        else
                e = getenv("TROUPE_AGENT_SOCKET");
        if (isempty(e))
                return troupe_path_get(TROUPE_PATH_AGENT_SOCKET, ret);
        p = strdup(e);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static int send_heartbeat(Agent *a, bool stopping) {
        _cleanup_strv_free_ char **ids = NULL;
        Troupe__V1__Heartbeat hb = TROUPE__V1__HEARTBEAT__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        int r;

        r = agent_tasks_ids(a, true, &ids);
        if (r < 0)
                return r;
        hb.monotonic_usec = now_usec(CLOCK_MONOTONIC);
        hb.n_current_task_ids = strv_length(ids);
        hb.current_task_ids = ids;
        hb.stopping = stopping;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        return agent_link_send(a, &e);
}

static int on_heartbeat_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        int r;

        if (a->link != AGENT_LINK_REGISTERED)
                return 0;
        if (a->heartbeats_unacked >= AGENT_HEARTBEAT_MISSES_MAX) {
                log_warning("The registry acknowledged none of the last %u heartbeats, reconnecting.",
                            a->heartbeats_unacked);
                agent_link_drop(a);
                return 0;
        }

        r = send_heartbeat(a, false);
        if (r < 0)
                log_debug_errno(r, "Failed to send a heartbeat, ignoring: %m");
        else
                a->heartbeats_unacked++;

        r = sd_event_source_set_time_relative(s, a->heartbeat_interval_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Failed to re-arm the heartbeat timer, ignoring: %m");
        return 0;
}

static int start_heartbeats(Agent *a) {
        int r;

        /* The first heartbeat goes out at once: it is what makes the agent healthy. */
        if (!a->heartbeat_timer)
                return sd_event_add_time_relative(a->event, &a->heartbeat_timer, CLOCK_MONOTONIC, 0, 0,
                                                  on_heartbeat_timer, a);
        r = sd_event_source_set_time_relative(a->heartbeat_timer, 0);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(a->heartbeat_timer, SD_EVENT_ONESHOT);
}

static int handle_register_reply(Agent *a, const Troupe__V1__RegisterReply *reply) {
        uint64_t interval;
        int r;

        if (a->link != AGENT_LINK_REGISTERING)
                return -ENOTCONN;
        if (!reply->accepted) {
                log_error("The registry refused agent '%s': %s", a->card->name, strna(reply->error));
                (void) agent_stop(a, EXIT_FAILURE);
                return 0;
        }

        interval = reply->heartbeat_interval_ms > 0 ? reply->heartbeat_interval_ms * USEC_PER_MSEC
                                                    : HEARTBEAT_INTERVAL_DEFAULT_USEC;
        a->heartbeat_interval_usec = MIN(MAX(interval, HEARTBEAT_INTERVAL_MIN_USEC), HEARTBEAT_INTERVAL_MAX_USEC);
        a->link = AGENT_LINK_REGISTERED;
        a->reconnect_attempt = 0;
        a->heartbeats_unacked = 0;
        log_full(a->n_connections > 1 ? LOG_INFO : LOG_DEBUG,
                 "Registered as '%s' (connection %u), heartbeat every %" PRIu64 " ms.", a->card->name,
                 a->n_connections, a->heartbeat_interval_usec / USEC_PER_MSEC);

        r = start_heartbeats(a);
        if (r < 0)
                return r;
        agent_tasks_flush(a);
        agent_update_idle(a);
        return 0;
}

static int handle_error(Agent *a, const Troupe__V1__Error *error) {
        log_warning("The registry reported an error (%s) about packet %" PRIu64 ": %s",
                    strna(ipc_error_code_to_string(error->code)), error->seq, strna(error->message));
        return 0;
}

static int on_message(IpcConnection *c, const IpcEnvelope *e, int *fds, size_t n_fds, void *userdata) {
        Agent *a = userdata;
        int r;

        if (e->body_case == TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY)
                return handle_register_reply(a, e->register_reply);
        if (e->body_case == TROUPE__V1__ENVELOPE__BODY_ERROR)
                return handle_error(a, e->error);
        /* Everything else belongs to a registered connection. */
        if (a->link != AGENT_LINK_REGISTERED)
                return -ENOTCONN;

        switch (e->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
                a->heartbeats_unacked = 0;
                return 0;
        case TROUPE__V1__ENVELOPE__BODY_START_TASK:
                r = agent_task_dispatch_start(a, e->start_task);
                if (r == -EINVAL) {
                        /* A bad request, not a broken connection: say so and carry on. */
                        (void) ipc_connection_send_error(c, TROUPE__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGS, e->seq,
                                                         "StartTask with an invalid task id or workspace");
                        return 0;
                }
                return r;
        case TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK:
                return agent_task_dispatch_cancel(a, e->cancel_task);
        case TROUPE__V1__ENVELOPE__BODY_EXEC_RESULT:
                return agent_requests_dispatch_exec_result(a, e->exec_result);
        case TROUPE__V1__ENVELOPE__BODY_ACTION_RESULT:
                return agent_requests_dispatch_action_result(a, e->action_result);
        default:
                /* Messages an agent sends, not receives. */
                (void) ipc_connection_send_error(c, TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_STATE, e->seq,
                                                 "an agent does not accept this message");
                return 0;
        }
}

static void on_disconnect(IpcConnection *c, int reason, void *userdata) {
        Agent *a = userdata;
        bool was_registered = a->link == AGENT_LINK_REGISTERED;
        int r;

        a->connection = ipc_connection_unref(a->connection);
        a->link = AGENT_LINK_DISCONNECTED;
        (void) sd_event_source_set_enabled(a->heartbeat_timer, SD_EVENT_OFF);
        /* Their answers would come on this connection, or never (a registry that restarted has
         * forgotten them): the agent decides whether to ask again. */
        agent_requests_fail_all(a, "the connection to the registry was lost before the answer came");

        if (a->stopping) {
                agent_stop_finished(a);
                return;
        }

        log_full_errno(was_registered ? LOG_WARNING : LOG_DEBUG, reason,
                       "Lost the connection to the registry (%m), reconnecting.");
        agent_update_idle(a);
        r = schedule_reconnect(a);
        if (r < 0) {
                log_error_errno(r, "Failed to schedule reconnecting to the registry: %m");
                (void) sd_event_exit(a->event, EXIT_FAILURE);
        }
}

static int send_register(Agent *a) {
        _cleanup_strv_free_ char **ids = NULL;
        _cleanup_free_ char **skills = NULL;
        Troupe__V1__Register reg = TROUPE__V1__REGISTER__INIT;
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        int r;

        r = agent_tasks_ids(a, false, &ids);
        if (r < 0)
                return r;
        skills = calloc(a->card->n_skills + 1, sizeof(char *));
        if (!skills)
                return -ENOMEM;
        for (size_t i = 0; i < a->card->n_skills; i++)
                skills[i] = a->card->skills[i].id;

        reg.name = a->card->name;
        reg.version = a->card->version;
        reg.pid = (uint32_t) getpid();
        reg.card_json = a->card_json;
        reg.n_skills = a->card->n_skills;
        reg.skills = skills;
        reg.n_current_task_ids = strv_length(ids);
        reg.current_task_ids = ids;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_REGISTER;
        e.register_ = &reg;
        return ipc_connection_send(a->connection, &e);
}

static int open_socket(Agent *a) {
        _cleanup_free_ char *path = NULL;
        int r;

        /* An inherited connection is used once; after it drops, the registry has restarted and
         * is reached by its path. */
        if (a->first_fd >= 0)
                return TAKE_FD(a->first_fd);

        r = socket_path(a, &path);
        if (r < 0)
                return r;
        return ipc_socket_connect(path);
}

int agent_link_connect(Agent *a) {
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert_return(a && a->card, -EINVAL);
        assert_return(!a->connection, -EBUSY);

        fd = open_socket(a);
        if (fd < 0)
                return fd;
        r = ipc_connection_new(a->event, fd, &c);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        ipc_connection_set_handlers(c, on_message, on_disconnect, a);

        a->connection = TAKE_PTR(c);
        a->link = AGENT_LINK_REGISTERING;
        a->n_connections++;
        r = send_register(a);
        if (r < 0) {
                a->connection = ipc_connection_unref(a->connection);
                a->link = AGENT_LINK_DISCONNECTED;
                return r;
        }
        return 0;
}

int agent_link_start(Agent *a) {
        int r;

        r = agent_link_connect(a);
        if (r >= 0)
                return 0;
        log_info_errno(r, "The registry is not reachable yet (%m), retrying.");
        return schedule_reconnect(a);
}

void agent_link_drop(Agent *a) {
        if (a->connection)
                (void) ipc_connection_close(a->connection, -ETIMEDOUT);
}

int agent_link_send(Agent *a, const IpcEnvelope *e) {
        if (!a->connection || a->link != AGENT_LINK_REGISTERED)
                return -ENOTCONN;
        return ipc_connection_send(a->connection, e);
}

int agent_link_stop(Agent *a) {
        int r = 0;

        a->reconnect_timer = sd_event_source_disable_unref(a->reconnect_timer);
        (void) sd_event_source_set_enabled(a->heartbeat_timer, SD_EVENT_OFF);
        if (!a->connection)
                return 0;
        if (a->link == AGENT_LINK_REGISTERED)
                r = send_heartbeat(a, true);
        (void) ipc_connection_close(a->connection, -ESHUTDOWN);
        return r;
}

void agent_link_free(Agent *a) {
        a->reconnect_timer = sd_event_source_disable_unref(a->reconnect_timer);
        a->heartbeat_timer = sd_event_source_disable_unref(a->heartbeat_timer);
        a->connection = ipc_connection_unref(a->connection);
        a->link = AGENT_LINK_DISCONNECTED;
}

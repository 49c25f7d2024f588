/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent socket: accepting connections, Register, and routing each message to its agent or task.
 * Framing, size caps, version and body checks and the same-uid rule are lib/ipc's; what reaches
 * this file is a well-formed Envelope from our own user, still to be validated field by field. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "agent/agentcard.h"
#include "basic/fd-util.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "paths/paths.h"
#include "registryd-privilege.h"
#include "registryd.h"

/* What one agent connection may queue towards a peer that does not read. */
#define CONN_QUEUE_PACKETS 256U
#define CONN_QUEUE_BYTES ((size_t) 1024U * 1024U)
/* How long a connection must have been silent before a newer one may push it out. */
#define CONN_IDLE_EVICT_USEC (1 * USEC_PER_SEC)
/* File descriptors kept free for the store, the bus, event readers and workspaces. */
#define FDS_RESERVED 256U

/* Takes the connection off the list of those still to register (it did, or it is going). */
static void conn_unlist(AgentConn *conn) {
        Context *c = conn->context;

        if (!conn->unregistered_listed)
                return;
        LIST_REMOVE(unregistered, c->unregistered_head, c->unregistered_tail, conn);
        conn->unregistered_listed = false;
        c->n_unregistered--;
}

AgentConn *conn_free(AgentConn *conn) {
        Context *c;

        if (!conn)
                return NULL;
        c = conn->context;

        if (conn->agent && conn->agent->conn == conn)
                conn->agent->conn = NULL;
        conn_unlist(conn);
        LIST_REMOVE(conns, c->conns_head, c->conns_tail, conn);
        c->n_conns--;
        conn->register_timeout = sd_event_source_disable_unref(conn->register_timeout);
        if (conn->ipc) {
                ipc_connection_set_handlers(conn->ipc, NULL, NULL, NULL);
                ipc_connection_unref(conn->ipc);
        }
        return mfree(conn);
}

void conn_close(AgentConn *conn, int reason, const char *message) {
        if (!ipc_connection_is_open(conn->ipc))
                return;
        if (message)
                (void) ipc_connection_send_error(conn->ipc, ipc_error_code_from_errno(reason), 0, message);
        (void) ipc_connection_close(conn->ipc, reason);
}

int conn_send_start_task(AgentConn *conn, const Task *t, const char *params_json,
                         const Troupe__V1__BootstrapParams *bootstrap, const void *token,
                         size_t token_size) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__StartTask st = TROUPE__V1__START_TASK__INIT;

        if (bootstrap) {
                st.typed_params_case = TROUPE__V1__START_TASK__TYPED_PARAMS_BOOTSTRAP;
                st.bootstrap = (Troupe__V1__BootstrapParams *) bootstrap;
        }

        st.task_id = (char *) t->id;
        st.workspace = t->workspace;
        st.params_json = (char *) strempty(params_json);
        st.capability_token.data = (uint8_t *) token;
        st.capability_token.len = token_size;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_START_TASK;
        e.start_task = &st;
        return ipc_connection_send(conn->ipc, &e);
}

int conn_send_cancel_task(AgentConn *conn, const char *task_id, const char *reason) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__CancelTask ct = TROUPE__V1__CANCEL_TASK__INIT;

        ct.task_id = (char *) task_id;
        ct.reason = (char *) strempty(reason);
        e.body_case = TROUPE__V1__ENVELOPE__BODY_CANCEL_TASK;
        e.cancel_task = &ct;
        return ipc_connection_send(conn->ipc, &e);
}

static int conn_send_register_reply(AgentConn *conn, const char *error) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__RegisterReply reply = TROUPE__V1__REGISTER_REPLY__INIT;

        reply.accepted = !error;
        reply.heartbeat_interval_ms = (uint32_t) (conn->context->heartbeat_interval_usec / USEC_PER_MSEC);
        reply.error = (char *) strempty(error);
        e.body_case = TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY;
        e.register_reply = &reply;
        return ipc_connection_send(conn->ipc, &e);
}

/* Refuses a registration with its reason and hangs up. */
static int conn_refuse_register(AgentConn *conn, int error, const char *reason) {
        log_notice("Refused registration from pid %i: %s", (int) conn->ucred.pid, reason);
        (void) conn_send_register_reply(conn, reason);
        (void) ipc_connection_close(conn->ipc, error);
        return 0;
}

/* A NULL-terminated copy of a repeated string field, each entry checked. */
static int strv_from_repeated(char **items, size_t n, size_t max_items, size_t max_len, bool names,
                              char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        if (n > max_items)
                return -E2BIG;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(items[i]);

                if (len == 0 || len > max_len || (names && !name_is_valid(items[i], max_len)))
                        return -EINVAL;
                l[i] = strdup(items[i]);
                if (!l[i])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The skills the agent offers: those it names, each of which its card must declare, or else all of
 * the card's. */
static int register_skills(const Troupe__V1__Register *reg, const AgentCard *card, char ***ret,
                           const char **reason) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = strv_from_repeated(reg->skills, reg->n_skills, AGENT_SKILLS_MAX, AGENT_NAME_MAX, true, &l);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *reason = "skills: at most 64 valid skill ids";
                return r;
        }
        STRV_FOREACH (s, l)
                if (!agent_card_find_skill(card, *s)) {
                        *reason = "skills: a skill the agent card does not declare";
                        return -EINVAL;
                }
        if (!l[0])
                for (size_t i = 0; i < card->n_skills; i++) {
                        r = strv_extend(&l, card->skills[i].id);
                        if (r < 0)
                                return r;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The parent pid and owner of process `pid`, from /proc. */
static int pid_get_parent(pid_t pid, pid_t *ret_ppid, uid_t *ret_uid) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        const char *p;
        int ppid, r;

        if (asprintf_safe(&path, "/proc/%i/stat", (int) pid) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        r = read_full_fd(fd, 4096, &text, NULL);
        if (r < 0)
                return r;
        /* The command name may hold anything, ")" too: the fields resume after the last one. */
        p = strrchr(text, ')');
        if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
                return -EBADMSG;
        *ret_ppid = (pid_t) ppid;
        *ret_uid = st.st_uid;
        return 0;
}

/* SO_PEERCRED names whoever called connect(). An agent started by the supervisor inherits a
 * connection its parent opened, so then the peer is the parent: the pid the agent gives is taken
 * when /proc shows it is a child of the peer, running as the same user. */
static uint32_t register_pid(AgentConn *conn, uint32_t claimed) {
        pid_t ppid = 0;
        uid_t uid = (uid_t) -1;

        if (claimed == 0 || claimed == (uint32_t) conn->ucred.pid || claimed > INT32_MAX)
                return (uint32_t) conn->ucred.pid;
        if (pid_get_parent((pid_t) claimed, &ppid, &uid) < 0 || ppid != conn->ucred.pid ||
            uid != conn->ucred.uid) {
                log_debug("Agent claims pid %" PRIu32
                          ", which is no child of the peer %i; using the peer's.",
                          claimed, (int) conn->ucred.pid);
                return (uint32_t) conn->ucred.pid;
        }
        return claimed;
}

static int conn_handle_register(AgentConn *conn, const Troupe__V1__Register *reg) {
        _cleanup_(agent_card_freep) AgentCard *card = NULL;
        _cleanup_strv_free_ char **skills = NULL, **claimed = NULL;
        _cleanup_free_ char *card_error = NULL, *msg = NULL;
        const char *reason = NULL;
        Agent *a;
        int r;

        if (!name_is_valid(reg->name, AGENT_NAME_MAX))
                return conn_refuse_register(conn, -EINVAL, "name: not a valid agent name");
        if (isempty(reg->version) || strlen(reg->version) > AGENT_VERSION_MAX)
                return conn_refuse_register(conn, -EINVAL, "version: must be 1..64 bytes");
        r = strv_from_repeated(reg->current_task_ids, reg->n_current_task_ids, AGENT_TASK_IDS_MAX, 64, false,
                               &claimed);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return conn_refuse_register(conn, r, "current_task_ids: at most 256 ids of 1..64 bytes");

        r = agent_card_parse(reg->card_json, strlen(reg->card_json), &card, &card_error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                (void) asprintf_safe(&msg, "card_json: %s", strna(card_error));
                return conn_refuse_register(conn, r, msg ?: "card_json: invalid agent card");
        }
        if (!streq(card->name, reg->name))
                return conn_refuse_register(conn, -EINVAL, "name: differs from the name in the agent card");
        r = register_skills(reg, card, &skills, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return conn_refuse_register(conn, r, reason);

        conn->pid = register_pid(conn, reg->pid);
        r = agent_register(conn->context, conn, reg->name, reg->version, skills, card->exec.retry, &a);
        if (r == -ENOBUFS)
                return conn_refuse_register(conn, r, "too many agents");
        if (r < 0)
                return r;

        conn->registered = true;
        conn_unlist(conn);
        conn->register_timeout = sd_event_source_disable_unref(conn->register_timeout);
        /* What its tokens grant comes from the installed card, read again now: not from the card
         * it sent, which is its own word. */
        registry_agent_card_reload(a);

        r = conn_send_register_reply(conn, NULL);
        if (r < 0)
                return r;
        agent_resume_tasks(a, claimed);
        return 0;
}

static int conn_send_heartbeat_ack(AgentConn *conn, const IpcEnvelope *e) {
        IpcEnvelope reply = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__HeartbeatAck ack = TROUPE__V1__HEARTBEAT_ACK__INIT;

        ack.monotonic_usec = e->heartbeat->monotonic_usec;
        ack.heartbeat_seq = e->seq;
        reply.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
        reply.heartbeat_ack = &ack;
        return ipc_connection_send(conn->ipc, &reply);
}

/* The task an agent's message refers to, if it is this agent's and still running. */
static int conn_find_task(AgentConn *conn, const char *id, Task **ret) {
        Task *t = task_get(conn->context, id);

        if (!t || !streq(t->agent_name, conn->agent->name))
                return -ENOENT;
        if (task_state_is_final(t->state))
                return -EISCONN;
        *ret = t;
        return 0;
}

static TaskState task_state_from_proto(Troupe__V1__TaskState s) {
        if (s < TROUPE__V1__TASK_STATE__TASK_STATE_SUBMITTED ||
            s > TROUPE__V1__TASK_STATE__TASK_STATE_REJECTED)
                return _TASK_STATE_INVALID;
        return (TaskState) (s - TROUPE__V1__TASK_STATE__TASK_STATE_SUBMITTED);
}

static int conn_handle_task_event(Task *t, const Troupe__V1__TaskEvent *ev) {
        switch (ev->event_case) {
        case TROUPE__V1__TASK_EVENT__EVENT_PROGRESS:
                return task_handle_progress(t, ev->progress->fraction, ev->progress->message);
        case TROUPE__V1__TASK_EVENT__EVENT_LOG:
                return task_handle_log(t, ev->log->stream, ev->log->text);
        case TROUPE__V1__TASK_EVENT__EVENT_STATE:
                return task_handle_state(t, task_state_from_proto(ev->state->state), ev->state->message);
        default:
                return -EINVAL;
        }
}

/* TaskAccepted, TaskEvent, TaskResult: a bad one is refused with an Error, the connection stays. */
static int conn_handle_task_message(AgentConn *conn, const IpcEnvelope *e) {
        const char *id;
        Task *t;
        int r;

        switch (e->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED:
                id = e->task_accepted->task_id;
                break;
        case TROUPE__V1__ENVELOPE__BODY_TASK_EVENT:
                id = e->task_event->task_id;
                break;
        default:
                id = e->task_result->task_id;
                break;
        }

        r = conn_find_task(conn, id, &t);
        if (r >= 0)
                switch (e->body_case) {
                case TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED:
                        r = task_handle_accepted(t, e->task_accepted->accepted, e->task_accepted->reason);
                        break;
                case TROUPE__V1__ENVELOPE__BODY_TASK_EVENT:
                        r = conn_handle_task_event(t, e->task_event);
                        break;
                default:
                        r = task_handle_result(t, task_state_from_proto(e->task_result->state),
                                               e->task_result->result_json, e->task_result->error);
                        break;
                }
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_debug_errno(r, "Refused %s for task %s from agent %s: %m",
                                envelope_body_to_string(e->body_case), id, conn->agent->name);
                (void) ipc_connection_send_error(conn->ipc, ipc_error_code_from_errno(r), e->seq,
                                                 r == -ENOENT ? "no such task for this agent"
                                                 : r == -EISCONN
                                                         ? "the task is not in a state for this message"
                                                         : "a field is out of its documented limits");
        }
        return 0;
}

static int conn_wrong_direction(AgentConn *conn, const IpcEnvelope *e) {
        (void) ipc_connection_send_error(conn->ipc, TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_STATE, e->seq,
                                         "this message is sent by the registry, not to it");
        (void) ipc_connection_close(conn->ipc, -EBADMSG);
        return 0;
}

static int on_message(IpcConnection *ipc, const IpcEnvelope *e, int *fds, size_t n_fds, void *userdata) {
        AgentConn *conn = userdata;

        if (e->body_case == TROUPE__V1__ENVELOPE__BODY_REGISTER) {
                if (conn->registered)
                        return -EISCONN;
                return conn_handle_register(conn, e->register_);
        }
        if (e->body_case == TROUPE__V1__ENVELOPE__BODY_ERROR) {
                log_debug("Agent connection (pid %i) reports error %s: %s", (int) conn->ucred.pid,
                          strna(ipc_error_code_to_string(e->error->code)), e->error->message);
                return 0;
        }
        if (!conn->registered || !conn->agent)
                return -ENOTCONN;
        agent_seen(conn->agent);

        switch (e->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT:
                if (e->heartbeat->n_current_task_ids > AGENT_TASK_IDS_MAX)
                        return -EINVAL;
                agent_heartbeat(conn->agent, e->heartbeat->stopping);
                return conn_send_heartbeat_ack(conn, e);
        case TROUPE__V1__ENVELOPE__BODY_TASK_ACCEPTED:
        case TROUPE__V1__ENVELOPE__BODY_TASK_EVENT:
        case TROUPE__V1__ENVELOPE__BODY_TASK_RESULT:
                return conn_handle_task_message(conn, e);
        case TROUPE__V1__ENVELOPE__BODY_EXEC_REQUEST:
                return exec_handle_request(conn, e);
        case TROUPE__V1__ENVELOPE__BODY_ACTION_REQUEST:
                return action_handle_request(conn, e);
        default:
                return conn_wrong_direction(conn, e);
        }
}

static void on_disconnect(IpcConnection *ipc, int reason, void *userdata) {
        AgentConn *conn = userdata;
        Agent *a = conn->agent;

        if (a && a->conn == conn) {
                char buf[128];

                (void) snprintf(buf, sizeof(buf), "connection closed (%s)",
                                reason == -ECONNRESET ? "hung up" : strerror(-reason));
                agent_disconnected(a, a->stopping ? AGENT_STOPPED : AGENT_LOST, buf);
        } else
                log_debug_errno(reason, "Agent connection of pid %i closed: %m", (int) conn->ucred.pid);
        conn_free(conn);
}

static int on_register_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        AgentConn *conn = userdata;

        log_debug("Agent connection of pid %i sent no Register in time, closing.", (int) conn->ucred.pid);
        conn_unlist(conn);
        conn_close(conn, -ETIMEDOUT, "no Register in time");
        return 0;
}

static int on_connect(IpcServer *server, IpcConnection *ipc, void *userdata) {
        Context *c = userdata;
        AgentConn *conn;
        int r;

        /* Connections that have not registered yet are capped separately. At the cap the oldest
         * one goes if it has been silent for a while (an agent registers within milliseconds of
         * connecting, so a pile of idle connections cannot lock agents out); if even the oldest
         * is young, this is a burst of connections and the newest is refused instead. */
        if (c->n_unregistered >= c->max_unregistered) {
                AgentConn *oldest = c->unregistered_head;

                if (now_usec(CLOCK_MONOTONIC) < oldest->accepted_usec + CONN_IDLE_EVICT_USEC)
                        return -ENOBUFS;
                log_debug("Too many connections that have not registered, closing the oldest (pid %i).",
                          (int) oldest->ucred.pid);
                conn_unlist(oldest);
                conn_close(oldest, -ENOBUFS, "too many connections that have not registered");
        }

        conn = calloc(1, sizeof(AgentConn));
        if (!conn)
                return -ENOMEM;
        conn->context = c;
        conn->ipc = ipc_connection_ref(ipc);
        conn->accepted_usec = now_usec(CLOCK_MONOTONIC);
        LIST_APPEND(conns, c->conns_head, c->conns_tail, conn);
        c->n_conns++;
        LIST_APPEND(unregistered, c->unregistered_head, c->unregistered_tail, conn);
        conn->unregistered_listed = true;
        c->n_unregistered++;

        (void) ipc_connection_get_peer_cred(ipc, &conn->ucred);
        ipc_connection_set_handlers(ipc, on_message, on_disconnect, conn);
        r = ipc_connection_set_queue_limits(ipc, CONN_QUEUE_PACKETS, CONN_QUEUE_BYTES);
        if (r >= 0)
                r = sd_event_add_time_relative(c->event, &conn->register_timeout, CLOCK_MONOTONIC,
                                               c->register_timeout_usec, 100 * USEC_PER_MSEC,
                                               on_register_timeout, conn);
        if (r < 0) {
                conn_free(conn);
                return r;
        }
        return 0;
}

/* Agents are connections: allow as many files as the hard limit lets us. */
static size_t conn_limit_by_rlimit(size_t wanted) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return wanted;
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t old = rl.rlim_cur;

                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        rl.rlim_cur = old;
        }
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= wanted + FDS_RESERVED)
                return wanted;
        return rl.rlim_cur > 2 * FDS_RESERVED ? (size_t) rl.rlim_cur - FDS_RESERVED
                                              : (size_t) rl.rlim_cur / 2;
}

static int conn_listen_fd(Context *c) {
        const char *e;
        int n, r;

        /* Socket activation: one listening SOCK_SEQPACKET socket. */
        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by the service manager: %m");
        if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) > 0) {
                log_debug("Using the agent socket passed by the service manager.");
                return SD_LISTEN_FDS_START;
        }
        if (n > 0)
                return log_error_errno(
                        -EBADF, "Expected one listening SOCK_SEQPACKET socket, got %d file descriptors.", n);

        e = getenv("TROUPE_AGENT_SOCKET");
        if (!isempty(e)) {
                if (e[0] != '/')
                        return log_error_errno(-EINVAL, "$TROUPE_AGENT_SOCKET must be an absolute path: %s",
                                               e);
                c->socket_path = strdup(e);
                if (!c->socket_path)
                        return log_oom();
        } else {
                r = troupe_path_get(TROUPE_PATH_AGENT_SOCKET, &c->socket_path);
                if (r < 0)
                        return log_error_errno(r, "Failed to determine the agent socket's path: %m");
        }

        r = ipc_socket_listen(c->socket_path, true);
        if (r == -EADDRINUSE)
                return log_error_errno(r, "Another registry is listening on %s.", c->socket_path);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", c->socket_path);
        c->socket_owned = true;
        return r;
}

int conn_server_start(Context *c) {
        size_t max;
        int fd, r;

        fd = conn_listen_fd(c);
        if (fd < 0)
                return fd;

        r = ipc_server_new(c->event, fd, on_connect, c, &c->server);
        if (r < 0) {
                safe_close(fd);
                return log_error_errno(r, "Failed to serve the agent socket: %m");
        }

        max = conn_limit_by_rlimit(c->max_connections);
        if (max < c->max_connections)
                log_warning("The file limit allows %zu agent connections, not %zu.", max,
                            c->max_connections);
        c->max_connections = max;
        r = ipc_server_set_max_connections(c->server, max);
        if (r < 0)
                return log_error_errno(r, "Failed to set the connection limit: %m");

        log_info("Listening for agents on %s.", strna(c->socket_path));
        return 0;
}

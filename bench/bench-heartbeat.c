/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-heartbeat: many simulated agents heartbeating at 1 Hz against troupe-registryd.
 *
 * Method. The bench starts a private dbus-daemon and troupe-registryd in temporary XDG
 * directories. One process drives every simulated agent with epoll: each agent is one
 * SOCK_SEQPACKET connection to the agent socket that sends Register with a valid agent card of
 * its own name (at most 256 registrations in flight, below the registry's cap on unregistered
 * connections), then a Heartbeat every interval (the one RegisterReply gives, 1 s by default).
 * Heartbeat k goes to agent k % N at t0 + k * interval / N: the agents' phases are spread evenly,
 * N agents make N heartbeats a second at a steady rate, and heartbeating starts with the first
 * registration (an agent that is registered is never kept silent while the others register).
 * After --warmup seconds, a window of --duration seconds is measured:
 *   - the registry's CPU share: utime+stime from /proc/PID/stat over the window's wall time;
 *   - its VmRSS and VmHWM at the end of the window, and VmRSS before the agents came;
 *   - the Heartbeat -> HeartbeatAck round trip as the client sees it (the Ack echoes the send time
 *     carried in the Heartbeat), p50 and p99 over every heartbeat sent in the window, and the
 *     heartbeats of the window that got no Ack;
 *   - agents wrongly marked unresponsive or lost: AgentStateChanged signals from this registry
 *     (matched on the bus from before the first Register until the check below ends) naming
 *     either state, and ListAgents() after the window, where every simulated agent must be
 *     listed and healthy; the agents keep heartbeating until its answer is in. The count of all
 *     AgentStateChanged signals seen shows that the match works (about 2 per agent: registered,
 *     healthy);
 *   - the client's own CPU share and how late it sent heartbeats, to tell a starved client from a
 *     slow registry.
 * Baseline, in the same run with the same connection count and packet rate: a trivial
 * SOCK_SEQPACKET echo server forked by the bench, which sends every packet back unchanged (the
 * Register and Heartbeat envelopes come back as they went). Its CPU share and round trips are the
 * floor of what serving these sockets costs on this machine. Each agent count gets a fresh echo
 * server and then a fresh registry with an empty state directory, one after the other; both are
 * pinned to the same CPU (see bench_pin_cpu(); --no-pin to leave them free), the client is not.
 *
 * Only traffic on this machine; bounded in time (a 180 s registration deadline after which the
 * agents that made it are measured, the window, ListAgents() at most 120 s, a 1 s drain). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "bench-util.h"
#include "ipc/envelope.h"
#include "ipc/socket.h"

#define REGISTRY_NAME "org.troupe.Registry1"
#define REGISTRY_PATH "/org/troupe/Registry1"
#define REGISTRY_MANAGER "org.troupe.Registry1.Manager"
#define AGENT_PREFIX "bench-"
#define REGISTER_IN_FLIGHT_MAX 256U
#define REGISTER_DEADLINE_USEC (180 * USEC_PER_SEC)
#define DRAIN_USEC (1 * USEC_PER_SEC)
#define LIST_AGENTS_TIMEOUT_USEC (120 * USEC_PER_SEC)
#define LATE_SEND_USEC (100 * USEC_PER_MSEC)
#define BUS_TOKEN UINT64_MAX
#define FDS_SPARE 64U
#define COUNTS_MAX 8U

typedef enum ServerKind {
        SERVER_ECHO,
        SERVER_REGISTRY,
} ServerKind;

typedef enum AgentPhase {
        AGENT_CONNECTING,
        AGENT_REGISTERED,
        AGENT_CLOSED,
} AgentPhase;

static unsigned arg_counts[COUNTS_MAX] = {1000, 10000};
static size_t arg_n_counts = 2;
static unsigned arg_duration_sec = 30;
static unsigned arg_warmup_sec = 3;
static const char *arg_registryd = NULL;
static bool arg_json = false;
static bool arg_pin = true;

typedef struct Run {
        ServerKind kind;
        unsigned n;
        pid_t server_pid;
        int epoll_fd;
        sd_bus *bus;

        int *fds;
        uint64_t *seqs;
        uint8_t *phase;
        unsigned n_registered, n_in_flight, n_closed, n_refused, n_errors;
        char first_error[256];
        usec_t interval_usec;

        bool counting; /* AgentStateChanged signals are counted */
        char *registry_owner; /* the unique bus name of this run's registry */
        unsigned n_signals, n_bad_signals, n_not_healthy, n_listed;
        bool list_agents_done;
        usec_t list_agents_start, list_agents_usec;

        usec_t t0; /* heartbeat k goes to agent k % n at t0 + k * interval / n */
        uint64_t k; /* the next heartbeat */
        usec_t registration_usec;
        bool registration_timed_out;
        usec_t window_start, window_end;
        uint64_t *rtt_usec;
        size_t n_rtt, allocated_rtt;
        uint64_t n_sent, n_acked, n_sent_window, n_acked_window, n_send_stalls, n_late_sends;
        usec_t max_lag_usec;

        double server_cpu_share, client_cpu_share;
        uint64_t rss_idle_kib, rss_kib, hwm_kib;
} Run;

/* Closes the connections and stops the server; the figures stay. */
static void run_release(Run *r) {
        if (r->fds)
                for (unsigned i = 0; i < r->n; i++)
                        r->fds[i] = safe_close(r->fds[i]);
        r->epoll_fd = safe_close(r->epoll_fd);
        if (r->server_pid > 0)
                (void) bench_stop(r->server_pid, 10 * USEC_PER_SEC);
        r->server_pid = -1;
}

static void run_done(Run *r) {
        run_release(r);
        free(r->fds);
        free(r->seqs);
        free(r->phase);
        free(r->rtt_usec);
        free(r->registry_owner);
}

/* ---- the baseline: a trivial echo server ---------------------------------------------------- */

static void echo_serve_fd(int ep, int fd) {
        uint8_t buf[IPC_MESSAGE_SIZE_MAX];

        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                if (n <= 0) {
                        (void) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                        safe_close(fd);
                        return;
                }
                (void) send(fd, buf, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
}

static _noreturn_ void echo_server_main(int listen_fd) {
        struct epoll_event events[256];
        int ep = epoll_create1(EPOLL_CLOEXEC);

        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd,
                                &(struct epoll_event){.events = EPOLLIN, .data.fd = listen_fd}) < 0)
                _exit(EXIT_FAILURE);
        for (;;) {
                int n = epoll_wait(ep, events, (int) ELEMENTSOF(events), -1);

                if (n < 0 && errno != EINTR)
                        _exit(EXIT_FAILURE);
                for (int i = 0; i < n; i++) {
                        int fd = events[i].data.fd;

                        if (fd != listen_fd) {
                                echo_serve_fd(ep, fd);
                                continue;
                        }
                        for (int c; (c = ipc_socket_accept(listen_fd)) >= 0;)
                                if (epoll_ctl(ep, EPOLL_CTL_ADD, c,
                                              &(struct epoll_event){.events = EPOLLIN, .data.fd = c}) < 0)
                                        safe_close(c);
                }
        }
}

static int echo_server_start(BenchEnv *e, pid_t *ret_pid, char **ret_path) {
        _cleanup_free_ char *path = bench_env_path(e, "echo.sock");
        _cleanup_close_ int fd = -EBADF;
        pid_t pid;

        if (!path)
                return -ENOMEM;
        fd = ipc_socket_listen(path, false);
        if (fd < 0)
                return fd;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) signal(SIGTERM, SIG_DFL);
                echo_server_main(fd);
        }
        *ret_pid = pid;
        *ret_path = TAKE_PTR(path);
        return 0;
}

/* ---- the registry --------------------------------------------------------------------------- */

static int registry_start(BenchEnv *e, sd_bus *bus, pid_t *ret_pid, char **ret_path) {
        _cleanup_free_ char *log = bench_env_path(e, "registryd.log");
        _cleanup_free_ char *sock = NULL;
        char *argv[] = {(char *) arg_registryd, NULL};
        pid_t pid;
        int r;

        if (!log)
                return -ENOMEM;
        sock = strjoin(getenv("XDG_RUNTIME_DIR"), "/troupe/agent.sock");
        if (!sock)
                return -ENOMEM;
        r = bench_spawn(argv, NULL, log, &pid);
        if (r < 0)
                return r;
        r = bench_bus_wait_name(bus, REGISTRY_NAME, pid, 30 * USEC_PER_SEC);
        if (r < 0) {
                bench_dump_log(log, 30);
                (void) bench_stop(pid, 5 * USEC_PER_SEC);
                return r;
        }
        *ret_pid = pid;
        *ret_path = TAKE_PTR(sock);
        return 0;
}

static int bus_get_owner(sd_bus *bus, const char *name, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *owner;
        int r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetNameOwner", NULL, &reply, "s", name);
        if (r >= 0)
                r = sd_bus_message_read(reply, "s", &owner);
        if (r < 0)
                return r;
        *ret = strdup(owner);
        return *ret ? 0 : -ENOMEM;
}

static int on_agent_state_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Run *run = userdata;
        const char *name, *state;

        /* Only from this run's registry: a previous one's last signals may still be queued. */
        if (!run->registry_owner || !streq_ptr(sd_bus_message_get_sender(m), run->registry_owner))
                return 0;
        if (sd_bus_message_read(m, "ss", &name, &state) < 0 || !run->counting ||
            !startswith(name, AGENT_PREFIX))
                return 0;
        run->n_signals++;
        if (streq(state, "unresponsive") || streq(state, "lost"))
                run->n_bad_signals++;
        return 0;
}

static void run_error(Run *run, const char *fmt, ...) _printf_(2, 3);
static void run_error(Run *run, const char *fmt, ...) {
        va_list ap;

        run->n_errors++;
        if (run->first_error[0])
                return;
        va_start(ap, fmt);
        (void) vsnprintf(run->first_error, sizeof(run->first_error), fmt, ap);
        va_end(ap);
}

/* The answer to ListAgents(): every simulated agent must be there and healthy. */
static int on_list_agents(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Run *run = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *name, *state, *path;
        int r;

        run->list_agents_usec = now_usec(CLOCK_MONOTONIC) - run->list_agents_start;
        run->list_agents_done = true;
        if (e) {
                /* A finding, not a reason to stop: every agent then counts as unverified. */
                run_error(run, "ListAgents() failed after %.1f s: %s",
                          (double) run->list_agents_usec / USEC_PER_SEC, e->message ?: e->name);
                run->n_not_healthy = run->n;
                return 0;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(sso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sso)", &name, &state, &path)) > 0) {
                if (!startswith(name, AGENT_PREFIX))
                        continue;
                run->n_listed++;
                if (!streq(state, "healthy"))
                        run->n_not_healthy++;
        }
        if (r < 0)
                return r;
        /* An agent missing from the list counts as not healthy too. */
        run->n_not_healthy += run->n > run->n_listed ? run->n - run->n_listed : 0;
        return 0;
}

static int registry_list_agents(Run *run, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(run->bus, &m, REGISTRY_NAME, REGISTRY_PATH, REGISTRY_MANAGER,
                                           "ListAgents");
        if (r < 0)
                return r;
        run->list_agents_start = now_usec(CLOCK_MONOTONIC);
        return sd_bus_call_async(run->bus, ret_slot, m, on_list_agents, run, LIST_AGENTS_TIMEOUT_USEC);
}

/* ---- the simulated agents -------------------------------------------------------------------- */

static void agent_close(Run *run, unsigned i) {
        if (run->phase[i] == AGENT_CONNECTING)
                run->n_in_flight--;
        if (run->phase[i] != AGENT_CLOSED) {
                run->phase[i] = AGENT_CLOSED;
                run->n_closed++;
        }
        (void) epoll_ctl(run->epoll_fd, EPOLL_CTL_DEL, run->fds[i], NULL);
        run->fds[i] = safe_close(run->fds[i]);
}

static int agent_send(Run *run, unsigned i, IpcEnvelope *e) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r;

        e->version = IPC_PROTOCOL_VERSION;
        e->seq = ++run->seqs[i];
        r = envelope_pack(e, &data, &size);
        if (r < 0)
                return r;
        r = ipc_send_packet(run->fds[i], data, size, NULL, 0);
        if (r == -EAGAIN) {
                run->n_send_stalls++;
                return 0;
        }
        if (r < 0) {
                run_error(run, "agent %u: send failed: %s", i, strerror(-r));
                agent_close(run, i);
                return 0;
        }
        return 1;
}

static int agent_send_register(Run *run, unsigned i) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__Register reg = TROUPE__V1__REGISTER__INIT;
        char name[32], card[512];

        (void) snprintf(name, sizeof(name), AGENT_PREFIX "%05u", i);
        (void) snprintf(
                card, sizeof(card),
                "{\"name\":\"%s\",\"description\":\"Simulated agent of "
                "bench-heartbeat.\",\"version\":\"1.0\","
                "\"skills\":[{\"id\":\"echo\",\"name\":\"Echo\",\"description\":\"Returns the prompt "
                "unchanged.\"}]}",
                name);
        reg.name = name;
        reg.version = (char *) "1.0";
        reg.pid = (uint32_t) getpid();
        reg.card_json = card;
        e.body_case = TROUPE__V1__ENVELOPE__BODY_REGISTER;
        e.register_ = &reg;
        return agent_send(run, i, &e);
}

static int agent_send_heartbeat(Run *run, unsigned i) {
        IpcEnvelope e = TROUPE__V1__ENVELOPE__INIT;
        Troupe__V1__Heartbeat hb = TROUPE__V1__HEARTBEAT__INIT;
        int r;

        if (run->phase[i] != AGENT_REGISTERED)
                return 0;
        hb.monotonic_usec = now_usec(CLOCK_MONOTONIC);
        e.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        e.heartbeat = &hb;
        r = agent_send(run, i, &e);
        if (r > 0) {
                run->n_sent++;
                if (hb.monotonic_usec >= run->window_start && hb.monotonic_usec < run->window_end)
                        run->n_sent_window++;
        }
        return r;
}

static int record_rtt(Run *run, uint64_t sent_usec) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        run->n_acked++;
        if (sent_usec < run->window_start || sent_usec >= run->window_end || sent_usec > now)
                return 0;
        run->n_acked_window++;
        if (run->n_rtt >= run->allocated_rtt) {
                size_t n = MAX(run->allocated_rtt * 2, (size_t) 4096);
                uint64_t *p = realloc(run->rtt_usec, n * sizeof(uint64_t));

                if (!p)
                        return -ENOMEM;
                run->rtt_usec = p;
                run->allocated_rtt = n;
        }
        run->rtt_usec[run->n_rtt++] = now - sent_usec;
        return 0;
}

static void agent_registered(Run *run, unsigned i, usec_t interval_usec) {
        if (run->phase[i] != AGENT_CONNECTING)
                return;
        run->phase[i] = AGENT_REGISTERED;
        run->n_in_flight--;
        run->n_registered++;
        if (interval_usec > 0)
                run->interval_usec = interval_usec;
}

static int agent_handle(Run *run, unsigned i, const IpcEnvelope *e) {
        switch (e->body_case) {
        case TROUPE__V1__ENVELOPE__BODY_REGISTER_REPLY:
                if (!e->register_reply->accepted) {
                        run->n_refused++;
                        run_error(run, "agent %u: registration refused: %s", i, e->register_reply->error);
                        agent_close(run, i);
                        return 0;
                }
                agent_registered(
                        run, i, (usec_t) (e->register_reply->heartbeat_interval_ms ?: 1000) * USEC_PER_MSEC);
                return 0;
        case TROUPE__V1__ENVELOPE__BODY_REGISTER: /* the echo server */
                agent_registered(run, i, 0);
                return 0;
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK:
                return record_rtt(run, e->heartbeat_ack->monotonic_usec);
        case TROUPE__V1__ENVELOPE__BODY_HEARTBEAT: /* the echo server */
                return record_rtt(run, e->heartbeat->monotonic_usec);
        case TROUPE__V1__ENVELOPE__BODY_ERROR:
                run_error(run, "agent %u: error %s: %s", i, strna(ipc_error_code_to_string(e->error->code)),
                          e->error->message);
                return 0;
        default:
                run_error(run, "agent %u: unexpected %s", i, strna(envelope_body_to_string(e->body_case)));
                return 0;
        }
}

static int agent_readable(Run *run, unsigned i) {
        for (;;) {
                _cleanup_(ipc_packet_done) IpcPacket p = {};
                _cleanup_(envelope_freep) IpcEnvelope *e = NULL;
                int r;

                if (run->fds[i] < 0)
                        return 0;
                r = ipc_recv_packet(run->fds[i], IPC_MESSAGE_SIZE_MAX, 0, &p);
                if (r == -EAGAIN || r == -EINTR)
                        return 0;
                if (r <= 0) {
                        if (run->phase[i] != AGENT_CLOSED)
                                run_error(run, "agent %u: connection closed by the server%s%s", i,
                                          r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
                        agent_close(run, i);
                        return 0;
                }
                r = envelope_unpack(p.data, p.size, &e);
                if (r < 0) {
                        run_error(run, "agent %u: bad packet: %s", i, strerror(-r));
                        continue;
                }
                r = agent_handle(run, i, e);
                if (r < 0)
                        return r;
        }
}

static int bus_drain(Run *run) {
        int r;

        if (!run->bus)
                return 0;
        while ((r = sd_bus_process(run->bus, NULL)) > 0)
                ;
        return r;
}

/* One epoll_wait() and what it reports. */
static int run_pump(Run *run, int timeout_ms) {
        struct epoll_event events[512];
        int n, r;

        n = epoll_wait(run->epoll_fd, events, (int) ELEMENTSOF(events), timeout_ms);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        for (int k = 0; k < n; k++) {
                if (events[k].data.u64 == BUS_TOKEN) {
                        r = bus_drain(run);
                } else
                        r = agent_readable(run, (unsigned) events[k].data.u64);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Sends the heartbeats that are due (to registered agents only) and returns when the next one is. */
static int send_due(Run *run, usec_t end, usec_t *ret_next) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (;;) {
                usec_t due = run->t0 + (run->k * run->interval_usec) / run->n;
                int r;

                if (due > now || due >= end) {
                        *ret_next = due;
                        return 0;
                }
                if (now >= run->window_start && now < run->window_end) {
                        run->max_lag_usec = MAX(run->max_lag_usec, now - due);
                        if (now - due > LATE_SEND_USEC)
                                run->n_late_sends++;
                }
                r = agent_send_heartbeat(run, (unsigned) (run->k % run->n));
                if (r < 0)
                        return r;
                run->k++;
        }
}

/* Heartbeats that are due, then one epoll_wait() of at most max_ms. */
static int run_step(Run *run, usec_t end, int max_ms) {
        usec_t next, now;
        int r;

        r = send_due(run, end, &next);
        if (r < 0)
                return r;
        now = now_usec(CLOCK_MONOTONIC);
        next = MIN(next, end);
        if (next <= now)
                return run_pump(run, 0);
        return run_pump(run, (int) MIN(DIV_ROUND_UP(next - now, USEC_PER_MSEC), (usec_t) max_ms));
}

/* Connects and registers every agent. Heartbeats start with the first registration, as an agent
 * starts heartbeating as soon as it is registered, so the first ones do not go silent while the
 * last ones register. */
static int agents_connect(Run *run, const char *socket_path) {
        usec_t start = now_usec(CLOCK_MONOTONIC), deadline = start + REGISTER_DEADLINE_USEC, next;
        int r;

        run->t0 = start;
        for (unsigned i = 0; i < run->n && !run->registration_timed_out; i++) {
                while (run->n_in_flight >= REGISTER_IN_FLIGHT_MAX && !run->registration_timed_out) {
                        r = run_step(run, USEC_INFINITY, 100);
                        if (r < 0)
                                return r;
                        run->registration_timed_out = now_usec(CLOCK_MONOTONIC) > deadline;
                }
                r = send_due(run, USEC_INFINITY, &next);
                if (r < 0)
                        return r;
                r = ipc_socket_connect(socket_path);
                if (r < 0) {
                        run_error(run, "agent %u: connect failed: %s", i, strerror(-r));
                        run->phase[i] = AGENT_CLOSED;
                        run->n_closed++;
                        continue;
                }
                run->fds[i] = r;
                r = fd_set_nonblock(run->fds[i], true);
                if (r < 0)
                        return r;
                if (epoll_ctl(run->epoll_fd, EPOLL_CTL_ADD, run->fds[i],
                              &(struct epoll_event){.events = EPOLLIN, .data.u64 = i}) < 0)
                        return -errno;
                run->n_in_flight++;
                r = agent_send_register(run, i);
                if (r < 0)
                        return r;
        }
        while (run->n_in_flight > 0 && !run->registration_timed_out) {
                r = run_step(run, USEC_INFINITY, 100);
                if (r < 0)
                        return r;
                run->registration_timed_out = now_usec(CLOCK_MONOTONIC) > deadline;
        }
        run->registration_usec = now_usec(CLOCK_MONOTONIC) - start;
        /* Measured all the same, with the agents that made it: the figures show what went wrong. */
        if (run->registration_timed_out)
                run_error(run, "only %u of %u agents registered within %" PRIu64 " s", run->n_registered,
                          run->n, REGISTER_DEADLINE_USEC / USEC_PER_SEC);
        return 0;
}

static int sample_cpu(Run *run, usec_t *ret_server, usec_t *ret_client) {
        int r = proc_cpu_usec(run->server_pid, ret_server);

        if (r < 0)
                return r;
        return proc_cpu_usec(getpid(), ret_client);
}

static int run_heartbeats(Run *run) {
        usec_t cpu0, self0, cpu1, self1, wall0, wall1;
        int r;

        run->window_start = now_usec(CLOCK_MONOTONIC) + arg_warmup_sec * USEC_PER_SEC;
        run->window_end = run->window_start + arg_duration_sec * USEC_PER_SEC;
        while (now_usec(CLOCK_MONOTONIC) < run->window_start) {
                r = run_step(run, run->window_start, 1000);
                if (r < 0)
                        return r;
        }
        wall0 = now_usec(CLOCK_MONOTONIC);
        r = sample_cpu(run, &cpu0, &self0);
        if (r < 0)
                return r;
        while (now_usec(CLOCK_MONOTONIC) < run->window_end) {
                r = run_step(run, run->window_end, 1000);
                if (r < 0)
                        return r;
        }
        wall1 = now_usec(CLOCK_MONOTONIC);
        r = sample_cpu(run, &cpu1, &self1);
        if (r < 0)
                return r;
        run->server_cpu_share = 100.0 * (double) (cpu1 - cpu0) / (double) (wall1 - wall0);
        run->client_cpu_share = 100.0 * (double) (self1 - self0) / (double) (wall1 - wall0);
        return 0;
}

/* After the window: the agents keep heartbeating while the last acks arrive and, for the
 * registry, while ListAgents() is answered, however long that takes. */
static int run_verify(Run *run) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        usec_t drain_end = now_usec(CLOCK_MONOTONIC) + DRAIN_USEC;
        int r;

        if (run->kind == SERVER_REGISTRY) {
                r = registry_list_agents(run, &slot);
                if (r < 0)
                        return r;
        } else
                run->list_agents_done = true;
        while (!run->list_agents_done || now_usec(CLOCK_MONOTONIC) < drain_end) {
                r = run_step(run, USEC_INFINITY, 100);
                if (r >= 0)
                        r = bus_drain(run);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run_setup(Run *run, ServerKind kind, unsigned n, sd_bus *bus) {
        *run = (Run){.kind = kind,
                     .n = n,
                     .server_pid = -1,
                     .epoll_fd = -EBADF,
                     .interval_usec = USEC_PER_SEC,
                     .window_start = USEC_INFINITY,
                     .window_end = USEC_INFINITY};
        run->fds = malloc(n * sizeof(int));
        run->seqs = calloc(n, sizeof(uint64_t));
        run->phase = calloc(n, sizeof(uint8_t));
        if (!run->fds || !run->seqs || !run->phase)
                return -ENOMEM;
        for (unsigned i = 0; i < n; i++)
                run->fds[i] = -EBADF;
        run->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (run->epoll_fd < 0)
                return -errno;
        if (kind == SERVER_REGISTRY) {
                run->bus = bus;
                if (epoll_ctl(run->epoll_fd, EPOLL_CTL_ADD, sd_bus_get_fd(bus),
                              &(struct epoll_event){.events = EPOLLIN, .data.u64 = BUS_TOKEN}) < 0)
                        return -errno;
        }
        return 0;
}

static int run_measure_memory(Run *run) {
        int r = proc_status_kib(run->server_pid, "VmRSS", &run->rss_kib);

        if (r >= 0)
                r = proc_status_kib(run->server_pid, "VmHWM", &run->hwm_kib);
        return r;
}

static int run_one(BenchEnv *env, sd_bus *bus, ServerKind kind, unsigned n, Run *run) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *socket_path = NULL;
        int r;

        r = run_setup(run, kind, n, bus);
        if (r < 0)
                return r;
        if (kind == SERVER_ECHO)
                r = echo_server_start(env, &run->server_pid, &socket_path);
        else {
                r = bench_env_reset_state(env);
                if (r >= 0)
                        r = sd_bus_match_signal(bus, &slot, REGISTRY_NAME, REGISTRY_PATH, REGISTRY_MANAGER,
                                                "AgentStateChanged", on_agent_state_changed, run);
                if (r >= 0)
                        r = registry_start(env, bus, &run->server_pid, &socket_path);
                if (r >= 0)
                        r = bus_get_owner(bus, REGISTRY_NAME, &run->registry_owner);
        }
        if (r < 0)
                return r;
        r = arg_pin ? bench_pin_cpu(run->server_pid) : 0;
        if (r < 0)
                return r;
        run->counting = true;
        (void) proc_status_kib(run->server_pid, "VmRSS", &run->rss_idle_kib);

        bench_progress("%u agents, %s (pid %i): registering", n,
                       kind == SERVER_ECHO ? "echo server" : "registry", (int) run->server_pid);
        r = agents_connect(run, socket_path);
        if (r < 0)
                return r;
        bench_progress("%u agents, %s: %u registered, heartbeating for %u+%u s", n,
                       kind == SERVER_ECHO ? "echo server" : "registry", run->n_registered, arg_warmup_sec,
                       arg_duration_sec);
        r = run_heartbeats(run);
        if (r < 0)
                return r;
        r = run_measure_memory(run);
        if (r < 0)
                return r;
        r = run_verify(run);
        if (r < 0)
                return r;
        run->counting = false;
        return 0;
}

/* ---- report ---------------------------------------------------------------------------------- */

/* What serving the agents costs: CPU, round trips, memory. */
static void report_costs(BenchReport *rep, const Run *reg, const Run *echo) {
        uint64_t *a = reg->rtt_usec, *b = echo->rtt_usec;
        unsigned n = reg->n;
        char name[128];

        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.agents_registered", n),
                           reg->n_registered, "");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.registration_time", n),
                            (double) reg->registration_usec / USEC_PER_MSEC,
                            (double) echo->registration_usec / USEC_PER_MSEC, "ms");
        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.heartbeats_per_second", n),
                           (double) n * (double) USEC_PER_SEC / (double) reg->interval_usec, "/s");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.cpu_share", n),
                            reg->server_cpu_share, echo->server_cpu_share, "% of a core");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.rtt_p50", n),
                            bench_percentile_u64(a, reg->n_rtt, 50),
                            bench_percentile_u64(b, echo->n_rtt, 50), "us");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.rtt_p99", n),
                            bench_percentile_sorted_u64(a, reg->n_rtt, 99),
                            bench_percentile_sorted_u64(b, echo->n_rtt, 99), "us");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.rtt_samples", n),
                            (double) reg->n_rtt, (double) echo->n_rtt, "");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.rss", n),
                            reg->rss_kib / KIB_PER_MIB, echo->rss_kib / KIB_PER_MIB, "MiB");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.peak_rss", n),
                            reg->hwm_kib / KIB_PER_MIB, echo->hwm_kib / KIB_PER_MIB, "MiB");
        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.rss_before_agents", n),
                           reg->rss_idle_kib / KIB_PER_MIB, "MiB");
        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.rss_per_agent", n),
                           reg->rss_kib > reg->rss_idle_kib
                                   ? 1024.0 * (double) (reg->rss_kib - reg->rss_idle_kib) / n
                                   : 0,
                           "bytes");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.acks_missing", n),
                            (double) (reg->n_sent_window - MIN(reg->n_acked_window, reg->n_sent_window)),
                            (double) (echo->n_sent_window - MIN(echo->n_acked_window, echo->n_sent_window)),
                            "");
}

/* Whether the registry kept every agent healthy, and what went wrong if not. */
static void report_liveness(BenchReport *rep, const Run *reg, const Run *echo) {
        unsigned n = reg->n;
        char name[128];

        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.state_signals_seen", n),
                           reg->n_signals, "");
        bench_report_value(
                rep, bench_name(name, sizeof(name), "heartbeat.%u.wrongly_unresponsive_or_lost_signals", n),
                reg->n_bad_signals, "");
        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.not_healthy_in_list_agents", n),
                           reg->n_not_healthy, "");
        bench_report_value(rep, bench_name(name, sizeof(name), "heartbeat.%u.list_agents_time", n),
                           (double) reg->list_agents_usec / USEC_PER_MSEC, "ms");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.client_cpu_share", n),
                            reg->client_cpu_share, echo->client_cpu_share, "% of a core");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.client_max_send_lag", n),
                            (double) reg->max_lag_usec / USEC_PER_MSEC,
                            (double) echo->max_lag_usec / USEC_PER_MSEC, "ms");
        bench_report_figure(rep,
                            bench_name(name, sizeof(name), "heartbeat.%u.client_sends_late_over_100ms", n),
                            (double) reg->n_late_sends, (double) echo->n_late_sends, "");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.client_send_stalls", n),
                            (double) reg->n_send_stalls, (double) echo->n_send_stalls, "");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.connections_closed", n),
                            reg->n_closed, echo->n_closed, "");
        bench_report_figure(rep, bench_name(name, sizeof(name), "heartbeat.%u.errors", n), reg->n_errors,
                            echo->n_errors, "");
        if (reg->n_errors > 0 || echo->n_errors > 0)
                bench_report_text(rep, bench_name(name, sizeof(name), "heartbeat.%u.first_error", n),
                                  reg->first_error[0] ? reg->first_error : echo->first_error);
        bench_report_goal(rep, bench_name(name, sizeof(name), "heartbeat.%u.none_wrongly_marked", n),
                          "no agent wrongly marked unresponsive or lost (signals and ListAgents)",
                          reg->n_bad_signals == 0 && reg->n_not_healthy == 0 && reg->n_signals > 0);
}

static void report_pair(BenchReport *rep, const Run *reg, const Run *echo) {
        report_costs(rep, reg, echo);
        report_liveness(rep, reg, echo);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void help(void) {
        printf("%s --registryd=PATH [OPTIONS...]\n\n"
               "Simulated agents heartbeating against troupe-registryd on a private bus, beside a\n"
               "trivial SOCK_SEQPACKET echo server taking the same connections and packet rate.\n\n"
               "  -h --help              Show this help\n"
               "     --registryd=PATH    The troupe-registryd executable\n"
               "     --agents=N[,N...]   Agent counts to run (default 1000,10000)\n"
               "     --duration=SEC      Measured window per run (default 30)\n"
               "     --warmup=SEC        Heartbeating before the window opens (default 3)\n"
               "     --no-pin            Do not put the servers on one CPU\n"
               "     --json              Print one JSON object\n",
               program_invocation_short_name);
}

static int parse_counts(const char *s) {
        _cleanup_free_ char *copy = strdup(s);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        arg_n_counts = 0;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                unsigned long v = strtoul(t, NULL, 10);

                if (v == 0 || v > 100000 || arg_n_counts >= COUNTS_MAX)
                        return -EINVAL;
                arg_counts[arg_n_counts++] = (unsigned) v;
        }
        return arg_n_counts > 0 ? 0 : -EINVAL;
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_REGISTRYD = 0x100, ARG_AGENTS, ARG_DURATION, ARG_WARMUP, ARG_NO_PIN, ARG_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"registryd", required_argument, NULL, ARG_REGISTRYD},
                {"agents", required_argument, NULL, ARG_AGENTS},
                {"duration", required_argument, NULL, ARG_DURATION},
                {"warmup", required_argument, NULL, ARG_WARMUP},
                {"no-pin", no_argument, NULL, ARG_NO_PIN},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_REGISTRYD:
                        arg_registryd = optarg;
                        break;
                case ARG_AGENTS:
                        if (parse_counts(optarg) < 0) {
                                fprintf(stderr, "Invalid --agents=%s\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_DURATION:
                        arg_duration_sec = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_duration_sec == 0 || arg_duration_sec > 3600)
                                return -EINVAL;
                        break;
                case ARG_WARMUP:
                        arg_warmup_sec = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_warmup_sec > 600)
                                return -EINVAL;
                        break;
                case ARG_NO_PIN:
                        arg_pin = false;
                        break;
                case ARG_JSON:
                        arg_json = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (!arg_registryd) {
                fprintf(stderr, "--registryd=PATH is required.\n");
                return -EINVAL;
        }
        return 1;
}

static int check_fd_limit(BenchReport *rep) {
        uint64_t limit, max_n = 0;
        int r;

        r = bench_raise_nofile(&limit);
        if (r < 0)
                return r;
        for (size_t i = 0; i < arg_n_counts; i++)
                max_n = MAX(max_n, arg_counts[i]);
        bench_report_value(rep, "heartbeat.fd_limit", (double) limit, "");
        if (limit < max_n + FDS_SPARE) {
                fprintf(stderr,
                        "RLIMIT_NOFILE allows %" PRIu64 " files, %" PRIu64 " agents need %" PRIu64
                        ": raise the hard limit (ulimit -Hn).\n",
                        limit, max_n, max_n + FDS_SPARE);
                return -EMFILE;
        }
        return 0;
}

static int run_count(BenchReport *rep, BenchEnv *env, sd_bus *bus, unsigned n) {
        Run echo = {}, reg = {};
        int r;

        /* One at a time: both sets of connections at once would need twice the file limit. */
        r = run_one(env, bus, SERVER_ECHO, n, &echo);
        run_release(&echo);
        if (r >= 0)
                r = run_one(env, bus, SERVER_REGISTRY, n, &reg);
        run_release(&reg);
        if (r >= 0)
                report_pair(rep, &reg, &echo);
        else {
                _cleanup_free_ char *log = bench_env_path(env, "registryd.log");

                fprintf(stderr, "Run with %u agents failed: %s%s%s\n", n, strerror(-r),
                        reg.first_error[0] || echo.first_error[0] ? "; first error: " : "",
                        reg.first_error[0] ? reg.first_error : echo.first_error);
                bench_dump_log(log, 20);
        }
        run_done(&echo);
        run_done(&reg);
        return r;
}

static int run(int argc, char *argv[]) {
        _cleanup_(bench_env_freep) BenchEnv *env = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(bench_report_done) BenchReport rep = {};
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;
        (void) signal(SIGPIPE, SIG_IGN);
        r = bench_report_init(&rep, "bench-heartbeat", arg_json);
        if (r < 0)
                return r;
        bench_report_load(&rep, "load_average_start");
        r = check_fd_limit(&rep);
        if (r < 0)
                return r;
        r = bench_env_new(&env);
        if (r < 0)
                return r;
        r = bench_env_start_bus(env);
        if (r < 0)
                return r;
        r = bench_bus_open(&bus);
        if (r < 0)
                return r;

        for (size_t i = 0; i < arg_n_counts; i++) {
                r = run_count(&rep, env, bus, arg_counts[i]);
                if (r < 0)
                        return r;
        }
        bench_report_load(&rep, "load_average_end");
        return bench_report_finish(&rep);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);

        if (r < 0)
                fprintf(stderr, "bench-heartbeat failed: %s\n", strerror(-r));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "check-main.h"
#include "ipc/connection.h"

/* Generous: these only bound a hang, a passing test never gets near them. */
#define DEADLINE_USEC (10 * USEC_PER_SEC)

typedef struct Peer {
        IpcConnection *c;
        unsigned n_messages;
        IpcBodyCase last_body;
        uint64_t last_seq;
        uint64_t acks[8];
        unsigned n_acks;
        bool disconnected;
        int reason;
        int fail_with; /* what on_message returns */
        bool reply; /* answer Heartbeat with HeartbeatAck */
        bool take_fd;
        int taken_fd;
} Peer;

static void pump_until(sd_event *e, const bool *flag) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

        while (!*flag) {
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) < deadline, "timed out waiting for the event loop");
                ck_assert_int_ge(sd_event_run(e, 100 * USEC_PER_MSEC), 0);
        }
}

static void pump_until_n(sd_event *e, const unsigned *counter, unsigned n) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

        while (*counter < n) {
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) < deadline, "timed out waiting for the event loop");
                ck_assert_int_ge(sd_event_run(e, 100 * USEC_PER_MSEC), 0);
        }
}

static int peer_on_message(IpcConnection *c, const IpcEnvelope *e, int *fds, size_t n_fds, void *userdata) {
        Peer *p = userdata;

        p->n_messages++;
        p->last_body = e->body_case;
        p->last_seq = e->seq;
        if (p->take_fd && n_fds > 0)
                p->taken_fd = TAKE_FD(fds[0]);
        if (e->body_case == TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK && p->n_acks < ELEMENTSOF(p->acks))
                p->acks[p->n_acks++] = e->heartbeat_ack->heartbeat_seq;
        if (p->fail_with < 0)
                return p->fail_with;
        if (p->reply && e->body_case == TROUPE__V1__ENVELOPE__BODY_HEARTBEAT) {
                Troupe__V1__HeartbeatAck ack = TROUPE__V1__HEARTBEAT_ACK__INIT;
                IpcEnvelope reply = TROUPE__V1__ENVELOPE__INIT;

                ack.monotonic_usec = e->heartbeat->monotonic_usec;
                ack.heartbeat_seq = e->seq;
                reply.body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK;
                reply.heartbeat_ack = &ack;
                return ipc_connection_send(c, &reply);
        }
        return 0;
}

static void peer_on_disconnect(IpcConnection *c, int reason, void *userdata) {
        Peer *p = userdata;

        ck_assert(!p->disconnected);
        ck_assert(!ipc_connection_is_open(c));
        p->disconnected = true;
        p->reason = reason;
}

static void peer_init(Peer *p, sd_event *e, int fd) {
        *p = (Peer) { .taken_fd = -EBADF };
        ck_assert_int_eq(ipc_connection_new(e, fd, &p->c), 0);
        ipc_connection_set_handlers(p->c, peer_on_message, peer_on_disconnect, p);
}

static void peer_done(Peer *p) {
        p->c = ipc_connection_unref(p->c);
        p->taken_fd = safe_close(p->taken_fd);
}

static void heartbeat_init(IpcEnvelope *e, Troupe__V1__Heartbeat *hb, uint64_t usec) {
        *hb = (Troupe__V1__Heartbeat) TROUPE__V1__HEARTBEAT__INIT;
        hb->monotonic_usec = usec;
        *e = (IpcEnvelope) TROUPE__V1__ENVELOPE__INIT;
        e->body_case = TROUPE__V1__ENVELOPE__BODY_HEARTBEAT;
        e->heartbeat = hb;
}

/* Packs a heartbeat the way a peer without lib/ipc's connection would. */
static size_t raw_heartbeat(uint64_t seq, uint8_t **ret) {
        Troupe__V1__Heartbeat hb;
        IpcEnvelope e;
        size_t size;

        heartbeat_init(&e, &hb, 99);
        e.version = IPC_PROTOCOL_VERSION;
        e.seq = seq;
        ck_assert_int_eq(envelope_pack(&e, ret, &size), 0);
        return size;
}

/* Receives on a plain fd while running the loop, for peers that are not on sd-event. Returns
 * what ipc_recv_packet() returns (never -EAGAIN). */
static int pump_recv(sd_event *e, int fd, IpcPacket *ret) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + DEADLINE_USEC;

        ck_assert_int_eq(fd_set_nonblock(fd, true), 0);
        for (;;) {
                int r = ipc_recv_packet(fd, IPC_MESSAGE_SIZE_MAX, IPC_FDS_MAX, ret);

                if (r != -EAGAIN)
                        return r;
                ck_assert_msg(now_usec(CLOCK_MONOTONIC) < deadline, "timed out waiting for a packet");
                ck_assert_int_ge(sd_event_run(e, 10 * USEC_PER_MSEC), 0);
        }
}

/* The peer on `fd` must now get one Error with `code`, then end of stream. */
static void expect_error_then_eof(sd_event *e, int fd, IpcErrorCode code, uint64_t seq) {
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        _cleanup_(envelope_freep) IpcEnvelope *env = NULL;

        ck_assert_int_eq(pump_recv(e, fd, &p), 1);
        ck_assert_int_eq(envelope_unpack(p.data, p.size, &env), 0);
        ck_assert_int_eq(env->body_case, TROUPE__V1__ENVELOPE__BODY_ERROR);
        ck_assert_msg(env->error->code == code, "got error %s, expected %s",
                      ipc_error_code_to_string(env->error->code), ipc_error_code_to_string(code));
        ck_assert_uint_eq(env->error->seq, seq);
        ck_assert(!isempty(env->error->message));
        ipc_packet_done(&p);
        ck_assert_int_eq(pump_recv(e, fd, &p), 0);
}

static int pipe_read_nonblock(int fd) {
        char c;
        ssize_t n = read(fd, &c, 1);

        return n < 0 ? -errno : (int) n;
}

START_TEST(test_socketpair_send_recv) {
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        int fds[2];

        ck_assert_int_eq(ipc_socketpair(fds), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "hello", 5, NULL, 0), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "", 0, NULL, 0), -EINVAL);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), 1);
        ck_assert_uint_eq(p.size, 5);
        ck_assert(memcmp(p.data, "hello", 5) == 0);
        ck_assert_uint_eq(p.n_fds, 0);
        ipc_packet_done(&p);

        /* Packets keep their boundaries. */
        ck_assert_int_eq(ipc_send_packet(fds[0], "ab", 2, NULL, 0), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "cde", 3, NULL, 0), 0);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), 1);
        ck_assert_uint_eq(p.size, 2);
        ipc_packet_done(&p);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), 1);
        ck_assert_uint_eq(p.size, 3);
        ipc_packet_done(&p);

        ck_assert_int_eq(fd_set_nonblock(fds[1], true), 0);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), -EAGAIN);
        safe_close(fds[0]);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), 0);
        ck_assert_ptr_null(p.data);
        /* The writer side never gets SIGPIPE, only EPIPE. */
        ck_assert_int_eq(ipc_send_packet(fds[1], "x", 1, NULL, 0), -EPIPE);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_recv_oversized) {
        _cleanup_free_ uint8_t *big = calloc(1, IPC_MESSAGE_SIZE_MAX + 1);
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        int fds[2];

        ck_assert_ptr_nonnull(big);
        ck_assert_int_eq(ipc_socketpair(fds), 0);

        /* Against a small cap. */
        ck_assert_int_eq(ipc_send_packet(fds[0], big, 200, NULL, 0), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "next", 4, NULL, 0), 0);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), -EMSGSIZE);
        ck_assert_ptr_null(p.data);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), 1);
        ck_assert_uint_eq(p.size, 4);
        ipc_packet_done(&p);

        /* Against the protocol's cap, with a packet lib/ipc would never send. */
        ck_assert_int_eq(ipc_send_packet(fds[0], big, IPC_MESSAGE_SIZE_MAX + 1, NULL, 0), -EMSGSIZE);
        ck_assert_int_eq(send(fds[0], big, IPC_MESSAGE_SIZE_MAX + 1, MSG_NOSIGNAL),
                         (ssize_t) IPC_MESSAGE_SIZE_MAX + 1);
        ck_assert_int_eq(ipc_send_packet(fds[0], big, IPC_MESSAGE_SIZE_MAX, NULL, 0), 0);
        ck_assert_int_eq(ipc_recv_packet(fds[1], IPC_MESSAGE_SIZE_MAX, 0, &p), -EMSGSIZE);
        ck_assert_int_eq(ipc_recv_packet(fds[1], IPC_MESSAGE_SIZE_MAX, 0, &p), 1);
        ck_assert_uint_eq(p.size, IPC_MESSAGE_SIZE_MAX);

        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_fd_passing) {
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        int fds[2], pipefd[2], three[3];
        char c;

        ck_assert_int_eq(ipc_socketpair(fds), 0);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);

        ck_assert_int_eq(ipc_send_packet(fds[0], "fd", 2, &pipefd[1], 1), 0);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 1, &p), 1);
        ck_assert_uint_eq(p.n_fds, 1);
        ck_assert_int_ne(p.fds[0], pipefd[1]);
        ck_assert(fcntl(p.fds[0], F_GETFD) & FD_CLOEXEC);
        ck_assert_int_eq(write(p.fds[0], "z", 1), 1);
        ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
        ck_assert_int_eq(c, 'z');
        ipc_packet_done(&p);
        ck_assert_int_eq(p.n_fds, 0);

        /* More fds than allowed: refused, and every one of them closed. */
        three[0] = three[1] = three[2] = pipefd[1];
        ck_assert_int_eq(ipc_send_packet(fds[0], "3", 1, three, 3), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "1", 1, three, 1), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "big", 3, three, 1), 0);
        ck_assert_int_eq(ipc_send_packet(fds[0], "ok", 2, NULL, 0), 0);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 2, &p), -ETOOMANYREFS);
        /* None allowed at all. */
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), -ETOOMANYREFS);
        /* An oversized packet's fds go with it. */
        ck_assert_int_eq(ipc_recv_packet(fds[1], 2, IPC_FDS_MAX, &p), -EMSGSIZE);
        ck_assert_int_eq(ipc_recv_packet(fds[1], 100, 0, &p), 1);
        ck_assert_uint_eq(p.size, 2);
        ipc_packet_done(&p);

        /* If any copy of the write end had leaked, the pipe would not report end of file. */
        pipefd[1] = safe_close(pipefd[1]);
        ck_assert_int_eq(pipe_read_nonblock(pipefd[0]), 0);

        ck_assert_int_eq(ipc_send_packet(fds[0], "x", 1, three, IPC_FDS_MAX + 1), -ETOOMANYREFS);
        safe_close(pipefd[0]);
        safe_close(fds[0]);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_peer_cred) {
        struct ucred cred = {};
        int fds[2];

        ck_assert_int_eq(ipc_socketpair(fds), 0);
        ck_assert_int_eq(ipc_peer_get_cred(fds[0], &cred), 0);
        ck_assert_int_eq(cred.pid, getpid());
        ck_assert_uint_eq(cred.uid, geteuid());
        ck_assert_int_eq(ipc_peer_check_uid(fds[0], geteuid()), 0);
        ck_assert_int_eq(ipc_peer_check_uid(fds[0], geteuid() + 1), -EPERM);
        safe_close(fds[0]);
        safe_close(fds[1]);

        ck_assert_int_eq(ipc_peer_get_cred(-1, &cred), -EBADF);
}
END_TEST

START_TEST(test_listen_connect) {
        _cleanup_free_ char *dir = make_tmpdir(), *run = NULL, *path = NULL, *file = NULL, *longpath = NULL;
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        _cleanup_close_ int l = -EBADF, client = -EBADF, server = -EBADF;
        struct stat st;

        ck_assert_ptr_nonnull(dir);
        run = strjoin(dir, "/run");
        path = strjoin(dir, "/run/agent.sock");
        file = strjoin(dir, "/run/not-a-socket");

        ck_assert_int_eq(ipc_socket_listen(path, false), -ENOENT);
        l = ipc_socket_listen(path, true);
        ck_assert_int_ge(l, 0);
        ck_assert(fcntl(l, F_GETFD) & FD_CLOEXEC);
        ck_assert_int_eq(stat(run, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0700);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);

        ck_assert_int_eq(ipc_socket_accept(l), -EAGAIN);
        client = ipc_socket_connect(path);
        ck_assert_int_ge(client, 0);
        server = ipc_socket_accept(l);
        ck_assert_int_ge(server, 0);
        ck_assert(fcntl(server, F_GETFD) & FD_CLOEXEC);
        ck_assert(fcntl(server, F_GETFL) & O_NONBLOCK);
        ck_assert_int_eq(ipc_peer_check_uid(server, geteuid()), 0);
        ck_assert_int_eq(ipc_send_packet(client, "hi", 2, NULL, 0), 0);
        ck_assert_int_eq(ipc_recv_packet(server, 10, 0, &p), 1);
        ck_assert_uint_eq(p.size, 2);

        /* A live socket is never taken over. */
        ck_assert_int_eq(ipc_socket_listen(path, true), -EADDRINUSE);
        /* Its owner gone, the file left behind is stale and gets replaced. */
        l = safe_close(l);
        ck_assert_int_eq(ipc_socket_connect(path), -ECONNREFUSED);
        l = ipc_socket_listen(path, true);
        ck_assert_int_ge(l, 0);

        /* Whatever is not a socket is left alone. */
        ck_assert_int_eq(close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
        ck_assert_int_eq(ipc_socket_listen(file, true), -EEXIST);
        ck_assert_int_eq(lstat(file, &st), 0);
        ck_assert(S_ISREG(st.st_mode));

        ck_assert_int_eq(asprintf(&longpath, "%s/%0200d", dir, 0) > 0, 1);
        ck_assert_int_eq(ipc_socket_listen(longpath, false), -ENAMETOOLONG);
        ck_assert_int_eq(ipc_socket_connect(longpath), -ENAMETOOLONG);
        ck_assert_int_eq(ipc_socket_listen("", false), -EINVAL);

        rm_rf_tmpdir(dir);
}
END_TEST

START_TEST(test_connection_new_refuses) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        IpcConnection *c = NULL;
        int pipefd[2], stream[2];

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream), 0);
        ck_assert_int_eq(ipc_connection_new(e, pipefd[0], &c), -ENOTSOCK);
        ck_assert_int_eq(ipc_connection_new(e, stream[0], &c), -EPROTOTYPE);
        ck_assert_ptr_null(c);
        /* Not taken on failure: still ours to close. */
        ck_assert_int_eq(close(pipefd[0]), 0);
        ck_assert_int_eq(close(stream[0]), 0);
        safe_close(pipefd[1]);
        safe_close(stream[1]);

        ck_assert_ptr_null(ipc_connection_unref(NULL));
        ck_assert_ptr_null(ipc_server_unref(NULL));
}
END_TEST

START_TEST(test_request_response) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Peer agent, registry;
        struct ucred cred;
        int fds[2];

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&registry, e, fds[0]);
        peer_init(&agent, e, fds[1]);
        registry.reply = true;

        for (uint64_t i = 1; i <= 3; i++) {
                Troupe__V1__Heartbeat hb;
                IpcEnvelope env;
                uint64_t seq = 0;

                heartbeat_init(&env, &hb, 1000 * i);
                ck_assert_int_eq(ipc_connection_send_full(agent.c, &env, NULL, 0, &seq), 0);
                ck_assert_uint_eq(seq, i);
        }
        pump_until_n(e, &agent.n_acks, 3);

        ck_assert_uint_eq(registry.n_messages, 3);
        ck_assert_uint_eq(registry.last_seq, 3);
        ck_assert_int_eq(agent.last_body, TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK);
        for (unsigned i = 0; i < 3; i++)
                ck_assert_uint_eq(agent.acks[i], i + 1);
        ck_assert(!agent.disconnected && !registry.disconnected);

        ck_assert_int_eq(ipc_connection_get_peer_cred(registry.c, &cred), 0);
        ck_assert_int_eq(cred.pid, getpid());

        /* An envelope pack refuses is the caller's bug: reported, the connection stays up. */
        {
                IpcEnvelope bad = TROUPE__V1__ENVELOPE__INIT;
                ck_assert_int_eq(ipc_connection_send(agent.c, &bad), -EOPNOTSUPP);
                ck_assert(ipc_connection_is_open(agent.c));
        }

        /* Dropping the last reference closes without calling back; the other side hears of it. */
        agent.c = ipc_connection_unref(agent.c);
        pump_until(e, &registry.disconnected);
        ck_assert_int_eq(registry.reason, -ECONNRESET);
        ck_assert(!agent.disconnected);
        peer_done(&agent);
        peer_done(&registry);
}
END_TEST

START_TEST(test_connection_fds) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Troupe__V1__Heartbeat hb;
        IpcEnvelope env;
        Peer a, b;
        int fds[2], pipefd[2], two[2];
        char c;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
        peer_init(&a, e, fds[0]);
        peer_init(&b, e, fds[1]);
        ck_assert_int_eq(ipc_connection_set_max_fds(b.c, 1), 0);
        ck_assert_int_eq(ipc_connection_set_max_fds(b.c, IPC_FDS_MAX + 1), -EINVAL);
        b.take_fd = true;

        heartbeat_init(&env, &hb, 1);
        ck_assert_int_eq(ipc_connection_send_full(a.c, &env, &pipefd[1], 1, NULL), 0);
        pump_until_n(e, &b.n_messages, 1);
        ck_assert_int_ge(b.taken_fd, 0);
        ck_assert(fcntl(b.taken_fd, F_GETFD) & FD_CLOEXEC);
        ck_assert_int_eq(write(b.taken_fd, "q", 1), 1);
        ck_assert_int_eq(read(pipefd[0], &c, 1), 1);

        /* Two fds where one is allowed: refused as oversized, connection closed. */
        two[0] = two[1] = pipefd[1];
        ck_assert_int_eq(ipc_connection_send_full(a.c, &env, two, 2, NULL), 0);
        pump_until(e, &b.disconnected);
        ck_assert_int_eq(b.reason, -ETOOMANYREFS);
        ck_assert_uint_eq(b.n_messages, 1);
        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.last_body, TROUPE__V1__ENVELOPE__BODY_ERROR);

        peer_done(&a);
        peer_done(&b);
        /* Every duplicate of the write end is gone: queued, received, refused. */
        safe_close(pipefd[1]);
        ck_assert_int_eq(pipe_read_nonblock(pipefd[0]), 0);
        safe_close(pipefd[0]);
}
END_TEST

START_TEST(test_slow_peer) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Troupe__V1__Heartbeat hb;
        IpcEnvelope env;
        size_t packets = 0, bytes = 0, max_packets = 0;
        usec_t start;
        unsigned sent = 0;
        int fds[2], r;
        Peer a;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);
        ck_assert_int_eq(ipc_connection_set_queue_limits(a.c, 64, 1024 * 1024), 0);
        ck_assert_int_eq(ipc_connection_set_queue_limits(a.c, 0, 1), -EINVAL);
        heartbeat_init(&env, &hb, 5);

        /* fds[1] never reads. Sending must neither block nor fail until the kernel buffer and
         * then our queue are full. */
        start = now_usec(CLOCK_MONOTONIC);
        for (;;) {
                r = ipc_connection_send(a.c, &env);
                if (r < 0)
                        break;
                sent++;
                ipc_connection_get_queue_size(a.c, &packets, &bytes);
                max_packets = MAX(max_packets, packets);
                ck_assert_uint_lt(sent, 1000000);
        }
        ck_assert_int_eq(r, -ENOBUFS);
        ck_assert_uint_eq(max_packets, 64);
        ck_assert_uint_gt(sent, 64);
        ck_assert_uint_lt(now_usec(CLOCK_MONOTONIC) - start, 5 * USEC_PER_SEC);
        ck_assert(!ipc_connection_is_open(a.c));
        ck_assert_int_eq(ipc_connection_send(a.c, &env), -ENOTCONN);
        ck_assert(!a.disconnected); /* never from inside send() */

        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.reason, -ENOBUFS);
        ipc_connection_get_queue_size(a.c, &packets, &bytes);
        ck_assert_uint_eq(packets, 0);
        ck_assert_uint_eq(bytes, 0);
        peer_done(&a);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_bad_input_gets_error) {
        static const uint8_t garbage[] = { 0x0f, 0x01 };
        static const uint8_t unknown_body[] = { 0x08, 0x01, 0x10, 0x01, 0x9a, 0x06, 0x00 };
        static const uint8_t wrong_version[] = { 0x08, 0x02, 0x10, 0x01, 0x62, 0x00 };
        static const uint8_t overlong[] = { 0x08, 0x81, 0x80, 0x80, 0x80, 0x80,
                                            0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
        static const uint8_t bad_utf8[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x03, 0x12, 0x01, 0xff };
        static const uint8_t truncated[] = { 0x08, 0x01, 0x10, 0x01, 0x62, 0x03, 0x12, 0x01 };
        _cleanup_free_ uint8_t *big = calloc(1, IPC_MESSAGE_SIZE_MAX + 1);
        const struct {
                const char *name;
                const uint8_t *data;
                size_t size;
                IpcErrorCode code;
                int reason;
        } cases[] = {
                { "garbage", garbage, sizeof(garbage), TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                  -EBADMSG },
                { "unknown body", unknown_body, sizeof(unknown_body),
                  TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY, -EOPNOTSUPP },
                { "wrong version", wrong_version, sizeof(wrong_version),
                  TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_VERSION, -EPROTO },
                { "overlong varint", overlong, sizeof(overlong),
                  TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED, -EBADMSG },
                { "invalid utf-8", bad_utf8, sizeof(bad_utf8), TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED,
                  -EILSEQ },
                { "truncated", truncated, sizeof(truncated), TROUPE__V1__ERROR_CODE__ERROR_CODE_TRUNCATED,
                  -ENODATA },
                { "oversized", big, IPC_MESSAGE_SIZE_MAX + 1, TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED,
                  -EMSGSIZE },
        };

        ck_assert_ptr_nonnull(big);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(sd_event_unrefp) sd_event *e = NULL;
                _cleanup_close_ int raw = -EBADF;
                _cleanup_free_ uint8_t *hb = NULL;
                size_t hb_size = raw_heartbeat(1, &hb);
                int fds[2];
                Peer a;

                ck_assert_int_eq(sd_event_new(&e), 0);
                ck_assert_int_eq(ipc_socketpair(fds), 0);
                raw = fds[1];
                peer_init(&a, e, fds[0]);

                /* A good packet first: bad input is refused, not the connection's past. */
                ck_assert_int_eq(ipc_send_packet(raw, hb, hb_size, NULL, 0), 0);
                ck_assert_int_eq(send(raw, cases[i].data, cases[i].size, MSG_NOSIGNAL),
                                 (ssize_t) cases[i].size);
                pump_until(e, &a.disconnected);
                ck_assert_msg(a.reason == cases[i].reason, "%s: reason %d, expected %d", cases[i].name,
                              a.reason, cases[i].reason);
                ck_assert_uint_eq(a.n_messages, 1);
                expect_error_then_eof(e, raw, cases[i].code, 0);
                peer_done(&a);
        }
}
END_TEST

START_TEST(test_seq_must_increase) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_free_ uint8_t *one = NULL, *five = NULL;
        size_t one_size = raw_heartbeat(1, &one), five_size = raw_heartbeat(5, &five);
        int fds[2];
        Peer a;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);

        /* Gaps are fine, going back is not. */
        ck_assert_int_eq(ipc_send_packet(fds[1], one, one_size, NULL, 0), 0);
        ck_assert_int_eq(ipc_send_packet(fds[1], five, five_size, NULL, 0), 0);
        ck_assert_int_eq(ipc_send_packet(fds[1], five, five_size, NULL, 0), 0);
        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.reason, -EBADMSG);
        ck_assert_uint_eq(a.n_messages, 2);
        expect_error_then_eof(e, fds[1], TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED, 5);
        peer_done(&a);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_handler_error) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_free_ uint8_t *hb = NULL;
        size_t size = raw_heartbeat(7, &hb);
        int fds[2];
        Peer a;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);
        a.fail_with = -ENOENT;

        ck_assert_int_eq(ipc_send_packet(fds[1], hb, size, NULL, 0), 0);
        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.reason, -ENOENT);
        expect_error_then_eof(e, fds[1], TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_TASK, 7);
        peer_done(&a);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_send_error_sanitizes) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        _cleanup_(envelope_freep) IpcEnvelope *env = NULL;
        char long_message[IPC_ERROR_MESSAGE_MAX + 10];
        int fds[2];
        Peer a;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);

        /* 1023 ASCII bytes then a 2-byte character straddling the limit: cut before it. */
        memset(long_message, 'm', sizeof(long_message));
        memcpy(long_message + IPC_ERROR_MESSAGE_MAX - 1, "\xc3\xa9", 2);
        long_message[sizeof(long_message) - 1] = 0;
        ck_assert_int_eq(
                ipc_connection_send_error(a.c, TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY, 3, long_message), 0);
        ck_assert_int_eq(
                ipc_connection_send_error(a.c, TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY, 4, "bad \xff"), 0);

        ck_assert_int_eq(ipc_recv_packet(fds[1], IPC_MESSAGE_SIZE_MAX, 0, &p), 1);
        ck_assert_int_eq(envelope_unpack(p.data, p.size, &env), 0);
        ck_assert_uint_eq(strlen(env->error->message), IPC_ERROR_MESSAGE_MAX - 1);
        ck_assert_uint_eq(env->error->seq, 3);
        env = envelope_free(env);
        ipc_packet_done(&p);
        ck_assert_int_eq(ipc_recv_packet(fds[1], IPC_MESSAGE_SIZE_MAX, 0, &p), 1);
        ck_assert_int_eq(envelope_unpack(p.data, p.size, &env), 0);
        ck_assert_str_eq(env->error->message, "busy");
        ck_assert_uint_eq(env->seq, 2);

        peer_done(&a);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_peer_vanishes) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_free_ uint8_t *hb = NULL;
        size_t size = raw_heartbeat(1, &hb), packets = 0;
        Troupe__V1__Heartbeat beat;
        IpcEnvelope env;
        int fds[2];
        Peer a;

        ck_assert_int_eq(sd_event_new(&e), 0);

        /* Its last words are delivered before the hang-up is reported. */
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);
        ck_assert_int_eq(ipc_send_packet(fds[1], hb, size, NULL, 0), 0);
        safe_close(fds[1]);
        pump_until(e, &a.disconnected);
        ck_assert_uint_eq(a.n_messages, 1);
        ck_assert_int_eq(a.reason, -ECONNRESET);
        peer_done(&a);

        /* Gone while we still had packets queued for it. */
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);
        heartbeat_init(&env, &beat, 1);
        while (packets == 0) {
                ck_assert_int_eq(ipc_connection_send(a.c, &env), 0);
                ipc_connection_get_queue_size(a.c, &packets, NULL);
        }
        safe_close(fds[1]);
        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.reason, -ECONNRESET);
        peer_done(&a);

        /* An empty packet cannot be told from a hang-up on SOCK_SEQPACKET, and is one. */
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);
        ck_assert_int_eq(send(fds[1], "", 0, MSG_NOSIGNAL), 0);
        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.reason, -ECONNRESET);
        peer_done(&a);
        safe_close(fds[1]);
}
END_TEST

START_TEST(test_close_flushes) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(ipc_packet_done) IpcPacket p = {};
        Troupe__V1__Heartbeat hb;
        IpcEnvelope env;
        size_t packets = 0;
        unsigned sent = 0, received = 0;
        int fds[2];
        Peer a;

        ck_assert_int_eq(sd_event_new(&e), 0);
        ck_assert_int_eq(ipc_socketpair(fds), 0);
        peer_init(&a, e, fds[0]);
        heartbeat_init(&env, &hb, 1);

        /* Fill the socket so that some of it is still queued when we close. */
        while (packets < 10) {
                ck_assert_int_eq(ipc_connection_send(a.c, &env), 0);
                sent++;
                ipc_connection_get_queue_size(a.c, &packets, NULL);
        }
        ck_assert_int_eq(ipc_connection_close(a.c, 0), 0);
        ck_assert_int_eq(ipc_connection_close(a.c, -EIO), 0);
        ck_assert(!ipc_connection_is_open(a.c));
        ck_assert_int_eq(ipc_connection_send(a.c, &env), -ENOTCONN);

        /* Everything queued arrives, then end of stream. */
        for (;;) {
                int r = pump_recv(e, fds[1], &p);

                if (r == 0)
                        break;
                ck_assert_int_eq(r, 1);
                received++;
                ipc_packet_done(&p);
        }
        ck_assert_uint_eq(received, sent);
        pump_until(e, &a.disconnected);
        ck_assert_int_eq(a.reason, 0);
        peer_done(&a);
        safe_close(fds[1]);
}
END_TEST

typedef struct Server {
        IpcServer *s;
        Peer peers[4];
        unsigned n_peers;
        int refuse_with;
} Server;

static int server_on_connect(IpcServer *s, IpcConnection *c, void *userdata) {
        Server *srv = userdata;
        Peer *p;

        if (srv->refuse_with < 0)
                return srv->refuse_with;
        ck_assert_uint_lt(srv->n_peers, ELEMENTSOF(srv->peers));
        p = &srv->peers[srv->n_peers++];
        *p = (Peer) { .taken_fd = -EBADF, .reply = true };
        p->c = ipc_connection_ref(c);
        ipc_connection_set_handlers(c, peer_on_message, peer_on_disconnect, p);
        return 0;
}

START_TEST(test_server) {
        _cleanup_free_ char *dir = make_tmpdir(), *path = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int c1 = -EBADF, c2 = -EBADF, c3 = -EBADF, c4 = -EBADF, c5 = -EBADF;
        Server srv = {};
        int l;

        ck_assert_ptr_nonnull(dir);
        path = strjoin(dir, "/agent.sock");
        ck_assert_int_eq(sd_event_new(&e), 0);
        l = ipc_socket_listen(path, false);
        ck_assert_int_ge(l, 0);
        ck_assert_int_eq(ipc_server_new(e, l, server_on_connect, &srv, &srv.s), 0);
        ck_assert_int_eq(ipc_server_set_max_connections(srv.s, 0), -EINVAL);
        ck_assert_int_eq(ipc_server_set_max_connections(srv.s, 1), 0);

        c1 = ipc_socket_connect(path);
        ck_assert_int_ge(c1, 0);
        pump_until_n(e, &srv.n_peers, 1);
        ck_assert_uint_eq(ipc_server_get_n_connections(srv.s), 1);

        /* Over the cap: told why, then hung up on. */
        c2 = ipc_socket_connect(path);
        ck_assert_int_ge(c2, 0);
        expect_error_then_eof(e, c2, TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERLOADED, 0);
        ck_assert_uint_eq(srv.n_peers, 1);

        /* The first one leaves, which frees its slot. */
        c1 = safe_close(c1);
        pump_until(e, &srv.peers[0].disconnected);
        ck_assert_int_eq(srv.peers[0].reason, -ECONNRESET);
        ck_assert_uint_eq(ipc_server_get_n_connections(srv.s), 0);
        c3 = ipc_socket_connect(path);
        ck_assert_int_ge(c3, 0);
        pump_until_n(e, &srv.n_peers, 2);

        /* The accepted connection speaks the protocol. */
        {
                _cleanup_(ipc_packet_done) IpcPacket p = {};
                _cleanup_(envelope_freep) IpcEnvelope *env = NULL;
                _cleanup_free_ uint8_t *hb = NULL;
                size_t size = raw_heartbeat(1, &hb);

                ck_assert_int_eq(ipc_send_packet(c3, hb, size, NULL, 0), 0);
                ck_assert_int_eq(pump_recv(e, c3, &p), 1);
                ck_assert_int_eq(envelope_unpack(p.data, p.size, &env), 0);
                ck_assert_int_eq(env->body_case, TROUPE__V1__ENVELOPE__BODY_HEARTBEAT_ACK);
                ck_assert_uint_eq(env->heartbeat_ack->heartbeat_seq, 1);
        }

        /* Another uid is refused before the cap is even considered. */
        ck_assert_int_eq(ipc_server_set_max_connections(srv.s, 10), 0);
        ipc_server_set_peer_uid(srv.s, geteuid() + 1);
        c4 = ipc_socket_connect(path);
        ck_assert_int_ge(c4, 0);
        expect_error_then_eof(e, c4, TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED, 0);
        ipc_server_set_peer_uid(srv.s, geteuid());

        /* The owner may refuse too. */
        srv.refuse_with = -EBUSY;
        c5 = ipc_socket_connect(path);
        ck_assert_int_ge(c5, 0);
        expect_error_then_eof(e, c5, TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY, 0);
        ck_assert_uint_eq(ipc_server_get_n_connections(srv.s), 1);

        /* Connections outlive the server. */
        srv.s = ipc_server_unref(srv.s);
        ck_assert(ipc_connection_is_open(srv.peers[1].c));
        ck_assert_int_eq(ipc_socket_connect(path), -ECONNREFUSED);
        for (unsigned i = 0; i < srv.n_peers; i++)
                peer_done(&srv.peers[i]);
        rm_rf_tmpdir(dir);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("ipc");
        TCase *sock = tcase_create("socket"), *conn = tcase_create("connection");

        tcase_add_test(sock, test_socketpair_send_recv);
        tcase_add_test(sock, test_recv_oversized);
        tcase_add_test(sock, test_fd_passing);
        tcase_add_test(sock, test_peer_cred);
        tcase_add_test(sock, test_listen_connect);
        suite_add_tcase(s, sock);

        tcase_add_test(conn, test_connection_new_refuses);
        tcase_add_test(conn, test_request_response);
        tcase_add_test(conn, test_connection_fds);
        tcase_add_test(conn, test_slow_peer);
        tcase_add_test(conn, test_bad_input_gets_error);
        tcase_add_test(conn, test_seq_must_increase);
        tcase_add_test(conn, test_handler_error);
        tcase_add_test(conn, test_send_error_sanitizes);
        tcase_add_test(conn, test_peer_vanishes);
        tcase_add_test(conn, test_close_flushes);
        tcase_add_test(conn, test_server);
        suite_add_tcase(s, conn);
        return s;
}

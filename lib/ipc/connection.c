/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "ipc/connection.h"

/* Packets read (or connections accepted) per wakeup, so that one busy peer cannot starve the
 * others on the same event loop; epoll is level-triggered and calls us again. */
#define IPC_READ_BURST 32U
#define IPC_ACCEPT_BURST 16U
/* How long accepting pauses when we are out of fds, instead of spinning on a readable socket. */
#define IPC_ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)

typedef struct QueuedPacket QueuedPacket;
struct QueuedPacket {
        QueuedPacket *next;
        uint8_t *data;
        size_t size;
        int fds[IPC_FDS_MAX];
        size_t n_fds;
};

typedef enum ConnectionState {
        CONNECTION_OPEN,
        CONNECTION_CLOSING, /* not reading; flushing the queue, or waiting for the defer source */
        CONNECTION_CLOSED, /* fd closed, disconnect handler called */
} ConnectionState;

struct IpcConnection {
        unsigned n_ref;
        sd_event *event;
        int fd;
        ConnectionState state;
        int reason;

        sd_event_source *io_source;
        /* Both are created with the connection and only switched on later, so that closing
         * never has to allocate and never fails. */
        sd_event_source *defer_source;
        sd_event_source *linger_source;

        IpcMessageHandler on_message;
        IpcDisconnectHandler on_disconnect;
        void *userdata;

        uint64_t seq_out;
        uint64_t seq_in;
        size_t max_fds;

        QueuedPacket *queue_head, *queue_tail;
        size_t queue_packets, queue_bytes;
        size_t max_queue_packets, max_queue_bytes;

        struct ucred peer;
        bool have_peer;

        IpcServer *server;
        IpcConnection *server_prev, *server_next;
};

struct IpcServer {
        unsigned n_ref;
        sd_event *event;
        int fd;
        sd_event_source *io_source;
        sd_event_source *retry_source;

        IpcConnectHandler on_connect;
        void *userdata;

        uid_t peer_uid;
        size_t max_connections;
        size_t n_connections;
        IpcConnection *connections;
};

static QueuedPacket *queued_packet_free(QueuedPacket *q) {
        if (!q)
                return NULL;
        free(q->data);
        for (size_t i = 0; i < q->n_fds; i++)
                safe_close(q->fds[i]);
        free(q);
        return NULL;
}

static void connection_drop_queue(IpcConnection *c) {
        while (c->queue_head) {
                QueuedPacket *q = c->queue_head;

                c->queue_head = q->next;
                queued_packet_free(q);
        }
        c->queue_tail = NULL;
        c->queue_packets = c->queue_bytes = 0;
}

static void connection_detach_server(IpcConnection *c) {
        IpcServer *s = c->server;

        if (!s)
                return;
        if (c->server_prev)
                c->server_prev->server_next = c->server_next;
        else
                s->connections = c->server_next;
        if (c->server_next)
                c->server_next->server_prev = c->server_prev;
        c->server = NULL;
        c->server_prev = c->server_next = NULL;
        s->n_connections--;
}

static void connection_attach_server(IpcConnection *c, IpcServer *s) {
        c->server = s;
        c->server_prev = NULL;
        c->server_next = s->connections;
        if (s->connections)
                s->connections->server_prev = c;
        s->connections = c;
        s->n_connections++;
}

static IpcConnection *connection_free(IpcConnection *c) {
        connection_detach_server(c);
        c->io_source = sd_event_source_disable_unref(c->io_source);
        c->defer_source = sd_event_source_disable_unref(c->defer_source);
        c->linger_source = sd_event_source_disable_unref(c->linger_source);
        safe_close(c->fd);
        connection_drop_queue(c);
        sd_event_unref(c->event);
        return mfree(c);
}

IpcConnection *ipc_connection_ref(IpcConnection *c) {
        if (c)
                c->n_ref++;
        return c;
}

IpcConnection *ipc_connection_unref(IpcConnection *c) {
        if (!c)
                return NULL;
        if (--c->n_ref > 0)
                return NULL;
        return connection_free(c);
}

/* The end of every connection: the caller holds a reference, since the handler may drop the
 * owner's. */
static void connection_disconnect(IpcConnection *c) {
        if (c->state == CONNECTION_CLOSED)
                return;
        c->state = CONNECTION_CLOSED;
        (void) sd_event_source_set_enabled(c->io_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->defer_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->linger_source, SD_EVENT_OFF);
        c->fd = safe_close(c->fd);
        connection_drop_queue(c);
        connection_detach_server(c);
        if (c->on_disconnect)
                c->on_disconnect(c, c->reason, c->userdata);
}

static int connection_on_defer(sd_event_source *s, void *userdata) {
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = ipc_connection_ref(userdata);

        connection_disconnect(c);
        return 0;
}

static int connection_on_linger(sd_event_source *s, uint64_t usec, void *userdata) {
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = ipc_connection_ref(userdata);

        connection_disconnect(c);
        return 0;
}

/* Ends the connection from the event loop, dropping whatever is unsent. It never calls the
 * disconnect handler itself, so API functions can use it without re-entering their caller. */
static void connection_abort(IpcConnection *c, int reason) {
        if (c->state == CONNECTION_CLOSED)
                return;
        /* A connection already closing keeps the reason it was closed for. */
        if (c->state == CONNECTION_OPEN)
                c->reason = reason;
        c->state = CONNECTION_CLOSING;
        connection_drop_queue(c);
        (void) sd_event_source_set_enabled(c->io_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->defer_source, SD_EVENT_ONESHOT);
}

static void connection_update_events(IpcConnection *c) {
        uint32_t events = 0;

        if (c->state == CONNECTION_CLOSED)
                return;
        if (c->state == CONNECTION_OPEN)
                events |= EPOLLIN;
        if (c->queue_head)
                events |= EPOLLOUT;
        if (events == 0) {
                (void) sd_event_source_set_enabled(c->io_source, SD_EVENT_OFF);
                return;
        }
        /* Edge-triggered: sd-event dispatches one source per loop iteration, so with level
         * triggering every epoll_wait() reported again each socket still waiting its turn, and
         * with thousands of busy agents that work grew with the backlog until the daemon never
         * caught up. sd-event never skips an update that sets EPOLLET, and the EPOLL_CTL_MOD it
         * does re-checks readiness, so a socket left with data after a capped read burst is
         * reported again: nothing is lost. */
        events |= EPOLLET;
        (void) sd_event_source_set_io_events(c->io_source, events);
        (void) sd_event_source_set_enabled(c->io_source, SD_EVENT_ON);
}

static bool errno_is_peer_gone(int r) {
        return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN;
}

static int normalize_send_error(int r) {
        /* However the kernel phrases it, the peer has gone. */
        return errno_is_peer_gone(r) ? -ECONNRESET : r;
}

static int connection_flush(IpcConnection *c) {
        while (c->queue_head) {
                QueuedPacket *q = c->queue_head;
                int r;

                r = ipc_send_packet(c->fd, q->data, q->size, q->fds, q->n_fds);
                if (r == -EAGAIN)
                        return 0;
                if (r < 0)
                        return normalize_send_error(r);
                c->queue_head = q->next;
                if (!c->queue_head)
                        c->queue_tail = NULL;
                c->queue_packets--;
                c->queue_bytes -= q->size;
                queued_packet_free(q);
        }
        return 0;
}

static int connection_enqueue(IpcConnection *c, uint8_t *data, size_t size, const int *fds, size_t n_fds) {
        _cleanup_free_ uint8_t *owned = data;
        QueuedPacket *q;

        if (c->queue_packets >= c->max_queue_packets || size > c->max_queue_bytes - c->queue_bytes) {
                connection_abort(c, -ENOBUFS);
                return -ENOBUFS;
        }

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        for (size_t i = 0; i < n_fds; i++) {
                q->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (q->fds[i] < 0) {
                        int r = -errno;

                        queued_packet_free(q);
                        return r;
                }
                q->n_fds++;
        }
        q->data = TAKE_PTR(owned);
        q->size = size;

        if (c->queue_tail)
                c->queue_tail->next = q;
        else
                c->queue_head = q;
        c->queue_tail = q;
        c->queue_packets++;
        c->queue_bytes += size;
        connection_update_events(c);
        return 0;
}

int ipc_connection_send_full(IpcConnection *c, const IpcEnvelope *e, const int *fds, size_t n_fds,
                             uint64_t *ret_seq) {
        _cleanup_free_ uint8_t *data = NULL;
        IpcEnvelope copy;
        size_t size;
        int r;

        assert_return(c, -EINVAL);
        assert_return(e, -EINVAL);
        assert_return(n_fds <= IPC_FDS_MAX, -ETOOMANYREFS);
        assert_return(fds || n_fds == 0, -EINVAL);

        if (c->state != CONNECTION_OPEN)
                return -ENOTCONN;

        /* A shallow copy: only the header fields differ, the body stays the caller's. */
        copy = *e;
        copy.version = IPC_PROTOCOL_VERSION;
        copy.seq = c->seq_out + 1;
        r = envelope_pack(&copy, &data, &size);
        if (r < 0)
                return r;
        /* Consumed even if sending fails below: the peer accepts gaps, never repeats. */
        c->seq_out = copy.seq;

        /* Packets may only overtake nothing: with a queue, go behind it. */
        if (!c->queue_head) {
                r = ipc_send_packet(c->fd, data, size, fds, n_fds);
                if (r < 0 && r != -EAGAIN) {
                        r = normalize_send_error(r);
                        if (r == -ECONNRESET)
                                connection_abort(c, r);
                        return r;
                }
        } else
                r = -EAGAIN;
        if (r == -EAGAIN) {
                r = connection_enqueue(c, TAKE_PTR(data), size, fds, n_fds);
                if (r < 0)
                        return r;
        }

        if (ret_seq)
                *ret_seq = copy.seq;
        return 0;
}

/* Cuts to IPC_ERROR_MESSAGE_MAX bytes without splitting a character; NULL if not UTF-8. */
static const char *error_message_sanitize(const char *message, char buf[static IPC_ERROR_MESSAGE_MAX + 1]) {
        size_t n;

        if (!message)
                return NULL;
        n = utf8_truncate(message, strnlen(message, IPC_ERROR_MESSAGE_MAX + 1), IPC_ERROR_MESSAGE_MAX);
        memcpy(buf, message, n);
        buf[n] = 0;
        return utf8_is_valid_n(buf, n) ? buf : NULL;
}

int ipc_connection_send_error(IpcConnection *c, IpcErrorCode code, uint64_t refers_to_seq,
                              const char *message) {
        char buf[IPC_ERROR_MESSAGE_MAX + 1];
        Troupe__V1__Error error;
        IpcEnvelope e;

        assert_return(c, -EINVAL);

        message = error_message_sanitize(message, buf) ?: ipc_error_code_to_string(code);
        envelope_error_init(&e, &error, code, refers_to_seq, message);
        return ipc_connection_send(c, &e);
}

int ipc_connection_close(IpcConnection *c, int reason) {
        assert_return(c, -EINVAL);

        if (c->state != CONNECTION_OPEN)
                return 0;
        c->reason = reason;
        c->state = CONNECTION_CLOSING;
        if (!c->queue_head) {
                (void) sd_event_source_set_enabled(c->defer_source, SD_EVENT_ONESHOT);
                (void) sd_event_source_set_enabled(c->io_source, SD_EVENT_OFF);
                return 0;
        }
        (void) sd_event_source_set_time_relative(c->linger_source, IPC_CLOSE_LINGER_USEC);
        (void) sd_event_source_set_enabled(c->linger_source, SD_EVENT_ONESHOT);
        connection_update_events(c);
        return 0;
}

static const char *refusal_message(int error) {
        switch (-error) {
        case EMSGSIZE:
                return "packet exceeds the size limit";
        case ETOOMANYREFS:
                return "packet carries more file descriptors than allowed";
        case ENODATA:
                return "packet ends inside a field";
        case EBADMSG:
                return "packet is not a valid Envelope";
        case EILSEQ:
                return "string field is not valid UTF-8";
        case EPROTO:
                return "unsupported protocol version (this side speaks 1)";
        case EOPNOTSUPP:
                return "missing or unknown message body";
        default:
                return strerrordesc_np(abs(error));
        }
}

/* The peer broke the protocol or a handler failed: tell it why, then hang up. */
static void connection_refuse(IpcConnection *c, int error, uint64_t seq, const char *message) {
        (void) ipc_connection_send_error(c, ipc_error_code_from_errno(error), seq,
                                         message ?: refusal_message(error));
        (void) ipc_connection_close(c, error);
}

static void connection_dispatch(IpcConnection *c, IpcPacket *p) {
        _cleanup_(envelope_freep) IpcEnvelope *e = NULL;
        int r;

        r = envelope_unpack(p->data, p->size, &e);
        if (r == -ENOMEM) {
                connection_abort(c, r);
                return;
        }
        if (r < 0) {
                connection_refuse(c, r, 0, NULL);
                return;
        }
        if (e->seq <= c->seq_in) {
                connection_refuse(c, -EBADMSG, e->seq, "sequence number did not increase");
                return;
        }
        c->seq_in = e->seq;

        if (!c->on_message)
                return;
        r = c->on_message(c, e, p->fds, p->n_fds, c->userdata);
        if (r < 0)
                connection_refuse(c, r, e->seq, NULL);
}

static void connection_read(IpcConnection *c) {
        for (unsigned i = 0; i < IPC_READ_BURST && c->state == CONNECTION_OPEN; i++) {
                _cleanup_(ipc_packet_done) IpcPacket p = {};
                int r;

                r = ipc_recv_packet(c->fd, IPC_MESSAGE_SIZE_MAX, c->max_fds, &p);
                if (r == -EAGAIN)
                        break;
                if (r == 0 || errno_is_peer_gone(r))
                        connection_abort(c, -ECONNRESET);
                else if (r == -EMSGSIZE || r == -ETOOMANYREFS)
                        connection_refuse(c, r, 0, NULL);
                else if (r < 0)
                        connection_abort(c, r);
                else
                        connection_dispatch(c, &p);
        }
}

static int connection_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = ipc_connection_ref(userdata);
        int r;

        /* Read first: a peer that sent its last words and hung up should still be heard. */
        if (c->state == CONNECTION_OPEN && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                connection_read(c);

        if (c->state != CONNECTION_CLOSED && c->queue_head) {
                r = connection_flush(c);
                if (r < 0) {
                        connection_abort(c, r);
                        return 0;
                }
        }

        if (c->state == CONNECTION_CLOSING && !c->queue_head)
                connection_disconnect(c);
        else
                connection_update_events(c);
        return 0;
}

int ipc_connection_new(sd_event *event, int fd, IpcConnection **ret) {
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = NULL;
        int type, r;
        socklen_t len = sizeof(type);

        assert_return(event, -EINVAL);
        assert_return(fd >= 0, -EBADF);
        assert_return(ret, -EINVAL);

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return -errno;
        if (type != SOCK_SEQPACKET)
                return -EPROTOTYPE;
        r = fd_set_nonblock(fd, true);
        if (r < 0)
                return r;
        r = fd_set_cloexec(fd, true);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (IpcConnection) {
                .n_ref = 1,
                .event = sd_event_ref(event),
                .fd = -EBADF,
                .max_queue_packets = IPC_SEND_QUEUE_PACKETS_DEFAULT,
                .max_queue_bytes = IPC_SEND_QUEUE_BYTES_DEFAULT,
        };

        r = sd_event_add_io(event, &c->io_source, fd, EPOLLIN | EPOLLET, connection_on_io, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(c->io_source, "ipc-connection");
        r = sd_event_add_defer(event, &c->defer_source, connection_on_defer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->defer_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->defer_source, "ipc-connection-close");
        r = sd_event_add_time_relative(event, &c->linger_source, CLOCK_MONOTONIC, IPC_CLOSE_LINGER_USEC, 0,
                                       connection_on_linger, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->linger_source, SD_EVENT_OFF);
        (void) sd_event_source_set_description(c->linger_source, "ipc-connection-linger");

        c->have_peer = ipc_peer_get_cred(fd, &c->peer) >= 0;
        c->fd = fd;
        *ret = TAKE_PTR(c);
        return 0;
}

void ipc_connection_set_handlers(IpcConnection *c, IpcMessageHandler on_message,
                                 IpcDisconnectHandler on_disconnect, void *userdata) {
        if (!c)
                return;
        c->on_message = on_message;
        c->on_disconnect = on_disconnect;
        c->userdata = userdata;
}

int ipc_connection_set_queue_limits(IpcConnection *c, size_t max_packets, size_t max_bytes) {
        assert_return(c, -EINVAL);
        assert_return(max_packets >= 1 && max_bytes >= 1, -EINVAL);
        c->max_queue_packets = max_packets;
        c->max_queue_bytes = max_bytes;
        return 0;
}

int ipc_connection_set_max_fds(IpcConnection *c, size_t max_fds) {
        assert_return(c, -EINVAL);
        assert_return(max_fds <= IPC_FDS_MAX, -EINVAL);
        c->max_fds = max_fds;
        return 0;
}

bool ipc_connection_is_open(IpcConnection *c) {
        return c && c->state == CONNECTION_OPEN;
}

int ipc_connection_get_peer_cred(IpcConnection *c, struct ucred *ret) {
        assert_return(c, -EINVAL);
        assert_return(ret, -EINVAL);
        if (!c->have_peer)
                return -ENODATA;
        *ret = c->peer;
        return 0;
}

void ipc_connection_get_queue_size(IpcConnection *c, size_t *ret_packets, size_t *ret_bytes) {
        if (ret_packets)
                *ret_packets = c ? c->queue_packets : 0;
        if (ret_bytes)
                *ret_bytes = c ? c->queue_bytes : 0;
}

static IpcServer *server_free(IpcServer *s) {
        while (s->connections)
                connection_detach_server(s->connections);
        s->io_source = sd_event_source_disable_unref(s->io_source);
        s->retry_source = sd_event_source_disable_unref(s->retry_source);
        safe_close(s->fd);
        sd_event_unref(s->event);
        return mfree(s);
}

IpcServer *ipc_server_ref(IpcServer *s) {
        if (s)
                s->n_ref++;
        return s;
}

IpcServer *ipc_server_unref(IpcServer *s) {
        if (!s)
                return NULL;
        if (--s->n_ref > 0)
                return NULL;
        return server_free(s);
}

/* Best effort: the socket is new, so its buffer has room for one small packet. */
static void server_refuse(int fd, IpcErrorCode code, const char *message) {
        _cleanup_free_ uint8_t *data = NULL;
        Troupe__V1__Error error;
        IpcEnvelope e;
        size_t size;

        envelope_error_init(&e, &error, code, 0, message);
        e.seq = 1;
        if (envelope_pack(&e, &data, &size) >= 0)
                (void) ipc_send_packet(fd, data, size, NULL, 0);
}

static void server_handle(IpcServer *s, int accepted_fd) {
        _cleanup_close_ int fd = accepted_fd;
        _cleanup_(ipc_connection_unrefp) IpcConnection *c = NULL;
        int r;

        if (ipc_peer_check_uid(fd, s->peer_uid) < 0) {
                server_refuse(fd, TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED,
                              "peer runs as another user");
                return;
        }
        if (s->n_connections >= s->max_connections) {
                server_refuse(fd, TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERLOADED, "too many connections");
                return;
        }

        if (ipc_connection_new(s->event, fd, &c) < 0)
                return;
        TAKE_FD(fd);
        connection_attach_server(c, s);

        if (!s->on_connect)
                return;
        r = s->on_connect(s, c, s->userdata);
        if (r < 0) {
                (void) ipc_connection_send_error(c, ipc_error_code_from_errno(r), 0, refusal_message(r));
                (void) ipc_connection_close(c, r);
        }
}

static int server_on_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        IpcServer *s = userdata;

        (void) sd_event_source_set_enabled(s->io_source, SD_EVENT_ON);
        return 0;
}

static void server_pause(IpcServer *s) {
        int r;

        if (!s->retry_source) {
                r = sd_event_add_time_relative(s->event, &s->retry_source, CLOCK_MONOTONIC,
                                               IPC_ACCEPT_RETRY_USEC, 0, server_on_retry, s);
                if (r < 0)
                        return;
        } else {
                (void) sd_event_source_set_time_relative(s->retry_source, IPC_ACCEPT_RETRY_USEC);
                (void) sd_event_source_set_enabled(s->retry_source, SD_EVENT_ONESHOT);
        }
        (void) sd_event_source_set_enabled(s->io_source, SD_EVENT_OFF);
}

static int server_on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        _cleanup_(ipc_server_unrefp) IpcServer *s = ipc_server_ref(userdata);

        for (unsigned i = 0; i < IPC_ACCEPT_BURST && s->fd >= 0; i++) {
                int cfd = ipc_socket_accept(s->fd);

                if (cfd == -EAGAIN)
                        break;
                /* Out of fds or memory: the pending connection stays readable, so stop looking
                 * for a while rather than spin. */
                if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS || cfd == -ENOMEM) {
                        server_pause(s);
                        break;
                }
                /* Anything else concerns one connection that has already gone. */
                if (cfd < 0)
                        continue;
                server_handle(s, cfd);
        }
        return 0;
}

int ipc_server_new(sd_event *event, int listen_fd, IpcConnectHandler on_connect, void *userdata,
                   IpcServer **ret) {
        _cleanup_(ipc_server_unrefp) IpcServer *s = NULL;
        int type, r;
        socklen_t len = sizeof(type);

        assert_return(event, -EINVAL);
        assert_return(listen_fd >= 0, -EBADF);
        assert_return(ret, -EINVAL);

        if (getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return -errno;
        if (type != SOCK_SEQPACKET)
                return -EPROTOTYPE;
        r = fd_set_nonblock(listen_fd, true);
        if (r < 0)
                return r;
        r = fd_set_cloexec(listen_fd, true);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (IpcServer) {
                .n_ref = 1,
                .event = sd_event_ref(event),
                .fd = -EBADF,
                .on_connect = on_connect,
                .userdata = userdata,
                .peer_uid = geteuid(),
                .max_connections = IPC_SERVER_CONNECTIONS_DEFAULT,
        };
        r = sd_event_add_io(event, &s->io_source, listen_fd, EPOLLIN, server_on_io, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->io_source, "ipc-server");

        s->fd = listen_fd;
        *ret = TAKE_PTR(s);
        return 0;
}

int ipc_server_set_max_connections(IpcServer *s, size_t max) {
        assert_return(s, -EINVAL);
        assert_return(max >= 1, -EINVAL);
        s->max_connections = max;
        return 0;
}

void ipc_server_set_peer_uid(IpcServer *s, uid_t uid) {
        if (s)
                s->peer_uid = uid;
}

size_t ipc_server_get_n_connections(IpcServer *s) {
        return s ? s->n_connections : 0;
}

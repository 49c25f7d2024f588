/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* connection.h: agent-protocol connections and servers on sd-event, with bounded send queues. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "basic/macro.h"
#include "ipc/envelope.h"
#include "ipc/socket.h"

#define IPC_SEND_QUEUE_PACKETS_DEFAULT 1024U
#define IPC_SEND_QUEUE_BYTES_DEFAULT ((size_t) 4U * 1024U * 1024U)
#define IPC_SERVER_CONNECTIONS_DEFAULT 256U
/* How long a closing connection keeps trying to deliver what it queued (a final Error, a reply). */
#define IPC_CLOSE_LINGER_USEC (1 * USEC_PER_SEC)

typedef struct IpcConnection IpcConnection;
typedef struct IpcServer IpcServer;

/* Called for each valid Envelope received, in order. `fds` holds the n_fds fds that came with it
 * (only if allowed by ipc_connection_set_max_fds()); keep one with TAKE_FD(fds[i]), the others are
 * closed when the handler returns, as is the Envelope. To refuse a request and stay connected,
 * send an Error with ipc_connection_send_error() and return 0. A negative return is fatal: the
 * peer is sent an Error for that errno (see ipc_error_code_from_errno()) and the connection is
 * closed with that reason. */
typedef int (*IpcMessageHandler)(IpcConnection *c, const IpcEnvelope *e, int *fds, size_t n_fds,
                                 void *userdata);

/* Called once when the connection has ended and its fd is closed. `reason` is a negative errno:
 *   -ECONNRESET  the peer hung up or vanished
 *   -ENOBUFS     the peer did not read and the send queue passed its limit
 *   -EBADMSG, -EILSEQ, -ENODATA, -EMSGSIZE, -ETOOMANYREFS, -EPROTO, -EOPNOTSUPP
 *                it sent a packet envelope_unpack() or the packet reader refuses (or a seq that
 *                did not increase: -EBADMSG); an Error was sent first
 *   anything else: what a message handler returned, or what was given to ipc_connection_close().
 * The connection stays allocated until its last reference is dropped, which may happen here. */
typedef void (*IpcDisconnectHandler)(IpcConnection *c, int reason, void *userdata);

/* Called by a server for each accepted connection. The connection is borrowed: take a reference
 * (and set handlers) to keep it. A negative return refuses it with an Error for that errno. */
typedef int (*IpcConnectHandler)(IpcServer *s, IpcConnection *c, void *userdata);

/* Wraps a connected SOCK_SEQPACKET socket (anything else: -EPROTOTYPE or -ENOTSOCK), made
 * non-blocking, on `event`. Takes the fd on success only. Reading starts when the event loop
 * runs; set the handlers before that. */
int ipc_connection_new(sd_event *event, int fd, IpcConnection **ret);
IpcConnection *ipc_connection_ref(IpcConnection *c);
/* Dropping the last reference closes the fd at once, discarding queued packets, without calling
 * the disconnect handler. Accepts NULL. */
IpcConnection *ipc_connection_unref(IpcConnection *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(IpcConnection *, ipc_connection_unref);

void ipc_connection_set_handlers(IpcConnection *c, IpcMessageHandler on_message,
                                 IpcDisconnectHandler on_disconnect, void *userdata);
/* Limits of the send queue (packets the kernel would not take yet): both must be >= 1. Default
 * IPC_SEND_QUEUE_PACKETS_DEFAULT and IPC_SEND_QUEUE_BYTES_DEFAULT. */
int ipc_connection_set_queue_limits(IpcConnection *c, size_t max_packets, size_t max_bytes);
/* How many fds one received packet may carry, 0..IPC_FDS_MAX; default 0. */
int ipc_connection_set_max_fds(IpcConnection *c, size_t max_fds);

/* Sends an Envelope (its body, and trace if set: version and seq are filled in here), with up to
 * IPC_FDS_MAX fds that are duplicated, so the caller keeps its own. Never blocks: what the socket
 * does not take now is queued and sent as the peer reads. Returns 0 when sent or queued and the
 * seq it was given in *ret_seq (may be NULL). Errors: what envelope_pack() refuses (nothing is
 * sent, the connection stays open); -ENOTCONN once the connection is closing or closed;
 * -ECONNRESET if the peer has gone and -ENOBUFS if the queue overflowed: in both cases the
 * connection is being closed and the disconnect handler will be called from the event loop. */
int ipc_connection_send_full(IpcConnection *c, const IpcEnvelope *e, const int *fds, size_t n_fds,
                             uint64_t *ret_seq);
static inline int ipc_connection_send(IpcConnection *c, const IpcEnvelope *e) {
        return ipc_connection_send_full(c, e, NULL, 0, NULL);
}
/* Sends an Error. The message is cut to IPC_ERROR_MESSAGE_MAX bytes at a character boundary and
 * replaced by the code's name if it is not UTF-8. */
int ipc_connection_send_error(IpcConnection *c, IpcErrorCode code, uint64_t refers_to_seq,
                              const char *message);

/* Stops reading, delivers what is queued (for at most IPC_CLOSE_LINGER_USEC), then closes the fd
 * and calls the disconnect handler with `reason` from the event loop. Idempotent. */
int ipc_connection_close(IpcConnection *c, int reason);

/* True until the connection starts closing. */
bool ipc_connection_is_open(IpcConnection *c);
/* The peer's credentials as of connect(); -ENODATA when the kernel had none. */
int ipc_connection_get_peer_cred(IpcConnection *c, struct ucred *ret);
/* Packets and bytes waiting in the send queue. */
void ipc_connection_get_queue_size(IpcConnection *c, size_t *ret_packets, size_t *ret_bytes);

/* Serves a listening SOCK_SEQPACKET socket (e.g. from ipc_socket_listen() or socket activation)
 * on `event`: accepts connections from peers running as the same effective uid as this process
 * (others get an Error permission-denied and are closed), up to IPC_SERVER_CONNECTIONS_DEFAULT at
 * a time (others get an Error overloaded and are closed), and hands each one to on_connect.
 * Takes the fd on success only. */
int ipc_server_new(sd_event *event, int listen_fd, IpcConnectHandler on_connect, void *userdata,
                   IpcServer **ret);
IpcServer *ipc_server_ref(IpcServer *s);
/* Dropping the last reference closes the listening fd; accepted connections live on with their
 * owners. Accepts NULL. */
IpcServer *ipc_server_unref(IpcServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(IpcServer *, ipc_server_unref);

/* Connections that are open or still closing count against the limit; >= 1. */
int ipc_server_set_max_connections(IpcServer *s, size_t max);
/* Accept peers running as `uid` instead of this process's effective uid. */
void ipc_server_set_peer_uid(IpcServer *s, uid_t uid);
size_t ipc_server_get_n_connections(IpcServer *s);

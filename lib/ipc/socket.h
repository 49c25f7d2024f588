/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* socket.h: SOCK_SEQPACKET sockets: listen, connect, peer credentials, capped packet I/O, fd passing. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "basic/macro.h"

/* Most file descriptors one packet may carry. */
#define IPC_FDS_MAX 16U

/* One received packet: data (malloc'd, exactly `size` bytes) and the fds that came with it, all
 * O_CLOEXEC. A consumer that keeps an fd takes it with TAKE_FD(p.fds[i]); the rest are closed by
 * ipc_packet_done(). */
typedef struct IpcPacket {
        uint8_t *data;
        size_t size;
        int fds[IPC_FDS_MAX];
        size_t n_fds;
} IpcPacket;

/* Frees the data and closes the fds still held; leaves *p empty. */
void ipc_packet_done(IpcPacket *p);

/* Creates a listening SOCK_SEQPACKET socket (O_CLOEXEC|O_NONBLOCK) bound at `path`, mode 0600.
 * With make_parent the parent directory is created 0700 if missing. A socket file left at `path`
 * by a dead process is replaced; a live one gives -EADDRINUSE, anything that is not a socket
 * -EEXIST. Paths that do not fit sun_path give -ENAMETOOLONG. Returns the fd. */
int ipc_socket_listen(const char *path, bool make_parent);
/* Connects to a listening socket; returns a blocking O_CLOEXEC fd. */
int ipc_socket_connect(const char *path);
/* accept4() with O_CLOEXEC|O_NONBLOCK; returns the fd, -EAGAIN when none is pending. */
int ipc_socket_accept(int listen_fd);
/* A connected pair of blocking O_CLOEXEC SOCK_SEQPACKET sockets. */
int ipc_socketpair(int ret_fds[2]);

/* The peer's credentials as of connect() (SO_PEERCRED); -ENODATA if the kernel has none. */
int ipc_peer_get_cred(int fd, struct ucred *ret);
/* 0 if the peer runs as `uid`, -EPERM otherwise. */
int ipc_peer_check_uid(int fd, uid_t uid);

/* Sends one packet of 1..IPC_MESSAGE_SIZE_MAX bytes with up to IPC_FDS_MAX fds (duplicated by the
 * kernel; the caller keeps its own). Never raises SIGPIPE: a gone peer gives -EPIPE. Blocks or
 * gives -EAGAIN according to the fd's O_NONBLOCK. Empty packets are refused (-EINVAL): on
 * SOCK_SEQPACKET the receiver cannot tell one from the peer hanging up. */
int ipc_send_packet(int fd, const void *data, size_t size, const int *fds, size_t n_fds);

/* Receives one packet. Returns 1 and fills *ret, or 0 when the peer has hung up (an empty packet
 * reads the same), or a negative errno:
 *   -EMSGSIZE      the packet is larger than max_size; its size is learnt with MSG_PEEK|MSG_TRUNC
 *                  before anything is allocated, and the packet is discarded with any fds it carried
 *   -ETOOMANYREFS  it carried more than max_fds (<= IPC_FDS_MAX) fds; all were closed, the packet
 *                  is discarded
 *   -EAGAIN        nothing to read on a non-blocking fd
 * The next packet is readable after any of these. */
int ipc_recv_packet(int fd, size_t max_size, size_t max_fds, IpcPacket *ret);

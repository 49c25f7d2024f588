/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* envelope.h: packing, unpacking and validating the agent protocol's Envelope (the only protobuf-c user). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "troupe/v1/envelope.pb-c.h"

#define IPC_PROTOCOL_VERSION 1U
/* Largest packed Envelope, i.e. largest packet on the agent socket. */
#define IPC_MESSAGE_SIZE_MAX ((size_t) 128U * 1024U)
/* Longest Error.message we send; longer ones are cut at a character boundary. */
#define IPC_ERROR_MESSAGE_MAX ((size_t) 1024U)

typedef Troupe__V1__Envelope IpcEnvelope;
typedef Troupe__V1__Envelope__BodyCase IpcBodyCase;
typedef Troupe__V1__ErrorCode IpcErrorCode;

/* What envelope_unpack() refuses, and so what envelope_pack() refuses to produce (same errno):
 *   -EMSGSIZE    more than IPC_MESSAGE_SIZE_MAX bytes (checked before anything is parsed)
 *   -ENODATA     the data ends inside a field (a truncated packet)
 *   -EBADMSG     not protobuf (bad wire type, varint over 10 bytes, field 0, lengths that do not
 *                add up), seq 0, or a trace context with ids of the wrong length or all zero
 *   -EILSEQ      a string field, at any depth, that is not UTF-8 or contains a NUL byte
 *   -EPROTO      version is not IPC_PROTOCOL_VERSION (an empty packet decodes to version 0)
 *   -EOPNOTSUPP  no body, or a body case this build does not know
 * and -ENOMEM. Unknown fields inside a known message are kept and ignored. */

/* Packs into a new buffer of exactly the packed size. The caller sets version and seq (an
 * IpcConnection does that for its callers). */
int envelope_pack(const IpcEnvelope *e, uint8_t **ret_data, size_t *ret_size);
/* Checks and decodes one packet. Free the result with envelope_free(). */
int envelope_unpack(const uint8_t *data, size_t size, IpcEnvelope **ret);
/* Frees an Envelope returned by envelope_unpack() (and only those). Accepts NULL. */
IpcEnvelope *envelope_free(IpcEnvelope *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(IpcEnvelope *, envelope_free);

/* The proto field name of a body case ("register", "heartbeat_ack", ...), NULL if unknown. Taken
 * from the generated descriptor, so new cases are named without touching this code. The
 * from_string functions return int: the generated enums are unsigned and cannot hold -EINVAL. */
const char *envelope_body_to_string(IpcBodyCase body) _const_;
int envelope_body_from_string(const char *s) _pure_;

/* Short names of error codes: "malformed", "wrong-version", ... NULL / -EINVAL if unknown. */
const char *ipc_error_code_to_string(int code) _const_;
int ipc_error_code_from_string(const char *s) _pure_;

/* Maps a negative (or positive) errno to the code sent to the peer, INTERNAL when nothing fits;
 * the errno list above maps to its ErrorCode, plus EPERM/EACCES permission-denied, EINVAL
 * invalid-args, ENOENT no-such-task, ESRCH no-such-agent, EBUSY busy, ENOBUFS/EAGAIN overloaded,
 * ETIMEDOUT timeout, EINPROGRESS consent-required, ENOTCONN/EISCONN wrong-state. */
IpcErrorCode ipc_error_code_from_errno(int error) _const_;
/* The reverse, as a negative errno (-EIO for unspecified or unknown codes), so that
 * ipc_error_code_from_errno(ipc_error_code_to_errno(c)) == c for every known code. */
int ipc_error_code_to_errno(IpcErrorCode code) _const_;

/* Fills caller-owned structs with a version-1 Envelope whose body is an Error. Nothing is copied
 * or allocated: `message` (may be NULL) must outlive both; seq is left 0 for the sender to set. */
void envelope_error_init(IpcEnvelope *e, Troupe__V1__Error *error, IpcErrorCode code, uint64_t refers_to_seq,
                         const char *message);

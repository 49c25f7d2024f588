/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "basic/string-util.h"
#include "ipc/envelope.h"

/* Protobuf field numbers are 29 bits; 0 is never valid. */
#define WIRE_FIELD_NUMBER_MAX ((UINT64_C(1) << 29) - 1)
/* Our schema is not recursive, so this only guards against a future one that is. */
#define WIRE_DEPTH_MAX 16U

enum {
        WIRE_VARINT = 0,
        WIRE_FIXED64 = 1,
        WIRE_LENGTH_DELIMITED = 2,
        WIRE_FIXED32 = 5,
};

static const char *const ipc_error_code_table[] = {
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_UNSPECIFIED] = "unspecified",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED] = "malformed",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED] = "oversized",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_TRUNCATED] = "truncated",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY] = "unknown-body",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_VERSION] = "wrong-version",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED] = "permission-denied",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGS] = "invalid-args",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_TASK] = "no-such-task",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_AGENT] = "no-such-agent",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY] = "busy",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERLOADED] = "overloaded",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_INTERNAL] = "internal",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT] = "timeout",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_CONSENT_REQUIRED] = "consent-required",
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_STATE] = "wrong-state",
};
DEFINE_STRING_TABLE_LOOKUP(ipc_error_code, int);

/* The errno each code reads back as; chosen so that mapping it forward gives the code again. */
static const int ipc_error_code_errno_table[] = {
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_UNSPECIFIED] = EIO,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED] = EBADMSG,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED] = EMSGSIZE,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_TRUNCATED] = ENODATA,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY] = EOPNOTSUPP,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_VERSION] = EPROTO,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED] = EPERM,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGS] = EINVAL,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_TASK] = ENOENT,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_AGENT] = ESRCH,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY] = EBUSY,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERLOADED] = ENOBUFS,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_INTERNAL] = EIO,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT] = ETIMEDOUT,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_CONSENT_REQUIRED] = EINPROGRESS,
        [TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_STATE] = ENOTCONN,
};

IpcErrorCode ipc_error_code_from_errno(int error) {
        switch (abs(error)) {
        case EBADMSG:
        case EILSEQ:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_MALFORMED;
        case EMSGSIZE:
        case ETOOMANYREFS:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERSIZED;
        case ENODATA:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_TRUNCATED;
        case EOPNOTSUPP:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_BODY;
        case EPROTO:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_VERSION;
        case EPERM:
        case EACCES:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED;
        case EINVAL:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_INVALID_ARGS;
        case ENOENT:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_TASK;
        case ESRCH:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_NO_SUCH_AGENT;
        case EBUSY:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_BUSY;
        case ENOBUFS:
        case EAGAIN:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_OVERLOADED;
        case ETIMEDOUT:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_TIMEOUT;
        case EINPROGRESS:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_CONSENT_REQUIRED;
        case ENOTCONN:
        case EISCONN:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_WRONG_STATE;
        default:
                return TROUPE__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
        }
}

int ipc_error_code_to_errno(IpcErrorCode code) {
        if ((size_t) code >= ELEMENTSOF(ipc_error_code_errno_table))
                return -EIO;
        return -ipc_error_code_errno_table[code];
}

static const ProtobufCFieldDescriptor *envelope_body_field(unsigned number) {
        const ProtobufCFieldDescriptor *f;

        f = protobuf_c_message_descriptor_get_field(&troupe__v1__envelope__descriptor, number);
        if (!f || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                return NULL;
        return f;
}

const char *envelope_body_to_string(IpcBodyCase body) {
        const ProtobufCFieldDescriptor *f;

        if ((int) body <= 0)
                return NULL;
        f = envelope_body_field((unsigned) body);
        return f ? f->name : NULL;
}

int envelope_body_from_string(const char *s) {
        const ProtobufCFieldDescriptor *f;

        if (!s)
                return -EINVAL;
        f = protobuf_c_message_descriptor_get_field_by_name(&troupe__v1__envelope__descriptor, s);
        if (!f || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
                return -EINVAL;
        return (int) f->id;
}

static int wire_read_varint(const uint8_t *p, size_t size, size_t *offset, uint64_t *ret) {
        uint64_t v = 0;

        for (unsigned i = 0; i < 10; i++) {
                uint8_t b;

                if (*offset >= size)
                        return -ENODATA;
                b = p[(*offset)++];
                /* The tenth byte holds only bit 63. */
                if (i == 9 && b > 1)
                        return -EBADMSG;
                v |= (uint64_t) (b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

/* Walks the wire format of a message of type `desc`, checking what protobuf-c does not: every
 * string field at any depth must be UTF-8 without NUL bytes (protobuf-c would silently cut the C
 * string at the first NUL). Also tells data that ends inside a field (-ENODATA) from other damage.
 * It runs before protobuf-c sees the data, so it trusts nothing. */
static int wire_check_message(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t size,
                              unsigned depth) {
        size_t offset = 0;
        int r;

        if (depth > WIRE_DEPTH_MAX)
                return -EBADMSG;

        while (offset < size) {
                const ProtobufCFieldDescriptor *f;
                uint64_t key, len;

                r = wire_read_varint(p, size, &offset, &key);
                if (r < 0)
                        return r;
                if ((key >> 3) == 0 || (key >> 3) > WIRE_FIELD_NUMBER_MAX)
                        return -EBADMSG;

                switch (key & 7) {
                case WIRE_VARINT:
                        r = wire_read_varint(p, size, &offset, &len);
                        if (r < 0)
                                return r;
                        break;
                case WIRE_FIXED64:
                case WIRE_FIXED32:
                        len = (key & 7) == WIRE_FIXED64 ? 8 : 4;
                        if (size - offset < len)
                                return -ENODATA;
                        offset += len;
                        break;
                case WIRE_LENGTH_DELIMITED:
                        r = wire_read_varint(p, size, &offset, &len);
                        if (r < 0)
                                return r;
                        if (len > size - offset)
                                return -ENODATA;
                        f = protobuf_c_message_descriptor_get_field(desc, (unsigned) (key >> 3));
                        if (f && f->type == PROTOBUF_C_TYPE_STRING &&
                            !utf8_is_valid_n((const char *) p + offset, len))
                                return -EILSEQ;
                        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                                r = wire_check_message(f->descriptor, p + offset, len, depth + 1);
                                /* A nested message that overruns its own length is not a
                                 * truncated packet but a lying one. */
                                if (r < 0)
                                        return r == -ENODATA ? -EBADMSG : r;
                        }
                        offset += len;
                        break;
                default:
                        /* Groups (3, 4) are not supported by protobuf-c; 6 and 7 do not exist. */
                        return -EBADMSG;
                }
        }
        return 0;
}

static bool bytes_all_zero(const ProtobufCBinaryData *b) {
        for (size_t i = 0; i < b->len; i++)
                if (b->data[i] != 0)
                        return false;
        return true;
}

/* The checks on decoded values, shared by pack and unpack so both refuse the same envelopes. */
static int envelope_validate(const IpcEnvelope *e) {
        const Troupe__V1__TraceContext *t = e->trace;

        if (e->version != IPC_PROTOCOL_VERSION)
                return -EPROTO;
        if (e->seq == 0)
                return -EBADMSG;
        /* W3C: ids of fixed length, an all-zero id is invalid. */
        if (t && (t->trace_id.len != 16 || bytes_all_zero(&t->trace_id) || t->span_id.len != 8 ||
                  bytes_all_zero(&t->span_id) || t->flags > 0xff))
                return -EBADMSG;
        if ((int) e->body_case <= 0 || !envelope_body_field((unsigned) e->body_case))
                return -EOPNOTSUPP;
        return 0;
}

int envelope_pack(const IpcEnvelope *e, uint8_t **ret_data, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        assert_return(e, -EINVAL);
        assert_return(e->base.descriptor == &troupe__v1__envelope__descriptor, -EINVAL);
        assert_return(ret_data, -EINVAL);
        assert_return(ret_size, -EINVAL);

        r = envelope_validate(e);
        if (r < 0)
                return r;

        size = protobuf_c_message_get_packed_size(&e->base);
        if (size > IPC_MESSAGE_SIZE_MAX)
                return -EMSGSIZE;
        buf = malloc(MAX(size, (size_t) 1));
        if (!buf)
                return -ENOMEM;
        if (protobuf_c_message_pack(&e->base, buf) != size)
                return -EIO;

        /* Strings are only checked on the wire: what we send must be what the peer accepts. */
        r = wire_check_message(&troupe__v1__envelope__descriptor, buf, size, 0);
        if (r < 0)
                return r;

        *ret_data = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

/* protobuf-c reports every failure as NULL; this allocator lets us tell running out of memory
 * (-ENOMEM, our problem) from bad input (-EBADMSG, the peer's). */
static void *unpack_alloc(void *allocator_data, size_t size) {
        void *p = malloc(MAX(size, (size_t) 1));

        if (!p)
                *(bool *) allocator_data = true;
        return p;
}

static void unpack_free(void *allocator_data, void *p) {
        free(p);
}

int envelope_unpack(const uint8_t *data, size_t size, IpcEnvelope **ret) {
        _cleanup_(envelope_freep) IpcEnvelope *e = NULL;
        bool out_of_memory = false;
        ProtobufCAllocator allocator = {
                .alloc = unpack_alloc,
                .free = unpack_free,
                .allocator_data = &out_of_memory,
        };
        int r;

        assert_return(data || size == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        if (size > IPC_MESSAGE_SIZE_MAX)
                return -EMSGSIZE;

        r = wire_check_message(&troupe__v1__envelope__descriptor, data, size, 0);
        if (r < 0)
                return r;

        e = troupe__v1__envelope__unpack(&allocator, size, data);
        if (!e)
                return out_of_memory ? -ENOMEM : -EBADMSG;

        r = envelope_validate(e);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(e);
        return 0;
}

IpcEnvelope *envelope_free(IpcEnvelope *e) {
        if (e)
                protobuf_c_message_free_unpacked(&e->base, NULL);
        return NULL;
}

void envelope_error_init(IpcEnvelope *e, Troupe__V1__Error *error, IpcErrorCode code, uint64_t refers_to_seq,
                         const char *message) {
        *error = (Troupe__V1__Error) TROUPE__V1__ERROR__INIT;
        error->code = code;
        error->seq = refers_to_seq;
        /* protobuf-c's structs are not const-correct; packing never writes through the pointer. */
        error->message = (char *) (message ?: "");

        *e = (IpcEnvelope) TROUPE__V1__ENVELOPE__INIT;
        e->version = IPC_PROTOCOL_VERSION;
        e->body_case = TROUPE__V1__ENVELOPE__BODY_ERROR;
        e->error = error;
}

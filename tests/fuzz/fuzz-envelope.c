/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the agent socket's decoder: any bytes a peer can send. Whatever decodes must survive a
 * re-encode and decode again into the same envelope. */
#include <stdlib.h>

#include "fuzz.h"
#include "ipc/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(envelope_freep) IpcEnvelope *e = NULL, *again = NULL;
        _cleanup_free_ uint8_t *packed = NULL, *repacked = NULL;
        size_t packed_size, repacked_size;

        if (envelope_unpack(data, size, &e) < 0)
                return 0;

        /* The re-encoding may differ in size from the input (non-minimal varints, duplicated
         * fields, negative int32 widened to 10 bytes) but must itself be acceptable, and stable. */
        if (envelope_pack(e, &packed, &packed_size) < 0)
                abort();
        if (envelope_unpack(packed, packed_size, &again) < 0)
                abort();
        if (again->version != e->version || again->seq != e->seq || again->body_case != e->body_case)
                abort();
        if (envelope_pack(again, &repacked, &repacked_size) < 0 || repacked_size != packed_size)
                abort();
        return 0;
}

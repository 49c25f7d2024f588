/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit log's table and hash chain: schema, the canonical row encoding, hashes as hex. */
#include <sodium.h>

#include "audit/audit-internal.h"
#include "basic/string-util.h"

_Static_assert(AUDIT_HASH_SIZE == crypto_hash_sha256_BYTES, "audit hashes are SHA-256");

/* STRICT keeps every column the type the hash encoding reads it as (docs/audit.md). */
const char *const audit_migrations[] = {
        "CREATE TABLE audit("
        "        seq INTEGER PRIMARY KEY CHECK (seq > 0),"
        "        time INTEGER NOT NULL CHECK (time >= 0),"
        "        actor TEXT NOT NULL,"
        "        action TEXT NOT NULL,"
        "        task TEXT NOT NULL,"
        "        agent TEXT NOT NULL,"
        "        detail TEXT NOT NULL,"
        "        prev BLOB NOT NULL CHECK (length(prev) = 32),"
        "        hash BLOB NOT NULL CHECK (length(hash) = 32)"
        ") STRICT;"
        "CREATE INDEX audit_task ON audit(task);",
        NULL,
};

/* The first bytes of every hashed record: names the format, so a future encoding cannot collide. */
#define AUDIT_HASH_DOMAIN "troupe-audit-v1"

static void hash_u64(crypto_hash_sha256_state *h, uint64_t v) {
        uint8_t b[8];

        for (size_t i = 0; i < sizeof(b); i++)
                b[i] = (uint8_t) (v >> (56 - 8 * i));
        crypto_hash_sha256_update(h, b, sizeof(b));
}

static void hash_u32(crypto_hash_sha256_state *h, uint32_t v) {
        uint8_t b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};

        crypto_hash_sha256_update(h, b, sizeof(b));
}

void audit_row_hash(const uint8_t prev[static AUDIT_HASH_SIZE], uint64_t seq, uint64_t time,
                    const AuditBytes text[static _AUDIT_TEXT_MAX], uint8_t ret[static AUDIT_HASH_SIZE]) {
        crypto_hash_sha256_state h;

        /* Fixed-size fields and length-prefixed strings: no two different rows encode alike. The
         * domain string goes in with its terminating NUL. */
        crypto_hash_sha256_init(&h);
        crypto_hash_sha256_update(&h, (const uint8_t *) AUDIT_HASH_DOMAIN, sizeof(AUDIT_HASH_DOMAIN));
        crypto_hash_sha256_update(&h, prev, AUDIT_HASH_SIZE);
        hash_u64(&h, seq);
        hash_u64(&h, time);
        for (size_t i = 0; i < _AUDIT_TEXT_MAX; i++) {
                /* Stored text is far below 4 GiB (SQLite's own limit is 1 GB). */
                hash_u32(&h, (uint32_t) MIN(text[i].size, (size_t) UINT32_MAX));
                crypto_hash_sha256_update(&h, text[i].p, text[i].size);
        }
        crypto_hash_sha256_final(&h, ret);
}

const char *audit_hash_to_hex(const uint8_t hash[static AUDIT_HASH_SIZE],
                              char buf[static AUDIT_HASH_HEX_SIZE]) {
        return sodium_bin2hex(buf, AUDIT_HASH_HEX_SIZE, hash, AUDIT_HASH_SIZE);
}

int audit_hash_from_hex(const char *s, uint8_t ret[static AUDIT_HASH_SIZE]) {
        uint8_t h[AUDIT_HASH_SIZE];
        size_t n = 0;
        const char *end = NULL;

        assert_return(s, -EINVAL);
        assert_return(ret, -EINVAL);

        if (strlen(s) != AUDIT_HASH_SIZE * 2)
                return -EINVAL;
        if (sodium_hex2bin(h, sizeof(h), s, strlen(s), NULL, &n, &end) != 0 || n != sizeof(h) || *end)
                return -EINVAL;
        memcpy(ret, h, sizeof(h));
        return 0;
}

int audit_load_head(Audit *a) {
        _cleanup_(store_statement_freep) StoreStatement *st = NULL;
        const void *hash;
        size_t size;
        int r;

        r = store_prepare(a->store, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &st);
        if (r < 0)
                return r;
        r = store_step(st);
        if (r < 0)
                return r;
        if (r == 0) {
                a->committed_seq = 0;
                memset(a->committed_hash, 0, AUDIT_HASH_SIZE);
                return 0;
        }
        hash = store_column_blob(st, 1, &size);
        if (store_column_int64(st, 0) <= 0 || size != AUDIT_HASH_SIZE)
                return -EBADMSG;
        a->committed_seq = (uint64_t) store_column_int64(st, 0);
        memcpy(a->committed_hash, hash, AUDIT_HASH_SIZE);
        return 0;
}

static const char *const audit_damage_table[_AUDIT_DAMAGE_MAX] = {
        [AUDIT_DAMAGE_NONE] = "none",           [AUDIT_DAMAGE_MODIFIED] = "modified",
        [AUDIT_DAMAGE_DELETED] = "deleted",     [AUDIT_DAMAGE_REORDERED] = "reordered",
        [AUDIT_DAMAGE_INSERTED] = "inserted",   [AUDIT_DAMAGE_TRUNCATED] = "truncated",
        [AUDIT_DAMAGE_REWRITTEN] = "rewritten",
};
DEFINE_STRING_TABLE_LOOKUP(audit_damage, AuditDamage);

const char *audit_damage_explain(AuditDamage d) {
        switch (d) {
        case AUDIT_DAMAGE_NONE:
                return "the hash chain is intact";
        case AUDIT_DAMAGE_MODIFIED:
                return "the row's contents do not match its hash: it was modified or forged";
        case AUDIT_DAMAGE_DELETED:
                return "the row is missing, or rows before it were deleted";
        case AUDIT_DAMAGE_REORDERED:
                return "the row follows a row that comes later in the log: rows were reordered";
        case AUDIT_DAMAGE_INSERTED:
                return "rows were inserted before this one";
        case AUDIT_DAMAGE_TRUNCATED:
                return "rows at the end of the log, up to the remembered head, were deleted";
        case AUDIT_DAMAGE_REWRITTEN:
                return "the chain does not lead to the remembered head hash: it was rewritten";
        case _AUDIT_DAMAGE_MAX:
        case _AUDIT_DAMAGE_INVALID:
                break;
        }
        return NULL;
}

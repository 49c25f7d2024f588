/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* audit-internal.h: the Audit object, the schema and the row hash shared by the audit log's source files. */
#pragma once

#include "audit/audit.h"
#include "store/store.h"

/* The five text fields of a row in hash order, as bytes: stored TEXT is hashed exactly as stored. */
typedef enum AuditText {
        AUDIT_TEXT_ACTOR,
        AUDIT_TEXT_ACTION,
        AUDIT_TEXT_TASK,
        AUDIT_TEXT_AGENT,
        AUDIT_TEXT_DETAIL,
        _AUDIT_TEXT_MAX,
} AuditText;

typedef struct AuditBytes {
        const void *p;
        size_t size;
} AuditBytes;

/* A queued row: owns its strings. */
typedef struct AuditRow {
        uint64_t seq;
        usec_t time;
        char *text[_AUDIT_TEXT_MAX];
        uint8_t prev[AUDIT_HASH_SIZE];
        uint8_t hash[AUDIT_HASH_SIZE];
        AuditDurableHandler handler;
        void *userdata;
        bool lost_marker; /* the "audit-lost" row this queue starts with */
} AuditRow;

struct Audit {
        Store *store;
        bool read_only;
        StoreStatement *insert;

        /* The last committed row: where the chain continues once the queue is dropped. */
        uint64_t committed_seq;
        uint8_t committed_hash[AUDIT_HASH_SIZE];

        AuditRow queue[AUDIT_GROUP_MAX];
        size_t n_queued;

        /* Rows dropped by failed commits and not yet recorded by an "audit-lost" row. */
        uint64_t n_lost;
        int lost_error;

        sd_event_source *flush_source;
        usec_t flush_delay;
};

/* The schema, as store_open() migrations. Tests open the file with them to tamper with it. */
extern const char *const audit_migrations[];

/* SHA-256 over the canonical encoding of docs/audit.md. */
void audit_row_hash(const uint8_t prev[static AUDIT_HASH_SIZE], uint64_t seq, uint64_t time,
                    const AuditBytes text[static _AUDIT_TEXT_MAX], uint8_t ret[static AUDIT_HASH_SIZE]);

/* Reads the last committed row into committed_seq/committed_hash. */
int audit_load_head(Audit *a);

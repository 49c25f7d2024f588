/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Properties of token_verify() on arbitrary bytes:
 *  1. as they come, they never verify (the fuzzer does not have the key), and the error is one of
 *     the documented ones;
 *  2. sealed with a valid MAC of the key (as if the registry had minted them), they reach the
 *     decoder: it never crashes, refuses anything malformed with -EBADMSG, and whatever it accepts
 *     is a well-formed token that token_mint() would have produced: valid names, valid distinct
 *     capabilities, and one encoding only (re-encoding it gives the same bytes).
 * Inputs are sealed with a fixed key, so replaying the corpus is deterministic. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/capability.h"
#include "basic/string-util.h"
#include "fuzz.h"
#include "token/token-internal.h"

static const uint8_t fuzz_key[TOKEN_KEY_SIZE] = "troupe-fuzz-token-key-0123456789";
static TokenKey *key;

static void check(bool b, const char *what) {
        if (b)
                return;
        fprintf(stderr, "fuzz-token: %s\n", what);
        abort();
}

static void cleanup_key(void) {
        key = token_key_free(key);
}

static bool error_is_documented(int r) {
        return r == -EBADMSG || r == -EKEYREJECTED || r == -EKEYEXPIRED || r == -EMSGSIZE || r == -ENOMEM;
}

/* Re-encodes a decoded token field by field, as token_mint() lays it out (docs/tokens.md). */
static size_t encode(const Token *t, uint8_t *buf) {
        size_t n = 0;

        buf[n++] = TOKEN_VERSION;
        buf[n++] = (uint8_t) strv_length(t->capabilities);
        memcpy(buf + n, t->key_id, TOKEN_KEY_ID_SIZE);
        n += TOKEN_KEY_ID_SIZE;
        memcpy(buf + n, t->nonce, TOKEN_NONCE_SIZE);
        n += TOKEN_NONCE_SIZE;
        for (int s = 56; s >= 0; s -= 8)
                buf[n++] = (uint8_t) (t->issued_usec >> s);
        for (int s = 56; s >= 0; s -= 8)
                buf[n++] = (uint8_t) (t->expires_usec >> s);
        buf[n++] = (uint8_t) strlen(t->task);
        memcpy(buf + n, t->task, strlen(t->task));
        n += strlen(t->task);
        buf[n++] = (uint8_t) strlen(t->agent);
        memcpy(buf + n, t->agent, strlen(t->agent));
        n += strlen(t->agent);
        STRV_FOREACH (c, t->capabilities) {
                buf[n++] = (uint8_t) (strlen(*c) >> 8);
                buf[n++] = (uint8_t) strlen(*c);
                memcpy(buf + n, *c, strlen(*c));
                n += strlen(*c);
        }
        return n;
}

static void check_accepted(const Token *t, const uint8_t *body, size_t body_size) {
        uint8_t again[TOKEN_SIZE_MAX + 512];

        check(name_is_valid(t->task, TOKEN_NAME_MAX), "accepted an invalid task id");
        check(name_is_valid(t->agent, TOKEN_NAME_MAX), "accepted an invalid agent name");
        check(t->expires_usec > t->issued_usec, "accepted an expiry before the issue time");
        check(strv_length(t->capabilities) <= TOKEN_CAPABILITIES_MAX, "accepted too many capabilities");
        STRV_FOREACH (c, t->capabilities) {
                check(capability_is_valid(*c), "accepted an invalid capability");
                for (char *const *d = t->capabilities; d < c; d++)
                        check(!streq(*c, *d), "accepted a duplicate capability");
        }
        check(encode(t, again) == body_size && memcmp(again, body, body_size) == 0,
              "accepted a token with a second encoding");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ uint8_t *sealed = NULL;
        Token *t = NULL;
        int r;

        if (!key) {
                check(token_key_from_bytes(fuzz_key, sizeof(fuzz_key), &key) >= 0, "cannot set up the key");
                check(atexit(cleanup_key) == 0, "atexit failed");
        }

        /* 1. Raw bytes: refused, whatever they are. A time of 1 makes sure expiry is not what
         * refuses them. */
        r = token_verify(key, data, size, 1, &t);
        check(r < 0 && !t, "raw input verified without the key");
        check(error_is_documented(r), "undocumented error for raw input");

        /* 2. The same bytes, with our key id and sealed with our key, as the registry's own. */
        if (size > TOKEN_SIZE_MAX - TOKEN_MAC_SIZE)
                return 0;
        sealed = malloc(size + TOKEN_MAC_SIZE);
        check(sealed, "out of memory");
        memcpy(sealed, data, size);
        if (size >= 2 + TOKEN_KEY_ID_SIZE)
                memcpy(sealed + 2, token_key_id(key), TOKEN_KEY_ID_SIZE);
        crypto_auth(sealed + size, sealed, size, fuzz_key);

        r = token_verify(key, sealed, size + TOKEN_MAC_SIZE, 1, &t);
        if (r >= 0) {
                check(t != NULL, "success without a token");
                check_accepted(t, sealed, size);
                check(token_allows(t, t->task, t->capabilities[0] ?: "fs.workspace") ==
                              (t->capabilities[0] != NULL),
                      "token_allows() disagrees with the token");
                token_free(t);
        } else
                check(error_is_documented(r) && !t, "undocumented error for sealed input");
        return 0;
}

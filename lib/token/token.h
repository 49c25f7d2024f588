/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* token.h: capability tokens: MAC'd grants the registry mints per task and checks on each request. */
#pragma once

#include <stdint.h>

#include "basic/macro.h"
#include "basic/time-util.h"

/* The wire format, the key file and the scope rules are described in docs/tokens.md. */

/* A token travels in protobuf `bytes` fields of at most this size. */
#define TOKEN_SIZE_MAX 4096U
#define TOKEN_KEY_SIZE 32U /* crypto_auth_KEYBYTES: HMAC-SHA512-256 */
#define TOKEN_KEY_ID_SIZE 8U
#define TOKEN_NONCE_SIZE 16U
#define TOKEN_MAC_SIZE 32U /* crypto_auth_BYTES */
#define TOKEN_NAME_MAX 64U /* task ids and agent names: name_is_valid(s, TOKEN_NAME_MAX) */
#define TOKEN_CAPABILITIES_MAX 64U
#define TOKEN_VERSION 1U

/* A key id is printed as 16 hex digits plus NUL. */
#define TOKEN_KEY_ID_STRING_SIZE (TOKEN_KEY_ID_SIZE * 2 + 1)

/* The registry's MAC key, in memory that libsodium guards and wipes on free. */
typedef struct TokenKey TokenKey;

/* A verified token. Everything in it was minted by the holder of the key. */
typedef struct Token {
        uint8_t key_id[TOKEN_KEY_ID_SIZE];
        uint8_t nonce[TOKEN_NONCE_SIZE];
        usec_t issued_usec; /* CLOCK_REALTIME */
        usec_t expires_usec; /* CLOCK_REALTIME; the token is refused from this time on */
        char *task;
        char *agent;
        char **capabilities; /* NULL-terminated, each capability_is_valid(), no duplicates */
} Token;

Token *token_free(Token *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Token *, token_free);

/* Loads the key at `path`, or creates it with 32 random bytes if there is none: written to a
 * temporary file in the same directory (O_EXCL, 0600), fsync'ed, then renamed into place without
 * replacing anything, so two processes starting at once end up with the same key. Missing parent
 * directories are created 0700. An existing file is refused unless it is a regular file (not a
 * symlink: -ELOOP) of exactly TOKEN_KEY_SIZE bytes (-EBADMSG), owned by our effective uid (-EPERM)
 * and neither group- nor world-accessible (-EPERM). Returns 1 if the key was created, 0 if loaded. */
int token_key_load_or_create(const char *path, TokenKey **ret);
/* A fresh random key that lives in memory only (tests, benchmarks). */
int token_key_generate(TokenKey **ret);
/* A key from TOKEN_KEY_SIZE given bytes (-EINVAL for any other size). */
int token_key_from_bytes(const void *p, size_t size, TokenKey **ret);
TokenKey *token_key_free(TokenKey *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(TokenKey *, token_key_free);

/* The key's public identifier (derived from the key with a keyed BLAKE2b; it reveals nothing of
 * it), carried in every token so that a token of another key is told apart from a forged one. */
const uint8_t *token_key_id(const TokenKey *k);
const char *token_key_id_to_string(const uint8_t id[static TOKEN_KEY_ID_SIZE],
                                   char buf[static TOKEN_KEY_ID_STRING_SIZE]);

/* Mints a token for `task` (name_is_valid(task, TOKEN_NAME_MAX)), run by `agent` (likewise), that
 * grants `capabilities` (NULL or a NULL-terminated list of up to TOKEN_CAPABILITIES_MAX valid,
 * distinct capability strings; -EINVAL otherwise) from now (CLOCK_REALTIME) for `ttl` (> 0). The
 * result is a malloc'd byte string of at most TOKEN_SIZE_MAX bytes (-EMSGSIZE if it would be
 * larger). */
int token_mint(const TokenKey *key, const char *task, const char *agent, char *const *capabilities,
               usec_t ttl, void **ret_bytes, size_t *ret_size);

/* Checks a token that came from outside, at time `now` (CLOCK_REALTIME usec; 0: read the clock).
 * Returns 0 and the decoded token, or exactly one of:
 *   -EMSGSIZE      more than TOKEN_SIZE_MAX bytes
 *   -EBADMSG       malformed: too short, unknown version, or a body that does not decode
 *   -EKEYREJECTED  minted with another key, forged or tampered with (the MAC, compared in constant
 *                  time, does not match)
 *   -EKEYEXPIRED   authentic, but now >= its expiry
 * Nothing of the input is interpreted before its MAC has been checked, except the version byte,
 * the key id and the size. */
int token_verify(const TokenKey *key, const void *bytes, size_t size, usec_t now, Token **ret);

/* True only if `t` was minted for `task` and lists `capability` exactly (a string comparison:
 * net.connect:example.com:443 covers that host and port and nothing else). The caller also checks
 * that t->agent is the agent that presented it. */
bool token_allows(const Token *t, const char *task, const char *capability);

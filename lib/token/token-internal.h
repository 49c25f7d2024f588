/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* token-internal.h: the key object and the wire layout shared by the token module's source files. */
#pragma once

#include "token/token.h"

struct TokenKey {
        uint8_t key[TOKEN_KEY_SIZE];
        uint8_t id[TOKEN_KEY_ID_SIZE];
};

/* The fixed header of a version 1 token (docs/tokens.md): version, capability count, key id,
 * nonce, issued and expiry times. Task, agent and capabilities follow, then the MAC. */
#define TOKEN_HEADER_SIZE (1U + 1U + TOKEN_KEY_ID_SIZE + TOKEN_NONCE_SIZE + 8U + 8U)
/* Header, a one-byte task and agent with their length bytes, and the MAC. */
#define TOKEN_SIZE_MIN (TOKEN_HEADER_SIZE + 2U + 2U + TOKEN_MAC_SIZE)

/* sodium_init(), as a negative errno. */
int token_sodium_init(void);

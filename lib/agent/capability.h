/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* capability.h: the grammar of capability strings, shared by agent cards, tokens and consent. */
#pragma once

#include "basic/macro.h"

/* The longest capability string: "net.connect:" + a 253-byte DNS name + ":65535", with room. */
#define CAPABILITY_LENGTH_MAX 300U

/* Checks one capability string against the grammar of docs/agent-card.md:
 *
 *   fs.workspace | exec.editor | exec.command | net.loopback
 *   net.connect:HOST:PORT   HOST: lowercase DNS name, IPv4 address or [IPv6 address], canonical
 *                           form; PORT: 1..65535 without leading zeros
 *   secrets.read:NAME       NAME: name_is_valid(NAME, 64)
 *
 * Capabilities are compared as strings, so every one has exactly one spelling. Returns 0, or
 * -EINVAL with *reterr_reason (if given) set to a static explanation of what is wrong. */
int capability_check(const char *s, const char **reterr_reason);

static inline bool capability_is_valid(const char *s) {
        return s && capability_check(s, NULL) >= 0;
}

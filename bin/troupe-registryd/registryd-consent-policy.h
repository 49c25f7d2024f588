/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-consent-policy.h: the user's consent policy file (docs/consent.md), without the registry. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "basic/macro.h"

#define CONSENT_POLICY_FILE "consent.json"
#define CONSENT_POLICY_SIZE_MAX ((size_t) 64U * 1024U)
#define CONSENT_POLICY_RULES_MAX 1024U

typedef struct ConsentRule {
        char *agent; /* a name, or "*" for every agent */
        char *capability;
        bool allow;
} ConsentRule;

typedef struct ConsentPolicy ConsentPolicy;

/* Parses a policy: {"version": 1, "rules": [{"agent", "capability", "decision"}, ...]}, strictly
 * (unknown or missing keys, wrong types, bad names or capabilities refuse the whole text). Returns
 * -EINVAL (-EFBIG above CONSENT_POLICY_SIZE_MAX) with *ret_error naming the field, e.g.
 * "rules[0].capability: invalid capability ...". An empty rule list gives *ret NULL and 0. */
int consent_policy_parse(const char *text, size_t size, ConsentRule **ret, size_t *ret_n, char **ret_error);
void consent_rules_free(ConsentRule *rules, size_t n);
/* 1 allow, -EACCES deny, 0 no rule matches: the first rule that matches wins. */
int consent_rules_decide(const ConsentRule *rules, size_t n, const char *agent, const char *capability);

/* The policy at `path`, read on demand. */
int consent_policy_new(const char *path, ConsentPolicy **ret);
ConsentPolicy *consent_policy_free(ConsentPolicy *p);
/* Reads the file again if it is not the one read last (inode, size or mtime differ); a file that is
 * missing, unreadable or refused means no rules, and its error is logged once per version. */
void consent_policy_refresh(ConsentPolicy *p);
/* consent_policy_refresh(), then consent_rules_decide(); 0 for a NULL policy. */
int consent_policy_decide(ConsentPolicy *p, const char *agent, const char *capability);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property: whatever bytes consent.json holds, consent_policy_parse() either refuses them with a
 * message naming what is wrong, or returns at most CONSENT_POLICY_RULES_MAX rules, each with a valid
 * agent (or "*") and capability, without crashing or leaking. */
#include <stdio.h>
#include <stdlib.h>

#include "agent/agentcard.h"
#include "agent/capability.h"
#include "basic/string-util.h"
#include "fuzz.h"
#include "registryd-consent-policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *error = NULL;
        ConsentRule *rules = NULL;
        size_t n = 0;
        int r;

        r = consent_policy_parse((const char *) data, size, &rules, &n, &error);
        if (r < 0) {
                if (r != -ENOMEM && (rules || n != 0 || !error)) {
                        fprintf(stderr, "refused (%d) without a message, or with rules left\n", r);
                        abort();
                }
                return 0;
        }
        if (n > CONSENT_POLICY_RULES_MAX)
                abort();
        for (size_t i = 0; i < n; i++)
                if (!(streq(rules[i].agent, "*") || name_is_valid(rules[i].agent, AGENT_NAME_MAX)) ||
                    !capability_is_valid(rules[i].capability)) {
                        fprintf(stderr, "rule %zu accepted with agent '%s', capability '%s'\n", i,
                                rules[i].agent, rules[i].capability);
                        abort();
                }
        /* The lookup must be total over what was accepted. */
        (void) consent_rules_decide(rules, n, "agent", "exec.editor");
        consent_rules_free(rules, n);
        return 0;
}

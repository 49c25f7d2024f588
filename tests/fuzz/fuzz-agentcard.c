/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feeds arbitrary bytes to the agent card parser. Beyond "no crash, no leak", every card that
 * parses must survive to_json -> dump -> parse unchanged, so what the registry publishes from a
 * card always reads back as the same card. */
#include <stdio.h>
#include <string.h>

#include "agent/agentcard.h"
#include "fuzz.h"
#include "json/json-util.h"

static void check_round_trip(const AgentCard *c) {
        _cleanup_(agent_card_freep) AgentCard *again = NULL;
        _cleanup_json_ json_t *a = NULL, *b = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;

        if (agent_card_to_json(c, &a) < 0 || json_dump_string(a, JSON_DUMP_COMPACT, &text) < 0)
                return; /* out of memory */
        if (agent_card_parse(text, strlen(text), &again, &err) < 0) {
                fprintf(stderr, "re-parse failed: %s\n%s\n", err ?: "(no message)", text);
                abort();
        }
        if (agent_card_to_json(again, &b) < 0)
                return;
        if (!json_equal(a, b)) {
                fprintf(stderr, "round trip changed the card:\n%s\n", text);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(agent_card_freep) AgentCard *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = agent_card_parse((const char *) data, size, &c, &err);
        if (r < 0) {
                /* Every refusal of bad input explains itself. */
                if ((r == -EINVAL || r == -EFBIG) && !err)
                        abort();
                return 0;
        }
        check_round_trip(c);
        return 0;
}

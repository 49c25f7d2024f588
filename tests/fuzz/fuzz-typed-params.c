/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Feeds arbitrary bytes, as CreateTask's params, to the BootstrapParams builder. Beyond "no crash,
 * no leak": every refusal names what is wrong, and every message built keeps the proto's limits. */
#include <stdlib.h>
#include <string.h>

#include "agent/typed-params.h"
#include "basic/string-util.h"
#include "fuzz.h"
#include "json/json-util.h"

static void check_limits(const Troupe__V1__BootstrapParams *p) {
        if (!p->stack || !p->project_name || strlen(p->stack) < 1 ||
            strlen(p->stack) > BOOTSTRAP_STRING_MAX || strlen(p->project_name) < 1 ||
            strlen(p->project_name) > BOOTSTRAP_STRING_MAX || p->n_options > BOOTSTRAP_OPTIONS_COUNT_MAX)
                abort();
        for (size_t i = 0; i < p->n_options; i++)
                if (strlen(p->options[i]->key) < 1 || strlen(p->options[i]->key) > BOOTSTRAP_STRING_MAX ||
                    strlen(p->options[i]->value) > BOOTSTRAP_OPTION_VALUE_MAX ||
                    !utf8_is_valid_n(p->options[i]->value, strlen(p->options[i]->value)))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(bootstrap_params_message_freep) Troupe__V1__BootstrapParams *p = NULL;
        _cleanup_json_ json_t *v = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        /* As the registry reads the params option. */
        if (json_parse((const char *) data, size, 64 * 1024, 0, JSON_PARSE_ANY_VALUE, &v, NULL) < 0)
                return 0;
        r = bootstrap_params_from_json(v, &p, &err);
        if (r == -EINVAL && !err)
                abort();
        if (r >= 0)
                check_limits(p);
        return 0;
}

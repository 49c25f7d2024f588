/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Property: whatever bytes a suite table file holds, suite_parse_table() either refuses it with a
 * negative errno or returns 1..SUITE_MEMBERS_MAX members, without crashing or leaking. */
#include <stdio.h>
#include <stdlib.h>

#include "basic/log.h"
#include "basic/string-util.h"
#include "fuzz.h"
#include "suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL;
        SuiteMember *members = NULL;
        size_t n = 0;
        int r;

        /* The supervisor reads at most this much of a table. */
        if (size > SUITE_TABLE_SIZE_MAX)
                return 0;
        log_set_max_level(LOG_CRIT);
        /* Like read_full_file_at(), which hands the parser a NUL-terminated buffer. */
        text = strndup((const char *) data, size);
        if (!text)
                abort();

        r = suite_parse_table(text, &members, &n);
        if (r < 0) {
                if (members || n != 0)
                        abort();
                return 0;
        }
        if (!members || n == 0 || n > SUITE_MEMBERS_MAX) {
                fprintf(stderr, "suite_parse_table() returned %zu members\n", n);
                abort();
        }
        suite_members_free(members, n);
        return 0;
}

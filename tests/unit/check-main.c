/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-main.h"

char *make_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        char *p;

        if (asprintf(&p, "%s/troupe-test-XXXXXX", base && *base ? base : "/tmp") < 0)
                return NULL;
        if (!mkdtemp(p)) {
                free(p);
                return NULL;
        }
        return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        (void) remove(path);
        return 0;
}

void rm_rf_tmpdir(const char *path) {
        if (path && strstr(path, "/troupe-test-"))
                (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
        SRunner *sr = srunner_create(test_suite());
        int failed;

        /* CK_TAP_LOG_FILE_NAME=- (set by the harness) makes check write TAP to stdout. */
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* troupectl: the command line client of the troupe suite. */
#include <stdlib.h>

#include "basic/log.h"
#include "ctl-args.h"

static int run(int argc, char *argv[]) {
        _cleanup_(ctl_freep) Ctl *c = NULL;
        int r;

        /* Messages go to stderr as "troupectl: ...". TROUPE_LOG_LEVEL is the daemons' knob and is
         * often "debug" in tests, so it is not read here. */
        log_set_identifier("troupectl");
        log_set_target(LOG_TARGET_CONSOLE);
        log_set_max_level(LOG_INFO);

        r = ctl_parse_argv(argc, argv, &c);
        if (r < 0)
                return CTL_EXIT_USAGE;
        if (r > 0)
                return CTL_EXIT_OK;

        return ctl_dispatch(c);
}

int main(int argc, char *argv[]) {
        int r = run(argc, argv);
        return r < 0 ? EXIT_FAILURE : r;
}

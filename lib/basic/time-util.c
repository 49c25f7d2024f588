/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "basic/macro.h"
#include "basic/time-util.h"

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        /* clock_gettime() only fails for an invalid clock id, which is a programming error. */
        if (clock_gettime(clock, &ts) < 0)
                abort();
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

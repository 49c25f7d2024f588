/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* time-util.h: clock reads in microseconds. */
#pragma once

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

usec_t now_usec(clockid_t clock);

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-pattern.h: the deterministic text that bench-log-writer writes and bench-logstream checks. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The stream repeats every BENCH_PATTERN_PERIOD bytes: 64-byte lines "NNNNNNNN <54 letters>\n",
 * numbered within the period, letters from a fixed xorshift sequence. No line contains '[', so
 * a note the supervisor inserts ("[troupe-supervisord: ...]") is told apart from the data. A
 * buffer of BENCH_PATTERN_SIZE bytes holds the period plus a copy of its start, so that any slice
 * of up to BENCH_PATTERN_SLACK bytes from any offset is contiguous. */
#define BENCH_PATTERN_PERIOD ((size_t) 1024U * 1024U)
#define BENCH_PATTERN_SLACK ((size_t) 1024U * 1024U)
#define BENCH_PATTERN_SIZE (BENCH_PATTERN_PERIOD + BENCH_PATTERN_SLACK)
#define BENCH_PATTERN_LINE 64U

static inline void bench_pattern_fill(uint8_t *buf) {
        uint32_t x = 2463534242U;

        for (size_t j = 0; j < BENCH_PATTERN_PERIOD / BENCH_PATTERN_LINE; j++) {
                uint8_t *line = buf + j * BENCH_PATTERN_LINE;
                char number[16];

                (void) snprintf(number, sizeof(number), "%08zu ", j);
                memcpy(line, number, 9);
                for (size_t k = 9; k < BENCH_PATTERN_LINE - 1; k++) {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        line[k] = (uint8_t) ('a' + x % 26);
                }
                line[BENCH_PATTERN_LINE - 1] = '\n';
        }
        memcpy(buf + BENCH_PATTERN_PERIOD, buf, BENCH_PATTERN_SLACK);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-log-writer: writes BYTES of bench-pattern.h's text to stdout as fast as it can, in writes of
 * CHUNK bytes (default 64 KiB), then exits 0. The child whose output bench-logstream streams. It
 * links nothing but libc, so that what is measured is the pipe and its reader, not this program. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench-pattern.h"

static uint8_t pattern[BENCH_PATTERN_SIZE];

static unsigned long long parse_size(const char *s) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        return errno != 0 || end == s || *end != 0 ? 0 : v;
}

int main(int argc, char *argv[]) {
        unsigned long long total, chunk = 64U * 1024U, done = 0;

        if (argc < 2 || argc > 3 || (total = parse_size(argv[1])) == 0 ||
            (argc == 3 && ((chunk = parse_size(argv[2])) == 0 || chunk > BENCH_PATTERN_SLACK))) {
                static const char usage[] = "usage: bench-log-writer BYTES [CHUNK]\n";
                (void) !write(STDERR_FILENO, usage, sizeof(usage) - 1);
                return 2;
        }
        bench_pattern_fill(pattern);
        while (done < total) {
                size_t n = (size_t) (total - done < chunk ? total - done : chunk);
                ssize_t k = write(STDOUT_FILENO, pattern + done % BENCH_PATTERN_PERIOD, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return 1;
                done += (unsigned long long) k;
        }
        return 0;
}

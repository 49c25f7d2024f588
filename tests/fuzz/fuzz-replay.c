/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays a fuzz target's checked-in corpus without libFuzzer, as TAP: one test per input. The
 * corpus is $FUZZ_CORPUS_DIR/<program name>/, or the directories and files given as arguments. A
 * crash or sanitizer report fails the whole run, which is the point. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "fuzz.h"

#define FUZZ_INPUT_MAX (1024 * 1024)

static int run_one(const char *path, unsigned *n) {
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r;

        r = read_full_file_at(AT_FDCWD, path, FUZZ_INPUT_MAX, &data, &size);
        if (r < 0) {
                printf("not ok %u - %s: %s\n", ++*n, path, strerror(-r));
                return r;
        }
        (void) LLVMFuzzerTestOneInput((const uint8_t *) data, size);
        printf("ok %u - %s\n", ++*n, path);
        fflush(stdout);
        return 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, unsigned *n) {
        struct dirent **entries = NULL;
        int count, failed = 0;

        count = scandir(dir, &entries, NULL, compare_names);
        if (count < 0) {
                printf("not ok %u - corpus %s: %m\n", ++*n, dir);
                return -errno;
        }
        for (int i = 0; i < count; i++) {
                if (entries[i]->d_name[0] != '.') {
                        _cleanup_free_ char *p = strjoin(dir, "/", entries[i]->d_name);
                        if (!p || run_one(p, n) < 0)
                                failed = -EIO;
                }
                free(entries[i]);
        }
        free(entries);
        return failed;
}

int main(int argc, char *argv[]) {
        const char *base = getenv("FUZZ_CORPUS_DIR");
        const char *name = strrchr(argv[0], '/');
        unsigned n = 0;
        int r = 0;

        name = name ? name + 1 : argv[0];
        /* libtool wrappers run the real binary as lt-<name>. */
        name = startswith(name, "lt-") ?: name;

        if (argc > 1) {
                for (int i = 1; i < argc; i++) {
                        DIR *d = opendir(argv[i]);
                        if (d) {
                                closedir(d);
                                r = run_dir(argv[i], &n) ?: r;
                        } else
                                r = run_one(argv[i], &n) ?: r;
                }
        } else if (base) {
                _cleanup_free_ char *dir = strjoin(base, "/", name);
                if (!dir)
                        return EXIT_FAILURE;
                r = run_dir(dir, &n);
        } else {
                fprintf(stderr, "%s: set FUZZ_CORPUS_DIR or name corpus files or directories\n", name);
                return EXIT_FAILURE;
        }
        printf("1..%u\n", n);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

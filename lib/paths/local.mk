libtroupe_la_SOURCES += \
        lib/paths/paths.c lib/paths/paths.h \
        lib/paths/path-resolve.c lib/paths/path-resolve.h

TESTS += test-paths
check_PROGRAMS += test-paths
test_paths_SOURCES = tests/unit/test-paths.c
test_paths_CFLAGS = $(TEST_CFLAGS)
test_paths_LDADD = $(TEST_LDADD)

TESTS += fuzz-path-resolve
check_PROGRAMS += fuzz-path-resolve
fuzz_path_resolve_SOURCES = tests/fuzz/fuzz-path-resolve.c $(FUZZ_REPLAY_SRC)
fuzz_path_resolve_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_path_resolve_LDADD = $(FUZZ_LINK)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-path-resolve-libfuzzer
fuzz_path_resolve_libfuzzer_SOURCES = tests/fuzz/fuzz-path-resolve.c tests/fuzz/fuzz.h
fuzz_path_resolve_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_path_resolve_libfuzzer_LDADD = $(FUZZ_LINK)
fuzz_path_resolve_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

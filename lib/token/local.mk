# Capability tokens (issue 4, item 2): minted and verified by the registry; see docs/tokens.md.
libtroupe_la_SOURCES += \
        lib/token/token.c lib/token/token.h \
        lib/token/token-key.c lib/token/token-internal.h

TESTS += test-token
check_PROGRAMS += test-token
test_token_SOURCES = tests/unit/test-token.c
test_token_CFLAGS = $(TEST_CFLAGS) $(SODIUM_CFLAGS)
test_token_LDADD = $(TEST_LDADD) $(SODIUM_LIBS)

# A token decoder is a parser of outside input.
TESTS += fuzz-token
check_PROGRAMS += fuzz-token
fuzz_token_SOURCES = tests/fuzz/fuzz-token.c $(FUZZ_REPLAY_SRC)
fuzz_token_CFLAGS = $(FUZZ_COMPILE_FLAGS) $(SODIUM_CFLAGS)
fuzz_token_LDADD = $(FUZZ_LINK) $(SODIUM_LIBS)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-token-libfuzzer
fuzz_token_libfuzzer_SOURCES = tests/fuzz/fuzz-token.c tests/fuzz/fuzz.h
fuzz_token_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS) $(SODIUM_CFLAGS)
fuzz_token_libfuzzer_LDADD = $(FUZZ_LINK) $(SODIUM_LIBS)
fuzz_token_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

EXTRA_DIST += docs/tokens.md

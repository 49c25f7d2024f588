libtroupe_la_SOURCES += \
        lib/agent/capability.c lib/agent/capability.h \
        lib/agent/agentcard.c lib/agent/agentcard.h \
        lib/agent/typed-params.c lib/agent/typed-params.h

TESTS += test-agentcard
check_PROGRAMS += test-agentcard
test_agentcard_SOURCES = tests/unit/test-agentcard.c
test_agentcard_CFLAGS = $(TEST_CFLAGS)
test_agentcard_LDADD = $(TEST_LDADD)

TESTS += fuzz-agentcard
check_PROGRAMS += fuzz-agentcard
fuzz_agentcard_SOURCES = tests/fuzz/fuzz-agentcard.c $(FUZZ_REPLAY_SRC)
fuzz_agentcard_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_agentcard_LDADD = $(FUZZ_LINK)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-agentcard-libfuzzer
fuzz_agentcard_libfuzzer_SOURCES = tests/fuzz/fuzz-agentcard.c tests/fuzz/fuzz.h
fuzz_agentcard_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_agentcard_libfuzzer_LDADD = $(FUZZ_LINK)
fuzz_agentcard_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

# The sample cards test-agentcard reads through $TOP_SRCDIR (docs/agent-card.md is in docs/local.mk).
EXTRA_DIST += tests/data/agentcards

# The BootstrapParams builder (typed-params.c) reads CreateTask's params from the bus: its fuzz
# target, replayed from tests/fuzz/corpus/fuzz-typed-params/ by make check.
TESTS += fuzz-typed-params
check_PROGRAMS += fuzz-typed-params
fuzz_typed_params_SOURCES = tests/fuzz/fuzz-typed-params.c $(FUZZ_REPLAY_SRC)
fuzz_typed_params_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_typed_params_LDADD = $(FUZZ_LINK)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-typed-params-libfuzzer
fuzz_typed_params_libfuzzer_SOURCES = tests/fuzz/fuzz-typed-params.c tests/fuzz/fuzz.h
fuzz_typed_params_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_typed_params_libfuzzer_LDADD = $(FUZZ_LINK)
fuzz_typed_params_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

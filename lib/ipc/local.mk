libtroupe_la_SOURCES += \
        lib/ipc/envelope.c lib/ipc/envelope.h \
        lib/ipc/socket.c lib/ipc/socket.h \
        lib/ipc/connection.c lib/ipc/connection.h

TESTS += test-envelope test-ipc
check_PROGRAMS += test-envelope test-ipc
test_envelope_SOURCES = tests/unit/test-envelope.c
test_envelope_CFLAGS = $(TEST_CFLAGS)
test_envelope_LDADD = $(TEST_LDADD)
test_ipc_SOURCES = tests/unit/test-ipc.c
test_ipc_CFLAGS = $(TEST_CFLAGS)
test_ipc_LDADD = $(TEST_LDADD)

TESTS += fuzz-envelope
check_PROGRAMS += fuzz-envelope
fuzz_envelope_SOURCES = tests/fuzz/fuzz-envelope.c $(FUZZ_REPLAY_SRC)
fuzz_envelope_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_envelope_LDADD = $(FUZZ_LINK)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-envelope-libfuzzer
fuzz_envelope_libfuzzer_SOURCES = tests/fuzz/fuzz-envelope.c tests/fuzz/fuzz.h
fuzz_envelope_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_envelope_libfuzzer_LDADD = $(FUZZ_LINK)
fuzz_envelope_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

# They include the generated protobuf-c headers (see proto/local.mk).
$(test_envelope_OBJECTS) $(test_ipc_OBJECTS) $(fuzz_envelope_OBJECTS): $(PROTO_GENERATED_H)
if ENABLE_FUZZING
$(fuzz_envelope_libfuzzer_OBJECTS): $(PROTO_GENERATED_H)
endif

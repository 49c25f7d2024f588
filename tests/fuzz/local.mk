# (The shared variables avoid automake suffixes like _LDADD and _SOURCES, which it would read as
# belonging to a program called FUZZ.)
# Fuzz targets: each tests/fuzz/fuzz-<parser>.c defines LLVMFuzzerTestOneInput(). `make check`
# links it with fuzz-replay.c and replays tests/fuzz/corpus/fuzz-<parser>/ as TAP; with
# --enable-fuzzing (CC=clang) a fuzz-<parser>-libfuzzer binary is built for real fuzzing. A module
# adds its target from its own local.mk:
#
#   TESTS += fuzz-foo
#   check_PROGRAMS += fuzz-foo
#   fuzz_foo_SOURCES = tests/fuzz/fuzz-foo.c $(FUZZ_REPLAY_SRC)
#   fuzz_foo_CFLAGS = $(FUZZ_COMPILE_FLAGS)
#   fuzz_foo_LDADD = $(FUZZ_LINK)
#   if ENABLE_FUZZING
#   noinst_PROGRAMS += fuzz-foo-libfuzzer
#   fuzz_foo_libfuzzer_SOURCES = tests/fuzz/fuzz-foo.c tests/fuzz/fuzz.h
#   fuzz_foo_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
#   fuzz_foo_libfuzzer_LDADD = $(FUZZ_LINK)
#   fuzz_foo_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
#   endif
FUZZ_REPLAY_SRC = tests/fuzz/fuzz-replay.c tests/fuzz/fuzz.h
FUZZ_COMPILE_FLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
FUZZ_LINK = libtroupe.la $(PROTOBUF_C_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS)
EXTRA_DIST += tests/fuzz/corpus

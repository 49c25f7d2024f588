# troupe-supervisord: org.troupe.Supervisor1, process logs and suite mode.
SUPERVISORD_LOGIC = \
        bin/troupe-supervisord/supervisor.c bin/troupe-supervisord/supervisor.h \
        bin/troupe-supervisord/supervisor-bus.c bin/troupe-supervisord/supervisor-bus.h \
        bin/troupe-supervisord/supervisor-audit.c bin/troupe-supervisord/supervisor-audit.h \
        bin/troupe-supervisord/process.c bin/troupe-supervisord/process.h \
        bin/troupe-supervisord/process-log.c bin/troupe-supervisord/process-log.h \
        bin/troupe-supervisord/log-reader.c bin/troupe-supervisord/log-reader.h \
        bin/troupe-supervisord/spawn.c bin/troupe-supervisord/spawn.h \
        bin/troupe-supervisord/spawn-options.c bin/troupe-supervisord/spawn-options.h \
        bin/troupe-supervisord/confinement.c bin/troupe-supervisord/confinement.h \
        bin/troupe-supervisord/workspace.c bin/troupe-supervisord/workspace.h \
        bin/troupe-supervisord/suite.c bin/troupe-supervisord/suite.h
SUPERVISORD_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS)
SUPERVISORD_LIBS = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS)

pkglibexec_PROGRAMS += troupe-supervisord
troupe_supervisord_SOURCES = bin/troupe-supervisord/troupe-supervisord.c $(SUPERVISORD_LOGIC)
troupe_supervisord_CFLAGS = $(SUPERVISORD_CFLAGS)
troupe_supervisord_LDADD = $(SUPERVISORD_LIBS)

# Spawning, options, environment, logs and the suite table without a bus.
TESTS += test-supervisor
check_PROGRAMS += test-supervisor
test_supervisor_SOURCES = tests/unit/test-supervisor.c $(SUPERVISORD_LOGIC)
test_supervisor_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-supervisord
test_supervisor_CFLAGS = $(TEST_CFLAGS)
test_supervisor_LDADD = $(TEST_LDADD)

# The suite table parser against arbitrary bytes, replayed from tests/fuzz/corpus/ by make check.
TESTS += fuzz-suite-table
check_PROGRAMS += fuzz-suite-table
fuzz_suite_table_SOURCES = tests/fuzz/fuzz-suite-table.c $(FUZZ_REPLAY_SRC) $(SUPERVISORD_LOGIC)
fuzz_suite_table_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-supervisord
fuzz_suite_table_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_suite_table_LDADD = $(FUZZ_LINK) $(SYSTEMD_LIBS)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-suite-table-libfuzzer
fuzz_suite_table_libfuzzer_SOURCES = tests/fuzz/fuzz-suite-table.c tests/fuzz/fuzz.h $(SUPERVISORD_LOGIC)
fuzz_suite_table_libfuzzer_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-supervisord
fuzz_suite_table_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_suite_table_libfuzzer_LDADD = $(FUZZ_LINK) $(SYSTEMD_LIBS)
fuzz_suite_table_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

# What the integration tests run as children, clients and stand-ins.
check_PROGRAMS += supervisor-helper
supervisor_helper_SOURCES = tests/integration/supervisor-helper.c
supervisor_helper_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
supervisor_helper_LDADD = libtroupe.la $(SYSTEMD_LIBS)

SUPERVISOR_TESTS = \
        tests/integration/test-supervisor.sh \
        tests/integration/test-supervisor-logs.sh \
        tests/integration/test-supervisor-lifecycle.sh \
        tests/integration/test-supervisor-suite.sh
TESTS += $(SUPERVISOR_TESTS)
EXTRA_DIST += $(SUPERVISOR_TESTS) tests/integration/supervisor-lib.sh

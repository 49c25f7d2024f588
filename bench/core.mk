# Benchmarks of the core daemons (issue 3): heartbeats of many agents against the registry, Health()
# over the bus, log streaming through the supervisor, each daemon's idle RSS and time to READY=1.
# Each prints its figures beside a baseline measured in the same run (see docs/performance.md).
# They are built only on request, never by `make` or `make check`: `make bench-health` builds one,
# `make bench-core` all of them and the daemons they start; bench/run-core.sh BUILDDIR runs them.
EXTRA_PROGRAMS += bench-heartbeat bench-health bench-logstream bench-daemons bench-log-writer \
        bench-notify-ready

BENCH_CORE_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
BENCH_CORE_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(PROTOBUF_C_LIBS) $(JANSSON_LIBS) -lm
BENCH_UTIL_SOURCES = bench/bench-util.c bench/bench-util.h

bench_heartbeat_SOURCES = bench/bench-heartbeat.c $(BENCH_UTIL_SOURCES)
bench_heartbeat_CFLAGS = $(BENCH_CORE_CFLAGS)
bench_heartbeat_LDADD = $(BENCH_CORE_LDADD)
$(bench_heartbeat_OBJECTS): $(PROTO_GENERATED_H)

bench_health_SOURCES = bench/bench-health.c $(BENCH_UTIL_SOURCES)
bench_health_CFLAGS = $(BENCH_CORE_CFLAGS)
bench_health_LDADD = $(BENCH_CORE_LDADD)

bench_logstream_SOURCES = bench/bench-logstream.c bench/bench-pattern.h $(BENCH_UTIL_SOURCES)
bench_logstream_CFLAGS = $(BENCH_CORE_CFLAGS)
bench_logstream_LDADD = $(BENCH_CORE_LDADD)

bench_daemons_SOURCES = bench/bench-daemons.c $(BENCH_UTIL_SOURCES)
bench_daemons_CFLAGS = $(BENCH_CORE_CFLAGS)
bench_daemons_LDADD = $(BENCH_CORE_LDADD)

# Programs the benchmarks start: plain executables (no libtroupe, so no libtool wrapper script in
# front of them), so that their start-up and RSS are what gets measured.
bench_log_writer_SOURCES = bench/bench-log-writer.c bench/bench-pattern.h
bench_notify_ready_SOURCES = bench/bench-notify-ready.c
bench_notify_ready_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS)
bench_notify_ready_LDADD = $(SYSTEMD_LIBS)

BENCH_CORE_TARGETS = bench-heartbeat$(EXEEXT) bench-health$(EXEEXT) bench-logstream$(EXEEXT) \
        bench-daemons$(EXEEXT) bench-log-writer$(EXEEXT) bench-notify-ready$(EXEEXT)
bench-core: $(BENCH_CORE_TARGETS) troupe-registryd$(EXEEXT) troupe-supervisord$(EXEEXT) \
        troupe-routerd$(EXEEXT)
.PHONY: bench-core

EXTRA_DIST += bench/run-core.sh
# Automake cleans what `make` builds; these only exist when asked for.
CLEANFILES += $(EXTRA_PROGRAMS)

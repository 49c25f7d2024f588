# Benchmarks print their figures beside a baseline measured in the same run (see
# docs/performance.md). `make check` builds them so they keep compiling, but never runs them;
# `make bench-ipc` builds just this one.
check_PROGRAMS += bench-ipc
bench_ipc_SOURCES = bench/bench-ipc.c
bench_ipc_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
bench_ipc_LDADD = libtroupe.la $(PROTOBUF_C_LIBS)
$(bench_ipc_OBJECTS): $(PROTO_GENERATED_H)

# bench-spawn (issue 4): a confined spawn, every layer, beside posix_spawn() of the same binary.
# Built only on request: `make bench-spawn`.
EXTRA_PROGRAMS += bench-spawn
bench_spawn_SOURCES = bench/bench-spawn.c bench/bench-util.c bench/bench-util.h
bench_spawn_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS)
bench_spawn_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS) -lm

# bench-bootstrap (issue 5): `troupectl bootstrap STACK NAME --wait` beside the same render, tests and
# server probe done by hand; a script, run as bench/bench-bootstrap BUILDDIR (docs/performance.md).
EXTRA_DIST += bench/bench-bootstrap

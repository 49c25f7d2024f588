# Benchmarks print their figures beside a baseline measured in the same run (see
# docs/performance.md). `make check` builds them so they keep compiling, but never runs them;
# `make bench-ipc` builds just this one.
check_PROGRAMS += bench-ipc
bench_ipc_SOURCES = bench/bench-ipc.c
bench_ipc_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
bench_ipc_LDADD = libtroupe.la $(PROTOBUF_C_LIBS)
$(bench_ipc_OBJECTS): $(PROTO_GENERATED_H)

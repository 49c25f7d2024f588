# The sandbox (issue 4, item 1): profiles built in the parent, entered in the child; docs/sandbox.md.
libtroupe_la_SOURCES += \
        lib/sandbox/sandbox.h \
        lib/sandbox/limits.h

# The layers other than the limits: Landlock, seccomp, the network namespace, capabilities.
libtroupe_la_SOURCES += \
        lib/sandbox/sandbox.c lib/sandbox/sandbox-internal.h \
        lib/sandbox/sandbox-support.c lib/sandbox/sandbox-landlock.c lib/sandbox/sandbox-seccomp.c \
        lib/sandbox/sandbox-namespaces.c lib/sandbox/sandbox-caps.c lib/sandbox/sandbox-spawn.c \
        lib/sandbox/sandbox-scope.c

# Forbidden things tried from inside a sandbox, each with its exact errno (bubblewrap's try-syscall).
TESTS += test-sandbox
check_PROGRAMS += test-sandbox
test_sandbox_SOURCES = tests/unit/test-sandbox.c
test_sandbox_CFLAGS = $(TEST_CFLAGS)
test_sandbox_LDADD = $(TEST_LDADD)

EXTRA_DIST += docs/sandbox.md

# Memory, tasks and CPU weight: cgroup v2, cgroup v1 or rlimits, each reported (docs/sandbox.md, Limits).
libtroupe_la_SOURCES += \
        lib/sandbox/limits.c lib/sandbox/limits-internal.h \
        lib/sandbox/limits-detect.c lib/sandbox/limits-cgroup.c

TESTS += test-sandbox-limits
check_PROGRAMS += test-sandbox-limits
test_sandbox_limits_SOURCES = tests/unit/test-sandbox-limits.c
test_sandbox_limits_CFLAGS = $(TEST_CFLAGS)
test_sandbox_limits_LDADD = $(TEST_LDADD)

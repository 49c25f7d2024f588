# Integration tests are bash scripts that source tests/integration/lib.sh and print TAP. Each
# daemon's local.mk adds its own (TESTS += tests/integration/test-<x>.sh, plus EXTRA_DIST). Tests
# that drive several daemons together are listed here.

# Confinement (issue 4): the probe that tries forbidden things inside a sandbox and prints the
# errno it got, and the escape tests that spawn it through the supervisor. The probe is plain C
# without libtroupe (no libtool wrapper between the sandbox and the syscall) and without
# sanitizers, whose start-up reserves more address space than a memory limit allows.
check_PROGRAMS += sandbox-probe
sandbox_probe_SOURCES = tests/integration/sandbox-probe.c
sandbox_probe_CFLAGS = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(AM_CFLAGS))
sandbox_probe_LDFLAGS = $(filter-out -fsanitize=% -fno-sanitize-recover=%,$(AM_LDFLAGS))

CONFINEMENT_TESTS = \
        tests/integration/test-confinement.sh \
        tests/integration/test-confinement-user.sh
TESTS += $(CONFINEMENT_TESTS)
EXTRA_DIST += $(CONFINEMENT_TESTS) tests/integration/confinement-lib.sh

# Workspaces and typed parameters from the agent card's "task" object, with the registry and the
# supervisor (issue 5).
WORKSPACE_TESTS = tests/integration/test-registry-workspace.sh
TESTS += $(WORKSPACE_TESTS)
EXTRA_DIST += $(WORKSPACE_TESTS)

# OpenWorkspace(): the user opens a task's workspace in the editor through the exec.editor pipeline
# (consent, audit, the supervisor), with the registry, the supervisor and agent-probe.
TESTS += tests/integration/test-registry-open.sh
EXTRA_DIST += tests/integration/test-registry-open.sh

# Limits through a transient systemd scope, with a real systemd user manager started for the test
# in a private mount namespace (issue 4); skipped unless root with systemd.
TESTS += tests/integration/test-confinement-scope.sh
EXTRA_DIST += tests/integration/test-confinement-scope.sh

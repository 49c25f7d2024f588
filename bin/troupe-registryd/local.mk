# troupe-registryd: org.troupe.Registry1 and the agent socket.
pkglibexec_PROGRAMS += troupe-registryd
troupe_registryd_SOURCES = \
        bin/troupe-registryd/troupe-registryd.c \
        bin/troupe-registryd/registryd.h \
        bin/troupe-registryd/list.h \
        bin/troupe-registryd/registryd-agent.c \
        bin/troupe-registryd/registryd-bus.c \
        bin/troupe-registryd/registryd-conn.c \
        bin/troupe-registryd/registryd-context.c \
        bin/troupe-registryd/registryd-events.c \
        bin/troupe-registryd/registryd-journal.c bin/troupe-registryd/registryd-journal.h \
        bin/troupe-registryd/registryd-publish.c \
        bin/troupe-registryd/registryd-task.c \
        bin/troupe-registryd/registryd-workspace.c bin/troupe-registryd/registryd-workspace.h
troupe_registryd_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
troupe_registryd_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(PROTOBUF_C_LIBS) $(JANSSON_LIBS) -lm
$(troupe_registryd_OBJECTS): $(PROTO_GENERATED_H)

# The journal and workspace logic without a bus.
TESTS += test-registry-journal
check_PROGRAMS += test-registry-journal
test_registry_journal_SOURCES = tests/unit/test-registry-journal.c \
        bin/troupe-registryd/registryd-journal.c bin/troupe-registryd/registryd-journal.h \
        bin/troupe-registryd/registryd-workspace.c bin/troupe-registryd/registryd-workspace.h
test_registry_journal_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-registryd
test_registry_journal_CFLAGS = $(TEST_CFLAGS)
test_registry_journal_LDADD = $(TEST_LDADD) -lm

# A C agent speaking the protocol through lib/ipc, for the integration tests.
check_PROGRAMS += agent-probe
agent_probe_SOURCES = tests/integration/agent-probe.c
agent_probe_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
agent_probe_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(PROTOBUF_C_LIBS) $(JANSSON_LIBS)
$(agent_probe_OBJECTS): $(PROTO_GENERATED_H)

REGISTRY_TESTS = \
        tests/integration/test-registry.sh \
        tests/integration/test-registry-liveness.sh \
        tests/integration/test-registry-tasks.sh \
        tests/integration/test-registry-restart.sh \
        tests/integration/test-registry-hostile.sh \
        tests/integration/test-registry-params.sh
TESTS += $(REGISTRY_TESTS)
EXTRA_DIST += $(REGISTRY_TESTS) tests/integration/test-registry-common.sh

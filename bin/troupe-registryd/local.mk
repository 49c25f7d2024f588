# troupe-registryd: org.troupe.Registry1 and the agent socket.
pkglibexec_PROGRAMS += troupe-registryd
troupe_registryd_SOURCES = \
        bin/troupe-registryd/troupe-registryd.c \
        bin/troupe-registryd/registryd.h \
        bin/troupe-registryd/registryd-privilege.h \
        bin/troupe-registryd/list.h \
        bin/troupe-registryd/registryd-action.c \
        bin/troupe-registryd/registryd-agent.c \
        bin/troupe-registryd/registryd-audit.c \
        bin/troupe-registryd/registryd-bus.c \
        bin/troupe-registryd/registryd-conn.c \
        bin/troupe-registryd/registryd-consent.c \
        bin/troupe-registryd/registryd-consent-policy.c bin/troupe-registryd/registryd-consent-policy.h \
        bin/troupe-registryd/registryd-context.c \
        bin/troupe-registryd/registryd-create.c \
        bin/troupe-registryd/registryd-editor.c bin/troupe-registryd/registryd-editor.h \
        bin/troupe-registryd/registryd-events.c \
        bin/troupe-registryd/registryd-exec.c \
        bin/troupe-registryd/registryd-journal.c bin/troupe-registryd/registryd-journal.h \
        bin/troupe-registryd/registryd-open.c \
        bin/troupe-registryd/registryd-publish.c \
        bin/troupe-registryd/registryd-task.c \
        bin/troupe-registryd/registryd-token.c \
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

# The consent policy parser without the registry: its unit test, and its fuzz target replayed from
# tests/fuzz/corpus/fuzz-consent-policy/ by make check.
TESTS += test-registry-consent-policy fuzz-consent-policy
check_PROGRAMS += test-registry-consent-policy fuzz-consent-policy
test_registry_consent_policy_SOURCES = tests/unit/test-registry-consent-policy.c \
        bin/troupe-registryd/registryd-consent-policy.c bin/troupe-registryd/registryd-consent-policy.h
test_registry_consent_policy_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-registryd
test_registry_consent_policy_CFLAGS = $(TEST_CFLAGS)
test_registry_consent_policy_LDADD = $(TEST_LDADD)
fuzz_consent_policy_SOURCES = tests/fuzz/fuzz-consent-policy.c $(FUZZ_REPLAY_SRC) \
        bin/troupe-registryd/registryd-consent-policy.c bin/troupe-registryd/registryd-consent-policy.h
fuzz_consent_policy_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-registryd
fuzz_consent_policy_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_consent_policy_LDADD = $(FUZZ_LINK)
if ENABLE_FUZZING
noinst_PROGRAMS += fuzz-consent-policy-libfuzzer
fuzz_consent_policy_libfuzzer_SOURCES = tests/fuzz/fuzz-consent-policy.c tests/fuzz/fuzz.h \
        bin/troupe-registryd/registryd-consent-policy.c bin/troupe-registryd/registryd-consent-policy.h
fuzz_consent_policy_libfuzzer_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-registryd
fuzz_consent_policy_libfuzzer_CFLAGS = $(FUZZ_COMPILE_FLAGS)
fuzz_consent_policy_libfuzzer_LDADD = $(FUZZ_LINK)
fuzz_consent_policy_libfuzzer_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
endif

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
        tests/integration/test-registry-params.sh \
        tests/integration/test-registry-tokens.sh \
        tests/integration/test-registry-exec.sh
TESTS += $(REGISTRY_TESTS)

# Consent, grants, the policy file and the ActionRequest path (with the supervisor).
CONSENT_TESTS = tests/integration/test-consent.sh
TESTS += $(CONSENT_TESTS)
EXTRA_DIST += $(CONSENT_TESTS)
EXTRA_DIST += $(REGISTRY_TESTS) tests/integration/test-registry-common.sh

# The audit log with the supervisor: its rows, verification of tampered logs, failing closed.
AUDIT_TESTS = \
        tests/integration/test-audit.sh \
        tests/integration/test-audit-failclosed.sh
TESTS += $(AUDIT_TESTS)
EXTRA_DIST += $(AUDIT_TESTS)

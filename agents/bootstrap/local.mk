# troupe-agent-bootstrap: the project bootstrapper (docs/templates.md) and its card.
agents_PROGRAMS += troupe-agent-bootstrap
troupe_agent_bootstrap_SOURCES = \
        agents/bootstrap/troupe-agent-bootstrap.c agents/bootstrap/bootstrap.h \
        agents/bootstrap/bootstrap-agent.c agents/bootstrap/bootstrap-step.c
troupe_agent_bootstrap_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
troupe_agent_bootstrap_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS)

dist_agentcards_DATA += agents/bootstrap/bootstrap.json

MAN_SCD += docs/man/troupe-agent-bootstrap.8.scd

TESTS += tests/integration/test-bootstrap-agent.sh
EXTRA_DIST += tests/integration/test-bootstrap-agent.sh

# troupe-agent-echo, the SDK's sample agent, and its card.
agents_PROGRAMS += troupe-agent-echo
troupe_agent_echo_SOURCES = agents/echo/troupe-agent-echo.c
troupe_agent_echo_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(PROTOBUF_C_CFLAGS) $(JANSSON_CFLAGS)
troupe_agent_echo_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS)

dist_agentcards_DATA += agents/echo/echo.json

TESTS += tests/integration/test-echo.sh
EXTRA_DIST += tests/integration/test-echo.sh

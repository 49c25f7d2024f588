# The agent SDK (lib/agent/agent-sdk.h): what every troupe-agent-* is built on. Its files are part
# of libtroupe; the card parser beside them is lib/agent/local.mk's.
libtroupe_la_SOURCES += \
        lib/agent/agent-sdk.c lib/agent/agent-sdk.h \
        lib/agent/sdk-internal.h \
        lib/agent/sdk-link.c \
        lib/agent/sdk-task.c \
        lib/agent/sdk-request.c \
        lib/agent/sdk-cards.c lib/agent/sdk-cards.h

TESTS += test-agent-sdk
check_PROGRAMS += test-agent-sdk
test_agent_sdk_SOURCES = tests/unit/test-agent-sdk.c
test_agent_sdk_CFLAGS = $(TEST_CFLAGS)
test_agent_sdk_LDADD = $(TEST_LDADD)

EXTRA_DIST += docs/agent-sdk.md

# troupe-routerd: org.troupe.Router1.
pkglibexec_PROGRAMS += troupe-routerd
troupe_routerd_SOURCES = \
        bin/troupe-routerd/troupe-routerd.c \
        bin/troupe-routerd/routerd.h \
        bin/troupe-routerd/routerd-context.c \
        bin/troupe-routerd/routerd-bus.c bin/troupe-routerd/routerd-bus.h \
        bin/troupe-routerd/routerd-cards.c bin/troupe-routerd/routerd-cards.h \
        bin/troupe-routerd/routerd-submit.c bin/troupe-routerd/routerd-submit.h \
        bin/troupe-routerd/routerd-launch.c bin/troupe-routerd/routerd-launch.h \
        bin/troupe-routerd/route.c bin/troupe-routerd/route.h
troupe_routerd_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS)
troupe_routerd_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS)

# The scoring is tested on its own, compiled into the test.
TESTS += test-route
check_PROGRAMS += test-route
test_route_SOURCES = tests/unit/test-route.c bin/troupe-routerd/route.c bin/troupe-routerd/route.h
test_route_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bin/troupe-routerd
test_route_CFLAGS = $(TEST_CFLAGS)
test_route_LDADD = $(TEST_LDADD)

TESTS += tests/integration/test-router.sh tests/integration/test-router-spawn.sh
EXTRA_DIST += tests/integration/test-router.sh tests/integration/test-router-spawn.sh \
        docs/org.troupe.Router1.md

# troupectl: the command line client. troupectl.c holds main(); each verb lives in a file named for it.
bin_PROGRAMS += troupectl
troupectl_SOURCES = \
        bin/troupectl/troupectl.c \
        bin/troupectl/ctl.h \
        bin/troupectl/ctl-args.c bin/troupectl/ctl-args.h \
        bin/troupectl/ctl-verbs.c \
        bin/troupectl/ctl-bus.c bin/troupectl/ctl-bus.h \
        bin/troupectl/ctl-bus-json.c \
        bin/troupectl/ctl-output.c bin/troupectl/ctl-output.h \
        bin/troupectl/ctl-records.c bin/troupectl/ctl-records.h \
        bin/troupectl/ctl-stream.c bin/troupectl/ctl-stream.h \
        bin/troupectl/ctl-agents.c \
        bin/troupectl/ctl-tasks.c bin/troupectl/ctl-tasks.h \
        bin/troupectl/ctl-run.c \
        bin/troupectl/ctl-logs.c \
        bin/troupectl/ctl-status.c \
        bin/troupectl/ctl-suite.c bin/troupectl/ctl-suite.h \
        bin/troupectl/ctl-up.c \
        bin/troupectl/ctl-down.c \
        bin/troupectl/ctl-consent.c bin/troupectl/ctl-consent.h \
        bin/troupectl/ctl-consent-watch.c \
        bin/troupectl/ctl-audit.c \
        bin/troupectl/ctl-bootstrap.c \
        bin/troupectl/ctl-open.c bin/troupectl/ctl-open.h
troupectl_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS)
troupectl_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS)

# Integration tests of troupectl and dev/up (units/local.mk adds test-units.sh).
TESTS += \
        tests/integration/test-troupectl-cli.sh \
        tests/integration/test-troupectl.sh \
        tests/integration/test-troupectl-up.sh \
        tests/integration/test-troupectl-consent.sh \
        tests/integration/test-troupectl-audit.sh \
        tests/integration/test-dev-up.sh \
        tests/integration/test-troupectl-bootstrap.sh \
        tests/e2e/test-bootstrap.sh
EXTRA_DIST += \
        tests/integration/test-troupectl-cli.sh \
        tests/integration/test-troupectl.sh \
        tests/integration/test-troupectl-up.sh \
        tests/integration/test-troupectl-consent.sh \
        tests/integration/test-troupectl-audit.sh \
        tests/integration/test-dev-up.sh \
        tests/integration/troupectl-lib.sh \
        tests/integration/troupectl-consent-lib.sh \
        tests/integration/test-troupectl-bootstrap.sh \
        tests/e2e/test-bootstrap.sh \
        dev/up

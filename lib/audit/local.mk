# The tamper-evident audit log (issue 4, item 4); see docs/audit.md.
libtroupe_la_SOURCES += \
        lib/audit/audit.c lib/audit/audit.h \
        lib/audit/audit-chain.c lib/audit/audit-verify.c lib/audit/audit-internal.h

TESTS += test-audit
check_PROGRAMS += test-audit
test_audit_SOURCES = tests/unit/test-audit.c
test_audit_CFLAGS = $(TEST_CFLAGS) $(SODIUM_CFLAGS)
test_audit_LDADD = $(TEST_LDADD) $(SODIUM_LIBS)

# bench-audit: built only on request (`make bench-audit`).
EXTRA_PROGRAMS += bench-audit
bench_audit_SOURCES = bench/bench-audit.c
bench_audit_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(SODIUM_CFLAGS)
bench_audit_LDADD = libtroupe.la $(SYSTEMD_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)
CLEANFILES += bench-audit$(EXEEXT)
EXTRA_DIST += docs/audit.md

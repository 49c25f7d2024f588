libtroupe_la_SOURCES += \
        lib/store/store.c lib/store/store.h \
        lib/store/store-statement.c lib/store/store-internal.h

TESTS += test-store
check_PROGRAMS += test-store
test_store_SOURCES = tests/unit/test-store.c
test_store_CFLAGS = $(TEST_CFLAGS)
test_store_LDADD = $(TEST_LDADD)

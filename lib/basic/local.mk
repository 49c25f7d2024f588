libtroupe_la_SOURCES += \
        lib/basic/macro.h \
        lib/basic/fd-util.c lib/basic/fd-util.h \
        lib/basic/string-util.c lib/basic/string-util.h \
        lib/basic/time-util.c lib/basic/time-util.h \
        lib/basic/log.c lib/basic/log.h

TESTS += test-basic
check_PROGRAMS += test-basic
test_basic_SOURCES = tests/unit/test-basic.c
test_basic_CFLAGS = $(TEST_CFLAGS)
test_basic_LDADD = $(TEST_LDADD)

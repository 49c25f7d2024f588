libtroupe_la_SOURCES += \
        lib/json/json-util.c lib/json/json-util.h

TESTS += test-json
check_PROGRAMS += test-json
test_json_SOURCES = tests/unit/test-json.c
test_json_CFLAGS = $(TEST_CFLAGS)
test_json_LDADD = $(TEST_LDADD)

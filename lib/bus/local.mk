libtroupe_la_SOURCES += \
        lib/bus/bus-error.c lib/bus/bus-error.h \
        lib/bus/bus-log-control.c lib/bus/bus-log-control.h \
        lib/bus/bus-describe.c lib/bus/bus-describe.h \
        lib/bus/bus-util.c lib/bus/bus-util.h \
        lib/bus/daemon-util.c lib/bus/daemon-util.h

# bus-test-util starts a private dbus-daemon; integration tests written in C link it the same way.
TESTS += test-bus
check_PROGRAMS += test-bus
test_bus_SOURCES = tests/unit/test-bus.c tests/unit/bus-test-util.c tests/unit/bus-test-util.h
test_bus_CFLAGS = $(TEST_CFLAGS)
test_bus_LDADD = $(TEST_LDADD)

# The sandbox (issue 4, item 1): profiles built in the parent, entered in the child; docs/sandbox.md.
libtroupe_la_SOURCES += \
        lib/sandbox/sandbox.h \
        lib/sandbox/limits.h

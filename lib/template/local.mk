# lib/template: project template manifests (docs/templates.md), shared by the bootstrap agent and troupectl.
libtroupe_la_SOURCES += \
        lib/template/template.h lib/template/template-internal.h \
        lib/template/template-load.c lib/template/template-values.c

TESTS += test-template
check_PROGRAMS += test-template
test_template_SOURCES = tests/unit/test-template.c
test_template_CFLAGS = $(TEST_CFLAGS)
test_template_LDADD = $(TEST_LDADD)

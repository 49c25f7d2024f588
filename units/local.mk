# systemd user units and D-Bus activation files. The services name the daemons by their installed
# path, so they are generated from .in templates at build time; the target and the activation
# files depend on nothing configured and are installed as they are.

# systemduserunitdir comes from configure (--with-systemduserunitdir).
dbussessionservicedir = $(datadir)/dbus-1/services

UNITS_SERVICES = \
        units/troupe-registryd.service \
        units/troupe-supervisord.service \
        units/troupe-routerd.service

systemduserunit_DATA = $(UNITS_SERVICES) units/troupe.target
dbussessionservice_DATA = \
        units/org.troupe.Registry1.service \
        units/org.troupe.Supervisor1.service \
        units/org.troupe.Router1.service

EXTRA_DIST += $(UNITS_SERVICES:=.in) units/troupe.target $(dbussessionservice_DATA)
CLEANFILES += $(UNITS_SERVICES)

units_edit = $(SED) -e 's|@pkglibexecdir[@]|$(pkglibexecdir)|g' -e 's|@bindir[@]|$(bindir)|g'

units/%.service: $(srcdir)/units/%.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && $(units_edit) $< >$@.tmp && mv $@.tmp $@

# test-units.sh verifies the generated services, so `make check` builds them first.
check_DATA = $(UNITS_SERVICES)
TESTS += tests/integration/test-units.sh
EXTRA_DIST += tests/integration/test-units.sh

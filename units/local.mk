# systemd user units and D-Bus activation files. The services name the daemons by their installed
# path, so they are generated from .in templates at build time; the target and the activation
# files depend on nothing configured and are installed as they are.

# Where systemd looks for user units: systemd.pc's systemduserunitdir, rebased onto our $(prefix)
# so that `make install` (and distcheck) stays beneath it; $(prefix)/lib/systemd/user without
# systemd.pc. Override on the make command line to install elsewhere. ($(shell) is GNU make, which
# the build assumes anyway; configure.ac could compute this once with PKG_CHECK_VAR instead.)
systemduserunitdir = $(shell $(PKG_CONFIG) --define-variable=prefix='$(prefix)' \
        --variable=systemduserunitdir systemd 2>/dev/null || echo '$(prefix)/lib/systemd/user')
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

units/troupe-registryd.service: $(srcdir)/units/troupe-registryd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && $(units_edit) $(srcdir)/units/troupe-registryd.service.in >$@.tmp && mv $@.tmp $@
units/troupe-supervisord.service: $(srcdir)/units/troupe-supervisord.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && $(units_edit) $(srcdir)/units/troupe-supervisord.service.in >$@.tmp && mv $@.tmp $@
units/troupe-routerd.service: $(srcdir)/units/troupe-routerd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && $(units_edit) $(srcdir)/units/troupe-routerd.service.in >$@.tmp && mv $@.tmp $@

# test-units.sh verifies the generated services, so `make check` builds them first.
check_DATA = $(UNITS_SERVICES)
TESTS += tests/integration/test-units.sh
EXTRA_DIST += tests/integration/test-units.sh

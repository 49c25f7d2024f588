# Man pages are written in scdoc and rendered at build time; without scdoc they are skipped
# (dev/setup installs it).
MAN_SCD = \
        docs/man/troupe.7.scd \
        docs/man/troupectl.1.scd \
        docs/man/troupe-registryd.8.scd \
        docs/man/troupe-supervisord.8.scd \
        docs/man/troupe-routerd.8.scd
EXTRA_DIST += $(MAN_SCD) docs/agent-card.md docs/dbus-conventions.md

if HAVE_SCDOC
nodist_man_MANS += $(MAN_SCD:docs/man/%.scd=docs/man/%)
CLEANFILES += $(MAN_SCD:docs/man/%.scd=docs/man/%)

docs/man/%: $(srcdir)/docs/man/%.scd
	$(AM_V_GEN)$(MKDIR_P) $(@D) && $(SCDOC) < $< > $@
endif

# The v1 wire contract, compiled by protoc-c into $(builddir)/proto/troupe/v1/. The generated files
# are never committed or distributed: the .proto files are, and every build regenerates from them.
PROTO_FILES = \
        proto/troupe/v1/agent.proto \
        proto/troupe/v1/bootstrap.proto \
        proto/troupe/v1/envelope.proto \
        proto/troupe/v1/exec.proto \
        proto/troupe/v1/task.proto
PROTO_GENERATED_C = $(PROTO_FILES:.proto=.pb-c.c)
PROTO_GENERATED_H = $(PROTO_FILES:.proto=.pb-c.h)
PROTO_STAMP = proto/troupe/v1/protoc-c.stamp

EXTRA_DIST += $(PROTO_FILES)
nodist_libtroupe_la_SOURCES += $(PROTO_GENERATED_C) $(PROTO_GENERATED_H)
BUILT_SOURCES += $(PROTO_GENERATED_H)
CLEANFILES += $(PROTO_GENERATED_C) $(PROTO_GENERATED_H) $(PROTO_STAMP)

# protoc-c writes every output in one run, so one stamp stands for all of them (safe under make -j).
# It runs from the source tree's proto/ so that imports and the generated #include lines read
# "troupe/v1/x.pb-c.h" in VPATH builds and distcheck too.
$(PROTO_STAMP): $(PROTO_FILES)
	$(AM_V_GEN)$(MKDIR_P) "$(abs_top_builddir)/proto" && \
	        rm -f $@.tmp && touch $@.tmp && \
	        (cd "$(top_srcdir)/proto" && \
	         $(PROTOC_C) --proto_path=. --c_out="$(abs_top_builddir)/proto" troupe/v1/*.proto) && \
	        mv -f $@.tmp $@
$(PROTO_GENERATED_C) $(PROTO_GENERATED_H): $(PROTO_STAMP)
	@test -f $@ || { rm -f $(PROTO_STAMP) && $(MAKE) $(AM_MAKEFLAGS) $(PROTO_STAMP); }

# Anything compiled against the generated headers must wait for them even when make is asked for
# one target (`make bench-ipc`), where BUILT_SOURCES does not apply.
$(libtroupe_la_OBJECTS): $(PROTO_GENERATED_H)

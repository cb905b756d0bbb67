# The fake hypervisor: $(FAKEXC_DIR)/libxenctrl.so.4.17 records the xc_*
# calls of the xlpci it is loaded into (LD_LIBRARY_PATH=$(FAKEXC_DIR)).
# Never sanitized: it stands in for a system library.
FAKEXC_DIR := $(B)/fakexc
FAKEXC_SO  := $(FAKEXC_DIR)/libxenctrl.so.4.17

$(FAKEXC_SO): tests/fakes/fakexc.c tests/fakes/fakexc.map
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(XC_CFLAGS) $(XS_CFLAGS) -fPIC -shared \
	    -fvisibility=hidden -Wl,-soname,libxenctrl.so.4.17 \
	    -Wl,--version-script=tests/fakes/fakexc.map -o $@ $< $(XS_LIBS)

ALL_PROGS += $(FAKEXC_SO)

# Host-side tests of issue 4: the hypervisor grants against the fake
# libxenctrl (tests/fakes/fakexc.c), the resource/irq parsers.
# Integration programs reuse the helpers of tests/integration (itest.o).
$(B)/tests/host/%: tests/host/%.c \
        $(B)/tests/integration/itest.o $(LIB_A) $(HARNESS_LIB) $(FAKEXC_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) -I$(CURDIR)/tests/integration \
	    $(LIB_DEPS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< \
	    $(B)/tests/integration/itest.o $(LIB_A) $(HARNESS_LIB) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) $(CMOCKA_LIBS)

$(B)/tests/host/test_resource: tests/host/test_resource.c $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_DEPS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(LIB_A) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS        += $(B)/tests/host/test_resource
INTEGRATION_TESTS += $(B)/tests/host/test_grants $(B)/tests/host/test_crash \
                     $(B)/tests/host/test_guest

# The test peers: pcimodel (xen-pciback + xen-pcifront behaviour) and
# legacy-writer (libxl 4.15-4.17 per-device transactions), and the
# model's own integration test (needs tests/harness).
$(B)/pcimodel: tests/model/pcimodel.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XS_CFLAGS) -o $@ $< $(LDFLAGS) $(XS_LIBS)

$(B)/legacy-writer: tests/model/legacy-writer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XS_CFLAGS) -o $@ $< $(LDFLAGS) $(XS_LIBS)

# Runs the two programs above and the harness's daemon shim.
$(B)/tests/model/test_model: tests/model/test_model.c $(HARNESS_LIB) \
        | $(B)/pcimodel $(B)/legacy-writer $(FAKEXEN_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< \
	    $(HARNESS_LIB) $(LDFLAGS) $(XS_LIBS) $(CMOCKA_LIBS)

.PHONY: model
model: $(B)/pcimodel $(B)/legacy-writer $(B)/tests/model/test_model

ALL_PROGS += $(B)/pcimodel $(B)/legacy-writer
INTEGRATION_TESTS += $(B)/tests/model/test_model

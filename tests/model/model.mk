# The test peers: pcimodel (xen-pciback + xen-pcifront behaviour) and
# legacy-writer (libxl 4.15-4.17 per-device transactions).
$(B)/pcimodel: tests/model/pcimodel.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XS_CFLAGS) -o $@ $< $(LDFLAGS) $(XS_LIBS)

$(B)/legacy-writer: tests/model/legacy-writer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XS_CFLAGS) -o $@ $< $(LDFLAGS) $(XS_LIBS)

ALL_PROGS += $(B)/pcimodel $(B)/legacy-writer

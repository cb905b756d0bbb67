# Test fakes: a sysfs PCI tree with a small kernel behind it.
$(B)/fakesysfs: tests/fakes/fakesysfs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-result -Wno-format-truncation -o $@ $< $(LDFLAGS)

ALL_PROGS += $(B)/fakesysfs

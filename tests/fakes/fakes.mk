# Test fakes: a sysfs PCI tree with a small kernel behind it.
$(B)/fakesysfs: tests/fakes/fakesysfs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

ALL_PROGS += $(B)/fakesysfs

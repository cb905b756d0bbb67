# The test harness: the shim that runs Debian's real xenstored/oxenstored
# without Xen, and the C helpers the tests use.
HARNESS_CFLAGS := -I$(CURDIR)/tests/harness $(XS_CFLAGS)
HARNESS_LIB    := $(B)/libharness.a

$(B)/libfakexen.so: tests/harness/fakexen.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fPIC -shared -o $@ $< -ldl

$(B)/tests/harness/harness.o: tests/harness/harness.c tests/harness/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) -c -o $@ $<

$(HARNESS_LIB): $(B)/tests/harness/harness.o
	@rm -f $@
	ar rcs $@ $^

$(B)/tests/harness/test_harness: tests/harness/test_harness.c $(HARNESS_LIB) \
        $(B)/libfakexen.so
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< \
	    $(HARNESS_LIB) $(LDFLAGS) $(XS_LIBS) $(CMOCKA_LIBS)

ALL_PROGS += $(B)/libfakexen.so $(HARNESS_LIB)
INTEGRATION_TESTS += $(B)/tests/harness/test_harness

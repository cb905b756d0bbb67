# Integration tests: the real xenstored (tests/harness), the xlpci CLI and
# the pciback/pcifront model (tests/model).
INTEG_NAMES := test_store test_protocol test_eagain test_check test_host \
               test_hostile test_owner test_destroy test_bigdir test_watch
INTEGRATION_TESTS += $(patsubst %,$(B)/tests/integration/%,$(INTEG_NAMES))

$(B)/tests/integration/itest.o: tests/integration/itest.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(XS_CFLAGS) $(CMOCKA_CFLAGS) \
	    -c -o $@ $<

$(B)/tests/integration/%: tests/integration/%.c \
        $(B)/tests/integration/itest.o $(LIB_TEST_A) $(HARNESS_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(LIB_DEPS_CFLAGS) $(CMOCKA_CFLAGS) \
	    -o $@ $< $(B)/tests/integration/itest.o $(LIB_TEST_A) $(HARNESS_LIB) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) $(CMOCKA_LIBS)

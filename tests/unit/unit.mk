# Unit tests: pure logic (parsing, layout, JSON), no xenstore, no fakes.
UNIT_NAMES := test_bdf test_cfg test_layout test_json test_bookkeeping \
              test_owner
UNIT_TESTS += $(patsubst %,$(B)/tests/unit/%,$(UNIT_NAMES))

$(B)/tests/unit/%: tests/unit/%.c $(LIB_TEST_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_DEPS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(LIB_TEST_A) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) $(CMOCKA_LIBS)

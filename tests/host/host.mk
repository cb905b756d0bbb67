# Host-side tests of issue 4: the hypervisor grants against the fake
# libxenctrl (tests/fakes/fakexc.c), the resource/irq parsers.
# Integration programs reuse the helpers of tests/integration (itest.o).
$(B)/tests/host/%: tests/host/%.c \
        $(B)/tests/integration/itest.o $(LIB_TEST_A) $(HARNESS_LIB) $(FAKEXC_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) -I$(CURDIR)/tests/integration \
	    $(LIB_DEPS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< \
	    $(B)/tests/integration/itest.o $(LIB_TEST_A) $(HARNESS_LIB) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) $(CMOCKA_LIBS)

$(B)/tests/host/test_resource: tests/host/test_resource.c $(LIB_TEST_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_DEPS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(LIB_TEST_A) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) $(CMOCKA_LIBS)

UNIT_TESTS        += $(B)/tests/host/test_resource
INTEGRATION_TESTS += $(B)/tests/host/test_grants $(B)/tests/host/test_crash \
                     $(B)/tests/host/test_sriov \
                     $(B)/tests/host/test_guest $(B)/tests/host/test_iommu \
                     $(B)/tests/host/test_reset $(B)/tests/host/test_names \
                     $(B)/tests/host/test_watch_host $(B)/tests/host/test_truth

# `make fuzz-host` (part of `make fuzz`): libFuzzer (clang) on the
# host-side file parsers, bounded time (FUZZ_SECONDS).  Seeds in
# tests/host/corpus, a deeply nested state file among them (issue 21).
FUZZ_SECONDS ?= 60
CLANG ?= clang
$(B)/fuzz/fuzz_host: tests/host/fuzz_host.c $(LIB_SRCS) $(wildcard libxlpci/*.h) \
        libxlpci/libxlpci_priv.h libxlpci/libxlpci.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Ilibxlpci $(LIB_DEPS_CFLAGS) -o $@ $< $(LIB_SRCS) $(LIB_DEPS_LIBS)

.PHONY: fuzz-host
fuzz: fuzz-host
fuzz-host: $(B)/fuzz/fuzz_host
	@mkdir -p $(B)/fuzz/corpus-host
	$(B)/fuzz/fuzz_host -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -print_final_stats=1 $(B)/fuzz/corpus-host tests/host/corpus \
	    >$(B)/fuzz/log-host 2>&1; rc=$$?; tail -n 6 $(B)/fuzz/log-host; \
	    echo "fuzz-host: exit $$rc"; exit $$rc

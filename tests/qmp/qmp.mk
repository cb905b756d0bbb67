# HVM guests (issue 14): the QMP peer, a stand-in for an HVM guest's QEMU
# that speaks QMP on a UNIX socket (tests/qmp/qmppeer.c), the unit tests of
# the QMP messages and the integration tests of the HVM flows.
$(B)/qmppeer: tests/qmp/qmppeer.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(YAJL_CFLAGS) -o $@ $< $(LDFLAGS) $(YAJL_LIBS)

ALL_PROGS         += $(B)/qmppeer
UNIT_TESTS        += $(B)/tests/unit/test_qmp
INTEGRATION_TESTS += $(B)/tests/integration/test_hvm

# `make fuzz-qmp` (part of `make fuzz`): libFuzzer (clang) on the QMP
# reader, bounded time (FUZZ_SECONDS).  Seeds in tests/qmp/corpus, deep
# nesting among them (issue 21).
$(B)/fuzz/fuzz_qmp: tests/qmp/fuzz_qmp.c libxlpci/qmpmsg.c libxlpci/bdf.c \
        libxlpci/json.c $(wildcard libxlpci/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Ilibxlpci $(XS_CFLAGS) $(XTL_CFLAGS) $(YAJL_CFLAGS) -o $@ \
	    tests/qmp/fuzz_qmp.c libxlpci/qmpmsg.c libxlpci/bdf.c \
	    libxlpci/json.c $(YAJL_LIBS)

.PHONY: fuzz-qmp
fuzz: fuzz-qmp
fuzz-qmp: $(B)/fuzz/fuzz_qmp
	@mkdir -p $(B)/fuzz/corpus-qmp
	$(B)/fuzz/fuzz_qmp -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -print_final_stats=1 $(B)/fuzz/corpus-qmp tests/qmp/corpus \
	    >$(B)/fuzz/log-qmp 2>&1; rc=$$?; tail -n 6 $(B)/fuzz/log-qmp; \
	    echo "fuzz-qmp: exit $$rc"; exit $$rc

# `make fuzz`: libFuzzer (clang) on the spec and config parsers, then on the
# backend parser fed by dumped xenstore subtrees, bounded time (FUZZ_SECONDS
# each), with ASan/UBSan.  Seeds in tests/fuzz/corpus and
# tests/fuzz/corpus-backend.
FUZZ_SECONDS ?= 60
CLANG ?= clang
FUZZ_SRCS := tests/fuzz/fuzz_parse.c libxlpci/bdf.c libxlpci/cfg.c

$(B)/fuzz/fuzz_parse: $(FUZZ_SRCS) $(wildcard libxlpci/*.h) \
        libxlpci/libxlpci_priv.h libxlpci/libxlpci.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Ilibxlpci $(XS_CFLAGS) $(XTL_CFLAGS) -o $@ $(FUZZ_SRCS)

FUZZ_BACKEND_SRCS := tests/fuzz/fuzz_backend.c libxlpci/view.c \
                     libxlpci/layout.c libxlpci/bdf.c libxlpci/ops.c

$(B)/fuzz/fuzz_backend: $(FUZZ_BACKEND_SRCS) $(wildcard libxlpci/*.h) \
        libxlpci/libxlpci_priv.h libxlpci/libxlpci.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Ilibxlpci $(XS_CFLAGS) $(XTL_CFLAGS) -o $@ $(FUZZ_BACKEND_SRCS)

.PHONY: fuzz
fuzz: $(B)/fuzz/fuzz_parse $(B)/fuzz/fuzz_backend
	@mkdir -p $(B)/fuzz/corpus $(B)/fuzz/corpus-backend
	$(B)/fuzz/fuzz_parse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    -print_final_stats=1 $(B)/fuzz/corpus tests/fuzz/corpus \
	    >$(B)/fuzz/log 2>&1; rc=$$?; tail -n 6 $(B)/fuzz/log; \
	    echo "fuzz (parsers): exit $$rc"; [ $$rc = 0 ] || exit $$rc; \
	$(B)/fuzz/fuzz_backend -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -print_final_stats=1 $(B)/fuzz/corpus-backend \
	    tests/fuzz/corpus-backend >$(B)/fuzz/log-backend 2>&1; rc=$$?; \
	    tail -n 6 $(B)/fuzz/log-backend; \
	    echo "fuzz (backend): exit $$rc"; exit $$rc

# `make fuzz`: libFuzzer (clang) on the spec and config parsers, bounded
# time (FUZZ_SECONDS), with ASan/UBSan.  Seeds in tests/fuzz/corpus.
FUZZ_SECONDS ?= 60
CLANG ?= clang
FUZZ_SRCS := tests/fuzz/fuzz_parse.c libxlpci/bdf.c libxlpci/cfg.c

$(B)/fuzz/fuzz_parse: $(FUZZ_SRCS) libxlpci/internal.h libxlpci/libxlpci.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Wall -Wextra -Werror \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Ilibxlpci $(XS_CFLAGS) $(XTL_CFLAGS) -o $@ $(FUZZ_SRCS)

.PHONY: fuzz
fuzz: $(B)/fuzz/fuzz_parse
	@mkdir -p $(B)/fuzz/corpus
	$(B)/fuzz/fuzz_parse -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    -print_final_stats=1 $(B)/fuzz/corpus tests/fuzz/corpus \
	    >$(B)/fuzz/log 2>&1; rc=$$?; tail -n 6 $(B)/fuzz/log; \
	    echo "fuzz: exit $$rc"; exit $$rc

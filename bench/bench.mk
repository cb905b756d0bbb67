# Benchmarks: `make bench` builds an optimised tree in build/bench and
# writes bench/RESULTS.md.  Speed goals live here, never in the tests.
$(B)/xlpci-bench: bench/bench.c $(LIB_A) $(HARNESS_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(LIB_DEPS_CFLAGS) -o $@ $< \
	    $(LIB_A) $(HARNESS_LIB) $(LDFLAGS) $(LIB_DEPS_LIBS)

ALL_PROGS += $(B)/xlpci-bench

ifeq ($(BUILD),build/bench)
bench: $(B)/xlpci-bench $(B)/pcimodel $(B)/libfakexen.so
	$(B)/xlpci-bench $(BENCH_ARGS) | tee bench/RESULTS.md
else
bench:
	$(MAKE) BUILD=build/bench SANITIZE=0 BASE_OPT=-O2 bench
endif

# Benchmarks: `make bench` builds an optimised tree in build/bench, runs
# the bench on private real xenstored/oxenstored daemons and writes
# bench/RESULTS.md (only if the run succeeds).  Speed goals live here,
# never in the tests.  BENCH_ARGS="-r 31 -b 15 -c 5" sets the repeats of
# (a), (b) and (c).
#
# Every libxenstore call of the bench, the library's included, goes through
# a counting wrapper (ld --wrap), so the request counts do not rely on the
# library's own statistics.
BENCH_WRAP := xs_read xs_directory xs_write xs_mkdir xs_rm \
              xs_set_permissions xs_get_permissions xs_transaction_start \
              xs_transaction_end xs_watch xs_unwatch
BENCH_LDFLAGS := $(foreach f,$(BENCH_WRAP),-Wl,--wrap=$(f))

# All of bench/*.c make one program; each is compiled to its own object so
# that tests/pkg/test-layers can read the calls between them (nm) against
# the module map in bench/bench.h.
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_OBJS := $(patsubst bench/%.c,$(B)/bench-objs/%.o,$(BENCH_SRCS))
$(B)/bench-objs/%.o: bench/%.c bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(LIB_DEPS_CFLAGS) -c -o $@ $<

$(B)/xlpci-bench: $(BENCH_OBJS) $(LIB_A) $(HARNESS_LIB)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(BENCH_OBJS) $(LIB_A) $(HARNESS_LIB) $(LDFLAGS) \
	    $(BENCH_LDFLAGS) $(LIB_DEPS_LIBS)

ALL_PROGS += $(B)/xlpci-bench
check-layers: $(BENCH_OBJS)

ifeq ($(BUILD),build/bench)
bench: $(B)/xlpci-bench $(B)/xlpci-floor $(B)/xlpci $(B)/pcimodel \
        $(B)/libfakexen.so
	$(B)/xlpci-bench $(BENCH_ARGS) > $(B)/RESULTS.md.tmp
	mv $(B)/RESULTS.md.tmp bench/RESULTS.md
	cat bench/RESULTS.md
else
bench:
	$(MAKE) BUILD=build/bench SANITIZE=0 BASE_OPT=-O2 bench
endif

# The floor of (f) as a program of its own (bench/floor.c alone, linked
# with libxenstore only): the whole-process rows run it.
$(B)/xlpci-floor: bench/floor.c bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(LIB_DEPS_CFLAGS) \
	    -DXLPCI_FLOOR_MAIN -o $@ $< $(LDFLAGS) $(XS_LIBS)
ALL_PROGS += $(B)/xlpci-floor

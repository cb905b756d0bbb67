# The test harness: the shim that runs Debian's real xenstored/oxenstored
# without Xen, and the C helpers the tests use (tests/harness/harness.h).
# Tests link: $(HARNESS_LIB) $(XS_LIBS) $(CMOCKA_LIBS) $(LDFLAGS), compile
# with $(HARNESS_CFLAGS).
HARNESS_CFLAGS = -I$(CURDIR)/tests/harness $(XS_CFLAGS)
HARNESS_LIB    := $(B)/libharness.a
FAKEXEN_SO     := $(B)/libfakexen.so
XENSTORED_BIN  := /usr/lib/xen-4.17/bin/xenstored

# Never sanitized: it is preloaded into the daemons.
$(FAKEXEN_SO): tests/harness/fakexen.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fPIC -shared -o $@ $< -ldl

$(B)/tests/harness/harness.o: tests/harness/harness.c tests/harness/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) -c -o $@ $<

$(HARNESS_LIB): $(B)/tests/harness/harness.o
	@rm -f $@
	ar rcs $@ $^

$(B)/tests/harness/test_harness: tests/harness/test_harness.c \
        tests/harness/harness.h $(HARNESS_LIB) $(FAKEXEN_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(HARNESS_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< \
	    $(HARNESS_LIB) $(LDFLAGS) $(XS_LIBS) $(CMOCKA_LIBS)

# `make harness-drift`: every xc_/xenevtchn_/xengnttab_ symbol xenstored
# imports is defined by the shim (test_harness checks the same).
.PHONY: harness-drift harness
harness-drift: $(FAKEXEN_SO)
	@missing=$$(comm -23 \
	    <(nm -D --undefined-only $(XENSTORED_BIN) | awk '{print $$2}' | \
	      sed 's/@.*//' | grep -E '^(xc_|xenevtchn_|xengnttab_)' | sort) \
	    <(nm -D --defined-only $(FAKEXEN_SO) | awk '{print $$3}' | sort)); \
	if [ -n "$$missing" ]; then \
	    echo "libfakexen.so lacks: $$missing" >&2; exit 1; fi; \
	echo "harness-drift: shim covers xenstored's imports"
harness-drift: SHELL := /bin/bash

harness: $(FAKEXEN_SO) $(HARNESS_LIB) $(B)/tests/harness/test_harness

ALL_PROGS += $(FAKEXEN_SO) $(HARNESS_LIB)
INTEGRATION_TESTS += $(B)/tests/harness/test_harness

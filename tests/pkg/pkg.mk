# Packaging tests (tests/pkg, shell scripts, quick): `make deps X` as one
# invocation (test-deps), the shared library's exports (test-symbols),
# make install/uninstall and a client built with pkg-config (test-install),
# the bash completion (test-completion), docs/library.md's example
# (test-readme), the complete example of examples/ (test-example).
# Run by `make check` (check-asan), never under valgrind.
PKG_TESTS := tests/pkg/test-symbols tests/pkg/test-install \
             tests/pkg/test-completion tests/pkg/test-readme \
             tests/pkg/test-example tests/pkg/test-deps

.PHONY: check-pkg
check-pkg: $(LIB_SO) $(LIB_A) $(B)/xlpci $(B)/inst/xlpci $(B)/xlpci.1 \
        $(B)/xlpci-guests.5 \
        $(FAKEXEN_SO)
	XLPCI_BUILD_DIR=$(B) XLPCI_SAN_FLAGS='$(SAN_FLAGS)' CC='$(CC)' \
	    $(RUN_TESTS) pkg $(PKG_TESTS)

# test-symbols also looks into the test build (the crash injection and the
# transaction hook are there and only there): a fresh build dir needs it.
check-pkg: $(LIB_TEST_A) $(B)/xlpci-test

# The layering of the library and of the bench (tests/pkg/test-layers:
# floors of the module maps in libxlpci/internal.h and bench/bench.h,
# calls read with nm), run by every check-unit.
.PHONY: check-layers
check-layers: $(LIB_OBJS)        # and the bench's objects (bench.mk)
	XLPCI_BUILD_DIR=$(B) tests/run-tests layers tests/pkg/test-layers
check-unit: check-layers

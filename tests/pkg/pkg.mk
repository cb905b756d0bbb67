# Packaging tests (tests/pkg, shell scripts, quick): `make deps X` as one
# invocation (tests/pkg/test-deps).  Run by `make check` (check-asan),
# never under valgrind.
PKG_TESTS := tests/pkg/test-deps

.PHONY: check-pkg
check-pkg: $(B)/xlpci
	XLPCI_BUILD_DIR=$(B) XLPCI_SAN_FLAGS='$(SAN_FLAGS)' CC='$(CC)' \
	    tests/run-tests pkg $(PKG_TESTS)

# ---- Debian packages and warning-free builds --------------------------------
# `make debs`: the packages of debian/ built as from a clean clone
# (tests/pkg/build-deb: dpkg-buildpackage -us -uc -b in a copy of the tree)
# into $(DEBS_DIR); rebuilt when a file of the tree changed.  The e2e's
# dom0 runs what they ship (tests/e2e/e2e.mk).
# `make check-deb`: lintian, the build's flags, the symbols file, then the
# packages installed with apt into a throw-away root (an overlay of / in a
# mount namespace: the machine is left as it was): xlpci --version, man
# xlpci, the bash completion, examples/ built with pkg-config against
# libxlpci-dev and run against a real xenstored, apt purge
# (tests/pkg/test-deb).
# `make check-warnings`: the whole tree with warnings as errors at gcc
# -O0/-O2/-O3, clang, and gcc with dpkg-buildflags' flags, each in
# $(B)/warn/<name> (tests/pkg/test-warnings).
# Both run in `make check`.
DEBS_DIR := $(B)/debs
DEB_TREE_FILES := $(wildcard $(shell git ls-files --cached --others \
                    --exclude-standard 2>/dev/null))

$(DEBS_DIR)/stamp: $(DEB_TREE_FILES)
	tests/pkg/build-deb $(DEBS_DIR)

.PHONY: debs check-deb check-warnings
debs: $(DEBS_DIR)/stamp

check-deb: $(DEBS_DIR)/stamp $(FAKEXEN_SO)
	XLPCI_BUILD_DIR=$(B) XLPCI_DEBS=$(DEBS_DIR) \
	    tests/run-tests deb tests/pkg/test-deb

check-warnings:
	XLPCI_BUILD_DIR=$(B) tests/run-tests warnings tests/pkg/test-warnings

# `make check-installed`: the integration suite driving an installed xlpci
# (XLPCI_TEST_CLI, default /usr/bin/xlpci), and through it the installed
# libxlpci.so: the test programs and peers of this tree, the CLI they run
# the installed one (debian/tests/integration, an autopkgtest).  The
# build's own CLI and shared library are removed first, so that nothing
# can fall back to them (a later make builds them again).
# (The programs are made in the recipe: fragments read after this one add
# to ALL_PROGS and INTEGRATION_TESTS.)
XLPCI_TEST_CLI ?= /usr/bin/xlpci
.PHONY: check-installed
check-installed:
	@test -x $(XLPCI_TEST_CLI) || { echo "no $(XLPCI_TEST_CLI)" >&2; exit 2; }
	$(MAKE) $(ALL_PROGS) $(INTEGRATION_TESTS)
	rm -f $(B)/xlpci $(B)/inst/xlpci $(B)/libxlpci.so $(B)/libxlpci.so.*
	XLPCI_TEST_CLI=$(XLPCI_TEST_CLI) \
	    $(RUN_TESTS) integration-installed $(INTEGRATION_TESTS)

# `make check-autopkgtest`: debian/tests run directly (as root, from this
# tree) in a throw-away root where the packages are installed
# (tests/pkg/test-autopkgtest); not in make check.
.PHONY: check-autopkgtest
check-autopkgtest: $(DEBS_DIR)/stamp
	XLPCI_BUILD_DIR=$(B) XLPCI_DEBS=$(DEBS_DIR) \
	    tests/run-tests autopkgtest tests/pkg/test-autopkgtest

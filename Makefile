# libxlpci — top-level Makefile.
#
#   make                 library (shared + static), CLI and test peers (build/)
#   make check           all tests (unit + integration + packaging) under
#                        ASan/UBSan (build/asan), valgrind, fuzz, e2e
#   make valgrind        unit + integration tests under valgrind (build/vg)
#   make demo            the demo on an embedded real xenstored
#   make e2e             real Xen + dom0 + xen-pciback under QEMU (tests/e2e)
#   make bench           benchmarks (bench/)
#   make install         DESTDIR=... PREFIX=... (default /usr/local); uninstall
#                        (SYSTEMDUNITDIR: the watcher's unit, default
#                        $(PREFIX)/lib/systemd/system)
#
# Fragments tests/*/*.mk and bench/*.mk add their own programs and tests;
# each appends to ALL_PROGS, UNIT_TESTS and INTEGRATION_TESTS.

CC         ?= cc
PKG_CONFIG ?= pkg-config
BUILD      ?= build
SANITIZE   ?= 0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCDIR     ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR  ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

# The version lives in ONE place, libxlpci/libxlpci.h
# (LIBXLPCI_VERSION_MAJOR/MINOR/PATCH); the SONAME, the .pc file and the
# man page take it from there.
VERSION_PARTS := $(shell sed -n 's/^.define LIBXLPCI_VERSION_\(MAJOR\|MINOR\|PATCH\)[[:space:]]*\([0-9][0-9]*\).*/\2/p' libxlpci/libxlpci.h)
VERSION_MAJOR := $(word 1,$(VERSION_PARTS))
VERSION       := $(subst $() ,.,$(strip $(VERSION_PARTS)))
ifneq ($(words $(VERSION_PARTS)),3)
$(error libxlpci/libxlpci.h must define LIBXLPCI_VERSION_MAJOR, _MINOR and _PATCH)
endif

B := $(abspath $(BUILD))

# pkg-config runs when a flag is first USED (in a recipe), never while this
# Makefile is read: in `make deps demo` and `make deps check` the packages
# (pkg-config itself included) are installed by `deps` before anything is
# compiled.  $(call lazy_pkg,VAR,ARGS) defines VAR so that its first
# expansion runs $(PKG_CONFIG) ARGS once and keeps the answer.  Keep every
# variable built from these recursive (=), not simple (:=).
lazy_pkg = $(eval $1 = $$(eval $1 := $$$$(shell $$$$(PKG_CONFIG) $2))$$($1))
$(call lazy_pkg,XS_CFLAGS,--cflags xenstore)
$(call lazy_pkg,XS_LIBS,--libs xenstore)
$(call lazy_pkg,XC_CFLAGS,--cflags xencontrol)
$(call lazy_pkg,XC_LIBS,--libs xencontrol)
$(call lazy_pkg,XTL_CFLAGS,--cflags xentoollog)
$(call lazy_pkg,XTL_LIBS,--libs xentoollog)
$(call lazy_pkg,YAJL_CFLAGS,--cflags yajl)
$(call lazy_pkg,YAJL_LIBS,--libs yajl)
$(call lazy_pkg,CMOCKA_CFLAGS,--cflags cmocka)
$(call lazy_pkg,CMOCKA_LIBS,--libs cmocka)

# `make deps X`: nothing of X may start before deps has installed the
# packages, also with -j (this invocation runs serially; the sub-makes of
# check still run in parallel).
ifneq ($(filter deps,$(MAKECMDGOALS)),)
.NOTPARALLEL:
endif

# ---- compiler flags ----------------------------------------------------------
# A packager's CFLAGS, CPPFLAGS and LDFLAGS (dpkg-buildflags' -O2 and
# hardening in a package build), from the environment or the command line,
# come after the project's own, so that they win.  Sub-makes and the tests'
# makes get them only from the command line (never the composed values).
USER_CFLAGS   := $(CFLAGS)
USER_CPPFLAGS := $(CPPFLAGS)
USER_LDFLAGS  := $(LDFLAGS)
unexport CFLAGS CPPFLAGS LDFLAGS
# Warnings are errors in the project's builds (make, make check: every
# optimisation level, gcc and clang; tests/pkg/test-warnings).  WERROR=0
# leaves -Werror out for a build in the field (debian/rules), where a newer
# compiler's new warning must not fail the build: Xen's tools do the same
# (-Werror unless ./configure --disable-werror, which distributions pass).
WERROR ?= 1

# Flags for code that is never sanitized (the LD_PRELOAD shim loaded into
# xenstored must not pull in the ASan runtime).
BASE_OPT ?= -O1
BASE_CFLAGS := -std=gnu11 -g $(BASE_OPT) -Wall -Wextra \
               $(if $(filter 1,$(WERROR)),-Werror) -Wshadow \
               -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
               -Wno-format-nonliteral -MMD -MP
SAN_FLAGS :=
ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
endif
override CFLAGS  := $(BASE_CFLAGS) $(SAN_FLAGS) -I$(CURDIR)/libxlpci \
           -DXLPCI_BUILD_DIR='"$(B)"' -DXLPCI_SRC_DIR='"$(CURDIR)"' \
           $(USER_CPPFLAGS) $(USER_CFLAGS)
override LDFLAGS := $(SAN_FLAGS) $(USER_LDFLAGS)

ALL_PROGS         :=
UNIT_TESTS        :=
INTEGRATION_TESTS :=


.PHONY: all check check-asan check-unit check-integration valgrind demo deps e2e bench clean install uninstall
all:

# ---- the library ---------------------------------------------------------
# libxlpci.so.$(VERSION) (SONAME libxlpci.so.$(VERSION_MAJOR)) and
# libxlpci.a, from objects built with -fvisibility=hidden: only what
# libxlpci.h declares is exported (the header marks its declarations
# visible; libxlpci/libxlpci.map versions them and hides the rest).
#
# The same sources built again with -DXLPCI_TESTING make libxlpci-test.a,
# which only the tests and build/xlpci-test link: the crash injection
# (XLPCI_CRASH_AT, XLPCI_CRASH_HOST_AT) and the transaction hook
# (libxlpci/libxlpci_testing.h, never installed) exist there and nowhere
# else.
LIB_SRCS := $(wildcard libxlpci/*.c)
LIB_OBJS := $(patsubst libxlpci/%.c,$(B)/libxlpci/%.o,$(LIB_SRCS))
LIB_TEST_OBJS := $(patsubst libxlpci/%.c,$(B)/libxlpci-test/%.o,$(LIB_SRCS))
LIB_A      := $(B)/libxlpci.a
LIB_TEST_A := $(B)/libxlpci-test.a
LIB_SONAME := libxlpci.so.$(VERSION_MAJOR)
LIB_SO_REAL := $(B)/libxlpci.so.$(VERSION)
LIB_SO     := $(B)/libxlpci.so
# libxenctrl is not linked: libxlpci/xclib.c dlopens it by its SONAME the
# first time a hypervisor call needs it (libxlpci/xclib.h says why); its
# headers are used as usual.  The SONAME is read from the library built
# against, when first needed (as the pkg-config flags above).
XC_SONAME = $(eval XC_SONAME := $$(shell readelf -d \
    $$$$($$(PKG_CONFIG) --variable=libdir xencontrol)/libxenctrl.so \
    2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p'))$(XC_SONAME)
XC_SONAME_CFLAGS = -DXLPCI_XENCTRL_SONAME='"$(or $(XC_SONAME),$(error \
    cannot read the SONAME of libxenctrl.so (xencontrol's libdir)))"'
LIB_DEPS_CFLAGS = $(XS_CFLAGS) $(XC_CFLAGS) $(XTL_CFLAGS) $(YAJL_CFLAGS) \
                  $(XC_SONAME_CFLAGS)
LIB_DEPS_LIBS   = $(XS_LIBS) $(XTL_LIBS) $(YAJL_LIBS)

$(B)/libxlpci/%.o: libxlpci/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden $(LIB_DEPS_CFLAGS) -c -o $@ $<

$(B)/libxlpci-test/%.o: libxlpci/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DXLPCI_TESTING $(LIB_DEPS_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIB_TEST_A): $(LIB_TEST_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO_REAL): $(LIB_OBJS) libxlpci/libxlpci.map
	$(CC) -shared -Wl,-soname,$(LIB_SONAME) \
	    -Wl,--version-script=libxlpci/libxlpci.map -Wl,--no-undefined \
	    -o $@ $(LIB_OBJS) $(LDFLAGS) $(LIB_DEPS_LIBS)

$(B)/$(LIB_SONAME): $(LIB_SO_REAL)
	ln -sf $(notdir $<) $@

$(LIB_SO): $(B)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $@

ALL_PROGS += $(LIB_SO) $(LIB_A) $(LIB_TEST_A)

# ---- the CLI ---------------------------------------------------------------
# build/xlpci links the shared library and finds it in the build directory
# (rpath: the tests, the demo and `ldd` in tests/e2e/run-e2e use it as it
# is); build/inst/xlpci is the same program linked for installing (no
# rpath); build/xlpci-test links libxlpci-test.a (the crash tests).
$(B)/xlpci: tools/xlpci.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XTL_CFLAGS) -o $@ $< -L$(B) -lxlpci -Wl,-rpath,$(B) \
	    $(LDFLAGS) $(XTL_LIBS) -lm

$(B)/inst/xlpci: tools/xlpci.c $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XTL_CFLAGS) -o $@ $< -L$(B) -lxlpci \
	    $(LDFLAGS) $(XTL_LIBS) -lm

$(B)/xlpci-test: tools/xlpci.c $(LIB_TEST_A)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LIB_DEPS_CFLAGS) -o $@ $< $(LIB_TEST_A) \
	    $(LDFLAGS) $(LIB_DEPS_LIBS) -lm
ALL_PROGS += $(B)/xlpci $(B)/inst/xlpci $(B)/xlpci-test

$(B)/xlpci.1: tools/xlpci.1.pod libxlpci/libxlpci.h
	@mkdir -p $(dir $@)
	pod2man --section=1 --center=libxlpci --release=$(VERSION) $< $@
ALL_PROGS += $(B)/xlpci.1

$(B)/xlpci-guests.5: tools/xlpci-guests.5.pod libxlpci/libxlpci.h
	@mkdir -p $(dir $@)
	pod2man --section=5 --center=libxlpci --release=$(VERSION) \
	    --name=XLPCI-GUESTS $< $@
ALL_PROGS += $(B)/xlpci-guests.5

.PHONY: xlpci lib
xlpci: $(B)/xlpci
lib: $(LIB_SO) $(LIB_A)

-include $(sort $(wildcard tests/*/*.mk)) $(wildcard bench/*.mk)

all: $(ALL_PROGS) $(UNIT_TESTS) $(INTEGRATION_TESTS)

# ---- tests -----------------------------------------------------------------
# tests/run-tests runs TEST_JOBS programs at once (both cores of the CI
# machine), the longest first by the times of the last run in
# $(B)/test-times; each program's output is printed whole, in order.
TEST_JOBS ?= 2
RUN_TESTS = XLPCI_TEST_TIMES=$(B)/test-times tests/run-tests -j $(TEST_JOBS)

check-unit: $(ALL_PROGS) $(UNIT_TESTS)
	$(RUN_TESTS) unit $(UNIT_TESTS)

check-integration: $(ALL_PROGS) $(INTEGRATION_TESTS)
	$(RUN_TESTS) integration $(INTEGRATION_TESTS)

# `make check`: every test.  Unit + integration built with ASan/UBSan
# (build/asan), then the whole tree built warning-free at every
# optimisation level and with clang (check-warnings), the Debian packages
# built, linted and installed into a throw-away root (check-deb), then the
# same programs under valgrind (build/vg), then the libFuzzer on the
# parsers (30 s), then the end-to-end test with the real Xen and
# xen-pciback under QEMU (dom0 running the packages' xlpci).
# CHECK_E2E=0 leaves the e2e test out.
CHECK_E2E ?= 1
ifeq ($(SANITIZE),1)
check-asan: check-unit check-integration check-pkg
else
check-asan:
	$(MAKE) SANITIZE=1 BUILD=build/asan check-asan
endif

check: check-asan
	$(MAKE) check-warnings
	$(MAKE) check-deb
	$(MAKE) valgrind
	$(MAKE) fuzz FUZZ_SECONDS=30
ifeq ($(CHECK_E2E),1)
	$(MAKE) e2e
endif

# `make valgrind`: the same tests, plain build, every process under valgrind.
valgrind:
	$(MAKE) SANITIZE=0 BUILD=build/vg all
	XLPCI_VALGRIND=1 XLPCI_TEST_TIMES=$(abspath build/vg)/test-times \
	    tests/run-tests -j $(TEST_JOBS) valgrind \
	    $(subst $(B),$(abspath build/vg),$(UNIT_TESTS) $(INTEGRATION_TESTS))

clean:
	rm -rf build

# Debian/Xen style: DESTDIR for staging, PREFIX (or BINDIR, LIBDIR, ...)
# for the layout; nothing is compiled here (run `make` first as a user).
# After installing into a live system, run ldconfig.
INSTALL_FILES = $(BINDIR)/xlpci $(LIBDIR)/libxlpci.so.$(VERSION) \
    $(LIBDIR)/$(LIB_SONAME) $(LIBDIR)/libxlpci.so $(LIBDIR)/libxlpci.a \
    $(INCDIR)/libxlpci.h $(PKGCONFIGDIR)/libxlpci.pc \
    $(MANDIR)/man1/xlpci.1 $(MANDIR)/man5/xlpci-guests.5 \
    $(BASHCOMPDIR)/xlpci $(SYSTEMDUNITDIR)/xlpci-watch.service
# In the .pc file, paths below PREFIX are written relative to ${prefix}.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$1)

# `make installable`: build what `make install` copies (debian/rules runs
# it, then `make install DESTDIR=debian/tmp`).
.PHONY: installable
installable: $(B)/inst/xlpci $(LIB_SO_REAL) $(LIB_A) $(B)/xlpci.1 \
        $(B)/xlpci-guests.5

install: $(B)/inst/xlpci $(LIB_SO_REAL) $(LIB_A) $(B)/xlpci.1 \
        $(B)/xlpci-guests.5
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 755 $(B)/inst/xlpci $(DESTDIR)$(BINDIR)/xlpci
	install -m 644 $(LIB_SO_REAL) $(DESTDIR)$(LIBDIR)/libxlpci.so.$(VERSION)
	ln -sf libxlpci.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libxlpci.so
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libxlpci.a
	install -m 644 libxlpci/libxlpci.h $(DESTDIR)$(INCDIR)/libxlpci.h
	sed -e 's|@PREFIX@|$(PREFIX)|' \
	    -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@INCDIR@|$(call pc_path,$(INCDIR))|' \
	    -e 's|@VERSION@|$(VERSION)|' libxlpci/libxlpci.pc.in \
	    > $(DESTDIR)$(PKGCONFIGDIR)/libxlpci.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libxlpci.pc
	install -m 644 $(B)/xlpci.1 $(DESTDIR)$(MANDIR)/man1/xlpci.1
	install -m 644 tools/xlpci.bash-completion $(DESTDIR)$(BASHCOMPDIR)/xlpci
	install -m 644 $(B)/xlpci-guests.5 $(DESTDIR)$(MANDIR)/man5/xlpci-guests.5
	sed -e 's|@BINDIR@|$(BINDIR)|g' tools/xlpci-watch.service.in \
	    > $(DESTDIR)$(SYSTEMDUNITDIR)/xlpci-watch.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/xlpci-watch.service

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- demo and dependencies ---------------------------------------------------
demo: all
	XLPCI_BUILD_DIR=$(B) XLPCI_FAKEXEN=$(B)/libfakexen.so \
	    tests/harness/xs-run -- tools/demo.sh

# Debian packages the build, the tests and the e2e test need
# (packages.txt and tests/*/packages.txt).
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends \
	    $$(cat packages.txt $(wildcard tests/*/packages.txt) | sed '/^#/d')

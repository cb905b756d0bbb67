# `make e2e`: real Xen + Debian dom0 + xen-pciback + PV guests, and an HVM guest with QEMU in dom0, under QEMU.
# dom0 runs the xlpci and libxlpci.so of the Debian packages (make debs,
# tests/pkg/deb.mk) unless E2E_DEBS names them, or is "" for the build
# tree's.
e2e: $(B)/xlpci $(if $(filter undefined,$(origin E2E_DEBS)),debs)
	tests/e2e/run-e2e $(B)

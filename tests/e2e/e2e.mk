# `make e2e`: real Xen + Debian dom0 + xen-pciback + PV guests, and an HVM guest with QEMU in dom0, under QEMU.
e2e: $(B)/xlpci
	tests/e2e/run-e2e $(B)

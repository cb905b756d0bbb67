# `make e2e`: real Xen + Debian dom0 + xen-pciback + a PV guest under QEMU.
e2e: $(B)/xlpci
	tests/e2e/run-e2e $(B)

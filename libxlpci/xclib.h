/*
 * libxenctrl, loaded the first time a hypervisor call needs it (xclib.c).
 *
 * libxlpci does not link libxenctrl: a command that makes no hypervisor
 * call (XLPCI_HYPERVISOR=none, no xen-pciback, a dry run, the read-only
 * commands) never loads it, nor the six libraries it pulls in (xencall,
 * xenevtchn, xengnttab, xenforeignmemory, xendevicemodel, xentoolcore).
 * The files that call the hypervisor include this header instead of
 * <xenctrl.h>: their calls keep libxenctrl's names and prototypes and go
 * to the real functions of the real library, dlopen'ed by its SONAME
 * (XLPCI_XENCTRL_SONAME, the one built against) at the first
 * xc_interface_open.  Tests substitute their fake libxenctrl as before:
 * LD_LIBRARY_PATH finds it first.  Not installed.
 */
#ifndef LIBXLPCI_XCLIB_H
#define LIBXLPCI_XCLIB_H

#include <xenctrl.h>

#include "libxlpci_priv.h"

/* The calls libxlpci makes, each a wrapper of the real one. */
#define XLPCI_XC_CALLS(X)                                                   \
    X(xc_interface_open) X(xc_interface_close) X(xc_physinfo)              \
    X(xc_domain_getinfolist) X(xc_domain_iomem_permission)                 \
    X(xc_domain_ioport_permission) X(xc_domain_irq_permission)             \
    X(xc_physdev_map_pirq) X(xc_physdev_unmap_pirq) X(xc_assign_device)    \
    X(xc_deassign_device) X(xc_test_assign_device)

#define XLPCI_XC_DECLARE(f) _hidden __typeof__(f) xlpci_##f;
XLPCI_XC_CALLS(XLPCI_XC_DECLARE)
#undef XLPCI_XC_DECLARE

/* xc_interface_open loads the library (it logs why it cannot, through
 * the logger it is given, and fails with errno ELIBACC); the others are
 * only called with the handle it gave.  xc_interface_close(NULL) is 0. */
#ifndef XLPCI_XCLIB_IMPL
#define xc_interface_open           xlpci_xc_interface_open
#define xc_interface_close          xlpci_xc_interface_close
#define xc_physinfo                 xlpci_xc_physinfo
#define xc_domain_getinfolist       xlpci_xc_domain_getinfolist
#define xc_domain_iomem_permission  xlpci_xc_domain_iomem_permission
#define xc_domain_ioport_permission xlpci_xc_domain_ioport_permission
#define xc_domain_irq_permission    xlpci_xc_domain_irq_permission
#define xc_physdev_map_pirq         xlpci_xc_physdev_map_pirq
#define xc_physdev_unmap_pirq       xlpci_xc_physdev_unmap_pirq
#define xc_assign_device            xlpci_xc_assign_device
#define xc_deassign_device          xlpci_xc_deassign_device
#define xc_test_assign_device       xlpci_xc_test_assign_device
#endif

#endif /* LIBXLPCI_XCLIB_H */

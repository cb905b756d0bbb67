/*
 * libxenctrl, loaded the first time a hypervisor call needs it (the why
 * and the how: xclib.h).  Once per process: dlopen of the real library by
 * its SONAME, every call looked up (dlsym); the library stays loaded.
 */
#define XLPCI_XCLIB_IMPL
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "xclib.h"

#ifndef XLPCI_XENCTRL_SONAME
#error "XLPCI_XENCTRL_SONAME (the SONAME of libxenctrl) must be defined"
#endif

static struct {               /* the real calls */
#define XLPCI_XC_PTR(f) __typeof__(f) *f;
    XLPCI_XC_CALLS(XLPCI_XC_PTR)
#undef XLPCI_XC_PTR
} xc;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[256];             /* why it could not be loaded */
static bool loaded;

static void load(void)
{
    void *lib = dlopen(XLPCI_XENCTRL_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;

    if (!lib) {
        snprintf(load_error, sizeof(load_error), "%s", dlerror());
        return;
    }
#define XLPCI_XC_SYM(f)                                                     \
    if (!missing && !(*(void **)&xc.f = dlsym(lib, #f)))                    \
        missing = #f;
    XLPCI_XC_CALLS(XLPCI_XC_SYM)
#undef XLPCI_XC_SYM
    if (missing) {
        snprintf(load_error, sizeof(load_error), "%s has no %s",
                 XLPCI_XENCTRL_SONAME, missing);
        dlclose(lib);
        return;
    }
    loaded = true;
}

xc_interface *xlpci_xc_interface_open(xentoollog_logger *logger,
                                      xentoollog_logger *dombuild_logger,
                                      unsigned open_flags)
{
    pthread_once(&load_once, load);
    if (!loaded) {
        if (logger)
            xtl_log(logger, XTL_ERROR, -1, "libxlpci", "cannot load "
                    "libxenctrl (%s): %s", XLPCI_XENCTRL_SONAME, load_error);
        errno = ELIBACC;
        return NULL;
    }
    return xc.xc_interface_open(logger, dombuild_logger, open_flags);
}

/* Only ever called with a handle of xc_interface_open, so with the
 * library loaded; else ENOSYS. */
#define XLPCI_XC_NEED(ret)                                                  \
    do {                                                                    \
        if (!loaded) {                                                   \
            errno = ENOSYS;                                                 \
            return ret;                                                     \
        }                                                                   \
    } while (0)

int xlpci_xc_interface_close(xc_interface *xch)
{
    if (!xch)
        return 0;
    XLPCI_XC_NEED(-1);
    return xc.xc_interface_close(xch);
}

int xlpci_xc_physinfo(xc_interface *xch, xc_physinfo_t *info)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_physinfo(xch, info);
}

int xlpci_xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
                                unsigned int max_domains,
                                xc_domaininfo_t *info)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_domain_getinfolist(xch, first_domain, max_domains, info);
}

int xlpci_xc_domain_iomem_permission(xc_interface *xch, uint32_t domid,
                                     unsigned long first_mfn,
                                     unsigned long nr_mfns,
                                     uint8_t allow_access)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_domain_iomem_permission(xch, domid, first_mfn, nr_mfns,
                                         allow_access);
}

int xlpci_xc_domain_ioport_permission(xc_interface *xch, uint32_t domid,
                                      uint32_t first_port, uint32_t nr_ports,
                                      uint32_t allow_access)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_domain_ioport_permission(xch, domid, first_port, nr_ports,
                                          allow_access);
}

int xlpci_xc_domain_irq_permission(xc_interface *xch, uint32_t domid,
                                   uint32_t pirq, bool allow_access)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_domain_irq_permission(xch, domid, pirq, allow_access);
}

int xlpci_xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index,
                              int *pirq)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_physdev_map_pirq(xch, domid, index, pirq);
}

int xlpci_xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_physdev_unmap_pirq(xch, domid, pirq);
}

int xlpci_xc_assign_device(xc_interface *xch, uint32_t domid,
                           uint32_t machine_sbdf, uint32_t flag)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_assign_device(xch, domid, machine_sbdf, flag);
}

int xlpci_xc_deassign_device(xc_interface *xch, uint32_t domid,
                             uint32_t machine_sbdf)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_deassign_device(xch, domid, machine_sbdf);
}

int xlpci_xc_test_assign_device(xc_interface *xch, uint32_t domid,
                                uint32_t machine_sbdf)
{
    XLPCI_XC_NEED(-1);
    return xc.xc_test_assign_device(xch, domid, machine_sbdf);
}

/*
 * The IOMMU side of a passthrough, as libxl 4.17 does it through
 * libxenctrl, and the domain type check (docs/protocol.md section 3.1
 * step 2, section 3.3 step 4).  A device's DMA context is one of: dom0 (the hardware
 * domain), dom_io (the quarantine) or the guest it is assigned to.
 *
 *   pci-assignable-add     xc_assign_device(DOMID_IO, sbdf, RDM_RELAXED)
 *                          after the device is bound to xen-pciback
 *                          ("quarantine"; failure fails the add);
 *   pci-assignable-remove  xc_deassign_device(DOMID_IO, sbdf) before the
 *                          device goes back to its host driver;
 *   create / pci-attach    xc_test_assign_device(domid, sbdf) for every
 *                          device first (refuse early, libxl's messages),
 *                          then xc_assign_device(domid, sbdf, flag) before
 *                          xenstore shows the device (flag: 0 for
 *                          rdm_policy=strict, else XEN_DOMCTL_DEV_RDM_RELAXED);
 *   pci-detach, release    xc_deassign_device(domid, sbdf) once the guest
 *                          released it; Xen 4.17 then parks the device in
 *                          dom_io (quarantine on by default).
 *
 * Xen without an IOMMU (no XEN_SYSCTL_PHYSCAP_directio in xc_physinfo, or
 * ENOSYS, which libxl tolerates for PV): the IOMMU steps are skipped and
 * -v says so once.  (libxl 4.17 refuses to create a domain with PCI
 * devices on such a host; a PV guest of this tool keeps working, without
 * DMA isolation, as it did before these steps existed.)  A deassignment is
 * idempotent here (check --repair and an interrupted detach call it again)
 * but never taken on trust: when Xen says the device is not in that
 * context (ENODEV; EOPNOTSUPP: the domain has no IOMMU context; ESRCH: no
 * such domain), Xen is asked where it is (xc_test_assign_device for no
 * domain, DOMID_INVALID: dom0 or dom_io, or some guest); in another guest
 * it is refused (XLPCI_ERR_EXISTS) and the caller leaves the device alone.
 *
 * Only with a libxenctrl handle (hypervisor.c's xlpci_hv_open: Xen
 * present, XLPCI_HYPERVISOR not none, host side active).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "xclib.h"                  /* libxenctrl, loaded when needed */

#include "host.h"

uint32_t xlpci_sbdf(const xlpci_bdf *bdf)
{
    return (uint32_t)bdf->seg << 16 | (uint32_t)bdf->bus << 8 |
           (uint32_t)bdf->dev << 3 | (uint32_t)bdf->func;
}

uint32_t xlpci_assign_flag(const xlpci_dev *dev)
{
    return dev->rdm_policy == XLPCI_RDM_STRICT ? 0
                                               : XEN_DOMCTL_DEV_RDM_RELAXED;
}

/* Xen has no IOMMU.  Said once (at -v); the IOMMU steps are skipped. */
static void no_iommu(xlpci_ctx *ctx, const char *how)
{
    if (!ctx->iommu_absent)
        LOG(ctx, DETAIL, "Xen has no IOMMU (%s): PCI devices are passed "
            "through to PV guests without DMA isolation", how);
    ctx->iommu_absent = true;
}

void xlpci_iommu_probe(xlpci_ctx *ctx, xc_interface *xch)
{
    xc_physinfo_t info;

    if (ctx->iommu_probed)
        return;
    ctx->iommu_probed = true;
    memset(&info, 0, sizeof(info));
    xlpci_host_step(ctx);
    if (xc_physinfo(xch, &info) < 0) {
        /* the IOMMU calls will tell */
        LOGE(ctx, DEBUG, "xc_physinfo");
        return;
    }
    if (!(info.capabilities & XEN_SYSCTL_PHYSCAP_directio))
        no_iommu(ctx, "no directio capability");
}

static void hint_passthrough(xlpci_ctx *ctx, uint32_t domid, const char *b,
                             const char *call)
{
    LOG(ctx, ERROR, "PCI device %s cannot be assigned to domain %u (%s: "
        "EOPNOTSUPP): the domain was built without an IOMMU context; set "
        "passthrough=\"enabled\" (or pci=[...]) in its guest config and "
        "create it again", b, domid, call);
}

/* The domain's info: 1 (found, in *info), 0 (no such domain, or dying),
 * or an error (logged).  What xlpci_guest_type read at the start of the
 * operation is used once instead of asking again. */
static int domain_info(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                       xc_domaininfo_t *info)
{
    int r;

    memset(info, 0, sizeof(*info));
    if (ctx->dominfo_cached && ctx->dominfo_domid == domid) {
        ctx->dominfo_cached = false;
        info->domain = domid;
        info->flags = ctx->dominfo_flags;
#if defined(__i386__) || defined(__x86_64__)
        info->arch_config.emulation_flags = ctx->dominfo_emu;
#endif
        return ctx->dominfo_found;
    }
    xlpci_host_step(ctx);
    r = xc_domain_getinfolist(xch, domid, 1, info);
    if (r < 0) {
        LOGE(ctx, ERROR, "cannot read domain %u's information "
             "(xc_domain_getinfolist)", domid);
        return XLPCI_ERR_FAIL;
    }
    return r > 0 && info->domain == domid &&
           !(info->flags & XEN_DOMINF_dying);
}

int xlpci_hv_domain_alive(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid)
{
    xc_domaininfo_t info;

    return domain_info(ctx, xch, domid, &info);
}

/* PVH: a HVM container with no emulated device but the local APIC. */
static int type_of(const xc_domaininfo_t *info)
{
    if (!(info->flags & XEN_DOMINF_hvm_guest))
        return XLPCI_GUEST_PV;
#if defined(__i386__) || defined(__x86_64__)
    if (!(info->arch_config.emulation_flags & ~XEN_X86_EMU_LAPIC))
        return XLPCI_GUEST_PVH;
#endif
    return XLPCI_GUEST_HVM;
}

static void pvh_refused(xlpci_ctx *ctx, uint32_t domid)
{
    LOG(ctx, ERROR, "domain %u is a PVH guest: Xen 4.17 has no PCI "
        "passthrough for PVH guests (PV guests get devices through "
        "xen-pciback and xen-pcifront, HVM guests through QEMU)", domid);
}

int xlpci_iommu_guest_type(xlpci_ctx *ctx, xc_interface *xch,
                           uint32_t domid, int *type_r)
{
    xc_domaininfo_t info;
    int rc;

    *type_r = XLPCI_GUEST_PV;
    ctx->dominfo_cached = false;
    rc = domain_info(ctx, xch, domid, &info);
    if (rc < 0)
        return rc;
    /* kept for the first domain check of the operation */
    ctx->dominfo_cached = true;
    ctx->dominfo_domid = domid;
    ctx->dominfo_found = rc;
    ctx->dominfo_flags = info.flags;
#if defined(__i386__) || defined(__x86_64__)
    ctx->dominfo_emu = info.arch_config.emulation_flags;
#endif
    if (rc == 1)
        *type_r = type_of(&info);
    if (*type_r == XLPCI_GUEST_PVH && !ctx->guest_type_quiet) {
        pvh_refused(ctx, domid);
        return XLPCI_ERR_FAIL;
    }
    return 0;
}

void xlpci_guest_forget(xlpci_ctx *ctx)
{
    ctx->dominfo_cached = false;
}

/* The type of a domain Xen has (the error logged if it has none). */
static int domain_type(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                       int *type_r)
{
    xc_domaininfo_t info;
    int r = domain_info(ctx, xch, domid, &info);

    if (r < 0)
        return r;
    if (r == 0) {
        LOG(ctx, ERROR, "domain %u does not exist in Xen (or is dying)",
            domid);
        return XLPCI_ERR_NOTFOUND;
    }
    *type_r = type_of(&info);
    return 0;
}

int xlpci_iommu_domain_check(xlpci_ctx *ctx, xc_interface *xch,
                             uint32_t domid)
{
    int type, r = domain_type(ctx, xch, domid, &type);

    if (r)
        return r;
    switch (type) {
    case XLPCI_GUEST_PV:
        return 0;
    case XLPCI_GUEST_PVH:
        pvh_refused(ctx, domid);
        return XLPCI_ERR_FAIL;
    default:
        /* the flows route HVM guests to QEMU (hvm.c) before this */
        LOG(ctx, ERROR, "domain %u is an HVM guest: its devices go through "
            "its QEMU, not xen-pciback and xen-pcifront", domid);
        return XLPCI_ERR_FAIL;
    }
}

int xlpci_iommu_domain_check_hvm(xlpci_ctx *ctx, xc_interface *xch,
                                 uint32_t domid)
{
    int type, r = domain_type(ctx, xch, domid, &type);

    if (r)
        return r;
    if (type != XLPCI_GUEST_HVM) {
        LOG(ctx, ERROR, "domain %u is not an HVM guest (any more?)", domid);
        return XLPCI_ERR_FAIL;
    }
    if (ctx->iommu_absent) {
        LOG(ctx, ERROR, "Xen has no IOMMU: PCI devices cannot be passed "
            "through to HVM guests without one (libxl refuses too)");
        return XLPCI_ERR_FAIL;
    }
    return 0;
}

int xlpci_iommu_test(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                     const xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN];
    int r;

    if (ctx->iommu_absent)
        return 0;
    xlpci_bdf_format(bdf, b);
    xlpci_host_step(ctx);
    r = xc_test_assign_device(xch, domid, xlpci_sbdf(bdf));
    if (r >= 0)
        return 0;
    if (errno == ENOSYS) {
        no_iommu(ctx, "ENOSYS");
        return 0;
    }
    if (errno == EOPNOTSUPP) {
        LOG(ctx, ERROR, "PCI device %s cannot be assigned - no IOMMU? "
            "(or domain %u was built without one: set passthrough="
            "\"enabled\" or pci=[...] in its guest config)", b, domid);
        return XLPCI_ERR_FAIL;
    }
    LOGE(ctx, ERROR, "PCI device %s already assigned to a different guest?",
         b);
    return XLPCI_ERR_EXISTS;
}

int xlpci_iommu_assign(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                       const xlpci_dev *dev, bool *assigned_r)
{
    char b[XLPCI_BDF_STRLEN];
    int r;

    *assigned_r = false;
    if (ctx->iommu_absent)
        return 0;
    xlpci_bdf_format(&dev->bdf, b);
    xlpci_host_step(ctx);
    r = xc_assign_device(xch, domid, xlpci_sbdf(&dev->bdf),
                         xlpci_assign_flag(dev));
    if (r >= 0) {
        *assigned_r = true;
        LOG(ctx, DETAIL, "IOMMU: %s assigned to domain %u", b, domid);
        return 0;
    }
    if (errno == ENOSYS) {
        no_iommu(ctx, "ENOSYS");
        return 0;
    }
    if (errno == EOPNOTSUPP) {
        hint_passthrough(ctx, domid, b, "xc_assign_device");
        return XLPCI_ERR_FAIL;
    }
    if (errno == EBUSY) {
        LOG(ctx, ERROR, "PCI device %s already assigned to a different "
            "guest (xc_assign_device: EBUSY)", b);
        return XLPCI_ERR_EXISTS;
    }
    LOGE(ctx, ERROR, "cannot assign %s to domain %u (xc_assign_device)", b,
         domid);
    return XLPCI_ERR_FAIL;
}

int xlpci_iommu_device_free(xlpci_ctx *ctx, xc_interface *xch,
                            const xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN];
    int r;

    if (ctx->iommu_absent)
        return XLPCI_XEN_UNKNOWN;
    xlpci_host_step(ctx);
    r = xc_test_assign_device(xch, DOMID_INVALID, xlpci_sbdf(bdf));
    if (r >= 0)
        return XLPCI_XEN_FREE;
    if (errno == EINVAL)
        return XLPCI_XEN_ASSIGNED;
    if (errno == ENOSYS)
        no_iommu(ctx, "ENOSYS");
    else
        LOGE(ctx, DEBUG, "IOMMU: cannot ask Xen about %s "
             "(xc_test_assign_device)", xlpci_bdf_format(bdf, b));
    return XLPCI_XEN_UNKNOWN;
}

int xlpci_iommu_deassign(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                         const xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN], who[16];
    int r, e;

    if (ctx->iommu_absent)
        return 0;
    xlpci_bdf_format(bdf, b);
    if (domid == DOMID_IO)
        snprintf(who, sizeof(who), "dom_io");
    else
        snprintf(who, sizeof(who), "domain %u", domid);
    xlpci_host_step(ctx);
    r = xc_deassign_device(xch, domid, xlpci_sbdf(bdf));
    if (r >= 0) {
        LOG(ctx, DETAIL, "IOMMU: %s taken from %s", b, who);
        return 0;
    }
    e = errno;
    switch (e) {
    case ENOSYS:
        no_iommu(ctx, "ENOSYS");
        return 0;
    case ENODEV:                       /* not in that context */
    case EOPNOTSUPP:                   /* the domain has no IOMMU context */
    case ESRCH:                        /* no such domain (any more) */
        /* never taken for a release: where is it?  In dom0 or dom_io it
         * is free (an earlier release, Xen's own at the domain's death);
         * in a guest it is that guest's */
        if (xlpci_iommu_device_free(ctx, xch, bdf) == XLPCI_XEN_ASSIGNED) {
            LOG(ctx, ERROR, "cannot take %s from %s: Xen has it assigned "
                "to another guest (xc_deassign_device: %s; "
                "xc_test_assign_device: assigned); left as it is", b, who,
                strerror(e));
            return XLPCI_ERR_EXISTS;
        }
        LOG(ctx, DEBUG, "IOMMU: %s is not in %s's context (%s): free", b,
            who, strerror(e));
        return 0;
    default:
        errno = e;
        LOGE(ctx, ERROR, "cannot take %s from %s (xc_deassign_device)", b,
             who);
        return XLPCI_ERR_FAIL;
    }
}

int xlpci_iommu_quarantine(xlpci_ctx *ctx, xc_interface *xch,
                           const xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN];
    int rc = 0, r;

    if (ctx->iommu_absent)
        return 0;
    xlpci_bdf_format(bdf, b);
    /* DOMID_IO has no mappings: always RDM_RELAXED (libxl) */
    xlpci_host_step(ctx);
    r = xc_assign_device(xch, DOMID_IO, xlpci_sbdf(bdf),
                         XEN_DOMCTL_DEV_RDM_RELAXED);
    if (r < 0 && errno == ENOSYS) {
        no_iommu(ctx, "ENOSYS");
    } else if (r < 0) {
        if (errno == EBUSY)
            LOG(ctx, ERROR, "cannot quarantine %s: it is assigned to a "
                "guest (xc_assign_device: EBUSY)", b);
        else
            LOGE(ctx, ERROR, "cannot quarantine %s (xc_assign_device to "
                 "dom_io)", b);
        rc = XLPCI_ERR_FAIL;
    } else {
        LOG(ctx, DETAIL, "IOMMU: %s quarantined (dom_io)", b);
    }
    return rc;
}

/*
 * The hypervisor side of PV passthrough, through libxenctrl
 * (docs/protocol.md section 3.1 step 2, section 3.3 step 4): the guest may
 * map the device's memory BARs (xc_domain_iomem_permission), use its I/O
 * port BARs (xc_domain_ioport_permission) and bind its legacy interrupt
 * (xc_physdev_map_pirq + xc_domain_irq_permission).
 *
 * Order: granted BEFORE the device is written to xenstore (the guest
 * cannot see it earlier, so it never drives a device it may not touch);
 * revoked AFTER the guest released it (the Reconfiguring cycle of a
 * detach), so access is never pulled from under a running driver.
 *
 * Differences from libxl's pci_add_dm_done / pci_remove_detached:
 *  - the kind of a resource comes from the kernel's IORESOURCE_IO and
 *    IORESOURCE_MEM flags, not from bit 0 (bit 0 of the ROM resource is
 *    its enable bit, which libxl takes for an I/O BAR);
 *  - pages are start>>12 .. end>>12, so a BAR that is not page aligned
 *    still gets every page it touches;
 *  - a failed grant undoes the grants made so far (libxl leaves them);
 *  - revocation is the exact reverse of the grant.
 *
 * When: only when the host side is active (xen-pciback in the sysfs
 * root), under the bookkeeping lock of the flow.  XLPCI_HV_AUTO (default)
 * skips the grants with a notice when no Xen is running (no
 * <sysfs>/hypervisor/type "xen", no /dev/xen/privcmd): a test or demo
 * machine; with Xen present, failing to open libxenctrl is an error.
 * XLPCI_HV_REQUIRE always fails without libxenctrl; XLPCI_HV_NONE never
 * touches the hypervisor.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xclib.h"                  /* libxenctrl, loaded when needed */

#include "host.h"

#define IORESOURCE_IO        0x00000100ull
#define IORESOURCE_MEM       0x00000200ull
#define IORESOURCE_UNSET     0x20000000ull
#define IORESOURCE_DISABLED  0x10000000ull
#define IRQ_LIMIT            0xff        /* libxl: used if 0 < irq < 0xff */

void xlpci_ctx_set_hypervisor(xlpci_ctx *ctx, xlpci_hv_mode mode)
{
    ctx->hv_mode = mode;
}

/* What a BAR asks for: 'i' I/O ports, 'm' memory pages, 0 nothing. */
static char bar_kind(const xlpci_bar *bar)
{
    if (!bar->start || (bar->flags & (IORESOURCE_UNSET | IORESOURCE_DISABLED)))
        return 0;
    if (bar->flags & IORESOURCE_IO)
        return 'i';
    if (bar->flags & IORESOURCE_MEM)
        return 'm';
    return 0;
}

/* ---- one device ------------------------------------------------------------ */

typedef struct {
    xlpci_bar bars[XLPCI_NUM_RESOURCES];
    unsigned nbars;
    unsigned irq;                      /* 0: none */
} dev_res;

static int read_small(xlpci_ctx *ctx, const char *path, char *buf, size_t len,
                      bool *missing)
{
    FILE *f = fopen(path, "re");
    size_t n;

    *missing = false;
    if (!f) {
        if (errno == ENOENT) {
            *missing = true;
            return 0;
        }
        LOGE(ctx, ERROR, "cannot read %s", path);
        return XLPCI_ERR_FAIL;
    }
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    if (ferror(f) || (n == len - 1 && !feof(f))) {
        LOG(ctx, ERROR, "%s: cannot read it whole (at most %zu bytes)",
            path, len - 1);
        fclose(f);
        return XLPCI_ERR_FAIL;
    }
    fclose(f);
    return 0;
}

static int read_res(xlpci_ctx *ctx, const xlpci_bdf *bdf, dev_res *r)
{
    char path[XLPCI_PATH_MAX + 64], b[XLPCI_BDF_STRLEN];
    char buf[2048], err[128];
    bool missing;
    int rc;

    memset(r, 0, sizeof(*r));
    xlpci_bdf_format(bdf, b);
    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/resource", b);
    rc = read_small(ctx, path, buf, sizeof(buf), &missing);
    if (rc)
        return rc;
    if (missing) {
        LOG(ctx, ERROR, "no PCI device %s (%s does not exist)", b, path);
        return XLPCI_ERR_NOTFOUND;
    }
    if (xlpci_resource_parse(buf, r->bars, &r->nbars, err, sizeof(err))) {
        LOG(ctx, ERROR, "%s: %s", path, err);
        return XLPCI_ERR_CORRUPT;
    }
    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/irq", b);
    rc = read_small(ctx, path, buf, sizeof(buf), &missing);
    if (rc || missing)
        return rc;
    if (xlpci_irq_parse(buf, &r->irq, err, sizeof(err))) {
        LOG(ctx, ERROR, "%s: %s", path, err);
        return XLPCI_ERR_CORRUPT;
    }
    if (r->irq >= IRQ_LIMIT)
        r->irq = 0;                    /* not a legacy GSI: MSI only */
    return 0;
}

static int bar_perm(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                    const char *b, const xlpci_bar *bar, bool allow)
{
    const char *what, *call;
    int r;

    if (bar_kind(bar) == 'i') {
        if (bar->end > 0xffff) {
            LOG(ctx, ERROR, "%s: I/O BAR 0x%" PRIx64 "-0x%" PRIx64 " lies "
                "outside the I/O port space", b, bar->start, bar->end);
            return XLPCI_ERR_CORRUPT;
        }
        what = "I/O ports";
        call = "xc_domain_ioport_permission";
        xlpci_host_step(ctx);
        r = xc_domain_ioport_permission(xch, domid, (uint32_t)bar->start,
                                        (uint32_t)(bar->end - bar->start + 1),
                                        allow);
    } else {
        unsigned long first = (unsigned long)(bar->start >> XC_PAGE_SHIFT);
        unsigned long last = (unsigned long)(bar->end >> XC_PAGE_SHIFT);

        what = "memory";
        call = "xc_domain_iomem_permission";
        xlpci_host_step(ctx);
        r = xc_domain_iomem_permission(xch, domid, first, last - first + 1,
                                       allow);
    }
    if (r < 0) {
        LOGE(ctx, ERROR, "cannot %s domain %u the %s 0x%" PRIx64 "-0x%" PRIx64
             " of %s (%s)", allow ? "grant" : "revoke", domid, what,
             bar->start, bar->end, b, call);
        return XLPCI_ERR_FAIL;
    }
    return 0;
}

static int irq_perm(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                    const char *b, unsigned irq, bool allow)
{
    int pirq = (int)irq, r;

    if (allow) {
        /* 1. the GSI becomes a pirq of the guest; 2. it may bind it */
        xlpci_host_step(ctx);
        r = xc_physdev_map_pirq(xch, domid, (int)irq, &pirq);
        if (r < 0) {
            LOGE(ctx, ERROR, "cannot map irq %u of %s into domain %u "
                 "(xc_physdev_map_pirq)", irq, b, domid);
            return XLPCI_ERR_FAIL;
        }
        xlpci_host_step(ctx);
        r = xc_domain_irq_permission(xch, domid, (uint32_t)pirq, true);
        if (r < 0) {
            LOGE(ctx, ERROR, "cannot grant domain %u irq %u of %s "
                 "(xc_domain_irq_permission)", domid, irq, b);
            xlpci_host_step(ctx);
            if (xc_physdev_unmap_pirq(xch, domid, pirq) < 0)
                LOGE(ctx, WARN, "cannot unmap pirq %d of domain %u", pirq,
                     domid);
            return XLPCI_ERR_FAIL;
        }
        return 0;
    }
    /* the reverse; the pirq is the irq, as the map asks for (libxl too) */
    xlpci_host_step(ctx);
    r = xc_domain_irq_permission(xch, domid, irq, false);
    if (r < 0)
        LOGE(ctx, ERROR, "cannot revoke domain %u irq %u of %s "
             "(xc_domain_irq_permission)", domid, irq, b);
    /* without the permission a mapping left behind is inert: a warning,
     * as libxl */
    xlpci_host_step(ctx);
    if (xc_physdev_unmap_pirq(xch, domid, (int)irq) < 0)
        LOGE(ctx, WARN, "cannot unmap irq %u of %s from domain %u "
             "(xc_physdev_unmap_pirq)", irq, b, domid);
    return r < 0 ? XLPCI_ERR_FAIL : 0;
}

/* Revoke what dev_grant granted, from resource index `from` down, the irq
 * only if `irq` (every step tried). */
static int dev_revoke(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                      const char *b, const dev_res *r, unsigned from,
                      bool irq)
{
    int rc = 0, rc1;

    if (irq && r->irq) {
        rc1 = irq_perm(ctx, xch, domid, b, r->irq, false);
        rc = rc ? rc : rc1;
    }
    while (from-- > 0) {
        if (!bar_kind(&r->bars[from]))
            continue;
        rc1 = bar_perm(ctx, xch, domid, b, &r->bars[from], false);
        rc = rc ? rc : rc1;
    }
    return rc;
}

/* All of a device, or nothing. */
static int dev_grant(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                     const char *b, const dev_res *r)
{
    unsigned i;
    int rc;

    /* 1. every BAR, in resource order */
    for (i = 0; i < r->nbars; i++) {
        if (!bar_kind(&r->bars[i]))
            continue;
        rc = bar_perm(ctx, xch, domid, b, &r->bars[i], true);
        if (rc) {
            dev_revoke(ctx, xch, domid, b, r, i, false);
            return rc;
        }
    }
    /* 2. the legacy interrupt */
    if (r->irq) {
        rc = irq_perm(ctx, xch, domid, b, r->irq, true);
        if (rc) {
            dev_revoke(ctx, xch, domid, b, r, r->nbars, false);
            return rc;
        }
    }
    LOG(ctx, DETAIL, "domain %u may use %s (%u resource(s), irq %u)", domid,
        b, r->nbars, r->irq);
    return 0;
}

/* ---- the handle ------------------------------------------------------------ */

static bool xen_present(xlpci_ctx *ctx)
{
    char path[XLPCI_PATH_MAX + 32], buf[16];
    struct stat st;
    bool missing;

    snprintf(path, sizeof(path), "%s/hypervisor/type", ctx->sysfs_root);
    if (!read_small(ctx, path, buf, sizeof(buf), &missing) && !missing &&
        !strncmp(buf, "xen", 3))
        return true;
    return !stat("/dev/xen/privcmd", &st);
}

/* *xch_r = NULL (and 0): the hypervisor side is skipped.  reading: only
 * to read (the guest type): also in a dry run, and without the notice,
 * which the steps that would change something give. */
static int hv_open(xlpci_ctx *ctx, bool host, bool reading,
                   xc_interface **xch_r)
{
    *xch_r = NULL;
    if ((ctx->dry_run && !reading) || ctx->hv_mode == XLPCI_HV_NONE ||
        !host)
        return 0;
    if (ctx->hv_mode == XLPCI_HV_AUTO && !xen_present(ctx)) {
        if (!ctx->hv_noted && !reading)
            LOG(ctx, NOTICE, "Xen is not running (no %s/hypervisor/type): "
                "I/O memory, port and interrupt permissions are not "
                "granted, the IOMMU is not set up", ctx->sysfs_root);
        ctx->hv_noted = ctx->hv_noted || !reading;
        return 0;
    }
    *xch_r = xc_interface_open(ctx->lg, ctx->lg, 0);
    if (!*xch_r) {
        LOGE(ctx, ERROR, "cannot open libxenctrl to grant the guest access "
             "to its PCI devices (XLPCI_HYPERVISOR=none skips this)");
        return XLPCI_ERR_FAIL;
    }
    xlpci_iommu_probe(ctx, *xch_r);
    return 0;
}

int xlpci_hv_open(xlpci_ctx *ctx, bool host, xc_interface **xch_r)
{
    return hv_open(ctx, host, false, xch_r);
}

int xlpci_hv_open_read(xlpci_ctx *ctx, bool host, xc_interface **xch_r)
{
    return hv_open(ctx, host, true, xch_r);
}

/* Take back what xlpci_hv_grant gave a device: its grants (if granted),
 * its IOMMU context (if assigned). */
static void dev_undo(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                     const xlpci_bdf *bdf, const dev_res *r, bool granted,
                     bool assigned)
{
    char b[XLPCI_BDF_STRLEN];

    xlpci_bdf_format(bdf, b);
    if (granted)
        dev_revoke(ctx, xch, domid, b, r, r->nbars, true);
    if (assigned && xlpci_iommu_deassign(ctx, xch, domid, bdf))
        LOG(ctx, ERROR, "%s may stay in domain %u's IOMMU context", b,
            domid);
}

/*
 * Per device, in this order: reset, permissive, IOMMU assignment, the
 * grants; before that, for all devices (refuse before any change): the
 * domain type, the assignability (xc_test_assign_device), the resource
 * files.  A failure undoes the devices done so far, in reverse.
 *
 * hvm (xlpci_hv_grant_hvm): QEMU has the devices already; the domain type,
 * the assignability and the resets came before QEMU's device_add
 * (xlpci_hv_hvm_check and hvm.c, libxl's order), so only permissive, the
 * IOMMU assignment and the grants are left.
 */
static int grant(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                 size_t n, bool hvm, bool *granted_r)
{
    char b[XLPCI_BDF_STRLEN];
    xc_interface *xch;
    dev_res *res = NULL;
    bool *assigned = NULL;
    size_t i;
    int rc;

    *granted_r = false;
    if (!n)
        return 0;
    rc = xlpci_hv_open(ctx, true, &xch);
    if (rc)
        return rc;
    res = calloc(n, sizeof(*res));
    assigned = calloc(n, sizeof(*assigned));
    if (!res || !assigned) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    if (xch) {
        if (!hvm)
            rc = xlpci_iommu_domain_check(ctx, xch, domid);
        for (i = 0; !rc && !hvm && i < n; i++)
            rc = xlpci_iommu_test(ctx, xch, domid, &devs[i].bdf);
        for (i = 0; !rc && i < n; i++)
            rc = read_res(ctx, &devs[i].bdf, &res[i]);
        if (rc)
            goto out;
    }
    for (i = 0; i < n; i++) {
        if (!hvm)
            xlpci_reset(ctx, &devs[i].bdf);
        if (devs[i].permissive)
            rc = xlpci_permissive(ctx, &devs[i].bdf);
        if (rc || !xch)
            goto next;
        rc = xlpci_iommu_assign(ctx, xch, domid, &devs[i], &assigned[i]);
        if (!rc && hvm && !assigned[i]) {
            /* Xen said ENOSYS: libxl fails an HVM guest's device there */
            LOG(ctx, ERROR, "cannot assign %s to HVM domain %u: Xen has no "
                "IOMMU", xlpci_bdf_format(&devs[i].bdf, b), domid);
            rc = XLPCI_ERR_FAIL;
        }
        if (rc)
            goto next;
        rc = dev_grant(ctx, xch, domid, xlpci_bdf_format(&devs[i].bdf, b),
                       &res[i]);
        if (rc)
            dev_undo(ctx, xch, domid, &devs[i].bdf, &res[i], false,
                     assigned[i]);
    next:
        if (rc)
            break;
    }
    if (rc) {
        while (xch && i-- > 0)
            dev_undo(ctx, xch, domid, &devs[i].bdf, &res[i], true,
                     assigned[i]);
        goto out;
    }
    *granted_r = xch != NULL;
out:
    free(assigned);
    free(res);
    xc_interface_close(xch);
    return rc;
}

int xlpci_hv_grant(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                   size_t n, bool *granted_r)
{
    return grant(ctx, domid, devs, n, false, granted_r);
}

int xlpci_hv_grant_hvm(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                       size_t n, bool *granted_r)
{
    return grant(ctx, domid, devs, n, true, granted_r);
}

int xlpci_hv_hvm_check(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                       size_t n)
{
    xc_interface *xch;
    size_t i;
    int rc;

    rc = xlpci_hv_open(ctx, true, &xch);
    if (rc || !xch)
        return rc;
    rc = xlpci_iommu_domain_check_hvm(ctx, xch, domid);
    for (i = 0; !rc && i < n; i++)
        rc = xlpci_iommu_test(ctx, xch, domid, &devs[i].bdf);
    if (!rc && ctx->iommu_absent) {
        /* xc_test_assign_device said ENOSYS */
        LOG(ctx, ERROR, "Xen has no IOMMU: PCI devices cannot be passed "
            "through to HVM guests without one (libxl refuses too)");
        rc = XLPCI_ERR_FAIL;
    }
    xc_interface_close(xch);
    return rc;
}

/* The reverse of xlpci_hv_grant for one device: the grants, the IOMMU
 * context (confirmed: a device Xen has in another guest is kept, *kept),
 * then the reset if asked.  xch may be NULL (no hypervisor, or a domain
 * Xen no longer has): only the reset. */
static int release_one(xlpci_ctx *ctx, xc_interface *xch, bool gone,
                       uint32_t domid, const xlpci_bdf *bdf, bool reset,
                       bool *kept)
{
    char b[XLPCI_BDF_STRLEN];
    dev_res res;
    int rc = 0;

    xlpci_bdf_format(bdf, b);
    if (xch && gone) {
        /* Xen took the gone domain's access; xch only asks whether the
         * device is in a guest now (xl gave it to one since the release
         * was decided): then it is that guest's, and is not reset */
        if (reset && bdf->func == 0 &&
            xlpci_iommu_device_free(ctx, xch, bdf) == XLPCI_XEN_ASSIGNED) {
            LOG(ctx, NOTICE, "%s is not reset: Xen has it assigned to a "
                "guest (xc_test_assign_device), which holds it now; left "
                "as it is", b);
            if (kept)
                *kept = true;
            return XLPCI_ERR_EXISTS;
        }
        xch = NULL;
    }
    if (xch) {
        rc = read_res(ctx, bdf, &res);
        if (!rc)
            rc = dev_revoke(ctx, xch, domid, b, &res, res.nbars, true);
        if (rc)
            LOG(ctx, ERROR, "domain %u may still have access to %s", domid,
                b);
        else
            LOG(ctx, DETAIL, "domain %u: access to %s revoked", domid, b);
    }
    /* a device whose grants could not all be revoked stays in the guest's
     * context, as it stays recorded as the guest's; one that Xen has in
     * another guest is that guest's: neither is reset */
    if (xch && !rc) {
        rc = xlpci_iommu_deassign(ctx, xch, domid, bdf);
        if (rc == XLPCI_ERR_EXISTS && kept)
            *kept = true;
    }
    /* function 0 of the slot only (reset.c) */
    if (!rc && reset && bdf->func == 0)
        xlpci_reset(ctx, bdf);
    return rc;
}

/* In reverse order; every device is tried, the first error returned. */
int xlpci_hv_revoke(xlpci_ctx *ctx, bool host, uint32_t domid,
                    const xlpci_bdf *bdfs, size_t n, bool reset, bool *kept)
{
    xc_interface *xch;
    bool gone = false;
    int rc, rc1;

    if (kept)
        memset(kept, 0, n * sizeof(*kept));
    rc = xlpci_hv_open(ctx, host, &xch);
    if (rc)
        return rc;
    if (xch) {
        unsigned i;

        /* a domain Xen said is gone earlier in this operation stays gone */
        for (i = 0; i < ctx->nalive; i++)
            if (ctx->alive_known[i].domid == domid &&
                !ctx->alive_known[i].alive)
                break;
        rc = i < ctx->nalive ? 0 : xlpci_hv_domain_alive(ctx, xch, domid);
        if (rc < 0) {
            xc_interface_close(xch);
            return rc;
        }
        if (!rc) {
            LOG(ctx, DETAIL, "domain %u is gone: Xen took its permissions "
                "and IOMMU contexts back", domid);
            gone = true;
        }
        rc = 0;
    }
    if ((!xch || gone) && (!reset || ctx->dry_run || !host)) {
        if (xch)
            xc_interface_close(xch);
        return 0;
    }
    while (n-- > 0) {
        rc1 = release_one(ctx, xch, gone, domid, &bdfs[n], reset,
                          kept ? &kept[n] : NULL);
        rc = rc ? rc : rc1;
    }
    xc_interface_close(xch);
    return rc;
}

/* ---- what Xen says, for the ownership facts ------------------------------- */

void xlpci_xenq_init(xlpci_xenq *q, bool host)
{
    memset(q, 0, sizeof(*q));
    q->host = host;
}

/* The handle, opened at the first question (read only: also in a dry
 * run); NULL: Xen is not asked. */
static xc_interface *xenq_handle(xlpci_ctx *ctx, xlpci_xenq *q, int *rc)
{
    *rc = 0;
    if (!q->tried) {
        q->tried = true;
        *rc = xlpci_hv_open_read(ctx, q->host, &q->xch);
    }
    return q->xch;
}

int xlpci_xenq_alive(xlpci_ctx *ctx, xlpci_xenq *q, uint32_t domid,
                     int *alive_r)
{
    xc_interface *xch;
    unsigned i;
    int rc;

    *alive_r = -1;
    for (i = 0; i < q->n; i++)
        if (q->dom[i].domid == domid) {
            *alive_r = q->dom[i].alive;
            return 0;
        }
    xch = xenq_handle(ctx, q, &rc);
    /* what Xen said earlier in this operation (another xlpci_xenq) */
    for (i = 0; xch && i < ctx->nalive; i++)
        if (ctx->alive_known[i].domid == domid) {
            *alive_r = ctx->alive_known[i].alive;
            return 0;
        }
    if (rc || !xch)
        return rc;
    rc = xlpci_hv_domain_alive(ctx, xch, domid);
    if (rc < 0)
        return rc;
    *alive_r = rc;
    if (q->n < sizeof(q->dom) / sizeof(q->dom[0])) {
        q->dom[q->n].domid = domid;
        q->dom[q->n++].alive = rc;
    }
    return 0;
}

bool xlpci_xenq_asked(xlpci_ctx *ctx, xlpci_xenq *q)
{
    int rc;

    return xenq_handle(ctx, q, &rc) != NULL;
}

int xlpci_xenq_device(xlpci_ctx *ctx, xlpci_xenq *q, const xlpci_bdf *bdf)
{
    xc_interface *xch;
    int rc;

    xch = xenq_handle(ctx, q, &rc);
    return xch ? xlpci_iommu_device_free(ctx, xch, bdf) : XLPCI_XEN_UNKNOWN;
}

void xlpci_xenq_close(xlpci_xenq *q)
{
    xc_interface_close(q->xch);
    q->xch = NULL;
    q->tried = false;
    q->n = 0;
}

/* pci-assignable-add / -remove: into / out of the quarantine (dom_io),
 * with a handle of its own. */
int xlpci_hv_quarantine(xlpci_ctx *ctx, bool host, const xlpci_bdf *bdf,
                        bool into)
{
    xc_interface *xch;
    int rc;

    rc = xlpci_hv_open(ctx, host, &xch);
    if (rc || !xch)
        return rc;
    rc = into ? xlpci_iommu_quarantine(ctx, xch, bdf)
              : xlpci_iommu_deassign(ctx, xch, DOMID_IO, bdf);
    xc_interface_close(xch);
    return rc;
}

int xlpci_guest_type(xlpci_ctx *ctx, bool host, uint32_t domid,
                     int *type_r)
{
    xc_interface *xch;
    int rc;

    *type_r = XLPCI_GUEST_PV;
    ctx->dominfo_cached = false;
    rc = xlpci_hv_open_read(ctx, host, &xch);   /* also in a dry run */
    if (rc || !xch)
        return rc;                     /* no hypervisor side: the PV path */
    rc = xlpci_iommu_guest_type(ctx, xch, domid, type_r);
    xc_interface_close(xch);
    return rc;
}

int xlpci_guest_type_of(xlpci_ctx *ctx, bool host, uint32_t domid,
                        int *type_r)
{
    int rc;

    /* the domain's information is kept for the operation's first domain
     * check, as xlpci_guest_type's (Xen asked once) */
    ctx->guest_type_quiet = true;
    rc = xlpci_guest_type(ctx, host, domid, type_r);
    ctx->guest_type_quiet = false;
    return rc;
}

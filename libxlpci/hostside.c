/*
 * The host side of an assignment, around the xenstore steps of create and
 * attach: prepare (every device assignable and recorded as the domain's,
 * committed before xenstore is touched), grant (hypervisor.c), finish
 * (keep, or undo prepare).  Who holds a device is ownership.c's to say;
 * the release is there too (xlpci_release).  Called only when the
 * operation found the host side active (xlpci_host_active).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps.h"

/* ---- the host side of an assignment ------------------------------------ */

/* Undo xlpci_host_prepare: the marked devices are assignable again, the
 * seized ones go back to their drivers, unless the ownership decision
 * finds a live domain holds one by now (xl took it meanwhile): that one
 * is left on xen-pciback, recorded as that domain's.  bk stays locked. */
static void host_undo(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                      size_t n, xlpci_bk *bk, const unsigned char *how)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    xlpci_truth tr;
    size_t i;

    xlpci_truth_init(ctx, &tr, true);
    for (i = n; i-- > 0;) {
        xlpci_bk_dev *d = xlpci_bk_find(bk, &devs[i].bdf);
        unsigned char h = how[i] & XLPCI_HOST_HOW;

        if (h == XLPCI_HOST_KEPT || !d || d->domid != (int)domid)
            continue;
        d->domid = -1;
        d->pending = XLPCI_PENDING_NONE;
        if (h != XLPCI_HOST_SEIZED)
            continue;
        /* the record and backends; Xen's word comes with the way back
         * (the deassignment from dom_io is confirmed, iommu.c) */
        if (xlpci_owners_read(ctx, &tr, (int)domid, 1, &devs[i].bdf, NULL,
                              1, 0, &f, &v)) {
            d->domid = (int)domid;     /* cannot tell: keep it recorded */
            continue;
        }
        if (v.held == XLPCI_HELD_OTHER || v.held == XLPCI_HELD_XEN) {
            char b[XLPCI_BDF_STRLEN], why[300];

            xlpci_owner_text(&devs[i].bdf, &f, &v, why, sizeof(why));
            LOG(ctx, NOTICE, "%s stays on xen-pciback: %s",
                xlpci_bdf_format(&devs[i].bdf, b), why);
            d->domid = v.bk_to;
            continue;
        }
        xlpci_assignable_remove_locked(ctx, true, bk, &devs[i].bdf, true);
    }
    xlpci_truth_close(ctx, &tr);
}

/* Step 1 of create/attach: every device assignable (seize=1 makes it so,
 * "managed") and not assigned to another domain; then the intent: every
 * device recorded as assigned to domid and COMMITTED before xenstore is
 * touched.  A crash from here on leaves records that check --repair
 * compares with the backend (listed: assigned; not listed: released, a
 * managed device back to its driver).  The bookkeeping lock is released
 * once the intent is committed (the guest wait comes next); *ops, the
 * shared operations lock, is held until xlpci_host_finish, so check's
 * reconcile does not take the intent for a leftover meanwhile. */
int xlpci_host_prepare(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                       size_t n, xlpci_bk *bk, unsigned char *how, int *ops)
{
    return xlpci_host_prepare_pending(ctx, domid, devs, n, bk, how, ops,
                                      XLPCI_PENDING_NONE);
}

int xlpci_host_prepare_pending(xlpci_ctx *ctx, uint32_t domid,
                               const xlpci_dev *devs, size_t n, xlpci_bk *bk,
                               unsigned char *how, int *ops, int pending)
{
    xlpci_owner_facts *f = NULL;
    xlpci_owner_verdict *v = NULL;
    char b[XLPCI_BDF_STRLEN];
    xlpci_bdf *bdfs = NULL;
    xlpci_truth tr;
    int *bkd = NULL;
    size_t i;
    int rc;

    rc = xlpci_bk_op_begin(ctx, ops);
    if (rc)
        return rc;
    rc = xlpci_bk_open(ctx, bk);
    if (rc) {
        xlpci_bk_op_end(ops);
        return rc;
    }
    /* the intent and the finish are commits: a state directory that
     * cannot take them is found before a device is seized */
    rc = xlpci_bk_probe(ctx);
    if (rc) {
        xlpci_bk_close(bk);
        xlpci_bk_op_end(ops);
        return rc;
    }
    /* who holds them: the record, the backends of the domains it and the
     * bookkeeping name, whether those are alive (owner.c) */
    f = calloc(n + 1, sizeof(*f));
    v = calloc(n + 1, sizeof(*v));
    bdfs = calloc(n + 1, sizeof(*bdfs));
    bkd = calloc(n + 1, sizeof(*bkd));
    if (!f || !v || !bdfs || !bkd)
        rc = XLPCI_ERR_NOMEM;
    for (i = 0; !rc && i < n; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(bk, &devs[i].bdf);

        bdfs[i] = devs[i].bdf;
        bkd[i] = d ? d->domid : -1;
    }
    xlpci_truth_init(ctx, &tr, true);
    if (!rc)
        rc = xlpci_owners_read(ctx, &tr, (int)domid, 1, bdfs, bkd, n, 0, f,
                               v);
    for (i = 0; !rc && i < n; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(bk, &devs[i].bdf);

        xlpci_bdf_format(&devs[i].bdf, b);
        if (v[i].held == XLPCI_HELD_OTHER || v[i].held == XLPCI_HELD_XEN) {
            xlpci_owner_refuse(ctx, &devs[i].bdf, &f[i], &v[i]);
            rc = XLPCI_ERR_EXISTS;
            break;
        }
        if (d && d->domid >= 0 && d->domid != (int)domid && d->pending) {
            /* what only xlpci knows: a QEMU step of a live domain whose
             * outcome is unknown (QEMU may have the device) */
            xlpci_owner_cand *oc = xlpci_owner_cand_find(&f[i],
                                                         (uint32_t)d->domid);

            if (!oc || oc->alive) {
                LOG(ctx, ERROR, "PCI device %s is already assigned to "
                    "domain %d: its QEMU may still have it (the outcome of "
                    "a %s is unknown): `xlpci check --repair %d` settles "
                    "it, `xlpci pci-detach -f %d %s` releases it", b,
                    d->domid, d->pending == XLPCI_PENDING_ADD
                    ? "device_add" : "device_del", d->domid, d->domid, b);
                rc = XLPCI_ERR_EXISTS;
                break;
            }
        }
        if (d && d->domid >= 0 && d->domid != (int)domid) {
            /* the bookkeeping named a domain that holds nothing now */
            LOG(ctx, DETAIL, "correction: devices.json said %s was domain "
                "%d's; domain %d %s: %s is free", b, d->domid, d->domid,
                v[i].stale == d->domid ? "is gone"
                                       : "holds it no more (no record or "
                                         "live backend names it)", b);
            d->domid = -1;
        }
        how[i] = d && d->domid >= 0 ? XLPCI_HOST_KEPT : XLPCI_HOST_MARKED;
        if (v[i].held == XLPCI_HELD_SELF && v[i].by_record)
            how[i] |= XLPCI_HOST_OWNED;
        if (xlpci_sysfs_on_pciback(ctx, &devs[i].bdf))
            continue;
        if (!devs[i].seize) {
            LOG(ctx, ERROR, "PCI device %s is not assignable (not bound to "
                "xen-pciback): use pci-assignable-add, or seize=1", b);
            rc = XLPCI_ERR_FAIL;
            break;
        }
        rc = xlpci_assignable_add_locked(ctx, bk, &devs[i].bdf, NULL, true);
        if (rc)
            break;
        how[i] = (how[i] & ~XLPCI_HOST_HOW) | XLPCI_HOST_SEIZED;
    }
    for (i = 0; !rc && i < n; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(bk, &devs[i].bdf);

        if (!d && !(d = xlpci_bk_add(bk, &devs[i].bdf))) {
            rc = XLPCI_ERR_NOMEM;
        } else {
            d->domid = (int)domid;
            d->pending = pending;
        }
    }
    if (!rc)
        rc = xlpci_bk_commit(ctx, bk);
    if (rc) {
        host_undo(ctx, domid, devs, n, bk, how);
        xlpci_bk_commit(ctx, bk);
    }
    xlpci_truth_close(ctx, &tr);
    free(f);
    free(v);
    free(bdfs);
    free(bkd);
    xlpci_bk_close(bk);                /* never held across a guest wait */
    if (rc)
        xlpci_bk_op_end(ops);
    return rc;
}

/* The last step: keep the assignment (ok), or undo xlpci_host_prepare, under
 * the bookkeeping lock taken again (with a timeout).  Releases *ops. */
int xlpci_host_finish(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                      size_t n, xlpci_bk *bk, const unsigned char *how,
                      bool ok, int *ops)
{
    int rc = 0;

    if (!ok) {
        rc = xlpci_bk_open(ctx, bk);
        if (!rc) {
            host_undo(ctx, domid, devs, n, bk, how);
            rc = xlpci_bk_commit(ctx, bk);
            xlpci_bk_close(bk);
        }
    }
    xlpci_bk_op_end(ops);
    return rc;
}

int xlpci_host_pending(xlpci_ctx *ctx, uint32_t domid, const xlpci_bdf *bdfs,
                       size_t n, int pending)
{
    return xlpci_host_pending_each(ctx, domid, bdfs, n, pending, NULL, NULL);
}

int xlpci_host_pending_each(xlpci_ctx *ctx, uint32_t domid,
                            const xlpci_bdf *bdfs, size_t n, int pending,
                            const int *each, int *prev)
{
    bool changed = false;
    xlpci_bk bk;
    size_t i;
    int rc;

    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(&bk, &bdfs[i]);
        int want = each ? each[i] : pending;

        if (prev)
            prev[i] = d && d->domid == (int)domid ? d->pending
                                                   : XLPCI_PENDING_NONE;
        if (!d || d->domid != (int)domid || d->pending == want)
            continue;
        d->pending = want;
        changed = true;
    }
    if (changed)
        rc = xlpci_bk_commit(ctx, &bk);
    xlpci_bk_close(&bk);
    return rc;
}

/* Step 2 of create/attach, under the bookkeeping lock: the hypervisor
 * grants (hypervisor.c) for the devices no backend lists yet, before
 * xenstore shows them to the guest.  A device another domain has is
 * refused here, before anything is granted; one this domain's backend
 * already lists keeps its grants (the transaction then decides).  The
 * devices granted go to *sub_r (a malloc'd copy, *nsub_r of them) for a
 * rollback. */
/* Xen refused a device (xc_test_assign_device: assigned to a guest it
 * does not name): which guest, if a backend says so, and the way out. */
static void name_xen_holder(xlpci_ctx *ctx, uint32_t domid,
                            const xlpci_bdf *bdfs, size_t n)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    xlpci_truth tr;
    size_t i;

    xlpci_truth_init(ctx, &tr, true);
    for (i = 0; i < n; i++)
        if (!xlpci_owners_read(ctx, &tr, (int)domid, 1, &bdfs[i], NULL, 1,
                               XLPCI_FIND_XEN | XLPCI_FIND_SEARCH, &f, &v) &&
            (v.held == XLPCI_HELD_OTHER || v.held == XLPCI_HELD_XEN))
            xlpci_owner_refuse(ctx, &bdfs[i], &f, &v);
    xlpci_truth_close(ctx, &tr);
}

int xlpci_host_grant(xlpci_ctx *ctx, uint32_t domid, const xlpci_dev *devs,
                     size_t n, const unsigned char *how,
                     xlpci_bdf **granted_r, size_t *ngranted_r)
{
    xlpci_dev *sub;
    xlpci_bdf *bdfs;
    size_t i, k = 0;
    bool granted;
    int rc = 0;

    *granted_r = NULL;
    *ngranted_r = 0;
    sub = calloc(n ? n : 1, sizeof(*sub));
    bdfs = calloc(n ? n : 1, sizeof(*bdfs));
    if (!sub || !bdfs) {
        free(sub);
        free(bdfs);
        return XLPCI_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        if (how[i] & XLPCI_HOST_OWNED)
            continue;                  /* the domain's already: granted */
        bdfs[k] = devs[i].bdf;
        sub[k++] = devs[i];            /* shallow: only read */
    }
    rc = xlpci_hv_grant(ctx, domid, sub, k, &granted);
    if (!rc && granted) {
        *granted_r = bdfs;
        *ngranted_r = k;
        bdfs = NULL;
    }
    if (rc == XLPCI_ERR_EXISTS)
        name_xen_holder(ctx, domid, bdfs, k);
    free(sub);
    free(bdfs);
    return rc;
}
/* Without xen-pciback only xenstore is written: the devices were neither
 * checked nor bound, which the administrator should know (xl refuses a
 * device that is not assignable). */
void xlpci_host_absent_notice(xlpci_ctx *ctx, uint32_t domid)
{
    LOG(ctx, NOTICE, "domain %u: xen-pciback is not loaded (no %s/bus/pci/"
        "drivers/pciback): only xenstore was written; the devices were "
        "not checked or bound to pciback", domid, ctx->sysfs_root);
}

/*
 * The host half of `xlpci check [--repair] <domain>`: the bookkeeping
 * (bookkeeping.c) is corrected FROM the shared state, never the reverse,
 * and every record must describe a finished state.  check's transaction
 * found the domain's devices and who holds each (owner.c); here:
 *
 *   listed in its backend, the domain holds it
 *       the bookkeeping must say so: recorded (a device another toolstack
 *       attached, or a lost state file), or corrected (it named a domain
 *       that holds it no more);
 *   recorded for the domain, not in its backend
 *       an attach/create that never committed, or a detach that removed
 *       the index but not the record: released after its verdict
 *       (ownership.c): the hypervisor's grants revoked, reset, assignable,
 *       a managed device back to its driver; a device another live
 *       domain holds (xl gave it away meanwhile) is not touched, the
 *       bookkeeping names that domain;
 *   managed but assigned to nobody
 *       seize=1 stopped half way: back to its driver, unless a live
 *       domain holds it (then recorded as that domain's);
 *   recorded as assignable but not bound to xen-pciback
 *       pci-assignable-add stopped half way: back to its driver;
 *   recorded as assignable, on xen-pciback, "quarantining"
 *       pci-assignable-add stopped before its quarantine, or -remove
 *       after taking the device out of it: into dom_io (again), as an
 *       assignable device is (iommu.c).
 *
 * Runs with the operations lock held exclusively (a create/attach holds
 * it shared from its intent to its finish, across its guest wait) and
 * under the bookkeeping lock, so a running xlpci operation is never seen
 * half way; both are taken with a timeout (by check, before its
 * transaction, for a live domain).  Only when the host side is active
 * (xen-pciback in the sysfs root).
 */
#include <stdlib.h>
#include <string.h>

#include "flows.h"

/* Give a device back to the driver it came from, forgetting the record. */
static int give_back(xlpci_ctx *ctx, xlpci_bk *bk, const xlpci_bdf *bdf)
{
    xlpci_bdf copy = *bdf;             /* the record goes away */

    return xlpci_assignable_remove_locked(ctx, true, bk, &copy, true);
}

/* The domain's devices, as check found them. */
static int domain_devices(xlpci_ctx *ctx, uint32_t domid, xlpci_bk *bk,
                          const xlpci_checked *dev, size_t n, bool repair,
                          bool *changed, unsigned *found, unsigned *left)
{
    char b[XLPCI_BDF_STRLEN];
    xlpci_release_count cnt;
    size_t i;
    int rc = 0;

    for (i = 0; !rc && i < n; i++) {
        const xlpci_checked *c = &dev[i];
        xlpci_bk_dev *d = xlpci_bk_find(bk, &c->bdf);

        xlpci_bdf_format(&c->bdf, b);
        if (c->listed) {
            if (c->v.held != XLPCI_HELD_SELF || c->v.rival >= 0 ||
                (d && d->domid == (int)domid))
                continue;              /* fine, or check said (unfixable) */
            (*found)++;
            if (d && d->domid >= 0)
                LOG(ctx, WARN, "domain %u: its backend lists %s, which "
                    "devices.json gives to domain %d (%s)", domid, b,
                    d->domid, c->v.stale == d->domid
                    ? "gone" : "which holds it no more");
            else
                LOG(ctx, WARN, "domain %u: its backend lists %s, which is "
                    "not recorded as assigned to it", domid, b);
            if (!repair) {
                (*left)++;
                continue;
            }
            if (!d && !(d = xlpci_bk_add(bk, &c->bdf)))
                return XLPCI_ERR_NOMEM;
            d->domid = (int)domid;
            *changed = true;
            continue;
        }
        if (!d || d->domid != (int)domid)
            continue;                  /* a record only: check's */
        if (d->pending)
            continue;                  /* a QEMU step whose outcome only
                                        * QEMU can tell: the check of the
                                        * HVM guest settles it
                                        * (xlpci_hvm_check_qemu), never a
                                        * release under QEMU's feet */
        (*found)++;
        LOG(ctx, WARN, "domain %u: %s is recorded as assigned to it but "
            "its backend does not list it (an interrupted attach or "
            "detach)", domid, b);
        if (!repair) {
            (*left)++;
            continue;
        }
        /* released after its verdict: nothing of a device a live domain
         * holds is touched */
        rc = xlpci_release_decided(ctx, true, domid, &c->bdf, &c->f, &c->v,
                                   1, NULL, XLPCI_REL_HV | XLPCI_REL_BK, bk,
                                   &cnt);
        *changed = true;
        if (rc == XLPCI_ERR_EXISTS) {
            rc = 0;                    /* Xen has it in another guest */
            (*left)++;
        } else if (rc) {
            rc = 0;                    /* the guest may still reach it */
            (*left)++;
        }
    }
    return rc;
}

/* May the host take back a device the bookkeeping gives to nobody?  Not
 * if a live domain holds it (xl assigned it meanwhile): then it is
 * recorded as that domain's (*holder_r). */
static bool nobody_holds(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                         int *holder_r)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    xlpci_truth tr;
    char b[XLPCI_BDF_STRLEN], why[300];
    int rc;

    *holder_r = -1;
    xlpci_truth_init(ctx, &tr, true);
    rc = xlpci_owners_read(ctx, &tr, -1, -1, bdf, NULL, 1,
                           XLPCI_FIND_XEN | XLPCI_FIND_SEARCH, &f, &v);
    xlpci_truth_close(ctx, &tr);
    if (rc)
        return false;                  /* cannot tell: leave it */
    if (v.held == XLPCI_HELD_NONE)
        return true;
    xlpci_owner_text(bdf, &f, &v, why, sizeof(why));
    LOG(ctx, NOTICE, "%s is left on xen-pciback: %s",
        xlpci_bdf_format(bdf, b), why);
    *holder_r = v.holder;
    return false;
}

int xlpci_host_reconcile(xlpci_ctx *ctx, bool host, uint32_t domid,
                         xlpci_bk *locked, const xlpci_checked *dev,
                         size_t n, bool repair, unsigned *left_r)
{
    unsigned found = 0, left = 0;
    char b[XLPCI_BDF_STRLEN];
    bool changed = false;
    xlpci_bk own, *bk = locked ? locked : &own;
    size_t i;
    int rc, ops = -1, holder;

    *left_r = 0;
    if (!host)
        return 0;
    if (!locked) {
        /* no create/attach between its intent and its finish */
        rc = xlpci_bk_quiesce(ctx, &ops);
        if (rc)
            return rc;
        rc = xlpci_bk_open(ctx, bk);
        if (!rc && repair)
            rc = xlpci_bk_probe(ctx);
        if (rc) {
            if (bk->lockfd >= 0)
                xlpci_bk_close(bk);
            xlpci_bk_op_end(&ops);
            return rc;
        }
    }

    /* 1. the domain's devices */
    rc = domain_devices(ctx, domid, bk, dev, n, repair, &changed, &found,
                        &left);
    if (rc)
        goto out;

    /* 2. the host-wide leftovers: restart after each give-back (it
     * deletes one) */
    for (i = 0; i < bk->n; i++) {
        xlpci_bk_dev *d = &bk->v[i];
        xlpci_bdf bdf = d->bdf;

        xlpci_bdf_format(&bdf, b);
        if (d->domid < 0 &&
            (d->managed || !xlpci_sysfs_on_pciback(ctx, &bdf))) {
            found++;
            LOG(ctx, WARN, "%s is recorded as %s but %s (an interrupted "
                "%s)", b, d->managed ? "managed" : "assignable",
                d->managed ? "no domain has it" : "not bound to xen-pciback",
                d->managed ? "seize=1" : "pci-assignable-add");
            if (!repair) {
                left++;
                continue;
            }
            changed = true;
            if (d->managed && !nobody_holds(ctx, &bdf, &holder)) {
                if (holder >= 0)
                    d->domid = holder; /* a correction: it is that one's */
                else
                    left++;
                continue;
            }
            if (give_back(ctx, bk, &bdf))
                left++;
            else
                i = (size_t)-1;        /* the record went: start over */
        } else if (d->domid < 0 && d->quarantining) {
            found++;
            LOG(ctx, WARN, "%s is assignable but may be out of the IOMMU "
                "quarantine (an interrupted pci-assignable-add or -remove)",
                b);
            if (!repair || xlpci_hv_quarantine(ctx, true, &bdf, true)) {
                left++;
                continue;
            }
            d->quarantining = false;
            changed = true;
        }
    }
    if (changed)
        rc = xlpci_bk_commit(ctx, bk);
    if (!rc && found > left)
        LOG(ctx, NOTICE, "domain %u: bookkeeping: repaired %u problem(s)",
            domid, found - left);
    *left_r = left;
out:
    if (!locked) {
        xlpci_bk_close(bk);
        xlpci_bk_op_end(&ops);
    }
    return rc;
}

/*
 * The host half of `xlpci check [--repair] <domain>`: the bookkeeping
 * (bookkeeping.c) must agree with the domain's backend in xenstore, and
 * every record must describe a finished state.  What an interrupted
 * operation leaves, and what the repair does (every create/attach commits
 * its records as the intent BEFORE xenstore or the hypervisor is touched,
 * so these are the only leftovers):
 *
 *   recorded for the domain, not in its backend
 *       an attach/create that never committed, or a detach that removed
 *       the index but not the record: revoke the hypervisor grants
 *       (idempotent), mark it assignable, a managed device goes back to
 *       its driver;
 *   in the backend, not recorded for the domain
 *       written by another toolstack, or the state file was lost: record
 *       it (if no other domain has it; that conflict is only reported);
 *   managed but assigned to nobody
 *       seize=1 stopped half way: back to its driver;
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
 * half way; both are taken with a timeout.
 * Only when the host side is active (xen-pciback in the sysfs root).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    uint32_t domid;
    xlpci_bdf *v;
    size_t n;
    bool corrupt;
    bool domain_exists;
} listed_arg;

static int listed_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    listed_arg *a = varg;
    char err[256];
    xlpci_view view;
    xlpci_entry e;
    unsigned i;
    int rc;

    free(a->v);
    a->v = NULL;
    a->n = 0;
    a->corrupt = false;
    snprintf(err, sizeof(err), "/local/domain/%u", a->domid);
    rc = xlpci_xs_exists(ctx, t, err, &a->domain_exists);
    if (rc)
        return rc;
    rc = xlpci_view_read(ctx, t, a->domid, &view);
    if (rc) {
        xlpci_view_dispose(&view);
        return rc;
    }
    if (xlpci_view_check(&view, a->domid, err, sizeof(err))) {
        a->corrupt = true;
        goto out;
    }
    a->v = calloc(view.num_devs + 1, sizeof(*a->v));
    if (!a->v) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < view.num_devs; i++) {
        if (xlpci_view_entry(&view, i, &e, err, sizeof(err))) {
            a->corrupt = true;
            break;
        }
        a->v[a->n++] = e.dev.bdf;
        xlpci_dev_dispose(&e.dev);
        free(e.vdev);
    }
out:
    xlpci_view_dispose(&view);
    return rc;
}

static bool listed(const listed_arg *a, const xlpci_bdf *bdf)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        if (!xlpci_bdf_cmp(&a->v[i], bdf))
            return true;
    return false;
}

/* Give a device back to the driver it came from, forgetting the record. */
static int give_back(xlpci_ctx *ctx, xlpci_bk *bk, const xlpci_bdf *bdf)
{
    xlpci_bdf copy = *bdf;             /* the record goes away */

    return xlpci_assignable_remove_locked(ctx, true, bk, &copy, true);
}

int xlpci_host_reconcile(xlpci_ctx *ctx, bool host, uint32_t domid,
                         bool repair,
                         unsigned *left_r)
{
    listed_arg a = { domid, NULL, 0, false, false };
    unsigned found = 0, left = 0;
    char b[XLPCI_BDF_STRLEN];
    bool changed = false;
    xlpci_bk bk;
    size_t i;
    int rc, ops = -1;

    *left_r = 0;
    if (!host)
        return 0;
    /* no create/attach between its intent and its finish */
    rc = xlpci_bk_quiesce(ctx, &ops);
    if (rc)
        return rc;
    rc = xlpci_bk_open(ctx, &bk);
    if (!rc && repair)
        rc = xlpci_bk_probe(ctx);
    if (rc) {
        if (bk.lockfd >= 0)
            xlpci_bk_close(&bk);
        xlpci_bk_op_end(&ops);
        return rc;
    }
    rc = xlpci_txn_read(ctx, "check (bookkeeping)", listed_body, &a);
    if (rc)
        goto out;
    if (a.corrupt) {
        /* the xenstore half reported it; nothing to compare with */
        goto out;
    }

    /* 1. the records: restart after each give-back (it deletes one) */
    for (i = 0; i < bk.n; i++) {
        xlpci_bk_dev *d = &bk.v[i];
        xlpci_bdf bdf = d->bdf;

        xlpci_bdf_format(&bdf, b);
        if (d->domid == (int)domid && d->pending) {
            /* a QEMU step whose outcome only QEMU can tell: the check of
             * the HVM guest settles it (xlpci_hvm_check_qemu), never a
             * release under QEMU's feet */
            continue;
        }
        if (d->domid == (int)domid && !listed(&a, &bdf)) {
            found++;
            LOG(ctx, WARN, "domain %u: %s is recorded as assigned to it but "
                "its backend does not list it (an interrupted attach or "
                "detach)", domid, b);
            if (!repair) {
                left++;
                continue;
            }
            /* a domain that is gone took its permissions with it */
            if (a.domain_exists && xlpci_hv_revoke(ctx, true, domid, &bdf, 1,
                                                   true)) {
                left++;                /* the guest may still reach it */
                continue;
            }
            d->domid = -1;
            d->pending = XLPCI_PENDING_NONE;
            changed = true;
            if (!d->managed)
                continue;
            if (give_back(ctx, &bk, &bdf))
                left++;
            else
                i = (size_t)-1;        /* the record went: start over */
        } else if (d->domid < 0 &&
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
            if (give_back(ctx, &bk, &bdf))
                left++;
            else
                i = (size_t)-1;
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

    /* 2. the backend's devices */
    for (i = 0; i < a.n; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(&bk, &a.v[i]);

        if (d && d->domid == (int)domid)
            continue;
        found++;
        xlpci_bdf_format(&a.v[i], b);
        if (d && d->domid >= 0) {
            LOG(ctx, WARN, "domain %u: its backend lists %s, which is "
                "recorded as assigned to domain %d (not repaired: check "
                "that domain)", domid, b, d->domid);
            left++;
            continue;
        }
        LOG(ctx, WARN, "domain %u: its backend lists %s, which is not "
            "recorded as assigned to it", domid, b);
        if (!repair) {
            left++;
            continue;
        }
        if (!d && !(d = xlpci_bk_add(&bk, &a.v[i]))) {
            rc = XLPCI_ERR_NOMEM;
            goto out;
        }
        d->domid = (int)domid;
        changed = true;
    }
    if (changed)
        rc = xlpci_bk_commit(ctx, &bk);
    if (!rc && found > left)
        LOG(ctx, NOTICE, "domain %u: bookkeeping: repaired %u problem(s)",
            domid, found - left);
    *left_r = left;
out:
    xlpci_bk_close(&bk);
    xlpci_bk_op_end(&ops);
    free(a.v);
    return rc;
}

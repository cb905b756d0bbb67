/*
 * create, the domain-create path: resolve the devices, the host side
 * (prepare, grant), backend/pci/<domid> made, then the whole backend and
 * frontend in ONE transaction (create_body; run again once if some
 * device's /libxl/pci/<bdf> had to be made first, libxlnode.c); the host
 * side kept or undone with the outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
    unsigned flags;
    bool *missing;                     /* per device: no /libxl/pci/<bdf> */
} create_arg;

static int create_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    create_arg *a = varg;
    xlpci_view view;
    char *name = NULL;
    char be[XLPCI_PATH_MAX], err[64];
    unsigned i;
    size_t j;
    int rc;

    xlpci_view_init(&view);
    rc = xlpci_domain_read(ctx, t, a->domid, &name);
    if (rc) goto out;
    /* Only this domain's nodes and the devices' ownership records are
     * read: creates of different domains do not conflict. */
    rc = (a->flags & XLPCI_CREATE_REPLACE)
         ? xlpci_view_read(ctx, t, a->domid, &view) /* replaced whole */
         : xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc == XLPCI_ERR_CORRUPT && (a->flags & XLPCI_CREATE_REPLACE))
        rc = 0;
    if (rc) goto out;
    if (view.exists && !(a->flags & XLPCI_CREATE_REPLACE)) {
        xlpci_be_path(be, a->domid);
        LOG(ctx, ERROR, "domain %u already has a PCI backend with %u "
            "device(s) at %s; use pci-attach to add devices, or create -f "
            "to replace it", a->domid, view.num_devs, be);
        rc = XLPCI_ERR_EXISTS;
        goto out;
    }
    rc = xlpci_owner_claim(ctx, t, ops, a->domid, a->devs, a->n,
                           a->missing);
    /* create -f: the replaced devices that are not created again are no
     * longer this domain's */
    for (i = 0; !rc && i < view.num_devs; i++) {
        const char *dev = view.keys ? view.keys[i][XLPCI_KEY_DEV] : NULL;
        xlpci_bdf bdf;

        if (!dev || xlpci_bdf_parse(dev, &bdf, err, sizeof(err)))
            continue;
        for (j = 0; j < a->n && xlpci_bdf_cmp(&bdf, &a->devs[j].bdf); j++)
            ;
        if (j == a->n)
            rc = xlpci_owner_drop(ctx, t, ops, a->domid, &bdf, 1);
    }
    if (rc) goto out;
    rc = xlpci_layout_create(ops, a->domid, name, a->devs, a->n);
out:
    free(name);
    xlpci_view_dispose(&view);
    return rc;
}

int xlpci_create(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *specs,
                 size_t nspecs, const xlpci_defaults *defs, unsigned flags)
{
    XLPCI_OP(ctx);
    create_arg a = { domid, NULL, 0, flags, NULL };
    xlpci_prepared prep = { NULL, 0 };
    xlpci_dev *devs = NULL;
    xlpci_bdf *granted = NULL;
    size_t ngranted = 0;
    unsigned char *how = NULL;
    unsigned tries = 0;
    bool pciback, host;
    xlpci_bk bk;
    xlpci_truth tr;                    /* who is alive, for the claim */
    int rc, ops = -1;
    bool done;

    rc = xlpci_check_domid(ctx, domid);
    if (rc)
        return rc;
    if (!nspecs) {
        LOG(ctx, ERROR, "create: no PCI devices given");
        return XLPCI_ERR_INVAL;
    }
    pciback = xlpci_host_active(ctx);  /* once for the whole operation */
    xlpci_truth_init(ctx, &tr, pciback);
    rc = xlpci_resolve_devs(ctx, pciback, specs, nspecs, defs, &devs, &a.n);
    if (rc)
        goto out;
    a.devs = devs;
    if (a.n > XLPCI_MAX_DEVS) {
        LOG(ctx, ERROR, "create: %zu devices given; a PCI backend holds at "
            "most %u (the protocol's limit)", a.n, XLPCI_MAX_DEVS);
        rc = XLPCI_ERR_INVAL;
        goto out;
    }
    /* the guest type decides the path: HVM guests' devices go through
     * QEMU (hvm.c); PVH guests are refused */
    rc = xlpci_hvm_route(ctx, pciback, domid, specs, nspecs, devs, a.n,
                         true, flags, &done);
    if (done)
        goto out;
    host = !ctx->dry_run && pciback;
    how = calloc(a.n + 1, sizeof(*how));
    a.missing = calloc(a.n + 1, sizeof(*a.missing));
    if (!how || !a.missing) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    if (host) {
        rc = xlpci_host_prepare(ctx, domid, devs, a.n, &bk, how, &ops);
        if (rc) goto out;
        rc = xlpci_host_grant(ctx, domid, devs, a.n, how, &granted,
                              &ngranted);
    }
    if (!rc)
        rc = xlpci_backend_parent_prepare(ctx, domid, true, &prep);
    if (!rc)
        rc = xlpci_txn_run(ctx, "create", create_body, &a);
    while ((rc = xlpci_claim_retry(ctx, "create", rc, &tries, devs, a.n,
                                   a.missing, &prep)) == XLPCI_TXN_PREPARE)
        rc = xlpci_txn_run(ctx, "create", create_body, &a);
    if (rc)
        xlpci_parents_prune(ctx, &prep);
    xlpci_prepared_dispose(&prep);
    if (rc && granted)
        xlpci_hv_revoke(ctx, true, domid, granted, ngranted, false, NULL);
    if (host) {
        int hrc = xlpci_host_finish(ctx, domid, devs, a.n, &bk, how, !rc,
                                    &ops);

        rc = rc ? rc : hrc;
    }
    if (!rc && !ctx->dry_run && !host)
        xlpci_host_absent_notice(ctx, domid);
    if (!rc && !ctx->dry_run)
        LOG(ctx, DETAIL, "domain %u: PCI backend created with %zu device(s) "
            "in one transaction", domid, a.n);
out:
    xlpci_truth_close(ctx, &tr);
    xlpci_guest_forget(ctx);
    free(granted);
    free(how);
    free(a.missing);
    xlpci_devs_free(devs, a.n);
    return rc;
}

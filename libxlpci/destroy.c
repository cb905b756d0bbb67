/*
 * `xlpci destroy <domain>`: the domain-destroy path (libxl's
 * libxl__device_pci_destroy_all).  Every device of a domain that is gone
 * or going is released without asking the guest:
 *
 *   1. the hypervisor side (hypervisor.c, as pci-detach does after the
 *      guest released a device): permissions revoked, function 0 reset,
 *      IOMMU context deassigned (back to quarantine).  Also when only the
 *      xenstore directory is gone and Xen still has the (dying) domain; a
 *      domain Xen no longer has took them with it, so that is skipped;
 *   2. ONE transaction removes the backend and frontend directories, the
 *      per-domain parents, pciback's error node and every ownership record
 *      (/libxl/pci/<bdf>/domid) naming the domain; nothing is ever
 *      written below /local/domain/<domid>, so a gone domain stays gone;
 *   3. the host side: the release pci-detach uses (hostside.c,
 *      xlpci_host_release): the records say assignable again, managed
 *      devices go back to their drivers.
 *
 * What the domain holds is the union of its backend's devices, the
 * ownership records naming it and the bookkeeping records naming it, so
 * a run interrupted after any step finds the rest the next time: destroy
 * is idempotent ("nothing to do" when nothing is held), and check
 * --repair of a gone domain runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DOMID_FIRST_RESERVED 0x7ff0u

typedef struct {
    uint32_t domid;
    bool exists;                       /* /local/domain/<domid> */
    bool backend;                      /* some backend or frontend node */
    bool lookup;                       /* read only, plan nothing */
    xlpci_bdf *v;                      /* the devices it holds */
    size_t n;
    size_t nbackend, nnode;            /* of which: listed, recorded */
} held_arg;

static int held_add(held_arg *a, const xlpci_bdf *bdf)
{
    xlpci_bdf *nv;
    size_t i;

    for (i = 0; i < a->n; i++)
        if (!xlpci_bdf_cmp(&a->v[i], bdf))
            return 0;
    nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
    if (!nv)
        return XLPCI_ERR_NOMEM;
    a->v = nv;
    a->v[a->n++] = *bdf;
    return 0;
}

/* Read what the domain holds in xenstore and plan its removal. */
static int destroy_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                        void *varg)
{
    held_arg *a = varg;
    char path[XLPCI_PATH_MAX], err[64];
    xlpci_bdf *named = NULL;
    size_t nn = 0, i;
    xlpci_view view;
    xlpci_bdf bdf;
    bool fe;
    int rc;

    a->n = a->nbackend = a->nnode = 0;
    a->backend = false;
    xlpci_view_init(&view);
    rc = xlpci_domain_exists(ctx, t, a->domid, &a->exists);
    if (!rc) rc = xlpci_view_read(ctx, t, a->domid, &view);
    if (rc == XLPCI_ERR_CORRUPT)
        rc = 0;                        /* removed wholesale all the same */
    if (rc) goto out;
    for (i = 0; view.keys && i < view.num_devs; i++) {
        const char *dev = view.keys[i][XLPCI_KEY_DEV];

        if (dev && !xlpci_bdf_parse(dev, &bdf, err, sizeof(err))) {
            rc = held_add(a, &bdf);
            if (rc) goto out;
        }
    }
    a->nbackend = a->n;
    rc = xlpci_owner_list(ctx, t, a->domid, &named, &nn);
    for (i = 0; !rc && i < nn; i++) {
        a->nnode++;
        rc = held_add(a, &named[i]);
    }
    if (rc) goto out;
    /* the frontend, only if the domain still has one: never create below
     * /local/domain/<domid> */
    xlpci_fe_path(path, a->domid);
    rc = xlpci_xs_exists(ctx, t, path, &fe);
    if (rc) goto out;
    a->backend = view.dir_exists || fe;
    if (a->lookup || (!a->backend && !a->nnode)) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    if (view.dir_exists) {
        xlpci_be_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
        snprintf(path, sizeof(path), "/local/domain/0/error/backend/pci/%u",
                 a->domid);
        if (!rc) rc = xlpci_ops_rm(ops, path);
    }
    if (!rc && fe) {
        xlpci_fe_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
    }
    if (!rc) rc = xlpci_parents_cleanup(ctx, t, ops, a->domid);
    if (!rc) rc = xlpci_owner_drop(ctx, t, ops, a->domid, a->v, a->n);
out:
    free(named);
    xlpci_view_dispose(&view);
    return rc;
}

/* The bookkeeping records naming the domain (an interrupted destroy or
 * detach may have left only those). */
static int records_held(xlpci_ctx *ctx, bool host, held_arg *a,
                        size_t *nrec_r)
{
    xlpci_bk bk;
    size_t i;
    int rc;

    *nrec_r = 0;
    if (!host)
        return 0;
    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    for (i = 0; !rc && i < bk.n; i++)
        if (bk.v[i].domid == (int)a->domid) {
            (*nrec_r)++;
            rc = held_add(a, &bk.v[i].bdf);
        }
    xlpci_bk_close(&bk);
    return rc;
}

static void report(xlpci_ctx *ctx, const held_arg *a, size_t nrec)
{
    char b[XLPCI_BDF_STRLEN];
    size_t i;

    if (a->backend)
        LOG(ctx, WARN, "domain %u%s: its PCI backend/frontend entries are "
            "still in xenstore", a->domid, a->exists ? "" : " (gone)");
    for (i = 0; i < a->n; i++)
        LOG(ctx, WARN, "domain %u%s still holds PCI device %s (%s)",
            a->domid, a->exists ? "" : " (gone)",
            xlpci_bdf_format(&a->v[i], b),
            i < a->nbackend ? "listed in its backend"
            : i < a->nbackend + a->nnode ? "named by its /libxl/pci record"
            : "in the bookkeeping");
    (void)nrec;
}

int xlpci_destroy_run(xlpci_ctx *ctx, bool host, uint32_t domid,
                      bool release,
                      unsigned *held_r)
{
    held_arg a, b;
    size_t nrec, i;
    FILE *dry = ctx->dry_run;
    int rc;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.domid = b.domid = domid;
    *held_r = 0;
    /* 0. what is held (reads only) */
    ctx->dry_run = NULL;
    a.lookup = true;
    rc = xlpci_txn_run(ctx, "destroy (lookup)", destroy_body, &a);
    ctx->dry_run = dry;
    if (rc < 0)
        goto out;
    rc = records_held(ctx, host, &a, &nrec);
    if (rc)
        goto out;
    *held_r = (unsigned)a.n + (a.backend && !a.n);
    if (!*held_r)
        goto out;
    report(ctx, &a, nrec);
    if (!release)
        goto out;
    /* 1. the hypervisor side: permissions and IOMMU contexts, also when
     * the domain's xenstore directory is gone but Xen still has the
     * domain (dying); xlpci_hv_revoke skips what Xen already took back
     * from a domain that no longer exists */
    if (a.n && !ctx->dry_run) {
        rc = xlpci_hv_revoke(ctx, host, domid, a.v, a.n);
        if (rc) {
            LOG(ctx, ERROR, "domain %u: revoking the devices' permissions "
                "failed; nothing else was changed (run destroy again)",
                domid);
            goto out;
        }
    }
    /* 2. xenstore, in one transaction */
    rc = xlpci_txn_run(ctx, "destroy", destroy_body, &b);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    for (i = 0; !rc && i < b.n; i++)
        rc = held_add(&a, &b.v[i]);
    if (rc || ctx->dry_run)
        goto out;
    /* 3. the host side, as pci-detach releases a device */
    rc = a.n && host ? xlpci_host_release(ctx, a.v, a.n) : 0;
    if (!rc)
        LOG(ctx, DETAIL, "domain %u: released %zu PCI device(s)", domid,
            a.n);
out:
    free(a.v);
    free(b.v);
    return rc;
}

int xlpci_destroy(xlpci_ctx *ctx, uint32_t domid, unsigned flags,
                  unsigned *released_r)
{
    bool exists;
    int rc;

    *released_r = 0;
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        LOG(ctx, ERROR, "domid %u cannot be destroyed here (%s)", domid,
            domid ? "reserved" : "domain 0 is the backend domain");
        return XLPCI_ERR_INVAL;
    }
    rc = xlpci_domain_exists(ctx, XBT_NULL, domid, &exists);
    if (rc)
        return rc;
    if (exists && !(flags & XLPCI_DESTROY_FORCE)) {
        LOG(ctx, ERROR, "domain %u is still running (/local/domain/%u "
            "exists): destroy releases its devices without asking the "
            "guest; use pci-detach, or destroy -f while the domain is "
            "being destroyed", domid, domid);
        return XLPCI_ERR_BUSY;
    }
    return xlpci_destroy_run(ctx, xlpci_host_active(ctx), domid, true,
                             released_r);
}

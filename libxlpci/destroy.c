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
 * What the domain holds is the union of its backend's devices and the
 * bookkeeping records naming it, and of the ownership records naming it
 * among those devices, so a run interrupted after any step finds the rest
 * the next time: destroy is idempotent ("nothing to do" when nothing is
 * held), and check --repair of a gone domain runs it.
 *
 * Its cost does not grow with the host: the records read are those of
 * the devices it knows (one read each), never a listing of /libxl/pci
 * (which grows with the host and, past 4096 bytes, breaks oxenstored's
 * connection).  A record naming the domain for a device neither its
 * backend nor the bookkeeping has is left only by another tool (a crash
 * between its record and its backend, a hand-made node): check finds
 * those (xlpci_owner_scan, libxlnode.c) and passes them here as extra
 * candidates, whose records are read and removed in the transaction like
 * the others (docs/protocol.md 3.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    uint32_t domid;
    bool exists;                       /* /local/domain/<domid> */
    bool backend;                      /* some backend or frontend node */
    bool be_dir, fe;                   /* its backend, frontend directory */
    xlpci_bdf *v;                      /* the devices it holds */
    size_t n;
    size_t nbackend, nnode;            /* of which: listed, recorded */
    const xlpci_bdf *cand;             /* other devices whose record may */
    size_t ncand;                      /* name it (bookkeeping, scan) */
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

/* Read what the domain holds in xenstore (a read-only step of its own:
 * the lookup, xlpci_txn_read). */
static int held_read(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    held_arg *a = varg;
    char path[XLPCI_PATH_MAX], err[64];
    size_t i, had;
    xlpci_view view;
    xlpci_bdf bdf;
    int rc, owner;

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
    /* the other candidates' records: one read each */
    for (i = 0; !rc && i < a->ncand; i++) {
        rc = xlpci_owner_read(ctx, t, &a->cand[i], &owner);
        if (rc == XLPCI_ERR_CORRUPT) {
            rc = 0;                    /* not a domid: check reports it */
            continue;
        }
        if (rc || owner != (int)a->domid)
            continue;
        had = a->n;
        rc = held_add(a, &a->cand[i]);
        a->nnode += a->n - had;
    }
    if (rc) goto out;
    /* the frontend, only if the domain still has one: never create below
     * /local/domain/<domid> */
    xlpci_fe_path(path, a->domid);
    rc = xlpci_xs_exists(ctx, t, path, &a->fe);
    a->be_dir = view.dir_exists;
    a->backend = a->be_dir || a->fe;
out:
    xlpci_view_dispose(&view);
    return rc;
}

/* Read what the domain holds and plan its removal. */
static int destroy_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                        void *varg)
{
    held_arg *a = varg;
    char path[XLPCI_PATH_MAX];
    int rc;

    rc = held_read(ctx, t, a);
    if (rc)
        return rc;
    if (!a->backend && !a->n)
        return XLPCI_TXN_NOTHING;
    if (a->be_dir) {
        xlpci_be_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
        snprintf(path, sizeof(path), "/local/domain/0/error/backend/pci/%u",
                 a->domid);
        if (!rc) rc = xlpci_ops_rm(ops, path);
    }
    if (!rc && a->fe) {
        xlpci_fe_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
    }
    if (!rc) rc = xlpci_parents_cleanup(ctx, t, ops, a->domid);
    if (!rc) rc = xlpci_owner_drop(ctx, t, ops, a->domid, a->v, a->n);
    return rc;
}

/* The devices of the bookkeeping records naming the domain (an
 * interrupted destroy or detach may have left only those), appended to
 * *v (n_r of them). */
static int records_held(xlpci_ctx *ctx, bool host, uint32_t domid,
                        xlpci_bdf **v, size_t *n_r)
{
    xlpci_bdf *nv;
    xlpci_bk bk;
    size_t i;
    int rc;

    if (!host)
        return 0;
    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    for (i = 0; !rc && i < bk.n; i++) {
        if (bk.v[i].domid != (int)domid)
            continue;
        nv = realloc(*v, (*n_r + 1) * sizeof(*nv));
        if (!nv) {
            rc = XLPCI_ERR_NOMEM;
            break;
        }
        *v = nv;
        nv[(*n_r)++] = bk.v[i].bdf;
    }
    xlpci_bk_close(&bk);
    return rc;
}

static void report(xlpci_ctx *ctx, const held_arg *a)
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
}

int xlpci_destroy_run(xlpci_ctx *ctx, bool host, uint32_t domid,
                      bool release, const xlpci_bdf *extra, size_t nextra,
                      unsigned *held_r)
{
    held_arg a, b;
    xlpci_bdf *cand = NULL;
    size_t ncand = 0, nbk, i;
    int rc;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.domid = b.domid = domid;
    *held_r = 0;
    /* the candidates besides the backend: the bookkeeping's, the scan's */
    rc = records_held(ctx, host, domid, &cand, &ncand);
    nbk = ncand;
    if (!rc && nextra) {
        xlpci_bdf *nv = realloc(cand, (ncand + nextra) * sizeof(*nv));

        if (!nv) {
            rc = XLPCI_ERR_NOMEM;
        } else {
            cand = nv;
            memcpy(cand + ncand, extra, nextra * sizeof(*extra));
            ncand += nextra;
        }
    }
    if (rc)
        goto out;
    a.cand = b.cand = cand;
    a.ncand = b.ncand = ncand;
    /* 0. what is held (reads only) */
    rc = xlpci_txn_read(ctx, "destroy (lookup)", held_read, &a);
    for (i = 0; !rc && i < nbk; i++)
        rc = held_add(&a, &cand[i]);
    if (rc)
        goto out;
    *held_r = (unsigned)a.n + (a.backend && !a.n);
    if (!*held_r)
        goto out;
    report(ctx, &a);
    if (!release)
        goto out;
    /* the release ends with a commit of the bookkeeping: a state
     * directory that cannot take it is found before anything changes */
    if (host && !ctx->dry_run) {
        rc = xlpci_bk_probe(ctx);
        if (rc)
            goto out;
    }
    /* 1. the hypervisor side: permissions and IOMMU contexts, also when
     * the domain's xenstore directory is gone but Xen still has the
     * domain (dying); xlpci_hv_revoke skips what Xen already took back
     * from a domain that no longer exists */
    if (a.n && !ctx->dry_run) {
        rc = xlpci_hv_revoke(ctx, host, domid, a.v, a.n, true);
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
    free(cand);
    free(a.v);
    free(b.v);
    return rc;
}

int xlpci_destroy(xlpci_ctx *ctx, uint32_t domid, unsigned flags,
                  unsigned *released_r)
{
    XLPCI_OP(ctx);
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
                             NULL, 0, released_r);
}

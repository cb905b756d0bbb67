/*
 * `xlpci destroy <domain>`: the domain-destroy path (libxl's
 * libxl__device_pci_destroy_all), and THE release of a domain that is
 * gone or going (xlpci_destroy_run: destroy, destroy -f, check --repair
 * of a gone domain, and the watcher).  Nothing asks the guest.
 *
 * What the domain holds is what the shared state says: the devices its
 * backend lists and those whose record /libxl/pci/<bdf>/domid names it.
 * The bookkeeping's devices naming it are candidates only: what
 * devices.json alone remembers after `xl destroy` (libxl removed the
 * backend and the records, Xen put the devices in dom_io) is no longer
 * held; it is corrected, and a device seize=1 took goes back to its
 * driver, the one thing only xlpci can finish.
 *
 * Every device is put to the ownership decision (owner.c, gathered in
 * the transaction: ownership.c) before anything of it is touched:
 *
 *   nobody live holds it (or the domain itself, for destroy -f): its
 *     hypervisor side (permissions and IOMMU context while Xen still has
 *     the domain; the reset of function 0), then the bookkeeping
 *     (assignable; a managed device back to its driver);
 *   another live domain holds it by record or backend (xl gave it to a
 *     new guest after `xl destroy`), or Xen has it in a guest: nothing of
 *     it is touched; the record is rewritten for the live holder when
 *     its backend lists the device and the record named the dead domain;
 *     the bookkeeping names the holder.
 *
 * The store: ONE transaction reads the domain's backend once (its listing
 * and dev-N), the records of the devices it knows, the liveness and
 * backends of the other domains those name (rarely any), and removes
 * backend/pci/<domid> whole, the frontend (nothing below a
 * /local/domain/<domid> it found gone is read), pciback's error node and
 * the records naming the domain: for a gone domain of N devices, exactly
 * the floor's 6 + 3N requests (bench (g2)).  Nothing is ever written
 * below /local/domain/<domid>, so a gone domain stays gone.  The host steps
 * come after its commit; while Xen still has the domain (destroy -f) its
 * permissions go first, from a look-up of its own, and the store after.
 *
 * Its cost does not grow with the host: the records read are those of
 * the devices it knows, never a listing of /libxl/pci (which grows with
 * the host and, past 4096 bytes, breaks oxenstored's connection).  A
 * record naming the domain for a device neither its backend nor the
 * bookkeeping has is left only by another tool: `check --all-records`
 * finds those (xlpci_owner_scan) and passes them here as extra candidates
 * (docs/protocol.md 3.4, docs/ownership.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

typedef struct {
    uint32_t domid;
    xlpci_truth *tr;
    bool plan;                         /* plan the removal (else look) */
    bool revoked;                      /* the domain, alive: access gone */
    bool refuse_live;                  /* alive: XLPCI_ERR_BUSY */
    bool audit;                        /* search the backends for a live
                                        * holder of what it named */
    int alive;                         /* the domain, found out */
    bool be_dir, fe;                   /* its backend, frontend directory */
    bool fe_parent, fe_only;           /* .../device/pci: there, nothing
                                        * in it but devid 0 */
    /* the bookkeeping (every device's domid: those naming the domain
     * are candidates) and the scan's candidates */
    const xlpci_bdf *bk_v;
    const int *bk_d;
    const bool *bk_m;                  /* managed (seize=1) */
    size_t nbk;
    const xlpci_bdf *extra;
    size_t nextra;
    /* what it holds (nheld first) and the bookkeeping's leftovers */
    xlpci_bdf *v;
    xlpci_owner_facts *f;
    xlpci_owner_verdict *ver;
    size_t n, nheld, nbackend;
    unsigned records_fixed;
} held_arg;

static void held_reset(held_arg *a)
{
    a->n = a->nheld = a->nbackend = 0;
    a->records_fixed = 0;
    a->be_dir = a->fe = a->fe_parent = a->fe_only = false;
}

/* Room for n more devices. */
static int held_grow(held_arg *a, size_t more)
{
    size_t cap = a->n + more + 1;
    xlpci_bdf *nv = realloc(a->v, cap * sizeof(*nv));
    xlpci_owner_facts *nf;
    xlpci_owner_verdict *nver;

    if (!nv)
        return XLPCI_ERR_NOMEM;
    a->v = nv;
    nf = realloc(a->f, cap * sizeof(*nf));
    if (!nf)
        return XLPCI_ERR_NOMEM;
    a->f = nf;
    nver = realloc(a->ver, cap * sizeof(*nver));
    if (!nver)
        return XLPCI_ERR_NOMEM;
    a->ver = nver;
    return 0;
}

/* devices.json's domid of bdf, or -1; *managed_r (may be NULL). */
static int bk_of(const held_arg *a, const xlpci_bdf *bdf, bool *managed_r)
{
    size_t i;

    for (i = 0; i < a->nbk; i++)
        if (!xlpci_bdf_cmp(&a->bk_v[i], bdf)) {
            if (managed_r)
                *managed_r = a->bk_m[i];
            return a->bk_d[i];
        }
    if (managed_r)
        *managed_r = false;
    return -1;
}

static bool known(const held_arg *a, const xlpci_bdf *bdf)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        if (!xlpci_bdf_cmp(&a->v[i], bdf))
            return true;
    return false;
}

/* In t: the device's record and facts, decided; kept if held (in the
 * backend, listed; or its record names the domain) or the bookkeeping's
 * (bk: its domid there, -1 for the scan's).  Held devices come first. */
static int held_add(xlpci_ctx *ctx, xs_transaction_t t, held_arg *a,
                    const xlpci_bdf *bdf, bool listed)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    bool bad, held;
    int rc, record, bk = bk_of(a, bdf, NULL);

    if (known(a, bdf))
        return 0;
    rc = xlpci_owner_read(ctx, t, bdf, &record);
    bad = rc == XLPCI_ERR_CORRUPT;
    if (bad)
        rc = 0;                        /* unreadable: decided without it */
    if (rc)
        return rc;
    held = listed || record == (int)a->domid;
    if (!held && bk != (int)a->domid)
        return 0;                      /* the scan's, no longer naming it */
    xlpci_owner_facts_init(&f, (int)a->domid, record, bad, bk);
    xlpci_owner_cand_find(&f, a->domid)->alive = a->alive;
    /* a gone domain's device may be in another guest, which only Xen
     * knows (then named by searching the backends) */
    rc = xlpci_owner_gather(ctx, a->tr, t, bdf, listed,
                            (a->alive ? 0 : XLPCI_FIND_XEN | XLPCI_FIND_SEARCH)
                            | (a->audit ? XLPCI_FIND_STALE : 0), &f, &v);
    if (rc)
        return rc;
    rc = held_grow(a, 1);
    if (rc)
        return rc;
    if (held && a->nheld < a->n) {
        /* held devices first: move the first leftover to the end */
        a->v[a->n] = a->v[a->nheld];
        a->f[a->n] = a->f[a->nheld];
        a->ver[a->n] = a->ver[a->nheld];
    }
    a->v[held ? a->nheld : a->n] = *bdf;
    a->f[held ? a->nheld : a->n] = f;
    a->ver[held ? a->nheld : a->n] = v;
    a->n++;
    a->nheld += held;
    return 0;
}

/* The record of a device the domain held: it goes with the domain; it is
 * rewritten for a live holder whose backend lists the device (the record
 * named the gone domain, or nobody); another live domain's is left. */
static int plan_record(xlpci_ctx *ctx, held_arg *a, size_t i,
                       xlpci_ops *ops)
{
    const xlpci_owner_facts *f = &a->f[i];
    const xlpci_owner_verdict *v = &a->ver[i];
    char path[XLPCI_PATH_MAX];
    int to;

    if (f->record >= 0 && f->record != (int)a->domid &&
        !(v->record_fix && v->stale == f->record))
        return 0;                      /* a live domain's, or nobody's */
    if (f->record < 0 && !f->record_bad && !v->record_fix)
        return 0;
    to = v->held == XLPCI_HELD_OTHER && v->by_backend ? v->holder : -1;
    xlpci_libxl_path(path, &a->v[i], "domid");
    if (to == f->record && !f->record_bad)
        return 0;
    a->records_fixed += to >= 0;
    (void)ctx;
    return to >= 0 ? xlpci_ops_writef(ops, path, "%d", to)
                   : f->record >= 0 || f->record_bad ? xlpci_ops_rm(ops, path)
                                                     : 0;
}

/* Read what the domain holds (once: its backend, the records), decide,
 * and plan the removal when a->plan. */
static int destroy_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                        void *varg)
{
    held_arg *a = varg;
    char path[XLPCI_PATH_MAX], err[64], **names = NULL;
    unsigned nn = 0;
    xlpci_bdf bdf;
    size_t i;
    int rc;

    held_reset(a);
    rc = xlpci_truth_alive(ctx, a->tr, t, a->domid, &a->alive);
    if (rc)
        goto out;
    if (a->alive && a->refuse_live) {
        LOG(ctx, ERROR, "domain %u is still running (%s): destroy releases "
            "its devices without asking the guest; use pci-detach, or "
            "destroy -f while the domain is being destroyed", a->domid,
            xlpci_xenq_asked(ctx, &a->tr->xq) ? "Xen has it"
                                               : "/local/domain/<domid> "
                                                 "exists");
        rc = XLPCI_ERR_BUSY;
        goto out;
    }
    /* its backend: the listing and every dev-N listed (whatever
     * num_devs says: it all goes), nothing else */
    xlpci_be_path(path, a->domid);
    rc = xlpci_xs_directory(ctx, t, path, &names, &nn);
    a->be_dir = names != NULL;
    for (i = 0; !rc && i < nn; i++) {
        enum xlpci_key k;
        unsigned idx;
        char key[XLPCI_PATH_MAX], *dev = NULL;

        if (!xlpci_split_key(names[i], &k, &idx) || k != XLPCI_KEY_DEV)
            continue;
        rc = xlpci_be_key(key, a->domid, "%s", names[i]);
        if (!rc) rc = xlpci_xs_read(ctx, t, key, &dev);
        if (!rc && dev && !xlpci_bdf_parse(dev, &bdf, err, sizeof(err)))
            rc = held_add(ctx, t, a, &bdf, true);
        free(dev);
    }
    a->nbackend = a->n;
    for (i = 0; !rc && i < a->nbk; i++)
        if (a->bk_d[i] == (int)a->domid)
            rc = held_add(ctx, t, a, &a->bk_v[i], false);
    for (i = 0; !rc && i < a->nextra; i++)
        rc = held_add(ctx, t, a, &a->extra[i], false);
    if (rc)
        goto out;
    /* the frontend, only if the domain still has one: never create below
     * /local/domain/<domid>.  Its parent's listing says both whether it
     * is there and whether the parent holds anything else; a domain this
     * transaction found gone from the store has neither. */
    if (!xlpci_truth_store_gone(a->tr, t, a->domid)) {
        char **fnames = NULL;
        unsigned fn = 0;

        xlpci_fe_parent_path(path, a->domid);
        rc = xlpci_xs_directory(ctx, t, path, &fnames, &fn);
        a->fe_parent = fnames != NULL;
        a->fe_only = fnames && (!fn || (fn == 1 && !strcmp(fnames[0], "0")));
        for (i = 0; fnames && i < fn; i++)
            a->fe = a->fe || !strcmp(fnames[i], "0");
        free(fnames);
    }
    if (rc || !a->plan)
        goto out;
    /* a domain Xen still has: first its access (the caller), then this */
    if (a->alive && !a->revoked && a->nheld) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    if (!a->be_dir && !a->fe && !a->nheld) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    /* the whole domain goes: backend/pci/<domid> with its devid 0 (the
     * only PCI backend a domain has) without listing it, as libxl's
     * destroy removes a domain's backends; the backend root after the
     * commit if it is then empty */
    if (a->be_dir) {
        xlpci_be_parent_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
        snprintf(path, sizeof(path), "/local/domain/0/error/backend/pci/%u",
                 a->domid);
        if (!rc) rc = xlpci_ops_rm(ops, path);
        xlpci_be_root_prune_after_commit(ctx);
    } else {
        rc = xlpci_be_parent_cleanup(ctx, t, ops, a->domid);
    }
    if (!rc && a->fe_parent && a->fe_only) {
        xlpci_fe_parent_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
    } else if (!rc && a->fe) {
        xlpci_fe_path(path, a->domid);
        rc = xlpci_ops_rm(ops, path);
    }
    for (i = 0; !rc && i < a->nheld; i++)
        rc = plan_record(ctx, a, i, ops);
    if (!rc && !ops->n)
        rc = XLPCI_TXN_NOTHING;
out:
    free(names);
    return rc;
}

/* The bookkeeping: every device's domid (*v, *bk: *n_r of them), read
 * once; those naming the domain are its candidates. */
static int bk_read(xlpci_ctx *ctx, bool host, xlpci_bdf **v, int **bk,
                   bool **m, size_t *n_r)
{
    xlpci_bk b;
    size_t i;
    int rc;

    *n_r = 0;
    if (!host)
        return 0;
    rc = xlpci_bk_open(ctx, &b);
    if (rc)
        return rc;
    *v = calloc(b.n + 1, sizeof(**v));
    *bk = calloc(b.n + 1, sizeof(**bk));
    *m = calloc(b.n + 1, sizeof(**m));
    if (!*v || !*bk || !*m)
        rc = XLPCI_ERR_NOMEM;
    for (i = 0; !rc && i < b.n; i++) {
        (*v)[i] = b.v[i].bdf;
        (*bk)[i] = b.v[i].domid;
        (*m)[i] = b.v[i].managed;
    }
    if (!rc)
        *n_r = b.n;
    xlpci_bk_close(&b);
    return rc;
}

static void report(xlpci_ctx *ctx, const held_arg *a)
{
    char b[XLPCI_BDF_STRLEN];
    size_t i;

    if (a->be_dir || a->fe)
        LOG(ctx, WARN, "domain %u%s: its PCI backend/frontend entries are "
            "still in xenstore", a->domid, a->alive ? "" : " (gone)");
    for (i = 0; i < a->nheld; i++)
        LOG(ctx, WARN, "domain %u%s still holds PCI device %s (%s)",
            a->domid, a->alive ? "" : " (gone)",
            xlpci_bdf_format(&a->v[i], b),
            i < a->nbackend ? "listed in its backend"
                            : "named by its /libxl/pci record");
    for (i = a->nheld; i < a->n; i++) {
        bool managed;

        bk_of(a, &a->v[i], &managed);
        if (a->ver[i].held == XLPCI_HELD_NONE && managed)
            LOG(ctx, WARN, "domain %u%s: PCI device %s, taken from its "
                "driver for it (seize=1), is free and still on "
                "xen-pciback: releasing the domain gives it back",
                a->domid, a->alive ? "" : " (gone)",
                xlpci_bdf_format(&a->v[i], b));
    }
}

int xlpci_destroy_run(xlpci_ctx *ctx, bool host, uint32_t domid,
                      unsigned flags, const xlpci_bdf *extra, size_t nextra,
                      xlpci_destroy_result *res)
{
    held_arg a;
    xlpci_truth tr;
    xlpci_release_count c;
    xlpci_bdf *bk_v = NULL;
    int *bk_d = NULL;
    bool *bk_m = NULL, managed;
    size_t i, nleft;
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&a, 0, sizeof(a));
    a.domid = domid;
    a.tr = &tr;
    a.refuse_live = flags & XLPCI_DESTROY_ALIVE_REFUSED;
    a.audit = flags & XLPCI_DESTROY_AUDIT;
    xlpci_truth_init(ctx, &tr, host);
    /* the candidates besides the backend: the bookkeeping's, the scan's */
    rc = bk_read(ctx, host, &bk_v, &bk_d, &bk_m, &a.nbk);
    if (rc)
        goto out;
    a.bk_v = bk_v;
    a.bk_d = bk_d;
    a.bk_m = bk_m;
    a.extra = extra;
    a.nextra = nextra;

    /* A gone domain: one transaction reads, decides and removes.  One Xen
     * still has (destroy -f): that transaction only looks; its access to
     * the devices goes (xlpci_hv_revoke), then the store. */
    a.plan = flags & XLPCI_DESTROY_RELEASE;
    /* the release ends with a commit of the bookkeeping: a state
     * directory that cannot take it is found before anything changes */
    if (a.plan && host && !ctx->dry_run) {
        rc = xlpci_bk_probe(ctx);
        if (rc)
            goto out;
    }
    rc = xlpci_txn_run(ctx, "destroy", destroy_body, &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    if (!rc && a.plan && a.alive && a.nheld) {
        if (!ctx->dry_run)         /* -N: said with the rest, below */
            rc = xlpci_release_decided(ctx, host, domid, a.v, a.f, a.ver,
                                       a.nheld, NULL, XLPCI_REL_HV, NULL,
                                       &c);
        if (rc) {
            LOG(ctx, ERROR, "domain %u: revoking the devices' access "
                "failed; nothing else was changed (run destroy again)",
                domid);
            goto out;
        }
        a.revoked = true;
        rc = xlpci_txn_run(ctx, "destroy", destroy_body, &a);
        if (rc == XLPCI_TXN_NOTHING)
            rc = 0;
    }
    if (rc)
        goto out;
    res->alive = a.alive;
    res->entries = a.be_dir || a.fe;
    res->held = (unsigned)a.nheld;
    nleft = a.n - a.nheld;
    /* what only xlpci can finish of the bookkeeping's leftovers: a
     * managed device's way back to its driver */
    for (i = a.nheld; i < a.n; i++) {
        bk_of(&a, &a.v[i], &managed);
        res->leftovers += a.ver[i].held == XLPCI_HELD_NONE && managed;
    }
    if (res->held || res->entries || res->leftovers)
        report(ctx, &a);
    if (!a.plan)
        goto out;
    res->records_fixed = a.records_fixed;
    /* the host side of what it held (Xen took its access and IOMMU
     * contexts when it killed the domain: the reset is left), then the
     * bookkeeping's leftovers (a managed one back to its driver) */
    if (a.nheld) {
        rc = xlpci_release_decided(ctx, host, domid, a.v, a.f, a.ver,
                                   a.nheld, NULL,
                                   a.alive && !ctx->dry_run
                                   ? XLPCI_REL_BK
                                   : XLPCI_REL_HV | XLPCI_REL_BK,
                                   NULL, &c);
        res->released += c.released;
        res->kept += c.kept;
        res->corrected += c.corrected;
        /* a device Xen has in another guest by now is that guest's: left
         * as it is (counted as kept, said), nothing of the domain left */
        if (rc == XLPCI_ERR_EXISTS)
            rc = 0;
    }
    if (!rc && nleft) {
        /* a domain still alive (destroy -f) may hold an interrupted
         * grant of one in Xen: its access goes too (confirmed) */
        rc = xlpci_release_decided(ctx, host, domid, a.v + a.nheld,
                                   a.f + a.nheld, a.ver + a.nheld, nleft,
                                   NULL, XLPCI_REL_BK | XLPCI_REL_LEFTOVER |
                                   (a.alive ? XLPCI_REL_HV : 0), NULL, &c);
        res->released += c.released;
        res->kept += c.kept;
        res->corrected += c.corrected;
        if (rc == XLPCI_ERR_EXISTS)
            rc = 0;
    }
    if (!rc && !ctx->dry_run && (res->held || res->entries || nleft))
        LOG(ctx, DETAIL, "domain %u: released %u PCI device(s), left %u "
            "with live domains, %u bookkeeping correction(s)", domid,
            res->released, res->kept, res->corrected);
out:
    xlpci_truth_close(ctx, &tr);
    free(bk_v);
    free(bk_d);
    free(bk_m);
    free(a.v);
    free(a.f);
    free(a.ver);
    return rc;
}

int xlpci_destroy(xlpci_ctx *ctx, uint32_t domid, unsigned flags,
                  unsigned *released_r)
{
    XLPCI_OP(ctx);
    xlpci_destroy_result res;
    int rc;

    *released_r = 0;
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        LOG(ctx, ERROR, "domid %u cannot be destroyed here (%s)", domid,
            domid ? "reserved" : "domain 0 is the backend domain");
        return XLPCI_ERR_INVAL;
    }
    rc = xlpci_destroy_run(ctx, xlpci_host_active(ctx), domid,
                           XLPCI_DESTROY_RELEASE |
                           (flags & XLPCI_DESTROY_FORCE
                            ? 0 : XLPCI_DESTROY_ALIVE_REFUSED),
                           NULL, 0, &res);
    /* the devices given back, or a backend with none left removed */
    *released_r = res.released ? res.released
                               : res.entries && !res.held && !ctx->dry_run;
    if (ctx->dry_run)
        *released_r = res.held + res.leftovers + (res.entries && !res.held);
    return rc;
}

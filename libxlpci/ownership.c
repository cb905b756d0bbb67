/*
 * Ownership in the flows: the facts of devices gathered from the shared
 * state (the record /libxl/pci/<bdf>/domid, the backends, who is alive,
 * what Xen says) and the bookkeeping, put to the one decision of owner.c,
 * and what the flows do with it (docs/ownership.md):
 *
 *   - the checks before a claim (create, pci-attach: xlpci_owners_read,
 *     hostside.c): a device another live domain holds is refused, naming
 *     it, whether it is alive and the command that frees it; a device
 *     only a gone domain still names is free at once (the bookkeeping is
 *     corrected, the stale record taken over in the claim's transaction,
 *     libxlnode.c);
 *   - the release (destroy, check --repair, pci-detach, the rollbacks,
 *     and the watcher through xlpci_destroy_run): device by device after
 *     its verdict, the hypervisor's side and the bookkeeping of what
 *     nobody live holds; nothing at all of a device a live domain holds
 *     by record, backend or Xen: the bookkeeping is corrected to name
 *     that domain, the fact reported.
 *
 * Liveness is Xen's answer when Xen is asked (xc_domain_getinfolist, the
 * domain exists and is not dying), else /local/domain/<domid>.  Xen's
 * word on a device is xc_test_assign_device (iommu.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps.h"

void xlpci_truth_init(xlpci_ctx *ctx, xlpci_truth *tr, bool host)
{
    memset(tr, 0, sizeof(*tr));
    xlpci_xenq_init(&tr->xq, host);
    if (!ctx->truth_depth++)
        ctx->nalive = 0;
}

void xlpci_truth_close(xlpci_ctx *ctx, xlpci_truth *tr)
{
    xlpci_xenq_close(&tr->xq);
    if (ctx->truth_depth && !--ctx->truth_depth)
        ctx->nalive = 0;
}

int xlpci_truth_alive(xlpci_ctx *ctx, xlpci_truth *tr, xs_transaction_t t,
                      uint32_t domid, int *alive_r)
{
    unsigned i;
    int rc;

    rc = xlpci_xenq_alive(ctx, &tr->xq, domid, alive_r);
    if (rc)
        return rc;
    if (*alive_r >= 0) {
        /* for the claim in a transaction (libxlnode.c) */
        for (i = 0; i < ctx->nalive && ctx->alive_known[i].domid != domid;
             i++)
            ;
        if (i == ctx->nalive && i < sizeof(ctx->alive_known) /
                                    sizeof(ctx->alive_known[0])) {
            ctx->alive_known[i].domid = domid;
            ctx->alive_known[i].alive = *alive_r;
            ctx->nalive++;
        }
        return 0;
    }
    /* /local/domain/<domid>, once per transaction */
    if (tr->t != t) {
        tr->t = t;
        tr->nxs = 0;
    }
    for (i = 0; i < tr->nxs; i++)
        if (tr->xs[i].domid == domid) {
            *alive_r = tr->xs[i].alive;
            return 0;
        }
    /* known_alive answers from Xen's earlier word when it has one */
    for (i = 0; i < ctx->nalive && ctx->alive_known[i].domid != domid; i++)
        ;
    rc = xlpci_known_alive(ctx, t, domid, alive_r);
    if (!rc && tr->nxs < sizeof(tr->xs) / sizeof(tr->xs[0])) {
        tr->xs[tr->nxs].domid = domid;
        tr->xs[tr->nxs].read = i == ctx->nalive ||
                               ctx->alive_known[i].alive < 0;
        tr->xs[tr->nxs++].alive = *alive_r;
    }
    return rc;
}

bool xlpci_truth_store_gone(const xlpci_truth *tr, xs_transaction_t t,
                            uint32_t domid)
{
    unsigned i;

    if (tr->t != t)
        return false;
    for (i = 0; i < tr->nxs; i++)
        if (tr->xs[i].domid == domid)
            return tr->xs[i].read && !tr->xs[i].alive;
    return false;
}

int xlpci_owner_gather(xlpci_ctx *ctx, xlpci_truth *tr, xs_transaction_t t,
                       const xlpci_bdf *bdf, int self_lists, unsigned how,
                       xlpci_owner_facts *f, xlpci_owner_verdict *v)
{
    int skip[XLPCI_OWNER_MAXCAND], found, rc = 0;
    xlpci_owner_cand *c;
    unsigned i;

    for (i = 0; !rc && i < f->ncand; i++) {
        c = &f->cand[i];
        /* self's liveness changes nothing a release does (SELF or NONE,
         * both let go) unless another domain or Xen is in the picture */
        if (c->alive < 0 &&
            ((int)c->domid != f->self || f->ncand > 1 ||
             (how & (XLPCI_FIND_SELF | XLPCI_FIND_XEN))))
            rc = xlpci_truth_alive(ctx, tr, t, c->domid, &c->alive);
        if (rc)
            break;
        if ((int)c->domid == f->self) {
            if (self_lists >= 0)
                c->lists = self_lists;
        } else if (c->alive != 0 && (int)c->domid != f->record) {
            /* a live domain the record does not name holds the device
             * only if its backend lists it */
            rc = xlpci_backend_lists(ctx, t, c->domid, bdf, &c->lists);
        }
    }
    if (rc)
        return rc;
    xlpci_owner_decide(f, v);
    /* Xen's word, unless a live domain is known to hold the device: then
     * nothing of it, Xen's side included, is asked or touched */
    if ((how & XLPCI_FIND_XEN) && v->held != XLPCI_HELD_OTHER) {
        f->xen = xlpci_xenq_device(ctx, &tr->xq, bdf);
        xlpci_owner_decide(f, v);
    }
    if (f->ncand == XLPCI_OWNER_MAXCAND ||
        !((v->held == XLPCI_HELD_XEN && (how & XLPCI_FIND_SEARCH)) ||
          (v->held == XLPCI_HELD_NONE && v->stale >= 0 &&
           (how & XLPCI_FIND_STALE))))
        return 0;
    /* Xen has it in a guest nobody named, or (asked) only a gone domain
     * names it: which backend lists it?  (the one listing that grows with
     * the host, only on these paths) */
    for (i = 0; i < f->ncand; i++)
        skip[i] = (int)f->cand[i].domid;
    rc = xlpci_backend_search(ctx, t, bdf, skip, f->ncand, &found);
    if (rc || found < 0)
        return rc;
    c = xlpci_owner_cand_add(f, (uint32_t)found);
    c->lists = true;
    rc = xlpci_truth_alive(ctx, tr, t, c->domid, &c->alive);
    if (!rc)
        xlpci_owner_decide(f, v);
    return rc;
}

/* ---- several devices, in a read-only transaction ------------------------- */

typedef struct {
    xlpci_truth *tr;
    int self, self_alive;
    const xlpci_bdf *bdfs;
    const int *bk;
    size_t n;
    unsigned how;
    xlpci_owner_facts *f;
    xlpci_owner_verdict *v;
} owners_arg;

static int owners_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    owners_arg *a = varg;
    bool bad;
    size_t i;
    int rc = 0, record;

    for (i = 0; !rc && i < a->n; i++) {
        rc = xlpci_owner_read(ctx, t, &a->bdfs[i], &record);
        bad = rc == XLPCI_ERR_CORRUPT;
        if (bad)
            rc = 0;
        if (rc)
            break;
        xlpci_owner_facts_init(&a->f[i], a->self, record, bad,
                               a->bk ? a->bk[i] : -1);
        if (a->self >= 0 && a->self_alive >= 0)
            xlpci_owner_cand_find(&a->f[i], (uint32_t)a->self)->alive =
                a->self_alive;
        rc = xlpci_owner_gather(ctx, a->tr, t, &a->bdfs[i], -1, a->how,
                                &a->f[i], &a->v[i]);
    }
    return rc;
}

int xlpci_owners_read(xlpci_ctx *ctx, xlpci_truth *tr, int self,
                      int self_alive, const xlpci_bdf *bdfs, const int *bk,
                      size_t n, unsigned how, xlpci_owner_facts *f,
                      xlpci_owner_verdict *v)
{
    owners_arg a = { tr, self, self_alive, bdfs, bk, n, how, f, v };

    if (!n)
        return 0;
    return xlpci_txn_read(ctx, "ownership", owners_body, &a);
}

void xlpci_owner_refuse(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                        const xlpci_owner_facts *f,
                        const xlpci_owner_verdict *v)
{
    char b[XLPCI_BDF_STRLEN], why[300], out[200];

    xlpci_bdf_format(bdf, b);
    xlpci_owner_text(bdf, f, v, why, sizeof(why));
    xlpci_owner_way_out(bdf, f, v, out, sizeof(out));
    if (v->holder >= 0)
        LOG(ctx, ERROR, "PCI device %s is already assigned to domain %d "
            "(%s): %s", b, v->holder, why, out);
    else
        LOG(ctx, ERROR, "PCI device %s is assigned to another guest (%s): "
            "%s", b, why, out);
}

/* ---- the release ------------------------------------------------------------ */

static bool lets_go(const xlpci_owner_verdict *v)
{
    return v->held == XLPCI_HELD_NONE || v->held == XLPCI_HELD_SELF;
}

/* -N: what the host side would do, one line a device. */
static void release_plan(xlpci_ctx *ctx, bool host, uint32_t domid,
                         const xlpci_bdf *bdfs,
                         const xlpci_owner_facts *f,
                         const xlpci_owner_verdict *v, size_t n,
                         unsigned flags)
{
    char b[XLPCI_BDF_STRLEN], why[300];
    size_t i;

    for (i = 0; i < n; i++) {
        xlpci_bdf_format(&bdfs[i], b);
        if (!lets_go(&v[i])) {
            xlpci_owner_text(&bdfs[i], &f[i], &v[i], why, sizeof(why));
            fprintf(ctx->dry_run, "# host: %s is left as it is (%s)%s\n", b,
                    why, host && (flags & XLPCI_REL_BK) && v[i].bk_fix
                    ? "; devices.json corrected" : "");
            continue;
        }
        if (!host) {
            fprintf(ctx->dry_run, "# host: %s: nothing (no xen-pciback)\n",
                    b);
            continue;
        }
        fprintf(ctx->dry_run, "# host: %s released from domain %u:%s%s%s\n",
                b, domid,
                flags & XLPCI_REL_HV ? " permissions and IOMMU context "
                                       "taken back (if Xen still has the "
                                       "domain)," : "",
                flags & XLPCI_REL_HV && bdfs[i].func == 0 ? " reset," : "",
                flags & XLPCI_REL_BK ? " assignable again (a device seize=1 "
                                       "took goes back to its driver)" : "");
    }
}

int xlpci_release_decided(xlpci_ctx *ctx, bool host, uint32_t domid,
                          const xlpci_bdf *bdfs,
                          const xlpci_owner_facts *f,
                          const xlpci_owner_verdict *v, size_t n,
                          const bool *kept_in, unsigned flags,
                          xlpci_bk *locked, xlpci_release_count *cnt)
{
    char b[XLPCI_BDF_STRLEN], why[300];
    xlpci_bdf *sub = NULL;
    bool *kept = NULL;
    size_t i, k = 0;
    xlpci_bk own, *bk = locked ? locked : &own;
    int rc = 0, rc1;

    memset(cnt, 0, sizeof(*cnt));
    if (!n)
        return 0;
    if (ctx->dry_run) {
        release_plan(ctx, host, domid, bdfs, f, v, n, flags);
        return 0;
    }
    sub = calloc(n, sizeof(*sub));
    kept = calloc(n, sizeof(*kept));
    if (!sub || !kept) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        kept[i] = kept_in && kept_in[i];
        if (lets_go(&v[i]))
            continue;
        cnt->kept++;
        xlpci_owner_text(&bdfs[i], &f[i], &v[i], why, sizeof(why));
        LOG(ctx, NOTICE, "domain %u: PCI device %s is not released, it is "
            "left as it is: %s", domid, xlpci_bdf_format(&bdfs[i], b), why);
    }
    /* 1. the hypervisor's side of the devices let go; Xen may still say
     * one is in another guest (kept) */
    if (flags & XLPCI_REL_HV) {
        bool *subkept = calloc(n, sizeof(*subkept));
        size_t *at = calloc(n, sizeof(*at));

        if (!subkept || !at) {
            free(subkept);
            free(at);
            rc = XLPCI_ERR_NOMEM;
            goto out;
        }
        for (i = 0; i < n; i++)
            if (lets_go(&v[i]) && !kept[i]) {
                at[k] = i;
                sub[k++] = bdfs[i];
            }
        rc = k ? xlpci_hv_revoke(ctx, host, domid, sub, k, true, subkept)
               : 0;
        for (i = 0; i < k; i++)
            kept[at[i]] = kept[at[i]] || subkept[i];
        free(subkept);
        free(at);
        if (rc && rc != XLPCI_ERR_EXISTS) {
            /* the guest may still reach a device: nothing else is
             * changed, the bookkeeping still names the domain */
            LOG(ctx, ERROR, "domain %u: revoking the devices' access "
                "failed; the bookkeeping still says they are its", domid);
            goto out;
        }
    }
    if (!(flags & XLPCI_REL_BK) || !host) {
        for (i = 0; !(flags & XLPCI_REL_LEFTOVER) && i < n; i++)
            cnt->released += lets_go(&v[i]) && !kept[i];
        goto out;
    }
    /* 2. the bookkeeping: assignable again (managed ones back to their
     * drivers); a device someone live holds names that domain */
    rc1 = locked ? 0 : xlpci_bk_open(ctx, bk);
    if (rc1) {
        rc = rc ? rc : rc1;
        goto out;
    }
    for (i = 0; i < n; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(bk, &bdfs[i]);
        xlpci_bdf bdf = bdfs[i];

        xlpci_bdf_format(&bdf, b);
        if (kept[i])
            continue;                  /* Xen said no: unchanged */
        if (!lets_go(&v[i])) {
            if (d && d->domid != v[i].bk_to) {
                char was[32], now[32];

                if (d->domid < 0)
                    snprintf(was, sizeof(was), "assignable");
                else
                    snprintf(was, sizeof(was), "domain %d's", d->domid);
                if (v[i].bk_to < 0)
                    snprintf(now, sizeof(now), "assignable");
                else
                    snprintf(now, sizeof(now), "domain %d's", v[i].bk_to);
                LOG(ctx, DETAIL, "correction: devices.json said %s was %s; "
                    "now %s", b, was, now);
                d->domid = v[i].bk_to;
                d->pending = XLPCI_PENDING_NONE;
                cnt->corrected++;
            }
            continue;
        }
        if (!(flags & XLPCI_REL_LEFTOVER))
            cnt->released++;
        if (!d)
            continue;
        if (d->domid >= 0 && (d->domid != (int)domid ||
                              (flags & XLPCI_REL_LEFTOVER))) {
            LOG(ctx, DETAIL, "correction: devices.json said %s was domain "
                "%d's; no live domain holds it (no record or live backend "
                "names it)%s", b, d->domid,
                d->managed ? ": back to its driver" : "");
            cnt->corrected++;
        }
        d->pending = XLPCI_PENDING_NONE;
        if (d->managed) {
            int was = d->domid;

            d->domid = -1;
            rc1 = xlpci_assignable_remove_locked(ctx, true, bk, &bdf, true);
            if (rc1 == XLPCI_ERR_EXISTS) {
                /* Xen has it in a guest by now (its way out of dom_io
                 * refused): left on xen-pciback, still recorded */
                d->domid = was;
                cnt->kept++;
                if (!(flags & XLPCI_REL_LEFTOVER))
                    cnt->released--;
            } else {
                cnt->released += (flags & XLPCI_REL_LEFTOVER) != 0;
            }
            rc = rc ? rc : rc1;
        } else {
            d->domid = -1;
        }
    }
    if (!locked) {
        rc1 = xlpci_bk_commit(ctx, bk);
        rc = rc ? rc : rc1;
        xlpci_bk_close(bk);
    }
out:
    for (i = 0; kept && i < n; i++)
        if (kept[i] && lets_go(&v[i]))
            cnt->kept++;
    free(sub);
    free(kept);
    return rc;
}

int xlpci_release(xlpci_ctx *ctx, bool host, uint32_t domid,
                  const xlpci_bdf *bdfs, size_t n, const bool *kept,
                  unsigned flags, xlpci_release_count *cnt)
{
    xlpci_owner_facts *f = NULL;
    xlpci_owner_verdict *v = NULL;
    xlpci_truth tr;
    int *bkd = NULL;
    size_t i;
    xlpci_bk bk;
    int rc = 0;

    memset(cnt, 0, sizeof(*cnt));
    if (!n)
        return 0;
    f = calloc(n, sizeof(*f));
    v = calloc(n, sizeof(*v));
    bkd = calloc(n, sizeof(*bkd));
    if (!f || !v || !bkd) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < n; i++)
        bkd[i] = -1;
    if (host && (flags & XLPCI_REL_BK) && !ctx->dry_run) {
        rc = xlpci_bk_open(ctx, &bk);
        if (rc)
            goto out;
        for (i = 0; i < n; i++) {
            xlpci_bk_dev *d = xlpci_bk_find(&bk, &bdfs[i]);

            bkd[i] = d ? d->domid : -1;
        }
        xlpci_bk_close(&bk);
    }
    /* The records and the backends are read only when the bookkeeping
     * names another domain: the caller just removed domid's own entries
     * and records (a pci-detach), or found them gone. */
    for (i = 0; i < n && (bkd[i] < 0 || bkd[i] == (int)domid); i++)
        ;
    if (i == n) {
        for (i = 0; i < n; i++) {
            xlpci_owner_facts_init(&f[i], (int)domid, -1, false, bkd[i]);
            xlpci_owner_decide(&f[i], &v[i]);
        }
    } else {
        xlpci_truth_init(ctx, &tr, host);
        rc = xlpci_owners_read(ctx, &tr, (int)domid, -1, bdfs, bkd, n, 0, f,
                               v);
        xlpci_truth_close(ctx, &tr);
    }
    if (!rc)
        rc = xlpci_release_decided(ctx, host, domid, bdfs, f, v, n, kept,
                                   flags, NULL, cnt);
out:
    free(f);
    free(v);
    free(bkd);
    return rc;
}

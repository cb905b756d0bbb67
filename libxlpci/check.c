/*
 * `xlpci check [--repair] [--audit]`: verify a domain's PCI backend and
 * who holds its devices, and put right what an interrupted operation or
 * another toolstack left behind.
 *
 * Invariants of the backend: it has num_devs (pciback closes it
 * otherwise); num_devs is the number of devices and every
 * dev-0..dev-(num_devs-1) holds a valid BDF; no per-index key lies past
 * num_devs; no device is listed twice; the frontend directory exists; no
 * index is left Closing with the backend Connected (a detach whose
 * Reconfiguring cycle finished but which never removed the index,
 * libxl's own failure mode).  Reported but not repaired: an index pciback
 * never exported although both ends are Connected (state-N still
 * Initialising, no vdev-N: the guest does not have the device; libxl's
 * one-transaction-per-device create on a pciback that read num_devs
 * once).  The next Reconfiguring cycle exports it: pciback's reconfigure
 * exports every index still Initialising.
 *
 * Who holds each device (owner.c, the facts gathered in the same
 * transaction: ownership.c): a device its backend lists is the domain's,
 * and its record /libxl/pci/<bdf>/domid must name the domain (written
 * when missing, unreadable, or naming a gone domain); another live
 * domain holding it too (its record, or the backend of the domain the
 * bookkeeping names) is reported, never repaired: one of them must let
 * go.  A record naming the domain for a device its backend does not list
 * (an interrupted operation) goes, and the host half releases the device
 * unless another live domain holds it.
 *
 * Repair, in one transaction: drop every bad or released index and the
 * orphans, compact the rest (vdev-N moving along), recount num_devs
 * (nothing left: remove both directories), the records.  A backend in
 * the middle of a Reconfiguring cycle is reported, never touched.  Then,
 * with xen-pciback, the host half (reconcile.c), under the operations
 * lock and the bookkeeping's, taken before the transaction so that both
 * see one state.
 *
 * Cost: what the domain holds.  The backend is read once, the records of
 * its devices, the bookkeeping; no listing that grows with the host.
 * --audit also looks host-wide, and says so: the listing of /libxl/pci
 * for records naming the domain that nothing else knows (on a connection
 * of its own: past about 315 records oxenstored cannot send it, and the
 * check fails naming the 4096-byte limit), and every other PCI backend
 * for its devices.  A gone domain is destroy's (xlpci_destroy_run):
 * reported, released by --repair.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

typedef struct {
    uint32_t domid;
    bool repair, audit;
    xlpci_truth *tr;
    const xlpci_bk *bk;                /* host: locked by the caller */
    const xlpci_bdf *extra;            /* --audit: records naming it */
    size_t nextra;
    unsigned problems, repaired;
    unsigned unfixable;                /* problems a repair leaves alone */
    bool busy;                         /* a cycle is in progress */
    /* every device seen, with its verdict, for the host half */
    xlpci_checked *dev;
    size_t ndev;
    bool host;                         /* xen-pciback loaded */
    bool stuck;                        /* frontend Reconfiguring, backend
                                        * Connected: --repair resumes */
} check_arg;

static void problem(xlpci_ctx *ctx, check_arg *a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(xlpci_ctx *ctx, check_arg *a, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->problems++;
    /* WARN: held back until the commit confirms the reads */
    LOG(ctx, WARN, "domain %u: %s", a->domid, msg);
}

/* What the view's parser found (view.c): reported, the rows to drop
 * collected.  Orphans beyond the first few are counted, not each named. */
typedef struct {
    xlpci_ctx *ctx;
    check_arg *a;
    unsigned *drop, ndrop;
    unsigned norphan;
} found_arg;

#define ORPHANS_NAMED 8

static void found_problem(void *varg, enum xlpci_problem_kind kind,
                          unsigned index, const char *msg)
{
    found_arg *f = varg;

    switch (kind) {
    case XLPCI_PB_ORPHAN:
        if (f->norphan++ < ORPHANS_NAMED)
            problem(f->ctx, f->a, "%s", msg);
        else
            f->a->problems++;
        return;
    case XLPCI_PB_ROW:
        if (!xlpci_idx_in(f->drop, f->ndrop, index))
            f->drop[f->ndrop++] = index;
        problem(f->ctx, f->a, "%s", msg);
        return;
    case XLPCI_PB_NUM:
        problem(f->ctx, f->a, "%s", msg);
        return;
    case XLPCI_PB_VALUE:
        problem(f->ctx, f->a, "%s (not repairable: nobody can tell the "
                "value meant; correct it by hand with xenstore-write, or "
                "replace the backend with create -f)", msg);
        f->a->unfixable++;
        return;
    case XLPCI_PB_STATE:
        problem(f->ctx, f->a, "%s (not repairable: pciback writes it)", msg);
        f->a->unfixable++;
        return;
    }
}

/* The host's side of the backend's devices (xen-pciback loaded),
 * reported, never repaired (the guest still has the index: pci-detach
 * it): a device gone from the host, such as an SR-IOV virtual function
 * whose PF's sriov_numvfs dropped below it (a PF driver that allows it
 * while VFs are assigned, which pci-pf-stub refuses, or the PF's driver
 * unloaded); a VF whose PF is on xen-pciback, whose reset disables it. */
static void host_problems(xlpci_ctx *ctx, check_arg *a, const xlpci_view *v)
{
    char why[XLPCI_PATH_MAX + 200], err[64], p[XLPCI_BDF_STRLEN];
    xlpci_bdf bdf, pf;
    unsigned i;

    for (i = 0; i < v->num_devs; i++) {
        const char *dev = v->keys[i][XLPCI_KEY_DEV];

        if (!dev || xlpci_bdf_parse(dev, &bdf, err, sizeof(err)))
            continue;                  /* the parser reported it */
        if (!xlpci_sysfs_exists(ctx, &bdf)) {
            if (xlpci_sysfs_vf_gone(ctx, &bdf, why, sizeof(why)))
                problem(ctx, a, "%s (index %u) is no longer on the host: it "
                        "was %s: SR-IOV was disabled under a VF that is "
                        "assigned, and the guest has lost it (not repairable "
                        "here: pci-detach it)", dev, i, why);
            else
                problem(ctx, a, "%s (index %u) is no longer on the host (not "
                        "repairable here: pci-detach it)", dev, i);
            a->unfixable++;
        } else if (xlpci_sysfs_physfn(ctx, &bdf, &pf) &&
                   xlpci_sysfs_on_pciback(ctx, &pf)) {
            problem(ctx, a, "%s (index %u) is a virtual function of %s, "
                    "which is bound to xen-pciback: the PF's reset disables "
                    "its VFs (not repairable here: give the PF back to its "
                    "driver)", dev, i, xlpci_bdf_format(&pf, p));
            a->unfixable++;
        }
    }
}

/* Issue 21: states every command refuses, or waits on for ever, are
 * problems too (check says "consistent" only when no command would
 * refuse):
 *   - the backend Closing or Closed: pciback gave up (its error node
 *     says why); attach and detach refuse it.  Not repairable here:
 *     create -f replaces it, destroy releases it;
 *   - the frontend Reconfiguring while the backend is Connected: the guest
 *     acted on a cycle that was rolled back under it (cycle.c) and waits
 *     for a Reconfigured that never comes; every cycle waits for its
 *     frontend.  --repair resumes the cycle (then repairs the rest). */
static int wedged_problems(xlpci_ctx *ctx, xs_transaction_t t,
                           check_arg *a, const xlpci_view *v, bool fe_exists)
{
    char be[XLPCI_PATH_MAX], epath[XLPCI_PATH_MAX], *err = NULL;
    xlpci_wait_reason why;
    int rc = 0;

    xlpci_be_path(be, a->domid);
    if (v->state == XenbusStateClosing || v->state == XenbusStateClosed) {
        xlpci_error_path(epath, a->domid);
        rc = xlpci_xs_read(ctx, t, epath, &err);
        if (rc)
            return rc;
        problem(ctx, a, "the PCI backend %s is %s (pciback gave up%s%s): "
                "pci-attach and pci-detach refuse it (not repairable here: "
                "create -f replaces it, destroy releases its devices)", be,
                xlpci_state_name(v->state), err ? ": " : "", err ?: "");
        a->unfixable++;
        free(err);
        return 0;
    }
    if (!fe_exists || v->state != XenbusStateConnected)
        return 0;
    memset(&why, 0, sizeof(why));
    xlpci_frontend_ready(ctx, t, a->domid, &why, &rc);
    if (!rc && why.fe_state == -2) {
        problem(ctx, a, "its frontend's state is not a xenbus state (the "
                "guest wrote it): every pci-attach and pci-detach waits for "
                "a Connected frontend (not repairable here: the guest's "
                "node)");
        a->unfixable++;
        return 0;
    }
    if (rc || why.fe_state == XenbusStateConnected)
        return rc;
    if (why.fe_state != XenbusStateReconfiguring) {
        /* any other state (or none): the guest left Connected, or never
         * got there; every cycle waits for a Connected frontend */
        if (why.fe_state < 0)
            problem(ctx, a, "its frontend has no state while the backend %s "
                    "is Connected: every pci-attach and pci-detach waits for "
                    "a Connected frontend (not repairable here: the guest's "
                    "node)", be);
        else
            problem(ctx, a, "its frontend is %s while the backend %s is "
                    "Connected: every pci-attach and pci-detach waits for a "
                    "Connected frontend (not repairable here: the guest's "
                    "node; the guest reconnects, or xl destroy ends it)",
                    xlpci_state_name(why.fe_state), be);
        a->unfixable++;
        return 0;
    }
    a->stuck = true;
    problem(ctx, a, "its frontend is Reconfiguring while the backend %s is "
            "Connected: the guest acted on a Reconfiguring cycle that was "
            "rolled back under it and waits for its end; every pci-attach "
            "and pci-detach waits for it (check --repair resumes the "
            "cycle)", be);
    return 0;
}

/* devices.json's domid of bdf (host), or -1. */
static int bk_of(const check_arg *a, const xlpci_bdf *bdf)
{
    xlpci_bk_dev *d;

    if (!a->bk)
        return -1;
    d = xlpci_bk_find((xlpci_bk *)a->bk, bdf);
    return d ? d->domid : -1;
}

static bool seen(const check_arg *a, const xlpci_bdf *bdf)
{
    size_t i;

    for (i = 0; i < a->ndev; i++)
        if (!xlpci_bdf_cmp(&a->dev[i].bdf, bdf))
            return true;
    return false;
}

/* The BDF of the row that stays listed after the repair (not dropped), or
 * false. */
static bool row_bdf(const xlpci_view *v, unsigned i, xlpci_bdf *bdf)
{
    char err[64];
    const char *dev = v->keys[i][XLPCI_KEY_DEV];

    return dev && !xlpci_bdf_parse(dev, bdf, err, sizeof(err));
}

/* In t: bdf's record, the facts and the decision; into a->dev.  listed:
 * the backend lists it (and keeps listing it after a repair). */
static int owner_of(xlpci_ctx *ctx, xs_transaction_t t, check_arg *a,
                    const xlpci_bdf *bdf, bool listed)
{
    xlpci_checked *c, *nv;
    xlpci_owner_cand *oc;
    int rc, record, found, skip[XLPCI_OWNER_MAXCAND];
    bool bad;
    unsigned k;

    rc = xlpci_owner_read(ctx, t, bdf, &record);
    bad = rc == XLPCI_ERR_CORRUPT;
    if (bad)
        rc = 0;
    if (rc)
        return rc;
    nv = realloc(a->dev, (a->ndev + 1) * sizeof(*nv));
    if (!nv)
        return XLPCI_ERR_NOMEM;
    a->dev = nv;
    c = &a->dev[a->ndev];
    memset(c, 0, sizeof(*c));
    c->bdf = *bdf;
    c->listed = listed;
    xlpci_owner_facts_init(&c->f, (int)a->domid, record, bad, bk_of(a, bdf));
    oc = xlpci_owner_cand_find(&c->f, a->domid);
    oc->alive = 1;
    rc = xlpci_owner_gather(ctx, a->tr, t, bdf, listed,
                            a->audit ? XLPCI_FIND_STALE : 0, &c->f, &c->v);
    if (!rc && a->audit && listed) {
        /* --audit: every other backend too */
        for (k = 0; k < c->f.ncand; k++)
            skip[k] = (int)c->f.cand[k].domid;
        rc = xlpci_backend_search(ctx, t, bdf, skip, c->f.ncand, &found);
        if (!rc && found >= 0 &&
            (oc = xlpci_owner_cand_add(&c->f, (uint32_t)found))) {
            oc->lists = true;
            rc = xlpci_truth_alive(ctx, a->tr, t, oc->domid, &oc->alive);
        }
    }
    if (rc)
        return rc;
    xlpci_owner_decide(&c->f, &c->v);
    a->ndev++;
    return 0;
}

/* The ownership problems of a device the backend lists, and the record's
 * repair. */
static int listed_problems(xlpci_ctx *ctx, check_arg *a,
                           const xlpci_checked *c, xlpci_ops *ops)
{
    char path[XLPCI_PATH_MAX], b[XLPCI_BDF_STRLEN], why[300];
    const xlpci_owner_facts *f = &c->f;
    const xlpci_owner_verdict *v = &c->v;

    xlpci_bdf_format(&c->bdf, b);
    xlpci_libxl_path(path, &c->bdf, "domid");
    if (v->held == XLPCI_HELD_OTHER || v->rival >= 0) {
        int other = v->held == XLPCI_HELD_OTHER ? v->holder : v->rival;

        xlpci_owner_text(&c->bdf, f, v, why, sizeof(why));
        if (f->record == other)
            problem(ctx, a, "its backend lists %s, which %s gives to "
                    "domain %d (%s; not repaired: one of them must release "
                    "it, `xlpci pci-detach %d %s` or `xlpci pci-detach %u "
                    "%s`)", b, path, other, why, other, b, a->domid, b);
        else
            problem(ctx, a, "%s is also in the PCI backend of domain %d "
                    "(%s; not repaired: one of them must release it, "
                    "`xlpci pci-detach %d %s` or `xlpci pci-detach %u %s`)",
                    b, other, why, other, b, a->domid, b);
        a->unfixable++;
        return 0;
    }
    if (v->held != XLPCI_HELD_SELF || !v->record_fix)
        return 0;
    if (f->record_bad)
        problem(ctx, a, "%s is not a domid", path);
    else if (f->record < 0)
        problem(ctx, a, "its backend lists %s but %s is missing (xl would "
                "offer the device again)", b, path);
    else
        problem(ctx, a, "its backend lists %s but %s names domain %d, which "
                "is gone", b, path, f->record);
    return a->repair ? xlpci_ops_writef(ops, path, "%u", a->domid) : 0;
}

/* A record naming the domain for a device its backend does not list. */
static int unlisted_problems(xlpci_ctx *ctx, check_arg *a,
                             const xlpci_checked *c, xlpci_ops *ops)
{
    char path[XLPCI_PATH_MAX], b[XLPCI_BDF_STRLEN];

    if (c->f.record != (int)a->domid)
        return 0;                      /* the host half reports the rest */
    xlpci_bdf_format(&c->bdf, b);
    xlpci_libxl_path(path, &c->bdf, "domid");
    problem(ctx, a, "%s names it but its backend does not list %s (an "
            "interrupted operation)", path, b);
    return a->repair ? xlpci_ops_rm(ops, path) : 0;
}

static int check_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                      void *varg)
{
    check_arg *a = varg;
    char be[XLPCI_PATH_MAX], fe[XLPCI_PATH_MAX];
    found_arg f;
    xlpci_view v;
    xlpci_bdf bdf;
    unsigned i;
    size_t k;
    bool fe_exists = false, recount, ok;
    int rc, state = -1;

    a->problems = a->repaired = a->unfixable = 0;
    a->busy = false;
    a->stuck = false;
    a->ndev = 0;
    memset(&f, 0, sizeof(f));
    xlpci_be_path(be, a->domid);
    xlpci_fe_path(fe, a->domid);
    rc = xlpci_view_read(ctx, t, a->domid, &v);
    if (rc)
        goto out;
    f.ctx = ctx;
    f.a = a;
    f.drop = calloc(v.num_devs + 1, sizeof(*f.drop));
    if (!f.drop) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    if (!v.dir_exists)
        goto owners;                   /* no backend: nothing listed */
    state = v.state;
    xlpci_view_problems(&v, a->domid, found_problem, &f);
    if (f.norphan > ORPHANS_NAMED)
        LOG(ctx, WARN, "domain %u: and %u more orphan key(s)", a->domid,
            f.norphan - ORPHANS_NAMED);
    if (!v.num_raw && !v.num_bad)
        problem(ctx, a, "%s has no num_devs and lists no device (pciback "
                "closes such a backend)", be);
    if (a->host)
        host_problems(ctx, a, &v);
    for (i = 0; i < v.num_devs; i++) {
        if (!xlpci_idx_in(f.drop, f.ndrop, i) &&
            v.row_state[i] == XenbusStateClosing &&
            state == XenbusStateConnected) {
            problem(ctx, a, "%s (index %u) was released by the guest "
                    "but never removed (an interrupted detach)",
                    v.keys[i][XLPCI_KEY_DEV], i);
            f.drop[f.ndrop++] = i;
        }
    }
    rc = xlpci_xs_exists(ctx, t, fe, &fe_exists);
    if (rc) goto out;
    if (!fe_exists)
        problem(ctx, a, "the frontend directory %s is missing", fe);
    if (fe_exists && state == XenbusStateConnected) {
        xlpci_wait_reason why;
        bool fe_connected = xlpci_frontend_ready(ctx, t, a->domid, &why,
                                                 &rc);

        if (rc) goto out;
        for (i = 0; fe_connected && i < v.num_devs; i++) {
            if (xlpci_idx_in(f.drop, f.ndrop, i) ||
                v.keys[i][XLPCI_KEY_VDEV] ||
                v.row_state[i] != XenbusStateInitialising)
                continue;
            problem(ctx, a, "%s (index %u) was never exported to the guest "
                    "(Initialising, no vdev-%u, both ends Connected: pciback "
                    "read num_devs before it was written); not repairable "
                    "here: the next Reconfiguring cycle (a pci-attach) "
                    "exports it",
                    v.keys[i][XLPCI_KEY_DEV], i, i);
            a->unfixable++;
        }
    }

    rc = wedged_problems(ctx, t, a, &v, fe_exists);
    if (rc) goto out;
    if (state == XenbusStateReconfiguring ||
        state == XenbusStateReconfigured) {
        a->busy = true;
        LOG(ctx, WARN, "domain %u: a Reconfiguring cycle is in progress "
            "(backend state %d); not repairing", a->domid, state);
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
owners:
    /* who holds the devices it lists (after the repair: the rows kept) */
    for (i = 0; !rc && i < v.num_devs; i++)
        if (!xlpci_idx_in(f.drop, f.ndrop, i) && row_bdf(&v, i, &bdf) &&
            !seen(a, &bdf))
            rc = owner_of(ctx, t, a, &bdf, true);
    for (k = 0; !rc && k < a->ndev; k++)
        rc = listed_problems(ctx, a, &a->dev[k], ops);
    /* and those it names no longer listed: the dropped rows' (by dev-N or
     * key-N), the bookkeeping's, --audit's records */
    for (i = 0; !rc && i < v.num_devs; i++) {
        const char *key = v.keys[i][XLPCI_KEY_KEY];
        char err[64];

        if (!xlpci_idx_in(f.drop, f.ndrop, i))
            continue;
        ok = row_bdf(&v, i, &bdf) ||
             (key && !xlpci_bdf_parse(key, &bdf, err, sizeof(err)));
        if (ok && !seen(a, &bdf))
            rc = owner_of(ctx, t, a, &bdf, false);
    }
    for (k = 0; !rc && a->bk && k < a->bk->n; k++)
        if (a->bk->v[k].domid == (int)a->domid && !seen(a, &a->bk->v[k].bdf))
            rc = owner_of(ctx, t, a, &a->bk->v[k].bdf, false);
    for (k = 0; !rc && k < a->nextra; k++)
        if (!seen(a, &a->extra[k]))
            rc = owner_of(ctx, t, a, &a->extra[k], false);
    for (k = 0; !rc && k < a->ndev; k++)
        if (!a->dev[k].listed)
            rc = unlisted_problems(ctx, a, &a->dev[k], ops);
    if (rc) goto out;

    /* a stuck frontend: the cycle is resumed first (outside this
     * transaction, xlpci_check_flags), the rest repaired after it */
    if (!a->repair || a->stuck || a->problems == a->unfixable) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    /* The repair: drop the bad rows, compact, recount num_devs (nothing
     * left: both directories go), remove every orphan key; the records
     * were planned above. */
    if (!v.dir_exists)
        goto done;
    recount = v.num_bad || !v.num_raw;
    if (f.ndrop || recount) {
        rc = xlpci_layout_remove(ops, a->domid, &v, f.drop, f.ndrop);
        if (rc) goto out;
    }
    if (v.num_devs > f.ndrop || (!f.ndrop && !recount))
        rc = xlpci_layout_rm_orphans(ops, a->domid, &v);
    if (rc) goto out;
    if (!fe_exists && v.num_devs > f.ndrop) {
        /* recreate it as the create path writes it */
        char p2[XLPCI_PATH_MAX + 16];

        rc = xlpci_ops_mkdir(ops, fe);
        if (!rc) rc = xlpci_ops_perms(ops, fe, a->domid, 0);
        snprintf(p2, sizeof(p2), "%s/backend", fe);
        if (!rc) rc = xlpci_ops_write(ops, p2, be);
        snprintf(p2, sizeof(p2), "%s/backend-id", fe);
        if (!rc) rc = xlpci_ops_write(ops, p2, "0");
        snprintf(p2, sizeof(p2), "%s/state", fe);
        if (!rc) rc = xlpci_ops_writef(ops, p2, "%d", XenbusStateInitialising);
        if (rc) goto out;
    }
done:
    a->repaired = a->problems - a->unfixable;
    if (!ops->n)
        rc = XLPCI_TXN_NOTHING;
out:
    free(f.drop);
    xlpci_view_dispose(&v);
    return rc;
}

/* A gone domain: what it still holds, released by --repair (destroy's
 * release); then the host-wide leftovers of the bookkeeping. */
static int check_gone(xlpci_ctx *ctx, bool host, uint32_t domid,
                      unsigned flags, const xlpci_bdf *extra, size_t nextra,
                      xlpci_check_result *res)
{
    bool repair = flags & XLPCI_CHECK_REPAIR;
    xlpci_destroy_result d;
    unsigned left = 0;
    int rc;

    rc = xlpci_destroy_run(ctx, host, domid,
                           (repair ? XLPCI_DESTROY_RELEASE : 0) |
                           (flags & XLPCI_CHECK_AUDIT ? XLPCI_DESTROY_AUDIT
                                                      : 0),
                           extra, nextra, &d);
    if (rc)
        return rc;
    if (repair && !ctx->dry_run && (d.held || d.entries || d.released))
        LOG(ctx, NOTICE, "domain %u is gone: released what it held",
            domid);
    /* what is left to do: without --repair, what it holds and the
     * bookkeeping's leftovers (a correction); a dry run, all of it */
    if (!repair || ctx->dry_run)
        res->problems = d.held + (d.entries && !d.held) + d.leftovers;
    if (repair && !ctx->dry_run && host)
        rc = xlpci_host_reconcile(ctx, host, domid, NULL, NULL, 0, true,
                                  &left);
    res->problems += left;
    return rc;
}

/* The operations lock (no create/attach between its intent and its
 * finish) and the bookkeeping, as they are while the store is read. */
static int check_lock(xlpci_ctx *ctx, int *ops, xlpci_bk *bk)
{
    int rc = xlpci_bk_quiesce(ctx, ops);

    if (rc)
        return rc;
    rc = xlpci_bk_open(ctx, bk);
    if (rc)
        xlpci_bk_op_end(ops);
    return rc;
}

static void check_unlock(int *ops, xlpci_bk *bk)
{
    xlpci_bk_close(bk);
    xlpci_bk_op_end(ops);
}

/* The check's transaction again, the locks taken again (the steps that
 * wait on a guest or ask QEMU run without them). */
static int check_again(xlpci_ctx *ctx, bool host, check_arg *a, int *ops,
                       xlpci_bk *bk)
{
    int rc = host ? check_lock(ctx, ops, bk) : 0;

    if (rc)
        return rc;
    rc = xlpci_txn_run(ctx, "check --repair", check_body, a);
    return rc == XLPCI_TXN_NOTHING ? 0 : rc;
}

int xlpci_check_flags(xlpci_ctx *ctx, uint32_t domid, unsigned flags,
                      xlpci_check_result *res)
{
    XLPCI_OP(ctx);
    check_arg a;
    xlpci_truth tr;
    xlpci_bdf *named = NULL;
    size_t nnamed = 0;
    bool host, repair;
    int rc, alive, ops = -1, type = XLPCI_GUEST_PV;
    xlpci_bk bk;
    unsigned left = 0, hfound = 0, hleft = 0;

    memset(res, 0, sizeof(*res));
    memset(&a, 0, sizeof(a));
    memset(&bk, 0, sizeof(bk));
    bk.lockfd = -1;                    /* closing it twice is harmless */
    if (domid == 0) {
        LOG(ctx, ERROR, "domain 0 is the backend domain");
        return XLPCI_ERR_INVAL;
    }
    a.domid = domid;
    a.repair = flags & XLPCI_CHECK_REPAIR;
    a.audit = flags & XLPCI_CHECK_AUDIT;
    a.tr = &tr;
    repair = a.repair && !ctx->dry_run;
    host = xlpci_host_active(ctx);     /* once for the whole check */
    a.host = host;
    xlpci_truth_init(ctx, &tr, host);
    rc = xlpci_truth_alive(ctx, &tr, XBT_NULL, domid, &alive);
    if (rc)
        goto out;
    res->domain_exists = alive;
    /* --audit: the records naming it that nothing else knows (a listing
     * that grows with the host, on a connection of its own) */
    if (a.audit) {
        rc = xlpci_owner_scan(ctx, domid, &named, &nnamed);
        if (rc)
            goto out;                  /* logged: it could not look */
        a.extra = named;
        a.nextra = nnamed;
    }
    if (!alive) {
        rc = check_gone(ctx, host, domid, flags, named, nnamed, res);
        goto out;
    }
    if (host && repair) {
        /* the repair ends with a commit of the bookkeeping: a state
         * directory that cannot take it is found before anything
         * changes */
        rc = xlpci_bk_probe(ctx);
        if (rc)
            goto out;
    }
    if (host) {
        rc = check_lock(ctx, &ops, &bk);
        if (rc)
            goto out;
        a.bk = &bk;
    }
    rc = xlpci_txn_run(ctx, a.repair ? "check --repair" : "check",
                       check_body, &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    /* a frontend stuck in Reconfiguring (wedged_problems): --repair
     * resumes the cycle, waiting for the guest by the deadline without
     * the locks, then checks the rest */
    if (!rc && a.repair && a.stuck) {
        if (host)
            check_unlock(&ops, &bk);
        rc = xlpci_cycle_resume(ctx, domid, xlpci_step_limit(ctx));
        if (rc == 1)
            LOG(ctx, NOTICE, "domain %u: resumed the Reconfiguring cycle "
                "its guest was waiting in: both ends are Connected again",
                domid);
        if (rc == XLPCI_ERR_TIMEDOUT || rc > 0)
            rc = 0;                    /* what is left is counted */
        if (!rc && !ctx->dry_run)
            rc = check_again(ctx, host, &a, &ops, &bk);
        else if (!rc && host)
            rc = check_lock(ctx, &ops, &bk);
    }
    /* An HVM guest: its QEMU is asked which devices it has and compared
     * with the record and the bookkeeping (xlpci_hvm_check_qemu), before
     * the host half, which leaves a device with a QEMU step pending to
     * it; without the locks (QEMU may take the deadline), the check run
     * again after a repair */
    if (!rc && host && !a.busy &&
        !xlpci_guest_type_of(ctx, host, domid, &type) &&
        type == XLPCI_GUEST_HVM) {
        check_unlock(&ops, &bk);
        rc = xlpci_hvm_check_qemu(ctx, host, domid, repair, &hfound,
                                  &hleft);
        if (!rc && repair && hfound)
            rc = check_again(ctx, host, &a, &ops, &bk);
        else if (!rc)
            rc = check_lock(ctx, &ops, &bk);
    }
    if (!rc && a.repaired && !ctx->dry_run)
        LOG(ctx, NOTICE, "domain %u: repaired %u problem(s)", domid,
            a.repaired);
    if (!rc) {
        res->problems = a.problems - (ctx->dry_run ? 0 : a.repaired);
        res->unfixable = a.unfixable;
        res->problems += repair ? hleft : hfound;
    }
    if (!rc && host && !a.busy)
        rc = xlpci_host_reconcile(ctx, host, domid, &bk, a.dev, a.ndev,
                                  repair, &left);
    res->problems += left;
    if (host)
        check_unlock(&ops, &bk);
    if (!rc && a.busy && res->problems)
        rc = XLPCI_ERR_BUSY;
out:
    xlpci_truth_close(ctx, &tr);
    free(named);
    free(a.dev);
    return rc;
}

int xlpci_check_ex(xlpci_ctx *ctx, uint32_t domid, bool repair,
                   xlpci_check_result *res)
{
    XLPCI_OP(ctx);

    return xlpci_check_flags(ctx, domid, repair ? XLPCI_CHECK_REPAIR : 0,
                             res);
}

int xlpci_check(xlpci_ctx *ctx, uint32_t domid, bool repair,
                unsigned *problems_r)
{
    XLPCI_OP(ctx);
    xlpci_check_result res;
    int rc = xlpci_check_ex(ctx, domid, repair, &res);

    *problems_r = res.problems;
    return rc;
}

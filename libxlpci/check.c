/*
 * `xlpci check [--repair]`: verify a domain's PCI backend and put right
 * what an interrupted operation or another toolstack left behind.
 *
 * Invariants: the backend has num_devs (pciback closes it otherwise);
 * num_devs is the number of devices and every dev-0..dev-(num_devs-1)
 * holds a valid BDF; no per-index key lies past num_devs; no device is
 * listed twice; the frontend directory exists; no index is left Closing
 * with the backend Connected (a detach whose Reconfiguring cycle finished
 * but which never removed the index, libxl's own failure mode).
 * Reported but not repaired: an index pciback never exported although
 * both ends are Connected (state-N still Initialising, no vdev-N: the
 * guest does not have the device; libxl's one-transaction-per-device
 * create on a pciback that read num_devs once).  The next Reconfiguring
 * cycle exports it: pciback's reconfigure exports every index still
 * Initialising.
 *
 * Repair, in one transaction: drop every bad or released index and the
 * orphans, compact the rest (vdev-N moving along), recount num_devs;
 * nothing left: remove both directories.  A backend in the middle of a
 * Reconfiguring cycle is reported, never touched.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    uint32_t domid;
    bool repair;
    unsigned problems, repaired;
    unsigned unfixable;                /* problems a repair leaves alone */
    bool busy;                         /* a cycle is in progress */
    bool domain_exists;
    const xlpci_bdf *named;            /* records naming it (the scan, */
    size_t nnamed;                     /* outside the transaction) */
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
    if (rc || why.fe_state != XenbusStateReconfiguring)
        return rc;
    a->stuck = true;
    problem(ctx, a, "its frontend is Reconfiguring while the backend %s is "
            "Connected: the guest acted on a Reconfiguring cycle that was "
            "rolled back under it and waits for its end; every pci-attach "
            "and pci-detach waits for it (check --repair resumes the "
            "cycle)", be);
    return 0;
}

static int check_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                      void *varg)
{
    check_arg *a = varg;
    char be[XLPCI_PATH_MAX], fe[XLPCI_PATH_MAX];
    found_arg f;
    xlpci_view v;
    unsigned i;
    bool fe_exists, recount;
    int rc, state;

    a->problems = a->repaired = a->unfixable = 0;
    a->busy = false;
    a->stuck = false;
    memset(&f, 0, sizeof(f));
    xlpci_be_path(be, a->domid);
    xlpci_fe_path(fe, a->domid);
    rc = xlpci_domain_exists(ctx, t, a->domid, &a->domain_exists);
    if (!rc) rc = xlpci_view_read(ctx, t, a->domid, &v);
    if (rc || !v.dir_exists)
        goto out;                      /* no backend: nothing to check */
    state = v.state;
    f.ctx = ctx;
    f.a = a;
    f.drop = calloc(v.num_devs + 1, sizeof(*f.drop));
    if (!f.drop) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    xlpci_view_problems(&v, a->domid, found_problem, &f);
    if (f.norphan > ORPHANS_NAMED)
        LOG(ctx, WARN, "domain %u: and %u more orphan key(s)", a->domid,
            f.norphan - ORPHANS_NAMED);
    if (!v.num_raw && !v.num_bad)
        problem(ctx, a, "%s has no num_devs and lists no device (pciback "
                "closes such a backend)", be);
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
    }
    /* a stuck frontend: the cycle is resumed first (outside this
     * transaction, xlpci_check_ex), the rest repaired after it */
    if (!a->repair || a->busy || a->stuck ||
        a->problems == a->unfixable) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    /* The repair: drop the bad rows, compact, recount num_devs (nothing
     * left: both directories go), remove every orphan key. */
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
    a->repaired = a->problems - a->unfixable;
out:
    free(f.drop);
    xlpci_view_dispose(&v);
    return rc;
}

/* ---- the ownership records (/libxl/pci/<bdf>/domid) ----------------------- */

/* The records must match the backend: every device it lists has a node
 * naming the domain, and every node naming the domain is a device it
 * lists.  The records naming it were found before the transaction
 * (xlpci_owner_scan: /libxl/pci may be too large for one reply); each one
 * the backend does not list is read again here, and reported (removed)
 * only if it still names the domain.  The only scan of the other backends
 * is here, to find a device that another toolstack, which keeps no such
 * record, put in a second backend (reported, not repaired: one of them
 * must let go). */
static int owners_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    check_arg *a = varg;
    char path[XLPCI_PATH_MAX], b[XLPCI_BDF_STRLEN], err[128];
    char **doms = NULL;
    unsigned nd = 0, j, other;
    xlpci_view view, ov;
    xlpci_bdf *listed = NULL, bdf;
    size_t nl = 0, i, k;
    int rc, owner;

    a->problems = a->unfixable = 0;
    xlpci_view_init(&view);
    rc = xlpci_view_read(ctx, t, a->domid, &view);
    if (rc == XLPCI_ERR_CORRUPT) {
        rc = XLPCI_TXN_NOTHING;        /* the backend check reports it */
        goto out;
    }
    if (rc) goto out;
    listed = calloc(view.num_devs + 1, sizeof(*listed));
    if (!listed) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < view.num_devs; i++) {
        const char *dev = view.keys[i][XLPCI_KEY_DEV];

        if (dev && !xlpci_bdf_parse(dev, &bdf, err, sizeof(err)))
            listed[nl++] = bdf;
    }
    /* records naming the domain that its backend does not list */
    for (i = 0; !rc && i < a->nnamed; i++) {
        bdf = a->named[i];
        for (k = 0; k < nl && xlpci_bdf_cmp(&listed[k], &bdf); k++)
            ;
        if (k < nl)
            continue;
        rc = xlpci_owner_read(ctx, t, &bdf, &owner);
        if (rc == XLPCI_ERR_CORRUPT)
            rc = 0;                    /* rewritten since the scan */
        if (rc || owner != (int)a->domid)
            continue;
        xlpci_libxl_path(path, &bdf, "domid");
        problem(ctx, a, "%s names it but its backend does not list %s (an "
                "interrupted operation)", path, xlpci_bdf_format(&bdf, b));
        if (a->repair)
            rc = xlpci_ops_rm(ops, path);
    }
    if (rc) goto out;
    /* the backend's devices: their records, and other backends */
    rc = xlpci_xs_directory(ctx, t, XLPCI_BE_ROOT, &doms,
                            &nd);
    for (k = 0; !rc && k < nl; k++) {
        xlpci_bdf_format(&listed[k], b);
        xlpci_libxl_path(path, &listed[k], "domid");
        rc = xlpci_owner_read(ctx, t, &listed[k], &owner);
        if (rc == XLPCI_ERR_CORRUPT) {
            problem(ctx, a, "%s is not a domid", path);
            rc = a->repair ? xlpci_ops_writef(ops, path, "%u", a->domid) : 0;
        } else if (!rc && owner < 0) {
            problem(ctx, a, "its backend lists %s but %s is missing (xl "
                    "would offer the device again)", b, path);
            if (a->repair)
                rc = xlpci_ops_writef(ops, path, "%u", a->domid);
        } else if (!rc && owner != (int)a->domid) {
            problem(ctx, a, "its backend lists %s, which %s gives to "
                    "domain %d (not repaired: one of them must release it)",
                    b, path, owner);
            a->unfixable++;
        }
        for (j = 0; !rc && j < nd; j++) {
            if (xlpci_parse_uint(doms[j], DOMID_FIRST_RESERVED - 1,
                                 &other) || other == a->domid)
                continue;
            rc = xlpci_view_read(ctx, t, other, &ov);
            if (rc == XLPCI_ERR_CORRUPT)
                rc = 0;
            else if (!rc && xlpci_view_find(&ov, &listed[k]) >= 0) {
                problem(ctx, a, "%s is also in the PCI backend of domain %u "
                        "(not repaired: one of them must release it)", b,
                        other);
                a->unfixable++;
            }
            xlpci_view_dispose(&ov);
        }
    }
    if (!rc && (!a->repair || a->problems == a->unfixable || !ops->n))
        rc = XLPCI_TXN_NOTHING;
out:
    free(listed);
    free(doms);
    xlpci_view_dispose(&view);
    return rc;
}

/* An HVM guest (issue 21): its QEMU is asked which devices it has, and
 * compared with the record and the bookkeeping (xlpci_hvm_check_qemu),
 * before the bookkeeping's own check, which leaves a device with a QEMU
 * step pending to this one. */
static int check_hvm(xlpci_ctx *ctx, bool host, uint32_t domid, bool repair,
                     unsigned *found_r, unsigned *left_r)
{
    int type = XLPCI_GUEST_PV, rc;

    *found_r = *left_r = 0;
    rc = xlpci_guest_type_of(ctx, host, domid, &type);
    if (rc || type != XLPCI_GUEST_HVM)
        return 0;                      /* PV (or unknown): nothing more */
    return xlpci_hvm_check_qemu(ctx, host, domid, repair, found_r, left_r);
}

/* --repair of a stuck frontend (wedged_problems): the cycle resumed and
 * waited for (by the deadline), then the check run again for the rest. */
static int check_resume(xlpci_ctx *ctx, check_arg *a)
{
    int rc;

    if (!a->repair || !a->stuck)
        return 0;
    rc = xlpci_cycle_resume(ctx, a->domid, xlpci_step_limit(ctx));
    if (rc < 0 || ctx->dry_run)
        return rc == XLPCI_ERR_TIMEDOUT ? 0 : rc;   /* left: counted */
    if (rc == 1)
        LOG(ctx, NOTICE, "domain %u: resumed the Reconfiguring cycle its "
            "guest was waiting in: both ends are Connected again", a->domid);
    rc = xlpci_txn_run(ctx, "check --repair", check_body, a);
    return rc == XLPCI_TXN_NOTHING ? 0 : rc;
}

int xlpci_check_ex(xlpci_ctx *ctx, uint32_t domid, bool repair,
                   xlpci_check_result *res)
{
    XLPCI_OP(ctx);
    check_arg a = { domid, repair, 0, 0, 0, false, false, NULL, 0, false };
    xlpci_bdf *named = NULL;
    size_t nnamed = 0;
    bool exists, host;
    int rc, scan_rc;

    memset(res, 0, sizeof(*res));
    if (domid == 0) {
        LOG(ctx, ERROR, "domain 0 is the backend domain");
        return XLPCI_ERR_INVAL;
    }
    /* A gone domain: nothing of it is ever re-created; what it still
     * holds is reported, and released by --repair (as destroy). */
    rc = xlpci_domain_exists(ctx, XBT_NULL, domid, &exists);
    if (rc)
        return rc;
    host = xlpci_host_active(ctx);     /* once for the whole check */
    if (!exists) {
        unsigned held, left = 0;

        /* the records naming it that nothing else knows of; a scan that
         * cannot be had still lets the rest be released (and fails the
         * check: it could not look) */
        scan_rc = xlpci_owner_scan(ctx, domid, &named, &nnamed);
        rc = xlpci_destroy_run(ctx, host, domid, repair, named, nnamed,
                               &held);
        free(named);
        if (rc)
            return rc;
        if (repair && held && !ctx->dry_run)
            LOG(ctx, NOTICE, "domain %u is gone: released what it held",
                domid);
        if (!repair || ctx->dry_run)
            res->problems = held;
        if (repair && !ctx->dry_run)
            rc = xlpci_host_reconcile(ctx, host, domid, true, &left);
        res->problems += left;
        return rc ? rc : scan_rc;
    }
    rc = xlpci_txn_run(ctx, repair ? "check --repair" : "check", check_body,
                       &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    if (rc)
        return rc;
    rc = check_resume(ctx, &a);
    if (rc)
        return rc;
    scan_rc = a.busy ? 0 : xlpci_owner_scan(ctx, domid, &named, &nnamed);
    if (a.repaired && !ctx->dry_run)
        LOG(ctx, NOTICE, "domain %u: repaired %u problem(s)", domid,
            a.repaired);
    res->domain_exists = a.domain_exists;
    res->problems = a.problems - (ctx->dry_run ? 0 : a.repaired);
    res->unfixable = a.unfixable;
    if (!a.busy) {
        check_arg o = { domid, repair, 0, 0, 0, false, false, named,
                        nnamed, false };

        rc = xlpci_txn_run(ctx, repair ? "check --repair (ownership)"
                                       : "check (ownership)", owners_body,
                           &o);
        free(named);
        if (rc < 0)
            return rc;
        if (repair && !ctx->dry_run && o.problems > o.unfixable)
            LOG(ctx, NOTICE, "domain %u: ownership records: repaired %u "
                "problem(s)", domid, o.problems - o.unfixable);
        res->problems += repair && !ctx->dry_run ? o.unfixable : o.problems;
        res->unfixable += o.unfixable;
    }
    if (!a.busy && host && a.domain_exists) {
        unsigned found, left;

        rc = check_hvm(ctx, host, domid, repair, &found, &left);
        if (rc)
            return rc;
        res->problems += repair && !ctx->dry_run ? left : found;
    }
    if (!a.busy) {
        unsigned left;

        rc = xlpci_host_reconcile(ctx, host, domid,
                                  repair && !ctx->dry_run, &left);
        if (rc)
            return rc;
        res->problems += left;
    }
    if (scan_rc)
        return scan_rc;                /* logged: it could not look */
    return a.busy && res->problems ? XLPCI_ERR_BUSY : 0;
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

/*
 * pci-detach, the hot-remove: detach_begin_body until the backend is
 * ready (a backend nobody probed, or indices the guest never saw: removed
 * at once; else the indices Closing and a Reconfiguring cycle), the wait
 * for the guest to release the devices (or the rollback of a cycle that
 * never started; -f removes anyway), the hypervisor's grants revoked,
 * the indices removed (detach_remove_body), the host side released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

#define DETACH_MAX 8

typedef enum {
    DETACH_REMOVED,                    /* removed directly */
    DETACH_BEGUN,                      /* Closing + Reconfiguring written */
    DETACH_PARTIAL,                    /* the never-exported ones removed
                                        * directly, the rest still there */
} detach_mode;

typedef struct {
    uint32_t domid;
    xlpci_bdf bdf;
    bool all_funcs;
    unsigned flags;
    bool force_now;                    /* remove whatever the state */
    detach_mode mode;
    xlpci_wait_reason why;
    size_t n;                          /* devices found */
    xlpci_bdf found[DETACH_MAX];
    unsigned at[DETACH_MAX];           /* their indices then */
    int prev[DETACH_MAX];              /* their state-N before Closing
                                        * (view.row_state) */
    bool undone;
    size_t ngone;                      /* DETACH_PARTIAL: removed ones */
    xlpci_bdf gone[DETACH_MAX];
} detach_arg;

/* What the first step reads of every row: the keys check judges (dev-N:
 * which are ours; state-N: a removal pending, ours begun already), so a
 * damaged backend is refused before anything is written (whether ours
 * have a vdev-N, were exported, the listing says).  The removal after the
 * cycle reads dev-N where the first step found ours (every row's only if
 * they moved), then what it moves (xlpci_remove_devices). */
#define DETACH_KEYS XLPCI_KEYS_CHECKED

/* The indices of the devices to remove, by BDF, in this view.  quiet: no
 * message when none is there. */
static int detach_find(xlpci_ctx *ctx, detach_arg *a, const xlpci_view *view,
                       unsigned *idx, bool quiet)
{
    xlpci_entry e;
    char err[128];
    unsigned i;

    a->n = 0;
    for (i = 0; i < view->num_devs; i++) {
        if (xlpci_view_entry(view, i, &e, err, sizeof(err)))
            continue;
        if (a->all_funcs ? e.dev.bdf.seg == a->bdf.seg &&
                           e.dev.bdf.bus == a->bdf.bus &&
                           e.dev.bdf.dev == a->bdf.dev
                         : !xlpci_bdf_cmp(&e.dev.bdf, &a->bdf)) {
            if (a->n < DETACH_MAX) {
                a->found[a->n] = e.dev.bdf;
                a->at[a->n] = i;
                idx[a->n++] = i;
            }
        }
        xlpci_dev_dispose(&e.dev);
        free(e.vdev);
    }
    if (!a->n && quiet)
        return XLPCI_ERR_NOTFOUND;
    if (!a->n) {
        return xlpci_not_attached(ctx, &a->bdf, a->all_funcs, a->domid);
    }
    return 0;
}

static int detach_begin_body(xlpci_ctx *ctx, xs_transaction_t t,
                             xlpci_ops *ops, void *varg)
{
    detach_arg *a = varg;
    unsigned idx[DETACH_MAX];
    bool *ours = NULL;
    xlpci_view view;
    size_t i;
    bool all_closing = true;
    int rc;

    rc = xlpci_read_checked_keys(ctx, t, a->domid, &view, DETACH_KEYS);
    if (rc) goto out;
    if (!view.exists) {
        bool exists = true;

        rc = xlpci_domain_exists(ctx, t, a->domid, &exists);
        if (rc) goto out;
        if (!exists)
            LOG(ctx, ERROR, "domain %u does not exist (no /local/domain/%u "
                "in xenstore)", a->domid, a->domid);
        else
            LOG(ctx, ERROR, "domain %u has no PCI devices", a->domid);
        rc = XLPCI_ERR_NOTFOUND;
        goto out;
    }
    a->why.state = view.state;
    a->why.pending = -1;
    a->why.fe_wait = false;
    rc = detach_find(ctx, a, &view, idx, false);
    if (rc) goto out;
    ours = calloc(view.num_devs, sizeof(*ours));
    if (!ours) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < a->n; i++) {
        ours[idx[i]] = true;
        a->prev[i] = view.row_state[idx[i]];
        if (a->prev[i] != XenbusStateClosing)
            all_closing = false;
    }
    if (a->force_now || view.state == XenbusStateInitialising ||
        (view.state == XenbusStateConnected && all_closing)) {
        /* Nobody has probed the backend, or the guest already released
         * these devices (an earlier detach stopped before removing them),
         * or -f after a timeout: nothing to hand-shake. */
        a->mode = DETACH_REMOVED;
        rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, idx,
                                  a->n);
    } else if ((view.state == XenbusStateClosing ||
                view.state == XenbusStateClosed) &&
               (a->flags & XLPCI_DETACH_FORCE)) {
        /* the connection is over: no guest to hand-shake with */
        LOG(ctx, WARN, "pci-detach -f: the PCI backend of domain %u is %s; "
            "removing the device without the guest's cooperation",
            a->domid, xlpci_state_name(view.state));
        a->mode = DETACH_REMOVED;
        rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, idx, a->n);
    } else if (view.state == XenbusStateClosing ||
               view.state == XenbusStateClosed) {
        rc = xlpci_backend_failed(ctx, t, a->domid, view.state);
    } else if (view.state == XenbusStateReconfiguring && all_closing) {
        /* An earlier detach of these devices is still in its cycle. */
        a->mode = DETACH_BEGUN;
        rc = XLPCI_TXN_NOTHING;
    } else if ((a->why.pending = xlpci_pending_removal(&view, ours)) >= 0) {
        rc = XLPCI_TXN_WAIT;
    } else if (view.state == XenbusStateConnected) {
        unsigned un[DETACH_MAX];
        size_t nun = 0;

        /* An index without vdev-N was never exported (pciback ignored it:
         * the seed problem) and the guest never saw it.  It must not be
         * Closing in a cycle: pcifront and pciback look a Closing index
         * up by vdev-N and, without one, close the whole connection. */
        a->ngone = 0;
        for (i = 0; i < a->n; i++)
            if (!xlpci_view_listed(&view, XLPCI_KEY_VDEV, idx[i])) {
                a->gone[nun] = a->found[i];
                un[nun++] = idx[i];
            }
        if (nun == a->n) {
            a->mode = DETACH_REMOVED;
            rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, idx,
                                      a->n);
        } else if (nun) {
            /* those first; the caller runs this step again for the rest */
            a->mode = DETACH_PARTIAL;
            a->ngone = nun;
            rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, un, nun);
        } else if (xlpci_frontend_ready(ctx, t, a->domid, &a->why, &rc)) {
            a->mode = DETACH_BEGUN;
            rc = xlpci_layout_detach_begin(ops, a->domid, idx, a->n);
        } else if (!rc) {
            rc = XLPCI_TXN_WAIT;
        }
    } else {
        rc = XLPCI_TXN_WAIT;
    }
out:
    free(ours);
    xlpci_view_dispose(&view);
    return rc;
}

static int detach_remove_body(xlpci_ctx *ctx, xs_transaction_t t,
                              xlpci_ops *ops, void *varg)
{
    detach_arg *a = varg, b;
    unsigned idx[DETACH_MAX];
    xlpci_view view;
    size_t i;
    int rc;

    memset(&b, 0, sizeof(b));
    /* The devices are most likely where the first step found them (only
     * pciback wrote since, and it moves no row): their dev-N says so, and
     * then nothing else of the other rows is read. */
    rc = xlpci_view_read_keys(ctx, t, a->domid, &view, 0);
    for (i = 0; !rc && i < a->n && view.exists && !view.num_bad; i++) {
        if (a->at[i] >= view.num_devs)
            break;
        rc = xlpci_view_read_rows(ctx, t, a->domid, &view, a->at[i],
                                  a->at[i] + 1, XLPCI_KEY_BIT(XLPCI_KEY_DEV));
        if (rc || xlpci_view_find(&view, &a->found[i]) != (int)a->at[i])
            break;
    }
    if (rc) goto out;
    if (a->n && i == a->n) {
        rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, a->at, a->n);
        goto out;
    }
    /* Else dev-N of every row, checked, and the devices found by address */
    rc = xlpci_view_read_rows(ctx, t, a->domid, &view, 0, view.num_devs,
                              XLPCI_KEY_BIT(XLPCI_KEY_DEV));
    if (!rc) rc = xlpci_view_check_logged(ctx, &view, a->domid);
    if (rc) goto out;
    /* Indices may have moved since the first step: find them again.  Ones
     * already gone were removed by someone else since the cycle (check
     * --repair removes a released index): what this step wanted. */
    b.all_funcs = a->all_funcs;
    b.bdf = a->bdf;
    b.domid = a->domid;
    if (!view.exists ||
        detach_find(ctx, &b, &view, idx, true) == XLPCI_ERR_NOTFOUND) {
        LOG(ctx, DETAIL, "domain %u: the device was already removed from "
            "the backend (by check --repair?)", a->domid);
        /* its ownership record goes with it, if it is still there */
        rc = xlpci_owner_drop(ctx, t, ops, a->domid, &a->bdf, 1);
        if (!rc && !ops->n)
            rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, idx, b.n);
out:
    xlpci_view_dispose(&view);
    return rc;
}

/* Put back state-N and state = Connected if the cycle never started:
 * the backend still Reconfiguring, the indices still Closing, and the
 * frontend still Connected (a frontend in Reconfiguring has already
 * removed the devices from the guest, see undo_attach_body). */
static int undo_detach_body(xlpci_ctx *ctx, xs_transaction_t t,
                            xlpci_ops *ops, void *varg)
{
    detach_arg *a = varg;
    unsigned idx[DETACH_MAX];
    char path[XLPCI_PATH_MAX];
    detach_arg b = *a;
    xlpci_wait_reason why;
    xlpci_view view;
    size_t i;
    int rc;

    a->undone = false;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc || !view.exists || view.state != XenbusStateReconfiguring) {
        rc = rc ? rc : XLPCI_TXN_NOTHING;
        goto out;
    }
    rc = detach_find(ctx, &b, &view, idx, true);
    if (rc == XLPCI_ERR_NOTFOUND)
        rc = XLPCI_TXN_NOTHING;
    if (rc || b.n != a->n) {
        rc = rc ? rc : XLPCI_TXN_NOTHING;
        goto out;
    }
    /* the guest's node, read outside the transaction: a guest rewriting
     * it as fast as it can must not keep the rollback from committing
     * (it would conflict every attempt); the guest may react just after
     * the read all the same, which the caller looks for afterwards */
    if (!xlpci_frontend_ready(ctx, XBT_NULL, a->domid, &why, &rc)) {
        rc = rc ? rc : XLPCI_TXN_NOTHING;
        goto out;
    }
    for (i = 0; !rc && i < a->n; i++) {
        /* prev Closing: an earlier detach wrote Closing and started the
         * cycle; it is not ours to undo */
        if (view.row_state[idx[i]] != XenbusStateClosing ||
            a->prev[i] < 0 || a->prev[i] == XenbusStateClosing) {
            rc = XLPCI_TXN_NOTHING;
            break;
        }
        rc = xlpci_be_key(path, a->domid, "state-%u", idx[i]);
        if (!rc) rc = xlpci_ops_writef(ops, path, "%d", a->prev[i]);
    }
    if (!rc) rc = xlpci_be_key(path, a->domid, "state");
    if (!rc) rc = xlpci_ops_writef(ops, path, "%d", XenbusStateConnected);
    a->undone = true;
out:
    xlpci_view_dispose(&view);
    return rc;
}

/* The cycle did not end by the deadline (cycle.c): it ended late (the
 * guest released the devices: the detach goes on), the guest is in it
 * (its end waited for within the grace, not undone under it), or nobody
 * reacted: rolled back (not with -f, which removes the device anyway),
 * then the guest watched a moment for having acted on it after all. */
static int detach_late(xlpci_ctx *ctx, detach_arg *a, const char *b,
                       int state, bool force)
{
    long long until = xlpci_step_limit(ctx);
    long long settle = xlpci_now_ms() + XLPCI_SETTLE_MS;
    int j, after;

    /* -f: never rolled back (the device is removed anyway) */
    j = xlpci_cycle_late(ctx, a->domid, until, &state, "pci-detach rollback",
                         force ? NULL : undo_detach_body, a, &a->undone);
    if (j == 0) {
        LOG(ctx, DETAIL, "pci-detach %s: the Reconfiguring cycle of domain "
            "%u ended just after the deadline", b, a->domid);
        return 0;
    }
    if (force)
        return j < 0 ? j : XLPCI_ERR_TIMEDOUT;
    if (j == XLPCI_CYCLE_JOINED) {
        LOG(ctx, ERROR, "pci-detach %s: the guest reacted to domain %u's "
            "Reconfiguring cycle, which did not end in %u ms (backend "
            "%s): not undone under the guest, the device stays listed, "
            "Closing; run pci-detach again once the cycle has ended (check "
            "%u tells), or -f", b, a->domid, ctx->timeout_ms,
            xlpci_state_name(state), a->domid);
        return XLPCI_ERR_TIMEDOUT;
    }
    if (j < 0 || !a->undone) {
        LOG(ctx, ERROR, "pci-detach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms (state %s), and %s: "
            "check %u tells how the cycle ends; use -f to force the "
            "removal", b, a->domid, ctx->timeout_ms,
            xlpci_state_name(state),
            j < 0 ? "its rollback failed (see above)"
                  : "the guest reacted meanwhile", a->domid);
        return j < 0 ? j : XLPCI_ERR_TIMEDOUT;
    }
    after = xlpci_cycle_after_rollback(ctx, a->domid,
                                       settle < until ? settle : until);
    if (after < 0)
        LOG(ctx, ERROR, "pci-detach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms; the detach was "
            "rolled back, but the guest had already let the device go and "
            "the resumed cycle did not end: its frontend stays "
            "Reconfiguring; check %u reports it, check --repair %u resumes "
            "it (the guest gets the device back)", b, a->domid,
            ctx->timeout_ms, a->domid, a->domid);
    else
        LOG(ctx, ERROR, "pci-detach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms (state %s); the "
            "detach was rolled back%s; use -f to force", b, a->domid,
            ctx->timeout_ms, xlpci_state_name(state), after
            ? " (the guest had let the device go: the cycle was resumed "
              "and the guest found it again)"
            : " (should the guest still act on the cycle, check sees its "
              "frontend stay Reconfiguring)");
    return XLPCI_ERR_TIMEDOUT;
}

int xlpci_detach(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *spec,
                 unsigned flags)
{
    XLPCI_OP(ctx);
    detach_arg a;
    xlpci_watch w;
    long long deadline;
    char b[XLPCI_BDF_STRLEN], why[128];
    int rc, hrc, state;
    bool force = flags & XLPCI_DETACH_FORCE;
    bool pciback;
    int type = XLPCI_GUEST_PV;
    size_t ngone = 0;                  /* removed before the cycle */
    bool kept[DETACH_MAX];             /* Xen has it in another guest */
    xlpci_release_count cnt;

    deadline = ctx->deadline;
    memset(&a, 0, sizeof(a));
    memset(&w, 0, sizeof(w));
    memset(kept, 0, sizeof(kept));
    a.domid = domid;
    a.flags = flags;
    rc = xlpci_check_domid(ctx, domid);
    if (rc)
        return rc;
    pciback = xlpci_host_active(ctx);  /* once for the whole operation */
    a.bdf = spec->bdf;
    a.all_funcs = spec->all_funcs;
    if (!spec->has_bdf) {
        rc = xlpci_name_to_bdf(ctx, pciback, spec->name, &a.bdf);
        if (rc)
            return rc;
    }
    xlpci_bdf_format(&a.bdf, b);
    /* the release at the end is a commit of the bookkeeping: a state
     * directory that cannot take it is found before the guest is asked */
    if (pciback && !ctx->dry_run) {
        rc = xlpci_bk_probe(ctx);
        if (rc)
            return rc;
    }
    /* the guest type decides the path: HVM guests' devices go through
     * QEMU (hvm.c); PVH guests are refused.  The release after the
     * guest's cycle asks Xen afresh (the domain may be gone by then). */
    rc = xlpci_guest_type(ctx, pciback, domid, &type);
    xlpci_guest_forget(ctx);
    if (!rc && type == XLPCI_GUEST_HVM)
        rc = xlpci_hvm_detach(ctx, pciback, domid, &a.bdf, a.all_funcs,
                              flags);
    if (rc || type == XLPCI_GUEST_HVM)
        return rc;

    rc = xlpci_run_until_ready(ctx, &w, domid, "pci-detach",
                               detach_begin_body, &a, deadline);
    if (!rc && a.mode == DETACH_PARTIAL && ctx->dry_run) {
        fprintf(ctx->dry_run, "# pci-detach: then the exported function(s) "
                "go through a Reconfiguring cycle\n");
        goto out;
    }
    if (!rc && a.mode == DETACH_PARTIAL) {
        /* the never-exported functions are gone: no cycle, the guest never
         * had them; then the others, as usual */
        ngone = a.ngone;
        rc = xlpci_hv_revoke(ctx, pciback, domid, a.gone, a.ngone,
                             true, kept);
        if ((!rc || rc == XLPCI_ERR_EXISTS) && pciback) {
            int rrc = xlpci_release(ctx, pciback, domid, a.gone, a.ngone,
                                    kept, XLPCI_REL_BK, &cnt);

            rc = rc ? rc : rrc;
        }
        memset(kept, 0, sizeof(kept));
        if (rc)
            goto out;
        rc = xlpci_run_until_ready(ctx, &w, domid, "pci-detach",
                                   detach_begin_body, &a, deadline);
    }
    if (rc == XLPCI_TXN_WAIT && ctx->dry_run) {
        xlpci_wait_reason_text(&a.why, why, sizeof(why));
        fprintf(ctx->dry_run, "# pci-detach: %s; would wait up to %u ms%s\n",
                why, ctx->timeout_ms,
                force ? ", then remove the device anyway" : "");
        rc = 0;
        goto out;
    }
    if (rc == XLPCI_ERR_TIMEDOUT && force) {
        xlpci_wait_reason_text(&a.why, why, sizeof(why));
        LOG(ctx, WARN, "pci-detach -f %s: %s after %u ms (domain %u); "
            "removing the device without the guest's cooperation", b, why,
            ctx->timeout_ms, domid);
        a.force_now = true;
        rc = xlpci_txn_run(ctx, "pci-detach", detach_begin_body, &a);
    } else if (rc == XLPCI_ERR_TIMEDOUT) {
        xlpci_wait_reason_text(&a.why, why, sizeof(why));
        if (ngone)
            LOG(ctx, ERROR, "pci-detach %s: %s after %u ms (domain %u); "
                "the %zu function(s) pciback never exported were removed, "
                "the others were not (use -f to remove them anyway)", b,
                why, ctx->timeout_ms, domid, ngone);
        else
            LOG(ctx, ERROR, "pci-detach %s: %s after %u ms (domain %u); "
                "nothing was changed (use -f to remove it anyway)", b, why,
                ctx->timeout_ms, domid);
        goto out;
    }
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    if (!rc && ctx->dry_run && a.mode == DETACH_BEGUN) {
        /* the second transaction, as it would run once the cycle is over
         * (nothing but state-N changes meanwhile) */
        fprintf(ctx->dry_run, "# pci-detach: then wait up to %u ms for the "
                "guest to release it (backend Connected again), and:\n",
                ctx->timeout_ms);
        rc = xlpci_txn_run(ctx, "pci-detach", detach_remove_body, &a);
        goto out;
    }
    if (!rc && !ctx->dry_run && a.mode == DETACH_REMOVED)
        /* no cycle */
        rc = xlpci_hv_revoke(ctx, pciback, domid, a.found, a.n, true,
                             kept);
    if (rc || ctx->dry_run || a.mode == DETACH_REMOVED)
        goto out;

    /* The guest releases the device: Reconfiguring -> ... -> Connected. */
    rc = xlpci_wait_backend(ctx, &w, domid, xlpci_is_connected, NULL,
                            deadline, &state);
    if (rc == XLPCI_ERR_BACKEND && !force) {
        /* pciback gave up (said above): no cycle will end, and a later
         * pci-detach -f refuses a failed backend */
        LOG(ctx, ERROR, "pci-detach %s: the PCI backend of domain %u failed "
            "during the Reconfiguring cycle (state %s); the device stays "
            "listed: recreate the backend with create -f, or destroy the "
            "domain", b, domid, xlpci_state_name(state));
        goto out;
    }
    if (rc == XLPCI_ERR_TIMEDOUT)
        rc = detach_late(ctx, &a, b, state, force);
    if (rc == XLPCI_ERR_TIMEDOUT && !force)
        goto out;                      /* said */
    if (rc && rc != XLPCI_ERR_NOTFOUND && !force)
        goto out;
    if (rc && force)
        LOG(ctx, WARN, "pci-detach -f %s: the guest did not release the "
            "device (state %s); removing it anyway", b,
            xlpci_state_name(state));
    /* The guest released the device: its access goes, then the index
     * (a crash in between leaves a released index, which check --repair
     * removes).  A failed revocation keeps the device recorded as
     * assigned (no release), since the guest may still reach it. */
    hrc = xlpci_hv_revoke(ctx, pciback, domid, a.found, a.n, true, kept);
    rc = xlpci_txn_run(ctx, "pci-detach", detach_remove_body, &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;                        /* already removed */
    rc = rc ? rc : hrc;
out:
    xlpci_watch_end(ctx, &w);
    /* the bookkeeping after the ownership decision (ownership.c): a device
     * Xen found in another guest (kept) is not released */
    if ((!rc || rc == XLPCI_ERR_EXISTS) && !ctx->dry_run && pciback) {
        int rrc = xlpci_release(ctx, pciback, domid, a.found, a.n, kept,
                                XLPCI_REL_BK, &cnt);

        rc = rc ? rc : rrc;
    }
    if (!rc && !ctx->dry_run)
        LOG(ctx, DETAIL, "domain %u: detached %s", domid, b);
    return rc;
}

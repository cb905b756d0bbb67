/*
 * pci-attach, the hot-add: resolve, the host side, then attach_body until
 * the backend is ready for it (no backend: created; Initialising:
 * appended; Connected with the frontend Connected: appended with a
 * Reconfiguring cycle), the wait for the cycle to end (or its rollback),
 * the check that pciback exported the devices, and the host side kept or
 * undone after what the backend lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

typedef enum { ATTACH_CREATED, ATTACH_APPENDED, ATTACH_RECONF } attach_mode;

typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
    attach_mode mode;
    xlpci_wait_reason why;
    unsigned first;                    /* ATTACH_RECONF: index of devs[0] */
    bool undone;                       /* the rollback removed them */
    bool *missing;                     /* per device: no /libxl/pci/<bdf> */
    bool need_parent;                  /* no backend: make its parent */
    bool have_parent;                  /* made (xlpci_backend_parent_prepare) */
} attach_arg;

/* Of each row already there, what the transaction decides on (dev-N:
 * attached already?  state-N: a removal pending?  vdevfn-N: a virtual
 * slot taken?) and what makes a backend not trusted (opts-N): the keys
 * check judges.  key-N and vdev-N of the others are not read. */
#define ATTACH_KEYS XLPCI_KEYS_CHECKED

static int attach_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    attach_arg *a = varg;
    xlpci_view view;
    char *name = NULL;
    char b[XLPCI_BDF_STRLEN];
    unsigned k;
    size_t i;
    int rc;

    xlpci_view_init(&view);
    a->need_parent = false;
    /* The records first: a device assigned for the first time since boot
     * has no /libxl/pci/<bdf> yet, and the transaction stops here, before
     * it reads the backend, to run again once it is made (for a domain
     * that exists). */
    rc = xlpci_owner_claim(ctx, t, ops, a->domid, a->devs, a->n,
                           a->missing);
    if (rc == XLPCI_TXN_PREPARE) {
        int drc = xlpci_domain_read(ctx, t, a->domid, &name);

        rc = drc ? drc : rc;
    }
    if (rc) goto out;
    rc = xlpci_read_checked_keys(ctx, t, a->domid, &view, ATTACH_KEYS);
    if (rc) goto out;
    /* The domain must exist, and a backend it creates takes its name; a
     * hot-add to both ends Connected needs neither: the guest's frontend
     * is under /local/domain/<domid>. */
    if (!view.exists || view.state != XenbusStateConnected ||
        xlpci_pending_removal(&view, NULL) >= 0) {
        rc = xlpci_domain_read(ctx, t, a->domid, &name);
        if (rc) goto out;
    }
    a->why.state = view.state;
    a->why.pending = -1;
    a->why.fe_wait = false;
    if (view.exists && (view.state == XenbusStateClosing ||
                        view.state == XenbusStateClosed)) {
        rc = xlpci_backend_failed(ctx, t, a->domid, view.state);
        goto out;
    }
    if (view.exists && view.num_devs + a->n > XLPCI_MAX_DEVS) {
        LOG(ctx, ERROR, "domain %u has %u PCI devices; a PCI backend holds "
            "at most %u (the protocol's limit), so %zu more do not fit",
            a->domid, view.num_devs, XLPCI_MAX_DEVS, a->n);
        rc = XLPCI_ERR_FAIL;
        goto out;
    }
    if (view.exists) {
        for (i = 0; i < a->n; i++) {
            if (xlpci_view_find(&view, &a->devs[i].bdf) >= 0) {
                LOG(ctx, ERROR, "PCI device %s is already attached to "
                    "domain %u", xlpci_bdf_format(&a->devs[i].bdf, b),
                    a->domid);
                rc = XLPCI_ERR_EXISTS;
                goto out;
            }
            /* an explicit virtual slot must be free, as create demands */
            for (k = 0; a->devs[i].vdevfn && k < view.num_devs; k++) {
                const char *v = view.keys[k][XLPCI_KEY_VDEVFN];

                if (v && strtoul(v, NULL, 16) == a->devs[i].vdevfn) {
                    LOG(ctx, ERROR, "virtual slot %02x.%x of domain %u is "
                        "taken by %s", a->devs[i].vdevfn >> 3,
                        a->devs[i].vdevfn & 7, a->domid,
                        view.keys[k][XLPCI_KEY_DEV]);
                    rc = XLPCI_ERR_EXISTS;
                    goto out;
                }
            }
        }
    }
    if (view.exists) {
        char err[400];

        rc = xlpci_view_check_append(&view, a->domid, a->n, err,
                                     sizeof(err));
        if (rc) {
            LOG(ctx, ERROR, "%s", err);
            goto out;
        }
    }

    if (!view.exists && !a->have_parent && !ctx->dry_run) {
        /* No backend: backend/pci/<domid> is made outside the transaction
         * first (so that creates of different domains do not conflict),
         * then it runs again.  An attach to a backend that exists never
         * pays for it. */
        a->need_parent = true;
        rc = XLPCI_TXN_PREPARE;
    } else if (!view.exists) {
        /* No backend (or a leftover without num_devs, which pciback would
         * reject): the first device creates it, no waiting (libxl
         * 73ee2795aa). */
        a->mode = ATTACH_CREATED;
        rc = xlpci_layout_create(ops, a->domid, name, a->devs, a->n);
    } else if ((a->why.pending = xlpci_pending_removal(&view, NULL)) >= 0) {
        rc = XLPCI_TXN_WAIT;
    } else if (view.state == XenbusStateInitialising) {
        /* pciback has not probed yet: it will read num_devs once, when it
         * does, and see these too. */
        a->mode = ATTACH_APPENDED;
        rc = xlpci_layout_append(ops, a->domid, &view, a->devs, a->n, false);
    } else if (view.state == XenbusStateConnected) {
        if (xlpci_frontend_ready(ctx, t, a->domid, &a->why, &rc)) {
            a->mode = ATTACH_RECONF;
            a->first = view.num_devs;
            rc = xlpci_layout_append(ops, a->domid, &view, a->devs, a->n,
                                     true);
        } else if (!rc && a->why.fe_state == -1) {
            /* no frontend: is there a domain at all? */
            rc = xlpci_domain_read(ctx, t, a->domid, &name);
            if (!rc)
                rc = XLPCI_TXN_WAIT;
        } else if (!rc) {
            rc = XLPCI_TXN_WAIT;
        }
    } else {
        rc = XLPCI_TXN_WAIT;
    }
out:
    free(name);
    xlpci_view_dispose(&view);
    return rc;
}

/* Undo an addition that nobody reacted to: the backend still says
 * Reconfiguring, every added index still says Initialising, and the
 * frontend is still Connected.  A frontend in Reconfiguring has reacted:
 * it waits for pciback's Reconfigured, and would wait for ever once the
 * backend says Connected again (pciback reconfigures only while the
 * backend says Reconfiguring). */
static int undo_attach_body(xlpci_ctx *ctx, xs_transaction_t t,
                            xlpci_ops *ops, void *varg)
{
    attach_arg *a = varg;
    unsigned idx[8 * 8];
    char path[XLPCI_PATH_MAX];
    xlpci_wait_reason why;
    xlpci_view view;
    size_t i;
    int rc, k;

    a->undone = false;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc || !view.exists || view.state != XenbusStateReconfiguring ||
        view.num_devs <= a->n || a->n > sizeof(idx) / sizeof(idx[0])) {
        rc = rc ? rc : XLPCI_TXN_NOTHING;
        goto out;
    }
    for (i = 0; i < a->n; i++) {
        k = xlpci_view_find(&view, &a->devs[i].bdf);
        if (k < 0 || view.row_state[k] != XenbusStateInitialising) {
            rc = XLPCI_TXN_NOTHING;
            goto out;
        }
        idx[i] = (unsigned)k;
    }
    /* the guest's node, read outside the transaction: a guest rewriting
     * it as fast as it can must not keep the rollback from committing
     * (it would conflict every attempt); the guest may react just after
     * the read all the same, which the caller looks for afterwards */
    if (!xlpci_frontend_ready(ctx, XBT_NULL, a->domid, &why, &rc)) {
        rc = rc ? rc : XLPCI_TXN_NOTHING;
        goto out;
    }
    rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, idx, a->n);
    if (!rc) rc = xlpci_be_key(path, a->domid, "state");
    if (!rc) rc = xlpci_ops_writef(ops, path, "%d", XenbusStateConnected);
    a->undone = true;
out:
    xlpci_view_dispose(&view);
    return rc;
}

/* The guest is in the cycle and it did not end within the grace: the
 * entries stay (a rollback under the guest would wedge it). */
static int attach_joined(xlpci_ctx *ctx, const attach_arg *a, const char *b,
                         int state)
{
    LOG(ctx, ERROR, "pci-attach %s: the guest reacted to domain %u's "
        "Reconfiguring cycle, which did not end in %u ms (backend %s): the "
        "entries stay, not undone under the guest; check %u tells when the "
        "cycle has ended (pci-detach -f removes the device)", b, a->domid,
        ctx->timeout_ms, xlpci_state_name(state), a->domid);
    return XLPCI_ERR_TIMEDOUT;
}

/* The cycle did not end by the deadline (cycle.c): it ended late (the
 * attach goes on), the guest is in it (its end waited for within the
 * grace, not undone under it), or nobody reacted: rolled back, then the
 * guest watched a moment for having acted on it after all. */
static int attach_late(xlpci_ctx *ctx, attach_arg *a, const char *b,
                       int state)
{
    long long until = xlpci_step_limit(ctx);
    long long settle = xlpci_now_ms() + XLPCI_SETTLE_MS;
    int j, after;

    j = xlpci_cycle_late(ctx, a->domid, until, &state, "pci-attach rollback",
                         undo_attach_body, a, &a->undone);
    if (j == 0) {
        LOG(ctx, DETAIL, "pci-attach %s: the Reconfiguring cycle of domain "
            "%u ended just after the deadline", b, a->domid);
        return 0;
    }
    if (j == XLPCI_CYCLE_JOINED)
        return attach_joined(ctx, a, b, state);
    if (j < 0 || !a->undone) {
        LOG(ctx, ERROR, "pci-attach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms (state %s), and %s: "
            "the entries stay; check %u tells how the cycle ends, "
            "pci-detach -f removes the device", b, a->domid,
            ctx->timeout_ms, xlpci_state_name(state),
            j < 0 ? "its rollback failed (see above)"
                  : "the guest reacted meanwhile", a->domid);
        return j < 0 ? j : XLPCI_ERR_TIMEDOUT;
    }
    after = xlpci_cycle_after_rollback(ctx, a->domid,
                                       settle < until ? settle : until);
    if (after < 0)
        LOG(ctx, ERROR, "pci-attach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms; the addition was "
            "rolled back, but the guest had reacted to the cycle and the "
            "resumed cycle did not end: its frontend stays Reconfiguring; "
            "check %u reports it, check --repair %u resumes it", b,
            a->domid, ctx->timeout_ms, a->domid, a->domid);
    else
        LOG(ctx, ERROR, "pci-attach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms (state %s); the "
            "addition was rolled back%s", b, a->domid, ctx->timeout_ms,
            xlpci_state_name(state), after
            ? " (the guest had reacted to the cycle: it was resumed and "
              "ended)"
            : " (should the guest still act on the cycle, check sees "
              "its frontend stay Reconfiguring)");
    return XLPCI_ERR_TIMEDOUT;
}

/* After the cycle: every added device must have been exported by pciback
 * (state-N = Initialised). */
static int check_exported_body(xlpci_ctx *ctx, xs_transaction_t t,
                               void *varg)
{
    attach_arg *a = varg;
    char b[XLPCI_BDF_STRLEN];
    xlpci_view view;
    size_t i;
    int rc, k;

    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    for (i = 0; !rc && i < a->n; i++) {
        k = xlpci_view_find(&view, &a->devs[i].bdf);
        if (k < 0) {
            LOG(ctx, ERROR, "PCI device %s vanished from domain %u's "
                "backend during the attach",
                xlpci_bdf_format(&a->devs[i].bdf, b), a->domid);
            rc = XLPCI_ERR_BACKEND;
        } else if (view.row_state[k] != XenbusStateInitialised) {
            LOG(ctx, ERROR, "backend is Connected but pciback did not export "
                "%s (state-%d = %s)", xlpci_bdf_format(&a->devs[i].bdf, b),
                k, view.keys[k][XLPCI_KEY_STATE] ?: "absent");
            rc = XLPCI_ERR_BACKEND;
        }
    }
    xlpci_view_dispose(&view);
    return rc;
}

/* After the cycle, the quick look: dev-N and state-N of the added
 * indices (what the floor of a hot-add waits on too) say pciback exported
 * them.  Anything else (an index moved by a detach meanwhile, a device
 * not exported) is judged by check_exported_body, which reads the
 * backend in one transaction and names the problem. */
static bool exported(xlpci_ctx *ctx, const attach_arg *a)
{
    char path[XLPCI_PATH_MAX], err[128], *v = NULL;
    xlpci_bdf bdf;
    unsigned st;
    size_t i;
    bool ok = true;

    for (i = 0; ok && i < a->n; i++) {
        ok = !xlpci_be_key(path, a->domid, "dev-%zu", a->first + i) &&
             !xlpci_xs_read(ctx, XBT_NULL, path, &v) && v &&
             !xlpci_bdf_parse(v, &bdf, err, sizeof(err)) &&
             !xlpci_bdf_cmp(&bdf, &a->devs[i].bdf);
        free(v);
        v = NULL;
        ok = ok &&
             !xlpci_be_key(path, a->domid, "state-%zu", a->first + i) &&
             !xlpci_xs_read(ctx, XBT_NULL, path, &v) && v &&
             !xlpci_parse_uint(v, XenbusStateReconfigured, &st) &&
             st == XenbusStateInitialised;
        free(v);
        v = NULL;
    }
    return ok;
}

int xlpci_attach(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *spec,
                 const xlpci_defaults *defs)
{
    XLPCI_OP(ctx);
    attach_arg a;
    xlpci_watch w;
    xlpci_prepared prep = { NULL, 0 };
    xlpci_dev *devs = NULL;
    xlpci_bdf *granted = NULL;
    size_t ngranted = 0;
    long long deadline;
    char b[XLPCI_BDF_STRLEN], why[128];
    unsigned char *how = NULL;
    unsigned tries = 0;
    bool pciback, host = false;
    xlpci_bk bk;
    xlpci_truth tr;                    /* who is alive, for the claim */
    int rc, state, ops = -1;
    bool done;

    /* One deadline for the whole command: every wait ends by it. */
    deadline = ctx->deadline;
    memset(&a, 0, sizeof(a));
    memset(&w, 0, sizeof(w));
    a.domid = domid;
    rc = xlpci_check_domid(ctx, domid);
    if (rc)
        return rc;
    pciback = xlpci_host_active(ctx);  /* once for the whole operation */
    rc = xlpci_resolve_devs(ctx, pciback, spec, 1, defs, &devs, &a.n);
    if (rc)
        return rc;
    xlpci_truth_init(ctx, &tr, pciback);
    a.devs = devs;
    xlpci_bdf_format(&devs[0].bdf, b);
    /* the guest type decides the path: HVM guests' devices go through
     * QEMU (hvm.c); PVH guests are refused */
    rc = xlpci_hvm_route(ctx, pciback, domid, spec, 1, devs, a.n, false, 0,
                         &done);
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
        if (rc) {
            host = false;
            goto out;
        }
        rc = xlpci_host_grant(ctx, domid, devs, a.n, how, &granted,
                              &ngranted);
        if (rc) goto out;
    }

    /* The transaction, until the backend is ready for it; made ready to
     * run first if it must be (the records' directories of devices never
     * assigned since boot, or the parent of a backend it creates). */
    for (;;) {
        rc = xlpci_run_until_ready(ctx, &w, domid, "pci-attach",
                                   attach_body, &a, deadline);
        if (rc != XLPCI_TXN_PREPARE)
            break;
        if (a.need_parent) {
            rc = xlpci_backend_parent_prepare(ctx, domid, false, &prep);
            if (rc)
                break;
            a.have_parent = true;
            continue;
        }
        rc = xlpci_claim_retry(ctx, "pci-attach", rc, &tries, devs, a.n,
                               a.missing, &prep);
        if (rc != XLPCI_TXN_PREPARE)
            break;
    }
    if (rc == XLPCI_TXN_WAIT && ctx->dry_run) {
        xlpci_wait_reason_text(&a.why, why, sizeof(why));
        fprintf(ctx->dry_run, "# pci-attach: %s; would wait up to %u ms, "
                "then add the device\n", why, ctx->timeout_ms);
        rc = 0;
        goto out;
    }
    if (rc == XLPCI_ERR_TIMEDOUT) {
        xlpci_wait_reason_text(&a.why, why, sizeof(why));
        LOG(ctx, ERROR, "pci-attach %s: %s after %u ms (domain %u); nothing "
            "was written (is xen-pcifront running in the guest?)", b, why,
            ctx->timeout_ms, domid);
        goto out;
    }
    if (rc || ctx->dry_run || a.mode != ATTACH_RECONF)
        goto out;

    /* Hot-add: wait for Reconfiguring -> Reconfigured -> Connected. */
    rc = xlpci_wait_backend(ctx, &w, domid, xlpci_is_connected, NULL,
                            deadline, &state);
    if (rc == XLPCI_ERR_BACKEND) {
        /* pciback gave up (said above): no cycle will end, no rollback
         * can run against a backend that is Closing */
        LOG(ctx, ERROR, "pci-attach %s: the PCI backend of domain %u failed "
            "during the Reconfiguring cycle (state %s): the device stays "
            "listed in it, whether the guest got it or not; recreate the "
            "backend with create -f, or destroy the domain", b, domid,
            xlpci_state_name(state));
        goto out;
    }
    if (rc == XLPCI_ERR_TIMEDOUT)
        rc = attach_late(ctx, &a, b, state);
    if (!rc && !exported(ctx, &a))
        rc = xlpci_txn_read(ctx, "pci-attach check", check_exported_body,
                            &a);
out:
    xlpci_watch_end(ctx, &w);
    if (rc)
        xlpci_parents_prune(ctx, &prep);
    xlpci_prepared_dispose(&prep);
    if (host) {
        /* The backend owns the truth and the host follows it: the
         * xenstore side is complete or rolled back by now, except when
         * the guest reacted to the cycle and then stalled it or closed
         * its frontend (the backend then Closing): a device the backend
         * still lists stays assigned (records, binding and grants), for
         * pci-detach -f, create -f or check --repair to finish. */
        bool assigned = !rc || xlpci_device_domain(ctx, &devs[0].bdf) ==
                               (int)domid;
        int hrc;

        if (rc && assigned)
            LOG(ctx, ERROR, "pci-attach %s: domain %u's backend still lists "
                "the device, so it stays assigned to the domain on the "
                "host", b, domid);

        /* not assigned: the guest never saw it, its access goes before
         * a seized device goes back to its driver */
        if (!assigned && granted)
            xlpci_hv_revoke(ctx, true, domid, granted, ngranted, false,
                            NULL);
        hrc = xlpci_host_finish(ctx, domid, devs, a.n, &bk, how, assigned,
                                &ops);

        rc = rc ? rc : hrc;
    }
    if (!rc && !ctx->dry_run && !pciback)
        xlpci_host_absent_notice(ctx, domid);
    if (!rc && !ctx->dry_run)
        LOG(ctx, DETAIL, "domain %u: attached %zu device(s) starting with %s",
            domid, a.n, b);
    xlpci_truth_close(ctx, &tr);
    xlpci_guest_forget(ctx);
    free(granted);
    free(how);
    free(a.missing);
    xlpci_devs_free(devs, a.n);
    return rc;
}

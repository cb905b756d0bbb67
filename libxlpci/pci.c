/*
 * The flows: create (domain-create path), attach (hot-add), detach
 * (hot-remove) and list.  Each step is one transaction body: it reads what
 * it needs through the transaction and plans its writes with layout.c, so
 * a retry after EAGAIN starts from fresh reads.
 *
 * Waiting is never done inside a transaction: a body that finds the
 * backend in the wrong state returns XLPCI_TXN_WAIT, the flow waits on a
 * watch and runs the body again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ---- create ---------------------------------------------------------------- */

typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
    unsigned flags;
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
    rc = xlpci_owner_claim(ctx, t, ops, a->domid, a->devs, a->n);
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
    create_arg a = { domid, NULL, 0, flags };
    xlpci_prepared prep = { NULL, 0 };
    xlpci_dev *devs = NULL, *granted = NULL;
    size_t ngranted = 0;
    unsigned char *how = NULL;
    bool host;
    xlpci_bk bk;
    int rc, ops = -1;

    rc = xlpci_check_domid(ctx, domid);
    if (rc)
        return rc;
    if (!nspecs) {
        LOG(ctx, ERROR, "create: no PCI devices given");
        return XLPCI_ERR_INVAL;
    }
    rc = xlpci_resolve_devs(ctx, specs, nspecs, defs, &devs, &a.n);
    if (rc)
        return rc;
    a.devs = devs;
    if (a.n > XLPCI_MAX_DEVS) {
        LOG(ctx, ERROR, "create: %zu devices given; a PCI backend holds at "
            "most %u (the protocol's limit)", a.n, XLPCI_MAX_DEVS);
        rc = XLPCI_ERR_INVAL;
        goto out;
    }
    host = !ctx->dry_run && xlpci_host_active(ctx);
    how = calloc(a.n + 1, sizeof(*how));
    if (!how) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    if (host) {
        rc = xlpci_host_prepare(ctx, domid, devs, a.n, &bk, how, &ops);
        if (rc) goto out;
        rc = xlpci_host_grant(ctx, domid, devs, a.n, &granted, &ngranted);
    }
    if (!rc)
        rc = xlpci_parents_prepare(ctx, domid, devs, a.n, &prep);
    if (!rc)
        rc = xlpci_txn_run(ctx, "create", create_body, &a);
    if (rc)
        xlpci_parents_prune(ctx, &prep);
    xlpci_prepared_dispose(&prep);
    if (rc && granted)
        xlpci_hv_revoke_devs(ctx, domid, granted, ngranted);
    if (host) {
        int hrc = xlpci_host_finish(ctx, domid, devs, a.n, &bk, how, !rc, &ops);

        rc = rc ? rc : hrc;
    }
    if (!rc && !ctx->dry_run && !host)
        xlpci_host_absent_notice(ctx, domid);
    if (!rc && !ctx->dry_run)
        LOG(ctx, DETAIL, "domain %u: PCI backend created with %zu device(s) "
            "in one transaction", domid, a.n);
out:
    free(granted);
    free(how);
    xlpci_devs_free(devs, a.n);
    return rc;
}

/* ---- attach ---------------------------------------------------------------- */

typedef enum { ATTACH_CREATED, ATTACH_APPENDED, ATTACH_RECONF } attach_mode;

typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
    attach_mode mode;
    xlpci_wait_reason why;
} attach_arg;

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
    rc = xlpci_domain_read(ctx, t, a->domid, &name);
    if (rc) goto out;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc) goto out;
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
    rc = xlpci_owner_claim(ctx, t, ops, a->domid, a->devs, a->n);
    if (rc) goto out;

    if (!view.exists) {
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
            rc = xlpci_layout_append(ops, a->domid, &view, a->devs, a->n,
                                     true);
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
typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
    bool undone;
} undo_attach_arg;

static int undo_attach_body(xlpci_ctx *ctx, xs_transaction_t t,
                            xlpci_ops *ops, void *varg)
{
    undo_attach_arg *a = varg;
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
        if (k < 0 || !view.keys[k][XLPCI_KEY_STATE] ||
            strcmp(view.keys[k][XLPCI_KEY_STATE], "1")) {
            rc = XLPCI_TXN_NOTHING;
            goto out;
        }
        idx[i] = (unsigned)k;
    }
    if (!xlpci_frontend_ready(ctx, t, a->domid, &why, &rc)) {
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

/* After the cycle: every added device must have been exported by pciback
 * (state-N = Initialised). */
typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
} exported_arg;

static int check_exported_body(xlpci_ctx *ctx, xs_transaction_t t,
                               xlpci_ops *ops, void *varg)
{
    exported_arg *a = varg;
    char b[XLPCI_BDF_STRLEN];
    xlpci_view view;
    size_t i;
    int rc, k;

    (void)ops;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    for (i = 0; !rc && i < a->n; i++) {
        k = xlpci_view_find(&view, &a->devs[i].bdf);
        if (k < 0) {
            LOG(ctx, ERROR, "PCI device %s vanished from domain %u's "
                "backend during the attach",
                xlpci_bdf_format(&a->devs[i].bdf, b), a->domid);
            rc = XLPCI_ERR_BACKEND;
        } else if (!view.keys[k][XLPCI_KEY_STATE] ||
                   strcmp(view.keys[k][XLPCI_KEY_STATE], "3")) {
            LOG(ctx, ERROR, "backend is Connected but pciback did not export "
                "%s (state-%d = %s)", xlpci_bdf_format(&a->devs[i].bdf, b),
                k, view.keys[k][XLPCI_KEY_STATE] ?: "absent");
            rc = XLPCI_ERR_BACKEND;
        }
    }
    xlpci_view_dispose(&view);
    return rc ? rc : XLPCI_TXN_NOTHING;
}

int xlpci_attach(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *spec,
                 const xlpci_defaults *defs)
{
    attach_arg a;
    xlpci_prepared prep = { NULL, 0 };
    xlpci_dev *devs = NULL, *granted = NULL;
    size_t ngranted = 0;
    long long deadline;
    char b[XLPCI_BDF_STRLEN], why[128];
    unsigned char *how = NULL;
    bool host = false;
    xlpci_bk bk;
    int rc, state, ops = -1;

    /* One deadline for the whole command: every wait ends by it. */
    deadline = xlpci_now_ms() + ctx->timeout_ms;
    memset(&a, 0, sizeof(a));
    a.domid = domid;
    rc = xlpci_check_domid(ctx, domid);
    if (rc)
        return rc;
    rc = xlpci_resolve_devs(ctx, spec, 1, defs, &devs, &a.n);
    if (rc)
        return rc;
    a.devs = devs;
    xlpci_bdf_format(&devs[0].bdf, b);
    host = !ctx->dry_run && xlpci_host_active(ctx);
    how = calloc(a.n + 1, sizeof(*how));
    if (!how) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    if (host) {
        rc = xlpci_host_prepare(ctx, domid, devs, a.n, &bk, how, &ops);
        if (rc) {
            host = false;
            goto out;
        }
        rc = xlpci_host_grant(ctx, domid, devs, a.n, &granted, &ngranted);
        if (rc) goto out;
    }

    rc = xlpci_parents_prepare(ctx, domid, devs, a.n, &prep);
    if (rc) goto out;
    rc = xlpci_run_until_ready(ctx, domid, "pci-attach", attach_body, &a, deadline);
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
    rc = xlpci_wait_backend(ctx, domid, xlpci_is_connected, NULL, deadline,
                            &state);
    if (rc == XLPCI_ERR_TIMEDOUT) {
        undo_attach_arg u = { domid, devs, a.n, false };
        int urc = xlpci_txn_run(ctx, "pci-attach rollback", undo_attach_body,
                                &u);

        LOG(ctx, ERROR, "pci-attach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms (state %s); %s", b,
            domid, ctx->timeout_ms, xlpci_state_name(state),
            !urc && u.undone ? "the addition was rolled back"
                             : "the guest reacted, so the entries stay: "
                               "use pci-detach -f to remove them");
        goto out;
    }
    if (!rc) {
        exported_arg x = { domid, devs, a.n };

        rc = xlpci_txn_run(ctx, "pci-attach check", check_exported_body, &x);
        if (rc == XLPCI_TXN_NOTHING)
            rc = 0;
    }
out:
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
            xlpci_hv_revoke_devs(ctx, domid, granted, ngranted);
        hrc = xlpci_host_finish(ctx, domid, devs, a.n, &bk, how, assigned, &ops);

        rc = rc ? rc : hrc;
    }
    if (!rc && !ctx->dry_run && !xlpci_host_active(ctx))
        xlpci_host_absent_notice(ctx, domid);
    if (!rc && !ctx->dry_run)
        LOG(ctx, DETAIL, "domain %u: attached %zu device(s) starting with %s",
            domid, a.n, b);
    free(granted);
    free(how);
    xlpci_devs_free(devs, a.n);
    return rc;
}

/* ---- detach ---------------------------------------------------------------- */

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
    char prev[DETACH_MAX][4];          /* their state-N before Closing */
    bool undone;
    size_t ngone;                      /* DETACH_PARTIAL: removed ones */
    xlpci_bdf gone[DETACH_MAX];
} detach_arg;

/* The indices of the devices to remove, by BDF, in this view.  quiet: no
 * message when none is there. */
static int detach_find(xlpci_ctx *ctx, detach_arg *a, const xlpci_view *view,
                       unsigned *idx, bool quiet)
{
    char b[XLPCI_BDF_STRLEN];
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
                idx[a->n++] = i;
            }
        }
        xlpci_dev_dispose(&e.dev);
        free(e.vdev);
    }
    if (!a->n && quiet)
        return XLPCI_ERR_NOTFOUND;
    if (!a->n) {
        xlpci_bdf_format(&a->bdf, b);
        if (a->all_funcs)
            b[strlen(b) - 1] = '*';
        LOG(ctx, ERROR, "PCI device %s is not attached to domain %u", b,
            a->domid);
        return XLPCI_ERR_NOTFOUND;
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

    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc) goto out;
    if (!view.exists) {
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
        const char *st = view.keys[idx[i]][XLPCI_KEY_STATE];

        ours[idx[i]] = true;
        snprintf(a->prev[i], sizeof(a->prev[i]), "%s", st ? st : "");
        if (!st || strcmp(st, "5"))
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
            if (!view.keys[idx[i]][XLPCI_KEY_VDEV]) {
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
    int rc;

    memset(&b, 0, sizeof(b));
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
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
    if (!xlpci_frontend_ready(ctx, t, a->domid, &why, &rc)) {
        rc = rc ? rc : XLPCI_TXN_NOTHING;
        goto out;
    }
    for (i = 0; !rc && i < a->n; i++) {
        const char *st = view.keys[idx[i]][XLPCI_KEY_STATE];

        /* prev "5": an earlier detach wrote Closing and started the
         * cycle; it is not ours to undo */
        if (!st || strcmp(st, "5") || !a->prev[i][0] ||
            !strcmp(a->prev[i], "5")) {
            rc = XLPCI_TXN_NOTHING;
            break;
        }
        rc = xlpci_be_key(path, a->domid, "state-%u", idx[i]);
        if (!rc) rc = xlpci_ops_write(ops, path, a->prev[i]);
    }
    if (!rc) rc = xlpci_be_key(path, a->domid, "state");
    if (!rc) rc = xlpci_ops_writef(ops, path, "%d", XenbusStateConnected);
    a->undone = true;
out:
    xlpci_view_dispose(&view);
    return rc;
}

int xlpci_detach(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *spec,
                 unsigned flags)
{
    detach_arg a;
    long long deadline;
    char b[XLPCI_BDF_STRLEN], why[128];
    int rc, hrc, state;
    bool force = flags & XLPCI_DETACH_FORCE;
    size_t ngone = 0;                  /* removed before the cycle */

    deadline = xlpci_now_ms() + ctx->timeout_ms;
    memset(&a, 0, sizeof(a));
    a.domid = domid;
    a.flags = flags;
    rc = xlpci_check_domid(ctx, domid);
    if (rc)
        return rc;
    a.bdf = spec->bdf;
    a.all_funcs = spec->all_funcs;
    if (!spec->has_bdf) {
        rc = xlpci_name_to_bdf(ctx, spec->name, &a.bdf);
        if (rc)
            return rc;
    }
    xlpci_bdf_format(&a.bdf, b);

    rc = xlpci_run_until_ready(ctx, domid, "pci-detach", detach_begin_body, &a,
                         deadline);
    if (!rc && a.mode == DETACH_PARTIAL && ctx->dry_run) {
        fprintf(ctx->dry_run, "# pci-detach: then the exported function(s) "
                "go through a Reconfiguring cycle\n");
        goto out;
    }
    if (!rc && a.mode == DETACH_PARTIAL) {
        /* the never-exported functions are gone: no cycle, the guest never
         * had them; then the others, as usual */
        ngone = a.ngone;
        rc = xlpci_hv_revoke(ctx, domid, a.gone, a.ngone);
        if (!rc && xlpci_host_active(ctx))
            rc = xlpci_host_release(ctx, a.gone, a.ngone);
        if (rc)
            goto out;
        rc = xlpci_run_until_ready(ctx, domid, "pci-detach", detach_begin_body, &a,
                             deadline);
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
        rc = xlpci_hv_revoke(ctx, domid, a.found, a.n);  /* no cycle */
    if (rc || ctx->dry_run || a.mode == DETACH_REMOVED)
        goto out;

    /* The guest releases the device: Reconfiguring -> ... -> Connected. */
    rc = xlpci_wait_backend(ctx, domid, xlpci_is_connected, NULL, deadline,
                            &state);
    if (rc == XLPCI_ERR_BACKEND && !force) {
        /* pciback gave up (said above): no cycle will end, and a later
         * pci-detach -f refuses a failed backend */
        LOG(ctx, ERROR, "pci-detach %s: the PCI backend of domain %u failed "
            "during the Reconfiguring cycle (state %s); the device stays "
            "listed: recreate the backend with create -f, or destroy the "
            "domain", b, domid, xlpci_state_name(state));
        goto out;
    }
    if (rc && rc != XLPCI_ERR_NOTFOUND && !force) {
        int urc = xlpci_txn_run(ctx, "pci-detach rollback", undo_detach_body,
                                &a);

        LOG(ctx, ERROR, "pci-detach %s: the backend of domain %u did not "
            "complete the Reconfiguring cycle in %u ms (state %s); %s", b,
            domid, ctx->timeout_ms, xlpci_state_name(state),
            !urc && a.undone ? "the detach was rolled back; use -f to force"
                             : "use -f to force the removal");
        goto out;
    }
    if (rc && force)
        LOG(ctx, WARN, "pci-detach -f %s: the guest did not release the "
            "device (state %s); removing it anyway", b, xlpci_state_name(state));
    /* The guest released the device: its access goes, then the index
     * (a crash in between leaves a released index, which check --repair
     * removes).  A failed revocation keeps the device recorded as
     * assigned (no host_release), since the guest may still reach it. */
    hrc = xlpci_hv_revoke(ctx, domid, a.found, a.n);
    rc = xlpci_txn_run(ctx, "pci-detach", detach_remove_body, &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;                        /* already removed */
    rc = rc ? rc : hrc;
out:
    if (!rc && !ctx->dry_run && xlpci_host_active(ctx))
        rc = xlpci_host_release(ctx, a.found, a.n);
    if (!rc && !ctx->dry_run)
        LOG(ctx, DETAIL, "domain %u: detached %s", domid, b);
    return rc;
}

/* ---- list ------------------------------------------------------------------- */

typedef struct {
    uint32_t domid;
    xlpci_entry *list;
    size_t n;
} list_arg;

static int list_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                     void *varg)
{
    list_arg *a = varg;
    xlpci_view view;
    char err[256], *name = NULL;
    unsigned i;
    int rc;

    (void)ops;
    xlpci_entry_list_free(a->list, a->n);
    a->list = NULL;
    a->n = 0;
    xlpci_view_init(&view);
    rc = xlpci_domain_read(ctx, t, a->domid, &name);
    free(name);
    if (rc) goto out;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc || !view.num_devs)
        goto out;
    a->list = calloc(view.num_devs, sizeof(*a->list));
    if (!a->list) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < view.num_devs; i++) {
        rc = xlpci_view_entry(&view, i, &a->list[i], err, sizeof(err));
        if (rc) {
            LOG(ctx, ERROR, "domain %u: %s", a->domid, err);
            goto out;
        }
        a->n++;
    }
out:
    xlpci_view_dispose(&view);
    return rc ? rc : XLPCI_TXN_NOTHING;
}

int xlpci_list(xlpci_ctx *ctx, uint32_t domid, xlpci_entry **list_r,
               size_t *n_r)
{
    list_arg a = { domid, NULL, 0 };
    FILE *dry = ctx->dry_run;
    int rc;

    ctx->dry_run = NULL;               /* reading changes nothing */
    rc = xlpci_txn_run(ctx, "pci-list", list_body, &a);
    ctx->dry_run = dry;
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    if (rc) {
        xlpci_entry_list_free(a.list, a.n);
        a.list = NULL;
        a.n = 0;
    }
    *list_r = a.list;
    *n_r = a.n;
    return rc;
}

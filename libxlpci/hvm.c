/*
 * HVM guests: their PCI devices go through the guest's QEMU (QMP on
 * <run dir>/qmp-libxl-<domid>, qmp.c), as libxl 4.17 does for the
 * device model "qemu-xen" (libxl_pci.c do_pci_add, do_pci_remove).  The
 * backend entries are written as for a PV guest: they are the record of
 * the guest's devices that xl pci-list, xl pci-detach and xlpci read; no
 * pcifront reads them, so there is no Reconfiguring cycle and no wait on
 * the guest's xenbus (docs/protocol.md section 3.7).
 *
 * create / pci-attach, in libxl's order:
 *   1. checks, nothing changed (a read-only transaction): the domain
 *      exists, create finds no backend, no device is listed already or
 *      owned by another domain (/libxl/pci/<bdf>/domid); the domain is
 *      HVM, Xen has an IOMMU, xc_test_assign_device for every device;
 *   2. host: the bookkeeping intent (and seize=1), a reset per device;
 *   3. QEMU: qmp_capabilities, then per device device_add of
 *      xen-pci-passthrough (libxl's id "pci-pt-BB_DD.F", hostaddr, addr
 *      only when a vslot was asked, permissive only when asked) and
 *      query-pci: the slot QEMU chose becomes vdevfn-N;
 *   4. hypervisor: permissive, IOMMU assignment, BARs and irq;
 *   5. ONE transaction: the ownership records and the backend entries
 *      (created, or appended to the backend the guest has).
 * A failure at any step undoes the steps before it, in reverse: QEMU's
 * devices removed again (device_del, on a fresh connection if the old
 * one broke; the rollback gets at most XLPCI_HVM_UNDO_MS beyond the
 * deadline, and says so if QEMU may keep a device), the grants revoked
 * and the IOMMU contexts given back, the bookkeeping intent dropped
 * (seized devices back to their drivers); the store is untouched (step 5
 * is the only write).  A device QEMU refused
 * (an error reply) is not asked to leave: QEMU does not have it, or has
 * someone else's device under that id ("Duplicate device ID").
 *
 * pci-detach:
 *   1. the device(s) listed in the backend (a read);
 *   2. QEMU: device_del with the same id, then query-pci until QEMU no
 *      longer lists it (the guest acknowledges the ACPI hot-unplug),
 *      woken early by DEVICE_DELETED, within the command's deadline;
 *   3. hypervisor: permissions revoked, reset (function 0), IOMMU context
 *      back (Xen parks it in dom_io);
 *   4. ONE transaction: the backend entries and ownership records go;
 *   5. host: the bookkeeping says assignable (managed devices back to
 *      their drivers).
 * A device QEMU no longer has (DeviceNotFound: xl or an interrupted
 * detach removed it) continues at step 3.  If QEMU keeps a device past
 * the deadline, refuses, or is not there, nothing of that device is
 * changed (functions already gone from QEMU are released); -f (force)
 * goes on without QEMU.  Destroy (destroy.c) releases everything without
 * asking QEMU, which may be gone.
 *
 * xl and xlpci remove each other's devices: the same QEMU id, the same
 * backend entries and the same /libxl/pci/<bdf>/domid record.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The rollback through QEMU gets until this long past the command's
 * deadline; the host steps after it take the rest of the 2 s by which a
 * command involving QEMU ends (internal.h, XLPCI_OP). */
#define XLPCI_HVM_UNDO_MS 1000

/* ---- the record: backend entries + ownership, one transaction ------------ */

typedef struct {
    uint32_t domid;
    const xlpci_dev *devs;
    size_t n;
    bool create;                     /* no backend may exist */
    bool check_only;                 /* step 1: the checks, no writes */
    bool *missing;                   /* per device: no /libxl/pci/<bdf> */
} record_arg;

static int record_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    record_arg *a = varg;
    char b[XLPCI_BDF_STRLEN], be[XLPCI_PATH_MAX], *name = NULL;
    xlpci_view view;
    size_t i;
    int rc;

    xlpci_view_init(&view);
    rc = xlpci_domain_read(ctx, t, a->domid, &name);
    if (!rc)
        rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc)
        goto out;
    if (a->create && view.exists) {
        xlpci_be_path(be, a->domid);
        LOG(ctx, ERROR, "domain %u already has a PCI backend with %u "
            "device(s) at %s; use pci-attach to add devices", a->domid,
            view.num_devs, be);
        rc = XLPCI_ERR_EXISTS;
        goto out;
    }
    if (view.exists && view.num_devs + a->n > XLPCI_MAX_DEVS) {
        LOG(ctx, ERROR, "domain %u has %u PCI devices; its record holds at "
            "most %u", a->domid, view.num_devs, XLPCI_MAX_DEVS);
        rc = XLPCI_ERR_FAIL;
        goto out;
    }
    for (i = 0; view.exists && i < a->n; i++) {
        if (xlpci_view_find(&view, &a->devs[i].bdf) >= 0) {
            LOG(ctx, ERROR, "PCI device %s is already attached to domain %u",
                xlpci_bdf_format(&a->devs[i].bdf, b), a->domid);
            rc = XLPCI_ERR_EXISTS;
            goto out;
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
    rc = xlpci_owner_claim(ctx, t, ops, a->domid, a->devs, a->n,
                           a->missing);
    if (rc == XLPCI_TXN_PREPARE && a->check_only)
        rc = 0;                      /* free; its directory is made later */
    if (rc)
        goto out;
    if (a->check_only) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    rc = view.exists
         ? xlpci_layout_append(ops, a->domid, &view, a->devs, a->n, false)
         : xlpci_layout_create(ops, a->domid, name, a->devs, a->n);
out:
    free(name);
    xlpci_view_dispose(&view);
    return rc;
}

/* Step 1, read-only: the record's checks, its writes planned and dropped. */
static int check_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    record_arg *a = varg;
    xlpci_ops ops;
    int rc;

    xlpci_ops_init(&ops);
    a->check_only = true;
    rc = record_body(ctx, t, &ops, a);
    xlpci_ops_dispose(&ops);
    return rc == XLPCI_TXN_NOTHING ? 0 : rc;
}

/* ---- QEMU ------------------------------------------------------------------ */

/* Remove from QEMU the devices the failed add may have given it (added[i])
 * on q, or on a fresh connection when q is closed; bounded by its own
 * deadline.  Errors are logged: QEMU may keep a device then. */
static void qemu_undo(xlpci_ctx *ctx, uint32_t domid, xlpci_qmp *q,
                      bool *qopen, const xlpci_dev *devs, const bool *added,
                      size_t n)
{
    long long deadline = ctx->deadline + XLPCI_HVM_UNDO_MS;
    unsigned budget = (unsigned)(deadline > xlpci_now_ms()
                                 ? deadline - xlpci_now_ms() : 0);
    char b[XLPCI_BDF_STRLEN];
    size_t i;
    int rc = 0;

    for (i = n; i-- > 0;) {
        if (!added[i])
            continue;
        if (!*qopen) {
            rc = xlpci_qmp_open(ctx, domid, deadline, q);
            *qopen = !rc;
        }
        q->budget_ms = budget;         /* the rollback's, in messages */
        if (!rc)
            rc = xlpci_qmp_device_del(ctx, q, &devs[i].bdf, deadline,
                                      NULL);
        if (rc) {
            LOG(ctx, ERROR, "domain %u: QEMU may still have PCI device %s "
                "from this failed attach; remove it with pci-detach -f",
                domid, xlpci_bdf_format(&devs[i].bdf, b));
            if (*qopen)
                xlpci_qmp_close(ctx, q);
            *qopen = false;
            rc = 0;
        }
    }
}

static int dry_run_add(xlpci_ctx *ctx, record_arg *a)
{
    char path[XLPCI_PATH_MAX], *json;
    size_t i;
    int rc = xlpci_qmp_path(ctx, a->domid, path);

    if (rc)
        return rc;
    fprintf(ctx->dry_run, "# domain %u is an HVM guest: its QEMU gets the "
            "devices on %s\n", a->domid, path);
    for (i = 0; i < a->n; i++) {
        rc = xlpci_qmp_build_device_add(&a->devs[i], (unsigned)i + 2, &json);
        if (rc)
            return rc;
        fprintf(ctx->dry_run, "# QMP %s\n# QMP query-pci: vdevfn-%zu = the "
                "slot QEMU chose%s\n", json, i, a->devs[i].vdevfn
                ? " (the one asked)" : "");
        free(json);
    }
    fprintf(ctx->dry_run, "# then, in one transaction:\n");
    a->check_only = false;
    return xlpci_txn_run(ctx, a->create ? "create" : "pci-attach",
                         record_body, a);
}

/* create (create) or pci-attach of devs to the HVM guest domid. */
static int hvm_add(xlpci_ctx *ctx, bool host, uint32_t domid,
                   xlpci_dev *devs, size_t n, bool create)
{
    const char *what = create ? "create" : "pci-attach";
    long long deadline = ctx->deadline;
    record_arg a = { domid, devs, n, create, true, NULL };
    xlpci_prepared prep = { NULL, 0 };
    unsigned char *how = NULL;
    bool *added = NULL, qopen = false, granted = false, refused;
    unsigned devfn;
    xlpci_qmp q;
    xlpci_bk bk;
    size_t i;
    unsigned tries = 0;
    int rc, hrc, ops = -1;

    /* 1. the checks, nothing changed */
    rc = xlpci_txn_read(ctx, what, check_body, &a);
    if (rc)
        return rc;
    if (ctx->dry_run)
        return dry_run_add(ctx, &a);
    rc = xlpci_hv_hvm_check(ctx, domid, devs, n);
    if (rc)
        return rc;
    how = calloc(n + 1, sizeof(*how));
    added = calloc(n + 1, sizeof(*added));
    a.missing = calloc(n + 1, sizeof(*a.missing));
    if (!how || !added || !a.missing) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    /* 2. host: the intent, then the resets (libxl resets before QEMU) */
    if (host) {
        rc = xlpci_host_prepare(ctx, domid, devs, n, &bk, how, &ops);
        if (rc)
            goto out;
        for (i = 0; i < n; i++)
            xlpci_reset(ctx, &devs[i].bdf);
    }
    /* 3. QEMU */
    rc = xlpci_qmp_open(ctx, domid, deadline, &q);
    qopen = !rc;
    for (i = 0; !rc && i < n; i++) {
        rc = xlpci_qmp_device_add(ctx, &q, &devs[i], deadline, &devfn,
                                  &refused);
        added[i] = !refused;
        if (!rc)
            devs[i].vdevfn = devfn;    /* QEMU's slot is the record's */
        else if (!refused) {
            /* the connection is in doubt: the undo opens a fresh one */
            xlpci_qmp_close(ctx, &q);
            qopen = false;
        }
    }
    /* 4. hypervisor, 5. the record */
    if (!rc)
        rc = xlpci_hv_grant_hvm(ctx, domid, devs, n, &granted);
    if (!rc)
        rc = xlpci_backend_parent_prepare(ctx, domid, create, &prep);
    if (!rc) {
        a.check_only = false;
        rc = xlpci_txn_run(ctx, what, record_body, &a);
        while ((rc = xlpci_claim_retry(ctx, what, rc, &tries, devs, n,
                                       a.missing, &prep))
               == XLPCI_TXN_PREPARE)
            rc = xlpci_txn_run(ctx, what, record_body, &a);
    }
    if (rc) {
        /* in reverse: the record's parents, QEMU (as a detach: the
         * device leaves the guest first), the hypervisor */
        xlpci_parents_prune(ctx, &prep);
        qemu_undo(ctx, domid, &q, &qopen, devs, added, n);
        if (granted) {
            xlpci_bdf *bdfs = calloc(n, sizeof(*bdfs));

            for (size_t k = 0; bdfs && k < n; k++)
                bdfs[k] = devs[k].bdf;
            if (bdfs)
                xlpci_hv_revoke(ctx, true, domid, bdfs, n, false);
            else
                LOG(ctx, ERROR, "out of memory: domain %u keeps the "
                    "permissions of its devices", domid);
            free(bdfs);
        }
    }
    xlpci_prepared_dispose(&prep);
    if (qopen)
        xlpci_qmp_close(ctx, &q);
    if (host) {
        hrc = xlpci_host_finish(ctx, domid, devs, n, &bk, how, !rc, &ops);
        rc = rc ? rc : hrc;
    }
    if (!rc)
        LOG(ctx, DETAIL, "domain %u: %zu PCI device(s) given to its QEMU "
            "and recorded in one transaction", domid, n);
out:
    free(added);
    free(a.missing);
    free(how);
    return rc;
}

/* Multi-function devices need a virtual slot (libxl: "Must specify a
 * v-slot for multi-function devices"), so every function lands in it. */
static int check_specs(xlpci_ctx *ctx, const xlpci_spec *specs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (specs[i].all_funcs && !specs[i].has_vslot) {
            LOG(ctx, ERROR, "%02x:%02x.*: an HVM guest's multi-function "
                "device needs a virtual slot (BB:DD.*@VSLOT)",
                specs[i].bdf.bus, specs[i].bdf.dev);
            return XLPCI_ERR_INVAL;
        }
    }
    return 0;
}

int xlpci_hvm_add(xlpci_ctx *ctx, bool host, uint32_t domid,
                  const xlpci_spec *specs, size_t nspecs, xlpci_dev *devs,
                  size_t n, bool create, unsigned flags)
{
    int rc;

    if (create && (flags & XLPCI_CREATE_REPLACE)) {
        LOG(ctx, ERROR, "create -f: domain %u is an HVM guest, whose QEMU "
            "would keep the replaced devices; pci-detach them first",
            domid);
        return XLPCI_ERR_INVAL;
    }
    rc = check_specs(ctx, specs, nspecs);
    return rc ? rc : hvm_add(ctx, host, domid, devs, n, create);
}

/* ---- pci-detach --------------------------------------------------------------- */

#define HVM_DETACH_MAX 8             /* one slot's functions */

typedef struct {
    uint32_t domid;
    xlpci_bdf bdf;
    bool all_funcs;
    xlpci_bdf found[HVM_DETACH_MAX]; /* step 1: listed, function 0 last */
    size_t n;
    const xlpci_bdf *gone;           /* step 4: to remove */
    size_t ngone;
} detach_arg;

static bool matches(const detach_arg *a, const xlpci_bdf *b)
{
    return a->all_funcs ? b->seg == a->bdf.seg && b->bus == a->bdf.bus &&
                          b->dev == a->bdf.dev
                        : !xlpci_bdf_cmp(b, &a->bdf);
}

static int find_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    detach_arg *a = varg;
    char err[128];
    xlpci_view view;
    xlpci_entry e;
    unsigned i;
    int rc;

    a->n = 0;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    for (i = 0; !rc && i < view.num_devs; i++) {
        rc = xlpci_view_entry(&view, i, &e, err, sizeof(err));
        if (rc) {
            LOG(ctx, ERROR, "domain %u: %s", a->domid, err);
            break;
        }
        if (matches(a, &e.dev.bdf) && a->n < HVM_DETACH_MAX)
            a->found[a->n++] = e.dev.bdf;
        xlpci_dev_dispose(&e.dev);
        free(e.vdev);
    }
    xlpci_view_dispose(&view);
    if (rc)
        return rc;
    if (!a->n) {
        return xlpci_not_attached(ctx, &a->bdf, a->all_funcs, a->domid);
    }
    /* function 0 last (libxl removes functions 7 down to 0) */
    for (i = 0; i + 1 < a->n; i++)
        if (!a->found[i].func) {
            xlpci_bdf f0 = a->found[i];

            memmove(&a->found[i], &a->found[i + 1],
                    (a->n - i - 1) * sizeof(a->found[0]));
            a->found[a->n - 1] = f0;
            break;
        }
    return 0;
}

static int remove_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    detach_arg *a = varg;
    unsigned idx[HVM_DETACH_MAX];
    xlpci_view view;
    size_t i, k = 0;
    int rc, j;

    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    for (i = 0; !rc && i < a->ngone; i++) {
        j = view.exists ? xlpci_view_find(&view, &a->gone[i]) : -1;
        if (j >= 0)
            idx[k++] = (unsigned)j;
    }
    if (!rc && k)
        rc = xlpci_remove_devices(ctx, t, ops, a->domid, &view, idx, k);
    else if (!rc)                      /* removed meanwhile (xl?) */
        rc = xlpci_owner_drop(ctx, t, ops, a->domid, a->gone, a->ngone);
    if (!rc && !ops->n)
        rc = XLPCI_TXN_NOTHING;
    xlpci_view_dispose(&view);
    return rc;
}

int xlpci_hvm_detach(xlpci_ctx *ctx, bool host, uint32_t domid,
                     const xlpci_bdf *bdf, bool all_funcs, unsigned flags)
{
    long long deadline = ctx->deadline;
    bool force = flags & XLPCI_DETACH_FORCE, qopen = false;
    bool accepted = false, asked = false;
    char b[XLPCI_BDF_STRLEN], *json;
    xlpci_bdf gone[HVM_DETACH_MAX];
    detach_arg a;
    xlpci_qmp q;
    size_t i, ngone = 0;
    int rc, qrc = 0;

    memset(&a, 0, sizeof(a));
    a.domid = domid;
    a.bdf = *bdf;
    a.all_funcs = all_funcs;
    rc = xlpci_txn_read(ctx, "pci-detach", find_body, &a);
    if (rc)
        return rc;
    if (ctx->dry_run) {
        char path[XLPCI_PATH_MAX];

        rc = xlpci_qmp_path(ctx, domid, path);
        if (!rc)
            fprintf(ctx->dry_run, "# domain %u is an HVM guest: its QEMU "
                    "removes the devices, on %s\n", domid, path);
        for (i = 0; !rc && i < a.n; i++) {
            rc = xlpci_qmp_build_device_del(&a.found[i], (unsigned)i + 2,
                                            &json);
            if (rc)
                break;
            fprintf(ctx->dry_run, "# QMP %s, then query-pci until QEMU no "
                    "longer lists it (up to %u ms)\n", json,
                    ctx->timeout_ms);
            free(json);
        }
        a.gone = a.found;
        a.ngone = a.n;
        fprintf(ctx->dry_run, "# then, in one transaction:\n");
        return rc ? rc : xlpci_txn_run(ctx, "pci-detach", remove_body, &a);
    }

    /* 2. QEMU */
    qrc = xlpci_qmp_open(ctx, domid, deadline, &q);
    qopen = !qrc;
    for (i = 0; i < a.n; i++) {
        accepted = false;
        rc = qopen ? xlpci_qmp_device_del(ctx, &q, &a.found[i], deadline,
                                          &accepted)
                   : qrc;
        if (rc && !force) {
            qrc = qrc ? qrc : rc;
            /* asked: QEMU may still act on it (accepted, or no answer) */
            asked = qopen && (accepted || rc == XLPCI_ERR_TIMEDOUT);
            break;                     /* the rest stays as it is */
        }
        if (rc)
            LOG(ctx, WARN, "pci-detach -f %s: removing it from domain %u's "
                "record without QEMU's confirmation",
                xlpci_bdf_format(&a.found[i], b), domid);
        gone[ngone++] = a.found[i];
    }
    if (qopen)
        xlpci_qmp_close(ctx, &q);

    /* 3. hypervisor, 4. the record, 5. host */
    rc = 0;
    if (ngone) {
        int hrc = xlpci_hv_revoke(ctx, host, domid, gone, ngone, true);

        a.gone = gone;
        a.ngone = ngone;
        rc = xlpci_txn_run(ctx, "pci-detach", remove_body, &a);
        if (rc == XLPCI_TXN_NOTHING)
            rc = 0;
        rc = rc ? rc : hrc;
        /* a failed revocation keeps the device recorded as assigned */
        if (!rc && host)
            rc = xlpci_host_release(ctx, gone, ngone);
    }
    if (!rc && ngone < a.n) {
        rc = qrc ? qrc : XLPCI_ERR_FAIL;
        xlpci_bdf_format(&a.found[ngone], b);
        if (asked && accepted)
            LOG(ctx, ERROR, "pci-detach %s: QEMU accepted the removal but "
                "the guest did not release the device in time; QEMU removes "
                "it once the guest acknowledges the unplug.  Its record, "
                "grants and IOMMU context stay with domain %u until then: "
                "run pci-detach again to finish (or -f to release it "
                "without QEMU's confirmation)%s", b, domid,
                ngone ? "; the functions before it were released" : "");
        else if (asked)
            LOG(ctx, ERROR, "pci-detach %s: QEMU did not answer the removal "
                "(device_del), so it may still act on it.  The record, "
                "grants and IOMMU context stay with domain %u: run "
                "pci-detach again (or -f to release it without QEMU's "
                "confirmation)%s", b, domid,
                ngone ? "; the functions before it were released" : "");
        else if (ngone)
            LOG(ctx, ERROR, "pci-detach: %zu of %zu function(s) were "
                "released; the others stay with domain %u (use -f to "
                "remove them anyway)", ngone, a.n, domid);
        else
            LOG(ctx, ERROR, "pci-detach %s: nothing was changed (use -f to "
                "remove it without QEMU's confirmation)", b);
    }
    if (!rc)
        LOG(ctx, DETAIL, "domain %u: detached %zu PCI device(s) through its "
            "QEMU", domid, ngone);
    return rc;
}

int xlpci_hvm_route(xlpci_ctx *ctx, bool host, uint32_t domid,
                    const xlpci_spec *specs, size_t nspecs, xlpci_dev *devs,
                    size_t n, bool create, unsigned flags, bool *done_r)
{
    int type = XLPCI_GUEST_PV;
    int rc = xlpci_guest_type(ctx, host, domid, &type);

    *done_r = rc || type == XLPCI_GUEST_HVM;
    if (!rc && type == XLPCI_GUEST_HVM)
        rc = xlpci_hvm_add(ctx, host, domid, specs, nspecs, devs, n, create,
                           flags);
    return rc;
}

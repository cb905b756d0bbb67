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

#include "flows.h"

/* The rollback through QEMU gets until this long past the command's
 * deadline; the host steps after it take the rest of the 2 s by which a
 * command involving QEMU ends (io.h, XLPCI_OP). */
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
 * budget past the deadline.  maybe[i]: QEMU may still have device i (it
 * did not confirm its removal): said, and the caller keeps it assigned to
 * the domain on the host. */
static void qemu_undo(xlpci_ctx *ctx, uint32_t domid, xlpci_qmp *q,
                      bool *qopen, const xlpci_dev *devs, const bool *added,
                      bool *maybe, size_t n)
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
            xlpci_bdf_format(&devs[i].bdf, b);
            LOG(ctx, ERROR, "domain %u: QEMU may still have PCI device %s "
                "from this failed attach, so it stays recorded for the "
                "domain on the host (no other domain gets it): check %u "
                "asks QEMU and check --repair %u settles it, pci-detach -f "
                "%u %s releases it", domid, b, domid, domid, domid, b);
            maybe[i] = true;
            if (*qopen)
                xlpci_qmp_close(ctx, q);
            *qopen = false;
            rc = 0;
        }
    }
}

/* device_add said "Duplicate device ID": QEMU has a device with the id
 * xl and xlpci give this host device.  No other domain has it (the
 * ownership record and the bookkeeping said so), and no record lists it
 * for this domain (the checks): it is what an interrupted attach, or a
 * pci-detach -f that went on without QEMU, left in QEMU.  The attach
 * takes it as its own (QEMU's slot is the record's); if query-pci does
 * not list it after all, refused as before. */
static int adopt(xlpci_ctx *ctx, xlpci_qmp *q, const xlpci_dev *dev,
                 long long deadline, unsigned *devfn_r)
{
    char b[XLPCI_BDF_STRLEN], qid[XLPCI_QDEV_ID_LEN];
    int rc = xlpci_qmp_device_slot(ctx, q, &dev->bdf, deadline, devfn_r);

    xlpci_bdf_format(&dev->bdf, b);
    xlpci_qdev_id(&dev->bdf, qid);
    if (rc == 1) {
        LOG(ctx, NOTICE, "domain %u: its QEMU has PCI device %s already (id "
            "%s, at slot %02x.%x, recorded nowhere: an interrupted attach, "
            "or a pci-detach -f that went on without QEMU): taken as this "
            "attach's", q->domid, b, qid, *devfn_r >> 3, *devfn_r & 7);
        return 0;
    }
    if (rc == 0)
        LOG(ctx, ERROR, "the QEMU of domain %u refused PCI device %s: it "
            "has a device with its id %s (Duplicate device ID) that "
            "query-pci does not list", q->domid, b, qid);
    return rc ? rc : XLPCI_ERR_EXISTS;
}

/* The QEMU step recorded for devs (xlpci_host_pending). */
static int devs_pending(xlpci_ctx *ctx, uint32_t domid,
                        const xlpci_dev *devs, size_t n, int pending)
{
    xlpci_bdf *bdfs = calloc(n + 1, sizeof(*bdfs));
    size_t i;
    int rc;

    if (!bdfs)
        return XLPCI_ERR_NOMEM;
    for (i = 0; i < n; i++)
        bdfs[i] = devs[i].bdf;
    rc = xlpci_host_pending(ctx, domid, bdfs, n, pending);
    free(bdfs);
    return rc;
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
    bool *added = NULL, *maybe = NULL, qopen = false, granted = false;
    bool refused;
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
    maybe = calloc(n + 1, sizeof(*maybe));
    a.missing = calloc(n + 1, sizeof(*a.missing));
    if (!how || !added || !maybe || !a.missing) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    /* 2. host: the intent, with the QEMU step it is about to ask
     * (pending device_add: a crash from here on is settled by check,
     * which asks QEMU), then the resets (libxl resets before QEMU) */
    if (host) {
        rc = xlpci_host_prepare_pending(ctx, domid, devs, n, &bk, how, &ops,
                                        XLPCI_PENDING_ADD);
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
        if (rc == XLPCI_ERR_EXISTS)
            rc = adopt(ctx, &q, &devs[i], deadline, &devfn);
        added[i] = !refused || !rc;
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
        qemu_undo(ctx, domid, &q, &qopen, devs, added, maybe, n);
        /* what QEMU may still have stays the domain's on the host (its
         * intent, pending device_add, is kept): never another domain's */
        for (i = 0; i < n; i++)
            if (maybe[i])
                how[i] = XLPCI_HOST_KEPT;
        if (granted) {
            xlpci_bdf *bdfs = calloc(n, sizeof(*bdfs));

            for (size_t k = 0; bdfs && k < n; k++)
                bdfs[k] = devs[k].bdf;
            if (bdfs)
                xlpci_hv_revoke(ctx, true, domid, bdfs, n, false, NULL);
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
        /* QEMU's step is over: the record says what QEMU has */
        if (!rc && !hrc)
            hrc = devs_pending(ctx, domid, devs, n, XLPCI_PENDING_NONE);
        rc = rc ? rc : hrc;
    }
    if (!rc)
        LOG(ctx, DETAIL, "domain %u: %zu PCI device(s) given to its QEMU "
            "and recorded in one transaction", domid, n);
out:
    free(maybe);
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
    /* devices an attach left in QEMU maybe (the bookkeeping's pending
     * device_add), listed by no record: detached all the same */
    xlpci_bdf unrec[HVM_DETACH_MAX];
    size_t nunrec;
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
    if (!a->n && a->nunrec) {
        memcpy(a->found, a->unrec, a->nunrec * sizeof(a->found[0]));
        a->n = a->nunrec;
    }
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

/* The devices the bookkeeping keeps for domid with a device_add pending
 * (an attach whose QEMU did not confirm, xlpci_hvm_add) matching a. */
static int pending_adds(xlpci_ctx *ctx, detach_arg *a)
{
    xlpci_bk bk;
    size_t i;
    int rc = xlpci_bk_open(ctx, &bk);

    if (rc)
        return rc;
    for (i = 0; i < bk.n && a->nunrec < HVM_DETACH_MAX; i++)
        if (bk.v[i].domid == (int)a->domid &&
            bk.v[i].pending == XLPCI_PENDING_ADD && matches(a, &bk.v[i].bdf))
            a->unrec[a->nunrec++] = bk.v[i].bdf;
    xlpci_bk_close(&bk);
    return 0;
}

int xlpci_hvm_detach(xlpci_ctx *ctx, bool host, uint32_t domid,
                     const xlpci_bdf *bdf, bool all_funcs, unsigned flags)
{
    long long deadline = ctx->deadline;
    bool force = flags & XLPCI_DETACH_FORCE, qopen = false;
    bool accepted = false, asked = false;
    int prev[HVM_DETACH_MAX] = { 0 };
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
    rc = host ? pending_adds(ctx, &a) : 0;
    if (!rc)
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

    /* 2. QEMU, its step recorded first (pending device_del: a crash
     * from here on is settled by check, which asks QEMU) */
    if (host) {
        rc = xlpci_host_pending_each(ctx, domid, a.found, a.n,
                                     XLPCI_PENDING_DEL, NULL, prev);
        if (rc)
            return rc;
    }
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
        bool kept[HVM_DETACH_MAX];
        xlpci_release_count cnt;
        int hrc = xlpci_hv_revoke(ctx, host, domid, gone, ngone, true, kept);

        a.gone = gone;
        a.ngone = ngone;
        rc = xlpci_txn_run(ctx, "pci-detach", remove_body, &a);
        if (rc == XLPCI_TXN_NOTHING)
            rc = 0;
        rc = rc ? rc : hrc;
        /* a failed revocation keeps the device recorded as assigned; one
         * Xen has in another guest is left to it (ownership.c) */
        if ((!rc || rc == XLPCI_ERR_EXISTS) && host)
            hrc = xlpci_release(ctx, host, domid, gone, ngone, kept,
                                XLPCI_REL_BK, &cnt);
        else
            hrc = 0;
        rc = rc ? rc : hrc;
    }
    if (!rc && ngone < a.n && host && !asked) {
        /* QEMU was not asked, or refused: what was pending before is */
        int prc = xlpci_host_pending_each(ctx, domid, a.found + ngone,
                                          a.n - ngone, 0, prev + ngone,
                                          NULL);

        if (prc)
            LOG(ctx, WARN, "pci-detach: the bookkeeping still says a "
                "device_del is pending (see above); check %u settles it",
                domid);
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

/* ---- check: QEMU, the record, the bookkeeping ------------------------------------ */

/* One device of an HVM guest as check sees it. */
typedef struct {
    xlpci_bdf bdf;
    bool listed;                       /* in its backend (the record) */
    bool recorded;                     /* the bookkeeping: assigned to it */
    int pending;                       /* ... with a QEMU step pending */
    bool in_qemu;                      /* query-pci lists libxl's id */
} hvm_dev;

typedef struct {
    uint32_t domid;
    hvm_dev *v;
    size_t n;
} hvm_devs;

/* libxl's QEMU id has no segment: a device of QEMU's matches one of the
 * record's or the bookkeeping's by bus, slot and function. */
static hvm_dev *hvm_dev_get(hvm_devs *d, const xlpci_bdf *bdf, bool by_id)
{
    hvm_dev *nv;
    size_t i;

    for (i = 0; i < d->n; i++)
        if (by_id ? d->v[i].bdf.bus == bdf->bus &&
                    d->v[i].bdf.dev == bdf->dev &&
                    d->v[i].bdf.func == bdf->func
                  : !xlpci_bdf_cmp(&d->v[i].bdf, bdf))
            return &d->v[i];
    nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
    if (!nv)
        return NULL;
    d->v = nv;
    memset(&d->v[d->n], 0, sizeof(d->v[0]));
    d->v[d->n].bdf = *bdf;
    return &d->v[d->n++];
}

static int listed_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    hvm_devs *d = varg;
    char err[128];
    xlpci_view view;
    xlpci_entry e;
    unsigned i;
    int rc;

    for (i = 0; i < d->n; i++)
        d->v[i].listed = false;
    rc = xlpci_view_read(ctx, t, d->domid, &view);
    for (i = 0; !rc && i < view.num_devs; i++) {
        hvm_dev *h;

        if (xlpci_view_entry(&view, i, &e, err, sizeof(err)))
            continue;                  /* the backend check says it */
        h = hvm_dev_get(d, &e.dev.bdf, false);
        if (h)
            h->listed = true;
        else
            rc = XLPCI_ERR_NOMEM;
        xlpci_dev_dispose(&e.dev);
        free(e.vdev);
    }
    xlpci_view_dispose(&view);
    return rc;
}

/* The devices of domid's QEMU, its record and its bookkeeping. */
static int hvm_devs_read(xlpci_ctx *ctx, hvm_devs *d, xlpci_qmp *q)
{
    xlpci_bdf *inq = NULL;
    size_t nq = 0, i;
    xlpci_bk bk;
    hvm_dev *h;
    int rc;

    rc = xlpci_txn_read(ctx, "check (HVM)", listed_body, d);
    if (rc)
        return rc;
    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    for (i = 0; !rc && i < bk.n; i++) {
        if (bk.v[i].domid != (int)d->domid)
            continue;
        h = hvm_dev_get(d, &bk.v[i].bdf, false);
        if (!h) {
            rc = XLPCI_ERR_NOMEM;
            break;
        }
        h->recorded = true;
        h->pending = bk.v[i].pending;
    }
    xlpci_bk_close(&bk);
    if (!rc && q)
        rc = xlpci_qmp_passthrough(ctx, q, ctx->deadline, &inq, &nq);
    for (i = 0; !rc && i < nq; i++) {
        h = hvm_dev_get(d, &inq[i], true);
        if (h)
            h->in_qemu = true;
        else
            rc = XLPCI_ERR_NOMEM;
    }
    free(inq);
    return rc;
}

/* The release of a device the guest no longer has (QEMU does not list
 * it): as a detach after QEMU's confirmation (hypervisor, record, host). */
static int hvm_release(xlpci_ctx *ctx, uint32_t domid, const hvm_dev *h)
{
    xlpci_release_count cnt;
    detach_arg a;
    bool kept = false;
    int rc, hrc;

    memset(&a, 0, sizeof(a));
    a.domid = domid;
    a.bdf = h->bdf;
    a.gone = &h->bdf;
    a.ngone = 1;
    hrc = xlpci_hv_revoke(ctx, true, domid, &h->bdf, 1, true, &kept);
    rc = xlpci_txn_run(ctx, "check --repair (HVM)", remove_body, &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    rc = rc ? rc : hrc;
    /* as pci-detach: one Xen has in another guest is left to it
     * (ownership.c) */
    if ((!rc || rc == XLPCI_ERR_EXISTS) && h->recorded) {
        hrc = xlpci_release(ctx, true, domid, &h->bdf, 1, &kept,
                            XLPCI_REL_BK, &cnt);
        rc = rc ? rc : hrc;
    }
    return rc;
}

int xlpci_hvm_check_qemu(xlpci_ctx *ctx, bool host, uint32_t domid,
                         bool repair, unsigned *problems_r, unsigned *left_r)
{
    char b[XLPCI_BDF_STRLEN], qid[XLPCI_QDEV_ID_LEN];
    hvm_devs d = { domid, NULL, 0 };
    xlpci_qmp q;
    size_t i;
    int rc;

    *problems_r = *left_r = 0;
    if (!host)
        return 0;
    repair = repair && !ctx->dry_run;
    rc = xlpci_qmp_open(ctx, domid, ctx->deadline, &q);
    if (!rc)
        rc = hvm_devs_read(ctx, &d, &q);
    else
        (void)hvm_devs_read(ctx, &d, NULL);   /* its pending steps */
    if (rc) {
        bool pend = false;

        for (i = 0; i < d.n; i++)
            pend = pend || d.v[i].pending;
        LOG(ctx, WARN, "domain %u: could not ask its QEMU which devices it "
            "has (see above): QEMU and the record were not compared%s",
            domid, pend ? "; the outcome of an interrupted QEMU step stays "
            "unknown (the devices stay the domain's on the host)" : "");
        *problems_r = *left_r = 1;
        rc = 0;
        goto out;
    }
    for (i = 0; i < d.n; i++) {
        hvm_dev *h = &d.v[i];
        const char *what = NULL;
        bool gone = false;
        int r = 0;

        xlpci_bdf_format(&h->bdf, b);
        xlpci_qdev_id(&h->bdf, qid);
        if (h->listed && h->in_qemu && h->pending != XLPCI_PENDING_DEL) {
            if (h->pending && repair)  /* the add's outcome is known */
                xlpci_host_pending(ctx, domid, &h->bdf, 1,
                                   XLPCI_PENDING_NONE);
            continue;
        }
        if (!h->listed && !h->in_qemu && !h->pending)
            continue;                  /* the bookkeeping's check says it */
        (*problems_r)++;
        if (h->listed && h->in_qemu) {
            LOG(ctx, WARN, "domain %u: a pci-detach of %s was interrupted "
                "after it asked QEMU, which still has the device%s", domid,
                b, repair ? "" : ": check --repair finishes the detach");
            what = "wait";
        } else if (h->listed) {
            LOG(ctx, WARN, "domain %u: its backend lists %s but its QEMU "
                "does not have it (%s)%s", domid, b,
                h->pending == XLPCI_PENDING_DEL
                ? "a pci-detach QEMU carried out did not finish"
                : "the guest does not have it", repair ? "" : ": check "
                "--repair releases it");
            what = "release";
        } else if (h->in_qemu) {
            LOG(ctx, WARN, "domain %u: its QEMU has PCI device %s (%s), "
                "which its backend does not list (%s)%s", domid, b, qid,
                h->recorded ? "an interrupted pci-attach"
                            : "recorded nowhere",
                repair ? "" : ": check --repair removes it from QEMU");
            what = "remove";
        } else {
            LOG(ctx, WARN, "domain %u: %s is recorded for it with a %s "
                "pending that QEMU %s%s", domid, b,
                h->pending == XLPCI_PENDING_ADD ? "device_add" : "device_del",
                h->pending == XLPCI_PENDING_ADD ? "did not carry out"
                                                : "carried out",
                repair ? "" : ": check --repair releases it");
            what = "release";
        }
        if (!repair) {
            (*left_r)++;
            continue;
        }
        if (!strcmp(what, "remove") || !strcmp(what, "wait")) {
            /* the detach is finished: device_del (again: the interrupted
             * one may not have reached QEMU); a QEMU that refuses a
             * second one is waited for */
            r = xlpci_qmp_device_del(ctx, &q, &h->bdf, ctx->deadline, NULL);
            if (r == XLPCI_ERR_FAIL && !strcmp(what, "wait") && q.fd >= 0)
                r = xlpci_qmp_device_gone(ctx, &q, &h->bdf, ctx->deadline);
            gone = !r;
            if (r)
                LOG(ctx, ERROR, "domain %u: its QEMU still has %s: the guest "
                    "did not release it in time; check --repair again (or "
                    "pci-detach -f)", domid, b);
        }
        if (!r && (h->recorded || h->listed))
            r = hvm_release(ctx, domid, h);
        if (r) {
            (*left_r)++;
            continue;
        }
        LOG(ctx, NOTICE, "domain %u: %s %s", domid, b,
            gone ? "removed from its QEMU and released on the host"
                 : "released (QEMU does not have it)");
    }
out:
    if (q.fd >= 0)
        xlpci_qmp_close(ctx, &q);
    free(d.v);
    return rc;
}

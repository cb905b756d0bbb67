/*
 * The watcher's actions (docs/watch.md), each run by watch.c in a child
 * process of its own with the action's deadline, and what the watcher
 * reads of the host to decide them:
 *
 *   create   a domain whose name has <guests dir>/<name>.cfg gets every
 *            device of the file in ONE transaction (xlpci_create, the
 *            domain-create path); an HVM guest's once its QEMU's QMP
 *            socket answers.  A domain that has a PCI backend already
 *            (given by xl, by hand, or by an earlier run) is left as it
 *            is: nothing is done twice.
 *   release  what a domain that is gone or dying still holds is released
 *            (xlpci_destroy_run, destroy's release), after checking
 *            again that the domain is not alive: a domid is never taken
 *            from a live domain.
 *   records  a /libxl/pci/<bdf>/domid another tool removed while a live
 *            domain's backend still lists the device is written back
 *            (check --repair's rule, xlpci_watch_restorable: never while
 *            someone is removing the device).
 *
 * Which domains live: Xen's list (xc_domain_getinfolist: a domain is
 * alive until it is dying), or without a hypervisor (XLPCI_HYPERVISOR=
 * none, Xen not running) xenstore's /local/domain/<domid>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xclib.h"                  /* libxenctrl, loaded when needed */

#include "flows.h"

#define QEMU_POLL_MS 50

/* ---- which domains live ---------------------------------------------------- */

#define INFO_BATCH 256

int xlpci_watch_domains(xlpci_ctx *ctx, xc_interface *xch,
                        xlpci_domset *live, xlpci_domset *suspended)
{
    xc_domaininfo_t info[INFO_BATCH];
    char **names = NULL;
    unsigned n = 0;
    uint32_t first = 1;
    int r, i, rc = 0;

    xlpci_domset_clear(live);
    if (suspended)
        xlpci_domset_clear(suspended);
    if (!xch) {
        rc = xlpci_xs_directory_alone(ctx, "/local/domain", &names, &n);
        if (!rc)
            rc = xlpci_domset_from_names(live, names, n);
        free(names);
        return rc;
    }
    for (;;) {
        xlpci_host_step(ctx);
        r = xc_domain_getinfolist(xch, first, INFO_BATCH, info);
        if (r < 0) {
            LOGE(ctx, ERROR, "cannot list Xen's domains "
                 "(xc_domain_getinfolist)");
            return XLPCI_ERR_FAIL;
        }
        for (i = 0; !rc && i < r; i++) {
            uint32_t d = info[i].domain;
            unsigned reason = (info[i].flags >> XEN_DOMINF_shutdownshift) &
                              XEN_DOMINF_shutdownmask;

            if (!d || d >= DOMID_FIRST_RESERVED ||
                (info[i].flags & XEN_DOMINF_dying))
                continue;
            rc = xlpci_domset_add(live, d);
            if (!rc && suspended && (info[i].flags & XEN_DOMINF_shutdown) &&
                reason == SHUTDOWN_suspend)
                rc = xlpci_domset_add(suspended, d);
        }
        if (rc || r < INFO_BATCH)
            return rc;
        first = info[r - 1].domain + 1;
        if (first >= DOMID_FIRST_RESERVED)
            return 0;
    }
}

int xlpci_watch_alive(xlpci_ctx *ctx, xc_interface *xch, uint32_t domid,
                      bool *running_r)
{
    xc_domaininfo_t info;
    bool exists;
    int r;

    if (running_r)
        *running_r = false;
    if (!xch) {
        r = xlpci_domain_exists(ctx, XBT_NULL, domid, &exists);
        if (r)
            return r;
        if (running_r)
            *running_r = exists;
        return exists;
    }
    memset(&info, 0, sizeof(info));
    xlpci_host_step(ctx);
    r = xc_domain_getinfolist(xch, domid, 1, &info);
    if (r < 0) {
        LOGE(ctx, ERROR, "cannot read domain %u's information "
             "(xc_domain_getinfolist)", domid);
        return XLPCI_ERR_FAIL;
    }
    if (r < 1 || info.domain != domid || (info.flags & XEN_DOMINF_dying))
        return 0;
    if (running_r)
        *running_r = !(info.flags & XEN_DOMINF_shutdown);
    return 1;
}

/* The domids named by /libxl/pci/<bdf>/domid records (and, in map, who
 * each names). */
static int record_owners(xlpci_ctx *ctx, xlpci_domset *owners,
                         xlpci_recmap *map)
{
    char **nodes = NULL;
    unsigned nn = 0, i;
    xlpci_bdf bdf;
    int rc, owner;

    rc = xlpci_xs_directory_alone(ctx, "/libxl/pci", &nodes, &nn);
    for (i = 0; !rc && i < nn; i++) {
        if (!xlpci_libxl_name_bdf(nodes[i], &bdf))
            continue;
        rc = xlpci_owner_read(ctx, XBT_NULL, &bdf, &owner);
        if (rc == XLPCI_ERR_CORRUPT)
            rc = 0;                    /* check reports it */
        else if (!rc && owner > 0 && owner < (int)DOMID_FIRST_RESERVED) {
            rc = xlpci_domset_add(owners, (uint32_t)owner);
            if (!rc && map)
                rc = xlpci_recmap_set(map, &bdf, (uint32_t)owner);
        }
    }
    free(nodes);
    return rc;
}

/* The domains the bookkeeping names, read as it is on disk without its
 * lock (it is replaced whole, temp + rename: a read sees one version):
 * the watcher's loop waits for no lock.  Trouble is said, not an error:
 * the next reconcile reads it again. */
#define BK_READ_MAX (4u << 20)
static int bk_domains(xlpci_ctx *ctx, xlpci_domset *holders)
{
    char path[XLPCI_PATH_MAX + 16], err[256], *text = NULL;
    xlpci_bk_dev *v = NULL;
    size_t n = 0, j;
    struct stat st;
    ssize_t r;
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/devices.json", ctx->state_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;                      /* no bookkeeping: nothing held */
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > BK_READ_MAX ||
        !(text = malloc((size_t)st.st_size + 1))) {
        LOG(ctx, WARN, "%s cannot be read here; the domains only it names "
            "are released at the next reconcile", path);
        close(fd);
        return 0;
    }
    r = read(fd, text, (size_t)st.st_size);
    close(fd);
    text[r > 0 ? r : 0] = '\0';
    if (r == st.st_size && !xlpci_bk_from_json(text, &v, &n, err,
                                               sizeof(err))) {
        for (j = 0; !rc && j < n; j++)
            if (v[j].domid > 0 && v[j].domid < (int)DOMID_FIRST_RESERVED)
                rc = xlpci_domset_add(holders, (uint32_t)v[j].domid);
    } else {
        LOG(ctx, WARN, "%s: %s; the domains only it names are released at "
            "the next reconcile", path, r == st.st_size ? err : "short read");
    }
    for (j = 0; j < n; j++)
        xlpci_bk_dev_dispose(&v[j]);
    free(v);
    free(text);
    return rc;
}

int xlpci_watch_holders(xlpci_ctx *ctx, bool host, xlpci_domset *holders,
                        xlpci_recmap *owners)
{
    char **names = NULL;
    unsigned n = 0, i;
    uint32_t d;
    int rc;

    xlpci_domset_clear(holders);
    /* backends, frontends of domains xenstore still lists, records */
    rc = xlpci_xs_directory(ctx, XBT_NULL, XLPCI_BE_ROOT, &names, &n);
    for (i = 0; !rc && i < n; i++)
        if (xlpci_guest_domid(names[i], &d))
            rc = xlpci_domset_add(holders, d);
    free(names);
    if (!rc)
        rc = record_owners(ctx, holders, owners);
    /* the bookkeeping: an interrupted operation may have left only that */
    if (rc || !host)
        return rc;
    return bk_domains(ctx, holders);
}

int xlpci_watch_has_backend(xlpci_ctx *ctx, uint32_t domid, bool *has_r)
{
    char path[XLPCI_PATH_MAX];

    xlpci_be_path(path, domid);
    return xlpci_xs_exists(ctx, XBT_NULL, path, has_r);
}

int xlpci_watch_guest_file(xlpci_ctx *ctx, uint32_t domid, const char *dir,
                           char *path, size_t len, char **name_r)
{
    char npath[XLPCI_PATH_MAX], err[256];
    struct stat st;
    char *name = NULL;
    int rc;

    *name_r = NULL;
    snprintf(npath, sizeof(npath), "/local/domain/%u/name", domid);
    rc = xlpci_xs_read(ctx, XBT_NULL, npath, &name);
    if (rc || !name)
        return rc;                     /* no name (yet): 0 */
    if (xlpci_guest_cfg_path(dir, name, path, len, err, sizeof(err))) {
        LOG(ctx, DEBUG, "domain %u: no device list for it (%s)", domid,
            err);
        free(name);
        return 0;
    }
    *name_r = name;
    if (stat(path, &st)) {
        if (errno != ENOENT)
            LOGE(ctx, WARN, "domain %u (%s): cannot look at %s", domid,
                 name, path);
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        LOG(ctx, ERROR, "domain %u (%s): %s is not a regular file; no "
            "devices from it", domid, name, path);
        return 0;
    }
    return 1;
}

/* ---- create ------------------------------------------------------------------ */

/* Wait until the QMP socket of the domain's QEMU accepts a connection
 * (libxl starts QEMU after the domain appeared), or the domain is gone,
 * or the deadline. */
static int wait_qemu(xlpci_ctx *ctx, uint32_t domid, const char *name,
                     long long deadline)
{
    struct sockaddr_un sa;
    long long next_check = 0;
    bool exists;
    int rc, fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    rc = xlpci_qmp_path(ctx, domid, sa.sun_path);
    if (rc)
        return rc;
    for (;;) {
        struct timespec ts = { 0, QEMU_POLL_MS * 1000000L };

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            LOGE(ctx, ERROR, "socket");
            return XLPCI_ERR_FAIL;
        }
        if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
            close(fd);
            LOG(ctx, DEBUG, "domain %u: its QEMU listens on %s", domid,
                sa.sun_path);
            return 0;
        }
        close(fd);
        if (xlpci_now_ms() >= next_check) {
            rc = xlpci_domain_exists(ctx, XBT_NULL, domid, &exists);
            if (rc)
                return rc;
            if (!exists) {
                LOG(ctx, NOTICE, "domain %u (%s) went before its QEMU "
                    "answered", domid, name);
                return XLPCI_ERR_NOTFOUND;
            }
            next_check = xlpci_now_ms() + 500;
        }
        if (xlpci_now_ms() + QEMU_POLL_MS > deadline) {
            LOG(ctx, ERROR, "domain %u (%s) is an HVM guest and no QEMU "
                "answered on %s in time; its devices are given when it "
                "does (the watcher tries again)", domid, name,
                sa.sun_path);
            return XLPCI_ERR_TIMEDOUT;
        }
        nanosleep(&ts, NULL);
    }
}

/* A create killed half way (a watcher killed, a crash) left its intent in
 * the bookkeeping and maybe the hypervisor side, never a backend: put it
 * right as check --repair does (reconcile.c) before creating again.
 * Only for a PV guest, whose devices nothing can use without the
 * backend; an HVM guest's QEMU may have them already (left to the HVM
 * flow). */
static int finish_interrupted(xlpci_ctx *ctx, bool host, uint32_t domid,
                              const char *name)
{
    xlpci_check_result res;
    bool named = false;
    xlpci_bk bk;
    size_t i;
    int rc;

    if (!host || ctx->dry_run)
        return 0;
    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    for (i = 0; i < bk.n; i++)
        named |= bk.v[i].domid == (int)domid;
    xlpci_bk_close(&bk);
    if (!named)
        return 0;
    LOG(ctx, NOTICE, "domain %u (%s): an interrupted create left its "
        "devices recorded without a backend; putting that right first (as "
        "check --repair does)", domid, name);
    /* check --repair itself: its transaction judges each device the
     * bookkeeping gives the domain (owner.c), the reconcile releases what
     * the domain does not hold; a device a live domain holds is left */
    rc = xlpci_check_flags(ctx, domid, XLPCI_CHECK_REPAIR, &res);
    if (!rc && (res.problems || res.unfixable))
        rc = XLPCI_ERR_BUSY;
    return rc;
}

/* Xen refuses the devices of a domain built without an IOMMU context
 * (EOPNOTSUPP): say that its xl config needs passthrough="enabled". */
static int passthrough_check(xlpci_ctx *ctx, bool host, uint32_t domid,
                             const char *name, const char *path,
                             const xlpci_dev *dev)
{
    char b[XLPCI_BDF_STRLEN];
    xc_interface *xch;
    int rc, r;

    rc = xlpci_hv_open_read(ctx, host, &xch);
    if (rc || !xch)
        return rc;
    rc = 0;
    if (!ctx->iommu_absent) {
        xlpci_host_step(ctx);
        r = xc_test_assign_device(xch, domid, xlpci_sbdf(&dev->bdf));
        if (r < 0 && errno == EOPNOTSUPP) {
            LOG(ctx, ERROR, "domain %u (%s) was created without "
                "passthrough: Xen refuses it PCI devices (%s: "
                "xc_test_assign_device: EOPNOTSUPP).  Add "
                "passthrough=\"enabled\" to its xl config (and no pci=: "
                "its devices are in %s) and create it again", domid, name,
                xlpci_bdf_format(&dev->bdf, b), path);
            rc = XLPCI_ERR_INVAL;
        }
    }
    xc_interface_close(xch);
    return rc;
}

int xlpci_watch_act_create(xlpci_ctx *ctx, uint32_t domid, const char *dir,
                           unsigned qemu_wait_ms, bool *did_r)
{
    char path[XLPCI_PATH_MAX + 64], err[512];
    xlpci_config cfg;
    xlpci_spec *specs = NULL;
    xlpci_dev *devs = NULL;
    size_t i, nspecs = 0, ndevs = 0;
    char *name = NULL;
    bool has, host;
    int rc, type;

    *did_r = false;
    xlpci_config_init(&cfg);
    rc = xlpci_watch_guest_file(ctx, domid, dir, path, sizeof(path), &name);
    if (rc <= 0) {
        if (!rc && name)
            LOG(ctx, DETAIL, "domain %u (%s): %s is gone; nothing to do",
                domid, name, path);
        goto out;
    }
    rc = xlpci_watch_has_backend(ctx, domid, &has);
    if (rc)
        goto out;
    if (has) {
        LOG(ctx, DETAIL, "domain %u (%s) has a PCI backend already; left as "
            "it is", domid, name);
        goto out;
    }
    rc = xlpci_config_read(path, &cfg, err, sizeof(err));
    if (rc) {
        LOG(ctx, ERROR, "domain %u (%s): %s", domid, name, err);
        goto out;
    }
    if (cfg.name && strcmp(cfg.name, name)) {
        LOG(ctx, ERROR, "domain %u (%s): %s: name = \"%s\" is not the "
            "domain's name (the file is named after the domain it is for)",
            domid, name, path, cfg.name);
        rc = XLPCI_ERR_INVAL;
        goto out;
    }
    if (!cfg.num_pci) {
        LOG(ctx, WARN, "domain %u (%s): %s lists no PCI device (pci = "
            "[ ... ])", domid, name, path);
        goto out;
    }
    specs = calloc(cfg.num_pci, sizeof(*specs));
    if (!specs) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < cfg.num_pci; i++, nspecs++) {
        xlpci_spec_init(&specs[i]);
        rc = xlpci_spec_parse(cfg.pci[i], &specs[i], err, sizeof(err));
        if (rc) {
            LOG(ctx, ERROR, "domain %u (%s): %s: %s", domid, name, path,
                err);
            nspecs++;
            goto out;
        }
    }
    host = xlpci_host_active(ctx);
    rc = xlpci_guest_type(ctx, host, domid, &type);
    xlpci_guest_forget(ctx);
    if (!rc && type == XLPCI_GUEST_PV)
        rc = finish_interrupted(ctx, host, domid, name);
    if (rc)
        goto out;
    if (host && !ctx->dry_run) {
        rc = xlpci_resolve_devs(ctx, host, specs, nspecs, &cfg.defaults,
                                &devs, &ndevs);
        if (!rc && ndevs)
            rc = passthrough_check(ctx, host, domid, name, path, &devs[0]);
        if (rc)
            goto out;
    }
    if (type == XLPCI_GUEST_HVM) {
        rc = wait_qemu(ctx, domid, name, xlpci_now_ms() + qemu_wait_ms);
        if (rc)
            goto out;
    }
    rc = xlpci_create(ctx, domid, specs, nspecs, &cfg.defaults, 0);
    if (!rc)
        *did_r = true;
    else
        LOG(ctx, ERROR, "domain %u (%s): its PCI devices from %s were not "
            "given (see above)", domid, name, path);
out:
    xlpci_devs_free(devs, ndevs);
    for (i = 0; i < nspecs; i++)
        xlpci_spec_dispose(&specs[i]);
    free(specs);
    xlpci_config_dispose(&cfg);
    free(name);
    return rc;
}

/* ---- release ----------------------------------------------------------------- */

int xlpci_watch_act_release(xlpci_ctx *ctx, uint32_t domid, bool scan,
                            bool *did_r)
{
    xlpci_bdf *named = NULL;
    size_t nnamed = 0;
    xc_interface *xch = NULL;
    xlpci_destroy_result res;
    bool host;
    int rc, alive;

    *did_r = false;
    host = xlpci_host_active(ctx);
    /* once more, here: a domain that lives is never released (a domid
     * used again at once) */
    rc = xlpci_hv_open_read(ctx, true, &xch);
    if (rc)
        return rc;
    alive = xlpci_watch_alive(ctx, xch, domid, NULL);
    if (xch)
        xc_interface_close(xch);
    if (alive < 0)
        return alive;
    if (alive) {
        LOG(ctx, WARN, "domain %u lives (again?): nothing of it is "
            "released", domid);
        return 0;
    }
    if (scan && xlpci_owner_scan(ctx, domid, &named, &nnamed))
        LOG(ctx, WARN, "domain %u: its lone /libxl/pci records are left "
            "to check --repair", domid);
    /* destroy's release under the ownership rules (owner.c): what the
     * dead domain held and no live domain holds is let go; a device a
     * live domain holds (record, backend or Xen) is never touched.  A
     * domain alive again by now (a domid used again) is refused there
     * too, in the transaction that would release it. */
    rc = xlpci_destroy_run(ctx, host, domid,
                           XLPCI_DESTROY_RELEASE | XLPCI_DESTROY_ALIVE_REFUSED,
                           named, nnamed, &res);
    free(named);
    *did_r = res.held || res.entries || res.released || res.corrected ||
             res.records_fixed;
    return rc;
}

/* ---- records ------------------------------------------------------------------ */

/* Is bdf one of the removed records to look at for domid? */
static bool wanted(const xlpci_recent *recs, size_t n, uint32_t domid,
                   const xlpci_bdf *bdf)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((recs[i].domid == domid || recs[i].domid == XLPCI_NO_OWNER) &&
            !xlpci_bdf_cmp(&recs[i].bdf, bdf))
            return true;
    return false;
}

typedef struct {
    uint32_t domid;
    const xlpci_recent *recs;
    size_t n;
    bool all;
    unsigned restored;
    xlpci_bdf done[XLPCI_MAX_DEVS];    /* written back (said after the
                                        * commit) */
} restore_arg;

/* In one transaction: the domain's backend, and the missing record of
 * each row that may have it back. */
static int restore_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                        void *varg)
{
    restore_arg *a = varg;
    char path[XLPCI_PATH_MAX], b[XLPCI_BDF_STRLEN], err[64];
    xlpci_view view;
    xlpci_bdf bdf;
    bool exists;
    unsigned i;
    int rc, owner;

    a->restored = 0;
    rc = xlpci_domain_exists(ctx, t, a->domid, &exists);
    if (rc || !exists)
        return rc ? rc : XLPCI_TXN_NOTHING;
    rc = xlpci_view_read(ctx, t, a->domid, &view);
    if (rc == XLPCI_ERR_CORRUPT)
        rc = XLPCI_TXN_NOTHING;        /* check's to report */
    for (i = 0; !rc && i < view.num_devs; i++) {
        const char *dev = view.keys[i][XLPCI_KEY_DEV];

        if (!dev || xlpci_bdf_parse(dev, &bdf, err, sizeof(err)) ||
            (!a->all && !wanted(a->recs, a->n, a->domid, &bdf)) ||
            !xlpci_watch_restorable(&view, i))
            continue;
        rc = xlpci_owner_read(ctx, t, &bdf, &owner);
        if (rc == XLPCI_ERR_CORRUPT) {
            rc = 0;                    /* check --repair's */
            continue;
        }
        if (rc || owner == (int)a->domid)
            continue;
        xlpci_libxl_path(path, &bdf, "domid");
        if (owner >= 0) {
            LOG(ctx, WARN, "domain %u's backend lists %s, which %s gives "
                "to domain %d: left to check (one of them must release it)",
                a->domid, xlpci_bdf_format(&bdf, b), path, owner);
            continue;
        }
        rc = xlpci_ops_writef(ops, path, "%u", a->domid);
        a->done[a->restored++] = bdf;
    }
    if (!rc && !ops->n)
        rc = XLPCI_TXN_NOTHING;
    xlpci_view_dispose(&view);
    return rc;
}

/* One running domain's backend: its removed records written back. */
static int restore_domain(xlpci_ctx *ctx, xc_interface *xch, uint32_t d,
                          const xlpci_recent *recs, size_t n, bool all,
                          unsigned *restored_r)
{
    char b[XLPCI_BDF_STRLEN];
    restore_arg *a;
    bool running;
    unsigned j;
    int rc, alive;

    /* alive and running: not dying, not shut down (xl is about to
     * destroy it, or saves it) */
    alive = xlpci_watch_alive(ctx, xch, d, &running);
    if (alive <= 0 || !running)
        return alive < 0 ? alive : 0;
    a = calloc(1, sizeof(*a));
    if (!a)
        return XLPCI_ERR_NOMEM;
    a->domid = d;
    a->recs = recs;
    a->n = n;
    a->all = all;
    rc = xlpci_txn_run(ctx, "restore the ownership records", restore_body,
                       a);
    if (rc == XLPCI_TXN_NOTHING) {
        rc = 0;
        a->restored = 0;
    }
    for (j = 0; !rc && !ctx->dry_run && j < a->restored; j++)
        LOG(ctx, NOTICE, "domain %u's backend lists %s but its /libxl/pci "
            "record was removed: written back (xl would offer the device "
            "to another guest)", d, xlpci_bdf_format(&a->done[j], b));
    if (!rc)
        *restored_r += a->restored;
    free(a);
    return rc;
}

int xlpci_watch_act_records(xlpci_ctx *ctx, const xlpci_recent *recs,
                            size_t n, bool all, unsigned *restored_r)
{
    xc_interface *xch = NULL;
    char **doms = NULL;
    unsigned nd = 0, i;
    bool anyone = all;
    xlpci_domset owners;
    uint32_t d;
    size_t k;
    int rc;

    *restored_r = 0;
    xlpci_domset_init(&owners);
    rc = xlpci_hv_open_read(ctx, true, &xch);
    /* a removed record's former owner: its backend only */
    for (k = 0; !rc && k < n; k++) {
        if (recs[k].domid == XLPCI_NO_OWNER)
            anyone = true;
        else
            rc = xlpci_domset_add(&owners, recs[k].domid);
    }
    for (k = 0; !rc && !all && k < owners.n; k++)
        rc = restore_domain(ctx, xch, owners.v[k], recs, n, false,
                            restored_r);
    /* an owner not known (a record made and removed between two looks),
     * or the reconcile: every backend */
    if (!rc && anyone)
        rc = xlpci_xs_directory(ctx, XBT_NULL, XLPCI_BE_ROOT, &doms, &nd);
    for (i = 0; !rc && anyone && i < nd; i++) {
        if (!xlpci_guest_domid(doms[i], &d) ||
            (!all && xlpci_domset_has(&owners, d)))
            continue;
        rc = restore_domain(ctx, xch, d, recs, n, all, restored_r);
    }
    free(doms);
    xlpci_domset_dispose(&owners);
    if (xch)
        xc_interface_close(xch);
    return rc;
}

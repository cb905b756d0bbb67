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
} check_arg;

static bool drop_contains(const unsigned *drop, unsigned n, unsigned i)
{
    unsigned j;

    for (j = 0; j < n; j++)
        if (drop[j] == i)
            return true;
    return false;
}

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

static int check_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                      void *varg)
{
    check_arg *a = varg;
    char be[XLPCI_PATH_MAX], fe[XLPCI_PATH_MAX], path[XLPCI_PATH_MAX];
    char **names = NULL, *num = NULL, *st = NULL, sub[128];
    xlpci_view v;                      /* every index seen, not num_devs */
    unsigned nnames = 0, i, j, idx, rows = 0, num_devs = 0, ndrop = 0;
    unsigned *drop = NULL;
    enum xlpci_key key;
    bool num_ok, fe_exists;
    xlpci_bdf bdf;
    int rc, state = -1;

    a->problems = a->repaired = a->unfixable = 0;
    a->busy = false;
    xlpci_view_init(&v);
    xlpci_be_path(be, a->domid);
    xlpci_fe_path(fe, a->domid);
    rc = xlpci_xs_directory(ctx, t, be, &names, &nnames);
    if (rc || !names)
        goto out;                      /* no backend: nothing to check */

    rc = xlpci_be_key(path, a->domid, "num_devs");
    if (!rc) rc = xlpci_xs_read(ctx, t, path, &num);
    if (!rc) rc = xlpci_be_key(path, a->domid, "state");
    if (!rc) rc = xlpci_xs_read(ctx, t, path, &st);
    if (rc) goto out;
    if (st) {
        unsigned s;

        if (xlpci_parse_uint(st, XenbusStateReconfigured, &s)) {
            /* pciback owns it: reported, never guessed */
            problem(ctx, a, "backend state \"%s\" is not a xenbus state "
                    "(not repairable: pciback writes it)", st);
            a->unfixable++;
        } else
            state = (int)s;
    }
    num_ok = num && !xlpci_parse_uint(num, XLPCI_MAX_DEVS, &num_devs);
    if (!num)
        problem(ctx, a, "%s has no num_devs (pciback closes such a "
                "backend)", be);
    else if (!num_ok)
        problem(ctx, a, "%s/num_devs = \"%s\" is not a device count", be,
                num);

    /* Rows: every index any per-index key mentions. */
    for (i = 0; i < nnames; i++)
        if (xlpci_split_key(names[i], &key, &idx) && idx < XLPCI_MAX_DEVS &&
            idx + 1 > rows)
            rows = idx + 1;
    if (!num_ok) {
        /* trust the dense run of dev-N from 0 */
        for (num_devs = 0; num_devs < rows; num_devs++) {
            snprintf(path, sizeof(path), "dev-%u", num_devs);
            for (j = 0; j < nnames && strcmp(names[j], path); j++)
                ;
            if (j == nnames)
                break;
        }
    }
    if (num_devs > rows)
        rows = num_devs;
    v.exists = v.dir_exists = true;
    v.state = state;
    v.num_devs = rows;
    v.names = names;
    v.nnames = nnames;
    names = NULL;
    if (rows) {
        v.keys = calloc(rows, sizeof(*v.keys));
        drop = calloc(rows, sizeof(*drop));
        if (!v.keys || !drop) {
            rc = XLPCI_ERR_NOMEM;
            goto out;
        }
    }
    for (i = 0; i < v.nnames; i++) {
        if (!xlpci_split_key(v.names[i], &key, &idx) || idx >= rows)
            continue;
        rc = xlpci_be_key(path, a->domid, "%s", v.names[i]);
        if (!rc) rc = xlpci_xs_read(ctx, t, path, &v.keys[idx][key]);
        if (rc) goto out;
    }

    for (i = 0; i < rows; i++) {
        const char *dev = v.keys[i][XLPCI_KEY_DEV];
        const char *ist = v.keys[i][XLPCI_KEY_STATE];
        bool bad = false;

        if (i >= num_devs) {
            for (key = 0; key < XLPCI_NKEYS && !v.keys[i][key]; key++)
                ;
            if (key == XLPCI_NKEYS) {
                drop[ndrop++] = i;     /* nothing at this index */
                continue;
            }
            problem(ctx, a, "index %u lies past num_devs %u (orphan keys)",
                    i, num_devs);
            bad = true;
        } else if (!dev) {
            problem(ctx, a, "num_devs is %u but dev-%u is missing",
                    num_devs, i);
            bad = true;
        } else if (xlpci_bdf_parse(dev, &bdf, sub, sizeof(sub))) {
            problem(ctx, a, "dev-%u = \"%s\": %s", i, dev, sub);
            bad = true;
        } else {
            for (j = 0; j < i && !bad; j++)
                if (!drop_contains(drop, ndrop, j) &&
                    v.keys[j][XLPCI_KEY_DEV] &&
                    !strcmp(v.keys[j][XLPCI_KEY_DEV], dev)) {
                    problem(ctx, a, "dev-%u and dev-%u are both %s", j, i,
                            dev);
                    bad = true;
                }
            if (!bad && ist && !strcmp(ist, "5") &&
                state == XenbusStateConnected) {
                problem(ctx, a, "%s (index %u) was released by the guest "
                        "but never removed (an interrupted detach)", dev, i);
                bad = true;
            }
        }
        if (bad)
            drop[ndrop++] = i;
    }
    rc = xlpci_xs_exists(ctx, t, fe, &fe_exists);
    if (rc) goto out;
    if (!fe_exists)
        problem(ctx, a, "the frontend directory %s is missing", fe);
    if (fe_exists && state == XenbusStateConnected) {
        char fpath[XLPCI_PATH_MAX + 8], *fst = NULL;
        bool fe_connected;

        snprintf(fpath, sizeof(fpath), "%s/state", fe);
        rc = xlpci_xs_read(ctx, t, fpath, &fst);
        if (rc) goto out;
        fe_connected = fst && !strcmp(fst, "4");
        free(fst);
        for (i = 0; fe_connected && i < num_devs; i++) {
            const char *ist = v.keys[i][XLPCI_KEY_STATE];

            if (drop_contains(drop, ndrop, i) || v.keys[i][XLPCI_KEY_VDEV] ||
                !ist || strcmp(ist, "1"))
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

    if (state == XenbusStateReconfiguring ||
        state == XenbusStateReconfigured) {
        a->busy = true;
        LOG(ctx, WARN, "domain %u: a Reconfiguring cycle is in progress "
            "(backend state %d); not repairing", a->domid, state);
    }
    if (!a->repair || a->busy || !a->problems) {
        rc = XLPCI_TXN_NOTHING;
        goto out;
    }
    /* The repair: drop the bad rows, compact, recount num_devs (nothing
     * left: both directories go). */
    if (ndrop || !num_ok) {
        rc = xlpci_layout_remove(ops, a->domid, &v, drop, ndrop);
        if (rc) goto out;
    }
    if (!fe_exists && rows > ndrop) {
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
    free(drop);
    free(names);
    free(num);
    free(st);
    xlpci_view_dispose(&v);
    return rc;
}

/* ---- the ownership records (/libxl/pci/<bdf>/domid) ----------------------- */

typedef struct {
    uint32_t domid;
    bool repair;
    unsigned problems, unfixable;
} owners_arg;

static void owner_problem(xlpci_ctx *ctx, owners_arg *a, bool fixable,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void owner_problem(xlpci_ctx *ctx, owners_arg *a, bool fixable,
                          const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->problems++;
    if (!fixable)
        a->unfixable++;
    LOG(ctx, WARN, "domain %u: %s", a->domid, msg);
}

/* The records must match the backend: every device it lists has a node
 * naming the domain, and every node naming the domain is a device it
 * lists.  The only scan of the other backends is here, to find a device
 * that another toolstack, which keeps no such record, put in a second
 * backend (reported, not repaired: one of them must let go). */
static int owners_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    owners_arg *a = varg;
    char path[XLPCI_PATH_MAX], b[XLPCI_BDF_STRLEN], err[128];
    char **nodes = NULL, **doms = NULL;
    unsigned nn = 0, nd = 0, i, j, other;
    xlpci_view view, ov;
    xlpci_bdf *listed = NULL, bdf;
    size_t nl = 0, k;
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
    rc = xlpci_xs_directory(ctx, t, "/libxl/pci", &nodes, &nn);
    for (i = 0; !rc && i < nn; i++) {
        if (!xlpci_libxl_name_bdf(nodes[i], &bdf))
            continue;
        rc = xlpci_owner_read(ctx, t, &bdf, &owner);
        if (rc == XLPCI_ERR_CORRUPT) {
            rc = 0;
            continue;
        }
        if (rc || owner != (int)a->domid)
            continue;
        for (k = 0; k < nl && xlpci_bdf_cmp(&listed[k], &bdf); k++)
            ;
        if (k < nl)
            continue;
        xlpci_libxl_path(path, &bdf, "domid");
        owner_problem(ctx, a, true, "%s names it but its backend does not "
                      "list %s (an interrupted operation)", path,
                      xlpci_bdf_format(&bdf, b));
        if (a->repair)
            rc = xlpci_ops_rm(ops, path);
    }
    if (rc) goto out;
    /* the backend's devices: their records, and other backends */
    rc = xlpci_xs_directory(ctx, t, "/local/domain/0/backend/pci", &doms,
                            &nd);
    for (k = 0; !rc && k < nl; k++) {
        xlpci_bdf_format(&listed[k], b);
        xlpci_libxl_path(path, &listed[k], "domid");
        rc = xlpci_owner_read(ctx, t, &listed[k], &owner);
        if (rc == XLPCI_ERR_CORRUPT) {
            owner_problem(ctx, a, true, "%s is not a domid", path);
            rc = a->repair ? xlpci_ops_writef(ops, path, "%u", a->domid) : 0;
        } else if (!rc && owner < 0) {
            owner_problem(ctx, a, true, "its backend lists %s but %s is "
                          "missing (xl would offer the device again)", b,
                          path);
            if (a->repair)
                rc = xlpci_ops_writef(ops, path, "%u", a->domid);
        } else if (!rc && owner != (int)a->domid) {
            owner_problem(ctx, a, false, "its backend lists %s, which %s "
                          "gives to domain %d (not repaired: one of them "
                          "must release it)", b, path, owner);
        }
        for (j = 0; !rc && j < nd; j++) {
            if (xlpci_parse_uint(doms[j], 0x7fefu, &other) ||
                other == a->domid)
                continue;
            rc = xlpci_view_read(ctx, t, other, &ov);
            if (rc == XLPCI_ERR_CORRUPT)
                rc = 0;
            else if (!rc && xlpci_view_find(&ov, &listed[k]) >= 0)
                owner_problem(ctx, a, false, "%s is also in the PCI backend "
                              "of domain %u (not repaired: one of them must "
                              "release it)", b, other);
            xlpci_view_dispose(&ov);
        }
    }
    if (!rc && (!a->repair || a->problems == a->unfixable || !ops->n))
        rc = XLPCI_TXN_NOTHING;
out:
    free(listed);
    free(nodes);
    free(doms);
    xlpci_view_dispose(&view);
    return rc;
}

int xlpci_check(xlpci_ctx *ctx, uint32_t domid, bool repair,
                unsigned *problems_r)
{
    check_arg a = { domid, repair, 0, 0, 0, false };
    bool exists;
    int rc;

    *problems_r = 0;
    if (domid == 0) {
        LOG(ctx, ERROR, "domain 0 is the backend domain");
        return XLPCI_ERR_INVAL;
    }
    /* A gone domain: nothing of it is ever re-created; what it still
     * holds is reported, and released by --repair (as destroy). */
    rc = xlpci_domain_exists(ctx, XBT_NULL, domid, &exists);
    if (rc)
        return rc;
    if (!exists) {
        unsigned held, left = 0;

        rc = xlpci_destroy_run(ctx, domid, repair, &held);
        if (rc)
            return rc;
        if (repair && held && !ctx->dry_run)
            LOG(ctx, NOTICE, "domain %u is gone: released what it held",
                domid);
        if (!repair || ctx->dry_run)
            *problems_r = held;
        if (repair && !ctx->dry_run)
            rc = xlpci_host_reconcile(ctx, domid, true, &left);
        *problems_r += left;
        return rc;
    }
    rc = xlpci_txn_run(ctx, repair ? "check --repair" : "check", check_body,
                       &a);
    if (rc == XLPCI_TXN_NOTHING)
        rc = 0;
    if (rc)
        return rc;
    if (a.repaired && !ctx->dry_run)
        LOG(ctx, NOTICE, "domain %u: repaired %u problem(s)", domid,
            a.repaired);
    *problems_r = a.problems - (ctx->dry_run ? 0 : a.repaired);
    if (!a.busy) {
        owners_arg o = { domid, repair, 0, 0 };

        rc = xlpci_txn_run(ctx, repair ? "check --repair (ownership)"
                                       : "check (ownership)", owners_body,
                           &o);
        if (rc < 0)
            return rc;
        if (repair && !ctx->dry_run && o.problems > o.unfixable)
            LOG(ctx, NOTICE, "domain %u: ownership records: repaired %u "
                "problem(s)", domid, o.problems - o.unfixable);
        *problems_r += repair && !ctx->dry_run ? o.unfixable : o.problems;
    }
    if (!a.busy) {
        unsigned left;

        rc = xlpci_host_reconcile(ctx, domid, repair && !ctx->dry_run,
                                  &left);
        if (rc)
            return rc;
        *problems_r += left;
    }
    return a.busy && *problems_r ? XLPCI_ERR_BUSY : 0;
}

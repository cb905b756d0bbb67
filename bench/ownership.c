/*
 * libxlpci benchmarks, (g): check and destroy cost what the domain holds
 * (issue 22; docs/ownership.md 6).
 *
 *  (g1) check of one domain of 8 devices, Connected as pciback leaves it,
 *       on a host where it is alone (M = 0) and on a host of 64 guests x
 *       8 devices (M = 63 others, 512 records: more than one xenstore
 *       reply can list, so oxenstored could not list it), on C xenstored
 *       and on oxenstored.  Against its floor: a bare libxenstore client
 *       making the reads a check judges on, in one read-only transaction
 *       (the domain, the backend's listing and values, the frontend and
 *       its state, each device's record).
 *  (g2) destroy of a gone domain (its /local/domain/<domid> removed, as
 *       `xl destroy` leaves it when the backend was not xl's) of N = 1,
 *       8, 32 devices, on an empty host and on one of 63 other guests x 8.
 *       Against its floor: a bare client doing the same work in one
 *       transaction: the backend's listing and dev-N, each device's
 *       record, then the same removals (backend and frontend directories,
 *       pciback's error node, the per-domain parent, the records); then,
 *       as libxl's path cleanup, the backend root if it is left empty.
 *
 * Both run interleaved with their floor in one process, rotating order,
 * ratio per iteration, median (IQR); requests counted by the bench (ld
 * --wrap).  No hypervisor, no xen-pciback: the store's share.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define OWN_DEVS    8                 /* devices of the checked domain */
#define OTHERS      63                /* with it, 64 guests */
#define OTHER_DOM0  2000              /* domids of the other guests */

static xlpci_ctx *own_ctx(void)
{
    static xentoollog_logger_stdiostream *lg;
    xlpci_ctx *ctx;

    if (!lg)
        lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (xlpci_ctx_alloc(&ctx, (xentoollog_logger *)lg))
        die("xlpci_ctx_alloc");
    xlpci_ctx_set_hypervisor(ctx, XLPCI_HV_NONE);
    return ctx;
}

static void others(struct xs_handle *xs, unsigned *have, unsigned want)
{
    for (; *have < want; (*have)++)
        add_connected_guest(xs, OTHER_DOM0 + *have, 0x80 + *have, 8);
}

/* ---- (g1) check ----------------------------------------------------------- */

/* The floor of a check: the reads it judges on, one read-only
 * transaction, redone on EAGAIN. */
static void floor_check(struct xs_handle *xs, unsigned domid)
{
    char path[XLPCI_PATH_MAX + 160], be[128], err[64], **names;
    unsigned n, i, len;
    xs_transaction_t t;

    be_path(be, sizeof(be), domid);
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    free(xs_read(xs, XBT_NULL, path, &len));
    for (;;) {
        char *num, *devs[XLPCI_MAX_DEVS];
        unsigned ndev;

        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            die("xs_transaction_start");
        /* the listing, state and num_devs, then the rows' keys */
        names = xs_directory(xs, t, be, &n);
        snprintf(path, sizeof(path), "%s/state", be);
        free(xs_read(xs, t, path, &len));
        snprintf(path, sizeof(path), "%s/num_devs", be);
        num = xs_read(xs, t, path, &len);
        ndev = num ? (unsigned)atoi(num) : 0;
        free(num);
        if (ndev > XLPCI_MAX_DEVS)
            ndev = XLPCI_MAX_DEVS;
        memset(devs, 0, sizeof(devs));
        for (i = 0; names && i < n; i++) {
            enum xlpci_key k;
            unsigned idx;
            char *v;

            if (!xlpci_split_key(names[i], &k, &idx) || idx >= ndev)
                continue;
            snprintf(path, sizeof(path), "%s/%s", be, names[i]);
            v = xs_read(xs, t, path, &len);
            if (k == XLPCI_KEY_DEV && !devs[idx])
                devs[idx] = v;
            else
                free(v);
        }
        free(names);
        /* the frontend and its state, each device's record */
        snprintf(path, sizeof(path), "/local/domain/%u/device/pci/0", domid);
        free(xs_read(xs, t, path, &len));
        snprintf(path, sizeof(path), "/local/domain/%u/device/pci/0/state",
                 domid);
        free(xs_read(xs, t, path, &len));
        for (i = 0; i < ndev; i++) {
            xlpci_bdf bdf;

            if (devs[i] && !xlpci_bdf_parse(devs[i], &bdf, err, sizeof(err))) {
                xlpci_libxl_path(path, &bdf, "domid");
                free(xs_read(xs, t, path, &len));
            }
            free(devs[i]);
        }
        if (xs_transaction_end(xs, t, false))
            return;
    }
}

static void run_check(unsigned domid)
{
    xlpci_check_result res;
    xlpci_ctx *ctx = own_ctx();

    if (xlpci_check_flags(ctx, domid, 0, &res) || res.problems)
        die("xlpci_check: not consistent");
    xlpci_ctx_free(ctx);
}

static void check_rows(bool ox, int runs)
{
    struct xsd_opts o = { .ox = ox ? 1 : 0 };
    static const unsigned Ms[] = { 0, OTHERS };
    unsigned long req_alone = 0;
    double ms_alone = 0;
    struct xs_handle *xs;
    unsigned have = 0, mi;
    struct xsd d;

    xs = bench_daemon(&d, ox ? &o : NULL);
    add_connected_guest(xs, DOMID, 0x10, OWN_DEVS);
    for (mi = 0; mi < 2; mi++) {
        unsigned long reqs[2] = { 0, 0 };
        double *ms[2], *ratio;
        int r, w;

        others(xs, &have, Ms[mi]);
        for (w = 0; w < 2; w++)
            ms[w] = xcalloc((size_t)runs, sizeof(double));
        ratio = xcalloc((size_t)runs, sizeof(double));
        run_check(DOMID);                      /* warm-up */
        for (r = 0; r < runs; r++) {
            for (w = 0; w < 2; w++) {
                int which = (r + w) % 2;
                reqstat before, diff;
                double t0;

                before = rq;
                t0 = now_us();
                if (which == 0)
                    floor_check(xs, DOMID);
                else
                    run_check(DOMID);
                ms[which][r] = (now_us() - t0) / 1000;
                rq_diff(&diff, &rq, &before);
                reqs[which] = rq_total(&diff);
            }
            ratio[r] = ms[1][r] / ms[0][r];
        }
        if (!mi) {
            req_alone = reqs[1];
            ms_alone = median(ms[1], runs);
        }
        printf("| %s | %u x 8 | %.2f | %.2f | **%.2f** (%.2f-%.2f) | "
               "%lu / %lu | %.2f | %+ld |\n", ox ? "oxenstored" : "C",
               Ms[mi] + 1, median(ms[0], runs), median(ms[1], runs),
               median(ratio, runs), quantile(ratio, runs, .25),
               quantile(ratio, runs, .75), reqs[0], reqs[1],
               median(ms[1], runs) / ms_alone,
               (long)reqs[1] - (long)req_alone);
        fflush(stdout);
        for (w = 0; w < 2; w++)
            free(ms[w]);
        free(ratio);
    }
    xs_close(xs);
    xsd_stop(&d);
}

/* ---- (g2) destroy ------------------------------------------------------------- */

/* A gone domain holding n devices: its backend (and records), no
 * /local/domain/<domid>. */
static void gone_domain(struct xs_handle *xs, const xlpci_spec *specs,
                        unsigned n)
{
    char path[64];

    set_name(xs, DOMID);
    run_xlpci(DOMID, specs, n, NULL);
    snprintf(path, sizeof(path), "/local/domain/%u", DOMID);
    if (!xs_rm(xs, XBT_NULL, path))
        die("xs_rm");
}

/* The floor of a destroy: the backend's listing and dev-N, each record,
 * then destroy's removals, in one transaction (redone on EAGAIN). */
static void floor_destroy(struct xs_handle *xs, unsigned domid)
{
    char path[XLPCI_PATH_MAX + 160], be[128], err[64], **names;
    unsigned n, i, len, ndev;
    xs_transaction_t t;

    be_path(be, sizeof(be), domid);
    for (;;) {
        xlpci_bdf bdf[XLPCI_MAX_DEVS];
        bool rec[XLPCI_MAX_DEVS];

        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            die("xs_transaction_start");
        names = xs_directory(xs, t, be, &n);
        ndev = 0;
        for (i = 0; names && i < n; i++) {
            unsigned idx;
            char *dev, *v;

            if (sscanf(names[i], "dev-%u", &idx) != 1 ||
                ndev == XLPCI_MAX_DEVS)
                continue;
            snprintf(path, sizeof(path), "%s/%s", be, names[i]);
            dev = xs_read(xs, t, path, &len);
            if (dev && !xlpci_bdf_parse(dev, &bdf[ndev], err, sizeof(err))) {
                xlpci_libxl_path(path, &bdf[ndev], "domid");
                v = xs_read(xs, t, path, &len);
                rec[ndev++] = v != NULL;
                free(v);
            }
            free(dev);
        }
        free(names);
        xs_rm(xs, t, be);
        snprintf(path, sizeof(path), "/local/domain/0/error/backend/pci/%u",
                 domid);
        xs_rm(xs, t, path);
        snprintf(path, sizeof(path), BE_ROOT "/%u", domid);
        xs_rm(xs, t, path);
        for (i = 0; i < ndev; i++)
            if (rec[i]) {
                xlpci_libxl_path(path, &bdf[i], "domid");
                xs_rm(xs, t, path);
            }
        if (xs_transaction_end(xs, t, false))
            break;
    }
    /* as libxl's path cleanup (and xlpci's): the backend root goes once
     * it is empty */
    for (;;) {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            die("xs_transaction_start");
        names = xs_directory(xs, t, BE_ROOT, &n);
        if (names && !n)
            xs_rm(xs, t, BE_ROOT);
        free(names);
        if (xs_transaction_end(xs, t, false))
            return;
    }
}

static void run_destroy(void)
{
    xlpci_ctx *ctx = own_ctx();
    unsigned released;

    if (xlpci_destroy(ctx, DOMID, 0, &released) || !released)
        die("xlpci_destroy");
    xlpci_ctx_free(ctx);
}

static void destroy_rows(int runs)
{
    static const unsigned Ns[] = { 1, 8, 32 };
    static const unsigned Ms[] = { 0, OTHERS };
    struct xs_handle *xs;
    unsigned have = 0, mi, ni;
    struct xsd d;

    xs = bench_daemon(&d, NULL);
    for (mi = 0; mi < 2; mi++) {
        others(xs, &have, Ms[mi]);
        for (ni = 0; ni < sizeof(Ns) / sizeof(Ns[0]); ni++) {
            unsigned n = Ns[ni];
            xlpci_dev *devs = xcalloc(n, sizeof(*devs));
            xlpci_spec *specs = xcalloc(n, sizeof(*specs));
            unsigned long reqs[2] = { 0, 0 };
            double *ms[2], *ratio;
            int r, w;

            make_devs(devs, specs, n, 0x10);
            for (w = 0; w < 2; w++)
                ms[w] = xcalloc((size_t)runs, sizeof(double));
            ratio = xcalloc((size_t)runs, sizeof(double));
            gone_domain(xs, specs, n);         /* warm-up */
            run_destroy();
            for (r = 0; r < runs; r++) {
                for (w = 0; w < 2; w++) {
                    int which = (r + w) % 2;
                    reqstat before, diff;
                    double t0;

                    gone_domain(xs, specs, n);
                    before = rq;
                    t0 = now_us();
                    if (which == 0)
                        floor_destroy(xs, DOMID);
                    else
                        run_destroy();
                    ms[which][r] = (now_us() - t0) / 1000;
                    rq_diff(&diff, &rq, &before);
                    reqs[which] = rq_total(&diff);
                }
                ratio[r] = ms[1][r] / ms[0][r];
            }
            printf("| %u | %u | %.2f | %.2f | **%.2f** (%.2f-%.2f) | "
                   "%lu / %lu |\n", n, Ms[mi], median(ms[0], runs),
                   median(ms[1], runs), median(ratio, runs),
                   quantile(ratio, runs, .25), quantile(ratio, runs, .75),
                   reqs[0], reqs[1]);
            fflush(stdout);
            specs_dispose(specs, n);
            free(specs);
            free(devs);
            for (w = 0; w < 2; w++)
                free(ms[w]);
            free(ratio);
        }
    }
    xs_close(xs);
    xsd_stop(&d);
}

void bench_ownership_section(int runs)
{
    printf("### (g) check and destroy: what the domain holds\n\n"
           "(g1) `xlpci_check` of one domain of %d devices (Connected), "
           "alone and on a host of 64 guests x 8 devices (512 records, "
           "more than one xenstore reply lists), against its floor: a "
           "bare client making the reads a check judges on (the domain, "
           "the backend's listing and values, the frontend and its state, "
           "each device's record) in one read-only transaction.  %d "
           "iterations, rotating order, ratio per iteration, median "
           "(IQR).  *vs alone*: check's time and requests against the same "
           "check alone.\n\n"
           "| daemon | host | floor ms | check ms | check / floor (IQR) | "
           "requests floor / check | vs alone | requests vs alone |\n"
           "|---|---|---|---|---|---|---|---|\n", OWN_DEVS, runs);
    check_rows(false, runs);
    check_rows(true, runs);
    printf("\nTargets: check on the host of 64 x 8 within 2x of the same "
           "check alone, on both daemons (no listing grows with the "
           "host); requests equal.\n\n"
           "(g2) `xlpci_destroy` of a gone domain of N devices (its backend "
           "and records left, /local/domain/<domid> gone), on an empty "
           "host and among M other guests of 8 devices, against its floor: "
           "the same reads (the backend's listing and dev-N, each record) "
           "and removals in one transaction, then the backend root if it "
           "is left empty (libxl's path cleanup).\n\n"
           "| N | M | floor ms | destroy ms | destroy / floor (IQR) | "
           "requests floor / destroy |\n|---|---|---|---|---|---|\n");
    destroy_rows(runs);
    printf("\nTarget: destroy within 2x of its floor; its requests do not "
           "depend on M.\n\n");
}

/*
 * libxlpci benchmarks, scale sections (see bench/README.md):
 *
 *  (d) host-size scaling: one create of N = 4 devices while M = 0, 8, 32,
 *      128 other guests hold 8 devices each; xenstore requests and wall
 *      time against the floor (the same writes in one transaction, no
 *      reads), per iteration, rotating order.
 *  (e) boot storm: K = 8, 32, 64 domains created at once (one process
 *      each, released together), 4 distinct devices each, on a host with
 *      M = 0 or 32 other guests; C xenstored and oxenstored.  Wall time
 *      against K concurrent floor writers, EAGAIN retries counted by the
 *      writers AND in the daemon's own trace, failures, and a full
 *      consistency check of the store afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define SCALE_N     4                 /* devices per created domain */
#define GUEST_DEVS  8                 /* devices per other guest */
#define GUEST_DOM0  1000              /* domids of the other guests */
#define STORM_DOM0  200               /* domids of a storm's domains */
#define MAX_K       64

/* ---- helpers ----------------------------------------------------------------- */

/* The other guests: domains GUEST_DOM0.., buses 0x80.. (up to 128). */
static void grow_host(struct xs_handle *xs, unsigned *have, unsigned want)
{
    for (; *have < want; (*have)++)
        add_connected_guest(xs, GUEST_DOM0 + *have, 0x80 + *have, GUEST_DEVS);
}

/* Bytes of a file from offset off: the lines that contain needle. */
static unsigned long count_in_file(const char *path, long off,
                                   const char *needle)
{
    unsigned long n = 0;
    char *line = NULL;
    size_t cap = 0;
    FILE *f;

    if (!path[0] || !(f = fopen(path, "r")))
        return 0;
    if (fseek(f, off, SEEK_SET) == 0)
        while (getline(&line, &cap, f) > 0)
            n += strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return n;
}

static long file_size(const char *path)
{
    FILE *f;
    long n;

    if (!path[0] || !(f = fopen(path, "r")))
        return 0;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

/* ---- (d) host-size scaling ------------------------------------------------------ */

/* The devices' /libxl/pci/<bdf> directories go: the first assignment
 * since the host booted. */
static void forget_devices(struct xs_handle *xs, const xlpci_dev *devs,
                           unsigned n)
{
    char path[XLPCI_PATH_MAX];
    unsigned i;

    for (i = 0; i < n; i++) {
        xlpci_libxl_path(path, &devs[i].bdf, NULL);
        xs_rm(xs, XBT_NULL, path);
    }
}

static void bench_hostsize(int runs)
{
    /* the last row again at M = 128, each device assigned for the first
     * time since boot (its /libxl/pci/<bdf> absent) */
    static const unsigned Ms[] = { 0, 8, 32, 128, 128 };
    unsigned long req0 = 0;
    unsigned have = 0, mi;
    struct xs_handle *xs;
    struct xsd d;

    printf("### (d) Host-size scaling: one create of N = %d on a host with M "
           "other guests\n\n"
           "M other guests with %d devices each, Connected as pciback leaves "
           "them.  %d iterations per M; in each the floor and `xlpci_create` "
           "run back to back in rotating order (the domain's backend removed "
           "in between), ratio per iteration, median (IQR).  Requests: one "
           "iteration, counted by the bench.  *cold*: before each run the "
           "devices' /libxl/pci/<bdf> directories are removed (the first "
           "assignment since the host booted; the floor then makes them in "
           "its transaction, xlpci outside it, after one dropped "
           "transaction).\n\n"
           "| M | floor ms | xlpci ms | xlpci / floor (IQR) | requests floor / "
           "xlpci | xlpci requests - at M=0 |\n|---|---|---|---|---|---|\n",
           SCALE_N, GUEST_DEVS, runs);
    xs = bench_daemon(&d, NULL);
    set_name(xs, DOMID);
    for (mi = 0; mi < sizeof(Ms) / sizeof(Ms[0]); mi++) {
        xlpci_dev devs[SCALE_N];
        xlpci_spec specs[SCALE_N];
        double *ms[2], *ratio;
        unsigned long reqs[2] = { 0, 0 };
        xlpci_ops ops;
        int r, w;
        bool cold = mi == sizeof(Ms) / sizeof(Ms[0]) - 1;

        grow_host(xs, &have, Ms[mi]);
        make_devs(devs, specs, SCALE_N, 0x10);
        xlpci_ops_init(&ops);
        if (floor_ops(&ops, DOMID, "guest5", devs, SCALE_N))
            die("layout");
        for (w = 0; w < 2; w++)
            ms[w] = xcalloc((size_t)runs, sizeof(double));
        ratio = xcalloc((size_t)runs, sizeof(double));
        clean_dom(xs, DOMID);                 /* warm-up */
        run_xlpci(DOMID, specs, SCALE_N, NULL);
        for (r = 0; r < runs; r++) {
            for (w = 0; w < 2; w++) {
                int which = (r + w) % 2;
                reqstat before, diff;
                double t0;

                clean_dom(xs, DOMID);
                if (cold)
                    forget_devices(xs, devs, SCALE_N);
                before = rq;
                t0 = now_us();
                if (which == 0)
                    run_floor(&ops);
                else
                    run_xlpci(DOMID, specs, SCALE_N, NULL);
                ms[which][r] = (now_us() - t0) / 1000;
                rq_diff(&diff, &rq, &before);
                reqs[which] = rq_total(&diff);
            }
            ratio[r] = ms[1][r] / ms[0][r];
        }
        if (mi == 0)
            req0 = reqs[1];
        printf("| %u%s | %.2f | %.2f | **%.2f** (%.2f-%.2f) | %lu / %lu | "
               "%+ld |\n", Ms[mi], cold ? " cold" : "", median(ms[0], runs),
               median(ms[1], runs),
               median(ratio, runs), quantile(ratio, runs, .25),
               quantile(ratio, runs, .75), reqs[0], reqs[1],
               (long)reqs[1] - (long)req0);
        fflush(stdout);
        clean_dom(xs, DOMID);
        specs_dispose(specs, SCALE_N);
        xlpci_ops_dispose(&ops);
        for (w = 0; w < 2; w++)
            free(ms[w]);
        free(ratio);
    }
    printf("\nTarget: the requests of one create do not depend on M (at most "
           "4 more at M = 128 than at M = 0).\n\n");
    xs_close(xs);
    xsd_stop(&d);
}

/* ---- (e) boot storm ------------------------------------------------------------ */

typedef struct {
    unsigned k;
    unsigned long eagain, attempts;
    int failed;
    double ms;                         /* from the release to its end */
} storm_result;

typedef struct {
    double ms;                         /* release -> the last one done */
    unsigned long eagain, attempts, trace_eagain, max_eagain;
    unsigned long replayed;            /* oxenstored: conflicts it replayed */
    int failed, problems;
} storm_run;

static unsigned storm_bus(bool floor, unsigned k)
{
    return (floor ? 0x00 : 0x40) + k;  /* distinct devices per writer */
}

static void storm_child(int barrier, int out, unsigned k, bool floor,
                        const xlpci_ops *ops, const xlpci_spec *specs)
{
    storm_result r = { k, 0, 0, 0, 0 };
    double t0;
    char c;

    while (read(barrier, &c, 1) > 0)
        ;                               /* EOF: released */
    t0 = now_us();
    if (floor) {
        r.eagain = run_floor(ops);
        r.attempts = r.eagain + 1;
    } else {
        xlpci_ctx *ctx = quiet_ctx(60000);
        xlpci_stats st;

        r.failed = xlpci_create(ctx, STORM_DOM0 + k, specs, SCALE_N, NULL,
                                0) != 0;
        xlpci_ctx_get_stats(ctx, &st);
        r.eagain = st.eagain;
        r.attempts = st.attempts;
        xlpci_ctx_free(ctx);
    }
    r.ms = (now_us() - t0) / 1000;
    if (write(out, &r, sizeof(r)) != sizeof(r))
        _exit(1);
    _exit(0);
}

static char *xread(struct xs_handle *xs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *xread(struct xs_handle *xs, const char *fmt, ...)
{
    char path[160];
    unsigned len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_read(xs, XBT_NULL, path, &len);
}

/* The store after a storm: every domain's backend holds exactly its 4
 * devices (num_devs, dev-N, state-N), its frontend exists, and no device
 * is in two backends (all backends scanned).  Problems found. */
static int storm_check(struct xs_handle *xs, unsigned K, bool floor)
{
    char **doms;
    unsigned nd, i, k, j;
    int problems = 0;
    char **seen = NULL;
    size_t nseen = 0;

    for (k = 0; k < K; k++) {
        xlpci_dev devs[SCALE_N];
        xlpci_spec specs[SCALE_N];
        char *v, want[XLPCI_BDF_STRLEN];

        make_devs(devs, specs, SCALE_N, storm_bus(floor, k));
        v = xread(xs, BE_ROOT "/%u/0/num_devs", STORM_DOM0 + k);
        problems += !v || strcmp(v, "4");
        free(v);
        for (j = 0; j < SCALE_N; j++) {
            xlpci_bdf_format(&devs[j].bdf, want);
            v = xread(xs, BE_ROOT "/%u/0/dev-%u", STORM_DOM0 + k, j);
            problems += !v || strcmp(v, want);
            free(v);
            v = xread(xs, BE_ROOT "/%u/0/state-%u", STORM_DOM0 + k, j);
            problems += !v || strcmp(v, "1");
            free(v);
        }
        v = xread(xs, "/local/domain/%u/device/pci/0/state", STORM_DOM0 + k);
        problems += !v;
        free(v);
        specs_dispose(specs, SCALE_N);
    }
    /* no device in two backends, over the whole host */
    doms = xs_directory(xs, XBT_NULL, BE_ROOT, &nd);
    for (i = 0; doms && i < nd; i++) {
        char *num = xread(xs, BE_ROOT "/%s/0/num_devs", doms[i]);
        unsigned n = num ? (unsigned)atoi(num) : 0;

        free(num);
        for (j = 0; j < n; j++) {
            char *dev = xread(xs, BE_ROOT "/%s/0/dev-%u", doms[i], j);
            size_t s;

            if (!dev) {
                problems++;
                continue;
            }
            for (s = 0; s < nseen; s++)
                if (!strcmp(seen[s], dev))
                    problems++;
            seen = realloc(seen, (nseen + 1) * sizeof(*seen));
            if (!seen)
                die("realloc");
            seen[nseen++] = dev;
        }
    }
    while (nseen)
        free(seen[--nseen]);
    free(seen);
    free(doms);
    return problems;
}

/* Remove what a storm wrote: the domains' backends, frontends and the
 * devices' ownership records (domid only: the /libxl/pci/<bdf>
 * directory stays, as libxl's and xlpci's releases leave it). */
static void storm_clean(struct xs_handle *xs, unsigned K, bool floor)
{
    unsigned k, j;

    for (k = 0; k < K; k++) {
        xlpci_dev devs[SCALE_N];
        xlpci_spec specs[SCALE_N];
        char path[XLPCI_PATH_MAX];

        clean_dom(xs, STORM_DOM0 + k);
        make_devs(devs, specs, SCALE_N, storm_bus(floor, k));
        for (j = 0; j < SCALE_N; j++) {
            xlpci_libxl_path(path, &devs[j].bdf, "domid");
            xs_rm(xs, XBT_NULL, path);
        }
        specs_dispose(specs, SCALE_N);
    }
}

/* The storm's devices were made assignable and used before: their
 * /libxl/pci/<bdf> directories exist (xl pci-assignable-add leaves
 * driver_path there, and every release leaves the directory). */
static void storm_devices_known(struct xs_handle *xs, unsigned K)
{
    unsigned k, j, w;

    for (w = 0; w < 2; w++)
        for (k = 0; k < K; k++) {
            xlpci_dev devs[SCALE_N];
            xlpci_spec specs[SCALE_N];
            char path[XLPCI_PATH_MAX];

            make_devs(devs, specs, SCALE_N, storm_bus(w == 0, k));
            for (j = 0; j < SCALE_N; j++) {
                xlpci_libxl_path(path, &devs[j].bdf, NULL);
                if (!xs_mkdir(xs, XBT_NULL, path))
                    die("mkdir /libxl/pci/<bdf>");
            }
            specs_dispose(specs, SCALE_N);
        }
}

static void storm_once(struct xs_handle *xs, const struct xsd *d, unsigned K,
                       bool floor, bool cold, storm_run *sr)
{
    xlpci_ops *ops = xcalloc(K, sizeof(*ops));
    xlpci_spec (*specs)[SCALE_N] = xcalloc(K, sizeof(*specs));
    pid_t pids[MAX_K];
    int bar[2], res[2];
    unsigned k;
    long off;
    double t0;

    memset(sr, 0, sizeof(*sr));
    for (k = 0; k < K; k++) {
        xlpci_dev devs[SCALE_N];
        char name[32];

        set_name(xs, STORM_DOM0 + k);
        snprintf(name, sizeof(name), "guest%u", STORM_DOM0 + k);
        make_devs(devs, specs[k], SCALE_N, storm_bus(floor, k));
        if (cold)
            forget_devices(xs, devs, SCALE_N);
        xlpci_ops_init(&ops[k]);
        if (floor_ops(&ops[k], STORM_DOM0 + k, name, devs,
                                SCALE_N))
            die("layout");
    }
    if (pipe(bar) || pipe(res))
        die("pipe");
    fflush(NULL);
    for (k = 0; k < K; k++) {
        pids[k] = fork();
        if (pids[k] < 0)
            die("fork");
        if (!pids[k]) {
            close(bar[1]);
            close(res[0]);
            storm_child(bar[0], res[1], k, floor, &ops[k], specs[k]);
        }
    }
    close(bar[0]);
    close(res[1]);
    usleep(200000);                     /* every child is at the barrier */
    off = file_size(d->trace);
    t0 = now_us();
    close(bar[1]);                      /* release */
    for (k = 0; k < K; k++) {
        storm_result r;

        if (read(res[0], &r, sizeof(r)) != sizeof(r)) {
            sr->failed++;
            continue;
        }
        sr->eagain += r.eagain;
        sr->attempts += r.attempts;
        sr->failed += r.failed;
        if (r.eagain > sr->max_eagain)
            sr->max_eagain = r.eagain;
    }
    sr->ms = (now_us() - t0) / 1000;
    for (k = 0; k < K; k++)
        waitpid(pids[k], NULL, 0);
    close(res[0]);
    /* the daemon's own count of refused commits: C xenstored's trace has
     * one "EAGAIN" reply per refused commit, oxenstored's access log one
     * "error EAGAIN" line (after its "conflict" line) */
    usleep(50000);
    sr->trace_eagain = count_in_file(d->trace, off, "EAGAIN");
    /* oxenstored replays a conflicting transaction itself ("conflict",
     * then the operations again as r(N):...) and answers EAGAIN only when
     * a replayed reply differs: conflicts cost the daemon, not the
     * client */
    sr->replayed = d->ox ? count_in_file(d->trace, off, " conflict ") -
                           sr->trace_eagain : 0;
    sr->problems = storm_check(xs, K, floor);
    storm_clean(xs, K, floor);
    for (k = 0; k < K; k++) {
        xlpci_ops_dispose(&ops[k]);
        specs_dispose(specs[k], SCALE_N);
    }
    free(ops);
    free(specs);
}

static void storm_rows(const struct xsd_opts *o, const char *store,
                       unsigned M, int runs)
{
    /* the last row: K = 64 again, every device assigned for the first
     * time since boot (its /libxl/pci/<bdf> absent), with M = 32 only */
    static const unsigned Ks[] = { 8, 32, 64, 64 };
    unsigned ki, have = 0, nk = M ? 4 : 3;
    struct xs_handle *xs;
    struct xsd d;

    xs = bench_daemon(&d, o);
    grow_host(xs, &have, M);
    storm_devices_known(xs, MAX_K);
    for (ki = 0; ki < nk; ki++) {
        unsigned K = Ks[ki];
        bool cold = ki == 3;
        double fms[16], xms[16], ratio[16];
        double fea[16], xea[16], ftr[16], xtr[16], frp[16], xrp[16];
        unsigned long xmax = 0;
        int fail = 0, probs = 0, r, w;

        for (r = 0; r < runs && r < 16; r++) {
            storm_run sr[2];

            for (w = 0; w < 2; w++) {
                int which = (r + w) % 2;        /* 0 floor, 1 xlpci */

                storm_once(xs, &d, K, which == 0, cold, &sr[which]);
            }
            fms[r] = sr[0].ms;
            xms[r] = sr[1].ms;
            ratio[r] = sr[1].ms / sr[0].ms;
            fea[r] = (double)sr[0].eagain;
            xea[r] = (double)sr[1].eagain;
            ftr[r] = (double)sr[0].trace_eagain;
            xtr[r] = (double)sr[1].trace_eagain;
            frp[r] = (double)sr[0].replayed;
            xrp[r] = (double)sr[1].replayed;
            if (sr[1].max_eagain > xmax)
                xmax = sr[1].max_eagain;
            fail += sr[0].failed + sr[1].failed;
            probs += sr[0].problems + sr[1].problems;
        }
        {
            char rp[48] = "-";

            if (d.ox)
                snprintf(rp, sizeof(rp), "%.0f / %.0f", median(frp, r),
                         median(xrp, r));
            printf("| %s | %u | %u%s | %.0f | %.0f | **%.2f** (%.2f-%.2f) | "
                   "%.0f / %.0f | %.0f / %.0f | %s | %lu | %d | %s | %s |\n",
                   store, M, K, cold ? " cold" : "", median(fms, r),
                   median(xms, r),
                   median(ratio, r), quantile(ratio, r, .25),
                   quantile(ratio, r, .75), median(fea, r), median(ftr, r),
                   median(xea, r), median(xtr, r), rp, xmax, fail,
                   probs ? "**NO**" : "yes", loadavg());
        }
        fflush(stdout);
    }
    xs_close(xs);
    xsd_stop(&d);
}

static void bench_storm(int runs, bool only_ox)
{
    struct xsd_opts c = { .trace = 1 };
    struct xsd_opts ox = { .ox = 1, .trace = 1 };
    static const unsigned Ms[] = { 0, 32 };
    unsigned mi;

    printf("### (e) Boot storm: K domains created at once\n\n"
           "K processes, one per domain, each creating %d distinct devices; "
           "they are forked first and released together.  M other guests "
           "with %d devices each.  *Floor*: K processes each applying the "
           "same writes in one transaction, no reads (redone on EAGAIN).  "
           "For each of %d repeats the floor storm and the xlpci storm run "
           "on the same daemon one after the other in rotating order (each "
           "cleaned up after), ratio per repeat, median (IQR).  *EAGAIN*: "
           "total refused commits of the storm, as the writers counted them "
           "/ as the daemon's own trace shows them (C xenstored `-T`, "
           "oxenstored's access log).  *Replayed*: oxenstored's own "
           "conflicts that it resolved by replaying the transaction (its "
           "access log: a `conflict` line without an EAGAIN answer); the "
           "client never sees them.  *Load*: /proc/loadavg after the row "
           "(the machine is shared).  The storm's devices were assigned "
           "before (their /libxl/pci/<bdf> directories exist, as "
           "`xl pci-assignable-add` and every release leave them), except in "
           "the rows *cold* (M = 32, K = 64 again): before each storm the "
           "devices' directories are removed, the first assignment since "
           "the host booted.  *max*: most EAGAINs of one xlpci "
           "create.  *Consistent*: afterwards every domain holds exactly its "
           "devices (num_devs, dev-N, state-N, frontend) and no device is in "
           "two backends (every backend scanned), for both writers.\n\n"
           "| store | M | K | floor ms | xlpci ms | xlpci / floor (IQR) | "
           "floor EAGAIN (writers / trace) | xlpci EAGAIN (writers / trace) "
           "| replayed floor / xlpci | max | failed | consistent | load |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
           SCALE_N, GUEST_DEVS, runs);
    for (mi = 0; mi < 2; mi++) {
        if (!only_ox)
            storm_rows(&c, "C xenstored", Ms[mi], runs);
        storm_rows(&ox, "oxenstored", Ms[mi], runs);
    }
    printf("\nTargets (K = 64, M = 32, both daemons): 0 failures, xlpci "
           "EAGAIN below K/4 = 16, xlpci's wall time at most 1.3x the "
           "floor's.\n\n");
}

void bench_scale(const char *sections, int runs, int storm_runs, bool only_ox)
{
    if (strchr(sections, 'd'))
        bench_hostsize(runs);
    if (strchr(sections, 'e'))
        bench_storm(storm_runs, only_ox);
}

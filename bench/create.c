/*
 * libxlpci benchmarks, (a) the create path: xlpci_create() against the
 * floor and against libxl's per-device writer, on an empty and on a busy
 * host (bench/README.md; the shared parts are in common.c, main in
 * bench.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static int runs_a;                    /* iterations per N */

#define BUSY_GUESTS 7
#define BUSY_DEVS   8

/* Other guests with PCI backends (domains 11..17), or none. */
static void busy_host(struct xs_handle *xs, bool on)
{
    unsigned g;

    for (g = 0; g < BUSY_GUESTS; g++) {
        clean_dom(xs, 11 + g);
        if (on)
            add_connected_guest(xs, 11 + g, 0x80 + g, BUSY_DEVS);
    }
}

typedef struct {
    double ms[3];                     /* floor, xlpci, per-device */
    reqstat rs[3];
    unsigned long lib_requests;       /* xlpci's own count */
} iter_result;

static void print_extra(const reqstat *x, const reqstat *f, char *buf,
                        size_t len)
{
    size_t used = 0;
    int k, first = 1;

    buf[0] = '\0';
    for (k = 0; k < RD_NCLASSES; k++) {
        long d = (long)x->rd[k] - (long)f->rd[k];

        if (!d)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%ld: %s",
                                 first ? "" : "; ", d, rd_names[k]);
        first = 0;
        if (used >= len)
            return;
    }
    for (k = 0; k < RQ_NKINDS; k++) {
        long d;

        if (k == RQ_READ || k == RQ_DIR)
            continue;
        d = (long)x->n[k] - (long)f->n[k];
        if (!d)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%+ld %s",
                                 first ? "" : "; ", d, rq_names[k]);
        first = 0;
        if (used >= len)
            return;
    }
    if (first)
        snprintf(buf, len, "none");
}

typedef struct {
    unsigned n;
    double ratio_x, ratio_p;          /* medians of per-iteration ratios */
    bool met;
} create_summary;

static void bench_create(struct xs_handle *xs, bool busy,
                         create_summary *sum)
{
    static const unsigned sizes[] = { 1, 8, 32, 128 };
    char breakdown[4][600];
    unsigned s;

    busy_host(xs, busy);
    printf("#### %s\n\n"
           "| N | floor ms | xlpci ms | per-device ms | xlpci / floor "
           "(IQR) | per-device / floor (IQR) | requests floor / xlpci / "
           "per-device | commits floor / xlpci / per-device | same tree "
           "|\n|---|---|---|---|---|---|---|---|---|\n",
           busy ? "Busy host: 7 other guests with 8 devices each "
                  "(Connected, as pciback leaves them)"
                : "Empty host: no other PCI backends");
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned n = sizes[s];
        xlpci_dev *devs = xcalloc(n, sizeof(*devs));
        xlpci_spec *specs = xcalloc(n, sizeof(*specs));
        iter_result *it = xcalloc((size_t)runs_a, sizeof(*it));
        double *v[3], *rx, *rp, *extra_us, *gap_us;
        char *tree[3] = { NULL, NULL, NULL };
        bool same = true;
        xlpci_ops ops;
        int r, w, k;

        for (w = 0; w < 3; w++)
            v[w] = xcalloc((size_t)runs_a, sizeof(double));
        rx = xcalloc((size_t)runs_a, sizeof(double));
        rp = xcalloc((size_t)runs_a, sizeof(double));
        extra_us = xcalloc((size_t)runs_a, sizeof(double));
        gap_us = xcalloc((size_t)runs_a, sizeof(double));
        make_devs(devs, specs, n, 0x10);
        xlpci_ops_init(&ops);
        if (floor_ops(&ops, DOMID, "guest5", devs, n))
            die("layout");
        /* warm-up, not recorded */
        clean_dom(xs, DOMID);
        run_floor(&ops);
        clean_dom(xs, DOMID);
        run_xlpci(DOMID, specs, n, NULL);
        clean_dom(xs, DOMID);
        run_per_device(DOMID, devs, n, NULL, NULL);
        for (r = 0; r < runs_a; r++) {
            for (w = 0; w < 3; w++) {
                int which = (r + w) % 3;  /* rotate the order */
                reqstat before;
                xlpci_stats st;
                double t0;

                clean_dom(xs, DOMID);
                before = rq;
                t0 = now_us();
                if (which == 0)
                    run_floor(&ops);
                else if (which == 1) {
                    run_xlpci(DOMID, specs, n, &st);
                    it[r].lib_requests = st.requests;
                } else
                    run_per_device(DOMID, devs, n, NULL, NULL);
                it[r].ms[which] = (now_us() - t0) / 1000;
                rq_diff(&it[r].rs[which], &rq, &before);
                if (r == 0)
                    tree[which] = dump_dom(xs, DOMID);
            }
            rx[r] = it[r].ms[1] / it[r].ms[0];
            rp[r] = it[r].ms[2] / it[r].ms[0];
            for (k = 0; k < RD_NCLASSES; k++)
                extra_us[r] += it[r].rs[1].rd_us[k] - it[r].rs[0].rd_us[k];
            gap_us[r] = (it[r].ms[1] - it[r].ms[0]) * 1000;
        }
        for (w = 1; w < 3; w++)
            if (strcmp(tree[0], tree[w]))
                same = false;
        for (r = 0; r < runs_a; r++)
            for (w = 0; w < 3; w++)
                v[w][r] = it[r].ms[w];
        {
            const iter_result *l = &it[runs_a - 1];
            double mx = median(rx, runs_a), mp = median(rp, runs_a);
            char extra[400];

            printf("| %u | %.2f | %.2f | %.2f | **%.2f** (%.2f-%.2f) | "
                   "%.2f (%.2f-%.2f) | %lu / %lu / %lu | %lu / %lu / %lu "
                   "| %s |\n", n, median(v[0], runs_a),
                   median(v[1], runs_a), median(v[2], runs_a), mx,
                   quantile(rx, runs_a, .25), quantile(rx, runs_a, .75),
                   mp, quantile(rp, runs_a, .25), quantile(rp, runs_a, .75),
                   rq_total(&l->rs[0]), rq_total(&l->rs[1]),
                   rq_total(&l->rs[2]), l->rs[0].n[RQ_TEND],
                   l->rs[1].n[RQ_TEND], l->rs[2].n[RQ_TEND],
                   same ? "yes" : "**NO**");
            print_extra(&l->rs[1], &l->rs[0], extra, sizeof(extra));
            snprintf(breakdown[s], sizeof(breakdown[s]),
                     "| %u | %lu | %s | %.0f | %.0f | %lu%s |\n", n,
                     rq_total(&l->rs[1]) - rq_total(&l->rs[0]), extra,
                     median(extra_us, runs_a), median(gap_us, runs_a),
                     l->lib_requests,
                     l->lib_requests == rq_total(&l->rs[1]) ? " (agrees)"
                                                            : " **differs**");
            sum[s].n = n;
            sum[s].ratio_x = mx;
            sum[s].ratio_p = mp;
            sum[s].met = mx <= 1.2;
        }
        fflush(stdout);
        for (w = 0; w < 3; w++) {
            free(tree[w]);
            free(v[w]);
        }
        free(rx);
        free(rp);
        free(extra_us);
        free(gap_us);
        specs_dispose(specs, n);
        xlpci_ops_dispose(&ops);
        free(devs);
        free(specs);
        free(it);
    }
    printf("\nWhere xlpci's extra requests go (one iteration; the floor "
           "sends no reads), the median time they take (summed per-request "
           "latency as seen by the client) and the median wall-time gap "
           "xlpci - floor of the same iteration; last, the library's own "
           "request counter (`xlpci_ctx_get_stats`) against the bench's "
           "count:\n\n"
           "| N | extra requests | which | their time us | gap us | "
           "library's count |\n|---|---|---|---|---|---|\n");
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        fputs(breakdown[s], stdout);
    printf("\n");
    printf("Beyond the floor, xlpci reads the domain's name and its own "
           "backend (absent) and lists each device's /libxl/pci/<bdf> "
           "inside the transaction (the ownership record: two assignments "
           "of one device conflict there), and before it makes "
           ".../backend/pci/<domid> (so that creates of different domains "
           "do not conflict): N + 3 requests, whatever "
           "the other guests hold%s.\n\n", busy ? " (7 here: nothing of "
           "theirs is read)" : "");
    busy_host(xs, false);
}

/* (a): both hosts, then the target line. */
void bench_create_section(struct xs_handle *xs, int runs)
{
    create_summary sum[2][4];
    int i, h;

    runs_a = runs;
    for (h = 0; h < 2; h++)
        bench_create(xs, h == 1, sum[h]);
    printf("Target xlpci <= 1.2 x floor:");
    for (h = 0; h < 2; h++)
        for (i = 0; i < 4; i++)
            printf(" %s N=%u %.2f %s%s", h ? "busy" : "empty",
                   sum[h][i].n, sum[h][i].ratio_x,
                   sum[h][i].met ? "met" : "**MISSED**",
                   h == 1 && i == 3 ? "." : ",");
    printf("\n\n");
    fflush(stdout);
}

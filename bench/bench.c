/*
 * libxlpci benchmarks, on Debian's real xenstored (tests/harness).
 *
 *  (a) create path, N = 1, 8, 32, 128 devices: xlpci_create() against the
 *      floor (a bare libxenstore client doing exactly the same writes in
 *      one transaction, no reads) and against the libxl 4.15-4.17 way (one
 *      transaction per device, num_devs read outside).  The three writers
 *      run interleaved in one process, in rotating order; the ratios are
 *      per iteration (same process, same moment), then the median.  Twice:
 *      on an otherwise empty host and on a host where other guests already
 *      have PCI backends.  Requests are counted here, independently of the
 *      library's own counter: the bench is linked with --wrap for every
 *      libxenstore call (see bench.mk), which also times each request and
 *      says where each read went.
 *  (b) what a watcher on the backend directory can observe while each
 *      writer works: a free-running watcher (coalesces queued events, then
 *      one consistent snapshot in a read-only transaction), a lock-step
 *      watcher (the writer waits after each commit until the watcher has
 *      looked), and the unpatched pciback model (reads num_devs once).
 *  (c) K = 2, 4, 8 processes running pci-attach on one domain, repeated:
 *      with the pciback/pcifront model (every attach a full Reconfiguring
 *      cycle) and with the backend left Initialising (every attach one
 *      appending transaction), on C xenstored and on oxenstored with
 *      test-eagain.  Throughput, EAGAIN retries, lost updates, final state.
 *
 *   xlpci-bench [-r RUNS] [-b RUNS] [-c RUNS]   Markdown report on stdout
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


static int runs_a = 31, runs_b = 15, runs_c = 5;
static const char *sections = "abcdef";
static int runs_d = 15, runs_e = 3;
static bool only_ox;

double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Quantile q (0..1) of v[0..n-1], linear interpolation; sorts v. */
double quantile(double *v, int n, double q)
{
    double pos;
    int i;

    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    pos = q * (n - 1);
    i = (int)pos;
    return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[i];
}

double median(double *v, int n)
{
    return quantile(v, n, 0.5);
}

void die(const char *what)
{
    fprintf(stderr, "bench: %s failed: %s\n", what, strerror(errno));
    exit(1);
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        die("calloc");
    return p;
}

void be_path(char *buf, size_t len, unsigned domid)
{
    snprintf(buf, len, BE_ROOT "/%u/0", domid);
}

/* ---- request accounting ------------------------------------------------- */

/* Every libxenstore request of this process goes through a wrapper
 * (ld --wrap, bench.mk), counted and timed by kind; reads and listings
 * are also classified by where they go (relative to the domain of (a)). */

static const char *const rq_names[RQ_NKINDS] = {
    "read", "directory", "write", "mkdir", "rm", "set_perms", "get_perms",
    "transaction_start", "transaction_end", "watch", "unwatch",
};
static const char *const rd_names[RD_NCLASSES] = {
    "the domain's name", "own backend", "the backend root " BE_ROOT,
    "other guests' backends", "the devices' /libxl/pci/<bdf>", "elsewhere",
};

reqstat rq;

unsigned long rq_total(const reqstat *s)
{
    unsigned long t = 0;
    int k;

    for (k = 0; k < RQ_NKINDS; k++)
        t += s->n[k];
    return t;
}

void rq_diff(reqstat *d, const reqstat *after, const reqstat *before)
{
    int k;

    for (k = 0; k < RQ_NKINDS; k++) {
        d->n[k] = after->n[k] - before->n[k];
        d->us[k] = after->us[k] - before->us[k];
    }
    for (k = 0; k < RD_NCLASSES; k++) {
        d->rd[k] = after->rd[k] - before->rd[k];
        d->rd_us[k] = after->rd_us[k] - before->rd_us[k];
    }
}

static int rd_class(const char *path)
{
    static const char own[] = BE_ROOT "/5";
    static const char dom[] = "/local/domain/5";
    size_t lo = sizeof(own) - 1, ld = sizeof(dom) - 1;

    if (!path)
        return RD_ELSE;
    if (!strncmp(path, own, lo) && (!path[lo] || path[lo] == '/'))
        return RD_OWN;
    if (!strcmp(path, BE_ROOT))
        return RD_LIST;
    if (!strncmp(path, BE_ROOT "/", sizeof(BE_ROOT)))
        return RD_OTHER;
    if (!strncmp(path, "/libxl/pci/", 11))
        return RD_REC;
    if (!strncmp(path, dom, ld) &&
        (!path[ld] || !strcmp(path + ld, "/name")))
        return RD_NAME;
    return RD_ELSE;
}

static void account(int kind, const char *path, double t0)
{
    static int trace = -1;
    int saved = errno;
    double us = now_us() - t0;

    if (trace < 0)                     /* BENCH_TRACE=1: every request */
        trace = getenv("BENCH_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "rq %d %s %s\n", (int)getpid(), rq_names[kind],
                path ? path : "");

    rq.n[kind]++;
    rq.us[kind] += us;
    if (kind == RQ_READ || kind == RQ_DIR) {
        int c = rd_class(path);

        rq.rd[c]++;
        rq.rd_us[c] += us;
    }
    errno = saved;
}

#define WRAP(ret, name, kind, pathexpr, params, args)                      \
    ret __real_##name params;                                              \
    ret __wrap_##name params;                                              \
    ret __wrap_##name params                                               \
    {                                                                      \
        double t0 = now_us();                                              \
        ret r = __real_##name args;                                        \
                                                                           \
        account(kind, pathexpr, t0);                                       \
        return r;                                                          \
    }

WRAP(void *, xs_read, RQ_READ, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path,
      unsigned int *len), (h, t, path, len))
WRAP(char **, xs_directory, RQ_DIR, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path,
      unsigned int *num), (h, t, path, num))
WRAP(bool, xs_write, RQ_WRITE, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path,
      const void *data, unsigned int len), (h, t, path, data, len))
WRAP(bool, xs_mkdir, RQ_MKDIR, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path),
     (h, t, path))
WRAP(bool, xs_rm, RQ_RM, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path),
     (h, t, path))
WRAP(bool, xs_set_permissions, RQ_PERMS, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path,
      struct xs_permissions *perms, unsigned int num_perms),
     (h, t, path, perms, num_perms))
WRAP(struct xs_permissions *, xs_get_permissions, RQ_GETPERMS, path,
     (struct xs_handle *h, xs_transaction_t t, const char *path,
      unsigned int *num), (h, t, path, num))
WRAP(xs_transaction_t, xs_transaction_start, RQ_TSTART, NULL,
     (struct xs_handle *h), (h))
WRAP(bool, xs_transaction_end, RQ_TEND, NULL,
     (struct xs_handle *h, xs_transaction_t t, bool abort_), (h, t, abort_))
WRAP(bool, xs_watch, RQ_WATCH, path,
     (struct xs_handle *h, const char *path, const char *token),
     (h, path, token))
WRAP(bool, xs_unwatch, RQ_UNWATCH, path,
     (struct xs_handle *h, const char *path, const char *token),
     (h, path, token))

/* ---- the store ---------------------------------------------------------- */

void set_name(struct xs_handle *xs, unsigned domid)
{
    char path[64], name[32];

    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    snprintf(name, sizeof(name), "guest%u", domid);
    if (!xs_write(xs, XBT_NULL, path, name, strlen(name)))
        die("write name");
}

/* Remove one guest's backend and frontend, and the ownership records
 * naming it of the devices its backend lists.  Never a listing of
 * /libxl/pci: on oxenstored a reply over 4096 bytes (about 315 records)
 * breaks the libxenstore connection (bench/README.md). */
void clean_dom(struct xs_handle *xs, unsigned domid)
{
    char path[XLPCI_PATH_MAX], want[16], *num, *dev, *v;
    unsigned i, n, len;

    snprintf(want, sizeof(want), "%u", domid);
    snprintf(path, sizeof(path), BE_ROOT "/%u/0/num_devs", domid);
    num = xs_read(xs, XBT_NULL, path, &len);
    n = num ? (unsigned)atoi(num) : 0;
    free(num);
    for (i = 0; i < n && i < XLPCI_MAX_DEVS; i++) {
        char err[64];
        xlpci_bdf bdf;

        snprintf(path, sizeof(path), BE_ROOT "/%u/0/dev-%u", domid, i);
        dev = xs_read(xs, XBT_NULL, path, &len);
        if (dev && !xlpci_bdf_parse(dev, &bdf, err, sizeof(err))) {
            xlpci_libxl_path(path, &bdf, "domid");
            v = xs_read(xs, XBT_NULL, path, &len);
            if (v && !strcmp(v, want))
                xs_rm(xs, XBT_NULL, path);
            free(v);
        }
        free(dev);
    }
    snprintf(path, sizeof(path), BE_ROOT "/%u", domid);
    xs_rm(xs, XBT_NULL, path);
    snprintf(path, sizeof(path), "/local/domain/%u/device", domid);
    xs_rm(xs, XBT_NULL, path);
}

int floor_ops(xlpci_ops *ops, unsigned domid, const char *name,
              const xlpci_dev *devs, unsigned n)
{
    char path[XLPCI_PATH_MAX];
    unsigned i;
    int rc = xlpci_layout_create(ops, domid, name, devs, n);

    for (i = 0; !rc && i < n; i++) {
        xlpci_libxl_path(path, &devs[i].bdf, "domid");
        rc = xlpci_ops_writef(ops, path, "%u", domid);
    }
    return rc;
}

/* n devices on buses bus0.., functions 0 and 1 of successive slots. */
void make_devs(xlpci_dev *devs, xlpci_spec *specs, unsigned n,
                      unsigned bus0)
{
    unsigned i;
    char s[32], err[128];

    for (i = 0; i < n; i++) {
        memset(&devs[i], 0, sizeof(devs[i]));
        devs[i].bdf.bus = bus0 + i / 32;
        devs[i].bdf.dev = (i / 8) % 4 * 8 + i % 8 / 2;
        devs[i].bdf.func = i % 2;
        xlpci_bdf_format(&devs[i].bdf, s);
        if (xlpci_spec_parse(s, &specs[i], err, sizeof(err))) {
            fprintf(stderr, "bench: %s\n", err);
            exit(1);
        }
    }
}

void specs_dispose(xlpci_spec *specs, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        xlpci_spec_dispose(&specs[i]);
}

/* ---- the three writers -------------------------------------------------- */

/* Called after every commit of a writer (lock-step watching in (b)). */

/* libxlpci: the create path. */
void run_xlpci(unsigned domid, const xlpci_spec *specs, unsigned n,
                      xlpci_stats *st)
{
    xlpci_ctx *ctx;

    if (xlpci_ctx_alloc(&ctx, NULL))
        die("xlpci_ctx_alloc");
    xlpci_ctx_set_hypervisor(ctx, XLPCI_HV_NONE);
    if (xlpci_create(ctx, domid, specs, n, NULL, 0))
        die("xlpci_create");
    if (st)
        xlpci_ctx_get_stats(ctx, st);
    xlpci_ctx_free(ctx);
}

bool apply(struct xs_handle *xs, xs_transaction_t t, const xlpci_op *op)
{
    switch (op->kind) {
    case XLPCI_OP_RM:
        return xs_rm(xs, t, op->path) || errno == ENOENT;
    case XLPCI_OP_MKDIR:
        return xs_mkdir(xs, t, op->path);
    case XLPCI_OP_WRITE:
        return xs_write(xs, t, op->path, op->value, strlen(op->value));
    case XLPCI_OP_PERMS:
        return xs_set_permissions(xs, t, op->path,
                                  (struct xs_permissions *)op->perms,
                                  op->nperms);
    }
    return false;
}

/* The floor: the same writes (paths, values, permissions), one
 * transaction, no reads, redone on EAGAIN; the number of EAGAINs. */
unsigned run_floor(const xlpci_ops *ops)
{
    struct xs_handle *xs = xs_open(0);
    unsigned eagain = 0;
    xs_transaction_t t;
    size_t i;

    if (!xs)
        die("xs_open");
    for (;;) {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            die("transaction_start");
        for (i = 0; i < ops->n; i++)
            if (!apply(xs, t, &ops->v[i]))
                die("floor write");
        if (xs_transaction_end(xs, t, false))
            break;
        if (errno != EAGAIN)
            die("floor commit");
        eagain++;
    }
    xs_close(xs);
    return eagain;
}

/* libxl 4.15-4.17 coldplug (libxl__device_pci_add_xenstore): per device,
 * num_devs read outside, then one transaction (the first also creates the
 * directories, as libxl__create_pci_backend).  cb after every commit. */
static void run_per_device(unsigned domid, const xlpci_dev *devs, unsigned n,
                           commit_cb *cb, void *cbarg)
{
    struct xs_handle *xs = xs_open(0);
    char be[64], path[80], name[32];
    unsigned i, len, num;
    xlpci_ops ops;
    xlpci_view view;
    size_t k;

    if (!xs)
        die("xs_open");
    be_path(be, sizeof(be), domid);
    snprintf(path, sizeof(path), "%s/num_devs", be);
    snprintf(name, sizeof(name), "guest%u", domid);
    xlpci_ops_init(&ops);
    for (i = 0; i < n; i++) {
        char *v = xs_read(xs, XBT_NULL, path, &len);

        num = v ? (unsigned)atoi(v) : 0;
        xlpci_ops_reset(&ops);
        if (!v) {
            xlpci_layout_create(&ops, domid, name, &devs[i], 1);
        } else {
            xlpci_view_init(&view);
            view.exists = true;
            view.num_devs = num;
            xlpci_layout_append(&ops, domid, &view, &devs[i], 1, false);
        }
        free(v);
        for (;;) {
            xs_transaction_t t = xs_transaction_start(xs);

            for (k = 0; k < ops.n; k++)
                if (!apply(xs, t, &ops.v[k]))
                    die("per-device write");
            if (xs_transaction_end(xs, t, false))
                break;
            if (errno != EAGAIN)
                die("per-device commit");
        }
        if (cb)
            cb(cbarg);
    }
    xlpci_ops_dispose(&ops);
    xs_close(xs);
}

/* ---- (a) ---------------------------------------------------------------- */

#define BUSY_GUESTS 7
#define BUSY_DEVS   8

/* A guest with ndev PCI devices on buses bus0.., as pciback leaves it
 * once Connected: state 4, state-N 3, vdev-N, root-0, root_num. */
void add_connected_guest(struct xs_handle *xs, unsigned d, unsigned bus0,
                         unsigned ndev)
{
    xlpci_dev *devs = xcalloc(ndev, sizeof(*devs));
    xlpci_spec *specs = xcalloc(ndev, sizeof(*specs));
    char be[64], path[128], v[32];
    unsigned i;

    set_name(xs, d);
    make_devs(devs, specs, ndev, bus0);
    run_xlpci(d, specs, ndev, NULL);
    specs_dispose(specs, ndev);
    be_path(be, sizeof(be), d);
#define W(key, val) do {                                                  \
        snprintf(path, sizeof(path), "%s/%s", be, key);                   \
        xs_write(xs, XBT_NULL, path, val, strlen(val));                   \
    } while (0)
    for (i = 0; i < ndev; i++) {
        char key[24];

        snprintf(key, sizeof(key), "state-%u", i);
        W(key, "3");
        snprintf(key, sizeof(key), "vdev-%u", i);
        snprintf(v, sizeof(v), "0000:00:%02x.%02x", i / 2, i % 2);
        W(key, v);
    }
    W("root_num", "1");
    W("root-0", "0000:00");
    W("state", "4");
#undef W
    free(devs);
    free(specs);
}

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

/* Final trees of the three writers, compared with the floor's. */
char *dump_dom(struct xs_handle *xs, unsigned domid)
{
    char be[64], fe[64], *a, *b, *all;

    snprintf(be, sizeof(be), BE_ROOT "/%u", domid);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device", domid);
    a = h_xs_dump(xs, be);
    b = h_xs_dump(xs, fe);
    if (!a || !b || asprintf(&all, "%s%s", a, b) < 0)
        die("dump");
    free(a);
    free(b);
    return all;
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
           "of one device conflict there), and before it reads the backend "
           "root and makes .../backend/pci/<domid> (so that creates of "
           "different domains do not conflict): N + 4 requests, whatever "
           "the other guests hold%s.\n\n", busy ? " (7 here: nothing of "
           "theirs is read)" : "");
    busy_host(xs, false);
}

/* ---- (b) ---------------------------------------------------------------- */

/*
 * The watcher: a watch on BE_ROOT.  On each wake-up it drains every queued
 * event (as a kernel watch callback that is behind would), then takes one
 * consistent snapshot of the backend (num_devs and the dev-N listed, in a
 * read-only transaction, redone on EAGAIN) and records it if it differs
 * from the last.  A write to BE_ROOT/sync makes it acknowledge on ack_fd
 * after its snapshot (lock-step), BE_ROOT/stop makes it report and exit.
 */
static void snapshot(struct xs_handle *xs, const char *be, char *out,
                     size_t len)
{
    char path[96];

    snprintf(path, sizeof(path), "%s/num_devs", be);
    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        char *num, **kids;
        unsigned l, nk, i, ndev = 0;

        if (t == XBT_NULL)
            _exit(1);
        num = xs_read(xs, t, path, &l);
        kids = xs_directory(xs, t, be, &nk);
        if (!xs_transaction_end(xs, t, false)) {
            free(num);
            free(kids);
            if (errno != EAGAIN)
                _exit(1);
            continue;
        }
        for (i = 0; kids && i < nk; i++)
            if (!strncmp(kids[i], "dev-", 4))
                ndev++;
        if (!kids)
            snprintf(out, len, "none");
        else
            snprintf(out, len, "%s/%u", num ? num : "-", ndev);
        free(num);
        free(kids);
        return;
    }
}

static void watcher(const char *be, int out_fd, int ack_fd,
                    const char *ready)
{
    struct xs_handle *xs = xs_open(0);
    char last[64] = "none", seen[4096] = "", first[64] = "";
    unsigned snaps = 0;
    size_t used = 0;
    bool stop = false;
    FILE *f;

    if (!xs || !xs_watch(xs, BE_ROOT, "w"))
        _exit(1);
    free(xs_read_watch(xs, &(unsigned){ 0 }));   /* the initial event */
    f = fopen(ready, "w");
    if (!f || fclose(f))
        _exit(1);
    while (!stop) {
        struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
        bool sync = false, any = false;
        char **ev, obs[64];

        while ((ev = xs_check_watch(xs))) {
            const char *p = ev[XS_WATCH_PATH];

            any = true;
            sync |= !strcmp(p, BE_ROOT "/sync");
            stop |= !strcmp(p, BE_ROOT "/stop");
            free(ev);
        }
        if (!any) {
            if (errno != EAGAIN)
                _exit(1);
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                _exit(1);
            continue;
        }
        snapshot(xs, be, obs, sizeof(obs));
        snaps++;
        if (strcmp(obs, last) && strcmp(obs, "none")) {
            if (!first[0])
                snprintf(first, sizeof(first), "%s", obs);
            used += (size_t)snprintf(seen + used, sizeof(seen) - used,
                                     "%s%s", used ? " " : "", obs);
            if (used >= sizeof(seen))
                used = sizeof(seen) - 1;
            snprintf(last, sizeof(last), "%s", obs);
        }
        if (sync && write(ack_fd, "a", 1) != 1)
            _exit(1);
    }
    dprintf(out_fd, "%u\n%s\n%s\n", snaps, first, seen);
    xs_close(xs);
    _exit(0);
}

typedef struct {
    struct xs_handle *xs;
    int ack_fd;
} sync_arg;

/* Lock-step: tell the watcher to look, wait until it has. */
static void sync_watcher(void *varg)
{
    sync_arg *a = varg;
    char c;

    if (!xs_write(a->xs, XBT_NULL, BE_ROOT "/sync", "1", 1) ||
        read(a->ack_fd, &c, 1) != 1)
        die("sync");
}

typedef struct {
    unsigned snaps;
    char first[64];
    char seen[4096];
} observation;

/* Stands for the other work libxl does per device between its
 * transactions (sysfs, libxenctrl, the JSON config). */
static void pause_1ms(void *arg)
{
    struct timespec ts = { 0, 1000000 };

    (void)arg;
    nanosleep(&ts, NULL);
}

typedef struct {
    sync_arg *sa;
    bool lockstep;
} paced_arg;

static void paced_cb(void *varg)
{
    paced_arg *p = varg;

    pause_1ms(NULL);
    if (p->lockstep)
        sync_watcher(p->sa);
}

/* writer: 0 xlpci, 1 per-device, 2 per-device with 1 ms between devices */
static void run_writer(int writer, struct xs_handle *xs, int ack_fd,
                       bool lockstep, unsigned domid, const xlpci_spec *specs,
                       const xlpci_dev *devs, unsigned n)
{
    sync_arg sa = { xs, ack_fd };
    paced_arg pa = { &sa, lockstep };

    if (writer == 0) {
        run_xlpci(domid, specs, n, NULL);
        if (lockstep)
            sync_watcher(&sa);
    } else if (writer == 1) {
        run_per_device(domid, devs, n, lockstep ? sync_watcher : NULL, &sa);
    } else {
        run_per_device(domid, devs, n, paced_cb, &pa);
    }
}

static void observe(struct xs_handle *xs, int writer, bool lockstep,
                    unsigned domid, const xlpci_spec *specs,
                    const xlpci_dev *devs, unsigned n, const char *dir,
                    observation *o)
{
    char ready[300], be[64], buf[8192];
    int out[2], ack[2];
    pid_t pid;
    ssize_t got;
    size_t used = 0;

    clean_dom(xs, domid);
    be_path(be, sizeof(be), domid);
    snprintf(ready, sizeof(ready), "%s/watch.ready", dir);
    unlink(ready);
    if (pipe(out) || pipe(ack))
        die("pipe");
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (!pid) {
        close(out[0]);
        close(ack[0]);
        watcher(be, out[1], ack[1], ready);
    }
    close(out[1]);
    close(ack[1]);
    while (access(ready, F_OK))
        usleep(500);
    run_writer(writer, xs, ack[0], lockstep, domid, specs, devs, n);
    /* events are delivered in order: once the watcher sees stop, it has
     * seen everything the writer caused */
    xs_write(xs, XBT_NULL, BE_ROOT "/stop", "", 0);
    while (used + 1 < sizeof(buf) &&
           (got = read(out[0], buf + used, sizeof(buf) - used - 1)) > 0)
        used += (size_t)got;
    buf[used] = '\0';
    close(out[0]);
    close(ack[0]);
    waitpid(pid, NULL, 0);
    xs_rm(xs, XBT_NULL, BE_ROOT "/stop");
    xs_rm(xs, XBT_NULL, BE_ROOT "/sync");
    memset(o, 0, sizeof(*o));
    if (sscanf(buf, "%u", &o->snaps) != 1)
        die("watcher report");
    {
        char *l1 = strchr(buf, '\n'), *l2 = l1 ? strchr(l1 + 1, '\n') : NULL;

        if (!l1 || !l2)
            die("watcher report");
        *l2 = '\0';
        snprintf(o->first, sizeof(o->first), "%s", l1 + 1);
        snprintf(o->seen, sizeof(o->seen), "%s", l2 + 1);
        o->seen[strcspn(o->seen, "\n")] = '\0';
    }
}

/* Union of the distinct states of several observations, sorted by
 * (num_devs, dev-N present). */
typedef struct {
    char s[64][16];
    unsigned n;
} state_set;

static void set_add_all(state_set *set, const char *seen)
{
    char copy[4096], *tok, *save = NULL;
    unsigned i;

    snprintf(copy, sizeof(copy), "%s", seen);
    for (tok = strtok_r(copy, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        for (i = 0; i < set->n && strcmp(set->s[i], tok); i++)
            ;
        if (i == set->n && set->n < 64)
            snprintf(set->s[set->n++], sizeof(set->s[0]), "%s", tok);
    }
}

static int cmp_state(const void *a, const void *b)
{
    unsigned x1 = 0, x2 = 0, y1 = 0, y2 = 0;

    sscanf(a, "%u/%u", &x1, &x2);
    sscanf(b, "%u/%u", &y1, &y2);
    return x1 != y1 ? (x1 > y1) - (x1 < y1) : (x2 > y2) - (x2 < y2);
}

static void set_print(state_set *set, char *buf, size_t len)
{
    size_t used = 0;
    unsigned i;

    qsort(set->s, set->n, sizeof(set->s[0]), cmp_state);
    buf[0] = '\0';
    for (i = 0; i < set->n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s",
                                 i ? " " : "", set->s[i]);
}

static int count_words(const char *s)
{
    int n = 0;
    bool in = false;

    for (; *s; s++) {
        if (*s != ' ' && !in)
            n++;
        in = *s != ' ';
    }
    return n;
}

/* The unpatched pciback model: how many devices did it export (state-N =
 * 3) once the backend settled?  A fresh domid per run. */
static unsigned model_exported(struct xs_handle *xs, unsigned domid,
                               unsigned n, char *final_state, size_t len)
{
    char be[64], path[96], *v;
    unsigned i, l, got = 0;
    int tries;

    be_path(be, sizeof(be), domid);
    snprintf(path, sizeof(path), "%s/state", be);
    for (tries = 0; tries < 300; tries++) {
        bool done;

        v = xs_read(xs, XBT_NULL, path, &l);
        done = v && (!strcmp(v, "4") || !strcmp(v, "5") || !strcmp(v, "6"));
        snprintf(final_state, len, "%s", v ? v : "-");
        free(v);
        if (done)
            break;
        usleep(10000);
    }
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/state-%u", be, i);
        v = xs_read(xs, XBT_NULL, path, &l);
        got += v && !strcmp(v, "3");
        free(v);
    }
    return got;
}

static void bench_observe(struct xs_handle *xs, const char *dir)
{
    enum { N = 8 };
    enum { NW = 3 };
    static const char *const label[NW] = {
        "xlpci create (one transaction)", "per-device transactions",
        "per-device, 1 ms of other work between devices",
    };
    xlpci_dev devs[N];
    xlpci_spec specs[N];
    char ready[300];
    char *argv[] = { (char *)h_prog("pcimodel"), (char *)"--ready", ready,
                     NULL };
    observation o;
    pid_t model;
    int w, r;
    struct {
        char lock[4096];
        state_set free_set;
        double nstates[64], firsts[64], exported[64];
        unsigned commits, states_bad;
    } res[NW];

    if (runs_b > 64)
        runs_b = 64;
    memset(res, 0, sizeof(res));
    make_devs(devs, specs, N, 0x10);
    for (w = 0; w < NW; w++) {
        reqstat before = rq, d;

        observe(xs, w, true, DOMID, specs, devs, N, dir, &o);
        rq_diff(&d, &rq, &before);
        snprintf(res[w].lock, sizeof(res[w].lock), "%s", o.seen);
        /* transaction_end of the writer; the bench's own sync writes are
         * not transactions */
        res[w].commits = (unsigned)d.n[RQ_TEND];
    }
    for (r = 0; r < runs_b; r++) {
        for (w = 0; w < NW; w++) {
            int which = (r + w) % NW;
            unsigned a = 0, b = 0;

            observe(xs, which, false, DOMID, specs, devs, N, dir, &o);
            set_add_all(&res[which].free_set, o.seen);
            res[which].nstates[r] = count_words(o.seen);
            sscanf(o.first, "%u/%u", &a, &b);
            res[which].firsts[r] = a;
        }
    }
    clean_dom(xs, DOMID);

    /* the unpatched pciback model: a fresh one per run (it keeps every
     * guest it has seen), no status files (they would slow it down) */
    snprintf(ready, sizeof(ready), "%s/model.ready", dir);
    for (r = 0; r < runs_b; r++) {
        for (w = 0; w < NW; w++) {
            int which = (r + w) % NW;
            char st[16];

            clean_dom(xs, DOMID);
            unlink(ready);
            if (h_spawn(&model, argv, ready, 10000))
                die("pcimodel");
            run_writer(which, xs, -1, false, DOMID, specs, devs, N);
            res[which].exported[r] = model_exported(xs, DOMID, N, st,
                                                    sizeof(st));
            if (strcmp(st, "4"))
                res[which].states_bad++;
            h_stop(model);
        }
    }
    clean_dom(xs, DOMID);

    printf("### (b) What a watcher on the backend can observe (N = %d)\n\n"
           "States are `num_devs/dev-N present`, each from one consistent "
           "snapshot (a read-only transaction) after the watcher has "
           "drained its queued events.  *Lock-step*: the writer waits after "
           "each commit until the watcher has looked: every state a writer "
           "exposes.  *Free-running*: what this watcher caught in %d runs "
           "(union, and the median number of distinct states per run); "
           "*first* = num_devs of the first state it saw (what unpatched "
           "pciback, reading num_devs once, would act on).  *Model*: the "
           "unpatched pciback/pcifront model (tests/model/pcimodel), "
           "devices it exported once the backend settled, %d runs.  "
           "Our per-device writer is the fastest possible; libxl does "
           "more work per device between its transactions (the last row "
           "stands for that).\n\n"
           "| writer | commits | lock-step states | free-running states "
           "(union) | states per run | first num_devs (min / median) | "
           "model: exported of %d (min / median / max) |\n"
           "|---|---|---|---|---|---|---|\n", N, runs_b, runs_b, N);
    for (w = 0; w < NW; w++) {
        char u[1024];

        set_print(&res[w].free_set, u, sizeof(u));
        printf("| %s | %u | %s | %s | %.0f | %.0f / %.0f | "
               "%.0f / %.0f / %.0f%s |\n", label[w], res[w].commits,
               res[w].lock, u, median(res[w].nstates, runs_b),
               quantile(res[w].firsts, runs_b, 0),
               median(res[w].firsts, runs_b),
               quantile(res[w].exported, runs_b, 0),
               median(res[w].exported, runs_b),
               quantile(res[w].exported, runs_b, 1),
               res[w].states_bad ? " (backend not Connected in some runs)"
                                 : "");
    }
    printf("\n");
    specs_dispose(specs, N);
}

/* ---- (c) ---------------------------------------------------------------- */

/* 1 + 8 * 3 devices fit the 32 slots of pciback's virtual bus */
#define PER_PROC 3
#define MAX_K    8

typedef struct {
    unsigned long eagain, attempts, max_eagain;
    int failures;
    unsigned k;                       /* which process */
    unsigned ok_mask;                 /* which of its devices attached */
} conc_result;

static void attach_bdf(char *buf, size_t len, unsigned k, unsigned i)
{
    snprintf(buf, len, "0000:%02x:%02x.0", 0x40 + k, i);
}

static void attacher(int fd, unsigned domid, unsigned k, unsigned timeout_ms)
{
    conc_result r = { 0, 0, 0, 0, k, 0 };
    xentoollog_logger_stdiostream *lg =
        xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    unsigned i;

    for (i = 0; i < PER_PROC; i++) {
        xlpci_ctx *ctx;
        xlpci_spec spec;
        xlpci_stats st;
        char s[32], err[128];

        attach_bdf(s, sizeof(s), k, i);
        if (xlpci_spec_parse(s, &spec, err, sizeof(err)) ||
            xlpci_ctx_alloc(&ctx, (xentoollog_logger *)lg))
            _exit(1);
        xlpci_ctx_set_timeout(ctx, timeout_ms);
        xlpci_ctx_set_hypervisor(ctx, XLPCI_HV_NONE);
        if (xlpci_attach(ctx, domid, &spec, NULL))
            r.failures++;
        else
            r.ok_mask |= 1u << i;
        xlpci_ctx_get_stats(ctx, &st);
        r.eagain += st.eagain;
        r.attempts += st.attempts;
        if (st.eagain > r.max_eagain)
            r.max_eagain = st.eagain;
        xlpci_ctx_free(ctx);
        xlpci_spec_dispose(&spec);
    }
    if (write(fd, &r, sizeof(r)) != sizeof(r))
        _exit(1);
    _exit(0);
}

/* The final backend, read in one transaction. */
typedef struct {
    bool has_num;
    unsigned num, ndev;               /* num_devs, dev-N listed */
    bool dense;                       /* dev-0..num-1, nothing beyond */
    char *dev[64];                    /* dev-i, i < num (<= 64) */
    unsigned exported;                /* state-i = 3 */
    int state;
} final_view;

static void final_read(struct xs_handle *xs, const char *be, final_view *fv)
{
    char path[128];

    for (;;) {
        xs_transaction_t t = xs_transaction_start(xs);
        char **kids, *v;
        unsigned nk, i, l, idx;

        memset(fv, 0, sizeof(*fv));
        fv->state = -1;
        kids = xs_directory(xs, t, be, &nk);
        snprintf(path, sizeof(path), "%s/num_devs", be);
        v = xs_read(xs, t, path, &l);
        fv->has_num = v != NULL;
        fv->num = v ? (unsigned)atoi(v) : 0;
        free(v);
        snprintf(path, sizeof(path), "%s/state", be);
        v = xs_read(xs, t, path, &l);
        fv->state = v ? atoi(v) : -1;
        free(v);
        fv->dense = fv->has_num && fv->num <= 64;
        for (i = 0; kids && i < nk; i++) {
            if (sscanf(kids[i], "dev-%u", &idx) != 1)
                continue;
            fv->ndev++;
            if (idx >= fv->num)
                fv->dense = false;
        }
        for (i = 0; fv->dense && i < fv->num; i++) {
            snprintf(path, sizeof(path), "%s/dev-%u", be, i);
            fv->dev[i] = xs_read(xs, t, path, &l);
            if (!fv->dev[i])
                fv->dense = false;
            snprintf(path, sizeof(path), "%s/state-%u", be, i);
            v = xs_read(xs, t, path, &l);
            fv->exported += v && !strcmp(v, "3");
            free(v);
        }
        free(kids);
        if (xs_transaction_end(xs, t, false))
            return;
        for (i = 0; i < 64; i++)
            free(fv->dev[i]);
        if (errno != EAGAIN)
            die("final read");
    }
}

static void final_dispose(final_view *fv)
{
    unsigned i;

    for (i = 0; i < 64; i++)
        free(fv->dev[i]);
}

/* Poll dir/state until it is want. */
bool wait_state(struct xs_handle *xs, const char *dir,
                       const char *want, int timeout_ms)
{
    char path[96];
    int i;

    snprintf(path, sizeof(path), "%s/state", dir);
    for (i = 0; i < timeout_ms / 5; i++) {
        unsigned l;
        char *v = xs_read(xs, XBT_NULL, path, &l);
        bool ok = v && !strcmp(v, want);

        free(v);
        if (ok)
            return true;
        usleep(5000);
    }
    return false;
}

/* Lines of the model's status file (what the guest enumerated). */
int guest_sees(const char *status_dir, unsigned domid)
{
    char path[400], line[256];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/guest-%u", status_dir, domid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        n += line[0] != '\n';
    fclose(f);
    return n;
}

typedef struct {
    double ms, rate, eagain_per, attempts_per;
    unsigned long max_eagain;
    int failures, lost, inconsistent, unexported;
} conc_run;

static void conc_once(struct xs_handle *xs, unsigned domid, unsigned K,
                      const char *dir, bool with_model, conc_run *cr)
{
    char ready[300], status[300];
    char *argv[] = { (char *)h_prog("pcimodel"), (char *)"--ready", ready,
                     (char *)"--status-dir", status, NULL, NULL };
    const char *status_dir = with_model ? status : NULL;
    pid_t model = 0;
    conc_result total = { 0, 0, 0, 0, 0, 0 }, r;
    unsigned masks[MAX_K] = { 0 }, k, i, j, succeeded = 0;
    pid_t pids[MAX_K];
    char be[64], fe[64], err[128];
    xlpci_spec spec;
    xlpci_ctx *ctx;
    final_view fv;
    double t0;
    int p[2];

    memset(cr, 0, sizeof(*cr));
    be_path(be, sizeof(be), domid);
    set_name(xs, domid);
    /* a fresh model per repeat: it keeps every guest it has seen and
     * rewrites their status files on every event */
    snprintf(ready, sizeof(ready), "%s/cmodel.ready", dir);
    snprintf(status, sizeof(status), "%s/cstatus", dir);
    if (getenv("BENCH_MODEL_VERBOSE"))     /* its log on stderr */
        argv[5] = (char *)"-v";
    if (with_model) {
        unlink(ready);
        if (h_spawn(&model, argv, ready, 10000))
            die("pcimodel");
    }
    /* one device to start from; with the model, wait for Connected */
    if (xlpci_spec_parse("0000:03:00.0", &spec, err, sizeof(err)) ||
        xlpci_ctx_alloc(&ctx, NULL))
        die("base create");
    xlpci_ctx_set_hypervisor(ctx, XLPCI_HV_NONE);
    if (xlpci_create(ctx, domid, &spec, 1, NULL, 0))
        die("base create");
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    /* the guest is up: backend AND frontend Connected.  The backend is
     * Connected a moment before the frontend at the first connect; a
     * cycle started in that window is never seen by the frontend (see
     * bench/README.md) */
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/pci/0", domid);
    if (status_dir && (!wait_state(xs, be, "4", 10000) ||
                       !wait_state(xs, fe, "4", 10000)))
        die("base backend and frontend Connected");
    if (pipe(p))
        die("pipe");
    fflush(NULL);
    t0 = now_us();
    for (k = 0; k < K; k++) {
        pids[k] = fork();
        if (pids[k] < 0)
            die("fork");
        if (!pids[k]) {
            close(p[0]);
            attacher(p[1], domid, k, 20000);
        }
    }
    close(p[1]);
    for (k = 0; k < K; k++) {
        if (read(p[0], &r, sizeof(r)) == sizeof(r)) {
            if (r.k < MAX_K)
                masks[r.k] = r.ok_mask;
            total.eagain += r.eagain;
            total.attempts += r.attempts;
            total.failures += r.failures;
            if (r.max_eagain > total.max_eagain)
                total.max_eagain = r.max_eagain;
        } else {
            total.failures += PER_PROC;
        }
    }
    for (k = 0; k < K; k++)
        waitpid(pids[k], NULL, 0);
    cr->ms = (now_us() - t0) / 1000;
    close(p[0]);
    cr->rate = K * PER_PROC / (cr->ms / 1000);
    cr->eagain_per = (double)total.eagain / (K * PER_PROC);
    cr->attempts_per = (double)total.attempts / (K * PER_PROC);
    cr->max_eagain = total.max_eagain;
    cr->failures = total.failures;

    /* with the model: the last cycle has ended (every attach waited for
     * Connected, but read the final state once more) */
    if (status_dir)
        wait_state(xs, be, "4", 5000);
    final_read(xs, be, &fv);
    for (k = 0; k < K; k++)
        for (i = 0; i < PER_PROC; i++)
            succeeded += !!(masks[k] & (1u << i));
    /* consistent: num_devs == dev-N present == 1 + attaches that
     * succeeded, indices dense, no device twice */
    if (!fv.dense || fv.ndev != fv.num || fv.num != 1 + succeeded)
        cr->inconsistent = 1;
    for (i = 0; fv.dense && i < fv.num; i++)
        for (j = i + 1; j < fv.num; j++)
            if (!strcmp(fv.dev[i], fv.dev[j]))
                cr->inconsistent = 1;
    /* lost: an attach that reported success whose device is not there */
    for (k = 0; k < K; k++)
        for (i = 0; i < PER_PROC; i++) {
            char want[32];
            unsigned found = 0;

            if (!(masks[k] & (1u << i)))
                continue;
            attach_bdf(want, sizeof(want), k, i);
            for (j = 0; j < fv.num && j < 64; j++)
                found += fv.dev[j] && !strcmp(fv.dev[j], want);
            if (found != 1)
                cr->lost++;
        }
    if (status_dir) {
        /* every index exported by pciback and enumerated by the guest */
        int seen = guest_sees(status_dir, domid);

        if (fv.state != 4 || fv.exported != fv.num || seen != (int)fv.num)
            cr->unexported = 1;
    }
    final_dispose(&fv);
    if (with_model && cr->failures && getenv("BENCH_STALL_GDB")) {
        char cmd[160];                  /* debugging aid: where is it? */

        snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all "
                 "bt' >&2 2>/dev/null; cat /proc/%d/status | head -3 >&2",
                 (int)model, (int)model);
        if (system(cmd) < 0)
            perror("gdb");
    }
    if (with_model)
        h_stop(model);
    clean_dom(xs, domid);
}

static unsigned conc_domid = 40;

static void conc_rows(struct xs_handle *xs, const char *label,
                      const char *dir, bool with_model)
{
    static const unsigned Ks[] = { 2, 4, 8 };
    unsigned ki;
    int r;

    for (ki = 0; ki < 3; ki++) {
        double ms[32], rate[32], ea[32], at[32];
        unsigned long max_eagain = 0;
        int failures = 0, lost = 0, incons = 0, unexp = 0;
        conc_run cr;

        for (r = 0; r < runs_c && r < 32; r++) {
            conc_once(xs, conc_domid++, Ks[ki], dir, with_model, &cr);
            ms[r] = cr.ms;
            rate[r] = cr.rate;
            ea[r] = cr.eagain_per;
            at[r] = cr.attempts_per;
            if (cr.max_eagain > max_eagain)
                max_eagain = cr.max_eagain;
            failures += cr.failures;
            lost += cr.lost;
            incons += cr.inconsistent;
            unexp += cr.unexported;
        }
        printf("| %s | %u | %d x %u | %.0f | %.1f | %.2f | %.2f | %lu | %d "
               "| %d | %s | %s |\n", label, Ks[ki], r, Ks[ki] * PER_PROC,
               median(ms, r), median(rate, r), median(ea, r),
               median(at, r), max_eagain, failures, lost,
               incons ? "**NO**" : "yes",
               !with_model ? "n/a (no backend driver)"
                           : unexp ? "**NO**" : "yes");
        fflush(stdout);
    }
}

/* One daemon: rows with the model, then with the backend Initialising. */
static void bench_concurrent(const struct xsd_opts *o, const char *dir,
                             const char *store)
{
    char label[160];
    struct xs_handle *xs;
    struct xsd d;

    if (xsd_start(&d, o))
        die("xenstored");
    xs = xs_open(0);
    if (!xs)
        die("xs_open");
    snprintf(label, sizeof(label), "%s + model (Reconfiguring cycles)",
             store);
    conc_rows(xs, label, dir, true);
    snprintf(label, sizeof(label), "%s, backend Initialising (appends)",
             store);
    conc_rows(xs, label, dir, false);
    xs_close(xs);
    xsd_stop(&d);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    create_summary sum[2][4];
    struct xsd_opts ox = { .ox = 1, .test_eagain = 1 };
    struct xs_handle *xs;
    struct utsname un;
    struct xsd d;
    char dir[256];
    double t0 = now_us();
    int c, i, h;

    while ((c = getopt(argc, argv, "r:b:c:d:e:s:o")) != -1) {
        int v = optarg && atoi(optarg) > 0 ? atoi(optarg) : 1;

        switch (c) {
        case 's': sections = optarg; break;
        case 'o': only_ox = true; break;
        case 'r': runs_a = v; break;
        case 'b': runs_b = v; break;
        case 'c': runs_c = v > 32 ? 32 : v; break;
        case 'd': runs_d = v; break;
        case 'e': runs_e = v > 16 ? 16 : v; break;
        default:
            fprintf(stderr, "usage: xlpci-bench [-r RUNS] [-b RUNS] "
                    "[-c RUNS] [-d RUNS] [-e RUNS] [-s SECTIONS (abcdef)] [-o (c, "
                    "e: oxenstored only)]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (h_mkdtemp(dir, sizeof(dir)) || xsd_start(&d, NULL))
        return 1;
    xs = xs_open(0);
    if (!xs)
        die("xs_open");
    set_name(xs, DOMID);
    uname(&un);

    printf("## Benchmarks (`make bench`, bench/bench.c)\n\n"
           "Debian's real xenstored 4.17 (C; oxenstored for test-eagain) "
           "under the harness shim, on a %ld-CPU %s %s machine; client, "
           "daemon and peers share the CPUs.  Optimised build "
           "(build/bench, -O2).  Wall times include opening the xenstore "
           "connection (as a CLI call would).  Requests are counted by the "
           "bench itself (ld --wrap around libxenstore), not taken from "
           "the library.\n\n"
           "### (a) Create path: wall time and xenstore requests\n\n"
           "Median of %d iterations per N; in each the three writers run "
           "back to back in rotating order, and the ratios are of that "
           "iteration (median and interquartile range of the per-iteration "
           "ratios).  *Floor*: a bare libxenstore client doing exactly the "
           "same writes (paths, values, permissions) in one transaction, "
           "no reads.  *Per-device*: libxl 4.15-4.17 "
           "(`libxl__device_pci_add_xenstore`: num_devs read outside, one "
           "transaction per device).  *Same tree*: the three final "
           "backend and frontend trees, values and permissions, are "
           "identical.\n\n", sysconf(_SC_NPROCESSORS_ONLN), un.sysname,
           un.machine, runs_a);
    if (strchr(sections, 'a')) {
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
    if (strchr(sections, 'b'))
        bench_observe(xs, dir);
    xs_close(xs);
    xsd_stop(&d);

    if (strchr(sections, 'c')) {
        printf("### (c) Concurrent pci-attach on one domain\n\n"
               "K processes, each attaching %d distinct devices one after "
               "another (a fresh xlpci context per attach), on top of a "
               "backend created with one device; %d repeats per row, a fresh "
               "domain each.  Medians over the repeats; EAGAIN and attempts "
               "come from `xlpci_ctx_get_stats` (attempts also count the "
               "transaction run again after each wait for Connected, when "
               "an attach found another one's cycle running); *max* is the "
               "most EAGAINs one attach needed; failed, lost and "
               "inconsistent are totals over "
               "all repeats.  *Lost*: an attach that reported success whose "
               "device is not in the backend exactly once.  *Consistent*: "
               "num_devs == dev-N present == 1 + successful attaches, indices "
               "dense, no device twice.  *Exported*: with the model, the "
               "backend is back at Connected, every state-N is 3 and the "
               "guest enumerated every device.  Backend state: rows *+ model* "
               "run tests/model/pcimodel (unpatched pciback + pcifront), so "
               "each attach writes state=7 and waits for the 7-8-4 cycle, "
               "and attaches to one domain serialise on that cycle; rows "
               "*Initialising* have no backend driver, the backend stays in "
               "state 1 and each attach is one appending transaction.  "
               "oxenstored runs with test-eagain=true (random commit "
               "failures on top of real conflicts).\n\n"
               "| store | K | repeats x attaches | wall ms | attaches/s | "
               "EAGAIN per attach | attempts per attach | max | failed | lost "
               "| consistent | exported |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
               PER_PROC, runs_c);
        if (!only_ox)
            bench_concurrent(NULL, dir, "C xenstored");
        bench_concurrent(&ox, dir, "oxenstored test-eagain");
    }
    bench_scale(dir, sections, runs_d, runs_e, only_ox);
    printf("\nWhole run: %.0f s.\n", (now_us() - t0) / 1e6);
    h_rmrf(dir);
    return 0;
}

/*
 * libxlpci benchmarks, on Debian's real xenstored (tests/harness).
 *
 *  (a) create path, N = 1, 8, 32, 128 devices: xlpci_create() against the
 *      floor (a bare libxenstore client doing exactly the same writes in
 *      one transaction) and against the libxl 4.15-4.17 way (one
 *      transaction per device, num_devs read outside).  The three writers
 *      run interleaved in one process; medians of R runs; ratios are
 *      taken within this run.
 *  (b) what a watcher on the backend directory can observe while each
 *      writer works: the distinct (num_devs, dev-N present) pairs.
 *  (c) K = 2, 4, 8 processes running pci-attach on one domain: with the
 *      pciback/pcifront model (every attach a full Reconfiguring cycle),
 *      and on oxenstored with test-eagain (backend left Initialising, so
 *      every attach is one appending transaction).  Throughput, EAGAIN
 *      retries, lost updates.
 *
 *   bench [-r RUNS] [-q]    prints a Markdown report on stdout
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"

#define DOMID 5
#define BE "/local/domain/0/backend/pci/5/0"
#define FE "/local/domain/5/device/pci/0"

static int runs = 15;

static double now_us(void)
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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s failed: %s\n", what, strerror(errno));
    exit(1);
}

static void clean(struct xs_handle *xs)
{
    xs_rm(xs, XBT_NULL, "/local/domain/0/backend/pci");
    xs_rm(xs, XBT_NULL, "/local/domain/5/device");
}

static void make_devs(xlpci_dev *devs, xlpci_spec *specs, unsigned n)
{
    unsigned i;
    char s[32], err[128];

    for (i = 0; i < n; i++) {
        memset(&devs[i], 0, sizeof(devs[i]));
        devs[i].bdf.bus = 0x10 + i / 32;
        devs[i].bdf.dev = (i / 8) % 4 * 8 + i % 8 / 2;
        devs[i].bdf.func = i % 2;
        xlpci_bdf_format(&devs[i].bdf, s);
        if (xlpci_spec_parse(s, &specs[i], err, sizeof(err))) {
            fprintf(stderr, "bench: %s\n", err);
            exit(1);
        }
    }
}

/* ---- the three writers --------------------------------------------------- */

/* libxlpci: the create path. */
static unsigned long run_xlpci(const xlpci_spec *specs, unsigned n)
{
    xlpci_ctx *ctx;
    xlpci_stats st;

    if (xlpci_ctx_alloc(&ctx, NULL))
        die("xlpci_ctx_alloc");
    if (xlpci_create(ctx, DOMID, specs, n, NULL, 0))
        die("xlpci_create");
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    return st.requests;
}

static bool apply(struct xs_handle *xs, xs_transaction_t t, const xlpci_op *op)
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

/* The floor: the same writes, one transaction, no reads. */
static unsigned long run_floor(const xlpci_ops *ops)
{
    struct xs_handle *xs = xs_open(0);
    unsigned long req;
    xs_transaction_t t;
    size_t i;

    if (!xs)
        die("xs_open");
    for (;;) {
        req = 2;
        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            die("transaction_start");
        for (i = 0; i < ops->n; i++, req++)
            if (!apply(xs, t, &ops->v[i]))
                die("floor write");
        if (xs_transaction_end(xs, t, false))
            break;
        if (errno != EAGAIN)
            die("floor commit");
    }
    xs_close(xs);
    return req;
}

/* libxl 4.15-4.17 coldplug: per device, num_devs read outside, then one
 * transaction (the first also creates the directories). */
static unsigned long run_per_device(const xlpci_dev *devs, unsigned n)
{
    struct xs_handle *xs = xs_open(0);
    unsigned long req = 0;
    unsigned i, len, num;
    xlpci_ops ops;
    xlpci_view view;
    size_t k;

    if (!xs)
        die("xs_open");
    xlpci_ops_init(&ops);
    for (i = 0; i < n; i++) {
        char *v = xs_read(xs, XBT_NULL, BE "/num_devs", &len);

        req++;
        num = v ? (unsigned)atoi(v) : 0;
        xlpci_ops_reset(&ops);
        if (!v) {
            xlpci_layout_create(&ops, DOMID, "guest5", &devs[i], 1);
        } else {
            xlpci_view_init(&view);
            view.exists = true;
            view.num_devs = num;
            xlpci_layout_append(&ops, DOMID, &view, &devs[i], 1, false);
        }
        free(v);
        for (;;) {
            xs_transaction_t t = xs_transaction_start(xs);

            req += 2;
            for (k = 0; k < ops.n; k++, req++)
                if (!apply(xs, t, &ops.v[k]))
                    die("per-device write");
            if (xs_transaction_end(xs, t, false))
                break;
            if (errno != EAGAIN)
                die("per-device commit");
        }
    }
    xlpci_ops_dispose(&ops);
    xs_close(xs);
    return req;
}

/* ---- (a) ------------------------------------------------------------------ */

static void bench_create(struct xs_handle *xs)
{
    static const unsigned sizes[] = { 1, 8, 32, 128 };
    unsigned s;

    printf("### (a) Create path: wall time and xenstore requests\n\n"
           "Median of %d interleaved runs per N, C xenstored.  The floor is "
           "a bare libxenstore client doing the same writes in one "
           "transaction; per-device is the libxl 4.15-4.17 way.\n\n"
           "| N | floor ms | xlpci ms | per-device ms | xlpci / floor | "
           "per-device / floor | requests floor / xlpci / per-device |\n"
           "|---|---|---|---|---|---|---|\n", runs);
    for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned n = sizes[s];
        xlpci_dev *devs = calloc(n, sizeof(*devs));
        xlpci_spec *specs = calloc(n, sizeof(*specs));
        double *tf = calloc((size_t)runs, sizeof(double));
        double *tx = calloc((size_t)runs, sizeof(double));
        double *tp = calloc((size_t)runs, sizeof(double));
        unsigned long rf = 0, rx = 0, rp = 0;
        xlpci_ops ops;
        int r, w;

        make_devs(devs, specs, n);
        xlpci_ops_init(&ops);
        if (xlpci_layout_create(&ops, DOMID, "guest5", devs, n))
            die("layout");
        for (r = 0; r < runs; r++) {
            for (w = 0; w < 3; w++) {
                int which = (r + w) % 3;   /* rotate the order */
                double t0;

                clean(xs);
                t0 = now_us();
                if (which == 0)
                    rf = run_floor(&ops);
                else if (which == 1)
                    rx = run_xlpci(specs, n);
                else
                    rp = run_per_device(devs, n);
                (which == 0 ? tf : which == 1 ? tx : tp)[r] =
                    (now_us() - t0) / 1000;
            }
        }
        {
            double mf = median(tf, runs), mx = median(tx, runs),
                   mp = median(tp, runs);

            printf("| %u | %.2f | %.2f | %.2f | %.2f | %.2f | %lu / %lu / "
                   "%lu |\n", n, mf, mx, mp, mx / mf, mp / mf, rf, rx, rp);
        }
        fflush(stdout);
        for (r = 0; r < (int)n; r++)
            xlpci_spec_dispose(&specs[r]);
        xlpci_ops_dispose(&ops);
        free(devs);
        free(specs);
        free(tf);
        free(tx);
        free(tp);
    }
    printf("\n");
}

/* ---- (b) ------------------------------------------------------------------ */

/* A watcher on the backend dir: every event, read num_devs and count dev-N
 * (plain reads, as pciback does); report distinct pairs on the pipe. */
static void watcher(int fd, const char *ready)
{
    struct xs_handle *xs = xs_open(0);
    char **ev, last[64] = "";
    unsigned len, n, i;

    if (!xs || !xs_watch(xs, "/local/domain/0/backend/pci", "w"))
        _exit(1);
    ev = xs_read_watch(xs, &len);
    free(ev);
    fclose(fopen(ready, "w"));
    for (;;) {
        char **kids, *num, obs[64];
        unsigned ndev = 0;

        ev = xs_read_watch(xs, &len);
        if (!ev)
            break;
        if (!strcmp(ev[XS_WATCH_PATH], "/local/domain/0/backend/pci/stop")) {
            free(ev);
            break;
        }
        free(ev);
        num = xs_read(xs, XBT_NULL, BE "/num_devs", &len);
        kids = xs_directory(xs, XBT_NULL, BE, &n);
        for (i = 0; kids && i < n; i++)
            if (!strncmp(kids[i], "dev-", 4))
                ndev++;
        snprintf(obs, sizeof(obs), "%s/%u", num ? num : "-", ndev);
        free(num);
        free(kids);
        if (strcmp(obs, last)) {
            dprintf(fd, "%s ", obs);
            snprintf(last, sizeof(last), "%s", obs);
        }
    }
    xs_close(xs);
    _exit(0);
}

static void observe(struct xs_handle *xs, int which, const xlpci_spec *specs,
                    const xlpci_dev *devs, unsigned n, const char *dir,
                    char *out, size_t outlen)
{
    char ready[300];
    int p[2];
    pid_t pid;
    ssize_t got;
    size_t used = 0;

    clean(xs);
    snprintf(ready, sizeof(ready), "%s/watch.ready", dir);
    unlink(ready);
    if (pipe(p))
        die("pipe");
    fflush(NULL);
    pid = fork();
    if (!pid) {
        close(p[0]);
        watcher(p[1], ready);
    }
    close(p[1]);
    while (access(ready, F_OK))
        usleep(1000);
    if (which)
        run_per_device(devs, n);
    else
        run_xlpci(specs, n);
    usleep(200000);                   /* let the watcher drain */
    xs_write(xs, XBT_NULL, "/local/domain/0/backend/pci/stop", "", 0);
    while (used + 1 < outlen &&
           (got = read(p[0], out + used, outlen - used - 1)) > 0)
        used += (size_t)got;
    out[used] = '\0';
    close(p[0]);
    waitpid(pid, NULL, 0);
    xs_rm(xs, XBT_NULL, "/local/domain/0/backend/pci/stop");
}

static void bench_observe(struct xs_handle *xs, const char *dir)
{
    unsigned n = 8;
    xlpci_dev devs[8];
    xlpci_spec specs[8];
    char obs[2][4096];
    unsigned i;

    make_devs(devs, specs, n);
    observe(xs, 0, specs, devs, n, dir, obs[0], sizeof(obs[0]));
    observe(xs, 1, specs, devs, n, dir, obs[1], sizeof(obs[1]));
    printf("### (b) What a watcher on the backend can observe (N = 8)\n\n"
           "Distinct `num_devs/dev-N present` pairs seen on the watch events "
           "of one run (`-` = no num_devs yet).  pciback acts on the first "
           "one it sees.\n\n"
           "| writer | observed states |\n|---|---|\n"
           "| xlpci create (one transaction) | %s|\n"
           "| per-device transactions | %s|\n\n", obs[0], obs[1]);
    for (i = 0; i < n; i++)
        xlpci_spec_dispose(&specs[i]);
}

/* ---- (c) ------------------------------------------------------------------ */

/* 1 + 8 * 3 devices fit the 32 slots of pciback's virtual bus */
#define PER_PROC 3

typedef struct {
    unsigned long eagain, attempts;
    int failures;
    unsigned k;                       /* which process */
    unsigned ok_mask;                 /* which of its devices attached */
} conc_result;

static void attacher(int fd, unsigned k, unsigned timeout_ms)
{
    conc_result r = { 0, 0, 0, k, 0 };
    xentoollog_logger_stdiostream *lg =
        xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    unsigned i;

    for (i = 0; i < PER_PROC; i++) {
        xlpci_ctx *ctx;
        xlpci_spec spec;
        xlpci_stats st;
        char s[32], err[128];

        snprintf(s, sizeof(s), "0000:%02x:%02x.0", 0x40 + k, i);
        if (xlpci_spec_parse(s, &spec, err, sizeof(err)) ||
            xlpci_ctx_alloc(&ctx, (xentoollog_logger *)lg))
            _exit(1);
        xlpci_ctx_set_timeout(ctx, timeout_ms);
        if (xlpci_attach(ctx, DOMID, &spec, NULL))
            r.failures++;
        else
            r.ok_mask |= 1u << i;
        xlpci_ctx_get_stats(ctx, &st);
        r.eagain += st.eagain;
        r.attempts += st.attempts;
        xlpci_ctx_free(ctx);
        xlpci_spec_dispose(&spec);
    }
    if (write(fd, &r, sizeof(r)) != sizeof(r))
        _exit(1);
    _exit(0);
}

/* Count of dev-N and whether num_devs agrees and indices are dense. */
static int backend_count(struct xs_handle *xs, unsigned *count)
{
    unsigned len, i, num;
    char *v = xs_read(xs, XBT_NULL, BE "/num_devs", &len), path[128];

    if (!v)
        return -1;
    num = (unsigned)atoi(v);
    free(v);
    for (i = 0; i < num; i++) {
        snprintf(path, sizeof(path), BE "/dev-%u", i);
        v = xs_read(xs, XBT_NULL, path, &len);
        if (!v)
            return -1;
        free(v);
    }
    snprintf(path, sizeof(path), BE "/dev-%u", num);
    v = xs_read(xs, XBT_NULL, path, &len);
    free(v);
    *count = num;
    return v ? -1 : 0;
}

static void conc_row(struct xs_handle *xs, const char *label, unsigned K,
                     bool model)
{
    conc_result total = { 0, 0, 0, 0, 0 }, r;
    unsigned masks[8] = { 0 };
    int p[2], lost = 0;
    pid_t pids[8];
    unsigned k, i, count = 0, len;
    double t0, ms;
    xlpci_spec spec;
    xlpci_ctx *ctx;
    char err[128];
    int consistent;

    clean(xs);
    /* one device to start from; with the model, wait for Connected */
    if (xlpci_spec_parse("0000:03:00.0", &spec, err, sizeof(err)) ||
        xlpci_ctx_alloc(&ctx, NULL) ||
        xlpci_create(ctx, DOMID, &spec, 1, NULL, 0))
        die("base create");
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    if (model) {
        for (i = 0; i < 500; i++) {
            char *v = xs_read(xs, XBT_NULL, BE "/state", &len);
            bool ok = v && !strcmp(v, "4");

            free(v);
            if (ok)
                break;
            usleep(10000);
        }
    }
    if (pipe(p))
        die("pipe");
    fflush(NULL);
    t0 = now_us();
    for (k = 0; k < K; k++) {
        pids[k] = fork();
        if (!pids[k]) {
            close(p[0]);
            attacher(p[1], k, 120000);
        }
    }
    close(p[1]);
    for (k = 0; k < K; k++) {
        if (read(p[0], &r, sizeof(r)) == sizeof(r)) {
            if (r.k < 8)
                masks[r.k] = r.ok_mask;
            total.eagain += r.eagain;
            total.attempts += r.attempts;
            total.failures += r.failures;
        } else {
            total.failures += PER_PROC;
        }
    }
    for (k = 0; k < K; k++)
        waitpid(pids[k], NULL, 0);
    ms = (now_us() - t0) / 1000;
    close(p[0]);
    consistent = backend_count(xs, &count) == 0;
    /* every attach that reported success must be there exactly once */
    for (k = 0; k < K; k++)
        for (i = 0; i < PER_PROC; i++) {
            char want[32], path[64], *v;
            unsigned j, found = 0;

            if (!(masks[k] & (1u << i)))
                continue;
            snprintf(want, sizeof(want), "0000:%02x:%02x.0", 0x40 + k, i);
            for (j = 0; j < count; j++) {
                snprintf(path, sizeof(path), BE "/dev-%u", j);
                v = xs_read(xs, XBT_NULL, path, &len);
                found += v && !strcmp(v, want);
                free(v);
            }
            if (found != 1)
                lost++;
        }
    printf("| %s | %u | %u | %.0f | %.1f | %lu | %.2f | %d | %d | %s |\n",
           label, K, K * PER_PROC, ms, K * PER_PROC / (ms / 1000),
           total.eagain, (double)total.eagain / (K * PER_PROC),
           total.failures, lost,
           consistent ? "yes" : "NO");
    fflush(stdout);
}

static void bench_concurrent_model(struct xs_handle *xs, const char *dir)
{
    static const unsigned Ks[] = { 2, 4, 8 };
    char ready[300], status[300];
    char *argv[] = { (char *)h_prog("pcimodel"), (char *)"--ready", ready,
                     (char *)"--status-dir", status, NULL };
    pid_t model;
    unsigned i;

    snprintf(ready, sizeof(ready), "%s/model.ready", dir);
    snprintf(status, sizeof(status), "%s/status", dir);
    clean(xs);
    if (h_spawn(&model, argv, ready, 10000))
        die("pcimodel");
    for (i = 0; i < 3; i++)
        conc_row(xs, "C xenstored + model (Reconfiguring cycles)", Ks[i],
                 true);
    h_stop(model);
}

static void bench_concurrent_eagain(void)
{
    static const unsigned Ks[] = { 2, 4, 8 };
    struct xsd_opts o = { .ox = 1, .test_eagain = 1 };
    struct xs_handle *xs;
    struct xsd d;
    unsigned i;

    if (xsd_start(&d, &o))
        die("oxenstored");
    xs = xs_open(0);
    xs_write(xs, XBT_NULL, "/local/domain/5/name", "guest5", 6);
    for (i = 0; i < 3; i++)
        conc_row(xs, "oxenstored test-eagain, backend Initialising", Ks[i],
                 false);
    xs_close(xs);
    xsd_stop(&d);
}

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    struct xsd d;
    char dir[256];
    int c;

    while ((c = getopt(argc, argv, "r:")) != -1) {
        switch (c) {
        case 'r': runs = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        default:
            fprintf(stderr, "usage: bench [-r RUNS]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (h_mkdtemp(dir, sizeof(dir)) || xsd_start(&d, NULL))
        return 1;
    xs = xs_open(0);
    if (!xs)
        die("xs_open");
    xs_write(xs, XBT_NULL, "/local/domain/5/name", "guest5", 6);

    printf("## Benchmarks (bench/bench, %s)\n\n", "Debian xenstored 4.17");
    bench_create(xs);
    bench_observe(xs, dir);
    printf("### (c) Concurrent pci-attach on one domain\n\n"
           "K processes, %d attaches each, on top of one device.  Lost "
           "updates = attaches that reported success whose device is not "
           "in the backend exactly once; consistent = num_devs equals the "
           "dev-N present and the indices are dense.\n\n"
           "| store | K | attaches | wall ms | attaches/s | EAGAIN | "
           "EAGAIN per attach | failed | lost updates | consistent |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n",
           PER_PROC);
    bench_concurrent_model(xs, dir);
    xs_close(xs);
    xsd_stop(&d);
    bench_concurrent_eagain();
    h_rmrf(dir);
    return 0;
}

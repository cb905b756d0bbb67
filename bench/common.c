/*
 * libxlpci benchmarks, the floor below the sections and main: numbers,
 * the request accounting (ld --wrap around every libxenstore call,
 * bench.mk), the store helpers and the writers (xlpci_create, the floor,
 * libxl's per-device writer).  It calls nothing of the sections' or
 * main's (tests/pkg/test-layers reads the map in bench.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


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

/* A private daemon (tests/harness; o NULL: C xenstored) and a connection
 * to it, or exit. */
struct xs_handle *bench_daemon(struct xsd *d, const struct xsd_opts *o)
{
    struct xs_handle *xs;

    if (xsd_start(d, o))
        die("xenstored");
    xs = xs_open(0);
    if (!xs)
        die("xs_open");
    return xs;
}

/* The 1, 5 and 15 minute load averages (the machine is shared). */
const char *loadavg(void)
{
    static char buf[64];
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;

    if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
        snprintf(buf, sizeof(buf), "?");
    else
        snprintf(buf, sizeof(buf), "%.1f %.1f %.1f", a, b, c);
    if (f)
        fclose(f);
    return buf;
}

xlpci_ctx *quiet_ctx(unsigned timeout_ms)
{
    static xentoollog_logger_stdiostream *lg;
    xlpci_ctx *ctx;

    if (!lg)
        lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (xlpci_ctx_alloc(&ctx, (xentoollog_logger *)lg))
        die("xlpci_ctx_alloc");
    xlpci_ctx_set_hypervisor(ctx, XLPCI_HV_NONE);
    xlpci_ctx_set_timeout(ctx, timeout_ms);
    return ctx;
}

/* ---- request accounting ------------------------------------------------- */

/* Every libxenstore request of this process goes through a wrapper
 * (ld --wrap, bench.mk), counted and timed by kind; reads and listings
 * are also classified by where they go (relative to the domain of (a)). */

const char *const rq_names[RQ_NKINDS] = {
    "read", "directory", "write", "mkdir", "rm", "set_perms", "get_perms",
    "transaction_start", "transaction_end", "watch", "unwatch",
};
const char *const rd_names[RD_NCLASSES] = {
    "the domain's name", "own backend", ("the backend root " BE_ROOT),
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

/* Backend and frontend subtrees of a domain ((a) compares the writers'
 * final trees). */
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

/* A guest with ndev PCI devices on buses bus0.., as pciback and pcifront
 * leave it once Connected: state 4, state-N 3, vdev-N, root-0, root_num,
 * the frontend's state 4. */
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
    /* and pcifront Connected, as a running guest's (check reports a
     * frontend left behind a Connected backend) */
    snprintf(path, sizeof(path), "/local/domain/%u/device/pci/0/state", d);
    xs_write(xs, XBT_NULL, path, "4", 1);
    free(devs);
    free(specs);
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
void run_per_device(unsigned domid, const xlpci_dev *devs, unsigned n,
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

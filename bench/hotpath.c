/*
 * libxlpci benchmarks, (f) the hot paths: pci-attach and pci-detach of one
 * device to a guest that is connected (the unpatched pciback/pcifront
 * model drives every Reconfiguring cycle) and holds M = 1, 8 or 32
 * devices already (bench/README.md; the shared parts are in common.c,
 * main in bench.c).
 *
 * Like for like: the floor (floor.c) writes the same nodes as xlpci, the
 * ownership record /libxl/pci/<bdf>/domid included, in one transaction
 * per step, and waits the same way (a watch on the backend's state node
 * held on a connection of its own, the nodes it waits on re-read after
 * every batch of events).  It is given its
 * operations (built with the library's own layout functions before the
 * clock starts) and reads nothing else.  *Warm* rows: the device was
 * assigned before (its /libxl/pci/<bdf> directory exists, as every
 * release and `xl pci-assignable-add` leave it); *cold* rows: it was not
 * (the directory is removed before each attach), and the floor makes it
 * with one mkdir outside its transaction, as xlpci must.
 *
 * In process: xlpci_attach / xlpci_detach on a fresh context against
 * xlpci_floor_run, requests counted by the wrappers (common.c).  Whole
 * process: the CLI (build/.../xlpci) against the floor built alone
 * (xlpci-floor, linked with libxenstore only), fork to exit.  Each
 * iteration runs both in rotating order; ratios per iteration, median and
 * interquartile range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define HP_DOM0  20                   /* domids of the guests */
#define HP_WORDS 128

static const unsigned hp_ms[] = { 1, 8, 32 };
#define HP_NM (sizeof(hp_ms) / sizeof(hp_ms[0]))

enum { HP_ATTACH, HP_COLD, HP_DETACH, HP_NOPS };
static const char *const hp_op_names[HP_NOPS] = {
    "pci-attach (warm)", "pci-attach (cold)", "pci-detach",
};

typedef struct {
    unsigned domid, m;                /* m devices attached before */
    xlpci_dev dev;                    /* the device attached and detached */
    xlpci_spec spec;
    char bdf[XLPCI_BDF_STRLEN], dom[16];
    char be[64], fe[64], record[XLPCI_PATH_MAX];
    /* the floor's plans (words), built once */
    char *plan[HP_NOPS][HP_WORDS];
    int nplan[HP_NOPS];
    char *own[HP_WORDS];              /* the words allocated for them */
    int nown;
    xlpci_ops attach_ops, begin_ops, remove_ops;
} hp_guest;

typedef struct {
    double *ms[2], *ratio;            /* [0] floor, [1] xlpci */
    double *req[2];
} hp_series;

/* ---- the floor's plans --------------------------------------------------- */

static void word(hp_guest *g, int op, const char *w)
{
    if (g->nplan[op] == HP_WORDS)
        die("hot path plan too long");
    g->plan[op][g->nplan[op]++] = (char *)w;
}

static void words_of(hp_guest *g, int op, const xlpci_ops *ops)
{
    size_t i;

    for (i = 0; i < ops->n; i++) {
        if (ops->v[i].kind == XLPCI_OP_WRITE) {
            word(g, op, "write");
            word(g, op, ops->v[i].path);
            word(g, op, ops->v[i].value);
        } else if (ops->v[i].kind == XLPCI_OP_RM) {
            word(g, op, "rm");
            word(g, op, ops->v[i].path);
        } else {
            die("hot path plan: an operation the floor has no word for");
        }
    }
    word(g, op, "commit");
}

/* A word made here (freed with the guest). */
static char *own(hp_guest *g, const char *fmt, const char *dir, unsigned n)
{
    char *w;

    if (g->nown == HP_WORDS || asprintf(&w, fmt, dir, n) < 0)
        die("hot path plan");
    return g->own[g->nown++] = w;
}

/* The wait of a cycle, as xlpci waits when it had not to wait before:
 * a watch on the backend's state node, then the backend Connected (and,
 * for an attach, the new index exported). */
static void wait_words(hp_guest *g, int op, bool attach)
{
    word(g, op, "watch");
    word(g, op, own(g, "%s/state", g->be, 0));
    word(g, op, "until");
    word(g, op, own(g, "%s/state", g->be, 0));
    word(g, op, "4");
    if (attach) {
        word(g, op, "until");
        word(g, op, own(g, "%s/dev-%u", g->be, g->m));
        word(g, op, g->bdf);
        word(g, op, "until");
        word(g, op, own(g, "%s/state-%u", g->be, g->m));
        word(g, op, "3");
    }
    word(g, op, "wait");
}

/* The same writes as xlpci: the claim of the record, the row appended at
 * index m with num_devs and state = Reconfiguring; Closing and
 * Reconfiguring; then the row removed (the keys pciback leaves: key, dev,
 * opts, state, vdev), num_devs and the record's domid. */
static void hp_plans(hp_guest *g)
{
    char path[XLPCI_PATH_MAX];
    xlpci_view view;
    unsigned idx = g->m, k;

    xlpci_ops_init(&g->attach_ops);
    xlpci_ops_init(&g->begin_ops);
    xlpci_ops_init(&g->remove_ops);
    xlpci_libxl_path(path, &g->dev.bdf, "domid");
    xlpci_view_init(&view);
    view.exists = view.dir_exists = true;
    view.state = XenbusStateConnected;
    view.num_devs = g->m;
    if (xlpci_ops_writef(&g->attach_ops, path, "%u", g->domid) ||
        xlpci_layout_append(&g->attach_ops, g->domid, &view, &g->dev, 1,
                            true) ||
        xlpci_layout_detach_begin(&g->begin_ops, g->domid, &idx, 1))
        die("hot path plans");
    view.num_devs = g->m + 1;
    view.keys = xcalloc(view.num_devs, sizeof(*view.keys));
    view.row_state = xcalloc(view.num_devs, sizeof(*view.row_state));
    for (k = 0; k < XLPCI_NKEYS; k++)
        if (k != XLPCI_KEY_VDEVFN && k != XLPCI_KEY_NAME)
            view.keys[idx][k] = strdup("x");
    if (xlpci_layout_remove(&g->remove_ops, g->domid, &view, &idx, 1) ||
        xlpci_ops_rm(&g->remove_ops, path))
        die("hot path plans");
    xlpci_view_dispose(&view);

    words_of(g, HP_ATTACH, &g->attach_ops);
    wait_words(g, HP_ATTACH, true);
    word(g, HP_COLD, "mkdir");
    word(g, HP_COLD, g->record);
    words_of(g, HP_COLD, &g->attach_ops);
    wait_words(g, HP_COLD, true);
    words_of(g, HP_DETACH, &g->begin_ops);
    wait_words(g, HP_DETACH, false);
    words_of(g, HP_DETACH, &g->remove_ops);
}

/* ---- the guests -------------------------------------------------------------- */

static void hp_guest_init(struct xs_handle *xs, hp_guest *g, unsigned i,
                          const char *status)
{
    xlpci_defaults dflt;
    xlpci_dev *devs;
    xlpci_spec *specs;
    char err[128];
    int seen = -1, tries;

    memset(g, 0, sizeof(*g));
    g->domid = HP_DOM0 + i;
    g->m = hp_ms[i];
    snprintf(g->dom, sizeof(g->dom), "%u", g->domid);
    be_path(g->be, sizeof(g->be), g->domid);
    snprintf(g->fe, sizeof(g->fe), "/local/domain/%u/device/pci/0",
             g->domid);
    /* the m devices on buses 0x20 + 2i.., the hot one on bus 0x60 + i */
    devs = xcalloc(g->m, sizeof(*devs));
    specs = xcalloc(g->m, sizeof(*specs));
    make_devs(devs, specs, g->m, 0x20 + 2 * i);
    set_name(xs, g->domid);
    run_xlpci(g->domid, specs, g->m, NULL);
    specs_dispose(specs, g->m);
    free(specs);
    free(devs);
    /* the hot device, with the options xlpci gives it (the defaults;
     * checked against what it writes, hp_same_writes) */
    xlpci_defaults_init(&dflt);
    g->dev.bdf.bus = 0x60 + i;
    g->dev.permissive = dflt.permissive;
    g->dev.msitranslate = dflt.msitranslate;
    g->dev.power_mgmt = dflt.power_mgmt;
    g->dev.rdm_policy = dflt.rdm_policy;
    xlpci_bdf_format(&g->dev.bdf, g->bdf);
    if (xlpci_spec_parse(g->bdf, &g->spec, err, sizeof(err)))
        die("hot path: spec");
    xlpci_libxl_path(g->record, &g->dev.bdf, NULL);
    if (!wait_state(xs, g->be, "4", 10000) ||
        !wait_state(xs, g->fe, "4", 10000))
        die("hot path: backend and frontend Connected");
    for (tries = 0; tries < 2000 && seen != (int)g->m; tries++) {
        seen = guest_sees(status, g->domid);
        if (seen != (int)g->m)
            usleep(5000);
    }
    if (seen != (int)g->m)
        die("hot path: the guest enumerates its devices");
    hp_plans(g);
}

static void hp_guest_dispose(hp_guest *g)
{
    int i;

    for (i = 0; i < g->nown; i++)
        free(g->own[i]);
    xlpci_spec_dispose(&g->spec);
    xlpci_ops_dispose(&g->attach_ops);
    xlpci_ops_dispose(&g->begin_ops);
    xlpci_ops_dispose(&g->remove_ops);
}

/* After xlpci's attach: every node the floor's attach writes holds the
 * floor's value (but the states, which pciback moves on), so both write
 * the same.  Or exit. */
static void hp_same_writes(struct xs_handle *xs, const hp_guest *g)
{
    char statek[64];
    unsigned len;
    size_t i;

    snprintf(statek, sizeof(statek), "/state-%u", g->m);
    for (i = 0; i < g->attach_ops.n; i++) {
        const xlpci_op *op = &g->attach_ops.v[i];
        size_t l = strlen(op->path);
        char *v;
        bool same;

        if ((l > 6 && !strcmp(op->path + l - 6, "/state")) ||
            (l > strlen(statek) &&
             !strcmp(op->path + l - strlen(statek), statek)))
            continue;
        v = xs_read(xs, XBT_NULL, op->path, &len);
        same = v && !strcmp(v, op->value);
        if (!same) {
            fprintf(stderr, "bench: (f) xlpci wrote %s = \"%s\", the floor "
                    "writes \"%s\"\n", op->path, v ? v : "(absent)",
                    op->value);
            exit(1);
        }
        free(v);
    }
}

/* ---- one operation --------------------------------------------------------- */

/* argv as a whole process, stdout and stderr to errfile; its exit status. */
static int hp_spawn(char *const argv[], const char *errfile)
{
    pid_t pid;
    int st;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (!pid) {
        int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void hp_failed(const char *what, const hp_guest *g, const char *errfile)
{
    char line[512];
    FILE *f = errfile ? fopen(errfile, "r") : NULL;

    fprintf(stderr, "bench: (f) %s of %s to domain %u failed\n", what,
            g->bdf, g->domid);
    while (f && fgets(line, sizeof(line), f))
        fprintf(stderr, "  %s", line);
    if (f)
        fclose(f);
    exit(1);
}

/* One operation of one writer (0 floor, 1 xlpci); its wall time (ms). */
static double hp_run(hp_guest *g, int op, int writer, bool whole,
                     const char *errfile, unsigned long *reqs)
{
    reqstat before, diff;
    double t0;
    int rc;

    before = rq;
    t0 = now_us();
    if (writer == 0 && !whole) {
        rc = xlpci_floor_run(g->nplan[op], g->plan[op]);
    } else if (writer == 0) {
        char *argv[HP_WORDS + 2];

        argv[0] = (char *)h_prog("xlpci-floor");
        memcpy(argv + 1, g->plan[op], (size_t)g->nplan[op] * sizeof(char *));
        argv[g->nplan[op] + 1] = NULL;
        rc = hp_spawn(argv, errfile);
    } else if (whole) {
        char *argv[] = { (char *)h_prog("xlpci"),
                         op == HP_DETACH ? (char *)"pci-detach"
                                         : (char *)"pci-attach",
                         g->dom, g->bdf, NULL };

        rc = hp_spawn(argv, errfile);
    } else {
        xlpci_ctx *ctx = quiet_ctx(20000);

        rc = op == HP_DETACH ? xlpci_detach(ctx, g->domid, &g->spec, 0)
                             : xlpci_attach(ctx, g->domid, &g->spec, NULL);
        xlpci_ctx_free(ctx);
    }
    t0 = (now_us() - t0) / 1000;
    if (rc)
        hp_failed(hp_op_names[op], g, whole ? errfile : NULL);
    rq_diff(&diff, &rq, &before);
    *reqs = rq_total(&diff);
    return t0;
}

/* ---- the rows ---------------------------------------------------------------- */

static void series_init(hp_series *s, int runs)
{
    int w;

    for (w = 0; w < 2; w++) {
        s->ms[w] = xcalloc((size_t)runs, sizeof(double));
        s->req[w] = xcalloc((size_t)runs, sizeof(double));
    }
    s->ratio = xcalloc((size_t)runs, sizeof(double));
}

static void series_dispose(hp_series *s)
{
    int w;

    for (w = 0; w < 2; w++) {
        free(s->ms[w]);
        free(s->req[w]);
    }
    free(s->ratio);
}

/* runs iterations of attach (warm or cold) + detach, both writers in
 * rotating order: s[0] the attach, s[1] the detach. */
static void hp_iterate(struct xs_handle *xs, hp_guest *g, bool cold,
                       bool whole, int runs, const char *errfile,
                       hp_series *s)
{
    int attach = cold ? HP_COLD : HP_ATTACH, r, i;

    for (r = 0; r < runs; r++) {
        for (i = 0; i < 2; i++) {
            int w = (r + i) % 2;
            unsigned long n;

            if (cold && !xs_rm(xs, XBT_NULL, g->record))
                die("remove the record's directory");
            s[0].ms[w][r] = hp_run(g, attach, w, whole, errfile, &n);
            s[0].req[w][r] = (double)n;
            s[1].ms[w][r] = hp_run(g, HP_DETACH, w, whole, errfile, &n);
            s[1].req[w][r] = (double)n;
        }
        s[0].ratio[r] = s[0].ms[1][r] / s[0].ms[0][r];
        s[1].ratio[r] = s[1].ms[1][r] / s[1].ms[0][r];
    }
}

static const char *met(double ratio, double target)
{
    return ratio <= target ? "met" : "**MISSED**";
}

void bench_hotpath_section(const char *dir, int runs)
{
    char ready[300], status[300], errfile[300], ends[HP_NM][160];
    char *argv[] = { (char *)h_prog("pcimodel"), (char *)"--ready", ready,
                     (char *)"--status-dir", status, NULL };
    hp_series s[HP_NM][2][2][2];      /* M, whole, warm/cold, attach/detach */
    double targets[HP_NM][2][2];      /* M, whole, attach/detach (warm) */
    hp_guest g[HP_NM];
    struct xs_handle *xs;
    struct xsd d;
    unsigned i;
    int whole, c, k;
    pid_t model;

    xs = bench_daemon(&d, NULL);
    snprintf(ready, sizeof(ready), "%s/hpmodel.ready", dir);
    snprintf(status, sizeof(status), "%s/hpstatus", dir);
    snprintf(errfile, sizeof(errfile), "%s/hp.err", dir);
    unlink(ready);
    if (h_spawn(&model, argv, ready, 10000))
        die("pcimodel");
    setenv("XLPCI_HYPERVISOR", "none", 1);      /* the CLI, as quiet_ctx */
    for (i = 0; i < HP_NM; i++) {
        hp_guest_init(xs, &g[i], i, status);
        /* assigned once before: the warm rows' record directory */
        for (whole = 0; whole < 2; whole++)
            for (c = 0; c < 2; c++) {
                series_init(&s[i][whole][c][0], runs);
                series_init(&s[i][whole][c][1], runs);
            }
        {
            unsigned long n;

            hp_run(&g[i], HP_ATTACH, 1, false, NULL, &n);
            hp_same_writes(xs, &g[i]);
            hp_run(&g[i], HP_DETACH, 1, false, NULL, &n);
        }
        for (whole = 0; whole < 2; whole++)
            for (c = 0; c < 2; c++)
                hp_iterate(xs, &g[i], c, whole, runs, errfile,
                           s[i][whole][c]);
        {
            char *num = NULL, path[XLPCI_PATH_MAX + 16];
            unsigned len;
            bool rec;
            int seen = guest_sees(status, g[i].domid);

            snprintf(path, sizeof(path), "%s/num_devs", g[i].be);
            num = xs_read(xs, XBT_NULL, path, &len);
            snprintf(path, sizeof(path), "%s/domid", g[i].record);
            free(xs_read(xs, XBT_NULL, path, &len));
            rec = errno != ENOENT;
            snprintf(ends[i], sizeof(ends[i]), "num_devs %s, guest sees %d, "
                     "record %s%s", num ? num : "(none)", seen,
                     rec ? "left" : "gone",
                     num && (unsigned)atoi(num) == g[i].m &&
                     seen == (int)g[i].m && !rec ? "" : " **WRONG**");
            free(num);
        }
    }

    printf("### (f) pci-attach and pci-detach with a connected guest\n\n"
           "One device attached to and detached from a guest holding M "
           "devices, its Reconfiguring cycles driven by the pciback/pcifront "
           "model (tests/model/pcimodel, unpatched).  *Floor*: a bare "
           "libxenstore client (bench/floor.c) given its operations: the "
           "same writes as xlpci (the ownership record included) in one "
           "transaction per step, waiting the same way (a watch on the "
           "backend's state node, on a connection of its own; the backend "
           "state, and for an attach the new index, re-read after each "
           "batch of events).  *Warm*: the "
           "device was assigned before (its /libxl/pci/<bdf> directory "
           "exists); *cold*: first assignment since boot (the floor makes "
           "the directory with one mkdir outside its transaction).  *In "
           "process*: `xlpci_attach`/`xlpci_detach` on a fresh context "
           "against the floor's code in the bench's process; *whole "
           "process*: the CLI (`xlpci pci-attach D BDF`, "
           "XLPCI_HYPERVISOR=none) against the floor as a program linked "
           "with libxenstore only (fork to exit).  %d iterations, both in "
           "rotating order; ratios per iteration, median (IQR).  Requests: "
           "median, in process.\n\n"
           "| M | operation | floor ms | xlpci ms | xlpci / floor (IQR) | "
           "requests floor / xlpci | whole process: floor ms | xlpci ms | "
           "xlpci / floor (IQR) |\n"
           "|---|---|---|---|---|---|---|---|---|\n", runs);
    for (i = 0; i < HP_NM; i++) {
        for (k = 0; k < 3; k++) {
            /* warm attach, cold attach, detach (after the warm attach) */
            int cold = k == 1, op = k == 2;
            hp_series *in = &s[i][0][cold][op], *wh = &s[i][1][cold][op];
            double ri = median(in->ratio, runs), rw = median(wh->ratio, runs);

            printf("| %u | %s | %.2f | %.2f | **%.2f** (%.2f-%.2f) | "
                   "%.0f / %.0f | %.2f | %.2f | **%.2f** (%.2f-%.2f) |\n",
                   g[i].m, hp_op_names[k], median(in->ms[0], runs),
                   median(in->ms[1], runs), ri,
                   quantile(in->ratio, runs, .25),
                   quantile(in->ratio, runs, .75), median(in->req[0], runs),
                   median(in->req[1], runs), median(wh->ms[0], runs),
                   median(wh->ms[1], runs), rw,
                   quantile(wh->ratio, runs, .25),
                   quantile(wh->ratio, runs, .75));
            if (k != 1) {
                targets[i][0][op] = ri;
                targets[i][1][op] = rw;
            }
        }
    }
    printf("\nEnd states (after every row): ");
    for (i = 0; i < HP_NM; i++)
        printf("%sM = %u: %s", i ? "; " : "", g[i].m, ends[i]);
    printf(".  Load after the section: %s.\n\n", loadavg());
    printf("Targets (warm attach and detach, in process and whole process: "
           "at most 1.3x the floor with M = 1, 1.6x with M = 32): ");
    for (i = 0; i < HP_NM; i++) {
        double t = g[i].m == 1 ? 1.3 : g[i].m == 32 ? 1.6 : 0;

        if (!t)
            continue;
        printf("M = %u attach %.2f %s / %.2f %s, detach %.2f %s / %.2f %s%s",
               g[i].m, targets[i][0][0], met(targets[i][0][0], t),
               targets[i][1][0], met(targets[i][1][0], t),
               targets[i][0][1], met(targets[i][0][1], t),
               targets[i][1][1], met(targets[i][1][1], t),
               g[i].m == 32 ? ".\n\n" : "; ");
    }
    fflush(stdout);
    h_stop(model);
    for (i = 0; i < HP_NM; i++) {
        for (whole = 0; whole < 2; whole++)
            for (c = 0; c < 2; c++) {
                series_dispose(&s[i][whole][c][0]);
                series_dispose(&s[i][whole][c][1]);
            }
        hp_guest_dispose(&g[i]);
    }
    xs_close(xs);
    xsd_stop(&d);
}

/*
 * libxlpci benchmarks, (c) K processes running pci-attach on one domain,
 * with and without the pciback/pcifront model, on C xenstored and on
 * oxenstored with test-eagain (bench/README.md; the shared parts are in
 * common.c, main in bench.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static int runs_c;                    /* repeats per row, at most 32 */

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

    xs = bench_daemon(&d, o);
    snprintf(label, sizeof(label), "%s + model (Reconfiguring cycles)",
             store);
    conc_rows(xs, label, dir, true);
    snprintf(label, sizeof(label), "%s, backend Initialising (appends)",
             store);
    conc_rows(xs, label, dir, false);
    xs_close(xs);
    xsd_stop(&d);
}

/* (c): the heading, then the rows of each daemon. */
void bench_concurrent_section(const char *dir, int runs, bool only_ox)
{
    struct xsd_opts ox = { .ox = 1, .test_eagain = 1 };

    runs_c = runs;
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

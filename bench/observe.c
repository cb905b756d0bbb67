/*
 * libxlpci benchmarks, (b) what a watcher on the backend directory can
 * observe while each writer works (bench/README.md; the shared parts are
 * in common.c, main in bench.c).
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

static int runs_b;                    /* runs per writer and watcher */

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

/* (b) */
void bench_observe_section(struct xs_handle *xs, const char *dir, int runs)
{
    runs_b = runs;
    bench_observe(xs, dir);
}

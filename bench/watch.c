/*
 * libxlpci benchmarks, (h) the watcher's reaction (see bench/README.md):
 * `xlpci watch` (the CLI as an admin runs it, XLPCI_HYPERVISOR=none, no
 * xen-pciback) against a floor process doing the least any watcher must
 * do: on @introduceDomain or @releaseDomain, one listing of /local/domain
 * compared with the domains it knew, the new domain's name read, then the
 * create's writes in one transaction on a fresh connection, no other
 * reads (floor_ops: the same layout and records as xlpci_create), or for a
 * death the same removal in one transaction.  On a host with M = 0, 32,
 * 128 other guests (named domains with a connected backend of 2 devices
 * each).  Each iteration, both in rotating order: a domain appears
 * (XS_INTRODUCE; "web", whose device list the watcher has, 3 devices, or
 * "floor", the floor's, 3 other devices), then dies (its /local/domain
 * goes, then Xen's domain: the shim's dead file, @releaseDomain).  Timed
 * by the bench from just before the introduction to the moment a watch
 * of its own reads num_devs = 3, and from just before the death to the
 * moment the backend is gone.  Both processes see every event, so the
 * work in the background is the same for both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define WATCH_DEVS  3
#define OTHERS_DOM0 1000              /* domids of the other guests */
#define ITER_DOM0   100               /* domids of the measured domains */
#define WEB_BUS     0x03              /* the watcher's devices */
#define FLOOR_BUS   0x13              /* the floor's */

/* ---- the floor ---------------------------------------------------------------- */

/* The floor's writes for domain d (create) or its removal. */
static void floor_create_ops(xlpci_ops *ops, unsigned d)
{
    xlpci_dev devs[WATCH_DEVS];
    xlpci_spec specs[WATCH_DEVS];

    xlpci_ops_init(ops);
    make_devs(devs, specs, WATCH_DEVS, FLOOR_BUS);
    specs_dispose(specs, WATCH_DEVS);
    if (floor_ops(ops, d, "floor", devs, WATCH_DEVS))
        die("floor_ops");
}

static void floor_remove_ops(xlpci_ops *ops, unsigned d)
{
    char path[XLPCI_PATH_MAX];
    xlpci_dev devs[WATCH_DEVS];
    xlpci_spec specs[WATCH_DEVS];
    unsigned i;

    xlpci_ops_init(ops);
    make_devs(devs, specs, WATCH_DEVS, FLOOR_BUS);
    specs_dispose(specs, WATCH_DEVS);
    snprintf(path, sizeof(path), BE_ROOT "/%u", d);
    if (xlpci_ops_rm(ops, path))
        die("ops");
    for (i = 0; i < WATCH_DEVS; i++) {
        xlpci_libxl_path(path, &devs[i].bdf, "domid");
        if (xlpci_ops_rm(ops, path))
            die("ops");
    }
}

/* The floor process: until SIGTERM. */
static void floor_main(const char *ready)
{
    struct xs_handle *xs = xs_open(0);
    xlpci_domset known, now, born, gone, mine;
    char **names, **ev, path[64], *v;
    unsigned n, len;
    size_t i;
    xlpci_ops ops;
    FILE *f;

    if (!xs || !xs_watch(xs, "@introduceDomain", "f") ||
        !xs_watch(xs, "@releaseDomain", "f"))
        _exit(1);
    xlpci_domset_init(&known);
    xlpci_domset_init(&now);
    xlpci_domset_init(&born);
    xlpci_domset_init(&gone);
    xlpci_domset_init(&mine);
    names = xs_directory(xs, XBT_NULL, "/local/domain", &n);
    if (names)
        xlpci_domset_from_names(&known, names, n);
    free(names);
    f = fopen(ready, "w");
    if (f)
        fclose(f);
    for (;;) {
        ev = xs_read_watch(xs, &n);    /* blocks */
        if (!ev)
            _exit(1);
        free(ev);
        while ((ev = xs_check_watch(xs)))
            free(ev);
        names = xs_directory(xs, XBT_NULL, "/local/domain", &n);
        xlpci_domset_from_names(&now, names, names ? n : 0);
        free(names);
        xlpci_domset_diff(&known, &now, &born, &gone);
        for (i = 0; i < born.n; i++) {
            snprintf(path, sizeof(path), "/local/domain/%u/name",
                     born.v[i]);
            v = xs_read(xs, XBT_NULL, path, &len);
            if (v && !strcmp(v, "floor")) {
                floor_create_ops(&ops, born.v[i]);
                run_floor(&ops);
                xlpci_ops_dispose(&ops);
                xlpci_domset_add(&mine, born.v[i]);
            }
            free(v);
        }
        for (i = 0; i < gone.n; i++) {
            if (!xlpci_domset_del(&mine, gone.v[i]))
                continue;
            floor_remove_ops(&ops, gone.v[i]);
            run_floor(&ops);
            xlpci_ops_dispose(&ops);
        }
        xlpci_domset_copy(&known, &now);
    }
}

/* ---- the measures ----------------------------------------------------------- */

/* Wait until path holds want (NULL: absent), on a watch; false after 10 s. */
static bool wait_node(struct xs_handle *w, const char *path, const char *want)
{
    double end = now_us() + 10e6;
    unsigned len, n;
    char **ev;

    if (!xs_watch(w, path, "b"))
        die("watch");
    for (;;) {
        char *v = xs_read(w, XBT_NULL, path, &len);
        bool ok = want ? v && !strcmp(v, want) : !v;
        struct pollfd pfd = { .fd = xs_fileno(w), .events = POLLIN };

        free(v);
        if (ok || now_us() > end) {
            xs_unwatch(w, path, "b");
            while ((ev = xs_check_watch(w)))
                free(ev);
            return ok;
        }
        poll(&pfd, 1, 100);
        while ((ev = xs_check_watch(w)))
            free(ev);
        (void)n;
    }
}

/* One domain's life: appears (ms to its backend), dies (ms to its
 * backend's removal). */
static void life(struct xs_handle *xs, struct xs_handle *w, struct xsd *d,
                 unsigned domid, const char *name, double *appear,
                 double *death)
{
    char path[96];
    double t0;

    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    if (!xs_write(xs, XBT_NULL, path, name, strlen(name)))
        die("write name");
    snprintf(path, sizeof(path), BE_ROOT "/%u/0/num_devs", domid);
    t0 = now_us();
    if (xsd_introduce(xs, domid))
        die("introduce");
    if (!wait_node(w, path, "3")) {
        fprintf(stderr, "bench: (h) domain %u (%s) got no backend\n", domid,
                name);
        exit(1);
    }
    *appear = (now_us() - t0) / 1000;
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    t0 = now_us();
    if (!xs_rm(xs, XBT_NULL, path) || xsd_kill(d, domid))
        die("kill");
    snprintf(path, sizeof(path), BE_ROOT "/%u", domid);
    if (!wait_node(w, path, NULL)) {
        fprintf(stderr, "bench: (h) domain %u (%s) was not released\n",
                domid, name);
        exit(1);
    }
    *death = (now_us() - t0) / 1000;
}

static pid_t start_floor(const char *dir)
{
    char ready[300];
    struct stat st;
    double end = now_us() + 10e6;
    pid_t pid;

    snprintf(ready, sizeof(ready), "%s/floor.ready", dir);
    unlink(ready);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        die("fork");
    if (!pid)
        floor_main(ready);
    while (stat(ready, &st)) {
        if (now_us() > end)
            die("the floor did not start");
        usleep(2000);
    }
    return pid;
}

static pid_t start_watcher(const char *dir)
{
    char gdir[300], cfg[320], log[300], nosys[300], state[300];
    char *argv[] = { (char *)h_prog("xlpci"), (char *)"-v", (char *)"watch",
                     (char *)"-g", gdir, NULL };
    double end = now_us() + 10e6;
    pid_t pid;
    FILE *f;

    snprintf(gdir, sizeof(gdir), "%s/guests", dir);
    snprintf(cfg, sizeof(cfg), "%s/web.cfg", gdir);
    snprintf(log, sizeof(log), "%s/watch.log", dir);
    snprintf(nosys, sizeof(nosys), "%s/nosys", dir);
    snprintf(state, sizeof(state), "%s/state", dir);
    mkdir(gdir, 0755);
    f = fopen(cfg, "w");
    if (!f)
        die("web.cfg");
    fprintf(f, "pci = [ \"%02x:00.0\", \"%02x:00.1\", \"%02x:01.0\" ]\n",
            WEB_BUS, WEB_BUS, WEB_BUS);
    fclose(f);
    unlink(log);
    setenv("XLPCI_HYPERVISOR", "none", 1);
    setenv("XLPCI_SYSFS_ROOT", nosys, 1);
    setenv("XLPCI_STATE_DIR", state, 1);
    if (h_spawn_to(&pid, argv, NULL, 0, log))
        die("xlpci watch");
    for (;;) {
        FILE *l = fopen(log, "r");
        char line[512];
        bool ready = false;

        while (l && fgets(line, sizeof(line), l))
            ready |= strstr(line, "watching the domains") != NULL;
        if (l)
            fclose(l);
        if (ready)
            return pid;
        if (now_us() > end)
            die("xlpci watch did not start");
        usleep(2000);
    }
}

void bench_watch_section(const char *dir, int runs)
{
    static const unsigned hosts[] = { 0, 32, 128 };
    double *wa = xcalloc(runs, sizeof(double));
    double *wd = xcalloc(runs, sizeof(double));
    double *fa = xcalloc(runs, sizeof(double));
    double *fd = xcalloc(runs, sizeof(double));
    double ra[3], rd[3];
    char dead[300];
    unsigned have = 0, domid = ITER_DOM0;
    size_t h;
    int i;

    printf("\n### (h) The watcher: a domain appears -> its backend "
           "committed; it dies -> released\n\n"
           "`xlpci watch` (the CLI, no hypervisor, no xen-pciback: the "
           "xenstore path only) against a floor process that does the "
           "least any watcher must on each event: one listing of "
           "/local/domain, the new domain's name, then the same writes as "
           "the create (or the removal) in one transaction on a fresh "
           "connection, no other reads.  Both run side by side and see "
           "every event; each iteration a domain of each appears "
           "(XS_INTRODUCE) and dies (@releaseDomain through the shim's "
           "dead file), in rotating order; timed by the bench from just "
           "before the event to its own watch seeing the result.  %d "
           "iterations per host size M (other guests: named domains with "
           "a connected backend of 2 devices); milliseconds, median "
           "(interquartile range); ratio: watcher / floor, per "
           "iteration.\n\n", runs);
    printf("| M other guests | appear -> backend: watcher | floor | ratio "
           "| dies -> released: watcher | floor | ratio |\n"
           "|---|---|---|---|---|---|---|\n");
    for (h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
        struct xsd_opts o = { 0 };
        struct xs_handle *xs, *w;
        struct xsd d;
        pid_t floor_pid, watch_pid;
        double *r1 = xcalloc(runs, sizeof(double));
        double *r2 = xcalloc(runs, sizeof(double));

        snprintf(dead, sizeof(dead), "%s/dead", dir);
        unlink(dead);
        o.dead_file = dead;
        xs = bench_daemon(&d, &o);
        w = xs_open(0);
        if (!w)
            die("xs_open");
        for (have = 0; have < hosts[h]; have++)
            add_connected_guest(xs, OTHERS_DOM0 + have, 0x80 + have, 2);
        floor_pid = start_floor(dir);
        watch_pid = start_watcher(dir);
        for (i = 0; i < runs; i++) {
            if (i % 2) {
                life(xs, w, &d, domid++, "floor", &fa[i], &fd[i]);
                life(xs, w, &d, domid++, "web", &wa[i], &wd[i]);
            } else {
                life(xs, w, &d, domid++, "web", &wa[i], &wd[i]);
                life(xs, w, &d, domid++, "floor", &fa[i], &fd[i]);
            }
            r1[i] = wa[i] / fa[i];
            r2[i] = wd[i] / fd[i];
        }
        if (h_stop(watch_pid))
            die("xlpci watch exited with an error");
        kill(floor_pid, SIGTERM);
        waitpid(floor_pid, NULL, 0);
        ra[h] = median(wa, runs);
        rd[h] = median(wd, runs);
        printf("| %u | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f | "
               "%.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.2f |\n", hosts[h],
               median(wa, runs), quantile(wa, runs, .25),
               quantile(wa, runs, .75), median(fa, runs),
               quantile(fa, runs, .25), quantile(fa, runs, .75),
               median(r1, runs), median(wd, runs), quantile(wd, runs, .25),
               quantile(wd, runs, .75), median(fd, runs),
               quantile(fd, runs, .25), quantile(fd, runs, .75),
               median(r2, runs));
        fflush(stdout);
        free(r1);
        free(r2);
        xs_close(w);
        xs_close(xs);
        xsd_stop(&d);
        domid = ITER_DOM0;
    }
    printf("\nThe watcher's medians against M = 0 (independent of the "
           "other guests: near 1): appear %.2f at M = 32, %.2f at M = 128; "
           "release %.2f and %.2f.  Target: within 100 ms of the event on "
           "an idle host (appear %.1f ms, release %.1f ms at M = 128).\n",
           ra[1] / ra[0], ra[2] / ra[0], rd[1] / rd[0], rd[2] / rd[0],
           ra[2], rd[2]);
    unsetenv("XLPCI_HYPERVISOR");
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    free(wa);
    free(wd);
    free(fa);
    free(fd);
}

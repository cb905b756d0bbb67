/*
 * fakesysfs - a sysfs PCI tree for tests, and a small "kernel" that
 * applies what writes to its control files do, as a separate process
 * (the library under test only sees files, as on a real dom0).
 *
 *   fakesysfs --root DIR --ready FILE [--device BDF[=DRIVER]]...
 *             [--fail-bind BDF]...   (pciback refuses to bind BDF)
 *             [--log FILE]           (append the resets and permissive
 *                                     writes: "do_flr BDF", "reset BDF",
 *                                     "permissive BDF", one a line)
 *             [--no-flr]             (no pciback/do_flr: an older kernel)
 *             [--no-reset]           (no devices/<bdf>/reset either)
 *             [--sriov PF=TOTAL[,OFFSET,STRIDE]]...
 *                                    (PF, also given with --device, is an
 *                                     SR-IOV physical function of TOTAL
 *                                     VFs; offset and stride default to 1)
 *
 * DIR/bus/pci/devices/<bdf>/          resource, irq, reset;
 *                                     driver -> ../../drivers/D
 * DIR/bus/pci/drivers/<D>/            bind, unbind, <bdf> -> ../../devices/<bdf>
 * DIR/bus/pci/drivers/pciback/        also new_slot, remove_slot, slots,
 *                                     do_flr, permissive
 *
 * DIR/bus/pci/devices/<pf>/           also sriov_totalvfs, sriov_numvfs,
 *                                     sriov_offset, sriov_stride,
 *                                     sriov_drivers_autoprobe, virtfnK ->
 *                                     ../<vf K>
 * DIR/bus/pci/devices/<vf>/           resource, irq (0: a VF has no INTx),
 *                                     physfn -> ../<pf>
 *
 * On close after a write (inotify IN_CLOSE_WRITE) it does what the kernel
 * does: unbind drops both links, bind makes them (pciback only for a BDF
 * in slots; never for a --fail-bind BDF), new_slot/remove_slot edit slots;
 * do_flr, reset and permissive are logged (--log).  sriov_numvfs: N > 0
 * (from 0) makes the VFs, on no driver; 0 removes them, unbound from
 * whatever driver had them (as a PF driver that does not refuse while
 * VFs are assigned: pci-pf-stub refuses, with EPERM); a value it refuses
 * (above TOTAL, or N > 0 while VFs exist) is put back.  Each change is
 * logged: "sriov_numvfs <pf> N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXW 32

static char root[PATH_MAX];
static const char *logfile;
static bool no_flr, no_reset;
static char *fail_bind[16];
static int nfail;
static volatile sig_atomic_t stop;
static struct { int wd; char drv[64]; } watches[MAXW];
static int nwatches, ifd;

/* SR-IOV physical functions (--sriov), their directories watched */
#define MAXPF 4
static struct {
    char bdf[32];
    unsigned total, offset, stride, num;
    int wd;
} pfs[MAXPF];
static int npfs;

static void on_signal(int sig) { (void)sig; stop = 1; }

/* snprintf's result n into a buffer of size bytes: a path that does not
 * fit ends the fake (the test sees it exit) instead of being used cut. */
static void fits(int n, size_t size)
{
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "fakesysfs: a path under %s is too long\n", root);
        exit(2);
    }
}

static void pathf(char *buf, const char *fmt, const char *a, const char *b)
{
    char tail[PATH_MAX];

    fits(snprintf(tail, sizeof(tail), fmt, a, b), sizeof(tail));
    fits(snprintf(buf, PATH_MAX, "%s/bus/pci/%s", root, tail), PATH_MAX);
}

static int put(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -1;
    fputs(content, f);
    return fclose(f);
}

/* Write-only control files whose every write counts (do_flr, permissive,
 * reset) are FIFOs, drained by the main loop: a regular file would show
 * only the last of two quick writes. */
#define MAXP 40
static struct { int fd; char what[16]; char bdf[32]; } pipes[MAXP];
static int npipes;

static void add_pipe(const char *rel, const char *what, const char *bdf)
{
    char p[PATH_MAX];

    if (npipes == MAXP)
        return;
    fits(snprintf(p, sizeof(p), "%s/bus/pci/%s", root, rel), sizeof(p));
    unlink(p);
    if (mkfifo(p, 0644))
        return;
    pipes[npipes].fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (pipes[npipes].fd < 0)
        return;
    snprintf(pipes[npipes].what, sizeof(pipes[0].what), "%s", what);
    snprintf(pipes[npipes].bdf, sizeof(pipes[0].bdf), "%s", bdf ? bdf : "");
    npipes++;
}

static void log_line(const char *what, const char *bdf);

/* What was written to pipe k: BDFs ("dddd:bb:dd.f", no separator) or,
 * for a device's reset, "1"s. */
static void drain(int k)
{
    char buf[4096];
    ssize_t n = read(pipes[k].fd, buf, sizeof(buf) - 1);
    ssize_t i;

    if (n <= 0)
        return;
    buf[n] = '\0';
    if (pipes[k].bdf[0]) {
        for (i = 0; i < n; i++)
            if (buf[i] == '1')
                log_line(pipes[k].what, pipes[k].bdf);
        return;
    }
    for (i = 0; i + 12 <= n; i += 12) {
        char bdf[13];

        memcpy(bdf, buf + i, 12);
        bdf[12] = '\0';
        log_line(pipes[k].what, bdf);
    }
}

static void add_driver(const char *drv)
{
    char p[PATH_MAX];
    int i;

    for (i = 0; i < nwatches; i++)
        if (!strcmp(watches[i].drv, drv))
            return;
    pathf(p, "drivers/%s%s", drv, "");
    mkdir(p, 0755);
    pathf(p, "drivers/%s/bind%s", drv, "");
    put(p, "");
    pathf(p, "drivers/%s/unbind%s", drv, "");
    put(p, "");
    if (!strcmp(drv, "pciback")) {
        pathf(p, "drivers/%s/new_slot%s", drv, "");
        put(p, "");
        pathf(p, "drivers/%s/remove_slot%s", drv, "");
        put(p, "");
        pathf(p, "drivers/%s/slots%s", drv, "");
        put(p, "");
        add_pipe("drivers/pciback/permissive", "permissive", NULL);
        if (!no_flr)
            add_pipe("drivers/pciback/do_flr", "do_flr", NULL);
    }
    pathf(p, "drivers/%s%s", drv, "");
    if (nwatches < MAXW) {
        watches[nwatches].wd = inotify_add_watch(ifd, p, IN_CLOSE_WRITE);
        snprintf(watches[nwatches].drv, sizeof(watches[0].drv), "%s", drv);
        nwatches++;
    }
}

static bool bound(const char *bdf)
{
    char p[PATH_MAX];
    struct stat st;

    pathf(p, "devices/%s/driver%s", bdf, "");
    return !lstat(p, &st);
}

static void do_bind(const char *drv, const char *bdf)
{
    char p[PATH_MAX], t[PATH_MAX];
    struct stat st;
    int i;

    pathf(p, "devices/%s%s", bdf, "");
    if (stat(p, &st) || bound(bdf))
        return;                        /* -ENODEV / -EBUSY */
    for (i = 0; i < nfail && !strcmp(drv, "pciback"); i++)
        if (!strcmp(fail_bind[i], bdf))
            return;                    /* pciback refuses this one */
    if (!strcmp(drv, "pciback")) {     /* pcistub: only known slots */
        char line[64];
        bool found = false;
        FILE *f;

        pathf(p, "drivers/pciback/slots%s%s", "", "");
        f = fopen(p, "r");
        while (f && !found && fgets(line, sizeof(line), f))
            found = !strncmp(line, bdf, strlen(bdf));
        if (f)
            fclose(f);
        if (!found)
            return;
    }
    pathf(p, "drivers/%s/%s", drv, bdf);
    fits(snprintf(t, sizeof(t), "../../devices/%s", bdf), sizeof(t));
    if (symlink(t, p))
        return;
    pathf(p, "devices/%s/driver%s", bdf, "");
    fits(snprintf(t, sizeof(t), "../../drivers/%s", drv), sizeof(t));
    if (symlink(t, p))
        return;
}

static void do_unbind(const char *drv, const char *bdf)
{
    char p[PATH_MAX];

    pathf(p, "drivers/%s/%s", drv, bdf);
    if (unlink(p))
        return;
    pathf(p, "devices/%s/driver%s", bdf, "");
    unlink(p);
}

static void edit_slots(const char *bdf, bool add)
{
    char p[PATH_MAX], line[64], buf[8192] = "";
    bool found = false;
    FILE *f;

    pathf(p, "drivers/pciback/slots%s%s", "", "");
    f = fopen(p, "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, bdf, strlen(bdf))) {
            found = true;
            if (!add)
                continue;
        }
        strncat(buf, line, sizeof(buf) - strlen(buf) - 1);
    }
    if (f)
        fclose(f);
    if (add && !found) {
        strncat(buf, bdf, sizeof(buf) - strlen(buf) - 2);
        strcat(buf, "\n");
    }
    put(p, buf);
}

static void log_line(const char *what, const char *bdf)
{
    FILE *f;

    if (!logfile || !(f = fopen(logfile, "a")))
        return;
    fprintf(f, "%s %s\n", what, bdf);
    fclose(f);
}

/* VF k of PF i: its BDF (the kernel's pci_iov_virtfn_bus/_devfn) */
static void vf_bdf(int i, unsigned k, char *out, size_t len)
{
    unsigned seg, bus, dev, fn, rid;

    if (sscanf(pfs[i].bdf, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
        seg = bus = dev = fn = 0;
    rid = (bus << 8 | dev << 3 | fn) + pfs[i].offset + k * pfs[i].stride;
    snprintf(out, len, "%04x:%02x:%02x.%x", seg, rid >> 8 & 0xff,
             rid >> 3 & 0x1f, rid & 7);
}

static void put_num(int i, unsigned n)
{
    char p[PATH_MAX], v[16];

    pathf(p, "devices/%s/sriov_numvfs%s", pfs[i].bdf, "");
    snprintf(v, sizeof(v), "%u\n", n);
    put(p, v);
}

static void sriov_change(int i)
{
    char p[PATH_MAX], t[PATH_MAX], vf[32], line[32] = "", drv[PATH_MAX];
    char kn[16];
    unsigned n, k;
    FILE *f;
    ssize_t l;

    pathf(p, "devices/%s/sriov_numvfs%s", pfs[i].bdf, "");
    f = fopen(p, "r");
    if (!f)
        return;
    if (!fgets(line, sizeof(line), f) || sscanf(line, "%u", &n) != 1)
        n = pfs[i].num;
    fclose(f);
    if (n == pfs[i].num)
        return;
    if (n > pfs[i].total || (n && pfs[i].num)) {
        put_num(i, pfs[i].num);        /* -ERANGE, -EBUSY */
        return;
    }
    for (k = 0; k < pfs[i].num && !n; k++) {      /* disable */
        vf_bdf(i, k, vf, sizeof(vf));
        pathf(p, "devices/%s/driver%s", vf, "");
        l = readlink(p, drv, sizeof(drv) - 1);
        if (l > 0) {
            drv[l] = '\0';
            do_unbind(strrchr(drv, '/') + 1, vf);
        }
        pathf(p, "devices/%s/physfn%s", vf, "");
        unlink(p);
        pathf(p, "devices/%s/resource%s", vf, "");
        unlink(p);
        pathf(p, "devices/%s/irq%s", vf, "");
        unlink(p);
        pathf(p, "devices/%s%s", vf, "");
        rmdir(p);
        snprintf(kn, sizeof(kn), "%u", k);
        pathf(p, "devices/%s/virtfn%s", pfs[i].bdf, kn);
        unlink(p);
    }
    for (k = 0; k < n; k++) {                     /* enable */
        vf_bdf(i, k, vf, sizeof(vf));
        pathf(p, "devices/%s%s", vf, "");
        mkdir(p, 0755);
        pathf(p, "devices/%s/resource%s", vf, "");
        put(p, "0x00000000fe100000 0x00000000fe103fff 0x0000000000040200\n");
        pathf(p, "devices/%s/irq%s", vf, "");
        put(p, "0\n");
        pathf(p, "devices/%s/physfn%s", vf, "");
        fits(snprintf(t, sizeof(t), "../%s", pfs[i].bdf), sizeof(t));
        if (symlink(t, p))
            break;
        snprintf(kn, sizeof(kn), "%u", k);
        pathf(p, "devices/%s/virtfn%s", pfs[i].bdf, kn);
        fits(snprintf(t, sizeof(t), "../%s", vf), sizeof(t));
        if (symlink(t, p))
            break;
    }
    pfs[i].num = k;                    /* the VFs made */
    fits(snprintf(t, sizeof(t), "%s %u", pfs[i].bdf, k), sizeof(t));
    log_line("sriov_numvfs", t);
}

static void add_pf(const char *spec)
{
    char p[PATH_MAX], v[16];
    unsigned total = 0, off = 1, stride = 1;
    const char *eq = strchr(spec, '=');

    if (!eq || npfs == MAXPF || sscanf(eq + 1, "%u,%u,%u", &total, &off,
                                       &stride) < 1)
        return;
    snprintf(pfs[npfs].bdf, sizeof(pfs[0].bdf), "%.*s", (int)(eq - spec),
             spec);
    pfs[npfs].total = total;
    pfs[npfs].offset = off;
    pfs[npfs].stride = stride;
    pfs[npfs].num = 0;
    snprintf(v, sizeof(v), "%u\n", total);
    pathf(p, "devices/%s/sriov_totalvfs%s", pfs[npfs].bdf, "");
    put(p, v);
    snprintf(v, sizeof(v), "%u\n", off);
    pathf(p, "devices/%s/sriov_offset%s", pfs[npfs].bdf, "");
    put(p, v);
    snprintf(v, sizeof(v), "%u\n", stride);
    pathf(p, "devices/%s/sriov_stride%s", pfs[npfs].bdf, "");
    put(p, v);
    pathf(p, "devices/%s/sriov_drivers_autoprobe%s", pfs[npfs].bdf, "");
    put(p, "1\n");
    put_num(npfs, 0);
    pathf(p, "devices/%s%s", pfs[npfs].bdf, "");
    pfs[npfs].wd = inotify_add_watch(ifd, p, IN_CLOSE_WRITE);
    npfs++;
}

static void handle(const char *drv, const char *file)
{
    char p[PATH_MAX], bdf[64] = "";
    FILE *f;

    if (strcmp(file, "bind") && strcmp(file, "unbind") &&
        strcmp(file, "new_slot") && strcmp(file, "remove_slot"))
        return;                        /* slots is written by us */
    pathf(p, "drivers/%s/%s", drv, file);
    f = fopen(p, "r");
    if (!f)
        return;
    if (!fgets(bdf, sizeof(bdf), f)) {
        fclose(f);
        return;                        /* our own truncation */
    }
    fclose(f);
    bdf[strcspn(bdf, "\n")] = '\0';
    if (truncate(p, 0))                /* the next write's BDF alone */
        fprintf(stderr, "fakesysfs: truncate %s: %s\n", p, strerror(errno));
    if (!strcmp(file, "bind"))
        do_bind(drv, bdf);
    else if (!strcmp(file, "unbind"))
        do_unbind(drv, bdf);
    else if (!strcmp(file, "new_slot"))
        edit_slots(bdf, true);
    else if (!strcmp(file, "remove_slot"))
        edit_slots(bdf, false);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "root", required_argument, NULL, 'r' },
        { "ready", required_argument, NULL, 'y' },
        { "device", required_argument, NULL, 'd' },
        { "fail-bind", required_argument, NULL, 'f' },
        { "log", required_argument, NULL, 'l' },
        { "no-flr", no_argument, NULL, 'F' },
        { "no-reset", no_argument, NULL, 'R' },
        { "sriov", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    char *devs[64], *sriov[MAXPF], p[PATH_MAX];
    int nsriov = 0;
    const char *ready = NULL;
    int ndevs = 0, c, i;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            fits(snprintf(root, sizeof(root), "%s", optarg), sizeof(root));
            break;
        case 'y': ready = optarg; break;
        case 'd': if (ndevs < 64) devs[ndevs++] = optarg; break;
        case 'f': if (nfail < 16) fail_bind[nfail++] = optarg; break;
        case 'l': logfile = optarg; break;
        case 'F': no_flr = true; break;
        case 'R': no_reset = true; break;
        case 's': if (nsriov < MAXPF) sriov[nsriov++] = optarg; break;
        default: return 2;
        }
    }
    if (!root[0])
        return 2;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    ifd = inotify_init1(IN_CLOEXEC);
    fits(snprintf(p, sizeof(p), "mkdir -p '%s/bus/pci/devices' "
                  "'%s/bus/pci/drivers'", root, root), sizeof(p));
    if (ifd < 0 || system(p))
        return 1;
    add_driver("pciback");
    for (i = 0; i < ndevs; i++) {
        char *eq = strchr(devs[i], '=');

        if (eq)
            *eq = '\0';
        pathf(p, "devices/%s%s", devs[i], "");
        mkdir(p, 0755);
        pathf(p, "devices/%s/resource%s", devs[i], "");
        put(p, "0x00000000fe000000 0x00000000fe01ffff 0x0000000000040200\n"
               "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
               "0x000000000000c000 0x000000000000c03f 0x0000000000040101\n");
        pathf(p, "devices/%s/irq%s", devs[i], "");
        put(p, "11\n");
        if (!no_reset) {
            char rel[PATH_MAX];

            fits(snprintf(rel, sizeof(rel), "devices/%s/reset", devs[i]),
                 sizeof(rel));
            add_pipe(rel, "reset", devs[i]);
        }
        if (eq) {
            add_driver(eq + 1);
            if (!strcmp(eq + 1, "pciback"))
                edit_slots(devs[i], true);
            do_bind(eq + 1, devs[i]);
        }
    }
    for (i = 0; i < nsriov; i++)
        add_pf(sriov[i]);
    if (ready && put(ready, "") < 0)
        return 1;
    while (!stop) {
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        struct pollfd pfd[1 + MAXP];
        ssize_t n;
        char *q;
        int k;

        pfd[0].fd = ifd;
        pfd[0].events = POLLIN;
        for (k = 0; k < npipes; k++) {
            pfd[1 + k].fd = pipes[k].fd;
            pfd[1 + k].events = POLLIN;
        }
        if (poll(pfd, (nfds_t)(1 + npipes), 200) <= 0)
            continue;
        for (k = 0; k < npipes; k++)
            if (pfd[1 + k].revents & POLLIN)
                drain(k);
        if (!(pfd[0].revents & POLLIN))
            continue;
        n = read(ifd, buf, sizeof(buf));
        for (q = buf; n > 0 && q < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)q;

            for (i = 0; i < nwatches; i++)
                if (watches[i].wd == ev->wd && ev->len)
                    handle(watches[i].drv, ev->name);
            for (i = 0; i < npfs; i++)
                if (pfs[i].wd == ev->wd && ev->len &&
                    !strcmp(ev->name, "sriov_numvfs"))
                    sriov_change(i);
            q += sizeof(*ev) + ev->len;
        }
    }
    close(ifd);
    return 0;
}

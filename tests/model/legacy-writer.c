/*
 * legacy-writer - writes a domain's PCI devices the way libxl 4.15-4.17
 * does at domain creation (libxl__device_pci_add_xenstore, once per
 * device): num_devs read OUTSIDE the transaction, then one transaction per
 * device, the first one creating both directories with num_devs = 1; then
 * /libxl/pci/<bdf>/domid outside any transaction, as libxl writes it.
 *
 *   legacy-writer [--wait-probe] [--delay-ms N] <domid> <bdf>...
 *
 * --wait-probe: after the first commit, wait until the backend has left
 * Initialising and InitWait (pciback probed it and xen_pcibk_setup_backend
 * has read num_devs) before writing the next device.  That makes
 * deterministic the race of the 2021 report: libxl's work between two
 * devices (reset, QMP, sysfs) is slower than pciback's probe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

static struct xs_handle *xs;

static bool w(xs_transaction_t t, const char *path, const char *v)
{
    return xs_write(xs, t, path, v, strlen(v));
}

static int wait_probe(const char *be)
{
    char path[256], **ev;
    struct timespec start, now;

    snprintf(path, sizeof(path), "%s/state", be);
    if (!xs_watch(xs, path, "probe"))
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        unsigned len;
        char *v = xs_read(xs, XBT_NULL, path, &len);
        bool probed = v && strcmp(v, "1") && strcmp(v, "2");
        struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };

        free(v);
        if (probed)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 30) {
            fprintf(stderr, "legacy-writer: nobody probed %s\n", be);
            return -1;
        }
        poll(&pfd, 1, 200);
        while ((ev = xs_check_watch(xs)))
            free(ev);
    }
    xs_unwatch(xs, path, "probe");
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "wait-probe", no_argument, NULL, 'w' },
        { "delay-ms", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    bool probe = false;
    int delay = 0, c, i;
    unsigned domid;
    char be[128], fe[128], path[256], val[64], *name, *num;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'w': probe = true; break;
        case 'd': delay = atoi(optarg); break;
        default: return 2;
        }
    }
    if (argc - optind < 2 || sscanf(argv[optind], "%u", &domid) != 1) {
        fprintf(stderr, "usage: legacy-writer [--wait-probe] [--delay-ms N]"
                " <domid> <bdf>...\n");
        return 2;
    }
    xs = xs_open(0);
    if (!xs) {
        perror("legacy-writer: xs_open");
        return 1;
    }
    snprintf(be, sizeof(be), "/local/domain/0/backend/pci/%u/0", domid);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/pci/0", domid);
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    {
        unsigned len;
        name = xs_read(xs, XBT_NULL, path, &len);
    }

    for (i = optind + 1; i < argc; i++) {
        unsigned seg, bus, dev, func, len, n = 0;
        xs_transaction_t t;
        bool ok;

        if (sscanf(argv[i], "%x:%x:%x.%x", &seg, &bus, &dev, &func) != 4) {
            fprintf(stderr, "legacy-writer: bad BDF %s\n", argv[i]);
            return 2;
        }
        /* read OUTSIDE the transaction, as libxl does */
        snprintf(path, sizeof(path), "%s/num_devs", be);
        num = xs_read(xs, XBT_NULL, path, &len);
        if (num)
            n = (unsigned)atoi(num);
        for (;;) {
            struct xs_permissions bp[2] = { { 0, XS_PERM_NONE },
                                            { domid, XS_PERM_READ } };
            struct xs_permissions fp[2] = { { domid, XS_PERM_NONE },
                                            { 0, XS_PERM_READ } };

            t = xs_transaction_start(xs);
            ok = t != XBT_NULL;
            if (ok && !num) {             /* libxl__create_pci_backend */
                xs_rm(xs, t, be);
                ok = xs_mkdir(xs, t, be) &&
                     xs_set_permissions(xs, t, be, bp, 2);
                xs_rm(xs, t, fe);
                ok = ok && xs_mkdir(xs, t, fe) &&
                     xs_set_permissions(xs, t, fe, fp, 2);
                snprintf(path, sizeof(path), "%s/frontend", be);
                ok = ok && w(t, path, fe);
                snprintf(path, sizeof(path), "%s/frontend-id", be);
                snprintf(val, sizeof(val), "%u", domid);
                ok = ok && w(t, path, val);
                snprintf(path, sizeof(path), "%s/online", be);
                ok = ok && w(t, path, "1");
                snprintf(path, sizeof(path), "%s/state", be);
                ok = ok && w(t, path, "1");
                snprintf(path, sizeof(path), "%s/domain", be);
                ok = ok && w(t, path, name ? name : "guest");
                snprintf(path, sizeof(path), "%s/backend", fe);
                ok = ok && w(t, path, be);
                snprintf(path, sizeof(path), "%s/backend-id", fe);
                ok = ok && w(t, path, "0");
                snprintf(path, sizeof(path), "%s/state", fe);
                ok = ok && w(t, path, "1");
            }
            snprintf(val, sizeof(val), "%04x:%02x:%02x.%01x", seg, bus, dev,
                     func);
            snprintf(path, sizeof(path), "%s/key-%u", be, n);
            ok = ok && w(t, path, val);
            snprintf(path, sizeof(path), "%s/dev-%u", be, n);
            ok = ok && w(t, path, val);
            snprintf(path, sizeof(path), "%s/opts-%u", be, n);
            ok = ok && w(t, path, "msitranslate=0,power_mgmt=0,permissive=0,"
                                  "rdm_policy=strict");
            snprintf(path, sizeof(path), "%s/state-%u", be, n);
            ok = ok && w(t, path, "1");
            snprintf(path, sizeof(path), "%s/num_devs", be);
            snprintf(val, sizeof(val), "%u", n + 1);
            ok = ok && w(t, path, val);
            if (!ok) {
                perror("legacy-writer: write");
                return 1;
            }
            if (xs_transaction_end(xs, t, false))
                break;
            if (errno != EAGAIN) {
                perror("legacy-writer: commit");
                return 1;
            }
        }
        free(num);
        /* libxl's ownership record, written outside any transaction
         * (pci_info_xs_write "domid") */
        snprintf(path, sizeof(path), "/libxl/pci/%04x-%02x-%02x-%01x/domid",
                 seg, bus, dev, func);
        snprintf(val, sizeof(val), "%u", domid);
        if (!w(XBT_NULL, path, val)) {
            perror("legacy-writer: write domid");
            return 1;
        }
        if (i == optind + 1 && probe && wait_probe(be))
            return 1;
        if (delay)
            usleep((useconds_t)delay * 1000);
    }
    free(name);
    xs_close(xs);
    return 0;
}

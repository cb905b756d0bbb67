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
 *
 * This file: main, the options and the report's heading; the sections are
 * in create.c (a), observe.c (b), concurrent.c (c), scale.c (d)(e) and
 * hotpath.c (f),
 * what they share in common.c (the floors: bench.h).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

static int runs_a = 31, runs_b = 15, runs_c = 5;
static const char *sections = "abcdefg";
static int runs_d = 15, runs_e = 3;
static bool only_ox;

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    struct utsname un;
    struct xsd d;
    char dir[256];
    double t0 = now_us();
    int c;

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
                    "[-c RUNS] [-d RUNS] [-e RUNS] [-s SECTIONS (abcdefg)] [-o (c, "
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
    if (strchr(sections, 'a'))
        bench_create_section(xs, runs_a);
    if (strchr(sections, 'b'))
        bench_observe_section(xs, dir, runs_b);
    xs_close(xs);
    xsd_stop(&d);

    if (strchr(sections, 'c'))
        bench_concurrent_section(dir, runs_c, only_ox);
    bench_scale(sections, runs_d, runs_e, only_ox);
    if (strchr(sections, 'f'))
        bench_hotpath_section(dir, runs_d);
    if (strchr(sections, 'g'))
        bench_ownership_section(runs_d);
    printf("\nWhole run: %.0f s.\n", (now_us() - t0) / 1e6);
    h_rmrf(dir);
    return 0;
}

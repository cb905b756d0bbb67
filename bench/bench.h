/*
 * libxlpci benchmarks: what the sections share (common.c) and their entry
 * points (one file per group of sections).  Every section runs on private
 * real xenstored/oxenstored daemons (tests/harness) and prints Markdown on
 * stdout.
 *
 * Module map, by floor: a file calls only into its own floor or the
 * floors above it in this list, and no files call each other round in a
 * loop (tests/pkg/test-layers reads the "[N] floor" headings and the
 * "<file>.c" lines under them, as it does for libxlpci/internal.h, and
 * checks the objects' symbols with nm).  Every .c of bench/ has its line.
 * A new section: a file of its own under [1], its entry point declared
 * below, one call in main.
 *
 * [0] shared
 *   common.c    numbers, the request accounting (ld --wrap, bench.mk),
 *               the store helpers, the writers (xlpci_create, the floor,
 *               libxl's per-device writer)
 *   floor.c     the floor of a hot path (pci-attach, pci-detach) as a
 *               plan of words: in the bench's process, and alone as
 *               the program xlpci-floor (bench.mk)
 * [1] sections
 *   create.c    (a) the create path against the floor and libxl's writer
 *   observe.c   (b) what a watcher on the backend can observe
 *   concurrent.c  (c) K processes running pci-attach on one domain
 *   scale.c     (d) host-size scaling, (e) boot storm
 *   hotpath.c   (f) pci-attach and pci-detach with a connected guest
 *   ownership.c  (g) check and destroy: what the domain holds, alone and
 *               on a host of 64 x 8, against their floors
 * [2] main
 *   bench.c     main: the options, the report's heading, the sections
 */
#ifndef XLPCI_BENCH_H
#define XLPCI_BENCH_H

#include <stdbool.h>
#include <stdio.h>

#include "harness.h"
#include "libxlpci_priv.h"

#define DOMID 5
#define BE_ROOT "/local/domain/0/backend/pci"

/* ---- common.c (floor [0]): numbers ---------------------------------------- */
double now_us(void);
/* Quantile q (0..1) of v[0..n-1], linear interpolation; sorts v. */
double quantile(double *v, int n, double q);
double median(double *v, int n);
/* Print "bench: WHAT failed: errno" and exit 1. */
void die(const char *what) __attribute__((noreturn));
void *xcalloc(size_t n, size_t size);
/* A private daemon (tests/harness; o NULL: C xenstored) and a connection
 * to it, or exit. */
struct xs_handle *bench_daemon(struct xsd *d, const struct xsd_opts *o);
/* The 1, 5 and 15 minute load averages (the machine is shared); a static
 * buffer. */
const char *loadavg(void);
/* A context that logs errors only, without hypervisor calls, with a
 * timeout; or exit. */
xlpci_ctx *quiet_ctx(unsigned timeout_ms);

/* ---- request accounting (ld --wrap around libxenstore, bench.mk) ----------- */
enum { RQ_READ, RQ_DIR, RQ_WRITE, RQ_MKDIR, RQ_RM, RQ_PERMS, RQ_GETPERMS,
       RQ_TSTART, RQ_TEND, RQ_WATCH, RQ_UNWATCH, RQ_NKINDS };
/* Reads and listings by target, relative to domain DOMID. */
enum { RD_NAME, RD_OWN, RD_LIST, RD_OTHER, RD_REC, RD_ELSE, RD_NCLASSES };
typedef struct {
    unsigned long n[RQ_NKINDS];
    double us[RQ_NKINDS];
    unsigned long rd[RD_NCLASSES];
    double rd_us[RD_NCLASSES];
} reqstat;
/* Every request of this process so far. */
extern reqstat rq;
extern const char *const rq_names[RQ_NKINDS];
extern const char *const rd_names[RD_NCLASSES];
unsigned long rq_total(const reqstat *s);
void rq_diff(reqstat *d, const reqstat *after, const reqstat *before);

/* ---- the store ------------------------------------------------------------- */
void be_path(char *buf, size_t len, unsigned domid);    /* BE_ROOT/D/0 */
void set_name(struct xs_handle *xs, unsigned domid);    /* "guest<D>" */
/* Remove one guest's backend and frontend. */
void clean_dom(struct xs_handle *xs, unsigned domid);
/* n devices on buses bus0.., functions 0 and 1 of successive slots. */
void make_devs(xlpci_dev *devs, xlpci_spec *specs, unsigned n, unsigned bus0);
void specs_dispose(xlpci_spec *specs, unsigned n);
/* Backend and frontend subtrees of a domain, one line per node. */
char *dump_dom(struct xs_handle *xs, unsigned domid);
/* Poll dir/state until it is want. */
bool wait_state(struct xs_handle *xs, const char *dir, const char *want,
                int timeout_ms);
/* Lines of the model's status file for domid (what the guest enumerated),
 * -1 if none. */
int guest_sees(const char *status_dir, unsigned domid);

/* A guest with ndev devices on buses bus0.., as pciback leaves it once
 * Connected (state 4, state-N 3, vdev-N, root-0). */
void add_connected_guest(struct xs_handle *xs, unsigned d, unsigned bus0,
                         unsigned ndev);

/* ---- writers ----------------------------------------------------------------- */
/* Called after every commit of a writer (lock-step watching in (b)). */
typedef void commit_cb(void *arg);
/* xlpci_create (no hypervisor calls); st may be NULL. */
void run_xlpci(unsigned domid, const xlpci_spec *specs, unsigned n,
               xlpci_stats *st);
/* One planned operation inside transaction t. */
bool apply(struct xs_handle *xs, xs_transaction_t t, const xlpci_op *op);
/* The floor's writes for a create: the layout of xlpci_layout_create plus
 * each device's ownership record /libxl/pci/<bdf>/domid. */
int floor_ops(xlpci_ops *ops, unsigned domid, const char *name,
              const xlpci_dev *devs, unsigned n);
/* The floor: ops in one transaction on a fresh connection, no reads,
 * redone on EAGAIN; returns the number of EAGAINs. */
unsigned run_floor(const xlpci_ops *ops);
/* libxl 4.15-4.17 coldplug: per device, num_devs read outside, then one
 * transaction; cb (may be NULL) after every commit. */
void run_per_device(unsigned domid, const xlpci_dev *devs, unsigned n,
                    commit_cb *cb, void *cbarg);

/* ---- floor.c (floor [0]) --------------------------------------------------- */
/* Run a floor's plan (words: floor.c); 0, 1 failed (said on stderr), 2 a
 * malformed plan. */
int xlpci_floor_run(int argc, char **argv);

/* ---- the sections (floor [1]), called by main ------------------------------ */
/* create.c: (a) the create path against the floor and libxl's writer. */
void bench_create_section(struct xs_handle *xs, int runs);
/* observe.c: (b) what a watcher on the backend can observe. */
void bench_observe_section(struct xs_handle *xs, const char *dir, int runs);
/* concurrent.c: (c) K processes running pci-attach on one domain. */
void bench_concurrent_section(const char *dir, int runs, bool only_ox);
/* scale.c: (d) host-size scaling, (e) boot storm. */
void bench_scale(const char *sections, int runs, int storm_runs,
                 bool only_ox);
/* hotpath.c: (f) pci-attach and pci-detach with a connected guest, in
 * process and as whole processes. */
void bench_hotpath_section(const char *dir, int runs);
/* ownership.c: (g) check and destroy against their floors. */
void bench_ownership_section(int runs);

#endif

/*
 * libxlpci - xenstore backend/frontend entries for Xen PCI passthrough.
 *
 * The library writes what Linux xen-pciback and xen-pcifront read:
 *
 *   /local/domain/0/backend/pci/<domid>/0   frontend, frontend-id, online,
 *                                           state, domain, num_devs and per
 *                                           device N: key-N dev-N vdevfn-N
 *                                           name-N opts-N state-N
 *   /local/domain/<domid>/device/pci/0      backend, backend-id, state
 *
 * Three operations change the store, each built from whole xenstore
 * transactions that are retried from the start on EAGAIN (every read is
 * redone inside the new transaction):
 *
 *   xlpci_create()  domain-create path: both directories, num_devs and every
 *                   device in ONE transaction, so pciback sees them all the
 *                   first time it reads num_devs.
 *   xlpci_attach()  hot-add through XenbusStateReconfiguring.
 *   xlpci_detach()  hot-remove through Closing + Reconfiguring, then remove
 *                   the index and compact the higher ones: num_devs is always
 *                   the true count and the indices stay contiguous.
 *
 * Error convention: functions return 0 or a negative XLPCI_ERR_* code and
 * log the reason (naming the node or the input) through the xentoollog
 * logger given to xlpci_ctx_alloc().  On any error the store is left as it
 * was before the call.
 */
#ifndef LIBXLPCI_H
#define LIBXLPCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xentoollog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------- */

/* The one place the version is kept: the Makefile reads these three lines
 * for the SONAME (libxlpci.so.MAJOR), the pkg-config file and the man
 * page.  MAJOR changes when the ABI breaks. */
#define LIBXLPCI_VERSION_MAJOR 0
#define LIBXLPCI_VERSION_MINOR 2
#define LIBXLPCI_VERSION_PATCH 0

#define LIBXLPCI_STR_(x) #x
#define LIBXLPCI_STR(x) LIBXLPCI_STR_(x)
/* "MAJOR.MINOR.PATCH" */
#define LIBXLPCI_VERSION LIBXLPCI_STR(LIBXLPCI_VERSION_MAJOR) "." \
                         LIBXLPCI_STR(LIBXLPCI_VERSION_MINOR) "." \
                         LIBXLPCI_STR(LIBXLPCI_VERSION_PATCH)
/* 0xMMmmpp, for #if LIBXLPCI_VERSION_NUMBER >= 0x000100 */
#define LIBXLPCI_VERSION_NUMBER ((LIBXLPCI_VERSION_MAJOR << 16) | \
                                 (LIBXLPCI_VERSION_MINOR << 8) | \
                                 LIBXLPCI_VERSION_PATCH)

/*
 * LIBXLPCI_HAVE_<FEATURE>: as libxl's LIBXL_HAVE_*, each addition to this
 * API defines one, so a toolstack can test for a feature with #ifdef
 * instead of comparing versions.  Add one with every new function or
 * flag (and never remove one).
 *
 * LIBXLPCI_HAVE_CHECK: xlpci_check() (verify and repair a backend).
 * LIBXLPCI_HAVE_ASSIGNABLE: xlpci_assignable_add/remove/list() (the host
 *   side: binding to xen-pciback, bookkeeping).
 * LIBXLPCI_HAVE_HYPERVISOR_MODE: xlpci_ctx_set_hypervisor() (iomem,
 *   ioport and irq permissions through libxenctrl).
 * LIBXLPCI_HAVE_HVM: HVM guests: create, attach, detach and destroy talk
 *   to the guest's QEMU over QMP; xlpci_ctx_set_run_dir() (where its
 *   socket qmp-libxl-<domid> is).
 * LIBXLPCI_HAVE_CHECK_FLAGS: xlpci_check_flags() (XLPCI_CHECK_REPAIR,
 *   XLPCI_CHECK_AUDIT: the host-wide look that lists).
 */
#define LIBXLPCI_HAVE_CHECK 1
#define LIBXLPCI_HAVE_ASSIGNABLE 1
#define LIBXLPCI_HAVE_HYPERVISOR_MODE 1
#define LIBXLPCI_HAVE_HVM 1
#define LIBXLPCI_HAVE_CHECK_FLAGS 1
/*
 * LIBXLPCI_HAVE_WATCHER: xlpci_watcher_*() (follow every domain's life:
 *   devices from a guests directory for every new domain of a name,
 *   release of what dead domains hold).  Since 0.2.
 */
#define LIBXLPCI_HAVE_WATCHER 1

/* Everything declared below is the library's ABI: the library is built
 * with -fvisibility=hidden and exports exactly these functions
 * (tests/pkg/test-symbols compares `nm -D` with this header). */
#pragma GCC visibility push(default)

/* ---- error codes -------------------------------------------------------- */

#define XLPCI_OK               0
#define XLPCI_ERR_FAIL        -1   /* generic failure */
#define XLPCI_ERR_INVAL       -2   /* bad input: spec, config, arguments */
#define XLPCI_ERR_NOTFOUND    -3   /* domain, device or backend not found */
#define XLPCI_ERR_EXISTS      -4   /* device already assigned / backend exists */
#define XLPCI_ERR_TIMEDOUT    -5   /* the backend did not reach the state */
#define XLPCI_ERR_BACKEND     -6   /* the backend failed (Closing, error node) */
#define XLPCI_ERR_XENSTORE    -7   /* a xenstore operation failed */
#define XLPCI_ERR_NOMEM       -8
#define XLPCI_ERR_RETRIES     -9   /* transaction conflicts never ended */
#define XLPCI_ERR_CORRUPT    -10   /* the store holds values we cannot trust */
#define XLPCI_ERR_BUSY       -11   /* an operation is already in progress */

const char *xlpci_strerror(int rc);

/* ---- PCI addresses and PCI_SPEC_STRING (pure, no I/O) -------------------- */

/* Limits of xl-pci-configuration(5). */
#define XLPCI_MAX_SEG    0xffffu
#define XLPCI_MAX_BUS    0xffu
#define XLPCI_MAX_SLOT   0x1fu
#define XLPCI_MAX_FUNC   7u

/* Upper bound on num_devs we accept from the store (the vpci root bus has
 * 32 slots of 8 functions). */
#define XLPCI_MAX_DEVS   256u

typedef struct {
    unsigned seg, bus, dev, func;
} xlpci_bdf;

#define XLPCI_BDF_STRLEN 13          /* "dddd:bb:dd.f" + NUL */

typedef enum {
    XLPCI_RDM_STRICT = 0,
    XLPCI_RDM_RELAXED = 1,
} xlpci_rdm_policy;

/* A parsed PCI_SPEC_STRING.  Boolean options are -1 when not given, so
 * per-domain defaults (pci_permissive = 1 in a config) can apply. */
typedef struct {
    bool has_bdf;
    xlpci_bdf bdf;
    bool all_funcs;                  /* BB:DD.*  */
    bool has_vslot;
    unsigned vslot;
    int permissive, msitranslate, seize, power_mgmt;
    int rdm_policy;                  /* -1 or xlpci_rdm_policy */
    char *name;                      /* name=, malloc'd, or NULL */
} xlpci_spec;

/* Per-domain defaults from xl.cfg: pci_permissive and friends. */
typedef struct {
    bool permissive, msitranslate, seize, power_mgmt;
    xlpci_rdm_policy rdm_policy;
} xlpci_defaults;

void xlpci_spec_init(xlpci_spec *spec);
void xlpci_spec_dispose(xlpci_spec *spec);
void xlpci_defaults_init(xlpci_defaults *defs);

/* Parse "[DDDD:]BB:DD.F" (no '*').  0 or XLPCI_ERR_INVAL with a message in
 * err (always NUL-terminated, errlen > 0). */
int xlpci_bdf_parse(const char *s, xlpci_bdf *out, char *err, size_t errlen);
/* Canonical "dddd:bb:dd.f" into buf (XLPCI_BDF_STRLEN bytes). */
char *xlpci_bdf_format(const xlpci_bdf *bdf, char *buf);
int xlpci_bdf_cmp(const xlpci_bdf *a, const xlpci_bdf *b);

/* Parse PCI_SPEC_STRING: "[<bdf>[@<vslot>],][<key>=<value>,]*" with keys
 * bdf, name, vslot, permissive, msitranslate, seize, power_mgmt,
 * rdm_policy.  Stricter than libxlutil: booleans must be 0 or 1, numbers
 * must be whole, exactly one of bdf and name. */
int xlpci_spec_parse(const char *s, xlpci_spec *out, char *err, size_t errlen);

/* ---- a device as written to the backend --------------------------------- */

typedef struct {
    xlpci_bdf bdf;
    unsigned vdevfn;                 /* 0: none (vdevfn-N not written) */
    bool permissive, msitranslate, power_mgmt, seize;
    xlpci_rdm_policy rdm_policy;
    char *name;                      /* name-N, or NULL */
} xlpci_dev;

void xlpci_dev_dispose(xlpci_dev *dev);

/* One index of a backend, as read back (pci-list). */
typedef struct {
    unsigned index;
    xlpci_dev dev;
    int state;                       /* state-N, -1 if absent */
    char *vdev;                      /* vdev-N written by pciback, or NULL */
} xlpci_entry;

void xlpci_entry_list_free(xlpci_entry *list, size_t n);

/* JSON for `pci-list -l`, through yajl, field names as libxl's IDL
 * (libxl_device_pci) plus index, state and vdev.  *json_r is malloc'd. */
int xlpci_entries_json(const xlpci_entry *list, size_t n, char **json_r);

/* ---- xl.cfg subset (pure) ----------------------------------------------- */

typedef struct {
    char *name;                      /* name = "..." or NULL */
    char **pci;                      /* pci = [ "spec", ... ] */
    size_t num_pci;
    xlpci_defaults defaults;         /* pci_permissive, ... */
} xlpci_config;

void xlpci_config_init(xlpci_config *cfg);
void xlpci_config_dispose(xlpci_config *cfg);
/* Parse xl.cfg text.  Only name, pci and pci_{permissive,msitranslate,
 * seize,power_mgmt} are interpreted; other settings are checked for syntax
 * and ignored.  source names the file in error messages. */
int xlpci_config_parse(const char *text, const char *source,
                       xlpci_config *cfg, char *err, size_t errlen);
int xlpci_config_read(const char *path, xlpci_config *cfg,
                      char *err, size_t errlen);

/* ---- context ------------------------------------------------------------- */

typedef struct xlpci_ctx xlpci_ctx;

/* Opens xenstore (libxenstore honours XENSTORED_PATH).  lg may be NULL
 * (no logging). */
int xlpci_ctx_alloc(xlpci_ctx **ctx_r, xentoollog_logger *lg);
void xlpci_ctx_free(xlpci_ctx *ctx);

/* Every operation's one deadline (default 10000 ms, as libxl's wait for
 * the backend): each loop of an operation - transaction retries, lock
 * waits, waits on the guest, QMP reads - ends by it, and the rollback of
 * an operation that failed by it gets at most 1 s more (2 s through an
 * HVM guest's QEMU).  At most one hour (3600000 ms; longer is clamped). */
void xlpci_ctx_set_timeout(xlpci_ctx *ctx, unsigned timeout_ms);
/* Root of sysfs for device enumeration ("/sys" by default; tests point it
 * at a fake tree).  The string is copied. */
int xlpci_ctx_set_sysfs_root(xlpci_ctx *ctx, const char *root);
/* Where the host bookkeeping lives (default /var/lib/xlpci).  At most 216
 * bytes (XLPCI_ERR_INVAL beyond: never truncated). */
int xlpci_ctx_set_state_dir(xlpci_ctx *ctx, const char *dir);
/* The hypervisor side of PV passthrough: iomem/ioport/irq permissions
 * through libxenctrl, granted before a device is written to xenstore and
 * revoked after the guest released it.  Only when the host side is active
 * (xen-pciback in sysfs).  AUTO (default): skipped, with a notice, when
 * Xen is not running (no <sysfs>/hypervisor/type "xen" and no
 * /dev/xen/privcmd); with Xen, failing to open libxenctrl is an error.
 * REQUIRE: libxenctrl must open.  NONE: never touch the hypervisor. */
typedef enum {
    XLPCI_HV_AUTO = 0,
    XLPCI_HV_REQUIRE = 1,
    XLPCI_HV_NONE = 2,
} xlpci_hv_mode;
void xlpci_ctx_set_hypervisor(xlpci_ctx *ctx, xlpci_hv_mode mode);
/* Where the QMP sockets of HVM guests' QEMUs are: <dir>/qmp-libxl-<domid>
 * (default /var/run/xen, as libxl).  At most 86 bytes (XLPCI_ERR_INVAL
 * beyond).  The string is copied. */
int xlpci_ctx_set_run_dir(xlpci_ctx *ctx, const char *dir);
/* Dry run: print the planned xenstore operations to out and change
 * nothing.  NULL turns it off. */
void xlpci_ctx_set_dry_run(xlpci_ctx *ctx, FILE *out);
/* Upper bound of attempts of one transaction (default 0: none, the
 * operation's deadline ends the retries). */
void xlpci_ctx_set_max_attempts(xlpci_ctx *ctx, unsigned n);

typedef struct {
    unsigned long transactions;      /* committed transactions */
    unsigned long attempts;          /* transaction attempts */
    unsigned long eagain;            /* commits refused with EAGAIN */
    unsigned long requests;          /* xenstore requests sent */
} xlpci_stats;

void xlpci_ctx_get_stats(const xlpci_ctx *ctx, xlpci_stats *st);

/* ---- operations ---------------------------------------------------------- */

/* "5" or a domain name (looked up under /local/domain/ * /name). */
int xlpci_domain_resolve(xlpci_ctx *ctx, const char *dom, uint32_t *domid_r);

#define XLPCI_CREATE_REPLACE  (1u << 0) /* replace an existing backend */
#define XLPCI_DETACH_FORCE    (1u << 0) /* remove even if the guest never
                                           completes the handshake */

/* Domain-create path: backend dir {n0,r<domid>}, frontend dir
 * {n<domid>,r0}, base keys, every device and num_devs in ONE transaction.
 * Fails with XLPCI_ERR_EXISTS if the domain already has a PCI backend
 * (unless XLPCI_CREATE_REPLACE) or a device is assigned to any domain. */
int xlpci_create(xlpci_ctx *ctx, uint32_t domid,
                 const xlpci_spec *specs, size_t nspecs,
                 const xlpci_defaults *defs, unsigned flags);

/* Hot-add.  No backend yet: as xlpci_create.  Backend Initialising: append
 * in one transaction.  Backend Connected: one transaction adding the
 * indices, num_devs and state=Reconfiguring, then wait for Connected.
 * Any other state: wait for Connected first (timeout: nothing written).
 * If the cycle does not complete in time and nobody reacted, the addition
 * is rolled back. */
int xlpci_attach(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *spec,
                 const xlpci_defaults *defs);

/* Hot-remove: state-N=Closing + state=Reconfiguring in one transaction,
 * wait for Connected, then one transaction removing the index, shifting the
 * higher ones down and decrementing num_devs (the last device removes both
 * directories).  Only bdf/name of spec are used. */
int xlpci_detach(xlpci_ctx *ctx, uint32_t domid, const xlpci_spec *spec,
                 unsigned flags);

/* Domain-destroy path (libxl__device_pci_destroy_all): release every
 * device of a domain that is gone or going, without asking the guest.
 * What it holds is what the shared state says (its backend, the records
 * /libxl/pci/<bdf>/domid naming it); ONE transaction reads the backend
 * once and removes the backend and frontend entries, their empty
 * per-domain parents and those records; then every device no other live
 * domain holds is reset and made assignable again (managed ones back to
 * their drivers).  A device another live domain holds (its record, its
 * backend, or Xen says so) is never touched; the bookkeeping is
 * corrected to name that domain.  What the bookkeeping alone still gives
 * the domain (after `xl destroy`) is corrected, a managed device given
 * back to its driver.  Works when the domain is already gone; idempotent
 * (*released_r = 0: "nothing to do").  A domain that is alive (Xen's
 * answer when Xen runs, else /local/domain/<domid>) is refused
 * (XLPCI_ERR_BUSY) unless XLPCI_DESTROY_FORCE (its permissions go first).
 * No listing of /libxl/pci: the cost is what the domain holds; a lone
 * record naming the domain (left by another tool) is found by
 * xlpci_check_flags with XLPCI_CHECK_AUDIT. */
#define XLPCI_DESTROY_FORCE   (1u << 0)
int xlpci_destroy(xlpci_ctx *ctx, uint32_t domid, unsigned flags,
                  unsigned *released_r);

/* Verify the domain's backend (num_devs is the true count, indices dense,
 * no orphan keys, no duplicates, frontend present, no index left Closing
 * by an interrupted detach) and who holds its devices (their records
 * /libxl/pci/<bdf>/domid name it; no other live domain holds them; the
 * bookkeeping agrees, corrected from the store); each problem is logged
 * as a warning and counted in *problems_r.  With repair, fix them in one
 * transaction and count what is left; nothing of a device another live
 * domain holds is ever touched.  XLPCI_ERR_BUSY: a Reconfiguring cycle is
 * running, nothing was repaired.  Its cost is what the domain holds (no
 * listing that grows with the host; xlpci_check_flags's
 * XLPCI_CHECK_AUDIT looks host-wide). */
int xlpci_check(xlpci_ctx *ctx, uint32_t domid, bool repair,
                unsigned *problems_r);

/* xlpci_check, telling more: how many of the problems (left) a repair
 * cannot fix, and whether the domain exists (a check of a domain that is
 * gone reports what it still holds; --repair releases it as
 * xlpci_destroy does, and then nothing of it is left: problems 0). */
typedef struct {
    unsigned problems;               /* found (left, after a repair) */
    unsigned unfixable;              /* of those, what --repair cannot fix */
    bool domain_exists;              /* alive (Xen's answer when Xen runs) */
} xlpci_check_result;
int xlpci_check_ex(xlpci_ctx *ctx, uint32_t domid, bool repair,
                   xlpci_check_result *res);

/* xlpci_check_ex with flags.  XLPCI_CHECK_AUDIT looks host-wide as well,
 * at a cost that grows with the host: the listing of /libxl/pci for
 * records naming the domain that neither its backend nor the bookkeeping
 * knows (on a xenstore connection of its own; where the daemon cannot
 * send it, oxenstored past about 315 records, 4096 bytes, the check
 * fails with XLPCI_ERR_XENSTORE, logged naming the limit), and every
 * other PCI backend for the domain's devices.  Without it the check costs
 * what the domain holds. */
#define XLPCI_CHECK_REPAIR  (1u << 0)
#define XLPCI_CHECK_AUDIT   (1u << 1)
int xlpci_check_flags(xlpci_ctx *ctx, uint32_t domid, unsigned flags,
                      xlpci_check_result *res);

/* ---- host side: devices made assignable (bound to xen-pciback) ----------- */

/* Unbind from the host driver (remembered), new_slot if needed, bind to
 * pciback; record it (with name, if given).  Already on pciback: only the
 * name is recorded (a warning).  On failure the device is given back to
 * its driver. */
int xlpci_assignable_add(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                         const char *name);
/* Undo: refused while the device is assigned to a domain; unbind from
 * pciback, remove_slot, and with rebind give it back to its driver. */
int xlpci_assignable_remove(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                            const char *name, bool rebind);

typedef struct {
    xlpci_bdf bdf;
    char *name;                      /* or NULL */
    int domid;                       /* assigned to, -1: assignable */
} xlpci_host_dev;

/* Devices on pciback that no domain has (xl pci-assignable-list). */
int xlpci_assignable_list(xlpci_ctx *ctx, xlpci_host_dev **list_r,
                          size_t *n_r);
void xlpci_host_dev_list_free(xlpci_host_dev *list, size_t n);

/* The devices in the domain's backend, in index order. */
int xlpci_list(xlpci_ctx *ctx, uint32_t domid, xlpci_entry **list_r,
               size_t *n_r);

/* ---- the watcher: every domain's life (docs/watch.md) --------------------- */

/*
 * A host-side watcher, for a long-running process (`xlpci watch`) or a
 * toolstack's own event loop:
 *  - a domain that appears (@introduceDomain: xl create, the new domain
 *    of xl reboot, xl restore) whose name has <guests_dir>/<name>.cfg
 *    (the xl.cfg subset xlpci_config_read reads: pci = [ ... ] and the
 *    pci_* defaults) gets all those devices in ONE transaction
 *    (xlpci_create), an HVM guest's once its QEMU answers on QMP;
 *  - a domain that dies (@releaseDomain; Xen says it is gone or dying,
 *    or without a hypervisor its /local/domain/<domid> is gone) has
 *    everything it still holds released, as xlpci_destroy does;
 *  - a /libxl/pci/<bdf>/domid record another tool removed while a live
 *    domain's backend still lists the device is written back;
 *  - at the start (and xlpci_watcher_reconcile): the whole host once.
 * Each action runs in a child process (fork, no exec) with its own
 * xenstore connection and a deadline (the context's timeout; an HVM
 * guest's QEMU is waited for beyond it): call it from a process whose
 * other threads, if any, hold no lock the child needs (libxenstore's
 * own reader thread is fine).  The context is the watcher's from
 * xlpci_watcher_new to xlpci_watcher_free: its xenstore connection
 * carries the watches.  Children the watcher forks are reaped by it
 * (waitpid on their pids, never -1): the process must not ignore SIGCHLD
 * (SIG_IGN reaps them first, and every action then counts as failed).
 */
typedef struct xlpci_watcher xlpci_watcher;

/* Reconcile the host once and end (no watches): xlpci_watcher_dispatch
 * returns 1 (or XLPCI_ERR_FAIL) when every action has ended.  The
 * context's dry run needs it (each action prints its plan). */
#define XLPCI_WATCH_ONCE      (1u << 0)

/* guests_dir NULL: /etc/xlpci/guests.  Registers the watches, then reads
 * the host (the start's reconcile; its actions start at the first
 * dispatch). */
int xlpci_watcher_new(xlpci_ctx *ctx, const char *guests_dir,
                      unsigned flags, xlpci_watcher **w_r);
/* A file descriptor that becomes readable whenever xlpci_watcher_dispatch
 * has something to do (an event, an action that ended, a deadline, a
 * backoff): poll it for POLLIN. */
int xlpci_watcher_fd(const xlpci_watcher *w);
/* Never blocks on a guest or a QEMU.  0: go on; 1: XLPCI_WATCH_ONCE and
 * every action succeeded; < 0: XLPCI_WATCH_ONCE and some failed
 * (XLPCI_ERR_FAIL, logged), or the watcher cannot go on (its xenstore
 * connection is lost: XLPCI_ERR_XENSTORE; started again, it reconciles
 * the host). */
int xlpci_watcher_dispatch(xlpci_watcher *w);
/* Reconcile the host again at the next dispatch (after SIGHUP: a device
 * list added for a running guest, an action that was given up). */
void xlpci_watcher_reconcile(xlpci_watcher *w);
/* At most jobs releases and jobs creates at once (default 4). */
void xlpci_watcher_set_jobs(xlpci_watcher *w, unsigned jobs);
/* How long an HVM guest's create waits for its QEMU's QMP socket
 * (default 60000 ms, libxl's device model start timeout). */
void xlpci_watcher_set_qemu_wait(xlpci_watcher *w, unsigned ms);
/* Waits for the running actions (each within its deadline), removes
 * the watches.  NULL is fine. */
void xlpci_watcher_free(xlpci_watcher *w);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* LIBXLPCI_H */

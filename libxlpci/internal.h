/*
 * libxlpci internal interfaces.  Not installed.
 *
 * Module map (one concept per file), by floor; a file calls only into
 * its own floor or the floors above it in this list:
 *
 * pure parsers and planners
 *   bdf.c     BDF and PCI_SPEC_STRING parse/format            PURE
 *   cfg.c     xl.cfg subset reader                            PURE
 *   ops.c     list of planned xenstore operations             PURE
 *   view.c    the backend parser (view: paths, setup,
 *             problems, check, entries)                       PURE
 *   layout.c  the backend's operations for create/append/
 *             detach/remove/rollback/repair                   PURE
 *   json.c    pci-list -l through yajl                        PURE
 * I/O
 *   ctx.c     context, logging, error strings
 *   xs.c      transaction runner (xlpci_txn_run; xlpci_txn_read for
 *             read-only steps), checked reads, watch waits
 *   sysfs.c   which functions of a slot exist, is pciback loaded
 *             (xlpci_host_active), sysfs writes and waits
 *   bookkeeping.c  XLPCI_STATE_DIR/devices.json and its locks
 *   libxlnode.c  libxl's /libxl/pci/<bdf>/ nodes: the domid ownership
 *             record (shared with libxl/xl; xlpci_device_domain), claimed
 *             with one listing per device in the transaction; the shared
 *             parents made before it (backend/pci/<domid>; a missing
 *             record directory after XLPCI_TXN_PREPARE) and cleaned
 *   names.c   device names shared with xl (/libxl/pci/<bdf>/name)
 * host side
 *   assign.c  pci-assignable-add/-remove/-list (pciback binding)
 *   hypervisor.c  iomem/ioport/irq permissions via libxenctrl; the
 *             grant and release sequences of a device (IOMMU, reset,
 *             permissive, permissions), the quarantine's handle
 *   iommu.c   IOMMU assignment, quarantine, domain type via libxenctrl
 *   reset.c   device reset (do_flr / reset) and pciback permissive
 * the flows' shared steps
 *   resolve.c   domain and device resolution (spec -> devices)
 *   hostside.c  host side of an assignment: prepare, grant, finish
 *             (keep or undo), release
 *   wait.c    waiting on the guest: wait reasons, frontend ready,
 *             backend failed, run a body until it stops waiting
 * the flows (each a file that reads like the protocol it drives)
 *   create.c  create: the whole backend in one transaction
 *   attach.c  pci-attach (hot-add, Reconfiguring cycle, rollback)
 *   detach.c  pci-detach (hot-remove, Reconfiguring cycle, -f)
 *   list.c    pci-list
 *   destroy.c destroy: release all a gone/going domain holds
 *   check.c   check [--repair]: the store and ownership records
 *   reconcile.c  check: bookkeeping against xenstore, repair
 *   libxlpci_testing.h  the test-only interface (transaction hook); with
 *             the crash injection below, only in test builds
 *             (-DXLPCI_TESTING: libxlpci-test.a, build/xlpci-test)
 */
#ifndef LIBXLPCI_INTERNAL_H
#define LIBXLPCI_INTERNAL_H

#include <stdarg.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "libxlpci.h"
#include "libxlpci_testing.h"

#define _hidden __attribute__((visibility("hidden")))

/* ---- paths --------------------------------------------------------------- */

#define XLPCI_PATH_MAX 256
/* The longest state directory: its files' paths must fit XLPCI_PATH_MAX. */
#define XLPCI_STATE_DIR_MAX (XLPCI_PATH_MAX - 40)
/* Per-index keys of the backend, in the order they are written.  "vdev" is
 * written by pciback, not by us, but moves with its index on compaction. */
enum xlpci_key {
    XLPCI_KEY_KEY, XLPCI_KEY_DEV, XLPCI_KEY_VDEVFN, XLPCI_KEY_NAME,
    XLPCI_KEY_OPTS, XLPCI_KEY_STATE, XLPCI_KEY_VDEV,
    XLPCI_NKEYS
};
_hidden extern const char *const xlpci_key_names[XLPCI_NKEYS];

_hidden void xlpci_be_path(char *buf, uint32_t domid);   /* .../backend/pci/D/0 */
_hidden void xlpci_fe_path(char *buf, uint32_t domid);   /* /local/domain/D/device/pci/0 */
_hidden void xlpci_error_path(char *buf, uint32_t domid);
/* <backend dir>/<leaf>, leaf a printf format ("state-%u"). */
_hidden int xlpci_be_key(char *buf, uint32_t domid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- operations (ops.c) -------------------------------------------------- */

typedef enum {
    XLPCI_OP_RM, XLPCI_OP_MKDIR, XLPCI_OP_WRITE, XLPCI_OP_PERMS,
} xlpci_op_kind;

typedef struct {
    xlpci_op_kind kind;
    char *path;
    char *value;                     /* WRITE */
    struct xs_permissions perms[2];  /* PERMS */
    unsigned nperms;
} xlpci_op;

typedef struct {
    xlpci_op *v;
    size_t n, cap;
} xlpci_ops;

_hidden void xlpci_ops_init(xlpci_ops *ops);
_hidden void xlpci_ops_reset(xlpci_ops *ops);      /* empty, keep memory */
_hidden void xlpci_ops_dispose(xlpci_ops *ops);
_hidden int xlpci_ops_rm(xlpci_ops *ops, const char *path);
_hidden int xlpci_ops_mkdir(xlpci_ops *ops, const char *path);
_hidden int xlpci_ops_write(xlpci_ops *ops, const char *path,
                            const char *value);
_hidden int xlpci_ops_writef(xlpci_ops *ops, const char *path,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_hidden int xlpci_ops_perms(xlpci_ops *ops, const char *path,
                            uint32_t owner, uint32_t reader);
/* "write /a/b = "v"" etc., one line per op, for -N and logs. */
_hidden void xlpci_ops_print(const xlpci_ops *ops, FILE *out);

/* ---- backend view (view.c) ----------------------------------------------- */

/* What the backend holds, read inside one transaction.  The one parser of
 * the backend, used by every command: xlpci_view_read (xs.c) lists the
 * directory and reads the raw values, xlpci_view_setup and
 * xlpci_view_problems (pure) decide what they mean. */
typedef struct {
    bool exists;                     /* the backend has num_devs */
    bool dir_exists;                 /* the backend directory exists */
    int state;                       /* backend state, -1 if absent/bad */
    char *state_raw;                 /* as read, NULL if absent */
    char *num_raw;                   /* num_devs as read, NULL if absent */
    bool num_bad;                    /* num_devs is not a count (0-256), or
                                      * is absent while devices are listed */
    unsigned num_devs;               /* rows: num_devs, or when num_bad the
                                      * dense run of dev-0.. (at most 256) */
    char *(*keys)[XLPCI_NKEYS];      /* num_devs rows of raw values */
    char **names;                    /* children of the backend dir */
    unsigned nnames;
    const char **orphans;            /* per-index keys outside the rows:
                                      * past num_devs (at any index) or
                                      * spelled non-canonically ("dev-03");
                                      * into names, values never read */
    unsigned norphans;
} xlpci_view;

_hidden void xlpci_view_init(xlpci_view *view);
_hidden void xlpci_view_dispose(xlpci_view *view);

/* Strict parse of a decimal xenstore value ("0".."max"). */
_hidden int xlpci_parse_uint(const char *s, unsigned max, unsigned *out);

/* From names, num_raw and state_raw (pure): state, num_devs, exists,
 * num_bad, the orphans, and keys allocated (all NULL) for the rows. */
_hidden int xlpci_view_setup(xlpci_view *view);

/* What is wrong with a view (pure), every problem in turn:
 *   NUM     num_devs absent (with devices listed) or not a count;
 *           check --repair recounts it
 *   ROW     dev-N missing or not a PCI address, or a device listed twice
 *           (compared by parsed address); check --repair drops the row
 *   VALUE   a malformed vdevfn-N, opts-N or state-N; nobody can tell the
 *           meant value: reported, not repaired
 *   STATE   the backend state is not a xenbus state (pciback's node): not
 *           repaired
 *   ORPHAN  a per-index key outside the rows; check --repair removes it
 * index: the row (ORPHAN: the index the name carries, or ~0u). */
enum xlpci_problem_kind {
    XLPCI_PB_NUM, XLPCI_PB_ROW, XLPCI_PB_VALUE, XLPCI_PB_STATE,
    XLPCI_PB_ORPHAN,
};
typedef void xlpci_problem_fn(void *arg, enum xlpci_problem_kind kind,
                              unsigned index, const char *msg);
_hidden void xlpci_view_problems(const xlpci_view *view, uint32_t domid,
                                 xlpci_problem_fn *fn, void *arg);

/* The first problem a flow cannot proceed on (all but ORPHAN) into err,
 * with the way out: XLPCI_ERR_CORRUPT; 0 if none. */
_hidden int xlpci_view_check(const xlpci_view *view, uint32_t domid,
                             char *err, size_t errlen);
/* Index whose dev-i is bdf (by parsed address), or -1. */
_hidden int xlpci_view_find(const xlpci_view *view, const xlpci_bdf *bdf);
/* Parse one row into an entry (pure). */
_hidden int xlpci_view_entry(const xlpci_view *view, unsigned i,
                             xlpci_entry *e, char *err, size_t errlen);

_hidden int xlpci_opts_format(const xlpci_dev *dev, char *buf, size_t len);
_hidden int xlpci_opts_parse(const char *s, xlpci_dev *dev);
/* Split a backend child name "dev-12" into key and index; false if it is
 * not a per-index key. */
_hidden bool xlpci_split_key(const char *name, enum xlpci_key *key_r,
                             unsigned *index_r);

/* ---- backend operations per step (layout.c) ------------------------------ */

/* Everything for a new backend: rm + mkdir + perms of both dirs, base keys,
 * devices 0..n-1, num_devs = n.  name may be NULL (no domain key). */
_hidden int xlpci_layout_create(xlpci_ops *ops, uint32_t domid,
                                const char *name,
                                const xlpci_dev *devs, size_t n);
/* Append devs at num_devs.., num_devs += n; reconfigure adds state=7.
 * Stale per-index keys left at those indices are removed. */
_hidden int xlpci_layout_append(xlpci_ops *ops, uint32_t domid,
                                const xlpci_view *view,
                                const xlpci_dev *devs, size_t n,
                                bool reconfigure);
/* state-i = Closing for every index in idx, state = Reconfiguring. */
_hidden int xlpci_layout_detach_begin(xlpci_ops *ops, uint32_t domid,
                                      const unsigned *idx, size_t n);
/* Remove the indices in idx (any order), move the higher rows down,
 * num_devs -= n; if nothing is left, remove both directories. */
_hidden int xlpci_layout_remove(xlpci_ops *ops, uint32_t domid,
                                const xlpci_view *view,
                                const unsigned *idx, size_t n);

/* Remove every orphan key of the view (check --repair). */
_hidden int xlpci_layout_rm_orphans(xlpci_ops *ops, uint32_t domid,
                                    const xlpci_view *view);

/* ---- context (ctx.c) ----------------------------------------------------- */

struct xlpci_ctx {
    xentoollog_logger *lg;
    struct xs_handle *xsh;
    unsigned timeout_ms;
    unsigned max_attempts;
    char *sysfs_root;
    char *state_dir;
    int hv_mode;                     /* xlpci_hv_mode */
    bool hv_noted;                   /* "Xen is not running" said once */
    bool iommu_probed;               /* xc_physinfo asked */
    bool iommu_absent;               /* Xen has no IOMMU: no IOMMU steps */
    FILE *dry_run;
    xlpci_stats stats;
    xlpci_txn_hook *hook;            /* test builds: set by the tests */
    void *hook_arg;
    unsigned watch_seq;
    bool txn_eagain;                 /* a read in the transaction hit EAGAIN */
    /* The same layout in every build; only test builds set these two. */
    unsigned long crash_at;          /* XLPCI_CRASH_AT: SIGKILL at request N */
    unsigned long host_steps;        /* sysfs writes, state commits, xc_* */
    unsigned long crash_host_at;     /* XLPCI_CRASH_HOST_AT: SIGKILL at N */
    /* While a transaction body runs, warnings and errors are held back:
     * its reads may be inconsistent (xenstored checks them only at
     * commit), so they are shown only if the commit says the reads were
     * true. */
    bool in_body;
    unsigned nheld, ndropped;
    struct {
        xentoollog_level level;
        int errnoval;
        char msg[400];
    } held[32];
};

/* Count one xenstore request, and one host-side step (a sysfs write, a
 * bookkeeping commit, an xc_* call).
 *
 * Test builds only (-DXLPCI_TESTING: libxlpci-test.a, build/xlpci-test):
 * with XLPCI_CRASH_AT=N in the environment the process kills itself
 * (SIGKILL) just before its N-th request, with XLPCI_CRASH_HOST_AT=N just
 * before its N-th host step: the crash-safety tests stop the CLI at every
 * operation boundary.  The product (libxlpci.so, libxlpci.a, xlpci)
 * never reads these variables. */
#ifdef XLPCI_TESTING
_hidden void xlpci_request(xlpci_ctx *ctx);
_hidden void xlpci_host_step(xlpci_ctx *ctx);
#else
static inline void xlpci_request(xlpci_ctx *ctx)
{
    ctx->stats.requests++;
}

static inline void xlpci_host_step(xlpci_ctx *ctx)
{
    ctx->host_steps++;
}
#endif

/* Show (flush) or forget the messages held back during a body. */
_hidden void xlpci_log_release(xlpci_ctx *ctx, bool show);

_hidden void xlpci_log(xlpci_ctx *ctx, xentoollog_level level, int errnoval,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define LOG(ctx, lvl, ...)  xlpci_log((ctx), XTL_##lvl, -1, __VA_ARGS__)
#define LOGE(ctx, lvl, ...) xlpci_log((ctx), XTL_##lvl, errno, __VA_ARGS__)

/* ---- xenstore (xs.c) ----------------------------------------------------- */

/* A transaction body reads through t and appends the writes it wants to
 * ops.  Returns 0 (commit ops), XLPCI_TXN_NOTHING (nothing to write),
 * XLPCI_TXN_WAIT (abort: the caller must wait and call again), or a
 * negative error (abort, returned as is). */
#define XLPCI_TXN_NOTHING 1
#define XLPCI_TXN_WAIT    2
/* Abort: something must be made outside the transaction first (the
 * devices' /libxl/pci/<bdf> directories: xlpci_records_prepare), then
 * the caller calls again. */
#define XLPCI_TXN_PREPARE 3
typedef int xlpci_txn_body(xlpci_ctx *ctx, xs_transaction_t t,
                           xlpci_ops *ops, void *arg);

/* Runs body in a fresh transaction until the commit succeeds, restarting
 * the whole body on EAGAIN (bounded, with backoff).  what names the step in
 * messages.  In dry-run mode the planned ops are printed and the
 * transaction is aborted.  Returns 0, XLPCI_TXN_NOTHING, XLPCI_TXN_WAIT,
 * XLPCI_TXN_PREPARE or a negative error. */
_hidden int xlpci_txn_run(xlpci_ctx *ctx, const char *what,
                          xlpci_txn_body *body, void *arg);
/* A read-only step: body reads through t and returns 0 or an error; it
 * runs in a transaction committed without writes (retried on EAGAIN, so
 * what it read is one consistent snapshot).  Returns 0 or the error. */
typedef int xlpci_read_body(xlpci_ctx *ctx, xs_transaction_t t, void *arg);
_hidden int xlpci_txn_read(xlpci_ctx *ctx, const char *what,
                           xlpci_read_body *body, void *arg);

/* Read path in t.  *val_r = NULL if it does not exist (returns 0). */
_hidden int xlpci_xs_read(xlpci_ctx *ctx, xs_transaction_t t,
                          const char *path, char **val_r);
_hidden int xlpci_xs_exists(xlpci_ctx *ctx, xs_transaction_t t,
                            const char *path, bool *exists_r);
/* Children of path; *n_r = 0 and *list_r = NULL if it does not exist. */
_hidden int xlpci_xs_directory(xlpci_ctx *ctx, xs_transaction_t t,
                               const char *path, char ***list_r,
                               unsigned *n_r);
/* Read the domain's backend into view, in t. */
_hidden int xlpci_view_read(xlpci_ctx *ctx, xs_transaction_t t,
                            uint32_t domid, xlpci_view *view);

/* Wait until pred(state) holds for the backend's state node, or the
 * backend fails (Closing/Closed state, error node: XLPCI_ERR_BACKEND), or
 * disappears (XLPCI_ERR_NOTFOUND), or timeout_ms passes
 * (XLPCI_ERR_TIMEDOUT).  *state_r gets the last state seen (-1 absent). */
typedef bool xlpci_state_pred(int state, void *arg);
_hidden int xlpci_wait_backend(xlpci_ctx *ctx, uint32_t domid,
                               xlpci_state_pred *pred, void *arg,
                               long long deadline_ms, int *state_r);

/* The reading budget of every wait: after an event the store is re-read
 * at most once per XLPCI_REREAD_MS, so a guest rewriting its nodes in a
 * loop costs a bounded number of requests and never moves a deadline. */
#define XLPCI_REREAD_MS 20

/* A watch on the domain's backend directory and frontend state, held
 * across several
 * transactions so no change between them is missed. */
typedef struct {
    char path[XLPCI_PATH_MAX];       /* the backend directory */
    char fe_path[XLPCI_PATH_MAX];    /* the frontend's state node */
    char token[64];
    bool active, fe_active;
    long long last_ms;               /* the last return of a wait */
} xlpci_watch;

_hidden int xlpci_watch_begin(xlpci_ctx *ctx, uint32_t domid,
                              xlpci_watch *w);
/* Wait for an event (0) until deadline_ms (CLOCK_MONOTONIC ms):
 * XLPCI_ERR_TIMEDOUT once the deadline has passed, whatever events are
 * queued. */
_hidden int xlpci_watch_wait(xlpci_ctx *ctx, xlpci_watch *w,
                             long long deadline_ms);
_hidden void xlpci_watch_end(xlpci_ctx *ctx, xlpci_watch *w);
_hidden long long xlpci_now_ms(void);

/* ---- sysfs (sysfs.c) ----------------------------------------------------- */

/* The host side is active when xen-pciback is loaded (its sysfs driver
 * directory exists); without it xlpci only writes xenstore (tests, or a
 * toolstack that binds devices itself), and says so.  Probed
 * once per operation, which carries the answer. */
_hidden bool xlpci_host_active(xlpci_ctx *ctx);

/* Bitmask of the functions of seg:bus:dev present in sysfs. */
_hidden int xlpci_sysfs_functions(xlpci_ctx *ctx, const xlpci_bdf *slot,
                                  unsigned *mask_r);
/* <root>/bus/pci/<fmt...> */
_hidden void xlpci_sysfs_path(xlpci_ctx *ctx, char *buf, size_t len,
                              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Write the BDF to a control file (bind, unbind, new_slot, ...). */
_hidden int xlpci_sysfs_write_bdf(xlpci_ctx *ctx, const char *path,
                                  const xlpci_bdf *bdf);
/* Is the device bound to pciback? */
_hidden bool xlpci_sysfs_on_pciback(xlpci_ctx *ctx, const xlpci_bdf *bdf);
/* The driver the device is bound to, as a malloc'd real path, or NULL. */
_hidden char *xlpci_sysfs_driver(xlpci_ctx *ctx, const xlpci_bdf *bdf);
/* Is the BDF listed in pciback/slots? */
_hidden bool xlpci_sysfs_in_slots(xlpci_ctx *ctx, const xlpci_bdf *bdf);
/* Wait (up to 2 s) until path exists (or not): the kernel applies bind
 * and unbind synchronously, a test's fake kernel a moment later. */
_hidden bool xlpci_sysfs_wait(const char *path, bool exists);

/* ---- bookkeeping (bookkeeping.c) ----------------------------------------- */

typedef struct {
    xlpci_bdf bdf;
    char *name;                      /* pci-assignable-add -n */
    char *driver_path;               /* the host driver it came from */
    bool managed;                    /* made assignable by seize=1 */
    int domid;                       /* assigned to, or -1 */
    bool quarantining;               /* its quarantine (iommu.c) may be
                                      * half done: check --repair puts it
                                      * (back) in dom_io if it stays on
                                      * xen-pciback */
} xlpci_bk_dev;

typedef struct {
    xlpci_bk_dev *v;
    size_t n;
    int lockfd;
} xlpci_bk;

_hidden void xlpci_bk_dev_dispose(xlpci_bk_dev *d);
_hidden int xlpci_bk_to_json(const xlpci_bk_dev *v, size_t n, char **json_r);
_hidden int xlpci_bk_from_json(const char *text, xlpci_bk_dev **v_r,
                               size_t *n_r, char *err, size_t errlen);
/* Lock and read (a missing file is empty); commit writes atomically;
 * close unlocks.  Always close after a successful open. */
_hidden int xlpci_bk_open(xlpci_ctx *ctx, xlpci_bk *bk);
/* The bookkeeping lock is held for host steps only, never across a guest
 * wait; both locks are taken with a timeout (the command's, at least 1 s:
 * XLPCI_ERR_BUSY).  A create/attach holds <state dir>/ops SHARED from its
 * intent (records committed) to its finish, so check's reconcile, which
 * takes it EXCLUSIVE, never sees an operation half way, while operations
 * of other domains run side by side. */
_hidden int xlpci_bk_op_begin(xlpci_ctx *ctx, int *fd_r);
_hidden int xlpci_bk_quiesce(xlpci_ctx *ctx, int *fd_r);
_hidden void xlpci_bk_op_end(int *fd);
_hidden int xlpci_bk_commit(xlpci_ctx *ctx, xlpci_bk *bk);
_hidden void xlpci_bk_close(xlpci_bk *bk);
_hidden xlpci_bk_dev *xlpci_bk_find(xlpci_bk *bk, const xlpci_bdf *bdf);
_hidden xlpci_bk_dev *xlpci_bk_find_name(xlpci_bk *bk, const char *name);
_hidden xlpci_bk_dev *xlpci_bk_add(xlpci_bk *bk, const xlpci_bdf *bdf);
_hidden void xlpci_bk_del(xlpci_bk *bk, xlpci_bk_dev *d);

/* ---- host side (assign.c) ------------------------------------------------ */

_hidden int xlpci_assignable_add_locked(xlpci_ctx *ctx, xlpci_bk *bk,
                                        const xlpci_bdf *bdf,
                                        const char *name, bool managed);
_hidden int xlpci_assignable_remove_locked(xlpci_ctx *ctx, bool host,
                                           xlpci_bk *bk,
                                           const xlpci_bdf *bdf, bool rebind);
/* The domain the device's ownership record names, or -1 (libxlnode.c). */
_hidden int xlpci_device_domain(xlpci_ctx *ctx, const xlpci_bdf *bdf);

/* ---- hypervisor (hypervisor.c) ------------------------------------------- */

#define XLPCI_NUM_RESOURCES 7        /* PROC_PCI_NUM_RESOURCES: 6 BARs + ROM */

typedef struct {
    uint64_t start, end, flags;
} xlpci_bar;

/* sysfs "resource": the first XLPCI_NUM_RESOURCES lines "0x%llx 0x%llx
 * 0x%llx" (pure).  XLPCI_ERR_CORRUPT with the reason in err. */
_hidden int xlpci_resource_parse(const char *text, xlpci_bar *bars,
                                 unsigned *n_r, char *err, size_t errlen);
/* sysfs "irq": a decimal number and an optional newline (pure). */
_hidden int xlpci_irq_parse(const char *text, unsigned *irq_r, char *err,
                            size_t errlen);
/* The libxenctrl handle of the host steps; *xch_r = NULL (and 0) when the
 * hypervisor side is skipped: dry run, XLPCI_HV_NONE, !host (the
 * operation found no xen-pciback), no Xen in AUTO (a notice, once).
 * Close with xc_interface_close. */
struct xc_interface_core;
_hidden int xlpci_hv_open(xlpci_ctx *ctx, bool host,
                          struct xc_interface_core **xch_r);
/* Give domid the devices, all or nothing, before xenstore shows them:
 * check the domain type and every device's assignability, then per device
 * reset, permissive, IOMMU assignment, BARs and legacy irq.  *granted_r:
 * something must be taken back on a rollback (false when the hypervisor
 * side is skipped: dry run, XLPCI_HV_NONE, no host side, no Xen in AUTO).
 * Called only with the host side active. */
_hidden int xlpci_hv_grant(xlpci_ctx *ctx, uint32_t domid,
                           const xlpci_dev *devs, size_t n, bool *granted_r);
/* THE release of devices a guest no longer uses (pci-detach, check
 * --repair, destroy): in reverse order, per device the permissions, the
 * reset (function 0 only, reset.c), the IOMMU context (deassigned: Xen
 * parks it in dom_io).  Idempotent; every step is tried, errors logged.
 * A domain Xen no longer has (or that is dying) gets only the resets: Xen
 * took its permissions and IOMMU contexts back when it killed it. */
_hidden int xlpci_hv_revoke(xlpci_ctx *ctx, bool host, uint32_t domid,
                            const xlpci_bdf *bdfs, size_t n);
/* The rollback of xlpci_hv_grant's result when the create/attach fails
 * later: the same without the reset (the guest never saw the devices). */
_hidden int xlpci_hv_revoke_devs(xlpci_ctx *ctx, uint32_t domid,
                                 const xlpci_dev *devs, size_t n);
/* pci-assignable-add / -remove: into / out of dom_io (opens its own
 * handle; nothing when the hypervisor side is skipped). */
_hidden int xlpci_hv_quarantine(xlpci_ctx *ctx, bool host,
                                const xlpci_bdf *bdf);
_hidden int xlpci_hv_unquarantine(xlpci_ctx *ctx, bool host,
                                  const xlpci_bdf *bdf);

/* ---- IOMMU and domain type (iommu.c) ------------------------------------- */

/* (seg << 16) | (bus << 8) | (dev << 3) | func, libxl's pci_encode_bdf. */
_hidden uint32_t xlpci_sbdf(const xlpci_bdf *bdf);
/* 0 for rdm_policy=strict, else XEN_DOMCTL_DEV_RDM_RELAXED. */
_hidden uint32_t xlpci_assign_flag(const xlpci_dev *dev);
/* Once per context (xlpci_hv_open): does Xen have an IOMMU
 * (xc_physinfo's directio capability)?  If not, the IOMMU steps are
 * skipped (said once at -v). */
_hidden void xlpci_iommu_probe(xlpci_ctx *ctx,
                               struct xc_interface_core *xch);
/* 1: the domain exists and is not dying; 0: gone or dying; or an error. */
_hidden int xlpci_hv_domain_alive(xlpci_ctx *ctx,
                                  struct xc_interface_core *xch,
                                  uint32_t domid);
/* PV: 0; HVM or PVH, or no such domain: an error saying so. */
_hidden int xlpci_iommu_domain_check(xlpci_ctx *ctx,
                                     struct xc_interface_core *xch,
                                     uint32_t domid);
/* xc_test_assign_device with libxl's two messages; ENOSYS tolerated. */
_hidden int xlpci_iommu_test(xlpci_ctx *ctx, struct xc_interface_core *xch,
                             uint32_t domid, const xlpci_bdf *bdf);
_hidden int xlpci_iommu_assign(xlpci_ctx *ctx, struct xc_interface_core *xch,
                               uint32_t domid, const xlpci_dev *dev,
                               bool *assigned_r);
/* Idempotent: a device not in domid's context is not an error. */
_hidden int xlpci_iommu_deassign(xlpci_ctx *ctx,
                                 struct xc_interface_core *xch,
                                 uint32_t domid, const xlpci_bdf *bdf);
/* Into dom_io, the quarantine (xlpci_hv_quarantine opens the handle). */
_hidden int xlpci_iommu_quarantine(xlpci_ctx *ctx,
                                   struct xc_interface_core *xch,
                                   const xlpci_bdf *bdf);

/* ---- libxl's device names /libxl/pci/<bdf>/name (names.c) ---------------- */

/* Write <bdf>/name (name), or remove that leaf (NULL), in one
 * transaction (names.c). */
_hidden int xlpci_libxl_name_write(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                                   const char *name);
/* The device xl (or we) named name: XLPCI_ERR_NOTFOUND if none. */
_hidden int xlpci_libxl_name_find(xlpci_ctx *ctx, const char *name,
                                  xlpci_bdf *bdf);

/* ---- reset and permissive (reset.c) -------------------------------------- */

/* pciback/do_flr, else devices/<BDF>/reset; neither, or a failed write:
 * a warning (as libxl, never a failure). */
_hidden void xlpci_reset(xlpci_ctx *ctx, const xlpci_bdf *bdf);
/* The BDF to pciback/permissive. */
_hidden int xlpci_permissive(xlpci_ctx *ctx, const xlpci_bdf *bdf);

/* ---- check: bookkeeping against xenstore (reconcile.c) ------------------- */

/* Compare the records with domid's backend and repair what an interrupted
 * operation left (see reconcile.c); *left_r: problems not repaired.  Only
 * with the host side active. */
_hidden int xlpci_host_reconcile(xlpci_ctx *ctx, bool host, uint32_t domid,
                                 bool repair,
                                 unsigned *left_r);

/* ---- ownership record /libxl/pci/<bdf>/domid (libxlnode.c) -------------- */

/* /libxl/pci/dddd-bb-dd-f[/leaf] (libxl's format) into buf
 * (XLPCI_PATH_MAX); leaf NULL: the device's directory. */
_hidden void xlpci_libxl_path(char *buf, const xlpci_bdf *bdf,
                              const char *leaf);
/* The BDF of a /libxl/pci child name, exactly "dddd-bb-dd-f" (pure);
 * false for anything else. */
_hidden bool xlpci_libxl_name_bdf(const char *name, xlpci_bdf *bdf);
/* .../backend/pci/<domid>, /local/domain/<domid>/device/pci */
_hidden void xlpci_be_parent_path(char *buf, uint32_t domid);
_hidden void xlpci_fe_parent_path(char *buf, uint32_t domid);
/* In t: the domid the node names, -1 if none; XLPCI_ERR_CORRUPT (logged)
 * if it is not a domid. */
_hidden int xlpci_owner_read(xlpci_ctx *ctx, xs_transaction_t t,
                             const xlpci_bdf *bdf, int *owner_r);
/* In t: the devices whose record names domid (records that are not a
 * domid are skipped: check reports those); *bdfs_r malloc'd, *n_r of
 * them. */
_hidden int xlpci_owner_list(xlpci_ctx *ctx, xs_transaction_t t,
                             uint32_t domid, xlpci_bdf **bdfs_r,
                             size_t *n_r);
/* /local/domain/<domid> exists, in t. */
_hidden int xlpci_domain_exists(xlpci_ctx *ctx, xs_transaction_t t,
                                uint32_t domid, bool *exists_r);
/* In t: every device's node must be absent or name domid; plan the
 * writes of the absent ones.  Another domain's (live or gone: stale):
 * XLPCI_ERR_EXISTS, logged ("already assigned to domain D").  One
 * request per device (the listing of /libxl/pci/<bdf>; domid is read
 * only if it is there).  XLPCI_TXN_PREPARE if some device's directory
 * does not exist (and none is another domain's), missing_r[i] (n of them,
 * may be NULL) saying which: xlpci_claim_retry, then run the transaction
 * again. */
_hidden int xlpci_owner_claim(xlpci_ctx *ctx, xs_transaction_t t,
                              xlpci_ops *ops, uint32_t domid,
                              const xlpci_dev *devs, size_t n,
                              bool *missing_r);
/* In t: plan the removal of the domid leaf of each device whose node
 * names domid (another domain's node is left alone). */
_hidden int xlpci_owner_drop(xlpci_ctx *ctx, xs_transaction_t t,
                             xlpci_ops *ops, uint32_t domid,
                             const xlpci_bdf *bdfs, size_t n);
/* The same for the devices at the indices idx of view. */
_hidden int xlpci_owner_drop_view(xlpci_ctx *ctx, xs_transaction_t t,
                                  xlpci_ops *ops, uint32_t domid,
                                  const xlpci_view *view,
                                  const unsigned *idx, size_t n);
/* In t: plan the removal of the per-domain parents (backend/pci/<domid>,
 * /local/domain/<domid>/device/pci) that hold nothing but devid 0. */
_hidden int xlpci_parents_cleanup(xlpci_ctx *ctx, xs_transaction_t t,
                                  xlpci_ops *ops, uint32_t domid);
/* xlpci_layout_remove + the devices' ownership records + the per-domain
 * parents when the last device goes: every removal of indices. */
_hidden int xlpci_remove_devices(xlpci_ctx *ctx, xs_transaction_t t,
                                 xlpci_ops *ops, uint32_t domid,
                                 const xlpci_view *view,
                                 const unsigned *idx, size_t n);
/* Outside any transaction (mkdir of what is missing), so that creates of
 * different domains touch disjoint nodes (creating a child modifies its
 * parent).  What was made is recorded in p (outermost first) for
 * xlpci_parents_prune.  Nothing in dry-run mode. */
typedef struct {
    char **paths;                    /* outermost first */
    size_t n;
} xlpci_prepared;
/* backend/pci/<domid>.  fresh (a create, the directory is normally
 * absent): the root is read and the directory made, two requests, and
 * recorded even if it existed (prune removes it only if empty); else one
 * read when it exists. */
_hidden int xlpci_backend_parent_prepare(xlpci_ctx *ctx, uint32_t domid,
                                         bool fresh, xlpci_prepared *p);
/* /libxl/pci/<bdf> of each device, or only of those marked in missing
 * (known absent: one mkdir each). */
_hidden int xlpci_records_prepare(xlpci_ctx *ctx, const xlpci_dev *devs,
                                  size_t n, const bool *missing,
                                  xlpci_prepared *p);
/* After a transaction of a body that claims devs: if it answered
 * XLPCI_TXN_PREPARE, make the missing records' directories (recorded in
 * p) and answer XLPCI_TXN_PREPARE again: the caller runs the transaction
 * again (at most 3 times, then XLPCI_ERR_RETRIES, logged).  Else rc.
 *     rc = run(); while ((rc = xlpci_claim_retry(.., rc, &tries, ..)) ==
 *                        XLPCI_TXN_PREPARE) rc = run(); */
_hidden int xlpci_claim_retry(xlpci_ctx *ctx, const char *what, int rc,
                              unsigned *tries, const xlpci_dev *devs,
                              size_t n, const bool *missing,
                              xlpci_prepared *p);
/* After a failed create/attach: what prepare created goes again if it is
 * still empty (the store is as it was); then disposes p. */
_hidden void xlpci_parents_prune(xlpci_ctx *ctx, xlpci_prepared *p);
_hidden void xlpci_prepared_dispose(xlpci_prepared *p);

/* ---- resolution (resolve.c) --------------------------------------------- */

/* domid 0 (the backend's) and the reserved domids are refused. */
_hidden int xlpci_check_domid(xlpci_ctx *ctx, uint32_t domid);
/* The domain must exist (/local/domain/<domid>); *name_r gets its name or
 * NULL. */
_hidden int xlpci_domain_read(xlpci_ctx *ctx, xs_transaction_t t,
                              uint32_t domid, char **name_r);
/* name= → BDF: our own names (pci-assignable-add -n) first, then the
 * names given by `xl pci-assignable-add -n` (libxlnode.c). */
_hidden int xlpci_name_to_bdf(xlpci_ctx *ctx, bool host, const char *name,
                              xlpci_bdf *bdf);
/* Specs → devices (*devs_r, *n_r of them; free with xlpci_devs_free):
 * names looked up, "*" expanded to the functions present in sysfs
 * (function 0 last, as libxl), options defaulted. */
_hidden int xlpci_resolve_devs(xlpci_ctx *ctx, bool host,
                               const xlpci_spec *specs,
                               size_t ns, const xlpci_defaults *defs,
                               xlpci_dev **devs_r, size_t *n_r);
_hidden void xlpci_devs_free(xlpci_dev *devs, size_t n);

/* ---- waiting on the guest (wait.c) -------------------------------------- */

/* A xenbus state's name for messages ("absent" for -1). */
_hidden const char *xlpci_state_name(int state);
/* xlpci_view_read and xlpci_view_check, the problem logged. */
_hidden int xlpci_read_checked_view(xlpci_ctx *ctx, xs_transaction_t t,
                                    uint32_t domid, xlpci_view *view);
/* A cycle must not start while an index is still Closing: index of the
 * first such device not in skip (a bitmap of our own indices), or -1. */
_hidden int xlpci_pending_removal(const xlpci_view *view, const bool *skip);
/* Closing or Closed: pciback gave up.  Reports its error node;
 * XLPCI_ERR_BACKEND. */
_hidden int xlpci_backend_failed(xlpci_ctx *ctx, xs_transaction_t t,
                                 uint32_t domid, int state);
/* Why a flow is waiting, for its messages. */
typedef struct {
    int state;                         /* backend state */
    int pending;                       /* index still Closing, or -1 */
    int fe_state;                      /* frontend state, if waited on */
    bool fe_wait;
} xlpci_wait_reason;
_hidden void xlpci_wait_reason_text(const xlpci_wait_reason *w, char *buf,
                                    size_t len);
/* A Reconfiguring cycle needs BOTH ends Connected.  true: go ahead;
 * false: wait (why->fe_wait), or *rc an error. */
_hidden bool xlpci_frontend_ready(xlpci_ctx *ctx, xs_transaction_t t,
                                  uint32_t domid, xlpci_wait_reason *why,
                                  int *rc);
/* Run body until it stops asking to wait (XLPCI_TXN_WAIT), waiting on a
 * watch of the backend between runs, until deadline (XLPCI_ERR_TIMEDOUT).
 * In dry-run mode the body runs once. */
_hidden int xlpci_run_until_ready(xlpci_ctx *ctx, uint32_t domid,
                                  const char *what, xlpci_txn_body *body,
                                  void *arg, long long deadline);
/* For xlpci_wait_backend: the backend is Connected. */
_hidden bool xlpci_is_connected(int state, void *arg);

/* ---- the host side of an assignment (hostside.c) ------------------------ */

/* Called only when the operation found the host side active. */

/* What xlpci_host_prepare did to each device, for xlpci_host_finish to
 * undo. */
enum { XLPCI_HOST_KEPT, XLPCI_HOST_MARKED, XLPCI_HOST_SEIZED };
/* Step 1 of create/attach: every device assignable (seize=1 makes it
 * so) and not another domain's, then recorded as domid's and committed
 * before xenstore is touched (how[i] says what was done).  *ops, the
 * shared operations lock, is held until xlpci_host_finish. */
_hidden int xlpci_host_prepare(xlpci_ctx *ctx, uint32_t domid,
                               const xlpci_dev *devs, size_t n, xlpci_bk *bk,
                               unsigned char *how, int *ops);
/* The last step: keep the assignment (ok) or undo xlpci_host_prepare;
 * releases *ops. */
_hidden int xlpci_host_finish(xlpci_ctx *ctx, uint32_t domid,
                              const xlpci_dev *devs, size_t n, xlpci_bk *bk,
                              const unsigned char *how, bool ok, int *ops);
/* Step 2 of create/attach: the hypervisor grants for the devices no
 * backend lists yet; the devices granted in *sub_r (malloc'd) for a
 * rollback. */
_hidden int xlpci_host_grant(xlpci_ctx *ctx, uint32_t domid,
                             const xlpci_dev *devs, size_t n,
                             xlpci_dev **sub_r, size_t *nsub_r);
/* The host side of devices no guest has any more (pci-detach after the
 * guest released them, destroy): the records say assignable, managed
 * devices go back to their drivers. */
_hidden int xlpci_host_release(xlpci_ctx *ctx, const xlpci_bdf *bdfs,
                               size_t n);
/* Without xen-pciback only xenstore is written: a notice says so. */
_hidden void xlpci_host_absent_notice(xlpci_ctx *ctx, uint32_t domid);

/* ---- destroy (destroy.c) ------------------------------------------------ */

/* What domid holds (its backend's devices, the ownership records and the
 * bookkeeping records naming it, its backend/frontend entries) is
 * reported (warnings) and counted in *held_r; with release, it is all
 * released as xlpci_destroy does, whether the domain exists or not. */
_hidden int xlpci_destroy_run(xlpci_ctx *ctx, bool host, uint32_t domid,
                              bool release,
                              unsigned *held_r);

#endif /* LIBXLPCI_INTERNAL_H */

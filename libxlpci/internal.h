/*
 * libxlpci internal interfaces, for the library's modules.  Not installed.
 * The tests, fuzzers and bench include libxlpci_priv.h instead (the pure
 * floor's interfaces), which this includes.
 *
 * Module map (one concept per file), by floor; a file calls only into its
 * own floor or the floors above it in this list, and no files call each
 * other round in a loop.  tests/pkg/test-layers (make check-unit) reads
 * this map, the "[N] floor" headings and the "<file>.c" lines under them,
 * and checks both rules on the objects' symbols (nm): every library file
 * has its line here.  The protocol the flows drive: docs/protocol.md.
 *
 * [0] pure parsers and planners (no I/O)
 *   bdf.c     BDF and PCI_SPEC_STRING parse/format, the parsers'
 *             error messages (xlpci_errf)
 *   cfg.c     xl.cfg subset reader
 *   ops.c     list of planned xenstore operations
 *   view.c    the backend parser (view: paths, setup, per-index
 *             states, problems, check, entries)
 *   layout.c  the backend's operations for create/append/
 *             detach/remove/rollback/repair
 *   json.c    pci-list -l through yajl, yajl strings
 *   watchplan.c  the watcher's decisions: domains born and gone,
 *             watch events, device list paths, the action queue
 *   resource.c  sysfs "resource" and "irq" of a device, parsed
 *   sriov.c   SR-IOV routing IDs: the BDF of a PF's VF k, and back
 *   qmpmsg.c  QMP messages (device_add, device_del, query-pci; replies,
 *             errors, events) through yajl
 *   owner.c   who holds a device: THE decision, on the facts of the
 *             record, the backends, liveness and Xen (docs/ownership.md)
 * [1] I/O
 *   ctx.c     context, logging, error strings, the operation's one
 *             deadline (XLPCI_OP)
 *   xs.c      transaction runner (xlpci_txn_run; xlpci_txn_read for
 *             read-only steps), checked reads (a listing that may pass
 *             one reply on a connection of its own), the backend's reader
 *             (whole, or the keys a hot path decides on), watch waits (on
 *             a connection of their own, with a re-read budget)
 *   sysfs.c   which functions of a slot exist, is pciback loaded
 *             (xlpci_host_active), sysfs writes and waits; SR-IOV: a
 *             PF's numbers, a VF's PF, the PF a missing BDF would be a
 *             VF of
 *   bookkeeping.c  XLPCI_STATE_DIR/devices.json and its locks
 *   libxlnode.c  libxl's /libxl/pci/<bdf>/ nodes: the domid ownership
 *             record (shared with libxl/xl; xlpci_device_domain), claimed
 *             with one listing per device in the transaction; the shared
 *             parents made before it (backend/pci/<domid>; a missing
 *             record directory after XLPCI_TXN_PREPARE) and cleaned;
 *             check's scan of the records naming a domain
 *   names.c   device names shared with xl (/libxl/pci/<bdf>/name)
 *   qmp.c     QMP client on <run dir>/qmp-libxl-<domid>: handshake,
 *             commands under the command's deadline, events
 *   qmpholder.c  who holds a busy QMP socket (sock_diag, /proc)
 *   xclib.c   libxenctrl, dlopen'ed at the first hypervisor call
 *             (xclib.h: the calls keep their names; nothing else loads it)
 * [2] host side
 *   assign.c  the steps of pci-assignable-add/-remove (pciback binding,
 *             quarantine, the way back)
 *   hypervisor.c  iomem/ioport/irq permissions via libxenctrl; the
 *             grant and release sequences of a device (IOMMU, reset,
 *             permissive, permissions), the quarantine's handle
 *   iommu.c   IOMMU assignment, quarantine, domain type via libxenctrl
 *   reset.c   device reset (do_flr / reset) and pciback permissive
 * [3] the flows' shared steps
 *   resolve.c   domain and device resolution (spec -> devices)
 *   ownership.c  who holds a device, asked of owner.c on the facts
 *             gathered (record, backends, liveness, Xen, bookkeeping):
 *             the checks before a claim, THE release of devices
 *   hostside.c  host side of an assignment: prepare, grant, finish
 *             (keep or undo), release
 *   wait.c    waiting on the guest: wait reasons, frontend ready,
 *             backend failed, run a body until it stops waiting
 *   cycle.c   a Reconfiguring cycle past the deadline: ended late,
 *             joined by the guest, or rolled back; the guest that acted
 *             on it after all (the cycle resumed)
 * [4] the flows (each a file that reads like the protocol it drives)
 *   create.c  create: the whole backend in one transaction
 *   attach.c  pci-attach (hot-add, Reconfiguring cycle, rollback)
 *   detach.c  pci-detach (hot-remove, Reconfiguring cycle, -f)
 *   list.c    pci-list
 *   hvm.c     HVM guests: create/attach/detach through QEMU (QMP) and
 *             the same record as PV (backend entries, ownership)
 *   destroy.c destroy: release all a gone/going domain holds (THE
 *             release of a domain: xlpci_destroy_run, the watcher's too)
 *   assignable.c  pci-assignable-add/-remove/-list: who holds the device
 *             first, then assign.c's steps
 *   check.c   check [--repair]: the store and ownership records
 *   reconcile.c  check: bookkeeping against xenstore, repair
 *   watchact.c  the watcher's actions (create from the guests
 *             directory, release, restore records) and the domains'
 *             lives (Xen's list or xenstore's)
 * [5] the watcher
 *   watch.c   the loop: watches, scans, the actions' child processes
 *             and deadlines (xlpci_watcher_*, docs/watch.md)
 * [6] the CLI: tools/xlpci.c, through libxlpci.h only (libxlpci.so
 *     exports nothing else: tests/pkg/test-symbols)
 *
 * Headers: libxlpci.h (installed, the API); libxlpci_priv.h (what tests,
 * fuzzers and bench need from inside: the pure floor); this file;
 * libxlpci_testing.h, the test-only interface (transaction hook): with the
 * crash injection below, only in test builds (-DXLPCI_TESTING:
 * libxlpci-test.a, build/xlpci-test).
 */
#ifndef LIBXLPCI_INTERNAL_H
#define LIBXLPCI_INTERNAL_H

/* paths, keys, ops, the view and layout, the pure parsers (the tests'
 * window into the library), libxlpci.h and libxlpci_testing.h */
#include "libxlpci_priv.h"
#include <xen/xen.h>                 /* DOMID_FIRST_RESERVED, DOMID_IO */

/* ---- JSON (json.c) ------------------------------------------------------- */

/* A string through yajl (NULL: null); pci-list -l and the bookkeeping. */
struct yajl_gen_t;
_hidden int xlpci_json_str(struct yajl_gen_t *g, const char *s);
/* The text g made, malloc'd in *json_r, when r (the status of the
 * generator's calls so far) is 0; an invalid string answers invalid_rc,
 * another yajl error XLPCI_ERR_FAIL. */
_hidden int xlpci_json_take(struct yajl_gen_t *g, int r, int invalid_rc,
                            char **json_r);

/* ---- context (ctx.c) ----------------------------------------------------- */

struct xlpci_ctx {
    xentoollog_logger *lg;
    struct xs_handle *xsh;
    struct xs_handle *wxsh;          /* the watches' (xs.c), or NULL */
    unsigned timeout_ms;
    unsigned max_attempts;           /* 0: none, only the deadline */
    /* The running operation's one deadline (XLPCI_OP): its start and
     * start + timeout_ms, CLOCK_MONOTONIC ms; op_depth > 0 while one
     * runs (public operations call each other). */
    long long op_start, deadline;
    unsigned op_depth;
    char *sysfs_root;
    char *state_dir;
    char *run_dir;                   /* QMP sockets: qmp-libxl-<domid> */
    int hv_mode;                     /* xlpci_hv_mode */
    bool hv_noted;                   /* "Xen is not running" said once */
    bool iommu_probed;               /* xc_physinfo asked */
    bool iommu_absent;               /* Xen has no IOMMU: no IOMMU steps */
    /* The domain's information read by xlpci_guest_type at the start of
     * an operation, used once by its first domain check (iommu.c). */
    bool dominfo_cached;
    bool guest_type_quiet;           /* xlpci_guest_type_of */
    uint32_t dominfo_domid;
    int dominfo_found;
    uint32_t dominfo_flags, dominfo_emu;
    /* Who is alive, as Xen said it during this operation (ownership.c,
     * xlpci_truth_alive), for the claim inside a transaction
     * (libxlnode.c), which cannot ask Xen, and so that Xen is asked once
     * per domain (xlpci_xenq_alive, xlpci_hv_revoke); emptied when the
     * operation's outermost xlpci_truth is closed (truth_depth). */
    unsigned nalive, truth_depth;
    struct {
        uint32_t domid;
        int alive;
    } alive_known[8];
    FILE *dry_run;
    xlpci_stats stats;
    xlpci_txn_hook *hook;            /* test builds: set by the tests */
    void *hook_arg;
    xlpci_txn_hook *write_hook;      /* test builds: before the writes */
    void *write_hook_arg;
    unsigned watch_seq;
    bool txn_eagain;                 /* a read in the transaction hit EAGAIN */
    int txn_rm_conflict;             /* errno of an rm taken for a conflict */
    bool watch_fired;                /* watch events dropped between the
                                      * attempts of a transaction */
    /* A step the body asks for once its transaction has committed
     * (xlpci_txn_after_commit): reset before every run of the body. */
    void (*after_commit)(xlpci_ctx *ctx);
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

/* ---- the operation's one deadline (ctx.c) --------------------------------- */

/* Every public operation starts its one deadline (timeout_ms from now) on
 * entry, with XLPCI_OP(ctx) as its first statement; it ends when the
 * function returns (a cleanup attribute), and an operation called from
 * another keeps the outer one's.  Every loop of the library - transaction
 * retries, lock waits, watch waits, QMP reads - ends by it:
 *
 *   -t N ends a command within N + 1 s: a step that starts
 *   before the deadline (the command's own work) ends by it; a step that
 *   starts after it (only the rollback or cleanup of a command that has
 *   failed runs then) gets until deadline + XLPCI_GRACE_MS, and always at
 *   least one attempt (the rest of the second: the process's start and
 *   end).  A rollback through QEMU gets XLPCI_HVM_UNDO_MS (hvm.c): N + 2 s
 *   where QEMU is involved. */
#define XLPCI_GRACE_MS 750
/* The longest timeout (xlpci_ctx_set_timeout clamps to it): an hour. */
#define XLPCI_TIMEOUT_MAX_MS 3600000u
typedef struct {
    xlpci_ctx *ctx;
} xlpci_op_scope;
_hidden xlpci_op_scope xlpci_op_enter(xlpci_ctx *ctx);
_hidden void xlpci_op_leave(xlpci_op_scope *s);
#define XLPCI_OP(ctx) \
    xlpci_op_scope xlpci_op_scope_ \
        __attribute__((cleanup(xlpci_op_leave), unused)) = \
        xlpci_op_enter(ctx)
/* CLOCK_MONOTONIC in milliseconds. */
_hidden long long xlpci_now_ms(void);
/* Until when the step starting now may retry or wait (see above). */
_hidden long long xlpci_step_limit(const xlpci_ctx *ctx);

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
/* From a body of xlpci_txn_run: run step once the transaction this run of
 * the body planned has committed (not if it conflicts, fails or is a dry
 * run).  One step per transaction; a later call replaces it. */
_hidden void xlpci_txn_after_commit(xlpci_ctx *ctx,
                                    void (*step)(xlpci_ctx *ctx));
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
/* The same outside any transaction, for a directory that may grow past
 * one xenstore reply (4096 bytes; /libxl/pci): over a connection of its
 * own, so that a daemon that cannot send it (oxenstored closes the
 * connection) leaves ctx's connection usable; that failure is logged
 * naming the limit.  One request in the stats (libxenstore may send a few
 * XS_DIRECTORY_PART for it). */
_hidden int xlpci_xs_directory_alone(xlpci_ctx *ctx, const char *path,
                                     char ***list_r, unsigned *n_r);
/* Read the domain's backend into view, in t: every key of every row. */
_hidden int xlpci_view_read(xlpci_ctx *ctx, xs_transaction_t t,
                            uint32_t domid, xlpci_view *view);
/* The same with only the keys of each row that keys names (a mask of
 * XLPCI_KEY_BIT): the hot paths read what they decide on (the other
 * values stay NULL, xlpci_view_listed says which exist). */
_hidden int xlpci_view_read_keys(xlpci_ctx *ctx, xs_transaction_t t,
                                 uint32_t domid, xlpci_view *view,
                                 unsigned keys);
/* Then the keys of rows from..to-1 that keys names and were not read. */
_hidden int xlpci_view_read_rows(xlpci_ctx *ctx, xs_transaction_t t,
                                 uint32_t domid, xlpci_view *view,
                                 unsigned from, unsigned to, unsigned keys);

/* The reading budget of every wait: the store is re-read after each
 * batch of events, XLPCI_REREAD_BURST times at once and then at most once
 * per XLPCI_REREAD_MS, so a guest rewriting its nodes in a loop costs a
 * bounded number of requests and never moves a deadline, and one that
 * behaves is never made to wait. */
#define XLPCI_REREAD_MS    20
#define XLPCI_REREAD_BURST 16

/* A watch on the domain's backend directory and frontend state, held
 * across several transactions and the waits between them, so no change
 * is missed (or, begun by xlpci_wait_backend, on the backend's state
 * node).  The watches live on a connection of their own (ctx->wxsh): the
 * transactions' connection never holds one (xs.c). */
typedef struct {
    char path[XLPCI_PATH_MAX];       /* the backend directory (or state) */
    char fe_path[XLPCI_PATH_MAX];    /* the frontend's state node */
    char token[64];
    bool active, fe_active;
    unsigned tokens;                 /* re-reads left at once */
    long long refill_ms;             /* when the last token was added */
} xlpci_watch;

/* Register w (zeroed, or ended) on the domain: then read what the wait is
 * about, and wait for its changes with xlpci_watch_wait. */
_hidden int xlpci_watch_begin(xlpci_ctx *ctx, uint32_t domid,
                              xlpci_watch *w);
/* Wait for an event (0) until deadline_ms (CLOCK_MONOTONIC ms):
 * XLPCI_ERR_TIMEDOUT once the deadline has passed, whatever events are
 * queued. */
_hidden int xlpci_watch_wait(xlpci_ctx *ctx, xlpci_watch *w,
                             long long deadline_ms);
/* Unregister (nothing if w was never begun). */
_hidden void xlpci_watch_end(xlpci_ctx *ctx, xlpci_watch *w);

/* Wait on w (begun here, on the state node alone, if it is not) until
 * pred(state) holds for the backend's state node, or the backend fails
 * (Closing/Closed state, error node: XLPCI_ERR_BACKEND), or disappears
 * (XLPCI_ERR_NOTFOUND), or deadline_ms passes (XLPCI_ERR_TIMEDOUT).
 * *state_r gets the last state seen (-1 absent).  The caller ends w. */
typedef bool xlpci_state_pred(int state, void *arg);
_hidden int xlpci_wait_backend(xlpci_ctx *ctx, xlpci_watch *w,
                               uint32_t domid, xlpci_state_pred *pred,
                               void *arg, long long deadline_ms,
                               int *state_r);

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
/* SR-IOV.  Does the device exist (<root>/bus/pci/devices/<BDF>)? */
_hidden bool xlpci_sysfs_exists(xlpci_ctx *ctx, const xlpci_bdf *bdf);
/* Is the device an SR-IOV physical function (sriov_totalvfs above 0)?
 * 1 with its numbers in *s, or 0 (not a PF, or numbers that do not
 * parse: a warning). */
_hidden int xlpci_sysfs_sriov(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                              xlpci_sriov *s);
/* Is the device a virtual function (a physfn link)?  1 with its PF in
 * *pf, or 0. */
_hidden int xlpci_sysfs_physfn(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                               xlpci_bdf *pf);
/* For a device that does not exist: the PF on its segment it would be VF
 * k of (a scan of devices/).  1 with *s and *k_r, or 0. */
_hidden int xlpci_sysfs_vf_slot(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                                xlpci_sriov *s, unsigned *k_r);
/* The same, said: "virtual function K of PF, which has N of its T VFs
 * enabled (<root>/.../PF/sriov_numvfs)" into buf; false (buf "") if bdf
 * is no PF's VF. */
_hidden bool xlpci_sysfs_vf_gone(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                                 char *buf, size_t len);

/* ---- bookkeeping (bookkeeping.c) ----------------------------------------- */

typedef struct {
    xlpci_bk_dev *v;
    size_t n;
    int lockfd;
} xlpci_bk;

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
/* Can the state directory be written (a file as large as the next
 * devices.json made and removed; devices.json not immutable)?  Every
 * command that will commit the bookkeeping asks first, before it changes
 * anything: a read-only, immutable or full state directory is said
 * (naming which) and nothing is done.  0 or XLPCI_ERR_FAIL (logged). */
_hidden int xlpci_bk_probe(xlpci_ctx *ctx);
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
/* An SR-IOV physical function with VFs enabled is never passed through
 * or made assignable (what: "passed through", "made assignable"): 0 if
 * bdf is no such PF, else XLPCI_ERR_BUSY, logged, naming its VFs and who
 * has them. */
_hidden int xlpci_pf_in_use(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                            const char *what);
/* The domain the device's ownership record names, or -1 (libxlnode.c). */
_hidden int xlpci_device_domain(xlpci_ctx *ctx, const xlpci_bdf *bdf);

/* ---- hypervisor (hypervisor.c) ------------------------------------------- */

/* The libxenctrl handle of the host steps; *xch_r = NULL (and 0) when the
 * hypervisor side is skipped: dry run, XLPCI_HV_NONE, !host (the
 * operation found no xen-pciback), no Xen in AUTO (a notice, once).
 * Close with xc_interface_close. */
struct xc_interface_core;
_hidden int xlpci_hv_open(xlpci_ctx *ctx, bool host,
                          struct xc_interface_core **xch_r);
/* The same to read only (the guest type): also in a dry run, and quiet
 * when Xen is not running (the steps that change something say so). */
_hidden int xlpci_hv_open_read(xlpci_ctx *ctx, bool host,
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
 * --repair, destroy, the rollbacks), for the devices the ownership
 * decision lets go (ownership.c): in reverse order, per device the
 * permissions, the IOMMU context (deassigned: Xen parks it in dom_io;
 * never taken on trust, xlpci_iommu_deassign: a device Xen has in
 * another guest is kept, kept[i] set, and not reset), then the reset
 * (function 0 only, reset.c).  Idempotent; every step is tried, errors
 * logged.  A domain Xen no longer has (or that is dying) gets only the
 * resets: Xen took its permissions and IOMMU contexts back when it killed
 * it.  !reset: the rollback of xlpci_hv_grant's result when the
 * create/attach fails later (xlpci_host_grant's devices), the same
 * without the reset (the guest never saw the devices).  kept may be
 * NULL. */
_hidden int xlpci_hv_revoke(xlpci_ctx *ctx, bool host, uint32_t domid,
                            const xlpci_bdf *bdfs, size_t n, bool reset,
                            bool *kept);
/* What Xen says, for the ownership facts of one operation: a read-only
 * libxenctrl handle (also in a dry run) opened at the first question,
 * the domains' answers kept.  Xen is not asked (alive -1, the device
 * XLPCI_XEN_UNKNOWN) when the hypervisor side is skipped: no Xen,
 * XLPCI_HYPERVISOR=none, no xen-pciback (!host). */
typedef struct {
    bool host, tried;
    struct xc_interface_core *xch;
    unsigned n;
    struct {
        uint32_t domid;
        int alive;
    } dom[16];
} xlpci_xenq;
_hidden void xlpci_xenq_init(xlpci_xenq *q, bool host);
/* Is Xen asked at all (the handle opened)? */
_hidden bool xlpci_xenq_asked(xlpci_ctx *ctx, xlpci_xenq *q);
/* *alive_r: 1 Xen has the domain and it is not dying, 0 not, -1 Xen is
 * not asked.  0, or an error (logged). */
_hidden int xlpci_xenq_alive(xlpci_ctx *ctx, xlpci_xenq *q, uint32_t domid,
                             int *alive_r);
/* XLPCI_XEN_FREE / _ASSIGNED / _UNKNOWN (xlpci_iommu_device_free). */
_hidden int xlpci_xenq_device(xlpci_ctx *ctx, xlpci_xenq *q,
                              const xlpci_bdf *bdf);
_hidden void xlpci_xenq_close(xlpci_xenq *q);
/* HVM guests (hvm.c), in libxl's order: before QEMU's device_add, the
 * domain is HVM, Xen has an IOMMU and every device is assignable
 * (xc_test_assign_device); once QEMU has the devices, xlpci_hv_grant_hvm:
 * per device permissive, IOMMU assignment (required: no ENOSYS
 * tolerance), BARs and legacy irq, all or nothing.  Both do nothing when
 * the hypervisor side is skipped; called only with the host side
 * active. */
_hidden int xlpci_hv_hvm_check(xlpci_ctx *ctx, uint32_t domid,
                               const xlpci_dev *devs, size_t n);
_hidden int xlpci_hv_grant_hvm(xlpci_ctx *ctx, uint32_t domid,
                               const xlpci_dev *devs, size_t n,
                               bool *granted_r);
/* pci-assignable-add / -remove: into (into) / out of dom_io (opens its
 * own handle; nothing when the hypervisor side is skipped). */
_hidden int xlpci_hv_quarantine(xlpci_ctx *ctx, bool host,
                                const xlpci_bdf *bdf, bool into);

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
/* The path a guest's devices take, decided at the start of every
 * create/attach/detach: XLPCI_GUEST_PV (xen-pciback and xen-pcifront; also
 * when the hypervisor side is skipped: no Xen, XLPCI_HYPERVISOR=none, no
 * xen-pciback), XLPCI_GUEST_HVM (QEMU over QMP, hvm.c); a PVH guest is
 * refused (error logged: 4.17 has no passthrough for PVH).  The domain's
 * information is kept for the operation's first domain check; the flows
 * call xlpci_guest_forget when they end. */
enum { XLPCI_GUEST_PV, XLPCI_GUEST_HVM, XLPCI_GUEST_PVH };
_hidden int xlpci_guest_type(xlpci_ctx *ctx, bool host, uint32_t domid,
                             int *type_r);
/* The type only (check): a PVH guest is XLPCI_GUEST_PVH, not refused. */
_hidden int xlpci_guest_type_of(xlpci_ctx *ctx, bool host, uint32_t domid,
                                int *type_r);
/* The same through the handle xch (iommu.c; xlpci_guest_type, in
 * hypervisor.c, opens it). */
_hidden int xlpci_iommu_guest_type(xlpci_ctx *ctx,
                                   struct xc_interface_core *xch,
                                   uint32_t domid, int *type_r);
_hidden void xlpci_guest_forget(xlpci_ctx *ctx);
/* PV: 0; HVM or PVH, or no such domain: an error saying so. */
_hidden int xlpci_iommu_domain_check(xlpci_ctx *ctx,
                                     struct xc_interface_core *xch,
                                     uint32_t domid);
/* HVM: 0; anything else, no such domain, or Xen without an IOMMU (HVM
 * passthrough needs one): an error saying so. */
_hidden int xlpci_iommu_domain_check_hvm(xlpci_ctx *ctx,
                                         struct xc_interface_core *xch,
                                         uint32_t domid);
/* xc_test_assign_device with libxl's two messages; ENOSYS tolerated. */
_hidden int xlpci_iommu_test(xlpci_ctx *ctx, struct xc_interface_core *xch,
                             uint32_t domid, const xlpci_bdf *bdf);
_hidden int xlpci_iommu_assign(xlpci_ctx *ctx, struct xc_interface_core *xch,
                               uint32_t domid, const xlpci_dev *dev,
                               bool *assigned_r);
/* Xen's word on a device (xc_test_assign_device with DOMID_INVALID, as
 * Xen 4.17 answers it: 0 in dom0 or dom_io, EINVAL assigned to a guest or
 * unknown to Xen): XLPCI_XEN_FREE, _ASSIGNED, or _UNKNOWN (no IOMMU, or
 * no answer). */
_hidden int xlpci_iommu_device_free(xlpci_ctx *ctx,
                                    struct xc_interface_core *xch,
                                    const xlpci_bdf *bdf);
/* Idempotent: a device not in domid's context is not an error when Xen
 * then says it is free (dom0, dom_io); in another guest: XLPCI_ERR_EXISTS
 * (logged), never taken for a release. */
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

/* A device check's transaction found for the domain, with its verdict. */
typedef struct {
    xlpci_bdf bdf;
    bool listed;                     /* its backend lists it (after the
                                      * repair too) */
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
} xlpci_checked;
/* The bookkeeping against what check found (dev, n: the domain's devices,
 * may be none) and the host-wide leftovers of interrupted operations;
 * with repair, put right from the shared state (see reconcile.c);
 * *left_r: problems not repaired.  locked: the bookkeeping, opened by the
 * caller under the operations lock (xlpci_bk_quiesce), or NULL: both
 * taken here.  Only with the host side active. */
_hidden int xlpci_host_reconcile(xlpci_ctx *ctx, bool host, uint32_t domid,
                                 xlpci_bk *locked, const xlpci_checked *dev,
                                 size_t n, bool repair, unsigned *left_r);

/* ---- ownership record /libxl/pci/<bdf>/domid (libxlnode.c) -------------- */

/* The backend root: every PCI backend is below it. */
#define XLPCI_BE_ROOT "/local/domain/0/backend/pci"
/* .../backend/pci/<domid>, /local/domain/<domid>/device/pci */
_hidden void xlpci_be_parent_path(char *buf, uint32_t domid);
_hidden void xlpci_fe_parent_path(char *buf, uint32_t domid);
/* In t: the domid the node names, -1 if none; XLPCI_ERR_CORRUPT (logged)
 * if it is not a domid. */
_hidden int xlpci_owner_read(xlpci_ctx *ctx, xs_transaction_t t,
                             const xlpci_bdf *bdf, int *owner_r);
/* Outside any transaction, the devices whose record names domid: the
 * listing of /libxl/pci (xlpci_xs_directory_alone) and one read per
 * record, so check only (its cost grows with the host; records that are
 * not a domid are skipped).  *bdfs_r malloc'd, *n_r of them.  A listing
 * that cannot be had fails, logged naming the limit; the connection
 * stays usable. */
_hidden int xlpci_owner_scan(xlpci_ctx *ctx, uint32_t domid,
                             xlpci_bdf **bdfs_r, size_t *n_r);
/* /local/domain/<domid> exists, in t. */
_hidden int xlpci_domain_exists(xlpci_ctx *ctx, xs_transaction_t t,
                                uint32_t domid, bool *exists_r);
/* In t: every device's node must be absent, name domid, or name a domain
 * the ownership decision (owner.c) finds holds nothing any more (gone,
 * and no live domain's backend lists the device: the backends are
 * searched then, xlpci_backend_search; the record is taken over); plan
 * the writes.  A live other domain's: XLPCI_ERR_EXISTS, logged ("already
 * assigned to domain D (alive: ...): `xlpci pci-detach D B` frees it").
 * One request per device (the listing of /libxl/pci/<bdf>; domid is read
 * only if it is there); another domain's record costs its liveness
 * (xlpci_known_alive).
 * XLPCI_TXN_PREPARE if some device's directory does not exist (and none
 * is another live domain's), missing_r[i] (n of them, may be NULL)
 * saying which: xlpci_claim_retry, then run the transaction again. */
_hidden int xlpci_owner_claim(xlpci_ctx *ctx, xs_transaction_t t,
                              xlpci_ops *ops, uint32_t domid,
                              const xlpci_dev *devs, size_t n,
                              bool *missing_r);
/* Is domid alive, in t: Xen's answer of this operation if one was had
 * (ctx->alive_known), else /local/domain/<domid>.  *alive_r 1 or 0 (-1
 * with an error). */
_hidden int xlpci_known_alive(xlpci_ctx *ctx, xs_transaction_t t,
                              uint32_t domid, int *alive_r);
/* In t: does domid's PCI backend list bdf (num_devs, then dev-N until
 * found: at most num_devs + 1 reads)? */
_hidden int xlpci_backend_lists(xlpci_ctx *ctx, xs_transaction_t t,
                                uint32_t domid, const xlpci_bdf *bdf,
                                bool *lists_r);
/* In t: the first domain (not in skip) whose backend lists bdf, or -1:
 * the listing of the backend root and every backend's dev-N, a cost that
 * grows with the host: only to name the guest Xen has a device in when
 * no record or known backend says (ownership.c). */
_hidden int xlpci_backend_search(xlpci_ctx *ctx, xs_transaction_t t,
                                 const xlpci_bdf *bdf, const int *skip,
                                 size_t nskip, int *domid_r);
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
 * /local/domain/<domid>/device/pci) that hold nothing but devid 0; when
 * backend/pci/<domid> goes, the backend root is removed after the commit
 * if it is then empty (xlpci_txn_after_commit). */
_hidden int xlpci_parents_cleanup(xlpci_ctx *ctx, xs_transaction_t t,
                                  xlpci_ops *ops, uint32_t domid);
/* The backend half of xlpci_parents_cleanup alone. */
_hidden int xlpci_be_parent_cleanup(xlpci_ctx *ctx, xs_transaction_t t,
                                    xlpci_ops *ops, uint32_t domid);
/* After the commit of t: the backend root (and its empty ancestors below
 * /local/domain) go if nothing else is in them; for a removal of
 * backend/pci/<domid> planned without xlpci_parents_cleanup. */
_hidden void xlpci_be_root_prune_after_commit(xlpci_ctx *ctx);
/* xlpci_layout_remove + the devices' ownership records + the per-domain
 * parents when the last device goes: every removal of indices.  A view
 * read light (xlpci_view_read_keys) gets, in t, the values the removal
 * needs. */
_hidden int xlpci_remove_devices(xlpci_ctx *ctx, xs_transaction_t t,
                                 xlpci_ops *ops, uint32_t domid,
                                 xlpci_view *view,
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
 * absent): made, one request, and recorded with the backend root even if
 * they existed (prune removes each only if empty); else one read when it
 * exists. */
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
/* pci-detach's "PCI device B is not attached to domain D" (all_funcs:
 * BB:DD.*), logged; XLPCI_ERR_NOTFOUND. */
_hidden int xlpci_not_attached(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                               bool all_funcs, uint32_t domid);

/* ---- waiting on the guest (wait.c) -------------------------------------- */

/* A xenbus state's name for messages ("absent" for -1). */
_hidden const char *xlpci_state_name(int state);
/* xlpci_view_read and xlpci_view_check, the problem logged. */
_hidden int xlpci_read_checked_view(xlpci_ctx *ctx, xs_transaction_t t,
                                    uint32_t domid, xlpci_view *view);
/* The same with only keys of each row (xlpci_view_read_keys): the check
 * judges what was read. */
_hidden int xlpci_read_checked_keys(xlpci_ctx *ctx, xs_transaction_t t,
                                    uint32_t domid, xlpci_view *view,
                                    unsigned keys);
/* xlpci_view_check, the problem logged. */
_hidden int xlpci_view_check_logged(xlpci_ctx *ctx, const xlpci_view *view,
                                    uint32_t domid);
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
/* Run body until it stops asking to wait (XLPCI_TXN_WAIT), waiting on w
 * between runs (registered at the first wait; the caller ends it, and may
 * wait on it again after the commit), until deadline (XLPCI_ERR_TIMEDOUT).
 * In dry-run mode the body runs once. */
_hidden int xlpci_run_until_ready(xlpci_ctx *ctx, xlpci_watch *w,
                                  uint32_t domid, const char *what,
                                  xlpci_txn_body *body, void *arg,
                                  long long deadline);
/* For xlpci_wait_backend: the backend is Connected. */
_hidden bool xlpci_is_connected(int state, void *arg);

/* ---- a cycle past the deadline (cycle.c) -------------------------------- */

/* A cycle that did not end by the deadline, before its rollback (read
 * outside any transaction): 0 it ended late (the backend is Connected:
 * go on as if in time); 1 nobody acted on it (roll it back); the guest
 * joined it (its frontend Reconfiguring, or the backend Reconfigured): its
 * end is waited for until until: 0 if it came, XLPCI_CYCLE_JOINED if not
 * (never rolled back under the guest); or an error.  *state_r: the
 * backend's state last seen. */
#define XLPCI_CYCLE_JOINED 2
/* How long a flow watches the frontend after its rollback. */
#define XLPCI_SETTLE_MS 250
_hidden int xlpci_cycle_joined(xlpci_ctx *ctx, uint32_t domid,
                               long long until, int *state_r);
/* After a rollback committed: watch the frontend until until; if it goes
 * Reconfiguring (the guest acted on the cycle just before), resume the
 * cycle and wait for its end (until the step's limit).  0: the frontend
 * stayed (the rollback stands); 1: the guest had acted, the resumed cycle
 * ended (the guest has what the backend lists); or an error (logged). */
_hidden int xlpci_cycle_after_rollback(xlpci_ctx *ctx, uint32_t domid,
                                       long long until);
/* The frontend Reconfiguring while the backend is Connected (a guest that
 * acted on a cycle rolled back under it): the backend says Reconfiguring
 * again and the frontend's state is written again, in one transaction, so
 * pciback and pcifront end the cycle; waited for until until.  0 if it
 * was not so (nothing written), 1 when the cycle ended, or an error
 * (logged). */
_hidden int xlpci_cycle_resume(xlpci_ctx *ctx, uint32_t domid,
                               long long until);

/* ---- the host side of an assignment (hostside.c) ------------------------ */

/* Called only when the operation found the host side active. */

/* What xlpci_host_prepare did to each device, for xlpci_host_finish to
 * undo (how & XLPCI_HOST_HOW), and whether the domain holds it already
 * (XLPCI_HOST_OWNED: its record names the domain; not granted again). */
enum { XLPCI_HOST_KEPT, XLPCI_HOST_MARKED, XLPCI_HOST_SEIZED };
#define XLPCI_HOST_HOW   0x0f
#define XLPCI_HOST_OWNED 0x10
/* Step 1 of create/attach: who holds each device (xlpci_owners_read: a
 * device another live domain holds is refused, naming it and the way
 * out; the bookkeeping of one only a gone domain named is corrected),
 * every device assignable (seize=1 makes it so), then recorded as
 * domid's and committed before xenstore is touched (how[i] says what was
 * done).  *ops, the shared operations lock, is held until
 * xlpci_host_finish. */
_hidden int xlpci_host_prepare(xlpci_ctx *ctx, uint32_t domid,
                               const xlpci_dev *devs, size_t n, xlpci_bk *bk,
                               unsigned char *how, int *ops);
/* The same, recording the QEMU step about to be asked (XLPCI_PENDING_*)
 * in the intent: an HVM guest's create/attach. */
_hidden int xlpci_host_prepare_pending(xlpci_ctx *ctx, uint32_t domid,
                                       const xlpci_dev *devs, size_t n,
                                       xlpci_bk *bk, unsigned char *how,
                                       int *ops, int pending);
/* The QEMU step recorded for the devices bdfs assigned to domid
 * (XLPCI_PENDING_*), committed before QEMU is asked, cleared once its
 * outcome is known. */
_hidden int xlpci_host_pending(xlpci_ctx *ctx, uint32_t domid,
                               const xlpci_bdf *bdfs, size_t n, int pending);
/* The same with each device's own value (each, if not NULL), the ones
 * they had into prev (if not NULL). */
_hidden int xlpci_host_pending_each(xlpci_ctx *ctx, uint32_t domid,
                                    const xlpci_bdf *bdfs, size_t n,
                                    int pending, const int *each, int *prev);
/* The last step: keep the assignment (ok) or undo xlpci_host_prepare
 * (a seized device goes back to its driver unless a live domain holds it
 * by then); releases *ops. */
_hidden int xlpci_host_finish(xlpci_ctx *ctx, uint32_t domid,
                              const xlpci_dev *devs, size_t n, xlpci_bk *bk,
                              const unsigned char *how, bool ok, int *ops);
/* Step 2 of create/attach: the hypervisor grants for the devices the
 * domain does not hold yet (how, from xlpci_host_prepare); the devices
 * granted in *granted_r (malloc'd) for a rollback (xlpci_hv_revoke
 * without the reset). */
_hidden int xlpci_host_grant(xlpci_ctx *ctx, uint32_t domid,
                             const xlpci_dev *devs, size_t n,
                             const unsigned char *how,
                             xlpci_bdf **granted_r, size_t *ngranted_r);
/* Without xen-pciback only xenstore is written: a notice says so. */
_hidden void xlpci_host_absent_notice(xlpci_ctx *ctx, uint32_t domid);

/* ---- who holds a device, in the flows (ownership.c) ---------------------- */

/* One operation's sources of facts: Xen (asked once per domain) and, per
 * transaction, the /local/domain answers when Xen is not asked. */
typedef struct {
    xlpci_xenq xq;
    xs_transaction_t t;
    unsigned nxs;
    struct {
        uint32_t domid;
        int alive;
        bool read;                     /* /local/domain/<domid> read in t */
    } xs[8];
} xlpci_truth;
_hidden void xlpci_truth_init(xlpci_ctx *ctx, xlpci_truth *tr, bool host);
_hidden void xlpci_truth_close(xlpci_ctx *ctx, xlpci_truth *tr);
/* Is domid alive: Xen's answer when Xen is asked (kept in ctx for the
 * claim, xlpci_known_alive), else /local/domain/<domid> in t.  *alive_r
 * 1 or 0. */
_hidden int xlpci_truth_alive(xlpci_ctx *ctx, xlpci_truth *tr,
                              xs_transaction_t t, uint32_t domid,
                              int *alive_r);
/* Did t itself find /local/domain/<domid> absent (xlpci_truth_alive
 * asked the store, not Xen)?  Then nothing below it exists in t. */
_hidden bool xlpci_truth_store_gone(const xlpci_truth *tr,
                                    xs_transaction_t t, uint32_t domid);
/* What to gather besides the candidates' liveness and backends: */
#define XLPCI_FIND_XEN    1u         /* Xen's word on the device */
#define XLPCI_FIND_SEARCH 2u         /* Xen says assigned and nobody named
                                      * explains it: search the backends
                                      * (xlpci_backend_search) */
#define XLPCI_FIND_SELF   4u         /* self's liveness (else only asked
                                      * when another candidate is there) */
#define XLPCI_FIND_STALE  8u         /* only a gone domain names it (record
                                      * or bookkeeping): search the
                                      * backends too before it is let go
                                      * (check --audit) */
/* In t: complete the facts of bdf (xlpci_owner_facts_init done by the
 * caller: self, record, bk): each candidate's liveness (a value the
 * caller set is kept), whether its backend lists bdf (self's is
 * self_lists, 0 or 1, as the caller read it, or -1 unknown: not read; a
 * live candidate's other than the record's, read: xlpci_backend_lists),
 * Xen's word (how); then the decision into v. */
_hidden int xlpci_owner_gather(xlpci_ctx *ctx, xlpci_truth *tr,
                               xs_transaction_t t, const xlpci_bdf *bdf,
                               int self_lists, unsigned how,
                               xlpci_owner_facts *f, xlpci_owner_verdict *v);
/* The same for n devices in a read-only transaction of its own, each
 * record read there; bk[i] devices.json's domid (bk may be NULL);
 * self_alive (1, 0, or -1: found out when needed). */
_hidden int xlpci_owners_read(xlpci_ctx *ctx, xlpci_truth *tr, int self,
                              int self_alive, const xlpci_bdf *bdfs,
                              const int *bk, size_t n, unsigned how,
                              xlpci_owner_facts *f, xlpci_owner_verdict *v);
/* A claim refused: "PCI device B is already assigned to domain D (alive:
 * ...): `xlpci pci-detach D B` frees it", logged. */
_hidden void xlpci_owner_refuse(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                                const xlpci_owner_facts *f,
                                const xlpci_owner_verdict *v);

/* THE release of devices on behalf of domid (destroy, check --repair,
 * pci-detach, the rollbacks, the watcher), device by device after its
 * verdict v[i]:
 *   nobody live holds it, or domid does (NONE, SELF): with XLPCI_REL_HV
 *     the hypervisor's side (xlpci_hv_revoke: permissions while Xen has
 *     the domain, the IOMMU context confirmed, the reset), with
 *     XLPCI_REL_BK the bookkeeping (assignable; a managed device back to
 *     its driver);
 *   another live domain holds it, or Xen has it in an unnamed guest
 *     (OTHER, XEN), or Xen says so while its context is taken back
 *     (kept): nothing of the device is touched; the bookkeeping is
 *     corrected to name that domain (said at -v), the fact reported.
 * kept_in (may be NULL): devices the caller's own xlpci_hv_revoke found
 * in another guest.  locked: the bookkeeping, opened by the caller (who
 * commits it), or NULL (opened and committed here).  In a dry run: the
 * plan, one "# host:" line a device.
 * A failed revocation changes nothing in the bookkeeping (the domain may
 * still reach the device) and is returned. */
#define XLPCI_REL_HV 1u
#define XLPCI_REL_BK 2u
/* The bookkeeping's leftovers of a gone domain (no record or backend
 * gives it the device any more): only the bookkeeping; released counts
 * the managed ones given back, corrected the others. */
#define XLPCI_REL_LEFTOVER 4u
typedef struct {
    unsigned released;               /* let go (host side done) */
    unsigned kept;                   /* left with a live holder */
    unsigned corrected;              /* bookkeeping corrections */
} xlpci_release_count;
_hidden int xlpci_release_decided(xlpci_ctx *ctx, bool host, uint32_t domid,
                                  const xlpci_bdf *bdfs,
                                  const xlpci_owner_facts *f,
                                  const xlpci_owner_verdict *v, size_t n,
                                  const bool *kept_in, unsigned flags,
                                  xlpci_bk *locked,
                                  xlpci_release_count *cnt);
/* The same, the facts gathered here: the bookkeeping's domid of each
 * device; the records, other domains' liveness and backends only when
 * the bookkeeping names another domain (the caller removed domid's own
 * entries and records: pci-detach). */
_hidden int xlpci_release(xlpci_ctx *ctx, bool host, uint32_t domid,
                          const xlpci_bdf *bdfs, size_t n, const bool *kept,
                          unsigned flags, xlpci_release_count *cnt);

/* ---- destroy (destroy.c) ------------------------------------------------ */

/* THE release of a domain that is gone or going, for destroy, destroy
 * -f, check (--repair) of a gone domain and the host-side watcher (which
 * calls it for each domain xenstore's @releaseDomain says is gone).  What
 * domid holds is what the shared state says: the devices its backend
 * lists and those whose /libxl/pci record names it, looked for among its
 * backend's, the bookkeeping's devices naming it and extra (nextra, may
 * be NULL: check --all-records's scan, xlpci_owner_scan); each is put to
 * the ownership decision (owner.c) in the one transaction that reads the
 * backend once and (XLPCI_DESTROY_RELEASE) removes the domain's backend
 * and frontend entries, their empty parents and its records (rewritten
 * for a live holder whose backend lists the device).  Then the host side
 * (xlpci_release_decided): what nobody live holds is reset and made
 * assignable (managed devices back to their drivers); a device a live
 * domain holds by record, backend or Xen is never touched (the
 * bookkeeping names that domain).  The bookkeeping's devices that the
 * shared state no longer gives the domain (after `xl destroy`) are
 * corrected, a managed one goes back to its driver.  Idempotent;
 * nothing is ever written below /local/domain/<domid>.  No listing of
 * /libxl/pci: its cost is what the domain holds.
 *   XLPCI_DESTROY_RELEASE        release (else only look and report, as
 *                                check does)
 *   XLPCI_DESTROY_ALIVE_REFUSED  a domain that is alive (Xen has it and it
 *                                is not dying; without Xen:
 *                                /local/domain/<domid> exists) is refused,
 *                                XLPCI_ERR_BUSY (logged)
 *   XLPCI_DESTROY_AUDIT          check --audit: a device only the gone
 *                                domain names is looked for in every
 *                                backend before it is let go
 * A domain Xen still has (destroy -f) loses its access first, from a
 * look-up, then the store is changed.  In a dry run the transaction and
 * the host's plan are printed. */
#define XLPCI_DESTROY_RELEASE        (1u << 8)
#define XLPCI_DESTROY_ALIVE_REFUSED  (1u << 9)
#define XLPCI_DESTROY_AUDIT          (1u << 10)
typedef struct {
    bool alive;                      /* the domain, as found out */
    bool entries;                    /* backend/frontend entries were there */
    unsigned held;                   /* devices it held (backend, record) */
    unsigned leftovers;              /* the bookkeeping's alone: free
                                      * devices seize=1 took for it, still
                                      * on xen-pciback */
    unsigned released;               /* let go: host side done, or a
                                      * leftover managed device given back */
    unsigned kept;                   /* held by a live domain: untouched */
    unsigned corrected;              /* bookkeeping corrections */
    unsigned records_fixed;          /* records rewritten for a live holder */
} xlpci_destroy_result;
_hidden int xlpci_destroy_run(xlpci_ctx *ctx, bool host, uint32_t domid,
                              unsigned flags, const xlpci_bdf *extra,
                              size_t nextra, xlpci_destroy_result *res);

/* ---- HVM guests through QEMU (hvm.c) ------------------------------------ */

/* create (create: no backend may exist; XLPCI_CREATE_REPLACE refused) and
 * pci-attach of an HVM guest's devices devs (resolved from specs; their
 * vdevfn becomes QEMU's slot): QEMU's device_add, then the record in one
 * transaction (the order and the rollback: hvm.c). */
/* The start of create and pci-attach: the guest type decides the path
 * (xlpci_guest_type).  An HVM guest's devices go to xlpci_hvm_add; a PVH
 * guest is refused.  *done_r: the flow ends here with the answer (else
 * it is a PV guest: the pciback/pcifront path). */
_hidden int xlpci_hvm_route(xlpci_ctx *ctx, bool host, uint32_t domid,
                            const xlpci_spec *specs, size_t nspecs,
                            xlpci_dev *devs, size_t n, bool create,
                            unsigned flags, bool *done_r);
_hidden int xlpci_hvm_add(xlpci_ctx *ctx, bool host, uint32_t domid,
                          const xlpci_spec *specs, size_t nspecs,
                          xlpci_dev *devs, size_t n, bool create,
                          unsigned flags);
/* pci-detach of bdf (all_funcs: its slot's functions): QEMU's device_del
 * and its confirmation, then the release and the record's removal
 * (XLPCI_DETACH_FORCE: without QEMU). */
_hidden int xlpci_hvm_detach(xlpci_ctx *ctx, bool host, uint32_t domid,
                             const xlpci_bdf *bdf, bool all_funcs,
                             unsigned flags);

/* check of an HVM guest (check.c): its QEMU (query-pci), its record (the
 * backend) and the bookkeeping compared, device by device, and with
 * repair settled: a device QEMU does not have is released (a pci-detach
 * or an attach that QEMU did not carry out); one QEMU has that the record
 * does not list is removed from QEMU (an interrupted attach), then
 * released.  QEMU's steps recorded as pending (an interrupted attach or
 * detach) are settled by what QEMU says.  *problems_r found, *left_r not
 * repaired (logged); a QEMU that cannot be asked is one problem left. */
_hidden int xlpci_hvm_check_qemu(xlpci_ctx *ctx, bool host, uint32_t domid,
                                 bool repair, unsigned *problems_r,
                                 unsigned *left_r);

/* ---- QMP client (qmp.c) ----------------------------------------------------- */

/* A connection to the QEMU of an HVM guest.  Every call takes the
 * command's one deadline (xlpci_now_ms() + timeout): each wait polls with
 * the time left, nothing waits past it. */
#define XLPCI_QMP_LINE_MAX (1u << 20)  /* longest message accepted */
typedef struct {
    int fd;
    uint32_t domid;
    char path[XLPCI_PATH_MAX];
    char *buf;                       /* bytes read: buf[off..len) not yet
                                      * returned, no newline before scan */
    size_t off, scan, len, cap;
    unsigned next_id;
    unsigned budget_ms;              /* what the messages call the time
                                      * the command gave: -t, or a
                                      * rollback's budget */
    struct {                         /* device_del waits: DEVICE_DELETED */
        char qid[XLPCI_QDEV_ID_LEN];
        bool deleted;
    } wanted[8];
    size_t nwanted;
    unsigned long ndropped;          /* events and replies not waited for */
} xlpci_qmp;

/* Why QEMU does not greet on the socket path we hold fd to (qmpholder.c):
 * false and "pid 123 (xl)" of the client QEMU serves, or "another client
 * (xl?)", in buf; true (*qemu_r: QEMU's pid) when QEMU accepted OUR
 * connection: it is slow or hung, not busy. */
_hidden bool xlpci_qmp_holder(const char *path, int fd, char *buf,
                              size_t len, int *qemu_r);
/* The process serving our connection fd (it holds the other end: QEMU,
 * once it greeted us), through sock_diag and /proc (qmpholder.c); 0 if
 * none is found. */
_hidden int xlpci_qmp_server(int fd);
/* The "-xen-domid D" of pid's command line (QEMU's, as libxl starts it):
 * 1 and *domid_r, 0 if it has none, -1 if it cannot be read. */
_hidden int xlpci_proc_xen_domid(int pid, long *domid_r);
/* /proc/<pid>/comm into buf ("?" if unknown). */
_hidden void xlpci_proc_comm(int pid, char *buf, size_t len);
/* <run dir>/qmp-libxl-<domid> into buf (XLPCI_PATH_MAX). */
_hidden int xlpci_qmp_path(xlpci_ctx *ctx, uint32_t domid, char *buf);
/* Connect, read the greeting, qmp_capabilities.  Errors (logged, naming
 * the socket): no QEMU (XLPCI_ERR_NOTFOUND), the socket held by another
 * client past the deadline (XLPCI_ERR_BUSY, naming the holder when /proc
 * tells), no greeting or reply in time (XLPCI_ERR_TIMEDOUT), the
 * connection dropped or not QMP (XLPCI_ERR_FAIL). */
_hidden int xlpci_qmp_open(xlpci_ctx *ctx, uint32_t domid,
                           long long deadline, xlpci_qmp *q);
/* Closes the connection (says, at -v, how many messages QEMU sent that
 * nobody waited for: dropped). */
_hidden void xlpci_qmp_close(xlpci_ctx *ctx, xlpci_qmp *q);
/* Send json (built by xlpci_qmp_build* with id = q->next_id++) and read
 * until the reply carrying id; events met on the way are noted (their
 * names at -v).  0 with the reply in *reply (RETURN or ERROR: the caller
 * judges an error reply; dispose it), or an I/O error (logged, what names
 * the command). */
_hidden int xlpci_qmp_exec(xlpci_ctx *ctx, xlpci_qmp *q, const char *what,
                           const char *json, unsigned id, long long deadline,
                           xlpci_qmp_msg *reply);
/* device_add of dev, then query-pci: *devfn_r = the slot QEMU gave it.
 * A refusal (error reply: *refused_r, QEMU does not have the device) is
 * logged with QEMU's class and text; "Duplicate" ids are XLPCI_ERR_EXISTS
 * (said at -v only: the caller says what it makes of it).
 * Any other error leaves it unknown whether QEMU has the device. */
_hidden int xlpci_qmp_device_add(xlpci_ctx *ctx, xlpci_qmp *q,
                                 const xlpci_dev *dev, long long deadline,
                                 unsigned *devfn_r, bool *refused_r);
/* query-pci: the passed-through devices QEMU has (by libxl's ids:
 * xlpci_qmp_pci_passthrough), or an error (logged). */
_hidden int xlpci_qmp_passthrough(xlpci_ctx *ctx, xlpci_qmp *q,
                                  long long deadline, xlpci_bdf **bdfs_r,
                                  size_t *n_r);
/* query-pci for bdf's id: 1 (in QEMU, *devfn_r), 0 (not), or an error. */
_hidden int xlpci_qmp_device_slot(xlpci_ctx *ctx, xlpci_qmp *q,
                                  const xlpci_bdf *bdf, long long deadline,
                                  unsigned *devfn_r);
/* device_del, then wait until query-pci no longer lists it (woken early by
 * DEVICE_DELETED).  A device QEMU does not have (DeviceNotFound, or not in
 * query-pci) is gone already: 0.  Past the deadline: XLPCI_ERR_TIMEDOUT
 * (logged: the guest did not release it).  *accepted_r (may be NULL):
 * QEMU answered device_del with success, so it may still remove the
 * device later, when the guest acknowledges the unplug. */
_hidden int xlpci_qmp_device_del(xlpci_ctx *ctx, xlpci_qmp *q,
                                 const xlpci_bdf *bdf, long long deadline,
                                 bool *accepted_r);
/* The wait of xlpci_qmp_device_del alone, for a removal QEMU accepted
 * before (a pci-detach that was interrupted): 0 once QEMU no longer lists
 * bdf, XLPCI_ERR_TIMEDOUT (logged) at the deadline, or an error. */
_hidden int xlpci_qmp_device_gone(xlpci_ctx *ctx, xlpci_qmp *q,
                                  const xlpci_bdf *bdf, long long deadline);

/* ---- the watcher's actions (watchact.c) ----------------------------------- */

/* The live domains (alive: not dying), from Xen's list with xch, else
 * xenstore's /local/domain; suspended (may be NULL): those Xen has shut
 * down to save them (SHUTDOWN_suspend).  One listing whatever the host
 * holds. */
_hidden int xlpci_watch_domains(xlpci_ctx *ctx,
                                struct xc_interface_core *xch,
                                xlpci_domset *live, xlpci_domset *suspended);
/* 1: the domain is alive (Xen: exists, not dying; no xch: its
 * /local/domain/<domid> exists), 0: gone, or an error.  *running_r (may
 * be NULL): alive and not shut down. */
_hidden int xlpci_watch_alive(xlpci_ctx *ctx, struct xc_interface_core *xch,
                              uint32_t domid, bool *running_r);
/* The domains something is held for: a backend, a /libxl/pci record,
 * with host a bookkeeping entry; and (owners, may be NULL) who each
 * record names.  The records' listing grows with the host: the start's
 * reconcile only. */
_hidden int xlpci_watch_holders(xlpci_ctx *ctx, bool host,
                                xlpci_domset *holders, xlpci_recmap *owners);
_hidden int xlpci_watch_has_backend(xlpci_ctx *ctx, uint32_t domid,
                                    bool *has_r);
/* The domain's name (*name_r, malloc'd; NULL: none yet) and its device
 * list <dir>/<name>.cfg in path: 1 if that exists, else 0. */
_hidden int xlpci_watch_guest_file(xlpci_ctx *ctx, uint32_t domid,
                                   const char *dir, char *path, size_t len,
                                   char **name_r);
/* The actions (each in a child process of watch.c).  *did_r: something
 * was changed. */
_hidden int xlpci_watch_act_create(xlpci_ctx *ctx, uint32_t domid,
                                   const char *dir, unsigned qemu_wait_ms,
                                   bool *did_r);
_hidden int xlpci_watch_act_release(xlpci_ctx *ctx, uint32_t domid,
                                    bool scan, bool *did_r);
/* The removed records recs[] (each with its former owner, whose backend
 * alone is read; XLPCI_NO_OWNER: every running domain's), or with all
 * every record of every running domain's backend. */
_hidden int xlpci_watch_act_records(xlpci_ctx *ctx, const xlpci_recent *recs,
                                    size_t n, bool all,
                                    unsigned *restored_r);

#endif /* LIBXLPCI_INTERNAL_H */

/*
 * libxlpci internal interfaces, floor [1] of the module map in
 * internal.h: I/O: context, xenstore, sysfs, bookkeeping, libxl's nodes,
 * QMP, libxenctrl.  Included by that floor's files (bookkeeping.c ctx.c
 * libxlnode.c names.c qmp.c qmpholder.c sysfs.c xclib.c xs.c) and,
 * through the headers above it, by the floors above; it includes the
 * floor below (pure.h).  tests/pkg/test-layers checks that every library
 * file includes its own floor's header and no other.
 */
#ifndef LIBXLPCI_IO_H
#define LIBXLPCI_IO_H

#include "pure.h"

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

/* ---- libxl's device names /libxl/pci/<bdf>/name (names.c) ---------------- */

/* Write <bdf>/name (name), or remove that leaf (NULL), in one
 * transaction (names.c). */
_hidden int xlpci_libxl_name_write(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                                   const char *name);
/* The device xl (or we) named name: XLPCI_ERR_NOTFOUND if none. */
_hidden int xlpci_libxl_name_find(xlpci_ctx *ctx, const char *name,
                                  xlpci_bdf *bdf);

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
/* The domain the device's ownership record names, or -1 (libxlnode.c). */
_hidden int xlpci_device_domain(xlpci_ctx *ctx, const xlpci_bdf *bdf);

#endif /* LIBXLPCI_IO_H */

/*
 * libxlpci internal interfaces, floor [3] of the module map in
 * internal.h: the flows' shared steps: resolution, ownership, the host
 * side of an assignment, waits.  Included by that floor's files (cycle.c
 * hostside.c ownership.c resolve.c wait.c) and, through the headers above
 * it, by the floors above; it includes the floor below (host.h).
 * tests/pkg/test-layers checks that every library file includes its own
 * floor's header and no other.
 */
#ifndef LIBXLPCI_STEPS_H
#define LIBXLPCI_STEPS_H

#include "host.h"

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
/* A flow's cycle that did not end by the deadline: xlpci_cycle_joined;
 * when nobody acted on it and undo is given, the flow's rollback (undo,
 * a transaction body named what, on arg), and if that found the guest had
 * acted meanwhile (*undone still false once it committed) the cycle is
 * looked at again, as when the guest had joined.  xlpci_cycle_joined's
 * answer, or the rollback's error. */
_hidden int xlpci_cycle_late(xlpci_ctx *ctx, uint32_t domid,
                             long long until, int *state_r,
                             const char *what, xlpci_txn_body *undo,
                             void *arg, const bool *undone);
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

#endif /* LIBXLPCI_STEPS_H */

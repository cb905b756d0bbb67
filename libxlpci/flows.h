/*
 * libxlpci internal interfaces, floor [4] of the module map in
 * internal.h: the flows (and the watcher's actions).  Included by that
 * floor's files (assignable.c attach.c check.c create.c destroy.c
 * detach.c hvm.c list.c reconcile.c watchact.c) and, through the headers
 * above it, by the floors above; it includes the floor below (steps.h).
 * tests/pkg/test-layers checks that every library file includes its own
 * floor's header and no other.
 */
#ifndef LIBXLPCI_FLOWS_H
#define LIBXLPCI_FLOWS_H

#include "steps.h"

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

#endif /* LIBXLPCI_FLOWS_H */

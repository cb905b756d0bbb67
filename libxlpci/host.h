/*
 * libxlpci internal interfaces, floor [2] of the module map in
 * internal.h: the host side: pciback, Xen's permissions and IOMMU, reset.
 * Included by that floor's files (assign.c hypervisor.c iommu.c reset.c)
 * and, through the headers above it, by the floors above; it includes the
 * floor below (io.h).  tests/pkg/test-layers checks that every library
 * file includes its own floor's header and no other.
 */
#ifndef LIBXLPCI_HOST_H
#define LIBXLPCI_HOST_H

#include "io.h"

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

/* ---- reset and permissive (reset.c) -------------------------------------- */

/* pciback/do_flr, else devices/<BDF>/reset; neither, or a failed write:
 * a warning (as libxl, never a failure). */
_hidden void xlpci_reset(xlpci_ctx *ctx, const xlpci_bdf *bdf);
/* The BDF to pciback/permissive. */
_hidden int xlpci_permissive(xlpci_ctx *ctx, const xlpci_bdf *bdf);

#endif /* LIBXLPCI_HOST_H */

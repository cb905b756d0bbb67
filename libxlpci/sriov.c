/*
 * SR-IOV routing IDs (pure).  A physical function (PF) with SR-IOV
 * enabled has NumVFs virtual functions (VFs); VF k (0-based) has the
 * routing ID  RID(PF) + First VF Offset + k * VF Stride  (PCIe SR-IOV
 * 1.1, 3.3.10-11; Linux pci_iov_virtfn_bus/_devfn), where a routing ID
 * is bus << 8 | devfn on the PF's segment: a VF may sit on a later bus.
 * The kernel shows the numbers in the PF's sysfs directory
 * (sriov_totalvfs, sriov_numvfs, sriov_offset, sriov_stride; sysfs.c
 * reads them), so a device that does not exist can still be named: VF k
 * of that PF, gone because fewer than k + 1 VFs are enabled.
 */
#include "pure.h"

static unsigned rid(const xlpci_bdf *b)
{
    return b->bus << 8 | b->dev << 3 | b->func;
}

bool xlpci_sriov_vf_bdf(const xlpci_sriov *s, unsigned k, xlpci_bdf *vf)
{
    unsigned r;

    if (k >= s->total || !s->offset || (k && !s->stride))
        return false;                  /* not a VF, or no routing known */
    r = rid(&s->pf) + s->offset + k * s->stride;
    if (r > 0xffff)
        return false;                  /* past bus 255 */
    vf->seg = s->pf.seg;
    vf->bus = r >> 8;
    vf->dev = r >> 3 & 0x1f;
    vf->func = r & 7;
    return true;
}

int xlpci_sriov_vf_index(const xlpci_sriov *s, const xlpci_bdf *bdf)
{
    unsigned r = rid(bdf), first = rid(&s->pf) + s->offset, k;

    if (bdf->seg != s->pf.seg || !s->total || !s->offset || r < first)
        return -1;
    if (r == first)
        return 0;
    if (!s->stride || (r - first) % s->stride)
        return -1;
    k = (r - first) / s->stride;
    return k < s->total ? (int)k : -1;
}

/*
 * A fake hypervisor for the tests: a libxenctrl.so.4.17 (same SONAME and
 * symbol version as Debian's) that defines the xc_* calls libxlpci makes
 * and records them, one line per call, instead of making hypercalls.  A
 * test puts its directory first in LD_LIBRARY_PATH for the xlpci it runs,
 * so the product binary is unchanged and ASan/valgrind need nothing
 * special (no LD_PRELOAD).
 *
 *   FAKEXC_LOG=FILE       append the calls to FILE (O_APPEND, one write)
 *   FAKEXC_FAIL=CALL[:N],...
 *                         fail the N-th call of CALL in this process (every
 *                         call without :N) with EPERM; CALL is open,
 *                         iomem_permission, ioport_permission, map_pirq,
 *                         unmap_pirq, irq_permission, assign_device,
 *                         deassign_device, test_assign_device or
 *                         getinfolist
 *   FAKEXC_PROBE=BACKEND  with every permission and (de)assign call also
 *                         record what xenstore shows then: the backend's
 *                         state and each dev-N=state-N ("[be absent]")
 *
 * The IOMMU, modelled on Xen 4.17's xen/drivers/passthrough/pci.c: each
 * device has a context, dom0 (the hardware domain), io (dom_io, the
 * quarantine) or a guest's domid, kept across processes in
 *   FAKEXC_STATE=FILE     one line per device not in dom0:
 *                         "<dddd:bb:dd.f> <io|domid> [q]" (q: quarantined
 *                         explicitly, by an assignment to dom_io)
 * The three domctls answer as Xen 4.17's do_domctl and iommu_do_pci_domctl
 * (xen/common/domctl.c, xen/drivers/passthrough/pci.c):
 *   - the domain first: DOMID_INVALID is no domain (test_assign_device
 *     only: the device alone is asked about), dom_io (assign/deassign
 *     only), else a domain that does not exist is ESRCH; the caller's own
 *     domain (dom0) is EINVAL ("no self-assignment");
 *   - assign_device(d) moves a device from dom0 or io to d (d = io too),
 *     else EBUSY; a dying d is EINVAL;
 *   - test_assign_device: 0 if the device is in dom0 or io, else EINVAL
 *     (4.17 turns device_assigned's EBUSY and ENODEV into EINVAL: "already
 *     assigned, or non-existent"), whatever domain is named;
 *   - deassign_device(d) needs the device in d (else ENODEV): from io it
 *     goes to dom0, from a guest to io (quarantine on, as 4.17 by default;
 *     with
 *   FAKEXC_QUARANTINE=0   only a device quarantined explicitly goes to io)
 *   FAKEXC_IOMMU=0        no IOMMU: physinfo has no directio capability,
 *                         the three calls fail with ENOSYS
 *   FAKEXC_DOMAINS=D=T,...
 *                         the domains that exist (getinfolist) and their
 *                         type T: pv, hvm, pvh, pv-nopt (built without
 *                         passthrough: the IOMMU calls for it fail with
 *                         EOPNOTSUPP) or dying (a pv domain being
 *                         destroyed).  Unset: the domains xenstore has
 *                         (/local/domain/<D>), every one pv: a test that
 *                         removes /local/domain/<D> kills D for Xen too.
 *
 * Line format: "<call> dom=<d> <args> [<probe>]", failures end in
 * " -> <ERRNO NAME>" (EPERM for an injected failure).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenstore.h>

#define EXPORT __attribute__((visibility("default")))

struct xc_interface_core {
    int magic;
};

static unsigned counts[16];
static const char *const calls[] = {
    "open", "iomem_permission", "ioport_permission", "map_pirq",
    "unmap_pirq", "irq_permission", "assign_device", "deassign_device",
    "test_assign_device", "getinfolist", "physinfo",
};

/* Should this call (index c) fail?  Counts every call. */
static int should_fail(unsigned c)
{
    const char *spec = getenv("FAKEXC_FAIL");
    const char *p;
    size_t len = strlen(calls[c]);

    counts[c]++;
    for (p = spec; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (strncmp(p, calls[c], len) || (p[len] && !strchr(":,", p[len])))
            continue;
        if (p[len] != ':' || strtoul(p + len + 1, NULL, 10) == counts[c])
            return 1;
    }
    return 0;
}

static void probe(char *buf, size_t len)
{
    const char *be = getenv("FAKEXC_PROBE");
    struct xs_handle *xs;
    char path[512], *v, *st;
    unsigned n, i, num = 0;
    size_t used;

    buf[0] = '\0';
    if (!be || !(xs = xs_open(0)))
        return;
    snprintf(path, sizeof(path), "%s/state", be);
    v = xs_read(xs, XBT_NULL, path, &n);
    snprintf(buf, len, " [be %s%s", v ? "state=" : "absent", v ? v : "");
    free(v);
    snprintf(path, sizeof(path), "%s/num_devs", be);
    v = xs_read(xs, XBT_NULL, path, &n);
    if (v)
        num = (unsigned)strtoul(v, NULL, 10);
    free(v);
    for (i = 0; i < num && i < 64; i++) {
        snprintf(path, sizeof(path), "%s/dev-%u", be, i);
        v = xs_read(xs, XBT_NULL, path, &n);
        snprintf(path, sizeof(path), "%s/state-%u", be, i);
        st = xs_read(xs, XBT_NULL, path, &n);
        used = strlen(buf);
        snprintf(buf + used, len - used, " %s=%s", v ? v : "?",
                 st ? st : "?");
        free(v);
        free(st);
    }
    used = strlen(buf);
    snprintf(buf + used, len - used, "]");
    xs_close(xs);
}

static const char *errname(int e)
{
    switch (e) {
    case 0: return NULL;
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ESRCH: return "ESRCH";
    default: return "EINVAL";
    }
}

static void record(int failed, int with_probe, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* failed: 0, 1 (EPERM) or an errno value */
static void record(int failed, int with_probe, const char *fmt, ...)
{
    const char *log = getenv("FAKEXC_LOG");
    char line[2048], pr[1500];
    size_t used;
    va_list ap;
    int fd;

    if (!log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (with_probe) {
        probe(pr, sizeof(pr));
        used = strlen(line);
        snprintf(line + used, sizeof(line) - used, "%s", pr);
    }
    used = strlen(line);
    snprintf(line + used, sizeof(line) - used, "%s%s\n",
             failed ? " -> " : "", failed ? errname(failed == 1 ? EPERM
                                                                : failed)
                                          : "");
    fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, strlen(line)) < 0)
        perror("fakexc: log");
    close(fd);
}

static int result(int failed)
{
    if (!failed)
        return 0;
    errno = EPERM;
    return -1;
}

EXPORT xc_interface *xc_interface_open(xentoollog_logger *logger,
                                       xentoollog_logger *dombuild_logger,
                                       unsigned open_flags)
{
    static struct xc_interface_core h = { 0x78633031 };
    int f = should_fail(0);

    record(f, 0, "open flags=%u logger=%s", open_flags,
           logger && logger == dombuild_logger ? "same" : "other");
    if (f) {
        errno = ENOENT;
        return NULL;
    }
    return &h;
}

EXPORT int xc_interface_close(xc_interface *xch)
{
    if (xch)
        record(0, 0, "close");
    return 0;
}

EXPORT int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid,
                                      unsigned long first_mfn,
                                      unsigned long nr_mfns,
                                      uint8_t allow_access)
{
    int f = should_fail(1);

    (void)xch;
    record(f, 1, "iomem_permission dom=%u first=0x%lx nr=%lu allow=%u",
           domid, first_mfn, nr_mfns, allow_access);
    return result(f);
}

EXPORT int xc_domain_ioport_permission(xc_interface *xch, uint32_t domid,
                                       uint32_t first_port,
                                       uint32_t nr_ports,
                                       uint32_t allow_access)
{
    int f = should_fail(2);

    (void)xch;
    record(f, 1, "ioport_permission dom=%u first=0x%x nr=%u allow=%u",
           domid, first_port, nr_ports, allow_access);
    return result(f);
}

EXPORT int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index,
                               int *pirq)
{
    int f = should_fail(3);

    (void)xch;
    if (!f && *pirq < 0)
        *pirq = index;
    record(f, 1, "map_pirq dom=%u index=%d pirq=%d", domid, index, *pirq);
    return result(f);
}

EXPORT int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq)
{
    int f = should_fail(4);

    (void)xch;
    record(f, 1, "unmap_pirq dom=%u pirq=%d", domid, pirq);
    return result(f);
}

EXPORT int xc_domain_irq_permission(xc_interface *xch, uint32_t domid,
                                    uint32_t pirq, bool allow_access)
{
    int f = should_fail(5);

    (void)xch;
    record(f, 1, "irq_permission dom=%u pirq=%u allow=%d", domid, pirq,
           allow_access);
    return result(f);
}

/* ---- the IOMMU ------------------------------------------------------------ */

#define CTX_DOM0 (-1)
#define CTX_IO   ((int)DOMID_IO)
#define MAXDEV   64

typedef struct {
    uint32_t sbdf;
    int ctx;
    int quarantined;
} devctx;

static void sbdf_text(uint32_t sbdf, char *buf, size_t len)
{
    snprintf(buf, len, "%04x:%02x:%02x.%x", sbdf >> 16, (sbdf >> 8) & 0xff,
             (sbdf >> 3) & 0x1f, sbdf & 7);
}

static void dom_text(uint32_t domid, char *buf, size_t len)
{
    if (domid == DOMID_IO)
        snprintf(buf, len, "io");
    else if (domid == DOMID_INVALID)
        snprintf(buf, len, "invalid");
    else
        snprintf(buf, len, "%u", domid);
}

static const char *dom_type(uint32_t domid, char *buf, size_t len);

static size_t load(devctx *v)
{
    const char *file = getenv("FAKEXC_STATE");
    unsigned seg, bus, dev, fn;
    char line[128], where[16], q[4], t[32];
    size_t n = 0;
    FILE *f;

    if (!file || !(f = fopen(file, "re")))
        return 0;
    while (n < MAXDEV && fgets(line, sizeof(line), f)) {
        int k = sscanf(line, "%x:%x:%x.%x %15s %3s", &seg, &bus, &dev, &fn,
                       where, q);

        if (k < 5)
            continue;
        v[n].sbdf = seg << 16 | bus << 8 | dev << 3 | fn;
        v[n].ctx = !strcmp(where, "io") ? CTX_IO : atoi(where);
        v[n].quarantined = k == 6 && !strcmp(q, "q");
        if (v[n].ctx != CTX_IO && v[n].ctx != CTX_DOM0 && v[n].ctx != 0 &&
            !dom_type((uint32_t)v[n].ctx, t, sizeof(t))) {
            /* Xen no longer has that domain: its kill released the device
             * (pci_release_devices: deassigned, quarantined) */
            const char *qe = getenv("FAKEXC_QUARANTINE");

            v[n].ctx = !(qe && !strcmp(qe, "0")) || v[n].quarantined
                       ? CTX_IO : CTX_DOM0;
        }
        n++;
    }
    fclose(f);
    return n;
}

static void save(const devctx *v, size_t n)
{
    const char *file = getenv("FAKEXC_STATE");
    char tmp[600], b[32], w[16];
    size_t i;
    FILE *f;

    if (!file)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    f = fopen(tmp, "we");
    if (!f)
        return;
    for (i = 0; i < n; i++) {
        if (v[i].ctx == CTX_DOM0 && !v[i].quarantined)
            continue;
        sbdf_text(v[i].sbdf, b, sizeof(b));
        dom_text((uint32_t)v[i].ctx, w, sizeof(w));
        fprintf(f, "%s %s%s\n", b, v[i].ctx == CTX_DOM0 ? "0" : w,
                v[i].quarantined ? " q" : "");
    }
    if (fclose(f) == 0)
        rename(tmp, file);
}

static devctx *find(devctx *v, size_t *n, uint32_t sbdf)
{
    size_t i;

    for (i = 0; i < *n; i++)
        if (v[i].sbdf == sbdf)
            return &v[i];
    if (*n == MAXDEV)
        return NULL;
    v[*n].sbdf = sbdf;
    v[*n].ctx = CTX_DOM0;
    v[*n].quarantined = 0;
    return &v[(*n)++];
}

/* Does xenstore have /local/domain/<domid>? (FAKEXC_DOMAINS unset) */
static int xs_has_domain(uint32_t domid)
{
    struct xs_handle *xs = xs_open(0);
    char path[64], *v;
    unsigned n;

    if (!xs)
        return 0;
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    v = xs_read(xs, XBT_NULL, path, &n);
    xs_close(xs);
    free(v);
    return v != NULL;
}

/* The type of domid from FAKEXC_DOMAINS: "pv", "hvm", ...; NULL: no such
 * domain. */
static const char *dom_type(uint32_t domid, char *buf, size_t len)
{
    const char *spec = getenv("FAKEXC_DOMAINS"), *p;

    if (!spec)
        return domid < DOMID_FIRST_RESERVED && xs_has_domain(domid)
               ? "pv" : NULL;
    for (p = spec; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        char *end;
        unsigned long d = strtoul(p, &end, 10);

        if (end != p && *end == '=' && d == domid) {
            size_t k = strcspn(end + 1, ",");

            snprintf(buf, len, "%.*s", (int)k, end + 1);
            return buf;
        }
    }
    return NULL;
}

/* The smallest domain >= first that exists, its type in buf; or NULL. */
static const char *next_domain(uint32_t first, uint32_t *d_r, char *buf,
                               size_t len)
{
    const char *spec = getenv("FAKEXC_DOMAINS");
    struct xs_handle *xs;
    char **list;
    unsigned n, i;
    long best = -1;

    if (spec) {
        uint32_t d;
        const char *t;

        for (d = first; d < DOMID_FIRST_RESERVED; d++)
            if ((t = dom_type(d, buf, len))) {
                *d_r = d;
                return t;
            }
        return NULL;
    }
    /* one listing of /local/domain */
    if (!(xs = xs_open(0)))
        return NULL;
    list = xs_directory(xs, XBT_NULL, "/local/domain", &n);
    xs_close(xs);
    for (i = 0; list && i < n; i++) {
        char *end;
        unsigned long d = strtoul(list[i], &end, 10);

        if (*end || end == list[i] || d < first || d >= DOMID_FIRST_RESERVED)
            continue;
        if (best < 0 || (long)d < best)
            best = (long)d;
    }
    free(list);
    if (best < 0)
        return NULL;
    *d_r = (uint32_t)best;
    snprintf(buf, len, "pv");
    return buf;
}

/* errno of an IOMMU domctl on domid before the device is looked at:
 * do_domctl's lookup of the domain, then iommu_do_domctl's IOMMU check.
 * DOMID_INVALID (test only) and dom_io (assign/deassign only) are no
 * domain lookup; the caller's own domain (dom0) is refused. */
static int iommu_domctl_err(uint32_t domid, int test, int assign)
{
    const char *iommu = getenv("FAKEXC_IOMMU");
    char buf[32];
    const char *t;

    if ((domid == DOMID_IO && test) || (domid == DOMID_INVALID && !test))
        return ESRCH;
    if (domid != DOMID_IO && domid != DOMID_INVALID) {
        t = dom_type(domid, buf, sizeof(buf));
        if (!t)
            return ESRCH;
    } else {
        t = NULL;
    }
    if (iommu && !strcmp(iommu, "0"))
        return ENOSYS;
    if (domid == 0)
        return EINVAL;                 /* no self-assignment */
    if (t && !strcmp(t, "pv-nopt"))
        return EOPNOTSUPP;
    if (t && assign && !strcmp(t, "dying"))
        return EINVAL;
    return 0;
}

static int result_errno(int e)
{
    if (!e)
        return 0;
    errno = e == 1 ? EPERM : e;
    return -1;
}

EXPORT int xc_test_assign_device(xc_interface *xch, uint32_t domid,
                                 uint32_t machine_sbdf)
{
    int e = should_fail(8);
    devctx v[MAXDEV], *d;
    size_t n = load(v);
    char b[32], w[16];

    (void)xch;
    if (!e)
        e = iommu_domctl_err(domid, 1, 0);
    if (!e) {
        /* device_assigned(): ENODEV or EBUSY, both EINVAL for the test */
        d = find(v, &n, machine_sbdf);
        if (!d || (d->ctx != CTX_DOM0 && d->ctx != CTX_IO))
            e = EINVAL;
    }
    sbdf_text(machine_sbdf, b, sizeof(b));
    dom_text(domid, w, sizeof(w));
    record(e, 0, "test_assign_device dom=%s sbdf=%s", w, b);
    return result_errno(e);
}

EXPORT int xc_assign_device(xc_interface *xch, uint32_t domid,
                            uint32_t machine_sbdf, uint32_t flag)
{
    int e = should_fail(6);
    devctx v[MAXDEV], *d = NULL;
    size_t n = load(v);
    char b[32], w[16];

    (void)xch;
    if (!e)
        e = iommu_domctl_err(domid, 0, 1);
    if (!e) {
        d = find(v, &n, machine_sbdf);
        if (!d)
            e = ENODEV;
        else if (d->ctx != CTX_DOM0 && d->ctx != CTX_IO)
            e = EBUSY;
    }
    if (!e) {
        d->ctx = (int)domid;
        if (domid == DOMID_IO)
            d->quarantined = 1;
        save(v, n);
    }
    sbdf_text(machine_sbdf, b, sizeof(b));
    dom_text(domid, w, sizeof(w));
    record(e, 1, "assign_device dom=%s sbdf=%s flag=%u", w, b, flag);
    return result_errno(e);
}

EXPORT int xc_deassign_device(xc_interface *xch, uint32_t domid,
                              uint32_t machine_sbdf)
{
    const char *q = getenv("FAKEXC_QUARANTINE");
    int e = should_fail(7);
    devctx v[MAXDEV], *d = NULL;
    size_t n = load(v);
    char b[32], w[16];

    (void)xch;
    if (!e)
        e = iommu_domctl_err(domid, 0, 0);
    if (!e) {
        d = find(v, &n, machine_sbdf);
        if (!d || d->ctx != (int)domid)
            e = ENODEV;
    }
    if (!e) {
        if (domid == DOMID_IO) {
            d->ctx = CTX_DOM0;
            d->quarantined = 0;
        } else if (!(q && !strcmp(q, "0")) || d->quarantined) {
            d->ctx = CTX_IO;
        } else {
            d->ctx = CTX_DOM0;
        }
        save(v, n);
    }
    sbdf_text(machine_sbdf, b, sizeof(b));
    dom_text(domid, w, sizeof(w));
    record(e, 1, "deassign_device dom=%s sbdf=%s", w, b);
    return result_errno(e);
}

/* ---- domains ------------------------------------------------------------- */

EXPORT int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
                                 unsigned int max_domains,
                                 xc_domaininfo_t *info)
{
    int e = should_fail(9);
    char buf[32];
    const char *t = NULL;
    uint32_t d = first_domain;

    (void)xch;
    if (!e && max_domains) {
        t = next_domain(first_domain, &d, buf, sizeof(buf));
        if (t) {
            memset(info, 0, sizeof(*info));
            info->domain = (domid_t)d;
            if (!strcmp(t, "hvm") || !strcmp(t, "pvh"))
                info->flags |= XEN_DOMINF_hvm_guest;
            if (!strcmp(t, "dying"))
                info->flags |= XEN_DOMINF_dying;
#if defined(__i386__) || defined(__x86_64__)
            if (!strcmp(t, "hvm"))
                info->arch_config.emulation_flags = XEN_X86_EMU_ALL;
            else if (!strcmp(t, "pvh"))
                info->arch_config.emulation_flags = XEN_X86_EMU_LAPIC;
#endif
        }
    }
    if (t && d != first_domain)
        record(e, 0, "getinfolist first=%u found=%u:%s", first_domain, d, t);
    else
        record(e, 0, "getinfolist first=%u found=%s", first_domain,
               e ? "-" : t ? t : "none");
    if (e)
        return result_errno(e);
    return t && max_domains ? 1 : 0;
}

EXPORT int xc_physinfo(xc_interface *xch, xc_physinfo_t *info)
{
    const char *iommu = getenv("FAKEXC_IOMMU");
    int e = should_fail(10);

    (void)xch;
    memset(info, 0, sizeof(*info));
    info->capabilities = XEN_SYSCTL_PHYSCAP_pv;
    if (!(iommu && !strcmp(iommu, "0")))
        info->capabilities |= XEN_SYSCTL_PHYSCAP_directio;
    record(e, 0, "physinfo directio=%d",
           !!(info->capabilities & XEN_SYSCTL_PHYSCAP_directio));
    return result_errno(e);
}

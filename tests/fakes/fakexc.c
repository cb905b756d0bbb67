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
 *                         unmap_pirq or irq_permission
 *   FAKEXC_PROBE=BACKEND  with every permission call also record what
 *                         xenstore shows then: the backend's state and
 *                         each dev-N=state-N ("[be absent]" if none)
 *
 * Line format: "<call> dom=<d> <args> [<probe>]", failures end in
 * " -> EPERM".
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

static unsigned counts[8];
static const char *const calls[] = {
    "open", "iomem_permission", "ioport_permission", "map_pirq",
    "unmap_pirq", "irq_permission",
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

static void record(int failed, int with_probe, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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
    snprintf(line + used, sizeof(line) - used, "%s\n",
             failed ? " -> EPERM" : "");
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

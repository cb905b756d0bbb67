/*
 * fakexen.c - LD_PRELOAD shim that lets Debian's stock xenstored (C) and
 * oxenstored (/usr/lib/xen-4.17/bin/) run without a hypervisor, so the
 * integration tests talk to the REAL daemon.
 *
 * It defines every libxenctrl / libxenevtchn / libxengnttab symbol the
 * daemons import (the drift guard in test_harness checks that against
 * `nm -D --undefined-only`), and serves the two /proc/xen files dom0_init()
 * reads.  Facts: shared/reference/real-xenstored-without-xen.md.
 *
 * Env (read by the daemon process):
 *   FAKEXS_MAX_DOMID  domids above it do not exist (default 32751)
 *   FAKEXS_DEAD_FILE  file of domids that do not exist (re-read each call;
 *                     SIGUSR2 to the daemon fires VIRQ_DOM_EXC)
 *   FAKEXS_DEBUG=1    log every faked call to stderr
 *
 * Never built with sanitizers: it is loaded into the daemon.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define VIRQ_PORT 1

static int dbg;
#define D(...) do { if (dbg) fprintf(stderr, "fakexen: " __VA_ARGS__); } while (0)

/* ---------------- libxenctrl ---------------- */
/* Must be word-aligned: the OCaml Xenctrl stubs (oxenstored) store the raw
 * handle pointer as an OCaml value, so it must not look like a tagged int. */
static long dummy_xc[4];

xc_interface *xc_interface_open(xentoollog_logger *l, xentoollog_logger *d,
                                unsigned flags)
{
    (void)l; (void)d; (void)flags;
    D("xc_interface_open\n");
    return (xc_interface *)dummy_xc;
}

int xc_interface_close(xc_interface *xch) { (void)xch; return 0; }

static unsigned long max_domid(void)
{
    const char *s = getenv("FAKEXS_MAX_DOMID");
    return s ? strtoul(s, NULL, 0) : 0x7fefUL; /* DOMID_FIRST_RESERVED - 1 */
}

static int domid_dead(uint32_t domid)
{
    const char *f = getenv("FAKEXS_DEAD_FILE");
    char buf[4096];
    ssize_t n;
    int fd, dead = 0;
    char *p, *e;

    if (!f)
        return 0;
    fd = open(f, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    for (p = buf; *p; p = e) {
        unsigned long v = strtoul(p, &e, 0);
        if (e == p) { e = p + 1; continue; }
        if (v == domid) { dead = 1; break; }
    }
    return dead;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                      unsigned int max_doms, xc_dominfo_t *info)
{
    unsigned long maxd = max_domid();
    uint32_t d;
    (void)xch;

    if (!max_doms)
        return 0;
    /* Real semantics: return the first existing domain >= first_domid. */
    for (d = first_domid; d <= maxd; d++) {
        if (d != 0 && domid_dead(d))
            continue;
        memset(info, 0, sizeof(*info));
        info->domid = d;
        info->running = 1;
        info->max_vcpu_id = 0;
        info->nr_online_vcpus = 1;
        D("xc_domain_getinfo(%u) -> %u\n", first_domid, d);
        return 1;
    }
    D("xc_domain_getinfo(%u) -> none\n", first_domid);
    return 0;
}

/* oxenstored's Xenctrl.domain_getinfo uses xc_domain_getinfolist. */
int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
                          unsigned int max_domains, xc_domaininfo_t *info)
{
    unsigned long maxd = max_domid();
    unsigned int n = 0;
    uint32_t d;
    (void)xch;

    for (d = first_domain; d <= maxd && n < max_domains; d++) {
        if (d != 0 && domid_dead(d))
            continue;
        memset(&info[n], 0, sizeof(info[n]));
        info[n].domain = d;
        info[n].flags = XEN_DOMINF_running;
        info[n].max_vcpu_id = 0;
        info[n].nr_online_vcpus = 1;
        n++;
    }
    D("xc_domain_getinfolist(%u,%u) -> %u\n", first_domain, max_domains, n);
    if (!n)
        errno = ESRCH;
    return n;
}

/* Called by the OCaml stubs' failwith_xc() on any error. */
static xc_error fake_err = { .code = XC_ERROR_NONE };
const xc_error *xc_get_last_error(xc_interface *xch)
{
    (void)xch;
    return &fake_err;
}

const char *xc_error_code_to_desc(int code)
{
    (void)code;
    return "fakexen error";
}

/* oxenstored maps a guest's ring with this on XS_INTRODUCE (declared only
 * with XC_WANT_COMPAT_MAP_FOREIGN_API). */
void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
                           unsigned long mfn);
void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
                           unsigned long mfn)
{
    void *p;
    (void)xch; (void)prot; (void)mfn;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
    D("xc_map_foreign_range(dom %u) -> %p\n", dom, p);
    return p == MAP_FAILED ? NULL : p;
}

/* oxenstored (Poll module init) does setrlimit(RLIMIT_NOFILE, nr_open) and
 * aborts on EPERM without CAP_SYS_RESOURCE: clamp to the current hard limit. */
int setrlimit(__rlimit_resource_t res, const struct rlimit *rl)
{
    static int (*real_setrlimit)(__rlimit_resource_t, const struct rlimit *);
    int rc;

    if (!real_setrlimit)
        real_setrlimit = (int (*)(__rlimit_resource_t, const struct rlimit *))
            dlsym(RTLD_NEXT, "setrlimit");
    rc = real_setrlimit(res, rl);
    if (rc && errno == EPERM && res == RLIMIT_NOFILE) {
        struct rlimit cur, nrl;
        if (getrlimit(res, &cur) == 0) {
            nrl.rlim_max = cur.rlim_max;
            nrl.rlim_cur = rl->rlim_cur < cur.rlim_max ? rl->rlim_cur
                                                       : cur.rlim_max;
            D("setrlimit(NOFILE,%lu) EPERM -> clamped to %lu\n",
              (unsigned long)rl->rlim_max, (unsigned long)nrl.rlim_cur);
            rc = real_setrlimit(res, &nrl);
        }
    }
    return rc;
}

/* ---------------- libxenevtchn ---------------- */
struct xenevtchn_handle { int efd; };
static struct xenevtchn_handle *the_xce;
static int next_port = 10;
static volatile sig_atomic_t virq_pending;

static void usr2_handler(int sig)
{
    uint64_t one = 1;
    (void)sig;
    virq_pending = 1;
    if (the_xce)
        (void)!write(the_xce->efd, &one, sizeof(one));
}

static xenevtchn_handle *mk_xce(int efd)
{
    struct xenevtchn_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->efd = efd;
    the_xce = h;
    signal(SIGUSR2, usr2_handler);
    return h;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                 unsigned int flags)
{
    int efd;
    (void)logger;
    efd = eventfd(0, EFD_NONBLOCK |
                     ((flags & XENEVTCHN_NO_CLOEXEC) ? 0 : EFD_CLOEXEC));
    if (efd < 0)
        return NULL;
    D("xenevtchn_open -> efd %d\n", efd);
    return mk_xce(efd);
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned int flags)
{
    (void)logger; (void)flags;
    return mk_xce(fd);
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    close(xce->efd);
    if (the_xce == xce)
        the_xce = NULL;
    free(xce);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce) { return xce->efd; }

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce,
                                              unsigned int virq)
{
    (void)xce;
    D("bind_virq(%u) -> %d\n", virq, VIRQ_PORT);
    return VIRQ_PORT;
}

xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                           evtchn_port_t remote_port)
{
    (void)xce;
    D("bind_interdomain(dom %u, rport %u) -> %d\n", domid, remote_port,
      next_port);
    return next_port++;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint64_t v;
    (void)!read(xce->efd, &v, sizeof(v));   /* drain */
    if (virq_pending) {
        virq_pending = 0;
        D("pending -> virq\n");
        return VIRQ_PORT;
    }
    /* Spurious: report a port nobody uses (0 is never a bound port). */
    return 0;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    (void)xce; (void)port;
    return 0;
}

/* ---------------- libxengnttab ---------------- */
static char dummy_xgt;

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                 unsigned int open_flags)
{
    (void)logger; (void)open_flags;
    return (xengnttab_handle *)&dummy_xgt;
}

int xengnttab_close(xengnttab_handle *xgt) { (void)xgt; return 0; }

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    (void)xgt; (void)nr_grants;
    return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                              uint32_t ref, int prot)
{
    void *p;
    (void)xgt; (void)ref; (void)prot;
    p = mmap(NULL, getpagesize(), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    D("map_grant_ref(dom %u) -> %p\n", domid, p);
    return p == MAP_FAILED ? NULL : p;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    (void)xgt;
    return munmap(start_address, (size_t)count * getpagesize());
}

/* ---------------- /proc/xen/xsd_{port,kva} ---------------- */
static int fake_memfd(const char *name, const char *content, size_t size)
{
    int fd = memfd_create(name, 0);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, size) < 0) {
        close(fd);
        return -1;
    }
    if (content && pwrite(fd, content, strlen(content), 0) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int open(const char *path, int flags, ...)
{
    static int (*real_open)(const char *, int, ...);
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (!strcmp(path, "/proc/xen/xsd_port")) {
        D("open xsd_port\n");
        return fake_memfd("xsd_port", "1", 0); /* size from content */
    }
    if (!strcmp(path, "/proc/xen/xsd_kva")) {
        D("open xsd_kva\n");
        return fake_memfd("xsd_kva", NULL, getpagesize());
    }
    if (!real_open)
        real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    return real_open(path, flags, mode);
}

/* oxenstored (OCaml runtime) calls open64 */
int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return open(path, flags, mode);
}

__attribute__((constructor)) static void fakexen_init(void)
{
    dbg = getenv("FAKEXS_DEBUG") != NULL;
}

/*
 * pcimodel - a behavioural model of Linux xen-pciback (dom0) and
 * xen-pcifront (guests) over a real xenstore, as a separate process: the
 * test peer of libxlpci.
 *
 * It follows drivers/xen/xen-pciback/xenbus.c + vpci.c, drivers/pci/
 * xen-pcifront.c and drivers/xen/xenbus/ function by function
 * (docs/protocol.md sections 2.1 and 2.2); the functions below
 * carry the kernel's names.  The decisions (what to do given the values
 * read) are pure functions (*_action, vpci_place); the rest reads and
 * writes the store.  By default it is UNPATCHED: pciback reads num_devs
 * once, in xen_pcibk_setup_backend(), and a write while the backend is
 * Initialised does nothing.  --patched adds Linux commit c81d3d2460
 * (xen_pcibk_reconfigure from the backend watch in Initialised).
 *
 * Watch dispatch is as in xenbus: pciback's be_watch runs on any write
 * under its backend directory, its otherend watch (frontend_changed) on
 * writes to the frontend's state node, pcifront's otherend watch
 * (backend_changed) on writes to the backend's state node; both otherend
 * watches also fire once when registered, at probe.  A device is probed
 * only on an event under its directory (xenbus_dev_changed), and only if
 * its state is Initialising (xenbus_probe_node).  xenbus_switch_state()
 * keeps the driver's cached state and skips a switch to the cached value.
 * Errors are written as xenbus_va_dev_error() does: "%i " of -err, err
 * being a negative errno, so "22 Couldn't locate PCI device ...".
 *
 *   pcimodel [--ready FILE] [--status-dir DIR] [--patched]
 *            [--no-frontend DOMID]... [--frontend-stuck DOMID]...
 *            [--backend-stuck DOMID]...
 *            [--not-assignable BDF]... [--vf BDF]... [--bridge BDF]...
 *            [--delay-ms N] [--frontend-delay-ms N]
 *            [--frontend-lag-ms N] [-v]
 *
 * --backend-stuck DOMID: that guest's pciback ignores the frontend's
 * Reconfiguring (a release or an export that takes longer than the
 * toolstack waits), while its pcifront reacts as usual.
 *
 * --frontend-lag-ms N: a guest's pcifront that answers a Reconfiguring
 * slowly: it removes the devices Closing at once, as the kernel does, but
 * says Reconfiguring only N ms later (a guest short of CPU); the
 * toolstack's rollback can commit in between (issue 21).
 *
 * --frontend-delay-ms N: a guest's pcifront probes N ms after its frontend
 * directory appeared (a domain created paused, unpaused once the
 * toolstack is done), so the backend sits in Initialised meanwhile.
 *
 * --status-dir: DIR/guest-<domid> lists what the guest sees ("<vdev> <host
 * bdf>" per line, sorted), DIR/exported-<domid> what pciback exported,
 * both rewritten atomically (temp + rename) after every event.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xenbus.h>

#define MAX_DOMS   64
#define MAX_LIST   64
#define NSLOTS     32                 /* PCI_SLOT_MAX */
#define BE_ROOT    "/local/domain/0/backend/pci"
#define XEN_PCI_MAGIC "7"

typedef struct {
    unsigned seg, bus, dev, func;
} bdf_t;

typedef struct {
    bdf_t host;
    bool vf;
    unsigned slot, func;              /* virtual address 0000:00:slot.func */
    unsigned devid;                   /* the index it was exported as */
} vdev_t;

/* One PCI backend device (xen_pcibk_device) and its guest's pcifront. */
typedef struct {
    bool used;
    unsigned domid;
    char be[128], fe[128];
    /* pciback */
    bool probed;
    int be_cached;                    /* xenbus_device->state */
    vdev_t exported[MAX_LIST];        /* in the order they were added */
    unsigned nexported;
    /* pcifront */
    bool fe_probed;
    long long fe_boot_ms;             /* --frontend-delay-ms: boot time */
    int fe_cached;
    vdev_t seen[MAX_LIST];            /* what the guest has enumerated */
    unsigned nseen;
} pdev_t;

static struct {
    struct xs_handle *xs;
    pdev_t doms[MAX_DOMS];
    bool patched;
    unsigned no_frontend[MAX_LIST], nno_frontend;
    unsigned stuck[MAX_LIST], nstuck;
    unsigned be_stuck[MAX_LIST], nbe_stuck;
    bdf_t not_assignable[MAX_LIST];
    unsigned nnot_assignable;
    bdf_t vfs[MAX_LIST];
    unsigned nvfs;
    bdf_t bridges[MAX_LIST];
    unsigned nbridges;
    const char *status_dir;
    int delay_ms;
    int fe_delay_ms;
    int fe_lag_ms;
    int verbose;
} m;

static volatile sig_atomic_t stop;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;

    if (!m.verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "pcimodel: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- pure decisions (what the kernel does given the values read) ---- */

/* xenbus_probe_node() + backend_bus_id(): probe a backend only if its
 * state is Initialising, it has frontend-id and a non-empty frontend, and
 * the frontend path exists (else -ENOENT, silently: TEST A/A2). */
static bool pciback_may_probe(int be_state, const char *fe, const char *feid,
                              bool fe_exists)
{
    return be_state == XenbusStateInitialising && fe && *fe && feid &&
           fe_exists;
}

/* xenbus_probe_node() + read_backend_details(): the same for a frontend. */
static bool pcifront_may_probe(int fe_state, const char *be, const char *beid,
                               bool be_exists)
{
    return fe_state == XenbusStateInitialising && be && *be && beid &&
           be_exists;
}

typedef enum { BW_NONE, BW_SETUP, BW_RECONFIGURE } be_watch_action;

/* xen_pcibk_be_watch() */
static be_watch_action xen_pcibk_be_watch_action(int be_state, bool patched)
{
    switch (be_state) {
    case XenbusStateInitWait:
        return BW_SETUP;                      /* xen_pcibk_setup_backend */
    case XenbusStateInitialised:
        /* c81d3d2460: xen_pcibk_reconfigure(pdev, XenbusStateInitialised) */
        return patched ? BW_RECONFIGURE : BW_NONE;
    default:
        return BW_NONE;
    }
}

typedef enum {
    FC_NONE, FC_ATTACH, FC_RECONFIGURE, FC_CONNECTED, FC_CLOSING, FC_CLOSED,
    FC_CLOSED_UNREGISTER, FC_UNREGISTER,
} fe_changed_action;

/* xen_pcibk_frontend_changed() */
static fe_changed_action xen_pcibk_frontend_changed_action(int fe_state,
                                                           bool online)
{
    switch (fe_state) {
    case XenbusStateInitialised:
        return FC_ATTACH;
    case XenbusStateReconfiguring:
        return FC_RECONFIGURE;
    case XenbusStateConnected:
        /* pcifront switched from Reconfiguring to Connected */
        return FC_CONNECTED;
    case XenbusStateClosing:
        return FC_CLOSING;
    case XenbusStateClosed:
        /* if (xenbus_dev_is_online(xdev)) break; fallthrough */
        return online ? FC_CLOSED : FC_CLOSED_UNREGISTER;
    case XenbusStateUnknown:
        return FC_UNREGISTER;                 /* device_unregister */
    default:
        return FC_NONE;
    }
}

typedef enum { RC_SKIP, RC_EXPORT, RC_REMOVE } reconf_action;

/* xen_pcibk_reconfigure(): what to do with index i given state-i. */
static reconf_action xen_pcibk_reconfigure_action(unsigned substate)
{
    switch (substate) {
    case XenbusStateInitialising:
        return RC_EXPORT;
    case XenbusStateClosing:
        return RC_REMOVE;
    default:
        return RC_SKIP;
    }
}

typedef enum {
    BC_NONE, BC_TRY_CONNECT, BC_TRY_DISCONNECT, BC_DETACH, BC_ATTACH,
} be_changed_action;

/* pcifront_backend_changed() (fe_cached is xdev->state) */
static be_changed_action pcifront_backend_changed_action(int be_state,
                                                         int fe_cached)
{
    switch (be_state) {
    case XenbusStateConnected:
        return BC_TRY_CONNECT;
    case XenbusStateClosed:
        if (fe_cached == XenbusStateClosed)
            return BC_NONE;
        return BC_TRY_DISCONNECT;             /* missed the Closing */
    case XenbusStateClosing:
        return BC_TRY_DISCONNECT;
    case XenbusStateReconfiguring:
        return BC_DETACH;
    case XenbusStateReconfigured:
        return BC_ATTACH;
    default:                                  /* 0, 1, 2, 3 */
        return BC_NONE;
    }
}

static bool same_phys_slot(const bdf_t *a, const bdf_t *b)
{
    return a->seg == b->seg && a->bus == b->bus && a->dev == b->dev;
}

/*
 * vpci.c __xen_pcibk_add_pci_dev(), post-4ba50e7c42: a non-VF function
 * joins the virtual slot whose first device is the same physical slot
 * (skipping slots headed by a VF), keeping its function number; otherwise,
 * and always for a VF (at function 0), the first empty slot.  0, or
 * -ENOMEM when the 32 slots are used.
 */
static int vpci_place(const vdev_t *ex, unsigned n, const bdf_t *b, bool vf,
                      unsigned *slot_r, unsigned *func_r)
{
    unsigned slot, i, func = vf ? 0 : b->func;

    if (!vf || func) {
        for (slot = 0; slot < NSLOTS; slot++) {
            const vdev_t *t = NULL;

            for (i = 0; i < n && !t; i++)
                if (ex[i].slot == slot)
                    t = &ex[i];               /* list_first() of the slot */
            if (!t || (t->vf && t->func == 0))
                continue;
            if (same_phys_slot(&t->host, b)) {
                *slot_r = slot;
                *func_r = func;
                return 0;
            }
        }
    }
    for (slot = 0; slot < NSLOTS; slot++) {
        for (i = 0; i < n; i++)
            if (ex[i].slot == slot)
                break;
        if (i == n) {
            *slot_r = slot;
            *func_r = func;
            return 0;
        }
    }
    return -ENOMEM;
}

/* ---- store helpers -------------------------------------------------- */

static char *xread(const char *dir, const char *key)
{
    char path[256];
    unsigned len;

    snprintf(path, sizeof(path), "%s%s%s", dir, key ? "/" : "", key ?: "");
    return xs_read(m.xs, XBT_NULL, path, &len);
}

static bool xexists(const char *path)
{
    char *v = xread(path, NULL);

    free(v);
    return v != NULL;
}

static void xwritef(const char *dir, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xwritef(const char *dir, const char *key, const char *fmt, ...)
{
    char path[256], val[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    /* the kernel writes with XBT_NIL too; a node that vanished with its
     * directory is no concern of the model */
    if (!xs_write(m.xs, XBT_NULL, path, val, strlen(val)))
        logf_("write %s failed: %s", path, strerror(errno));
}

/*
 * xenbus_scanf(): the node's error (-ENOENT when absent), -ERANGE when
 * nothing converted ("distinctive errno"), else the number of conversions.
 * fmt takes at most four unsigned/int pointers.
 */
static int xenbus_scanf(const char *dir, const char *key, const char *fmt,
                        ...) __attribute__((format(scanf, 3, 4)));
static int xenbus_scanf(const char *dir, const char *key, const char *fmt,
                        ...)
{
    char *v;
    va_list ap;
    int r;

    errno = 0;
    v = xread(dir, key);
    if (!v)
        return errno ? -errno : -ENOENT;
    va_start(ap, fmt);
    r = vsscanf(v, fmt, ap);
    va_end(ap);
    free(v);
    return r <= 0 ? -ERANGE : r;      /* the kernel's vsscanf has no EOF */
}

/* xenbus_read_unsigned() */
static unsigned xenbus_read_unsigned(const char *dir, const char *key,
                                     unsigned def)
{
    unsigned v;

    return xenbus_scanf(dir, key, "%u", &v) == 1 ? v : def;
}

/* xenbus_read_driver_state(): Unknown if absent. */
static int driver_state(const char *dir)
{
    int s;

    return xenbus_scanf(dir, "state", "%d", &s) == 1 ? s
                                                      : XenbusStateUnknown;
}

static bool bdf_eq(const bdf_t *a, const bdf_t *b)
{
    return same_phys_slot(a, b) && a->func == b->func;
}

static bool in_bdf_list(const bdf_t *list, unsigned n, const bdf_t *b)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (bdf_eq(&list[i], b))
            return true;
    return false;
}

static bool in_dom_list(const unsigned *list, unsigned n, unsigned d)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (list[i] == d)
            return true;
    return false;
}

static pdev_t *pdev_get(unsigned domid, bool create)
{
    unsigned i;
    pdev_t *free_slot = NULL;

    for (i = 0; i < MAX_DOMS; i++) {
        if (m.doms[i].used && m.doms[i].domid == domid)
            return &m.doms[i];
        if (!m.doms[i].used && !free_slot)
            free_slot = &m.doms[i];
    }
    if (!create || !free_slot)
        return NULL;
    memset(free_slot, 0, sizeof(*free_slot));
    free_slot->used = true;
    free_slot->domid = domid;
    free_slot->be_cached = XenbusStateUnknown;
    free_slot->fe_cached = XenbusStateUnknown;
    snprintf(free_slot->be, sizeof(free_slot->be), BE_ROOT "/%u/0", domid);
    snprintf(free_slot->fe, sizeof(free_slot->fe),
             "/local/domain/%u/device/pci/0", domid);
    return free_slot;
}

/* ---- status files --------------------------------------------------- */

static int cmp_vdev(const void *a, const void *b)
{
    const vdev_t *x = a, *y = b;

    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return x->func < y->func ? -1 : x->func > y->func;
}

static void write_list(const char *kind, unsigned domid, const vdev_t *list,
                       unsigned n)
{
    char path[512], tmp[520];
    vdev_t sorted[MAX_LIST];
    unsigned i;
    FILE *f;

    if (!m.status_dir)
        return;
    snprintf(path, sizeof(path), "%s/%s-%u", m.status_dir, kind, domid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return;
    memcpy(sorted, list, n * sizeof(*list));
    qsort(sorted, n, sizeof(*sorted), cmp_vdev);
    for (i = 0; i < n; i++)
        fprintf(f, "0000:00:%02x.%x %04x:%02x:%02x.%x\n", sorted[i].slot,
                sorted[i].func, sorted[i].host.seg, sorted[i].host.bus,
                sorted[i].host.dev, sorted[i].host.func);
    if (fclose(f) == 0)
        rename(tmp, path);
    else
        unlink(tmp);
}

static void write_status(const pdev_t *p)
{
    write_list("exported", p->domid, p->exported, p->nexported);
    write_list("guest", p->domid, p->seen, p->nseen);
}

/* ---- xenbus core (xenbus_client.c) ---------------------------------- */

/* __xenbus_switch_state(): skip if cached; a transaction that reads then
 * writes "state", aborting silently if it does not exist (the cached
 * state is updated all the same); retried on EAGAIN. */
static void xenbus_switch_state(const char *dir, int *cached, int state)
{
    char path[256], val[16], *cur;
    xs_transaction_t t;
    unsigned len;
    bool abort_;

    if (state == *cached)
        return;
    snprintf(path, sizeof(path), "%s/state", dir);
    for (;;) {
        t = xs_transaction_start(m.xs);
        if (t == XBT_NULL) {
            logf_("%s: transaction_start: %s", dir, strerror(errno));
            return;
        }
        cur = xs_read(m.xs, t, path, &len);
        abort_ = cur == NULL;
        free(cur);
        if (!abort_) {
            snprintf(val, sizeof(val), "%d", state);
            abort_ = !xs_write(m.xs, t, path, val, strlen(val));
        }
        if (xs_transaction_end(m.xs, t, abort_))
            break;
        if (abort_ || errno != EAGAIN) {
            logf_("%s: ending transaction: %s", dir, strerror(errno));
            return;
        }
    }
    logf_("%s: state %d -> %d%s", dir, *cached, state,
          abort_ ? " (node absent: not written)" : "");
    *cached = state;
}

/* xenbus_va_dev_error(): "<-err> <message>" into error/<nodename>/error.
 * err is a negative errno. */
static void dev_error_node(const char *errpath, int err, const char *fmt,
                           va_list ap)
{
    char msg[256], val[300];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    snprintf(val, sizeof(val), "%i %s", -err, msg);
    if (!xs_write(m.xs, XBT_NULL, errpath, val, strlen(val)))
        logf_("write %s failed: %s", errpath, strerror(errno));
    logf_("%s: %s", errpath, val);
}

static void be_error_path(const pdev_t *p, char *buf, size_t len)
{
    snprintf(buf, len, "/local/domain/0/error/backend/pci/%u/0/error",
             p->domid);
}

/* the guest's "error/device/pci/0", relative to its home */
static void fe_error_path(const pdev_t *p, char *buf, size_t len)
{
    snprintf(buf, len, "/local/domain/%u/error/device/pci/0/error",
             p->domid);
}

/* xenbus_dev_fatal() on pciback's device: error node, then Closing. */
static void be_fatal(pdev_t *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void be_fatal(pdev_t *p, int err, const char *fmt, ...)
{
    char path[256];
    va_list ap;

    be_error_path(p, path, sizeof(path));
    va_start(ap, fmt);
    dev_error_node(path, err, fmt, ap);
    va_end(ap);
    xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosing);
}

/* xenbus_dev_fatal() on pcifront's device. */
static void fe_fatal(pdev_t *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fe_fatal(pdev_t *p, int err, const char *fmt, ...)
{
    char path[256];
    va_list ap;

    fe_error_path(p, path, sizeof(path));
    va_start(ap, fmt);
    dev_error_node(path, err, fmt, ap);
    va_end(ap);
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateClosing);
}

/* xenbus_dev_error() on pcifront's device: error node only. */
static void fe_error(pdev_t *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fe_error(pdev_t *p, int err, const char *fmt, ...)
{
    char path[256];
    va_list ap;

    fe_error_path(p, path, sizeof(path));
    va_start(ap, fmt);
    dev_error_node(path, err, fmt, ap);
    va_end(ap);
}

/* ---- pciback (drivers/xen/xen-pciback) ------------------------------ */

/* pcistub_get_pci_dev_by_slot(): bound to pciback and not in use. */
static bool pcistub_available(const bdf_t *b)
{
    unsigned i, j;

    if (in_bdf_list(m.not_assignable, m.nnot_assignable, b))
        return false;
    for (i = 0; i < MAX_DOMS; i++)
        for (j = 0; m.doms[i].used && j < m.doms[i].nexported; j++)
            if (bdf_eq(&m.doms[i].exported[j].host, b))
                return false;
    return true;
}

/* vpci.c __xen_pcibk_add_pci_dev(), then xen_pcibk_publish_pci_dev(). */
static int xen_pcibk_add_pci_dev(pdev_t *p, const bdf_t *b, unsigned devid)
{
    bool vf = in_bdf_list(m.vfs, m.nvfs, b);
    unsigned slot, func;
    char key[32];
    vdev_t *v;

    if (in_bdf_list(m.bridges, m.nbridges, b)) {
        be_fatal(p, -EFAULT, "Can't export bridges on the virtual PCI bus");
        return -EFAULT;
    }
    if (p->nexported == MAX_LIST ||
        vpci_place(p->exported, p->nexported, b, vf, &slot, &func)) {
        be_fatal(p, -ENOMEM, "No more space on root virtual PCI bus");
        return -ENOMEM;
    }
    v = &p->exported[p->nexported++];
    v->host = *b;
    v->vf = vf;
    v->slot = slot;
    v->func = func;
    v->devid = devid;
    logf_("%s: vpci: %04x:%02x:%02x.%x: assign to virtual slot %u func %u",
          p->be, b->seg, b->bus, b->dev, b->func, slot, func);
    /* "The PV protocol uses %02x, don't change it" */
    snprintf(key, sizeof(key), "vdev-%u", devid);
    xwritef(p->be, key, "%04x:%02x:%02x.%02x", 0, 0, slot, func);
    return 0;
}

/* xen_pcibk_export_device() */
static int xen_pcibk_export_device(pdev_t *p, const bdf_t *b, unsigned devid)
{
    if (!pcistub_available(b)) {
        be_fatal(p, -EINVAL, "Couldn't locate PCI device "
                 "(%04x:%02x:%02x.%d)! perhaps already in-use?",
                 b->seg, b->bus, b->dev, b->func);
        return -EINVAL;
    }
    return xen_pcibk_add_pci_dev(p, b, devid);
}

/* xen_pcibk_publish_pci_roots(): vpci has the one root 0000:00. */
static void xen_pcibk_publish_pci_roots(pdev_t *p)
{
    unsigned n = xenbus_read_unsigned(p->be, "root_num", 0), i;
    unsigned seg, bus;
    char key[32];

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "root-%u", i);
        if (xenbus_scanf(p->be, key, "%x:%x", &seg, &bus) == 2 &&
            seg == 0 && bus == 0)
            return;                           /* already published */
    }
    snprintf(key, sizeof(key), "root-%u", n);
    xwritef(p->be, key, "%04x:%02x", 0, 0);
    xwritef(p->be, "root_num", "%u", n + 1);
}

/* xen_pcibk_remove_device(): by the guest-side address;
 * xen_pcibk_release_pci_dev() -> pcistub_put_pci_dev() resets it. */
static int xen_pcibk_remove_device(pdev_t *p, const bdf_t *v)
{
    unsigned i;

    for (i = 0; i < p->nexported; i++) {
        const vdev_t *e = &p->exported[i];

        if (v->seg == 0 && v->bus == 0 && e->slot == v->dev &&
            e->func == v->func) {
            logf_("%s: released %04x:%02x:%02x.%x (reset)", p->be,
                  e->host.seg, e->host.bus, e->host.dev, e->host.func);
            memmove(&p->exported[i], &p->exported[i + 1],
                    (p->nexported - i - 1) * sizeof(*e));
            p->nexported--;
            return 0;
        }
    }
    logf_("%s: Couldn't locate PCI device (%04x:%02x:%02x.%d)! not owned "
          "by this domain", p->be, v->seg, v->bus, v->dev, v->func);
    return -EINVAL;
}

/* dev-i / vdev-i: "%x:%x:%x.%x"; 0 or a fatal error. */
static int scan_dev(pdev_t *p, const char *key, bdf_t *b)
{
    int err = xenbus_scanf(p->be, key, "%x:%x:%x.%x", &b->seg, &b->bus,
                           &b->dev, &b->func);

    if (err < 0) {
        be_fatal(p, err, "Error reading device configuration");
        return err;
    }
    if (err != 4) {
        be_fatal(p, -EINVAL, "Error parsing pci device configuration");
        return -EINVAL;
    }
    return 0;
}

/* num_devs with "%d": the count, or a fatal error. */
static int scan_num_devs(pdev_t *p, int *num)
{
    int err = xenbus_scanf(p->be, "num_devs", "%d", num);

    if (err != 1) {
        if (err >= 0)
            err = -EINVAL;
        be_fatal(p, err, "Error reading number of devices");
        return err;
    }
    return 0;
}

static void xen_pcibk_attach(pdev_t *p);

/* xen_pcibk_setup_backend(): reads num_devs ONCE. */
static void xen_pcibk_setup_backend(pdev_t *p)
{
    char key[32];
    int num, i;
    bdf_t b;

    /* "It's possible we could get the call to setup twice" */
    if (driver_state(p->be) != XenbusStateInitWait)
        return;
    if (scan_num_devs(p, &num))
        return;
    logf_("%s: setup_backend: num_devs = %d", p->be, num);
    for (i = 0; i < num; i++) {
        snprintf(key, sizeof(key), "dev-%d", i);
        if (scan_dev(p, key, &b))
            return;
        if (xen_pcibk_export_device(p, &b, (unsigned)i))
            return;
        /* switch substate of this device */
        snprintf(key, sizeof(key), "state-%d", i);
        xwritef(p->be, key, "%d", XenbusStateInitialised);
    }
    xen_pcibk_publish_pci_roots(p);
    xenbus_switch_state(p->be, &p->be_cached, XenbusStateInitialised);
    /* see if pcifront is already configured (if not, we'll wait) */
    xen_pcibk_attach(p);
}

/* xen_pcibk_attach(): both sides Initialised -> map ring -> Connected. */
static void xen_pcibk_attach(pdev_t *p)
{
    unsigned ref, port;
    char *magic = NULL;

    /* "Make sure we only do this setup once" */
    if (driver_state(p->be) != XenbusStateInitialised)
        return;
    /* "Wait for frontend to state that it has published the config" */
    if (driver_state(p->fe) != XenbusStateInitialised)
        return;
    /* xenbus_gather(pci-op-ref %u, event-channel %u, magic) */
    if (xenbus_scanf(p->fe, "pci-op-ref", "%u", &ref) != 1 ||
        xenbus_scanf(p->fe, "event-channel", "%u", &port) != 1 ||
        !(magic = xread(p->fe, "magic"))) {
        be_fatal(p, -ENOENT, "Error reading configuration from frontend");
        goto out;
    }
    if (strcmp(magic, XEN_PCI_MAGIC)) {
        be_fatal(p, -EFAULT, "version mismatch (%s/%s) with pcifront - "
                 "halting xen-pciback", magic, XEN_PCI_MAGIC);
        goto out;
    }
    /* xen_pcibk_do_attach(): map ring ref, bind event channel */
    logf_("%s: attach: ring %u, event channel %u", p->be, ref, port);
    xenbus_switch_state(p->be, &p->be_cached, XenbusStateConnected);
out:
    free(magic);
}

/* xen_pcibk_reconfigure(pdev, state) */
static void xen_pcibk_reconfigure(pdev_t *p, int state)
{
    char key[32];
    int num, i;
    bdf_t b;

    if (driver_state(p->be) != state)
        return;
    if (scan_num_devs(p, &num))
        return;
    for (i = 0; i < num; i++) {
        snprintf(key, sizeof(key), "state-%d", i);
        switch (xen_pcibk_reconfigure_action(
                    xenbus_read_unsigned(p->be, key, XenbusStateUnknown))) {
        case RC_EXPORT:
            logf_("%s: attaching dev-%d", p->be, i);
            snprintf(key, sizeof(key), "dev-%d", i);
            if (scan_dev(p, key, &b) ||
                xen_pcibk_export_device(p, &b, (unsigned)i))
                return;
            xen_pcibk_publish_pci_roots(p);
            snprintf(key, sizeof(key), "state-%d", i);
            xwritef(p->be, key, "%d", XenbusStateInitialised);
            break;
        case RC_REMOVE:
            logf_("%s: detaching dev-%d", p->be, i);
            snprintf(key, sizeof(key), "vdev-%d", i);
            /* an error here leaves the cycle unfinished, as in the
             * kernel ("goto out" skips the switch to Reconfigured) */
            if (scan_dev(p, key, &b) || xen_pcibk_remove_device(p, &b))
                return;
            break;
        case RC_SKIP:
            break;
        }
    }
    /* "Make sure we only reconfigure once" */
    if (state == XenbusStateReconfiguring)
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateReconfigured);
}

/* xen_pcibk_be_watch() */
static void xen_pcibk_be_watch(pdev_t *p)
{
    switch (xen_pcibk_be_watch_action(driver_state(p->be), m.patched)) {
    case BW_SETUP:
        xen_pcibk_setup_backend(p);
        break;
    case BW_RECONFIGURE:
        xen_pcibk_reconfigure(p, XenbusStateInitialised);
        break;
    case BW_NONE:
        break;
    }
}

/* device_unregister() -> xen_pcibk_xenbus_remove() -> free_pdev():
 * disconnect and release (reset) every device. */
static void xen_pcibk_xenbus_remove(pdev_t *p)
{
    logf_("%s: unregistered, %u device(s) released", p->be, p->nexported);
    p->nexported = 0;
    p->probed = false;
    p->be_cached = XenbusStateUnknown;
}

/* xen_pcibk_frontend_changed() */
static void xen_pcibk_frontend_changed(pdev_t *p, int fe_state)
{
    bool online = xenbus_read_unsigned(p->be, "online", 0) != 0;

    switch (xen_pcibk_frontend_changed_action(fe_state, online)) {
    case FC_ATTACH:
        xen_pcibk_attach(p);
        break;
    case FC_RECONFIGURE:
        if (in_dom_list(m.be_stuck, m.nbe_stuck, p->domid))
            logf_("%s: stuck backend ignores Reconfiguring", p->be);
        else
            xen_pcibk_reconfigure(p, XenbusStateReconfiguring);
        break;
    case FC_CONNECTED:
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateConnected);
        break;
    case FC_CLOSING:
        /* xen_pcibk_disconnect() */
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosing);
        break;
    case FC_CLOSED:
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosed);
        break;
    case FC_CLOSED_UNREGISTER:
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosed);
        xen_pcibk_xenbus_remove(p);
        break;
    case FC_UNREGISTER:
        xen_pcibk_xenbus_remove(p);
        break;
    case FC_NONE:
        break;
    }
}

/* xenbus_probe_node() for a backend, then xen_pcibk_xenbus_probe():
 * InitWait, register be_watch and call it once by hand "in case xend
 * already configured us"; then watch_otherend() fires once. */
static void xen_pcibk_xenbus_probe(pdev_t *p)
{
    char *fe = xread(p->be, "frontend"), *feid = xread(p->be, "frontend-id");
    int state = driver_state(p->be);

    if (pciback_may_probe(state, fe, feid, fe && *fe && xexists(fe))) {
        snprintf(p->fe, sizeof(p->fe), "%s", fe);
        p->probed = true;
        p->be_cached = state;
        p->nexported = 0;
        logf_("%s: probed (frontend %s)", p->be, fe);
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateInitWait);
        xen_pcibk_be_watch(p);
        if (p->probed)
            xen_pcibk_frontend_changed(p, driver_state(p->fe));
    }
    free(fe);
    free(feid);
}

/* ---- pcifront (drivers/pci/xen-pcifront.c) -------------------------- */

static bool guest_has_pcifront(unsigned domid)
{
    return !in_dom_list(m.no_frontend, m.nno_frontend, domid);
}

/* pcifront_scan_root() / pcifront_rescan_root(): pci_scan_slot() finds,
 * through pciback's config-space ops, what pciback exports on that root
 * (vpci: all on 0000:00); a devfn that already has a device is skipped. */
static void pcifront_scan_root(pdev_t *p, unsigned seg, unsigned bus)
{
    unsigned i, j;

    if (seg != 0 || bus != 0)
        return;
    for (i = 0; i < p->nexported; i++) {
        const vdev_t *e = &p->exported[i];

        for (j = 0; j < p->nseen; j++)
            if (p->seen[j].slot == e->slot && p->seen[j].func == e->func)
                break;
        if (j == p->nseen && p->nseen < MAX_LIST) {
            p->seen[p->nseen++] = *e;
            logf_("%s: guest found 0000:00:%02x.%x", p->fe, e->slot,
                  e->func);
        }
    }
}

/* The root loop of pcifront_try_connect() and pcifront_attach_devices():
 * root_num (absent: 0000:00), then every root-K.  0 or an error (fatal
 * already reported). */
static int pcifront_scan_roots(pdev_t *p)
{
    unsigned seg, bus;
    int err, num, i;
    char key[32];

    err = xenbus_scanf(p->be, "root_num", "%d", &num);
    if (err == -ENOENT) {
        fe_error(p, err, "No PCI Roots found, trying 0000:00");
        pcifront_scan_root(p, 0, 0);
        num = 0;
    } else if (err != 1) {
        if (err == 0)
            err = -EINVAL;
        fe_fatal(p, err, "Error reading number of PCI roots");
        return err;
    }
    for (i = 0; i < num; i++) {
        snprintf(key, sizeof(key), "root-%d", i);
        err = xenbus_scanf(p->be, key, "%x:%x", &seg, &bus);
        if (err != 2) {
            if (err >= 0)
                err = -EINVAL;
            fe_fatal(p, err, "Error reading PCI root %d", i);
            return err;
        }
        pcifront_scan_root(p, seg, bus);
    }
    return 0;
}

/* pcifront_try_connect(): "Only connect once" */
static void pcifront_try_connect(pdev_t *p)
{
    if (driver_state(p->fe) != XenbusStateInitialised)
        return;
    if (pcifront_scan_roots(p))
        return;
    /* the status files are written before the frontend announces the new
     * state, so a test that saw the state sees the guest's view too */
    write_status(p);
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateConnected);
}

/* pcifront_try_disconnect() */
static void pcifront_try_disconnect(pdev_t *p)
{
    int prev = driver_state(p->fe);

    if (prev >= XenbusStateClosing)
        return;
    if (prev == XenbusStateConnected)
        p->nseen = 0;                         /* pcifront_free_roots() */
    write_status(p);
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateClosed);
}

/* pcifront_detach_devices(): only from Connected. */
static void pcifront_detach_devices(pdev_t *p)
{
    int err, num, i;
    char key[32];
    unsigned j;
    bdf_t v;

    if (driver_state(p->fe) != XenbusStateConnected)
        return;
    err = xenbus_scanf(p->be, "num_devs", "%d", &num);
    if (err != 1) {
        fe_fatal(p, err >= 0 ? -EINVAL : err,
                 "Error reading number of PCI devices");
        return;
    }
    /* find devices being detached and remove them */
    for (i = 0; i < num; i++) {
        snprintf(key, sizeof(key), "state-%d", i);
        if (xenbus_read_unsigned(p->be, key, XenbusStateUnknown) !=
            XenbusStateClosing)
            continue;
        snprintf(key, sizeof(key), "vdev-%d", i);
        err = xenbus_scanf(p->be, key, "%x:%x:%x.%x", &v.seg, &v.bus,
                           &v.dev, &v.func);
        if (err != 4) {
            fe_fatal(p, err >= 0 ? -EINVAL : err,
                     "Error reading PCI device %d", i);
            return;
        }
        /* pci_get_domain_bus_and_slot(); absent: skipped */
        for (j = 0; j < p->nseen; j++) {
            if (v.seg == 0 && v.bus == 0 && p->seen[j].slot == v.dev &&
                p->seen[j].func == v.func) {
                logf_("%s: guest removed 0000:00:%02x.%x", p->fe, v.dev,
                      v.func);
                /* pci_stop_and_remove_bus_device() */
                memmove(&p->seen[j], &p->seen[j + 1],
                        (p->nseen - j - 1) * sizeof(p->seen[0]));
                p->nseen--;
                break;
            }
        }
    }
    write_status(p);
    if (m.fe_lag_ms > 0) {
        struct timespec ts = { m.fe_lag_ms / 1000,
                               (long)(m.fe_lag_ms % 1000) * 1000000L };

        logf_("%s: pcifront lags %d ms before Reconfiguring", p->fe,
              m.fe_lag_ms);
        while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
            ;
    }
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateReconfiguring);
}

/* pcifront_attach_devices(): only from Reconfiguring; rescan. */
static void pcifront_attach_devices(pdev_t *p)
{
    if (driver_state(p->fe) != XenbusStateReconfiguring)
        return;
    if (pcifront_scan_roots(p))
        return;
    write_status(p);
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateConnected);
}

/* pcifront_backend_changed() */
static void pcifront_backend_changed(pdev_t *p, int be_state)
{
    bool stuck = in_dom_list(m.stuck, m.nstuck, p->domid);

    switch (pcifront_backend_changed_action(be_state, p->fe_cached)) {
    case BC_TRY_CONNECT:
        pcifront_try_connect(p);
        break;
    case BC_TRY_DISCONNECT:
        pcifront_try_disconnect(p);
        break;
    case BC_DETACH:
        if (stuck)
            logf_("%s: stuck guest ignores Reconfiguring", p->fe);
        else
            pcifront_detach_devices(p);
        break;
    case BC_ATTACH:
        if (!stuck)
            pcifront_attach_devices(p);
        break;
    case BC_NONE:
        break;
    }
}

/* pcifront_publish_info(): one transaction, retried on EAGAIN; then
 * Initialised.  0, or -1 (the probe failed). */
static int pcifront_publish_info(pdev_t *p)
{
    static const char *const keys[3] = { "pci-op-ref", "event-channel",
                                         "magic" };
    const char *vals[3] = { "42", "17", XEN_PCI_MAGIC };
    char path[256];
    xs_transaction_t t;
    bool ok;
    int i;

    for (;;) {
        t = xs_transaction_start(m.xs);
        if (t == XBT_NULL) {
            fe_fatal(p, -errno, "Error writing configuration for backend "
                     "(start transaction)");
            return -1;
        }
        ok = true;
        for (i = 0; ok && i < 3; i++) {
            snprintf(path, sizeof(path), "%s/%s", p->fe, keys[i]);
            ok = xs_write(m.xs, t, path, vals[i], strlen(vals[i]));
        }
        if (!ok) {
            int err = -errno;

            xs_transaction_end(m.xs, t, true);
            fe_fatal(p, err, "Error writing configuration for backend");
            return -1;
        }
        if (xs_transaction_end(m.xs, t, false))
            break;
        if (errno != EAGAIN) {
            fe_fatal(p, -errno, "Error completing transaction for backend");
            return -1;
        }
    }
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateInitialised);
    return 0;
}

/* xenbus_probe_node() for a frontend, pcifront_xenbus_probe(), then
 * watch_otherend() fires once. */
static void pcifront_xenbus_probe(pdev_t *p)
{
    char *be = xread(p->fe, "backend"), *beid = xread(p->fe, "backend-id");
    int state = driver_state(p->fe);

    if (pcifront_may_probe(state, be, beid, be && *be && xexists(be))) {
        p->fe_probed = true;
        p->fe_cached = state;
        p->nseen = 0;
        logf_("%s: pcifront probed", p->fe);
        if (pcifront_publish_info(p) == 0)
            pcifront_backend_changed(p, driver_state(p->be));
    }
    free(be);
    free(beid);
}

/* ---- dispatch (xenbus_dev_changed and the otherend watches) ---------- */

/* Both directories gone (the toolstack removed the last device or the
 * domain): write the empty status once and forget the domain, so a long
 * run does not fill the table. */
static void forget_if_gone(pdev_t *p)
{
    if (p->probed || p->fe_probed || xexists(p->be) || xexists(p->fe))
        return;
    p->nexported = p->nseen = 0;
    write_status(p);
    p->used = false;
}

/* An event under /local/domain/0/backend/pci/<d>[/0[/key]]. */
static void backend_event(unsigned domid, const char *rest)
{
    pdev_t *p = pdev_get(domid, true);

    if (!p)
        return;
    if (!xexists(p->be)) {
        /* xenbus_dev_changed(): the directory went -> device_unregister */
        if (p->probed)
            xen_pcibk_xenbus_remove(p);
        forget_if_gone(p);
        return;
    }
    if (!p->probed)
        xen_pcibk_xenbus_probe(p);
    else
        xen_pcibk_be_watch(p);
    /* the guest's otherend watch is on the backend's state node */
    if (p->fe_probed && !strcmp(rest, "/state") &&
        guest_has_pcifront(domid))
        pcifront_backend_changed(p, driver_state(p->be));
}

/* An event under /local/domain/<d>/device/pci/0[/key]. */
static void frontend_event(unsigned domid, const char *rest)
{
    pdev_t *p = pdev_get(domid, true);

    if (!p)
        return;
    if (!xexists(p->fe)) {
        /* the guest's device goes; pciback's otherend watch reads
         * Unknown */
        p->fe_boot_ms = 0;
        if (p->fe_probed) {
            p->fe_probed = false;
            p->nseen = 0;
            p->fe_cached = XenbusStateUnknown;
        }
        if (p->probed)
            xen_pcibk_frontend_changed(p, XenbusStateUnknown);
        forget_if_gone(p);
        return;
    }
    if (!p->fe_probed && guest_has_pcifront(domid)) {
        /* --frontend-delay-ms: the guest is paused until the toolstack
         * is done; its kernel boots that long after its frontend
         * directory appeared (main() calls us again then) */
        if (m.fe_delay_ms > 0 && !p->fe_boot_ms)
            p->fe_boot_ms = now_ms() + m.fe_delay_ms;
        if (now_ms() >= p->fe_boot_ms)
            pcifront_xenbus_probe(p);
    }
    if (p->probed && !strcmp(rest, "/state"))
        xen_pcibk_frontend_changed(p, driver_state(p->fe));
}

static void dispatch(const char *path)
{
    unsigned domid, i;
    int n = 0;

    if (sscanf(path, BE_ROOT "/%u%n", &domid, &n) == 1 && n > 0) {
        const char *rest = path + n;

        if (!strncmp(rest, "/0", 2) && (rest[2] == '\0' || rest[2] == '/'))
            rest += 2;
        else if (*rest)
            return;
        backend_event(domid, rest);
    } else if (!strncmp(path, BE_ROOT, strlen(BE_ROOT)) ||
               !strcmp(path, "/local/domain/0/backend") ||
               !strcmp(path, "/local/domain/0") ||
               !strcmp(path, "/local/domain") || !strcmp(path, "/local")) {
        /* a parent went (or the watch fired on registration) */
        for (i = 0; i < MAX_DOMS; i++)
            if (m.doms[i].used) {
                backend_event(m.doms[i].domid, "");
                if (m.doms[i].used)
                    frontend_event(m.doms[i].domid, "");
            }
    } else if (sscanf(path, "/local/domain/%u/device/pci/0%n", &domid,
                      &n) == 1 && n > 0 &&
               (path[n] == '\0' || path[n] == '/')) {
        frontend_event(domid, path + n);
    } else if (sscanf(path, "/local/domain/%u%n", &domid, &n) == 1 &&
               n > 0 && (!strcmp(path + n, "") ||
                         !strcmp(path + n, "/device") ||
                         !strcmp(path + n, "/device/pci"))) {
        if (pdev_get(domid, false))
            frontend_event(domid, "");
    }
}

/* On start: the kernel's xenbus_probe_devices() at boot. */
static void initial_scan(void)
{
    char **doms;
    unsigned n, i, domid;

    doms = xs_directory(m.xs, XBT_NULL, BE_ROOT, &n);
    for (i = 0; doms && i < n; i++)
        if (sscanf(doms[i], "%u", &domid) == 1) {
            backend_event(domid, "");
            frontend_event(domid, "");
        }
    free(doms);
}

/* Guests whose kernel boots now (--frontend-delay-ms); the time until the
 * next one boots, or -1. */
static int boot_guests(void)
{
    long long now = now_ms(), next = -1;
    unsigned i;

    for (i = 0; i < MAX_DOMS; i++) {
        pdev_t *p = &m.doms[i];

        if (!p->used || p->fe_probed || !p->fe_boot_ms ||
            !guest_has_pcifront(p->domid))
            continue;
        if (now >= p->fe_boot_ms) {
            logf_("%s: guest boots", p->fe);
            frontend_event(p->domid, "");
            if (m.doms[i].used && !m.doms[i].fe_probed)
                p->fe_boot_ms = 0;            /* not probeable yet */
        } else if (next < 0 || p->fe_boot_ms - now < next) {
            next = p->fe_boot_ms - now;
        }
    }
    return next < 0 ? -1 : (int)next;
}

static void write_all_status(void)
{
    unsigned i;

    for (i = 0; i < MAX_DOMS; i++)
        if (m.doms[i].used)
            write_status(&m.doms[i]);
}

/* ---- main -------------------------------------------------------------- */

static int parse_bdf_arg(const char *s, bdf_t *list, unsigned *n)
{
    char extra;

    if (*n == MAX_LIST ||
        sscanf(s, "%x:%x:%x.%x%c", &list[*n].seg, &list[*n].bus,
               &list[*n].dev, &list[*n].func, &extra) != 4) {
        fprintf(stderr, "pcimodel: bad BDF \"%s\" (want DDDD:BB:SS.F)\n", s);
        return -1;
    }
    (*n)++;
    return 0;
}

static int parse_uint_arg(const char *s, unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 0xffffffUL) {
        fprintf(stderr, "pcimodel: bad number \"%s\"\n", s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int parse_dom_arg(const char *s, unsigned *list, unsigned *n)
{
    if (*n == MAX_LIST || parse_uint_arg(s, &list[*n]))
        return -1;
    (*n)++;
    return 0;
}

static int mkdir_p(const char *dir)
{
    char buf[512], *s;

    snprintf(buf, sizeof(buf), "%s", dir);
    for (s = buf + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;

            *s = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *s = c;
            if (!c)
                break;
        }
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: pcimodel [--ready FILE] [--status-dir DIR] [--patched]\n"
"                [--no-frontend DOMID]... [--frontend-stuck DOMID]...\n"
"                [--backend-stuck DOMID]...\n"
"                [--not-assignable BDF]... [--vf BDF]... [--bridge BDF]...\n"
"                [--delay-ms N] [--frontend-delay-ms N]\n"
"                [--frontend-lag-ms N] [-v]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ready", required_argument, NULL, 'r' },
        { "status-dir", required_argument, NULL, 's' },
        { "patched", no_argument, NULL, 'p' },
        { "no-frontend", required_argument, NULL, 'n' },
        { "frontend-stuck", required_argument, NULL, 'k' },
        { "backend-stuck", required_argument, NULL, 'K' },
        { "not-assignable", required_argument, NULL, 'a' },
        { "vf", required_argument, NULL, 'f' },
        { "bridge", required_argument, NULL, 'b' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "frontend-delay-ms", required_argument, NULL, 'F' },
        { "frontend-lag-ms", required_argument, NULL, 'L' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *ready = NULL;
    struct sigaction sa;
    sigset_t block, orig;
    unsigned delay;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': ready = optarg; break;
        case 's': m.status_dir = optarg; break;
        case 'p': m.patched = true; break;
        case 'n':
            if (parse_dom_arg(optarg, m.no_frontend, &m.nno_frontend))
                return 2;
            break;
        case 'k':
            if (parse_dom_arg(optarg, m.stuck, &m.nstuck))
                return 2;
            break;
        case 'K':
            if (parse_dom_arg(optarg, m.be_stuck, &m.nbe_stuck))
                return 2;
            break;
        case 'a':
            if (parse_bdf_arg(optarg, m.not_assignable, &m.nnot_assignable))
                return 2;
            break;
        case 'f':
            if (parse_bdf_arg(optarg, m.vfs, &m.nvfs))
                return 2;
            break;
        case 'b':
            if (parse_bdf_arg(optarg, m.bridges, &m.nbridges))
                return 2;
            break;
        case 'd':
            if (parse_uint_arg(optarg, &delay))
                return 2;
            m.delay_ms = (int)delay;
            break;
        case 'F':
            if (parse_uint_arg(optarg, &delay))
                return 2;
            m.fe_delay_ms = (int)delay;
            break;
        case 'L':
            if (parse_uint_arg(optarg, &delay))
                return 2;
            m.fe_lag_ms = (int)delay;
            break;
        case 'v': m.verbose++; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    /* SIGTERM/SIGINT are blocked except inside ppoll(): no lost wake-up,
     * no periodic polling.  Blocked before xs_open so that libxenstore's
     * reader thread inherits the mask. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &orig);

    if (m.status_dir && mkdir_p(m.status_dir)) {
        fprintf(stderr, "pcimodel: %s: %s\n", m.status_dir, strerror(errno));
        return 1;
    }
    m.xs = xs_open(0);
    if (!m.xs) {
        perror("pcimodel: xs_open");
        return 1;
    }
    /* one watch: the whole /local/domain tree (backends and frontends) */
    if (!xs_watch(m.xs, "/local/domain", "model")) {
        perror("pcimodel: xs_watch");
        goto out;
    }
    initial_scan();
    write_all_status();
    if (ready) {
        FILE *f = fopen(ready, "w");

        if (!f || fclose(f)) {
            perror("pcimodel: ready file");
            goto out;
        }
    }
    while (!stop) {
        struct pollfd pfd = { .fd = xs_fileno(m.xs), .events = POLLIN };
        sigset_t wait_mask = orig;
        int next = boot_guests();
        struct timespec tmo = { next / 1000, (next % 1000) * 1000000L };
        char **ev;

        write_all_status();
        sigdelset(&wait_mask, SIGTERM);
        sigdelset(&wait_mask, SIGINT);
        if (ppoll(&pfd, 1, next < 0 ? NULL : &tmo, &wait_mask) < 0) {
            if (errno == EINTR)
                continue;
            perror("pcimodel: poll");
            goto out;
        }
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, "pcimodel: lost the xenstore connection\n");
            goto out;
        }
        while (!stop && (ev = xs_check_watch(m.xs))) {
            if (m.delay_ms > 0) {
                struct timespec ts = { m.delay_ms / 1000,
                                       (m.delay_ms % 1000) * 1000000L };

                nanosleep(&ts, NULL);
            }
            dispatch(ev[XS_WATCH_PATH]);
            free(ev);
            write_all_status();
        }
    }
    rc = 0;
out:
    xs_close(m.xs);
    return rc;
}

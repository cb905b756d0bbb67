/*
 * pcimodel - a behavioural model of Linux xen-pciback (dom0) and
 * xen-pcifront (guests) over a real xenstore, as a separate process: the
 * test peer of libxlpci.
 *
 * It follows drivers/xen/xen-pciback/xenbus.c and drivers/pci/
 * xen-pcifront.c function by function (shared/reference/
 * xenstore-pci-spec.md section 2); the functions below carry the kernel's
 * names.  By default it is UNPATCHED: pciback reads num_devs once, in
 * xen_pcibk_setup_backend(), and a write while the backend is Initialised
 * does nothing.  --patched adds Linux commit c81d3d2460 (reconfigure from
 * the backend watch in Initialised).
 *
 * Watch dispatch is as in xenbus: pciback's be_watch runs on any write
 * under its backend directory, its frontend_changed on writes to the
 * frontend's state node, pcifront's backend_changed on writes to the
 * backend's state node.  xenbus_switch_state() keeps the driver's cached
 * state and skips a switch to the cached value, as the kernel does.
 *
 *   pcimodel [--ready FILE] [--status-dir DIR] [--patched]
 *            [--no-frontend DOMID]... [--frontend-stuck DOMID]...
 *            [--not-assignable BDF]... [--vf BDF]... [--delay-ms N] [-v]
 *
 * --status-dir: DIR/guest-<domid> lists what the guest sees ("<vdev> <host
 * bdf>" per line, sorted), DIR/exported-<domid> what pciback exported,
 * both rewritten atomically after every event.
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
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xenbus.h>

#define MAX_DOMS   64
#define MAX_LIST   64
#define NSLOTS     32
#define BE_ROOT    "/local/domain/0/backend/pci"

typedef struct {
    unsigned seg, bus, dev, func;
} bdf_t;

typedef struct {
    bdf_t host;
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
    vdev_t exported[MAX_LIST];
    unsigned nexported;
    /* pcifront */
    bool fe_probed;
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
    bdf_t not_assignable[MAX_LIST];
    unsigned nnot_assignable;
    bdf_t vfs[MAX_LIST];
    unsigned nvfs;
    const char *status_dir;
    int delay_ms;
    int verbose;
} m;

static volatile sig_atomic_t stop;

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

/* ---- small helpers ------------------------------------------------------- */

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

static int xwritef(const char *dir, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int xwritef(const char *dir, const char *key, const char *fmt, ...)
{
    char path[256], val[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return xs_write(m.xs, XBT_NULL, path, val, strlen(val)) ? 0 : -errno;
}

/* xenbus_scanf(..., "%d"): 0 and the value, or -1. */
static int read_int(const char *dir, const char *key, int *out)
{
    char *v = xread(dir, key), *end;
    long l;

    if (!v)
        return -1;
    errno = 0;
    l = strtol(v, &end, 10);
    /* sscanf("%d") accepts a number prefix */
    if (end == v || errno) {
        free(v);
        return -1;
    }
    free(v);
    *out = (int)l;
    return 0;
}

/* xenbus_read_driver_state(): Unknown if absent. */
static int driver_state(const char *dir)
{
    int s;

    return read_int(dir, "state", &s) ? XenbusStateUnknown : s;
}

static bool bdf_eq(const bdf_t *a, const bdf_t *b)
{
    return a->seg == b->seg && a->bus == b->bus && a->dev == b->dev &&
           a->func == b->func;
}

static bool parse_bdf(const char *s, bdf_t *b)
{
    /* sscanf(str, "%x:%x:%x.%x") as pciback/pcifront do */
    return s && sscanf(s, "%x:%x:%x.%x", &b->seg, &b->bus, &b->dev,
                       &b->func) == 4;
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

/* ---- status files ---------------------------------------------------------- */

static int cmp_vdev(const void *a, const void *b)
{
    const vdev_t *x = a, *y = b;

    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return x->func < y->func ? -1 : x->func > y->func;
}

static void write_list(const char *kind, unsigned domid, vdev_t *list,
                       unsigned n)
{
    char path[512], tmp[520];
    unsigned i;
    FILE *f;

    if (!m.status_dir)
        return;
    snprintf(path, sizeof(path), "%s/%s-%u", m.status_dir, kind, domid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (!f)
        return;
    qsort(list, n, sizeof(*list), cmp_vdev);
    for (i = 0; i < n; i++)
        fprintf(f, "0000:00:%02x.%x %04x:%02x:%02x.%x\n", list[i].slot,
                list[i].func, list[i].host.seg, list[i].host.bus,
                list[i].host.dev, list[i].host.func);
    if (fclose(f) == 0)
        rename(tmp, path);
}

static void write_status(pdev_t *p)
{
    write_list("exported", p->domid, p->exported, p->nexported);
    write_list("guest", p->domid, p->seen, p->nseen);
}

/* ---- xenbus core --------------------------------------------------------------- */

/* __xenbus_switch_state(): skip if cached; transaction that reads then
 * writes "state", aborting silently if it does not exist. */
static void xenbus_switch_state(const char *dir, int *cached, int state)
{
    char path[256];
    xs_transaction_t t;
    unsigned len;
    char *cur, val[8];
    bool abort_;

    if (state == *cached)
        return;
    snprintf(path, sizeof(path), "%s/state", dir);
    for (;;) {
        t = xs_transaction_start(m.xs);
        if (t == XBT_NULL)
            return;
        cur = xs_read(m.xs, t, path, &len);
        abort_ = cur == NULL;
        free(cur);
        if (!abort_) {
            snprintf(val, sizeof(val), "%d", state);
            abort_ = !xs_write(m.xs, t, path, val, strlen(val));
        }
        if (xs_transaction_end(m.xs, t, abort_) || abort_)
            break;
        if (errno != EAGAIN)
            return;
    }
    logf_("%s: state %d -> %d%s", dir, *cached, state,
          abort_ ? " (node absent: not written)" : "");
    *cached = state;
}

/* xenbus_dev_fatal(): error node, then Closing. */
static void xenbus_dev_fatal(pdev_t *p, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void xenbus_dev_fatal(pdev_t *p, int err, const char *fmt, ...)
{
    char path[256], msg[256], val[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(val, sizeof(val), "%i %s", -err, msg);
    snprintf(path, sizeof(path), "/local/domain/0/error/backend/pci/%u/0/"
             "error", p->domid);
    xs_write(m.xs, XBT_NULL, path, val, strlen(val));
    logf_("%s: fatal: %s", p->be, val);
    xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosing);
}

/* ---- pciback --------------------------------------------------------------------- */

static bool device_in_use(const bdf_t *b)
{
    unsigned i, j;

    for (i = 0; i < MAX_DOMS; i++)
        for (j = 0; m.doms[i].used && j < m.doms[i].nexported; j++)
            if (bdf_eq(&m.doms[i].exported[j].host, b))
                return true;
    return false;
}

/* vpci.c __xen_pcibk_add_pci_dev(), post-4ba50e7c42 placement. */
static int vpci_add(pdev_t *p, const bdf_t *b, unsigned devid)
{
    bool vf = in_bdf_list(m.vfs, m.nvfs, b), used[NSLOTS] = { false };
    unsigned i, slot;
    vdev_t *v;

    for (i = 0; i < p->nexported; i++)
        used[p->exported[i].slot] = true;
    slot = NSLOTS;
    if (!vf) {
        for (i = 0; i < p->nexported; i++) {
            const vdev_t *e = &p->exported[i];

            if (!in_bdf_list(m.vfs, m.nvfs, &e->host) &&
                e->host.seg == b->seg && e->host.bus == b->bus &&
                e->host.dev == b->dev) {
                slot = e->slot;
                break;
            }
        }
    }
    if (slot == NSLOTS)
        for (slot = 0; slot < NSLOTS && used[slot]; slot++)
            ;
    if (slot == NSLOTS || p->nexported == MAX_LIST) {
        xenbus_dev_fatal(p, ENOMEM, "No more space on root virtual PCI bus");
        return -ENOMEM;
    }
    v = &p->exported[p->nexported++];
    v->host = *b;
    v->slot = slot;
    v->func = vf ? 0 : b->func;
    v->devid = devid;
    logf_("%s: vpci: assign %04x:%02x:%02x.%x to virtual slot %u func %u",
          p->be, b->seg, b->bus, b->dev, b->func, slot, v->func);
    /* xen_pcibk_publish_pci_dev(): "%04x:%02x:%02x.%02x" */
    {
        char key[32];

        snprintf(key, sizeof(key), "vdev-%u", devid);
        xwritef(p->be, key, "%04x:%02x:%02x.%02x", 0, 0, v->slot, v->func);
    }
    return 0;
}

/* xen_pcibk_export_device() */
static int xen_pcibk_export_device(pdev_t *p, const bdf_t *b, unsigned devid)
{
    if (in_bdf_list(m.not_assignable, m.nnot_assignable, b) ||
        device_in_use(b)) {
        xenbus_dev_fatal(p, ENODEV, "Couldn't locate PCI device "
                         "(%04x:%02x:%02x.%d)! perhaps already in-use?",
                         b->seg, b->bus, b->dev, b->func);
        return -ENODEV;
    }
    return vpci_add(p, b, devid);
}

/* xen_pcibk_publish_pci_roots(): vpci has the one root 0000:00. */
static void xen_pcibk_publish_pci_roots(pdev_t *p)
{
    xwritef(p->be, "root-0", "%04x:%02x", 0, 0);
    xwritef(p->be, "root_num", "%d", 1);
}

/* xen_pcibk_remove_device(): by the guest-side address. */
static int xen_pcibk_remove_device(pdev_t *p, const bdf_t *v)
{
    unsigned i;

    for (i = 0; i < p->nexported; i++) {
        if (v->seg == 0 && v->bus == 0 && p->exported[i].slot == v->dev &&
            p->exported[i].func == v->func) {
            logf_("%s: released %04x:%02x:%02x.%x (reset)", p->be,
                  p->exported[i].host.seg, p->exported[i].host.bus,
                  p->exported[i].host.dev, p->exported[i].host.func);
            p->exported[i] = p->exported[--p->nexported];
            return 0;
        }
    }
    logf_("%s: remove: no device at %04x:%02x:%02x.%x", p->be, v->seg,
          v->bus, v->dev, v->func);
    return -EINVAL;
}

static void xen_pcibk_attach(pdev_t *p);

/* xen_pcibk_setup_backend(): reads num_devs ONCE. */
static void xen_pcibk_setup_backend(pdev_t *p)
{
    int num, i;

    if (driver_state(p->be) != XenbusStateInitWait)
        return;
    if (read_int(p->be, "num_devs", &num)) {
        xenbus_dev_fatal(p, EINVAL, "Error reading number of devices");
        return;
    }
    logf_("%s: setup_backend: num_devs = %d", p->be, num);
    for (i = 0; i < num; i++) {
        char key[32], *s;
        bdf_t b;

        snprintf(key, sizeof(key), "dev-%d", i);
        s = xread(p->be, key);
        if (!s) {
            xenbus_dev_fatal(p, ENOENT, "Error reading configuration");
            return;
        }
        if (!parse_bdf(s, &b)) {
            free(s);
            xenbus_dev_fatal(p, EINVAL, "Error parsing pci device "
                             "configuration");
            return;
        }
        free(s);
        if (xen_pcibk_export_device(p, &b, (unsigned)i))
            return;
        snprintf(key, sizeof(key), "state-%d", i);
        xwritef(p->be, key, "%d", XenbusStateInitialised);
    }
    xen_pcibk_publish_pci_roots(p);
    xenbus_switch_state(p->be, &p->be_cached, XenbusStateInitialised);
    /* in case the frontend is already Initialised */
    xen_pcibk_attach(p);
}

/* xen_pcibk_attach(): both sides Initialised -> map ring -> Connected. */
static void xen_pcibk_attach(pdev_t *p)
{
    char *ref, *port, *magic;

    if (driver_state(p->be) != XenbusStateInitialised ||
        driver_state(p->fe) != XenbusStateInitialised)
        return;
    ref = xread(p->fe, "pci-op-ref");
    port = xread(p->fe, "event-channel");
    magic = xread(p->fe, "magic");
    if (!ref || !port || !magic) {
        xenbus_dev_fatal(p, ENOENT, "Error reading configuration from "
                         "frontend");
    } else if (strcmp(magic, "7")) {
        xenbus_dev_fatal(p, EFAULT, "version mismatch (%s/%s) with pcifront"
                         " - halting xen_pcibk", magic, "7");
    } else {
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateConnected);
    }
    free(ref);
    free(port);
    free(magic);
}

/* xen_pcibk_reconfigure(pdev, state) */
static void xen_pcibk_reconfigure(pdev_t *p, int state)
{
    int num, i;

    if (driver_state(p->be) != state)
        return;
    if (read_int(p->be, "num_devs", &num)) {
        xenbus_dev_fatal(p, EINVAL, "Error reading number of devices");
        return;
    }
    for (i = 0; i < num; i++) {
        char key[32], *s;
        int substate;
        bdf_t b;

        snprintf(key, sizeof(key), "state-%d", i);
        if (read_int(p->be, key, &substate))
            substate = XenbusStateUnknown;
        switch (substate) {
        case XenbusStateInitialising:
            snprintf(key, sizeof(key), "dev-%d", i);
            s = xread(p->be, key);
            if (!parse_bdf(s, &b)) {
                free(s);
                xenbus_dev_fatal(p, EINVAL, "Error parsing pci device "
                                 "configuration");
                return;
            }
            free(s);
            if (xen_pcibk_export_device(p, &b, (unsigned)i))
                return;
            xen_pcibk_publish_pci_roots(p);
            snprintf(key, sizeof(key), "state-%d", i);
            xwritef(p->be, key, "%d", XenbusStateInitialised);
            break;
        case XenbusStateClosing:
            snprintf(key, sizeof(key), "vdev-%d", i);
            s = xread(p->be, key);
            if (!parse_bdf(s, &b)) {
                free(s);
                xenbus_dev_fatal(p, EINVAL, "Error parsing pci device "
                                 "configuration");
                return;
            }
            free(s);
            /* an error here leaves the cycle unfinished, as in the
             * kernel ("goto out" skips the switch to Reconfigured) */
            if (xen_pcibk_remove_device(p, &b))
                return;
            break;
        default:
            break;
        }
    }
    if (state == XenbusStateReconfiguring)
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateReconfigured);
}

/* xen_pcibk_be_watch() */
static void xen_pcibk_be_watch(pdev_t *p)
{
    switch (driver_state(p->be)) {
    case XenbusStateInitWait:
        xen_pcibk_setup_backend(p);
        break;
    case XenbusStateInitialised:
        if (m.patched)            /* c81d3d2460 */
            xen_pcibk_reconfigure(p, XenbusStateInitialised);
        break;
    default:
        break;
    }
}

static void release_all(pdev_t *p)
{
    if (p->nexported)
        logf_("%s: unregistered, %u device(s) released", p->be,
              p->nexported);
    p->nexported = 0;
    p->probed = false;
    p->be_cached = XenbusStateUnknown;
}

/* xen_pcibk_frontend_changed() */
static void xen_pcibk_frontend_changed(pdev_t *p, int fe_state)
{
    switch (fe_state) {
    case XenbusStateInitialised:
        xen_pcibk_attach(p);
        break;
    case XenbusStateReconfiguring:
        xen_pcibk_reconfigure(p, XenbusStateReconfiguring);
        break;
    case XenbusStateConnected:
        /* end of a reconfigure cycle */
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateConnected);
        break;
    case XenbusStateClosing:
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosing);
        break;
    case XenbusStateClosed:
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateClosed);
        break;
    case XenbusStateUnknown:
        release_all(p);           /* device_unregister -> free_pdev */
        break;
    default:
        break;
    }
}

/* xenbus_probe_backend: backend_bus_id() needs frontend-id, a non-empty
 * frontend, and the frontend path must exist; then probe -> InitWait and
 * a first be_watch by hand. */
static void pciback_probe(pdev_t *p)
{
    char *fe = xread(p->be, "frontend"), *feid = xread(p->be, "frontend-id");
    bool ok = fe && *fe && feid && xexists(fe);

    if (ok) {
        snprintf(p->fe, sizeof(p->fe), "%s", fe);
        p->probed = true;
        p->be_cached = driver_state(p->be);
        logf_("%s: probed (frontend %s)", p->be, fe);
        xenbus_switch_state(p->be, &p->be_cached, XenbusStateInitWait);
        xen_pcibk_be_watch(p);
    }
    free(fe);
    free(feid);
}

/* ---- pcifront ---------------------------------------------------------- */

static bool guest_has_pcifront(unsigned domid)
{
    return !in_dom_list(m.no_frontend, m.nno_frontend, domid);
}

/* The status files are written before the frontend announces the new
 * state, so a test that saw the state sees the guest's view too. */
static void rescan(pdev_t *p)
{
    /* pci_scan_bus on every root: the guest finds what pciback exports */
    memcpy(p->seen, p->exported, sizeof(p->seen));
    p->nseen = p->nexported;
    write_status(p);
}

/* pcifront_publish_info(): one transaction, retried on EAGAIN. */
static void pcifront_probe(pdev_t *p)
{
    char path[256];
    xs_transaction_t t;
    bool ok;

    for (;;) {
        t = xs_transaction_start(m.xs);
        if (t == XBT_NULL)
            return;
        snprintf(path, sizeof(path), "%s/pci-op-ref", p->fe);
        ok = xs_write(m.xs, t, path, "42", 2);
        snprintf(path, sizeof(path), "%s/event-channel", p->fe);
        ok = ok && xs_write(m.xs, t, path, "17", 2);
        snprintf(path, sizeof(path), "%s/magic", p->fe);
        ok = ok && xs_write(m.xs, t, path, "7", 1);
        if (xs_transaction_end(m.xs, t, !ok) && ok)
            break;
        if (ok && errno == EAGAIN)
            continue;
        return;
    }
    p->fe_probed = true;
    p->fe_cached = driver_state(p->fe);
    logf_("%s: pcifront probed", p->fe);
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateInitialised);
}

/* pcifront_detach_devices() */
static void pcifront_detach_devices(pdev_t *p)
{
    int num, i;

    if (driver_state(p->fe) != XenbusStateConnected)
        return;
    if (read_int(p->be, "num_devs", &num))
        return;
    for (i = 0; i < num; i++) {
        char key[32], *s;
        int st;
        bdf_t v;
        unsigned j;

        snprintf(key, sizeof(key), "state-%d", i);
        if (read_int(p->be, key, &st) || st != XenbusStateClosing)
            continue;
        snprintf(key, sizeof(key), "vdev-%d", i);
        s = xread(p->be, key);
        if (!parse_bdf(s, &v)) {
            free(s);
            continue;
        }
        free(s);
        for (j = 0; j < p->nseen; j++) {
            if (p->seen[j].slot == v.dev && p->seen[j].func == v.func) {
                logf_("%s: guest removed 0000:00:%02x.%x", p->fe, v.dev,
                      v.func);
                p->seen[j] = p->seen[--p->nseen];
                break;
            }
        }
    }
    write_status(p);
    xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateReconfiguring);
}

/* pcifront_backend_changed() */
static void pcifront_backend_changed(pdev_t *p, int be_state)
{
    bool stuck = in_dom_list(m.stuck, m.nstuck, p->domid);

    switch (be_state) {
    case XenbusStateConnected:
        /* pcifront_try_connect(), or the end of a cycle */
        if (driver_state(p->fe) == XenbusStateInitialised) {
            rescan(p);
            xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateConnected);
        }
        break;
    case XenbusStateReconfiguring:
        if (!stuck)
            pcifront_detach_devices(p);
        break;
    case XenbusStateReconfigured:
        /* pcifront_attach_devices() */
        if (!stuck && driver_state(p->fe) == XenbusStateReconfiguring) {
            rescan(p);
            xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateConnected);
        }
        break;
    case XenbusStateClosing:
    case XenbusStateClosed:
        /* pcifront_try_disconnect() */
        if (driver_state(p->fe) < XenbusStateClosing) {
            p->nseen = 0;
            xenbus_switch_state(p->fe, &p->fe_cached, XenbusStateClosed);
        }
        break;
    default:
        break;
    }
}

/* ---- dispatch ---------------------------------------------------------- */

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
    bool exists;

    if (!p)
        return;
    exists = xexists(p->be);
    if (!exists) {
        if (p->probed)
            release_all(p);
        forget_if_gone(p);
        return;
    }
    if (!p->probed) {
        pciback_probe(p);
        return;
    }
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
        /* frontend gone: the guest device goes; pciback sees Unknown */
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
        char *be = xread(p->fe, "backend"), *beid = xread(p->fe,
                                                          "backend-id");

        if (be && beid)
            pcifront_probe(p);
        free(be);
        free(beid);
        if (!p->fe_probed)
            return;
    }
    if (p->probed && !strcmp(rest, "/state"))
        xen_pcibk_frontend_changed(p, driver_state(p->fe));
}

static void dispatch(const char *path)
{
    unsigned domid;
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
        /* a parent went: check every known backend and frontend */
        unsigned i;

        for (i = 0; i < MAX_DOMS; i++)
            if (m.doms[i].used) {
                backend_event(m.doms[i].domid, "");
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
        frontend_event(domid, "");
    }
}

/* On start: everything already there is seen as if just written. */
static void initial_scan(void)
{
    char **doms;
    unsigned n, i, domid;

    doms = xs_directory(m.xs, XBT_NULL, BE_ROOT, &n);
    for (i = 0; doms && i < n; i++)
        if (sscanf(doms[i], "%u", &domid) == 1) {
            backend_event(domid, "");
            frontend_event(domid, "/state");
        }
    free(doms);
}

static void write_all_status(void)
{
    unsigned i;

    for (i = 0; i < MAX_DOMS; i++)
        if (m.doms[i].used)
            write_status(&m.doms[i]);
}

static int parse_bdf_arg(const char *s, bdf_t *list, unsigned *n)
{
    if (*n == MAX_LIST || !parse_bdf(s, &list[*n])) {
        fprintf(stderr, "pcimodel: bad BDF \"%s\"\n", s);
        return -1;
    }
    (*n)++;
    return 0;
}

static int parse_dom_arg(const char *s, unsigned *list, unsigned *n)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (*n == MAX_LIST || *end || end == s) {
        fprintf(stderr, "pcimodel: bad domid \"%s\"\n", s);
        return -1;
    }
    list[(*n)++] = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ready", required_argument, NULL, 'r' },
        { "status-dir", required_argument, NULL, 's' },
        { "patched", no_argument, NULL, 'p' },
        { "no-frontend", required_argument, NULL, 'n' },
        { "frontend-stuck", required_argument, NULL, 'k' },
        { "not-assignable", required_argument, NULL, 'a' },
        { "vf", required_argument, NULL, 'f' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "verbose", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    const char *ready = NULL;
    struct sigaction sa;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
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
        case 'a':
            if (parse_bdf_arg(optarg, m.not_assignable, &m.nnot_assignable))
                return 2;
            break;
        case 'f':
            if (parse_bdf_arg(optarg, m.vfs, &m.nvfs))
                return 2;
            break;
        case 'd': m.delay_ms = atoi(optarg); break;
        case 'v': m.verbose++; break;
        default: return 2;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    if (m.status_dir) {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", m.status_dir);
        if (system(cmd) != 0)
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
        char **ev;

        if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
            break;
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

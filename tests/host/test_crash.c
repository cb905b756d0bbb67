/*
 * Crash safety of the host side: the CLI is killed (SIGKILL) at every
 * xenstore request (XLPCI_CRASH_AT=N) and at every host step - sysfs
 * write, bookkeeping commit, xc_* call - (XLPCI_CRASH_HOST_AT=N) of
 *
 *   create 5 03:00.0,seize=1 04:00.0
 *   pci-attach 5 03:00.0,seize=1        (04:00.0 attached before)
 *   pci-detach 5 03:00.0                (03:00.0 seized by a create)
 *   destroy 5                           (both, after domain 5 is gone)
 *   pci-assignable-add 03:00.0
 *   pci-assignable-remove -r 03:00.0    (added before)
 *
 * with the fake sysfs kernel, the fake libxenctrl and the pciback/pcifront
 * model.  After `check --repair 5` (and `check 5` saying consistent):
 *   - the backend is consistent, the guest sees exactly its devices;
 *   - the bookkeeping agrees with it: a device is recorded for domain 5
 *     iff the backend lists it;
 *   - no device is lost: 03:00.0 is in the backend and on pciback with
 *     its driver remembered, or back on e1000e with no record; 04:00.0
 *     stays on pciback;
 *   - the hypervisor agrees: domain 5 holds the I/O memory, ports and irq
 *     of a device iff the backend lists it (net of every grant/revoke the
 *     fake recorded);
 *   - the ownership record /libxl/pci/<bdf>/domid names domain 5 iff the
 *     backend lists the device;
 *   - the IOMMU agrees (the fake's per-device context, FAKEXC_STATE): a
 *     device the backend lists is in domain 5's context; 03:00.0 back on
 *     e1000e is in dom0's; 04:00.0, assignable, in dom0's or dom_io's.
 * destroy: after `check --repair 5` of the gone domain nothing of it is
 * left (no backend, no record, no ownership node, no /local/domain/5),
 * 03:00.0 is back on e1000e, 04:00.0 assignable on pciback, and neither is
 * left in domain 5's IOMMU context.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "libxlpci_priv.h"

#define DEV3 "0000:03:00.0"
#define DEV4 "0000:04:00.0"

typedef struct {
    itest_env *e;
    pid_t fake;
    char sys[300], state[300], log[300], iommu[300];
} crash_env;

/* Device 0000:0X:00.0: memory 0xfX000000 (16 pages), ports 0xX000, irq
 * 1X, so the fake's log tells the devices apart. */
static void set_resources(crash_env *c, unsigned x)
{
    char path[400], text[400];

    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:%02x:00.0/resource",
             c->sys, x);
    snprintf(text, sizeof(text),
             "0x00000000f%x000000 0x00000000f%x00ffff 0x0000000000040200\n"
             "0x000000000000%x000 0x000000000000%x03f 0x0000000000040101\n",
             x, x, x, x);
    itest_put_file(path, text);
    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:%02x:00.0/irq",
             c->sys, x);
    snprintf(text, sizeof(text), "%u\n", 10 + x);
    itest_put_file(path, text);
}

static void crash_setup(crash_env *c)
{
    char ready[320];
    char *argv[] = { (char *)h_prog("fakesysfs"), (char *)"--root", c->sys,
                     (char *)"--ready", ready,
                     (char *)"--device", (char *)DEV3 "=e1000e",
                     (char *)"--device", (char *)DEV4 "=pciback", NULL };
    void *st = NULL;

    assert_int_equal(itest_setup(&st), 0);
    c->e = st;
    snprintf(c->sys, sizeof(c->sys), "%s/sys", c->e->dir);
    snprintf(c->state, sizeof(c->state), "%s/state", c->e->dir);
    snprintf(c->log, sizeof(c->log), "%s/xc.log", c->e->dir);
    snprintf(c->iommu, sizeof(c->iommu), "%s/iommu", c->e->dir);
    snprintf(ready, sizeof(ready), "%s/sys.ready", c->e->dir);
    assert_int_equal(h_spawn(&c->fake, argv, ready, 5000 * h_slow()), 0);
    set_resources(c, 3);
    set_resources(c, 4);
    itest_set_xen(c->sys, true);
    setenv("LD_LIBRARY_PATH", h_prog("fakexc"), 1);
    setenv("XLPCI_SYSFS_ROOT", c->sys, 1);
    setenv("XLPCI_STATE_DIR", c->state, 1);
    setenv("FAKEXC_LOG", c->log, 1);
    setenv("FAKEXC_STATE", c->iommu, 1);
    itest_model_start(c->e, NULL);
}

static void crash_teardown(crash_env *c)
{
    void *st = c->e;

    unsetenv("LD_LIBRARY_PATH");
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    unsetenv("FAKEXC_LOG");
    unsetenv("FAKEXC_STATE");
    h_stop(c->fake);
    itest_teardown(&st);
}

static const char *driver_of(crash_env *c, const char *bdf)
{
    return itest_driver_of(c->sys, bdf);
}

/* The record of bdf in the state file (NULL: none); *v to free. */
static xlpci_bk_dev *record(crash_env *c, const char *bdf, xlpci_bk_dev **v,
                            size_t *n)
{
    char path[400], err[256], *text = NULL;
    size_t len = 0, i;
    xlpci_bdf want;
    FILE *f;

    *v = NULL;
    *n = 0;
    snprintf(path, sizeof(path), "%s/devices.json", c->state);
    f = fopen(path, "r");
    if (!f)
        return NULL;
    assert_true(getdelim(&text, &len, '\0', f) >= 0);
    fclose(f);
    if (xlpci_bk_from_json(text, v, n, err, sizeof(err)))
        fail_msg("state file: %s", err);
    free(text);
    assert_int_equal(xlpci_bdf_parse(bdf, &want, err, sizeof(err)), 0);
    for (i = 0; i < *n; i++)
        if (!xlpci_bdf_cmp(&(*v)[i].bdf, &want))
            return &(*v)[i];
    return NULL;
}

static void free_records(xlpci_bk_dev *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        xlpci_bk_dev_dispose(&v[i]);
    free(v);
}

/* Net state of domain 5's grants for device 0X, from the fake's log: the
 * memory, the ports and the irq must agree; returns whether held. */
static bool granted(crash_env *c, unsigned x)
{
    char line[2048], mem[64], io[64], irq[64];
    int held[3] = { 0, 0, 0 }, k;
    FILE *f = fopen(c->log, "r");

    snprintf(mem, sizeof(mem), "dom=5 first=0xf%x000 nr=16 allow=", x);
    snprintf(io, sizeof(io), "dom=5 first=0x%x000 nr=64 allow=", x);
    snprintf(irq, sizeof(irq), "dom=5 pirq=%u allow=", 10 + x);
    while (f && fgets(line, sizeof(line), f)) {
        const char *keys[3] = { mem, io, irq };

        if (strstr(line, " -> "))
            continue;
        for (k = 0; k < 3; k++) {
            const char *p = strstr(line, keys[k]);

            if (p)
                held[k] = p[strlen(keys[k])] == '1';
        }
    }
    if (f)
        fclose(f);
    if (held[0] != held[1] || held[1] != held[2])
        fail_msg("device %x: memory %d, ports %d, irq %d held: partial",
                 x, held[0], held[1], held[2]);
    return held[0];
}

/* The fake IOMMU's context of bdf: "0" (dom0), "io" or a domid. */
static const char *iommu_of(crash_env *c, const char *bdf)
{
    static char ctx[16];
    char line[128], b[32], w[16];
    FILE *f = fopen(c->iommu, "r");

    snprintf(ctx, sizeof(ctx), "0");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "%31s %15s", b, w) == 2 && !strcmp(b, bdf))
            snprintf(ctx, sizeof(ctx), "%s", w);
    if (f)
        fclose(f);
    return ctx;
}

static void wait_quiet(itest_env *e)
{
    char *v = itest_read(e, BE(5) "/num_devs");

    free(v);
    if (!v)
        return;
    if (!itest_wait_value(e, BE(5) "/state", "4", 10000 * h_slow()) ||
        !itest_wait_value(e, "/local/domain/5/device/pci/0/state", "4",
                          10000 * h_slow()))
        fail_msg("the backend did not settle at Connected");
}

/* The invariants after the repair; returns whether 03:00.0 is assigned. */
static bool settled(crash_env *c, const char *what)
{
    itest_env *e = c->e;
    xlpci_bk_dev *v, *d;
    size_t n;
    bool in3, in4;
    unsigned num;

    wait_quiet(e);
    if (itest_xlpci(e, "check", "--repair", "5", NULL))
        fail_msg("%s: check --repair: %s%s", what, e->out, e->err);
    if (itest_xlpci(e, "check", "5", NULL))
        fail_msg("%s: check after repair: %s%s", what, e->out, e->err);
    wait_quiet(e);
    num = itest_check_backend(e, 5);
    if (num)
        assert_int_equal(itest_guest_count(e, 5), (int)num);
    in3 = itest_find(e, 5, DEV3) >= 0;
    in4 = itest_find(e, 5, DEV4) >= 0;

    d = record(c, DEV3, &v, &n);
    if (in3) {
        if (!d || d->domid != 5 || !d->managed || !d->driver_path ||
            !strstr(d->driver_path, "/drivers/e1000e") ||
            strcmp(driver_of(c, DEV3), "pciback"))
            fail_msg("%s: %s in the backend but record %s/%d, driver %s",
                     what, DEV3, d ? "present" : "absent", d ? d->domid : -2,
                     driver_of(c, DEV3));
    } else if (d || strcmp(driver_of(c, DEV3), "e1000e")) {
        fail_msg("%s: %s not in the backend but record %s, driver \"%s\"",
                 what, DEV3, d ? "present" : "absent", driver_of(c, DEV3));
    }
    free_records(v, n);
    d = record(c, DEV4, &v, &n);
    if (in4 != (d && d->domid == 5))
        fail_msg("%s: %s listed %d, record domid %d", what, DEV4, in4,
                 d ? d->domid : -2);
    if (strcmp(driver_of(c, DEV4), "pciback"))
        fail_msg("%s: %s left pciback", what, DEV4);
    free_records(v, n);
    {
        char cmd[400];

        /* no temp file of an interrupted state write survives a check */
        snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q '^\\.devices'",
                 c->state);
        if (!system(cmd))
            fail_msg("%s: a temp state file was left in %s", what, c->state);
    }
    {
        char *n3 = itest_read(e, "/libxl/pci/0000-03-00-0/domid");
        char *n4 = itest_read(e, "/libxl/pci/0000-04-00-0/domid");

        if (in3 != (n3 && !strcmp(n3, "5")) || (n3 && strcmp(n3, "5")) ||
            in4 != (n4 && !strcmp(n4, "5")) || (n4 && strcmp(n4, "5")))
            fail_msg("%s: ownership 03 %s 04 %s, listed 03 %d 04 %d", what,
                     n3 ?: "-", n4 ?: "-", in3, in4);
        free(n3);
        free(n4);
    }
    if (strcmp(iommu_of(c, DEV3), in3 ? "5" : "0"))
        fail_msg("%s: %s listed %d, IOMMU context %s", what, DEV3, in3,
                 iommu_of(c, DEV3));
    if (in4 ? strcmp(iommu_of(c, DEV4), "5")
            : strcmp(iommu_of(c, DEV4), "0") && strcmp(iommu_of(c, DEV4),
                                                       "io"))
        fail_msg("%s: %s listed %d, IOMMU context %s", what, DEV4, in4,
                 iommu_of(c, DEV4));
    if (granted(c, 3) != in3 || granted(c, 4) != in4)
        fail_msg("%s: grants 03 %d 04 %d, listed 03 %d 04 %d", what,
                 granted(c, 3), granted(c, 4), in3, in4);
    return in3;
}

/* destroy: everything the gone domain held is released, once. */
static void released(crash_env *c, const char *what)
{
    itest_env *e = c->e;
    xlpci_bk_dev *v, *d;
    size_t n, i;
    char *dump;

    /* check of a gone domain exits 1 ("does not exist"); --repair
     * releases what it held first */
    if (itest_xlpci(e, "check", "--repair", "5", NULL) != 1 ||
        !strstr(e->err, "domain 5 does not exist"))
        fail_msg("%s: check --repair: %s%s", what, e->out, e->err);
    if (itest_xlpci(e, "check", "5", NULL) != 1 ||
        !strstr(e->err, "nothing of it is left"))
        fail_msg("%s: check after repair: %s%s", what, e->out, e->err);
    dump = itest_dump(e);
    if (strstr(dump, "/domid = \"5\"") || strstr(dump, "/local/domain/5") ||
        strstr(dump, "backend/pci/5"))
        fail_msg("%s: domain 5 still holds something:\n%s", what, dump);
    free(dump);
    d = record(c, DEV3, &v, &n);
    if (d || strcmp(driver_of(c, DEV3), "e1000e"))
        fail_msg("%s: %s record %s, driver \"%s\"", what, DEV3,
                 d ? "present" : "absent", driver_of(c, DEV3));
    for (i = 0; i < n; i++)
        if (v[i].domid >= 0)
            fail_msg("%s: a record still names domain %d", what,
                     v[i].domid);
    free_records(v, n);
    if (strcmp(driver_of(c, DEV4), "pciback"))
        fail_msg("%s: %s left pciback", what, DEV4);
    if (strcmp(iommu_of(c, DEV3), "0") ||
        (strcmp(iommu_of(c, DEV4), "0") && strcmp(iommu_of(c, DEV4), "io")))
        fail_msg("%s: IOMMU contexts %s %s, %s %s", what, DEV3,
                 iommu_of(c, DEV3), DEV4, iommu_of(c, DEV4));
    if (itest_xlpci(e, "pci-assignable-list", NULL) ||
        strcmp(e->out, DEV4 " \n"))
        fail_msg("%s: pci-assignable-list: %s%s", what, e->out, e->err);
}

/* After pci-assignable-add/-remove and the repair: 03:00.0 is either
 * assignable (on pciback, recorded with its driver, quarantined in
 * dom_io) or back on e1000e (no record, dom0); returns whether
 * assignable. */
static bool settled_assignable(crash_env *c, const char *what)
{
    itest_env *e = c->e;
    xlpci_bk_dev *v, *d;
    const char *drv;
    size_t n;
    bool added;

    if (itest_xlpci(e, "check", "--repair", "5", NULL))
        fail_msg("%s: check --repair: %s%s", what, e->out, e->err);
    if (itest_xlpci(e, "check", "5", NULL))
        fail_msg("%s: check after repair: %s%s", what, e->out, e->err);
    d = record(c, DEV3, &v, &n);
    drv = driver_of(c, DEV3);
    added = !strcmp(drv, "pciback");
    if (added ? !d || d->managed || d->domid >= 0 || d->quarantining ||
                !d->driver_path || !strstr(d->driver_path, "/drivers/e1000e")
                || strcmp(iommu_of(c, DEV3), "io")
              : d || strcmp(drv, "e1000e") || strcmp(iommu_of(c, DEV3), "0"))
        fail_msg("%s: %s on \"%s\", record %s, IOMMU context %s", what,
                 DEV3, drv, d ? "present" : "absent", iommu_of(c, DEV3));
    free_records(v, n);
    if (strcmp(driver_of(c, DEV4), "pciback") ||
        strcmp(iommu_of(c, DEV4), "0"))
        fail_msg("%s: %s touched", what, DEV4);
    if (itest_check_backend(e, 5))
        fail_msg("%s: a backend appeared", what);
    return added;
}

typedef enum {
    FLOW_CREATE, FLOW_ATTACH, FLOW_DETACH, FLOW_DESTROY, FLOW_ADD, FLOW_REMOVE
} flow;

static void crash_flow(flow f, const char *env)
{
    static const char *names[] = { "create", "pci-attach", "pci-detach",
                                   "destroy", "pci-assignable-add",
                                   "pci-assignable-remove" };
    unsigned stride = h_slow() > 1 ? 3 : 1, n, killed = 0;
    char num[16], what[96];
    bool done = false;

    for (n = 1; !done && n < 300; n += stride) {
        crash_env c;
        bool in3;
        int rc;

        memset(&c, 0, sizeof(c));
        crash_setup(&c);
        if (f == FLOW_ATTACH)
            assert_int_equal(itest_xlpci(c.e, "create", "5", "04:00.0",
                                         NULL), 0);
        if (f == FLOW_DETACH || f == FLOW_DESTROY)
            assert_int_equal(itest_xlpci(c.e, "create", "5", "04:00.0",
                                         "03:00.0,seize=1", NULL), 0);
        if (f == FLOW_REMOVE)
            assert_int_equal(itest_xlpci(c.e, "pci-assignable-add",
                                         "03:00.0", NULL), 0);
        wait_quiet(c.e);
        if (f == FLOW_DESTROY) {
            /* the domain dies: its guest and its xenstore directory go */
            itest_model_stop(c.e);
            assert_true(xs_rm(c.e->xs, XBT_NULL, "/local/domain/5"));
        }
        snprintf(num, sizeof(num), "%u", n);
        setenv(env, num, 1);
        if (f == FLOW_CREATE)
            rc = itest_xlpci(c.e, "create", "5", "03:00.0,seize=1",
                             "04:00.0", NULL);
        else if (f == FLOW_ATTACH)
            rc = itest_xlpci(c.e, "pci-attach", "5", "03:00.0,seize=1",
                             NULL);
        else if (f == FLOW_DETACH)
            rc = itest_xlpci(c.e, "pci-detach", "5", "03:00.0", NULL);
        else if (f == FLOW_DESTROY)
            rc = itest_xlpci(c.e, "destroy", "5", NULL);
        else if (f == FLOW_ADD)
            rc = itest_xlpci(c.e, "pci-assignable-add", "03:00.0", NULL);
        else
            rc = itest_xlpci(c.e, "pci-assignable-remove", "-r", "03:00.0",
                             NULL);
        unsetenv(env);
        snprintf(what, sizeof(what), "%s, %s=%u", names[f], env, n);
        if (rc == 0)
            done = true;
        else if (rc == 128 + 9)
            killed++;
        else
            fail_msg("%s: exit %d: %s", what, rc, c.e->err);
        if (f == FLOW_DESTROY) {
            released(&c, what);
            /* and destroy itself is idempotent */
            assert_int_equal(itest_xlpci(c.e, "destroy", "5", NULL), 0);
            assert_string_equal(c.e->out, "domain 5: nothing to do\n");
            crash_teardown(&c);
            continue;
        }
        if (f == FLOW_ADD || f == FLOW_REMOVE) {
            in3 = settled_assignable(&c, what);
            if (done)
                assert_int_equal(in3, f == FLOW_ADD);
        } else {
            in3 = settled(&c, what);
            if (done)
                assert_int_equal(in3, f != FLOW_DETACH);
        }
        crash_teardown(&c);
    }
    assert_true(done);
    /* the injection points exist: several kills before the flow completed
     * (under valgrind only every stride-th point is tried) */
    assert_true(killed * stride > (f >= FLOW_ADD ? 2 : 3));
    fprintf(stderr, "host crash test: %s killed at %u points (%s)\n",
            names[f], killed, env);
}

/* ---- HVM guests (issue 21, 5) ------------------------------------------- */

/* The same kills for an HVM guest's flows, whose devices go through its
 * QEMU (tests/qmp/qmppeer, -xen-domid 5), with QMP commands among the host
 * steps:
 *
 *   pci-attach 5 03:00.0,seize=1        (04:00.0 attached before)
 *   pci-detach 5 03:00.0                (03:00.0 seized by a create)
 *
 * After `check --repair 5` (which asks QEMU) and `check 5` saying
 * consistent, nothing is held twice and every side agrees, per device:
 * QEMU has it iff the backend lists it iff the bookkeeping gives it to
 * domain 5 iff its ownership record names 5 iff domain 5 holds its IOMMU
 * context and grants; 03:00.0 not listed is back on e1000e, unrecorded. */
typedef struct {
    crash_env c;
    pid_t peer;
    char run[320], qstate[340], qready[340];
} hvm_crash_env;

static void hvm_peer_start(hvm_crash_env *h)
{
    char sock[400];
    char *argv[] = { (char *)h_prog("qmppeer"), sock, (char *)"--ready",
                     h->qready, (char *)"--state", h->qstate,
                     (char *)"-xen-domid", (char *)"5", NULL };

    snprintf(sock, sizeof(sock), "%s/qmp-libxl-5", h->run);
    unlink(h->qready);
    assert_int_equal(h_spawn(&h->peer, argv, h->qready, 5000 * h_slow()),
                     0);
}

static void hvm_crash_setup(hvm_crash_env *h)
{
    crash_env *c = &h->c;
    char ready[320];
    char *argv[] = { (char *)h_prog("fakesysfs"), (char *)"--root", c->sys,
                     (char *)"--ready", ready,
                     (char *)"--device", (char *)DEV3 "=e1000e",
                     (char *)"--device", (char *)DEV4 "=pciback", NULL };
    void *st = NULL;

    assert_int_equal(itest_setup(&st), 0);
    c->e = st;
    snprintf(c->sys, sizeof(c->sys), "%s/sys", c->e->dir);
    snprintf(c->state, sizeof(c->state), "%s/state", c->e->dir);
    snprintf(c->log, sizeof(c->log), "%s/xc.log", c->e->dir);
    snprintf(c->iommu, sizeof(c->iommu), "%s/iommu", c->e->dir);
    snprintf(ready, sizeof(ready), "%s/sys.ready", c->e->dir);
    snprintf(h->run, sizeof(h->run), "%s/run", c->e->dir);
    snprintf(h->qstate, sizeof(h->qstate), "%s/qmp.state", c->e->dir);
    snprintf(h->qready, sizeof(h->qready), "%s/qmp.ready", c->e->dir);
    mkdir(h->run, 0755);
    assert_int_equal(h_spawn(&c->fake, argv, ready, 5000 * h_slow()), 0);
    set_resources(c, 3);
    set_resources(c, 4);
    itest_set_xen(c->sys, true);
    setenv("LD_LIBRARY_PATH", h_prog("fakexc"), 1);
    setenv("XLPCI_SYSFS_ROOT", c->sys, 1);
    setenv("XLPCI_STATE_DIR", c->state, 1);
    setenv("XLPCI_RUN_DIR", h->run, 1);
    setenv("FAKEXC_LOG", c->log, 1);
    setenv("FAKEXC_STATE", c->iommu, 1);
    setenv("FAKEXC_DOMAINS", "5=hvm", 1);
    itest_write(c->e, "/local/domain/5/device", "");
    hvm_peer_start(h);
}

static void hvm_crash_teardown(hvm_crash_env *h)
{
    unsetenv("XLPCI_RUN_DIR");
    unsetenv("FAKEXC_DOMAINS");
    if (h->peer)
        h_stop(h->peer);
    h->peer = 0;
    crash_teardown(&h->c);
}

/* Does QEMU have 0000:0X:00.0 (its state file)? */
static bool in_qemu(hvm_crash_env *h, unsigned x)
{
    char *text = itest_slurp(h->qstate), want[32];
    bool has;

    snprintf(want, sizeof(want), "pci-pt-%02x_00.0 ", x);
    has = strstr(text, want) != NULL;
    free(text);
    return has;
}

static bool hvm_settled(hvm_crash_env *h, const char *what)
{
    crash_env *c = &h->c;
    itest_env *e = c->e;
    const char *devs[2] = { DEV3, DEV4 };
    xlpci_bk_dev *v, *d;
    bool in[2], in3 = false;
    size_t n;
    unsigned k;

    if (itest_xlpci(e, "check", "--repair", "5", NULL))
        fail_msg("%s: check --repair: %s%s", what, e->out, e->err);
    if (itest_xlpci(e, "check", "5", NULL))
        fail_msg("%s: check after repair: %s%s", what, e->out, e->err);
    itest_check_backend(e, 5);
    for (k = 0; k < 2; k++) {
        char path[64], *own;

        in[k] = itest_find(e, 5, devs[k]) >= 0;
        if (in_qemu(h, 3 + k) != in[k])
            fail_msg("%s: %s listed %d, in QEMU %d", what, devs[k], in[k],
                     in_qemu(h, 3 + k));
        d = record(c, devs[k], &v, &n);
        if (in[k] != (d && d->domid == 5) || (d && d->pending))
            fail_msg("%s: %s listed %d, record %d pending %d", what,
                     devs[k], in[k], d ? d->domid : -2, d ? d->pending : -1);
        free_records(v, n);
        snprintf(path, sizeof(path), "/libxl/pci/0000-0%u-00-0/domid",
                 3 + k);
        own = itest_read(e, path);
        if (in[k] != (own && !strcmp(own, "5")) || (own && strcmp(own, "5")))
            fail_msg("%s: %s listed %d, ownership %s", what, devs[k], in[k],
                     own ?: "-");
        free(own);
        if (in[k] ? strcmp(iommu_of(c, devs[k]), "5")
                  : !strcmp(iommu_of(c, devs[k]), "5"))
            fail_msg("%s: %s listed %d, IOMMU context %s", what, devs[k],
                     in[k], iommu_of(c, devs[k]));
        if (granted(c, 3 + k) != in[k])
            fail_msg("%s: %s listed %d, granted %d", what, devs[k], in[k],
                     granted(c, 3 + k));
    }
    in3 = in[0];
    if (!in3 && strcmp(driver_of(c, DEV3), "e1000e"))
        fail_msg("%s: %s not listed but on \"%s\"", what, DEV3,
                 driver_of(c, DEV3));
    if (in3 && strcmp(driver_of(c, DEV3), "pciback"))
        fail_msg("%s: %s listed but on \"%s\"", what, DEV3,
                 driver_of(c, DEV3));
    if (strcmp(driver_of(c, DEV4), "pciback"))
        fail_msg("%s: %s left pciback", what, DEV4);
    return in3;
}

static void crash_flow_hvm(bool detach, const char *env)
{
    unsigned stride = h_slow() > 1 ? 3 : 1, n, killed = 0;
    char num[16], what[96];
    bool done = false;

    for (n = 1; !done && n < 300; n += stride) {
        hvm_crash_env h;
        bool in3;
        int rc;

        memset(&h, 0, sizeof(h));
        hvm_crash_setup(&h);
        assert_int_equal(itest_xlpci(h.c.e, "create", "5", "04:00.0",
                                     detach ? "03:00.0,seize=1" : NULL,
                                     NULL), 0);
        snprintf(num, sizeof(num), "%u", n);
        setenv(env, num, 1);
        rc = detach ? itest_xlpci(h.c.e, "pci-detach", "5", "03:00.0", NULL)
                    : itest_xlpci(h.c.e, "pci-attach", "5",
                                  "03:00.0,seize=1", NULL);
        unsetenv(env);
        snprintf(what, sizeof(what), "HVM %s, %s=%u",
                 detach ? "pci-detach" : "pci-attach", env, n);
        if (rc == 0)
            done = true;
        else if (rc == 128 + 9)
            killed++;
        else
            fail_msg("%s: exit %d: %s", what, rc, h.c.e->err);
        in3 = hvm_settled(&h, what);
        if (done)
            assert_int_equal(in3, !detach);
        hvm_crash_teardown(&h);
    }
    assert_true(done);
    assert_true(killed * stride > 3);
    fprintf(stderr, "host crash test: HVM %s killed at %u points (%s)\n",
            detach ? "pci-detach" : "pci-attach", killed, env);
}

static void test_hvm_attach_host_steps(void **state)
{
    (void)state;
    crash_flow_hvm(false, "XLPCI_CRASH_HOST_AT");
}

static void test_hvm_detach_host_steps(void **state)
{
    (void)state;
    crash_flow_hvm(true, "XLPCI_CRASH_HOST_AT");
}

static void test_hvm_attach_requests(void **state)
{
    (void)state;
    crash_flow_hvm(false, "XLPCI_CRASH_AT");
}

static void test_hvm_detach_requests(void **state)
{
    (void)state;
    crash_flow_hvm(true, "XLPCI_CRASH_AT");
}

#define T(name, f, env) \
    static void name(void **state) { (void)state; crash_flow(f, env); }
T(test_create_host_steps, FLOW_CREATE, "XLPCI_CRASH_HOST_AT")
T(test_attach_host_steps, FLOW_ATTACH, "XLPCI_CRASH_HOST_AT")
T(test_detach_host_steps, FLOW_DETACH, "XLPCI_CRASH_HOST_AT")
T(test_add_host_steps, FLOW_ADD, "XLPCI_CRASH_HOST_AT")
T(test_remove_host_steps, FLOW_REMOVE, "XLPCI_CRASH_HOST_AT")
T(test_create_requests, FLOW_CREATE, "XLPCI_CRASH_AT")
T(test_attach_requests, FLOW_ATTACH, "XLPCI_CRASH_AT")
T(test_detach_requests, FLOW_DETACH, "XLPCI_CRASH_AT")
T(test_destroy_host_steps, FLOW_DESTROY, "XLPCI_CRASH_HOST_AT")
T(test_destroy_requests, FLOW_DESTROY, "XLPCI_CRASH_AT")
#undef T

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_host_steps),
        cmocka_unit_test(test_attach_host_steps),
        cmocka_unit_test(test_detach_host_steps),
        cmocka_unit_test(test_add_host_steps),
        cmocka_unit_test(test_remove_host_steps),
        cmocka_unit_test(test_create_requests),
        cmocka_unit_test(test_attach_requests),
        cmocka_unit_test(test_detach_requests),
        cmocka_unit_test(test_destroy_host_steps),
        cmocka_unit_test(test_destroy_requests),
        cmocka_unit_test(test_hvm_attach_host_steps),
        cmocka_unit_test(test_hvm_detach_host_steps),
        cmocka_unit_test(test_hvm_attach_requests),
        cmocka_unit_test(test_hvm_detach_requests),
    };

    /* CRASH_TEST_FILTER=test_add_* runs only those (a long test) */
    if (getenv("CRASH_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CRASH_TEST_FILTER"));
    return cmocka_run_group_tests_name("host: crash safety", tests, NULL,
                                       NULL);
}

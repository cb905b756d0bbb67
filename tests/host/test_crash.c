/*
 * Crash safety of the host side: the CLI is killed (SIGKILL) at every
 * xenstore request (XLPCI_CRASH_AT=N) and at every host step - sysfs
 * write, bookkeeping commit, xc_* call - (XLPCI_CRASH_HOST_AT=N) of
 *
 *   create 5 03:00.0,seize=1 04:00.0
 *   pci-attach 5 03:00.0,seize=1        (04:00.0 attached before)
 *   pci-detach 5 03:00.0                (03:00.0 seized by a create)
 *   create 5 04:00.0 03:00.0,seize=1    (nothing before)
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
    itest_set_resources(c->sys, 3);
    itest_set_resources(c->sys, 4);
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

/* The fake IOMMU's context of bdf: "0" (dom0), "io" or a domid. */
static const char *iommu_of(crash_env *c, const char *bdf)
{
    return itest_iommu_of(c->iommu, bdf);
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

/* devices.json's domid of bdf, -2 without a record. */
static int record_domid(crash_env *c, const char *bdf)
{
    size_t n_unused;
    xlpci_bk_dev *v, *d = record(c, bdf, &v, &n_unused);
    int r = d ? d->domid : -2;

    free_records(v, n_unused);
    return r;
}

/* Net state of domain dom's grants for device 0X, from the fake's log:
 * the memory, the ports and the irq must agree; returns whether held. */
static bool granted_to(crash_env *c, unsigned dom, unsigned x)
{
    char line[2048], mem[64], io[64], irq[64];
    int held[3] = { 0, 0, 0 }, k;
    FILE *f = fopen(c->log, "r");

    snprintf(mem, sizeof(mem), "dom=%u first=0xf%x000 nr=16 allow=", dom, x);
    snprintf(io, sizeof(io), "dom=%u first=0x%x000 nr=64 allow=", dom, x);
    snprintf(irq, sizeof(irq), "dom=%u pirq=%u allow=", dom, 10 + x);
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

static bool granted(crash_env *c, unsigned x)
{
    return granted_to(c, 5, x);
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

    /* check --repair of a gone domain releases what it held: then
     * nothing of it is left, exit 0 (saying it does not exist) */
    if (itest_xlpci(e, "check", "--repair", "5", NULL) != 0 ||
        !strstr(e->err, "domain 5 does not exist") ||
        strcmp(e->out, "domain 5: gone; nothing of it is left\n"))
        fail_msg("%s: check --repair: %s%s", what, e->out, e->err);
    if (itest_xlpci(e, "check", "5", NULL) != 0 ||
        strcmp(e->out, "domain 5: gone; nothing of it is left\n"))
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
            itest_xen_kill(c.e, c.iommu, 5);
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
    itest_set_resources(c->sys, 3);
    itest_set_resources(c->sys, 4);
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

typedef enum { HVM_ATTACH, HVM_DETACH, HVM_CREATE } hvm_flow;

static void crash_flow_hvm(hvm_flow f, const char *env)
{
    static const char *const names[] = { "pci-attach", "pci-detach",
                                         "create" };
    unsigned stride = h_slow() > 1 ? 3 : 1, n, killed = 0;
    char num[16], what[96];
    bool done = false;

    for (n = 1; !done && n < 300; n += stride) {
        hvm_crash_env h;
        bool in3;
        int rc;

        memset(&h, 0, sizeof(h));
        hvm_crash_setup(&h);
        if (f != HVM_CREATE)
            assert_int_equal(itest_xlpci(h.c.e, "create", "5", "04:00.0",
                                         f == HVM_DETACH ? "03:00.0,seize=1"
                                                         : NULL, NULL), 0);
        snprintf(num, sizeof(num), "%u", n);
        setenv(env, num, 1);
        if (f == HVM_DETACH)
            rc = itest_xlpci(h.c.e, "pci-detach", "5", "03:00.0", NULL);
        else if (f == HVM_ATTACH)
            rc = itest_xlpci(h.c.e, "pci-attach", "5", "03:00.0,seize=1",
                             NULL);
        else
            rc = itest_xlpci(h.c.e, "create", "5", "04:00.0",
                             "03:00.0,seize=1", NULL);
        unsetenv(env);
        snprintf(what, sizeof(what), "HVM %s, %s=%u", names[f], env, n);
        if (rc == 0)
            done = true;
        else if (rc == 128 + 9)
            killed++;
        else
            fail_msg("%s: exit %d: %s", what, rc, h.c.e->err);
        in3 = hvm_settled(&h, what);
        if (done)
            assert_int_equal(in3, f != HVM_DETACH);
        hvm_crash_teardown(&h);
    }
    assert_true(done);
    assert_true(killed * stride > 3);
    fprintf(stderr, "host crash test: HVM %s killed at %u points (%s)\n",
            names[f], killed, env);
}

static void test_hvm_attach_host_steps(void **state)
{
    (void)state;
    crash_flow_hvm(HVM_ATTACH, "XLPCI_CRASH_HOST_AT");
}

static void test_hvm_detach_host_steps(void **state)
{
    (void)state;
    crash_flow_hvm(HVM_DETACH, "XLPCI_CRASH_HOST_AT");
}

static void test_hvm_attach_requests(void **state)
{
    (void)state;
    crash_flow_hvm(HVM_ATTACH, "XLPCI_CRASH_AT");
}

static void test_hvm_detach_requests(void **state)
{
    (void)state;
    crash_flow_hvm(HVM_DETACH, "XLPCI_CRASH_AT");
}

static void test_hvm_create_host_steps(void **state)
{
    (void)state;
    crash_flow_hvm(HVM_CREATE, "XLPCI_CRASH_HOST_AT");
}

static void test_hvm_create_requests(void **state)
{
    (void)state;
    crash_flow_hvm(HVM_CREATE, "XLPCI_CRASH_AT");
}

/* ---- the ownership corrections (issue 19) ---------------------------------- */

/* takeover: after `xl destroy 5` of a guest xlpci gave 03:00.0 (seize=1)
 * and 04:00.0, `create 6` of both (devices.json said 5: corrected, the
 * devices free at once) killed at every point; keep: after `xl destroy
 * 5`, xl gave both to 6 (`xl pci-attach`), `destroy 5` killed at every
 * point (nothing of 6's may be touched; devices.json corrected to 6). */
typedef enum { TRUTH_TAKEOVER, TRUTH_KEEP } truth_flow;

/* After the repair, one device: in 6's backend with everything that goes
 * with it, or free; never 5's, never half. */
static bool truth_device(crash_env *c, const char *bdf, unsigned x,
                         const char *free_driver, const char *what)
{
    itest_env *e = c->e;
    xlpci_bk_dev *v, *d;
    char rec[64];
    char *r;
    size_t n;
    bool in6 = itest_find(e, 6, bdf) >= 0;

    snprintf(rec, sizeof(rec), "/libxl/pci/0000-0%x-00-0/domid", x);
    r = itest_read(e, rec);
    d = record(c, bdf, &v, &n);
    if (in6) {
        if (!r || strcmp(r, "6") || strcmp(iommu_of(c, bdf), "6") ||
            strcmp(driver_of(c, bdf), "pciback") || (d && d->domid != 6))
            fail_msg("%s: %s in 6's backend: record %s, IOMMU %s, driver "
                     "%s, devices.json %d", what, bdf, r ? r : "-",
                     iommu_of(c, bdf), driver_of(c, bdf),
                     d ? d->domid : -2);
    } else if (r || !strcmp(iommu_of(c, bdf), "5") ||
               !strcmp(iommu_of(c, bdf), "6") ||
               strcmp(driver_of(c, bdf), free_driver) ||
               (d && d->domid >= 0) || granted_to(c, 6, x)) {
        fail_msg("%s: %s free: record %s, IOMMU %s, driver %s (want %s), "
                 "devices.json %d, granted to 6 %d", what, bdf, r ? r : "-",
                 iommu_of(c, bdf), driver_of(c, bdf), free_driver,
                 d ? d->domid : -2, granted_to(c, 6, x));
    }
    free(r);
    free_records(v, n);
    return in6;
}

static void truth_crash_flow(truth_flow f, const char *env)
{
    unsigned stride = h_slow() > 1 ? 3 : 1, n, killed = 0;
    char num[16], what[96];
    bool done = false;

    for (n = 1; !done && n < 300; n += stride) {
        crash_env c;
        char *klog = NULL, *s6 = NULL;
        int rc;

        memset(&c, 0, sizeof(c));
        crash_setup(&c);
        assert_int_equal(itest_xlpci(c.e, "create", "5", "03:00.0,seize=1",
                                     "04:00.0", NULL), 0);
        wait_quiet(c.e);
        itest_model_stop(c.e);
        itest_xl_destroy(c.e, c.iommu, 5);
        if (f == TRUTH_KEEP) {
            itest_xl_attach(c.e, c.iommu, 6, DEV3);
            itest_xl_attach(c.e, c.iommu, 6, DEV4);
            s6 = h_xs_dump(c.e->xs, "/local/domain/0/backend/pci/6");
        }
        klog = itest_slurp(c.log);
        snprintf(num, sizeof(num), "%u", n);
        setenv(env, num, 1);
        rc = f == TRUTH_KEEP
             ? itest_xlpci(c.e, "destroy", "5", NULL)
             : itest_xlpci(c.e, "create", "6", "03:00.0", "04:00.0", NULL);
        unsetenv(env);
        snprintf(what, sizeof(what), "%s, %s=%u",
                 f == TRUTH_KEEP ? "destroy 5 (6 holds them)"
                                 : "create 6 (5 gone)", env, n);
        if (rc == 0)
            done = true;
        else if (rc == 128 + 9)
            killed++;
        else
            fail_msg("%s: exit %d: %s", what, rc, c.e->err);
        /* converge: nothing of 5 left, 6 consistent */
        if (itest_xlpci(c.e, "check", "--repair", "5", NULL) ||
            strcmp(c.e->out, "domain 5: gone; nothing of it is left\n"))
            fail_msg("%s: check --repair 5: %s%s", what, c.e->out,
                     c.e->err);
        if (itest_xlpci(c.e, "check", "--repair", "6", NULL) ||
            itest_xlpci(c.e, "check", "6", NULL))
            fail_msg("%s: check 6: %s%s", what, c.e->out, c.e->err);
        if (f == TRUTH_KEEP) {
            char *log = itest_slurp(c.log), *p;

            /* nothing of 6's devices touched: its backend, records,
             * contexts, drivers; no libxenctrl call changed anything */
            itest_assert_same(s6, h_xs_dump(c.e->xs, "/local/domain/0/"
                                            "backend/pci/6"), "%s", what);
            for (p = log + strlen(klog); *p; p = strchr(p, '\n') + 1) {
                if (strncmp(p, "getinfolist ", 12) &&
                    strncmp(p, "open ", 5) && strncmp(p, "close", 5) &&
                    strncmp(p, "physinfo ", 9))
                    fail_msg("%s: libxenctrl: %.*s", what,
                             (int)strcspn(p, "\n"), p);
                if (!strchr(p, '\n'))
                    break;
            }
            free(log);
            if (!truth_device(&c, DEV3, 3, "pciback", what) ||
                !truth_device(&c, DEV4, 4, "pciback", what))
                fail_msg("%s: 6 lost a device", what);
            if (record_domid(&c, DEV3) != 6 || record_domid(&c, DEV4) != 6)
                fail_msg("%s: devices.json not corrected to 6", what);
        } else {
            bool in3 = truth_device(&c, DEV3, 3, "e1000e", what);
            bool in4 = truth_device(&c, DEV4, 4, "pciback", what);

            if (done && (!in3 || !in4))
                fail_msg("%s: the create that ran through lost a device",
                         what);
        }
        free(klog);
        free(s6);
        crash_teardown(&c);
    }
    assert_true(done);
    assert_true(killed * stride > 3);
    fprintf(stderr, "host crash test: %s killed at %u points (%s)\n",
            f == TRUTH_KEEP ? "destroy (kept)" : "create (takeover)", killed,
            env);
}

#define T(name, f, env) \
    static void name(void **state) { (void)state; truth_crash_flow(f, env); }
T(test_takeover_host_steps, TRUTH_TAKEOVER, "XLPCI_CRASH_HOST_AT")
T(test_takeover_requests, TRUTH_TAKEOVER, "XLPCI_CRASH_AT")
T(test_keep_host_steps, TRUTH_KEEP, "XLPCI_CRASH_HOST_AT")
T(test_keep_requests, TRUTH_KEEP, "XLPCI_CRASH_AT")
#undef T

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
        cmocka_unit_test(test_takeover_host_steps),
        cmocka_unit_test(test_takeover_requests),
        cmocka_unit_test(test_keep_host_steps),
        cmocka_unit_test(test_keep_requests),
        cmocka_unit_test(test_hvm_attach_host_steps),
        cmocka_unit_test(test_hvm_detach_host_steps),
        cmocka_unit_test(test_hvm_attach_requests),
        cmocka_unit_test(test_hvm_detach_requests),
        cmocka_unit_test(test_hvm_create_host_steps),
        cmocka_unit_test(test_hvm_create_requests),
    };

    /* CRASH_TEST_FILTER=test_add_* runs only those (a long test) */
    if (getenv("CRASH_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CRASH_TEST_FILTER"));
    return cmocka_run_group_tests_name("host: crash safety", tests, NULL,
                                       NULL);
}

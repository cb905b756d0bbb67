/*
 * The IOMMU side of the lifecycle and the guest type check, against the
 * fake libxenctrl (tests/fakes/fakexc.c) with its per-device context model
 * (FAKEXC_STATE: dom0, io = dom_io, or a domid), the fake sysfs kernel and
 * the pciback/pcifront model:
 *   - pci-assignable-add quarantines after binding to pciback, -remove
 *     de-quarantines before the host driver gets the device back;
 *   - create/attach test and assign every device before xenstore shows it
 *     (the fake's probe records what the backend held at each call);
 *   - detach deassigns after the guest released the device;
 *   - a failed assignment leaves nothing behind: store, bookkeeping and
 *     the fake's contexts as before;
 *   - libxl's messages: already assigned, no IOMMU / no passthrough;
 *     ENOSYS tolerated (said at -v); HVM and PVH guests refused.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "libxlpci_priv.h"

typedef struct {
    itest_env *e;
    itest_host h;
} iommu_env;

static iommu_env g;

static int iommu_setup(void **state)
{
    if (itest_setup(state))
        return -1;
    g.e = *state;
    if (itest_host_setup(g.e, &g.h))
        return -1;
    setenv("FAKEXC_PROBE", BE(5), 1);
    return 0;
}

static int iommu_teardown(void **state)
{
    itest_host_teardown(&g.h);
    return itest_teardown(state);
}

/* The IOMMU and domain calls recorded since the last call (the log is
 * emptied), with their probes, one a line. */
static char *iommu_calls(void)
{
    char *out = NULL, line[2048];
    size_t len = 0;
    FILE *f = fopen(g.h.log, "r"), *m = open_memstream(&out, &len);

    assert_non_null(m);
    while (f && fgets(line, sizeof(line), f))
        if (strstr(line, "assign_device ") ||
            !strncmp(line, "getinfolist ", 12))
            fputs(line, m);
    if (f)
        fclose(f);
    fclose(m);
    unlink(g.h.log);
    return out;
}

static void assert_iommu_calls(const char *want)
{
    char *got = iommu_calls();

    assert_string_equal(got, want);
    free(got);
}

/* Every call of the last command, in order, without probes (and without
 * the IOMMU probe, physinfo). */
static char *all_calls(void)
{
    return itest_xc_calls(g.h.log, false, NULL, NULL);
}

static const char *driver_of(const char *bdf)
{
    return itest_driver_of(g.h.sys, bdf);
}

/* The fake's contexts, the bookkeeping and the store, for "nothing
 * changed" comparisons. */
static char *snapshot(void)
{
    char path[400], *a, *b, *c, *out;

    xlpci_bk_dev *v;
    char err[256];
    size_t n, i;

    a = itest_slurp(g.h.iommu);
    snprintf(path, sizeof(path), "%s/devices.json", g.h.state);
    b = itest_slurp(path);
    /* normalized: a missing file is an empty one */
    if (!*b) {
        v = NULL;
        n = 0;
    } else if (xlpci_bk_from_json(b, &v, &n, err, sizeof(err))) {
        fail_msg("devices.json: %s", err);
    }
    free(b);
    /* and a record that says nothing (assignable, no name, no driver, not
     * managed: what create leaves for a device found on pciback) is no
     * record */
    for (i = 0; i < n;) {
        if (v[i].domid < 0 && !v[i].name && !v[i].driver_path &&
            !v[i].managed) {
            xlpci_bk_dev_dispose(&v[i]);
            memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
            n--;
        } else {
            i++;
        }
    }
    assert_int_equal(xlpci_bk_to_json(v, n, &b), 0);
    for (i = 0; i < n; i++)
        xlpci_bk_dev_dispose(&v[i]);
    free(v);
    c = itest_dump(g.e);
    assert_true(asprintf(&out, "iommu:\n%s\nbk:\n%s\nstore:\n%s", a, b, c)
                > 0);
    free(a);
    free(b);
    free(c);
    return out;
}

/* pci-assignable-add: bound to pciback, then quarantined (RDM_RELAXED);
 * -remove: out of quarantine first, then back to its driver. */
static void test_quarantine(void **state)
{
    itest_env *e = *state;
    char *log, *bind;

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "03:00.0", NULL),
                     0);
    assert_iommu_calls("assign_device dom=io sbdf=0000:03:00.0 flag=1 "
                       "[be absent]\n");
    assert_string_equal(driver_of("0000:03:00.0"), "pciback");
    log = itest_slurp(g.h.iommu);
    assert_string_equal(log, "0000:03:00.0 io q\n");
    free(log);

    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "-r",
                                 "03:00.0", NULL), 0);
    assert_iommu_calls("deassign_device dom=io sbdf=0000:03:00.0 "
                       "[be absent]\n");
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    log = itest_slurp(g.h.iommu);
    assert_string_equal(log, "");
    free(log);

    /* a quarantine that fails: the add fails and is undone */
    setenv("FAKEXC_FAIL", "assign_device", 1);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "03:00.0", NULL),
                     1);
    assert_non_null(strstr(e->err, "cannot quarantine 0000:03:00.0"));
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n0000:05:00.0 \n");
    unsetenv("FAKEXC_FAIL");
    free(iommu_calls());

    /* a device on pciback already (boot time): quarantined by the add;
     * removing one that was never quarantined is no error */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "04:00.0", NULL),
                     0);
    assert_iommu_calls("assign_device dom=io sbdf=0000:04:00.0 flag=1 "
                       "[be absent]\n");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "05:00.0",
                                 NULL), 0);
    bind = iommu_calls();
    /* not in dom_io: where is it?  Xen says free (dom0): no error */
    assert_string_equal(bind, "deassign_device dom=io sbdf=0000:05:00.0 "
                              "[be absent] -> ENODEV\n"
                              "test_assign_device dom=invalid "
                              "sbdf=0000:05:00.0\n");
    free(bind);
}

/* create: domain type, every device tested, then assigned, before the
 * backend exists; pci-attach: before the backend lists the new device;
 * pci-detach: deassigned once the guest released it (state-N Closing,
 * backend Connected again), after the permissions.  The flag follows
 * rdm_policy. */
static void test_assign_order(void **state)
{
    itest_env *e = *state;
    char *log, *p, *q;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0",
                                 "03:00.0,seize=1,rdm_policy=relaxed", NULL),
                     0);
    /* the guest type first: it decides the path (PV here) */
    assert_iommu_calls(
        "getinfolist first=5 found=pv\n"
        "assign_device dom=io sbdf=0000:03:00.0 flag=1 [be absent]\n"
        "test_assign_device dom=5 sbdf=0000:04:00.0\n"
        "test_assign_device dom=5 sbdf=0000:03:00.0\n"
        "assign_device dom=5 sbdf=0000:04:00.0 flag=0 [be absent]\n"
        "assign_device dom=5 sbdf=0000:03:00.0 flag=1 [be absent]\n");
    log = itest_slurp(g.h.iommu);
    assert_string_equal(log, "0000:03:00.0 5 q\n0000:04:00.0 5\n");
    free(log);
    assert_true(itest_wait_value(e, BE(5) "/state", "4", 10000));
    assert_true(itest_wait_value(e, "/local/domain/5/device/pci/0/state",
                                 "4", 10000));

    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 0);
    assert_iommu_calls(
        "getinfolist first=5 found=pv\n"
        "test_assign_device dom=5 sbdf=0000:05:00.0\n"
        "assign_device dom=5 sbdf=0000:05:00.0 flag=0 [be state=4 "
        "0000:04:00.0=3 0000:03:00.0=3]\n");
    assert_int_equal(itest_guest_count(e, 5), 3);

    /* the IOMMU context first, then the permissions */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    log = all_calls();
    p = strstr(log, "iomem_permission dom=5 first=0xfe000 nr=32 allow=0");
    q = strstr(log, "deassign_device dom=5 sbdf=0000:04:00.0\n");
    assert_non_null(p);
    assert_non_null(q);
    assert_true(p < q);
    free(log);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "05:00.0", NULL), 0);
    /* the guest released it: Closing in the backend, which is Connected;
     * the type read at the start, Xen asked again before the release */
    assert_iommu_calls("getinfolist first=5 found=pv\n"
                       "getinfolist first=5 found=pv\n"
                       "deassign_device dom=5 sbdf=0000:05:00.0 [be state=4 "
                       "0000:03:00.0=3 0000:05:00.0=5]\n");
    /* a seized device: out of domain 5 (to dom_io), then out of dom_io,
     * then back to its driver */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL), 0);
    assert_iommu_calls("getinfolist first=5 found=pv\n"
                       "getinfolist first=5 found=pv\n"
                       "deassign_device dom=5 sbdf=0000:03:00.0 [be state=4 "
                       "0000:03:00.0=5]\n"
                       "deassign_device dom=io sbdf=0000:03:00.0 "
                       "[be absent]\n");
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    /* Xen 4.17 parks the released devices in dom_io */
    log = itest_slurp(g.h.iommu);
    assert_string_equal(log, "0000:04:00.0 io\n0000:05:00.0 io\n");
    free(log);
    /* and they can be assigned again from there */
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 0);
    log = itest_slurp(g.h.iommu);
    assert_non_null(strstr(log, "0000:04:00.0 5\n"));
    free(log);
}

/* An assignment fails (the second device of a create): the first is
 * deassigned, a seized device goes back to its driver out of quarantine;
 * store, bookkeeping and contexts as before.  04:00.0 went through
 * pci-assignable-add (quarantined): Xen 4.17 gives a deassigned device
 * back to dom_io, where it was. */
static void test_assign_failure_leaves_nothing(void **state)
{
    itest_env *e = *state;
    char *before, *log;

    assert_int_equal(itest_xlpci(e, "create", "6", "05:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "04:00.0", NULL),
                     0);
    free(iommu_calls());
    before = snapshot();
    setenv("FAKEXC_FAIL", "assign_device:3", 1);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0",
                                 "03:00.0,seize=1", NULL), 1);
    assert_non_null(strstr(e->err, "cannot assign 0000:03:00.0 to domain "
                           "5 (xc_assign_device)"));
    log = all_calls();
    assert_string_equal(log,
        "getinfolist first=5 found=pv\n"
        "assign_device dom=io sbdf=0000:03:00.0 flag=1\n"
        "test_assign_device dom=5 sbdf=0000:04:00.0\n"
        "test_assign_device dom=5 sbdf=0000:03:00.0\n"
        "assign_device dom=5 sbdf=0000:04:00.0 flag=0\n"
        "iomem_permission dom=5 first=0xfe000 nr=32 allow=1\n"
        "ioport_permission dom=5 first=0xc000 nr=64 allow=1\n"
        "map_pirq dom=5 index=11 pirq=11\n"
        "irq_permission dom=5 pirq=11 allow=1\n"
        "assign_device dom=5 sbdf=0000:03:00.0 flag=0 -> EPERM\n"
        "irq_permission dom=5 pirq=11 allow=0\n"
        "unmap_pirq dom=5 pirq=11\n"
        "ioport_permission dom=5 first=0xc000 nr=64 allow=0\n"
        "iomem_permission dom=5 first=0xfe000 nr=32 allow=0\n"
        "deassign_device dom=5 sbdf=0000:04:00.0\n"
        "deassign_device dom=io sbdf=0000:03:00.0\n");
    free(log);
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    itest_assert_same(before, snapshot(), "the snapshot changed");

    /* the grants fail after the assignment: deassigned */
    setenv("FAKEXC_FAIL", "irq_permission", 1);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 1);
    log = iommu_calls();
    assert_non_null(strstr(log, "assign_device dom=5 sbdf=0000:04:00.0 "
                                "flag=0 [be absent]\n"
                                "deassign_device dom=5 sbdf=0000:04:00.0 "
                                "[be absent]\n"));
    free(log);
    unsetenv("FAKEXC_FAIL");
    itest_assert_same(before, snapshot(), "the snapshot changed");
    free(before);
}

/* A device another guest holds in the IOMMU (behind xlpci's back):
 * refused by the test, before any change, with libxl's message, then
 * who holds it, as far as Xen and the store tell (ownership.c: Xen asked
 * about each device alone, DOMID_INVALID). */
static void test_already_assigned(void **state)
{
    itest_env *e = *state;
    char *before;

    itest_put_file(g.h.iommu, "0000:04:00.0 7\n");
    before = snapshot();
    assert_int_equal(itest_xlpci(e, "create", "5", "05:00.0", "04:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:04:00.0 already "
                           "assigned to a different guest"));
    assert_non_null(strstr(e->err, "PCI device 0000:04:00.0 is assigned to "
                           "another guest (Xen has it assigned to a guest"));
    assert_iommu_calls("getinfolist first=5 found=pv\n"
                       "test_assign_device dom=5 sbdf=0000:05:00.0\n"
                       "test_assign_device dom=5 sbdf=0000:04:00.0 "
                       "-> EINVAL\n"
                       "test_assign_device dom=invalid sbdf=0000:05:00.0\n"
                       "test_assign_device dom=invalid sbdf=0000:04:00.0 "
                       "-> EINVAL\n");
    itest_assert_same(before, snapshot(), "the snapshot changed");
    free(before);
}

/* A domain built without passthrough: the message says what to set; a
 * Xen without IOMMU (ENOSYS): PV goes on, said once at -v. */
static void test_no_iommu(void **state)
{
    itest_env *e = *state;
    char *before, *log;

    setenv("FAKEXC_DOMAINS", "5=pv-nopt,6=pv", 1);
    before = snapshot();
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "cannot be assigned - no IOMMU?"));
    assert_non_null(strstr(e->err, "passthrough=\"enabled\""));
    itest_assert_same(before, snapshot(), "the snapshot changed");
    free(before);
    free(iommu_calls());

    /* Xen without IOMMU (no directio capability): no IOMMU call */
    setenv("FAKEXC_IOMMU", "0", 1);
    assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 0);
    assert_null(strstr(e->err, "IOMMU"));
    assert_iommu_calls("getinfolist first=6 found=pv\n");
    assert_int_equal(itest_xlpci(e, "-v", "pci-attach", "6", "05:00.0",
                                 NULL), 0);
    log = strstr(e->err, "Xen has no IOMMU (no directio capability)");
    assert_non_null(log);
    assert_null(strstr(log + 1, "Xen has no IOMMU"));
    assert_int_equal(itest_xlpci(e, "pci-detach", "6", "05:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:05:00.0 \n");
    /* the list: is domain 6, which devices.json gives 04:00.0, alive? */
    assert_iommu_calls("getinfolist first=6 found=pv\n"
                       "getinfolist first=6 found=pv\n"
                       "getinfolist first=6 found=pv\n"
                       "getinfolist first=6 found=pv\n");

    /* an IOMMU that says ENOSYS (libxl tolerates it for PV): the first
     * one ends the IOMMU steps */
    setenv("FAKEXC_FAIL", "physinfo", 1);
    assert_int_equal(itest_xlpci(e, "-v", "pci-attach", "6", "05:00.0",
                                 NULL), 0);
    assert_non_null(strstr(e->err, "Xen has no IOMMU (ENOSYS)"));
    assert_iommu_calls("getinfolist first=6 found=pv\n"
                       "test_assign_device dom=6 sbdf=0000:05:00.0 "
                       "-> ENOSYS\n");
    unsetenv("FAKEXC_FAIL");
}

/* The guest type decides the path: an HVM guest's devices go to its QEMU
 * (none runs here: refused naming the QMP socket, tests/integration/
 * test_hvm.c has the rest), a PVH guest is refused; both before anything
 * changes; a PV domain Xen does not know is refused too. */
static void test_guest_type(void **state)
{
    itest_env *e = *state;
    char *before;

    setenv("FAKEXC_DOMAINS", "5=pv,7=hvm,8=pvh", 1);
    setenv("XLPCI_RUN_DIR", g.e->dir, 1);
    before = snapshot();
    assert_int_equal(itest_xlpci(e, "create", "7", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "domain 7 has no QEMU to talk to"));
    assert_non_null(strstr(e->err, "/qmp-libxl-7 does not exist"));
    unsetenv("XLPCI_RUN_DIR");
    assert_int_equal(itest_xlpci(e, "pci-attach", "8", "03:00.0,seize=1",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "domain 8 is a PVH guest"));
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "domain 6 does not exist in Xen"));
    itest_assert_same(before, snapshot(), "the snapshot changed");
    free(before);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    /* without Xen (auto): no libxenctrl call at all */
    itest_set_xen(g.h.sys, false);
    free(iommu_calls());
    assert_int_equal(itest_xlpci(e, "create", "7", "05:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "03:00.0", NULL),
                     0);
    assert_iommu_calls("");
}

/* The release of a domain Xen no longer has (the destroy and repair
 * path): Xen took its permissions and IOMMU contexts back; only the
 * records and the resets are left to do, once Xen says the device is in
 * no guest (asked once; the domain's death asked once). */
static void test_release_gone_domain(void **state)
{
    itest_env *e = *state;
    char *log;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    free(iommu_calls());
    assert_true(xs_rm(e->xs, XBT_NULL, BE(5)));
    setenv("FAKEXC_DOMAINS", "6=pv", 1);
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    log = all_calls();
    assert_string_equal(log, "getinfolist first=5 found=6:pv\n"
                             "test_assign_device dom=invalid "
                             "sbdf=0000:04:00.0\n");
    free(log);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n0000:05:00.0 \n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, iommu_setup, iommu_teardown)
        T(test_quarantine),
        T(test_assign_order),
        T(test_assign_failure_leaves_nothing),
        T(test_already_assigned),
        T(test_no_iommu),
        T(test_guest_type),
        T(test_release_gone_domain),
#undef T
    };

    return cmocka_run_group_tests_name("host: IOMMU and guest type", tests,
                                       NULL, NULL);
}

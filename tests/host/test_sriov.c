/*
 * SR-IOV on the host side (issue 24, docs/sriov.md), against the fake
 * sysfs kernel with an SR-IOV physical function (fakesysfs --sriov: its
 * sriov_numvfs makes and removes the VFs, with their physfn and virtfnN
 * links) and the fake libxenctrl:
 *   - VFs appear after xen-pciback has loaded: pci-assignable-add/-remove
 *     of VFs; one that does not exist (yet, or any more) is named as VF k
 *     of its PF with the count the PF has enabled;
 *   - a PF with VFs enabled is never made assignable or passed through,
 *     BB:DD.* leaves it out, and the message says who has its VFs;
 *   - check reports a VF gone under its guest (sriov_numvfs down to 0
 *     while it is assigned) and a VF whose PF is on xen-pciback, and
 *     --repair leaves both alone;
 *   - once SR-IOV is disabled, the PF is a device like any other.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define PF "0000:01:00.0"
#define V1 "0000:01:00.1"
#define V2 "0000:01:00.2"
#define V3 "0000:01:00.3"
/* an 82576-like PF whose VFs lie in another slot (81:10.0, stride 2) */
#define PF2 "0000:81:00.0"

typedef struct {
    itest_env *e;
    itest_host h;
} sriov_env;

static sriov_env g;

/* itest_host_setup with this test's devices: the PF on pci-pf-stub, an
 * e1000e, the 82576-like PF on igb. */
static int sriov_setup(void **state)
{
    char ready[320];
    char *argv[] = { (char *)h_prog("fakesysfs"), (char *)"--root", g.h.sys,
                     (char *)"--ready", ready,
                     (char *)"--device", (char *)PF "=pci-pf-stub",
                     (char *)"--sriov", (char *)PF "=3",
                     (char *)"--device", (char *)"0000:03:00.0=e1000e",
                     (char *)"--device", (char *)PF2 "=igb",
                     (char *)"--sriov", (char *)PF2 "=7,128,2",
                     NULL };

    if (itest_setup(state))
        return -1;
    g.e = *state;
    snprintf(g.h.sys, sizeof(g.h.sys), "%s/sys", g.e->dir);
    snprintf(g.h.state, sizeof(g.h.state), "%s/state", g.e->dir);
    snprintf(g.h.log, sizeof(g.h.log), "%s/xc.log", g.e->dir);
    snprintf(g.h.iommu, sizeof(g.h.iommu), "%s/iommu", g.e->dir);
    snprintf(ready, sizeof(ready), "%s/sys.ready", g.e->dir);
    if (h_spawn(&g.h.fake, argv, ready, 5000 * h_slow()))
        return -1;
    itest_set_xen(g.h.sys, true);
    setenv("LD_LIBRARY_PATH", h_prog("fakexc"), 1);
    setenv("XLPCI_SYSFS_ROOT", g.h.sys, 1);
    setenv("XLPCI_STATE_DIR", g.h.state, 1);
    setenv("FAKEXC_LOG", g.h.log, 1);
    setenv("FAKEXC_STATE", g.h.iommu, 1);
    return 0;
}

static int sriov_teardown(void **state)
{
    itest_host_teardown(&g.h);
    return itest_teardown(state);
}

static const char *driver_of(const char *bdf)
{
    return itest_driver_of(g.h.sys, bdf);
}

static bool exists(const char *bdf)
{
    char path[400];
    struct stat st;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", g.h.sys, bdf);
    return !stat(path, &st);
}

/* echo n > PF/sriov_numvfs, then wait until the fake kernel made (or
 * removed) the VFs. */
static void set_numvfs(const char *pf, unsigned n, const char *first_vf)
{
    char path[400], v[16];
    int i;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/sriov_numvfs",
             g.h.sys, pf);
    snprintf(v, sizeof(v), "%u\n", n);
    itest_put_file(path, v);
    for (i = 0; i < 200 * h_slow() && exists(first_vf) != (n > 0); i++)
        usleep(10000);
    assert_int_equal(exists(first_vf), n > 0);
}

static char *bookkeeping(void)
{
    char path[400];

    snprintf(path, sizeof(path), "%s/devices.json", g.h.state);
    return itest_slurp(path);
}

static void err_has(itest_env *e, const char *needle)
{
    if (!strstr(e->err, needle))
        fail_msg("stderr lacks \"%s\":\n%s", needle, e->err);
}

/* The fake IOMMU has line ("<bdf> <context>") */
static void iommu_has(const char *line)
{
    char *st = itest_slurp(g.h.iommu);

    if (!strstr(st, line))
        fail_msg("the IOMMU state lacks \"%s\":\n%s", line, st);
    free(st);
}

/* The VFs exist only once sriov_numvfs says so (after xen-pciback loaded:
 * not hidden at load time); before, a VF is named as what it would be. */
static void test_vfs_made_assignable(void **state)
{
    itest_env *e = *state;
    char *bk;

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V2, NULL), 1);
    err_has(e, "no PCI device " V2 ": it would be virtual function 1 of "
            PF ", which has 0 of its 3 VFs enabled");
    err_has(e, PF "/sriov_numvfs");
    set_numvfs(PF, 3, V1);
    assert_string_equal(driver_of(V1), "");            /* no driver */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V1, NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V2, NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V3, NULL), 0);
    assert_string_equal(driver_of(V2), "pciback");
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, V1 " \n" V2 " \n" V3 " \n");
    /* back to no driver, as it came */
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "-r", V3, NULL),
                     0);
    assert_string_equal(driver_of(V3), "");
    err_has(e, "no driver recorded for " V3);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, V1 " \n" V2 " \n");
    bk = bookkeeping();
    assert_null(strstr(bk, V3));
    assert_null(strstr(bk, PF));
    free(bk);
    /* in a guest, by BDF */
    assert_int_equal(itest_xlpci(e, "create", "5", V2, V1, NULL), 0);
    assert_int_equal(itest_find(e, 5, V2), 0);
    assert_int_equal(itest_find(e, 5, V1), 1);
    iommu_has(V1 " 5");
    iommu_has(V2 " 5");
}

/* A PF with VFs enabled is refused, its VFs named with who has them;
 * nothing is changed. */
static void test_pf_refused(void **state)
{
    itest_env *e = *state;
    char *before, *bk;

    set_numvfs(PF, 3, V1);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V1, NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V2, NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "5", V1, NULL), 0);
    before = itest_dump(e);

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", PF, NULL), 1);
    err_has(e, "PCI device " PF " is an SR-IOV physical function with 3 "
            "virtual function(s) enabled (" V1 " assigned to domain 5, " V2
            " assignable, " V3 " on no driver): it is not made assignable "
            "while they exist");
    err_has(e, "echo 0 > " );
    assert_string_equal(driver_of(PF), "pci-pf-stub");
    assert_string_equal(driver_of(V1), "pciback");

    assert_int_equal(itest_xlpci(e, "pci-attach", "5", PF, NULL), 1);
    err_has(e, "it is not passed through while they exist");
    assert_int_equal(itest_xlpci(e, "create", "6", PF ",seize=1", NULL), 1);
    err_has(e, "it is not passed through while they exist");
    assert_string_equal(driver_of(PF), "pci-pf-stub");
    itest_assert_store(e, before);
    free(before);
    bk = bookkeeping();
    assert_null(strstr(bk, PF));
    free(bk);
}

/* BB:DD.*: the VFs, never the PF with them; a slot whose only function is
 * such a PF (its VFs elsewhere) gives nothing: an error. */
static void test_slot_without_pf(void **state)
{
    itest_env *e = *state;
    char *before;

    set_numvfs(PF, 3, V1);
    assert_int_equal(itest_xlpci(e, "create", "5", "01:00.*,seize=1", NULL),
                     0);
    err_has(e, "01:00.*: " PF " left out: it is an SR-IOV physical "
            "function with 3 virtual function(s) enabled");
    assert_int_equal(itest_check_backend(e, 5), 3);
    /* function 0 last, as libxl: here the highest first */
    assert_int_equal(itest_find(e, 5, V3), 0);
    assert_int_equal(itest_find(e, 5, V2), 1);
    assert_int_equal(itest_find(e, 5, V1), 2);
    assert_int_equal(itest_find(e, 5, PF), -1);
    assert_string_equal(driver_of(PF), "pci-pf-stub");
    assert_string_equal(driver_of(V2), "pciback");
    /* detach the slot: the VFs, given back (seize=1) to no driver */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "01:00.*", NULL), 0);
    assert_string_equal(driver_of(V2), "");
    assert_string_equal(driver_of(PF), "pci-pf-stub");

    set_numvfs(PF2, 7, "0000:81:10.0");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "6", "81:00.*", NULL), 1);
    err_has(e, "81:00.*: nothing to pass through");
    itest_assert_store(e, before);
    free(before);
    assert_string_equal(driver_of(PF2), "igb");
    /* its VFs, at stride 2 in slot 10 */
    assert_int_equal(itest_xlpci(e, "-N", "create", "6", "81:10.*", NULL), 0);
    if (!strstr(e->out, "0000:81:10.0") || !strstr(e->out, "0000:81:10.6") ||
        strstr(e->out, "0000:81:10.1"))
        fail_msg("81:10.*: %s", e->out);
}

/* SR-IOV disabled: a VF that was assignable is named as what it was, its
 * record goes at pci-assignable-remove; the PF is a device like any other
 * again. */
static void test_vf_gone(void **state)
{
    itest_env *e = *state;
    char *before, *bk;

    set_numvfs(PF, 3, V1);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", V2, NULL), 0);
    set_numvfs(PF, 0, V1);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "5", V2, NULL), 1);
    err_has(e, "PCI device " V2 " does not exist: it would be virtual "
            "function 1 of " PF ", which has 0 of its 3 VFs enabled");
    itest_assert_store(e, before);
    free(before);
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", V2, NULL), 0);
    err_has(e, "PCI device " V2 " no longer exists (it was virtual function "
            "1 of " PF);
    bk = bookkeeping();
    assert_null(strstr(bk, V2));
    free(bk);

    /* the PF, SR-IOV disabled: assignable, and back to its driver */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", PF, NULL), 0);
    assert_string_equal(driver_of(PF), "pciback");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "-r", PF, NULL),
                     0);
    assert_string_equal(driver_of(PF), "pci-pf-stub");
    /* and 01:00.* is the PF alone */
    assert_int_equal(itest_xlpci(e, "-N", "create", "5", "01:00.*", NULL), 0);
    assert_non_null(strstr(e->out, PF));
    assert_null(strstr(e->err, "left out"));
}

/* check: sriov_numvfs down to 0 under assigned VFs (a PF driver that does
 * not refuse it, as pci-pf-stub does) is reported, and a VF whose PF went
 * to xen-pciback; --repair leaves the backend alone. */
static void test_check_sees_vfs_gone(void **state)
{
    itest_env *e = *state;
    char path[400], *before;

    set_numvfs(PF, 3, V1);
    assert_int_equal(itest_xlpci(e, "create", "5", V1 ",seize=1",
                                 V3 ",seize=1", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);

    /* the PF taken by xen-pciback behind xlpci's back */
    snprintf(path, sizeof(path), "%s/bus/pci/drivers/pciback/new_slot",
             g.h.sys);
    itest_put_file(path, PF);
    snprintf(path, sizeof(path), "%s/bus/pci/drivers/pci-pf-stub/unbind",
             g.h.sys);
    itest_put_file(path, PF);
    snprintf(path, sizeof(path), "%s/bus/pci/drivers/pciback/bind", g.h.sys);
    usleep(100000);
    itest_put_file(path, PF);
    for (int i = 0; i < 200 && strcmp(driver_of(PF), "pciback"); i++)
        usleep(10000);
    assert_string_equal(driver_of(PF), "pciback");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    err_has(e, V1 " (index 0) is a virtual function of " PF ", which is "
            "bound to xen-pciback");
    err_has(e, V3 " (index 1) is a virtual function of " PF);

    /* SR-IOV disabled under the guest */
    set_numvfs(PF, 0, V1);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    err_has(e, V1 " (index 0) is no longer on the host: it was virtual "
            "function 0 of " PF ", which has 0 of its 3 VFs enabled");
    err_has(e, V3 " (index 1) is no longer on the host: it was virtual "
            "function 2 of " PF);
    err_has(e, "pci-detach it");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 1);
    itest_assert_store(e, before);
    free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vfs_made_assignable,
                                        sriov_setup, sriov_teardown),
        cmocka_unit_test_setup_teardown(test_pf_refused, sriov_setup,
                                        sriov_teardown),
        cmocka_unit_test_setup_teardown(test_slot_without_pf, sriov_setup,
                                        sriov_teardown),
        cmocka_unit_test_setup_teardown(test_vf_gone, sriov_setup,
                                        sriov_teardown),
        cmocka_unit_test_setup_teardown(test_check_sees_vfs_gone,
                                        sriov_setup, sriov_teardown),
    };

    return cmocka_run_group_tests_name("sriov", tests, NULL, NULL);
}

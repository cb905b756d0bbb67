/*
 * The hypervisor side of PV passthrough: xlpci (the product binary) runs
 * with the fake libxenctrl of tests/fakes/fakexc.c first in
 * LD_LIBRARY_PATH, which records every xc_* call and what xenstore showed
 * at that moment; the fake sysfs kernel (tests/fakes/fakesysfs) gives the
 * devices their resource and irq files, the pciback/pcifront model
 * (tests/model/pcimodel) plays the guest.
 *
 * The fake sysfs devices have a memory BAR 0xfe000000-0xfe01ffff (32
 * pages at 0xfe000), an I/O BAR 0xc000-0xc03f and irq 11.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"

#define GRANT5 \
    "iomem_permission dom=5 first=0xfe000 nr=32 allow=1\n" \
    "ioport_permission dom=5 first=0xc000 nr=64 allow=1\n" \
    "map_pirq dom=5 index=11 pirq=11\n" \
    "irq_permission dom=5 pirq=11 allow=1\n"
#define REVOKE5 \
    "irq_permission dom=5 pirq=11 allow=0\n" \
    "unmap_pirq dom=5 pirq=11\n" \
    "ioport_permission dom=5 first=0xc000 nr=64 allow=0\n" \
    "iomem_permission dom=5 first=0xfe000 nr=32 allow=0\n"

typedef struct {
    itest_env *e;
    pid_t fake;
    char sys[300], state[300], log[300], iommu[300];
} grant_env;

static grant_env g;

static void set_xen(bool on)
{
    itest_set_xen(g.sys, on);
}

static int grant_setup(void **state)
{
    char libdir[300];

    if (itest_setup(state))
        return -1;
    g.e = *state;
    snprintf(g.state, sizeof(g.state), "%s/state", g.e->dir);
    snprintf(g.log, sizeof(g.log), "%s/xc.log", g.e->dir);
    if (itest_fakesysfs(g.e, g.sys, sizeof(g.sys), &g.fake))
        return -1;
    set_xen(true);
    /* only the programs started from now on: the daemon already runs */
    snprintf(libdir, sizeof(libdir), "%s", h_prog("fakexc"));
    setenv("LD_LIBRARY_PATH", libdir, 1);
    setenv("XLPCI_SYSFS_ROOT", g.sys, 1);
    setenv("XLPCI_STATE_DIR", g.state, 1);
    setenv("FAKEXC_LOG", g.log, 1);
    /* Xen's IOMMU contexts: who holds a device is Xen's to say too */
    snprintf(g.iommu, sizeof(g.iommu), "%s/iommu", g.e->dir);
    setenv("FAKEXC_STATE", g.iommu, 1);
    unsetenv("FAKEXC_FAIL");
    unsetenv("FAKEXC_PROBE");
    unsetenv("XLPCI_HYPERVISOR");
    return 0;
}

static int grant_teardown(void **state)
{
    unsetenv("LD_LIBRARY_PATH");
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    unsetenv("FAKEXC_LOG");
    unsetenv("FAKEXC_STATE");
    unsetenv("FAKEXC_FAIL");
    unsetenv("FAKEXC_PROBE");
    unsetenv("XLPCI_HYPERVISOR");
    if (g.fake)
        h_stop(g.fake);
    g.fake = 0;
    return itest_teardown(state);
}

/* The calls recorded since the last call (the log is emptied), without
 * the probes ("[...]") unless keep_probe, without open/close lines and
 * without the IOMMU and domain-type calls (test_iommu.c's subject). */
static char *calls(bool keep_probe)
{
    static const char *const skip[] = { "getinfolist ", NULL };

    return itest_xc_calls(g.log, keep_probe, skip, "assign_device ");
}

static void assert_calls(const char *want)
{
    char *got = calls(false);

    assert_string_equal(got, want);
    free(got);
}

static const char *driver_of(const char *bdf)
{
    return itest_driver_of(g.sys, bdf);
}

/* Create grants before the transaction (the backend does not exist yet),
 * with the CLI's logger for both libxenctrl loggers. */
static void test_create_grants_first(void **state)
{
    itest_env *e = *state;
    char *log, *line;

    setenv("FAKEXC_PROBE", BE(5), 1);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    log = calls(true);
    assert_non_null(strstr(log, "iomem_permission dom=5 first=0xfe000 nr=32 "
                                "allow=1 [be absent]"));
    for (line = log; line && *line; line = strchr(line, '\n') + 1) {
        if (!strncmp(line, "open", 4))
            assert_true(!strncmp(line, "open flags=0 logger=same", 24));
        else if (strncmp(line, "close", 5))
            assert_non_null(strstr(line, "[be absent]"));
        if (!strchr(line, '\n'))
            break;
    }
    free(log);
    unlink(g.log);
    /* rerun with the calls only */
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "04:00.0", NULL), 0);
    assert_calls("");                  /* already its device: kept as is */
    assert_int_equal(itest_xlpci(e, "create", "6", "05:00.0", NULL), 0);
    assert_calls("iomem_permission dom=6 first=0xfe000 nr=32 allow=1\n"
                 "ioport_permission dom=6 first=0xc000 nr=64 allow=1\n"
                 "map_pirq dom=6 index=11 pirq=11\n"
                 "irq_permission dom=6 pirq=11 allow=1\n");
    /* a device of another domain: refused before any grant */
    assert_int_equal(itest_xlpci(e, "pci-attach", "6", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "assigned to domain 5"));
    assert_calls("");
}

/* Hot-add: granted while the guest still runs without the device; the
 * hot-remove revokes only once the guest released it: backend Connected
 * again after the cycle, the device still listed with state-N = 5. */
static void test_attach_detach_order(void **state)
{
    itest_env *e = *state;
    char *log;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_true(itest_wait_value(e, BE(5) "/state", "4", 10000));
    assert_true(itest_wait_value(e, "/local/domain/5/device/pci/0/state",
                                 "4", 10000));
    assert_calls(GRANT5);

    setenv("FAKEXC_PROBE", BE(5), 1);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 0);
    log = calls(true);
    assert_non_null(strstr(log, "iomem_permission dom=5 first=0xfe000 nr=32 "
                           "allow=1 [be state=4 0000:04:00.0=3]"));
    assert_non_null(strstr(log, "irq_permission dom=5 pirq=11 allow=1 "
                           "[be state=4 0000:04:00.0=3]"));
    free(log);
    assert_int_equal(itest_guest_count(e, 5), 2);

    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    log = calls(true);
    assert_non_null(strstr(log, "irq_permission dom=5 pirq=11 allow=0 "
                           "[be state=4 0000:04:00.0=5 0000:05:00.0=3]"));
    assert_non_null(strstr(log, "iomem_permission dom=5 first=0xfe000 nr=32 "
                           "allow=0 [be state=4 0000:04:00.0=5 "
                           "0000:05:00.0=3]"));
    free(log);
    assert_int_equal(itest_guest_count(e, 5), 1);
    unsetenv("FAKEXC_PROBE");
    /* the last device: the whole sequence, reversed */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "05:00.0", NULL), 0);
    assert_calls(REVOKE5);
    assert_int_equal(itest_check_backend(e, 5), 0);
}

/* A grant fails: what was granted is revoked in reverse, a seized device
 * goes back to its driver, xenstore and the bookkeeping are unchanged. */
static void test_grant_failure_rolls_back(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_calls(GRANT5);
    before = itest_dump(e);
    setenv("FAKEXC_FAIL", "irq_permission", 1);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "03:00.0,seize=1",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "cannot grant domain 5 irq 11 of "
                           "0000:03:00.0"));
    assert_calls("iomem_permission dom=5 first=0xfe000 nr=32 allow=1\n"
                 "ioport_permission dom=5 first=0xc000 nr=64 allow=1\n"
                 "map_pirq dom=5 index=11 pirq=11\n"
                 "irq_permission dom=5 pirq=11 allow=1 -> EPERM\n"
                 "unmap_pirq dom=5 pirq=11\n"
                 "ioport_permission dom=5 first=0xc000 nr=64 allow=0\n"
                 "iomem_permission dom=5 first=0xfe000 nr=32 allow=0\n");
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    itest_assert_store(e, before);

    /* create with two devices, the second fails: the first is undone */
    setenv("FAKEXC_FAIL", "iomem_permission:2", 1);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0,seize=1",
                                 "05:00.0", NULL), 1);
    assert_calls("iomem_permission dom=6 first=0xfe000 nr=32 allow=1\n"
                 "ioport_permission dom=6 first=0xc000 nr=64 allow=1\n"
                 "map_pirq dom=6 index=11 pirq=11\n"
                 "irq_permission dom=6 pirq=11 allow=1\n"
                 "iomem_permission dom=6 first=0xfe000 nr=32 allow=1"
                 " -> EPERM\n"
                 "irq_permission dom=6 pirq=11 allow=0\n"
                 "unmap_pirq dom=6 pirq=11\n"
                 "ioport_permission dom=6 first=0xc000 nr=64 allow=0\n"
                 "iomem_permission dom=6 first=0xfe000 nr=32 allow=0\n");
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    itest_assert_store(e, before);
    free(before);
}

/* The guest never reacts to the hot-add: the addition is rolled back in
 * xenstore, then the grants. */
static void test_attach_timeout_revokes(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--frontend-stuck", "5", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_true(itest_wait_value(e, BE(5) "/state", "4", 10000));
    assert_calls(GRANT5);
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "0.5", "5",
                                 "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "rolled back"));
    assert_calls(GRANT5 REVOKE5);
    assert_int_equal(itest_check_backend(e, 5), 1);
}

/* A revocation fails: the index still goes (the guest released it), but
 * the device stays recorded as the domain's, and the exit status says so. */
static void test_revoke_failure_keeps_record(void **state)
{
    itest_env *e = *state;
    char path[400], *bk = NULL;
    size_t len;
    FILE *f;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_calls(GRANT5);
    setenv("FAKEXC_FAIL", "iomem_permission", 1);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "may still have access to 0000:04:00.0"));
    assert_int_equal(itest_check_backend(e, 5), 0);
    snprintf(path, sizeof(path), "%s/devices.json", g.state);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_true(getdelim(&bk, &len, '\0', f) > 0);
    fclose(f);
    assert_non_null(strstr(bk, "\"domid\": 5"));
    free(bk);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:05:00.0 \n");
}

/* Without Xen: auto skips (a notice), xen fails before anything is
 * written, none is silent.  With Xen, a libxenctrl that cannot open is
 * an error in auto mode too. */
static void test_hypervisor_modes(void **state)
{
    itest_env *e = *state;
    char *before;

    set_xen(false);
    setenv("FAKEXC_FAIL", "open", 1);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_non_null(strstr(e->err, "Xen is not running"));
    assert_calls("");
    before = itest_dump(e);
    setenv("XLPCI_HYPERVISOR", "xen", 1);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "cannot open libxenctrl"));
    itest_assert_store(e, before);
    set_xen(true);
    setenv("XLPCI_HYPERVISOR", "auto", 1);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "cannot open libxenctrl"));
    itest_assert_store(e, before);
    free(before);
    setenv("XLPCI_HYPERVISOR", "none", 1);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 0);
    assert_null(strstr(e->err, "Xen"));
    assert_calls("");
    setenv("XLPCI_HYPERVISOR", "bogus", 1);
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 2);
    assert_non_null(strstr(e->err, "XLPCI_HYPERVISOR=\"bogus\""));
}

/* A malformed sysfs resource file: a clear error naming the file and
 * line, nothing granted, nothing written. */
static void test_bad_resource(void **state)
{
    itest_env *e = *state;
    char path[400], *before;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:05:00.0/resource",
             g.sys);
    itest_put_file(path, "0x00000000fe000000 0x00000000fe01ffff 0x40200\n"
                   "0x00000000fe000000 garbage 0x0\n");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "5", "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "0000:05:00.0/resource: line 2"));
    assert_calls("");
    itest_assert_store(e, before);
    free(before);
}

/* The backend vanished behind xlpci's back (another toolstack, or a crash
 * of ours between removal and release): check --repair revokes and
 * releases; a domain that is gone took its permissions with it. */
static void test_repair_releases(void **state)
{
    itest_env *e = *state;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "6", "05:00.0", NULL), 0);
    free(calls(false));
    assert_true(xs_rm(e->xs, XBT_NULL, BE(5)));
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "0000:04:00.0 is recorded as assigned "
                           "to it but its backend does not list it"));
    assert_calls("");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_calls(REVOKE5);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n");

    /* domain 6 is gone, from xenstore and from Xen (the fake lists only
     * domain 5 now): Xen took its permissions with it */
    assert_true(xs_rm(e->xs, XBT_NULL, "/local/domain/6"));
    assert_true(xs_rm(e->xs, XBT_NULL, BE(6)));
    setenv("FAKEXC_DOMAINS", "5=pv", 1);
    /* what a domain that is gone held is released (its record named the
     * device); nothing of it is left: exit 0, the message says it does
     * not exist */
    assert_int_equal(itest_xlpci(e, "check", "--repair", "6", NULL), 0);
    unsetenv("FAKEXC_DOMAINS");
    assert_non_null(strstr(e->err, "domain 6 does not exist"));
    assert_calls("");
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n0000:05:00.0 \n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, grant_setup, grant_teardown)
        T(test_create_grants_first),
        T(test_attach_detach_order),
        T(test_grant_failure_rolls_back),
        T(test_attach_timeout_revokes),
        T(test_revoke_failure_keeps_record),
        T(test_hypervisor_modes),
        T(test_bad_resource),
        T(test_repair_releases),
#undef T
    };

    return cmocka_run_group_tests_name("host: hypervisor grants", tests,
                                       NULL, NULL);
}

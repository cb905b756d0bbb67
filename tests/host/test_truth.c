/*
 * One truth about who owns a device (issue 19): the scenarios of the
 * issue replayed against the real xenstored, the fake sysfs kernel
 * (tests/fakes/fakesysfs, its resets logged) and the fake libxenctrl
 * (its IOMMU contexts per device, as Xen 4.17 keeps them), with xl's
 * part played the way libxl 4.17 plays it: its writes and removals made
 * directly on the store (the record /libxl/pci/<bdf>/domid, then the
 * backend entries), Xen's assignments in the fake's contexts, and `xl
 * destroy` as libxl__destroy_domid leaves things (its backend and records
 * removed, Xen's kill moving its devices to dom_io).
 *
 * Each scenario asserts that nothing of the live domain's device is
 * touched by xlpci's release paths (no sysfs write: the driver bindings,
 * pciback's slots and the kernel's reset log unchanged; no libxenctrl
 * call but the domain look-ups; its record and its backend unchanged),
 * and that a device xl freed is free to xlpci at once.
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
#define DEV5 "0000:05:00.0"
#define REC(x) "/libxl/pci/0000-0" #x "-00-0/domid"

typedef struct {
    itest_env *e;
    pid_t fake;
    char sys[300], state[300], log[300], iommu[300], klog[300];
} truth_env;

static truth_env g;

static int truth_setup(void **state)
{
    char ready[320];
    char *argv[] = { (char *)h_prog("fakesysfs"), (char *)"--root", g.sys,
                     (char *)"--ready", ready, (char *)"--log", g.klog,
                     (char *)"--device", (char *)DEV3 "=e1000e",
                     (char *)"--device", (char *)DEV4 "=pciback",
                     (char *)"--device", (char *)DEV5 "=pciback", NULL };

    if (itest_setup(state))
        return -1;
    g.e = *state;
    snprintf(g.sys, sizeof(g.sys), "%s/sys", g.e->dir);
    snprintf(g.state, sizeof(g.state), "%s/state", g.e->dir);
    snprintf(g.log, sizeof(g.log), "%s/xc.log", g.e->dir);
    snprintf(g.iommu, sizeof(g.iommu), "%s/iommu", g.e->dir);
    snprintf(g.klog, sizeof(g.klog), "%s/kernel.log", g.e->dir);
    snprintf(ready, sizeof(ready), "%s/sys.ready", g.e->dir);
    if (h_spawn(&g.fake, argv, ready, 5000 * h_slow()))
        return -1;
    itest_set_resources(g.sys, 3);
    itest_set_resources(g.sys, 4);
    itest_set_resources(g.sys, 5);
    itest_set_xen(g.sys, true);
    setenv("LD_LIBRARY_PATH", h_prog("fakexc"), 1);
    setenv("XLPCI_SYSFS_ROOT", g.sys, 1);
    setenv("XLPCI_STATE_DIR", g.state, 1);
    setenv("FAKEXC_LOG", g.log, 1);
    setenv("FAKEXC_STATE", g.iommu, 1);
    unsetenv("FAKEXC_DOMAINS");
    unsetenv("FAKEXC_FAIL");
    unsetenv("XLPCI_HYPERVISOR");
    return 0;
}

static int truth_teardown(void **state)
{
    static const char *vars[] = {
        "LD_LIBRARY_PATH", "XLPCI_SYSFS_ROOT", "XLPCI_STATE_DIR",
        "FAKEXC_LOG", "FAKEXC_STATE", "FAKEXC_DOMAINS", "FAKEXC_FAIL",
        "XLPCI_HYPERVISOR",
    };
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    if (g.fake)
        h_stop(g.fake);
    g.fake = 0;
    return itest_teardown(state);
}

/* Fail at the caller's line, showing text, unless it has what. */
#define assert_has(text, what) do { \
        if (!strstr((text), (what))) \
            fail_msg("\"%s\" not in:\n%s", (what), (text)); \
    } while (0)

/* ---- Xen and xl, as libxl 4.17 drives them --------------------------------- */

/* The fake's IOMMU context of bdf: "0" (dom0), "io" or a domid. */
static const char *iommu_of(const char *bdf)
{
    return itest_iommu_of(g.iommu, bdf);
}

static void xen_assign(const char *bdf, const char *where)
{
    itest_xen_assign(g.iommu, bdf, where);
}

static void xl_attach(unsigned domid, const char *bdf)
{
    itest_xl_attach(g.e, g.iommu, domid, bdf);
}

static void xl_destroy(unsigned domid)
{
    itest_xl_destroy(g.e, g.iommu, domid);
}

/* ---- what "untouched" means -------------------------------------------------- */

/* The fake kernel logs resets as it sees the writes (inotify, another
 * process): wait until its log stops growing. */
static void kernel_settle(void)
{
    struct stat st;
    off_t last = -1;
    int same = 0, i;

    for (i = 0; i < 100 && same < 3; i++) {
        off_t now = stat(g.klog, &st) ? 0 : st.st_size;

        same = now == last ? same + 1 : 0;
        last = now;
        h_sleep_ms(20);
    }
}

/* The host as far as a device is concerned: its driver, pciback's slots,
 * the kernel's reset and permissive log, its IOMMU context, its record
 * and domain domid's backend. */
static char *device_state(const char *bdf, unsigned domid)
{
    char path[400], *slots, *klog, *rec, *be, *out;
    char lib[64], err[64];
    xlpci_bdf x;

    assert_int_equal(xlpci_bdf_parse(bdf, &x, err, sizeof(err)), 0);
    xlpci_libxl_path(lib, &x, "domid");
    kernel_settle();
    snprintf(path, sizeof(path), "%s/bus/pci/drivers/pciback/slots", g.sys);
    slots = itest_slurp(path);
    klog = itest_slurp(g.klog);
    rec = itest_read(g.e, lib);
    snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u", domid);
    be = h_xs_dump(g.e->xs, path);
    assert_true(asprintf(&out, "driver %s\nslots %s\nkernel %s\niommu %s\n"
                         "record %s\nbackend:\n%s", itest_driver_of(g.sys, bdf),
                         slots, klog, iommu_of(bdf), rec ? rec : "-", be) > 0);
    free(slots);
    free(klog);
    free(rec);
    free(be);
    return out;
}

/* The libxenctrl calls since the last look: nothing but the domains'
 * look-ups (getinfolist), or the one call allowed (may be NULL). */
static void assert_xc_only_lookups(const char *also)
{
    static const char *const skip[] = { "getinfolist ", NULL };
    char *calls = itest_xc_calls(g.log, false, skip, NULL);

    if (*calls && (!also || strcmp(calls, also)))
        fail_msg("libxenctrl calls besides the look-ups:\n%s", calls);
    free(calls);
}

/* The bookkeeping's domid of bdf (-2: no record). */
static int bk_domid(const char *bdf)
{
    char path[400], err[256], *text;
    xlpci_bk_dev *v = NULL;
    size_t n = 0, i;
    xlpci_bdf want;
    int d = -2;

    snprintf(path, sizeof(path), "%s/devices.json", g.state);
    text = itest_slurp(path);
    if (*text && xlpci_bk_from_json(text, &v, &n, err, sizeof(err)))
        fail_msg("devices.json: %s", err);
    free(text);
    assert_int_equal(xlpci_bdf_parse(bdf, &want, err, sizeof(err)), 0);
    for (i = 0; i < n; i++) {
        if (!xlpci_bdf_cmp(&v[i].bdf, &want))
            d = v[i].domid;
        xlpci_bk_dev_dispose(&v[i]);
    }
    free(v);
    return d;
}

/* ---- the scenarios ------------------------------------------------------------- */

/* The real stack's: xlpci gave 03:00.0 (seize=1) and 04:00.0 to domain 5;
 * `xl destroy 5`; xl gave both to the new guest 6 (`xl pci-attach`).
 * check --repair 5 and destroy 5 (-N too) touch nothing of either: the
 * bookkeeping is corrected to name 6, and both exit 0. */
static void test_live_owner_after_xl_destroy(void **state)
{
    itest_env *e = *state;
    char *s3, *s4;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0,seize=1",
                                 "04:00.0", NULL), 0);
    assert_string_equal(itest_driver_of(g.sys, DEV3), "pciback");
    xl_destroy(5);
    xl_attach(6, DEV3);
    xl_attach(6, DEV4);
    s3 = device_state(DEV3, 6);
    s4 = device_state(DEV4, 6);
    free(itest_xc_calls(g.log, false, NULL, NULL));

    /* the dry run says what the real run does: nothing to these */
    assert_int_equal(itest_xlpci(e, "-N", "destroy", "5", NULL), 0);
    assert_has(e->out, "# host: " DEV3 " is left as it is "
                           "(domain 6 (alive) holds it");
    assert_has(e->out, "# host: " DEV4 " is left as it is");
    itest_assert_same(s3, device_state(DEV3, 6), "-N destroy: " DEV3);
    assert_int_equal(bk_domid(DEV3), 5);

    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_has(e->err, "PCI device " DEV3 " is not released, "
                           "it is left as it is: domain 6 (alive) holds it: "
                           "its /libxl/pci record names it");
    assert_string_equal(e->out, "domain 5: gone; nothing of it is left\n");
    itest_assert_same(s3, device_state(DEV3, 6), "check --repair: " DEV3);
    itest_assert_same(s4, device_state(DEV4, 6), "check --repair: " DEV4);
    assert_xc_only_lookups(NULL);
    /* corrected from the shared state */
    assert_int_equal(bk_domid(DEV3), 6);
    assert_int_equal(bk_domid(DEV4), 6);

    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
    itest_assert_same(s3, device_state(DEV3, 6), "destroy: " DEV3);
    itest_assert_same(s4, device_state(DEV4, 6), "destroy: " DEV4);
    assert_xc_only_lookups(NULL);
    assert_int_equal(itest_xlpci(e, "destroy", "-f", "5", NULL), 0);
    itest_assert_same(s3, device_state(DEV3, 6), "destroy -f: " DEV3);
    itest_assert_same(s4, device_state(DEV4, 6), "destroy -f: " DEV4);
    assert_xc_only_lookups(NULL);
    /* and the new guest's devices are consistent to xlpci */
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV5 " \n");
    free(s3);
    free(s4);
}

/* The same after `xl reboot 5`: the old domain dies as by xl destroy and
 * a new domid takes the same name and, from its config, the devices. */
static void test_live_owner_after_xl_reboot(void **state)
{
    itest_env *e = *state;
    char *s4;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    xl_destroy(5);
    itest_mkdomain(e, 9, "guest5");
    xl_attach(9, DEV4);
    s4 = device_state(DEV4, 9);
    free(itest_xc_calls(g.log, false, NULL, NULL));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
    itest_assert_same(s4, device_state(DEV4, 9), "after reboot: " DEV4);
    assert_xc_only_lookups(NULL);
    assert_int_equal(bk_domid(DEV4), 9);
    /* xlpci can detach it from the new domain: the device goes back to
     * the quarantine, assignable */
    assert_int_equal(itest_xlpci(e, "pci-detach", "9", "04:00.0", NULL), 0);
    assert_string_equal(iommu_of(DEV4), "io");
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV4 " \n" DEV5 " \n");
    free(s4);
}

/* Right after `xl destroy` of a guest whose devices xlpci gave: both
 * tools list them as assignable (xl: no record; xlpci: no live domain
 * holds them), create of another domain takes them with no repair step,
 * and destroy of the dead one has nothing to do; a managed device's way
 * back to its driver is done by destroy of the dead domain. */
static void test_free_after_xl_destroy(void **state)
{
    itest_env *e = *state;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", "05:00.0",
                                 NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "");
    xl_destroy(5);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV4 " \n" DEV5 " \n");
    assert_int_equal(itest_xlpci(e, "-v", "create", "6", "04:00.0",
                                 "05:00.0", NULL), 0);
    assert_has(e->err, "correction: devices.json said " DEV4
                           " was domain 5's; domain 5 is gone");
    assert_int_equal(itest_check_backend(e, 6), 2);
    itest_assert_node(e, REC(4), "6");
    assert_string_equal(iommu_of(DEV4), "6");
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 0);

    /* a device seize=1 took for 7: after `xl destroy 7`, destroy 7 gives
     * it back to its driver (only xlpci knows where it came from) */
    assert_int_equal(itest_xlpci(e, "create", "7", "03:00.0,seize=1", NULL),
                     0);
    xl_destroy(7);
    assert_int_equal(itest_xlpci(e, "check", "7", NULL), 1);
    assert_has(e->err, "taken from its driver for it (seize=1)");
    assert_int_equal(itest_xlpci(e, "destroy", "7", NULL), 0);
    assert_string_equal(e->out, "domain 7: released 1 PCI device(s)\n");
    assert_string_equal(itest_driver_of(g.sys, DEV3), "e1000e");
    assert_string_equal(iommu_of(DEV3), "0");
    assert_int_equal(bk_domid(DEV3), -2);
    assert_int_equal(itest_xlpci(e, "destroy", "7", NULL), 0);
    assert_string_equal(e->out, "domain 7: nothing to do\n");
}

/* A stale record naming domain 9 (gone) over a device domain 5's backend
 * lists (devices.json: 5).  create of 6 is refused naming 5, alive, and
 * the command that frees it; check --audit --repair 9 rewrites the record
 * for 5 and touches nothing of the device; check --repair 5 does the same
 * from 5's side. */
static void test_stale_record_live_backend(void **state)
{
    itest_env *e = *state;
    char *s3, *held, *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0,seize=1",
                                 "04:00.0", NULL), 0);
    held = device_state(DEV3, 5);      /* as it should be: record 5 */
    itest_write(e, REC(3), "9");
    s3 = device_state(DEV3, 5);
    free(itest_xc_calls(g.log, false, NULL, NULL));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    assert_has(e->err, "PCI device " DEV3 " is already assigned "
                           "to domain 5 (domain 5 (alive) holds it: its PCI "
                           "backend lists it; /libxl/pci/0000-03-00-0/domid "
                           "names domain 9 (gone)): `xlpci pci-detach 5 "
                           DEV3 "` frees it");
    itest_assert_store(e, before);
    free(before);
    itest_assert_same(s3, device_state(DEV3, 5), "refused create");
    assert_xc_only_lookups(NULL);
    /* xl's view: the record says 9; check of 9 with the host-wide look */
    assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "9",
                                 NULL), 0);
    itest_assert_node(e, REC(3), "5");
    /* the record corrected from 5's backend, nothing else changed */
    itest_assert_same(held, device_state(DEV3, 5), "check --repair 9");
    assert_int_equal(bk_domid(DEV3), 5);
    assert_xc_only_lookups(NULL);
    /* from 5's side: the record is its */
    itest_write(e, REC(3), "9");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_has(e->err, "its backend lists " DEV3 " but "
                           "/libxl/pci/0000-03-00-0/domid names domain 9, "
                           "which is gone");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_same(held, device_state(DEV3, 5), "check --repair 5");
    assert_xc_only_lookups(NULL);
    free(s3);
    free(held);
}

/* libxl drops the record of a device xlpci assigned when its own `xl
 * pci-attach` of it is refused (device_pci_add_done's failure path):
 * the backend still lists it, so it stays held: not assignable, create
 * of another domain refused naming 5; check --repair 5 rewrites the
 * record. */
static void test_record_dropped_by_xl(void **state)
{
    itest_env *e = *state;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_true(xs_rm(e->xs, XBT_NULL, REC(4)));
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV5 " \n");
    assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 1);
    assert_has(e->err, "is already assigned to domain 5 "
                           "(domain 5 (alive) holds it: its PCI backend "
                           "lists it)");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "04:00.0",
                                 NULL), 1);
    assert_has(e->err, "detach it first");
    assert_string_equal(itest_driver_of(g.sys, DEV4), "pciback");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_node(e, REC(4), "5");
}

/* Xen has the device in a guest that neither the record nor the backend
 * xlpci knows of names: the release of the gone domain devices.json
 * names leaves it alone (no reset, no deassignment), and names the guest
 * when a backend lists it. */
static void test_xen_only_holder(void **state)
{
    itest_env *e = *state;
    char *s4;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    xl_destroy(5);
    /* another toolstack gave it to 7 in Xen, wrote nothing yet */
    xen_assign(DEV4, "7");
    s4 = device_state(DEV4, 7);
    free(itest_xc_calls(g.log, false, NULL, NULL));
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV5 " \n");
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
    assert_has(e->err, "Xen has it assigned to a guest "
                           "(xc_test_assign_device)");
    itest_assert_same(s4, device_state(DEV4, 7), "destroy 5");
    assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 1);
    assert_has(e->err, "already assigned to a different guest");
    assert_has(e->err, "PCI device " DEV4 " is assigned to another guest "
               "(Xen has it assigned to a guest (xc_test_assign_device) that "
               "neither /libxl/pci/0000-04-00-0/domid nor a PCI backend "
               "names): `xl pci-detach` of the guest that has it frees it "
               "(if that is domain 6, after an interrupted assignment: "
               "`xlpci check --repair 6`)");
    itest_assert_same(s4, device_state(DEV4, 7), "create 6");
    /* its backend says so: named */
    assert_int_equal(itest_xlpci(e, "create", "8", "05:00.0", NULL), 0);
    xl_destroy(8);
    xen_assign(DEV5, "7");
    itest_write(e, "/local/domain/0/backend/pci/7/0/num_devs", "1");
    itest_write(e, "/local/domain/0/backend/pci/7/0/dev-0", DEV5);
    assert_int_equal(itest_xlpci(e, "destroy", "8", NULL), 0);
    assert_has(e->err, "PCI device " DEV5 " is not released, it "
                           "is left as it is: domain 7 (alive) holds it: its "
                           "PCI backend lists it");
    assert_string_equal(iommu_of(DEV5), "7");
    free(s4);
}

/* A failed deassignment is never taken for a release: pci-detach of a
 * device Xen has in another guest removes the domain's entry, but the
 * device is not reset and stays recorded; the command fails saying so. */
static void test_deassign_never_ignored(void **state)
{
    itest_env *e = *state;
    char *klog;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    xen_assign(DEV4, "7");             /* behind everyone's back */
    kernel_settle();
    unlink(g.klog);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 1);
    assert_has(e->err, "cannot take " DEV4 " from domain 5: Xen "
                           "has it assigned to another guest");
    kernel_settle();
    klog = itest_slurp(g.klog);
    assert_string_equal(klog, "");
    free(klog);
    assert_int_equal(bk_domid(DEV4), 5);
    assert_string_equal(iommu_of(DEV4), "7");
    /* and the device is not listed as assignable */
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV5 " \n");
}

/* PV guests across the tools: `xl pci-detach` of a device xlpci attached
 * and `xlpci pci-detach` of one xl attached; both tools' lists right
 * after each step (xl's: the devices on pciback without a record). */
static void test_detach_across_tools(void **state)
{
    itest_env *e = *state;
    char *rec;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    xl_attach(5, DEV5);
    assert_int_equal(itest_check_backend(e, 5), 2);
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 0);
    assert_has(e->out, DEV5);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "");
    /* xl pci-detach 5 04:00.0 (xlpci's): the last index goes */
    xen_assign(DEV4, "io");
    itest_write(e, BE(5) "/dev-0", DEV5);
    itest_write(e, BE(5) "/key-0", DEV5);
    itest_write(e, BE(5) "/num_devs", "1");
    xs_rm(e->xs, XBT_NULL, BE(5) "/dev-1");
    xs_rm(e->xs, XBT_NULL, BE(5) "/key-1");
    xs_rm(e->xs, XBT_NULL, BE(5) "/opts-1");
    xs_rm(e->xs, XBT_NULL, BE(5) "/state-1");
    xs_rm(e->xs, XBT_NULL, REC(4));
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV4 " \n");
    /* xlpci pci-detach 5 05:00.0 (xl's) */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "05:00.0", NULL), 0);
    rec = itest_read(e, REC(5));
    assert_null(rec);
    assert_string_equal(iommu_of(DEV5), "io");
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, DEV4 " \n" DEV5 " \n");
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    /* devices.json still gives 04:00.0 to 5 (xl detached it): check says
     * so, --repair corrects it from the store */
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_has(e->err, DEV4 " is recorded as assigned to it but its backend "
               "does not list it");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_int_equal(bk_domid(DEV4), -1);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, truth_setup, truth_teardown)
        T(test_live_owner_after_xl_destroy),
        T(test_live_owner_after_xl_reboot),
        T(test_free_after_xl_destroy),
        T(test_stale_record_live_backend),
        T(test_record_dropped_by_xl),
        T(test_xen_only_holder),
        T(test_deassign_never_ignored),
        T(test_detach_across_tools),
#undef T
    };

    return cmocka_run_group_tests_name("host: one truth about ownership",
                                       tests, NULL, NULL);
}

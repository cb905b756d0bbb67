/*
 * Device names shared with xl through /libxl/pci/<dddd-bb-dd-f>/name
 * (libxlpci/libxlnode.c): pci-assignable-add -n writes it so xl sees the
 * name, pci-assignable-remove NAME accepts a name xl gave (ours first,
 * then xl's), and the name node goes with the device (the <bdf>
 * directory stays, as libxl leaves it).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"

typedef struct {
    itest_env *e;
    pid_t fake;
    char sys[300], state[300];
} names_env;

static names_env g;

static int names_setup(void **state)
{
    if (itest_setup(state))
        return -1;
    g.e = *state;
    snprintf(g.state, sizeof(g.state), "%s/state", g.e->dir);
    if (itest_fakesysfs(g.e, g.sys, sizeof(g.sys), &g.fake))
        return -1;
    setenv("XLPCI_SYSFS_ROOT", g.sys, 1);
    setenv("XLPCI_STATE_DIR", g.state, 1);
    setenv("XLPCI_HYPERVISOR", "none", 1);
    return 0;
}

static int names_teardown(void **state)
{
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    unsetenv("XLPCI_HYPERVISOR");
    if (g.fake)
        h_stop(g.fake);
    g.fake = 0;
    return itest_teardown(state);
}

static void test_add_writes_name(void **state)
{
    itest_env *e = *state;

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "nic",
                                 "03:00.0", NULL), 0);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/name", "nic");
    /* another toolstack's node in the device's directory stays */
    itest_write(e, "/libxl/pci/0000-03-00-0/driver_path", "/x");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "-r", "nic",
                                 NULL), 0);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/name", NULL);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/driver_path", "/x");

    /* by BDF too */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "disk",
                                 "04:00.0", NULL), 0);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/name", "disk");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "04:00.0",
                                 NULL), 0);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/name", NULL);
}

static void test_remove_xl_name(void **state)
{
    itest_env *e = *state;

    /* as `xl pci-assignable-add -n xlnic 05:00.0` leaves it */
    itest_write(e, "/libxl/pci/0000-05-00-0/name", "xlnic");
    /* a name xl uses is taken */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "xlnic",
                                 "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "\"xlnic\" is already used by "
                           "0000:05:00.0"));
    itest_assert_node(e, "/libxl/pci/0000-04-00-0", NULL);
    /* ours first: a name of ours on another device wins */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "mine",
                                 "04:00.0", NULL), 0);
    itest_write(e, "/libxl/pci/0000-05-00-0/name", "mine");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "mine", NULL),
                     0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:05:00.0 \n");
    itest_write(e, "/libxl/pci/0000-05-00-0/name", "xlnic");
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "xlnic", NULL),
                     0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "");
    itest_assert_node(e, "/libxl/pci/0000-05-00-0/name", NULL);
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "xlnic", NULL),
                     1);
    assert_non_null(strstr(e->err, "no assignable PCI device is named "
                           "\"xlnic\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, names_setup, names_teardown)
        T(test_add_writes_name),
        T(test_remove_xl_name),
#undef T
    };

    return cmocka_run_group_tests_name("host: names shared with xl", tests,
                                       NULL, NULL);
}

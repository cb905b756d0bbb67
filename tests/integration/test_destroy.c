/*
 * The domain-destroy path: `xlpci destroy` of a gone domain releases what
 * it held (backend, frontend, per-domain parents, ownership records) in
 * one go and is idempotent; a live domain is refused without -f; check of
 * a gone domain reports what it holds and never re-creates its
 * directories, --repair releases it; pci-detach -f removes a device from a
 * Closed backend.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

static void assert_gone(itest_env *e, const char *what)
{
    char *dump = itest_dump(e);

    if (strstr(dump, "/domid = \"5\"") || strstr(dump, "/local/domain/5") ||
        strstr(dump, "backend/pci/5"))
        fail_msg("%s: domain 5 still holds something:\n%s", what, dump);
    free(dump);
}

static void create_and_kill(itest_env *e)
{
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "6", "05:00.0", NULL), 0);
    assert_true(xs_rm(e->xs, XBT_NULL, "/local/domain/5"));
}

static void test_destroy_gone(void **state)
{
    itest_env *e = *state;

    create_and_kill(e);
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: released 2 PCI device(s)\n");
    assert_gone(e, "destroy");
    /* the other domain keeps its device */
    assert_int_equal(itest_check_backend(e, 6), 1);
    itest_assert_node(e, "/libxl/pci/0000-05-00-0/domid", "6");
    /* idempotent */
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
    /* the devices can be given to another domain */
    assert_int_equal(itest_xlpci(e, "pci-attach", "6", "03:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 0);
}

static void test_destroy_live(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 1);
    assert_non_null(strstr(e->err, "domain 5 is still running"));
    assert_non_null(strstr(e->err, "destroy -f"));
    /* the dry run plans, changes nothing */
    assert_int_equal(itest_xlpci(e, "-N", "destroy", "-f", "5", NULL), 0);
    assert_non_null(strstr(e->out, "rm " BE(5) "\n"));
    assert_non_null(strstr(e->out, "rm /libxl/pci/0000-03-00-0/domid\n"));
    itest_assert_store(e, before);
    free(before);
    assert_int_equal(itest_xlpci(e, "destroy", "-f", "guest5", NULL), 0);
    itest_assert_node(e, BE(5), NULL);
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, "/local/domain/5/device/pci", NULL);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", NULL);
    itest_assert_node(e, "/local/domain/5/name", "guest5");   /* not ours */
    assert_int_equal(itest_xlpci(e, "destroy", "-f", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
}

/* check of a gone domain: reports, never re-creates; --repair releases,
 * and with nothing of it left exits 0 (the message says it is gone); -N
 * --repair prints the plan and the exit status of the real run. */
static void test_check_gone(void **state)
{
    itest_env *e = *state;
    char *before;

    create_and_kill(e);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "domain 5 (gone) still holds PCI device "
                           "0000:03:00.0"));
    assert_non_null(strstr(e->err, "domain 5 does not exist"));
    assert_non_null(strstr(e->out, "2 problem(s)"));
    assert_int_equal(itest_xlpci(e, "-N", "check", "--repair", "5", NULL),
                     0);
    assert_non_null(strstr(e->out, "rm " BE(5) "\n"));
    assert_non_null(strstr(e->out, "rm /libxl/pci/0000-03-00-0/domid\n"));
    assert_non_null(strstr(e->out, "the repair above releases what it "
                           "still holds"));
    itest_assert_store(e, before);
    free(before);
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_non_null(strstr(e->err, "released what it held"));
    assert_non_null(strstr(e->err, "domain 5 does not exist"));
    assert_string_equal(e->out, "domain 5: gone; nothing of it is left\n");
    assert_gone(e, "check --repair");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: gone; nothing of it is left\n");
    assert_gone(e, "check");
}

/* A lone stale record (its domain is gone, nothing else left) holds
 * nothing: create takes the device at once (test_owner.c).  destroy knows
 * only the devices of the backend and the bookkeeping, and lists no
 * /libxl/pci (its cost must not grow with the host), so it has nothing
 * to do; check --audit lists /libxl/pci, finds the record and --repair
 * removes it (the name stays, xl's). */
static void test_stale_destroyed(void **state)
{
    itest_env *e = *state;

    itest_write(e, "/libxl/pci/0000-03-00-0/domid", "42");
    itest_write(e, "/libxl/pci/0000-03-00-0/name", "nic");
    assert_int_equal(itest_xlpci(e, "destroy", "42", NULL), 0);
    assert_string_equal(e->out, "domain 42: nothing to do\n");
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", "42");
    assert_int_equal(itest_xlpci(e, "check", "42", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "--audit", "42", NULL), 1);
    assert_non_null(strstr(e->err, "domain 42 (gone) still holds PCI device "
                           "0000:03:00.0 (named by its /libxl/pci record)"));
    assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "42",
                                 NULL), 0);
    assert_non_null(strstr(e->err, "released what it held"));
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", NULL);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/name", "nic");
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 0);
}

/* pci-detach -f on a Closed backend: no handshake, the device goes. */
static void test_detach_force_closed(void **state)
{
    itest_env *e = *state;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    itest_write(e, BE(5) "/state", "6");
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "Closed"));
    assert_int_equal(itest_xlpci(e, "pci-detach", "-f", "5", "03:00.0",
                                 NULL), 0);
    assert_non_null(strstr(e->err, "without the guest's cooperation"));
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:04:00.0");
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", NULL);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/domid", "5");
    assert_int_equal(itest_xlpci(e, "pci-detach", "-f", "5", "04:00.0",
                                 NULL), 0);
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/domid", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_destroy_gone, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_live, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_check_gone, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_stale_destroyed, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_force_closed,
                                        itest_setup, itest_teardown),
    };

    return cmocka_run_group_tests_name("destroy", tests, NULL, NULL);
}

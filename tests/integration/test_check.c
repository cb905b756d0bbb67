/*
 * xlpci check [--repair]: what it finds and how it repairs, and crash
 * safety: the CLI is killed (SIGKILL) at every xenstore operation boundary
 * of detach, attach and create; afterwards check --repair leaves a
 * consistent backend and no device is lost.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

static void create3(itest_env *e)
{
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 "05:00.0", NULL), 0);
}

static void test_consistent(void **state)
{
    itest_env *e = *state;

    create3(e);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: consistent\n");
    /* no backend at all is consistent too */
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 0);
}

static void test_orphans_and_missing(void **state)
{
    itest_env *e = *state;
    char *before;

    create3(e);
    itest_write(e, BE(5) "/dev-5", "0000:09:00.0");
    itest_write(e, BE(5) "/vdev-3", "0000:00:07.00");
    assert_true(xs_rm(e->xs, XBT_NULL, BE(5) "/dev-1"));
    itest_write(e, BE(5) "/vdevfn-2", "28");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "dev-1 is missing"));
    assert_non_null(strstr(e->err, "index 5 lies past num_devs"));
    /* the device whose dev-1 went still has its ownership record */
    assert_non_null(strstr(e->err, "/libxl/pci/0000-04-00-0/domid names it "
                           "but its backend does not list 0000:04:00.0"));
    assert_non_null(strstr(e->out, "4 problem(s)"));
    itest_assert_store(e, before);   /* check alone changes nothing */
    free(before);

    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 2);
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    itest_assert_node(e, BE(5) "/dev-1", "0000:05:00.0");   /* moved down */
    itest_assert_node(e, BE(5) "/vdevfn-1", "28");           /* with its keys */
    itest_assert_node(e, BE(5) "/vdevfn-2", NULL);
    itest_assert_node(e, BE(5) "/dev-5", NULL);
    itest_assert_node(e, BE(5) "/vdev-3", NULL);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/domid", NULL);
    itest_assert_node(e, "/libxl/pci/0000-05-00-0/domid", "5");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

static void test_bad_num_devs(void **state)
{
    itest_env *e = *state;

    create3(e);
    itest_write(e, BE(5) "/num_devs", "abc");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "not a device count"));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_node(e, BE(5) "/num_devs", "3");
    assert_int_equal(itest_check_backend(e, 5), 3);

    /* no num_devs and no device: both directories go */
    assert_true(xs_rm(e->xs, XBT_NULL, BE(5)));
    itest_write(e, BE(5) "/state", "1");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_node(e, BE(5), NULL);
    itest_assert_node(e, "/local/domain/5/device/pci/0", NULL);
}

static void test_interrupted_detach(void **state)
{
    itest_env *e = *state;
    char *before;

    create3(e);
    /* both ends Connected (a guest in any other state under a Connected
     * backend is a problem of its own: every cycle waits for it) */
    itest_write(e, BE(5) "/state", "4");
    itest_write(e, "/local/domain/5/device/pci/0/state", "4");
    itest_write(e, BE(5) "/state-0", "3");      /* exported */
    itest_write(e, BE(5) "/vdev-0", "0000:00:00.0");
    itest_write(e, BE(5) "/state-2", "3");
    itest_write(e, BE(5) "/vdev-2", "0000:00:02.0");
    itest_write(e, BE(5) "/state-1", "5");      /* released, not removed */
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "0000:04:00.0 (index 1) was released"));

    /* an attach waits for the removal and, on timeout, names the way out;
     * nothing written */
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "5", "06:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "index 1 is still being removed"));
    assert_non_null(strstr(e->err, "check --repair"));
    itest_assert_store(e, before);
    free(before);

    /* mid-cycle: Closing is legitimate then; reported, not touched */
    itest_write(e, BE(5) "/state", "7");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_non_null(strstr(e->err, "in progress"));
    itest_assert_store(e, before);
    free(before);

    itest_write(e, BE(5) "/state", "4");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 2);
    itest_assert_node(e, BE(5) "/dev-1", "0000:05:00.0");
    assert_int_equal(itest_find(e, 5, "0000:04:00.0"), -1);
}

/* ---- crash safety ---------------------------------------------------------- */

static void wait_quiet(itest_env *e)
{
    char *v = itest_read(e, BE(5) "/num_devs");

    free(v);
    if (!v)
        return;                       /* no backend */
    if (!itest_wait_value(e, BE(5) "/state", "4", 10000 * h_slow()) ||
        !itest_wait_value(e, "/local/domain/5/device/pci/0/state", "4",
                          10000 * h_slow()))
        fail_msg("the backend did not settle at Connected");
}

/* After a crash and a repair: consistent, the other devices all there,
 * the target there (exported) or gone, and the guest sees exactly the
 * backend's devices.  Returns whether the target is there. */
static bool settled(itest_env *e, const char *target, const char **others,
                    int nothers)
{
    int i, k;
    unsigned n;

    wait_quiet(e);
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    wait_quiet(e);
    n = itest_check_backend(e, 5);
    for (i = 0; i < nothers; i++)
        if (itest_find(e, 5, others[i]) < 0)
            fail_msg("%s was lost", others[i]);
    k = itest_find(e, 5, target);
    if (n)
        assert_int_equal(itest_guest_count(e, 5), (int)n);
    return k >= 0;
}

typedef enum { FLOW_DETACH, FLOW_ATTACH, FLOW_CREATE } flow;

static void crash_flow(flow f)
{
    static const char *base[] = { "0000:03:00.0", "0000:05:00.0" };
    unsigned stride = h_slow() > 1 ? 4 : 1, n, killed = 0;
    char num[16];
    bool done = false;

    for (n = 1; !done && n < 400; n += stride) {
        void *st = NULL;
        itest_env *e;
        int rc;
        bool present;

        assert_int_equal(itest_setup(&st), 0);
        e = st;
        itest_model_start(e, NULL);
        if (f != FLOW_CREATE) {
            assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0",
                                         f == FLOW_DETACH ? "04:00.0"
                                                          : "05:00.0",
                                         f == FLOW_DETACH ? "05:00.0" : NULL,
                                         NULL), 0);
            wait_quiet(e);
        }
        snprintf(num, sizeof(num), "%u", n);
        setenv("XLPCI_CRASH_AT", num, 1);
        if (f == FLOW_DETACH)
            rc = itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL);
        else if (f == FLOW_ATTACH)
            rc = itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL);
        else
            rc = itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                             "05:00.0", NULL);
        unsetenv("XLPCI_CRASH_AT");
        if (rc == 0)
            done = true;              /* ran to the end before request n */
        else if (rc == 128 + 9)
            killed++;
        else
            fail_msg("request %u: exit %d: %s", n, rc, e->err);

        present = settled(e, "0000:04:00.0", f == FLOW_CREATE ? NULL : base,
                          f == FLOW_CREATE ? 0 : 2);
        if (done) {
            /* the uninterrupted run did its job */
            assert_int_equal(present, f != FLOW_DETACH);
        }
        itest_teardown(&st);
    }
    assert_true(done);
    assert_true(killed > 3);
    fprintf(stderr, "crash test: killed at %u request boundaries\n", killed);
}

static void test_crash_detach(void **state)
{
    (void)state;
    crash_flow(FLOW_DETACH);
}

static void test_crash_attach(void **state)
{
    (void)state;
    crash_flow(FLOW_ATTACH);
}

static void test_crash_create(void **state)
{
    (void)state;
    crash_flow(FLOW_CREATE);
}

/* The crash injection is test machinery: the CLI (and the library) that
 * is installed ignores XLPCI_CRASH_AT / XLPCI_CRASH_HOST_AT; only
 * build/xlpci-test, linked with the test build, kills itself. */
static void test_crash_env_ignored(void **state)
{
    itest_env *e = *state;

    setenv("XLPCI_CRASH_AT", "1", 1);
    setenv("XLPCI_CRASH_HOST_AT", "1", 1);
    assert_int_equal(itest_run(e, "xlpci", "create", "5", "03:00.0", NULL),
                     0);
    assert_int_equal(itest_run(e, "xlpci", "pci-list", "5", NULL), 0);
    assert_non_null(strstr(e->out, "0000:03:00.0"));
    assert_int_equal(itest_run(e, "xlpci-test", "pci-list", "5", NULL),
                     128 + 9);
    unsetenv("XLPCI_CRASH_AT");
    unsetenv("XLPCI_CRASH_HOST_AT");
    assert_int_equal(itest_run(e, "xlpci-test", "pci-list", "5", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_env_ignored, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_consistent, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_orphans_and_missing, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_bad_num_devs, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_interrupted_detach, itest_setup,
                                        itest_teardown),
        cmocka_unit_test(test_crash_detach),
        cmocka_unit_test(test_crash_attach),
        cmocka_unit_test(test_crash_create),
    };

    return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}

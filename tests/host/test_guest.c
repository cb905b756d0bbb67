/*
 * The guest owns its frontend directory and may write anything there:
 * xlpci must never trust it (it reads only whether the directory exists)
 * and must neither crash nor change anything because of it.  Also what a
 * malformed backend does to check: reported, a clear exit status.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

#define FE5 "/local/domain/5/device/pci/0"

static void guest_garbage(itest_env *e)
{
    char path[160], big[4000];
    unsigned i;

    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    itest_write(e, FE5 "/state", "garbage");
    itest_write(e, FE5 "/pci-op-ref", "-1");
    itest_write(e, FE5 "/event-channel", "99999999999999999999");
    itest_write(e, FE5 "/magic", "\x1b[2J\x01\x02");
    itest_write(e, FE5 "/backend", "/local/domain/0/backend/pci/6/0");
    itest_write(e, FE5 "/backend-id", "7");
    itest_write(e, FE5 "/huge", big);
    itest_write(e, FE5 "/a/b/c/d/e/f", "deep");
    for (i = 0; i < 100; i++) {
        snprintf(path, sizeof(path), FE5 "/dev-%u", i);
        itest_write(e, path, "0000:ff:1f.7");
    }
    itest_write(e, FE5 "/num_devs", "-5");
}

static void test_frontend_garbage(void **state)
{
    itest_env *e = *state;
    char *before, *after;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    guest_garbage(e);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 0);
    assert_string_equal(e->out, "Vdev Device\n00.0 0000:03:00.0\n"
                                "00.0 0000:04:00.0\n");
    assert_int_equal(itest_xlpci(e, "pci-list", "-l", "5", NULL), 0);
    assert_null(strstr(e->out, "ff:1f"));
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: consistent\n");
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_store(e, before);   /* the guest's nodes are its own */
    free(before);

    /* the flows work from the backend alone */
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 3);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 2);
    /* create -f replaces the frontend wholesale, garbage and all */
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "06:00.0", NULL),
                     0);
    after = itest_read(e, FE5 "/huge");
    assert_null(after);
    after = itest_read(e, FE5 "/state");
    assert_string_equal(after, "1");
    free(after);
    /* the last device takes both directories, guest nodes included */
    guest_garbage(e);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "06:00.0", NULL), 0);
    assert_null(itest_read(e, FE5));
    assert_null(itest_read(e, BE(5)));
}

/* Malformed backends: check names the node, exits 1, changes nothing;
 * nothing crashes on any of them. */
static void test_check_malformed(void **state)
{
    static const struct { const char *key, *value, *msg; } bad[] = {
        { "num_devs", "abc", "not a device count" },
        { "num_devs", "-1", "not a device count" },
        { "num_devs", "4294967296", "not a device count" },
        { "num_devs", "99999999", "not a device count" },
        { "num_devs", "", "not a device count" },
        { "num_devs", "3", "dev-2 is missing" },
        { "dev-1", "0000:zz:00.0", "dev-1 = \"0000:zz:00.0\"" },
        { "dev-1", "0000:03:00.0", "dev-0 and dev-1 are both" },
        { "state", "banana", "is not a xenbus state (not repairable" },
        { "state-7", "1", "index 7 lies past num_devs" },
    };
    itest_env *e = *state;
    char *before, path[160];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                     "04:00.0", NULL), 0);
        snprintf(path, sizeof(path), BE(5) "/%s", bad[i].key);
        itest_write(e, path, bad[i].value);
        before = itest_dump(e);
        assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
        if (!strstr(e->err, bad[i].msg))
            fail_msg("%s = \"%s\": %s", bad[i].key, bad[i].value, e->err);
        assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL) >= 0, 1);
        itest_assert_store(e, before);
        free(before);
        if (!strcmp(bad[i].value, "banana")) {
            /* pciback's node: reported, left alone, never "repaired" */
            assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL),
                             1);
            assert_non_null(strstr(e->out, "1 problem(s) left"));
            continue;
        }
        assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
        assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frontend_garbage, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_check_malformed, itest_setup,
                                        itest_teardown),
    };

    return cmocka_run_group_tests_name("host: guest garbage, malformed "
                                       "backends", tests, NULL, NULL);
}

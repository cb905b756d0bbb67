/*
 * The harness itself: the real daemons run under the shim and behave as
 * xenstored does (transactions, conflicts, watches, permissions), the shim
 * covers every hypervisor symbol they import, and the helpers work.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <cmocka.h>

#include "harness.h"

static int setup_c(void **state)
{
    static struct xsd d;

    *state = &d;
    return xsd_start(&d, NULL);
}

static int setup_ox(void **state)
{
    static struct xsd d;
    struct xsd_opts o = { .ox = 1, .test_eagain = 1 };

    *state = &d;
    return xsd_start(&d, &o);
}

static int teardown(void **state)
{
    xsd_stop(*state);
    return 0;
}

static void test_rw_perms_dump(void **state)
{
    struct xs_handle *xs = xs_open(0);
    struct xs_permissions p[2] = { { 0, XS_PERM_NONE }, { 5, XS_PERM_READ } };
    char *dump;

    (void)state;
    assert_non_null(xs);
    assert_true(xs_write(xs, XBT_NULL, "/t/a", "1", 1));
    assert_true(xs_write(xs, XBT_NULL, "/t/b/c", "x\"y", 3));
    assert_true(xs_set_permissions(xs, XBT_NULL, "/t/a", p, 2));
    dump = h_xs_dump(xs, "/t");
    assert_string_equal(dump, "/t = \"\" (n0)\n/t/a = \"1\" (n0,r5)\n"
                              "/t/b = \"\" (n0)\n"
                              "/t/b/c = \"x\\x22y\" (n0)\n");
    free(dump);
    dump = h_xs_dump(xs, "/nonexistent");
    assert_string_equal(dump, "");
    free(dump);
    xs_close(xs);
}

static void test_conflict_and_watch(void **state)
{
    struct xs_handle *a = xs_open(0), *b = xs_open(0);
    xs_transaction_t t;
    struct pollfd pfd;
    unsigned len;
    char **ev, *v;

    (void)state;
    assert_true(xs_write(a, XBT_NULL, "/c", "0", 1));
    assert_true(xs_watch(b, "/c", "tok"));
    ev = xs_read_watch(b, &len);              /* fires on registration */
    assert_non_null(ev);
    free(ev);

    t = xs_transaction_start(a);
    v = xs_read(a, t, "/c", &len);
    free(v);
    assert_true(xs_write(a, t, "/c", "1", 1));
    assert_true(xs_write(b, XBT_NULL, "/c", "2", 1));   /* conflicting */
    assert_false(xs_transaction_end(a, t, false));
    assert_int_equal(errno, EAGAIN);

    pfd.fd = xs_fileno(b);
    pfd.events = POLLIN;
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    ev = xs_check_watch(b);
    assert_non_null(ev);
    assert_string_equal(ev[XS_WATCH_PATH], "/c");
    free(ev);
    xs_close(a);
    xs_close(b);
}

/* oxenstored with test-eagain refuses some write commits. */
static void test_ox_eagain(void **state)
{
    struct xs_handle *xs = xs_open(0);
    int i, eagain = 0, ok = 0;

    (void)state;
    assert_non_null(xs);
    for (i = 0; i < 60; i++) {
        xs_transaction_t t = xs_transaction_start(xs);

        assert_true(t != XBT_NULL);
        assert_true(xs_write(xs, t, "/e", "v", 1));
        if (xs_transaction_end(xs, t, false))
            ok++;
        else if (errno == EAGAIN)
            eagain++;
    }
    assert_int_equal(ok + eagain, 60);
    assert_true(eagain > 0);
    assert_true(ok > 0);
    xs_close(xs);
}

static void test_run_and_spawn(void **state)
{
    char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
    char *out, *err, ready[300], cmd[400];
    char *sargv[] = { "sh", "-c", cmd, NULL };
    pid_t pid;

    (void)state;
    assert_int_equal(h_run(argv, &out, &err), 3);
    assert_string_equal(out, "out\n");
    assert_string_equal(err, "err\n");
    free(out);
    free(err);
    snprintf(ready, sizeof(ready), "%s/r", ((struct xsd *)*state)->dir);
    snprintf(cmd, sizeof(cmd), "touch %s; exec sleep 30", ready);
    assert_int_equal(h_spawn(&pid, sargv, ready, 5000), 0);
    assert_int_equal(h_stop(pid), 128 + 15);
}

/* Every hypervisor symbol the daemons import is defined by the shim. */
static void test_shim_covers_imports(void **state)
{
    char cmd[1024], *out = NULL;
    char *argv[] = { "sh", "-c", cmd, NULL };

    (void)state;
    snprintf(cmd, sizeof(cmd),
             "comm -23 <(nm -D --undefined-only "
             "/usr/lib/xen-4.17/bin/xenstored | awk '{print $2}' | "
             "sed 's/@.*//' | grep -E '^(xc_|xenevtchn_|xengnttab_)' | "
             "sort) <(nm -D --defined-only %s | awk '{print $3}' | sort)",
             h_prog("libfakexen.so"));
    argv[0] = "bash";
    assert_int_equal(h_run(argv, &out, NULL), 0);
    if (*out)
        fail_msg("the shim lacks: %s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rw_perms_dump, setup_c,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conflict_and_watch, setup_c,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ox_eagain, setup_ox, teardown),
        cmocka_unit_test_setup_teardown(test_run_and_spawn, setup_c,
                                        teardown),
        cmocka_unit_test(test_shim_covers_imports),
    };

    return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}

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
#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
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
    struct xs_permissions o5[1] = { { 5, XS_PERM_NONE } };
    struct xs_permissions *got;
    unsigned len, n;
    char *dump, *v;

    (void)state;
    assert_non_null(xs);
    assert_true(xs_write(xs, XBT_NULL, "/t/a", "1", 1));
    assert_true(xs_write(xs, XBT_NULL, "/t/b/c", "x\"y", 3));
    v = xs_read(xs, XBT_NULL, "/t/a", &len);
    assert_non_null(v);
    assert_int_equal(len, 1);
    assert_string_equal(v, "1");
    free(v);
    assert_true(xs_set_permissions(xs, XBT_NULL, "/t/a", p, 2));
    got = xs_get_permissions(xs, XBT_NULL, "/t/a", &n);
    assert_non_null(got);
    assert_int_equal(n, 2);
    assert_int_equal(got[1].id, 5);
    assert_int_equal(got[1].perms, XS_PERM_READ);
    free(got);
    /* domid 5 as owner (every domid the shim knows exists) */
    assert_true(xs_write(xs, XBT_NULL, "/t/a-b", "", 0));
    assert_true(xs_set_permissions(xs, XBT_NULL, "/t/a-b", o5, 1));
    assert_true(xs_write(xs, XBT_NULL, "/t/a/x", "2", 1));
    dump = h_xs_dump(xs, "/t");
    /* lines sorted: "/t/a-b" before "/t/a/x" ('-' < '/') */
    assert_string_equal(dump, "/t = \"\" (n0)\n"
                              "/t/a = \"1\" (n0,r5)\n"
                              "/t/a-b = \"\" (n5)\n"
                              "/t/a/x = \"2\" (n0,r5)\n"
                              "/t/b = \"\" (n0)\n"
                              "/t/b/c = \"x\\x22y\" (n0)\n");
    free(dump);
    dump = h_xs_dump(xs, "/t/b/c");
    assert_string_equal(dump, "/t/b/c = \"x\\x22y\" (n0)\n");
    free(dump);
    dump = h_xs_dump(xs, "/nonexistent");
    assert_string_equal(dump, "");
    free(dump);
    xs_close(xs);
}

/* FAKEXS_DEAD_FILE: C xenstored refuses a dead domain as owner. */
static void test_dead_domain(void **state)
{
    struct xsd d;
    struct xsd_opts o = { 0 };
    struct xs_permissions p7[1] = { { 7, XS_PERM_NONE } };
    struct xs_permissions p5[1] = { { 5, XS_PERM_NONE } };
    struct xs_handle *xs;
    char dir[256], dead[300];
    FILE *f;

    (void)state;
    assert_int_equal(h_mkdtemp(dir, sizeof(dir)), 0);
    snprintf(dead, sizeof(dead), "%s/dead", dir);
    f = fopen(dead, "w");
    assert_non_null(f);
    fputs("7\n", f);
    fclose(f);
    o.dead_file = dead;
    assert_int_equal(xsd_start(&d, &o), 0);
    xs = xs_open(0);
    assert_non_null(xs);
    assert_true(xs_write(xs, XBT_NULL, "/d", "", 0));
    assert_false(xs_set_permissions(xs, XBT_NULL, "/d", p7, 1));
    assert_int_equal(errno, ENOENT);
    assert_true(xs_set_permissions(xs, XBT_NULL, "/d", p5, 1));
    xs_close(xs);
    xsd_stop(&d);
    h_rmrf(dir);
}

/* Several daemons at once do not see each other's writes. */
static void test_parallel(void **state)
{
    struct xsd d[4];
    struct xsd_opts ox = { .ox = 1 };
    char val[16], *v, dirs[4][256];
    struct stat st;
    unsigned len;
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        assert_int_equal(xsd_start(&d[i], i == 3 ? &ox : NULL), 0);
        strcpy(dirs[i], d[i].dir);
    }
    for (i = 0; i < 4; i++) {
        struct xs_handle *xs;

        setenv("XENSTORED_PATH", d[i].socket, 1);
        xs = xs_open(0);
        assert_non_null(xs);
        snprintf(val, sizeof(val), "%d", i);
        v = xs_read(xs, XBT_NULL, "/p", &len);
        assert_null(v);
        assert_true(xs_write(xs, XBT_NULL, "/p", val, strlen(val)));
        xs_close(xs);
    }
    for (i = 0; i < 4; i++) {
        struct xs_handle *xs;

        setenv("XENSTORED_PATH", d[i].socket, 1);
        xs = xs_open(0);
        assert_non_null(xs);
        v = xs_read(xs, XBT_NULL, "/p", &len);
        snprintf(val, sizeof(val), "%d", i);
        assert_non_null(v);
        assert_string_equal(v, val);
        free(v);
        xs_close(xs);
    }
    for (i = 0; i < 4; i++) {
        xsd_stop(&d[i]);
        xsd_stop(&d[i]);                 /* idempotent */
        assert_int_not_equal(stat(dirs[i], &st), 0);
    }
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

    /* a ready file that never comes: -1, the child is gone */
    snprintf(cmd, sizeof(cmd), "exec sleep 30");
    assert_int_equal(h_spawn(&pid, sargv, "/nonexistent/r", 100), -1);
    assert_int_equal(pid, 0);
    /* exits before ready */
    snprintf(cmd, sizeof(cmd), "exit 4");
    assert_int_equal(h_spawn(&pid, sargv, "/nonexistent/r", 5000), -1);

    /* signals, discarded output, stdin is /dev/null, bad program */
    snprintf(cmd, sizeof(cmd), "echo lost; kill -9 $$");
    assert_int_equal(h_run(sargv, NULL, NULL), 128 + 9);
    snprintf(cmd, sizeof(cmd), "cat; printf '%%s' \"$XENSTORED_PATH\"");
    assert_int_equal(h_run(sargv, &out, NULL), 0);
    assert_string_equal(out, ((struct xsd *)*state)->socket);
    free(out);
    sargv[0] = "/nonexistent/prog";
    assert_int_equal(h_run(sargv, NULL, &err), 127);
    assert_non_null(strstr(err, "cannot execute"));
    free(err);
    assert_string_equal(h_prog("x"), XLPCI_BUILD_DIR "/x");
    /* XLPCI_TEST_CLI replaces the CLI only (debian/tests) */
    {
        char *was = getenv("XLPCI_TEST_CLI");

        was = was ? strdup(was) : NULL;
        unsetenv("XLPCI_TEST_CLI");
        assert_string_equal(h_prog("xlpci"), XLPCI_BUILD_DIR "/xlpci");
        setenv("XLPCI_TEST_CLI", "/usr/bin/xlpci", 1);
        assert_string_equal(h_prog("xlpci"), "/usr/bin/xlpci");
        assert_string_equal(h_prog("xlpci-test"),
                            XLPCI_BUILD_DIR "/xlpci-test");
        if (was)
            setenv("XLPCI_TEST_CLI", was, 1);
        else
            unsetenv("XLPCI_TEST_CLI");
        free(was);
    }
}

/* Drift guard: every hypervisor symbol xenstored imports is defined by the
 * shim (a Debian update adding one would make the daemon fail oddly). */
static void test_shim_covers_imports(void **state)
{
    char cmd[1024], *out = NULL, *err = NULL;
    char *argv[] = { "bash", "-c", cmd, NULL };

    (void)state;
    snprintf(cmd, sizeof(cmd),
             "set -eo pipefail; "
             "imp=$(nm -D --undefined-only /usr/lib/xen-4.17/bin/xenstored"
             " | awk '{print $2}' | sed 's/@.*//'"
             " | grep -E '^(xc_|xenevtchn_|xengnttab_)' | sort); "
             "def=$(nm -D --defined-only %s | awk '{print $3}' | sort); "
             "grep -qx xc_interface_open <<<\"$imp\"; "
             "grep -qx xenevtchn_open <<<\"$imp\"; "
             "comm -23 <(echo \"$imp\") <(echo \"$def\")",
             h_prog("libfakexen.so"));
    if (h_run(argv, &out, &err))
        fail_msg("drift guard did not run: %s", err);
    if (*out)
        fail_msg("the shim lacks: %s", out);
    free(out);
    free(err);
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
        cmocka_unit_test(test_dead_domain),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_shim_covers_imports),
    };

    return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}

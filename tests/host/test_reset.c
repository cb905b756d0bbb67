/*
 * Reset and permissive through sysfs (libxlpci/reset.c), against the fake
 * sysfs kernel (tests/fakes/fakesysfs --log), which records every write to
 * pciback/do_flr, devices/<BDF>/reset and pciback/permissive:
 *   - create/attach reset every device and write permissive=1 devices to
 *     pciback/permissive;
 *   - pci-detach resets function 0 of a slot after the guest released it,
 *     not the other functions (libxl LP:2250);
 *   - without do_flr the device's reset file; without either a warning
 *     and no failure.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

typedef struct {
    itest_env *e;
    pid_t fake;
    char sys[300], state[300], log[300];
} reset_env;

static reset_env g;

static int reset_setup(void **state)
{
    if (itest_setup(state))
        return -1;
    g.e = *state;
    g.fake = 0;
    snprintf(g.sys, sizeof(g.sys), "%s/sys", g.e->dir);
    snprintf(g.state, sizeof(g.state), "%s/state", g.e->dir);
    snprintf(g.log, sizeof(g.log), "%s/kernel.log", g.e->dir);
    setenv("LD_LIBRARY_PATH", h_prog("fakexc"), 1);
    setenv("XLPCI_SYSFS_ROOT", g.sys, 1);
    setenv("XLPCI_STATE_DIR", g.state, 1);
    unsetenv("XLPCI_HYPERVISOR");
    return 0;
}

static int reset_teardown(void **state)
{
    unsetenv("LD_LIBRARY_PATH");
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    if (g.fake)
        h_stop(g.fake);
    g.fake = 0;
    return itest_teardown(state);
}

/* The fake kernel with 04:00.0, 05:00.0, 06:00.0 and 06:00.1 on pciback,
 * and the options given (--no-flr, --no-reset). */
static void start_sys(const char *opt1, const char *opt2)
{
    char ready[320];
    char *argv[24];
    int k = 0;

    snprintf(ready, sizeof(ready), "%s/sys.ready", g.e->dir);
    argv[k++] = (char *)h_prog("fakesysfs");
    argv[k++] = (char *)"--root";
    argv[k++] = g.sys;
    argv[k++] = (char *)"--ready";
    argv[k++] = ready;
    argv[k++] = (char *)"--log";
    argv[k++] = g.log;
    argv[k++] = (char *)"--device";
    argv[k++] = (char *)"0000:04:00.0=pciback";
    argv[k++] = (char *)"--device";
    argv[k++] = (char *)"0000:05:00.0=pciback";
    argv[k++] = (char *)"--device";
    argv[k++] = (char *)"0000:06:00.0=pciback";
    argv[k++] = (char *)"--device";
    argv[k++] = (char *)"0000:06:00.1=pciback";
    if (opt1)
        argv[k++] = (char *)opt1;
    argv[k] = NULL;
    if (opt2) {
        argv[k++] = (char *)opt2;
        argv[k] = NULL;
    }
    assert_int_equal(h_spawn(&g.fake, argv, ready, 5000 * h_slow()), 0);
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted (the fake drains each file on its own, so the
 * order across files is not kept; within one file it is). */
static char *sorted(const char *text)
{
    char *copy = strdup(text), *lines[64], *p, *out;
    size_t n = 0, i, len = strlen(text) + 1;

    assert_non_null(copy);
    for (p = strtok(copy, "\n"); p && n < 64; p = strtok(NULL, "\n"))
        lines[n++] = p;
    qsort(lines, n, sizeof(*lines), cmp_line);
    out = calloc(1, len + 1);
    assert_non_null(out);
    for (i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(copy);
    return out;
}

/* The fake kernel's log (as a set of lines: see sorted), once it holds
 * want (it applies writes a moment after they are made), then emptied. */
static void assert_kernel_log(const char *want_lines)
{
    char *want = sorted(want_lines), *got;
    char *text = NULL;
    size_t len = 0;
    int tries;

    for (tries = 0; tries < 40 * h_slow(); tries++) {
        FILE *f = fopen(g.log, "r");

        free(text);
        text = NULL;
        if (f) {
            if (getdelim(&text, &len, '\0', f) < 0) {
                free(text);
                text = NULL;
            }
            fclose(f);
        }
        got = sorted(text ? text : "");
        if (!strcmp(got, want))
            break;
        free(got);
        got = NULL;
        usleep(50 * 1000);
    }
    if (!got)
        got = sorted(text ? text : "");
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(text);
    unlink(g.log);
}

static void test_reset_and_permissive(void **state)
{
    itest_env *e = *state;

    start_sys(NULL, NULL);
    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0,permissive=1",
                                 "05:00.0", NULL), 0);
    assert_kernel_log("do_flr 0000:04:00.0\npermissive 0000:04:00.0\n"
                      "do_flr 0000:05:00.0\n");
    assert_true(itest_wait_value(e, BE(5) "/state", "4", 10000));
    assert_true(itest_wait_value(e, "/local/domain/5/device/pci/0/state",
                                 "4", 10000));
    /* a whole slot: every function reset at attach (in the order of the
     * attach: function 0 last, as libxl) */
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "06:00.*", NULL), 0);
    assert_kernel_log("do_flr 0000:06:00.1\ndo_flr 0000:06:00.0\n");
    /* after the release: function 0 of a slot only */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    assert_kernel_log("do_flr 0000:04:00.0\n");
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "06:00.1", NULL), 0);
    assert_kernel_log("");
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "06:00.0", NULL), 0);
    assert_kernel_log("do_flr 0000:06:00.0\n");
    /* a failed attach: reset, but no reset at its rollback */
    setenv("FAKEXC_FAIL", "iomem_permission", 1);
    itest_set_xen(g.sys, true);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 1);
    unsetenv("FAKEXC_FAIL");
    assert_kernel_log("do_flr 0000:04:00.0\n");
}

/* An older kernel: devices/<BDF>/reset; none at all: a warning. */
static void test_reset_fallbacks(void **state)
{
    itest_env *e = *state;

    start_sys("--no-flr", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_kernel_log("reset 0000:04:00.0\n");
    assert_null(strstr(e->err, "reset"));
    h_stop(g.fake);
    g.fake = 0;

    reset_teardown(state);
    assert_int_equal(reset_setup(state), 0);
    e = *state;
    start_sys("--no-flr", "--no-reset");
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_non_null(strstr(e->err, "0000:04:00.0 was not reset: the kernel "
                           "supports no reset from sysfs"));
    assert_int_equal(itest_check_backend(e, 5), 1);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    assert_non_null(strstr(e->err, "supports no reset from sysfs"));
    assert_kernel_log("");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, reset_setup, reset_teardown)
        T(test_reset_and_permissive),
        T(test_reset_fallbacks),
#undef T
    };

    return cmocka_run_group_tests_name("host: reset and permissive", tests,
                                       NULL, NULL);
}

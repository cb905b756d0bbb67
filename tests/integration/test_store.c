/*
 * xlpci against a real xenstored, no backend driver: the exact tree the
 * create path writes, the permissions, bad input leaving the store as it
 * was, and the transaction retry re-reading everything.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "libxlpci.h"
#include "libxlpci_testing.h"         /* xlpci_ctx_set_txn_hook */

static void test_create_tree(void **state)
{
    itest_env *e = *state;
    char *dump;

    assert_int_equal(itest_xlpci(e, "create", "5", "0000:03:00.0",
                                 "04:00.1@3,permissive=1", NULL), 0);
    dump = h_xs_dump(e->xs, BE(5));
    assert_string_equal(dump,
        BE(5) " = \"\" (n0,r5)\n"
        BE(5) "/dev-0 = \"0000:03:00.0\" (n0,r5)\n"
        BE(5) "/dev-1 = \"0000:04:00.1\" (n0,r5)\n"
        BE(5) "/domain = \"guest5\" (n0,r5)\n"
        BE(5) "/frontend = \"/local/domain/5/device/pci/0\" (n0,r5)\n"
        BE(5) "/frontend-id = \"5\" (n0,r5)\n"
        BE(5) "/key-0 = \"0000:03:00.0\" (n0,r5)\n"
        BE(5) "/key-1 = \"0000:04:00.1\" (n0,r5)\n"
        BE(5) "/num_devs = \"2\" (n0,r5)\n"
        BE(5) "/online = \"1\" (n0,r5)\n"
        BE(5) "/opts-0 = \"msitranslate=0,power_mgmt=0,permissive=0,"
              "rdm_policy=strict\" (n0,r5)\n"
        BE(5) "/opts-1 = \"msitranslate=0,power_mgmt=0,permissive=1,"
              "rdm_policy=strict\" (n0,r5)\n"
        BE(5) "/state = \"1\" (n0,r5)\n"
        BE(5) "/state-0 = \"1\" (n0,r5)\n"
        BE(5) "/state-1 = \"1\" (n0,r5)\n"
        BE(5) "/vdevfn-1 = \"18\" (n0,r5)\n");
    free(dump);
    dump = h_xs_dump(e->xs, "/local/domain/5/device/pci/0");
    assert_string_equal(dump,
        "/local/domain/5/device/pci/0 = \"\" (n5,r0)\n"
        "/local/domain/5/device/pci/0/backend = \"" BE(5) "\" (n5,r0)\n"
        "/local/domain/5/device/pci/0/backend-id = \"0\" (n5,r0)\n"
        "/local/domain/5/device/pci/0/state = \"1\" (n5,r0)\n");
    free(dump);
    assert_int_equal(itest_check_backend(e, 5), 2);

    /* pci-list shows it back, as xl does */
    assert_int_equal(itest_xlpci(e, "pci-list", "guest5", NULL), 0);
    assert_string_equal(e->out, "Vdev Device\n00.0 0000:03:00.0\n"
                                "03.0 0000:04:00.1\n");
}

/* The create path is one transaction, whatever the number of devices.
 * The first assignment of the devices since boot (their /libxl/pci/<bdf>
 * absent) drops one transaction before it writes anything, to make those
 * directories outside it; then still one commit. */
static void test_create_one_transaction(void **state)
{
    itest_env *e = *state;
    xlpci_spec specs[32];
    xlpci_stats st;
    xlpci_ctx *ctx;
    char spec[32], err[128];
    unsigned i;
    int cold;

    for (i = 0; i < 32; i++) {
        snprintf(spec, sizeof(spec), "0000:%02x:%02x.%u", 0x10 + i / 8,
                 i % 8, i % 3);
        assert_int_equal(xlpci_spec_parse(spec, &specs[i], err,
                                          sizeof(err)), 0);
    }
    for (cold = 1; cold >= 0; cold--) {
        assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
        assert_int_equal(xlpci_create(ctx, 6, specs, 32, NULL, 0), 0);
        xlpci_ctx_get_stats(ctx, &st);
        assert_int_equal(st.transactions, 1);
        assert_int_equal(st.attempts, cold ? 2 : 1);
        assert_int_equal(st.eagain, 0);
        xlpci_ctx_free(ctx);
        assert_int_equal(itest_check_backend(e, 6), 32);
        if (cold)
            assert_int_equal(itest_xlpci(e, "destroy", "-f", "6", NULL), 0);
    }
    for (i = 0; i < 32; i++)
        xlpci_spec_dispose(&specs[i]);
}

/* Every rejected command leaves the store byte for byte as it was. */
static void test_bad_input_changes_nothing(void **state)
{
    itest_env *e = *state;
    char *before;
    char cfg[300];
    FILE *f;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    before = itest_dump(e);

    struct { int want; const char *needle; const char *argv[6]; } cases[] = {
        { 2, "bad bus number", { "create", "7", "03:00.0", "zz:00.0" } },
        { 2, "must be 0 or 1", { "pci-attach", "5", "05:00.0,permissive=yes" } },
        { 2, "unknown option", { "pci-attach", "5", "05:00.0,bogus=1" } },
        { 2, "given twice", { "create", "7", "06:00.0", "06:00.0" } },
        { 1, "already has a PCI backend", { "create", "5", "05:00.0" } },
        { 1, "already assigned to domain 5", { "create", "7", "03:00.0" } },
        { 1, "already attached to domain 5", { "pci-attach", "5", "04:00.0" } },
        { 1, "does not exist", { "create", "42", "05:00.0" } },
        { 1, "no domain named", { "create", "nosuch", "05:00.0" } },
        { 1, "domain 42 does not exist", { "create", "042", "05:00.0" } },
        { 2, "domid 32752 is out of range", { "create", "32752", "05:00.0" } },
        { 2, "domid 4294967296 is out of range",
          { "create", "4294967296", "05:00.0" } },
        { 2, "out of range", { "create", "99999999999999999999", "05:00.0" } },
        { 1, "not attached to domain 5", { "pci-detach", "5", "09:00.0" } },
        { 1, "has no PCI devices", { "pci-detach", "7", "03:00.0" } },
        /* issue 21: what is missing is said */
        { 1, "domain 4242 does not exist",
          { "pci-detach", "4242", "03:00.0" } },
        { 2, "no domain given: \"03:00.0\" is a PCI address",
          { "create", "03:00.0" } },
        { 2, "domain 0 is the backend", { "create", "0", "05:00.0" } },
        { 2, "expected <domain>", { "pci-attach", "5" } },
        { 2, "unknown command", { "frobnicate" } },
        { 1, "no PCI device is named", { "pci-attach", "5", "name=gpu" } },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char **a = cases[i].argv;
        int rc = itest_xlpci(e, a[0], a[1], a[2], a[3], a[4], NULL);

        if (rc != cases[i].want || !strstr(e->err, cases[i].needle))
            fail_msg("case %zu (%s %s %s): exit %d, stderr: %s", i, a[0],
                     a[1] ?: "", a[2] ?: "", rc, e->err);
        itest_assert_same(before, itest_dump(e), "case %zu changed the store",
                          i);
    }

    /* a bad config names the file and line */
    snprintf(cfg, sizeof(cfg), "%s/bad.cfg", e->dir);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("name = \"guest7\"\npci = [ \"03:00.0\"\n", f);
    fclose(f);
    assert_int_equal(itest_xlpci(e, "create", "-c", cfg, NULL), 2);
    assert_non_null(strstr(e->err, "bad.cfg:"));
    itest_assert_store(e, before);
    free(before);
}

/* Malformed backends are reported, not trusted, and not touched. */
static void test_malformed_backend(void **state)
{
    itest_env *e = *state;
    const char *bad_num[] = { "abc", "-1", "99999999", "", "1x" };
    char *before;
    size_t i;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    for (i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
        itest_write(e, BE(5) "/num_devs", bad_num[i]);
        before = itest_dump(e);
        assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL),
                         1);
        assert_non_null(strstr(e->err, "num_devs"));
        assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL),
                         1);
        assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 1);
        itest_assert_store(e, before);
        free(before);
    }
    /* num_devs larger than the devices present */
    itest_write(e, BE(5) "/num_devs", "3");
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "dev-2 is missing"));
    itest_write(e, BE(5) "/num_devs", "2");
    itest_write(e, BE(5) "/dev-1", "not-a-bdf");
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 1);
    assert_non_null(strstr(e->err, "dev-1 = \"not-a-bdf\""));
    /* create -f replaces a broken backend wholesale */
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "06:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 1);
}

/* -N prints the plan and changes nothing. */
static void test_dry_run(void **state)
{
    itest_env *e = *state;
    char *before;

    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "-N", "create", "5", "03:00.0", NULL), 0);
    assert_non_null(strstr(e->out, "write " BE(5) "/num_devs = \"1\""));
    assert_non_null(strstr(e->out, "setperms " BE(5) " n0 r5"));
    assert_non_null(strstr(e->out,
                           "setperms /local/domain/5/device/pci/0 n5 r0"));
    itest_assert_store(e, before);
    free(before);
}

/* A conflicting writer commits between our reads and our commit: the
 * commit fails with EAGAIN and the whole body runs again, re-reading
 * num_devs, so the new device lands after the other one. */
struct conflict { itest_env *e; unsigned calls; };

static void conflict_hook(void *arg, unsigned attempt)
{
    struct conflict *c = arg;
    struct xs_handle *xs = c->e->xs;
    xs_transaction_t t;

    c->calls++;
    if (attempt != 1)
        return;
    /* another toolstack appends 0000:09:00.0 as index 1 */
    t = xs_transaction_start(xs);
    assert_true(t != XBT_NULL);
    assert_true(xs_write(xs, t, BE(5) "/dev-1", "0000:09:00.0", 12));
    assert_true(xs_write(xs, t, BE(5) "/key-1", "0000:09:00.0", 12));
    assert_true(xs_write(xs, t, BE(5) "/state-1", "1", 1));
    assert_true(xs_write(xs, t, BE(5) "/num_devs", "2", 1));
    assert_true(xs_transaction_end(xs, t, false));
}

static void test_retry_rereads(void **state)
{
    itest_env *e = *state;
    struct conflict c = { e, 0 };
    xlpci_spec spec;
    xlpci_stats st;
    xlpci_ctx *ctx;
    char err[128], *v;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    assert_int_equal(xlpci_spec_parse("05:00.0", &spec, err, sizeof(err)), 0);
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_txn_hook(ctx, conflict_hook, &c);
    assert_int_equal(xlpci_attach(ctx, 5, &spec, NULL), 0);
    xlpci_ctx_get_stats(ctx, &st);
    assert_int_equal(c.calls, 2);
    assert_int_equal(st.eagain, 1);
    assert_int_equal(st.transactions, 1);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);

    assert_int_equal(itest_check_backend(e, 5), 3);
    v = itest_read(e, BE(5) "/dev-1");
    assert_string_equal(v, "0000:09:00.0");
    free(v);
    v = itest_read(e, BE(5) "/dev-2");
    assert_string_equal(v, "0000:05:00.0");
    free(v);
}

/* A bounded number of attempts ends with a clear error and no change. */
static void always_conflict(void *arg, unsigned attempt)
{
    itest_env *e = arg;
    char v[16];

    snprintf(v, sizeof(v), "%u", attempt);
    itest_write(e, "/local/domain/5/name", v);
}

static void test_retry_exhausted(void **state)
{
    itest_env *e = *state;
    xlpci_spec spec;
    xlpci_stats st;
    xlpci_ctx *ctx;
    char err[128], *v, *before;

    before = h_xs_dump(e->xs, "/libxl");
    assert_int_equal(xlpci_spec_parse("05:00.0", &spec, err, sizeof(err)), 0);
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_max_attempts(ctx, 5);
    xlpci_ctx_set_txn_hook(ctx, always_conflict, e);
    assert_int_equal(xlpci_create(ctx, 5, &spec, 1, NULL, 0),
                     XLPCI_ERR_RETRIES);
    xlpci_ctx_get_stats(ctx, &st);
    /* one finding the record's directory absent (dropped before it
     * writes; the directory is made outside), 5 conflicting attempts,
     * then one transaction removing the directories made before them
     * (backend/pci/5, /libxl/pci/<bdf>) */
    assert_int_equal(st.attempts, 7);
    assert_int_equal(st.eagain, 5);
    assert_int_equal(st.transactions, 1);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    v = itest_read(e, BE(5) "/num_devs");
    assert_null(v);
    v = itest_read(e, "/local/domain/0/backend/pci/5");
    assert_null(v);
    itest_assert_same(before, h_xs_dump(e->xs, "/libxl"), "/libxl changed");
    free(before);
}

/* Multi-function: every function present in sysfs, function 0 last. */
static void test_multifunction(void **state)
{
    itest_env *e = *state;
    char root[300], path[400], env[320];
    unsigned f;
    char *v;

    snprintf(root, sizeof(root), "%s/sys", e->dir);
    for (f = 0; f < 8; f++) {
        if (f != 0 && f != 1 && f != 3)
            continue;
        snprintf(path, sizeof(path), "mkdir -p %s/bus/pci/devices/"
                 "0000:05:00.%u", root, f);
        assert_int_equal(system(path), 0);
    }
    snprintf(env, sizeof(env), "%s", root);
    setenv("XLPCI_SYSFS_ROOT", env, 1);
    assert_int_equal(itest_xlpci(e, "create", "5", "05:00.*@8", NULL), 0);
    unsetenv("XLPCI_SYSFS_ROOT");
    assert_int_equal(itest_check_backend(e, 5), 3);
    v = itest_read(e, BE(5) "/dev-2");
    assert_string_equal(v, "0000:05:00.0");           /* function 0 last */
    free(v);
    v = itest_read(e, BE(5) "/dev-0");
    assert_string_equal(v, "0000:05:00.3");
    free(v);
    v = itest_read(e, BE(5) "/vdevfn-0");
    assert_string_equal(v, "43");                      /* 8 << 3 | 3 */
    free(v);
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 0);
    assert_string_equal(e->out, "Vdev Device\n08.3 0000:05:00.3\n"
                                "08.1 0000:05:00.1\n08.0 0000:05:00.0\n");
}

/* CMD -h / --help: the command's help on stdout, as `help CMD` prints it,
 * exit 0, nothing on stderr and nothing written. */
static void test_command_help(void **state)
{
    itest_env *e = *state;
    static const char *const cmds[][2] = {
        { "create", "--config" }, { "pci-attach", "--timeout" },
        { "pci-detach", "--force" }, { "pci-list", "--long" },
        { "pci-assignable-add", "--name" },
        { "pci-assignable-remove", "--rebind" },
        { "pci-assignable-list", "--show-names" }, { "check", "--repair" },
        { "destroy", "--force" },
    };
    char *before, *want, usage[64];
    size_t i;

    before = itest_dump(e);
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(itest_xlpci(e, "help", cmds[i][0], NULL), 0);
        want = strdup(e->out);
        assert_non_null(want);
        snprintf(usage, sizeof(usage), "Usage: xlpci %s ", cmds[i][0]);
        if (strncmp(want, usage, strlen(usage)) || !strstr(want, cmds[i][1]))
            fail_msg("help %s: %s", cmds[i][0], want);
        assert_int_equal(itest_xlpci(e, cmds[i][0], "-h", NULL), 0);
        assert_string_equal(e->out, want);
        assert_string_equal(e->err, "");
        assert_int_equal(itest_xlpci(e, cmds[i][0], "--help", NULL), 0);
        assert_string_equal(e->out, want);
        assert_string_equal(e->err, "");
        free(want);
    }
    assert_int_equal(itest_xlpci(e, "help", "pci-list", "extra", NULL), 2);
    assert_non_null(strstr(e->err, "at most one command"));
    assert_int_equal(itest_xlpci(e, "help", "nosuch", NULL), 2);
    assert_non_null(strstr(e->err, "unknown command \"nosuch\""));
    itest_assert_store(e, before);
    free(before);
}

/* Bad options and a PCI address where the domain goes: one message on
 * stderr naming the option or argument, exit 2, the store unchanged. */
static void test_bad_options(void **state)
{
    itest_env *e = *state;
    char *before, cfg[300];
    FILE *f;

    snprintf(cfg, sizeof(cfg), "%s/guest7.cfg", e->dir);
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("name = \"guest7\"\npci = [ \"03:00.0\" ]\n", f);
    fclose(f);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    before = itest_dump(e);

    struct { const char *err; const char *argv[6]; } cases[] = {
        { "xlpci pci-attach: unknown option -f\n",
          { "pci-attach", "-f", "5", "04:00.0" } },
        { "xlpci pci-list: unknown option --bogus\n",
          { "pci-list", "--bogus", "5" } },
        { "xlpci pci-list: option --long takes no argument\n",
          { "pci-list", "--long=1", "5" } },
        { "xlpci pci-attach: option -t needs an argument\n",
          { "pci-attach", "-t" } },
        { "xlpci pci-detach: option --timeout needs an argument\n",
          { "pci-detach", "--timeout" } },
        { "xlpci create: option -c needs an argument\n", { "create", "-c" } },
        { "xlpci pci-detach: bad timeout \"3601\": give seconds from 0 to "
          "3600", { "pci-detach", "-t", "3601", "5", "03:00.0" } },
        { "xlpci pci-detach: bad timeout \"86400\": give seconds from 0 to "
          "3600", { "pci-detach", "-t", "86400", "5", "03:00.0" } },
        { "xlpci pci-attach: bad timeout \"nan\": give seconds from 0 to "
          "3600", { "pci-attach", "-t", "nan", "5", "04:00.0" } },
        { "xlpci pci-attach: bad timeout \"-1\"",
          { "pci-attach", "--timeout=-1", "5", "04:00.0" } },
        { "xlpci: unknown option -x\n", { "-x", "pci-list", "5" } },
        { "xlpci create: \"04:00.0\" is a PCI address where the domain was "
          "expected", { "create", "-c", cfg, "04:00.0" } },
        { "xlpci pci-detach: \"0000:03:00.0\" is a PCI address where the "
          "domain was expected", { "pci-detach", "0000:03:00.0", "04:00.0" } },
        { "xlpci check: \"03:00.0,permissive=1\" is a PCI address where the "
          "domain was expected", { "check", "--repair", "03:00.0,permissive=1" } },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char **a = cases[i].argv;
        int rc = itest_xlpci(e, a[0], a[1], a[2], a[3], a[4], NULL);

        const char *nl = strchr(e->err, '\n');

        /* the message first; then at most one line (usage or --help) */
        if (rc != 2 || strncmp(e->err, cases[i].err, strlen(cases[i].err)) ||
            !nl || (strchr(nl + 1, '\n') &&
                    strchr(nl + 1, '\n')[1] != '\0'))
            fail_msg("case %zu (%s %s): exit %d, stderr: %s", i, a[0],
                     a[1] ?: "", rc, e->err);
        if (strstr(e->err, "invalid option") ||
            strstr(e->err, "unrecognized option"))
            fail_msg("case %zu: getopt's own message too: %s", i, e->err);
        itest_assert_same(before, itest_dump(e), "case %zu changed the store",
                          i);
    }
    free(before);
}

/* pci-attach refuses a virtual slot the domain already uses, as create
 * refuses two devices in one slot; the store is left as it was. */
static void test_attach_vslot_taken(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0@3", "04:00.0",
                                 NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0@3", "05:00.0@3",
                                 NULL), 2);
    assert_non_null(strstr(e->err, "two devices want virtual slot 03.0"));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "06:00.0@3", NULL), 1);
    assert_non_null(strstr(e->err, "virtual slot 03.0 of domain 5 is taken "
                                   "by 0000:03:00.0"));
    itest_assert_store(e, before);
    free(before);
    /* another slot, or none, is fine */
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "06:00.0@4", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "07:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 4);
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 0);
    assert_string_equal(e->out, "Vdev Device\n03.0 0000:03:00.0\n"
                                "00.0 0000:04:00.0\n04.0 0000:06:00.0\n"
                                "00.0 0000:07:00.0\n");
}

/* Without xen-pciback, create and pci-attach say that only xenstore was
 * written (the devices were not checked or bound); -N and failures don't. */
static void test_no_pciback_notice(void **state)
{
    itest_env *e = *state;
    char root[300];

    snprintf(root, sizeof(root), "%s/nosys", e->dir);
    setenv("XLPCI_SYSFS_ROOT", root, 1);
    assert_int_equal(itest_xlpci(e, "-N", "create", "5", "03:00.0", NULL), 0);
    assert_null(strstr(e->err, "pciback"));
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    assert_non_null(strstr(e->err, "notice: domain 5: xen-pciback is not "
                                   "loaded"));
    assert_non_null(strstr(e->err, "/nosys/bus/pci/drivers/pciback"));
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 0);
    assert_non_null(strstr(e->err, "only xenstore was written"));
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 1);
    assert_null(strstr(e->err, "pciback"));
    unsetenv("XLPCI_SYSFS_ROOT");
    assert_int_equal(itest_check_backend(e, 5), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_tree, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_create_one_transaction,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_backend, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_retry_rereads, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_retry_exhausted, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_multifunction, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_command_help, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_vslot_taken, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_no_pciback_notice, itest_setup,
                                        itest_teardown),
    };

    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}

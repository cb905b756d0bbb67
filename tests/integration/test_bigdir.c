/*
 * A full host: /libxl/pci holds hundreds of records, more than one
 * xenstore reply can list (XENSTORE_PAYLOAD_MAX, 4096 bytes: about 315
 * entries of 13 bytes).  C xenstored sends such a listing in parts;
 * oxenstored sends it whole, libxenstore refuses it and closes the
 * connection.  On both daemons:
 *  - destroy stays exact, and its cost (requests, by the library's count)
 *    does not depend on the other domains' records: it lists no
 *    /libxl/pci;
 *  - check lists nothing and works on both daemons: it costs what the
 *    domain holds (issue 22); check --audit lists /libxl/pci outside its
 *    transactions and finds the lone records naming the domain (where the
 *    listing can be had: C xenstored) or fails naming the limit
 *    (oxenstored), never saying "consistent" when it could not look;
 *  - name lookups (name=, pci-assignable-add -n) work, or fail naming the
 *    limit, never "no such name".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "libxlpci.h"
#include "libxlpci_testing.h"         /* xlpci_ctx_set_txn_hook */

#define ORPHAN "/libxl/pci/0000-07-00-0/domid"

/* Record i of the full host: /libxl/pci/0000-(40+i/256)-dd-f. */
static void record_path(char *buf, size_t len, unsigned i, const char *leaf)
{
    snprintf(buf, len, "/libxl/pci/0000-%02x-%02x-%x/%s", 0x40 + i / 256,
             (i / 8) % 32, i % 8, leaf);
}

/* Records from..to-1: even ones assigned to domain 6 (live), odd ones
 * named "dev<i>" by xl (assignable, free). */
static void fill(itest_env *e, unsigned from, unsigned to)
{
    char path[64], v[16];
    unsigned i;

    for (i = from; i < to; i++) {
        record_path(path, sizeof(path), i, i % 2 ? "name" : "domid");
        snprintf(v, sizeof(v), i % 2 ? "dev%u" : "6", i);
        itest_write(e, path, v);
    }
}

/* The records are as fill left them (read one by one: a listing would
 * break the test's own connection on oxenstored). */
static void assert_filled(itest_env *e, unsigned n)
{
    char path[64], v[16];
    unsigned i;

    for (i = 0; i < n; i++) {
        record_path(path, sizeof(path), i, i % 2 ? "name" : "domid");
        snprintf(v, sizeof(v), i % 2 ? "dev%u" : "6", i);
        itest_assert_node(e, path, v);
        record_path(path, sizeof(path), i, i % 2 ? "domid" : "name");
        itest_assert_node(e, path, NULL);
    }
}

/* Domain 5 gets two devices and dies; xlpci_destroy releases them: its
 * stats. */
static void destroy_round(itest_env *e, xlpci_stats *st)
{
    unsigned released = 0;
    xlpci_ctx *ctx;

    itest_mkdomain(e, 5, "guest5");
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    assert_true(xs_rm(e->xs, XBT_NULL, "/local/domain/5"));
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    assert_int_equal(xlpci_destroy(ctx, 5, 0, &released), 0);
    xlpci_ctx_get_stats(ctx, st);
    xlpci_ctx_free(ctx);
    assert_int_equal(released, 2);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", NULL);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/domid", NULL);
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, "/local/domain/5", NULL);
}

/* destroy on a host with 1000 other records: exact, and the same
 * requests as with none. */
static void test_destroy_full_host(void **state)
{
    itest_env *e = *state;
    xlpci_stats st0, st1;

    destroy_round(e, &st0);
    fill(e, 0, 1000);
    destroy_round(e, &st1);
    assert_filled(e, 1000);
    assert_int_equal(st1.requests, st0.requests);
    assert_int_equal(st1.transactions, st0.transactions);
    /* and again: nothing to do, still usable */
    assert_int_equal(itest_xlpci(e, "destroy", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: nothing to do\n");
}

/* check of a live domain on a full host: 700 other records, a record
 * naming it for a device its backend does not list (ORPHAN), and its own
 * device's record missing. */
static void check_setup(itest_env *e)
{
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    fill(e, 0, 700);
    itest_write(e, ORPHAN, "5");
    assert_true(xs_rm(e->xs, XBT_NULL, "/libxl/pci/0000-03-00-0/domid"));
}

static void test_check_full_host(void **state)
{
    itest_env *e = *state;

    check_setup(e);
    /* the default check: what the domain holds, on both daemons; the lone
     * record is not looked for */
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "/libxl/pci/0000-03-00-0/domid is "
                           "missing"));
    assert_null(strstr(e->err, ORPHAN));
    assert_null(strstr(e->err, "XENSTORE_PAYLOAD_MAX"));
    assert_non_null(strstr(e->out, "1 problem(s)"));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", "5");
    itest_assert_node(e, ORPHAN, "5");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_non_null(strstr(e->out, "domain 5: consistent"));
    /* --audit lists /libxl/pci */
    if (e->xsd.ox) {
        assert_int_equal(itest_xlpci(e, "check", "--audit", "5", NULL), 1);
        assert_non_null(strstr(e->err, "XENSTORE_PAYLOAD_MAX"));
        assert_non_null(strstr(e->err, "could not look for ownership "
                               "records naming domain 5"));
        assert_null(strstr(e->out, "consistent"));
        assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "5",
                                     NULL), 1);
        assert_non_null(strstr(e->err, "XENSTORE_PAYLOAD_MAX"));
        itest_assert_node(e, ORPHAN, "5");
    } else {
        assert_int_equal(itest_xlpci(e, "check", "--audit", "5", NULL), 1);
        assert_non_null(strstr(e->err, ORPHAN " names it but its backend "
                               "does not list 0000:07:00.0"));
        assert_non_null(strstr(e->out, "1 problem(s)"));
        assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "5",
                                     NULL), 0);
        itest_assert_node(e, ORPHAN, NULL);
        assert_int_equal(itest_xlpci(e, "check", "--audit", "5", NULL), 0);
        assert_non_null(strstr(e->out, "domain 5: consistent"));
    }
    assert_filled(e, 700);
    assert_int_equal(itest_check_backend(e, 5), 1);
}

/* check --repair's transaction reads no listing of /libxl/pci, not even
 * with --audit (the listing is outside it): a create making its record
 * directory meanwhile (what every first assignment after boot does) does
 * not make it start over. */
static void mkdir_hook(void *arg, unsigned attempt)
{
    itest_env *e = arg;

    if (attempt == 1)
        assert_true(xs_mkdir(e->xs, XBT_NULL, "/libxl/pci/0000-7f-00-0"));
}

static void test_check_no_conflict(void **state)
{
    itest_env *e = *state;
    xlpci_check_result res;
    xlpci_stats st;
    xlpci_ctx *ctx;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    fill(e, 0, 10);
    itest_write(e, ORPHAN, "5");
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_txn_hook(ctx, mkdir_hook, e);
    assert_int_equal(xlpci_check_flags(ctx, 5, XLPCI_CHECK_REPAIR |
                                       XLPCI_CHECK_AUDIT, &res), 0);
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    assert_int_equal(res.problems, 0);
    itest_assert_node(e, ORPHAN, NULL);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", "5");
    assert_int_equal(st.eagain, 0);
    assert_int_equal(st.transactions, 1);
}

/* check --repair of a gone domain on a full host: what its backend
 * listed is released on both daemons, the lone record naming it
 * (ORPHAN) left unseen; --audit finds it where the listing can be had,
 * else fails naming the limit. */
static void test_check_gone_full_host(void **state)
{
    itest_env *e = *state;

    check_setup(e);
    itest_write(e, "/libxl/pci/0000-03-00-0/domid", "5");
    assert_true(xs_rm(e->xs, XBT_NULL, "/local/domain/5"));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    assert_non_null(strstr(e->err, "domain 5 (gone) still holds PCI device "
                           "0000:03:00.0"));
    assert_non_null(strstr(e->out, "domain 5: gone; nothing of it is left"));
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", NULL);
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, ORPHAN, "5");
    if (e->xsd.ox) {
        assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "5",
                                     NULL), 1);
        assert_non_null(strstr(e->err, "XENSTORE_PAYLOAD_MAX"));
        itest_assert_node(e, ORPHAN, "5");
    } else {
        assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "5",
                                     NULL), 0);
        assert_non_null(strstr(e->err, "domain 5 (gone) still holds PCI "
                               "device 0000:07:00.0 (named by its "
                               "/libxl/pci record)"));
        itest_assert_node(e, ORPHAN, NULL);
    }
    assert_filled(e, 700);
}

/* check of one domain costs what that domain holds (issue 22): on a host
 * of 64 guests x 8 devices (512 records: past one reply on oxenstored)
 * check of one of them sends exactly the requests the same check sends on
 * a host where that domain is alone, on both daemons; --repair of a
 * consistent domain too. */
static unsigned long check_requests(unsigned domid, unsigned flags)
{
    xlpci_check_result res;
    xlpci_stats st;
    xlpci_ctx *ctx;

    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    assert_int_equal(xlpci_check_flags(ctx, domid, flags, &res), 0);
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    assert_int_equal(res.problems, 0);
    assert_true(res.domain_exists);
    return st.requests;
}

static void guests(itest_env *e, unsigned from, unsigned to)
{
    char spec[8][16], name[16];
    xlpci_spec specs[8];
    xlpci_ctx *ctx;
    unsigned d, f;

    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    for (d = from; d < to; d++) {
        snprintf(name, sizeof(name), "g%u", d);
        itest_mkdomain(e, d, name);
        for (f = 0; f < 8; f++) {
            char err[128];

            snprintf(spec[f], sizeof(spec[f]), "%02x:00.%u", 0x80 + d, f);
            xlpci_spec_init(&specs[f]);
            assert_int_equal(xlpci_spec_parse(spec[f], &specs[f], err,
                                              sizeof(err)), 0);
        }
        assert_int_equal(xlpci_create(ctx, d, specs, 8, NULL, 0), 0);
        for (f = 0; f < 8; f++)
            xlpci_spec_dispose(&specs[f]);
    }
    xlpci_ctx_free(ctx);
}

static void test_check_cost_big_host(void **state)
{
    itest_env *e = *state;
    unsigned long alone, full, alone_r, full_r;

    guests(e, 10, 11);
    alone = check_requests(10, 0);
    alone_r = check_requests(10, XLPCI_CHECK_REPAIR);
    guests(e, 11, 74);
    full = check_requests(10, 0);
    full_r = check_requests(10, XLPCI_CHECK_REPAIR);
    assert_int_equal(full, alone);
    assert_int_equal(full_r, alone_r);
    assert_int_equal(check_requests(73, 0), alone);
    assert_int_equal(itest_xlpci(e, "check", "41", NULL), 0);
    assert_string_equal(e->out, "domain 41: consistent\n");
    fprintf(stderr, "check of one domain of 8 devices: %lu requests alone, "
            "%lu on a host of 64 x 8 (%s)\n", alone, full,
            e->xsd.ox ? "oxenstored" : "C xenstored");
}

/* name= on a full host: 700 records, the name asked for on the last. */
static void test_name_full_host(void **state)
{
    itest_env *e = *state;

    fill(e, 0, 700);
    itest_write(e, "/libxl/pci/0000-03-00-0/name", "nic");
    if (e->xsd.ox) {
        assert_int_equal(itest_xlpci(e, "create", "5", "name=nic", NULL), 1);
        assert_non_null(strstr(e->err, "XENSTORE_PAYLOAD_MAX"));
        assert_non_null(strstr(e->err, "could not look up the name \"nic\""));
        assert_null(strstr(e->err, "no PCI device is named"));
        itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    } else {
        assert_int_equal(itest_xlpci(e, "create", "5", "name=nic", NULL), 0);
        assert_int_equal(itest_find(e, 5, "0000:03:00.0"), 0);
        assert_int_equal(itest_xlpci(e, "create", "6", "name=nosuch",
                                     NULL), 1);
        assert_non_null(strstr(e->err, "no PCI device is named"));
    }
    assert_filled(e, 700);
}

/* pci-assignable-add -n on a full host: the name must be free among xl's
 * names; a lookup that cannot be made refuses, the device untouched. */
static void test_assignable_name_full_host(void **state)
{
    itest_env *e = *state;
    char sys[300], st[300];
    pid_t fake;

    assert_int_equal(itest_fakesysfs(e, sys, sizeof(sys), &fake), 0);
    snprintf(st, sizeof(st), "%s/state", e->dir);
    setenv("XLPCI_SYSFS_ROOT", sys, 1);
    setenv("XLPCI_STATE_DIR", st, 1);
    fill(e, 0, 700);
    if (e->xsd.ox) {
        assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "nic",
                                     "0000:03:00.0", NULL), 1);
        assert_non_null(strstr(e->err, "XENSTORE_PAYLOAD_MAX"));
        assert_string_equal(itest_driver_of(sys, "0000:03:00.0"), "e1000e");
        itest_assert_node(e, "/libxl/pci/0000-03-00-0/name", NULL);
    } else {
        assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "dev1",
                                     "0000:03:00.0", NULL), 1);
        assert_non_null(strstr(e->err, "\"dev1\" is already used by "
                               "0000:40:00.1"));
        assert_string_equal(itest_driver_of(sys, "0000:03:00.0"), "e1000e");
        assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "nic",
                                     "0000:03:00.0", NULL), 0);
        assert_string_equal(itest_driver_of(sys, "0000:03:00.0"),
                            "pciback");
        itest_assert_node(e, "/libxl/pci/0000-03-00-0/name", "nic");
    }
    assert_filled(e, 700);
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    h_stop(fake);
}

/* each test on C xenstored, then on oxenstored */
#define BOTH(t) \
    { #t, t, itest_setup, itest_teardown, NULL }, \
    { #t " (oxenstored)", t, itest_setup_ox, itest_teardown, NULL }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_destroy_full_host),
        BOTH(test_check_full_host),
        BOTH(test_check_no_conflict),
        BOTH(test_check_cost_big_host),
        BOTH(test_check_gone_full_host),
        BOTH(test_name_full_host),
        BOTH(test_assignable_name_full_host),
    };

    return cmocka_run_group_tests_name("bigdir", tests, NULL, NULL);
}

/*
 * The ownership record /libxl/pci/<dddd-bb-dd-f>/domid (libxl's, shared
 * with xl): written and removed in the transaction that writes and removes
 * the backend entries, honoured whoever wrote it, a stale one refused;
 * creates of different domains touch disjoint nodes; one device asked for
 * by several domains at once goes to exactly one.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "libxlpci.h"

#define NODE3 "/libxl/pci/0000-03-00-0/domid"

static void assert_node(itest_env *e, const char *path, const char *want)
{
    char *v = itest_read(e, path);

    if (want ? !v || strcmp(v, want) : v != NULL)
        fail_msg("%s = %s, expected %s", path, v ?: "(absent)",
                 want ?: "(absent)");
    free(v);
}

static void parse(xlpci_spec *spec, const char *s)
{
    char err[128];

    assert_int_equal(xlpci_spec_parse(s, spec, err, sizeof(err)), 0);
}

/* Seen from another connection just before the commit: nothing yet (the
 * create) or everything still (the removal); never one without the
 * other. */
struct seen { itest_env *e; bool want; unsigned calls; };

static void seen_hook(void *arg, unsigned attempt)
{
    struct seen *s = arg;

    (void)attempt;
    s->calls++;
    if (s->want) {
        assert_node(s->e, NODE3, "5");
        assert_node(s->e, BE(5) "/dev-0", "0000:03:00.0");
    } else {
        assert_node(s->e, NODE3, NULL);
        assert_node(s->e, BE(5) "/dev-0", NULL);
    }
}

static void test_node_with_backend(void **state)
{
    itest_env *e = *state;
    struct seen s = { e, false, 0 };
    xlpci_spec spec;
    xlpci_ctx *ctx;

    /* xl's pci-assignable-add -n leaves a name; it is not ours */
    itest_write(e, "/libxl/pci/0000-03-00-0/name", "nic");
    parse(&spec, "03:00.0");
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_txn_hook(ctx, seen_hook, &s);
    assert_int_equal(xlpci_create(ctx, 5, &spec, 1, NULL, 0), 0);
    assert_int_equal(s.calls, 1);
    assert_node(e, NODE3, "5");
    assert_node(e, BE(5) "/dev-0", "0000:03:00.0");

    /* no driver: the backend stays Initialising, detach removes it in one
     * transaction, with the record */
    s.want = true;
    s.calls = 0;
    assert_int_equal(xlpci_detach(ctx, 5, &spec, 0), 0);
    assert_int_equal(s.calls, 1);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    assert_node(e, NODE3, NULL);
    assert_node(e, BE(5), NULL);
    assert_node(e, "/libxl/pci/0000-03-00-0/name", "nic");
    /* the per-domain parents went with the last device */
    assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    assert_node(e, "/local/domain/5/device/pci", NULL);
    assert_node(e, "/local/domain/0/backend/pci", "");
}

/* Another live domain's record refuses the device, whoever wrote it, and
 * the refused command leaves the store as it was. */
static void test_other_domain_refused(void **state)
{
    itest_env *e = *state;
    char *before, *after;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    assert_node(e, NODE3, "5");
    itest_write(e, "/libxl/pci/0000-04-00-0/domid", "7");  /* by xl */
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "6", "05:00.0", "03:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:03:00.0 is already "
                           "assigned to domain 5"));
    assert_int_equal(itest_xlpci(e, "pci-attach", "6", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:03:00.0 is already "
                           "assigned to domain 5"));
    assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:04:00.0 is already "
                           "assigned to domain 7"));
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "already assigned to domain 7"));
    after = itest_dump(e);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* a device of its own is not another domain's: create -f keeps it and
     * drops the record of the one it no longer has */
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                 "06:00.0", NULL), 0);
    assert_node(e, NODE3, "5");
    assert_node(e, "/libxl/pci/0000-06-00-0/domid", "5");
    assert_node(e, "/libxl/pci/0000-05-00-0/domid", NULL);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

/* A record naming a domain that no longer exists is refused, naming the
 * way out; the store stays as it was. */
static void test_stale_node(void **state)
{
    itest_env *e = *state;
    char *before, *after;

    itest_write(e, NODE3, "42");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:03:00.0 is still "
                           "recorded as assigned to domain 42, which no "
                           "longer exists"));
    assert_non_null(strstr(e->err, "xlpci destroy 42"));
    after = itest_dump(e);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* Two creates of different domains, one committing inside the other's
 * transaction: the outer one still commits at its first attempt (they
 * share no node; the shared parents existed before). */
struct inner { unsigned calls; int rc; xlpci_stats st; };

static void inner_hook(void *arg, unsigned attempt)
{
    struct inner *in = arg;
    xlpci_spec spec;
    xlpci_ctx *ctx;

    in->calls++;
    if (attempt != 1)
        return;
    parse(&spec, "04:00.0");
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    in->rc = xlpci_create(ctx, 6, &spec, 1, NULL, 0);
    xlpci_ctx_get_stats(ctx, &in->st);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
}

static void test_creates_disjoint(void **state)
{
    itest_env *e = *state;
    struct inner in = { 0, -1, { 0, 0, 0, 0 } };
    xlpci_spec spec;
    xlpci_stats st;
    xlpci_ctx *ctx;

    parse(&spec, "03:00.0");
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_txn_hook(ctx, inner_hook, &in);
    assert_int_equal(xlpci_create(ctx, 5, &spec, 1, NULL, 0), 0);
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    assert_int_equal(in.rc, 0);
    assert_int_equal(in.calls, 1);
    assert_int_equal(in.st.eagain, 0);
    assert_int_equal(st.eagain, 0);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(itest_check_backend(e, 5), 1);
    assert_int_equal(itest_check_backend(e, 6), 1);
    assert_node(e, NODE3, "5");
    assert_node(e, "/libxl/pci/0000-04-00-0/domid", "6");
}

/* The same device asked for by four domains at once (four processes):
 * exactly one gets it; the others fail naming the winner and leave
 * nothing behind.  Several rounds. */
static void test_one_device_many_domains(void **state)
{
    itest_env *e = *state;
    unsigned round, d, winner, wins;
    pid_t pid[9];
    int status[9];
    char path[400], dom[8];

    for (round = 0; round < 3; round++) {
        for (d = 5; d <= 8; d++) {
            snprintf(dom, sizeof(dom), "%u", d);
            pid[d] = fork();
            assert_true(pid[d] >= 0);
            if (pid[d] == 0) {
                char *err = NULL;
                char *argv[] = { (char *)h_prog("xlpci"), "create", dom,
                                 "03:00.0", NULL };
                int rc = h_run(argv, NULL, &err);
                FILE *f;

                snprintf(path, sizeof(path), "%s/err-%u", e->dir, d);
                f = fopen(path, "w");
                if (f) {
                    fputs(err ? err : "", f);
                    fclose(f);
                }
                _exit(rc);
            }
        }
        winner = 0;
        wins = 0;
        for (d = 5; d <= 8; d++) {
            assert_int_equal(waitpid(pid[d], &status[d], 0), pid[d]);
            assert_true(WIFEXITED(status[d]));
            if (WEXITSTATUS(status[d]) == 0) {
                winner = d;
                wins++;
            } else {
                assert_int_equal(WEXITSTATUS(status[d]), 1);
            }
        }
        assert_int_equal(wins, 1);
        snprintf(dom, sizeof(dom), "%u", winner);
        assert_node(e, NODE3, dom);
        for (d = 5; d <= 8; d++) {
            char want[80], *text = NULL;
            size_t len = 0;
            FILE *f;

            if (d == winner)
                continue;
            snprintf(path, sizeof(path), "%s/err-%u", e->dir, d);
            f = fopen(path, "r");
            assert_non_null(f);
            assert_true(getdelim(&text, &len, '\0', f) > 0);
            fclose(f);
            snprintf(want, sizeof(want), "PCI device 0000:03:00.0 is "
                     "already assigned to domain %u", winner);
            if (!strstr(text, want))
                fail_msg("domain %u: %s", d, text);
            free(text);
            snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u",
                     d);
            assert_node(e, path, NULL);
            snprintf(path, sizeof(path), "/local/domain/%u/device/pci", d);
            assert_node(e, path, NULL);
        }
        assert_int_equal(itest_check_backend(e, winner), 1);
        assert_int_equal(itest_xlpci(e, "pci-detach", dom, "03:00.0", NULL),
                         0);
        assert_node(e, NODE3, NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node_with_backend, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_other_domain_refused,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_stale_node, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_creates_disjoint, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_one_device_many_domains,
                                        itest_setup, itest_teardown),
    };

    return cmocka_run_group_tests_name("owner", tests, NULL, NULL);
}

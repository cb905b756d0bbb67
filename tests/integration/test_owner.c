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

#include "internal.h"                 /* xlpci_layout_create: the cost */
#include "itest.h"
#include "libxlpci.h"
#include "libxlpci_testing.h"         /* xlpci_ctx_set_txn_hook */

#define NODE3 "/libxl/pci/0000-03-00-0/domid"

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
    if (++s->calls > 1)
        return;     /* the backend root's own, after a last device */
    if (s->want) {
        itest_assert_node(s->e, NODE3, "5");
        itest_assert_node(s->e, BE(5) "/dev-0", "0000:03:00.0");
    } else {
        itest_assert_node(s->e, NODE3, NULL);
        itest_assert_node(s->e, BE(5) "/dev-0", NULL);
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
    itest_assert_node(e, NODE3, "5");
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");

    /* no driver: the backend stays Initialising, detach removes it in one
     * transaction, with the record */
    s.want = true;
    s.calls = 0;
    assert_int_equal(xlpci_detach(ctx, 5, &spec, 0), 0);
    /* the removal, then (the backend root left empty) the root's own */
    assert_int_equal(s.calls, 2);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    itest_assert_node(e, NODE3, NULL);
    itest_assert_node(e, BE(5), NULL);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/name", "nic");
    /* the per-domain parents went with the last device, and the backend
     * root with them, empty (libxl leaves no empty parent either) */
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, "/local/domain/5/device/pci", NULL);
    itest_assert_node(e, "/local/domain/0/backend/pci", NULL);
}

/* Another live domain's record refuses the device, whoever wrote it, and
 * the refused command leaves the store as it was. */
static void test_other_domain_refused(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    itest_assert_node(e, NODE3, "5");
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
    itest_assert_store(e, before);
    free(before);
    /* a device of its own is not another domain's: create -f keeps it and
     * drops the record of the one it no longer has */
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "05:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                 "06:00.0", NULL), 0);
    itest_assert_node(e, NODE3, "5");
    itest_assert_node(e, "/libxl/pci/0000-06-00-0/domid", "5");
    itest_assert_node(e, "/libxl/pci/0000-05-00-0/domid", NULL);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

/* A record naming a domain that no longer exists holds nothing: the
 * device is free at once, the record taken over in the claim's own
 * transaction (a correction, said at -v); a live domain's is refused,
 * naming it, that it is alive and the command that frees it. */
static void test_stale_node(void **state)
{
    itest_env *e = *state;

    itest_write(e, NODE3, "42");
    assert_int_equal(itest_xlpci(e, "-v", "create", "6", "03:00.0", NULL),
                     0);
    assert_non_null(strstr(e->err, "correction: /libxl/pci record of "
                           "0000:03:00.0 named domain 42, which is gone: it "
                           "names domain 6 now"));
    itest_assert_node(e, NODE3, "6");
    assert_int_equal(itest_check_backend(e, 6), 1);
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 0);
    /* the same through pci-attach */
    itest_write(e, "/libxl/pci/0000-04-00-0/domid", "43");
    assert_int_equal(itest_xlpci(e, "pci-attach", "6", "04:00.0", NULL), 0);
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/domid", "6");
    /* a live domain's record is its */
    itest_write(e, "/libxl/pci/0000-05-00-0/domid", "7");
    assert_int_equal(itest_xlpci(e, "create", "5", "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:05:00.0 is already "
                           "assigned to domain 7 (domain 7 (alive) holds it: "
                           "its /libxl/pci record names it): `xlpci "
                           "pci-detach 7 0000:05:00.0` frees it"));
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
}

/* Without xen-pciback (no bookkeeping to name the holder): a stale
 * record naming a gone domain over a device a live domain's backend
 * lists.  Before the record is taken over the backends are searched:
 * create of another domain is refused naming the live one; check --audit
 * --repair of the gone domain rewrites the record for the live one; the
 * live domain keeps its device. */
static void test_stale_node_live_backend(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    itest_write(e, NODE3, "9");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "PCI device 0000:03:00.0 is already "
                           "assigned to domain 5 (domain 5 (alive) holds it: "
                           "its PCI backend lists it; /libxl/pci/"
                           "0000-03-00-0/domid names domain 9 (gone))"));
    assert_int_equal(itest_xlpci(e, "pci-attach", "7", "03:00.0", NULL), 1);
    itest_assert_store(e, before);
    free(before);
    /* nothing of 9 known without the host-wide look */
    assert_int_equal(itest_xlpci(e, "check", "--repair", "9", NULL), 0);
    itest_assert_node(e, NODE3, "9");
    assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "9",
                                 NULL), 0);
    itest_assert_node(e, NODE3, "5");
    assert_int_equal(itest_check_backend(e, 5), 2);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

/* Two creates of different domains, one committing inside the other's
 * transaction: the outer one still commits at its first attempt (they
 * share no node; the shared parents existed before).  warm: the devices'
 * /libxl/pci/<bdf> directories exist (as assignable-add and every release
 * leave them); cold: they do not (the first assignment after boot): each
 * create's first transaction finds that, is dropped, the directories are
 * made outside it, and the next one commits: still no EAGAIN. */
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

static void creates_disjoint(itest_env *e, bool warm)
{
    struct inner in = { 0, -1, { 0, 0, 0, 0 } };
    xlpci_spec spec;
    xlpci_stats st;
    xlpci_ctx *ctx;

    if (warm) {
        assert_true(xs_mkdir(e->xs, XBT_NULL, "/libxl/pci/0000-03-00-0"));
        assert_true(xs_mkdir(e->xs, XBT_NULL, "/libxl/pci/0000-04-00-0"));
    }
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
    assert_int_equal(st.transactions, 1);
    assert_int_equal(in.st.transactions, 1);
    assert_int_equal(st.attempts, warm ? 1 : 2);
    assert_int_equal(in.st.attempts, warm ? 1 : 2);
    assert_int_equal(itest_check_backend(e, 5), 1);
    assert_int_equal(itest_check_backend(e, 6), 1);
    itest_assert_node(e, NODE3, "5");
    itest_assert_node(e, "/libxl/pci/0000-04-00-0/domid", "6");
}

static void test_creates_disjoint(void **state)
{
    creates_disjoint(*state, true);
}

static void test_creates_disjoint_cold(void **state)
{
    creates_disjoint(*state, false);
}

/* The same device taken by another domain inside our transaction (it
 * commits just before we do): our commit conflicts on the device's
 * record directory, listed in our transaction, and the next attempt
 * refuses it, leaving nothing behind; also when the directory did not
 * exist before (our first transaction made it be created outside). */
struct thief { unsigned calls; int rc; };

static void thief_hook(void *arg, unsigned attempt)
{
    struct thief *th = arg;
    xlpci_spec spec;
    xlpci_ctx *ctx;

    /* once: the refused create's cleanup runs a transaction too */
    if (attempt != 1 || th->calls++)
        return;
    parse(&spec, "03:00.0");
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    th->rc = xlpci_create(ctx, 6, &spec, 1, NULL, 0);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
}

static void same_device_inside(itest_env *e, bool warm)
{
    struct thief th = { 0, -1 };
    xlpci_spec spec;
    xlpci_stats st;
    xlpci_ctx *ctx;

    if (warm)
        itest_write(e, "/libxl/pci/0000-03-00-0/name", "nic");
    parse(&spec, "03:00.0");
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_txn_hook(ctx, thief_hook, &th);
    assert_int_equal(xlpci_create(ctx, 5, &spec, 1, NULL, 0),
                     XLPCI_ERR_EXISTS);
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    xlpci_spec_dispose(&spec);
    assert_int_equal(th.rc, 0);
    assert_int_equal(st.eagain, 1);
    itest_assert_node(e, NODE3, "6");
    assert_int_equal(itest_check_backend(e, 6), 1);
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, "/local/domain/5/device/pci", NULL);
}

static void test_same_device_inside(void **state)
{
    same_device_inside(*state, true);
}

static void test_same_device_inside_cold(void **state)
{
    same_device_inside(*state, false);
}

/* A failed create leaves the store as it was, with one exception: an
 * empty .../backend/pci/<domid> of that domain (left by a tool that
 * removed only .../<domid>/0) goes, as the removal of a domain's last
 * device clears it.  Knowing whether it was there before would cost
 * every create one more request (docs/protocol.md 3.6). */
static void test_empty_parent_cleared(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    /* refused, no parent before: exactly as it was */
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    itest_assert_store(e, before);
    /* refused, an empty parent before: the parent goes, nothing else */
    assert_true(xs_mkdir(e->xs, XBT_NULL, "/local/domain/0/backend/pci/6"));
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "already assigned to domain 5"));
    itest_assert_node(e, "/local/domain/0/backend/pci/6", NULL);
    itest_assert_store(e, before);
    free(before);
}

/* The backend root: a failed create does not read it first, yet leaves
 * the store as it was whether the root was absent or held another
 * guest; the removal of the last device of the last guest removes it
 * (libxl's path cleanup leaves no empty parent either), and one left
 * empty by another tool goes with the next failed create. */
static void test_backend_root(void **state)
{
    itest_env *e = *state;
    char *before;

    /* absent: a refused create (domain 9 does not exist) makes it and
     * removes it again, with its ancestors */
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "9", "03:00.0", NULL), 1);
    itest_assert_store(e, before);
    free(before);
    /* another guest's backend in it: stays */
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    itest_assert_store(e, before);
    free(before);
    /* a second guest, then the first goes: the root stays for the second */
    assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "destroy", "-f", "5", NULL), 0);
    itest_assert_node(e, "/local/domain/0/backend/pci/5", NULL);
    itest_assert_node(e, "/local/domain/0/backend/pci/6/0/num_devs", "1");
    /* the last device of the last guest: the root goes, empty */
    assert_int_equal(itest_xlpci(e, "pci-detach", "6", "04:00.0", NULL), 0);
    itest_assert_node(e, "/local/domain/0/backend/pci/6", NULL);
    itest_assert_node(e, "/local/domain/0/backend/pci", NULL);
    /* left empty by someone else: the next failed create removes it */
    assert_true(xs_mkdir(e->xs, XBT_NULL, "/local/domain/0/backend/pci"));
    assert_int_equal(itest_xlpci(e, "create", "9", "03:00.0", NULL), 1);
    itest_assert_node(e, "/local/domain/0/backend/pci", NULL);
}

/* What one create costs, in requests (the library's count): the
 * transaction's own writes (xlpci_layout_create and the records), its
 * start and commit, one request per device (its record's directory,
 * listed in the transaction), and three more: the domain's name, its
 * backend (absent) and the mkdir of backend/pci/<domid>.  Nothing else:
 * not the backend root, not the other guests' backends (one is there),
 * not the records outside the transaction. */
static void test_create_cost(void **state)
{
    itest_env *e = *state;
    static const unsigned ns[] = { 1, 4 };
    unsigned k;

    assert_int_equal(itest_xlpci(e, "create", "7", "20:00.0", "20:00.1",
                                 "20:01.0", NULL), 0);
    for (k = 0; k < 2; k++) {
        unsigned n = ns[k], i;
        unsigned long want;
        xlpci_spec specs[4];
        xlpci_dev devs[4];
        xlpci_ops ops;
        xlpci_stats st;
        xlpci_ctx *ctx;
        char path[XLPCI_PATH_MAX], b[32];

        memset(devs, 0, sizeof(devs));
        for (i = 0; i < n; i++) {
            snprintf(b, sizeof(b), "0000:1%u:00.0", i);
            parse(&specs[i], b);
            devs[i].bdf = specs[i].bdf;
            xlpci_libxl_path(path, &devs[i].bdf, NULL);
            assert_true(xs_mkdir(e->xs, XBT_NULL, path));
        }
        xlpci_ops_init(&ops);
        assert_int_equal(xlpci_layout_create(&ops, 5, "guest5", devs, n), 0);
        want = ops.n + n + 2 + n + 3;  /* layout + records, start, commit */
        xlpci_ops_dispose(&ops);
        assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
        assert_int_equal(xlpci_create(ctx, 5, specs, n, NULL, 0), 0);
        xlpci_ctx_get_stats(ctx, &st);
        xlpci_ctx_free(ctx);
        assert_int_equal(st.requests, want);
        assert_int_equal(st.attempts, 1);
        assert_int_equal(itest_check_backend(e, 5), n);
        if (itest_xlpci(e, "destroy", "-f", "5", NULL))
            fail_msg("destroy: %s", e->err);
        for (i = 0; i < n; i++)
            xlpci_spec_dispose(&specs[i]);
    }
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
    char path[400], dom[12];   /* any unsigned */

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
        itest_assert_node(e, NODE3, dom);
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
            itest_assert_node(e, path, NULL);
            snprintf(path, sizeof(path), "/local/domain/%u/device/pci", d);
            itest_assert_node(e, path, NULL);
        }
        assert_int_equal(itest_check_backend(e, winner), 1);
        assert_int_equal(itest_xlpci(e, "pci-detach", dom, "03:00.0", NULL),
                         0);
        itest_assert_node(e, NODE3, NULL);
    }
}

/* check: a listed device without its record (a backend written before the
 * record existed, or by a toolstack that keeps none: create would hand it
 * out again) is reported and --repair writes it; a device also in another
 * domain's backend is reported, never repaired. */
static void test_check_records(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    assert_true(xs_rm(e->xs, XBT_NULL, NODE3));
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "its backend lists 0000:03:00.0 but "
                           "/libxl/pci/0000-03-00-0/domid is missing"));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_node(e, NODE3, "5");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_int_equal(itest_xlpci(e, "create", "6", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "already assigned to domain 5"));

    /* another toolstack put 04:00.0 in domain 6's backend too: only
     * --audit looks at every backend (the default check costs what the
     * domain holds) */
    itest_write(e, BE(6) "/dev-0", "0000:04:00.0");
    itest_write(e, BE(6) "/num_devs", "1");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "--audit", "--repair", "5",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "0000:04:00.0 is also in the PCI backend "
                           "of domain 6"));
    itest_assert_store(e, before);
    free(before);
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 1);
    assert_non_null(strstr(e->err, "its backend lists 0000:04:00.0, which "
                           "/libxl/pci/0000-04-00-0/domid gives to domain 5"));
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
        cmocka_unit_test_setup_teardown(test_stale_node_live_backend,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_creates_disjoint, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_creates_disjoint_cold,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_same_device_inside,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_same_device_inside_cold,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_create_cost, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_empty_parent_cleared,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_backend_root, itest_setup,
                                        itest_teardown),
        /* oxenstored replays a conflicting transaction and commits it if
         * every reply is the same: the listing of the record's directory
         * differs once another domain took the device */
        cmocka_unit_test_setup_teardown(test_creates_disjoint, itest_setup_ox,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_creates_disjoint_cold,
                                        itest_setup_ox, itest_teardown),
        cmocka_unit_test_setup_teardown(test_same_device_inside,
                                        itest_setup_ox, itest_teardown),
        cmocka_unit_test_setup_teardown(test_same_device_inside_cold,
                                        itest_setup_ox, itest_teardown),
        cmocka_unit_test_setup_teardown(test_one_device_many_domains,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_check_records, itest_setup,
                                        itest_teardown),
    };

    return cmocka_run_group_tests_name("owner", tests, NULL, NULL);
}

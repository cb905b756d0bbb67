/*
 * Hostile guests and damaged stores (issue 13), against the real
 * xenstored.  A guest owns its frontend directory and may write anything
 * there, as often as it likes; a store may have been damaged by hand or by
 * a crashed tool.  Each test asserts a bound (a command ends by its -t
 * deadline + 1 s) or an invariant (nothing lost, check tells the truth).
 *
 * The guests here are processes writing the store directly: the model's
 * pcifront is well-behaved by design.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "libxlpci_priv.h"

#define FE(d) "/local/domain/" #d "/device/pci/0"

static void connected_exported(itest_env *e, unsigned n);

/* A guest rewriting path with the values in turn, as fast as the store
 * takes them, for at most limit_ms (so a test of an unbounded wait fails
 * instead of hanging).  Its own connection; stop with flood_stop. */
static pid_t flood_start(const char *path, const char *const *values,
                         int limit_ms)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        struct xs_handle *xs = xs_open(0);
        long long end = h_now_ms() + limit_ms;
        unsigned i = 0;

        if (!xs)
            _exit(2);
        while (h_now_ms() < end) {
            const char *v = values[i++ % 2];

            if (!xs_write(xs, XBT_NULL, path, v, strlen(v)))
                _exit(3);
        }
        xs_close(xs);
        _exit(0);
    }
    return pid;
}

static void flood_stop(pid_t pid)
{
    int st;

    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* it was still flooding when stopped */
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* The bound of -t N: N + 1 s (more under valgrind, whose start alone takes
 * seconds). */
static long long bound_ms(int t)
{
    return (t + 1) * 1000LL + (h_slow() > 1 ? 8000 : 0);
}

/* Backend Connected, one exported device (03:00.0 at index 0), and a
 * guest whose frontend is never Connected: it flips its state between
 * Initialising and Initialised in a loop. */
static pid_t connected_backend_flooding_guest(itest_env *e)
{
    static const char *const states[2] = { "1", "3" };

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    itest_write(e, BE(5) "/state", "4");
    itest_write(e, BE(5) "/state-0", "3");
    itest_write(e, BE(5) "/vdev-0", "0000:00:00.0");
    return flood_start(FE(5) "/state", states, 15000);
}

/* 1. A guest flooding its frontend state does not stretch -t. */
static void test_flood_attach(void **state)
{
    itest_env *e = *state;
    pid_t guest = connected_backend_flooding_guest(e);
    long long t0 = h_now_ms(), took;
    int rc;

    rc = itest_xlpci(e, "pci-attach", "-t", "2", "5", "04:00.0", NULL);
    took = h_now_ms() - t0;
    flood_stop(guest);
    if (took > bound_ms(2))
        fail_msg("pci-attach -t 2 took %lld ms under a flooding guest",
                 took);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(e->err, "nothing was written"));
    assert_int_equal(itest_check_backend(e, 5), 1);
}

static void test_flood_detach(void **state)
{
    itest_env *e = *state;
    pid_t guest = connected_backend_flooding_guest(e);
    long long t0 = h_now_ms(), took;
    int rc;

    rc = itest_xlpci(e, "pci-detach", "-t", "2", "5", "03:00.0", NULL);
    took = h_now_ms() - t0;
    flood_stop(guest);
    if (took > bound_ms(2))
        fail_msg("pci-detach -t 2 took %lld ms under a flooding guest",
                 took);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(e->err, "nothing was changed"));
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    itest_assert_node(e, BE(5) "/state-0", "3");
}

/* A guest writing garbage at every step: its frontend state flips
 * between values that are no xenbus state, as fast as it can.  The bound
 * holds, nothing is written, the message says what the state is. */
static void test_garbage_flood(void **state)
{
    static const char *const junk[2] = { "garbage", "99999999999" };
    itest_env *e = *state;
    long long t0, took;
    pid_t guest;
    int rc;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    itest_write(e, BE(5) "/state", "4");
    itest_write(e, BE(5) "/state-0", "3");
    itest_write(e, BE(5) "/vdev-0", "0000:00:00.0");
    guest = flood_start(FE(5) "/state", junk, 15000);
    t0 = h_now_ms();
    rc = itest_xlpci(e, "pci-attach", "-t", "1", "5", "04:00.0", NULL);
    took = h_now_ms() - t0;
    flood_stop(guest);
    if (took > bound_ms(1))
        fail_msg("pci-attach -t 1 took %lld ms under a garbage flood", took);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(e->err, "not a xenbus state"));
    assert_int_equal(itest_check_backend(e, 5), 1);
}

/* Issue 21: a guest (or several writers) rewriting its frontend state
 * with "4", Connected, as fast as the store takes it.  On C xenstored
 * every transaction that read the node conflicts; the retries end by the
 * command's deadline, not by a count: -t 2 ends within 3 s, nothing is
 * written, and the message says why. */
static long long flood_connected_run(itest_env *e, unsigned writers,
                                     bool detach, const char *t)
{
    static const char *const connected[2] = { "4", "4" };
    char want[64];
    pid_t guest[16];
    long long t0, took;
    unsigned i;
    int rc;

    assert_true(writers <= 16);
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0", NULL),
                     0);
    connected_exported(e, 1);
    for (i = 0; i < writers; i++)
        guest[i] = flood_start(FE(5) "/state", connected, 30000);
    h_sleep_ms(50);                    /* the writers are writing */
    t0 = h_now_ms();
    rc = detach ? itest_xlpci(e, "pci-detach", "-t", t, "5", "03:00.0",
                              NULL)
                : itest_xlpci(e, "pci-attach", "-t", t, "5", "04:00.0",
                              NULL);
    took = h_now_ms() - t0;
    for (i = 0; i < writers; i++)
        flood_stop(guest[i]);
    assert_int_equal(rc, 1);
    /* what happened: every attempt conflicted, up to the deadline; or
     * (oxenstored, which conflicts less) the cycle found no pcifront */
    if (!strstr(e->err, "the store changed under each of its") &&
        !strstr(e->err, "Reconfiguring cycle"))
        fail_msg("%u writer(s): %s", writers, e->err);
    snprintf(want, sizeof(want), "command's deadline (%.0f ms)",
             atof(t) * 1000);
    if (strstr(e->err, "the store changed under each of its")) {
        assert_non_null(strstr(e->err, want));
        assert_non_null(strstr(e->err, "wrote nothing"));
    }
    /* nothing written, or rolled back */
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    itest_assert_node(e, BE(5) "/state", "4");
    itest_assert_node(e, BE(5) "/state-0", "3");
    return took;
}

static void flood_connected(itest_env *e, unsigned writers, bool detach)
{
    long long took = flood_connected_run(e, writers, detach, "2");

    if (took > bound_ms(2))
        fail_msg("%s -t 2 took %lld ms beside %u writer(s) of \"4\": %s",
                 detach ? "pci-detach" : "pci-attach", took, writers,
                 e->err);
}

/* FLOOD_TABLE=FILE (tests/flood-table): the wall times of the floods, the
 * max of 5 runs per row, appended to FILE as "pv|daemon|command|t|writers|
 * max ms|bound ms" lines; no timing is asserted beyond the bound. */
static void test_flood_table(void **state)
{
    static const char *const ts[] = { "2", "5" };
    static const unsigned writers[] = { 1, 4, 16 };
    itest_env *e = *state;
    const char *file = getenv("FLOOD_TABLE");
    long long took, max;
    size_t i, w;
    int detach, run;
    FILE *f;

    assert_non_null(file);
    for (detach = 0; detach < 2; detach++)
        for (i = 0; i < 2; i++)
            for (w = 0; w < 3; w++) {
                for (max = 0, run = 0; run < 5; run++) {
                    took = flood_connected_run(e, writers[w], detach, ts[i]);
                    max = took > max ? took : max;
                }
                f = fopen(file, "a");
                assert_non_null(f);
                fprintf(f, "pv|%s|%s|%s|%u|%lld|%lld\n",
                        e->xsd.ox ? "oxenstored" : "C xenstored",
                        detach ? "pci-detach" : "pci-attach", ts[i],
                        writers[w], max, bound_ms(atoi(ts[i])));
                fclose(f);
                if (max > bound_ms(atoi(ts[i])))
                    fail_msg("%s -t %s beside %u writer(s) took %lld ms",
                             detach ? "pci-detach" : "pci-attach", ts[i],
                             writers[w], max);
            }
}

/* Memory: libxenstore queues every watch event until it is read, and the
 * guest makes tens of thousands a second; the events of the watch held
 * across the attempts are dropped between them.  The peak of -t 10 and
 * of -t 1 differ by a few MB (they differed by ~3 MB/s of the wait). */
static long flood_rss(itest_env *e, const char *t)
{
    static const char *const connected[2] = { "4", "4" };
    pid_t guest[4];
    long rss;
    unsigned i;

    for (i = 0; i < 4; i++)
        guest[i] = flood_start(FE(5) "/state", connected, 20000);
    h_sleep_ms(50);
    assert_int_equal(itest_xlpci_measured(e, 0, &rss, "pci-attach", "-t",
                                          t, "5", "04:00.0", NULL), 1);
    for (i = 0; i < 4; i++)
        flood_stop(guest[i]);
    return rss;
}

static void test_flood_connected(void **state)
{
    itest_env *e = *state;
    long short_rss, long_rss;

    flood_connected(e, 1, false);
    flood_connected(e, 4, false);
    flood_connected(e, 1, true);
    flood_connected(e, 4, true);
    if (h_slow() > 1)
        return;                        /* valgrind: the times above */
    short_rss = flood_rss(e, "1");
    long_rss = flood_rss(e, "10");
    fprintf(stderr, "pci-attach beside 4 writers: peak %ld kB at -t 1, %ld "
            "kB at -t 10\n", short_rss, long_rss);
    if (long_rss > short_rss + 8 * 1024)
        fail_msg("pci-attach beside 4 writers: peak %ld kB at -t 10, %ld kB "
                 "at -t 1", long_rss, short_rss);
}

/* C xenstored answers an rm, inside a transaction, of a directory the
 * transaction listed and someone else changed meanwhile (a child it
 * listed but did not read went) with EIO instead of EAGAIN (destroy -f
 * racing a pci-detach); the whole transaction is run again as for a
 * conflict. */
static unsigned changes;

static void change_backend(void *arg, unsigned attempt)
{
    itest_env *e = arg;

    (void)attempt;
    if (!changes++)                    /* the first transaction's writes */
        assert_true(xs_rm(e->xs, XBT_NULL, BE(5) "/online"));
}

static void test_rm_eio_is_a_conflict(void **state)
{
    itest_env *e = *state;
    unsigned released = 0;
    xlpci_stats st;
    xlpci_ctx *ctx;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    connected_exported(e, 2);
    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    changes = 0;
    xlpci_ctx_set_txn_write_hook(ctx, change_backend, e);
    assert_int_equal(xlpci_destroy(ctx, 5, XLPCI_DESTROY_FORCE, &released),
                     0);
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    assert_int_equal(released, 2);
    assert_true(st.eagain >= 1);
    assert_int_equal(itest_check_backend(e, 5), 0);
    itest_assert_node(e, "/libxl/pci/0000-03-00-0/domid", NULL);
}

/* A guest with thousands of nodes in its frontend directory: xlpci reads
 * only its state node, so the flows and check run as usual, and quickly. */
static void test_thousands_of_guest_nodes(void **state)
{
    itest_env *e = *state;
    char path[160];
    long long t0;
    unsigned i;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    for (i = 0; i < 3000; i++) {
        snprintf(path, sizeof(path), FE(5) "/junk-%u", i);
        itest_write(e, path, "0000:ff:1f.7");
    }
    t0 = h_now_ms();
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 1);
    if (h_now_ms() - t0 > 3000LL * h_slow())
        fail_msg("3 commands took %lld ms beside 3000 guest nodes",
                 h_now_ms() - t0);
}

/* 3. A backend without num_devs whose guest still has its devices:
 * pci-attach refuses (naming check --repair) instead of writing the
 * backend anew with only the new device. */
static void test_attach_no_num_devs(void **state)
{
    itest_env *e = *state;
    char *before, path[160], vdev[32];
    unsigned i;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 "05:00.0", NULL), 0);
    /* as pciback leaves it once the guest has them */
    itest_write(e, BE(5) "/state", "4");
    itest_write(e, FE(5) "/state", "4");
    for (i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), BE(5) "/state-%u", i);
        itest_write(e, path, "3");
        snprintf(path, sizeof(path), BE(5) "/vdev-%u", i);
        snprintf(vdev, sizeof(vdev), "0000:00:%02x.0", i);
        itest_write(e, path, vdev);
    }
    assert_true(xs_rm(e->xs, XBT_NULL, BE(5) "/num_devs"));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "5", "06:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "no num_devs"));
    assert_non_null(strstr(e->err, "check --repair 5"));
    itest_assert_store(e, before);
    free(before);
    /* the way out it names */
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    itest_assert_node(e, BE(5) "/num_devs", "3");
    itest_assert_node(e, BE(5) "/dev-2", "0000:05:00.0");
}

/* Both ends Connected with the devices exported, as pciback leaves them
 * (state-N = 3, vdev-N) once the guest has them. */
static void connected_exported(itest_env *e, unsigned n)
{
    char path[160], vdev[32];
    unsigned i;

    itest_write(e, BE(5) "/state", "4");
    itest_write(e, FE(5) "/state", "4");
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), BE(5) "/state-%u", i);
        itest_write(e, path, "3");
        snprintf(path, sizeof(path), BE(5) "/vdev-%u", i);
        snprintf(vdev, sizeof(vdev), "0000:00:%02x.0", i);
        itest_write(e, path, vdev);
    }
}

/* xlpci in a child process, its stderr into <dir>/bg.err. */
static pid_t bg_xlpci(itest_env *e, const char *a1, const char *a2,
                      const char *a3, const char *a4, const char *a5)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        char path[320];
        int rc = itest_xlpci(e, a1, a2, a3, a4, a5, NULL);
        FILE *f;

        snprintf(path, sizeof(path), "%s/bg.err", e->dir);
        f = fopen(path, "w");
        if (f) {
            fputs(e->err ?: "", f);
            fclose(f);
        }
        _exit(rc);
    }
    return pid;
}

/* Its exit status; *err_r its stderr (malloc'd). */
static int bg_wait(itest_env *e, pid_t pid, char **err_r)
{
    char path[320], buf[4096];
    size_t got = 0;
    FILE *f;
    int st;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    snprintf(path, sizeof(path), "%s/bg.err", e->dir);
    f = fopen(path, "r");
    if (f) {
        got = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[got] = '\0';
    *err_r = strdup(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* 5. check --repair removes the released index between the end of the
 * detach's cycle and its removal transaction: the detach succeeds (the
 * device is gone, as asked).  The test plays pciback and the repair in one
 * transaction, so the race is taken every time. */
static void test_detach_races_repair(void **state)
{
    static const char *const keys[] = { "key", "dev", "opts", "state",
                                        "vdev" };
    itest_env *e = *state;
    char path[160], from[160], *v, *err;
    xs_transaction_t t;
    pid_t pid;
    size_t k;
    int rc;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    connected_exported(e, 2);
    pid = bg_xlpci(e, "pci-detach", "-t", "10", "5", "03:00.0");
    assert_true(itest_wait_value(e, BE(5) "/state", "7", 10000 * h_slow()));
    /* pciback ends the cycle; check --repair drops the released index */
    for (;;) {
        t = xs_transaction_start(e->xs);
        assert_true(t != XBT_NULL);
        assert_true(xs_write(e->xs, t, BE(5) "/state", "4", 1));
        for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            unsigned len;

            snprintf(from, sizeof(from), BE(5) "/%s-1", keys[k]);
            snprintf(path, sizeof(path), BE(5) "/%s-0", keys[k]);
            v = xs_read(e->xs, t, from, &len);
            assert_non_null(v);
            assert_true(xs_write(e->xs, t, path, v, len));
            assert_true(xs_rm(e->xs, t, from));
            free(v);
        }
        assert_true(xs_write(e->xs, t, BE(5) "/num_devs", "1", 1));
        if (xs_transaction_end(e->xs, t, false))
            break;
        assert_int_equal(errno, EAGAIN);
    }
    rc = bg_wait(e, pid, &err);
    if (rc)
        fail_msg("pci-detach exit %d: %s", rc, err);
    free(err);
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:04:00.0");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

/* A config with n devices 01:00.0, 01:01.0, ... */
static void write_cfg(itest_env *e, const char *path, unsigned n)
{
    FILE *f = fopen(path, "w");
    unsigned i;

    assert_non_null(f);
    fputs("pci = [", f);
    for (i = 0; i < n; i++)
        fprintf(f, "%s'%02x:%02x.0'", i ? ", " : "", 1 + i / 32, i % 32);
    fputs("]\n", f);
    assert_int_equal(fclose(f), 0);
    (void)e;
}

/* 6. The protocol's 256 devices: create and pci-attach refuse to go past
 * them (nothing written); check sees every orphan key, at any index and
 * however spelled, and --repair removes them all. */
static void test_past_256(void **state)
{
    itest_env *e = *state;
    char cfg[320], path[160], *before, **names;
    unsigned i, n;

    snprintf(cfg, sizeof(cfg), "%s/257.cfg", e->dir);
    write_cfg(e, cfg, 257);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "-c", cfg, "5", NULL), 2);
    assert_non_null(strstr(e->err, "at most 256"));
    itest_assert_store(e, before);
    free(before);

    write_cfg(e, cfg, 256);
    assert_int_equal(itest_xlpci(e, "create", "-c", cfg, "5", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 256);
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "5", "0a:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "at most 256"));
    itest_assert_store(e, before);
    free(before);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: consistent\n");

    /* 10,000 orphans past num_devs, one at index 256, non-canonical keys */
    assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0", NULL),
                     0);
    itest_write(e, BE(5) "/dev-03", "0000:09:00.0");
    itest_write(e, BE(5) "/vdev-00", "0000:00:00.0");
    itest_write(e, BE(5) "/state-256", "1");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->out, "3 problem(s)"));
    assert_non_null(strstr(e->err, "dev-03 is not a key pciback reads"));
    assert_non_null(strstr(e->err, "vdev-00 is not a key pciback reads"));
    assert_non_null(strstr(e->err, "state-256: index 256 lies past"));
    for (i = 1; i <= 10000; i++) {
        snprintf(path, sizeof(path), BE(5) "/dev-%u", i);
        itest_write(e, path, "0000:09:00.0");
    }
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->out, "10003 problem(s)"));
    assert_non_null(strstr(e->err, "and 9995 more orphan key(s)"));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
    names = xs_directory(e->xs, XBT_NULL, BE(5), &n);
    assert_non_null(names);
    for (i = 0; i < n; i++)
        if (strchr(names[i], '-') && !strstr(names[i], "-0") &&
            strcmp(names[i], "frontend-id"))
            fail_msg("%s left after the repair", names[i]);
    free(names);
    itest_assert_node(e, BE(5) "/dev-03", NULL);
    itest_assert_node(e, BE(5) "/vdev-00", NULL);
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    assert_int_equal(itest_check_backend(e, 5), 1);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_string_equal(e->out, "domain 5: consistent\n");
}

/* Issue 21: pci-attach wrote over orphan keys past num_devs (num_devs 2,
 * dev-2 = a device its record gives to the domain): its rolled-back cycle
 * then removed them and the device was listed nowhere.  Refused like every
 * damaged backend, naming the key and the way out; check reports it. */
static void test_attach_over_orphans(void **state)
{
    itest_env *e = *state;
    char *before;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    connected_exported(e, 2);
    itest_write(e, BE(5) "/dev-2", "0000:05:00.0");
    itest_write(e, BE(5) "/state-2", "3");
    itest_write(e, "/libxl/pci/0000-05-00-0/domid", "5");
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "5", "06:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "lies at index 2, past num_devs 2"));
    assert_non_null(strstr(e->err, "not written over"));
    assert_non_null(strstr(e->err, "check --repair 5"));
    itest_assert_store(e, before);
    free(before);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "index 2 lies past num_devs 2"));
}

/* 7. A malformed per-index value: detach and attach refuse naming it,
 * check reports it (never "consistent"), --repair says it cannot fix it
 * and changes nothing. */
static void test_malformed_values(void **state)
{
    static const struct { const char *key, *value; } bad[] = {
        { "state-1", "x" }, { "vdevfn-1", "zz" },
        { "opts-1", "permissive=2" },
    };
    itest_env *e = *state;
    char path[160], *before;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                     "04:00.0", "05:00.0", NULL), 0);
        connected_exported(e, 3);
        snprintf(path, sizeof(path), BE(5) "/%s", bad[i].key);
        itest_write(e, path, bad[i].value);
        before = itest_dump(e);
        assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "1", "5",
                                     "04:00.0", NULL), 1);
        if (!strstr(e->err, bad[i].key) || strstr(e->err, "not attached"))
            fail_msg("detach with %s = %s: %s", bad[i].key, bad[i].value,
                     e->err);
        assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "5",
                                     "04:00.0", NULL), 1);
        if (!strstr(e->err, bad[i].key) || strstr(e->err, "already"))
            fail_msg("attach with %s = %s: %s", bad[i].key, bad[i].value,
                     e->err);
        assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
        assert_null(strstr(e->out, "consistent"));
        assert_non_null(strstr(e->err, bad[i].key));
        assert_non_null(strstr(e->err, "not repairable"));
        assert_non_null(strstr(e->out, "--repair cannot fix them"));
        assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 1);
        assert_non_null(strstr(e->out, "1 problem(s) left"));
        itest_assert_store(e, before);
        free(before);
    }
}

/* 8. One device spelled two ways is one device: check reports it, the
 * flows refuse the backend, --repair keeps one. */
static void test_duplicates_by_address(void **state)
{
    static const char *const pairs[][2] = {
        { "07:00.0", "0000:07:00.0" }, { "0000:0A:00.0", "0000:0a:00.0" },
    };
    itest_env *e = *state;
    size_t i;

    for (i = 0; i < 2; i++) {
        assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                     "04:00.0", NULL), 0);
        itest_write(e, BE(5) "/dev-0", pairs[i][0]);
        itest_write(e, BE(5) "/dev-1", pairs[i][1]);
        assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
        assert_non_null(strstr(e->err, "are both"));
        assert_int_equal(itest_xlpci(e, "pci-attach", "5", "06:00.0",
                                     NULL), 1);
        assert_non_null(strstr(e->err, "are both"));
        assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
        assert_int_equal(itest_check_backend(e, 5), 1);
        itest_assert_node(e, BE(5) "/dev-0", pairs[i][0]);
    }
}

/* 10. check of a domain that does not exist: the message says so;
 * nothing of it is left, so the exit status is 0 (issue 19); pci-list
 * fails. */
static void test_no_such_domain(void **state)
{
    itest_env *e = *state;

    /* issue 21: a record that names no domain, of a device no backend
     * lists, is no concern of domain 6's check: it used to print an
     * error about it, then "consistent" */
    itest_write(e, "/libxl/pci/0000-09-00-0/domid", "garbage");
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 0);
    assert_string_equal(e->out, "domain 6: consistent\n");
    assert_string_equal(e->err, "");

    assert_int_equal(itest_xlpci(e, "check", "99", NULL), 0);
    assert_non_null(strstr(e->err, "domain 99 does not exist"));
    assert_null(strstr(e->out, "consistent"));
    assert_int_equal(itest_xlpci(e, "pci-list", "99", NULL), 1);
    assert_non_null(strstr(e->err, "domain 99 does not exist"));
    /* an existing domain without devices is fine */
    assert_int_equal(itest_xlpci(e, "pci-list", "6", NULL), 0);
    assert_int_equal(itest_xlpci(e, "check", "6", NULL), 0);
}

/* 9. Another domain's damaged backend must not hide the device: create
 * and pci-attach go by the device's ownership record
 * (/libxl/pci/<bdf>/domid), which the damage does not touch, and refuse
 * instead of giving the device to a second domain. */
static void test_damaged_other_backend(void **state)
{
    static const char *const bad_num[] = { NULL, "2x" };
    itest_env *e = *state;
    char *before;
    size_t i;

    for (i = 0; i < 2; i++) {
        assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                     "04:00.0", NULL), 0);
        if (bad_num[i])
            itest_write(e, BE(5) "/num_devs", bad_num[i]);
        else
            assert_true(xs_rm(e->xs, XBT_NULL, BE(5) "/num_devs"));
        /* the device's ownership record, not the other backend, says
         * who has it: however damaged domain 5's backend is, 04:00.0
         * stays domain 5's */
        before = itest_dump(e);
        assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 1);
        assert_non_null(strstr(e->err, "already assigned to domain 5"));
        assert_int_equal(itest_xlpci(e, "pci-attach", "6", "04:00.0", NULL),
                         1);
        assert_non_null(strstr(e->err, "already assigned to domain 5"));
        itest_assert_store(e, before);
        free(before);
        /* repaired, the same answer */
        assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 0);
        assert_int_equal(itest_xlpci(e, "create", "6", "04:00.0", NULL), 1);
        assert_non_null(strstr(e->err, "already assigned to domain 5"));
        assert_int_equal(itest_xlpci(e, "create", "6", "06:00.0", NULL), 0);
        assert_int_equal(itest_xlpci(e, "create", "-f", "6", "07:00.0",
                                     NULL), 0);
        /* domain 6 goes as every release leaves it: no per-domain
         * parent (an empty one is garbage a failed create clears, see
         * test_owner's test_empty_parent_cleared) */
        assert_true(xs_rm(e->xs, XBT_NULL, "/local/domain/0/backend/pci/6"));
    }
}

/* 10. Messages.  A backend that fails (Closing) during a detach's cycle:
 * said at once, without "did not complete in N ms" or a -f that would be
 * refused. */
static void test_detach_backend_fails(void **state)
{
    itest_env *e = *state;
    long long t0;
    char *err;
    pid_t pid;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    connected_exported(e, 2);
    t0 = h_now_ms();
    pid = bg_xlpci(e, "pci-detach", "-t", "10", "5", "03:00.0");
    assert_true(itest_wait_value(e, BE(5) "/state", "7", 10000 * h_slow()));
    itest_write(e, "/local/domain/0/error/backend/pci/5/0/error",
                "12 out of memory");
    itest_write(e, BE(5) "/state", "5");
    assert_int_equal(bg_wait(e, pid, &err), 1);
    if (h_now_ms() - t0 > 5000 * h_slow())
        fail_msg("pci-detach took %lld ms after the backend failed",
                 h_now_ms() - t0);
    assert_non_null(strstr(err, "failed during the Reconfiguring cycle"));
    assert_non_null(strstr(err, "out of memory"));
    assert_null(strstr(err, "did not complete"));
    assert_null(strstr(err, "use -f"));
    free(err);
    /* issue 21: check reports what every command refuses (it said
     * "consistent"), and --repair says it cannot repair it */
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "is Closing (pciback gave up: 12 out of "
                           "memory)"));
    assert_non_null(strstr(e->err, "refuse it"));
    assert_non_null(strstr(e->out, "--repair cannot fix them"));
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 1);
    assert_non_null(strstr(e->out, "problem(s) left"));
    itest_assert_node(e, BE(5) "/state", "5");
}

/* A frontend state that is not a xenbus state is called that, not
 * "absent". */
static void test_garbage_frontend_state(void **state)
{
    itest_env *e = *state;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    connected_exported(e, 1);
    itest_write(e, FE(5) "/state", "garbage");
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "0.3", "5",
                                 "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "frontend is not a xenbus state"));
    assert_null(strstr(e->err, "absent"));
    /* issue 21: check says what every cycle waits for */
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "its frontend's state is not a xenbus "
                           "state"));
}

/* Issue 21: a guest that left Connected under a Connected backend
 * (pcifront shutting down: Closing, Closed; or no state at all) wedges
 * every cycle as a stuck Reconfiguring does.  check says so, never
 * "consistent"; --repair cannot (the guest's node) and changes nothing;
 * the attach that check warns of does wait for it. */
static void test_frontend_left_connected(void **state)
{
    static const char *const states[] = { "5", "6", "1", NULL };
    itest_env *e = *state;
    char *before, *after;
    unsigned k;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    connected_exported(e, 1);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_non_null(strstr(e->out, "consistent"));
    for (k = 0; states[k]; k++) {
        itest_write(e, FE(5) "/state", states[k]);
        assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
        assert_non_null(strstr(e->err, "while the backend"));
        assert_non_null(strstr(e->err, "waits for a Connected frontend"));
        assert_null(strstr(e->out, "consistent"));
        before = h_xs_dump(e->xs, "/local/domain");
        assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 1);
        assert_non_null(strstr(e->out, "problem(s) left"));
        after = h_xs_dump(e->xs, "/local/domain");
        assert_string_equal(before, after);
        free(before);
        free(after);
    }
    /* what check warned of: the attach waits for the guest, in vain */
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "0.3", "5",
                                 "04:00.0", NULL), 1);
    assert_true(xs_rm(e->xs, XBT_NULL, FE(5) "/state"));
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "its frontend has no state"));
    itest_write(e, FE(5) "/state", "4");
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
}

/* ---- a rollback racing the guest (issue 21, 4) --------------------------- */

/* Both ends Connected and the guest seeing what the backend lists, or the
 * wedge (frontend Reconfiguring, backend Connected), within 5 s: true if
 * settled, false for the wedge. */
static bool settle(itest_env *e)
{
    long long end = h_now_ms() + 5000 * h_slow();

    for (;;) {
        char *be = itest_read(e, BE(5) "/state");
        char *fe = itest_read(e, FE(5) "/state");
        bool up = be && fe && !strcmp(be, "4") && !strcmp(fe, "4");
        bool wedged = be && fe && !strcmp(be, "4") && !strcmp(fe, "7");
        unsigned n = up ? itest_check_backend(e, 5) : 0;

        free(be);
        free(fe);
        if (up && itest_guest_count(e, 5) == (int)n)
            return true;
        if (wedged && h_now_ms() > end - 4000 * h_slow())
            return false;              /* it stayed so for a second */
        if (h_now_ms() > end)
            fail_msg("domain 5 did not settle");
        h_sleep_ms(20);
    }
}

/* The invariant after any pci-attach/-detach that ends: guest and store
 * agree (settled), or they do not and check says so, and check --repair
 * makes them agree.  Returns whether check had to repair. */
static bool agree_or_check_sees(itest_env *e, const char *what)
{
    if (settle(e)) {
        if (itest_xlpci(e, "check", "5", NULL))
            fail_msg("%s: settled, but check: %s%s", what, e->out, e->err);
        return false;
    }
    if (itest_xlpci(e, "check", "5", NULL) != 1 ||
        !strstr(e->err, "frontend is Reconfiguring while the backend"))
        fail_msg("%s: the guest waits in Reconfiguring, check said: %s%s",
                 what, e->out, e->err);
    if (itest_xlpci(e, "check", "--repair", "5", NULL))
        fail_msg("%s: check --repair: %s%s", what, e->out, e->err);
    assert_non_null(strstr(e->err, "resumed the Reconfiguring cycle"));
    if (!settle(e))
        fail_msg("%s: still wedged after check --repair", what);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    return true;
}

/* A guest that says Reconfiguring 1.5 s after it removed the devices
 * Closing (pcimodel --frontend-lag-ms): the rollback commits first.  The
 * detach said "rolled back" and the guest had lost the device the
 * backend still lists, frontend Reconfiguring for ever, check
 * "consistent".  Now the detach says it cannot be sure, check sees the
 * wedge, check --repair resumes the cycle and the guest finds the device
 * again; the same for an attach. */
static void test_rollback_late_guest(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--frontend-lag-ms", "1500", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    assert_true(settle(e));
    assert_int_equal(itest_guest_count(e, 5), 2);

    assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "1", "5", "03:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "the detach was rolled back"));
    assert_non_null(strstr(e->err, "should the guest still act on the "
                           "cycle, check sees"));
    assert_true(itest_wait_value(e, FE(5) "/state", "7", 5000 * h_slow()));
    h_sleep_ms(100);
    /* the wedge: the guest lost 03:00.0, the backend lists it */
    itest_assert_node(e, BE(5) "/state", "4");
    assert_int_equal(itest_check_backend(e, 5), 2);
    assert_int_equal(itest_guest_count(e, 5), 1);
    assert_true(agree_or_check_sees(e, "detach"));
    assert_int_equal(itest_guest_count(e, 5), 2);

    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "5", "05:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "the addition was rolled back"));
    assert_true(itest_wait_value(e, FE(5) "/state", "7", 5000 * h_slow()));
    h_sleep_ms(100);
    assert_true(agree_or_check_sees(e, "attach"));
    assert_int_equal(itest_check_backend(e, 5), 2);
    assert_int_equal(itest_guest_count(e, 5), 2);
}

/* pci-detach -t 0.001 again and again (the rollback races the guest:
 * "rolled back" while the guest lost the device, 2 in 6 tries on the real
 * driver), and guests that lag about as long as the deadline: whatever
 * each command says, guest and store agree afterwards or check sees that
 * they do not, and --repair makes them agree. */
static void test_rollback_races_guest(void **state)
{
    static const char *const lags[] = { "0", "950", "1000", "1050", "1100",
                                        "1150" };
    itest_env *e = *state;
    unsigned i, repaired = 0, detached = 0, rolled = 0, resumed = 0;
    char what[64];
    size_t l;

    for (l = 0; l < sizeof(lags) / sizeof(lags[0]); l++) {
        itest_model_start(e, "--frontend-lag-ms", lags[l], NULL);
        assert_int_equal(itest_xlpci(e, "create", "-f", "5", "03:00.0",
                                     "04:00.0", NULL), 0);
        assert_true(settle(e));
        for (i = 0; i < (l ? 2u : 10u); i++) {
            const char *t = l ? "1" : "0.001";
            int rc;

            if (itest_find(e, 5, "0000:03:00.0") < 0)
                assert_int_equal(itest_xlpci(e, "pci-attach", "5",
                                             "03:00.0", NULL), 0);
            assert_true(settle(e));
            rc = itest_xlpci(e, "pci-detach", "-t", t, "5", "03:00.0",
                             NULL);
            snprintf(what, sizeof(what), "lag %s, pci-detach -t %s #%u",
                     lags[l], t, i);
            if (rc != 0 && rc != 1)
                fail_msg("%s: exit %d: %s", what, rc, e->err);
            detached += !rc;
            rolled += rc != 0;
            resumed += strstr(e->err, "the cycle was resumed") != NULL;
            h_sleep_ms(atoi(lags[l]) + 50);
            repaired += agree_or_check_sees(e, what);
        }
        itest_model_stop(e);
    }
    fprintf(stderr, "rollback races: %u detached, %u not (%u resumed by the "
            "command itself), %u repaired by check --repair\n", detached,
            rolled, resumed, repaired);
}

int main(void)
{
    const struct CMUnitTest table[] = {
        cmocka_unit_test_setup_teardown(test_flood_table, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_flood_table, itest_setup_ox,
                                        itest_teardown),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flood_attach, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_flood_detach, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_flood, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_flood_connected, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_flood_connected,
                                        itest_setup_ox, itest_teardown),
        cmocka_unit_test_setup_teardown(test_rm_eio_is_a_conflict,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_thousands_of_guest_nodes,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_no_num_devs,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_races_repair,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_past_256, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_values, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_over_orphans,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_late_guest,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_races_guest,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_by_address,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_no_such_domain, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_other_backend,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_backend_fails,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_frontend_state,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_frontend_left_connected,
                                        itest_setup, itest_teardown),
    };

    if (getenv("FLOOD_TABLE"))
        return cmocka_run_group_tests_name("flood table", table, NULL,
                                           NULL);
    /* HOSTILE_TEST_FILTER=test_frontend_* runs only those (valgrind) */
    if (getenv("HOSTILE_TEST_FILTER"))
        cmocka_set_test_filter(getenv("HOSTILE_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

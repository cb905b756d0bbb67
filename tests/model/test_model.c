/*
 * The pciback/pcifront model (pcimodel) and the legacy writer against a
 * private real xenstored: the model's own acceptance tests.  The store is
 * written directly with libxenstore (one transaction, the correct way) or
 * by legacy-writer; every assertion reads the store or the model's status
 * files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define DOMID   5
#define BE      "/local/domain/0/backend/pci/5/0"
#define FE      "/local/domain/5/device/pci/0"
#define ERRNODE "/local/domain/0/error/backend/pci/5/0/error"
#define WAIT_MS 10000

typedef struct {
    struct xsd xsd;
    struct xs_handle *xs;
    char dir[256], status[300];
    pid_t model;
} ctx;

static const char *const three[] = {
    "0000:03:00.0", "0000:04:00.0", "0000:05:00.0",
};

static int setup(void **state)
{
    ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return -1;
    if (xsd_start(&c->xsd, NULL))
        goto fail;
    c->xs = xs_open(0);
    if (!c->xs || h_mkdtemp(c->dir, sizeof(c->dir))) {
        if (c->xs)
            xs_close(c->xs);
        xsd_stop(&c->xsd);
        goto fail;
    }
    snprintf(c->status, sizeof(c->status), "%s/status", c->dir);
    *state = c;
    return 0;
fail:
    free(c);
    return -1;
}

static int teardown(void **state)
{
    ctx *c = *state;
    int rc = 0;

    if (c->model && h_stop(c->model) != 0)
        rc = -1;                        /* unclean exit or valgrind error */
    xs_close(c->xs);
    xsd_stop(&c->xsd);
    h_rmrf(c->dir);
    free(c);
    return rc;
}

/* pcimodel --ready --status-dir [extra...], NULL-terminated. */
static void model_start(ctx *c, ...)
{
    char *argv[32], ready[300];
    const char *a;
    int argc = 0;
    va_list ap;

    snprintf(ready, sizeof(ready), "%s/model.ready", c->dir);
    argv[argc++] = (char *)h_prog("pcimodel");
    argv[argc++] = (char *)"--ready";
    argv[argc++] = ready;
    argv[argc++] = (char *)"--status-dir";
    argv[argc++] = c->status;
    va_start(ap, c);
    while ((a = va_arg(ap, const char *)) && argc < 31)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    assert_int_equal(h_spawn(&c->model, argv, ready, 10000), 0);
}

static char *rd(ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *rd(ctx *c, const char *fmt, ...)
{
    char path[256];
    unsigned len;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xs_read(c->xs, XBT_NULL, path, &len);
}

static void assert_node(ctx *c, const char *path, const char *want)
{
    char *v = rd(c, "%s", path);

    if (!v || strcmp(v, want))
        fail_msg("%s = %s, expected %s", path, v ?: "(absent)", want);
    free(v);
}

/* Wait (watch, re-read after every event) until path == value. */
static void wait_node(ctx *c, const char *path, const char *value)
{
    long long deadline = h_now_ms() + (long long)WAIT_MS * h_slow();
    struct xs_handle *w = xs_open(0);
    char **ev, *v = NULL;

    assert_non_null(w);
    assert_true(xs_watch(w, path, "t"));
    for (;;) {
        struct pollfd pfd = { .fd = xs_fileno(w), .events = POLLIN };
        long long left;

        free(v);
        v = rd(c, "%s", path);
        if (v && !strcmp(v, value))
            break;
        left = deadline - h_now_ms();
        if (left <= 0) {
            xs_close(w);
            fail_msg("%s never became %s (is %s)", path, value,
                     v ?: "absent");
        }
        poll(&pfd, 1, (int)(left > 500 ? 500 : left));
        while ((ev = xs_check_watch(w)))
            free(ev);
    }
    free(v);
    xs_close(w);
}

/* No further change: the model is idle (it reacts within ms). */
static void settle(void)
{
    usleep(300000 * (useconds_t)h_slow());
}

static bool wr(ctx *c, xs_transaction_t t, const char *path,
               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool wr(ctx *c, xs_transaction_t t, const char *path,
               const char *fmt, ...)
{
    char val[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    return xs_write(c->xs, t, path, val, strlen(val));
}

/* The whole tree in one transaction: both directories with libxl's
 * permissions, the base keys, n devices and num_devs (unless
 * !with_num_devs). */
static void write_tree(ctx *c, const char *const *bdfs, unsigned n,
                       bool with_num_devs)
{
    struct xs_permissions bp[2] = { { 0, XS_PERM_NONE },
                                    { DOMID, XS_PERM_READ } };
    struct xs_permissions fp[2] = { { DOMID, XS_PERM_NONE },
                                    { 0, XS_PERM_READ } };
    char path[160];
    unsigned i;

    for (;;) {
        xs_transaction_t t = xs_transaction_start(c->xs);
        bool ok;

        assert_true(t != XBT_NULL);
        ok = xs_mkdir(c->xs, t, BE) && xs_set_permissions(c->xs, t, BE, bp, 2)
             && xs_mkdir(c->xs, t, FE) &&
             xs_set_permissions(c->xs, t, FE, fp, 2) &&
             wr(c, t, BE "/frontend", "%s", FE) &&
             wr(c, t, BE "/frontend-id", "%d", DOMID) &&
             wr(c, t, BE "/online", "1") && wr(c, t, BE "/state", "1") &&
             wr(c, t, BE "/domain", "guest") &&
             wr(c, t, FE "/backend", "%s", BE) &&
             wr(c, t, FE "/backend-id", "0") && wr(c, t, FE "/state", "1");
        for (i = 0; ok && i < n; i++) {
            snprintf(path, sizeof(path), BE "/key-%u", i);
            ok = wr(c, t, path, "%s", bdfs[i]);
            snprintf(path, sizeof(path), BE "/dev-%u", i);
            ok = ok && wr(c, t, path, "%s", bdfs[i]);
            snprintf(path, sizeof(path), BE "/opts-%u", i);
            ok = ok && wr(c, t, path, "msitranslate=0,power_mgmt=0,"
                          "permissive=0,rdm_policy=strict");
            snprintf(path, sizeof(path), BE "/state-%u", i);
            ok = ok && wr(c, t, path, "1");
        }
        if (ok && with_num_devs)
            ok = wr(c, t, BE "/num_devs", "%u", n);
        assert_true(ok);
        if (xs_transaction_end(c->xs, t, false))
            return;
        assert_int_equal(errno, EAGAIN);
    }
}

/* status-dir/<kind>-5 as a malloc'd string ("" if absent). */
static char *status_file(ctx *c, const char *kind)
{
    char path[400], *buf;
    size_t len = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s-%d", c->status, kind, DOMID);
    f = fopen(path, "r");
    buf = calloc(1, 4096);
    assert_non_null(buf);
    if (f) {
        len = fread(buf, 1, 4095, f);
        fclose(f);
    }
    buf[len] = '\0';
    return buf;
}

static unsigned lines(const char *s)
{
    unsigned n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* What the guest must see, from the store: one "<vdev> <dev>" line per
 * index with state-i == 3, sorted; the number of such indices in *n. */
static char *expected_view(ctx *c, unsigned *n)
{
    char *num = rd(c, BE "/num_devs"), line[64], *out;
    char *sorted[64];
    unsigned i, k = 0, cnt = num ? (unsigned)atoi(num) : 0;

    free(num);
    out = calloc(1, 4096);
    assert_non_null(out);
    for (i = 0; i < cnt && i < 64; i++) {
        char *st = rd(c, BE "/state-%u", i), *vdev = rd(c, BE "/vdev-%u", i);
        char *dev = rd(c, BE "/dev-%u", i);
        unsigned s, b, d, f;

        if (st && !strcmp(st, "3")) {
            assert_non_null(vdev);
            assert_non_null(dev);
            assert_int_equal(sscanf(vdev, "%x:%x:%x.%x", &s, &b, &d, &f), 4);
            snprintf(line, sizeof(line), "%04x:%02x:%02x.%x %s\n", s, b, d,
                     f, dev);
            sorted[k++] = strdup(line);
        }
        free(st);
        free(vdev);
        free(dev);
    }
    for (i = 0; i < k; i++) {           /* insertion sort: k is small */
        unsigned j;

        for (j = i + 1; j < k; j++)
            if (strcmp(sorted[j], sorted[i]) < 0) {
                char *tmp = sorted[i];

                sorted[i] = sorted[j];
                sorted[j] = tmp;
            }
        strcat(out, sorted[i]);
        free(sorted[i]);
    }
    *n = k;
    return out;
}

/* The guest's view equals what pciback exported per the store; returns
 * how many devices that is. */
static unsigned check_guest_view(ctx *c)
{
    unsigned n;
    char *want = expected_view(c, &n), *guest = status_file(c, "guest");
    char *exported = status_file(c, "exported");

    assert_string_equal(guest, want);
    assert_string_equal(exported, want);
    free(want);
    free(guest);
    free(exported);
    return n;
}

static unsigned count_state(ctx *c, unsigned n, const char *value)
{
    unsigned i, k = 0;

    for (i = 0; i < n; i++) {
        char *v = rd(c, BE "/state-%u", i);

        k += v && !strcmp(v, value);
        free(v);
    }
    return k;
}

static void connected(ctx *c)
{
    wait_node(c, BE "/state", "4");
    wait_node(c, FE "/state", "4");
}

/* ---- tests -------------------------------------------------------------- */

/* Coldplug of 3 in one transaction: Connected, every state-i 3, distinct
 * vdev-i, the guest sees all 3. */
static void test_coldplug_three(void **state)
{
    ctx *c = *state;
    char *v[3];
    unsigned i;

    model_start(c, NULL);
    write_tree(c, three, 3, true);
    connected(c);
    assert_int_equal(count_state(c, 3, "3"), 3);
    for (i = 0; i < 3; i++) {
        v[i] = rd(c, BE "/vdev-%u", i);
        assert_non_null(v[i]);
    }
    assert_string_not_equal(v[0], v[1]);
    assert_string_not_equal(v[0], v[2]);
    assert_string_not_equal(v[1], v[2]);
    for (i = 0; i < 3; i++)
        free(v[i]);
    assert_node(c, BE "/root_num", "1");
    assert_node(c, BE "/root-0", "0000:00");
    assert_node(c, FE "/magic", "7");
    assert_int_equal(check_guest_view(c), 3);
    assert_null(rd(c, ERRNODE));
}

/* libxl 4.15-4.17 (one transaction per device), guest booting after the
 * toolstack: returns the devices exported. */
static unsigned legacy(ctx *c, const char *patched)
{
    char *argv[] = { (char *)h_prog("legacy-writer"), (char *)"--wait-probe",
                     (char *)"5", (char *)three[0], (char *)three[1],
                     (char *)three[2], NULL };
    char delay[32];

    snprintf(delay, sizeof(delay), "%d", 1500 * h_slow());
    model_start(c, "--frontend-delay-ms", delay, patched, NULL);
    assert_int_equal(h_run(argv, NULL, NULL), 0);
    connected(c);
    assert_node(c, BE "/num_devs", "3");
    return check_guest_view(c);
}

static void test_legacy_unpatched_sees_one(void **state)
{
    ctx *c = *state;

    assert_int_equal(legacy(c, NULL), 1);
    assert_int_equal(count_state(c, 3, "3"), 1);
    assert_int_equal(count_state(c, 3, "1"), 2);   /* ignored for good */
    assert_null(rd(c, ERRNODE));
}

static void test_legacy_patched_sees_all(void **state)
{
    ctx *c = *state;

    assert_int_equal(legacy(c, "--patched"), 3);
    assert_int_equal(count_state(c, 3, "3"), 3);
}

/* A backend directory without num_devs (guest paused: no pcifront yet):
 * fatal, error node, Closing for good. */
static void test_no_num_devs(void **state)
{
    ctx *c = *state;

    model_start(c, "--no-frontend", "5", NULL);
    write_tree(c, three, 1, false);
    /* xenbus_scanf -> -ENOENT; xenbus_va_dev_error writes "%i" of -err */
    wait_node(c, ERRNODE, "2 Error reading number of devices");
    wait_node(c, BE "/state", "5");
    settle();
    assert_node(c, BE "/state", "5");
    assert_node(c, BE "/state-0", "1");
    assert_int_equal(check_guest_view(c), 0);
}

/* Hot-add: state-N=1, num_devs+1, state=7 in one transaction. */
static void test_hot_add(void **state)
{
    ctx *c = *state;
    xs_transaction_t t;

    model_start(c, NULL);
    write_tree(c, three, 2, true);
    connected(c);
    assert_int_equal(check_guest_view(c), 2);
    for (;;) {
        t = xs_transaction_start(c->xs);
        assert_true(t != XBT_NULL);
        assert_true(wr(c, t, BE "/key-2", "%s", three[2]) &&
                    wr(c, t, BE "/dev-2", "%s", three[2]) &&
                    wr(c, t, BE "/state-2", "1") &&
                    wr(c, t, BE "/num_devs", "3") &&
                    wr(c, t, BE "/state", "7"));
        if (xs_transaction_end(c->xs, t, false))
            break;
        assert_int_equal(errno, EAGAIN);
    }
    connected(c);
    assert_node(c, BE "/state-2", "3");
    assert_int_equal(check_guest_view(c), 3);
    {
        char *g = status_file(c, "guest");

        assert_non_null(strstr(g, three[2]));
        free(g);
    }
}

/* Hot-remove: state-1=5 + state=7; the guest loses it, pciback releases
 * it, state-1 stays 5. */
static void test_hot_remove(void **state)
{
    ctx *c = *state;
    xs_transaction_t t;
    char *g;

    model_start(c, NULL);
    write_tree(c, three, 3, true);
    connected(c);
    assert_int_equal(check_guest_view(c), 3);
    for (;;) {
        t = xs_transaction_start(c->xs);
        assert_true(t != XBT_NULL);
        assert_true(wr(c, t, BE "/state-1", "5") &&
                    wr(c, t, BE "/state", "7"));
        if (xs_transaction_end(c->xs, t, false))
            break;
        assert_int_equal(errno, EAGAIN);
    }
    connected(c);
    settle();
    assert_node(c, BE "/state", "4");
    assert_node(c, BE "/state-1", "5");
    assert_int_equal(check_guest_view(c), 2);
    g = status_file(c, "guest");
    assert_null(strstr(g, three[1]));
    assert_non_null(strstr(g, three[0]));
    assert_non_null(strstr(g, three[2]));
    free(g);
}

/* No pcifront in the guest: the backend stays Initialised. */
static void test_no_frontend(void **state)
{
    ctx *c = *state;
    char *g;

    model_start(c, "--no-frontend", "5", NULL);
    write_tree(c, three, 2, true);
    wait_node(c, BE "/state", "3");
    settle();
    assert_node(c, BE "/state", "3");
    assert_node(c, FE "/state", "1");
    assert_int_equal(count_state(c, 2, "3"), 2);
    g = status_file(c, "guest");
    assert_string_equal(g, "");
    free(g);
    g = status_file(c, "exported");
    assert_int_equal(lines(g), 2);
    free(g);
}

/* A hung guest never answers Reconfiguring: the cycle stays at 7. */
static void test_frontend_stuck(void **state)
{
    ctx *c = *state;

    model_start(c, "--frontend-stuck", "5", NULL);
    write_tree(c, three, 1, true);
    connected(c);
    assert_true(wr(c, XBT_NULL, BE "/state", "7"));
    settle();
    assert_node(c, BE "/state", "7");
    assert_node(c, FE "/state", "4");
    assert_int_equal(check_guest_view(c), 1);
}

/* A device not bound to pciback: fatal, error node, Closing; the running
 * pcifront then closes (try_disconnect), and pciback follows it to
 * Closed (frontend_changed, online = 1). */
static void test_not_assignable(void **state)
{
    ctx *c = *state;
    char *g;

    model_start(c, "--not-assignable", "0000:04:00.0", NULL);
    write_tree(c, three, 2, true);
    wait_node(c, ERRNODE, "22 Couldn't locate PCI device (0000:04:00.0)! "
                          "perhaps already in-use?");
    wait_node(c, FE "/state", "6");
    wait_node(c, BE "/state", "6");
    assert_node(c, BE "/state-0", "3");            /* exported before */
    assert_node(c, BE "/state-1", "1");
    g = status_file(c, "exported");                /* held until unbound */
    assert_int_equal(lines(g), 1);
    assert_non_null(strstr(g, three[0]));
    free(g);
    g = status_file(c, "guest");
    assert_string_equal(g, "");
    free(g);
}

/* Same without a frontend: the backend stays Closing. */
static void test_not_assignable_paused(void **state)
{
    ctx *c = *state;

    model_start(c, "--no-frontend", "5", "--not-assignable", "0000:03:00.0",
                NULL);
    write_tree(c, three, 1, true);
    wait_node(c, ERRNODE, "22 Couldn't locate PCI device (0000:03:00.0)! "
                          "perhaps already in-use?");
    wait_node(c, BE "/state", "5");
    settle();
    assert_node(c, BE "/state", "5");
    assert_null(rd(c, BE "/vdev-0"));
}

/* vpci placement (4ba50e7c42): functions of one slot share a virtual slot,
 * a VF gets a slot of its own at function 0. */
static void test_vpci_placement(void **state)
{
    static const char *const devs[] = {
        "0000:03:00.0", "0000:03:00.1", "0000:81:10.2", "0000:81:10.4",
    };
    ctx *c = *state;

    model_start(c, "--vf", "0000:81:10.2", "--vf", "0000:81:10.4", NULL);
    write_tree(c, devs, 4, true);
    connected(c);
    assert_node(c, BE "/vdev-0", "0000:00:00.00");
    assert_node(c, BE "/vdev-1", "0000:00:00.01");
    assert_node(c, BE "/vdev-2", "0000:00:01.00");
    assert_node(c, BE "/vdev-3", "0000:00:02.00");
    assert_int_equal(check_guest_view(c), 4);
}

/* The backend directory goes: pciback releases its devices. */
static void test_backend_removed(void **state)
{
    ctx *c = *state;
    char *g;

    model_start(c, NULL);
    write_tree(c, three, 2, true);
    connected(c);
    assert_true(xs_rm(c->xs, XBT_NULL, BE));
    assert_true(xs_rm(c->xs, XBT_NULL, FE));
    settle();
    g = status_file(c, "exported");
    assert_string_equal(g, "");
    free(g);
    g = status_file(c, "guest");
    assert_string_equal(g, "");
    free(g);
    /* released: another guest can take the same device */
    write_tree(c, three, 1, true);
    connected(c);
    assert_int_equal(check_guest_view(c), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_coldplug_three, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_unpatched_sees_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_patched_sees_all,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_num_devs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_frontend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frontend_stuck, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_assignable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_not_assignable_paused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vpci_placement, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backend_removed, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * xlpci against a real xenstored AND the behavioural model of xen-pciback
 * + pcifront (tests/model/pcimodel, unpatched unless --patched): the
 * acceptance tests of the create, attach and detach flows.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "internal.h"          /* the layout and the wait's budget: the cost */

#define WAIT_MS (10000 * h_slow())

/* Both ends Connected: the guest has scanned its bus. */
static void wait_connected(itest_env *e, const char *be)
{
    char path[160], fe[160];
    const char *paths[2] = { fe, path };
    unsigned domid, i;
    char *v;

    assert_int_equal(sscanf(be, "/local/domain/0/backend/pci/%u", &domid), 1);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/pci/0/state", domid);
    snprintf(path, sizeof(path), "%s/state", be);
    for (i = 0; i < 2; i++) {
        if (itest_wait_value(e, paths[i], "4", WAIT_MS))
            continue;
        v = itest_read(e, paths[i]);
        fail_msg("%s never reached Connected (is %s)", paths[i],
                 v ?: "absent");
    }
}

/* pciback exported index i: state-i = 3 and a vdev-i. */
static unsigned count_exported(itest_env *e, unsigned domid)
{
    unsigned n = itest_check_backend(e, domid), i, exported = 0;
    char path[160];

    for (i = 0; i < n; i++) {
        char *st, *vdev;

        snprintf(path, sizeof(path),
                 "/local/domain/0/backend/pci/%u/0/state-%u", domid, i);
        st = itest_read(e, path);
        snprintf(path, sizeof(path),
                 "/local/domain/0/backend/pci/%u/0/vdev-%u", domid, i);
        vdev = itest_read(e, path);
        if (st && !strcmp(st, "3") && vdev)
            exported++;
        free(st);
        free(vdev);
    }
    return exported;
}

/* The seed problem: all devices in one transaction -> 3/3 exported. */
static void test_create_exports_all(void **state)
{
    itest_env *e = *state;
    char *v0, *v1, *v2;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "0000:81:10.0",
                                 "0000:81:10.2", "0000:81:10.4", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(count_exported(e, 5), 3);
    assert_int_equal(itest_guest_count(e, 5), 3);
    v0 = itest_read(e, BE(5) "/vdev-0");
    v1 = itest_read(e, BE(5) "/vdev-1");
    v2 = itest_read(e, BE(5) "/vdev-2");
    assert_string_not_equal(v0, v1);
    assert_string_not_equal(v1, v2);
    assert_string_not_equal(v0, v2);
    free(v0);
    free(v1);
    free(v2);
    assert_null(itest_read(e, "/local/domain/0/error/backend/pci/5/0/error"));
}

/* The libxl 4.15-4.17 way (one transaction per device) against the
 * unpatched driver: the guest sees 1 of 3. */
static void legacy_writer(itest_env *e, int *exported, int *seen)
{
    char *argv[] = { (char *)h_prog("legacy-writer"), (char *)"--wait-probe",
                     (char *)"5", (char *)"0000:81:10.0",
                     (char *)"0000:81:10.2", (char *)"0000:81:10.4", NULL };

    assert_int_equal(h_run(argv, NULL, NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(itest_check_backend(e, 5), 3);
    *exported = (int)count_exported(e, 5);
    *seen = itest_guest_count(e, 5);
}

static void test_legacy_writer_sees_one(void **state)
{
    itest_env *e = *state;
    int exported, seen;

    itest_model_start(e, NULL);
    legacy_writer(e, &exported, &seen);
    assert_int_equal(exported, 1);
    assert_int_equal(seen, 1);
}

/* check names the devices the guest never got and leaves them alone; the
 * next Reconfiguring cycle (an attach) exports them: pciback's reconfigure
 * exports every index still Initialising. */
static void test_check_never_exported(void **state)
{
    itest_env *e = *state;
    char *before;
    int exported, seen;

    itest_model_start(e, NULL);
    legacy_writer(e, &exported, &seen);
    assert_int_equal(exported, 1);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "0000:81:10.2 (index 1) was never "
                                   "exported"));
    assert_non_null(strstr(e->err, "0000:81:10.4 (index 2) was never "
                                   "exported"));
    assert_null(strstr(e->err, "0000:81:10.0 (index 0)"));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "check", "--repair", "5", NULL), 1);
    itest_assert_store(e, before);
    free(before);

    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(count_exported(e, 5), 4);
    assert_int_equal(itest_guest_count(e, 5), 4);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_null(strstr(e->err, "never exported"));
}

static void test_legacy_writer_patched(void **state)
{
    itest_env *e = *state;
    int exported, seen;
    char delay[32];

    /* the guest boots after the toolstack (as in test_model): a pcifront
     * that connects between the writer's transactions takes the backend
     * to Connected, where even the patched pciback ignores new dev-N */
    snprintf(delay, sizeof(delay), "%d", 1500 * h_slow());
    itest_model_start(e, "--patched", "--frontend-delay-ms", delay, NULL);
    legacy_writer(e, &exported, &seen);
    assert_int_equal(exported, 3);
    assert_int_equal(seen, 3);
}

static void test_hot_add_and_remove(void **state)
{
    itest_env *e = *state;
    char *vdev_b;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "04:00.0", NULL), 0);
    /* attach returns once the cycle is over and pciback exported it */
    itest_assert_node(e, BE(5) "/state", "4");
    itest_assert_node(e, BE(5) "/num_devs", "2");
    itest_assert_node(e, BE(5) "/state-1", "3");
    assert_int_equal(itest_guest_count(e, 5), 2);
    vdev_b = itest_read(e, BE(5) "/vdev-1");
    assert_non_null(vdev_b);

    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL), 0);
    itest_assert_node(e, BE(5) "/state", "4");
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:04:00.0");
    itest_assert_node(e, BE(5) "/vdev-0", vdev_b);       /* moved along */
    itest_assert_node(e, BE(5) "/state-0", "3");
    assert_int_equal(itest_guest_count(e, 5), 1);
    free(vdev_b);

    /* the last device takes both directories with it */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    assert_null(itest_read(e, BE(5)));
    assert_null(itest_read(e, "/local/domain/5/device/pci/0"));
}

/* Detach the middle one of three (xen-api CA-109035 removed dev-0). */
static void test_detach_middle(void **state)
{
    itest_env *e = *state;
    char *vdev2;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 "05:00.0", NULL), 0);
    wait_connected(e, BE(5));
    vdev2 = itest_read(e, BE(5) "/vdev-2");
    assert_int_equal(itest_xlpci(e, "pci-detach", "guest5", "04:00.0", NULL),
                     0);
    assert_int_equal(itest_check_backend(e, 5), 2);
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    itest_assert_node(e, BE(5) "/dev-1", "0000:05:00.0");
    itest_assert_node(e, BE(5) "/vdev-1", vdev2);
    assert_int_equal(itest_guest_count(e, 5), 2);
    assert_int_equal(itest_xlpci(e, "pci-list", "5", NULL), 0);
    assert_string_equal(e->out, "Vdev Device\n00.0 0000:03:00.0\n"
                                "00.0 0000:05:00.0\n");
    free(vdev2);
}

/* 20 attach/detach cycles: num_devs is always the true count. */
static void test_cycles(void **state)
{
    itest_env *e = *state;
    char bdf[32];
    unsigned i, n;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    for (i = 0; i < 20; i++) {
        snprintf(bdf, sizeof(bdf), "0000:%02x:00.0", 0x10 + i % 4);
        assert_int_equal(itest_xlpci(e, "pci-attach", "5", bdf, NULL), 0);
        if (i % 2 == 0) {
            /* keep two extra for a while, detach the older one */
            n = itest_check_backend(e, 5);
            assert_int_equal(itest_guest_count(e, 5), (int)n);
            continue;
        }
        n = itest_check_backend(e, 5);
        assert_int_equal(n, 3);
        assert_int_equal(itest_guest_count(e, 5), 3);
        snprintf(bdf, sizeof(bdf), "0000:%02x:00.0", 0x10 + (i - 1) % 4);
        assert_int_equal(itest_xlpci(e, "pci-detach", "5", bdf, NULL), 0);
        snprintf(bdf, sizeof(bdf), "0000:%02x:00.0", 0x10 + i % 4);
        assert_int_equal(itest_xlpci(e, "pci-detach", "5", bdf, NULL), 0);
        assert_int_equal(itest_check_backend(e, 5), 1);
        assert_int_equal(itest_guest_count(e, 5), 1);
        itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    }
    /* and through an empty domain: the backend is recreated */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "03:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 0);
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(count_exported(e, 5), 1);
}

/* Four concurrent pci-attach on one domain: every device exactly once. */
static void test_concurrent_attach(void **state)
{
    itest_env *e = *state;
    pid_t pids[4];
    char bdf[4][32];
    int i, status;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    for (i = 0; i < 4; i++) {
        snprintf(bdf[i], sizeof(bdf[i]), "0000:%02x:00.0", 0x20 + i);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (!pids[i]) {
            char *argv[] = { (char *)h_prog("xlpci"), (char *)"pci-attach",
                             (char *)"-t", (char *)"60", (char *)"5", bdf[i],
                             NULL };
            _exit(h_run(argv, NULL, NULL));
        }
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(itest_check_backend(e, 5), 5);
    for (i = 0; i < 4; i++)
        assert_true(itest_find(e, 5, bdf[i]) > 0);
    itest_assert_node(e, BE(5) "/state", "4");
    assert_int_equal(count_exported(e, 5), 5);
    assert_int_equal(itest_guest_count(e, 5), 5);
}

/* Four concurrent pci-detach: each cycle waits until the previous removal
 * is compacted (pciback cannot release an index twice), none is lost. */
static void test_concurrent_detach(void **state)
{
    itest_env *e = *state;
    pid_t pids[4];
    char bdf[4][32];
    int i, status;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "20:00.0",
                                 "21:00.0", "22:00.0", "23:00.0", NULL), 0);
    wait_connected(e, BE(5));
    for (i = 0; i < 4; i++) {
        snprintf(bdf[i], sizeof(bdf[i]), "0000:%02x:00.0", 0x20 + i);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (!pids[i]) {
            char *argv[] = { (char *)h_prog("xlpci"), (char *)"pci-detach",
                             (char *)"-t", (char *)"60", (char *)"5", bdf[i],
                             NULL };
            _exit(h_run(argv, NULL, NULL));
        }
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:03:00.0");
    itest_assert_node(e, BE(5) "/state", "4");
    assert_int_equal(itest_guest_count(e, 5), 1);
}

/* At the first connect the backend is Connected a moment before the
 * frontend; a cycle started then would never end (pcifront ignores
 * Reconfiguring unless it is Connected).  The attach waits for both. */
static void test_attach_during_first_connect(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--delay-ms", "150", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    assert_true(itest_wait_value(e, BE(5) "/state", "4", WAIT_MS));
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "30", "5",
                                 "04:00.0", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(count_exported(e, 5), 2);
    assert_int_equal(itest_guest_count(e, 5), 2);
}

/* No pcifront in the guest: hot-add waits for Connected, then fails with
 * nothing written. */
static void test_attach_without_frontend(void **state)
{
    itest_env *e = *state;
    char *before;

    itest_model_start(e, "--no-frontend", "5", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    assert_true(itest_wait_value(e, BE(5) "/state", "3", WAIT_MS));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "0.5", "5",
                                 "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "not Connected"));
    assert_non_null(strstr(e->err, "nothing was written"));
    itest_assert_store(e, before);
    free(before);
}

/* A guest that never answers Reconfiguring: detach is rolled back, then
 * -f removes the device anyway. */
static void test_detach_stuck_guest(void **state)
{
    itest_env *e = *state;
    char *before;

    itest_model_start(e, "--frontend-stuck", "5", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    wait_connected(e, BE(5));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "0.5", "5",
                                 "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "rolled back"));
    itest_assert_store(e, before);

    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "0.5", "5",
                                 "05:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "rolled back"));
    itest_assert_store(e, before);
    free(before);

    assert_int_equal(itest_xlpci(e, "pci-detach", "-f", "-t", "0.5", "5",
                                 "03:00.0", NULL), 0);
    assert_non_null(strstr(e->err, "removing it anyway"));
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:04:00.0");
}

/* The libxl way on an unpatched kernel leaves 2 of 3 indices never
 * exported (state-N = 1, no vdev-N).  Detaching one must not drive it
 * through a Reconfiguring cycle: pcifront and pciback look a Closing
 * index up by vdev-N and close the whole connection when it is missing.
 * The guest never saw it, so it goes directly; the others stay. */
static void test_detach_never_exported(void **state)
{
    itest_env *e = *state;
    int exported, seen;

    itest_model_start(e, NULL);
    legacy_writer(e, &exported, &seen);
    assert_int_equal(exported, 1);
    assert_null(itest_read(e, BE(5) "/vdev-1"));
    assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "3", "5",
                                 "0000:81:10.2", NULL), 0);
    assert_null(itest_read(e, "/local/domain/0/error/backend/pci/5/0/error"));
    assert_null(itest_read(e, "/local/domain/5/error/device/pci/0/error"));
    itest_assert_node(e, BE(5) "/state", "4");
    itest_assert_node(e, "/local/domain/5/device/pci/0/state", "4");
    assert_int_equal(itest_check_backend(e, 5), 2);
    itest_assert_node(e, BE(5) "/dev-0", "0000:81:10.0");
    itest_assert_node(e, BE(5) "/dev-1", "0000:81:10.4");
    assert_int_equal(itest_guest_count(e, 5), 1);
}

/* The same with the whole slot: the never-exported functions go
 * directly, the exported one through the cycle, the guest releases it. */
static void test_detach_slot_partly_exported(void **state)
{
    itest_env *e = *state;
    int exported, seen;

    itest_model_start(e, NULL);
    legacy_writer(e, &exported, &seen);
    assert_int_equal(seen, 1);
    assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "3", "5",
                                 "0000:81:10.*", NULL), 0);
    assert_null(itest_read(e, "/local/domain/0/error/backend/pci/5/0/error"));
    assert_null(itest_read(e, "/local/domain/5/error/device/pci/0/error"));
    assert_null(itest_read(e, BE(5)));
    assert_int_equal(itest_guest_count(e, 5), 0);
}

/* pcifront reacts to the Reconfiguring (it removes the device from the
 * guest and goes to Reconfiguring itself) but pciback does not finish in
 * time: the detach must not be "rolled back" to state-N = 3 and backend
 * Connected.  The guest no longer has the device, and its frontend would
 * wait in Reconfiguring for ever.  -f then finishes the removal. */
static void test_detach_backend_stuck(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--backend-stuck", "5", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "2", "5", "03:00.0",
                                 NULL), 1);
    assert_null(strstr(e->err, "rolled back"));
    itest_assert_node(e, "/local/domain/5/device/pci/0/state", "7");
    assert_int_equal(itest_guest_count(e, 5), 1);      /* it is gone */
    itest_assert_node(e, BE(5) "/state", "7");
    itest_assert_node(e, BE(5) "/state-0", "5");

    assert_int_equal(itest_xlpci(e, "pci-detach", "-f", "-t", "0.5", "5",
                                 "03:00.0", NULL), 0);
    assert_int_equal(itest_check_backend(e, 5), 1);
    itest_assert_node(e, BE(5) "/dev-0", "0000:04:00.0");
}

/* The same for a hot-add: the guest's pcifront is in Reconfiguring, so
 * the addition stays and the backend stays Reconfiguring (once pciback
 * gets to it the cycle completes) instead of being put back to Connected
 * under a frontend that then waits for ever. */
static void test_attach_backend_stuck(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--backend-stuck", "5", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "2", "5", "04:00.0",
                                 NULL), 1);
    assert_null(strstr(e->err, "rolled back"));
    assert_non_null(strstr(e->err, "the guest reacted"));
    itest_assert_node(e, "/local/domain/5/device/pci/0/state", "7");
    itest_assert_node(e, BE(5) "/state", "7");
    assert_int_equal(itest_check_backend(e, 5), 2);
    itest_assert_node(e, BE(5) "/dev-1", "0000:04:00.0");
}

/* A detach killed after its first step left state-0 = 5 and state = 7
 * under a guest that never answers.  A second detach waits for that cycle
 * and times out: its rollback must not put the backend back to Connected
 * with state-0 still 5, the mark of a device the guest has released
 * (check --repair or the next detach would then remove it without the
 * guest's cooperation, while the guest still has it). */
static void test_detach_retry_after_crash(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--frontend-stuck", "5", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    wait_connected(e, BE(5));
    itest_write(e, BE(5) "/state-0", "5");
    itest_write(e, BE(5) "/state", "7");
    assert_int_equal(itest_xlpci(e, "pci-detach", "-t", "0.5", "5",
                                 "03:00.0", NULL), 1);
    itest_assert_node(e, BE(5) "/state", "7");
    itest_assert_node(e, BE(5) "/state-0", "5");
    assert_int_equal(itest_guest_count(e, 5), 2);
    /* not "released but never removed" */
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 0);
    assert_null(strstr(e->err, "never removed"));
}

/* -N pci-detach shows both transactions of the hot-remove, the cycle's
 * start and the removal with the compaction after it, and changes
 * nothing. */
static void test_detach_dry_run(void **state)
{
    itest_env *e = *state;
    char *before;

    itest_model_start(e, NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", "04:00.0",
                                 NULL), 0);
    wait_connected(e, BE(5));
    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "-N", "pci-detach", "5", "03:00.0",
                                 NULL), 0);
    assert_non_null(strstr(e->out, "write " BE(5) "/state-0 = \"5\""));
    assert_non_null(strstr(e->out, "write " BE(5) "/state = \"7\""));
    assert_non_null(strstr(e->out,
                           "write " BE(5) "/dev-0 = \"0000:04:00.0\""));
    assert_non_null(strstr(e->out, "write " BE(5) "/num_devs = \"1\""));
    itest_assert_store(e, before);
    free(before);
}

/* pciback cannot export the device: the backend closes and the attach
 * fails with pciback's message. */
static void test_attach_not_assignable(void **state)
{
    itest_env *e = *state;

    itest_model_start(e, "--not-assignable", "0000:07:00.0", NULL);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 0);
    wait_connected(e, BE(5));
    assert_int_equal(itest_xlpci(e, "pci-attach", "5", "07:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "Closing"));
    assert_non_null(strstr(e->err, "perhaps already in-use"));
}

/* One pci-attach or pci-detach in process: it succeeds in attempts
 * transactions, with fixed requests plus the wait's re-reads of the
 * backend state (at least one, within the re-read budget). */
static void hot_op(unsigned domid, const xlpci_spec *spec, bool detach,
                   unsigned m, unsigned long attempts, unsigned long fixed)
{
    xlpci_stats st;
    xlpci_ctx *ctx;

    assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
    xlpci_ctx_set_hypervisor(ctx, XLPCI_HV_NONE);
    assert_int_equal(detach ? xlpci_detach(ctx, domid, spec, 0)
                            : xlpci_attach(ctx, domid, spec, NULL), 0);
    xlpci_ctx_get_stats(ctx, &st);
    xlpci_ctx_free(ctx);
    assert_int_equal(st.attempts, attempts);
    if (st.requests <= fixed || st.requests - fixed > XLPCI_REREAD_BURST)
        fail_msg("%s with %u attached: %lu requests, %lu of its "
                 "transactions and wait + the re-reads (1 to %u)",
                 detach ? "pci-detach" : "pci-attach", m, st.requests,
                 fixed, XLPCI_REREAD_BURST);
}

/* What a hot-add and a hot-remove cost, with m = 1 and 6 devices attached
 * already (issue 22): every transaction reads the backend once, and of
 * each device there only what the flow decides on and check judges
 * (dev-N, state-N, opts-N: 3 reads; key-N and vdev-N are not read); the
 * wait for the guest watches the backend state alone and re-reads it after
 * each batch of events (r times, at least once, and never more than the
 * re-read budget lets a guest that behaves), then dev-N and state-N of
 * the new index;
 * the removal after the cycle reads dev-N where the first step found the
 * device, not the whole backend.  In process, warm (the device's
 * /libxl/pci/<bdf> exists, as after any earlier assignment). */
static void test_hot_cost(void **state)
{
    static const unsigned ms[] = { 1, 6 };
    itest_env *e = *state;
    unsigned k;

    itest_model_start(e, NULL);
    for (k = 0; k < 2; k++) {
        unsigned m = ms[k], domid = 5 + k, i;
        char bdf[16], path[XLPCI_PATH_MAX], err[128];
        unsigned long fixed;
        xlpci_view view;
        xlpci_spec spec;
        xlpci_dev dev;
        xlpci_ops ops;

        if (k == 0)
            assert_int_equal(itest_xlpci(e, "create", "5", "30:00.0", NULL),
                             0);
        else
            assert_int_equal(itest_xlpci(e, "create", "6", "31:00.0",
                                         "31:01.0", "31:02.0", "31:03.0",
                                         "31:04.0", "31:05.0", NULL), 0);
        snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u/0",
                 domid);
        wait_connected(e, path);
        for (i = 0; i < 1000 && count_exported(e, domid) != m; i++)
            h_sleep_ms(10);
        assert_int_equal(count_exported(e, domid), m);

        snprintf(bdf, sizeof(bdf), "0000:4%u:00.0", k);
        xlpci_spec_init(&spec);
        assert_int_equal(xlpci_spec_parse(bdf, &spec, err, sizeof(err)), 0);
        memset(&dev, 0, sizeof(dev));
        dev.bdf = spec.bdf;
        xlpci_libxl_path(path, &dev.bdf, NULL);
        assert_true(xs_mkdir(e->xs, XBT_NULL, path));

        /* pci-attach: one transaction (start, the record's directory,
         * the backend's listing, state and num_devs, 3 reads per device,
         * the frontend's state, the writes: the record and the row
         * appended, ops, commit); the wait: a watch on the backend's
         * state, r reads of it, dev-m and state-m, the unwatch */
        xlpci_ops_init(&ops);
        xlpci_view_init(&view);
        view.exists = true;
        view.num_devs = m;
        assert_int_equal(xlpci_layout_append(&ops, domid, &view, &dev, 1,
                                             true), 0);
        fixed = 7 + 3 * m + 1 + ops.n + 4;
        xlpci_ops_dispose(&ops);
        hot_op(domid, &spec, false, m, 1, fixed);
        snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u/0/"
                 "state-%u", domid, m);
        itest_assert_node(e, path, "3");

        /* pci-detach: start, listing, state, num_devs, 3 per device (m +
         * 1 now), the frontend's state, state-m and state, commit; the
         * wait (2 + r); start, listing, state, num_devs, dev-m, the
         * record's domid, the 5 keys of row m removed, num_devs, the
         * record's domid removed, commit */
        fixed = 8 + 3 * (m + 1) + 2 + 14;
        hot_op(domid, &spec, true, m, 2, fixed);
        assert_int_equal(itest_check_backend(e, domid), m);
        assert_int_equal(itest_guest_count(e, domid), (int)m);
        xlpci_spec_dispose(&spec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_exports_all, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_writer_sees_one,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_check_never_exported,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_legacy_writer_patched,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_hot_add_and_remove, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_middle, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_cycles, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_attach, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_detach, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_during_first_connect,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_without_frontend,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_stuck_guest, itest_setup,
                                        itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_not_assignable,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_never_exported,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_slot_partly_exported,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_backend_stuck,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_attach_backend_stuck,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_retry_after_crash,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_detach_dry_run,
                                        itest_setup, itest_teardown),
        cmocka_unit_test_setup_teardown(test_hot_cost, itest_setup,
                                        itest_teardown),
    };

    return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}

/*
 * `xlpci watch` against the real xenstored: domains appear by XS_INTRODUCE
 * (@introduceDomain; the shim maps the ring as an anonymous page) and die
 * by the shim's dead file (@releaseDomain once the daemon finds them
 * gone).  No hypervisor here (XLPCI_HYPERVISOR=none, no xen-pciback): a
 * domain lives while its /local/domain/<domid> does, as libxl removes it
 * before destroying the domain.  The watcher runs as the admin runs it,
 * in the foreground, its readiness on $NOTIFY_SOCKET (systemd's
 * protocol), its log in a file.
 *
 * Checked: a named guest's new domain gets every device of its file in
 * one transaction (xl create, and the new domain of xl reboot), a dead
 * domain's devices, records and entries go; nothing for a domain with no
 * file; a name written after the introduction; the start's reconcile
 * (dead holders released, live guests given their devices, a backend
 * already there left alone) and that a second start changes nothing;
 * records another tool removed written back (never while a device is
 * being removed); a bad device list is an error naming the file and
 * stops nothing else; SIGHUP reconciles; --once and -N; a guest
 * flooding its own directory neither slows nor bloats the watcher.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define DEV3 "0000:03:00.0"
#define DEV4 "0000:04:00.0"
#define DEV5 "0000:05:00.0"
#define WEB_CFG "pci = [ \"03:00.0\", \"04:00.0,permissive=1\", " \
                "\"05:00.0\" ]\n"

typedef struct {
    itest_env *e;
    char tmp[256];
    char dir[300];                   /* the guests directory */
    char log[300];                   /* the watcher's output */
    char dead[300];                  /* the daemon's dead file */
    char notify[300];                /* $NOTIFY_SOCKET */
    int nfd;
    pid_t pid;
} wenv;

static wenv g;

static int w_setup(void **state)
{
    struct xsd_opts o = { 0 };
    struct sockaddr_un sa;
    char path[400];

    memset(&g, 0, sizeof(g));
    g.nfd = -1;
    if (h_mkdtemp(g.tmp, sizeof(g.tmp)))
        return -1;
    snprintf(g.dead, sizeof(g.dead), "%s/dead", g.tmp);
    snprintf(g.dir, sizeof(g.dir), "%s/guests", g.tmp);
    snprintf(g.log, sizeof(g.log), "%s/watch.log", g.tmp);
    snprintf(g.notify, sizeof(g.notify), "%s/notify", g.tmp);
    mkdir(g.dir, 0755);
    o.dead_file = g.dead;
    if (itest_setup_opts(state, &o))
        return -1;
    g.e = *state;
    snprintf(path, sizeof(path), "%s/state", g.tmp);
    setenv("XLPCI_STATE_DIR", path, 1);
    snprintf(path, sizeof(path), "%s/nosys", g.tmp);
    setenv("XLPCI_SYSFS_ROOT", path, 1);
    setenv("XLPCI_HYPERVISOR", "none", 1);
    /* systemd's notify socket: the watcher says READY=1 on it */
    g.nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(g.notify) >= sizeof(sa.sun_path))
        return -1;
    memcpy(sa.sun_path, g.notify, strlen(g.notify) + 1);
    if (g.nfd < 0 || bind(g.nfd, (struct sockaddr *)&sa, sizeof(sa)))
        return -1;
    setenv("NOTIFY_SOCKET", g.notify, 1);
    return 0;
}

static int w_teardown(void **state)
{
    if (g.pid)
        h_stop(g.pid);
    g.pid = 0;
    if (g.nfd >= 0)
        close(g.nfd);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("XLPCI_STATE_DIR");
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_HYPERVISOR");
    if (getenv("ITEST_VERBOSE")) {
        char *l = itest_slurp(g.log);

        fprintf(stderr, "--- watcher log\n%s", l);
        free(l);
    }
    h_rmrf(g.tmp);
    return itest_teardown(state);
}

/* The next systemd notification (up to 10 s), into buf; false if none. */
static bool notified(char *buf, size_t len)
{
    struct pollfd pfd = { .fd = g.nfd, .events = POLLIN };
    ssize_t n;

    if (poll(&pfd, 1, 10000 * h_slow()) != 1)
        return false;
    n = recv(g.nfd, buf, len - 1, 0);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Start `xlpci -v watch -g DIR -t 5 [args]` and wait for its READY=1. */
static void watcher_start(const char *arg, ...)
{
    char *argv[32], msg[256];
    const char *a;
    va_list ap;
    int n = 0;

    assert_int_equal(g.pid, 0);
    argv[n++] = (char *)h_prog("xlpci");
    argv[n++] = (char *)"-v";
    argv[n++] = (char *)"watch";
    argv[n++] = (char *)"-g";
    argv[n++] = g.dir;
    argv[n++] = (char *)"-t";
    argv[n++] = (char *)"5";
    va_start(ap, arg);
    for (a = arg; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(h_spawn_to(&g.pid, argv, NULL, 0, g.log), 0);
    if (!notified(msg, sizeof(msg)) || !strstr(msg, "READY=1"))
        fail_msg("no READY=1 from the watcher:\n%s", itest_slurp(g.log));
}

/* SIGTERM: it says STOPPING=1 and exits 0 (no valgrind error). */
static void watcher_stop(void)
{
    char msg[256];
    int rc;

    assert_true(g.pid > 0);
    rc = h_stop(g.pid);
    g.pid = 0;
    if (rc)
        fail_msg("the watcher exited %d:\n%s", rc, itest_slurp(g.log));
    assert_true(notified(msg, sizeof(msg)));
    assert_non_null(strstr(msg, "STOPPING=1"));
}

static void guest_file(const char *name, const char *text)
{
    char path[400];

    snprintf(path, sizeof(path), "%s/%s.cfg", g.dir, name);
    itest_put_file(path, text);
}

/* A domain appears as libxl makes it: its directory and name, then
 * XS_INTRODUCE (name NULL: the name comes later). */
static void dom_new(unsigned d, const char *name)
{
    char path[128];

    snprintf(path, sizeof(path), "/local/domain/%u/device", d);
    itest_write(g.e, path, "");
    if (name)
        itest_mkdomain(g.e, d, name);
    assert_int_equal(xsd_introduce(g.e->xs, d), 0);
}

/* A domain dies as xl destroys it: its directory goes, then Xen's
 * domain (the daemon fires @releaseDomain). */
static void dom_die(unsigned d)
{
    char path[128];

    snprintf(path, sizeof(path), "/local/domain/%u", d);
    assert_true(xs_rm(g.e->xs, XBT_NULL, path));
    assert_int_equal(xsd_kill(&g.e->xsd, d), 0);
}

#define assert_eventually(path, want) \
    itest_assert_eventually_at(g.e, g.log, __FILE__, __LINE__, path, want)

/* Wait (10 s, x10 under valgrind) for text in the watcher's log. */
static void wait_log(const char *text)
{
    long long end = h_now_ms() + 10000LL * h_slow();
    char *l;

    for (;;) {
        l = itest_slurp(g.log);
        if (strstr(l, text))
            break;
        if (h_now_ms() > end)
            fail_msg("the watcher never said \"%s\":\n%s", text, l);
        free(l);
        h_sleep_ms(10);
    }
    free(l);
}

/* The domain's backend lists exactly these devices, in this order, and
 * each record names it. */
static void assert_devices(unsigned d, const char *const *devs, size_t n)
{
    char path[160], num[16];
    size_t i;

    snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u/0/num_devs",
             d);
    snprintf(num, sizeof(num), "%zu", n);
    assert_eventually(path, num);
    assert_int_equal(itest_check_backend(g.e, d), n);
    for (i = 0; i < n; i++) {
        char rec[64], dom[16];

        assert_int_equal(itest_find(g.e, d, devs[i]), (int)i);
        snprintf(rec, sizeof(rec), "/libxl/pci/%.4s-%.2s-%.2s-%c/domid",
                 devs[i], devs[i] + 5, devs[i] + 8, devs[i][11]);
        snprintf(dom, sizeof(dom), "%u", d);
        assert_eventually(rec, dom);
    }
}

static const char *const web_devs[] = { DEV3, DEV4, DEV5 };

/* Nothing of domain d is left: no backend, no frontend, no record. */
static void assert_released(unsigned d)
{
    char path[160], *dump, needle[32];

    snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u", d);
    assert_eventually(path, NULL);
    dump = itest_dump(g.e);
    snprintf(needle, sizeof(needle), "/domid = \"%u\"", d);
    if (strstr(dump, needle))
        fail_msg("a record still names domain %u:\n%s", d, dump);
    free(dump);
}

/* A named guest has a barrier's role: once its devices are there, the
 * watcher has handled every event before its introduction. */
static void barrier(unsigned d)
{
    static const char *const one[] = { "0000:0b:00.0" };
    char name[32];

    snprintf(name, sizeof(name), "barrier%u", d);
    guest_file(name, "pci = [ \"0b:00.0\" ]\n");
    dom_new(d, name);
    assert_devices(d, one, 1);
    dom_die(d);
    assert_released(d);
}

/* ---- the tests --------------------------------------------------------------- */

static void test_create_and_destroy(void **state)
{
    char *before;

    (void)state;
    guest_file("web", WEB_CFG);
    watcher_start(NULL);
    dom_new(20, "web");                /* xl create */
    assert_devices(20, web_devs, 3);
    assert_eventually(BE(20) "/opts-1",
                      "msitranslate=0,power_mgmt=0,permissive=1,"
                      "rdm_policy=strict");
    assert_eventually(BE(20) "/domain", "web");
    assert_eventually("/local/domain/20/device/pci/0/backend", BE(20));
    dom_die(20);                       /* xl destroy */
    assert_released(20);
    assert_eventually("/local/domain/20/device/pci/0", NULL);
    /* a domain with no device list: nothing (checked after a barrier) */
    before = itest_dump(g.e);
    dom_new(21, "other");
    barrier(22);
    {
        char *after = itest_dump(g.e);

        if (strstr(after, "backend/pci/21"))
            fail_msg("domain 21 got a backend:\n%s", after);
        free(after);
    }
    free(before);
    watcher_stop();
    {
        char *l = itest_slurp(g.log);

        /* the reaction, as the log says it */
        assert_non_null(strstr(l, "domain 20: its PCI devices are given, "));
        assert_non_null(strstr(l, "ms after it appeared"));
        assert_non_null(strstr(l, "domain 20: what it held is released, "));
        free(l);
    }
}

static void test_reboot(void **state)
{
    (void)state;
    guest_file("web", WEB_CFG);
    watcher_start(NULL);
    dom_new(30, "web");
    assert_devices(30, web_devs, 3);
    /* xl reboot: the old domain goes, a new one of that name comes; the
     * two events reach the watcher together */
    dom_die(30);
    dom_new(31, "web");
    assert_devices(31, web_devs, 3);
    assert_released(30);
    /* and again, the death seen first this time */
    dom_die(31);
    assert_released(31);
    dom_new(32, "web");
    assert_devices(32, web_devs, 3);
    watcher_stop();
}

static void test_name_comes_later(void **state)
{
    (void)state;
    guest_file("late", "pci = [ \"03:00.0\" ]\n");
    watcher_start(NULL);
    dom_new(40, NULL);                 /* no name yet */
    barrier(41);
    itest_mkdomain(g.e, 40, "late");
    assert_devices(40, web_devs, 1);
    watcher_stop();
}

static void test_start_reconcile(void **state)
{
    static const char *const seven[] = { "0000:07:00.0" };
    char *be7, *after, *dump;

    (void)state;
    /* domain 5 holds two devices and is gone (died while no watcher
     * ran); domain 6 (guest6) has a file and no backend; domain 7
     * (guest7) has a file and a backend someone else made */
    assert_int_equal(itest_xlpci(g.e, "create", "5", DEV3, DEV4, NULL), 0);
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/local/domain/5"));
    guest_file("guest6", WEB_CFG);
    guest_file("guest7", WEB_CFG);
    assert_int_equal(itest_xlpci(g.e, "create", "7", "07:00.0", NULL), 0);
    be7 = h_xs_dump(g.e->xs, BE(7));
    watcher_start(NULL);
    assert_released(5);
    assert_devices(6, web_devs, 3);
    assert_devices(7, seven, 1);
    after = h_xs_dump(g.e->xs, BE(7));
    itest_assert_same(be7, after, "domain 7's backend changed");
    free(be7);
    barrier(49);                       /* its record directory stays */
    watcher_stop();
    /* started again: nothing to do, nothing changes */
    dump = itest_dump(g.e);
    watcher_start(NULL);
    barrier(50);
    itest_assert_store(g.e, dump);
    watcher_stop();
    free(dump);
    {
        char *l = itest_slurp(g.log);

        assert_non_null(strstr(l, "domain 5: what it held is released "
                                  "(the watcher's reconcile)"));
        free(l);
    }
}

static void test_killed_during_reboot(void **state)
{
    int st;

    (void)state;
    guest_file("web", WEB_CFG);
    watcher_start(NULL);
    dom_new(100, "web");
    assert_devices(100, web_devs, 3);
    /* kill -9, and the guest reboots meanwhile */
    assert_int_equal(kill(g.pid, SIGKILL), 0);
    assert_int_equal(waitpid(g.pid, &st, 0), g.pid);
    g.pid = 0;
    dom_die(100);
    dom_new(101, "web");
    /* started again (systemd's Restart=on-failure): the same end state */
    watcher_start(NULL);
    assert_devices(101, web_devs, 3);
    assert_released(100);
    watcher_stop();
}

static void test_records_restored(void **state)
{
    (void)state;
    guest_file("web", WEB_CFG);
    watcher_start(NULL);
    dom_new(60, "web");
    assert_devices(60, web_devs, 3);
    /* another tool drops a record the live backend still needs */
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/libxl/pci/0000-04-00-0/domid"));
    assert_eventually("/libxl/pci/0000-04-00-0/domid", "60");
    /* never while the device is being removed (libxl's pci-detach drops
     * the record after writing state-N = 5, Reconfiguring) */
    itest_write(g.e, BE(60) "/state-2", "5");
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/libxl/pci/0000-05-00-0/domid"));
    /* ... or a Reconfiguring cycle runs */
    itest_write(g.e, BE(60) "/state", "7");
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/libxl/pci/0000-03-00-0/domid"));
    barrier(61);
    assert_eventually("/libxl/pci/0000-05-00-0/domid", NULL);
    assert_eventually("/libxl/pci/0000-03-00-0/domid", NULL);
    watcher_stop();
    {
        char *l = itest_slurp(g.log);

        assert_non_null(strstr(l, "domain 60's backend lists 0000:04:00.0 "
                                  "but its /libxl/pci record was removed: "
                                  "written back"));
        assert_null(strstr(l, "lists 0000:05:00.0 but"));
        free(l);
    }
}

static void test_bad_device_list(void **state)
{
    char *l;

    (void)state;
    guest_file("bad", "pci = [ \"03:00.0\" \n");      /* unclosed */
    guest_file("wrong", "name = \"other\"\npci = [ \"04:00.0\" ]\n");
    guest_file("nodev", "pci = [ \"zz:00.0\" ]\n");
    guest_file("web", WEB_CFG);
    watcher_start(NULL);
    dom_new(70, "bad");
    dom_new(71, "wrong");
    dom_new(72, "nodev");
    dom_new(73, "web");                /* the others stop nothing */
    assert_devices(73, web_devs, 3);
    barrier(74);
    l = itest_dump(g.e);
    if (strstr(l, "backend/pci/70") || strstr(l, "backend/pci/71") ||
        strstr(l, "backend/pci/72"))
        fail_msg("a bad device list made a backend:\n%s", l);
    free(l);
    wait_log("domain 70 (bad): ");
    wait_log("/bad.cfg:");
    wait_log("/wrong.cfg: name = \"other\" is not the domain's name");
    wait_log("domain 72 (nodev): ");
    wait_log("the create of domain 70 failed (see above); not tried again");
    wait_log("the create of domain 71 failed (see above); not tried again");
    watcher_stop();
}

static void test_sighup_reconciles(void **state)
{
    (void)state;
    watcher_start(NULL);
    barrier(80);
    /* the admin writes a device list for a running guest, then reloads */
    guest_file("guest5", WEB_CFG);
    assert_int_equal(kill(g.pid, SIGHUP), 0);
    assert_devices(5, web_devs, 3);
    watcher_stop();
}

static void test_once_and_dry_run(void **state)
{
    char *before;

    (void)state;
    guest_file("guest5", WEB_CFG);
    assert_int_equal(itest_xlpci(g.e, "create", "6", "07:00.0", NULL), 0);
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/local/domain/6"));
    /* a dry run prints the plans, changes nothing (each against the
     * store as it is) */
    before = itest_dump(g.e);
    assert_int_equal(itest_xlpci(g.e, "-N", "watch", "--once", "-g", g.dir,
                                 NULL), 0);
    assert_non_null(strstr(g.e->out, "/local/domain/0/backend/pci/5/0"));
    assert_non_null(strstr(g.e->out, "rm /local/domain/0/backend/pci/6\n"));
    itest_assert_store(g.e, before);
    free(before);
    /* only once */
    assert_int_equal(itest_xlpci(g.e, "-N", "watch", "-g", g.dir, NULL), 2);
    assert_non_null(strstr(g.e->err, "needs --once"));
    /* once: the host reconciled, exit 0 */
    assert_int_equal(itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL),
                     0);
    assert_devices(5, web_devs, 3);
    assert_released(6);
    before = itest_dump(g.e);
    assert_int_equal(itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL),
                     0);
    itest_assert_store(g.e, before);
    free(before);
    /* a failed action: exit 1 */
    guest_file("guest7", "pci = [ \"04:00.0\" ]\n");   /* guest5 holds it */
    assert_int_equal(itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL),
                     1);
    assert_non_null(strstr(g.e->err, "the create of domain 7 failed"));
}

static void test_usage(void **state)
{
    (void)state;
    assert_int_equal(itest_xlpci(g.e, "watch", "extra", NULL), 2);
    assert_non_null(strstr(g.e->err, "no arguments expected"));
    assert_int_equal(itest_xlpci(g.e, "watch", "-j", "0", NULL), 2);
    assert_non_null(strstr(g.e->err, "bad number \"0\""));
    assert_int_equal(itest_xlpci(g.e, "watch", "-q", "x", NULL), 2);
    assert_int_equal(itest_xlpci(g.e, "watch", "-h", NULL), 0);
    assert_non_null(strstr(g.e->out, "--guests DIR"));
}

/* The guest of domain 5 rewrites its own directory as fast as it can. */
static pid_t flood(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (!pid) {
        struct xs_handle *xs = xs_open(0);
        char path[128], val[64];
        unsigned i;

        if (!xs)
            _exit(1);
        for (i = 0;; i++) {
            snprintf(path, sizeof(path),
                     "/local/domain/5/device/pci/0/junk-%u", i % 4096);
            snprintf(val, sizeof(val), "%u", i);
            xs_write(xs, XBT_NULL, path, val, strlen(val));
            xs_write(xs, XBT_NULL, "/local/domain/5/device/pci/0/state",
                     val, strlen(val));
        }
    }
    return pid;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static void test_hostile_guest(void **state)
{
    long before, after;
    pid_t fl;
    int st;

    (void)state;
    guest_file("web", WEB_CFG);
    watcher_start(NULL);
    barrier(90);
    before = rss_kb(g.pid);
    fl = flood();
    h_sleep_ms(500);
    /* meanwhile the other domains are served as usual */
    dom_new(91, "web");
    assert_devices(91, web_devs, 3);
    dom_die(91);
    assert_released(91);
    h_sleep_ms(500);
    after = rss_kb(g.pid);
    kill(fl, SIGKILL);
    waitpid(fl, &st, 0);
    /* it watches nothing a guest writes: no event, no memory (under
     * valgrind the resident size is valgrind's) */
    if (h_slow() == 1 && after - before > 1024)
        fail_msg("the watcher grew from %ld to %ld kB while a guest "
                 "flooded its directory", before, after);
    watcher_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_destroy, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_reboot, w_setup, w_teardown),
        cmocka_unit_test_setup_teardown(test_name_comes_later, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_start_reconcile, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_killed_during_reboot, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_records_restored, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_bad_device_list, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reconciles, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_once_and_dry_run, w_setup,
                                        w_teardown),
        cmocka_unit_test_setup_teardown(test_usage, w_setup, w_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_guest, w_setup,
                                        w_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

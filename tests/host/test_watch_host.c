/*
 * `xlpci watch` with the host side and a hypervisor: the fake sysfs
 * kernel (xen-pciback loaded), the fake libxenctrl (Xen's list of
 * domains from FAKEXC_DOMAINS_FILE, rewritten as domains come and go;
 * the IOMMU contexts in FAKEXC_STATE), the real xenstored (XS_INTRODUCE,
 * the dead file), and for HVM guests the QMP peer as their QEMU.
 *
 *  - Xen decides who lives: a dying domain whose /local/domain/<domid>
 *    is still there is released; a shut-down one is not (xl reboot
 *    destroys it, xl save may resume it);
 *  - a domain built without passthrough: the watcher says its xl config
 *    needs passthrough="enabled", and does not try again;
 *  - an HVM guest gets its device once its QEMU answers;
 *  - isolation: a QEMU that never greets holds its own create only; a
 *    stopped action is killed at its deadline and tried again; the other
 *    domains are served meanwhile;
 *  - crash safety: `xlpci-test watch --once` killed at every xenstore
 *    request (XLPCI_CRASH_AT) and every host step (XLPCI_CRASH_HOST_AT)
 *    of a reboot's reconcile (the old domain dead with two devices, one
 *    seized, the new domain of its name without them), then the watcher
 *    run again: the new domain has both, the old one nothing, the
 *    bookkeeping, records, IOMMU and grants agree, and a third run
 *    changes nothing.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "libxlpci_priv.h"

#define DEV3 "0000:03:00.0"
#define DEV4 "0000:04:00.0"
#define DEV5 "0000:05:00.0"

typedef struct {
    itest_env *e;
    itest_host h;
    char tmp[256];
    char dir[300], log[300], dead[300], doms[300], run[300];
    pid_t pid, peer;
} henv;

static henv g;

/* Device 0000:0X:00.0: memory 0xfX000000 (16 pages), irq 1X: the fake's
 * log tells the devices apart. */
static void resources(unsigned x)
{
    char path[400], text[200];

    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:%02x:00.0/resource",
             g.h.sys, x);
    snprintf(text, sizeof(text),
             "0x00000000f%x000000 0x00000000f%x00ffff 0x0000000000040200\n",
             x, x);
    itest_put_file(path, text);
    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:%02x:00.0/irq",
             g.h.sys, x);
    snprintf(text, sizeof(text), "%u\n", 10 + x);
    itest_put_file(path, text);
}

/* Xen's domains: "5=pv,6=hvm+dying,..." */
static void xen_domains(const char *spec)
{
    itest_put_file(g.doms, spec);
}

static int h_setup(void **state)
{
    struct xsd_opts o = { 0 };

    memset(&g, 0, sizeof(g));
    if (h_mkdtemp(g.tmp, sizeof(g.tmp)))
        return -1;
    snprintf(g.dead, sizeof(g.dead), "%s/dead", g.tmp);
    snprintf(g.dir, sizeof(g.dir), "%s/guests", g.tmp);
    snprintf(g.log, sizeof(g.log), "%s/watch.log", g.tmp);
    snprintf(g.doms, sizeof(g.doms), "%s/domains", g.tmp);
    snprintf(g.run, sizeof(g.run), "%s/run", g.tmp);
    mkdir(g.dir, 0755);
    mkdir(g.run, 0755);
    o.dead_file = g.dead;
    if (itest_setup_opts(state, &o))
        return -1;
    g.e = *state;
    if (itest_host_setup(g.e, &g.h))
        return -1;
    resources(3);
    resources(4);
    resources(5);
    xen_domains("5=pv,6=pv,7=pv,8=pv");
    setenv("FAKEXC_DOMAINS_FILE", g.doms, 1);
    setenv("XLPCI_RUN_DIR", g.run, 1);
    return 0;
}

static int h_teardown(void **state)
{
    if (g.pid)
        h_stop(g.pid);
    if (g.peer)
        h_stop(g.peer);
    g.pid = g.peer = 0;
    unsetenv("FAKEXC_DOMAINS_FILE");
    unsetenv("XLPCI_RUN_DIR");
    if (getenv("ITEST_VERBOSE")) {
        char *l = itest_slurp(g.log);

        fprintf(stderr, "--- watcher log\n%s", l);
        free(l);
    }
    itest_host_teardown(&g.h);
    h_rmrf(g.tmp);
    return itest_teardown(state);
}

static void guest_file(const char *name, const char *text)
{
    char path[400];

    snprintf(path, sizeof(path), "%s/%s.cfg", g.dir, name);
    itest_put_file(path, text);
}

static bool log_has(const char *text)
{
    char *l = itest_slurp(g.log);
    bool has = strstr(l, text) != NULL;

    free(l);
    return has;
}

/* Wait (10 s, x10 under valgrind) for text in the watcher's log. */
static void wait_log(const char *text)
{
    long long end = h_now_ms() + 10000LL * h_slow();

    while (!log_has(text)) {
        if (h_now_ms() > end)
            fail_msg("the watcher never said \"%s\":\n%s", text,
                     itest_slurp(g.log));
        h_sleep_ms(10);
    }
}

static void watcher_start(const char *arg, ...)
{
    char *argv[32];
    const char *a;
    va_list ap;
    int n = 0;

    argv[n++] = (char *)h_prog("xlpci");
    argv[n++] = (char *)"-v";
    argv[n++] = (char *)"watch";
    argv[n++] = (char *)"-g";
    argv[n++] = g.dir;
    va_start(ap, arg);
    for (a = arg; a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(h_spawn_to(&g.pid, argv, NULL, 0, g.log), 0);
    wait_log("watching the domains (Xen's list)");
}

static void watcher_stop(void)
{
    int rc = h_stop(g.pid);

    g.pid = 0;
    if (rc)
        fail_msg("the watcher exited %d:\n%s", rc, itest_slurp(g.log));
}

static void dom_new(unsigned d, const char *name)
{
    itest_mkdomain(g.e, d, name);
    assert_int_equal(xsd_introduce(g.e->xs, d), 0);
}

#define assert_eventually(path, want) \
    itest_assert_eventually_at(g.e, g.log, __FILE__, __LINE__, path, want)

/* The fake IOMMU's context of bdf: "0" (dom0), "io" or a domid. */
static const char *iommu_of(const char *bdf)
{
    static char ctx[16];
    char *text = itest_slurp(g.h.iommu), *line, *save = NULL;
    char b[32], w[16];

    snprintf(ctx, sizeof(ctx), "0");
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (sscanf(line, "%31s %15s", b, w) == 2 && !strcmp(b, bdf))
            snprintf(ctx, sizeof(ctx), "%s", w);
    free(text);
    return ctx;
}

/* Does domain d hold device 0X's memory, by the fake's log (net of every
 * grant and revocation)? */
static bool holds_memory(unsigned d, unsigned x)
{
    char *text = itest_slurp(g.h.log), *line, *save = NULL, key[96];
    bool held = false;

    snprintf(key, sizeof(key), "iomem_permission dom=%u first=0xf%x000 ", d,
             x);
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if (!strncmp(line, key, strlen(key)) && !strstr(line, " -> "))
            held = strstr(line, "allow=1") != NULL;
    free(text);
    return held;
}

/* The bookkeeping record of bdf: its domid (-1: assignable, -2: none)
 * and whether it was seized (managed). */
static int bk_domid(const char *bdf, bool *managed)
{
    char path[400], err[256], *text;
    xlpci_bk_dev *v = NULL;
    xlpci_bdf want;
    size_t n = 0, i;
    int d = -2;

    snprintf(path, sizeof(path), "%s/devices.json", g.h.state);
    text = itest_slurp(path);
    if (*text && xlpci_bk_from_json(text, &v, &n, err, sizeof(err)))
        fail_msg("%s: %s", path, err);
    free(text);
    assert_int_equal(xlpci_bdf_parse(bdf, &want, err, sizeof(err)), 0);
    for (i = 0; i < n; i++) {
        if (!xlpci_bdf_cmp(&v[i].bdf, &want)) {
            d = v[i].domid;
            if (managed)
                *managed = v[i].managed;
        }
        xlpci_bk_dev_dispose(&v[i]);
    }
    free(v);
    return d;
}

/* ---- Xen decides who lives ------------------------------------------------ */

static void test_xen_lives_and_dies(void **state)
{
    (void)state;
    guest_file("web", "pci = [ \"04:00.0\", \"05:00.0\" ]\n");
    xen_domains("5=pv,6=pv,7=pv,8=pv,20=pv");
    watcher_start(NULL);
    dom_new(20, "web");
    assert_eventually(BE(20) "/num_devs", "2");
    assert_eventually("/libxl/pci/0000-05-00-0/domid", "20");
    assert_string_equal(iommu_of(DEV4), "20");
    assert_string_equal(iommu_of(DEV5), "20");
    assert_true(holds_memory(20, 4));
    assert_int_equal(bk_domid(DEV4, NULL), 20);
    /* shut down (xl reboot destroys it next; xl save may resume it): not
     * released, whatever event comes */
    xen_domains("5=pv,6=pv,7=pv,8=pv,20=pv+shutdown,21=pv");
    dom_new(21, "nobody");
    wait_log("domain 21 (nobody): no device list");
    assert_eventually(BE(20) "/num_devs", "2");
    assert_false(log_has("domain 20 is gone"));
    /* dying: released although xenstore still lists it (libxl removes
     * /local/domain/<domid> last, and may fail before) */
    xen_domains("5=pv,6=pv,7=pv,8=pv,20=pv+dying,21=pv");
    assert_int_equal(xsd_kill(&g.e->xsd, 20), 0);
    assert_eventually(BE(20), NULL);
    assert_eventually("/libxl/pci/0000-05-00-0/domid", NULL);
    wait_log("domain 20: what it held is released");
    assert_int_equal(bk_domid(DEV4, NULL), -1);
    assert_int_equal(bk_domid(DEV5, NULL), -1);
    /* (its I/O permissions and IOMMU contexts: Xen took them back when
     * it killed the domain; the release asks nothing of a dying domain) */
    assert_int_equal(itest_xlpci(g.e, "pci-assignable-list", NULL), 0);
    assert_string_equal(g.e->out, DEV4 " \n" DEV5 " \n");
    watcher_stop();
}

static void test_no_passthrough(void **state)
{
    (void)state;
    guest_file("nopt", "pci = [ \"04:00.0\" ]\n");
    guest_file("web", "pci = [ \"05:00.0\" ]\n");
    xen_domains("5=pv,6=pv,7=pv,8=pv,30=pv-nopt,31=pv");
    watcher_start(NULL);
    dom_new(30, "nopt");
    dom_new(31, "web");
    assert_eventually(BE(31) "/num_devs", "1");
    wait_log("domain 30 (nopt) was created without passthrough: Xen "
             "refuses it PCI devices (0000:04:00.0: xc_test_assign_device: "
             "EOPNOTSUPP).  Add passthrough=\"enabled\" to its xl config");
    wait_log("the create of domain 30 failed (see above); not tried again");
    assert_eventually(BE(30), NULL);
    assert_int_equal(bk_domid(DEV4, NULL), -2);    /* untouched */
    assert_string_equal(iommu_of(DEV4), "0");
    watcher_stop();
}

/* ---- HVM ------------------------------------------------------------------- */

/* The QEMU of domain d; late: its greeting comes that many ms late. */
static void peer_start(unsigned d, const char *late)
{
    char sock[400], ready[400], dom[16];
    char *argv[10];
    int n = 0;

    snprintf(sock, sizeof(sock), "%s/qmp-libxl-%u", g.run, d);
    snprintf(ready, sizeof(ready), "%s/qmp-%u.ready", g.tmp, d);
    argv[n++] = (char *)h_prog("qmppeer");
    argv[n++] = sock;
    argv[n++] = (char *)"--ready";
    argv[n++] = ready;
    if (late) {
        argv[n++] = (char *)"--late";
        argv[n++] = (char *)late;
    }
    snprintf(dom, sizeof(dom), "%u", d);
    argv[n++] = (char *)"-xen-domid";  /* as libxl starts QEMU */
    argv[n++] = dom;
    argv[n] = NULL;
    assert_int_equal(h_spawn(&g.peer, argv, ready, 5000 * h_slow()), 0);
}

static void test_hvm_waits_for_qemu(void **state)
{
    (void)state;
    guest_file("win", "pci = [ \"04:00.0\" ]\n");
    xen_domains("5=pv,6=pv,7=pv,8=pv,40=hvm");
    watcher_start(NULL);
    dom_new(40, "win");
    /* libxl starts QEMU after the domain appeared */
    h_sleep_ms(400);
    assert_eventually(BE(40), NULL);
    peer_start(40, NULL);
    assert_eventually(BE(40) "/num_devs", "1");
    assert_eventually(BE(40) "/vdevfn-0", "18");     /* QEMU's slot 3 */
    assert_eventually("/libxl/pci/0000-04-00-0/domid", "40");
    assert_string_equal(iommu_of(DEV4), "40");
    watcher_stop();
}

/* ---- isolation -------------------------------------------------------------- */

static pid_t action_pid(const char *what)
{
    char *l = itest_slurp(g.log), *p = strstr(l, what);
    pid_t pid = 0;

    if (p && (p = strstr(p, "started (pid ")))
        pid = (pid_t)atoi(p + strlen("started (pid "));
    free(l);
    return pid;
}

static void test_isolation(void **state)
{
    pid_t stuck;

    (void)state;
    guest_file("win", "pci = [ \"04:00.0\" ]\n");
    guest_file("web", "pci = [ \"05:00.0\" ]\n");
    guest_file("db", "pci = [ \"03:00.0,seize=1\" ]\n");
    xen_domains("5=pv,6=pv,7=pv,8=pv,50=hvm,51=pv,52=pv");
    /* a QEMU that accepts and never greets */
    peer_start(50, "greeting:600000");
    watcher_start("-t", "1", "-q", "1", NULL);
    dom_new(50, "win");
    wait_log("the create of domain 50 started");
    /* the others are served meanwhile */
    dom_new(51, "web");
    assert_eventually(BE(51) "/num_devs", "1");
    wait_log("the create of domain 50 failed (attempt 1); trying again");
    assert_eventually(BE(50), NULL);
    /* an action that stops answering is killed at its deadline (1 s + 1 s
     * of QEMU wait + 5 s) and tried again */
    h_stop(g.peer);
    g.peer = 0;
    dom_new(52, "db");
    wait_log("the create of domain 52 started");
    stuck = action_pid("the create of domain 52");
    assert_true(stuck > 0);
    kill(stuck, SIGSTOP);
    dom_new(53, "nobody");
    wait_log("the create of domain 52 (pid");
    wait_log("is past its deadline");
    wait_log("was past its deadline: killed by signal 9");
    assert_eventually(BE(52) "/num_devs", "1");
    assert_eventually("/libxl/pci/0000-03-00-0/domid", "52");
    watcher_stop();
}

/* The watcher's release is destroy's, under the ownership rules: domain 5
 * (web) died with 04:00.0 and 05:00.0 while no watcher ran, and xl gave
 * 05:00.0 to the live domain 6 meanwhile (`xl pci-attach`: Xen, the
 * record, 6's backend).  The watcher's reconcile releases 04:00.0 and
 * leaves 05:00.0 exactly as domain 6 has it; then domain 6 dies too and
 * the running watcher releases what it held, xl's device included. */
static void test_live_holder_untouched(void **state)
{
    char *before;

    (void)state;
    itest_mkdomain(g.e, 5, "web");
    dom_new(6, "other");
    if (itest_xlpci(g.e, "create", "5", "04:00.0", "05:00.0", NULL))
        fail_msg("create 5: %s%s", g.e->out, g.e->err);
    xen_domains("6=pv,7=pv,8=pv");
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/local/domain/5"));
    itest_xl_attach(g.e, g.h.iommu, 6, DEV5);
    assert_string_equal(iommu_of(DEV5), "6");
    before = itest_read(g.e, BE(6) "/dev-0");
    assert_string_equal(before, DEV5);
    free(before);

    if (itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL))
        fail_msg("watch --once: %s%s", g.e->out, g.e->err);
    /* domain 5's own device: released */
    assert_eventually(BE(5), NULL);
    assert_eventually("/libxl/pci/0000-04-00-0/domid", NULL);
    assert_int_equal(bk_domid(DEV4, NULL), -1);
    /* (its IOMMU context: Xen took it back when the domain went, the
     * fake's file says so at its next write) */
    /* domain 6's (xl gave it): untouched (no deassignment: the fake's
     * context file still says 6), the bookkeeping names 6 */
    assert_string_equal(iommu_of(DEV5), "6");
    assert_eventually("/libxl/pci/0000-05-00-0/domid", "6");
    assert_eventually(BE(6) "/dev-0", DEV5);
    assert_eventually(BE(6) "/num_devs", "1");
    assert_int_equal(bk_domid(DEV5, NULL), 6);
    assert_int_equal(itest_xlpci(g.e, "pci-assignable-list", NULL), 0);
    assert_string_equal(g.e->out, DEV4 " \n");

    /* domain 6 dies (killed, nothing of xl ran): released */
    watcher_start(NULL);
    xen_domains("7=pv,8=pv");
    assert_int_equal(xsd_kill(&g.e->xsd, 6), 0);
    assert_eventually(BE(6), NULL);
    assert_eventually("/libxl/pci/0000-05-00-0/domid", NULL);
    wait_log("domain 6: what it held is released");
    assert_int_equal(bk_domid(DEV5, NULL), -1);
    assert_int_equal(itest_xlpci(g.e, "pci-assignable-list", NULL), 0);
    assert_string_equal(g.e->out, DEV4 " \n" DEV5 " \n");
    watcher_stop();
}

/* ---- crash safety ------------------------------------------------------------ */

/* A reboot seen by a watcher that was not running: domain 5 (web) died
 * with 03:00.0 (seized) and 04:00.0, its new domain 6 (web) has neither. */
static void reboot_setup(void)
{
    guest_file("web", "pci = [ \"03:00.0,seize=1\", \"04:00.0\" ]\n");
    itest_mkdomain(g.e, 5, "web");
    itest_mkdomain(g.e, 6, "web");
    assert_int_equal(itest_xlpci(g.e, "create", "5", "03:00.0,seize=1",
                                 "04:00.0", NULL), 0);
    xen_domains("6=pv,7=pv,8=pv");
    assert_true(xs_rm(g.e->xs, XBT_NULL, "/local/domain/5"));
}

static void converged(const char *what)
{
    bool managed = false;
    char *dump;

    if (itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL))
        fail_msg("%s: the watcher run after the crash: %s%s", what, g.e->out,
                 g.e->err);
    if (itest_xlpci(g.e, "check", "6", NULL))
        fail_msg("%s: check 6: %s%s", what, g.e->out, g.e->err);
    if (itest_find(g.e, 6, DEV3) < 0 || itest_find(g.e, 6, DEV4) < 0 ||
        itest_check_backend(g.e, 6) != 2)
        fail_msg("%s: domain 6 lacks a device", what);
    dump = itest_dump(g.e);
    if (strstr(dump, "backend/pci/5") || strstr(dump, "/domid = \"5\""))
        fail_msg("%s: domain 5 still holds something:\n%s", what, dump);
    /* a gone domain of which nothing is left: exit 0 (issue 19) */
    if (itest_xlpci(g.e, "check", "5", NULL) != 0 ||
        !strstr(g.e->out, "gone; nothing of it is left"))
        fail_msg("%s: check 5: %s%s", what, g.e->out, g.e->err);
    if (bk_domid(DEV3, &managed) != 6 || !managed ||
        bk_domid(DEV4, NULL) != 6)
        fail_msg("%s: bookkeeping 03 %d (managed %d), 04 %d", what,
                 bk_domid(DEV3, NULL), managed, bk_domid(DEV4, NULL));
    if (strcmp(itest_driver_of(g.h.sys, DEV3), "pciback") ||
        strcmp(itest_driver_of(g.h.sys, DEV4), "pciback"))
        fail_msg("%s: drivers %s %s", what, itest_driver_of(g.h.sys, DEV3),
                 itest_driver_of(g.h.sys, DEV4));
    if (strcmp(iommu_of(DEV3), "6") || strcmp(iommu_of(DEV4), "6"))
        fail_msg("%s: IOMMU %s %s", what, iommu_of(DEV3), iommu_of(DEV4));
    /* (domain 5's grants went with it, Xen's to take back) */
    if (!holds_memory(6, 3) || !holds_memory(6, 4))
        fail_msg("%s: grants to 6: %d %d", what, holds_memory(6, 3),
                 holds_memory(6, 4));
    /* nothing done twice */
    if (itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL))
        fail_msg("%s: a third run: %s%s", what, g.e->out, g.e->err);
    itest_assert_store(g.e, dump);
    free(dump);
}

/* Every kill point; under valgrind every 4th (ASan's run has them all). */
static void crash_at(const char *env)
{
    unsigned stride = h_slow() > 1 ? 4 : 1, n, killed = 0;
    char num[16], what[96];
    bool done = false;

    for (n = 1; !done && n < 400; n += stride) {
        void *st = NULL;
        int rc;

        assert_int_equal(h_setup(&st), 0);
        reboot_setup();
        snprintf(num, sizeof(num), "%u", n);
        setenv(env, num, 1);
        rc = itest_xlpci(g.e, "watch", "--once", "-g", g.dir, NULL);
        unsetenv(env);
        snprintf(what, sizeof(what), "%s=%u", env, n);
        /* 0: nothing was killed, the run did it all; 1: an action was
         * killed (the run goes on, and says it failed); 137: the watcher
         * itself */
        if (rc == 0)
            done = true;
        else if (rc == 1 || rc == 128 + 9)
            killed++;
        else
            fail_msg("%s: exit %d: %s", what, rc, g.e->err);
        converged(what);
        h_teardown(&st);
    }
    assert_true(done);
    print_message("%s: killed at %u points, converged every time\n", env,
                  killed);
    assert_true(killed * stride > 20);
}

static void test_crash_requests(void **state)
{
    (void)state;
    crash_at("XLPCI_CRASH_AT");
}

static void test_crash_host_steps(void **state)
{
    (void)state;
    crash_at("XLPCI_CRASH_HOST_AT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_xen_lives_and_dies, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_no_passthrough, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_hvm_waits_for_qemu, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_isolation, h_setup,
                                        h_teardown),
        cmocka_unit_test_setup_teardown(test_live_holder_untouched, h_setup,
                                        h_teardown),
        cmocka_unit_test(test_crash_requests),
        cmocka_unit_test(test_crash_host_steps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The host side against a fake sysfs whose "kernel" is a separate process
 * (tests/fakes/fakesysfs): pci-assignable-add/-remove/-list, the JSON
 * bookkeeping, assignable checks on attach, seize=1 (managed devices), and
 * rollback when pciback refuses a device.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

typedef struct {
    itest_env *e;
    pid_t fake;
    char sys[300], state[300];
} host_env;

static host_env h;

static int host_setup(void **state)
{
    char ready[320];
    char *argv[] = { (char *)h_prog("fakesysfs"), (char *)"--root", h.sys,
                     (char *)"--ready", ready,
                     (char *)"--device", (char *)"0000:03:00.0=e1000e",
                     (char *)"--device", (char *)"0000:04:00.0=pciback",
                     (char *)"--device", (char *)"0000:05:00.0=e1000e",
                     (char *)"--device", (char *)"0000:06:00.0=igb",
                     (char *)"--fail-bind", (char *)"0000:06:00.0", NULL };

    if (itest_setup(state))
        return -1;
    h.e = *state;
    snprintf(h.sys, sizeof(h.sys), "%s/sys", h.e->dir);
    snprintf(h.state, sizeof(h.state), "%s/state", h.e->dir);
    snprintf(ready, sizeof(ready), "%s/sys.ready", h.e->dir);
    if (h_spawn(&h.fake, argv, ready, 5000))
        return -1;
    setenv("XLPCI_SYSFS_ROOT", h.sys, 1);
    setenv("XLPCI_STATE_DIR", h.state, 1);
    return 0;
}

static int host_teardown(void **state)
{
    unsetenv("XLPCI_SYSFS_ROOT");
    unsetenv("XLPCI_STATE_DIR");
    if (h.fake)
        h_stop(h.fake);
    h.fake = 0;
    return itest_teardown(state);
}

/* "pciback", "e1000e", ... or "" if unbound */
static const char *driver_of(const char *bdf)
{
    return itest_driver_of(h.sys, bdf);
}

static char *bookkeeping(void)
{
    char path[400], *buf = NULL, *out;
    size_t len = 0;
    FILE *f;
    int c;

    snprintf(path, sizeof(path), "%s/devices.json", h.state);
    f = fopen(path, "r");
    if (!f)
        return strdup("");
    out = NULL;
    {
        FILE *m = open_memstream(&buf, &len);

        while ((c = fgetc(f)) != EOF)
            if (c != ' ' && c != '\n')
                fputc(c, m);
        fclose(m);
    }
    fclose(f);
    out = buf;
    return out;
}

static void test_assignable_round_trip(void **state)
{
    itest_env *e = *state;
    char *bk, want[600];

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "nic0",
                                 "0000:03:00.0", NULL), 0);
    assert_string_equal(driver_of("0000:03:00.0"), "pciback");
    bk = bookkeeping();
    snprintf(want, sizeof(want), "{\"version\":1,\"devices\":[{\"bdf\":"
             "\"0000:03:00.0\",\"name\":\"nic0\",\"driver_path\":\"%s/bus/"
             "pci/drivers/e1000e\",\"managed\":false,\"domid\":null}]}",
             h.sys);
    assert_string_equal(bk, want);
    free(bk);

    /* again: a warning, nothing changes */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "0000:03:00.0",
                                 NULL), 0);
    assert_non_null(strstr(e->err, "already assignable"));

    assert_int_equal(itest_xlpci(e, "pci-assignable-list", "-n", NULL), 0);
    assert_string_equal(e->out, "0000:03:00.0 nic0\n0000:04:00.0 \n");
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:03:00.0 \n0000:04:00.0 \n");

    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "-r", "nic0",
                                 NULL), 0);
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    bk = bookkeeping();
    assert_string_equal(bk, "{\"version\":1,\"devices\":[]}");
    free(bk);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n");

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "0000:09:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "no PCI device 0000:09:00.0"));
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "a b",
                                 "0000:03:00.0", NULL), 2);
}

/* A device is assignable or assigned to one domain, never both. */
static void test_assigned_once(void **state)
{
    itest_env *e = *state;
    char *before;

    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "not assignable"));
    itest_assert_store(e, before);
    free(before);

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "");
    assert_int_equal(itest_xlpci(e, "pci-attach", "6", "04:00.0", NULL), 1);
    assert_non_null(strstr(e->err, "assigned to domain 5"));
    assert_int_equal(itest_xlpci(e, "pci-assignable-remove", "04:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "detach it first"));
    assert_string_equal(driver_of("0000:04:00.0"), "pciback");

    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n");
}

/* seize=1: made assignable for the domain, given back on detach. */
static void test_seize_managed(void **state)
{
    itest_env *e = *state;
    char *bk;

    assert_int_equal(itest_xlpci(e, "create", "5", "05:00.0,seize=1",
                                 "04:00.0", NULL), 0);
    assert_string_equal(driver_of("0000:05:00.0"), "pciback");
    bk = bookkeeping();
    assert_non_null(strstr(bk, "\"bdf\":\"0000:05:00.0\",\"name\":null,"));
    assert_non_null(strstr(bk, "\"managed\":true,\"domid\":5"));
    free(bk);
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "05:00.0", NULL), 0);
    assert_string_equal(driver_of("0000:05:00.0"), "e1000e");
    bk = bookkeeping();
    assert_null(strstr(bk, "0000:05:00.0"));
    free(bk);
}

/* pciback refuses the device: it goes back to its driver, no slot left,
 * nothing recorded, nothing in xenstore. */
static void test_bind_failure_rolls_back(void **state)
{
    itest_env *e = *state;
    char path[400], *bk, slots[256] = "";
    FILE *f;

    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "0000:06:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "did not take 0000:06:00.0"));
    assert_string_equal(driver_of("0000:06:00.0"), "igb");
    snprintf(path, sizeof(path), "%s/bus/pci/drivers/pciback/slots", h.sys);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(slots, 1, sizeof(slots) - 1, f) > 0, 1);
    fclose(f);
    assert_null(strstr(slots, "0000:06:00.0"));
    bk = bookkeeping();
    assert_null(strstr(bk, "0000:06:00.0"));
    free(bk);

    assert_int_equal(itest_xlpci(e, "create", "5", "06:00.0,seize=1", NULL),
                     1);
    assert_string_equal(driver_of("0000:06:00.0"), "igb");
    assert_null(itest_read(e, BE(5)));
}

/* A malformed bookkeeping file is reported, not trusted or overwritten. */
static void test_bad_bookkeeping(void **state)
{
    itest_env *e = *state;
    char path[400];
    FILE *f;

    mkdir(h.state, 0755);
    snprintf(path, sizeof(path), "%s/devices.json", h.state);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"version\": 1, \"devices\": [ {\"bdf\": \"zz\"} ]}", f);
    fclose(f);
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "0000:03:00.0",
                                 NULL), 1);
    assert_non_null(strstr(e->err, "devices.json: device 0 is malformed"));
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
}

/* Damaged bookkeeping files (issue 13): each refused with a message
 * naming the problem, never a hang, a stale errno or a silent truncation;
 * nothing changed. */
static void test_bookkeeping_damage(void **state)
{
    itest_env *e = *state;
    char path[400], longdir[400];
    FILE *f;
    long i;

    alarm(60);                         /* a hang fails the test */
    mkdir(h.state, 0755);
    snprintf(path, sizeof(path), "%s/devices.json", h.state);

    /* over 4 MiB */
    f = fopen(path, "w");
    assert_non_null(f);
    for (i = 0; i < (5L << 20) / 64; i++)
        fputs("                                                               \n",
              f);
    fclose(f);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 1);
    assert_non_null(strstr(e->err, "more than a bookkeeping file may hold"));
    assert_null(strstr(e->err, "File exists"));
    unlink(path);

    /* a symbolic link (issue 21: "Too many levels of symbolic links") */
    {
        char target[420];

        snprintf(target, sizeof(target), "%s.real", path);
        itest_put_file(target, "{\"version\": 1, \"devices\": []}");
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 1);
        assert_non_null(strstr(e->err, "devices.json is a symbolic link: "
                               "xlpci does not follow one"));
        assert_null(strstr(e->err, "Too many levels"));
        unlink(path);
        unlink(target);
    }

    /* a FIFO */
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 1);
    assert_non_null(strstr(e->err, "is not a regular file"));
    unlink(path);

    /* two records for one device, different domains */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"version\": 1, \"devices\": [ {\"bdf\": \"0000:04:00.0\", "
          "\"domid\": 5}, {\"bdf\": \"04:00.0\", \"domid\": 6} ]}", f);
    fclose(f);
    assert_int_equal(itest_xlpci(e, "check", "5", NULL), 1);
    assert_non_null(strstr(e->err, "devices 0 and 1 are both 0000:04:00.0"));
    assert_null(strstr(e->out, "consistent"));
    unlink(path);

    /* a state directory path too long for the files in it */
    memset(longdir, 'd', 300);
    longdir[0] = '/';
    longdir[300] = '\0';
    setenv("XLPCI_STATE_DIR", longdir, 1);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", NULL), 2);
    assert_non_null(strstr(e->err, "at most 216"));
    setenv("XLPCI_STATE_DIR", h.state, 1);
    alarm(0);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where bg_xlpci's child leaves its stderr. */
static const char *bg_err_path(void)
{
    static char path[400];

    snprintf(path, sizeof(path), "%s/bg.err", h.e->dir);
    return path;
}

/* xlpci in a child process; its exit status from bg_wait, its stderr in
 * bg_err_path(). */
static pid_t bg_xlpci(itest_env *e, const char *a1, const char *a2,
                      const char *a3, const char *a4, const char *a5)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = itest_xlpci(e, a1, a2, a3, a4, a5, NULL);

        itest_put_file(bg_err_path(), e->err ?: "");
        _exit(rc);
    }
    return pid;
}

static int bg_wait(pid_t pid)
{
    int st;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Issue 13, 2: one guest must not block every domain's host side.  While
 * a pci-attach to domain 5 waits for its guest (frontend never
 * Connected), a pci-attach to domain 6 with seize=1 runs at once: the
 * bookkeeping lock is held for host steps only, never across a guest
 * wait.  And the lock is taken with a timeout. */
static void test_host_lock_not_across_wait(void **state)
{
    itest_env *e = *state;
    char path[400];
    long long t0, took;
    pid_t slow;
    int fd;

    assert_int_equal(itest_xlpci(e, "create", "5", "03:00.0,seize=1", NULL),
                     0);
    itest_write(e, BE(5) "/state", "4");
    itest_write(e, "/local/domain/5/device/pci/0/state", "1");
    slow = bg_xlpci(e, "pci-attach", "-t", "6", "5", "04:00.0");
    /* its intent is recorded: the wait for the guest has begun */
    for (t0 = now_ms(); now_ms() - t0 < 5000 * h_slow();) {
        char *bk = bookkeeping();
        bool in = strstr(bk, "0000:04:00.0") != NULL;

        free(bk);
        if (in)
            break;
        usleep(20000);
    }
    t0 = now_ms();
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "6",
                                 "05:00.0,seize=1", NULL), 0);
    took = now_ms() - t0;
    if (took > 2000 * h_slow())
        fail_msg("pci-attach to domain 6 took %lld ms while domain 5's "
                 "guest was waited for", took);
    assert_string_equal(driver_of("0000:05:00.0"), "pciback");
    /* check waits for the operation in progress, bounded */
    assert_int_equal(bg_wait(slow), 1);
    assert_string_equal(driver_of("0000:04:00.0"), "pciback");

    /* a lock held by someone else: refused after the timeout, not hung */
    snprintf(path, sizeof(path), "%s/lock", h.state);
    fd = open(path, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    t0 = now_ms();
    assert_int_equal(itest_xlpci(e, "pci-attach", "-t", "1", "7",
                                 "06:00.0,seize=1", NULL), 1);
    took = now_ms() - t0;
    close(fd);
    assert_non_null(strstr(e->err, "held by another xlpci command"));
    if (took > 3000 * h_slow())
        fail_msg("pci-attach waited %lld ms for the lock", took);
}

/* Issue 13, 4: the guest answers a seize=1 hot-add's Reconfiguring by
 * closing its frontend (pciback then Closing too).  The device stays in
 * the backend, so it stays assigned on the host: bound to pciback and
 * recorded for the domain, never given back to its driver under the
 * backend's feet. */
static void test_guest_closes_mid_hot_add(void **state)
{
    itest_env *e = *state;
    char *bk;
    pid_t pid;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    itest_write(e, BE(5) "/state", "4");
    itest_write(e, BE(5) "/state-0", "3");
    itest_write(e, BE(5) "/vdev-0", "0000:00:00.0");
    itest_write(e, "/local/domain/5/device/pci/0/state", "4");
    pid = bg_xlpci(e, "pci-attach", "-t", "10", "5", "05:00.0,seize=1");
    assert_true(itest_wait_value(e, BE(5) "/state", "7", 10000 * h_slow()));
    itest_write(e, "/local/domain/5/device/pci/0/state", "5");
    itest_write(e, BE(5) "/state", "5");
    assert_int_equal(bg_wait(pid), 1);
    /* issue 21: said, not only "went to state 5" */
    bk = itest_slurp(bg_err_path());
    if (!strstr(bk, "failed during the Reconfiguring cycle") ||
        !strstr(bk, "the device stays listed"))
        fail_msg("pci-attach said: %s", bk);
    free(bk);
    assert_true(itest_find(e, 5, "0000:05:00.0") >= 0);
    assert_string_equal(driver_of("0000:05:00.0"), "pciback");
    bk = bookkeeping();
    if (!strstr(bk, "\"bdf\":\"0000:05:00.0\"") ||
        !strstr(bk, "\"managed\":true,\"domid\":5"))
        fail_msg("the record of 0000:05:00.0 is gone: %s", bk);
    free(bk);
}

/* -N never touches the host: the commands that only change the host have
 * no dry run and are refused before doing anything; create's dry run does
 * not seize. */
static void test_dry_run_host(void **state)
{
    itest_env *e = *state;
    char *bk, *before;

    before = itest_dump(e);
    assert_int_equal(itest_xlpci(e, "-N", "pci-assignable-add", "-n", "nic0",
                                 "0000:03:00.0", NULL), 2);
    assert_non_null(strstr(e->err, "pci-assignable-add"));
    assert_non_null(strstr(e->err, "no dry run"));
    assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
    bk = bookkeeping();
    assert_null(strstr(bk, "0000:03:00.0"));
    free(bk);

    assert_int_equal(itest_xlpci(e, "-N", "pci-assignable-remove", "-r",
                                 "0000:04:00.0", NULL), 2);
    assert_non_null(strstr(e->err, "no dry run"));
    assert_string_equal(driver_of("0000:04:00.0"), "pciback");

    assert_int_equal(itest_xlpci(e, "-N", "create", "5", "05:00.0,seize=1",
                                 NULL), 0);
    assert_string_equal(driver_of("0000:05:00.0"), "e1000e");
    bk = bookkeeping();
    assert_null(strstr(bk, "0000:05:00.0"));
    free(bk);
    itest_assert_store(e, before);
    free(before);

    /* read-only commands just run */
    assert_int_equal(itest_xlpci(e, "-N", "pci-assignable-list", NULL), 0);
    assert_string_equal(e->out, "0000:04:00.0 \n");
}

/* A name that name= or pci-assignable-remove could not select is refused
 * before anything is done. */
static void test_assignable_bad_names(void **state)
{
    itest_env *e = *state;
    static const char *const bad[][2] = {
        { "a,b", "has a ','" },
        { "nic,permissive=1", "has a ','" },
        { "03:00.0", "is a PCI address" },
        { "0000:05:00.0", "is a PCI address" },
    };
    char *bk;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n",
                                     bad[i][0], "0000:03:00.0", NULL), 2);
        if (!strstr(e->err, bad[i][1]))
            fail_msg("-n %s: %s", bad[i][0], e->err);
        assert_string_equal(driver_of("0000:03:00.0"), "e1000e");
        /* nor as a rename of a device already assignable */
        assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n",
                                     bad[i][0], "0000:04:00.0", NULL), 2);
        bk = bookkeeping();
        assert_null(strstr(bk, bad[i][0]));
        free(bk);
    }
    /* with pciback present, no "not loaded" notice */
    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    assert_null(strstr(e->err, "not loaded"));
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
    /* names that are usable still are */
    assert_int_equal(itest_xlpci(e, "pci-assignable-add", "-n", "nic-0.a=b",
                                 "0000:03:00.0", NULL), 0);
    assert_int_equal(itest_xlpci(e, "pci-assignable-list", "-n", NULL), 0);
    assert_string_equal(e->out, "0000:03:00.0 nic-0.a=b\n0000:04:00.0 \n");
}

/* Issue 21: a state directory that cannot be written - immutable, or
 * devices.json immutable, read-only, full - made pci-detach fail after the
 * guest and the store were done with the device, without saying so.  Every
 * command that will commit the bookkeeping now finds it first: refused,
 * the reason named, nothing changed (store, bookkeeping, drivers). */
static char *host_snapshot(itest_env *e)
{
    char *b = bookkeeping(), *d = itest_dump(e), *out;

    assert_true(asprintf(&out, "%s\n%s\n03 %s 05 %s\n", b, d,
                         driver_of("0000:03:00.0"),
                         driver_of("0000:05:00.0")) > 0);
    free(b);
    free(d);
    return out;
}

static void refused_unchanged(itest_env *e, const char *why)
{
    char *before = host_snapshot(e);
    const char *const cmds[][5] = {
        { "pci-detach", "5", "04:00.0", NULL },
        { "pci-attach", "5", "05:00.0,seize=1", NULL },
        { "pci-assignable-add", "03:00.0", NULL },
        { "destroy", "-f", "5", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        int rc = itest_xlpci(e, cmds[i][0], cmds[i][1], cmds[i][2],
                             cmds[i][3], NULL);

        if (rc != 1 || !strstr(e->err, "cannot be written") ||
            !strstr(e->err, why) || !strstr(e->err, "nothing was changed"))
            fail_msg("%s with the state dir %s: exit %d: %s", cmds[i][0],
                     why, rc, e->err);
        itest_assert_same(before, host_snapshot(e), "%s changed something "
                          "(%s)", cmds[i][0], why);
    }
    free(before);
}

static bool run_ok(const char *fmt, const char *arg)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), fmt, arg, arg);
    return system(cmd) == 0;
}

static void test_state_dir_unwritable(void **state)
{
    itest_env *e = *state;
    char path[400];
    bool ns;

    assert_int_equal(itest_xlpci(e, "create", "5", "04:00.0", NULL), 0);
    snprintf(path, sizeof(path), "%s/devices.json", h.state);

    /* immutable: the directory, then devices.json alone (chattr needs a
     * file system with inode flags: ext4, xfs, tmpfs from Linux 6.0) */
    if (run_ok("chattr +i '%s' 2>/dev/null", h.state)) {
        refused_unchanged(e, "immutable");
        assert_true(run_ok("chattr -i '%s'", h.state));
        assert_true(run_ok("chattr +i '%s'", path));
        refused_unchanged(e, "devices.json is immutable");
        assert_true(run_ok("chattr -i '%s'", path));
    } else {
        fprintf(stderr, "state dir: no chattr +i on this file system, the "
                "immutable cases not run\n");
    }

    /* read-only and full: mounts, in a mount namespace of this process
     * (and of the xlpci it starts), gone with it */
    ns = !unshare(CLONE_NEWNS) &&
         !mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL);
    if (!ns) {
        fprintf(stderr, "state dir: no mount namespace here, the read-only "
                "and full cases not run\n");
        return;
    }
    /* the kernel ignores the source and type of these ("none": valgrind
     * wants strings) */
    assert_int_equal(mount(h.state, h.state, "none", MS_BIND, NULL), 0);
    assert_int_equal(mount("none", h.state, "none",
                           MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
    refused_unchanged(e, "read-only");
    assert_int_equal(umount(h.state), 0);

    {
        char *text = itest_slurp(path), fill[400];

        assert_int_equal(mount("tmpfs", h.state, "tmpfs", 0, "size=64k"), 0);
        itest_put_file(path, text);
        free(text);
        snprintf(fill, sizeof(fill), "dd if=/dev/zero of='%s/fill' bs=4k "
                 "2>/dev/null; true", h.state);
        assert_int_equal(system(fill), 0);
        refused_unchanged(e, "full");
        assert_int_equal(umount(h.state), 0);
    }
    /* writable again: the detach goes through */
    assert_int_equal(itest_xlpci(e, "pci-detach", "5", "04:00.0", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_assignable_round_trip,
                                        host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_assigned_once, host_setup,
                                        host_teardown),
        cmocka_unit_test_setup_teardown(test_seize_managed, host_setup,
                                        host_teardown),
        cmocka_unit_test_setup_teardown(test_bind_failure_rolls_back,
                                        host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_bookkeeping_damage, host_setup,
                                        host_teardown),
        cmocka_unit_test_setup_teardown(test_host_lock_not_across_wait,
                                        host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_guest_closes_mid_hot_add,
                                        host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_bad_bookkeeping, host_setup,
                                        host_teardown),
        cmocka_unit_test_setup_teardown(test_dry_run_host, host_setup,
                                        host_teardown),
        cmocka_unit_test_setup_teardown(test_assignable_bad_names,
                                        host_setup, host_teardown),
        /* last: it leaves the process in a mount namespace of its own */
        cmocka_unit_test_setup_teardown(test_state_dir_unwritable,
                                        host_setup, host_teardown),
    };

    return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

static int setup(void **state, const struct xsd_opts *o)
{
    itest_env *e = calloc(1, sizeof(*e));
    unsigned d;

    if (!e)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    if (xsd_start(&e->xsd, o)) {
        free(e);
        return -1;
    }
    e->xs = xs_open(0);
    if (!e->xs || h_mkdtemp(e->dir, sizeof(e->dir))) {
        xsd_stop(&e->xsd);
        free(e);
        return -1;
    }
    for (d = 5; d <= 8; d++) {
        char name[16];

        snprintf(name, sizeof(name), "guest%u", d);
        itest_mkdomain(e, d, name);
    }
    *state = e;
    return 0;
}

int itest_setup(void **state)
{
    return setup(state, NULL);
}

int itest_setup_opts(void **state, const struct xsd_opts *o)
{
    return setup(state, o);
}

int itest_fakesysfs(itest_env *e, char *sys, size_t len, pid_t *pid)
{
    char ready[320];
    char *argv[] = { (char *)h_prog("fakesysfs"), (char *)"--root", sys,
                     (char *)"--ready", ready,
                     (char *)"--device", (char *)"0000:03:00.0=e1000e",
                     (char *)"--device", (char *)"0000:04:00.0=pciback",
                     (char *)"--device", (char *)"0000:05:00.0=pciback",
                     NULL };

    snprintf(sys, len, "%s/sys", e->dir);
    snprintf(ready, sizeof(ready), "%s/sys.ready", e->dir);
    return h_spawn(pid, argv, ready, 5000 * h_slow());
}

int itest_setup_ox(void **state)
{
    struct xsd_opts o = { .ox = 1 };

    return setup(state, &o);
}

int itest_setup_ox_eagain(void **state)
{
    struct xsd_opts o = { .ox = 1, .test_eagain = 1 };

    return setup(state, &o);
}

int itest_teardown(void **state)
{
    itest_env *e = *state;

    if (!e)
        return 0;
    itest_model_stop(e);
    if (e->xs)
        xs_close(e->xs);
    xsd_stop(&e->xsd);
    if (getenv("ITEST_KEEP"))
        fprintf(stderr, "kept %s\n", e->dir);
    else
        h_rmrf(e->dir);
    free(e->out);
    free(e->err);
    free(e);
    return 0;
}

void itest_write(itest_env *e, const char *path, const char *value)
{
    assert_true(xs_write(e->xs, XBT_NULL, path, value, strlen(value)));
}

void itest_mkdomain(itest_env *e, unsigned domid, const char *name)
{
    char path[128];

    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    itest_write(e, path, name);
}

static int run_va(itest_env *e, const char *prog, va_list ap)
{
    char *argv[64];
    int argc = 0, rc;
    const char *a;

    argv[argc++] = (char *)h_prog(prog);
    while ((a = va_arg(ap, const char *)) && argc < 63)
        argv[argc++] = (char *)a;
    argv[argc] = NULL;
    free(e->out);
    free(e->err);
    e->out = e->err = NULL;
    rc = h_run(argv, &e->out, &e->err);
    if (getenv("ITEST_VERBOSE"))
        fprintf(stderr, "xlpci ... -> %d\n%s%s", rc, e->out ?: "",
                e->err ?: "");
    return rc;
}

int itest_xlpci(itest_env *e, ...)
{
    const char *prog = getenv("XLPCI_CRASH_AT") ||
                       getenv("XLPCI_CRASH_HOST_AT") ? "xlpci-test" : "xlpci";
    va_list ap;
    int rc;

    va_start(ap, e);
    rc = run_va(e, prog, ap);
    va_end(ap);
    return rc;
}

int itest_xlpci_measured(itest_env *e, int niceness, long *rss_kb, ...)
{
    char *argv[32], path[400];
    struct rusage ru;
    const char *a;
    va_list ap;
    pid_t pid;
    int n = 0, st;

    argv[n++] = (char *)h_prog("xlpci");
    va_start(ap, rss_kb);
    while ((a = va_arg(ap, const char *)) && n < 31)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    snprintf(path, sizeof(path), "%s/measured.err", e->dir);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDWR);

        char asan[512];

        /* ASan keeps what is freed in a quarantine of 256 MB: none
         * here, so the peak is the program's own */
        snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=0",
                 getenv("ASAN_OPTIONS") ?: "",
                 getenv("ASAN_OPTIONS") ? ":" : "");
        setenv("ASAN_OPTIONS", asan, 1);
        if (fd < 0 || null < 0 || setpriority(PRIO_PROCESS, 0, niceness))
            _exit(126);
        dup2(null, 0);
        dup2(null, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    free(e->err);
    e->err = itest_slurp(path);
    *rss_kb = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int itest_run(itest_env *e, const char *prog, ...)
{
    va_list ap;
    int rc;

    va_start(ap, prog);
    rc = run_va(e, prog, ap);
    va_end(ap);
    return rc;
}

void itest_model_start(itest_env *e, ...)
{
    char *argv[64], ready[300], status[300];
    const char *a;
    int argc = 0;
    va_list ap;

    assert_int_equal(e->model, 0);
    snprintf(ready, sizeof(ready), "%s/model.ready", e->dir);
    snprintf(status, sizeof(status), "%s/status", e->dir);
    argv[argc++] = (char *)h_prog("pcimodel");
    argv[argc++] = (char *)"--ready";
    argv[argc++] = ready;
    argv[argc++] = (char *)"--status-dir";
    argv[argc++] = status;
    va_start(ap, e);
    while ((a = va_arg(ap, const char *)) && argc < 63)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    assert_int_equal(h_spawn(&e->model, argv, ready, 10000), 0);
}

void itest_model_stop(itest_env *e)
{
    if (e->model) {
        int rc = h_stop(e->model);

        e->model = 0;
        assert_int_equal(rc, 0);        /* clean exit, no valgrind error */
    }
}

char *itest_read(itest_env *e, const char *path)
{
    unsigned len;

    return xs_read(e->xs, XBT_NULL, path, &len);
}

bool itest_wait_value(itest_env *e, const char *path, const char *value,
                      int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    struct xs_handle *w = xs_open(0);
    bool ok = false;
    char **ev;

    assert_non_null(w);
    assert_true(xs_watch(w, path, "itest"));
    for (;;) {
        char *v = itest_read(e, path);
        struct pollfd pfd = { .fd = xs_fileno(w), .events = POLLIN };
        long long left;

        ok = v && !strcmp(v, value);
        free(v);
        left = deadline - h_now_ms();
        if (ok || left <= 0)
            break;
        poll(&pfd, 1, (int)(left > 200 ? 200 : left));
        while ((ev = xs_check_watch(w)))
            free(ev);
    }
    xs_close(w);
    return ok;
}

static bool index_key(const char *name, unsigned *idx)
{
    static const char *const keys[] = {
        "key-", "dev-", "vdevfn-", "name-", "opts-", "state-", "vdev-",
    };
    size_t i, l;
    char *end;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        l = strlen(keys[i]);
        if (!strncmp(name, keys[i], l) && name[l]) {
            *idx = (unsigned)strtoul(name + l, &end, 10);
            if (!*end)
                return true;
        }
    }
    return false;
}

unsigned itest_check_backend(itest_env *e, unsigned domid)
{
    char be[128], path[160];
    char **names, *num;
    unsigned n, i, idx, num_devs, ndev = 0;

    snprintf(be, sizeof(be), "/local/domain/0/backend/pci/%u/0", domid);
    names = xs_directory(e->xs, XBT_NULL, be, &n);
    if (!names)
        return 0;
    snprintf(path, sizeof(path), "%s/num_devs", be);
    num = itest_read(e, path);
    if (!num)
        fail_msg("%s exists without num_devs", be);
    num_devs = (unsigned)atoi(num);
    free(num);
    for (i = 0; i < n; i++) {
        if (!index_key(names[i], &idx))
            continue;
        if (idx >= num_devs)
            fail_msg("%s/%s lies past num_devs %u", be, names[i], num_devs);
        if (!strncmp(names[i], "dev-", 4))
            ndev++;
    }
    free(names);
    if (ndev != num_devs)
        fail_msg("%s: num_devs %u but %u dev-N", be, num_devs, ndev);
    for (i = 0; i < num_devs; i++) {
        char *v;

        snprintf(path, sizeof(path), "%s/dev-%u", be, i);
        v = itest_read(e, path);
        if (!v)
            fail_msg("%s: dev-%u missing (indices not contiguous)", be, i);
        free(v);
    }
    return num_devs;
}

int itest_find(itest_env *e, unsigned domid, const char *bdf)
{
    unsigned n = itest_check_backend(e, domid), i;
    char path[160];
    int found = -1;

    for (i = 0; i < n; i++) {
        char *v;

        snprintf(path, sizeof(path),
                 "/local/domain/0/backend/pci/%u/0/dev-%u", domid, i);
        v = itest_read(e, path);
        if (v && !strcmp(v, bdf)) {
            if (found >= 0)
                fail_msg("%s is in domain %u twice", bdf, domid);
            found = (int)i;
        }
        free(v);
    }
    return found;
}

int itest_guest_count(itest_env *e, unsigned domid)
{
    char path[320], line[256];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/status/guest-%u", e->dir, domid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (line[0] != '\n')
            n++;
    fclose(f);
    return n;
}

char *itest_dump(itest_env *e)
{
    char *a = h_xs_dump(e->xs, "/local");
    char *b = h_xs_dump(e->xs, "/libxl");
    char *all = NULL;

    assert_true(asprintf(&all, "%s%s", a, b) > 0);
    free(a);
    free(b);
    return all;
}

/* Up to 600 characters of text, cut at a line end if there is one:
 * cmocka's print_error prints at most 1023 characters a call. */
static void print_part(const char *label, const char *text)
{
    int n = (int)strnlen(text, 600);

    if (text[n])
        while (n > 0 && text[n - 1] != '\n')
            n--;
    print_error("--- %s\n%.*s%s", label, n ? n : 600, text,
                n && text[n - 1] == '\n' ? "" : "\n");
}

void itest_assert_same_at(const char *file, int line, const char *before,
                          char *after, const char *what, ...)
{
    size_t i = 0, from, nl = 1, lines = 0;
    va_list ap;

    if (!strcmp(before, after)) {
        free(after);
        return;
    }
    while (before[i] && before[i] == after[i])
        nl += before[i++] == '\n';
    /* from two lines before the one that differs (300 characters at most) */
    for (from = i; from > 0 && i - from < 300; from--)
        if (before[from - 1] == '\n' && ++lines == 3)
            break;
    va_start(ap, what);
    vprint_error(what, ap);
    va_end(ap);
    print_error(": first difference on line %zu\n", nl);
    print_part("before", before + from);
    print_part("after", after + from);
    free(after);
    _fail(file, line);
}

void itest_assert_node_at(const char *file, int line, itest_env *e,
                          const char *path, const char *want)
{
    char *v = itest_read(e, path);

    if (want ? v && !strcmp(v, want) : !v) {
        free(v);
        return;
    }
    print_error("%s = %s%s%s, expected %s%s%s\n", path, v ? "\"" : "",
                v ? v : "(absent)", v ? "\"" : "", want ? "\"" : "",
                want ? want : "(absent)", want ? "\"" : "");
    free(v);
    _fail(file, line);
}

int itest_host_setup(itest_env *e, itest_host *h)
{
    static const char *knobs[] = {
        "FAKEXC_FAIL", "FAKEXC_PROBE", "FAKEXC_DOMAINS", "FAKEXC_IOMMU",
        "XLPCI_HYPERVISOR",
    };
    size_t i;

    snprintf(h->state, sizeof(h->state), "%s/state", e->dir);
    snprintf(h->log, sizeof(h->log), "%s/xc.log", e->dir);
    snprintf(h->iommu, sizeof(h->iommu), "%s/iommu", e->dir);
    if (itest_fakesysfs(e, h->sys, sizeof(h->sys), &h->fake))
        return -1;
    itest_set_xen(h->sys, true);
    setenv("LD_LIBRARY_PATH", h_prog("fakexc"), 1);
    setenv("XLPCI_SYSFS_ROOT", h->sys, 1);
    setenv("XLPCI_STATE_DIR", h->state, 1);
    setenv("FAKEXC_LOG", h->log, 1);
    setenv("FAKEXC_STATE", h->iommu, 1);
    for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
        unsetenv(knobs[i]);
    return 0;
}

void itest_host_teardown(itest_host *h)
{
    static const char *vars[] = {
        "LD_LIBRARY_PATH", "XLPCI_SYSFS_ROOT", "XLPCI_STATE_DIR",
        "FAKEXC_LOG", "FAKEXC_STATE", "FAKEXC_PROBE", "FAKEXC_FAIL",
        "FAKEXC_DOMAINS", "FAKEXC_IOMMU", "XLPCI_HYPERVISOR",
    };
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    if (h->fake)
        h_stop(h->fake);
    h->fake = 0;
}

void itest_put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

char *itest_slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "r");

    if (!f)
        return strdup("");
    if (getdelim(&text, &len, '\0', f) < 0) {
        free(text);
        text = strdup("");
    }
    fclose(f);
    return text;
}

char *itest_xc_calls(const char *log, bool keep_probes,
                     const char *const *skip_start, const char *skip_in)
{
    char *out = NULL, line[2048];
    size_t len = 0, k;
    FILE *f = fopen(log, "r"), *m = open_memstream(&out, &len);

    assert_non_null(m);
    while (f && fgets(line, sizeof(line), f)) {
        char *p = keep_probes ? NULL : strstr(line, " [");
        bool skip = !strncmp(line, "open", 4) || !strncmp(line, "close", 5) ||
                    !strncmp(line, "physinfo ", 9) ||
                    (skip_in && strstr(line, skip_in));

        for (k = 0; !skip && skip_start && skip_start[k]; k++)
            skip = !strncmp(line, skip_start[k], strlen(skip_start[k]));
        if (skip)
            continue;
        if (p)
            strcpy(p, strstr(p, "]") + 1);
        fputs(line, m);
    }
    if (f)
        fclose(f);
    fclose(m);
    unlink(log);
    return out;
}

const char *itest_driver_of(const char *sys, const char *bdf)
{
    static char buf[64];
    char path[400], target[300];
    ssize_t n;

    snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sys, bdf);
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return "";
    target[n] = '\0';
    snprintf(buf, sizeof(buf), "%s", strrchr(target, '/') + 1);
    return buf;
}

void itest_set_xen(const char *sys, bool on)
{
    char path[400];

    snprintf(path, sizeof(path), "%s/hypervisor", sys);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/hypervisor/type", sys);
    if (on)
        itest_put_file(path, "xen\n");
    else
        unlink(path);
}

void itest_xen_kill(itest_env *e, const char *iommu, unsigned domid)
{
    char path[64], dom[16], line[128], b[32], w[16], q[4];
    char *out = NULL;
    size_t len = 0;
    FILE *f, *m;

    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    xs_rm(e->xs, XBT_NULL, path);
    if (!iommu)
        return;
    snprintf(dom, sizeof(dom), "%u", domid);
    f = fopen(iommu, "r");
    m = open_memstream(&out, &len);
    assert_non_null(m);
    while (f && fgets(line, sizeof(line), f)) {
        int k = sscanf(line, "%31s %15s %3s", b, w, q);

        if (k >= 2 && !strcmp(w, dom))
            fprintf(m, "%s io%s\n", b, k == 3 ? " q" : "");
        else
            fputs(line, m);
    }
    if (f)
        fclose(f);
    fclose(m);
    itest_put_file(iommu, out);
    free(out);
}

const char *itest_iommu_of(const char *iommu, const char *bdf)
{
    static char ctx[16];
    char line[128], b[32], w[16];
    FILE *f = fopen(iommu, "r");

    snprintf(ctx, sizeof(ctx), "0");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "%31s %15s", b, w) == 2 && !strcmp(b, bdf))
            snprintf(ctx, sizeof(ctx), "%s", w);
    if (f)
        fclose(f);
    return ctx;
}

void itest_xen_assign(const char *iommu, const char *bdf, const char *where)
{
    char line[128], b[32], *out = NULL;
    size_t len = 0;
    FILE *f = fopen(iommu, "r"), *m = open_memstream(&out, &len);

    assert_non_null(m);
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "%31s", b) != 1 || strcmp(b, bdf))
            fputs(line, m);
    if (f)
        fclose(f);
    if (strcmp(where, "0"))
        fprintf(m, "%s %s\n", bdf, where);
    fclose(m);
    itest_put_file(iommu, out);
    free(out);
}

/* The record's path of bdf ("dddd:bb:dd.f"), leaf domid. */
static void record_of(char *buf, size_t len, const char *bdf)
{
    unsigned s, b, d, f;

    assert_int_equal(sscanf(bdf, "%x:%x:%x.%x", &s, &b, &d, &f), 4);
    snprintf(buf, len, "/libxl/pci/%04x-%02x-%02x-%01x/domid", s, b, d, f);
}

void itest_xl_attach(itest_env *e, const char *iommu, unsigned domid,
                     const char *bdf)
{
    char path[200], dom[16], rec[64], *num;
    unsigned n;

    record_of(rec, sizeof(rec), bdf);
    snprintf(dom, sizeof(dom), "%u", domid);
    if (iommu)
        itest_xen_assign(iommu, bdf, dom);
    itest_write(e, rec, dom);
    snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u/0/num_devs",
             domid);
    num = itest_read(e, path);
    n = num ? (unsigned)atoi(num) : 0;
#define PUT(fmt, ...) do { \
        snprintf(path, sizeof(path), fmt, __VA_ARGS__); \
        itest_write(e, path, v); \
    } while (0)
    if (!num) {
        const char *v;
        char fe[80], be[80];

        snprintf(fe, sizeof(fe), "/local/domain/%u/device/pci/0", domid);
        snprintf(be, sizeof(be), "/local/domain/0/backend/pci/%u/0", domid);
        v = be;
        PUT("%s/backend", fe);
        v = "0";
        PUT("%s/backend-id", fe);
        v = "1";
        PUT("%s/state", fe);
        v = fe;
        PUT("%s/frontend", be);
        v = dom;
        PUT("%s/frontend-id", be);
        v = "1";
        PUT("%s/online", be);
        PUT("%s/state", be);
    }
    free(num);
    {
        const char *v = bdf;

        PUT("/local/domain/0/backend/pci/%u/0/key-%u", domid, n);
        PUT("/local/domain/0/backend/pci/%u/0/dev-%u", domid, n);
        v = "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict";
        PUT("/local/domain/0/backend/pci/%u/0/opts-%u", domid, n);
        v = "1";
        PUT("/local/domain/0/backend/pci/%u/0/state-%u", domid, n);
        snprintf(dom, sizeof(dom), "%u", n + 1);
        v = dom;
        PUT("/local/domain/0/backend/pci/%u/0/num_devs%s", domid, "");
    }
#undef PUT
}

void itest_xl_destroy(itest_env *e, const char *iommu, unsigned domid)
{
    char path[200], rec[64], *dev;
    unsigned i;

    for (i = 0;; i++) {
        snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u/0/"
                 "dev-%u", domid, i);
        dev = itest_read(e, path);
        if (!dev)
            break;
        record_of(rec, sizeof(rec), dev);
        xs_rm(e->xs, XBT_NULL, rec);
        if (iommu)
            itest_xen_assign(iommu, dev, "io");
        free(dev);
    }
    snprintf(path, sizeof(path), "/local/domain/0/backend/pci/%u", domid);
    xs_rm(e->xs, XBT_NULL, path);
    itest_xen_kill(e, iommu, domid);
}

void itest_set_resources(const char *sys, unsigned x)
{
    char path[400], text[400];

    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:%02x:00.0/resource",
             sys, x);
    snprintf(text, sizeof(text),
             "0x00000000f%x000000 0x00000000f%x00ffff 0x0000000000040200\n"
             "0x000000000000%x000 0x000000000000%x03f 0x0000000000040101\n",
             x, x, x, x);
    itest_put_file(path, text);
    snprintf(path, sizeof(path), "%s/bus/pci/devices/0000:%02x:00.0/irq",
             sys, x);
    snprintf(text, sizeof(text), "%u\n", 10 + x);
    itest_put_file(path, text);
}

void itest_assert_eventually_at(itest_env *e, const char *log,
                                const char *file, int line,
                                const char *path, const char *want)
{
    long long end = h_now_ms() + 10000LL * h_slow();
    char *v, *said;

    for (;;) {
        bool ok;

        v = itest_read(e, path);
        ok = want ? v && !strcmp(v, want) : !v;
        free(v);
        if (ok)
            return;
        if (h_now_ms() > end)
            break;
        h_sleep_ms(5);
    }
    v = itest_read(e, path);
    said = log ? itest_slurp(log) : NULL;
    print_error("%s is %s, not %s; the watcher said:\n%s", path,
                v ? v : "absent", want ? want : "absent", said ? said : "");
    free(v);
    free(said);
    _fail(file, line);
}

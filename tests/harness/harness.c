#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define XENSTORED "/usr/lib/xen-4.17/bin/xenstored"
#define OXENSTORED "/usr/lib/xen-4.17/bin/oxenstored"

#ifndef XLPCI_BUILD_DIR
#error XLPCI_BUILD_DIR must be defined
#endif

int h_slow(void)
{
    const char *v = getenv("XLPCI_VALGRIND");

    return v && !strcmp(v, "1") ? 10 : 1;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

long long h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *h_prog(const char *name)
{
    static char bufs[16][512];
    static unsigned next;
    char *b = bufs[next++ % 16];
    const char *cli = getenv("XLPCI_TEST_CLI");

    if (cli && *cli && !strcmp(name, "xlpci"))
        snprintf(b, sizeof(bufs[0]), "%s", cli);
    else
        snprintf(b, sizeof(bufs[0]), "%s/%s", XLPCI_BUILD_DIR, name);
    return b;
}

int h_mkdtemp(char *buf, size_t len)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(buf, len, "%s/xlpci.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    return mkdtemp(buf) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

void h_rmrf(const char *path)
{
    if (path && *path)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cat_file(const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fclose(f);
}

static const char *shim_path(void)
{
    const char *s = getenv("XLPCI_FAKEXEN");

    if (s && *s)
        return s;
    return h_prog("libfakexen.so");
}

/* A child is alive unless it has exited (reaped here). */
static int child_alive(pid_t pid, int *status)
{
    return waitpid(pid, status, WNOHANG) == 0;
}

/* Make fd `to` refer to path (for a child before exec). */
static int redirect(int to, const char *path, int flags)
{
    int fd = open(path, flags, 0600);

    if (fd < 0)
        return -1;
    if (fd != to) {
        if (dup2(fd, to) < 0)
            return -1;
        close(fd);
    }
    return 0;
}

static int write_ox_conf(const struct xsd *d, const struct xsd_opts *o)
{
    char path[400];
    FILE *f;

    snprintf(path, sizeof(path), "%s/oxenstored.conf", d->dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "pid-file = /run/xenstored/oxenstored.pid\n"
               "persistent = false\n"
               "xenstored-log-file = /run/xenstored/xenstored.log\n"
               "xenstored-log-level = info\n"
               "access-log-file = /run/xenstored/access.log\n"
               "xenstored-kva = /proc/xen/xsd_kva\n"
               "xenstored-port = /proc/xen/xsd_port\n");
    if (o->test_eagain)
        fprintf(f, "test-eagain = true\n");
    if (o->trace)            /* one access log, never rotated (xsd.trace) */
        fprintf(f, "access-log-nb-lines = 1000000000\n");
    return fclose(f);
}

static int ox_ready(const struct xsd *d)
{
    struct xs_handle *xs;
    struct stat st;
    unsigned len;
    char *v;

    if (stat(d->socket, &st) || !S_ISSOCK(st.st_mode))
        return 0;
    xs = xs_open(0);
    if (!xs)
        return 0;
    v = xs_read(xs, XBT_NULL, "/tool/xenstored", &len);
    xs_close(xs);
    if (!v)
        return 0;
    free(v);
    return 1;
}

static int c_ready(const struct xsd *d)
{
    char path[400];
    struct stat st;

    snprintf(path, sizeof(path), "%s/ready", d->dir);
    return !stat(path, &st) && st.st_size > 0;
}

int xsd_start(struct xsd *d, const struct xsd_opts *o)
{
    static const struct xsd_opts dflt;
    char log[400], ready[400];
    long long deadline;
    pid_t parent = getpid();
    int status;

    if (!o)
        o = &dflt;
    memset(d, 0, sizeof(*d));
    d->ox = o->ox;
    if (h_mkdtemp(d->dir, sizeof(d->dir))) {
        perror("xsd_start: mkdtemp");
        return -1;
    }
    snprintf(d->socket, sizeof(d->socket), "%s/socket", d->dir);
    if (o->trace)
        snprintf(d->trace, sizeof(d->trace), "%s/%s", d->dir,
                 d->ox ? "access.log" : "trace");
    snprintf(log, sizeof(log), "%s/daemon.log", d->dir);
    snprintf(ready, sizeof(ready), "%s/ready", d->dir);
    if (d->ox && write_ox_conf(d, o)) {
        perror("xsd_start: oxenstored.conf");
        goto fail;
    }
    setenv("XENSTORED_PATH", d->socket, 1);
    if (o->dead_file)
        snprintf(d->dead_file, sizeof(d->dead_file), "%s", o->dead_file);

    d->pid = fork();
    if (d->pid < 0) {
        perror("xsd_start: fork");
        goto fail;
    }
    if (!d->pid) {
        /* The daemon dies with the test, even if the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (redirect(0, "/dev/null", O_RDONLY) ||
            redirect(1, d->ox ? log : ready, O_WRONLY | O_CREAT | O_TRUNC) ||
            redirect(2, log, O_WRONLY | O_CREAT | O_APPEND))
            _exit(127);
        close_range(3, ~0U, 0);        /* no test fds in the daemon */
        if (o->dead_file)
            setenv("FAKEXS_DEAD_FILE", o->dead_file, 1);
        setenv("XENSTORED_RUNDIR", d->dir, 1);
        unsetenv("LD_PRELOAD");
        if (!d->ox) {
            setenv("LD_PRELOAD", shim_path(), 1);
            if (o->trace)
                execl(XENSTORED, XENSTORED, "-N", "-P", "-T", d->trace,
                      (char *)NULL);
            else
                execl(XENSTORED, XENSTORED, "-N", "-P", (char *)NULL);
        } else {
            char conf[400];

            /* The socket path of oxenstored is compiled in: bind-mount our
             * dir over /run/xenstored in a private mount namespace. */
            snprintf(conf, sizeof(conf), "%s/oxenstored.conf", d->dir);
            execlp("unshare", "unshare",
                   getuid() == 0 ? "-m" : "-Urm", "--propagation", "private",
                   "sh", "-c",
                   "{ mkdir -p /run/xenstored 2>/dev/null || "
                   "{ mount -t tmpfs tmpfs /run && mkdir /run/xenstored; }; }"
                   " && mount --bind \"$1\" /run/xenstored && "
                   "exec env LD_PRELOAD=\"$2\" \"$3\" --no-fork "
                   "--config-file \"$4\"",
                   "sh", d->dir, shim_path(), OXENSTORED, conf, (char *)NULL);
        }
        _exit(127);
    }

    deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline) {
        if (d->ox ? ox_ready(d) : c_ready(d))
            return 0;
        if (!child_alive(d->pid, &status)) {
            fprintf(stderr, "xsd_start: %s died (status %d):\n",
                    d->ox ? "oxenstored" : "xenstored", status);
            cat_file(log);
            d->pid = 0;
            goto fail;
        }
        h_sleep_ms(5);
    }
    fprintf(stderr, "xsd_start: daemon not ready after 10 s:\n");
    cat_file(log);
fail:
    xsd_stop(d);
    return -1;
}

void xsd_stop(struct xsd *d)
{
    if (d->pid > 0) {
        long long deadline = h_now_ms() + 2000;
        int status;
        pid_t r;

        /* oxenstored does not quit while a client holds a transaction. */
        kill(d->pid, SIGTERM);
        while ((r = waitpid(d->pid, &status, WNOHANG)) == 0 &&
               h_now_ms() < deadline)
            h_sleep_ms(5);
        if (r == 0) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &status, 0);
        }
        d->pid = 0;
    }
    if (d->dir[0] && !getenv("HARNESS_KEEP"))
        h_rmrf(d->dir);
    d->dir[0] = '\0';
}

int xsd_introduce(struct xs_handle *xs, unsigned domid)
{
    /* any frame and port: the shim maps an anonymous page, binds a fake
     * event channel */
    if (xs_introduce_domain(xs, domid, 1, 1))
        return 0;
    fprintf(stderr, "xsd_introduce(%u): %s\n", domid, strerror(errno));
    return -1;
}

int xsd_kill(struct xsd *d, unsigned domid)
{
    FILE *f;

    if (!d->dead_file[0] || d->pid <= 0) {
        fprintf(stderr, "xsd_kill(%u): the daemon has no dead file\n",
                domid);
        return -1;
    }
    f = fopen(d->dead_file, "a");
    if (!f || fprintf(f, "%u\n", domid) < 0 || fclose(f)) {
        fprintf(stderr, "xsd_kill(%u): %s: %s\n", domid, d->dead_file,
                strerror(errno));
        return -1;
    }
    return kill(d->pid, SIGUSR2);
}

/* ---- processes -------------------------------------------------------- */

static int project_prog(const char *path)
{
    size_t l = strlen(XLPCI_BUILD_DIR);

    return !strncmp(path, XLPCI_BUILD_DIR, l) && path[l] == '/';
}

/* A run of the test CLI that kills itself (XLPCI_CRASH_AT or
 * XLPCI_CRASH_HOST_AT in the environment it inherits) cannot be checked
 * by valgrind: SIGKILL ends
 * valgrind with it, so there is no leak check and no error exit status,
 * and the test only sees 137.  Such runs go without valgrind; what follows
 * them (the repairs, the checks) runs under it. */
static int crash_injected(const char *prog)
{
    const char *base = strrchr(prog, '/');
    const char *a = getenv("XLPCI_CRASH_AT");
    const char *h = getenv("XLPCI_CRASH_HOST_AT");

    return !strcmp(base ? base + 1 : prog, "xlpci-test") &&
           ((a && *a) || (h && *h));
}

/* argv, prefixed with valgrind for the project's programs if asked. */
static char **wrap_argv(char *const argv[])
{
    static char *vg[] = {
        "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
        "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
        "--suppressions=" XLPCI_SRC_DIR "/tests/valgrind.supp",
    };
    size_t n = 0, nv = 0, i;
    char **out;

    while (argv[n])
        n++;
    if (h_slow() > 1 && project_prog(argv[0]) && !crash_injected(argv[0]))
        nv = sizeof(vg) / sizeof(vg[0]);
    out = calloc(n + nv + 1, sizeof(*out));
    if (!out)
        return NULL;
    for (i = 0; i < nv; i++)
        out[i] = vg[i];
    for (i = 0; i < n; i++)
        out[nv + i] = argv[i];
    return out;
}

static int status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);

    if (!nb)
        abort();
    memcpy(nb + *len, data, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
}

int h_run(char *const argv[], char **out, char **err)
{
    char **av = wrap_argv(argv);
    int po[2], pe[2], status;
    char *bo = NULL, *be = NULL;
    size_t lo = 0, le = 0;
    struct pollfd pfd[2];
    pid_t pid;
    char buf[4096];

    if (!av || pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        abort();
    append(&bo, &lo, "", 0);
    append(&be, &le, "", 0);
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        abort();
    if (!pid) {
        redirect(0, "/dev/null", O_RDONLY);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execvp(av[0], av);
        fprintf(stderr, "h_run: cannot execute %s: %s\n", av[0],
                strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    pfd[0].fd = po[0];
    pfd[1].fd = pe[0];
    pfd[0].events = pfd[1].events = POLLIN;
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        int i;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        for (i = 0; i < 2; i++) {
            ssize_t n;

            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            n = read(pfd[i].fd, buf, sizeof(buf));
            if (n > 0) {
                if (i == 0)
                    append(&bo, &lo, buf, (size_t)n);
                else
                    append(&be, &le, buf, (size_t)n);
            } else {
                close(pfd[i].fd);
                pfd[i].fd = -1;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    free(av);
    if (out) *out = bo; else free(bo);
    if (err) *err = be; else free(be);
    return status_code(status);
}

int h_spawn(pid_t *pid, char *const argv[], const char *ready_file,
            int timeout_ms)
{
    return h_spawn_to(pid, argv, ready_file, timeout_ms, NULL);
}

int h_spawn_to(pid_t *pid, char *const argv[], const char *ready_file,
               int timeout_ms, const char *out)
{
    char **av = wrap_argv(argv);
    pid_t parent = getpid();
    long long deadline;
    struct stat st;
    int status;

    if (!av)
        return -1;
    fflush(NULL);
    *pid = fork();
    if (*pid < 0) {
        free(av);
        return -1;
    }
    if (!*pid) {
        /* Do not outlive a crashed test. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        redirect(0, "/dev/null", O_RDONLY);
        if (out && (redirect(1, out, O_WRONLY | O_CREAT | O_APPEND) ||
                    dup2(1, 2) < 0))
            _exit(127);
        execvp(av[0], av);
        fprintf(stderr, "h_spawn: cannot execute %s: %s\n", av[0],
                strerror(errno));
        _exit(127);
    }
    free(av);
    if (!ready_file)
        return 0;
    deadline = h_now_ms() + (long long)timeout_ms * h_slow();
    while (h_now_ms() < deadline) {
        if (!stat(ready_file, &st))
            return 0;
        if (!child_alive(*pid, &status)) {
            fprintf(stderr, "h_spawn: %s exited (%d) before %s existed\n",
                    argv[0], status_code(status), ready_file);
            *pid = 0;
            return -1;
        }
        h_sleep_ms(5);
    }
    fprintf(stderr, "h_spawn: %s not ready after %d ms\n", argv[0],
            timeout_ms * h_slow());
    h_stop(*pid);
    *pid = 0;
    return -1;
}

int h_stop(pid_t pid)
{
    long long deadline = h_now_ms() + 3000LL * h_slow();
    int status;

    kill(pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid)
            return status_code(status);
        if (r < 0)
            return -1;
        if (h_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status_code(status);
        }
        h_sleep_ms(5);
    }
}

/* ---- xenstore dump ------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct lines {
    char **v;
    size_t n, cap;
};

static void add_line(struct lines *l, char *line)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            abort();
    }
    l->v[l->n++] = line;
}

static void dump_node(struct xs_handle *xs, const char *path,
                      struct lines *l)
{
    struct xs_permissions *perms;
    unsigned vlen, np, n, i;
    char **kids, *v, *line = NULL, tmp[32];
    size_t j, len = 0;

    v = xs_read(xs, XBT_NULL, path, &vlen);
    if (!v)
        return;
    append(&line, &len, path, strlen(path));
    append(&line, &len, " = \"", 4);
    for (j = 0; j < vlen; j++) {
        unsigned char c = (unsigned char)v[j];

        if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e) {
            snprintf(tmp, sizeof(tmp), "\\x%02x", c);
            append(&line, &len, tmp, strlen(tmp));
        } else {
            append(&line, &len, &v[j], 1);
        }
    }
    free(v);
    append(&line, &len, "\" (", 3);
    perms = xs_get_permissions(xs, XBT_NULL, path, &np);
    for (i = 0; perms && i < np; i++) {
        char c;

        switch (perms[i].perms & (XS_PERM_READ | XS_PERM_WRITE)) {
        case XS_PERM_READ: c = 'r'; break;
        case XS_PERM_WRITE: c = 'w'; break;
        case XS_PERM_READ | XS_PERM_WRITE: c = 'b'; break;
        default: c = 'n'; break;
        }
        snprintf(tmp, sizeof(tmp), "%s%c%u", i ? "," : "", c, perms[i].id);
        append(&line, &len, tmp, strlen(tmp));
    }
    free(perms);
    append(&line, &len, ")\n", 2);
    add_line(l, line);

    kids = xs_directory(xs, XBT_NULL, path, &n);
    if (!kids)
        return;
    for (i = 0; i < n; i++) {
        char *child;

        if (asprintf(&child, "%s%s%s", path,
                     strcmp(path, "/") ? "/" : "", kids[i]) < 0)
            abort();
        dump_node(xs, child, l);
        free(child);
    }
    free(kids);
}

char *h_xs_dump(struct xs_handle *xs, const char *path)
{
    struct lines l = { NULL, 0, 0 };
    char *buf = NULL;
    size_t len = 0, i;

    append(&buf, &len, "", 0);
    dump_node(xs, path, &l);
    if (l.n)
        qsort(l.v, l.n, sizeof(*l.v), cmp_str);
    for (i = 0; i < l.n; i++) {
        append(&buf, &len, l.v[i], strlen(l.v[i]));
        free(l.v[i]);
    }
    free(l.v);
    return buf;
}

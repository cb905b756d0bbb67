/*
 * The watcher (docs/watch.md): follows every domain's life on the host
 * so that plain `xl create`, `xl reboot` and `xl destroy` keep PCI
 * devices right.
 *
 *   events   @introduceDomain and @releaseDomain (xl create, the new
 *            domain of a reboot, xl restore; a death, a shutdown) make
 *            it list the domains (Xen's list, else xenstore's
 *            /local/domain) and compare with those it knew: a new domain
 *            whose name has a device list gets a create, a vanished one
 *            a release.  /libxl/pci: a record removed while a live
 *            backend lists the device gets written back.  Nothing a
 *            guest can write is watched: a guest flooding its own
 *            directories costs the watcher nothing.
 *   start    (and SIGHUP, xlpci_watcher_reconcile): the host once:
 *            every domain holding something (a backend, a record, a
 *            bookkeeping entry) that is not alive is released, every
 *            live named guest without a backend gets its devices, every
 *            live backend's missing record is written back.  Each action
 *            is idempotent, so a watcher killed at any point and
 *            started again converges and does nothing twice.
 *   actions  each in a child process (fork, no exec) with a fresh
 *            xenstore connection and a deadline: killed (SIGKILL) past
 *            it, then retried with a backoff.  At most `jobs` releases
 *            and `jobs` creates at once, one action per domain at a
 *            time, releases first (xlpci_wq_next): a guest whose QEMU
 *            hangs holds one create slot for one deadline, never the
 *            others, and never a release.  The loop itself only reads
 *            xenstore and Xen's list and never waits on a guest or a
 *            QEMU; no lock is held across any wait (the actions take
 *            the library's locks as the CLI does).
 *
 * The decisions are pure (watchplan.c), the actions watchact.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xclib.h"                  /* libxenctrl, loaded when needed */

#include "flows.h"

#define GUESTS_DIR_DEFAULT "/etc/xlpci/guests"
#define QEMU_WAIT_MS       60000u  /* libxl's LIBXL_DEVICE_MODEL_START_TIMEOUT */
#define JOBS_DEFAULT       4u
#define KILL_GRACE_MS      5000    /* beyond an action's own deadline */
#define NAME_WATCH_MAX     64      /* domains waited for by a name watch */
#define RECORDS_MAX        256     /* pending records; beyond: all */
#define HEALTH_MS          30000   /* an idle watcher checks xenstore */
#define SCAN_RETRY_MS      1000
#define SCAN_FAIL_MAX      5       /* failed scans in a row: give up */

enum { TAG_XS = 1, TAG_TIMER = 2 };   /* epoll data; children: their pid */

typedef struct {
    pid_t pid;
    int pidfd;
    uint32_t domid;
    int kind;
    long long started, deadline;
    bool killed;                       /* by the watcher */
    bool moot;                         /* its domain died meanwhile */
} kid;

struct xlpci_watcher {
    xlpci_ctx *ctx;
    char *dir;
    unsigned flags;
    unsigned jobs, qemu_wait_ms;
    xc_interface *xch;                 /* NULL: no Xen (xenstore decides) */
    int epfd, tfd;
    bool watching;
    char token[48];
    xlpci_wq q;
    xlpci_domset known;                /* live domains */
    xlpci_domset unnamed;              /* of those, still without a name */
    xlpci_domset name_watched;         /* of those, with a watch on it */
    xlpci_domset suspended;            /* seen suspending (xl save) */
    xlpci_domset now, born, gone, susp; /* scratch */
    kid *kids;
    size_t nkids, capkids;
    xlpci_recmap owners;               /* who each record names */
    xlpci_recent records[RECORDS_MAX]; /* removed records to check */
    size_t nrecords;
    bool records_all;
    /* the records a running RECORDS action checks (its snapshot) */
    xlpci_recent run_records[RECORDS_MAX];
    size_t nrun_records;
    bool run_records_all;
    bool reconcile_due, scan_due;
    long long scan_at;                 /* a failed scan: again then */
    unsigned scan_fails;
    long long health_at;
    unsigned failed;                   /* once: actions that failed */
    bool done;
};

static const char *const kind_names[XLPCI_WK_N] = {
    "release", "create", "records",
};

/* ---- the state the child actions read --------------------------------------- */

/* A context like the watcher's, on a connection of its own (the child's
 * only one: the watcher's connection and its reader thread stay the
 * parent's). */
static int child_ctx(const xlpci_ctx *p, xlpci_ctx **c_r)
{
    xlpci_ctx *c;
    int rc;

    rc = xlpci_ctx_alloc(&c, p->lg);
    if (rc)
        return rc;
    rc = xlpci_ctx_set_sysfs_root(c, p->sysfs_root);
    if (!rc) rc = xlpci_ctx_set_state_dir(c, p->state_dir);
    if (!rc) rc = xlpci_ctx_set_run_dir(c, p->run_dir);
    if (rc) {
        xlpci_ctx_free(c);
        return rc;
    }
    c->hv_mode = p->hv_mode;
    c->timeout_ms = p->timeout_ms;
    c->max_attempts = p->max_attempts;
    c->dry_run = p->dry_run;
    *c_r = c;
    return 0;
}

/* ", 12 ms after it appeared" (the event), or " (the reconcile)". */
static const char *ago(long long since, bool reconcile, const char *what,
                       char *buf, size_t len)
{
    if (reconcile || since <= 0)
        snprintf(buf, len, " (the watcher's reconcile)");
    else
        snprintf(buf, len, ", %lld ms after %s", xlpci_now_ms() - since,
                 what);
    return buf;
}

/* In the child: the action; returns its exit code. */
static int run_action(xlpci_watcher *w, uint32_t domid, int kind,
                      long long since, bool scan)
{
    char t[96];
    xlpci_ctx *c;
    unsigned restored = 0;
    bool did = false;
    int rc;

    rc = child_ctx(w->ctx, &c);
    if (rc)
        return XLPCI_WEXIT_RETRY;
    switch (kind) {
    case XLPCI_WK_CREATE:
        rc = xlpci_watch_act_create(c, domid, w->dir, w->qemu_wait_ms,
                                    &did);
        if (!rc && did && !c->dry_run)
            LOG(c, NOTICE, "domain %u: its PCI devices are given%s", domid,
                ago(since, scan, "it appeared", t, sizeof(t)));
        break;
    case XLPCI_WK_RELEASE:
        rc = xlpci_watch_act_release(c, domid, scan, &did);
        if (!rc && did && !c->dry_run)
            LOG(c, NOTICE, "domain %u: what it held is released%s", domid,
                ago(since, scan, "it died", t, sizeof(t)));
        break;
    default:
        rc = xlpci_watch_act_records(c, w->run_records, w->nrun_records,
                                     w->run_records_all, &restored);
        did = restored > 0;
        break;
    }
    xlpci_ctx_free(c);
    return xlpci_watch_exit_code(kind, rc, did);
}

/* ---- children ------------------------------------------------------------------ */

/* "the create of domain 5", "the records check" */
static const char *action_name(uint32_t domid, int kind, char *buf,
                               size_t len)
{
    if (kind == XLPCI_WK_RECORDS)
        snprintf(buf, len, "the ownership records check");
    else
        snprintf(buf, len, "the %s of domain %u", kind_names[kind], domid);
    return buf;
}

static kid *kid_of_domain(xlpci_watcher *w, uint32_t domid)
{
    size_t i;

    for (i = 0; i < w->nkids; i++)
        if (w->kids[i].domid == domid)
            return &w->kids[i];
    return NULL;
}

static long long action_ms(const xlpci_watcher *w, int kind)
{
    long long ms = w->ctx->timeout_ms;

    /* the create of an HVM guest waits for its QEMU first */
    if (kind == XLPCI_WK_CREATE)
        ms += w->qemu_wait_ms;
    return ms + KILL_GRACE_MS;
}

static int start(xlpci_watcher *w, uint32_t domid, int kind, long long now)
{
    char an[64];
    struct epoll_event ev;
    long long since = 0;
    bool scan = xlpci_wq_reconcile(&w->q, domid, kind);
    pid_t parent = getpid(), pid;
    size_t i;
    kid *k;
    int fd;

    for (i = 0; i < w->q.n; i++)
        if (w->q.v[i].domid == domid)
            since = w->q.v[i].since[kind];
    if (w->nkids == w->capkids) {
        size_t cap = w->capkids ? 2 * w->capkids : 8;
        kid *v = realloc(w->kids, cap * sizeof(*v));

        if (!v)
            return XLPCI_ERR_NOMEM;
        w->kids = v;
        w->capkids = cap;
    }
    if (kind == XLPCI_WK_RECORDS) {
        /* the child checks these; new events gather for the next run */
        memcpy(w->run_records, w->records, w->nrecords * sizeof(w->records[0]));
        w->nrun_records = w->nrecords;
        w->run_records_all = w->records_all;
        w->nrecords = 0;
        w->records_all = false;
    }
    fflush(NULL);                      /* no buffered output twice */
    pid = fork();
    if (pid < 0 && kind == XLPCI_WK_RECORDS) {
        memcpy(w->records, w->run_records,
               w->nrun_records * sizeof(w->records[0]));
        w->nrecords = w->nrun_records;
        w->records_all = w->run_records_all;
    }
    if (pid < 0) {
        LOGE(w->ctx, ERROR, "cannot start %s (fork)",
             action_name(domid, kind, an, sizeof(an)));
        return XLPCI_ERR_FAIL;
    }
    if (!pid) {
        sigset_t none;
        int code;

        /* the action dies with the watcher: a watcher started again
         * reconciles, it never races an orphan */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(XLPCI_WEXIT_RETRY);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_IGN);
        code = run_action(w, domid, kind, since, scan);
        fflush(NULL);
        _exit(code);
    }
    fd = pidfd_open(pid, 0);
    if (fd >= 0) {
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.u64 = (uint64_t)pid << 8;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            fd = -1;
        }
    }
    /* without a pidfd (a kernel before 5.3) the timer reaps it */
    k = &w->kids[w->nkids++];
    memset(k, 0, sizeof(*k));
    k->pid = pid;
    k->pidfd = fd;
    k->domid = domid;
    k->kind = kind;
    k->started = now;
    k->deadline = now + action_ms(w, kind);
    xlpci_wq_start(&w->q, domid, kind);
    LOG(w->ctx, DETAIL, "%s started (pid %d)",
        action_name(domid, kind, an, sizeof(an)), (int)pid);
    return 0;
}

/* The outcome of a child that ended with status st. */
static void ended(xlpci_watcher *w, kid *k, int st, long long now)
{
    char an[64];
    long long since, due = 0;
    unsigned tries;
    int code, outcome, r;
    size_t i;

    if (WIFEXITED(st))
        code = WEXITSTATUS(st);
    else
        code = -1;
    if (code != XLPCI_WEXIT_DONE && code != XLPCI_WEXIT_NOTHING &&
        code != XLPCI_WEXIT_PERMANENT && code != XLPCI_WEXIT_RETRY)
        code = XLPCI_WEXIT_RETRY;
    outcome = k->moot ? XLPCI_WQ_DONE : xlpci_watch_outcome(code);
    if (w->flags & XLPCI_WATCH_ONCE) {
        if (outcome != XLPCI_WQ_DONE)
            w->failed++;
    }
    r = xlpci_wq_finish(&w->q, k->domid, k->kind, outcome, now, &since,
                        &tries);
    for (i = 0; i < w->q.n; i++)
        if (w->q.v[i].domid == k->domid)
            due = w->q.v[i].due[k->kind];
    action_name(k->domid, k->kind, an, sizeof(an));
    if (k->moot) {
        LOG(w->ctx, DETAIL, "%s stopped: the domain died", an);
    } else if (WIFSIGNALED(st)) {
        xlpci_log(w->ctx, k->killed ? XTL_ERROR : XTL_WARN, -1,
                  "%s (pid %d) %s by signal %d after %lld ms%s", an,
                  (int)k->pid, k->killed ? "was past its deadline: killed"
                                         : "was killed",
                  WTERMSIG(st), now - k->started,
                  r == XLPCI_WQ_RETRY ? "; it is tried again" : "");
    } else if (r == XLPCI_WQ_RETRY) {
        LOG(w->ctx, WARN, "%s failed (attempt %u); trying again in %lld ms",
            an, tries, due > now ? due - now : 0);
    } else if (r == XLPCI_WQ_GAVE_UP && (w->flags & XLPCI_WATCH_ONCE)) {
        LOG(w->ctx, ERROR, "%s failed (see above)", an);
    } else if (r == XLPCI_WQ_GAVE_UP) {
        LOG(w->ctx, ERROR, "%s failed %u times; not tried again until the "
            "watcher reconciles (SIGHUP: `systemctl reload xlpci-watch`)",
            an, tries);
    } else if (r == XLPCI_WQ_FAILED) {
        LOG(w->ctx, ERROR, "%s failed (see above); not tried again until "
            "the watcher reconciles", an);
    } else {
        LOG(w->ctx, DETAIL, "%s: %s, in %lld ms", an,
            code == XLPCI_WEXIT_NOTHING ? "nothing to do" : "done",
            now - k->started);
    }
    (void)since;
    if (k->pidfd >= 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, k->pidfd, NULL);
        close(k->pidfd);
    }
    *k = w->kids[--w->nkids];
}

/* Reap what ended; stop what is past its deadline. */
static void tend_kids(xlpci_watcher *w, long long now)
{
    size_t i = 0;
    int st;

    while (i < w->nkids) {
        kid *k = &w->kids[i];
        pid_t r = waitpid(k->pid, &st, WNOHANG);

        if (r == k->pid) {
            ended(w, k, st, now);
            continue;                  /* *k is another kid now */
        }
        if (r < 0 && errno == ECHILD) {
            /* reaped by someone else (an embedding program's handler) */
            ended(w, k, W_EXITCODE(XLPCI_WEXIT_RETRY, 0), now);
            continue;
        }
        if (now >= k->deadline && !k->killed) {
            char an[64];

            LOG(w->ctx, ERROR, "%s (pid %d) is past its deadline (%lld ms): "
                "stopping it", action_name(k->domid, k->kind, an, sizeof(an)),
                (int)k->pid, now - k->started);
            k->killed = true;
            kill(k->pid, SIGKILL);
        }
        i++;
    }
}

/* ---- what the watcher reads ----------------------------------------------------- */

static int watch_path(xlpci_watcher *w, const char *path, bool on)
{
    xlpci_request(w->ctx);
    if (on ? xs_watch(w->ctx->xsh, path, w->token)
           : xs_unwatch(w->ctx->xsh, path, w->token))
        return 0;
    if (on)
        LOGE(w->ctx, ERROR, "cannot watch %s", path);
    return on ? XLPCI_ERR_XENSTORE : 0;
}

static void name_watch(xlpci_watcher *w, uint32_t domid, bool on)
{
    char path[XLPCI_PATH_MAX];

    if (on == xlpci_domset_has(&w->name_watched, domid) ||
        (on && w->name_watched.n >= NAME_WATCH_MAX) || !w->watching)
        return;
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    if (watch_path(w, path, on))
        return;
    if (on)
        xlpci_domset_add(&w->name_watched, domid);
    else
        xlpci_domset_del(&w->name_watched, domid);
}

/* A live domain: its create, if its name has a device list and it has
 * no backend.  No name yet: waited for. */
static int consider(xlpci_watcher *w, uint32_t domid, long long now)
{
    char path[XLPCI_PATH_MAX + 64], *name = NULL;
    bool has;
    int rc;

    rc = xlpci_watch_guest_file(w->ctx, domid, w->dir, path, sizeof(path),
                                &name);
    if (rc < 0)
        return rc;
    if (!name) {
        if (!xlpci_domset_add(&w->unnamed, domid))
            name_watch(w, domid, true);
        return 0;
    }
    xlpci_domset_del(&w->unnamed, domid);
    name_watch(w, domid, false);
    if (rc == 1) {
        rc = xlpci_watch_has_backend(w->ctx, domid, &has);
        if (!rc && !has) {
            LOG(w->ctx, DETAIL, "domain %u (%s): its devices are in %s",
                domid, name, path);
            rc = xlpci_wq_want(&w->q, domid, XLPCI_WK_CREATE, now, false);
        }
    } else {
        LOG(w->ctx, DETAIL, "domain %u (%s): no device list (%s)", domid,
            name, path);
    }
    free(name);
    return rc;
}

/* A domain that is gone: its create (if any) stops, its release. */
static int vanished(xlpci_watcher *w, uint32_t domid, long long now,
                    bool scan)
{
    if (xlpci_wq_cancel(&w->q, domid, XLPCI_WK_CREATE)) {
        kid *k = kid_of_domain(w, domid);

        if (k && k->kind == XLPCI_WK_CREATE && !k->moot) {
            k->moot = true;
            kill(k->pid, SIGKILL);
        }
    }
    xlpci_domset_del(&w->unnamed, domid);
    name_watch(w, domid, false);
    xlpci_domset_del(&w->suspended, domid);
    LOG(w->ctx, DETAIL, "domain %u is gone", domid);
    return xlpci_wq_want(&w->q, domid, XLPCI_WK_RELEASE, now, scan);
}

/* xl save suspends the guest, then destroys it; xl migrate is refused
 * by Xen (log-dirty mode with assigned devices).  Said once per
 * suspension of a domain that holds PCI devices. */
static void suspending(xlpci_watcher *w)
{
    bool has;
    size_t i;

    for (i = 0; i < w->suspended.n;)
        if (!xlpci_domset_has(&w->susp, w->suspended.v[i]))
            xlpci_domset_del(&w->suspended, w->suspended.v[i]);  /* resumed */
        else
            i++;
    for (i = 0; i < w->susp.n; i++) {
        uint32_t d = w->susp.v[i];

        if (xlpci_domset_has(&w->suspended, d) ||
            xlpci_domset_add(&w->suspended, d) ||
            xlpci_watch_has_backend(w->ctx, d, &has) || !has)
            continue;
        LOG(w->ctx, WARN, "domain %u suspends (xl save or migrate) with PCI "
            "devices: a live migration fails (Xen refuses log-dirty mode "
            "to a domain with assigned devices) and the guest goes on; "
            "after xl save the devices are released when the domain is "
            "destroyed, and given again to the domain xl restore makes "
            "(a PV guest's xen-pcifront does not reconnect after a "
            "restore: reboot it to use them)", d);
    }
}

/* Scan the domains: births, deaths.  reconcile: also every holder that
 * is not alive, and every live guest without its devices. */
static int scan(xlpci_watcher *w, bool reconcile, long long now)
{
    xlpci_domset holders;
    size_t i;
    int rc;

    xlpci_domset_init(&holders);
    rc = xlpci_watch_domains(w->ctx, w->xch, &w->now, &w->susp);
    if (!rc)
        suspending(w);
    if (!rc)
        rc = xlpci_domset_diff(&w->known, &w->now, &w->born, &w->gone);
    for (i = 0; !rc && i < w->gone.n; i++)
        rc = vanished(w, w->gone.v[i], now, false);
    if (!rc && reconcile) {
        xlpci_recmap_dispose(&w->owners);
        rc = xlpci_watch_holders(w->ctx, xlpci_host_active(w->ctx),
                                 &holders, &w->owners);
        for (i = 0; !rc && i < holders.n; i++)
            if (!xlpci_domset_has(&w->now, holders.v[i]))
                rc = xlpci_wq_want(&w->q, holders.v[i], XLPCI_WK_RELEASE,
                                   now, true);
    }
    if (!rc)
        rc = xlpci_domset_copy(&w->known, &w->now);
    /* the new domains, or at a reconcile all of them; and those that
     * had no name yet */
    for (i = 0; !rc && i < (reconcile ? w->now.n : w->born.n); i++)
        rc = consider(w, reconcile ? w->now.v[i] : w->born.v[i], now);
    for (i = 0; !rc && i < w->unnamed.n;) {
        size_t before = w->unnamed.n;

        rc = consider(w, w->unnamed.v[i], now);
        if (w->unnamed.n == before)
            i++;                       /* else it got its name: the next
                                        * one moved into its place */
    }
    if (!rc && reconcile) {
        w->records_all = true;
        rc = xlpci_wq_want(&w->q, 0, XLPCI_WK_RECORDS, now, false);
    }
    xlpci_domset_dispose(&holders);
    if (rc) {
        w->scan_fails++;
        LOG(w->ctx, ERROR, "the watcher could not read the domains (%s); "
            "trying again in %d ms", xlpci_strerror(rc), SCAN_RETRY_MS);
        w->scan_at = now + SCAN_RETRY_MS;
        if (reconcile)
            w->reconcile_due = true;
        else
            w->scan_due = true;
        return w->scan_fails >= SCAN_FAIL_MAX ? XLPCI_ERR_XENSTORE : 0;
    }
    w->scan_fails = 0;
    w->scan_at = 0;
    return 0;
}

/* A record event: its owner now (noted), or it is gone: a check of its
 * former owner's backend, if that domain lives (a dead domain's records
 * go with its release).  One read, whatever the host holds. */
static void record_event(xlpci_watcher *w, const xlpci_bdf *bdf, bool all)
{
    uint32_t old = XLPCI_NO_OWNER;
    size_t i;
    int owner;

    if (all) {
        w->records_all = true;
        return;
    }
    if (xlpci_owner_read(w->ctx, XBT_NULL, bdf, &owner))
        return;                        /* not a domid: check's */
    if (owner >= 0) {
        xlpci_recmap_set(&w->owners, bdf, (uint32_t)owner);
        return;
    }
    if (xlpci_recmap_take(&w->owners, bdf, &old) &&
        !xlpci_domset_has(&w->known, old))
        return;
    if (w->records_all)
        return;
    for (i = 0; i < w->nrecords; i++)
        if (!xlpci_bdf_cmp(&w->records[i].bdf, bdf) &&
            w->records[i].domid == old)
            return;
    if (w->nrecords == RECORDS_MAX) {
        w->records_all = true;
        return;
    }
    w->records[w->nrecords].bdf = *bdf;
    w->records[w->nrecords++].domid = old;
}

static void drain(xlpci_watcher *w)
{
    char **ev;
    xlpci_bdf bdf;
    uint32_t domid;

    while ((ev = xs_check_watch(w->ctx->xsh))) {
        if (!strcmp(ev[XS_WATCH_TOKEN], w->token)) {
            switch (xlpci_watch_event(ev[XS_WATCH_PATH], &bdf, &domid)) {
            case XLPCI_WEV_DOMAINS:
                w->scan_due = true;
                break;
            case XLPCI_WEV_RECORD:
                record_event(w, &bdf, false);
                break;
            case XLPCI_WEV_RECORDS_ALL:
                record_event(w, NULL, true);
                break;
            case XLPCI_WEV_NAME:
                if (xlpci_domset_has(&w->unnamed, domid))
                    w->scan_due = true;
                break;
            default:
                break;
            }
        }
        free(ev);
    }
}

/* ---- the loop ----------------------------------------------------------------------- */

static void arm(xlpci_watcher *w, long long when, long long now)
{
    struct itimerspec its;
    long long ms = when - now;

    memset(&its, 0, sizeof(its));
    if (ms < 1)
        ms = 1;
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000L;
    timerfd_settime(w->tfd, 0, &its, NULL);
}

int xlpci_watcher_dispatch(xlpci_watcher *w)
{
    long long now = xlpci_now_ms(), wake, next;
    uint64_t ticks;
    uint32_t domid;
    size_t i;
    int kind, rc = 0;

    if (w->done)
        return w->failed ? XLPCI_ERR_FAIL : 1;
    if (read(w->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        LOGE(w->ctx, DEBUG, "timerfd");
    if (w->watching)
        drain(w);
    tend_kids(w, now);
    if ((w->reconcile_due || w->scan_due) && now >= w->scan_at) {
        bool full = w->reconcile_due;

        w->reconcile_due = w->scan_due = false;
        rc = scan(w, full, now);
        if (rc) {
            LOG(w->ctx, ERROR, "the watcher stops: xenstore or Xen cannot "
                "be read (started again, it reconciles the host)");
            return rc;
        }
    }
    if ((w->nrecords || w->records_all) &&
        !xlpci_wq_wanted(&w->q, 0, XLPCI_WK_RECORDS))
        xlpci_wq_want(&w->q, 0, XLPCI_WK_RECORDS, now, false);
    if (w->watching && now >= w->health_at) {
        char *v = NULL;

        /* the reader thread of a lost connection wakes nobody: look */
        if (xlpci_xs_read(w->ctx, XBT_NULL, "/local/domain/0/name", &v) &&
            errno != ENOENT) {
            LOG(w->ctx, ERROR, "the watcher stops: its xenstore connection "
                "is lost");
            return XLPCI_ERR_XENSTORE;
        }
        free(v);
        w->health_at = now + HEALTH_MS;
    }
    while (xlpci_wq_next(&w->q, now, &domid, &kind, &wake) == 1) {
        rc = start(w, domid, kind, now);
        if (rc) {
            long long since;
            unsigned tries;

            /* as a failed attempt: backoff */
            xlpci_wq_start(&w->q, domid, kind);
            xlpci_wq_finish(&w->q, domid, kind, XLPCI_WQ_RETRY, now,
                            &since, &tries);
            break;
        }
    }
    if ((w->flags & XLPCI_WATCH_ONCE) && xlpci_wq_idle(&w->q) &&
        !w->nkids) {
        w->done = true;
        return w->failed ? XLPCI_ERR_FAIL : 1;
    }
    /* the next time something is due: a backoff, a deadline, a scan,
     * the health check; children without a pidfd are polled */
    next = wake;
    for (i = 0; i < w->nkids; i++) {
        long long t = w->kids[i].killed || w->kids[i].moot
                      ? now + 50 : w->kids[i].deadline;

        if (w->kids[i].pidfd < 0)
            t = now + 50;
        if (next < 0 || t < next)
            next = t;
    }
    if ((w->reconcile_due || w->scan_due) && (next < 0 || w->scan_at < next))
        next = w->scan_at;
    if (w->watching && (next < 0 || w->health_at < next))
        next = w->health_at;
    if (next >= 0)
        arm(w, next, now);
    return 0;
}

int xlpci_watcher_fd(const xlpci_watcher *w)
{
    return w->epfd;
}

void xlpci_watcher_reconcile(xlpci_watcher *w)
{
    LOG(w->ctx, NOTICE, "reconciling the host");
    w->reconcile_due = true;
    w->scan_at = 0;
    arm(w, xlpci_now_ms(), xlpci_now_ms());
}

void xlpci_watcher_set_jobs(xlpci_watcher *w, unsigned jobs)
{
    w->jobs = jobs ? jobs : 1;
    w->q.limit[XLPCI_WK_RELEASE] = w->jobs;
    w->q.limit[XLPCI_WK_CREATE] = w->jobs;
}

void xlpci_watcher_set_qemu_wait(xlpci_watcher *w, unsigned ms)
{
    w->qemu_wait_ms = ms;
}

int xlpci_watcher_new(xlpci_ctx *ctx, const char *guests_dir,
                      unsigned flags, xlpci_watcher **w_r)
{
    static const char *const paths[] = { "@introduceDomain",
                                         "@releaseDomain", "/libxl/pci" };
    struct epoll_event ev;
    xlpci_watcher *w;
    size_t i;
    int rc;

    *w_r = NULL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return XLPCI_ERR_NOMEM;
    w->ctx = ctx;
    w->flags = flags;
    w->epfd = w->tfd = -1;
    w->jobs = JOBS_DEFAULT;
    w->qemu_wait_ms = QEMU_WAIT_MS;
    xlpci_wq_init(&w->q, w->jobs, flags & XLPCI_WATCH_ONCE);
    xlpci_domset_init(&w->known);
    xlpci_domset_init(&w->unnamed);
    xlpci_domset_init(&w->name_watched);
    xlpci_domset_init(&w->suspended);
    xlpci_domset_init(&w->now);
    xlpci_domset_init(&w->born);
    xlpci_domset_init(&w->gone);
    xlpci_domset_init(&w->susp);
    xlpci_recmap_init(&w->owners);
    snprintf(w->token, sizeof(w->token), "xlpci-watch-%ld", (long)getpid());
    w->dir = strdup(guests_dir && *guests_dir ? guests_dir
                                              : GUESTS_DIR_DEFAULT);
    if (!w->dir) {
        rc = XLPCI_ERR_NOMEM;
        goto fail;
    }
    if (ctx->dry_run && !(flags & XLPCI_WATCH_ONCE)) {
        LOG(ctx, ERROR, "a dry run of the watcher reconciles once: give "
            "--once (XLPCI_WATCH_ONCE)");
        rc = XLPCI_ERR_INVAL;
        goto fail;
    }
    /* Xen's list of domains, when there is a hypervisor to ask */
    rc = xlpci_hv_open_read(ctx, true, &w->xch);
    if (rc)
        goto fail;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (w->epfd < 0 || w->tfd < 0) {
        LOGE(ctx, ERROR, "epoll/timerfd");
        rc = XLPCI_ERR_FAIL;
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = TAG_TIMER;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &ev)) {
        LOGE(ctx, ERROR, "epoll_ctl");
        rc = XLPCI_ERR_FAIL;
        goto fail;
    }
    if (!(flags & XLPCI_WATCH_ONCE)) {
        /* the watches before the first scan: nothing between is missed */
        ev.data.u64 = TAG_XS;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, xs_fileno(ctx->xsh), &ev)) {
            LOGE(ctx, ERROR, "epoll_ctl (xenstore)");
            rc = XLPCI_ERR_FAIL;
            goto fail;
        }
        for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            rc = watch_path(w, paths[i], true);
            if (rc) {
                while (i--)
                    watch_path(w, paths[i], false);
                goto fail;
            }
        }
        w->watching = true;
        w->health_at = xlpci_now_ms() + HEALTH_MS;
    }
    LOG(ctx, DETAIL, "watching the domains (%s); device lists in %s",
        w->xch ? "Xen's list" : "xenstore's /local/domain, no hypervisor",
        w->dir);
    rc = scan(w, true, xlpci_now_ms());
    if (rc)
        goto fail;
    arm(w, xlpci_now_ms(), xlpci_now_ms());
    *w_r = w;
    return 0;
fail:
    xlpci_watcher_free(w);
    return rc;
}

void xlpci_watcher_free(xlpci_watcher *w)
{
    static const char *const paths[] = { "@introduceDomain",
                                         "@releaseDomain", "/libxl/pci" };
    long long now;
    size_t i;

    if (!w)
        return;
    if (w->nkids)
        LOG(w->ctx, NOTICE, "waiting for %zu running action(s) to end",
            w->nkids);
    /* the running actions end within their deadlines (then killed) */
    while (w->nkids) {
        struct timespec ts = { 0, 20 * 1000000L };

        now = xlpci_now_ms();
        tend_kids(w, now);
        if (w->nkids)
            nanosleep(&ts, NULL);
    }
    if (w->watching) {
        for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
            watch_path(w, paths[i], false);
        while (w->name_watched.n)
            name_watch(w, w->name_watched.v[0], false);
    }
    if (w->xch)
        xc_interface_close(w->xch);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->tfd >= 0)
        close(w->tfd);
    xlpci_wq_dispose(&w->q);
    xlpci_domset_dispose(&w->known);
    xlpci_domset_dispose(&w->unnamed);
    xlpci_domset_dispose(&w->name_watched);
    xlpci_domset_dispose(&w->suspended);
    xlpci_domset_dispose(&w->now);
    xlpci_domset_dispose(&w->born);
    xlpci_domset_dispose(&w->gone);
    xlpci_domset_dispose(&w->susp);
    xlpci_recmap_dispose(&w->owners);
    free(w->kids);
    free(w->dir);
    free(w);
}

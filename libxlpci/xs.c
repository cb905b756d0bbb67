/*
 * xenstore: the transaction runner, checked reads and watch-based waits.
 * All xenstore access goes through libxenstore.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* ---- reads --------------------------------------------------------------- */

/* After a failed read (what) of path: absent is not an error; EAGAIN in
 * a transaction makes the runner start over. */
static int read_failed(xlpci_ctx *ctx, xs_transaction_t t, const char *what,
                       const char *path)
{
    if (errno == ENOENT)
        return 0;
    if (errno == EAGAIN && t != XBT_NULL) {
        ctx->txn_eagain = true;       /* the runner starts over */
        return XLPCI_ERR_XENSTORE;
    }
    LOGE(ctx, ERROR, "xenstore %s of %s failed", what, path);
    return XLPCI_ERR_XENSTORE;
}

int xlpci_xs_read(xlpci_ctx *ctx, xs_transaction_t t, const char *path,
                  char **val_r)
{
    unsigned len;

    xlpci_request(ctx);
    *val_r = xs_read(ctx->xsh, t, path, &len);
    return *val_r ? 0 : read_failed(ctx, t, "read", path);
}

int xlpci_xs_exists(xlpci_ctx *ctx, xs_transaction_t t, const char *path,
                    bool *exists_r)
{
    char *v;
    int rc = xlpci_xs_read(ctx, t, path, &v);

    *exists_r = v != NULL;
    free(v);
    return rc;
}

int xlpci_xs_directory(xlpci_ctx *ctx, xs_transaction_t t, const char *path,
                       char ***list_r, unsigned *n_r)
{
    xlpci_request(ctx);
    *list_r = xs_directory(ctx->xsh, t, path, n_r);
    if (*list_r)
        return 0;
    *n_r = 0;
    return read_failed(ctx, t, "directory", path);
}

/* A listing that may not fit one xenstore reply (XENSTORE_PAYLOAD_MAX,
 * 4096 bytes: /libxl/pci past about 315 records).  C xenstored refuses
 * such a reply with E2BIG and libxenstore fetches it in parts
 * (XS_DIRECTORY_PART); oxenstored (Xen 4.17) sends it whole, libxenstore
 * refuses it and closes the connection: every later request of that
 * handle fails with EBADF.  So the listing goes over a connection of its
 * own, opened for it and closed after it (outside any transaction, which
 * belongs to ctx->xsh): a listing too large for the daemon fails here,
 * with an error naming the limit, and ctx->xsh stays usable. */
int xlpci_xs_directory_alone(xlpci_ctx *ctx, const char *path,
                             char ***list_r, unsigned *n_r)
{
    struct xs_handle *h;
    int saved;

    *list_r = NULL;
    *n_r = 0;
    xlpci_request(ctx);
    h = xs_open(0);
    if (!h) {
        LOGE(ctx, ERROR, "cannot open a second xenstore connection to "
             "list %s", path);
        return XLPCI_ERR_XENSTORE;
    }
    *list_r = xs_directory(h, XBT_NULL, path, n_r);
    saved = errno;
    xs_close(h);
    if (*list_r)
        return 0;
    *n_r = 0;
    if (saved == ENOENT)
        return 0;
    if (saved == E2BIG || saved == EBADF || saved == EIO) {
        LOG(ctx, ERROR, "cannot list %s (%s): its listing is larger than "
            "one xenstore reply (XENSTORE_PAYLOAD_MAX, 4096 bytes; about "
            "315 /libxl/pci records) and this xenstored does not send it "
            "in parts (oxenstored closes the connection instead)", path,
            strerror(saved));
        return XLPCI_ERR_XENSTORE;
    }
    errno = saved;
    LOGE(ctx, ERROR, "xenstore directory of %s failed", path);
    return XLPCI_ERR_XENSTORE;
}

static int read_state(xlpci_ctx *ctx, xs_transaction_t t, const char *path,
                      int *state_r)
{
    char *v;
    unsigned st;
    int rc = xlpci_xs_read(ctx, t, path, &v);

    if (rc)
        return rc;
    *state_r = -1;
    if (v && xlpci_parse_uint(v, XenbusStateReconfigured, &st)) {
        LOG(ctx, ERROR, "%s = \"%s\" is not a xenbus state", path, v);
        rc = XLPCI_ERR_CORRUPT;
    } else if (v) {
        *state_r = (int)st;
    }
    free(v);
    return rc;
}

/* The one reader of a backend: the listing, state and num_devs, then the
 * keys of each row that keys names (only those the listing shows; at most
 * 256 rows whatever the store holds; orphans are named, their values never
 * read).  A flow reads what it decides on: the others stay NULL, as if
 * absent (xlpci_view_read_rows reads them later if a step needs them). */
int xlpci_view_read_keys(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                         xlpci_view *view, unsigned keys)
{
    char be[XLPCI_PATH_MAX], path[XLPCI_PATH_MAX];
    unsigned i;
    int rc;

    xlpci_view_init(view);
    xlpci_be_path(be, domid);
    rc = xlpci_xs_directory(ctx, t, be, &view->names, &view->nnames);
    if (rc || !view->names)
        return rc;
    view->dir_exists = true;
    for (i = 0; !rc && i < view->nnames; i++) {
        char **dst = !strcmp(view->names[i], "state") ? &view->state_raw :
                     !strcmp(view->names[i], "num_devs") ? &view->num_raw :
                     NULL;

        if (!dst)
            continue;
        rc = xlpci_be_key(path, domid, "%s", view->names[i]);
        if (!rc) rc = xlpci_xs_read(ctx, t, path, dst);
    }
    if (!rc) rc = xlpci_view_setup(view);
    return rc ? rc : xlpci_view_read_rows(ctx, t, domid, view, 0,
                                          view->num_devs, keys);
}

int xlpci_view_read_rows(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                         xlpci_view *view, unsigned from, unsigned to,
                         unsigned keys)
{
    char path[XLPCI_PATH_MAX];
    enum xlpci_key k;
    unsigned i, idx;
    int rc = 0;

    for (i = 0; !rc && i < view->nnames; i++) {
        if (!xlpci_split_key(view->names[i], &k, &idx) ||
            idx >= view->num_devs || idx < from || idx >= to ||
            !(keys & XLPCI_KEY_BIT(k)) || view->keys[idx][k])
            continue;
        rc = xlpci_be_key(path, domid, "%s", view->names[i]);
        if (!rc) rc = xlpci_xs_read(ctx, t, path, &view->keys[idx][k]);
    }
    if (!rc)
        xlpci_view_rows(view);
    return rc;
}

int xlpci_view_read(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                    xlpci_view *view)
{
    return xlpci_view_read_keys(ctx, t, domid, view, XLPCI_KEYS_ALL);
}

/* ---- transactions -------------------------------------------------------- */

static bool drain_watches(xlpci_ctx *ctx);

/* 0, or -1 with errno; EAGAIN for a conflict the daemon reported early.
 * C xenstored answers an rm inside a transaction of a directory it listed
 * and someone else changed meanwhile with EIO (or EINVAL when a parent
 * went): the commit would be refused with EAGAIN, so it is a conflict. */
static int apply_op(xlpci_ctx *ctx, xs_transaction_t t, const xlpci_op *op)
{
    bool ok = false;

    xlpci_request(ctx);
    switch (op->kind) {
    case XLPCI_OP_RM:
        ok = xs_rm(ctx->xsh, t, op->path) || errno == ENOENT;
        if (!ok && t != XBT_NULL && (errno == EIO || errno == EINVAL)) {
            ctx->txn_rm_conflict = errno;
            errno = EAGAIN;
        }
        break;
    case XLPCI_OP_MKDIR:
        ok = xs_mkdir(ctx->xsh, t, op->path);
        break;
    case XLPCI_OP_WRITE:
        ok = xs_write(ctx->xsh, t, op->path, op->value, strlen(op->value));
        break;
    case XLPCI_OP_PERMS:
        ok = xs_set_permissions(ctx->xsh, t, op->path,
                                (struct xs_permissions *)op->perms,
                                op->nperms);
        break;
    }
    return ok ? 0 : -1;
}

static const char *op_verb(xlpci_op_kind k)
{
    switch (k) {
    case XLPCI_OP_RM: return "remove";
    case XLPCI_OP_MKDIR: return "mkdir";
    case XLPCI_OP_WRITE: return "write";
    case XLPCI_OP_PERMS: return "set permissions of";
    }
    return "?";
}

/* Randomised exponential backoff, 50 us .. 20 ms, never past limit. */
static void backoff(unsigned attempt, unsigned *seed, long long limit)
{
    unsigned shift = attempt < 9 ? attempt : 9;
    unsigned long us = 50ul << shift;
    long long left = (limit - xlpci_now_ms()) * 1000;
    struct timespec ts;

    if (us > 20000)
        us = 20000;
    us = us / 2 + (unsigned long)rand_r(seed) % (us + 1);
    if (left <= 0)
        return;
    if ((long long)us > left)
        us = (unsigned long)left;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)(us * 1000);
    nanosleep(&ts, NULL);
}

void xlpci_txn_after_commit(xlpci_ctx *ctx, void (*step)(xlpci_ctx *ctx))
{
    ctx->after_commit = step;
}

int xlpci_txn_run(xlpci_ctx *ctx, const char *what, xlpci_txn_body *body,
                  void *arg)
{
    void (*step)(xlpci_ctx *ctx) = NULL;
    xlpci_ops ops;
    xs_transaction_t t;
    unsigned attempt, seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    /* the retries end by the command's deadline, never by a count alone
     * (a guest rewriting its frontend state conflicts every attempt) */
    long long start = xlpci_now_ms(), limit = xlpci_step_limit(ctx);
    size_t i;
    int rc;

    xlpci_ops_init(&ops);
    ctx->txn_rm_conflict = 0;
    for (attempt = 1;; attempt++) {
        ctx->stats.attempts++;
        xlpci_request(ctx);
        t = xs_transaction_start(ctx->xsh);
        if (t == XBT_NULL) {
            LOGE(ctx, ERROR, "%s: cannot start a xenstore transaction", what);
            rc = XLPCI_ERR_XENSTORE;
            goto out;
        }
        xlpci_ops_reset(&ops);
        ctx->txn_eagain = false;
        ctx->after_commit = NULL;
        ctx->in_body = true;
        rc = body(ctx, t, &ops, arg);
        if (rc < 0 && ctx->txn_eagain) {
            /* A read inside the transaction was refused with EAGAIN. */
            xs_transaction_end(ctx->xsh, t, true);
            goto conflict;
        }
        if (rc < 0 || rc == XLPCI_TXN_NOTHING) {
            /* Nothing to write, but the verdict rests on the reads, which
             * xenstored validates only at commit: commit the write-free
             * transaction; EAGAIN means they were torn, so start over. */
            xlpci_request(ctx);
            if (!xs_transaction_end(ctx->xsh, t, false)) {
                if (errno == EAGAIN)
                    goto conflict;
                LOGE(ctx, ERROR, "%s: xenstore commit failed", what);
                rc = XLPCI_ERR_XENSTORE;
            }
            goto out;
        }
#ifdef XLPCI_TESTING
        if (rc == 0 && !ctx->dry_run && ctx->write_hook)
            ctx->write_hook(ctx->write_hook_arg, attempt);
#endif
        if (rc == XLPCI_TXN_WAIT || rc == XLPCI_TXN_PREPARE || ctx->dry_run) {
            if (ctx->dry_run && rc == 0) {
                fprintf(ctx->dry_run, "# %s: one transaction\n", what);
                xlpci_ops_print(&ops, ctx->dry_run);
            }
            xlpci_request(ctx);
            xs_transaction_end(ctx->xsh, t, true);
            goto out;
        }
        for (i = 0; i < ops.n; i++) {
            if (apply_op(ctx, t, &ops.v[i])) {
                int saved = errno;

                xs_transaction_end(ctx->xsh, t, true);
                errno = saved;
                if (saved == EAGAIN)
                    break;
                LOGE(ctx, ERROR, "%s: cannot %s %s", what,
                     op_verb(ops.v[i].kind), ops.v[i].path);
                rc = XLPCI_ERR_XENSTORE;
                goto out;
            }
        }
        if (i < ops.n)
            goto conflict;
#ifdef XLPCI_TESTING
        if (ctx->hook)
            ctx->hook(ctx->hook_arg, attempt);
#endif
        xlpci_request(ctx);
        if (xs_transaction_end(ctx->xsh, t, false)) {
            ctx->stats.transactions++;
            LOG(ctx, DEBUG, "%s: committed %zu operations (attempt %u)",
                what, ops.n, attempt);
            rc = 0;
            step = ctx->after_commit;
            goto out;
        }
        if (errno != EAGAIN) {
            LOGE(ctx, ERROR, "%s: xenstore commit failed", what);
            rc = XLPCI_ERR_XENSTORE;
            goto out;
        }
    conflict:
        xlpci_log_release(ctx, false);   /* said of torn reads */
        ctx->stats.eagain++;
        /* a watch held across the attempts (xlpci_run_until_ready) is
         * not waited on meanwhile: its events are dropped, and the next
         * wait told that some came */
        if (drain_watches(ctx))
            ctx->watch_fired = true;
        if (ctx->max_attempts && attempt >= ctx->max_attempts) {
            LOG(ctx, ERROR, "%s: gave up after %u conflicting attempts (the "
                "limit set); this step wrote nothing", what, attempt);
            rc = XLPCI_ERR_RETRIES;
            goto out;
        }
        if (xlpci_now_ms() >= limit) {
            LOG(ctx, ERROR, "%s: the store changed under each of its %u "
                "attempts in %lld ms (something rewrites what it reads: a "
                "guest rewriting its frontend state?); it gave up at the "
                "command's deadline (%u ms); this step wrote nothing%s",
                what, attempt, xlpci_now_ms() - start, ctx->timeout_ms,
                ctx->txn_rm_conflict == EIO
                ? " (xenstored answered EIO to a removal, as C xenstored "
                  "does when a node it removes changed meanwhile)" : "");
            rc = XLPCI_ERR_RETRIES;
            goto out;
        }
        LOG(ctx, DEBUG, "%s: conflict (EAGAIN%s), redoing the transaction "
            "(attempt %u)", what, ctx->txn_rm_conflict == EIO
            ? ", or EIO from a removal" : "", attempt + 1);
        backoff(attempt, &seed, limit);
    }
out:
    xlpci_log_release(ctx, true);
    xlpci_ops_dispose(&ops);
    ctx->after_commit = NULL;
    if (step)
        step(ctx);                   /* its own transactions */
    return rc;
}

/* A read-only body runs as a write-free transaction, committed so that
 * xenstored validates the reads its verdict rests on (EAGAIN: torn, run
 * again).  Dry-run mode changes nothing here: there is nothing to print. */
typedef struct {
    xlpci_read_body *body;
    void *arg;
} read_arg;

static int read_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                     void *varg)
{
    read_arg *a = varg;
    int rc;

    (void)ops;                         /* plans nothing */
    rc = a->body(ctx, t, a->arg);
    return rc ? rc : XLPCI_TXN_NOTHING;
}

int xlpci_txn_read(xlpci_ctx *ctx, const char *what, xlpci_read_body *body,
                   void *arg)
{
    read_arg a = { body, arg };
    int rc = xlpci_txn_run(ctx, what, read_body, &a);

    return rc == XLPCI_TXN_NOTHING ? 0 : rc;
}

/* ---- waits --------------------------------------------------------------- */

/* The connection of the watches: a second one, opened at the first watch
 * and kept with the context.  libxenstore reads a connection that holds a
 * watch from a thread of its own, and every later request on it pays for
 * the hand-over between the threads (about 4x a request's cost); the reads
 * and transactions stay on ctx->xsh, which never holds a watch.  Nothing
 * is missed across the two: xenstored queues a watch's event before it
 * answers the request that changed the node, so once a watch is
 * registered, every later change has its event on this connection. */
static struct xs_handle *watch_conn(xlpci_ctx *ctx)
{
    if (!ctx->wxsh) {
        ctx->wxsh = xs_open(0);
        if (!ctx->wxsh)
            LOGE(ctx, ERROR, "cannot open a xenstore connection for the "
                 "watches");
    }
    return ctx->wxsh;
}

/* Forget the queued watch events: libxenstore queues every one, without
 * bound, until it is read, and a guest rewriting its frontend state as
 * fast as the store takes it makes tens of thousands a second.  true if
 * there were some.  Bounded, so it never outlives its step. */
static bool drain_watches(xlpci_ctx *ctx)
{
    unsigned n = 0;
    char **ev;

    while (ctx->wxsh && n < 1000000 && (ev = xs_check_watch(ctx->wxsh))) {
        free(ev);
        n++;
    }
    return n > 0;
}

/* Sleep until ms (CLOCK_MONOTONIC), at most until deadline. */
static void sleep_until(long long ms, long long deadline)
{
    struct timespec ts;
    long long left;

    if (ms > deadline)
        ms = deadline;
    left = ms - xlpci_now_ms();
    if (left <= 0)
        return;
    ts.tv_sec = (time_t)(left / 1000);
    ts.tv_nsec = (long)(left % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int watch_begin(xlpci_ctx *ctx, uint32_t domid, xlpci_watch *w,
                       const char *path, bool fe);

int xlpci_wait_backend(xlpci_ctx *ctx, xlpci_watch *w, uint32_t domid,
                       xlpci_state_pred *pred, void *arg, long long deadline,
                       int *state_r)
{
    char be[XLPCI_PATH_MAX], spath[XLPCI_PATH_MAX], epath[XLPCI_PATH_MAX];
    bool exists;
    char *errtext = NULL;
    int rc = 0, state = -1;

    xlpci_be_path(be, domid);
    xlpci_be_key(spath, domid, "state");
    xlpci_error_path(epath, domid);
    /* what this wait is about is the state node alone: a watch of its own
     * when the flow holds none yet (pciback's other writes of the cycle do
     * not wake it) */
    if (!w->active)
        rc = watch_begin(ctx, domid, w, spath, false);
    while (!rc) {
        /* Re-read after every event: an event only says "may have
         * changed" (and one fires when the watch is registered). */
        rc = read_state(ctx, XBT_NULL, spath, &state);
        if (rc) break;
        if (state < 0) {
            rc = xlpci_xs_exists(ctx, XBT_NULL, be, &exists);
            if (rc) break;
            if (!exists) {
                LOG(ctx, ERROR, "backend %s disappeared", be);
                rc = XLPCI_ERR_NOTFOUND;
                break;
            }
        }
        if (pred(state, arg))
            break;
        if (state == XenbusStateClosing || state == XenbusStateClosed) {
            rc = xlpci_xs_read(ctx, XBT_NULL, epath, &errtext);
            if (rc) break;
            LOG(ctx, ERROR, "backend %s went to state %d (%s)%s%s", be,
                state, state == XenbusStateClosing ? "Closing" : "Closed",
                errtext ? ": pciback reports: " : "", errtext ?: "");
            rc = XLPCI_ERR_BACKEND;
            break;
        }
        rc = xlpci_watch_wait(ctx, w, deadline);
    }
    free(errtext);
    if (state_r)
        *state_r = state;
    return rc;
}

/* Register w on path (and on the frontend's state node of domid, if fe). */
static int watch_begin(xlpci_ctx *ctx, uint32_t domid, xlpci_watch *w,
                       const char *path, bool fe)
{
    struct xs_handle *h = watch_conn(ctx);

    if (!h)
        return XLPCI_ERR_XENSTORE;
    snprintf(w->path, sizeof(w->path), "%s", path);
    snprintf(w->token, sizeof(w->token), "xlpci-%ld-%u", (long)getpid(),
             ++ctx->watch_seq);
    w->tokens = XLPCI_REREAD_BURST;
    w->refill_ms = xlpci_now_ms();
    xlpci_request(ctx);
    w->active = xs_watch(h, w->path, w->token);
    if (!w->active) {
        LOGE(ctx, ERROR, "cannot watch %s", w->path);
        return XLPCI_ERR_XENSTORE;
    }
    if (!fe)
        return 0;
    xlpci_fe_path(w->fe_path, domid);
    strncat(w->fe_path, "/state", sizeof(w->fe_path) - strlen(w->fe_path) - 1);
    xlpci_request(ctx);
    w->fe_active = xs_watch(h, w->fe_path, w->token);
    if (!w->fe_active) {
        LOGE(ctx, ERROR, "cannot watch %s", w->fe_path);
        xlpci_watch_end(ctx, w);
        return XLPCI_ERR_XENSTORE;
    }
    return 0;
}

int xlpci_watch_begin(xlpci_ctx *ctx, uint32_t domid, xlpci_watch *w)
{
    char be[XLPCI_PATH_MAX];

    xlpci_be_path(be, domid);
    return watch_begin(ctx, domid, w, be, true);
}

/* The reading budget: a return costs a token; XLPCI_REREAD_BURST of them
 * to start with, one more every XLPCI_REREAD_MS.  A guest that behaves
 * never runs out (a Reconfiguring cycle is a handful of events); one
 * that floods waits for the next token, the events of the pause
 * coalescing into one return. */
static void reread_budget(xlpci_watch *w, long long deadline_ms)
{
    long long now = xlpci_now_ms(), n;

    n = (now - w->refill_ms) / XLPCI_REREAD_MS;
    if (n > 0) {
        w->tokens = w->tokens + n > XLPCI_REREAD_BURST ? XLPCI_REREAD_BURST
                                                       : w->tokens + (unsigned)n;
        w->refill_ms += n * XLPCI_REREAD_MS;
    }
    if (!w->tokens) {
        sleep_until(w->refill_ms + XLPCI_REREAD_MS, deadline_ms);
        w->refill_ms += XLPCI_REREAD_MS;
        w->tokens = 1;
    }
    w->tokens--;
}

int xlpci_watch_wait(xlpci_ctx *ctx, xlpci_watch *w, long long deadline_ms)
{
    struct xs_handle *h = ctx->wxsh;

    if (!w->active || !h)
        return XLPCI_ERR_XENSTORE;       /* xlpci_watch_begin first */
    for (;;) {
        struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
        long long left;
        unsigned n = 0;
        char **ev;
        bool got = ctx->watch_fired;   /* dropped between attempts */

        ctx->watch_fired = false;
        while (n++ < 1000000 && (ev = xs_check_watch(h))) {
            got = got || !strcmp(ev[XS_WATCH_TOKEN], w->token);
            free(ev);
        }
        /* The deadline first: a guest rewriting its frontend state as
         * fast as it can always has an event queued. */
        left = deadline_ms - xlpci_now_ms();
        if (left <= 0)
            return XLPCI_ERR_TIMEDOUT;
        if (got) {
            reread_budget(w, deadline_ms);
            drain_watches(ctx);
            return xlpci_now_ms() >= deadline_ms ? XLPCI_ERR_TIMEDOUT : 0;
        }
        if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) < 0 &&
            errno != EINTR) {
            LOGE(ctx, ERROR, "poll on the xenstore connection failed");
            return XLPCI_ERR_XENSTORE;
        }
    }
}

void xlpci_watch_end(xlpci_ctx *ctx, xlpci_watch *w)
{
    if (w->fe_active) {
        xlpci_request(ctx);
        xs_unwatch(ctx->wxsh, w->fe_path, w->token);
        w->fe_active = false;
    }
    if (!w->active)
        return;
    xlpci_request(ctx);
    xs_unwatch(ctx->wxsh, w->path, w->token);
    drain_watches(ctx);
    w->active = false;
}

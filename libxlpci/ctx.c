/*
 * Context: the xenstore connection, the logger, settings and counters.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define XLPCI_DEFAULT_TIMEOUT_MS   10000   /* libxl__wait_for_backend: 10 s */
#define XLPCI_DEFAULT_STATE_DIR    "/var/lib/xlpci"
#define XLPCI_DEFAULT_RUN_DIR      "/var/run/xen"  /* libxl's run dir */

const char *xlpci_strerror(int rc)
{
    switch (rc) {
    case XLPCI_OK:            return "success";
    case XLPCI_ERR_FAIL:      return "operation failed";
    case XLPCI_ERR_INVAL:     return "invalid argument";
    case XLPCI_ERR_NOTFOUND:  return "not found";
    case XLPCI_ERR_EXISTS:    return "already exists";
    case XLPCI_ERR_TIMEDOUT:  return "timed out waiting for the backend";
    case XLPCI_ERR_BACKEND:   return "the PCI backend failed";
    case XLPCI_ERR_XENSTORE:  return "xenstore operation failed";
    case XLPCI_ERR_NOMEM:     return "out of memory";
    case XLPCI_ERR_RETRIES:   return "xenstore transaction kept conflicting";
    case XLPCI_ERR_CORRUPT:   return "the PCI backend in xenstore is malformed";
    case XLPCI_ERR_BUSY:      return "busy";
    default:                  return "unknown error";
    }
}

void xlpci_log(xlpci_ctx *ctx, xentoollog_level level, int errnoval,
               const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    if (ctx->in_body && level >= XTL_WARN) {
        if (ctx->nheld < sizeof(ctx->held) / sizeof(ctx->held[0])) {
            ctx->held[ctx->nheld].level = level;
            ctx->held[ctx->nheld].errnoval = errnoval;
            va_start(ap, fmt);
            vsnprintf(ctx->held[ctx->nheld].msg,
                      sizeof(ctx->held[0].msg), fmt, ap);
            va_end(ap);
            ctx->nheld++;
        } else {
            ctx->ndropped++;
        }
    } else if (ctx->lg) {
        va_start(ap, fmt);
        xtl_logv(ctx->lg, level, errnoval, "libxlpci", fmt, ap);
        va_end(ap);
    }
    errno = saved;
}

#ifdef XLPCI_TESTING
void xlpci_request(xlpci_ctx *ctx)
{
    ctx->stats.requests++;
    if (ctx->crash_at && ctx->stats.requests == ctx->crash_at)
        kill(getpid(), SIGKILL);
}

void xlpci_host_step(xlpci_ctx *ctx)
{
    ctx->host_steps++;
    if (ctx->crash_host_at && ctx->host_steps == ctx->crash_host_at)
        kill(getpid(), SIGKILL);
}
#endif

void xlpci_log_release(xlpci_ctx *ctx, bool show)
{
    unsigned i;

    ctx->in_body = false;
    for (i = 0; show && ctx->lg && i < ctx->nheld; i++)
        xtl_log(ctx->lg, ctx->held[i].level, ctx->held[i].errnoval,
                "libxlpci", "%s", ctx->held[i].msg);
    if (show && ctx->lg && ctx->ndropped)
        xtl_log(ctx->lg, XTL_WARN, -1, "libxlpci", "(%u more message(s) "
                "not shown)", ctx->ndropped);
    ctx->nheld = 0;
    ctx->ndropped = 0;
}

int xlpci_ctx_alloc(xlpci_ctx **ctx_r, xentoollog_logger *lg)
{
    xlpci_ctx *ctx = calloc(1, sizeof(*ctx));

    *ctx_r = NULL;
    if (!ctx)
        return XLPCI_ERR_NOMEM;
    ctx->lg = lg;
    ctx->timeout_ms = XLPCI_DEFAULT_TIMEOUT_MS;
#ifdef XLPCI_TESTING
    ctx->crash_at = getenv("XLPCI_CRASH_AT")
                    ? strtoul(getenv("XLPCI_CRASH_AT"), NULL, 10) : 0;
    ctx->crash_host_at = getenv("XLPCI_CRASH_HOST_AT")
                         ? strtoul(getenv("XLPCI_CRASH_HOST_AT"), NULL, 10)
                         : 0;
#endif
    ctx->sysfs_root = strdup("/sys");
    ctx->state_dir = strdup(XLPCI_DEFAULT_STATE_DIR);
    ctx->run_dir = strdup(XLPCI_DEFAULT_RUN_DIR);
    if (!ctx->sysfs_root || !ctx->state_dir || !ctx->run_dir) {
        free(ctx->sysfs_root);
        free(ctx->state_dir);
        free(ctx->run_dir);
        free(ctx);
        return XLPCI_ERR_NOMEM;
    }
    /* Not XS_UNWATCH_FILTER: libxenstore 4.17 leaks every event it filters
     * (seen with LeakSanitizer).  Stale events are harmless here: every
     * wait re-reads the store after an event and matches its token. */
    ctx->xsh = xs_open(0);
    if (!ctx->xsh) {
        LOGE(ctx, ERROR, "cannot connect to xenstore (is xenstored running?"
             " XENSTORED_PATH=%s)", getenv("XENSTORED_PATH") ?: "unset");
        free(ctx->sysfs_root);
        free(ctx->state_dir);
        free(ctx->run_dir);
        free(ctx);
        return XLPCI_ERR_XENSTORE;
    }
    *ctx_r = ctx;
    return 0;
}

void xlpci_ctx_free(xlpci_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->xsh)
        xs_close(ctx->xsh);
    if (ctx->wxsh)
        xs_close(ctx->wxsh);
    free(ctx->sysfs_root);
    free(ctx->state_dir);
    free(ctx->run_dir);
    free(ctx);
}

int xlpci_ctx_set_state_dir(xlpci_ctx *ctx, const char *dir)
{
    char *d;

    /* <dir>/.devices.json.<pid> must fit a path buffer: refused, never
     * truncated into another directory */
    if (strlen(dir) > XLPCI_STATE_DIR_MAX) {
        LOG(ctx, ERROR, "the state directory is %zu bytes long; at most %u "
            "are supported", strlen(dir), XLPCI_STATE_DIR_MAX);
        return XLPCI_ERR_INVAL;
    }
    d = strdup(dir);

    if (!d)
        return XLPCI_ERR_NOMEM;
    free(ctx->state_dir);
    ctx->state_dir = d;
    return 0;
}

void xlpci_ctx_set_timeout(xlpci_ctx *ctx, unsigned timeout_ms)
{
    ctx->timeout_ms = timeout_ms < XLPCI_TIMEOUT_MAX_MS
                      ? timeout_ms : XLPCI_TIMEOUT_MAX_MS;
}

long long xlpci_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

xlpci_op_scope xlpci_op_enter(xlpci_ctx *ctx)
{
    xlpci_op_scope s = { ctx };

    if (!ctx->op_depth++) {
        ctx->op_start = xlpci_now_ms();
        ctx->deadline = ctx->op_start + ctx->timeout_ms;
    }
    return s;
}

void xlpci_op_leave(xlpci_op_scope *s)
{
    if (s->ctx && s->ctx->op_depth && !--s->ctx->op_depth)
        s->ctx->dominfo_cached = false;  /* the operation's, not the next's */
}

long long xlpci_step_limit(const xlpci_ctx *ctx)
{
    long long now = xlpci_now_ms();

    if (!ctx->op_depth)                /* outside an operation */
        return now + ctx->timeout_ms;
    return now < ctx->deadline ? ctx->deadline
                               : ctx->deadline + XLPCI_GRACE_MS;
}

int xlpci_ctx_set_sysfs_root(xlpci_ctx *ctx, const char *root)
{
    char *r = strdup(root);

    if (!r)
        return XLPCI_ERR_NOMEM;
    free(ctx->sysfs_root);
    ctx->sysfs_root = r;
    return 0;
}

int xlpci_ctx_set_run_dir(xlpci_ctx *ctx, const char *dir)
{
    char *d;

    /* <dir>/qmp-libxl-<domid> must fit a UNIX socket address */
    if (strlen(dir) > XLPCI_RUN_DIR_MAX) {
        LOG(ctx, ERROR, "the run directory is %zu bytes long; at most %u "
            "are supported (its QMP sockets must fit a UNIX socket "
            "address)", strlen(dir), XLPCI_RUN_DIR_MAX);
        return XLPCI_ERR_INVAL;
    }
    d = strdup(dir);
    if (!d)
        return XLPCI_ERR_NOMEM;
    free(ctx->run_dir);
    ctx->run_dir = d;
    return 0;
}

void xlpci_ctx_set_dry_run(xlpci_ctx *ctx, FILE *out)
{
    ctx->dry_run = out;
}

void xlpci_ctx_set_max_attempts(xlpci_ctx *ctx, unsigned n)
{
    ctx->max_attempts = n;
}

void xlpci_ctx_get_stats(const xlpci_ctx *ctx, xlpci_stats *st)
{
    *st = ctx->stats;
}

#ifdef XLPCI_TESTING
void xlpci_ctx_set_txn_hook(xlpci_ctx *ctx, xlpci_txn_hook *fn, void *arg)
{
    ctx->hook = fn;
    ctx->hook_arg = arg;
}

void xlpci_ctx_set_txn_write_hook(xlpci_ctx *ctx, xlpci_txn_hook *fn,
                                  void *arg)
{
    ctx->write_hook = fn;
    ctx->write_hook_arg = arg;
}
#endif

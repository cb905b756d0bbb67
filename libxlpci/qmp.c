/*
 * The QMP client: the UNIX socket <run dir>/qmp-libxl-<domid> that libxl
 * gives the QEMU of every HVM guest ("-chardev socket,...,server=on,
 * wait=off" + "-mon chardev=libxl-cmd,mode=control"), the messages of
 * qmpmsg.c moved over it.
 *
 *   connect        ENOENT / ECONNREFUSED: no QEMU for the domain;
 *   greeting       QEMU serves ONE monitor client at a time: while another
 *                  client (xl, a management tool, a forgotten socat) is
 *                  connected the kernel completes our connect() into the
 *                  listen backlog but QEMU never accepts it, so the
 *                  greeting does not come.  We wait for it within the
 *                  command's deadline, then say who holds the socket
 *                  (qmpholder.c);
 *   qmp_capabilities, then the commands, each with an "id" its reply
 *                  carries; asynchronous events met on the way are noted
 *                  (DEVICE_DELETED wakes the device_del wait early).
 *
 * Every read and write polls with the time left to the command's one
 * deadline; a late QEMU, a dropped connection or a message that is not
 * QMP is an error naming the socket and the command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>


#include "io.h"

#define QMP_EOF 1                      /* internal: the peer closed */
#define QMP_POLL_MS 100                /* query-pci while waiting for del */

int xlpci_qmp_path(xlpci_ctx *ctx, uint32_t domid, char *buf)
{
    int n = snprintf(buf, XLPCI_PATH_MAX, "%s/qmp-libxl-%u", ctx->run_dir,
                     domid);

    if (n < 0 || n >= XLPCI_PATH_MAX ||
        (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        LOG(ctx, ERROR, "the QMP socket path %s/qmp-libxl-%u is too long "
            "for a UNIX socket", ctx->run_dir, domid);
        return XLPCI_ERR_INVAL;
    }
    return 0;
}

static int time_left(long long deadline)
{
    long long left = deadline - xlpci_now_ms();

    return left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

/* ---- lines ---------------------------------------------------------------- */

/* The next line (without "\r\n") into *line_r, malloc'd.  0,
 * XLPCI_ERR_TIMEDOUT (not logged), QMP_EOF, or an error (logged). */
static int read_line(xlpci_ctx *ctx, xlpci_qmp *q, long long deadline,
                     char **line_r)
{
    struct pollfd pfd;
    char *nl;
    ssize_t r;

    *line_r = NULL;
    for (;;) {
        /* The deadline first, whatever is buffered or ready: a QEMU
         * writing as fast as it can always has a line waiting, and
         * poll(..., 0) reports data however late it is. */
        if (xlpci_now_ms() >= deadline)
            return XLPCI_ERR_TIMEDOUT;
        /* buf[off..len): bytes not yet returned, no '\n' before scan */
        nl = q->len > q->scan ? memchr(q->buf + q->scan, '\n',
                                       q->len - q->scan) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - (q->buf + q->off));

            *line_r = malloc(n + 1);
            if (!*line_r)
                return XLPCI_ERR_NOMEM;
            memcpy(*line_r, q->buf + q->off, n);
            (*line_r)[n] = '\0';
            if (n && (*line_r)[n - 1] == '\r')
                (*line_r)[n - 1] = '\0';
            q->off += n + 1;
            q->scan = q->off;
            if (q->off == q->len)
                q->off = q->len = q->scan = 0;
            return 0;
        }
        q->scan = q->len;
        if (q->len - q->off >= XLPCI_QMP_LINE_MAX) {
            LOG(ctx, ERROR, "the QEMU of domain %u sent a message longer "
                "than %u bytes on %s: refused", q->domid,
                XLPCI_QMP_LINE_MAX, q->path);
            return XLPCI_ERR_FAIL;
        }
        if (q->off) {                  /* once per read, not per line */
            memmove(q->buf, q->buf + q->off, q->len - q->off);
            q->len -= q->off;
            q->scan -= q->off;
            q->off = 0;
        }
        if (q->cap - q->len < 4096) {
            size_t cap = q->cap ? q->cap * 2 : 8192;
            char *b = realloc(q->buf, cap);

            if (!b)
                return XLPCI_ERR_NOMEM;
            q->buf = b;
            q->cap = cap;
        }
        pfd.fd = q->fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        r = poll(&pfd, 1, time_left(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            LOGE(ctx, ERROR, "poll on %s", q->path);
            return XLPCI_ERR_FAIL;
        }
        if (r == 0)
            return XLPCI_ERR_TIMEDOUT;
        r = read(q->fd, q->buf + q->len, q->cap - q->len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0 && errno != ECONNRESET) {
            LOGE(ctx, ERROR, "read from %s", q->path);
            return XLPCI_ERR_FAIL;
        }
        if (r <= 0)
            return QMP_EOF;
        q->len += (size_t)r;
    }
}

/* An event: a DEVICE_DELETED of a device this command waits for
 * (xlpci_qmp_device_del) is noted; every other one is dropped, and only
 * counted, so a QEMU sending events as fast as it can costs no memory. */
static void note_event(xlpci_ctx *ctx, xlpci_qmp *q, const xlpci_qmp_msg *m)
{
    size_t i;

    if (q->ndropped < 8)
        LOG(ctx, DEBUG, "QMP event %s%s%s from the QEMU of domain %u",
            m->event, m->event_device ? " of " : "", m->event_device ?: "",
            q->domid);
    if (!strcmp(m->event, "DEVICE_DELETED") && m->event_device)
        for (i = 0; i < q->nwanted; i++)
            if (!strcmp(q->wanted[i].qid, m->event_device)) {
                q->wanted[i].deleted = true;
                return;
            }
    q->ndropped++;
}

/* The next message (events are noted and returned too).  0, or an error
 * (logged, what names the command waited for). */
static int read_msg(xlpci_ctx *ctx, xlpci_qmp *q, const char *what,
                    long long deadline, unsigned timeout_ms,
                    xlpci_qmp_msg *msg)
{
    char err[160], *line;
    int rc;

    for (;;) {
        rc = read_line(ctx, q, deadline, &line);
        if (rc == XLPCI_ERR_TIMEDOUT) {
            LOG(ctx, ERROR, "the QEMU of domain %u did not answer %s within "
                "%u ms (%s)", q->domid, what, timeout_ms, q->path);
            return rc;
        }
        if (rc == QMP_EOF) {
            LOG(ctx, ERROR, "the QEMU of domain %u closed the QMP connection "
                "%s during %s (did QEMU quit or crash?)", q->domid, q->path,
                what);
            return XLPCI_ERR_FAIL;
        }
        if (rc)
            return rc;
        if (!line[strspn(line, " \t\r")]) {
            free(line);
            continue;
        }
        rc = xlpci_qmp_parse(line, msg, err, sizeof(err));
        if (rc) {
            LOG(ctx, ERROR, "the QEMU of domain %u answered %s with %s, not "
                "QMP, on %s: %.120s", q->domid, what, err, q->path, line);
            free(line);
            return XLPCI_ERR_FAIL;
        }
        free(line);
        if (msg->kind == XLPCI_QMP_EVENT)
            note_event(ctx, q, msg);
        return 0;
    }
}

static int send_all(xlpci_ctx *ctx, xlpci_qmp *q, const char *what,
                    const char *data, size_t len, long long deadline,
                    unsigned timeout_ms)
{
    struct pollfd pfd;
    ssize_t r;

    while (len) {
        r = send(q->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r > 0) {
            data += r;
            len -= (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN) {
            if (errno == EPIPE || errno == ECONNRESET)
                LOG(ctx, ERROR, "the QEMU of domain %u closed the QMP "
                    "connection %s before %s (did QEMU quit or crash?)",
                    q->domid, q->path, what);
            else
                LOGE(ctx, ERROR, "cannot send %s to %s", what, q->path);
            return XLPCI_ERR_FAIL;
        }
        pfd.fd = q->fd;
        pfd.events = POLLOUT;
        pfd.revents = 0;
        r = poll(&pfd, 1, time_left(deadline));
        if (r == 0) {
            LOG(ctx, ERROR, "the QEMU of domain %u did not take %s within %u "
                "ms (%s)", q->domid, what, timeout_ms, q->path);
            return XLPCI_ERR_TIMEDOUT;
        }
    }
    return 0;
}

/* ---- commands --------------------------------------------------------------- */

/* The budget the messages name: the command's timeout, or a rollback's
 * own (xlpci_qmp.budget_ms). */
static unsigned timeout_of(const xlpci_qmp *q)
{
    return q->budget_ms;
}

int xlpci_qmp_exec(xlpci_ctx *ctx, xlpci_qmp *q, const char *what,
                   const char *json, unsigned id, long long deadline,
                   xlpci_qmp_msg *reply)
{
    int rc;

    memset(reply, 0, sizeof(*reply));
    LOG(ctx, DEBUG, "QMP %s: %s", q->path, json);
    xlpci_host_step(ctx);              /* the crash tests stop here too */
    rc = send_all(ctx, q, what, json, strlen(json), deadline,
                  timeout_of(q));
    if (!rc)
        rc = send_all(ctx, q, what, "\r\n", 2, deadline, timeout_of(q));
    while (!rc) {
        rc = read_msg(ctx, q, what, deadline, timeout_of(q), reply);
        if (rc)
            break;
        if ((reply->kind == XLPCI_QMP_RETURN ||
             reply->kind == XLPCI_QMP_ERROR) &&
            (reply->id == (long long)id ||
             /* a reply QEMU could not tie to a command (it did not parse
              * ours) carries no id */
             (!reply->has_id && reply->kind == XLPCI_QMP_ERROR)))
            return 0;
        if (reply->kind == XLPCI_QMP_GREETING) {
            LOG(ctx, ERROR, "the QEMU of domain %u greeted again during %s "
                "(%s)", q->domid, what, q->path);
            rc = XLPCI_ERR_FAIL;
        } else if (reply->kind != XLPCI_QMP_EVENT) {
            q->ndropped++;             /* a reply to someone else's id */
        }
        xlpci_qmp_msg_dispose(reply);
    }
    xlpci_qmp_msg_dispose(reply);
    return rc;
}

static void qmp_init(xlpci_qmp *q, uint32_t domid, unsigned budget_ms)
{
    memset(q, 0, sizeof(*q));
    q->fd = -1;
    q->domid = domid;
    q->next_id = 1;
    q->budget_ms = budget_ms;
}

void xlpci_qmp_close(xlpci_ctx *ctx, xlpci_qmp *q)
{
    if (q->ndropped)
        xlpci_log(ctx, q->ndropped > 1000 ? XTL_WARN : XTL_DETAIL, -1,
            "the QEMU of domain %u sent %lu message(s) xlpci did not wait "
            "for (events, replies to other ids): dropped", q->domid,
            q->ndropped);
    if (q->fd >= 0)
        close(q->fd);
    free(q->buf);
    qmp_init(q, q->domid, q->budget_ms);
}

static int qmp_connect(xlpci_ctx *ctx, xlpci_qmp *q, long long deadline)
{
    struct sockaddr_un sa;
    struct stat st;

    /* the socket libxl made for the domain, never a link to another:
     * connect() would follow it (to another domain's QEMU, say) */
    if (!lstat(q->path, &st) && S_ISLNK(st.st_mode)) {
        char to[XLPCI_PATH_MAX];
        ssize_t n = readlink(q->path, to, sizeof(to) - 1);

        to[n > 0 ? n : 0] = '\0';
        LOG(ctx, ERROR, "%s is a symbolic link (to %s), not the QMP socket "
            "of domain %u's QEMU: refused, nothing was handed to it", q->path,
            n > 0 ? to : "?", q->domid);
        return XLPCI_ERR_FAIL;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, q->path, strlen(q->path));
    q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (q->fd < 0) {
        LOGE(ctx, ERROR, "cannot make a socket for %s", q->path);
        return XLPCI_ERR_FAIL;
    }
    for (;;) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };

        xlpci_host_step(ctx);
        if (!connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
            return 0;
        /* a full backlog: QEMU is busy with clients, wait for a place */
        if ((errno == EAGAIN || errno == EINTR) && time_left(deadline)) {
            nanosleep(&ts, NULL);
            continue;
        }
        break;
    }
    switch (errno) {
    case ENOENT:
        LOG(ctx, ERROR, "domain %u has no QEMU to talk to: %s does not exist "
            "(an HVM guest's device model, qemu-xen, makes it; is it "
            "running?)", q->domid, q->path);
        return XLPCI_ERR_NOTFOUND;
    case ECONNREFUSED:
        LOG(ctx, ERROR, "domain %u has no QEMU to talk to: nobody listens "
            "on %s (its QEMU is gone?)", q->domid, q->path);
        return XLPCI_ERR_NOTFOUND;
    case EAGAIN:
        LOG(ctx, ERROR, "the QEMU of domain %u accepted no connection on %s "
            "within %u ms (its backlog is full)", q->domid, q->path,
            timeout_of(q));
        return XLPCI_ERR_BUSY;
    default:
        LOGE(ctx, ERROR, "cannot connect to the QEMU of domain %u on %s",
             q->domid, q->path);
        return XLPCI_ERR_FAIL;
    }
}

/* Once QEMU greeted us: the process serving the connection must be the
 * QEMU of this domain (its command line's -xen-domid, as libxl starts
 * it): a socket of another domain's QEMU, or of anything else, put at
 * the domain's path must never get its devices. */
static int qmp_verify_server(xlpci_ctx *ctx, xlpci_qmp *q)
{
    char comm[64];
    long other = -1;
    int pid = xlpci_qmp_server(q->fd), has;

    if (!pid) {
        LOG(ctx, ERROR, "cannot tell which process serves %s (sock_diag and "
            "/proc name none): refused, nothing was handed to it", q->path);
        return XLPCI_ERR_FAIL;
    }
    xlpci_proc_comm(pid, comm, sizeof(comm));
    has = xlpci_proc_xen_domid(pid, &other);
    if (has == 1 && other == (long)q->domid) {
        LOG(ctx, DEBUG, "QMP %s: served by pid %d (%s), -xen-domid %ld",
            q->path, pid, comm, other);
        return 0;
    }
    if (has == 1)
        LOG(ctx, ERROR, "%s is served by pid %d (%s), the QEMU of domain "
            "%ld, not of domain %u: refused, nothing was handed to it",
            q->path, pid, comm, other, q->domid);
    else
        LOG(ctx, ERROR, "%s is served by pid %d (%s), whose command line "
            "%s: not the QEMU of domain %u (libxl starts it with -xen-domid "
            "%u); refused, nothing was handed to it", q->path, pid, comm,
            has ? "cannot be read" : "names no -xen-domid", q->domid,
            q->domid);
    return XLPCI_ERR_FAIL;
}

int xlpci_qmp_open(xlpci_ctx *ctx, uint32_t domid, long long deadline,
                   xlpci_qmp *q)
{
    xlpci_qmp_msg msg;
    char who[128], *json = NULL, *line = NULL, err[160];
    unsigned id;
    int rc;

    qmp_init(q, domid, ctx->timeout_ms);
    rc = xlpci_qmp_path(ctx, domid, q->path);
    if (!rc)
        rc = qmp_connect(ctx, q, deadline);
    if (rc)
        goto fail;
    /* the greeting: it does not come while another client holds QEMU's
     * monitor */
    rc = read_line(ctx, q, deadline, &line);
    if (rc == XLPCI_ERR_TIMEDOUT) {
        int qemu;

        if (xlpci_qmp_holder(q->path, q->fd, who, sizeof(who), &qemu)) {
            LOG(ctx, ERROR, "the QEMU of domain %u (pid %d) accepted the "
                "connection on %s but did not greet within %u ms (is it "
                "hung?)", domid, qemu, q->path, timeout_of(q));
            rc = XLPCI_ERR_TIMEDOUT;
        } else {
            LOG(ctx, ERROR, "the QEMU of domain %u did not greet within %u "
                "ms: %s holds %s (QEMU serves one QMP client at a time; "
                "try again when it is done)", domid, timeout_of(q), who,
                q->path);
            rc = XLPCI_ERR_BUSY;
        }
        goto fail;
    }
    if (rc == QMP_EOF) {
        LOG(ctx, ERROR, "the QEMU of domain %u closed the QMP connection %s "
            "before its greeting (did QEMU quit or crash?)", domid, q->path);
        rc = XLPCI_ERR_FAIL;
        goto fail;
    }
    if (rc)
        goto fail;
    rc = xlpci_qmp_parse(line, &msg, err, sizeof(err));
    if (!rc && msg.kind != XLPCI_QMP_GREETING) {
        snprintf(err, sizeof(err), "no greeting");
        xlpci_qmp_msg_dispose(&msg);
        rc = XLPCI_ERR_CORRUPT;
    }
    if (rc) {
        LOG(ctx, ERROR, "%s does not speak QMP (%s): %.120s", q->path, err,
            line);
        rc = XLPCI_ERR_FAIL;
        goto fail;
    }
    LOG(ctx, DEBUG, "QMP %s: QEMU %lld.%lld.%lld", q->path, msg.ver_major,
        msg.ver_minor, msg.ver_micro);
    xlpci_qmp_msg_dispose(&msg);
    rc = qmp_verify_server(ctx, q);
    if (rc)
        goto fail;

    id = q->next_id++;
    rc = xlpci_qmp_build("qmp_capabilities", id, NULL, 0, &json);
    if (!rc)
        rc = xlpci_qmp_exec(ctx, q, "qmp_capabilities", json, id, deadline,
                            &msg);
    if (!rc) {
        if (msg.kind == XLPCI_QMP_ERROR) {
            LOG(ctx, ERROR, "the QEMU of domain %u refused qmp_capabilities "
                "on %s: %s: %s", domid, q->path, msg.err_class,
                msg.err_desc);
            rc = XLPCI_ERR_FAIL;
        }
        xlpci_qmp_msg_dispose(&msg);
    }
fail:
    free(line);
    free(json);
    if (rc)
        xlpci_qmp_close(ctx, q);
    return rc;
}

/* ---- passthrough commands ------------------------------------------------------ */

/* query-pci: its return value in *msg (0; dispose it), or an error (a
 * refusal logged, XLPCI_ERR_FAIL; *msg then holds nothing). */
static int query_pci(xlpci_ctx *ctx, xlpci_qmp *q, long long deadline,
                     xlpci_qmp_msg *msg)
{
    unsigned id = q->next_id++;
    char *json = NULL;
    int rc;

    rc = xlpci_qmp_build("query-pci", id, NULL, 0, &json);
    if (!rc)
        rc = xlpci_qmp_exec(ctx, q, "query-pci", json, id, deadline, msg);
    free(json);
    if (rc)
        return rc;
    if (msg->kind == XLPCI_QMP_ERROR) {
        LOG(ctx, ERROR, "the QEMU of domain %u refused query-pci: %s: %s",
            q->domid, msg->err_class, msg->err_desc);
        xlpci_qmp_msg_dispose(msg);
        return XLPCI_ERR_FAIL;
    }
    return 0;
}

int xlpci_qmp_device_slot(xlpci_ctx *ctx, xlpci_qmp *q, const xlpci_bdf *bdf,
                          long long deadline, unsigned *devfn_r)
{
    char qid[XLPCI_QDEV_ID_LEN], err[160];
    xlpci_qmp_msg msg;
    int rc;

    xlpci_qdev_id(bdf, qid);
    rc = query_pci(ctx, q, deadline, &msg);
    if (rc)
        return rc;
    rc = xlpci_qmp_pci_find(msg.ret, qid, devfn_r, err, sizeof(err));
    if (rc < 0) {
        LOG(ctx, ERROR, "the QEMU of domain %u sent an unexpected reply "
            "(%s)", q->domid, err);
        rc = XLPCI_ERR_FAIL;
    }
    xlpci_qmp_msg_dispose(&msg);
    return rc;
}

int xlpci_qmp_passthrough(xlpci_ctx *ctx, xlpci_qmp *q, long long deadline,
                          xlpci_bdf **bdfs_r, size_t *n_r)
{
    char err[160];
    xlpci_qmp_msg msg;
    int rc;

    *bdfs_r = NULL;
    *n_r = 0;
    rc = query_pci(ctx, q, deadline, &msg);
    if (rc)
        return rc;
    rc = xlpci_qmp_pci_passthrough(msg.ret, bdfs_r, n_r, err, sizeof(err));
    if (rc == XLPCI_ERR_CORRUPT)
        LOG(ctx, ERROR, "the QEMU of domain %u sent an unexpected reply "
            "(%s)", q->domid, err);
    xlpci_qmp_msg_dispose(&msg);
    return rc;
}

int xlpci_qmp_device_add(xlpci_ctx *ctx, xlpci_qmp *q, const xlpci_dev *dev,
                         long long deadline, unsigned *devfn_r,
                         bool *refused_r)
{
    char qid[XLPCI_QDEV_ID_LEN], b[XLPCI_BDF_STRLEN], *json = NULL;
    xlpci_qmp_msg msg;
    unsigned id = q->next_id++;
    int rc;

    *refused_r = false;
    xlpci_qdev_id(&dev->bdf, qid);
    xlpci_bdf_format(&dev->bdf, b);
    rc = xlpci_qmp_build_device_add(dev, id, &json);
    if (!rc)
        rc = xlpci_qmp_exec(ctx, q, "device_add", json, id, deadline, &msg);
    free(json);
    if (rc)
        return rc;
    if (msg.kind == XLPCI_QMP_ERROR) {
        bool dup = strstr(msg.err_desc, "Duplicate") != NULL;

        /* a duplicate id: the caller decides (QEMU may have this very
         * device from an interrupted attach) and says it */
        xlpci_log(ctx, dup ? XTL_DETAIL : XTL_ERROR, -1, "the QEMU of domain "
                  "%u refused PCI device %s (device_add of "
                  "xen-pci-passthrough, id %s): %s: %s", q->domid, b, qid,
                  msg.err_class, msg.err_desc);
        xlpci_qmp_msg_dispose(&msg);
        *refused_r = true;
        return dup ? XLPCI_ERR_EXISTS : XLPCI_ERR_FAIL;
    }
    xlpci_qmp_msg_dispose(&msg);
    rc = xlpci_qmp_device_slot(ctx, q, &dev->bdf, deadline, devfn_r);
    if (rc == 0) {
        LOG(ctx, ERROR, "the QEMU of domain %u accepted PCI device %s but "
            "query-pci does not list %s", q->domid, b, qid);
        return XLPCI_ERR_FAIL;
    }
    if (rc < 0)
        return rc;
    LOG(ctx, DETAIL, "domain %u: QEMU put %s (%s) at slot %02x.%x", q->domid,
        b, qid, *devfn_r >> 3, *devfn_r & 7);
    return 0;
}

static bool deleted_seen(const xlpci_qmp *q, const char *qid)
{
    size_t i;

    for (i = 0; i < q->nwanted; i++)
        if (!strcmp(q->wanted[i].qid, qid))
            return q->wanted[i].deleted;
    return false;
}

/* Wait for DEVICE_DELETED of qid: noted from now on (a bounded list: the
 * oldest wait makes room). */
static void want_deleted(xlpci_qmp *q, const char *qid)
{
    size_t n = sizeof(q->wanted) / sizeof(q->wanted[0]), i;

    for (i = 0; i < q->nwanted; i++)
        if (!strcmp(q->wanted[i].qid, qid))
            return;
    if (q->nwanted == n) {
        memmove(&q->wanted[0], &q->wanted[1], (n - 1) * sizeof(q->wanted[0]));
        q->nwanted--;
    }
    snprintf(q->wanted[q->nwanted].qid, sizeof(q->wanted[0].qid), "%s", qid);
    q->wanted[q->nwanted++].deleted = false;
}

int xlpci_qmp_device_del(xlpci_ctx *ctx, xlpci_qmp *q, const xlpci_bdf *bdf,
                         long long deadline, bool *accepted_r)
{
    char qid[XLPCI_QDEV_ID_LEN], b[XLPCI_BDF_STRLEN], *json = NULL;
    xlpci_qmp_msg msg;
    unsigned id = q->next_id++;
    int rc;

    if (accepted_r)
        *accepted_r = false;
    xlpci_qdev_id(bdf, qid);
    xlpci_bdf_format(bdf, b);
    want_deleted(q, qid);
    rc = xlpci_qmp_build_device_del(bdf, id, &json);
    if (!rc)
        rc = xlpci_qmp_exec(ctx, q, "device_del", json, id, deadline, &msg);
    free(json);
    if (rc)
        return rc;
    if (msg.kind == XLPCI_QMP_ERROR) {
        if (!strcmp(msg.err_class, "DeviceNotFound")) {
            LOG(ctx, DETAIL, "domain %u: QEMU has no device %s (%s) any more",
                q->domid, qid, b);
            xlpci_qmp_msg_dispose(&msg);
            return 0;
        }
        LOG(ctx, ERROR, "the QEMU of domain %u refused to remove PCI device "
            "%s (device_del of %s): %s: %s", q->domid, b, qid,
            msg.err_class, msg.err_desc);
        xlpci_qmp_msg_dispose(&msg);
        return XLPCI_ERR_FAIL;
    }
    xlpci_qmp_msg_dispose(&msg);
    if (accepted_r)
        *accepted_r = true;
    return xlpci_qmp_device_gone(ctx, q, bdf, deadline);
}

int xlpci_qmp_device_gone(xlpci_ctx *ctx, xlpci_qmp *q, const xlpci_bdf *bdf,
                          long long deadline)
{
    char qid[XLPCI_QDEV_ID_LEN], b[XLPCI_BDF_STRLEN], err[160];
    xlpci_qmp_msg msg;
    unsigned devfn;
    bool query = true;
    int rc;

    xlpci_qdev_id(bdf, qid);
    xlpci_bdf_format(bdf, b);
    want_deleted(q, qid);
    /* The guest acknowledges the hot-unplug (ACPI) before QEMU removes the
     * device: query-pci until it is gone, woken early by DEVICE_DELETED
     * (which alone tells once QEMU refuses query-pci).  The last answer
     * that still listed it stands at the deadline. */
    for (;;) {
        long long until;

        if (deleted_seen(q, qid))
            return 0;
        if (query) {
            rc = xlpci_qmp_device_slot(ctx, q, bdf, deadline, &devfn);
            if (rc == XLPCI_ERR_FAIL && q->fd >= 0)
                query = false;         /* refused or not understood */
            else if (rc <= 0)
                return rc;
        }
        until = xlpci_now_ms() + QMP_POLL_MS;
        if (until > deadline)
            until = deadline;
        while (!deleted_seen(q, qid) && xlpci_now_ms() < until) {
            char *line;

            rc = read_line(ctx, q, until, &line);
            if (rc == XLPCI_ERR_TIMEDOUT)
                break;
            if (rc == QMP_EOF) {
                LOG(ctx, ERROR, "the QEMU of domain %u closed the QMP "
                    "connection %s while removing %s (did QEMU quit or "
                    "crash?)", q->domid, q->path, qid);
                return XLPCI_ERR_FAIL;
            }
            if (rc)
                return rc;
            if (!xlpci_qmp_parse(line, &msg, err, sizeof(err)) &&
                msg.kind == XLPCI_QMP_EVENT)
                note_event(ctx, q, &msg);
            xlpci_qmp_msg_dispose(&msg);
            free(line);
        }
        if (!deleted_seen(q, qid) && xlpci_now_ms() >= deadline) {
            LOG(ctx, ERROR, "the QEMU of domain %u still has PCI device %s "
                "(%s) after %u ms: the guest did not release it (QEMU "
                "removes a device once the guest acknowledges the "
                "hot-unplug)", q->domid, b, qid, timeout_of(q));
            return XLPCI_ERR_TIMEDOUT;
        }
    }
}

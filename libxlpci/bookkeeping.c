/*
 * Host bookkeeping, in libvirt's sense: which devices this toolstack made
 * assignable (and which driver they came from), which are assigned to a
 * domain.  A device is assignable or assigned to exactly one domain, never
 * both.  Persisted as JSON (yajl) in <state dir>/devices.json, replaced
 * atomically (temp file, fsync, rename, fsync of the directory) under an
 * exclusive flock on <state dir>/lock held across read-modify-write (host
 * steps only, never a guest wait; taken with a timeout).  <state dir>/ops:
 * shared by create/attach from intent to finish, exclusive for check.
 *
 * The JSON codec is pure (xlpci_bk_to_json / xlpci_bk_from_json).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <linux/fs.h>                  /* FS_IOC_GETFLAGS */
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "io.h"

#define BK_VERSION 1
#define BK_MAX_SIZE (4u << 20)

void xlpci_bk_dev_dispose(xlpci_bk_dev *d)
{
    free(d->name);
    free(d->driver_path);
    memset(d, 0, sizeof(*d));
    d->domid = -1;
}

static void devs_free(xlpci_bk_dev *v, size_t n)
{
    size_t i;

    for (i = 0; v && i < n; i++)
        xlpci_bk_dev_dispose(&v[i]);
    free(v);
}

/* ---- JSON (pure) --------------------------------------------------------- */

int xlpci_bk_to_json(const xlpci_bk_dev *v, size_t n, char **json_r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    char bdf[XLPCI_BDF_STRLEN];
    size_t len, i;
    int r;

    *json_r = NULL;
    if (!g)
        return XLPCI_ERR_NOMEM;
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    r = yajl_gen_map_open(g);
    if (!r) r = xlpci_json_str(g, "version");
    if (!r) r = yajl_gen_integer(g, BK_VERSION);
    if (!r) r = xlpci_json_str(g, "devices");
    if (!r) r = yajl_gen_array_open(g);
    for (i = 0; !r && i < n; i++) {
        r = yajl_gen_map_open(g);
        if (!r) r = xlpci_json_str(g, "bdf");
        if (!r) r = xlpci_json_str(g, xlpci_bdf_format(&v[i].bdf, bdf));
        if (!r) r = xlpci_json_str(g, "name");
        if (!r) r = xlpci_json_str(g, v[i].name);
        if (!r) r = xlpci_json_str(g, "driver_path");
        if (!r) r = xlpci_json_str(g, v[i].driver_path);
        if (!r) r = xlpci_json_str(g, "managed");
        if (!r) r = yajl_gen_bool(g, v[i].managed);
        if (!r) r = xlpci_json_str(g, "domid");
        if (!r) r = v[i].domid < 0 ? (int)yajl_gen_null(g)
                                   : (int)yajl_gen_integer(g, v[i].domid);
        if (!r && v[i].quarantining) {
            r = xlpci_json_str(g, "quarantining");
            if (!r) r = yajl_gen_bool(g, 1);
        }
        if (!r && v[i].pending) {
            r = xlpci_json_str(g, "pending");
            if (!r) r = xlpci_json_str(g, v[i].pending == XLPCI_PENDING_ADD
                                          ? "device_add" : "device_del");
        }
        if (!r) r = yajl_gen_map_close(g);
    }
    if (!r) r = yajl_gen_array_close(g);
    if (!r) r = yajl_gen_map_close(g);
    if (!r) r = yajl_gen_get_buf(g, &buf, &len);
    if (!r) {
        *json_r = strndup((const char *)buf, len);
        r = *json_r ? 0 : -1;
    }
    yajl_gen_free(g);
    return r ? XLPCI_ERR_FAIL : 0;
}

static const char *opt_string(yajl_val obj, const char *key, bool *bad)
{
    const char *path[] = { key, NULL };
    yajl_val v = yajl_tree_get(obj, path, yajl_t_any);

    if (!v || YAJL_IS_NULL(v))
        return NULL;
    if (!YAJL_IS_STRING(v)) {
        *bad = true;
        return NULL;
    }
    return YAJL_GET_STRING(v);
}

int xlpci_bk_from_json(const char *text, xlpci_bk_dev **v_r, size_t *n_r,
                       char *err, size_t errlen)
{
    const char *p_ver[] = { "version", NULL };
    const char *p_devs[] = { "devices", NULL };
    const char *p_managed[] = { "managed", NULL };
    const char *p_domid[] = { "domid", NULL };
    const char *p_quar[] = { "quarantining", NULL };
    char yerr[256];
    yajl_val root, ver, devs;
    xlpci_bk_dev *v = NULL;
    size_t i, n = 0;
    int rc = XLPCI_ERR_CORRUPT;

    *v_r = NULL;
    *n_r = 0;
    if (xlpci_json_depth(text, strlen(text), XLPCI_JSON_DEPTH_MAX) >
        XLPCI_JSON_DEPTH_MAX) {
        snprintf(err, errlen, "JSON nested deeper than %u levels: not "
                 "parsed (a bookkeeping file nests 3)",
                 XLPCI_JSON_DEPTH_MAX);
        return XLPCI_ERR_CORRUPT;
    }
    root = yajl_tree_parse(text, yerr, sizeof(yerr));
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", yerr);
        return XLPCI_ERR_CORRUPT;
    }
    ver = yajl_tree_get(root, p_ver, yajl_t_number);
    devs = yajl_tree_get(root, p_devs, yajl_t_array);
    if (!ver || !YAJL_IS_INTEGER(ver) || YAJL_GET_INTEGER(ver) != BK_VERSION
        || !devs) {
        snprintf(err, errlen, "expected {\"version\": %d, \"devices\": [...]}",
                 BK_VERSION);
        goto out;
    }
    v = calloc(devs->u.array.len + 1, sizeof(*v));
    if (!v) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < devs->u.array.len; i++, n++) {
        yajl_val d = devs->u.array.values[i], m, id, q;
        const char *bdf, *name, *drv, *pend;
        bool bad = false;
        char sub[128];

        xlpci_bk_dev_dispose(&v[i]);
        bdf = opt_string(d, "bdf", &bad);
        name = opt_string(d, "name", &bad);
        drv = opt_string(d, "driver_path", &bad);
        pend = opt_string(d, "pending", &bad);
        if (pend && !strcmp(pend, "device_add"))
            v[i].pending = XLPCI_PENDING_ADD;
        else if (pend && !strcmp(pend, "device_del"))
            v[i].pending = XLPCI_PENDING_DEL;
        else if (pend)
            bad = true;
        m = yajl_tree_get(d, p_managed, yajl_t_any);
        id = yajl_tree_get(d, p_domid, yajl_t_any);
        q = yajl_tree_get(d, p_quar, yajl_t_any);
        if (bad || (q && !YAJL_IS_TRUE(q) && !YAJL_IS_FALSE(q)) || !bdf || xlpci_bdf_parse(bdf, &v[i].bdf, sub, sizeof(sub))
            || (m && !YAJL_IS_TRUE(m) && !YAJL_IS_FALSE(m)) ||
            (id && !YAJL_IS_NULL(id) &&
             (!YAJL_IS_INTEGER(id) || YAJL_GET_INTEGER(id) < 0 ||
              YAJL_GET_INTEGER(id) >= DOMID_FIRST_RESERVED))) {
            snprintf(err, errlen, "device %zu is malformed", i);
            goto out;
        }
        v[i].managed = m && YAJL_IS_TRUE(m);
        v[i].quarantining = q && YAJL_IS_TRUE(q);
        v[i].domid = id && YAJL_IS_INTEGER(id) ? (int)YAJL_GET_INTEGER(id)
                                               : -1;
        if ((name && !(v[i].name = strdup(name))) ||
            (drv && !(v[i].driver_path = strdup(drv)))) {
            rc = XLPCI_ERR_NOMEM;
            n++;
            goto out;
        }
    }
    /* one record per device: two would say two things of it */
    for (i = 0; i < n; i++) {
        size_t j;

        for (j = 0; j < i; j++)
            if (!xlpci_bdf_cmp(&v[i].bdf, &v[j].bdf)) {
                char b[XLPCI_BDF_STRLEN];

                snprintf(err, errlen, "devices %zu and %zu are both %s "
                         "(one record per device; correct the file by "
                         "hand)", j, i, xlpci_bdf_format(&v[i].bdf, b));
                rc = XLPCI_ERR_CORRUPT;
                goto out;
            }
    }
    rc = 0;
out:
    yajl_tree_free(root);
    if (rc) {
        devs_free(v, n);
        return rc;
    }
    *v_r = v;
    *n_r = n;
    return 0;
}

/* ---- the file ------------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
    char buf[XLPCI_PATH_MAX];
    char *p;

    snprintf(buf, sizeof(buf), "%s", dir);
    for (p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/* Under the lock nobody is writing: a temp file is what a crash between
 * its write and the rename left behind. */
static void remove_stale_temps(xlpci_ctx *ctx)
{
    char path[XLPCI_PATH_MAX + 300];
    struct dirent *de;
    DIR *dir = opendir(ctx->state_dir);

    while (dir && (de = readdir(dir))) {
        if (strncmp(de->d_name, ".devices.json.", 14) &&
            strncmp(de->d_name, ".probe.", 7))
            continue;
        snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, de->d_name);
        if (!unlink(path))
            LOG(ctx, DEBUG, "removed %s, left by an interrupted write", path);
    }
    if (dir)
        closedir(dir);
}

/* flock with a limit: the holder may be another command, which holds
 * the bookkeeping lock only for host steps, never across a guest wait;
 * still, a wedged one must not hang every command.  0 or -1 (errno
 * EWOULDBLOCK once the limit has passed). */
static int flock_timed(int fd, int how, long long limit)
{
    struct timespec ts = { 0, 10 * 1000000L };

    for (;;) {
        if (!flock(fd, how | LOCK_NB))
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (xlpci_now_ms() >= limit) {
            errno = EWOULDBLOCK;
            return -1;
        }
        nanosleep(&ts, NULL);
    }
}

static int lock_file(xlpci_ctx *ctx, const char *leaf, int how, int *fd_r)
{
    char path[XLPCI_PATH_MAX + 32];
    long long start = xlpci_now_ms(), limit = xlpci_step_limit(ctx);
    int fd;

    *fd_r = -1;
    if (mkdir_p(ctx->state_dir)) {
        LOGE(ctx, ERROR, "cannot create the state directory %s",
             ctx->state_dir);
        return XLPCI_ERR_FAIL;
    }
    snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, leaf);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    /* a lock is taken as well through a descriptor open for reading: a
     * read-only state directory still lets the bookkeeping be read, and
     * a command that would write it says why it cannot (xlpci_bk_probe) */
    if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM))
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        LOGE(ctx, ERROR, "cannot open %s", path);
        return XLPCI_ERR_FAIL;
    }
    if (flock_timed(fd, how, limit)) {
        if (errno == EWOULDBLOCK)
            LOG(ctx, ERROR, "%s is held by another xlpci command (waited "
                "%lld ms, to the command's deadline); try again when it is "
                "done", path, xlpci_now_ms() - start);
        else
            LOGE(ctx, ERROR, "cannot lock %s", path);
        close(fd);
        return errno == EWOULDBLOCK ? XLPCI_ERR_BUSY : XLPCI_ERR_FAIL;
    }
    *fd_r = fd;
    return 0;
}

/* Why a state directory cannot be written, for the message. */
static const char *unwritable_why(int err)
{
    switch (err) {
    case EROFS:
        return "it is on a read-only file system";
    case EPERM:
    case EACCES:
        return "is it or devices.json immutable (lsattr), or not writable?";
    case ENOSPC:
    case EDQUOT:
        return "its file system is full";
    default:
        return "see the error";
    }
}

int xlpci_bk_probe(xlpci_ctx *ctx)
{
    char path[XLPCI_PATH_MAX + 32], tmp[XLPCI_PATH_MAX + 48];
    const char *what = NULL;
    struct stat st;
    off_t need = 4096;
    int fd, err = 0, flags = 0;

    if (mkdir_p(ctx->state_dir)) {
        err = errno;
        what = "cannot create it";
        goto bad;
    }
    snprintf(path, sizeof(path), "%s/devices.json", ctx->state_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd >= 0) {
        /* the commit renames a new file over it: refused if it is
         * immutable or append-only */
        if (!fstat(fd, &st))
            need += st.st_size;
        if (!ioctl(fd, FS_IOC_GETFLAGS, &flags) &&
            (flags & (FS_IMMUTABLE_FL | FS_APPEND_FL))) {
            err = EPERM;
            what = "devices.json is immutable or append-only";
        }
        close(fd);
        if (err)
            goto bad;
    }
    /* a new file as large as the next devices.json, its blocks allocated
     * (a full file system says so now, not at the commit), then gone */
    snprintf(tmp, sizeof(tmp), "%s/.probe.%ld", ctx->state_dir,
             (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
              0644);
    if (fd < 0 && errno == EEXIST) {   /* left by a crash of this pid */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  0644);
    }
    if (fd < 0) {
        err = errno;
        what = "cannot create a file in it";
        goto bad;
    }
    err = posix_fallocate(fd, 0, need);
    close(fd);
    if (unlink(tmp) && !err)
        err = errno;
    if (!err)
        return 0;
    what = "cannot write a file in it";
bad:
    LOG(ctx, ERROR, "the state directory %s cannot be written: %s (%s; %s); "
        "nothing was changed", ctx->state_dir, what, strerror(err),
        unwritable_why(err));
    return XLPCI_ERR_FAIL;
}

int xlpci_bk_op_begin(xlpci_ctx *ctx, int *fd_r)
{
    return lock_file(ctx, "ops", LOCK_SH, fd_r);
}

int xlpci_bk_quiesce(xlpci_ctx *ctx, int *fd_r)
{
    return lock_file(ctx, "ops", LOCK_EX, fd_r);
}

void xlpci_bk_op_end(int *fd)
{
    if (*fd >= 0)
        close(*fd);                    /* releases the flock */
    *fd = -1;
}

int xlpci_bk_open(xlpci_ctx *ctx, xlpci_bk *bk)
{
    char path[XLPCI_PATH_MAX + 32], err[256];
    char *text = NULL;
    struct stat st;
    ssize_t got;
    int fd = -1, rc;

    memset(bk, 0, sizeof(*bk));
    bk->lockfd = -1;
    rc = lock_file(ctx, "lock", LOCK_EX, &bk->lockfd);
    if (rc)
        return rc;
    remove_stale_temps(ctx);
    snprintf(path, sizeof(path), "%s/devices.json", ctx->state_dir);
    /* O_NONBLOCK: a FIFO put there must not hang the command */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return 0;                      /* nothing recorded yet */
    if (fd < 0 && errno == ELOOP) {
        LOG(ctx, ERROR, "%s is a symbolic link: xlpci does not follow one "
            "(whoever can write the link could point it anywhere); move it "
            "away and put the file itself there (nothing was changed)",
            path);
        rc = XLPCI_ERR_CORRUPT;
        goto fail;
    }
    if (fd < 0 || fstat(fd, &st)) {
        LOGE(ctx, ERROR, "cannot read %s", path);
        rc = XLPCI_ERR_FAIL;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        LOG(ctx, ERROR, "%s is not a regular file; move it away (nothing "
            "was changed)", path);
        rc = XLPCI_ERR_CORRUPT;
        goto fail;
    }
    if (st.st_size > BK_MAX_SIZE) {
        LOG(ctx, ERROR, "%s is %lld bytes, more than a bookkeeping file "
            "may hold (%u MiB): not read; move it away (nothing was "
            "changed)", path, (long long)st.st_size, BK_MAX_SIZE >> 20);
        rc = XLPCI_ERR_CORRUPT;
        goto fail;
    }
    text = calloc(1, (size_t)st.st_size + 1);
    if (!text) {
        rc = XLPCI_ERR_NOMEM;
        goto fail;
    }
    got = read(fd, text, (size_t)st.st_size);
    if (got != st.st_size) {
        LOGE(ctx, ERROR, "cannot read %s", path);
        rc = XLPCI_ERR_FAIL;
        goto fail;
    }
    rc = xlpci_bk_from_json(text, &bk->v, &bk->n, err, sizeof(err));
    if (rc) {
        LOG(ctx, ERROR, "%s: %s; correct it or move it away (nothing was "
            "changed)", path, err);
        goto fail;
    }
    close(fd);
    free(text);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(text);
    xlpci_bk_close(bk);
    return rc;
}

int xlpci_bk_commit(xlpci_ctx *ctx, xlpci_bk *bk)
{
    char path[XLPCI_PATH_MAX + 32], tmp[XLPCI_PATH_MAX + 48];
    char *json = NULL;
    size_t len, off = 0;
    int fd = -1, dfd, rc;

    rc = xlpci_bk_to_json(bk->v, bk->n, &json);
    if (rc)
        return rc;
    xlpci_host_step(ctx);
    snprintf(path, sizeof(path), "%s/devices.json", ctx->state_dir);
    snprintf(tmp, sizeof(tmp), "%s/.devices.json.%ld", ctx->state_dir,
             (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              0644);
    if (fd < 0)
        goto io_error;
    len = strlen(json);
    while (off < len) {
        ssize_t w = write(fd, json + off, len - off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto io_error;
        }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd))
        goto io_error;
    fd = -1;
    xlpci_host_step(ctx);              /* a crash here: the old file stays */
    if (rename(tmp, path))
        goto io_error;
    dfd = open(ctx->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(json);
    return 0;
io_error:
    LOGE(ctx, ERROR, "cannot write %s", path);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(json);
    return XLPCI_ERR_FAIL;
}

void xlpci_bk_close(xlpci_bk *bk)
{
    devs_free(bk->v, bk->n);
    bk->v = NULL;
    bk->n = 0;
    if (bk->lockfd >= 0)
        close(bk->lockfd);             /* releases the flock */
    bk->lockfd = -1;
}

xlpci_bk_dev *xlpci_bk_find(xlpci_bk *bk, const xlpci_bdf *bdf)
{
    size_t i;

    for (i = 0; i < bk->n; i++)
        if (!xlpci_bdf_cmp(&bk->v[i].bdf, bdf))
            return &bk->v[i];
    return NULL;
}

xlpci_bk_dev *xlpci_bk_find_name(xlpci_bk *bk, const char *name)
{
    size_t i;

    for (i = 0; i < bk->n; i++)
        if (bk->v[i].name && !strcmp(bk->v[i].name, name))
            return &bk->v[i];
    return NULL;
}

xlpci_bk_dev *xlpci_bk_add(xlpci_bk *bk, const xlpci_bdf *bdf)
{
    xlpci_bk_dev *v = realloc(bk->v, (bk->n + 1) * sizeof(*v));

    if (!v)
        return NULL;
    bk->v = v;
    memset(&v[bk->n], 0, sizeof(*v));
    v[bk->n].bdf = *bdf;
    v[bk->n].domid = -1;
    return &v[bk->n++];
}

void xlpci_bk_del(xlpci_bk *bk, xlpci_bk_dev *d)
{
    size_t i = (size_t)(d - bk->v);

    xlpci_bk_dev_dispose(d);
    memmove(&bk->v[i], &bk->v[i + 1], (bk->n - i - 1) * sizeof(*bk->v));
    bk->n--;
}

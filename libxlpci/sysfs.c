/*
 * sysfs: which functions of a physical slot exist, whether xen-pciback is
 * loaded (the host side active), and what SR-IOV makes of a device: a
 * physical function's numbers (sriov_*), a virtual function's PF
 * (physfn), the PF a BDF that does not exist would be a VF of.  The root
 * is configurable (xlpci_ctx_set_sysfs_root) so tests use a fake tree.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

bool xlpci_host_active(xlpci_ctx *ctx)
{
    char path[XLPCI_PATH_MAX + 64];
    struct stat st;

    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback");
    return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int xlpci_sysfs_functions(xlpci_ctx *ctx, const xlpci_bdf *slot,
                          unsigned *mask_r)
{
    char path[XLPCI_PATH_MAX + 64];
    struct stat st;
    unsigned f;

    *mask_r = 0;
    for (f = 0; f <= XLPCI_MAX_FUNC; f++) {
        snprintf(path, sizeof(path), "%s/bus/pci/devices/%04x:%02x:%02x.%x",
                 ctx->sysfs_root, slot->seg, slot->bus, slot->dev, f);
        if (!stat(path, &st)) {
            *mask_r |= 1u << f;
        } else if (errno != ENOENT) {
            LOGE(ctx, ERROR, "cannot stat %s", path);
            return XLPCI_ERR_FAIL;
        }
    }
    return 0;
}

void xlpci_sysfs_path(xlpci_ctx *ctx, char *buf, size_t len,
                      const char *fmt, ...)
{
    char tail[XLPCI_PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    if ((size_t)snprintf(buf, len, "%s/bus/pci/%s", ctx->sysfs_root, tail)
        >= len)
        buf[0] = '\0';
}

int xlpci_sysfs_write_bdf(xlpci_ctx *ctx, const char *path,
                          const xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN];
    size_t len;
    int fd;

    xlpci_bdf_format(bdf, b);
    len = strlen(b);
    xlpci_host_step(ctx);
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0 || write(fd, b, len) != (ssize_t)len) {
        LOGE(ctx, ERROR, "cannot write %s to %s", b, path);
        if (fd >= 0)
            close(fd);
        return XLPCI_ERR_FAIL;
    }
    if (close(fd)) {
        LOGE(ctx, ERROR, "writing %s to %s failed", b, path);
        return XLPCI_ERR_FAIL;
    }
    LOG(ctx, DEBUG, "sysfs: %s > %s", b, path);
    return 0;
}

bool xlpci_sysfs_on_pciback(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX + 64], b[XLPCI_BDF_STRLEN];
    struct stat st;

    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/%s",
                     xlpci_bdf_format(bdf, b));
    return !lstat(path, &st);
}

char *xlpci_sysfs_driver(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX + 64], b[XLPCI_BDF_STRLEN];

    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/driver",
                     xlpci_bdf_format(bdf, b));
    return realpath(path, NULL);
}

bool xlpci_sysfs_in_slots(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX + 64], line[128];
    xlpci_bdf s;
    bool found = false;
    FILE *f;

    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/slots");
    f = fopen(path, "r");
    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f))
        found = sscanf(line, "%x:%x:%x.%d", &s.seg, &s.bus, &s.dev,
                       (int *)&s.func) == 4 && !xlpci_bdf_cmp(&s, bdf);
    fclose(f);
    return found;
}

bool xlpci_sysfs_wait(const char *path, bool exists)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    struct stat st;
    int i;

    for (i = 0; i < 200; i++) {
        if (!lstat(path, &st) == exists)
            return true;
        nanosleep(&ts, NULL);
    }
    return false;
}

/* ---- SR-IOV -------------------------------------------------------------- */

bool xlpci_sysfs_exists(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX + 64], b[XLPCI_BDF_STRLEN];
    struct stat st;

    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s",
                     xlpci_bdf_format(bdf, b));
    return !stat(path, &st);
}

/* devices/<BDF>/<leaf>, a decimal number: 1, 0 if absent, -1 if it does
 * not parse (a warning) */
static int read_count(xlpci_ctx *ctx, const char *b, const char *leaf,
                      unsigned *v)
{
    char path[XLPCI_PATH_MAX + 64], buf[32];
    ssize_t n;
    int fd;

    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/%s", b, leaf);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0) {
        buf[n] = '\0';
        if (!xlpci_parse_uint(buf, 0xffff, v))
            return 1;
    }
    LOG(ctx, WARN, "%s: not a count; %s is taken for no SR-IOV device",
        path, b);
    return -1;
}

int xlpci_sysfs_sriov(xlpci_ctx *ctx, const xlpci_bdf *bdf, xlpci_sriov *s)
{
    char b[XLPCI_BDF_STRLEN];
    int r;

    memset(s, 0, sizeof(*s));
    s->pf = *bdf;
    xlpci_bdf_format(bdf, b);
    r = read_count(ctx, b, "sriov_totalvfs", &s->total);
    if (r <= 0 || !s->total)
        return 0;
    if (read_count(ctx, b, "sriov_numvfs", &s->num) < 0 ||
        read_count(ctx, b, "sriov_offset", &s->offset) < 0 ||
        read_count(ctx, b, "sriov_stride", &s->stride) < 0)
        return 0;
    return 1;
}

int xlpci_sysfs_physfn(xlpci_ctx *ctx, const xlpci_bdf *bdf, xlpci_bdf *pf)
{
    char path[XLPCI_PATH_MAX + 64], b[XLPCI_BDF_STRLEN], err[64];
    char *real, *base;
    int r;

    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/physfn",
                     xlpci_bdf_format(bdf, b));
    real = realpath(path, NULL);
    if (!real)
        return 0;
    base = strrchr(real, '/');
    r = base && !xlpci_bdf_parse(base + 1, pf, err, sizeof(err));
    free(real);
    return r;
}

int xlpci_sysfs_vf_slot(xlpci_ctx *ctx, const xlpci_bdf *bdf, xlpci_sriov *s,
                        unsigned *k_r)
{
    char path[XLPCI_PATH_MAX + 64], err[64];
    struct dirent *de;
    int found = 0, k;
    DIR *dir;

    xlpci_sysfs_path(ctx, path, sizeof(path), "devices");
    dir = opendir(path);
    if (!dir)
        return 0;
    while (!found && (de = readdir(dir))) {
        xlpci_bdf pf;

        if (xlpci_bdf_parse(de->d_name, &pf, err, sizeof(err)) ||
            pf.seg != bdf->seg || !xlpci_sysfs_sriov(ctx, &pf, s))
            continue;
        k = xlpci_sriov_vf_index(s, bdf);
        if (k >= 0) {
            *k_r = (unsigned)k;
            found = 1;
        }
    }
    closedir(dir);
    return found;
}

bool xlpci_sysfs_vf_gone(xlpci_ctx *ctx, const xlpci_bdf *bdf, char *buf,
                         size_t len)
{
    char p[XLPCI_BDF_STRLEN], path[XLPCI_PATH_MAX + 64];
    xlpci_sriov s;
    unsigned k;

    buf[0] = '\0';
    if (!xlpci_sysfs_vf_slot(ctx, bdf, &s, &k))
        return false;
    xlpci_bdf_format(&s.pf, p);
    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/sriov_numvfs", p);
    snprintf(buf, len, "virtual function %u of %s, which has %u of its %u "
             "VFs enabled (%s)", k, p, s.num, s.total, path);
    return true;
}

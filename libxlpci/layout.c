/*
 * Backend layout: from a view of the backend (view.c, read in one
 * transaction) and the devices, compute the xenstore operations of each
 * step (create, append, detach begin, remove, orphans).  Pure: no I/O, so
 * every rule here is unit-tested without a xenstore.  Formats: view.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pure.h"

static int key_path(char *buf, uint32_t domid, enum xlpci_key k, unsigned i)
{
    return xlpci_be_key(buf, domid, "%s-%u", xlpci_key_names[k], i);
}

static int sub_path(char *buf, const char *dir, const char *leaf)
{
    int r = snprintf(buf, XLPCI_PATH_MAX, "%s/%s", dir, leaf);

    return r < 0 || r >= XLPCI_PATH_MAX ? XLPCI_ERR_INVAL : 0;
}

/* libxl_create_pci_backend_device(): the keys of one index. */
static int device_ops(xlpci_ops *ops, uint32_t domid, unsigned i,
                      const xlpci_dev *dev)
{
    char path[XLPCI_PATH_MAX], bdf[XLPCI_BDF_STRLEN], opts[128];
    int rc;

    xlpci_bdf_format(&dev->bdf, bdf);
    rc = key_path(path, domid, XLPCI_KEY_KEY, i);
    if (!rc) rc = xlpci_ops_write(ops, path, bdf);
    if (!rc) rc = key_path(path, domid, XLPCI_KEY_DEV, i);
    if (!rc) rc = xlpci_ops_write(ops, path, bdf);
    if (!rc && dev->vdevfn) {
        rc = key_path(path, domid, XLPCI_KEY_VDEVFN, i);
        if (!rc) rc = xlpci_ops_writef(ops, path, "%x", dev->vdevfn);
    }
    if (!rc && dev->name) {
        rc = key_path(path, domid, XLPCI_KEY_NAME, i);
        if (!rc) rc = xlpci_ops_write(ops, path, dev->name);
    }
    if (!rc) rc = xlpci_opts_format(dev, opts, sizeof(opts));
    if (!rc) rc = key_path(path, domid, XLPCI_KEY_OPTS, i);
    if (!rc) rc = xlpci_ops_write(ops, path, opts);
    if (!rc) rc = key_path(path, domid, XLPCI_KEY_STATE, i);
    if (!rc) rc = xlpci_ops_writef(ops, path, "%d", XenbusStateInitialising);
    return rc;
}

static int write_num_devs(xlpci_ops *ops, uint32_t domid, unsigned n)
{
    char path[XLPCI_PATH_MAX];
    int rc = xlpci_be_key(path, domid, "num_devs");

    return rc ? rc : xlpci_ops_writef(ops, path, "%u", n);
}

static int write_be_state(xlpci_ops *ops, uint32_t domid, int state)
{
    char path[XLPCI_PATH_MAX];
    int rc = xlpci_be_key(path, domid, "state");

    return rc ? rc : xlpci_ops_writef(ops, path, "%d", state);
}

int xlpci_layout_create(xlpci_ops *ops, uint32_t domid, const char *name,
                        const xlpci_dev *devs, size_t n)
{
    char be[XLPCI_PATH_MAX], fe[XLPCI_PATH_MAX], path[XLPCI_PATH_MAX];
    size_t i;
    int rc;

    if (n > XLPCI_MAX_DEVS)
        return XLPCI_ERR_INVAL;
    xlpci_be_path(be, domid);
    xlpci_fe_path(fe, domid);

    /* libxl__create_pci_backend(): wipe what an earlier domain with the
     * same domid may have left, then both directories with their
     * permissions; children inherit them. */
    rc = xlpci_ops_rm(ops, be);
    if (!rc) rc = xlpci_ops_mkdir(ops, be);
    if (!rc) rc = xlpci_ops_perms(ops, be, 0, domid);
    if (!rc) rc = xlpci_ops_rm(ops, fe);
    if (!rc) rc = xlpci_ops_mkdir(ops, fe);
    if (!rc) rc = xlpci_ops_perms(ops, fe, domid, 0);

    if (!rc) rc = sub_path(path, be, "frontend");
    if (!rc) rc = xlpci_ops_write(ops, path, fe);
    if (!rc) rc = sub_path(path, be, "frontend-id");
    if (!rc) rc = xlpci_ops_writef(ops, path, "%u", domid);
    if (!rc) rc = sub_path(path, be, "online");
    if (!rc) rc = xlpci_ops_write(ops, path, "1");
    if (!rc) rc = write_be_state(ops, domid, XenbusStateInitialising);
    if (!rc && name) {
        rc = sub_path(path, be, "domain");
        if (!rc) rc = xlpci_ops_write(ops, path, name);
    }
    for (i = 0; !rc && i < n; i++)
        rc = device_ops(ops, domid, (unsigned)i, &devs[i]);
    if (!rc) rc = write_num_devs(ops, domid, (unsigned)n);

    if (!rc) rc = sub_path(path, fe, "backend");
    if (!rc) rc = xlpci_ops_write(ops, path, be);
    if (!rc) rc = sub_path(path, fe, "backend-id");
    if (!rc) rc = xlpci_ops_write(ops, path, "0");
    if (!rc) rc = sub_path(path, fe, "state");
    if (!rc) rc = xlpci_ops_writef(ops, path, "%d", XenbusStateInitialising);
    return rc;
}

int xlpci_layout_append(xlpci_ops *ops, uint32_t domid,
                        const xlpci_view *view, const xlpci_dev *devs,
                        size_t n, bool reconfigure)
{
    char path[XLPCI_PATH_MAX];
    enum xlpci_key k;
    unsigned i, idx;
    int rc = 0;

    if (n > XLPCI_MAX_DEVS - view->num_devs)
        return XLPCI_ERR_INVAL;
    /* Keys at the new indices that an earlier, interrupted removal left
     * behind (vdev-N, vdevfn-N, name-N) must not stick to the new device. */
    for (i = 0; !rc && i < view->nnames; i++)
        if (xlpci_split_key(view->names[i], &k, &idx) &&
            idx >= view->num_devs && idx < view->num_devs + n) {
            rc = xlpci_be_key(path, domid, "%s", view->names[i]);
            if (!rc) rc = xlpci_ops_rm(ops, path);
        }
    for (i = 0; !rc && i < n; i++)
        rc = device_ops(ops, domid, view->num_devs + i, &devs[i]);
    if (!rc) rc = write_num_devs(ops, domid, view->num_devs + (unsigned)n);
    if (!rc && reconfigure)
        rc = write_be_state(ops, domid, XenbusStateReconfiguring);
    return rc;
}

int xlpci_layout_detach_begin(xlpci_ops *ops, uint32_t domid,
                              const unsigned *idx, size_t n)
{
    char path[XLPCI_PATH_MAX];
    size_t i;
    int rc = 0;

    for (i = 0; !rc && i < n; i++) {
        rc = key_path(path, domid, XLPCI_KEY_STATE, idx[i]);
        if (!rc) rc = xlpci_ops_writef(ops, path, "%d", XenbusStateClosing);
    }
    if (!rc)
        rc = write_be_state(ops, domid, XenbusStateReconfiguring);
    return rc;
}

bool xlpci_idx_in(const unsigned *idx, size_t n, unsigned i)
{
    size_t j;

    for (j = 0; j < n; j++)
        if (idx[j] == i)
            return true;
    return false;
}

int xlpci_layout_remove(xlpci_ops *ops, uint32_t domid,
                        const xlpci_view *view, const unsigned *idx, size_t n)
{
    char path[XLPCI_PATH_MAX], be[XLPCI_PATH_MAX], fe[XLPCI_PATH_MAX];
    unsigned *kept = NULL, nkept = 0, i, p;
    int rc = 0;

    for (i = 0; i < n; i++)
        if (idx[i] >= view->num_devs)
            return XLPCI_ERR_INVAL;

    if (view->num_devs <= n) {
        /* The last device: libxl__device_destroy() removes both dirs. */
        xlpci_be_path(be, domid);
        xlpci_fe_path(fe, domid);
        rc = xlpci_ops_rm(ops, be);
        if (!rc) rc = xlpci_ops_rm(ops, fe);
        return rc;
    }

    kept = calloc(view->num_devs, sizeof(*kept));
    if (!kept)
        return XLPCI_ERR_NOMEM;
    for (i = 0; i < view->num_devs; i++)
        if (!xlpci_idx_in(idx, n, i))
            kept[nkept++] = i;

    /* Row p takes the keys of row kept[p]; a key the source lacks is
     * removed from p.  Rows past the new end lose every key.  A key is
     * there if the view read it or its listing shows it (a hot path reads
     * the values of the rows that move only); a source listed but not
     * read cannot be moved. */
    for (p = 0; !rc && p < view->num_devs; p++) {
        unsigned k;

        if (p < nkept && kept[p] == p)
            continue;
        for (k = 0; !rc && k < XLPCI_NKEYS; k++) {
            const char *src = p < nkept ? view->keys[kept[p]][k] : NULL;

            if (!src && p < nkept &&
                xlpci_view_listed(view, (enum xlpci_key)k, kept[p])) {
                rc = XLPCI_ERR_INVAL;
                break;
            }
            rc = key_path(path, domid, (enum xlpci_key)k, p);
            if (rc)
                break;
            if (src)
                rc = xlpci_ops_write(ops, path, src);
            else if (view->keys[p][k] ||
                     xlpci_view_listed(view, (enum xlpci_key)k, p))
                rc = xlpci_ops_rm(ops, path);
        }
    }
    if (!rc)
        rc = write_num_devs(ops, domid, nkept);
    free(kept);
    return rc;
}

int xlpci_layout_rm_orphans(xlpci_ops *ops, uint32_t domid,
                            const xlpci_view *view)
{
    char be[XLPCI_PATH_MAX], *path;
    unsigned i;
    int rc = 0;

    xlpci_be_path(be, domid);
    for (i = 0; !rc && i < view->norphans; i++) {
        /* a name of any length: the guest-free backend still holds what
         * a broken tool wrote */
        path = malloc(strlen(be) + strlen(view->orphans[i]) + 2);
        if (!path)
            return XLPCI_ERR_NOMEM;
        sprintf(path, "%s/%s", be, view->orphans[i]);
        rc = xlpci_ops_rm(ops, path);
        free(path);
    }
    return rc;
}

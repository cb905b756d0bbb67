/*
 * Device names shared with xl: /libxl/pci/<dddd-bb-dd-f>/name
 * (xlpci_libxl_path, libxlnode.c), written by `xl pci-assignable-add -n`
 * and by ours, read by both.  Only the name leaf is ours to remove: the
 * <bdf> directory and its other nodes (domid, driver_path) stay, as
 * libxl's pci_info_xs_remove leaves them.
 *
 * Finding a name lists /libxl/pci (as libxl does) and reads each name:
 * the listing goes over a connection of its own
 * (xlpci_xs_directory_alone), as it may be larger than one xenstore
 * reply.  Where the daemon cannot send it (oxenstored, past about 315
 * records) the lookup fails naming the limit, never "no such name".
 */
#include <stdlib.h>
#include <string.h>

#include "io.h"

typedef struct {
    xlpci_bdf bdf;
    const char *name;                  /* NULL: remove */
} name_arg;

static int name_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                     void *varg)
{
    name_arg *a = varg;
    char path[XLPCI_PATH_MAX];
    bool exists;
    int rc;

    xlpci_libxl_path(path, &a->bdf, "name");
    if (a->name)
        return xlpci_ops_write(ops, path, a->name);
    rc = xlpci_xs_exists(ctx, t, path, &exists);
    if (rc || !exists)
        return rc ? rc : XLPCI_TXN_NOTHING;
    return xlpci_ops_rm(ops, path);
}

int xlpci_libxl_name_write(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                           const char *name)
{
    name_arg a = { *bdf, name };
    int rc = xlpci_txn_run(ctx, name ? "name" : "name removal", name_body,
                           &a);

    return rc == XLPCI_TXN_NOTHING ? 0 : rc;
}

int xlpci_libxl_name_find(xlpci_ctx *ctx, const char *name, xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX];
    char **list = NULL;
    unsigned n, i;
    int rc, found = 0;

    rc = xlpci_xs_directory_alone(ctx, "/libxl/pci", &list, &n);
    if (rc) {
        LOG(ctx, ERROR, "could not look up the name \"%s\" among xl's "
            "device names (/libxl/pci, see above)", name);
        return rc;
    }
    for (i = 0; i < n && !found; i++) {
        unsigned seg, bus, dev, func;
        char *v, end;

        if (sscanf(list[i], "%4x-%2x-%2x-%1x%c", &seg, &bus, &dev, &func,
                   &end) != 4)
            continue;
        snprintf(path, sizeof(path), "/libxl/pci/%s/name", list[i]);
        rc = xlpci_xs_read(ctx, XBT_NULL, path, &v);
        if (rc)
            goto out;
        if (v && !strcmp(v, name)) {
            bdf->seg = seg; bdf->bus = bus; bdf->dev = dev; bdf->func = func;
            found = 1;
        }
        free(v);
    }
    rc = found ? 0 : XLPCI_ERR_NOTFOUND;
out:
    free(list);
    return rc;
}

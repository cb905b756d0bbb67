/*
 * libxl's host-wide PCI nodes, /libxl/pci/<dddd-bb-dd-f>/<leaf>
 * (libxl-pci-lifecycle.md section 4: PCI_INFO_PATH and the format of
 * LP:389-400), which xl and other toolstacks on the same host read:
 *   name   the name given by pci-assignable-add -n (xl's and ours);
 *   domid  the domain a device is assigned to (written by the assigning
 *          transaction, see pci.c).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void xlpci_libxl_path(char *buf, const xlpci_bdf *bdf, const char *leaf)
{
    snprintf(buf, XLPCI_PATH_MAX, "/libxl/pci/%04x-%02x-%02x-%01x%s%s",
             bdf->seg, bdf->bus, bdf->dev, bdf->func, leaf ? "/" : "",
             leaf ? leaf : "");
}

/* ---- name ------------------------------------------------------------------ */

typedef struct {
    xlpci_bdf bdf;
    const char *name;                  /* NULL: remove */
} name_arg;

static int name_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                     void *varg)
{
    name_arg *a = varg;
    char path[XLPCI_PATH_MAX];
    char **list = NULL;
    bool has_name;
    unsigned n, i;
    int rc;

    if (a->name) {
        xlpci_libxl_path(path, &a->bdf, "name");
        return xlpci_ops_write(ops, path, a->name);
    }
    xlpci_libxl_path(path, &a->bdf, NULL);
    rc = xlpci_xs_directory(ctx, t, path, &list, &n);
    if (rc)
        return rc;
    for (i = 0; i < n && strcmp(list[i], "name"); i++)
        ;
    has_name = i < n;
    free(list);
    if (!has_name)
        return XLPCI_TXN_NOTHING;
    /* the device's directory goes with its last node */
    if (n > 1)
        xlpci_libxl_path(path, &a->bdf, "name");
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

    rc = xlpci_xs_directory(ctx, XBT_NULL, "/libxl/pci", &list, &n);
    if (rc)
        return rc;
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

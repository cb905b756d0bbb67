/*
 * sysfs: which functions of a physical slot exist.  The root is
 * configurable (xlpci_ctx_set_sysfs_root) so tests use a fake tree.
 */
#include <errno.h>
#include <sys/stat.h>

#include "internal.h"

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

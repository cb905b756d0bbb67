/*
 * Device reset and pciback's permissive mode, through sysfs, as libxl 4.17
 * (docs/protocol.md section 3.1 step 2, section 3.3 step 4).
 *
 * Reset (libxl__device_pci_reset): the BDF to pciback/do_flr; if the
 * kernel has no such file (mainline xen-pciback has none), "1" to
 * devices/<BDF>/reset; with neither, a warning that the kernel supports
 * no reset from sysfs.  Never a failure (libxl logs and goes on too): a
 * device the kernel cannot reset is still passed through, with a
 * warning.
 * When (create.c, attach.c, detach.c through hypervisor.c):
 *   - create / pci-attach: every device, after it was found assignable
 *     (xc_test_assign_device) and before it is assigned to the guest;
 *   - after the guest released a device (pci-detach, and whatever releases
 *     a domain's devices through xlpci_hv_revoke): function 0 of the slot
 *     only.  libxl does the same ("don't do multiple resets while some
 *     functions are still passed through", LP:2250): a reset of function
 *     0 may reset the whole multi-function device, and the other functions
 *     are reset anyway at their next create/attach.
 *   Not on the rollback of a failed create/attach: the guest never saw the
 *   device.
 *
 * Permissive (LP:1510): for permissive=1, the BDF to pciback/permissive at
 * create/attach, besides opts-N (which xen-pciback never reads).  Not
 * undone: xen-pciback drops the flag when the device leaves it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

/* One write to a control file; false (with a warning) if it failed. */
static bool write_ctl(xlpci_ctx *ctx, const char *path, const char *text,
                      const char *b)
{
    size_t len = strlen(text);
    int fd;

    xlpci_host_step(ctx);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        LOGE(ctx, WARN, "%s was not reset: writing %s to %s failed", b,
             text, path);
        if (fd >= 0)
            close(fd);
        return false;
    }
    if (close(fd)) {
        LOGE(ctx, WARN, "%s was not reset: writing %s to %s failed", b,
             text, path);
        return false;
    }
    LOG(ctx, DEBUG, "sysfs: %s > %s", text, path);
    return true;
}

void xlpci_reset(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX + 64], b[XLPCI_BDF_STRLEN];
    struct stat st;

    xlpci_bdf_format(bdf, b);
    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/do_flr");
    if (!stat(path, &st)) {
        write_ctl(ctx, path, b, b);
        return;
    }
    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/reset", b);
    if (stat(path, &st)) {
        LOG(ctx, WARN, "%s was not reset: the kernel supports no reset from "
            "sysfs (neither pciback/do_flr nor devices/%s/reset)", b, b);
        return;
    }
    write_ctl(ctx, path, "1", b);
}

int xlpci_permissive(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX + 64];

    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/permissive");
    return xlpci_sysfs_write_bdf(ctx, path, bdf);
}

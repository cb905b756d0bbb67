/*
 * libxl's host-wide PCI nodes, /libxl/pci/<dddd-bb-dd-f>/<leaf>
 * (libxl-pci-lifecycle.md section 4: PCI_INFO_PATH and the format of
 * LP:389-400), which xl and other toolstacks on the same host read:
 *   name   the name given by pci-assignable-add -n (xl's and ours,
 *          names.c);
 *   domid  the domain a device is assigned to.
 */

#include "internal.h"

void xlpci_libxl_path(char *buf, const xlpci_bdf *bdf, const char *leaf)
{
    snprintf(buf, XLPCI_PATH_MAX, "/libxl/pci/%04x-%02x-%02x-%01x%s%s",
             bdf->seg, bdf->bus, bdf->dev, bdf->func, leaf ? "/" : "",
             leaf ? leaf : "");
}

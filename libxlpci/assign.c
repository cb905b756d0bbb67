/*
 * Host side: making devices assignable (bound to xen-pciback) and giving
 * them back, as libxl's pci-assignable-add/-remove/-list do (the host
 * side of docs/protocol.md section 3.1 step 2), with the bookkeeping of
 * bookkeeping.c instead of /libxl/pci.
 *
 * Steps are numbered; a failure undoes the earlier ones in reverse.  The
 * last step of an add is the quarantine (iommu.c: the device's DMA
 * context becomes dom_io), the first of a remove the way back (dom0).
 *
 * SR-IOV (docs/sriov.md): a virtual function is made assignable like any
 * device, once its PF has it enabled (sriov_numvfs; VFs appear after
 * xen-pciback has loaded, so they cannot be hidden at load time).  A PF
 * with VFs enabled is refused (xlpci_pf_in_use).  A VF that no longer
 * exists is named as the VF of its PF; its record is dropped at
 * pci-assignable-remove, as nothing of it is left to give back.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"

static int check_name(xlpci_ctx *ctx, const char *name)
{
    char err[128];
    xlpci_bdf bdf;
    const char *p;

    if (!name)
        return 0;
    if (!*name || strlen(name) > 64) {
        LOG(ctx, ERROR, "a device name must have 1 to 64 characters");
        return XLPCI_ERR_INVAL;
    }
    for (p = name; *p; p++)
        if (!isgraph((unsigned char)*p)) {
            LOG(ctx, ERROR, "device name \"%s\" has a character that is not "
                "printable", name);
            return XLPCI_ERR_INVAL;
        }
    /* The name must be usable where names are taken: name=NAME in a
     * PCI_SPEC_STRING (fields split at ',') and pci-assignable-remove
     * (a BDF if it parses as one). */
    if (strchr(name, ',')) {
        LOG(ctx, ERROR, "device name \"%s\" has a ',', which separates the "
            "fields of a PCI_SPEC_STRING: name=%s could not select it",
            name, name);
        return XLPCI_ERR_INVAL;
    }
    if (!xlpci_bdf_parse(name, &bdf, err, sizeof(err))) {
        LOG(ctx, ERROR, "device name \"%s\" is a PCI address; "
            "pci-assignable-remove would take it for one", name);
        return XLPCI_ERR_INVAL;
    }
    return 0;
}

/* Who has a virtual function, for xlpci_pf_in_use's message. */
static const char *vf_state(xlpci_ctx *ctx, const xlpci_bdf *vf, char *buf,
                            size_t len)
{
    int domid = xlpci_device_domain(ctx, vf);
    char *driver;

    if (domid >= 0) {
        snprintf(buf, len, "assigned to domain %d", domid);
    } else if (xlpci_sysfs_on_pciback(ctx, vf)) {
        snprintf(buf, len, "assignable");
    } else if ((driver = xlpci_sysfs_driver(ctx, vf))) {
        snprintf(buf, len, "on %s", strrchr(driver, '/') + 1);
        free(driver);
    } else {
        snprintf(buf, len, "on no driver");
    }
    return buf;
}

#define VFS_NAMED 4

/* Why not: binding the PF to xen-pciback unbinds its driver (pci-pf-stub,
 * or the NIC's own), and xen-pciback then lets go of the VFs it holds for
 * no guest (its bus notifier); the NIC's driver may disable SR-IOV on its
 * way out; and xen-pciback resets a device it takes (FLR), which clears
 * the PF's VF Enable and so takes the VFs from under the guests that have
 * them.  A guest given the PF could do the same. */
int xlpci_pf_in_use(xlpci_ctx *ctx, const xlpci_bdf *bdf, const char *what)
{
    char b[XLPCI_BDF_STRLEN], v[XLPCI_BDF_STRLEN], st[64];
    char list[VFS_NAMED * 48 + 32] = "";
    xlpci_sriov sr;
    xlpci_bdf vf;
    unsigned k;
    size_t len;

    if (!xlpci_sysfs_sriov(ctx, bdf, &sr) || !sr.num)
        return 0;
    for (k = 0; k < sr.num && k < VFS_NAMED; k++) {
        len = strlen(list);
        if (!xlpci_sriov_vf_bdf(&sr, k, &vf))
            break;
        snprintf(list + len, sizeof(list) - len, "%s%s %s", k ? ", " : "",
                 xlpci_bdf_format(&vf, v), vf_state(ctx, &vf, st,
                                                     sizeof(st)));
    }
    if (sr.num > k) {
        len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%u more", k ? ", " : "",
                 sr.num - k);
    }
    xlpci_bdf_format(bdf, b);
    LOG(ctx, ERROR, "PCI device %s is an SR-IOV physical function with %u "
        "virtual function(s) enabled (%s): it is not %s while they exist, "
        "since unbinding its driver takes its VFs from xen-pciback and its "
        "reset disables them; pass the VFs through instead, or disable "
        "SR-IOV first (echo 0 > %s/bus/pci/devices/%s/sriov_numvfs)", b,
        sr.num, list, what, ctx->sysfs_root, b);
    return XLPCI_ERR_BUSY;
}

/* A new record for the device (NULL: out of memory). */
static xlpci_bk_dev *record_new(xlpci_bk *bk, const xlpci_bdf *bdf,
                                bool managed)
{
    xlpci_bk_dev *d = xlpci_bk_add(bk, bdf);

    if (d)
        d->managed = managed;
    return d;
}

/* Bind a device to pciback; bk is locked by the caller, who commits. */
int xlpci_assignable_add_locked(xlpci_ctx *ctx, xlpci_bk *bk,
                                const xlpci_bdf *bdf, const char *name,
                                bool managed)
{
    char path[XLPCI_PATH_MAX + 64], ctl[XLPCI_PATH_MAX + 64];
    char b[XLPCI_BDF_STRLEN];
    char *driver = NULL;
    bool added_slot = false;
    xlpci_bk_dev *d, *other;
    bool created = false;
    struct stat st;
    int rc;

    xlpci_bdf_format(bdf, b);
    rc = check_name(ctx, name);
    if (rc)
        return rc;
    /* 1. the device exists, and is not a PF with VFs enabled */
    xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s", b);
    if (lstat(path, &st)) {
        char why[XLPCI_PATH_MAX + 200];

        if (xlpci_sysfs_vf_gone(ctx, bdf, why, sizeof(why)))
            LOG(ctx, ERROR, "no PCI device %s: it would be %s; enable the "
                "VFs first", b, why);
        else
            LOG(ctx, ERROR, "no PCI device %s (%s does not exist)", b, path);
        return XLPCI_ERR_NOTFOUND;
    }
    rc = xlpci_pf_in_use(ctx, bdf, "made assignable");
    if (rc)
        return rc;
    d = xlpci_bk_find(bk, bdf);
    if (d && d->domid >= 0) {
        LOG(ctx, ERROR, "PCI device %s is assigned to domain %d", b,
            d->domid);
        return XLPCI_ERR_EXISTS;
    }
    other = name ? xlpci_bk_find_name(bk, name) : NULL;
    if (other && other != d) {
        LOG(ctx, ERROR, "the name \"%s\" is already used by %s", name,
            xlpci_bdf_format(&other->bdf, b));
        return XLPCI_ERR_EXISTS;
    }

    if (xlpci_sysfs_on_pciback(ctx, bdf)) {
        /* 2a. already there: the name and the quarantine (libxl warns the
         * same way) */
        if (!d || !managed)
            LOG(ctx, WARN, "PCI device %s is already assignable", b);
        rc = xlpci_hv_quarantine(ctx, true, bdf, true);
        if (rc)
            goto out;
    } else {
        /* 2. away from the host driver, remembered: the record first,
         * committed, so a crash in the middle leaves the driver to give
         * the device back to (check --repair) */
        driver = xlpci_sysfs_driver(ctx, bdf);
        if (!d) {
            d = record_new(bk, bdf, managed);
            if (!d) {
                rc = XLPCI_ERR_NOMEM;
                goto out;
            }
            created = true;
        }
        if (driver && !d->driver_path && !(d->driver_path = strdup(driver))) {
            rc = XLPCI_ERR_NOMEM;
            goto undo_record;
        }
        d->quarantining = true;        /* step 5 to come */
        rc = xlpci_bk_commit(ctx, bk);
        if (rc) goto undo_record;
        if (driver) {
            snprintf(ctl, sizeof(ctl), "%s/unbind", driver);
            xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/driver", b);
            rc = xlpci_sysfs_write_bdf(ctx, ctl, bdf);
            if (!rc && !xlpci_sysfs_wait(path, false)) {
                LOG(ctx, ERROR, "%s is still bound to %s after unbind", b,
                    driver);
                rc = XLPCI_ERR_FAIL;
            }
            if (rc) goto undo_record;
        }
        /* 3. a pciback slot */
        if (!xlpci_sysfs_in_slots(ctx, bdf)) {
            xlpci_sysfs_path(ctx, ctl, sizeof(ctl), "drivers/pciback/new_slot");
            rc = xlpci_sysfs_write_bdf(ctx, ctl, bdf);
            if (rc) goto undo_unbind;
            added_slot = true;
        }
        /* 4. bind to pciback */
        xlpci_sysfs_path(ctx, ctl, sizeof(ctl), "drivers/pciback/bind");
        xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/%s", b);
        rc = xlpci_sysfs_write_bdf(ctx, ctl, bdf);
        if (!rc && !xlpci_sysfs_wait(path, true)) {
            LOG(ctx, ERROR, "xen-pciback did not take %s (is the module "
                "loaded?)", b);
            rc = XLPCI_ERR_FAIL;
        }
        if (rc) goto undo_slot;
        /* 5. quarantine (the caller's commit says it is done) */
        rc = xlpci_hv_quarantine(ctx, true, bdf, true);
        if (rc) goto undo_bind;
        d->quarantining = false;
    }
    /* 6. the record */
    if (!d) {
        d = record_new(bk, bdf, managed);
        if (!d) {
            rc = XLPCI_ERR_NOMEM;
            goto out;
        }
        d->driver_path = driver;
        driver = NULL;
    }
    if (name) {
        free(d->name);
        d->name = strdup(name);
        if (!d->name) {
            rc = XLPCI_ERR_NOMEM;
            goto out;
        }
    }
    rc = 0;
    goto out;

undo_bind:
    xlpci_sysfs_path(ctx, ctl, sizeof(ctl), "drivers/pciback/unbind");
    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/%s", b);
    if (xlpci_sysfs_write_bdf(ctx, ctl, bdf) || !xlpci_sysfs_wait(path, false))
        LOG(ctx, ERROR, "%s could not be taken from xen-pciback", b);
undo_slot:
    if (added_slot) {
        xlpci_sysfs_path(ctx, ctl, sizeof(ctl), "drivers/pciback/remove_slot");
        xlpci_sysfs_write_bdf(ctx, ctl, bdf);
    }
undo_unbind:
    if (driver) {
        snprintf(ctl, sizeof(ctl), "%s/bind", driver);
        xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/driver", b);
        if (xlpci_sysfs_write_bdf(ctx, ctl, bdf) ||
            !xlpci_sysfs_wait(path, true))
            LOG(ctx, ERROR, "%s could not be given back to %s", b, driver);
    }
undo_record:
    if (created) {
        xlpci_bk_del(bk, d);
        xlpci_bk_commit(ctx, bk);
    } else if (d && d->quarantining) {
        d->quarantining = false;
        xlpci_bk_commit(ctx, bk);
    }
out:
    free(driver);
    return rc;
}

/* Give a device back; bk is locked by the caller, who commits. */
int xlpci_assignable_remove_locked(xlpci_ctx *ctx, bool host, xlpci_bk *bk,
                                   const xlpci_bdf *bdf, bool rebind)
{
    char path[XLPCI_PATH_MAX + 64], ctl[XLPCI_PATH_MAX + 64];
    char b[XLPCI_BDF_STRLEN];
    xlpci_bk_dev *d = xlpci_bk_find(bk, bdf);
    char *cur;
    int rc;

    xlpci_bdf_format(bdf, b);
    if (d && d->domid >= 0) {
        LOG(ctx, ERROR, "PCI device %s is assigned to domain %d; detach it "
            "first", b, d->domid);
        return XLPCI_ERR_EXISTS;
    }
    if (!xlpci_sysfs_on_pciback(ctx, bdf) && !d) {
        LOG(ctx, WARN, "PCI device %s is not assignable", b);
        return 0;
    }
    if (d && !xlpci_sysfs_exists(ctx, bdf)) {
        /* gone from the host (a VF whose PF's SR-IOV was disabled, a
         * hot-unplug): no binding or IOMMU context is left to give back
         * (the kernel removed it from Xen too) */
        char why[XLPCI_PATH_MAX + 200];

        if (xlpci_sysfs_vf_gone(ctx, bdf, why, sizeof(why)))
            LOG(ctx, NOTICE, "PCI device %s no longer exists (it was %s): "
                "its record is dropped", b, why);
        else
            LOG(ctx, NOTICE, "PCI device %s no longer exists: its record is "
                "dropped", b);
        xlpci_bk_del(bk, d);
        return 0;
    }
    /* 0. out of the quarantine, back into dom0's DMA context (not an
     * error if it was not quarantined); the intent first, so that
     * check --repair quarantines it again if the remove stops with the
     * device still on xen-pciback */
    if (d && xlpci_sysfs_on_pciback(ctx, bdf)) {
        d->quarantining = true;
        rc = xlpci_bk_commit(ctx, bk);
        if (rc)
            return rc;
    }
    rc = xlpci_hv_quarantine(ctx, host, bdf, false);
    if (rc) {
        if (d && d->quarantining) {
            d->quarantining = false;
            xlpci_bk_commit(ctx, bk);
        }
        return rc;
    }
    /* 1. off pciback */
    if (xlpci_sysfs_on_pciback(ctx, bdf)) {
        xlpci_sysfs_path(ctx, ctl, sizeof(ctl), "drivers/pciback/unbind");
        xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback/%s", b);
        rc = xlpci_sysfs_write_bdf(ctx, ctl, bdf);
        if (!rc && !xlpci_sysfs_wait(path, false)) {
            LOG(ctx, ERROR, "%s is still bound to xen-pciback", b);
            rc = XLPCI_ERR_FAIL;
        }
        if (rc)
            return rc;
    }
    /* 2. its slot */
    if (xlpci_sysfs_in_slots(ctx, bdf)) {
        xlpci_sysfs_path(ctx, ctl, sizeof(ctl), "drivers/pciback/remove_slot");
        rc = xlpci_sysfs_write_bdf(ctx, ctl, bdf);
        if (rc)
            return rc;
    }
    /* 3. back to its driver (unless it is there already: an earlier,
     * interrupted give-back; the kernel refuses a second bind) */
    cur = xlpci_sysfs_driver(ctx, bdf);
    if (cur && d && d->driver_path && !strcmp(cur, d->driver_path)) {
        LOG(ctx, DEBUG, "%s is already bound to %s", b, cur);
    } else if (rebind && d && d->driver_path) {
        snprintf(ctl, sizeof(ctl), "%s/bind", d->driver_path);
        xlpci_sysfs_path(ctx, path, sizeof(path), "devices/%s/driver", b);
        rc = xlpci_sysfs_write_bdf(ctx, ctl, bdf);
        if (!rc && !xlpci_sysfs_wait(path, true))
            LOG(ctx, WARN, "%s did not come back to %s", b, d->driver_path);
        if (rc) {
            free(cur);
            return rc;
        }
    } else if (rebind) {
        LOG(ctx, WARN, "no driver recorded for %s: left unbound", b);
    }
    free(cur);
    if (d)
        xlpci_bk_del(bk, d);
    return 0;
}

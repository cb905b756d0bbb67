/*
 * The pci-assignable-add/-remove/-list commands (xl's, the host side of
 * docs/protocol.md section 3.1 step 2): who holds the device first (the
 * ownership decision, ownership.c: a device a live domain holds by
 * record, backend or Xen is neither made assignable again, nor taken off
 * xen-pciback, nor listed as assignable; one only a gone domain still
 * names is free, its bookkeeping corrected), then assign.c's steps.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

/* Who holds bdf (ownership.c, owner.c), for the commands of this file:
 * 0 and the bookkeeping corrected when no live domain does (a record of
 * a domain that is gone); XLPCI_ERR_EXISTS, logged with the holder and
 * the way out, when one does. */
static int nobody_holds(xlpci_ctx *ctx, xlpci_bk *bk, const xlpci_bdf *bdf,
                        const char *what)
{
    xlpci_bk_dev *d = xlpci_bk_find(bk, bdf);
    char b[XLPCI_BDF_STRLEN], why[300], out[200];
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    xlpci_truth tr;
    int rc, bkd = d ? d->domid : -1;

    xlpci_truth_init(ctx, &tr, true);
    /* the record and the backends: Xen's own word comes with the step
     * that needs it (the quarantine refuses a device a guest has, the way
     * out of it is confirmed: iommu.c) */
    rc = xlpci_owners_read(ctx, &tr, -1, -1, bdf, &bkd, 1, 0, &f, &v);
    xlpci_truth_close(ctx, &tr);
    if (rc)
        return rc;
    xlpci_bdf_format(bdf, b);
    if (v.held != XLPCI_HELD_NONE) {
        xlpci_owner_text(bdf, &f, &v, why, sizeof(why));
        xlpci_owner_way_out(bdf, &f, &v, out, sizeof(out));
        if (v.holder >= 0)
            LOG(ctx, ERROR, "PCI device %s is assigned to domain %d (%s); "
                "%s: detach it first (%s)", b, v.holder, why, what, out);
        else
            LOG(ctx, ERROR, "PCI device %s is assigned to another guest "
                "(%s); %s: detach it first (%s)", b, why, what, out);
        return XLPCI_ERR_EXISTS;
    }
    if (d && d->domid >= 0) {
        LOG(ctx, DETAIL, "correction: devices.json said %s was domain %d's; "
            "no live domain holds it (no record or live backend names it)",
            b, d->domid);
        d->domid = -1;
    }
    return 0;
}

int xlpci_assignable_add(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                         const char *name)
{
    XLPCI_OP(ctx);
    char b[XLPCI_BDF_STRLEN], b2[XLPCI_BDF_STRLEN];
    xlpci_bdf other;
    xlpci_bk bk;
    int rc;

    /* a name xl gave another device is taken too (a lookup that could
     * not be made refuses: the name might be taken) */
    rc = name ? xlpci_libxl_name_find(ctx, name, &other) : XLPCI_ERR_NOTFOUND;
    if (rc != XLPCI_ERR_NOTFOUND && rc)
        return rc;
    if (!rc && xlpci_bdf_cmp(&other, bdf)) {
        LOG(ctx, ERROR, "the name \"%s\" is already used by %s (/libxl/pci)",
            name, xlpci_bdf_format(&other, b2));
        return XLPCI_ERR_EXISTS;
    }
    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    rc = xlpci_bk_probe(ctx);
    if (!rc)
        rc = nobody_holds(ctx, &bk, bdf, "it cannot be made assignable");
    if (!rc)
        rc = xlpci_assignable_add_locked(ctx, &bk, bdf, name, false);
    if (!rc)
        rc = xlpci_bk_commit(ctx, &bk);
    xlpci_bk_close(&bk);
    /* so that xl sees the name too (xl pci-assignable-list -n, name=) */
    if (!rc && name && xlpci_libxl_name_write(ctx, bdf, name))
        LOG(ctx, WARN, "%s is assignable as \"%s\", but xl does not see "
            "the name", xlpci_bdf_format(bdf, b), name);
    return rc;
}

int xlpci_assignable_remove(xlpci_ctx *ctx, const xlpci_bdf *bdf,
                            const char *name, bool rebind)
{
    XLPCI_OP(ctx);
    xlpci_bdf byname;
    xlpci_bk_dev *d;
    xlpci_bk bk;
    bool host;
    int rc;

    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    rc = xlpci_bk_probe(ctx);
    if (rc) {
        xlpci_bk_close(&bk);
        return rc;
    }
    if (name) {
        /* our names first, then those xl gave (/libxl/pci/<bdf>/name) */
        d = xlpci_bk_find_name(&bk, name);
        if (d) {
            byname = d->bdf;
        } else {
            rc = xlpci_libxl_name_find(ctx, name, &byname);
            if (rc == XLPCI_ERR_NOTFOUND)
                LOG(ctx, ERROR, "no assignable PCI device is named \"%s\"",
                    name);
            if (rc)
                goto out;
        }
        bdf = &byname;
    }
    host = xlpci_host_active(ctx);
    rc = host ? nobody_holds(ctx, &bk, bdf, "it stays assignable") : 0;
    if (!rc)
        rc = xlpci_assignable_remove_locked(ctx, host, &bk, bdf, rebind);
    if (!rc)
        rc = xlpci_bk_commit(ctx, &bk);
    /* the name goes with the device, as libxl's */
    if (!rc)
        rc = xlpci_libxl_name_write(ctx, bdf, NULL);
out:
    xlpci_bk_close(&bk);
    return rc;
}

void xlpci_host_dev_list_free(xlpci_host_dev *list, size_t n)
{
    size_t i;

    for (i = 0; list && i < n; i++)
        free(list[i].name);
    free(list);
}

static int cmp_host_dev(const void *a, const void *b)
{
    return xlpci_bdf_cmp(&((const xlpci_host_dev *)a)->bdf,
                         &((const xlpci_host_dev *)b)->bdf);
}

int xlpci_assignable_list(xlpci_ctx *ctx, xlpci_host_dev **list_r,
                          size_t *n_r)
{
    XLPCI_OP(ctx);
    char path[XLPCI_PATH_MAX + 64], sub[64];
    xlpci_owner_facts *f = NULL;
    xlpci_owner_verdict *v = NULL;
    xlpci_bdf *on = NULL, *nb;
    xlpci_host_dev *list = NULL;
    size_t n = 0, non = 0, i;
    int *bkd = NULL;
    struct dirent *de;
    xlpci_truth tr;
    xlpci_bk bk;
    DIR *dir;
    int rc;

    *list_r = NULL;
    *n_r = 0;
    rc = xlpci_bk_open(ctx, &bk);
    if (rc)
        return rc;
    xlpci_sysfs_path(ctx, path, sizeof(path), "drivers/pciback");
    dir = opendir(path);
    if (!dir) {
        LOG(ctx, WARN, "xen-pciback is not loaded (%s does not exist)",
            path);
        goto out;
    }
    while ((de = readdir(dir))) {
        xlpci_bdf bdf;

        if (xlpci_bdf_parse(de->d_name, &bdf, sub, sizeof(sub)))
            continue;
        nb = realloc(on, (non + 1) * sizeof(*on));
        if (!nb) {
            rc = XLPCI_ERR_NOMEM;
            break;
        }
        on = nb;
        on[non++] = bdf;
    }
    closedir(dir);
    /* assignable: no live domain holds it (owner.c), whatever a gone
     * domain's record or the bookkeeping still say; one transaction */
    if (!rc && non) {
        f = calloc(non, sizeof(*f));
        v = calloc(non, sizeof(*v));
        bkd = calloc(non, sizeof(*bkd));
        list = calloc(non, sizeof(*list));
        if (!f || !v || !bkd || !list)
            rc = XLPCI_ERR_NOMEM;
        for (i = 0; !rc && i < non; i++) {
            xlpci_bk_dev *d = xlpci_bk_find(&bk, &on[i]);

            bkd[i] = d ? d->domid : -1;
        }
        xlpci_truth_init(ctx, &tr, true);
        if (!rc)
            rc = xlpci_owners_read(ctx, &tr, -1, -1, on, bkd, non,
                                   XLPCI_FIND_XEN, f, v);
        xlpci_truth_close(ctx, &tr);
    }
    for (i = 0; !rc && i < non; i++) {
        xlpci_bk_dev *d = xlpci_bk_find(&bk, &on[i]);

        if (v[i].held != XLPCI_HELD_NONE)
            continue;                  /* assigned, not assignable */
        list[n].bdf = on[i];
        list[n].domid = -1;
        list[n].name = d && d->name ? strdup(d->name) : NULL;
        n++;
    }
    if (n)
        qsort(list, n, sizeof(*list), cmp_host_dev);
out:
    xlpci_bk_close(&bk);
    free(on);
    free(f);
    free(v);
    free(bkd);
    if (rc) {
        xlpci_host_dev_list_free(list, n);
        return rc;
    }
    *list_r = list;
    *n_r = n;
    return 0;
}

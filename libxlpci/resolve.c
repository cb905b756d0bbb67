/*
 * Resolution, the first step of every flow: a domain given by domid or
 * name (as xl), a device spec (BDF, name=, slot "*") to the devices it
 * stands for, with their options defaulted.  Reads xenstore, sysfs and
 * the bookkeeping; writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps.h"

/* ---- domains ----------------------------------------------------------- */

int xlpci_check_domid(xlpci_ctx *ctx, uint32_t domid)
{
    if (domid == 0) {
        LOG(ctx, ERROR, "domain 0 is the backend domain; PCI devices are "
            "passed through to guests");
        return XLPCI_ERR_INVAL;
    }
    if (domid >= DOMID_FIRST_RESERVED) {
        LOG(ctx, ERROR, "domid %u is reserved", domid);
        return XLPCI_ERR_INVAL;
    }
    return 0;
}

/* The domain must exist (/local/domain/<domid>); *name_r gets its name or
 * NULL. */
int xlpci_domain_read(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                      char **name_r)
{
    char path[XLPCI_PATH_MAX];
    bool exists;
    int rc;

    *name_r = NULL;
    /* The name first: one read in the usual case. */
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    rc = xlpci_xs_read(ctx, t, path, name_r);
    if (rc || *name_r)
        return rc;
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    rc = xlpci_xs_exists(ctx, t, path, &exists);
    if (rc)
        return rc;
    if (!exists) {
        LOG(ctx, ERROR, "domain %u does not exist (no %s in xenstore)",
            domid, path);
        return XLPCI_ERR_NOTFOUND;
    }
    return 0;
}

int xlpci_domain_resolve(xlpci_ctx *ctx, const char *dom, uint32_t *domid_r)
{
    XLPCI_OP(ctx);
    char path[XLPCI_PATH_MAX];
    char **list = NULL;
    unsigned n, i, id, found = 0;
    int rc;

    /* As xl (libxl_domain_qualifier_to_domid): all digits is a domid,
     * "05" too; anything else is a name. */
    if (*dom && strspn(dom, "0123456789") == strlen(dom)) {
        const char *p = dom + strspn(dom, "0");

        if (!*p)
            p = "0";
        if (xlpci_parse_uint(p, DOMID_FIRST_RESERVED - 1, &id)) {
            LOG(ctx, ERROR, "domid %s is out of range (0 to %u)", dom,
                DOMID_FIRST_RESERVED - 1);
            return XLPCI_ERR_INVAL;
        }
        *domid_r = id;
        return 0;
    }
    rc = xlpci_xs_directory(ctx, XBT_NULL, "/local/domain", &list, &n);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        char *name;

        if (xlpci_parse_uint(list[i], DOMID_FIRST_RESERVED - 1, &id))
            continue;
        snprintf(path, sizeof(path), "/local/domain/%u/name", id);
        rc = xlpci_xs_read(ctx, XBT_NULL, path, &name);
        if (rc)
            goto out;
        if (name && !strcmp(name, dom)) {
            *domid_r = id;
            found++;
        }
        free(name);
    }
    if (!found) {
        LOG(ctx, ERROR, "no domain named \"%s\"", dom);
        rc = XLPCI_ERR_NOTFOUND;
    } else if (found > 1) {
        LOG(ctx, ERROR, "%u domains are named \"%s\"; give the domid",
            found, dom);
        rc = XLPCI_ERR_INVAL;
    }
out:
    free(list);
    return rc;
}

/* ---- devices ----------------------------------------------------------- */

void xlpci_devs_free(xlpci_dev *devs, size_t n)
{
    size_t i;

    if (!devs)
        return;
    for (i = 0; i < n; i++)
        xlpci_dev_dispose(&devs[i]);
    free(devs);
}

/* name= → BDF: our own names (pci-assignable-add -n) first, then the
 * names given by `xl pci-assignable-add -n` (libxlnode.c). */
int xlpci_name_to_bdf(xlpci_ctx *ctx, bool host, const char *name,
                      xlpci_bdf *bdf)
{
    xlpci_bk_dev *d;
    xlpci_bk bk;
    int rc;

    if (host) {
        rc = xlpci_bk_open(ctx, &bk);
        if (rc)
            return rc;
        d = xlpci_bk_find_name(&bk, name);
        if (d)
            *bdf = d->bdf;
        xlpci_bk_close(&bk);
        if (d)
            return 0;
    }
    rc = xlpci_libxl_name_find(ctx, name, bdf);
    if (rc == XLPCI_ERR_NOTFOUND)
        LOG(ctx, ERROR, "no PCI device is named \"%s\" (see "
            "pci-assignable-add -n)", name);
    return rc;
}

/* BB:DD.*: an SR-IOV physical function with VFs enabled is left out of
 * its slot's functions (a notice says so): its VFs are what is passed
 * through, and a PF never is while they exist (xlpci_pf_in_use).  Nothing
 * left: an error. */
static int sweep_pfs(xlpci_ctx *ctx, const xlpci_bdf *slot, unsigned *mask)
{
    char b[XLPCI_BDF_STRLEN];
    xlpci_sriov sr;
    xlpci_bdf fn = *slot;
    unsigned f, left = 0;

    for (f = 0; f <= XLPCI_MAX_FUNC; f++) {
        fn.func = f;
        if (!(*mask & (1u << f)) || !xlpci_sysfs_sriov(ctx, &fn, &sr) ||
            !sr.num)
            continue;
        *mask &= ~(1u << f);
        left++;
        LOG(ctx, NOTICE, "%04x:%02x:%02x.*: %s left out: it is an SR-IOV "
            "physical function with %u virtual function(s) enabled, which "
            "is never passed through while they exist (its VFs are, each "
            "on its own)", slot->seg, slot->bus, slot->dev,
            xlpci_bdf_format(&fn, b), sr.num);
    }
    if (left && !*mask) {
        LOG(ctx, ERROR, "%04x:%02x:%02x.*: nothing to pass through: the "
            "slot's only function is an SR-IOV physical function with its "
            "VFs enabled (name the VFs instead)", slot->seg, slot->bus,
            slot->dev);
        return XLPCI_ERR_BUSY;
    }
    return 0;
}

/* With the host side active, a device given by its BDF must exist (a VF
 * whose PF has fewer VFs enabled now is named as such) and must not be a
 * PF with VFs enabled. */
static int device_usable(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN], why[XLPCI_PATH_MAX + 200];

    if (xlpci_sysfs_exists(ctx, bdf))
        return xlpci_pf_in_use(ctx, bdf, "passed through");
    if (!xlpci_sysfs_vf_gone(ctx, bdf, why, sizeof(why)))
        return 0;                      /* the host steps say what is wrong */
    LOG(ctx, ERROR, "PCI device %s does not exist: it would be %s; enable "
        "the VFs first, then make them assignable", xlpci_bdf_format(bdf, b),
        why);
    return XLPCI_ERR_NOTFOUND;
}

static int opt(int v, bool dflt)
{
    return v == -1 ? dflt : v;
}

/* Specs → devices: names looked up, "*" expanded to the functions present
 * in sysfs (function 0 last, as libxl), options defaulted. */
int xlpci_resolve_devs(xlpci_ctx *ctx, bool host, const xlpci_spec *specs,
                       size_t ns, const xlpci_defaults *defs,
                       xlpci_dev **devs_r, size_t *n_r)
{
    xlpci_defaults dflt;
    xlpci_dev *devs = NULL;
    size_t n = 0, i, j;
    int rc = 0;

    if (!defs) {
        xlpci_defaults_init(&dflt);
        defs = &dflt;
    }
    devs = calloc(ns * 8 + 1, sizeof(*devs));
    if (!devs)
        return XLPCI_ERR_NOMEM;
    for (i = 0; i < ns; i++) {
        const xlpci_spec *s = &specs[i];
        xlpci_bdf bdf = s->bdf;
        unsigned mask, f;
        char b[XLPCI_BDF_STRLEN];

        if (!s->has_bdf) {
            rc = xlpci_name_to_bdf(ctx, host, s->name, &bdf);
            if (rc) goto out;
        }
        if (s->all_funcs) {
            rc = xlpci_sysfs_functions(ctx, &bdf, &mask);
            if (rc) goto out;
            if (!mask) {
                LOG(ctx, ERROR, "%04x:%02x:%02x.*: no functions of this "
                    "slot in %s/bus/pci/devices", bdf.seg, bdf.bus, bdf.dev,
                    ctx->sysfs_root);
                rc = XLPCI_ERR_NOTFOUND;
                goto out;
            }
            rc = sweep_pfs(ctx, &bdf, &mask);
            if (rc) goto out;
        } else {
            mask = 1u << bdf.func;
            if (host) {
                rc = device_usable(ctx, &bdf);
                if (rc) goto out;
            }
        }
        for (f = XLPCI_MAX_FUNC + 1; f-- > 0;) {
            xlpci_dev *d;

            if (!(mask & (1u << f)))
                continue;
            d = &devs[n++];
            d->bdf = bdf;
            d->bdf.func = f;
            if (s->has_vslot)
                d->vdevfn = s->vslot << 3 | (s->all_funcs ? f : 0);
            d->permissive = opt(s->permissive, defs->permissive);
            d->msitranslate = opt(s->msitranslate, defs->msitranslate);
            d->seize = opt(s->seize, defs->seize);
            d->power_mgmt = opt(s->power_mgmt, defs->power_mgmt);
            d->rdm_policy = s->rdm_policy == -1
                            ? defs->rdm_policy
                            : (xlpci_rdm_policy)s->rdm_policy;
            if (s->name && !(d->name = strdup(s->name))) {
                rc = XLPCI_ERR_NOMEM;
                goto out;
            }
            for (j = 0; j + 1 < n; j++) {
                if (!xlpci_bdf_cmp(&devs[j].bdf, &d->bdf)) {
                    LOG(ctx, ERROR, "PCI device %s is given twice",
                        xlpci_bdf_format(&d->bdf, b));
                    rc = XLPCI_ERR_INVAL;
                    goto out;
                }
                if (d->vdevfn && devs[j].vdevfn == d->vdevfn) {
                    LOG(ctx, ERROR, "two devices want virtual slot %02x.%x",
                        d->vdevfn >> 3, d->vdevfn & 7);
                    rc = XLPCI_ERR_INVAL;
                    goto out;
                }
            }
        }
    }
out:
    if (rc) {
        xlpci_devs_free(devs, n);
        devs = NULL;
        n = 0;
    }
    *devs_r = devs;
    *n_r = n;
    return rc;
}

int xlpci_not_attached(xlpci_ctx *ctx, const xlpci_bdf *bdf, bool all_funcs,
                       uint32_t domid)
{
    char b[XLPCI_BDF_STRLEN];

    xlpci_bdf_format(bdf, b);
    if (all_funcs)
        b[strlen(b) - 1] = '*';
    LOG(ctx, ERROR, "PCI device %s is not attached to domain %u", b, domid);
    return XLPCI_ERR_NOTFOUND;
}

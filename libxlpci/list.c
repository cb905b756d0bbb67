/*
 * pci-list: the devices of a domain's backend, read in one transaction
 * and parsed by view.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

typedef struct {
    uint32_t domid;
    xlpci_entry *list;
    size_t n;
} list_arg;

static int list_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    list_arg *a = varg;
    xlpci_view view;
    char err[256], *name = NULL;
    unsigned i;
    int rc;

    xlpci_entry_list_free(a->list, a->n);
    a->list = NULL;
    a->n = 0;
    xlpci_view_init(&view);
    rc = xlpci_domain_read(ctx, t, a->domid, &name);
    free(name);
    if (rc) goto out;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (rc || !view.num_devs)
        goto out;
    a->list = calloc(view.num_devs, sizeof(*a->list));
    if (!a->list) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < view.num_devs; i++) {
        rc = xlpci_view_entry(&view, i, &a->list[i], err, sizeof(err));
        if (rc) {
            LOG(ctx, ERROR, "domain %u: %s", a->domid, err);
            goto out;
        }
        a->n++;
    }
out:
    xlpci_view_dispose(&view);
    return rc;
}

int xlpci_list(xlpci_ctx *ctx, uint32_t domid, xlpci_entry **list_r,
               size_t *n_r)
{
    XLPCI_OP(ctx);
    list_arg a = { domid, NULL, 0 };
    int rc;

    rc = xlpci_txn_read(ctx, "pci-list", list_body, &a);
    if (rc) {
        xlpci_entry_list_free(a.list, a.n);
        a.list = NULL;
        a.n = 0;
    }
    *list_r = a.list;
    *n_r = a.n;
    return rc;
}

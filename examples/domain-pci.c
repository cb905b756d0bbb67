/*
 * domain-pci - a toolstack's use of libxlpci, from a domain's creation to
 * its destruction (the installed library, found with pkg-config):
 *
 *   cc -o domain-pci domain-pci.c $(pkg-config --cflags --libs libxlpci)
 *
 *   domain-pci create XL_CFG [DOMAIN]   the pci = [...] devices of an xl.cfg
 *                                       (and its pci_* defaults) given to the
 *                                       domain (default: the config's name)
 *                                       in ONE xenstore transaction
 *   domain-pci list DOMAIN              the domain's backend as JSON, with
 *                                       libxl's field names
 *   domain-pci destroy DOMID            once the domain is gone: release its
 *                                       devices (backend, frontend, records)
 *
 * DOMAIN is a domid or a name.  On a host the devices must be assignable
 * first (xlpci pci-assignable-add); XENSTORED_PATH, if set, names the
 * xenstore socket.  Exit status: 0 done, 1 failed (the reason on stderr,
 * the store as it was), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxlpci.h>

static int usage(void)
{
    fprintf(stderr, "usage: domain-pci create XL_CFG [DOMAIN]\n"
                    "       domain-pci list DOMAIN\n"
                    "       domain-pci destroy DOMID\n");
    return 2;
}

/* Every device of the config, parsed, then one xlpci_create. */
static int create(xlpci_ctx *ctx, const char *cfg_path, const char *dom)
{
    xlpci_config cfg;
    xlpci_spec *specs = NULL;
    size_t i, n = 0;
    uint32_t domid;
    char err[256];
    int rc;

    xlpci_config_init(&cfg);
    rc = xlpci_config_read(cfg_path, &cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (!dom)
        dom = cfg.name;
    if (!dom || !cfg.num_pci) {
        fprintf(stderr, "%s: %s\n", cfg_path,
                dom ? "no pci = [...] devices" : "no name and no DOMAIN");
        rc = XLPCI_ERR_INVAL;
        goto out;
    }
    specs = calloc(cfg.num_pci, sizeof(*specs));
    if (!specs) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (n = 0; n < cfg.num_pci; n++) {
        xlpci_spec_init(&specs[n]);
        rc = xlpci_spec_parse(cfg.pci[n], &specs[n], err, sizeof(err));
        if (rc) {
            fprintf(stderr, "%s: %s\n", cfg_path, err);
            n++;                             /* dispose this one too */
            goto out;
        }
    }
    rc = xlpci_domain_resolve(ctx, dom, &domid);
    if (!rc)
        rc = xlpci_create(ctx, domid, specs, n, &cfg.defaults, 0);
    if (!rc)
        printf("domain %u: %zu device(s) in one transaction\n", domid, n);
out:
    for (i = 0; i < n; i++)
        xlpci_spec_dispose(&specs[i]);
    free(specs);
    xlpci_config_dispose(&cfg);
    return rc;
}

static int list(xlpci_ctx *ctx, const char *dom)
{
    xlpci_entry *entries;
    uint32_t domid;
    size_t n;
    char *json;
    int rc;

    rc = xlpci_domain_resolve(ctx, dom, &domid);
    if (!rc)
        rc = xlpci_list(ctx, domid, &entries, &n);
    if (rc)
        return rc;
    rc = xlpci_entries_json(entries, n, &json);
    if (!rc) {
        printf("%s\n", json);
        free(json);
    }
    xlpci_entry_list_free(entries, n);
    return rc;
}

/* The domain is gone (xl destroy): a name no longer resolves, so a domid. */
static int destroy(xlpci_ctx *ctx, const char *arg)
{
    unsigned released;
    char *end;
    unsigned long domid = strtoul(arg, &end, 10);
    int rc;

    if (!*arg || *end || domid >= 0x7ff0) {      /* DOMID_FIRST_RESERVED */
        fprintf(stderr, "destroy: '%s' is not a domid\n", arg);
        return XLPCI_ERR_INVAL;
    }
    rc = xlpci_destroy(ctx, (uint32_t)domid, 0, &released);
    if (!rc)
        printf("domain %lu: %u device(s) released\n", domid, released);
    return rc;
}

int main(int argc, char **argv)
{
    xentoollog_logger *lg;
    xlpci_ctx *ctx;
    int rc;

    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[1], "create")))
        return usage();
    if (strcmp(argv[1], "create") && strcmp(argv[1], "list") &&
        strcmp(argv[1], "destroy"))
        return usage();
    /* Every error is logged here with its reason (the node, the input). */
    lg = (xentoollog_logger *)
        xtl_createlogger_stdiostream(stderr, XTL_PROGRESS, 0);
    if (!lg)
        return 1;
    rc = xlpci_ctx_alloc(&ctx, lg);
    if (rc) {
        fprintf(stderr, "xenstore: %s\n", xlpci_strerror(rc));
        xtl_logger_destroy(lg);
        return 1;
    }
    if (!strcmp(argv[1], "create"))
        rc = create(ctx, argv[2], argc == 4 ? argv[3] : NULL);
    else if (!strcmp(argv[1], "list"))
        rc = list(ctx, argv[2]);
    else
        rc = destroy(ctx, argv[2]);
    if (rc)
        fprintf(stderr, "domain-pci %s: %s\n", argv[1], xlpci_strerror(rc));
    xlpci_ctx_free(ctx);
    xtl_logger_destroy(lg);
    return rc ? 1 : 0;
}

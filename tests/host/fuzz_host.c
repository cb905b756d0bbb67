/*
 * libFuzzer target for what the host side reads from files: sysfs
 * "resource" and "irq" (hypervisor.c) and the bookkeeping state file
 * (bookkeeping.c, yajl_tree).  Beyond ASan/UBSan it checks what a parse
 * promises: every error has a message, at most 7 resources, end >= start
 * for a used one, and a state file that parses writes back (yajl_gen) to
 * one that parses to the same records.
 *
 * The first byte picks the parser, the rest is the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libxlpci_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const char *err, size_t len)
{
    if (!memchr(err, '\0', len) || !err[0])
        abort();
}

static void check_resource(const char *s)
{
    xlpci_bar bars[XLPCI_NUM_RESOURCES];
    char err[128] = "x";
    unsigned n, i;

    if (xlpci_resource_parse(s, bars, &n, err, sizeof(err))) {
        check_err(err, sizeof(err));
        if (n)
            abort();
        return;
    }
    if (n > XLPCI_NUM_RESOURCES)
        abort();
    for (i = 0; i < n; i++)
        if (bars[i].start && bars[i].end < bars[i].start)
            abort();
}

static void check_irq(const char *s)
{
    char err[128] = "x";
    unsigned irq;

    if (xlpci_irq_parse(s, &irq, err, sizeof(err)))
        check_err(err, sizeof(err));
}

static void dispose(xlpci_bk_dev *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        xlpci_bk_dev_dispose(&v[i]);
    free(v);
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static void check_state(const char *s)
{
    xlpci_bk_dev *v, *w;
    size_t n, m, i;
    char err[256] = "x", *json;

    if (xlpci_bk_from_json(s, &v, &n, err, sizeof(err))) {
        check_err(err, sizeof(err));
        return;
    }
    if (xlpci_bk_to_json(v, n, &json))
        abort();
    if (xlpci_bk_from_json(json, &w, &m, err, sizeof(err)) || m != n)
        abort();
    for (i = 0; i < n; i++)
        if (xlpci_bdf_cmp(&v[i].bdf, &w[i].bdf) ||
            !same_str(v[i].name, w[i].name) ||
            !same_str(v[i].driver_path, w[i].driver_path) ||
            v[i].managed != w[i].managed || v[i].domid != w[i].domid)
            abort();
    free(json);
    dispose(v, n);
    dispose(w, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;

    if (!size)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: check_resource(s); break;
    case 1: check_irq(s); break;
    default: check_state(s); break;
    }
    free(s);
    return 0;
}

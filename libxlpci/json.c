/*
 * `pci-list -l`: JSON through yajl.  Field names follow libxl's IDL
 * (libxl_device_pci), plus index, state and vdev from the backend.  And
 * the nesting limit of every JSON input (QMP messages, devices.json),
 * measured before yajl parses it.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "pure.h"

/* A linear scan, no recursion: strings are skipped as a JSON lexer skips
 * them ('"' opens and closes, '\\' escapes the next byte), so the depth
 * counted for every prefix yajl accepts is the depth yajl reaches; what
 * yajl refuses later may be counted differently, and is refused anyway. */
unsigned xlpci_json_depth(const char *text, size_t len, unsigned max)
{
    unsigned depth = 0, deepest = 0;
    bool in_string = false;
    size_t i;

    for (i = 0; i < len && deepest <= max; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    return deepest;
}

int xlpci_json_str(yajl_gen g, const char *s)
{
    return s ? (int)yajl_gen_string(g, (const unsigned char *)s, strlen(s))
             : (int)yajl_gen_null(g);
}

static int gen_kv_int(yajl_gen g, const char *k, long long v)
{
    int r = xlpci_json_str(g, k);

    return r ? r : (int)yajl_gen_integer(g, v);
}

static int gen_kv_bool(yajl_gen g, const char *k, bool v)
{
    int r = xlpci_json_str(g, k);

    return r ? r : (int)yajl_gen_bool(g, v);
}

static int gen_kv_str(yajl_gen g, const char *k, const char *v)
{
    int r = xlpci_json_str(g, k);

    return r ? r : xlpci_json_str(g, v);
}

static int gen_entry(yajl_gen g, const xlpci_entry *e)
{
    const xlpci_dev *d = &e->dev;
    int r;

    r = yajl_gen_map_open(g);
    if (!r) r = gen_kv_int(g, "index", e->index);
    if (!r) r = gen_kv_int(g, "domain", d->bdf.seg);
    if (!r) r = gen_kv_int(g, "bus", d->bdf.bus);
    if (!r) r = gen_kv_int(g, "dev", d->bdf.dev);
    if (!r) r = gen_kv_int(g, "func", d->bdf.func);
    if (!r) r = gen_kv_int(g, "vdevfn", d->vdevfn);
    if (!r) r = gen_kv_bool(g, "msitranslate", d->msitranslate);
    if (!r) r = gen_kv_bool(g, "power_mgmt", d->power_mgmt);
    if (!r) r = gen_kv_bool(g, "permissive", d->permissive);
    if (!r) r = gen_kv_str(g, "rdm_policy",
                           d->rdm_policy == XLPCI_RDM_RELAXED ? "relaxed"
                                                              : "strict");
    if (!r) r = gen_kv_str(g, "name", d->name);
    if (!r) r = gen_kv_int(g, "state", e->state);
    if (!r) r = gen_kv_str(g, "vdev", e->vdev);
    if (!r) r = yajl_gen_map_close(g);
    return r;
}

int xlpci_entries_json(const xlpci_entry *list, size_t n, char **json_r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    size_t i;
    int r, rc;

    *json_r = NULL;
    if (!g)
        return XLPCI_ERR_NOMEM;
    yajl_gen_config(g, yajl_gen_beautify, 1);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    r = yajl_gen_array_open(g);
    for (i = 0; !r && i < n; i++)
        r = gen_entry(g, &list[i]);
    if (!r) r = yajl_gen_array_close(g);
    rc = xlpci_json_take(g, r, XLPCI_ERR_CORRUPT, json_r);
    yajl_gen_free(g);
    return rc;
}

int xlpci_json_take(struct yajl_gen_t *g, int r, int invalid_rc,
                    char **json_r)
{
    const unsigned char *buf;
    size_t len;

    if (!r) r = (int)yajl_gen_get_buf(g, &buf, &len);
    if (r)
        return r == yajl_gen_invalid_string ? invalid_rc : XLPCI_ERR_FAIL;
    *json_r = malloc(len + 1);
    if (!*json_r)
        return XLPCI_ERR_NOMEM;
    memcpy(*json_r, buf, len);
    (*json_r)[len] = '\0';
    return 0;
}

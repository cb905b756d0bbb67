/*
 * BDF and PCI_SPEC_STRING (xl-pci-configuration(5)).  Pure: no I/O.
 *
 *   BDF             [DDDD:]BB:DD.F      all hex; F may be '*' in a spec
 *   PCI_SPEC_STRING [<bdf>[@<vslot>],][<key>=<value>,]*
 *
 * Stricter than libxlutil where libxlutil is a trap: booleans must be 0 or
 * 1 ("permissive=yes" is an error, not a silent 0), every error has a
 * message, duplicate keys are refused.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pure.h"

#define XLPCI_NAME_MAX 64            /* as libxl's assignable names */

int xlpci_errf(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* A malformed BDF, spec or option. */
#define fail(...) xlpci_errf(XLPCI_ERR_INVAL, __VA_ARGS__)

/* Parse [s, e) as hex of 1..maxdigits digits, value <= max. */
static int hex_field(const char *s, const char *e, unsigned maxdigits,
                     unsigned max, unsigned *out)
{
    unsigned long v = 0;
    const char *p;

    if (e <= s || (size_t)(e - s) > maxdigits)
        return -1;
    for (p = s; p < e; p++) {
        if (!isxdigit((unsigned char)*p))
            return -1;
        v = v * 16 + (unsigned long)(isdigit((unsigned char)*p)
                                     ? *p - '0'
                                     : tolower((unsigned char)*p) - 'a' + 10);
    }
    if (v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* BDF with optional '*' function.  s is NUL-terminated. */
static int parse_bdf_star(const char *s, xlpci_bdf *out, bool allow_star,
                          bool *star_r, char *err, size_t errlen)
{
    const char *c1, *c2, *dot, *p;
    unsigned ncolons = 0;

    for (p = s; *p; p++)
        if (*p == ':')
            ncolons++;
    if (ncolons < 1 || ncolons > 2)
        return fail(err, errlen,
                    "bad PCI address \"%s\": expected [DDDD:]BB:DD.F", s);
    c1 = strchr(s, ':');
    c2 = ncolons == 2 ? strchr(c1 + 1, ':') : NULL;
    dot = strchr(c2 ? c2 : c1, '.');
    if (!dot)
        return fail(err, errlen,
                    "bad PCI address \"%s\": missing '.' before the function",
                    s);
    if (ncolons == 2) {
        if (hex_field(s, c1, 4, XLPCI_MAX_SEG, &out->seg))
            return fail(err, errlen,
                        "bad PCI address \"%s\": bad domain (segment) "
                        "number, expected hex 0-ffff", s);
        if (hex_field(c1 + 1, c2, 2, XLPCI_MAX_BUS, &out->bus))
            return fail(err, errlen,
                        "bad PCI address \"%s\": bad bus number, "
                        "expected hex 0-ff", s);
    } else {
        out->seg = 0;
        if (hex_field(s, c1, 2, XLPCI_MAX_BUS, &out->bus))
            return fail(err, errlen,
                        "bad PCI address \"%s\": bad bus number, "
                        "expected hex 0-ff", s);
    }
    if (hex_field((c2 ? c2 : c1) + 1, dot, 2, XLPCI_MAX_SLOT, &out->dev))
        return fail(err, errlen,
                    "bad PCI address \"%s\": bad device (slot) number, "
                    "expected hex 0-1f", s);
    if (allow_star && !strcmp(dot + 1, "*")) {
        out->func = 0;
        *star_r = true;
        return 0;
    }
    if (hex_field(dot + 1, dot + 1 + strlen(dot + 1), 1, XLPCI_MAX_FUNC,
                  &out->func))
        return fail(err, errlen,
                    "bad PCI address \"%s\": bad function number, "
                    "expected 0-7%s", s, allow_star ? " or *" : "");
    if (star_r)
        *star_r = false;
    return 0;
}

int xlpci_bdf_parse(const char *s, xlpci_bdf *out, char *err, size_t errlen)
{
    return parse_bdf_star(s, out, false, NULL, err, errlen);
}

char *xlpci_bdf_format(const xlpci_bdf *bdf, char *buf)
{
    snprintf(buf, XLPCI_BDF_STRLEN, "%04x:%02x:%02x.%01x",
             bdf->seg & 0xffffu, bdf->bus & 0xffu, bdf->dev & 0x1fu,
             bdf->func & 7u);
    return buf;
}

int xlpci_bdf_cmp(const xlpci_bdf *a, const xlpci_bdf *b)
{
    if (a->seg != b->seg) return a->seg < b->seg ? -1 : 1;
    if (a->bus != b->bus) return a->bus < b->bus ? -1 : 1;
    if (a->dev != b->dev) return a->dev < b->dev ? -1 : 1;
    if (a->func != b->func) return a->func < b->func ? -1 : 1;
    return 0;
}

void xlpci_spec_init(xlpci_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->permissive = spec->msitranslate = -1;
    spec->seize = spec->power_mgmt = -1;
    spec->rdm_policy = -1;
}

void xlpci_spec_dispose(xlpci_spec *spec)
{
    if (!spec)
        return;
    free(spec->name);
    xlpci_spec_init(spec);
}

void xlpci_defaults_init(xlpci_defaults *defs)
{
    memset(defs, 0, sizeof(*defs));
    defs->rdm_policy = XLPCI_RDM_STRICT;
}

static int parse_vslot(const char *v, unsigned *out, const char *spec,
                       char *err, size_t errlen)
{
    if (hex_field(v, v + strlen(v), 2, XLPCI_MAX_SLOT, out))
        return fail(err, errlen,
                    "bad PCI_SPEC_STRING \"%s\": bad vslot \"%s\", "
                    "expected hex 0-1f", spec, v);
    return 0;
}

static int parse_bool(const char *key, const char *v, int *out,
                      const char *spec, char *err, size_t errlen)
{
    if (*out != -1)
        return fail(err, errlen,
                    "bad PCI_SPEC_STRING \"%s\": %s given twice", spec, key);
    if (!strcmp(v, "0") || !strcmp(v, "1")) {
        *out = v[0] - '0';
        return 0;
    }
    return fail(err, errlen,
                "bad PCI_SPEC_STRING \"%s\": %s=\"%s\" must be 0 or 1",
                spec, key, v);
}

static int parse_name(const char *v, xlpci_spec *out, const char *spec,
                      char *err, size_t errlen)
{
    const char *p;

    if (out->name)
        return fail(err, errlen,
                    "bad PCI_SPEC_STRING \"%s\": name given twice", spec);
    if (!*v || strlen(v) > XLPCI_NAME_MAX)
        return fail(err, errlen,
                    "bad PCI_SPEC_STRING \"%s\": a name must have 1 to %d "
                    "characters", spec, XLPCI_NAME_MAX);
    for (p = v; *p; p++)
        if (!isgraph((unsigned char)*p))
            return fail(err, errlen,
                        "bad PCI_SPEC_STRING \"%s\": name \"%s\" has a "
                        "character that is not printable", spec, v);
    out->name = strdup(v);
    return out->name ? 0 : XLPCI_ERR_NOMEM;
}

static int parse_bdf_token(const char *tok, xlpci_spec *out,
                           const char *spec, char *err, size_t errlen)
{
    char sub[256];
    int rc;

    if (out->has_bdf)
        return fail(err, errlen,
                    "bad PCI_SPEC_STRING \"%s\": the PCI address is given "
                    "twice", spec);
    rc = parse_bdf_star(tok, &out->bdf, true, &out->all_funcs,
                        sub, sizeof(sub));
    if (rc)
        return fail(err, errlen, "bad PCI_SPEC_STRING \"%s\": %s",
                    spec, sub);
    out->has_bdf = true;
    return 0;
}

static int parse_key(char *tok, xlpci_spec *out, const char *spec,
                     char *err, size_t errlen)
{
    char *eq = strchr(tok, '=');
    const char *key = tok, *v;

    *eq = '\0';
    v = eq + 1;
    if (!strcmp(key, "bdf"))
        return parse_bdf_token(v, out, spec, err, errlen);
    if (!strcmp(key, "name"))
        return parse_name(v, out, spec, err, errlen);
    if (!strcmp(key, "vslot")) {
        if (out->has_vslot)
            return fail(err, errlen,
                        "bad PCI_SPEC_STRING \"%s\": vslot given twice", spec);
        out->has_vslot = true;
        return parse_vslot(v, &out->vslot, spec, err, errlen);
    }
    if (!strcmp(key, "permissive"))
        return parse_bool(key, v, &out->permissive, spec, err, errlen);
    if (!strcmp(key, "msitranslate"))
        return parse_bool(key, v, &out->msitranslate, spec, err, errlen);
    if (!strcmp(key, "seize"))
        return parse_bool(key, v, &out->seize, spec, err, errlen);
    if (!strcmp(key, "power_mgmt"))
        return parse_bool(key, v, &out->power_mgmt, spec, err, errlen);
    if (!strcmp(key, "rdm_policy")) {
        if (out->rdm_policy != -1)
            return fail(err, errlen,
                        "bad PCI_SPEC_STRING \"%s\": rdm_policy given twice",
                        spec);
        if (!strcmp(v, "strict"))
            out->rdm_policy = XLPCI_RDM_STRICT;
        else if (!strcmp(v, "relaxed"))
            out->rdm_policy = XLPCI_RDM_RELAXED;
        else
            return fail(err, errlen,
                        "bad PCI_SPEC_STRING \"%s\": rdm_policy=\"%s\" must "
                        "be strict or relaxed", spec, v);
        return 0;
    }
    return fail(err, errlen,
                "bad PCI_SPEC_STRING \"%s\": unknown option \"%s\"",
                spec, key);
}

int xlpci_spec_parse(const char *s, xlpci_spec *out, char *err, size_t errlen)
{
    char *buf = NULL, *tok, *next, *at;
    bool first = true;
    int rc;

    xlpci_spec_init(out);
    if (!s || !*s) {
        rc = fail(err, errlen, "empty PCI_SPEC_STRING");
        goto out;
    }
    buf = strdup(s);
    if (!buf) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    for (tok = buf; tok; tok = next, first = false) {
        next = strchr(tok, ',');
        if (next)
            *next++ = '\0';
        if (!*tok) {
            if (!next)                /* one trailing comma is allowed */
                break;
            rc = fail(err, errlen,
                      "bad PCI_SPEC_STRING \"%s\": empty field", s);
            goto out;
        }
        if (strchr(tok, '=')) {
            rc = parse_key(tok, out, s, err, errlen);
        } else if (first) {
            at = strchr(tok, '@');
            if (at) {
                *at = '\0';
                out->has_vslot = true;
                rc = parse_vslot(at + 1, &out->vslot, s, err, errlen);
                if (rc) goto out;
            }
            rc = parse_bdf_token(tok, out, s, err, errlen);
        } else {
            rc = fail(err, errlen,
                      "bad PCI_SPEC_STRING \"%s\": \"%s\" is not key=value",
                      s, tok);
        }
        if (rc) goto out;
    }
    if (out->has_bdf == !!out->name) {
        rc = fail(err, errlen,
                  "bad PCI_SPEC_STRING \"%s\": give exactly one of a PCI "
                  "address (bdf) and name", s);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    if (rc)
        xlpci_spec_dispose(out);
    return rc;
}

void xlpci_dev_dispose(xlpci_dev *dev)
{
    if (!dev)
        return;
    free(dev->name);
    dev->name = NULL;
}

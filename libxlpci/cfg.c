/*
 * The subset of xl.cfg(5) a PCI toolstack needs.  Pure except for
 * xlpci_config_read(), which only reads the file.
 *
 * Syntax (as libxlutil's lexer/grammar): settings "KEY = VALUE" separated
 * by newlines or ';', VALUE a number, a "double-quoted" string (C escapes),
 * a 'single-quoted' string, or a [ list, ] of those spanning lines; '#'
 * starts a comment; "KEY += [list]" appends.  Interpreted: name, pci,
 * pci_permissive, pci_msitranslate, pci_seize, pci_power_mgmt.  Everything
 * else is syntax-checked and ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pure.h"

#define CFG_MAX_SIZE (1u << 20)

typedef struct {
    const char *p;
    const char *source;
    unsigned line;
    char *err;
    size_t errlen;
} lexer;

typedef enum { V_NUMBER, V_STRING } atom_kind;

typedef struct {
    atom_kind kind;
    char *text;                      /* malloc'd */
} atom;

typedef struct {
    bool is_list;
    atom *items;                     /* list items, or items[0] */
    size_t n;
} value;

static int lex_fail(lexer *lx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int lex_fail(lexer *lx, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return xlpci_errf(XLPCI_ERR_INVAL, lx->err, lx->errlen, "%s:%u: %s",
                      lx->source, lx->line, msg);
}

static void value_dispose(value *v)
{
    size_t i;

    for (i = 0; i < v->n; i++)
        free(v->items[i].text);
    free(v->items);
    memset(v, 0, sizeof(*v));
}

/* Skip blanks and comments; newlines too if nl. */
static void skip_space(lexer *lx, bool nl)
{
    for (;;) {
        if (*lx->p == '#') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
        } else if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r') {
            lx->p++;
        } else if (nl && *lx->p == '\n') {
            lx->line++;
            lx->p++;
        } else {
            return;
        }
    }
}

static int lex_string(lexer *lx, char **out)
{
    char quote = *lx->p++;
    size_t cap = 64, n = 0;
    char *buf = malloc(cap);

    if (!buf)
        return XLPCI_ERR_NOMEM;
    for (;;) {
        char c = *lx->p;

        if (!c || c == '\n') {
            free(buf);
            return lex_fail(lx, "unterminated string");
        }
        lx->p++;
        if (c == quote)
            break;
        if (c == '\\' && quote == '"') {
            c = *lx->p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case '\\': case '"': case '\'': break;
            default:
                free(buf);
                return lex_fail(lx, "unknown escape \"\\%c\" in string",
                                c ? c : ' ');
            }
        }
        if (n + 2 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                return XLPCI_ERR_NOMEM;
            }
            buf = nb;
        }
        buf[n++] = c;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int lex_atom(lexer *lx, atom *a)
{
    const char *s = lx->p;

    if (*s == '"' || *s == '\'') {
        a->kind = V_STRING;
        return lex_string(lx, &a->text);
    }
    if (isdigit((unsigned char)*s) || *s == '-' || *s == '+') {
        const char *e = s + 1;

        while (isalnum((unsigned char)*e) || *e == '.')
            e++;
        a->kind = V_NUMBER;
        a->text = strndup(s, (size_t)(e - s));
        lx->p = e;
        return a->text ? 0 : XLPCI_ERR_NOMEM;
    }
    return lex_fail(lx, "expected a number, a string or a list");
}

static int lex_value(lexer *lx, value *v)
{
    int rc;

    memset(v, 0, sizeof(*v));
    if (*lx->p != '[') {
        v->items = calloc(1, sizeof(*v->items));
        if (!v->items)
            return XLPCI_ERR_NOMEM;
        v->n = 1;
        return lex_atom(lx, &v->items[0]);
    }
    v->is_list = true;
    lx->p++;
    for (;;) {
        atom *items;

        skip_space(lx, true);
        if (*lx->p == ']') {
            lx->p++;
            return 0;
        }
        items = realloc(v->items, (v->n + 1) * sizeof(*items));
        if (!items)
            return XLPCI_ERR_NOMEM;
        v->items = items;
        memset(&v->items[v->n], 0, sizeof(*items));
        rc = lex_atom(lx, &v->items[v->n]);
        v->n++;
        if (rc)
            return rc;
        skip_space(lx, true);
        if (*lx->p == ',')
            lx->p++;
        else if (*lx->p != ']')
            return lex_fail(lx, "expected ',' or ']' in list");
    }
}

static int get_bool(lexer *lx, const char *key, const value *v, bool *out)
{
    if (v->is_list || v->items[0].kind != V_NUMBER ||
        (strcmp(v->items[0].text, "0") && strcmp(v->items[0].text, "1")))
        return lex_fail(lx, "%s must be 0 or 1", key);
    *out = v->items[0].text[0] == '1';
    return 0;
}

static int set_pci(lexer *lx, xlpci_config *cfg, value *v, bool append)
{
    size_t i, base;
    char **pci;

    if (!v->is_list)
        return lex_fail(lx, "pci must be a list: pci = [ \"BDF\", ... ]");
    for (i = 0; i < v->n; i++)
        if (v->items[i].kind != V_STRING)
            return lex_fail(lx, "pci list items must be strings");
    if (!append) {
        for (i = 0; i < cfg->num_pci; i++)
            free(cfg->pci[i]);
        cfg->num_pci = 0;
    }
    base = cfg->num_pci;
    pci = realloc(cfg->pci, (base + v->n + 1) * sizeof(*pci));
    if (!pci)
        return XLPCI_ERR_NOMEM;
    cfg->pci = pci;
    for (i = 0; i < v->n; i++) {
        cfg->pci[base + i] = v->items[i].text;   /* steal */
        v->items[i].text = NULL;
    }
    cfg->num_pci = base + v->n;
    return 0;
}

static int apply(lexer *lx, xlpci_config *cfg, const char *key, value *v,
                 bool append)
{
    if (!strcmp(key, "pci"))
        return set_pci(lx, cfg, v, append);
    if (append)
        return 0;                     /* += on settings we ignore */
    if (!strcmp(key, "name")) {
        if (v->is_list || v->items[0].kind != V_STRING)
            return lex_fail(lx, "name must be a string");
        free(cfg->name);
        cfg->name = v->items[0].text;
        v->items[0].text = NULL;
        return 0;
    }
    if (!strcmp(key, "pci_permissive"))
        return get_bool(lx, key, v, &cfg->defaults.permissive);
    if (!strcmp(key, "pci_msitranslate"))
        return get_bool(lx, key, v, &cfg->defaults.msitranslate);
    if (!strcmp(key, "pci_seize"))
        return get_bool(lx, key, v, &cfg->defaults.seize);
    if (!strcmp(key, "pci_power_mgmt"))
        return get_bool(lx, key, v, &cfg->defaults.power_mgmt);
    return 0;
}

void xlpci_config_init(xlpci_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    xlpci_defaults_init(&cfg->defaults);
}

void xlpci_config_dispose(xlpci_config *cfg)
{
    size_t i;

    if (!cfg)
        return;
    free(cfg->name);
    for (i = 0; i < cfg->num_pci; i++)
        free(cfg->pci[i]);
    free(cfg->pci);
    xlpci_config_init(cfg);
}

int xlpci_config_parse(const char *text, const char *source,
                       xlpci_config *cfg, char *err, size_t errlen)
{
    lexer lx = { text, source ? source : "<config>", 1, err, errlen };
    char key[64];
    value v;
    int rc = 0;

    xlpci_config_init(cfg);
    memset(&v, 0, sizeof(v));
    for (;;) {
        const char *s;
        bool append = false;

        skip_space(&lx, true);
        if (*lx.p == ';') {
            lx.p++;
            continue;
        }
        if (!*lx.p)
            break;
        s = lx.p;
        if (!isalpha((unsigned char)*s) && *s != '_') {
            rc = lex_fail(&lx, "expected a setting name");
            break;
        }
        while (isalnum((unsigned char)*lx.p) || *lx.p == '_')
            lx.p++;
        if ((size_t)(lx.p - s) >= sizeof(key)) {
            rc = lex_fail(&lx, "setting name too long");
            break;
        }
        memcpy(key, s, (size_t)(lx.p - s));
        key[lx.p - s] = '\0';
        skip_space(&lx, false);
        if (lx.p[0] == '+' && lx.p[1] == '=') {
            append = true;
            lx.p += 2;
        } else if (lx.p[0] == '=') {
            lx.p++;
        } else {
            rc = lex_fail(&lx, "expected '=' after \"%s\"", key);
            break;
        }
        skip_space(&lx, false);
        rc = lex_value(&lx, &v);
        if (!rc)
            rc = apply(&lx, cfg, key, &v, append);
        value_dispose(&v);
        if (rc)
            break;
        skip_space(&lx, false);
        if (*lx.p && *lx.p != '\n' && *lx.p != ';') {
            rc = lex_fail(&lx, "unexpected text after the value of \"%s\"",
                          key);
            break;
        }
    }
    if (rc)
        xlpci_config_dispose(cfg);
    return rc;
}

int xlpci_config_read(const char *path, xlpci_config *cfg, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n;
    int rc;

    xlpci_config_init(cfg);
    if (!f) {
        snprintf(err, errlen, "cannot open config file %s: %s", path,
                 strerror(errno));
        return XLPCI_ERR_INVAL;
    }
    buf = malloc(CFG_MAX_SIZE + 1);
    if (!buf) {
        rc = XLPCI_ERR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, CFG_MAX_SIZE + 1, f);
    if (ferror(f) || n > CFG_MAX_SIZE) {
        snprintf(err, errlen, "cannot read config file %s: %s", path,
                 ferror(f) ? strerror(errno) : "larger than 1 MiB");
        rc = XLPCI_ERR_INVAL;
        goto out;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        snprintf(err, errlen, "config file %s contains a NUL byte", path);
        rc = XLPCI_ERR_INVAL;
        goto out;
    }
    rc = xlpci_config_parse(buf, path, cfg, err, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}

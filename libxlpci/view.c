/*
 * Backend view: the backend directory of a domain as read in one
 * transaction (xlpci_view), its paths, its parser (setup, per-index keys,
 * opts-N) and what is wrong with it (problems, check), and the entries
 * pci-list shows.  Pure: no I/O, so every rule here is unit-tested (and
 * fuzzed, tests/fuzz/fuzz_backend.c) without a xenstore.
 *
 * Formats are libxl's (docs/protocol.md section 1): dev-N and key-N
 * "%04x:%02x:%02x.%01x", vdevfn-N "%x" only when non-zero, opts-N
 * "msitranslate=%d,power_mgmt=%d,permissive=%d,rdm_policy=%s", state-N and
 * num_devs "%d".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pure.h"

const char *const xlpci_key_names[XLPCI_NKEYS] = {
    [XLPCI_KEY_KEY] = "key",
    [XLPCI_KEY_DEV] = "dev",
    [XLPCI_KEY_VDEVFN] = "vdevfn",
    [XLPCI_KEY_NAME] = "name",
    [XLPCI_KEY_OPTS] = "opts",
    [XLPCI_KEY_STATE] = "state",
    [XLPCI_KEY_VDEV] = "vdev",
};

void xlpci_be_path(char *buf, uint32_t domid)
{
    snprintf(buf, XLPCI_PATH_MAX, "/local/domain/0/backend/pci/%u/0", domid);
}

void xlpci_fe_path(char *buf, uint32_t domid)
{
    snprintf(buf, XLPCI_PATH_MAX, "/local/domain/%u/device/pci/0", domid);
}

void xlpci_error_path(char *buf, uint32_t domid)
{
    snprintf(buf, XLPCI_PATH_MAX,
             "/local/domain/0/error/backend/pci/%u/0/error", domid);
}

int xlpci_be_key(char *buf, uint32_t domid, const char *fmt, ...)
{
    char leaf[64];
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(leaf, sizeof(leaf), fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= sizeof(leaf))
        return XLPCI_ERR_INVAL;
    r = snprintf(buf, XLPCI_PATH_MAX, "/local/domain/0/backend/pci/%u/0/%s",
                 domid, leaf);
    return r < 0 || r >= XLPCI_PATH_MAX ? XLPCI_ERR_INVAL : 0;
}

void xlpci_view_init(xlpci_view *view)
{
    memset(view, 0, sizeof(*view));
    view->state = -1;
}

void xlpci_view_dispose(xlpci_view *view)
{
    unsigned i, k;

    if (view->keys)
        for (i = 0; i < view->num_devs; i++)
            for (k = 0; k < XLPCI_NKEYS; k++)
                free(view->keys[i][k]);
    free(view->keys);
    free(view->row_state);
    free(view->names);                /* one allocation (xs_directory) */
    free(view->orphans);              /* pointers into names */
    free(view->num_raw);
    free(view->state_raw);
    xlpci_view_init(view);
}

int xlpci_parse_uint(const char *s, unsigned max, unsigned *out)
{
    unsigned long v = 0;
    const char *p;

    if (!s || !*s || strlen(s) > 10)
        return XLPCI_ERR_CORRUPT;
    if (s[0] == '0' && s[1])
        return XLPCI_ERR_CORRUPT;     /* no leading zeros, no "0x" */
    for (p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return XLPCI_ERR_CORRUPT;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > max)
        return XLPCI_ERR_CORRUPT;
    *out = (unsigned)v;
    return 0;
}

bool xlpci_split_key(const char *name, enum xlpci_key *key_r,
                     unsigned *index_r)
{
    const char *dash = strrchr(name, '-');
    unsigned k;
    size_t len;

    if (!dash)
        return false;
    len = (size_t)(dash - name);
    for (k = 0; k < XLPCI_NKEYS; k++) {
        if (strlen(xlpci_key_names[k]) == len &&
            !strncmp(name, xlpci_key_names[k], len) &&
            !xlpci_parse_uint(dash + 1, ~0u, index_r)) {
            *key_r = (enum xlpci_key)k;
            return true;
        }
    }
    return false;
}

/* A row that is not what pciback and libxl write. */
#define check_fail(...) xlpci_errf(XLPCI_ERR_CORRUPT, __VA_ARGS__)

/* "<key>-<digits>": a per-index key, whatever the spelling of the index.
 * *canonical_r: the index as pciback prints it ("%d": no leading zero). */
static bool index_like(const char *name, enum xlpci_key *key_r,
                       unsigned *index_r, bool *canonical_r)
{
    const char *dash = strrchr(name, '-');
    size_t len;
    unsigned k;

    if (!dash || !dash[1] || strspn(dash + 1, "0123456789") !=
                             strlen(dash + 1))
        return false;
    len = (size_t)(dash - name);
    for (k = 0; k < XLPCI_NKEYS; k++)
        if (strlen(xlpci_key_names[k]) == len &&
            !strncmp(name, xlpci_key_names[k], len))
            break;
    if (k == XLPCI_NKEYS)
        return false;
    *key_r = (enum xlpci_key)k;
    *canonical_r = !xlpci_parse_uint(dash + 1, ~0u, index_r);
    if (!*canonical_r)
        *index_r = ~0u;
    return true;
}

static bool has_name(const xlpci_view *view, const char *name)
{
    unsigned i;

    for (i = 0; i < view->nnames; i++)
        if (!strcmp(view->names[i], name))
            return true;
    return false;
}

bool xlpci_view_listed(const xlpci_view *view, enum xlpci_key k, unsigned i)
{
    char name[32];

    snprintf(name, sizeof(name), "%s-%u", xlpci_key_names[k], i);
    return has_name(view, name);
}

int xlpci_view_setup(xlpci_view *view)
{
    unsigned i, idx, st;
    enum xlpci_key k;
    bool canon, listed = false;
    char name[32];

    view->state = -1;
    if (view->state_raw &&
        !xlpci_parse_uint(view->state_raw, XenbusStateReconfigured, &st))
        view->state = (int)st;
    view->exists = view->num_raw != NULL;
    view->num_bad = false;
    view->num_devs = 0;
    for (i = 0; i < view->nnames && !listed; i++)
        listed = index_like(view->names[i], &k, &idx, &canon);
    if (view->num_raw &&
        !xlpci_parse_uint(view->num_raw, XLPCI_MAX_DEVS, &view->num_devs)) {
        /* a count */
    } else if (view->num_raw || listed) {
        /* Damaged: the rows are the dense run of dev-N from 0, as far as
         * a backend can go; the rest are orphans. */
        view->num_bad = true;
        for (view->num_devs = 0; view->num_devs < XLPCI_MAX_DEVS;
             view->num_devs++) {
            snprintf(name, sizeof(name), "dev-%u", view->num_devs);
            if (!has_name(view, name))
                break;
        }
    }
    if (view->num_devs) {
        view->keys = calloc(view->num_devs, sizeof(*view->keys));
        view->row_state = calloc(view->num_devs, sizeof(*view->row_state));
        if (!view->keys || !view->row_state) {
            free(view->keys);
            free(view->row_state);
            view->keys = NULL;
            view->row_state = NULL;
            view->num_devs = 0;
            return XLPCI_ERR_NOMEM;
        }
        for (i = 0; i < view->num_devs; i++)
            view->row_state[i] = XLPCI_ROW_ABSENT;
    }
    view->norphans = 0;
    if (view->nnames) {
        view->orphans = calloc(view->nnames, sizeof(*view->orphans));
        if (!view->orphans)
            return XLPCI_ERR_NOMEM;
    }
    for (i = 0; i < view->nnames; i++)
        if (index_like(view->names[i], &k, &idx, &canon) &&
            (!canon || idx >= view->num_devs))
            view->orphans[view->norphans++] = view->names[i];
    return 0;
}

void xlpci_view_rows(xlpci_view *view)
{
    unsigned i, st;

    for (i = 0; i < view->num_devs; i++) {
        const char *raw = view->keys[i][XLPCI_KEY_STATE];

        view->row_state[i] =
            !raw ? XLPCI_ROW_ABSENT :
            xlpci_parse_uint(raw, XenbusStateReconfigured, &st) ?
            XLPCI_ROW_BAD : (int)st;
    }
}

/* ---- what is wrong ------------------------------------------------------- */

static void report(xlpci_problem_fn *fn, void *arg,
                   enum xlpci_problem_kind kind, unsigned index,
                   const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void report(xlpci_problem_fn *fn, void *arg,
                   enum xlpci_problem_kind kind, unsigned index,
                   const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn(arg, kind, index, msg);
}

/* The row's values other than dev-i: a message if one is malformed. */
static bool bad_value(const xlpci_view *view, unsigned i, char *msg,
                      size_t len)
{
    char *const *row = view->keys[i];
    xlpci_dev d;
    char *end;
    unsigned long x;

    if (view->row_state[i] == XLPCI_ROW_BAD) {
        snprintf(msg, len, "state-%u = \"%s\" is not a xenbus state", i,
                 row[XLPCI_KEY_STATE]);
        return true;
    }
    if (row[XLPCI_KEY_VDEVFN]) {
        errno = 0;
        x = strtoul(row[XLPCI_KEY_VDEVFN], &end, 16);
        if (errno || *end || end == row[XLPCI_KEY_VDEVFN] || x > 0xff ||
            !strchr("0123456789abcdefABCDEF", row[XLPCI_KEY_VDEVFN][0])) {
            snprintf(msg, len, "vdevfn-%u = \"%s\" is not a devfn (hex, "
                     "0-ff)", i, row[XLPCI_KEY_VDEVFN]);
            return true;
        }
    }
    memset(&d, 0, sizeof(d));
    if (row[XLPCI_KEY_OPTS] && xlpci_opts_parse(row[XLPCI_KEY_OPTS], &d)) {
        snprintf(msg, len, "opts-%u = \"%s\" is malformed (msitranslate, "
                 "power_mgmt and permissive take 0 or 1, rdm_policy strict "
                 "or relaxed)", i, row[XLPCI_KEY_OPTS]);
        return true;
    }
    return false;
}

void xlpci_view_problems(const xlpci_view *view, uint32_t domid,
                         xlpci_problem_fn *fn, void *arg)
{
    char be[XLPCI_PATH_MAX], sub[128], msg[300];
    xlpci_bdf *bdfs = NULL, b;
    bool *ok = NULL;
    enum xlpci_key k;
    unsigned i, j, idx;
    bool canon;

    if (!view->dir_exists)
        return;
    xlpci_be_path(be, domid);
    if (view->state_raw && view->state < 0)
        report(fn, arg, XLPCI_PB_STATE, 0, "%s/state = \"%s\" is not a "
               "xenbus state", be, view->state_raw);
    if (view->num_bad && !view->num_raw)
        report(fn, arg, XLPCI_PB_NUM, 0, "%s lists devices but has no "
               "num_devs (pciback closes such a backend)", be);
    else if (view->num_bad)
        report(fn, arg, XLPCI_PB_NUM, 0, "%s/num_devs = \"%s\" is not a "
               "device count (0-%u)", be, view->num_raw, XLPCI_MAX_DEVS);
    if (view->num_devs) {
        bdfs = calloc(view->num_devs, sizeof(*bdfs));
        ok = calloc(view->num_devs, sizeof(*ok));
    }
    for (i = 0; i < view->num_devs; i++) {
        const char *dev = view->keys[i][XLPCI_KEY_DEV];

        if (!dev) {
            report(fn, arg, XLPCI_PB_ROW, i, "num_devs is %u but dev-%u is "
                   "missing", view->num_devs, i);
            continue;
        }
        if (xlpci_bdf_parse(dev, &b, sub, sizeof(sub))) {
            report(fn, arg, XLPCI_PB_ROW, i, "dev-%u = \"%s\": %s", i, dev,
                   sub);
            continue;
        }
        if (bdfs)
            bdfs[i] = b;
        for (j = 0; bdfs && ok && j < i; j++)
            if (ok[j] && !xlpci_bdf_cmp(&bdfs[j], &b))
                break;
        if (bdfs && ok && j < i) {
            char cb[XLPCI_BDF_STRLEN];

            xlpci_bdf_format(&b, cb);
            report(fn, arg, XLPCI_PB_ROW, i, "dev-%u and dev-%u are both %s "
                   "(\"%s\", \"%s\")", j, i, cb,
                   view->keys[j][XLPCI_KEY_DEV], dev);
            continue;
        }
        if (ok)
            ok[i] = true;
        if (bad_value(view, i, msg, sizeof(msg)))
            report(fn, arg, XLPCI_PB_VALUE, i, "%s (device %s)", msg, dev);
    }
    for (i = 0; i < view->norphans; i++) {
        index_like(view->orphans[i], &k, &idx, &canon);
        if (!canon)
            report(fn, arg, XLPCI_PB_ORPHAN, idx, "%s is not a key pciback "
                   "reads (index spelled with leading zeros; orphan key)",
                   view->orphans[i]);
        else
            report(fn, arg, XLPCI_PB_ORPHAN, idx, "%s: index %u lies past "
                   "num_devs %u (orphan key)", view->orphans[i], idx,
                   view->num_devs);
    }
    free(bdfs);
    free(ok);
}

typedef struct {
    uint32_t domid;
    char *err;
    size_t errlen;
    bool found;
} first_arg;

static void first_problem(void *varg, enum xlpci_problem_kind kind,
                          unsigned index, const char *msg)
{
    first_arg *a = varg;
    char be[XLPCI_PATH_MAX];

    (void)index;
    if (a->found || kind == XLPCI_PB_ORPHAN)
        return;
    a->found = true;
    xlpci_be_path(be, a->domid);
    switch (kind) {
    case XLPCI_PB_NUM:
        snprintf(a->err, a->errlen, "%s; not trusted: xlpci check --repair "
                 "%u recounts it", msg, a->domid);
        break;
    case XLPCI_PB_ROW:
        snprintf(a->err, a->errlen, "%s: %s; not trusted: xlpci check "
                 "--repair %u drops that index", be, msg, a->domid);
        break;
    case XLPCI_PB_VALUE:
        snprintf(a->err, a->errlen, "%s: %s; not trusted, and nobody can "
                 "tell the value meant: correct it by hand (xenstore-write) "
                 "or replace the backend (create -f)", be, msg);
        break;
    default:
        snprintf(a->err, a->errlen, "%s; not trusted (pciback writes it)",
                 msg);
        break;
    }
}

int xlpci_view_check(const xlpci_view *view, uint32_t domid,
                     char *err, size_t errlen)
{
    first_arg a = { domid, err, errlen, false };

    xlpci_view_problems(view, domid, first_problem, &a);
    return a.found ? XLPCI_ERR_CORRUPT : 0;
}

int xlpci_view_check_append(const xlpci_view *view, uint32_t domid,
                            size_t n, char *err, size_t errlen)
{
    char be[XLPCI_PATH_MAX];
    enum xlpci_key k;
    unsigned i, idx;
    bool canon;

    for (i = 0; i < view->norphans; i++) {
        if (!index_like(view->orphans[i], &k, &idx, &canon) || !canon ||
            idx < view->num_devs || idx - view->num_devs >= n)
            continue;
        xlpci_be_path(be, domid);
        return xlpci_errf(XLPCI_ERR_CORRUPT, err, errlen, "%s: %s lies at "
                          "index %u, past num_devs %u, where a new device "
                          "would go (an interrupted operation or another "
                          "tool left it, and what it names may be a device "
                          "the domain has): not written over; xlpci check "
                          "%u reports it, check --repair %u removes it", be,
                          view->orphans[i], idx, view->num_devs, domid,
                          domid);
    }
    return 0;
}

int xlpci_view_find(const xlpci_view *view, const xlpci_bdf *bdf)
{
    xlpci_bdf b;
    char sub[128];
    unsigned i;

    for (i = 0; i < view->num_devs; i++) {
        const char *dev = view->keys[i][XLPCI_KEY_DEV];

        if (dev && !xlpci_bdf_parse(dev, &b, sub, sizeof(sub)) &&
            !xlpci_bdf_cmp(&b, bdf))
            return (int)i;
    }
    return -1;
}

int xlpci_opts_format(const xlpci_dev *dev, char *buf, size_t len)
{
    int r = snprintf(buf, len,
                     "msitranslate=%d,power_mgmt=%d,permissive=%d,"
                     "rdm_policy=%s",
                     dev->msitranslate, dev->power_mgmt, dev->permissive,
                     dev->rdm_policy == XLPCI_RDM_RELAXED ? "relaxed"
                                                          : "strict");
    return r < 0 || (size_t)r >= len ? XLPCI_ERR_INVAL : 0;
}

/* opts-N as libxl writes it; Xen <= 4.14 had no rdm_policy.  Unknown keys
 * are ignored, malformed ones are an error. */
int xlpci_opts_parse(const char *s, xlpci_dev *dev)
{
    char *buf = strdup(s), *tok, *save = NULL;
    int rc = 0;

    if (!buf)
        return XLPCI_ERR_NOMEM;
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        bool *flag = NULL;

        if (!eq) {
            rc = XLPCI_ERR_CORRUPT;
            break;
        }
        *eq = '\0';
        if (!strcmp(tok, "msitranslate")) flag = &dev->msitranslate;
        else if (!strcmp(tok, "power_mgmt")) flag = &dev->power_mgmt;
        else if (!strcmp(tok, "permissive")) flag = &dev->permissive;
        else if (!strcmp(tok, "rdm_policy")) {
            if (!strcmp(eq + 1, "strict"))
                dev->rdm_policy = XLPCI_RDM_STRICT;
            else if (!strcmp(eq + 1, "relaxed"))
                dev->rdm_policy = XLPCI_RDM_RELAXED;
            else
                rc = XLPCI_ERR_CORRUPT;
        }
        if (flag) {
            if (strcmp(eq + 1, "0") && strcmp(eq + 1, "1"))
                rc = XLPCI_ERR_CORRUPT;
            else
                *flag = eq[1] == '1';
        }
        if (rc)
            break;
    }
    free(buf);
    return rc;
}

int xlpci_view_entry(const xlpci_view *view, unsigned i, xlpci_entry *e,
                     char *err, size_t errlen)
{
    char *const *row = view->keys[i];
    char *end;
    unsigned long v;
    int rc;

    memset(e, 0, sizeof(*e));
    e->index = i;
    e->state = -1;
    rc = xlpci_bdf_parse(row[XLPCI_KEY_DEV] ? row[XLPCI_KEY_DEV] : "",
                         &e->dev.bdf, err, errlen);
    if (rc)
        return XLPCI_ERR_CORRUPT;
    if (row[XLPCI_KEY_VDEVFN]) {
        errno = 0;
        v = strtoul(row[XLPCI_KEY_VDEVFN], &end, 16);
        if (errno || *end || end == row[XLPCI_KEY_VDEVFN] || v > 0xff)
            return check_fail(err, errlen, "vdevfn-%u = \"%s\" is not a "
                              "devfn", i, row[XLPCI_KEY_VDEVFN]);
        e->dev.vdevfn = (unsigned)v;
    }
    if (row[XLPCI_KEY_OPTS] && xlpci_opts_parse(row[XLPCI_KEY_OPTS], &e->dev))
        return check_fail(err, errlen, "opts-%u = \"%s\" is malformed",
                          i, row[XLPCI_KEY_OPTS]);
    if (view->row_state[i] == XLPCI_ROW_BAD)
        return check_fail(err, errlen, "state-%u = \"%s\" is not a "
                          "xenbus state", i, row[XLPCI_KEY_STATE]);
    e->state = view->row_state[i] < 0 ? -1 : view->row_state[i];
    if (row[XLPCI_KEY_NAME] && !(e->dev.name = strdup(row[XLPCI_KEY_NAME])))
        return XLPCI_ERR_NOMEM;
    if (row[XLPCI_KEY_VDEV] && !(e->vdev = strdup(row[XLPCI_KEY_VDEV]))) {
        xlpci_dev_dispose(&e->dev);
        return XLPCI_ERR_NOMEM;
    }
    return 0;
}

void xlpci_entry_list_free(xlpci_entry *list, size_t n)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < n; i++) {
        xlpci_dev_dispose(&list[i].dev);
        free(list[i].vdev);
    }
    free(list);
}

/*
 * libFuzzer target for the backend parser (view.c: xlpci_view_setup,
 * xlpci_view_rows, xlpci_view_problems, xlpci_view_check,
 * xlpci_view_entry) and the repair
 * it drives (xlpci_layout_remove), fed by a dumped xenstore subtree: the
 * lines h_xs_dump and xenstore-ls -f print,
 *
 *   /local/domain/0/backend/pci/5/0/num_devs = "2" (n0,r5)
 *
 * (the leaf name and the quoted value are used; \xNN escapes as the dump
 * writes them).  Beyond "no crash, no leak, no UB", it checks what the
 * parser promises:
 *   - at most 256 rows, whatever the store holds;
 *   - a view xlpci_view_check accepts has every row parseable, no two rows
 *     with the same device, and xlpci_view_find finds each row's device
 *     at its own index;
 *   - the repair check --repair plans (drop the ROW rows, recount, remove
 *     the orphans), applied to the subtree, leaves a backend without NUM,
 *     ROW or ORPHAN problems.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libxlpci_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DOMID 5
#define MAXN 2048

typedef struct {
    char *name[MAXN];
    char *value[MAXN];
    unsigned n;
    bool dir;                          /* the backend directory exists */
} subtree;

static void st_free(subtree *s)
{
    unsigned i;

    for (i = 0; i < s->n; i++) {
        free(s->name[i]);
        free(s->value[i]);
    }
    s->n = 0;
}

static int st_find(const subtree *s, const char *name)
{
    unsigned i;

    for (i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name))
            return (int)i;
    return -1;
}

static void st_set(subtree *s, const char *name, const char *value)
{
    int i = st_find(s, name);

    s->dir = true;
    if (i >= 0) {
        free(s->value[i]);
        s->value[i] = strdup(value);
        return;
    }
    if (s->n == MAXN || !*name || strchr(name, '/'))
        return;
    s->name[s->n] = strdup(name);
    s->value[s->n++] = strdup(value);
}

static void st_rm(subtree *s, const char *name)
{
    int i = st_find(s, name);

    if (i < 0)
        return;
    free(s->name[i]);
    free(s->value[i]);
    s->name[i] = s->name[--s->n];
    s->value[i] = s->value[s->n];
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' :
           c >= 'a' && c <= 'f' ? c - 'a' + 10 :
           c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One dump line: leaf name and unescaped value. */
static void parse_line(subtree *s, char *line)
{
    char *eq = strstr(line, " = \""), *end, *leaf, *v, *o;

    if (!eq)
        return;
    *eq = '\0';
    end = strrchr(eq + 4, '"');
    if (!end)
        return;
    *end = '\0';
    leaf = strrchr(line, '/');
    leaf = leaf ? leaf + 1 : line;
    for (v = o = eq + 4; *v; v++) {
        if (v[0] == '\\' && v[1] == 'x' && hexval(v[2]) >= 0 &&
            hexval(v[3]) >= 0) {
            char c = (char)(hexval(v[2]) << 4 | hexval(v[3]));

            v += 3;
            if (!c)
                c = '?';               /* xenstore values have no NUL */
            *o++ = c;
        } else {
            *o++ = *v;
        }
    }
    *o = '\0';
    st_set(s, leaf, eq + 4);
}

/* The view xlpci_view_read would build from the subtree. */
static void st_view(const subtree *s, xlpci_view *v)
{
    enum xlpci_key k;
    unsigned i, idx;
    int j;

    xlpci_view_init(v);
    if (!s->dir)
        return;
    v->dir_exists = true;
    v->names = calloc(s->n + 1, sizeof(char *));
    if (!v->names)
        abort();
    for (i = 0; i < s->n; i++)
        v->names[i] = s->name[i];      /* borrowed */
    v->nnames = s->n;
    j = st_find(s, "num_devs");
    v->num_raw = j >= 0 ? strdup(s->value[j]) : NULL;
    j = st_find(s, "state");
    v->state_raw = j >= 0 ? strdup(s->value[j]) : NULL;
    if (xlpci_view_setup(v))
        abort();
    if (v->num_devs > XLPCI_MAX_DEVS)
        abort();
    for (i = 0; i < s->n; i++)
        if (xlpci_split_key(s->name[i], &k, &idx) && idx < v->num_devs &&
            !(v->keys[idx][k] = strdup(s->value[i])))
            abort();
    xlpci_view_rows(v);
}

static void view_free(xlpci_view *v)
{
    free(v->names);                    /* the strings are the subtree's */
    v->names = NULL;
    xlpci_view_dispose(v);
}

typedef struct {
    unsigned *drop, ndrop;
    unsigned count[XLPCI_PB_ORPHAN + 1];
} found;

static void on_problem(void *arg, enum xlpci_problem_kind kind,
                       unsigned index, const char *msg)
{
    found *f = arg;
    unsigned j;

    if (!msg || !*msg)
        abort();                       /* every problem says what it is */
    f->count[kind]++;
    if (kind != XLPCI_PB_ROW)
        return;
    for (j = 0; j < f->ndrop; j++)
        if (f->drop[j] == index)
            return;
    f->drop[f->ndrop++] = index;
}

static void check_accepted(const xlpci_view *v)
{
    char err[256];
    xlpci_entry e;
    unsigned i;

    for (i = 0; i < v->num_devs; i++) {
        if (xlpci_view_entry(v, i, &e, err, sizeof(err)))
            abort();                   /* accepted, so every row parses */
        if (xlpci_view_find(v, &e.dev.bdf) != (int)i)
            abort();                   /* no device twice */
        xlpci_dev_dispose(&e.dev);
        free(e.vdev);
    }
}

/* Apply the planned operations to the subtree (only the backend's). */
static void st_apply(subtree *s, const xlpci_ops *ops)
{
    char be[XLPCI_PATH_MAX];
    size_t i, blen;

    xlpci_be_path(be, DOMID);
    blen = strlen(be);
    for (i = 0; i < ops->n; i++) {
        const xlpci_op *op = &ops->v[i];

        if (!strcmp(op->path, be) && op->kind == XLPCI_OP_RM) {
            st_free(s);
            s->dir = false;
            continue;
        }
        if (strncmp(op->path, be, blen) || op->path[blen] != '/')
            continue;
        if (op->kind == XLPCI_OP_RM)
            st_rm(s, op->path + blen + 1);
        else if (op->kind == XLPCI_OP_WRITE)
            st_set(s, op->path + blen + 1, op->value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *line, *save = NULL, err[400];
    subtree s;
    xlpci_view v;
    xlpci_ops ops;
    found f;
    int rc;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    memset(&s, 0, sizeof(s));
    for (line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        parse_line(&s, line);
    free(text);

    st_view(&s, &v);
    memset(&f, 0, sizeof(f));
    f.drop = calloc(v.num_devs + 1, sizeof(*f.drop));
    if (!f.drop)
        abort();
    xlpci_view_problems(&v, DOMID, on_problem, &f);
    rc = xlpci_view_check(&v, DOMID, err, sizeof(err));
    if (rc && (rc != XLPCI_ERR_CORRUPT || !err[0]))
        abort();
    if (!rc != !(f.count[XLPCI_PB_NUM] + f.count[XLPCI_PB_ROW] +
                 f.count[XLPCI_PB_VALUE] + f.count[XLPCI_PB_STATE]))
        abort();                       /* check refuses what is reported */
    if (!rc)
        check_accepted(&v);

    /* the repair of check --repair (check.c) */
    xlpci_ops_init(&ops);
    rc = 0;
    if (v.dir_exists && (f.ndrop || v.num_bad || !v.num_raw))
        rc = xlpci_layout_remove(&ops, DOMID, &v, f.drop, f.ndrop);
    if (!rc && v.dir_exists && (v.num_devs > f.ndrop ||
                                (!f.ndrop && !v.num_bad && v.num_raw)))
        rc = xlpci_layout_rm_orphans(&ops, DOMID, &v);
    if (rc)
        abort();
    free(f.drop);
    view_free(&v);
    if (!rc) {
        st_apply(&s, &ops);
        st_view(&s, &v);
        memset(&f, 0, sizeof(f));
        f.drop = calloc(v.num_devs + 1, sizeof(*f.drop));
        if (!f.drop)
            abort();
        xlpci_view_problems(&v, DOMID, on_problem, &f);
        if (f.count[XLPCI_PB_NUM] || f.count[XLPCI_PB_ROW] ||
            f.count[XLPCI_PB_ORPHAN])
            abort();                   /* the repair converges */
        free(f.drop);
        view_free(&v);
    }
    xlpci_ops_dispose(&ops);
    st_free(&s);
    return 0;
}

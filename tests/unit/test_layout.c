/*
 * Layout: which xenstore operations each step plans.  The operations are
 * applied to a small path -> value map here, so the tests assert the
 * resulting tree (what pciback would read), not just the op list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

#define BE "/local/domain/0/backend/pci/5/0"
#define FE "/local/domain/5/device/pci/0"

/* ---- a tiny tree: sorted list of path = value ---------------------------- */

#define TREE_MAX 512
typedef struct {
    char *path[TREE_MAX];
    char *value[TREE_MAX];
    unsigned n;
} tree;

static int tree_find(const tree *t, const char *path)
{
    unsigned i;

    for (i = 0; i < t->n; i++)
        if (!strcmp(t->path[i], path))
            return (int)i;
    return -1;
}

static void tree_set(tree *t, const char *path, const char *value)
{
    int i = tree_find(t, path);

    if (i >= 0) {
        free(t->value[i]);
        t->value[i] = strdup(value);
        return;
    }
    assert_true(t->n < TREE_MAX);
    t->path[t->n] = strdup(path);
    t->value[t->n++] = strdup(value);
}

static const char *tree_get(const tree *t, const char *path)
{
    int i = tree_find(t, path);

    return i < 0 ? NULL : t->value[i];
}

/* xs_rm semantics: the node and everything below it. */
static void tree_rm(tree *t, const char *path)
{
    size_t len = strlen(path);
    unsigned i, j = 0;

    for (i = 0; i < t->n; i++) {
        if (!strncmp(t->path[i], path, len) &&
            (t->path[i][len] == '\0' || t->path[i][len] == '/')) {
            free(t->path[i]);
            free(t->value[i]);
        } else {
            t->path[j] = t->path[i];
            t->value[j++] = t->value[i];
        }
    }
    t->n = j;
}

static void tree_free(tree *t)
{
    tree_rm(t, "");
    t->n = 0;
}

static void tree_apply(tree *t, const xlpci_ops *ops)
{
    size_t i;

    for (i = 0; i < ops->n; i++) {
        const xlpci_op *op = &ops->v[i];

        switch (op->kind) {
        case XLPCI_OP_RM: tree_rm(t, op->path); break;
        case XLPCI_OP_MKDIR:
            if (tree_find(t, op->path) < 0)
                tree_set(t, op->path, "");
            break;
        case XLPCI_OP_WRITE: tree_set(t, op->path, op->value); break;
        case XLPCI_OP_PERMS: assert_true(tree_find(t, op->path) >= 0); break;
        }
    }
}

/* Build the view a transaction would read from the tree (what
 * xlpci_view_read_keys does through xenstore): of rows below full only the
 * keys in keys, of the others every key. */
static void tree_view_keys(const tree *t, xlpci_view *v, unsigned keys,
                           unsigned full)
{
    const char *num = tree_get(t, BE "/num_devs");
    const char *st = tree_get(t, BE "/state");
    size_t blen = strlen(BE "/");
    unsigned i, n = 0, idx;
    enum xlpci_key k;

    xlpci_view_init(v);
    v->dir_exists = tree_find(t, BE) >= 0;
    v->names = calloc(TREE_MAX, sizeof(char *));
    for (i = 0; i < t->n; i++)
        if (!strncmp(t->path[i], BE "/", blen) &&
            !strchr(t->path[i] + blen, '/'))
            v->names[n++] = t->path[i] + blen;   /* borrowed */
    v->nnames = n;
    v->num_raw = num ? strdup(num) : NULL;
    v->state_raw = st ? strdup(st) : NULL;
    assert_int_equal(xlpci_view_setup(v), 0);
    for (i = 0; i < n; i++)
        if (xlpci_split_key(v->names[i], &k, &idx) && idx < v->num_devs &&
            (idx >= full || (keys & XLPCI_KEY_BIT(k)))) {
            char p[XLPCI_PATH_MAX];

            snprintf(p, sizeof(p), BE "/%s", v->names[i]);
            v->keys[idx][k] = strdup(tree_get(t, p));
        }
    xlpci_view_rows(v);
}

static void tree_view(const tree *t, xlpci_view *v)
{
    tree_view_keys(t, v, XLPCI_KEYS_ALL, 0);
}

/* names are borrowed from the tree: free them as one array only. */
static void view_free(xlpci_view *v)
{
    char **names = v->names;

    v->names = NULL;
    free(names);
    xlpci_view_dispose(v);
}

static xlpci_dev mkdev(unsigned bus, unsigned dev, unsigned func,
                       unsigned vdevfn)
{
    xlpci_dev d;

    memset(&d, 0, sizeof(d));
    d.bdf.bus = bus;
    d.bdf.dev = dev;
    d.bdf.func = func;
    d.vdevfn = vdevfn;
    return d;
}

/* A backend with 3 devices as pciback leaves it after setup. */
static void three_devices(tree *t)
{
    xlpci_dev devs[3] = { mkdev(3, 0, 0, 0), mkdev(4, 0, 1, 0x18),
                          mkdev(5, 2, 0, 0) };
    xlpci_ops ops;

    memset(t, 0, sizeof(*t));
    devs[2].name = (char *)"nic2";
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_create(&ops, 5, "guest", devs, 3), 0);
    tree_apply(t, &ops);
    xlpci_ops_dispose(&ops);
    /* what pciback writes */
    tree_set(t, BE "/state", "4");
    tree_set(t, BE "/state-0", "3");
    tree_set(t, BE "/state-1", "3");
    tree_set(t, BE "/state-2", "3");
    tree_set(t, BE "/vdev-0", "0000:00:00.00");
    tree_set(t, BE "/vdev-1", "0000:00:01.00");
    tree_set(t, BE "/vdev-2", "0000:00:02.00");
}

static unsigned count_index_keys(const tree *t, unsigned index)
{
    size_t blen = strlen(BE "/");
    enum xlpci_key k;
    unsigned i, n = 0, idx;

    for (i = 0; i < t->n; i++)
        if (!strncmp(t->path[i], BE "/", blen) &&
            xlpci_split_key(t->path[i] + blen, &k, &idx) && idx == index)
            n++;
    return n;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_create(void **state)
{
    xlpci_dev devs[2] = { mkdev(3, 0, 0, 0), mkdev(4, 0, 1, 0x18) };
    xlpci_ops ops;
    tree t;

    (void)state;
    memset(&t, 0, sizeof(t));
    tree_set(&t, BE "/stale", "x");            /* left by an old domain */
    devs[1].permissive = true;
    devs[1].name = (char *)"nic0";
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_create(&ops, 5, "guest", devs, 2), 0);

    /* Both dirs are wiped, created and given their permissions first. */
    assert_int_equal(ops.v[0].kind, XLPCI_OP_RM);
    assert_string_equal(ops.v[0].path, BE);
    assert_int_equal(ops.v[2].kind, XLPCI_OP_PERMS);
    assert_int_equal(ops.v[2].perms[0].id, 0);
    assert_int_equal(ops.v[2].perms[0].perms, XS_PERM_NONE);
    assert_int_equal(ops.v[2].perms[1].id, 5);
    assert_int_equal(ops.v[2].perms[1].perms, XS_PERM_READ);
    assert_int_equal(ops.v[5].kind, XLPCI_OP_PERMS);
    assert_string_equal(ops.v[5].path, FE);
    assert_int_equal(ops.v[5].perms[0].id, 5);
    assert_int_equal(ops.v[5].perms[1].id, 0);

    tree_apply(&t, &ops);
    assert_null(tree_get(&t, BE "/stale"));
    assert_string_equal(tree_get(&t, BE "/frontend"), FE);
    assert_string_equal(tree_get(&t, BE "/frontend-id"), "5");
    assert_string_equal(tree_get(&t, BE "/online"), "1");
    assert_string_equal(tree_get(&t, BE "/state"), "1");
    assert_string_equal(tree_get(&t, BE "/domain"), "guest");
    assert_string_equal(tree_get(&t, BE "/num_devs"), "2");
    assert_string_equal(tree_get(&t, BE "/dev-0"), "0000:03:00.0");
    assert_string_equal(tree_get(&t, BE "/key-0"), "0000:03:00.0");
    assert_null(tree_get(&t, BE "/vdevfn-0"));      /* only when non-zero */
    assert_null(tree_get(&t, BE "/name-0"));
    assert_string_equal(tree_get(&t, BE "/state-0"), "1");
    assert_string_equal(tree_get(&t, BE "/opts-0"),
        "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict");
    assert_string_equal(tree_get(&t, BE "/dev-1"), "0000:04:00.1");
    assert_string_equal(tree_get(&t, BE "/vdevfn-1"), "18");
    assert_string_equal(tree_get(&t, BE "/name-1"), "nic0");
    assert_string_equal(tree_get(&t, BE "/opts-1"),
        "msitranslate=0,power_mgmt=0,permissive=1,rdm_policy=strict");
    assert_string_equal(tree_get(&t, FE "/backend"), BE);
    assert_string_equal(tree_get(&t, FE "/backend-id"), "0");
    assert_string_equal(tree_get(&t, FE "/state"), "1");
    assert_int_equal(count_index_keys(&t, 2), 0);
    xlpci_ops_dispose(&ops);
    tree_free(&t);
}

static void test_create_without_name(void **state)
{
    xlpci_dev d = mkdev(3, 0, 0, 0);
    xlpci_ops ops;
    size_t i;

    (void)state;
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_create(&ops, 5, NULL, &d, 1), 0);
    for (i = 0; i < ops.n; i++)
        assert_null(strstr(ops.v[i].path, "/0/domain"));
    xlpci_ops_dispose(&ops);
}

static void test_append_reconfigure(void **state)
{
    xlpci_dev d = mkdev(6, 0, 0, 0x20);
    xlpci_view v;
    xlpci_ops ops;
    tree t;

    (void)state;
    three_devices(&t);
    tree_set(&t, BE "/vdev-3", "0000:00:09.00");    /* stale leftover */
    tree_view(&t, &v);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_append(&ops, 5, &v, &d, 1, true), 0);
    tree_apply(&t, &ops);
    assert_string_equal(tree_get(&t, BE "/num_devs"), "4");
    assert_string_equal(tree_get(&t, BE "/dev-3"), "0000:06:00.0");
    assert_string_equal(tree_get(&t, BE "/state-3"), "1");
    assert_string_equal(tree_get(&t, BE "/vdevfn-3"), "20");
    assert_null(tree_get(&t, BE "/vdev-3"));
    assert_string_equal(tree_get(&t, BE "/state"), "7");
    /* the others are untouched */
    assert_string_equal(tree_get(&t, BE "/state-0"), "3");
    assert_string_equal(tree_get(&t, BE "/dev-2"), "0000:05:02.0");
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_free(&t);
}

static void test_append_initialising(void **state)
{
    xlpci_dev d = mkdev(6, 0, 0, 0);
    xlpci_view v;
    xlpci_ops ops;
    size_t i;
    tree t;

    (void)state;
    three_devices(&t);
    tree_set(&t, BE "/state", "1");
    tree_view(&t, &v);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_append(&ops, 5, &v, &d, 1, false), 0);
    for (i = 0; i < ops.n; i++)
        assert_string_not_equal(ops.v[i].path, BE "/state");
    tree_apply(&t, &ops);
    assert_string_equal(tree_get(&t, BE "/num_devs"), "4");
    assert_string_equal(tree_get(&t, BE "/state"), "1");
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_free(&t);
}

static void test_remove_middle(void **state)
{
    unsigned idx = 1;
    xlpci_view v;
    xlpci_ops ops;
    tree t;

    (void)state;
    three_devices(&t);
    tree_set(&t, BE "/state-1", "5");
    tree_view(&t, &v);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, &idx, 1), 0);
    tree_apply(&t, &ops);
    assert_string_equal(tree_get(&t, BE "/num_devs"), "2");
    assert_string_equal(tree_get(&t, BE "/dev-0"), "0000:03:00.0");
    assert_string_equal(tree_get(&t, BE "/vdev-0"), "0000:00:00.00");
    /* index 2 moved down with everything pciback needs to find it */
    assert_string_equal(tree_get(&t, BE "/dev-1"), "0000:05:02.0");
    assert_string_equal(tree_get(&t, BE "/key-1"), "0000:05:02.0");
    assert_string_equal(tree_get(&t, BE "/vdev-1"), "0000:00:02.00");
    assert_string_equal(tree_get(&t, BE "/state-1"), "3");
    assert_string_equal(tree_get(&t, BE "/name-1"), "nic2");
    /* the removed device's vdevfn must not stick to its successor */
    assert_null(tree_get(&t, BE "/vdevfn-1"));
    assert_int_equal(count_index_keys(&t, 2), 0);
    assert_string_equal(tree_get(&t, BE "/state"), "4");
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_free(&t);
}

static void test_remove_first_two(void **state)
{
    unsigned idx[2] = { 1, 0 };
    xlpci_view v;
    xlpci_ops ops;
    tree t;

    (void)state;
    three_devices(&t);
    tree_view(&t, &v);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, idx, 2), 0);
    tree_apply(&t, &ops);
    assert_string_equal(tree_get(&t, BE "/num_devs"), "1");
    assert_string_equal(tree_get(&t, BE "/dev-0"), "0000:05:02.0");
    assert_string_equal(tree_get(&t, BE "/vdev-0"), "0000:00:02.00");
    assert_int_equal(count_index_keys(&t, 1), 0);
    assert_int_equal(count_index_keys(&t, 2), 0);
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_free(&t);
}

/* A view read light (dev-N and state-N of every row, as a hot path reads
 * it): the removal of the last index removes every key the listing shows
 * there, values unread; a row that moves needs its values read (else the
 * removal refuses, never writing what it does not know), and with them
 * the result is the same as from a view read whole. */
static void test_remove_light_view(void **state)
{
    const unsigned light = XLPCI_KEY_BIT(XLPCI_KEY_DEV) |
                           XLPCI_KEY_BIT(XLPCI_KEY_STATE);
    unsigned last = 2, first = 0, i;
    xlpci_view v;
    xlpci_ops ops;
    tree t, whole;

    (void)state;
    three_devices(&t);
    tree_view_keys(&t, &v, light, 3);
    assert_null(v.keys[2][XLPCI_KEY_VDEV]);          /* not read */
    assert_true(xlpci_view_listed(&v, XLPCI_KEY_VDEV, 2));
    assert_false(xlpci_view_listed(&v, XLPCI_KEY_VDEVFN, 2));
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, &last, 1), 0);
    tree_apply(&t, &ops);
    assert_string_equal(tree_get(&t, BE "/num_devs"), "2");
    assert_int_equal(count_index_keys(&t, 2), 0);
    assert_string_equal(tree_get(&t, BE "/vdev-1"), "0000:00:01.00");
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_free(&t);

    /* index 0 goes, rows 1 and 2 move down */
    three_devices(&t);
    three_devices(&whole);
    tree_view_keys(&t, &v, light, 3);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, &first, 1),
                     XLPCI_ERR_INVAL);
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_view_keys(&t, &v, light, 1);                /* rows 1, 2 whole */
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, &first, 1), 0);
    tree_apply(&t, &ops);
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_view(&whole, &v);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, &first, 1), 0);
    tree_apply(&whole, &ops);
    xlpci_ops_dispose(&ops);
    view_free(&v);
    assert_int_equal(t.n, whole.n);
    for (i = 0; i < t.n; i++) {
        assert_string_equal(t.path[i], whole.path[i]);
        assert_string_equal(t.value[i], whole.value[i]);
    }
    tree_free(&t);
    tree_free(&whole);
}

static void test_remove_last_device(void **state)
{
    unsigned idx[3] = { 0, 1, 2 };
    xlpci_view v;
    xlpci_ops ops;
    tree t;

    (void)state;
    three_devices(&t);
    tree_view(&t, &v);
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, idx, 3), 0);
    assert_int_equal(ops.n, 2);
    tree_apply(&t, &ops);
    assert_int_equal(tree_find(&t, BE), -1);
    assert_int_equal(tree_find(&t, FE), -1);
    /* out of range */
    idx[0] = 3;
    xlpci_ops_reset(&ops);
    assert_int_equal(xlpci_layout_remove(&ops, 5, &v, idx, 1),
                     XLPCI_ERR_INVAL);
    xlpci_ops_dispose(&ops);
    view_free(&v);
    tree_free(&t);
}

static void test_detach_begin(void **state)
{
    unsigned idx[2] = { 2, 0 };
    xlpci_ops ops;

    (void)state;
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_layout_detach_begin(&ops, 5, idx, 2), 0);
    assert_int_equal(ops.n, 3);
    assert_string_equal(ops.v[0].path, BE "/state-2");
    assert_string_equal(ops.v[0].value, "5");
    assert_string_equal(ops.v[1].path, BE "/state-0");
    assert_string_equal(ops.v[2].path, BE "/state");
    assert_string_equal(ops.v[2].value, "7");
    xlpci_ops_dispose(&ops);
}

static void test_view_check(void **state)
{
    xlpci_view v;
    char err[256];
    tree t;

    (void)state;
    three_devices(&t);
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)), 0);
    assert_int_equal(xlpci_view_find(&v, &(xlpci_bdf){ 0, 5, 2, 0 }), 2);
    assert_int_equal(xlpci_view_find(&v, &(xlpci_bdf){ 0, 5, 2, 1 }), -1);
    view_free(&v);

    tree_rm(&t, BE "/dev-1");
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "num_devs is 3 but dev-1 is missing"));
    view_free(&v);

    tree_set(&t, BE "/dev-1", "garbage");
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "dev-1 = \"garbage\""));
    view_free(&v);

    tree_set(&t, BE "/dev-1", "0000:03:00.0");
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "both 0000:03:00.0"));
    view_free(&v);
    tree_free(&t);
}

typedef struct {
    unsigned n[XLPCI_PB_ORPHAN + 1];
    char last[XLPCI_PB_ORPHAN + 1][400];
} pb_count;

static void count_problem(void *arg, enum xlpci_problem_kind kind,
                          unsigned index, const char *msg)
{
    pb_count *c = arg;

    (void)index;
    c->n[kind]++;
    snprintf(c->last[kind], sizeof(c->last[kind]), "%s", msg);
}

static void problems_of(const tree *t, pb_count *c)
{
    xlpci_view v;

    memset(c, 0, sizeof(*c));
    tree_view(t, &v);
    xlpci_view_problems(&v, 5, count_problem, c);
    view_free(&v);
}

/* The one parser: devices compared by parsed address, every index seen
 * (orphans at any index, non-canonical spellings), malformed per-index
 * values and a damaged num_devs named. */
/* Issue 21: an append refuses orphan keys at the indices it would write
 * (they were written over, then removed by the rolled-back cycle). */
static void test_view_check_append(void **state)
{
    xlpci_view v;
    char err[400];
    tree t;

    (void)state;
    three_devices(&t);
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check_append(&v, 5, 2, err, sizeof(err)), 0);
    view_free(&v);
    tree_set(&t, BE "/dev-4", "0000:09:00.0");       /* past the append */
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check_append(&v, 5, 1, err, sizeof(err)), 0);
    assert_int_equal(xlpci_view_check_append(&v, 5, 2, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "dev-4 lies at index 4, past num_devs 3"));
    assert_non_null(strstr(err, "check --repair 5"));
    view_free(&v);
    tree_set(&t, BE "/state-3", "3");
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check_append(&v, 5, 1, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "state-3 lies at index 3"));
    view_free(&v);
    tree_free(&t);
}

static void test_view_parser(void **state)
{
    static const struct { const char *key, *value; } bad_values[] = {
        { "state-1", "x" }, { "vdevfn-1", "zz" }, { "vdevfn-1", "-1" },
        { "vdevfn-1", "100" }, { "opts-1", "permissive=2" },
        { "opts-1", "rdm_policy=maybe" }, { "opts-1", "junk" },
    };
    xlpci_view v;
    char err[400];
    pb_count c;
    size_t i;
    tree t;

    (void)state;
    /* same device, two spellings */
    three_devices(&t);
    tree_set(&t, BE "/dev-1", "03:00.0");
    tree_set(&t, BE "/dev-0", "0000:03:00.0");
    problems_of(&t, &c);
    assert_int_equal(c.n[XLPCI_PB_ROW], 1);
    assert_non_null(strstr(c.last[XLPCI_PB_ROW], "both 0000:03:00.0"));
    tree_set(&t, BE "/dev-0", "0000:0A:00.0");
    tree_set(&t, BE "/dev-1", "0000:0a:00.0");
    problems_of(&t, &c);
    assert_int_equal(c.n[XLPCI_PB_ROW], 1);
    tree_free(&t);

    /* orphans: past num_devs at any index, and non-canonical spellings */
    three_devices(&t);
    tree_set(&t, BE "/dev-256", "0000:09:00.0");
    tree_set(&t, BE "/state-4000000000", "1");
    tree_set(&t, BE "/dev-03", "0000:09:00.0");
    tree_set(&t, BE "/vdev-99999999999", "x");
    tree_set(&t, BE "/devices", "not per-index");
    problems_of(&t, &c);
    assert_int_equal(c.n[XLPCI_PB_ORPHAN], 4);
    assert_int_equal(c.n[XLPCI_PB_ROW] + c.n[XLPCI_PB_NUM] +
                     c.n[XLPCI_PB_VALUE] + c.n[XLPCI_PB_STATE], 0);
    tree_view(&t, &v);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)), 0);
    view_free(&v);
    tree_free(&t);

    /* malformed per-index values: flows refuse, named */
    for (i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        char p[XLPCI_PATH_MAX];

        three_devices(&t);
        snprintf(p, sizeof(p), BE "/%s", bad_values[i].key);
        tree_set(&t, p, bad_values[i].value);
        problems_of(&t, &c);
        if (c.n[XLPCI_PB_VALUE] != 1)
            fail_msg("%s = %s: not reported", bad_values[i].key,
                     bad_values[i].value);
        tree_view(&t, &v);
        assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                         XLPCI_ERR_CORRUPT);
        assert_non_null(strstr(err, bad_values[i].key));
        view_free(&v);
        tree_free(&t);
    }

    /* num_devs: absent with devices listed, or past 256: the rows are the
     * dense run of dev-N, never more than 256 */
    three_devices(&t);
    tree_rm(&t, BE "/num_devs");
    tree_view(&t, &v);
    assert_true(v.num_bad);
    assert_false(v.exists);
    assert_int_equal(v.num_devs, 3);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "no num_devs"));
    assert_non_null(strstr(err, "check --repair 5"));
    view_free(&v);
    tree_set(&t, BE "/num_devs", "257");
    tree_view(&t, &v);
    assert_true(v.num_bad);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "not a device count (0-256)"));
    view_free(&v);
    tree_free(&t);

    /* a leftover directory without num_devs nor devices is no damage */
    memset(&t, 0, sizeof(t));
    tree_set(&t, BE, "");
    tree_set(&t, BE "/state", "6");
    tree_view(&t, &v);
    assert_false(v.num_bad);
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)), 0);
    view_free(&v);
    tree_free(&t);
}

/* state-N parsed once into row_state: the flows compare these, never the
 * strings, so only the canonical spelling of a state counts as it. */
static void test_row_states(void **state)
{
    xlpci_entry e;
    xlpci_view v;
    char err[200];
    tree t;

    (void)state;
    three_devices(&t);
    tree_set(&t, BE "/state-0", "5");
    tree_set(&t, BE "/state-1", "05");
    tree_rm(&t, BE "/state-2");
    tree_view(&t, &v);
    assert_int_equal(v.row_state[0], XenbusStateClosing);
    assert_int_equal(v.row_state[1], XLPCI_ROW_BAD);
    assert_int_equal(v.row_state[2], XLPCI_ROW_ABSENT);
    /* "05" is not a xenbus state: the view check and the entry say so */
    assert_int_equal(xlpci_view_check(&v, 5, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "state-1 = \"05\" is not a xenbus state"));
    assert_int_equal(xlpci_view_entry(&v, 1, &e, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_view_entry(&v, 2, &e, err, sizeof(err)), 0);
    assert_int_equal(e.state, -1);
    xlpci_dev_dispose(&e.dev);
    free(e.vdev);
    assert_int_equal(xlpci_view_entry(&v, 0, &e, err, sizeof(err)), 0);
    assert_int_equal(e.state, XenbusStateClosing);
    xlpci_dev_dispose(&e.dev);
    free(e.vdev);
    view_free(&v);
    tree_free(&t);
}

static void test_parse_uint(void **state)
{
    unsigned v;

    (void)state;
    assert_int_equal(xlpci_parse_uint("0", 256, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(xlpci_parse_uint("256", 256, &v), 0);
    assert_int_equal(v, 256);
    assert_int_equal(xlpci_parse_uint("257", 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint("abc", 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint("-1", 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint("", 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint(NULL, 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint("01", 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint("3 ", 256, &v), XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_parse_uint("99999999999", ~0u, &v),
                     XLPCI_ERR_CORRUPT);
}

static void test_opts_and_keys(void **state)
{
    xlpci_dev d, back;
    enum xlpci_key k;
    unsigned idx;
    char buf[128];

    (void)state;
    memset(&d, 0, sizeof(d));
    d.permissive = true;
    d.rdm_policy = XLPCI_RDM_RELAXED;
    assert_int_equal(xlpci_opts_format(&d, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "msitranslate=0,power_mgmt=0,permissive=1,"
                             "rdm_policy=relaxed");
    memset(&back, 0, sizeof(back));
    assert_int_equal(xlpci_opts_parse(buf, &back), 0);
    assert_true(back.permissive);
    assert_false(back.msitranslate);
    assert_int_equal(back.rdm_policy, XLPCI_RDM_RELAXED);
    /* Xen <= 4.14 wrote no rdm_policy */
    assert_int_equal(xlpci_opts_parse("msitranslate=1,power_mgmt=0,"
                                      "permissive=0", &back), 0);
    assert_true(back.msitranslate);
    assert_int_equal(xlpci_opts_parse("permissive", &back),
                     XLPCI_ERR_CORRUPT);
    assert_int_equal(xlpci_opts_parse("permissive=7", &back),
                     XLPCI_ERR_CORRUPT);

    assert_true(xlpci_split_key("dev-12", &k, &idx));
    assert_int_equal(k, XLPCI_KEY_DEV);
    assert_int_equal(idx, 12);
    assert_true(xlpci_split_key("vdevfn-0", &k, &idx));
    assert_int_equal(k, XLPCI_KEY_VDEVFN);
    assert_true(xlpci_split_key("vdev-3", &k, &idx));
    assert_int_equal(k, XLPCI_KEY_VDEV);
    assert_false(xlpci_split_key("root-0", &k, &idx));
    assert_false(xlpci_split_key("num_devs", &k, &idx));
    assert_false(xlpci_split_key("dev-", &k, &idx));
    assert_false(xlpci_split_key("dev-x", &k, &idx));
    assert_false(xlpci_split_key("frontend-id", &k, &idx));
}

static void test_ops_print(void **state)
{
    xlpci_ops ops;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    xlpci_ops_init(&ops);
    assert_int_equal(xlpci_ops_rm(&ops, "/a"), 0);
    assert_int_equal(xlpci_ops_mkdir(&ops, "/a"), 0);
    assert_int_equal(xlpci_ops_perms(&ops, "/a", 0, 5), 0);
    assert_int_equal(xlpci_ops_writef(&ops, "/a/n", "%d", 3), 0);
    xlpci_ops_print(&ops, f);
    fclose(f);
    assert_string_equal(buf, "rm /a\nmkdir /a\nsetperms /a n0 r5\n"
                             "write /a/n = \"3\"\n");
    free(buf);
    xlpci_ops_dispose(&ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_create_without_name),
        cmocka_unit_test(test_append_reconfigure),
        cmocka_unit_test(test_append_initialising),
        cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_remove_first_two),
        cmocka_unit_test(test_remove_light_view),
        cmocka_unit_test(test_remove_last_device),
        cmocka_unit_test(test_detach_begin),
        cmocka_unit_test(test_view_check),
        cmocka_unit_test(test_view_check_append),
        cmocka_unit_test(test_view_parser),
        cmocka_unit_test(test_row_states),
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_opts_and_keys),
        cmocka_unit_test(test_ops_print),
    };

    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}

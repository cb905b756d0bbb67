/* pci-list -l: the JSON is valid, parses back, and carries the fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "libxlpci_priv.h"

static void test_json_roundtrip(void **state)
{
    xlpci_entry e[2];
    char *json = NULL, errbuf[256];
    yajl_val root, v;
    const char *p_bus[] = { "bus", NULL };
    const char *p_vdevfn[] = { "vdevfn", NULL };
    const char *p_name[] = { "name", NULL };
    const char *p_perm[] = { "permissive", NULL };
    const char *p_vdev[] = { "vdev", NULL };
    const char *p_rdm[] = { "rdm_policy", NULL };

    (void)state;
    memset(e, 0, sizeof(e));
    e[0].index = 0;
    e[0].dev.bdf = (xlpci_bdf){ 0, 3, 0, 0 };
    e[0].state = 3;
    e[0].vdev = (char *)"0000:00:00.00";
    e[1].index = 1;
    e[1].dev.bdf = (xlpci_bdf){ 1, 4, 2, 1 };
    e[1].dev.vdevfn = 0x18;
    e[1].dev.permissive = true;
    e[1].dev.rdm_policy = XLPCI_RDM_RELAXED;
    e[1].dev.name = (char *)"quote\"and\\slash";
    e[1].state = -1;

    assert_int_equal(xlpci_entries_json(e, 2, &json), 0);
    root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
    if (!root)
        fail_msg("invalid JSON: %s\n%s", errbuf, json);
    assert_true(YAJL_IS_ARRAY(root));
    assert_int_equal(root->u.array.len, 2);

    v = yajl_tree_get(root->u.array.values[0], p_bus, yajl_t_number);
    assert_int_equal(YAJL_GET_INTEGER(v), 3);
    v = yajl_tree_get(root->u.array.values[0], p_name, yajl_t_null);
    assert_non_null(v);
    v = yajl_tree_get(root->u.array.values[0], p_vdev, yajl_t_string);
    assert_string_equal(YAJL_GET_STRING(v), "0000:00:00.00");
    v = yajl_tree_get(root->u.array.values[1], p_vdevfn, yajl_t_number);
    assert_int_equal(YAJL_GET_INTEGER(v), 0x18);
    v = yajl_tree_get(root->u.array.values[1], p_name, yajl_t_string);
    assert_string_equal(YAJL_GET_STRING(v), "quote\"and\\slash");
    v = yajl_tree_get(root->u.array.values[1], p_perm, yajl_t_true);
    assert_non_null(v);
    v = yajl_tree_get(root->u.array.values[1], p_rdm, yajl_t_string);
    assert_string_equal(YAJL_GET_STRING(v), "relaxed");
    yajl_tree_free(root);
    free(json);
}

static void test_json_empty(void **state)
{
    char *json = NULL, errbuf[64];
    yajl_val root;

    (void)state;
    assert_int_equal(xlpci_entries_json(NULL, 0, &json), 0);
    root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
    assert_non_null(root);
    assert_true(YAJL_IS_ARRAY(root));
    assert_int_equal(root->u.array.len, 0);
    yajl_tree_free(root);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_json_empty),
    };

    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}

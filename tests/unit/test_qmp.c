/*
 * QMP messages (libxlpci/qmpmsg.c): the commands libxl sends for PCI
 * passthrough, built through yajl and read back; the replies, errors,
 * events and greetings QEMU sends, as its QAPI schema describes them; the
 * slot of a device in query-pci; what is not QMP.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "libxlpci_priv.h"

/* The command, parsed back; fails the test if it is not JSON. */
static yajl_val parse_cmd(const char *json)
{
    char err[256];
    yajl_val v = yajl_tree_parse(json, err, sizeof(err));

    if (!v)
        fail_msg("not JSON (%s): %s", err, json);
    return v;
}

static const char *str_at(yajl_val root, const char *a, const char *b)
{
    const char *path[] = { a, b, NULL };
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);

    return v ? YAJL_GET_STRING(v) : NULL;
}

static void test_qdev_id(void **state)
{
    char id[XLPCI_QDEV_ID_LEN];
    xlpci_bdf b = { 0x0001, 0x04, 0x1f, 7 };

    (void)state;
    xlpci_qdev_id(&b, id);
    /* libxl's PCI_PT_QDEV_ID: no segment */
    assert_string_equal(id, "pci-pt-04_1f.7");
    b = (xlpci_bdf){ 0, 0xff, 0, 0 };
    xlpci_qdev_id(&b, id);
    assert_string_equal(id, "pci-pt-ff_00.0");
}

static void test_build_device_add(void **state)
{
    xlpci_dev d;
    char *json = NULL;
    yajl_val v, id;
    const char *p_id[] = { "id", NULL };
    const char *p_perm[] = { "arguments", "permissive", NULL };
    const char *p_addr[] = { "arguments", "addr", NULL };

    (void)state;
    memset(&d, 0, sizeof(d));
    d.bdf = (xlpci_bdf){ 0, 4, 0, 0 };
    assert_int_equal(xlpci_qmp_build_device_add(&d, 7, &json), 0);
    v = parse_cmd(json);
    assert_string_equal(str_at(v, "execute", NULL), "device_add");
    assert_string_equal(str_at(v, "arguments", "driver"),
                        "xen-pci-passthrough");
    assert_string_equal(str_at(v, "arguments", "id"), "pci-pt-04_00.0");
    assert_string_equal(str_at(v, "arguments", "hostaddr"), "0000:04:00.0");
    id = yajl_tree_get(v, p_id, yajl_t_number);
    assert_non_null(id);
    assert_int_equal(YAJL_GET_INTEGER(id), 7);
    /* no vslot asked: QEMU chooses, no addr; permissive only when true */
    assert_null(yajl_tree_get(v, p_addr, yajl_t_any));
    assert_null(yajl_tree_get(v, p_perm, yajl_t_any));
    yajl_tree_free(v);
    free(json);

    d.bdf = (xlpci_bdf){ 0x10, 0x0a, 0x1e, 3 };
    d.vdevfn = 5 << 3 | 3;
    d.permissive = true;
    assert_int_equal(xlpci_qmp_build_device_add(&d, 8, &json), 0);
    v = parse_cmd(json);
    assert_string_equal(str_at(v, "arguments", "id"), "pci-pt-0a_1e.3");
    assert_string_equal(str_at(v, "arguments", "hostaddr"), "0010:0a:1e.3");
    assert_string_equal(str_at(v, "arguments", "addr"), "5.3");
    assert_non_null(yajl_tree_get(v, p_perm, yajl_t_true));
    yajl_tree_free(v);
    free(json);

    /* slot 0x1f: hex, as libxl's "%x.%x" */
    d.vdevfn = 0x1f << 3;
    d.permissive = false;
    assert_int_equal(xlpci_qmp_build_device_add(&d, 9, &json), 0);
    v = parse_cmd(json);
    assert_string_equal(str_at(v, "arguments", "addr"), "1f.0");
    yajl_tree_free(v);
    free(json);
}

static void test_build_device_del_query(void **state)
{
    xlpci_bdf b = { 0, 5, 2, 1 };
    char *json = NULL;
    yajl_val v;
    const char *p_args[] = { "arguments", NULL };

    (void)state;
    assert_int_equal(xlpci_qmp_build_device_del(&b, 3, &json), 0);
    v = parse_cmd(json);
    assert_string_equal(str_at(v, "execute", NULL), "device_del");
    assert_string_equal(str_at(v, "arguments", "id"), "pci-pt-05_02.1");
    yajl_tree_free(v);
    free(json);

    assert_int_equal(xlpci_qmp_build("query-pci", 4, NULL, 0, &json), 0);
    v = parse_cmd(json);
    assert_string_equal(str_at(v, "execute", NULL), "query-pci");
    assert_null(yajl_tree_get(v, p_args, yajl_t_any));
    yajl_tree_free(v);
    free(json);

    assert_int_equal(xlpci_qmp_build("qmp_capabilities", 1, NULL, 0, &json),
                     0);
    assert_string_equal(json, "{\"execute\":\"qmp_capabilities\",\"id\":1}");
    free(json);
}

static void test_build_escapes(void **state)
{
    xlpci_qmp_arg a = { "k", "quote\" back\\ nl\n", 0 };
    xlpci_qmp_arg bad = { "k", "\xff\xfe", 0 };
    char *json = NULL;
    yajl_val v;

    (void)state;
    assert_int_equal(xlpci_qmp_build("x", 1, &a, 1, &json), 0);
    v = parse_cmd(json);
    assert_string_equal(str_at(v, "arguments", "k"), "quote\" back\\ nl\n");
    /* one line: QMP messages never span lines */
    assert_null(strchr(json, '\n'));
    yajl_tree_free(v);
    free(json);
    /* not UTF-8: refused, never sent */
    assert_int_equal(xlpci_qmp_build("x", 1, &bad, 1, &json),
                     XLPCI_ERR_INVAL);
    assert_null(json);
}

static void test_parse_greeting(void **state)
{
    xlpci_qmp_msg m;
    char err[160];

    (void)state;
    assert_int_equal(xlpci_qmp_parse(
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 1, \"minor\": 2, "
        "\"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7\"}, "
        "\"capabilities\": [\"oob\"]}}\r", &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_GREETING);
    assert_int_equal(m.ver_major, 7);
    assert_int_equal(m.ver_minor, 2);
    assert_int_equal(m.ver_micro, 1);
    assert_false(m.has_id);
    xlpci_qmp_msg_dispose(&m);

    /* "QMP" without a version is not a greeting */
    assert_int_equal(xlpci_qmp_parse("{\"QMP\": {\"capabilities\": []}}", &m,
                                     err, sizeof(err)), XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "greeting"));
    assert_null(m.root);
}

static void test_parse_return_error_event(void **state)
{
    xlpci_qmp_msg m;
    char err[160];

    (void)state;
    assert_int_equal(xlpci_qmp_parse("{\"return\": {}, \"id\": 2}", &m, err,
                                     sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_RETURN);
    assert_true(m.has_id);
    assert_int_equal(m.id, 2);
    assert_true(YAJL_IS_OBJECT(m.ret));
    xlpci_qmp_msg_dispose(&m);

    assert_int_equal(xlpci_qmp_parse(
        "{\"id\": 3, \"error\": {\"class\": \"GenericError\", \"desc\": "
        "\"Duplicate device ID 'pci-pt-04_00.0'\"}}", &m, err, sizeof(err)),
        0);
    assert_int_equal(m.kind, XLPCI_QMP_ERROR);
    assert_int_equal(m.id, 3);
    assert_string_equal(m.err_class, "GenericError");
    assert_string_equal(m.err_desc, "Duplicate device ID 'pci-pt-04_00.0'");
    xlpci_qmp_msg_dispose(&m);

    /* a reply to a command QEMU could not parse has no id */
    assert_int_equal(xlpci_qmp_parse(
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse "
        "error, invalid keyword 'x'\"}}", &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_ERROR);
    assert_false(m.has_id);
    assert_int_equal(m.id, -1);
    xlpci_qmp_msg_dispose(&m);

    /* an id that is not ours (a string): kept as "not an integer" */
    assert_int_equal(xlpci_qmp_parse("{\"return\": [], \"id\": \"x\"}", &m,
                                     err, sizeof(err)), 0);
    assert_true(m.has_id);
    assert_int_equal(m.id, -1);
    xlpci_qmp_msg_dispose(&m);

    assert_int_equal(xlpci_qmp_parse(
        "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, "
        "\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": "
        "\"pci-pt-04_00.0\", \"path\": \"/machine/peripheral/"
        "pci-pt-04_00.0\"}}", &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_EVENT);
    assert_string_equal(m.event, "DEVICE_DELETED");
    assert_string_equal(m.event_device, "pci-pt-04_00.0");
    xlpci_qmp_msg_dispose(&m);

    /* an event without data.device (the guest's own) */
    assert_int_equal(xlpci_qmp_parse(
        "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, "
        "\"microseconds\": 0}}", &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_EVENT);
    assert_null(m.event_device);
    xlpci_qmp_msg_dispose(&m);

    /* an error without class/desc */
    assert_int_equal(xlpci_qmp_parse("{\"error\": {\"desc\": \"x\"}, "
                                     "\"id\": 1}", &m, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "class"));
}

static void test_parse_malformed(void **state)
{
    static const char *const bad[] = {
        "", "   \r", "{", "{\"return\": }", "[1, 2]", "\"QMP\"", "42",
        "{\"hello\": 1}", "{\"event\": 5}", "{\"return\": {}} trailing",
        "{\"return\": {}, \"id\": 1}{\"return\": {}}",
    };
    xlpci_qmp_msg m;
    char err[160];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (xlpci_qmp_parse(bad[i], &m, err, sizeof(err)) !=
            XLPCI_ERR_CORRUPT)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
        assert_null(m.root);
    }
}

/* query-pci as QEMU 7.2 answers it on q35, with a passed-through device
 * at 00:03.0 and one on a second bus. */
static const char query_pci[] =
    "{\"return\": [{\"bus\": 0, \"devices\": ["
    "{\"irq_pin\": 0, \"bus\": 0, \"qdev_id\": \"\", \"slot\": 0, "
    "\"class_info\": {\"class\": 1536, \"desc\": \"Host bridge\"}, "
    "\"id\": {\"device\": 10688, \"subsystem-vendor\": 6900, \"vendor\": "
    "32902, \"subsystem\": 4352}, \"function\": 0, \"regions\": []}, "
    "{\"irq_pin\": 1, \"bus\": 0, \"qdev_id\": \"pci-pt-00_05.0\", "
    "\"irq\": 11, \"slot\": 3, \"class_info\": {\"class\": 512, \"desc\": "
    "\"Ethernet controller\"}, \"id\": {\"device\": 4110, \"vendor\": "
    "32902}, \"function\": 0, \"regions\": [{\"prefetch\": false, "
    "\"mem_type_64\": false, \"bar\": 0, \"size\": 131072, \"address\": "
    "4273602560, \"type\": \"memory\"}]}]}, "
    "{\"bus\": 1, \"devices\": [{\"bus\": 1, \"qdev_id\": "
    "\"pci-pt-07_00.1\", \"slot\": 2, \"function\": 1, \"class_info\": "
    "{\"class\": 512}, \"id\": {\"device\": 1, \"vendor\": 2}, "
    "\"regions\": []}]}], \"id\": 5}";

/* "[[[...]]]" n levels deep inside prefix ... suffix, malloc'd. */
static char *nested(const char *prefix, size_t n, const char *suffix)
{
    size_t lp = strlen(prefix), ls = strlen(suffix);
    char *s = malloc(lp + 2 * n + 2 + ls);

    assert_non_null(s);
    memcpy(s, prefix, lp);
    memset(s + lp, '[', n);
    s[lp + n] = '1';
    memset(s + lp + n + 1, ']', n);
    memcpy(s + lp + 2 * n + 1, suffix, ls + 1);
    return s;
}

/* Issue 21: one line nested ~300,000 deep (it fits the 1 MiB line limit)
 * crashed yajl's recursive tree parser; every message is measured first
 * and refused past XLPCI_JSON_DEPTH_MAX levels, with the reason. */
static void test_parse_deep(void **state)
{
    static const char *const frames[][2] = {
        { "", "" },
        { "{\"return\": ", ", \"id\": 2}" },
        { "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": ", "}}" },
        { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, "
          "\"capabilities\": ", "}}" },
    };
    xlpci_qmp_msg m;
    char err[160], *line;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        line = nested(frames[i][0], 300000, frames[i][1]);
        assert_int_equal(xlpci_qmp_parse(line, &m, err, sizeof(err)),
                         XLPCI_ERR_CORRUPT);
        assert_null(m.root);
        assert_non_null(strstr(err, "nested deeper than 64 levels"));
        free(line);
    }
    /* at the limit: parsed (the reply's object is one level) */
    line = nested("{\"return\": ", 63, ", \"id\": 2}");
    assert_int_equal(xlpci_qmp_parse(line, &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_RETURN);
    xlpci_qmp_msg_dispose(&m);
    free(line);
    line = nested("{\"return\": ", 64, ", \"id\": 2}");
    assert_int_equal(xlpci_qmp_parse(line, &m, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    free(line);
    /* brackets inside strings (escaped quotes too) are not nesting */
    line = nested("{\"return\": \"\\\"[[[\", \"x\": \"", 70,
                  "\", \"id\": 2}");
    assert_int_equal(xlpci_qmp_parse(line, &m, err, sizeof(err)), 0);
    xlpci_qmp_msg_dispose(&m);
    free(line);
}

static void test_json_depth(void **state)
{
    (void)state;
    assert_int_equal(xlpci_json_depth("", 0, 64), 0);
    assert_int_equal(xlpci_json_depth("1", 1, 64), 0);
    assert_int_equal(xlpci_json_depth("[{}]", 4, 64), 2);
    assert_int_equal(xlpci_json_depth("[][][]", 6, 64), 1);
    assert_int_equal(xlpci_json_depth("[\"[[\"]", 6, 64), 1);
    assert_int_equal(xlpci_json_depth("[\"\\\"[\"]", 7, 64), 1);
    assert_int_equal(xlpci_json_depth("]]][[", 5, 64), 2);
    /* the scan stops past max */
    assert_int_equal(xlpci_json_depth("[[[[[[", 6, 3), 4);
}

/* Issue 21: check's view of QEMU, the devices by libxl's ids only. */
static void test_pci_passthrough(void **state)
{
    const char *reply =
        "{\"return\": [{\"bus\": 0, \"devices\": ["
        "{\"qdev_id\": \"\", \"slot\": 1, \"function\": 0},"
        "{\"qdev_id\": \"pci-pt-04_00.0\", \"slot\": 3, \"function\": 0},"
        "{\"qdev_id\": \"pci-pt-81_10.7\", \"slot\": 4, \"function\": 0},"
        "{\"qdev_id\": \"pci-pt-4_0.0\", \"slot\": 5, \"function\": 0},"
        "{\"qdev_id\": \"pci-pt-04_00.0x\", \"slot\": 6, \"function\": 0},"
        "{\"qdev_id\": \"nic0\", \"slot\": 7, \"function\": 0}]}], "
        "\"id\": 3}";
    xlpci_qmp_msg m;
    xlpci_bdf *v;
    char err[160];
    size_t n;

    (void)state;
    assert_int_equal(xlpci_qmp_parse(reply, &m, err, sizeof(err)), 0);
    assert_int_equal(xlpci_qmp_pci_passthrough(m.ret, &v, &n, err,
                                               sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(xlpci_bdf_cmp(&v[0], &(xlpci_bdf){ 0, 4, 0, 0 }), 0);
    assert_int_equal(xlpci_bdf_cmp(&v[1], &(xlpci_bdf){ 0, 0x81, 0x10, 7 }),
                     0);
    free(v);
    xlpci_qmp_msg_dispose(&m);
    assert_int_equal(xlpci_qmp_parse("{\"return\": {}, \"id\": 3}", &m, err,
                                     sizeof(err)), 0);
    assert_int_equal(xlpci_qmp_pci_passthrough(m.ret, &v, &n, err,
                                               sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    xlpci_qmp_msg_dispose(&m);
}

static void test_pci_find(void **state)
{
    xlpci_qmp_msg m;
    char err[160];
    unsigned devfn;

    (void)state;
    assert_int_equal(xlpci_qmp_parse(query_pci, &m, err, sizeof(err)), 0);
    assert_int_equal(m.kind, XLPCI_QMP_RETURN);
    assert_int_equal(xlpci_qmp_pci_find(m.ret, "pci-pt-00_05.0", &devfn, err,
                                        sizeof(err)), 1);
    assert_int_equal(devfn, 3 << 3);
    assert_int_equal(xlpci_qmp_pci_find(m.ret, "pci-pt-07_00.1", &devfn, err,
                                        sizeof(err)), 1);
    assert_int_equal(devfn, 2 << 3 | 1);
    assert_int_equal(xlpci_qmp_pci_find(m.ret, "pci-pt-04_00.0", &devfn, err,
                                        sizeof(err)), 0);
    /* the empty qdev_id of the host bridge matches nothing we ask */
    xlpci_qmp_msg_dispose(&m);

    assert_int_equal(xlpci_qmp_parse("{\"return\": [], \"id\": 1}", &m, err,
                                     sizeof(err)), 0);
    assert_int_equal(xlpci_qmp_pci_find(m.ret, "pci-pt-00_05.0", &devfn, err,
                                        sizeof(err)), 0);
    xlpci_qmp_msg_dispose(&m);
}

static void test_pci_find_malformed(void **state)
{
    static const char *const bad[] = {
        "{\"return\": {}}",                            /* not a list */
        "{\"return\": [{\"bus\": 0}]}",                /* no devices */
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"slot\": 3}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"qdev_id\": "
        "\"pci-pt-00_05.0\", \"slot\": 32, \"function\": 0}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"qdev_id\": "
        "\"pci-pt-00_05.0\", \"slot\": 3}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"qdev_id\": "
        "\"pci-pt-00_05.0\", \"slot\": \"3\", \"function\": 0}]}]}",
        "{\"return\": [{\"bus\": 0, \"devices\": [{\"qdev_id\": "
        "\"pci-pt-00_05.0\", \"slot\": 3, \"function\": -1}]}]}",
        "{\"return\": [7]}",
    };
    xlpci_qmp_msg m;
    char err[160];
    unsigned devfn;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(xlpci_qmp_parse(bad[i], &m, err, sizeof(err)), 0);
        err[0] = '\0';
        if (xlpci_qmp_pci_find(m.ret, "pci-pt-00_05.0", &devfn, err,
                               sizeof(err)) != XLPCI_ERR_CORRUPT)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(strstr(err, "query-pci"));
        xlpci_qmp_msg_dispose(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qdev_id),
        cmocka_unit_test(test_build_device_add),
        cmocka_unit_test(test_build_device_del_query),
        cmocka_unit_test(test_build_escapes),
        cmocka_unit_test(test_parse_greeting),
        cmocka_unit_test(test_parse_return_error_event),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_parse_deep),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_pci_passthrough),
        cmocka_unit_test(test_pci_find),
        cmocka_unit_test(test_pci_find_malformed),
    };

    return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}

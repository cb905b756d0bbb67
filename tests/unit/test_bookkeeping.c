/* The bookkeeping JSON codec: round trip and strict reading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

static void test_round_trip(void **state)
{
    xlpci_bk_dev in[2], *out = NULL;
    char *json = NULL, err[128];
    size_t n = 0;

    (void)state;
    memset(in, 0, sizeof(in));
    in[0].bdf = (xlpci_bdf){ 0, 3, 0, 0 };
    in[0].name = (char *)"nic \"0\"";
    in[0].driver_path = (char *)"/sys/bus/pci/drivers/e1000e";
    in[0].domid = 5;
    in[1].bdf = (xlpci_bdf){ 1, 0x81, 0x10, 2 };
    in[1].managed = true;
    in[1].domid = -1;
    in[1].quarantining = true;
    assert_int_equal(xlpci_bk_to_json(in, 2, &json), 0);
    /* only written when set: older files read the same */
    assert_non_null(strstr(json, "\"quarantining\": true"));
    assert_null(strstr(json, "\"quarantining\": false"));
    assert_int_equal(xlpci_bk_from_json(json, &out, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(xlpci_bdf_cmp(&out[0].bdf, &in[0].bdf), 0);
    assert_string_equal(out[0].name, "nic \"0\"");
    assert_string_equal(out[0].driver_path, "/sys/bus/pci/drivers/e1000e");
    assert_false(out[0].managed);
    assert_false(out[0].quarantining);
    assert_int_equal(out[0].domid, 5);
    assert_int_equal(xlpci_bdf_cmp(&out[1].bdf, &in[1].bdf), 0);
    assert_null(out[1].name);
    assert_null(out[1].driver_path);
    assert_true(out[1].managed);
    assert_true(out[1].quarantining);
    assert_int_equal(out[1].domid, -1);
    xlpci_bk_dev_dispose(&out[0]);
    xlpci_bk_dev_dispose(&out[1]);
    free(out);
    free(json);
}

static void bad(const char *json, const char *needle)
{
    xlpci_bk_dev *out = (xlpci_bk_dev *)1;
    char err[256] = "";
    size_t n = 7;

    assert_int_equal(xlpci_bk_from_json(json, &out, &n, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_null(out);
    assert_int_equal(n, 0);
    if (!strstr(err, needle))
        fail_msg("\"%s\" lacks \"%s\"", err, needle);
}

static void test_malformed(void **state)
{
    (void)state;
    bad("", "not JSON");
    bad("{", "not JSON");
    bad("[]", "expected");
    bad("{\"version\": 2, \"devices\": []}", "expected");
    bad("{\"version\": 1}", "expected");
    bad("{\"version\": 1, \"devices\": [ {} ]}", "device 0 is malformed");
    bad("{\"version\": 1, \"devices\": [ {\"bdf\": \"03:00.0\"}, "
        "{\"bdf\": \"zz\"} ]}", "device 1 is malformed");
    bad("{\"version\": 1, \"devices\": [ {\"bdf\": \"03:00.0\", "
        "\"domid\": -1} ]}", "malformed");
    bad("{\"version\": 1, \"devices\": [ {\"bdf\": \"03:00.0\", "
        "\"domid\": 5}, {\"bdf\": \"0000:03:00.0\", \"domid\": 6} ]}",
        "devices 0 and 1 are both 0000:03:00.0");
    bad("{\"version\": 1, \"devices\": [ {\"bdf\": \"03:00.0\", "
        "\"managed\": 1} ]}", "malformed");
    bad("{\"version\": 1, \"devices\": [ {\"bdf\": \"03:00.0\", "
        "\"name\": 7} ]}", "malformed");
    bad("{\"version\": 1, \"devices\": [ {\"bdf\": \"03:00.0\", "
        "\"quarantining\": \"yes\"} ]}", "malformed");
}

/* Issue 21: a devices.json nested 400,000 deep crashed every command
 * that read it (yajl's tree parser recurses); refused, with the reason. */
static void test_deep(void **state)
{
    const char *head = "{\"version\": 1, \"devices\": ";
    size_t n = 400000, lh = strlen(head);
    char *text = malloc(lh + 2 * n + 3), err[256];
    xlpci_bk_dev *out = NULL;
    size_t nout = 0;

    (void)state;
    assert_non_null(text);
    memcpy(text, head, lh);
    memset(text + lh, '[', n);
    memset(text + lh + n, ']', n);
    strcpy(text + lh + 2 * n, "}");
    assert_int_equal(xlpci_bk_from_json(text, &out, &nout, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_null(out);
    assert_non_null(strstr(err, "nested deeper than 64 levels"));
    free(text);
}

/* Issue 21: the QEMU step pending for a device round-trips; an unknown
 * one is refused. */
static void test_pending(void **state)
{
    xlpci_bk_dev in[2], *out = NULL;
    char *json = NULL, err[128];
    size_t n = 0;

    (void)state;
    memset(in, 0, sizeof(in));
    in[0].bdf = (xlpci_bdf){ 0, 4, 0, 0 };
    in[0].domid = 5;
    in[0].pending = XLPCI_PENDING_ADD;
    in[1].bdf = (xlpci_bdf){ 0, 5, 0, 0 };
    in[1].domid = 5;
    in[1].pending = XLPCI_PENDING_DEL;
    assert_int_equal(xlpci_bk_to_json(in, 2, &json), 0);
    assert_non_null(strstr(json, "\"pending\": \"device_add\""));
    assert_non_null(strstr(json, "\"pending\": \"device_del\""));
    assert_int_equal(xlpci_bk_from_json(json, &out, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].pending, XLPCI_PENDING_ADD);
    assert_int_equal(out[1].pending, XLPCI_PENDING_DEL);
    xlpci_bk_dev_dispose(&out[0]);
    xlpci_bk_dev_dispose(&out[1]);
    free(out);
    free(json);
    assert_int_equal(xlpci_bk_from_json("{\"version\": 1, \"devices\": "
                                        "[{\"bdf\": \"0000:04:00.0\", "
                                        "\"pending\": \"reboot\"}]}",
                                        &out, &n, err, sizeof(err)),
                     XLPCI_ERR_CORRUPT);
    assert_non_null(strstr(err, "device 0 is malformed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_pending),
    };

    return cmocka_run_group_tests_name("bookkeeping", tests, NULL, NULL);
}

/* BDF and PCI_SPEC_STRING parsing (xl-pci-configuration(5)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

static void parse_ok(const char *s, xlpci_spec *spec)
{
    char err[256] = "";
    int rc = xlpci_spec_parse(s, spec, err, sizeof(err));

    if (rc)
        fail_msg("\"%s\" rejected: %s", s, err);
}

/* The spec is rejected and the message names the problem. */
static void parse_bad(const char *s, const char *needle)
{
    xlpci_spec spec;
    char err[256] = "";

    assert_int_equal(xlpci_spec_parse(s, &spec, err, sizeof(err)),
                     XLPCI_ERR_INVAL);
    if (!strstr(err, needle))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s, err, needle);
    assert_null(spec.name);
}

static void test_bdf_forms(void **state)
{
    struct { const char *s; unsigned seg, bus, dev, func; } ok[] = {
        { "0000:03:00.0", 0, 3, 0, 0 },
        { "03:00.0", 0, 3, 0, 0 },
        { "ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7 },
        { "1:2:3.4", 1, 2, 3, 4 },
        { "0a:1F.3", 0, 0xa, 0x1f, 3 },
    };
    const char *bad[] = {
        "", "03", "03:00", "03:00.8", "03:20.0", "100:00.0", "10000:00:00.0",
        "0:0:0:0.0", "03:00.", "03:00.00", "g3:00.0", "03:00.0x", " 03:00.0",
        "03:00.*",
    };
    xlpci_bdf b;
    char err[128], buf[XLPCI_BDF_STRLEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(xlpci_bdf_parse(ok[i].s, &b, err, sizeof(err)), 0);
        assert_int_equal(b.seg, ok[i].seg);
        assert_int_equal(b.bus, ok[i].bus);
        assert_int_equal(b.dev, ok[i].dev);
        assert_int_equal(b.func, ok[i].func);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!xlpci_bdf_parse(bad[i], &b, err, sizeof(err)))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(err, "PCI address"));
    }
    b.seg = 0; b.bus = 0xa; b.dev = 0x1f; b.func = 3;
    assert_string_equal(xlpci_bdf_format(&b, buf), "0000:0a:1f.3");
}

static void test_spec_positional(void **state)
{
    xlpci_spec s;

    (void)state;
    parse_ok("0000:03:00.0", &s);
    assert_true(s.has_bdf);
    assert_false(s.all_funcs);
    assert_false(s.has_vslot);
    assert_int_equal(s.permissive, -1);
    assert_int_equal(s.rdm_policy, -1);
    xlpci_spec_dispose(&s);

    parse_ok("03:00.1@1f,permissive=1,msitranslate=0,seize=1,power_mgmt=1,"
             "rdm_policy=relaxed", &s);
    assert_int_equal(s.bdf.func, 1);
    assert_true(s.has_vslot);
    assert_int_equal(s.vslot, 0x1f);
    assert_int_equal(s.permissive, 1);
    assert_int_equal(s.msitranslate, 0);
    assert_int_equal(s.seize, 1);
    assert_int_equal(s.power_mgmt, 1);
    assert_int_equal(s.rdm_policy, XLPCI_RDM_RELAXED);
    xlpci_spec_dispose(&s);

    parse_ok("0000:03:00.*@8", &s);
    assert_true(s.all_funcs);
    assert_int_equal(s.bdf.func, 0);
    assert_int_equal(s.vslot, 8);
    xlpci_spec_dispose(&s);
}

/* The man page's three equivalent forms (with a vslot that is in range:
 * vslot is hex, so its "20" example is 0x20 > 0x1f and invalid). */
static void test_spec_equivalent_forms(void **state)
{
    const char *forms[] = {
        "36:00.0@1a,seize=1", "36:00.0,vslot=1a,seize=1",
        "bdf=36:00.0,vslot=1a,seize=1",
    };
    xlpci_spec s;
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        parse_ok(forms[i], &s);
        assert_int_equal(s.bdf.bus, 0x36);
        assert_int_equal(s.vslot, 0x1a);
        assert_int_equal(s.seize, 1);
        xlpci_spec_dispose(&s);
    }
    parse_bad("36:00.0@20,seize=1", "vslot");
}

static void test_spec_name(void **state)
{
    xlpci_spec s;

    (void)state;
    parse_ok("name=nic0,permissive=1", &s);
    assert_false(s.has_bdf);
    assert_string_equal(s.name, "nic0");
    assert_int_equal(s.permissive, 1);
    xlpci_spec_dispose(&s);
    /* A trailing comma is allowed, as in the grammar's [key=value,]*. */
    parse_ok("03:00.0,", &s);
    xlpci_spec_dispose(&s);
}

static void test_spec_errors(void **state)
{
    (void)state;
    parse_bad("", "empty");
    parse_bad("zz:00.0", "bad bus number");
    parse_bad("03:00.9", "bad function number");
    parse_bad("03:00.0,foo=1", "unknown option \"foo\"");
    parse_bad("03:00.0,permissive=yes", "must be 0 or 1");
    parse_bad("03:00.0,permissive=2", "must be 0 or 1");
    parse_bad("03:00.0,permissive=1,permissive=0", "given twice");
    parse_bad("bdf=03:00.0,name=x", "exactly one");
    parse_bad("permissive=1", "exactly one");
    parse_bad("03:00.0,bdf=04:00.0", "given twice");
    parse_bad("03:00.0@3,vslot=4", "vslot given twice");
    parse_bad("03:00.0,rdm_policy=loose", "strict or relaxed");
    parse_bad("03:00.0,,permissive=1", "empty field");
    parse_bad("03:00.0,04:00.0", "not key=value");
    parse_bad("name=", "1 to 64");
    parse_bad("name=a b", "not printable");
    parse_bad("name=0123456789012345678901234567890123456789012345678901"
              "2345678901234", "1 to 64");
    parse_bad("03:00.0@", "vslot");
    parse_bad("03:00.0@xyz", "vslot");
}

/* libxl's /libxl/pci/<dddd-bb-dd-f> naming, both ways. */
static void test_libxl_node_names(void **state)
{
    static const char *const bad[] = {
        "0000-03-00", "0000-03-00-0-1", "0000-3-00-0", "0000-03-00-8",
        "0000-03-20-0", "0000-03-00-00", "+000-03-00-0", "0000:03:00.0",
        "00000-03-00-0", "0000-03-00-0 ", "",
    };
    char path[XLPCI_PATH_MAX];
    xlpci_bdf bdf = { 0x1234, 0xab, 0x1f, 7 }, back;
    size_t i;

    (void)state;
    xlpci_libxl_path(path, &bdf, "domid");
    assert_string_equal(path, "/libxl/pci/1234-ab-1f-7/domid");
    xlpci_libxl_path(path, &bdf, NULL);
    assert_string_equal(path, "/libxl/pci/1234-ab-1f-7");
    assert_true(xlpci_libxl_name_bdf("1234-ab-1f-7", &back));
    assert_int_equal(xlpci_bdf_cmp(&bdf, &back), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (xlpci_libxl_name_bdf(bad[i], &back))
            fail_msg("\"%s\" taken as a device", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bdf_forms),
        cmocka_unit_test(test_spec_positional),
        cmocka_unit_test(test_spec_equivalent_forms),
        cmocka_unit_test(test_spec_name),
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_libxl_node_names),
    };

    return cmocka_run_group_tests_name("bdf", tests, NULL, NULL);
}

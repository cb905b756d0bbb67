/*
 * The parsers of sysfs "resource" and "irq" (hypervisor.c), pure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

/* What Linux prints for an e1000e: 7 resource lines and more after. */
static const char e1000e[] =
    "0x00000000fe000000 0x00000000fe01ffff 0x0000000000040200\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x000000000000c000 0x000000000000c03f 0x0000000000040101\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x00000000fe040000 0x00000000fe07ffff 0x0000000000046201\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
    "0x0000000000000000 0x0000000000000000 0x0000000000000000\n";

static void test_resource_kernel(void **state)
{
    xlpci_bar bars[XLPCI_NUM_RESOURCES];
    char err[128];
    unsigned n;

    (void)state;
    assert_int_equal(xlpci_resource_parse(e1000e, bars, &n, err,
                                          sizeof(err)), 0);
    assert_int_equal(n, 7);            /* only the first 7 */
    assert_true(bars[0].start == 0xfe000000 && bars[0].end == 0xfe01ffff &&
                bars[0].flags == 0x40200);
    assert_true(bars[2].start == 0xc000 && bars[2].flags == 0x40101);
    assert_true(bars[6].start == 0xfe040000 && bars[6].flags == 0x46201);
    assert_int_equal(xlpci_resource_parse("", bars, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 0);
    assert_int_equal(xlpci_resource_parse("0x1 0x1 0x100", bars, &n, err,
                                          sizeof(err)), 0);
    assert_int_equal(n, 1);
}

static void test_resource_malformed(void **state)
{
    static const struct { const char *text, *msg; } bad[] = {
        { "0x1 0x2\n", "line 1 is not" },
        { "0x1 0x2 0x3 0x4\n", "line 1 is not" },
        { "1 2 3\n", "line 1 is not" },
        { "0x 0x2 0x3\n", "line 1 is not" },
        { "0x1  0x2 0x3\n", "line 1 is not" },
        { "0x-1 0x2 0x3\n", "line 1 is not" },
        { "0xg 0x2 0x3\n", "line 1 is not" },
        { "0x00000000000000001 0x2 0x3\n", "line 1 is not" },
        { "0x0 0x0 0x0\n0x5 0x5 0x0 \n", "line 2 is not" },
        { "0x2000 0x1fff 0x200\n", "line 1: end 0x1fff is below start" },
        { "0x0 0x0 0x0\n\n", "line 2 is not" },
    };
    xlpci_bar bars[XLPCI_NUM_RESOURCES];
    char err[128];
    unsigned n, i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(xlpci_resource_parse(bad[i].text, bars, &n, err,
                                              sizeof(err)),
                         XLPCI_ERR_CORRUPT);
        if (!strstr(err, bad[i].msg))
            fail_msg("\"%s\": \"%s\"", bad[i].text, err);
        assert_int_equal(n, 0);
    }
}

static void test_irq(void **state)
{
    static const char *const bad[] = {
        "", "\n", "-1", "abc", "11 ", "1\n\n", "99999999999", "0x10", " 11",
    };
    char err[128];
    unsigned irq, i;

    (void)state;
    assert_int_equal(xlpci_irq_parse("11\n", &irq, err, sizeof(err)), 0);
    assert_int_equal(irq, 11);
    assert_int_equal(xlpci_irq_parse("0", &irq, err, sizeof(err)), 0);
    assert_int_equal(irq, 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (xlpci_irq_parse(bad[i], &irq, err, sizeof(err)) !=
            XLPCI_ERR_CORRUPT)
            fail_msg("irq \"%s\" accepted", bad[i]);
        assert_non_null(strstr(err, "is not an interrupt number"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resource_kernel),
        cmocka_unit_test(test_resource_malformed),
        cmocka_unit_test(test_irq),
    };

    return cmocka_run_group_tests_name("host: sysfs resource/irq parsers",
                                       tests, NULL, NULL);
}

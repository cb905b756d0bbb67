/* The xl.cfg subset reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

static void test_cfg_full(void **state)
{
    const char *text =
        "# a PV guest\n"
        "name = \"guest-a\"\n"
        "type = 'pv'; memory = 512\n"
        "kernel = \"/boot/vmlinuz\"\n"
        "vif = [ 'bridge=xenbr0' ]\n"
        "pci = [ \"0000:03:00.0\",\n"
        "        '04:00.1@3,permissive=1', # second\n"
        "      ]\n"
        "pci_permissive = 1\n"
        "pci_msitranslate=0\n"
        "pci += [ \"05:00.0\" ]\n";
    xlpci_config cfg;
    char err[256] = "";

    (void)state;
    assert_int_equal(xlpci_config_parse(text, "a.cfg", &cfg, err,
                                        sizeof(err)), 0);
    assert_string_equal(cfg.name, "guest-a");
    assert_int_equal(cfg.num_pci, 3);
    assert_string_equal(cfg.pci[0], "0000:03:00.0");
    assert_string_equal(cfg.pci[1], "04:00.1@3,permissive=1");
    assert_string_equal(cfg.pci[2], "05:00.0");
    assert_true(cfg.defaults.permissive);
    assert_false(cfg.defaults.msitranslate);
    assert_false(cfg.defaults.seize);
    assert_int_equal(cfg.defaults.rdm_policy, XLPCI_RDM_STRICT);
    xlpci_config_dispose(&cfg);
}

static void cfg_bad(const char *text, const char *needle)
{
    xlpci_config cfg;
    char err[256] = "";

    assert_int_equal(xlpci_config_parse(text, "b.cfg", &cfg, err,
                                        sizeof(err)), XLPCI_ERR_INVAL);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err, needle);
    assert_null(cfg.pci);
    assert_null(cfg.name);
}

static void test_cfg_errors(void **state)
{
    (void)state;
    cfg_bad("name \"x\"\n", "b.cfg:1: expected '='");
    cfg_bad("name = \"x\"\npci = \"03:00.0\"\n", "b.cfg:2: pci must be a list");
    cfg_bad("pci = [ 3 ]\n", "must be strings");
    cfg_bad("pci = [ \"03:00.0\"\n", "expected ',' or ']'");
    cfg_bad("name = \"unterminated\n", "unterminated string");
    cfg_bad("pci_permissive = 2\n", "pci_permissive must be 0 or 1");
    cfg_bad("name = 'a' 'b'\n", "unexpected text");
    cfg_bad("= 3\n", "expected a setting name");
    cfg_bad("name = 3\n", "name must be a string");
    cfg_bad("x = \"\\q\"\n", "unknown escape");
}

static void test_cfg_empty(void **state)
{
    xlpci_config cfg;
    char err[64];

    (void)state;
    assert_int_equal(xlpci_config_parse("\n# nothing\n;\n", NULL, &cfg, err,
                                        sizeof(err)), 0);
    assert_int_equal(cfg.num_pci, 0);
    assert_null(cfg.name);
    xlpci_config_dispose(&cfg);
}

static void test_cfg_read_missing(void **state)
{
    xlpci_config cfg;
    char err[256];

    (void)state;
    assert_int_equal(xlpci_config_read("/nonexistent/x.cfg", &cfg, err,
                                       sizeof(err)), XLPCI_ERR_INVAL);
    assert_non_null(strstr(err, "/nonexistent/x.cfg"));
}

/* Every example config in configs/ must parse, with at least one device,
 * and every device string must be a valid PCI_SPEC_STRING. */
static void test_cfg_examples(void **state)
{
    const char *files[] = { "pv-guest.cfg", "multi-vf.cfg",
                            "multifunction.cfg" };
    char path[512], err[256];
    xlpci_config cfg;
    xlpci_spec spec;
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/configs/%s", XLPCI_SRC_DIR,
                 files[i]);
        if (xlpci_config_read(path, &cfg, err, sizeof(err)))
            fail_msg("%s", err);
        assert_true(cfg.num_pci > 0);
        for (j = 0; j < cfg.num_pci; j++) {
            if (xlpci_spec_parse(cfg.pci[j], &spec, err, sizeof(err)))
                fail_msg("%s: %s", path, err);
            xlpci_spec_dispose(&spec);
        }
        xlpci_config_dispose(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_full),
        cmocka_unit_test(test_cfg_errors),
        cmocka_unit_test(test_cfg_empty),
        cmocka_unit_test(test_cfg_read_missing),
        cmocka_unit_test(test_cfg_examples),
    };

    return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}

/* SR-IOV routing IDs (libxlpci/sriov.c): a PF's VF k and back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

static xlpci_sriov pf(unsigned seg, unsigned bus, unsigned dev,
                      unsigned func, unsigned total, unsigned offset,
                      unsigned stride)
{
    xlpci_sriov s;

    memset(&s, 0, sizeof(s));
    s.pf.seg = seg;
    s.pf.bus = bus;
    s.pf.dev = dev;
    s.pf.func = func;
    s.total = total;
    s.num = total;
    s.offset = offset;
    s.stride = stride;
    return s;
}

/* VF k's BDF, and k back from it. */
static void vf_is(const xlpci_sriov *s, unsigned k, const char *want)
{
    char b[XLPCI_BDF_STRLEN];
    xlpci_bdf vf;

    if (!xlpci_sriov_vf_bdf(s, k, &vf))
        fail_msg("VF %u of %s: none, wanted %s", k,
                 xlpci_bdf_format(&s->pf, b), want);
    assert_string_equal(xlpci_bdf_format(&vf, b), want);
    assert_int_equal(xlpci_sriov_vf_index(s, &vf), (int)k);
}

static void test_qemu_nvme(void **state)
{
    /* QEMU 7.2's NVMe, sriov_max_vfs=3: offset 1, stride 1 */
    xlpci_sriov s = pf(0, 1, 0, 0, 3, 1, 1);
    xlpci_bdf b = { 0, 1, 0, 0 };

    (void)state;
    vf_is(&s, 0, "0000:01:00.1");
    vf_is(&s, 1, "0000:01:00.2");
    vf_is(&s, 2, "0000:01:00.3");
    assert_false(xlpci_sriov_vf_bdf(&s, 3, &b));       /* past total */
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1); /* the PF itself */
    b.func = 4;
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1); /* past total */
    b.func = 2;
    b.seg = 1;
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1); /* other segment */
}

static void test_nic_layouts(void **state)
{
    /* an 82576-like PF 81:00.0: 8 VFs from 81:10.0, stride 2 (its second
     * port's VFs sit at the odd functions) */
    xlpci_sriov s = pf(0, 0x81, 0, 0, 8, 0x80, 2);
    /* a PF whose 64 VFs run past its bus: offset 0x100 */
    xlpci_sriov far = pf(0, 0x3b, 0, 0, 64, 0x100, 1);
    /* the last bus: its VFs would lie past bus 255 */
    xlpci_sriov edge = pf(0, 0xff, 0x1f, 0, 4, 4, 1);
    xlpci_bdf b = { 0, 0x81, 0x10, 1 }, vf;

    (void)state;
    vf_is(&s, 0, "0000:81:10.0");
    vf_is(&s, 1, "0000:81:10.2");
    vf_is(&s, 7, "0000:81:11.6");
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1);  /* between */
    vf_is(&far, 0, "0000:3c:00.0");
    vf_is(&far, 63, "0000:3c:07.7");
    vf_is(&edge, 3, "0000:ff:1f.7");
    assert_false(xlpci_sriov_vf_bdf(&edge, 4, &vf));
    edge.total = 5;
    assert_false(xlpci_sriov_vf_bdf(&edge, 4, &vf));     /* past bus 255 */
}

/* Numbers that give no routing (a PF with NumVFs 0 may read offset and
 * stride 0): no VF named, nothing matched. */
static void test_unknown_routing(void **state)
{
    xlpci_sriov s = pf(0, 1, 0, 0, 3, 0, 0);
    xlpci_bdf b = { 0, 1, 0, 1 }, vf;

    (void)state;
    assert_false(xlpci_sriov_vf_bdf(&s, 0, &vf));
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1);
    s.offset = 1;                      /* stride 0: only VF 0 */
    vf_is(&s, 0, "0000:01:00.1");
    assert_false(xlpci_sriov_vf_bdf(&s, 1, &vf));
    b.func = 2;
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1);
    s.total = 0;                       /* not a PF */
    b.func = 1;
    assert_int_equal(xlpci_sriov_vf_index(&s, &b), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qemu_nvme),
        cmocka_unit_test(test_nic_layouts),
        cmocka_unit_test(test_unknown_routing),
    };

    return cmocka_run_group_tests_name("sriov", tests, NULL, NULL);
}

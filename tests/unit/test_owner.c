/* Who holds a device (owner.c): the decision on gathered facts, for the
 * scenarios of issue 19 and the corners around them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

static const xlpci_bdf B = { 0, 0x0a, 0, 0 };

/* set candidate d: alive a (1, 0, -1), lists l */
static void cand(xlpci_owner_facts *f, uint32_t d, int a, bool l)
{
    xlpci_owner_cand *c = xlpci_owner_cand_add(f, d);

    assert_non_null(c);
    c->alive = a;
    c->lists = l;
}

static xlpci_owner_verdict decide(const xlpci_owner_facts *f)
{
    xlpci_owner_verdict v;

    xlpci_owner_decide(f, &v);
    return v;
}

/* The candidates are self, the record's and the bookkeeping's, once each. */
static void test_candidates(void **state)
{
    xlpci_owner_facts f;
    unsigned i;

    (void)state;
    xlpci_owner_facts_init(&f, 5, 5, false, 7);
    assert_int_equal(f.ncand, 2);
    assert_int_equal(f.cand[0].domid, 5);
    assert_int_equal(f.cand[1].domid, 7);
    assert_int_equal(f.cand[0].alive, -1);
    assert_false(f.cand[1].lists);
    xlpci_owner_facts_init(&f, -1, -1, true, -1);
    assert_int_equal(f.ncand, 0);
    assert_int_equal(f.record, -1);
    assert_true(f.record_bad);
    for (i = 0; i < XLPCI_OWNER_MAXCAND; i++)
        assert_non_null(xlpci_owner_cand_add(&f, 10 + i));
    assert_null(xlpci_owner_cand_add(&f, 99));
    assert_non_null(xlpci_owner_cand_add(&f, 10));     /* there already */
}

/* Nothing names the device, Xen has it in dom_io: free. */
static void test_nobody_holds(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;

    (void)state;
    xlpci_owner_facts_init(&f, 6, -1, false, -1);
    cand(&f, 6, 1, false);
    f.xen = XLPCI_XEN_FREE;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_NONE);
    assert_int_equal(v.holder, -1);
    assert_false(v.record_fix);
    assert_false(v.bk_fix);
    assert_int_equal(v.stale, -1);
}

/* After `xl destroy 3`: libxl removed the record and the backend, Xen put
 * the device in dom_io; devices.json still says 3.  Free to anyone at
 * once, and the bookkeeping is corrected (stale: 3). */
static void test_after_xl_destroy(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;

    (void)state;
    xlpci_owner_facts_init(&f, 4, -1, false, 3);
    cand(&f, 4, 1, false);
    cand(&f, 3, 0, false);
    f.xen = XLPCI_XEN_FREE;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_NONE);
    assert_true(v.bk_fix);
    assert_int_equal(v.bk_to, -1);
    assert_int_equal(v.stale, 3);
    assert_false(v.record_fix);
    /* the release of 3 (destroy 3) sees the same */
    xlpci_owner_facts_init(&f, 3, -1, false, 3);
    cand(&f, 3, 0, false);
    f.xen = XLPCI_XEN_FREE;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_NONE);
    assert_int_equal(v.bk_to, -1);
}

/* The live owner: after `xl destroy 2`, xl gave the device to domain 3.
 * The release of 2 (check --repair 2, destroy 2) finds it is 3's: keep,
 * bookkeeping corrected to 3, the record left as it is (right). */
static void test_live_owner(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    char text[400], out[200];

    (void)state;
    xlpci_owner_facts_init(&f, 2, 3, false, 2);
    cand(&f, 2, 0, false);
    cand(&f, 3, 1, true);
    f.xen = XLPCI_XEN_ASSIGNED;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 3);
    assert_true(v.by_record);
    assert_true(v.by_backend);
    assert_int_equal(v.rival, -1);
    assert_false(v.record_fix);
    assert_true(v.bk_fix);
    assert_int_equal(v.bk_to, 3);
    assert_int_equal(v.stale, 2);
    xlpci_owner_text(&B, &f, &v, text, sizeof(text));
    assert_string_equal(text, "domain 3 (alive) holds it: its PCI backend "
                        "lists it and its /libxl/pci record names it");
    xlpci_owner_way_out(&B, &f, &v, out, sizeof(out));
    assert_string_equal(out, "`xlpci pci-detach 3 0000:0a:00.0` frees it");
}

/* A stale record naming a gone domain 7 over a device domain 5's backend
 * lists (devices.json says 5): held by 5, for the release of 7 and the
 * claim of 6 alike; the record should say 5. */
static void test_stale_record_live_backend(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    char text[400];

    (void)state;
    xlpci_owner_facts_init(&f, 7, 7, false, 5);
    cand(&f, 7, 0, false);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 5);
    assert_false(v.by_record);
    assert_true(v.by_backend);
    assert_true(v.record_fix);
    assert_int_equal(v.record_to, 5);
    assert_false(v.bk_fix);
    assert_int_equal(v.stale, 7);
    xlpci_owner_text(&B, &f, &v, text, sizeof(text));
    assert_string_equal(text, "domain 5 (alive) holds it: its PCI backend "
                        "lists it; /libxl/pci/0000-0a-00-0/domid names "
                        "domain 7 (gone)");

    xlpci_owner_facts_init(&f, 6, 7, false, 5);
    cand(&f, 6, 1, false);
    cand(&f, 7, 0, false);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 5);
}

/* A stale record alone: nobody live holds the device, the record goes. */
static void test_stale_record_alone(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;

    (void)state;
    xlpci_owner_facts_init(&f, 6, 42, false, -1);
    cand(&f, 6, 1, false);
    cand(&f, 42, 0, false);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_NONE);
    assert_true(v.record_fix);
    assert_int_equal(v.record_to, -1);
    assert_int_equal(v.stale, 42);
}

/* libxl dropped the record after a refused `xl pci-attach` of a device
 * domain 5's backend lists: 5 holds it, the record is to be written. */
static void test_record_dropped_by_xl(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;

    (void)state;
    /* check of 5 */
    xlpci_owner_facts_init(&f, 5, -1, false, 5);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_SELF);
    assert_int_equal(v.holder, 5);
    assert_true(v.record_fix);
    assert_int_equal(v.record_to, 5);
    assert_false(v.bk_fix);
    /* a claim of 6 that knows the bookkeeping: refused, 5 named */
    xlpci_owner_facts_init(&f, 6, -1, false, 5);
    cand(&f, 6, 1, false);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 5);
}

/* Xen says assigned and nobody named explains it. */
static void test_xen_only(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    char text[400], out[300];

    (void)state;
    xlpci_owner_facts_init(&f, 2, -1, false, 2);
    cand(&f, 2, 0, false);
    f.xen = XLPCI_XEN_ASSIGNED;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_XEN);
    assert_false(v.maybe_self);
    assert_int_equal(v.bk_to, -1);             /* 2 is gone */
    assert_false(v.record_fix);
    xlpci_owner_text(&B, &f, &v, text, sizeof(text));
    assert_non_null(strstr(text, "Xen has it assigned to a guest"));
    xlpci_owner_way_out(&B, &f, &v, out, sizeof(out));
    assert_non_null(strstr(out, "xl pci-detach"));
    /* self alive: Xen's guest may be self (an interrupted attach) */
    xlpci_owner_facts_init(&f, 5, -1, false, 5);
    cand(&f, 5, 1, false);
    f.xen = XLPCI_XEN_ASSIGNED;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_XEN);
    assert_true(v.maybe_self);
    assert_false(v.bk_fix);                    /* 5 is alive: left */
    xlpci_owner_way_out(&B, &f, &v, out, sizeof(out));
    assert_string_equal(out, "`xl pci-detach` of the guest that has it "
                        "frees it (if that is domain 5, after an interrupted "
                        "assignment: `xlpci check --repair 5`)");
    /* a named live holder explains Xen's answer */
    xlpci_owner_facts_init(&f, 2, 3, false, -1);
    cand(&f, 2, 0, false);
    cand(&f, 3, 1, false);
    f.xen = XLPCI_XEN_ASSIGNED;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 3);
    assert_true(v.by_record);
    assert_false(v.by_backend);
    assert_false(v.record_fix);
}

/* Not known to be gone counts as alive. */
static void test_unknown_is_alive(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    char text[400];

    (void)state;
    xlpci_owner_facts_init(&f, 2, 9, false, -1);
    cand(&f, 2, 0, false);
    v = decide(&f);                             /* 9: alive unknown */
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 9);
    assert_int_equal(v.stale, -1);
    xlpci_owner_text(&B, &f, &v, text, sizeof(text));
    assert_non_null(strstr(text, "domain 9 (not known to be gone)"));
}

/* Two live domains: the record's wins, the other is the rival; self
 * holding it with another live domain is OTHER (nothing is touched). */
static void test_rivals(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    char text[400];

    (void)state;
    xlpci_owner_facts_init(&f, 6, 5, false, 6);
    cand(&f, 6, 1, true);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 5);
    assert_int_equal(v.rival, 6);
    assert_int_equal(v.bk_to, 5);
    xlpci_owner_text(&B, &f, &v, text, sizeof(text));
    assert_non_null(strstr(text, "; domain 6 (alive) has its backend list "
                           "it too"));
    /* no record: the first listing backend other than self */
    xlpci_owner_facts_init(&f, 6, -1, false, 5);
    cand(&f, 6, 1, true);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_OTHER);
    assert_int_equal(v.holder, 5);
    assert_int_equal(v.rival, 6);
    assert_true(v.record_fix);
    assert_int_equal(v.record_to, 5);
}

/* An unreadable record: rewritten for a holder whose backend lists the
 * device, removed when nobody holds it, left while Xen's unnamed guest
 * has the device. */
static void test_record_bad(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    char text[400];

    (void)state;
    xlpci_owner_facts_init(&f, 5, -1, true, -1);
    cand(&f, 5, 1, true);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_SELF);
    assert_true(v.record_fix);
    assert_int_equal(v.record_to, 5);
    xlpci_owner_facts_init(&f, 5, -1, true, -1);
    cand(&f, 5, 0, false);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_NONE);
    assert_true(v.record_fix);
    assert_int_equal(v.record_to, -1);
    xlpci_owner_text(&B, &f, &v, text, sizeof(text));
    assert_string_equal(text, "no live domain holds it; "
                        "/libxl/pci/0000-0a-00-0/domid is not a domid");
    f.xen = XLPCI_XEN_ASSIGNED;
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_XEN);
    assert_false(v.record_fix);
}

/* Self holds it by its record only (an operation in flight, or a lone
 * record): SELF, nothing to correct. */
static void test_self_by_record(void **state)
{
    xlpci_owner_facts f;
    xlpci_owner_verdict v;

    (void)state;
    xlpci_owner_facts_init(&f, 5, 5, false, 5);
    cand(&f, 5, -1, false);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_SELF);
    assert_true(v.by_record);
    assert_false(v.by_backend);
    assert_false(v.record_fix);
    assert_false(v.bk_fix);
    /* no self at all (pci-assignable-list): a gone domain's record only */
    xlpci_owner_facts_init(&f, -1, 5, false, -1);
    cand(&f, 5, 0, false);
    v = decide(&f);
    assert_int_equal(v.held, XLPCI_HELD_NONE);
    assert_int_equal(v.stale, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_nobody_holds),
        cmocka_unit_test(test_after_xl_destroy),
        cmocka_unit_test(test_live_owner),
        cmocka_unit_test(test_stale_record_live_backend),
        cmocka_unit_test(test_stale_record_alone),
        cmocka_unit_test(test_record_dropped_by_xl),
        cmocka_unit_test(test_xen_only),
        cmocka_unit_test(test_unknown_is_alive),
        cmocka_unit_test(test_rivals),
        cmocka_unit_test(test_record_bad),
        cmocka_unit_test(test_self_by_record),
    };

    return cmocka_run_group_tests_name("owner", tests, NULL, NULL);
}

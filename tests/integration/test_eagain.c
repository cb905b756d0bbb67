/*
 * oxenstored with test-eagain=true refuses about one write transaction in
 * nine with EAGAIN: every flow must retry whole transactions and end in a
 * consistent backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "libxlpci.h"

static void test_flows_under_eagain(void **state)
{
    itest_env *e = *state;
    xlpci_spec spec;
    xlpci_stats st, total;
    xlpci_ctx *ctx;
    char bdf[32], err[128];
    unsigned i;

    memset(&total, 0, sizeof(total));
    for (i = 0; i < 40; i++) {
        snprintf(bdf, sizeof(bdf), "0000:%02x:00.0", 0x10 + i);
        assert_int_equal(xlpci_spec_parse(bdf, &spec, err, sizeof(err)), 0);
        assert_int_equal(xlpci_ctx_alloc(&ctx, NULL), 0);
        /* no driver here: the backend stays Initialising, so attach
         * appends in one transaction and detach removes directly */
        assert_int_equal(i == 0 ? xlpci_create(ctx, 5, &spec, 1, NULL, 0)
                                : xlpci_attach(ctx, 5, &spec, NULL), 0);
        if (i % 3 == 2)
            assert_int_equal(xlpci_detach(ctx, 5, &spec, 0), 0);
        xlpci_ctx_get_stats(ctx, &st);
        total.eagain += st.eagain;
        total.transactions += st.transactions;
        xlpci_ctx_free(ctx);
        xlpci_spec_dispose(&spec);
        itest_check_backend(e, 5);
    }
    assert_int_equal(itest_check_backend(e, 5), 40 - 40 / 3);
    /* the daemon really refused some commits and we came through */
    assert_true(total.eagain > 0);
    fprintf(stderr, "test-eagain: %lu commits refused, %lu committed\n",
            total.eagain, total.transactions);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flows_under_eagain,
                                        itest_setup_ox_eagain,
                                        itest_teardown),
    };

    return cmocka_run_group_tests_name("eagain", tests, NULL, NULL);
}

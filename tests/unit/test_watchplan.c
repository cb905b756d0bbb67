/* The watcher's decisions (libxlpci/watchplan.c): pure, no xenstore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "libxlpci_priv.h"

static void set_of(xlpci_domset *s, const uint32_t *v, size_t n)
{
    size_t i;

    xlpci_domset_clear(s);
    for (i = 0; i < n; i++)
        assert_int_equal(xlpci_domset_add(s, v[i]), 0);
}

static void assert_set(const xlpci_domset *s, const uint32_t *want,
                       size_t n)
{
    size_t i;

    assert_int_equal(s->n, n);
    for (i = 0; i < n; i++)
        assert_int_equal(s->v[i], want[i]);
}

static void test_domset(void **state)
{
    static const uint32_t in[] = { 9, 3, 7, 3, 1, 9 };
    static const uint32_t sorted[] = { 1, 3, 7, 9 };
    static const uint32_t less[] = { 1, 7, 9 };
    xlpci_domset s, c;
    uint32_t i;

    (void)state;
    xlpci_domset_init(&s);
    xlpci_domset_init(&c);
    set_of(&s, in, 6);
    assert_set(&s, sorted, 4);         /* sorted, each once */
    assert_true(xlpci_domset_has(&s, 7));
    assert_false(xlpci_domset_has(&s, 8));
    assert_true(xlpci_domset_del(&s, 3));
    assert_false(xlpci_domset_del(&s, 3));
    assert_set(&s, less, 3);
    assert_int_equal(xlpci_domset_copy(&c, &s), 0);
    assert_set(&c, less, 3);
    /* growth past the first allocation keeps the order */
    for (i = 1000; i > 0; i--)
        assert_int_equal(xlpci_domset_add(&c, i * 3), 0);
    for (i = 1; i < c.n; i++)
        assert_true(c.v[i - 1] < c.v[i]);
    xlpci_domset_dispose(&s);
    xlpci_domset_dispose(&c);
}

static void test_domset_names_and_diff(void **state)
{
    /* what /local/domain lists: dom0, guests, and anything else */
    char *names[] = { "0", "5", "12", "05", "x", "", "32751", "32752",
                      "-3", "7", "99999999999" };
    static const uint32_t guests[] = { 5, 7, 12, 32751 };
    static const uint32_t known_v[] = { 3, 5, 7 };
    static const uint32_t born_v[] = { 12, 32751 };
    static const uint32_t gone_v[] = { 3 };
    xlpci_domset now, known, born, gone;
    uint32_t d;

    (void)state;
    xlpci_domset_init(&now);
    xlpci_domset_init(&known);
    xlpci_domset_init(&born);
    xlpci_domset_init(&gone);
    assert_int_equal(xlpci_domset_from_names(&now, names, 11), 0);
    assert_set(&now, guests, 4);
    assert_true(xlpci_guest_domid("42", &d));
    assert_int_equal(d, 42);
    assert_false(xlpci_guest_domid("0", &d));
    assert_false(xlpci_guest_domid("042", &d));
    assert_false(xlpci_guest_domid("32767", &d));   /* DOMID_IO... */
    set_of(&known, known_v, 3);
    assert_int_equal(xlpci_domset_diff(&known, &now, &born, &gone), 0);
    assert_set(&born, born_v, 2);
    assert_set(&gone, gone_v, 1);
    /* nothing changed: nothing born, nothing gone */
    assert_int_equal(xlpci_domset_diff(&now, &now, &born, &gone), 0);
    assert_int_equal(born.n, 0);
    assert_int_equal(gone.n, 0);
    /* from nothing, everything is born */
    xlpci_domset_clear(&known);
    assert_int_equal(xlpci_domset_diff(&known, &now, &born, &gone), 0);
    assert_set(&born, guests, 4);
    xlpci_domset_dispose(&now);
    xlpci_domset_dispose(&known);
    xlpci_domset_dispose(&born);
    xlpci_domset_dispose(&gone);
}

static void test_guest_cfg_path(void **state)
{
    char buf[64], err[256], longname[300];

    (void)state;
    assert_int_equal(xlpci_guest_cfg_path("/etc/xlpci/guests", "web-1",
                                          buf, sizeof(buf), err,
                                          sizeof(err)), 0);
    assert_string_equal(buf, "/etc/xlpci/guests/web-1.cfg");
    /* not one path component: no file for it */
    assert_int_equal(xlpci_guest_cfg_path("/d", "", buf, sizeof(buf), err,
                                          sizeof(err)), XLPCI_ERR_INVAL);
    assert_int_equal(xlpci_guest_cfg_path("/d", "../etc/shadow", buf,
                                          sizeof(buf), err, sizeof(err)),
                     XLPCI_ERR_INVAL);
    assert_non_null(strstr(err, "starts with '.'"));
    assert_int_equal(xlpci_guest_cfg_path("/d", "a/b", buf, sizeof(buf),
                                          err, sizeof(err)),
                     XLPCI_ERR_INVAL);
    assert_non_null(strstr(err, "'/'"));
    assert_int_equal(xlpci_guest_cfg_path("/d", "a\nb", buf, sizeof(buf),
                                          err, sizeof(err)),
                     XLPCI_ERR_INVAL);
    assert_int_equal(xlpci_guest_cfg_path("/d", ".hidden", buf, sizeof(buf),
                                          err, sizeof(err)),
                     XLPCI_ERR_INVAL);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(xlpci_guest_cfg_path("/d", longname, buf, sizeof(buf),
                                          err, sizeof(err)),
                     XLPCI_ERR_INVAL);
    assert_non_null(strstr(err, "longer than"));
    /* a path that does not fit the buffer is refused, never cut */
    assert_int_equal(xlpci_guest_cfg_path("/a/very/long/directory/name/here",
                                          "guest-name-long", buf, 40, err,
                                          sizeof(err)), XLPCI_ERR_INVAL);
}

static void test_watch_event(void **state)
{
    xlpci_bdf bdf;
    uint32_t d = 0;

    (void)state;
    assert_int_equal(xlpci_watch_event("@introduceDomain", &bdf, &d),
                     XLPCI_WEV_DOMAINS);
    assert_int_equal(xlpci_watch_event("@releaseDomain", &bdf, &d),
                     XLPCI_WEV_DOMAINS);
    assert_int_equal(xlpci_watch_event("/libxl/pci", &bdf, &d),
                     XLPCI_WEV_RECORDS_ALL);
    memset(&bdf, 0, sizeof(bdf));
    assert_int_equal(xlpci_watch_event("/libxl/pci/0000-03-1f-7/domid",
                                       &bdf, &d), XLPCI_WEV_RECORD);
    assert_int_equal(bdf.bus, 3);
    assert_int_equal(bdf.dev, 0x1f);
    assert_int_equal(bdf.func, 7);
    assert_int_equal(xlpci_watch_event("/libxl/pci/0001-04-00-0", &bdf, &d),
                     XLPCI_WEV_RECORD);
    assert_int_equal(bdf.seg, 1);
    /* its name or driver: not its owner */
    assert_int_equal(xlpci_watch_event("/libxl/pci/0000-03-00-0/name", &bdf,
                                       &d), XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("/libxl/pci/junk/domid", &bdf, &d),
                     XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("/libxl/pcifoo", &bdf, &d),
                     XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("/local/domain/5/name", &bdf, &d),
                     XLPCI_WEV_NAME);
    assert_int_equal(d, 5);
    assert_int_equal(xlpci_watch_event("/local/domain/0/name", &bdf, &d),
                     XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("/local/domain/5/name/x", &bdf, &d),
                     XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("/local/domain/5/device/pci/0/state",
                                       &bdf, &d), XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("/local/domain/5", &bdf, &d),
                     XLPCI_WEV_OTHER);
    assert_int_equal(xlpci_watch_event("", &bdf, &d), XLPCI_WEV_OTHER);
}

static void test_restorable(void **state)
{
    int rows[2] = { XenbusStateInitialised, XenbusStateClosing };
    xlpci_view v;

    (void)state;
    memset(&v, 0, sizeof(v));
    v.exists = true;
    v.num_devs = 2;
    v.row_state = rows;
    v.state = XenbusStateConnected;
    assert_true(xlpci_watch_restorable(&v, 0));
    /* being released */
    assert_false(xlpci_watch_restorable(&v, 1));
    rows[1] = XenbusStateClosed;
    assert_false(xlpci_watch_restorable(&v, 1));
    rows[1] = XenbusStateInitialising;   /* to export: held */
    assert_true(xlpci_watch_restorable(&v, 1));
    rows[1] = XLPCI_ROW_ABSENT;
    assert_false(xlpci_watch_restorable(&v, 1));
    assert_false(xlpci_watch_restorable(&v, 2));
    /* a Reconfiguring cycle (someone removes or adds), closing */
    v.state = XenbusStateReconfiguring;
    assert_false(xlpci_watch_restorable(&v, 0));
    v.state = XenbusStateReconfigured;
    assert_false(xlpci_watch_restorable(&v, 0));
    v.state = XenbusStateClosing;
    assert_false(xlpci_watch_restorable(&v, 0));
    v.state = -1;
    assert_false(xlpci_watch_restorable(&v, 0));
    v.state = XenbusStateInitialising;
    assert_true(xlpci_watch_restorable(&v, 0));
    v.exists = false;
    assert_false(xlpci_watch_restorable(&v, 0));
}

static void test_recmap(void **state)
{
    xlpci_bdf a = { 0, 3, 0, 0 }, b = { 0, 4, 0, 1 }, c = { 1, 0, 2, 0 };
    xlpci_recmap m;
    uint32_t d;
    unsigned i;

    (void)state;
    xlpci_recmap_init(&m);
    assert_false(xlpci_recmap_take(&m, &a, &d));
    assert_int_equal(xlpci_recmap_set(&m, &c, 9), 0);
    assert_int_equal(xlpci_recmap_set(&m, &a, 5), 0);
    assert_int_equal(xlpci_recmap_set(&m, &b, 6), 0);
    assert_int_equal(xlpci_recmap_set(&m, &a, 7), 0);   /* a new owner */
    assert_int_equal(m.n, 3);
    assert_int_equal(xlpci_bdf_cmp(&m.v[0].bdf, &a), 0);  /* sorted */
    assert_int_equal(xlpci_bdf_cmp(&m.v[2].bdf, &c), 0);
    assert_true(xlpci_recmap_take(&m, &a, &d));
    assert_int_equal(d, 7);
    assert_false(xlpci_recmap_take(&m, &a, &d));       /* forgotten */
    assert_true(xlpci_recmap_take(&m, &c, &d));
    assert_int_equal(d, 9);
    assert_int_equal(m.n, 1);
    /* many: still found */
    for (i = 0; i < 300; i++) {
        xlpci_bdf x = { i / 32, i % 32, i % 32, i % 8 };

        assert_int_equal(xlpci_recmap_set(&m, &x, i + 1), 0);
    }
    for (i = 0; i < 300; i += 7) {
        xlpci_bdf x = { i / 32, i % 32, i % 32, i % 8 };

        assert_true(xlpci_recmap_take(&m, &x, &d));
        assert_int_equal(d, i + 1);
    }
    xlpci_recmap_dispose(&m);
}

/* ---- the queue ------------------------------------------------------------- */

static int next(xlpci_wq *q, long long now, uint32_t *d, int *k,
                long long *wake)
{
    return xlpci_wq_next(q, now, d, k, wake);
}

static void test_wq_basic(void **state)
{
    long long wake, since;
    unsigned tries;
    xlpci_wq q;
    uint32_t d;
    int k;

    (void)state;
    xlpci_wq_init(&q, 4, false);
    assert_true(xlpci_wq_idle(&q));
    assert_int_equal(next(&q, 100, &d, &k, &wake), 0);
    assert_int_equal(wake, -1);
    assert_int_equal(xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, 100, false), 0);
    assert_int_equal(xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, 150, false), 0);
    assert_true(xlpci_wq_wanted(&q, 5, XLPCI_WK_CREATE));
    assert_int_equal(next(&q, 200, &d, &k, &wake), 1);
    assert_int_equal(d, 5);
    assert_int_equal(k, XLPCI_WK_CREATE);
    xlpci_wq_start(&q, d, k);
    /* one action per domain at a time */
    assert_int_equal(xlpci_wq_want(&q, 5, XLPCI_WK_RELEASE, 210, false), 0);
    assert_int_equal(next(&q, 220, &d, &k, &wake), 0);
    assert_int_equal(xlpci_wq_finish(&q, 5, XLPCI_WK_CREATE, XLPCI_WQ_DONE,
                                     230, &since, &tries), XLPCI_WQ_DONE);
    assert_int_equal(since, 100);      /* the first ask, not the second */
    assert_int_equal(tries, 1);
    assert_false(xlpci_wq_wanted(&q, 5, XLPCI_WK_CREATE));
    assert_int_equal(next(&q, 240, &d, &k, &wake), 1);
    assert_int_equal(k, XLPCI_WK_RELEASE);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(xlpci_wq_finish(&q, 5, XLPCI_WK_RELEASE, XLPCI_WQ_DONE,
                                     250, &since, &tries), XLPCI_WQ_DONE);
    assert_true(xlpci_wq_idle(&q));    /* the entry went: memory bounded */
    assert_int_equal(q.n, 0);
    xlpci_wq_dispose(&q);
}

static void test_wq_releases_first(void **state)
{
    long long wake, since;
    unsigned tries;
    xlpci_wq q;
    uint32_t d;
    int k;

    (void)state;
    xlpci_wq_init(&q, 4, false);
    /* a reboot: the new domain 8 appears with the old domain 7's death */
    xlpci_wq_want(&q, 8, XLPCI_WK_CREATE, 10, false);
    xlpci_wq_want(&q, 7, XLPCI_WK_RELEASE, 11, false);
    xlpci_wq_want(&q, 0, XLPCI_WK_RECORDS, 9, false);
    assert_int_equal(next(&q, 20, &d, &k, &wake), 1);
    assert_int_equal(d, 7);
    assert_int_equal(k, XLPCI_WK_RELEASE);
    xlpci_wq_start(&q, d, k);
    /* no create while the release runs; the records may go */
    assert_int_equal(next(&q, 21, &d, &k, &wake), 1);
    assert_int_equal(k, XLPCI_WK_RECORDS);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(next(&q, 22, &d, &k, &wake), 0);
    /* the release failed: it backs off, and the create goes ahead */
    assert_int_equal(xlpci_wq_finish(&q, 7, XLPCI_WK_RELEASE, XLPCI_WQ_RETRY,
                                     30, &since, &tries), XLPCI_WQ_RETRY);
    assert_int_equal(next(&q, 31, &d, &k, &wake), 1);
    assert_int_equal(d, 8);
    assert_int_equal(k, XLPCI_WK_CREATE);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(next(&q, 32, &d, &k, &wake), 0);
    assert_int_equal(wake, 30 + 250);
    assert_int_equal(next(&q, 280, &d, &k, &wake), 1);
    assert_int_equal(d, 7);
    xlpci_wq_dispose(&q);
}

static void test_wq_limits_and_order(void **state)
{
    long long wake, since;
    unsigned tries;
    xlpci_wq q;
    uint32_t d;
    int k;

    (void)state;
    xlpci_wq_init(&q, 2, false);
    xlpci_wq_want(&q, 9, XLPCI_WK_CREATE, 30, false);
    xlpci_wq_want(&q, 6, XLPCI_WK_CREATE, 10, false);
    xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, 20, false);
    /* the oldest first, two at once */
    assert_int_equal(next(&q, 40, &d, &k, &wake), 1);
    assert_int_equal(d, 6);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(next(&q, 40, &d, &k, &wake), 1);
    assert_int_equal(d, 5);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(next(&q, 40, &d, &k, &wake), 0);
    /* a release is not held back by busy creates */
    xlpci_wq_want(&q, 3, XLPCI_WK_RELEASE, 41, false);
    assert_int_equal(next(&q, 42, &d, &k, &wake), 1);
    assert_int_equal(d, 3);
    xlpci_wq_start(&q, d, k);
    xlpci_wq_finish(&q, 3, XLPCI_WK_RELEASE, XLPCI_WQ_DONE, 43, &since,
                    &tries);
    xlpci_wq_finish(&q, 6, XLPCI_WK_CREATE, XLPCI_WQ_DONE, 44, &since,
                    &tries);
    assert_int_equal(next(&q, 45, &d, &k, &wake), 1);
    assert_int_equal(d, 9);
    xlpci_wq_dispose(&q);
}

static void test_wq_retry_and_give_up(void **state)
{
    long long wake, since, now = 1000;
    unsigned tries, i;
    xlpci_wq q;
    uint32_t d;
    int k, r;

    (void)state;
    assert_int_equal(xlpci_wq_backoff_ms(1), 250);
    assert_int_equal(xlpci_wq_backoff_ms(2), 500);
    assert_int_equal(xlpci_wq_backoff_ms(8), 32000);
    assert_int_equal(xlpci_wq_backoff_ms(9), 60000);
    assert_int_equal(xlpci_wq_backoff_ms(100), 60000);
    xlpci_wq_init(&q, 4, false);
    /* a create is tried 8 times, then given up */
    xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, now, false);
    for (i = 1; i <= 8; i++) {
        assert_int_equal(next(&q, now, &d, &k, &wake), 1);
        xlpci_wq_start(&q, d, k);
        r = xlpci_wq_finish(&q, 5, XLPCI_WK_CREATE, XLPCI_WQ_RETRY, now,
                            &since, &tries);
        assert_int_equal(tries, i);
        assert_int_equal(since, 1000);
        if (i < 8) {
            assert_int_equal(r, XLPCI_WQ_RETRY);
            assert_int_equal(next(&q, now, &d, &k, &wake), 0);
            assert_int_equal(wake, now + xlpci_wq_backoff_ms(i));
            now = wake;
        } else {
            assert_int_equal(r, XLPCI_WQ_GAVE_UP);
        }
    }
    assert_true(xlpci_wq_idle(&q));
    /* a release never gives up */
    xlpci_wq_want(&q, 6, XLPCI_WK_RELEASE, now, false);
    for (i = 1; i <= 20; i++) {
        assert_int_equal(next(&q, now, &d, &k, &wake), 1);
        xlpci_wq_start(&q, d, k);
        assert_int_equal(xlpci_wq_finish(&q, 6, XLPCI_WK_RELEASE,
                                         XLPCI_WQ_RETRY, now, &since,
                                         &tries), XLPCI_WQ_RETRY);
        assert_int_equal(next(&q, now, &d, &k, &wake), 0);
        /* 250 ms doubling, at most a minute apart */
        assert_int_equal(wake - now, i < 9 ? 250LL << (i - 1) : 60000);
        now = wake;
    }
    /* failed for good: not again */
    assert_int_equal(next(&q, now, &d, &k, &wake), 1);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(xlpci_wq_finish(&q, 6, XLPCI_WK_RELEASE,
                                     XLPCI_WQ_FAILED, now, &since, &tries),
                     XLPCI_WQ_FAILED);
    assert_true(xlpci_wq_idle(&q));
    xlpci_wq_dispose(&q);

    /* once: one try each */
    xlpci_wq_init(&q, 4, true);
    xlpci_wq_want(&q, 6, XLPCI_WK_RELEASE, 0, true);
    assert_true(xlpci_wq_reconcile(&q, 6, XLPCI_WK_RELEASE));
    assert_false(xlpci_wq_reconcile(&q, 6, XLPCI_WK_CREATE));
    assert_int_equal(next(&q, 0, &d, &k, &wake), 1);
    xlpci_wq_start(&q, d, k);
    assert_int_equal(xlpci_wq_finish(&q, 6, XLPCI_WK_RELEASE, XLPCI_WQ_RETRY,
                                     1, &since, &tries), XLPCI_WQ_GAVE_UP);
    assert_true(xlpci_wq_idle(&q));
    xlpci_wq_dispose(&q);
}

static void test_wq_again_and_cancel(void **state)
{
    long long wake, since;
    unsigned tries;
    xlpci_wq q;
    uint32_t d;
    int k;

    (void)state;
    xlpci_wq_init(&q, 4, false);
    xlpci_wq_want(&q, 0, XLPCI_WK_RECORDS, 10, false);
    assert_int_equal(next(&q, 10, &d, &k, &wake), 1);
    xlpci_wq_start(&q, d, k);
    /* more records changed while it ran: once more, after it */
    xlpci_wq_want(&q, 0, XLPCI_WK_RECORDS, 15, false);
    assert_true(xlpci_wq_wanted(&q, 0, XLPCI_WK_RECORDS));
    assert_int_equal(next(&q, 16, &d, &k, &wake), 0);
    /* even when the run failed: the new event wins over the backoff */
    assert_int_equal(xlpci_wq_finish(&q, 0, XLPCI_WK_RECORDS, XLPCI_WQ_RETRY,
                                     20, &since, &tries), XLPCI_WQ_RETRY);
    assert_int_equal(next(&q, 20, &d, &k, &wake), 1);
    assert_int_equal(k, XLPCI_WK_RECORDS);
    xlpci_wq_start(&q, d, k);
    xlpci_wq_finish(&q, 0, XLPCI_WK_RECORDS, XLPCI_WQ_DONE, 21, &since,
                    &tries);
    assert_true(xlpci_wq_idle(&q));

    /* the domain died: its create is cancelled, running or not */
    xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, 30, false);
    assert_false(xlpci_wq_cancel(&q, 5, XLPCI_WK_CREATE));
    assert_true(xlpci_wq_idle(&q));
    xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, 31, false);
    assert_int_equal(next(&q, 31, &d, &k, &wake), 1);
    xlpci_wq_start(&q, d, k);
    xlpci_wq_want(&q, 5, XLPCI_WK_CREATE, 32, false);   /* again */
    assert_true(xlpci_wq_cancel(&q, 5, XLPCI_WK_CREATE)); /* running */
    xlpci_wq_want(&q, 5, XLPCI_WK_RELEASE, 33, false);
    /* its end (killed) does not bring it back */
    xlpci_wq_finish(&q, 5, XLPCI_WK_CREATE, XLPCI_WQ_DONE, 34, &since,
                    &tries);
    assert_false(xlpci_wq_wanted(&q, 5, XLPCI_WK_CREATE));
    assert_int_equal(next(&q, 35, &d, &k, &wake), 1);
    assert_int_equal(k, XLPCI_WK_RELEASE);
    assert_false(xlpci_wq_cancel(&q, 77, XLPCI_WK_CREATE));
    xlpci_wq_dispose(&q);
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE, 0, true),
                     XLPCI_WEXIT_DONE);
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE, 0, false),
                     XLPCI_WEXIT_NOTHING);
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE, XLPCI_ERR_INVAL,
                                           false), XLPCI_WEXIT_PERMANENT);
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE,
                                           XLPCI_ERR_NOTFOUND, false),
                     XLPCI_WEXIT_PERMANENT);
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE, XLPCI_ERR_BUSY,
                                           false), XLPCI_WEXIT_RETRY);
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE, XLPCI_ERR_EXISTS,
                                           false), XLPCI_WEXIT_RETRY);
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_CREATE,
                                           XLPCI_ERR_TIMEDOUT, false),
                     XLPCI_WEXIT_RETRY);
    /* a release is retried whatever failed */
    assert_int_equal(xlpci_watch_exit_code(XLPCI_WK_RELEASE,
                                           XLPCI_ERR_INVAL, false),
                     XLPCI_WEXIT_RETRY);
    assert_int_equal(xlpci_watch_outcome(XLPCI_WEXIT_DONE), XLPCI_WQ_DONE);
    assert_int_equal(xlpci_watch_outcome(XLPCI_WEXIT_NOTHING),
                     XLPCI_WQ_DONE);
    assert_int_equal(xlpci_watch_outcome(XLPCI_WEXIT_PERMANENT),
                     XLPCI_WQ_FAILED);
    assert_int_equal(xlpci_watch_outcome(XLPCI_WEXIT_RETRY), XLPCI_WQ_RETRY);
    assert_int_equal(xlpci_watch_outcome(137), XLPCI_WQ_RETRY);
    assert_int_equal(xlpci_watch_outcome(1), XLPCI_WQ_RETRY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domset),
        cmocka_unit_test(test_domset_names_and_diff),
        cmocka_unit_test(test_guest_cfg_path),
        cmocka_unit_test(test_watch_event),
        cmocka_unit_test(test_restorable),
        cmocka_unit_test(test_recmap),
        cmocka_unit_test(test_wq_basic),
        cmocka_unit_test(test_wq_releases_first),
        cmocka_unit_test(test_wq_limits_and_order),
        cmocka_unit_test(test_wq_retry_and_give_up),
        cmocka_unit_test(test_wq_again_and_cancel),
        cmocka_unit_test(test_exit_codes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

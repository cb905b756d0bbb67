/*
 * The watcher's decisions, pure (no I/O): which domains appeared and
 * which vanished (sets of domids), what a watch event is about, where a
 * guest's device list lives, which record a live backend may have
 * restored, and the queue of actions: what to start next, how long to
 * back off after a failure, when to give up.  watch.c does the I/O
 * around them (docs/watch.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pure.h"

/* ---- sets of domids ------------------------------------------------------ */

void xlpci_domset_init(xlpci_domset *s)
{
    memset(s, 0, sizeof(*s));
}

void xlpci_domset_dispose(xlpci_domset *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void xlpci_domset_clear(xlpci_domset *s)
{
    s->n = 0;
}

/* The index of domid, or where it would go (*found false). */
static size_t domset_find(const xlpci_domset *s, uint32_t domid, bool *found)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->v[mid] < domid)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n && s->v[lo] == domid;
    return lo;
}

bool xlpci_domset_has(const xlpci_domset *s, uint32_t domid)
{
    bool found;

    domset_find(s, domid, &found);
    return found;
}

int xlpci_domset_add(xlpci_domset *s, uint32_t domid)
{
    bool found;
    size_t i = domset_find(s, domid, &found);

    if (found)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        uint32_t *v = realloc(s->v, cap * sizeof(*v));

        if (!v)
            return XLPCI_ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = domid;
    s->n++;
    return 0;
}

bool xlpci_domset_del(xlpci_domset *s, uint32_t domid)
{
    bool found;
    size_t i = domset_find(s, domid, &found);

    if (!found)
        return false;
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
    return true;
}

int xlpci_domset_copy(xlpci_domset *dst, const xlpci_domset *src)
{
    if (dst->cap < src->n) {
        uint32_t *v = realloc(dst->v, (src->n + 1) * sizeof(*v));

        if (!v)
            return XLPCI_ERR_NOMEM;
        dst->v = v;
        dst->cap = src->n + 1;
    }
    if (src->n)
        memcpy(dst->v, src->v, src->n * sizeof(*src->v));
    dst->n = src->n;
    return 0;
}

bool xlpci_guest_domid(const char *s, uint32_t *domid)
{
    unsigned v;

    /* canonical decimal, a guest's: not dom0, not a reserved domid */
    if (xlpci_parse_uint(s, DOMID_FIRST_RESERVED - 1, &v) || !v)
        return false;
    *domid = v;
    return true;
}

int xlpci_domset_from_names(xlpci_domset *s, char *const *names, unsigned n)
{
    uint32_t d;
    unsigned i;
    int rc = 0;

    xlpci_domset_clear(s);
    for (i = 0; !rc && i < n; i++)
        if (xlpci_guest_domid(names[i], &d))
            rc = xlpci_domset_add(s, d);
    return rc;
}

int xlpci_domset_diff(const xlpci_domset *known, const xlpci_domset *now,
                      xlpci_domset *born, xlpci_domset *gone)
{
    size_t i = 0, j = 0;
    int rc = 0;

    xlpci_domset_clear(born);
    xlpci_domset_clear(gone);
    while (!rc && (i < known->n || j < now->n)) {
        if (j == now->n || (i < known->n && known->v[i] < now->v[j]))
            rc = xlpci_domset_add(gone, known->v[i++]);
        else if (i == known->n || now->v[j] < known->v[i])
            rc = xlpci_domset_add(born, now->v[j++]);
        else
            i++, j++;
    }
    return rc;
}

/* ---- record owners --------------------------------------------------------- */

void xlpci_recmap_init(xlpci_recmap *m)
{
    memset(m, 0, sizeof(*m));
}

void xlpci_recmap_dispose(xlpci_recmap *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}

static size_t recmap_find(const xlpci_recmap *m, const xlpci_bdf *bdf,
                          bool *found)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (xlpci_bdf_cmp(&m->v[mid].bdf, bdf) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && !xlpci_bdf_cmp(&m->v[lo].bdf, bdf);
    return lo;
}

int xlpci_recmap_set(xlpci_recmap *m, const xlpci_bdf *bdf, uint32_t domid)
{
    bool found;
    size_t i = recmap_find(m, bdf, &found);

    if (found) {
        m->v[i].domid = domid;
        return 0;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        xlpci_recent *v = realloc(m->v, cap * sizeof(*v));

        if (!v)
            return XLPCI_ERR_NOMEM;
        m->v = v;
        m->cap = cap;
    }
    memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
    m->v[i].bdf = *bdf;
    m->v[i].domid = domid;
    m->n++;
    return 0;
}

bool xlpci_recmap_take(xlpci_recmap *m, const xlpci_bdf *bdf,
                       uint32_t *domid_r)
{
    bool found;
    size_t i = recmap_find(m, bdf, &found);

    if (!found)
        return false;
    *domid_r = m->v[i].domid;
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
    m->n--;
    return true;
}

/* ---- names, paths, events ------------------------------------------------ */

int xlpci_guest_cfg_path(const char *dir, const char *name, char *buf,
                         size_t len, char *err, size_t errlen)
{
    const unsigned char *p;
    int n;

    if (!*name)
        return xlpci_errf(XLPCI_ERR_INVAL, err, errlen, "an empty name");
    if (name[0] == '.')
        return xlpci_errf(XLPCI_ERR_INVAL, err, errlen, "the name \"%.64s\" "
                          "starts with '.'", name);
    if (strlen(name) > XLPCI_GUEST_NAME_MAX)
        return xlpci_errf(XLPCI_ERR_INVAL, err, errlen, "the name \"%.64s"
                          "...\" is longer than %u bytes", name,
                          XLPCI_GUEST_NAME_MAX);
    for (p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f)
            return xlpci_errf(XLPCI_ERR_INVAL, err, errlen, "the name "
                              "\"%.64s\" has a '/' or a control character",
                              name);
    n = snprintf(buf, len, "%s/%s.cfg", dir, name);
    if (n < 0 || (size_t)n >= len)
        return xlpci_errf(XLPCI_ERR_INVAL, err, errlen, "%s/%s.cfg is too "
                          "long a path", dir, name);
    return 0;
}

/* libxl's record name "dddd-bb-dd-f" (libxlnode.c writes it) as a BDF,
 * through the one parser of addresses. */
static bool record_bdf(const char *name, xlpci_bdf *bdf)
{
    char b[XLPCI_BDF_STRLEN], err[64];

    if (strlen(name) != 12 || name[4] != '-' || name[7] != '-' ||
        name[10] != '-')
        return false;
    snprintf(b, sizeof(b), "%.4s:%.2s:%.2s.%c", name, name + 5, name + 8,
             name[11]);
    return !xlpci_bdf_parse(b, bdf, err, sizeof(err));
}

int xlpci_watch_event(const char *path, xlpci_bdf *bdf, uint32_t *domid)
{
    static const char rec[] = "/libxl/pci";
    static const char dom[] = "/local/domain/";
    char part[32];
    const char *p, *slash;
    size_t len;

    if (!strcmp(path, "@introduceDomain") || !strcmp(path, "@releaseDomain"))
        return XLPCI_WEV_DOMAINS;
    if (!strncmp(path, rec, sizeof(rec) - 1)) {
        p = path + sizeof(rec) - 1;
        if (!*p)
            return XLPCI_WEV_RECORDS_ALL;    /* the listing itself */
        if (*p != '/')
            return XLPCI_WEV_OTHER;
        p++;
        slash = strchr(p, '/');
        len = slash ? (size_t)(slash - p) : strlen(p);
        if (len >= sizeof(part))
            return XLPCI_WEV_OTHER;
        memcpy(part, p, len);
        part[len] = '\0';
        if (!record_bdf(part, bdf))
            return XLPCI_WEV_OTHER;
        /* the device's directory, or its domid leaf: its owner may have
         * changed; its name or driver_path: not */
        if (slash && strcmp(slash, "/domid"))
            return XLPCI_WEV_OTHER;
        return XLPCI_WEV_RECORD;
    }
    if (!strncmp(path, dom, sizeof(dom) - 1)) {
        p = path + sizeof(dom) - 1;
        slash = strchr(p, '/');
        if (!slash || strcmp(slash, "/name"))
            return XLPCI_WEV_OTHER;
        len = (size_t)(slash - p);
        if (len >= sizeof(part))
            return XLPCI_WEV_OTHER;
        memcpy(part, p, len);
        part[len] = '\0';
        return xlpci_guest_domid(part, domid) ? XLPCI_WEV_NAME
                                              : XLPCI_WEV_OTHER;
    }
    return XLPCI_WEV_OTHER;
}

bool xlpci_watch_restorable(const xlpci_view *view, unsigned i)
{
    int s = view->state, r;

    /* a backend in a Reconfiguring cycle or closing: someone is removing
     * devices (libxl drops the record once it has); a row pciback was
     * asked to release (5) or released (6): the same */
    if (!view->exists || i >= view->num_devs ||
        s < XenbusStateInitialising || s > XenbusStateConnected)
        return false;
    r = view->row_state[i];
    return r == XenbusStateInitialising || r == XenbusStateInitialised;
}

/* ---- the queue of actions ------------------------------------------------- */

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS   60000

long long xlpci_wq_backoff_ms(unsigned tries)
{
    long long ms = BACKOFF_FIRST_MS;

    while (tries-- > 1 && ms < BACKOFF_MAX_MS)
        ms *= 2;
    return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
}

void xlpci_wq_init(xlpci_wq *q, unsigned jobs, bool once)
{
    memset(q, 0, sizeof(*q));
    if (!jobs)
        jobs = 1;
    q->limit[XLPCI_WK_RELEASE] = jobs;
    q->limit[XLPCI_WK_CREATE] = jobs;
    q->limit[XLPCI_WK_RECORDS] = 1;
    /* once: every action is tried once; else a release is retried until
     * it is done (a dead domain's devices must come back), a create
     * about a minute long (250 ms .. 32 s apart), the records a few
     * times */
    q->max_tries[XLPCI_WK_RELEASE] = once ? 1 : 0;
    q->max_tries[XLPCI_WK_CREATE] = once ? 1 : 8;
    q->max_tries[XLPCI_WK_RECORDS] = once ? 1 : 5;
}

void xlpci_wq_dispose(xlpci_wq *q)
{
    free(q->v);
    memset(q, 0, sizeof(*q));
}

static xlpci_wq_entry *wq_get(xlpci_wq *q, uint32_t domid)
{
    size_t i;

    for (i = 0; i < q->n; i++)
        if (q->v[i].domid == domid)
            return &q->v[i];
    return NULL;
}

static xlpci_wq_entry *wq_add(xlpci_wq *q, uint32_t domid)
{
    xlpci_wq_entry *e = wq_get(q, domid);

    if (e)
        return e;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        xlpci_wq_entry *v = realloc(q->v, cap * sizeof(*v));

        if (!v)
            return NULL;
        q->v = v;
        q->cap = cap;
    }
    e = &q->v[q->n++];
    memset(e, 0, sizeof(*e));
    e->domid = domid;
    e->running = -1;
    return e;
}

/* An entry with nothing wanted or running goes (memory bounded by the
 * domains with something to do). */
static void wq_tidy(xlpci_wq *q, xlpci_wq_entry *e)
{
    if (e->want || e->again || e->running >= 0)
        return;
    *e = q->v[--q->n];
}

int xlpci_wq_want(xlpci_wq *q, uint32_t domid, int kind, long long now,
                  bool reconcile)
{
    xlpci_wq_entry *e = wq_add(q, domid);
    unsigned bit = 1u << kind;

    if (!e)
        return XLPCI_ERR_NOMEM;
    if (reconcile)
        e->reconcile |= bit;
    if (e->running == kind) {
        e->again |= bit;             /* after the running one */
        if (!e->since[kind])
            e->since[kind] = now;
        return 0;
    }
    if (!(e->want & bit)) {
        e->want |= bit;
        e->due[kind] = now;
        e->tries[kind] = 0;
        e->since[kind] = now;
    }
    return 0;
}

bool xlpci_wq_cancel(xlpci_wq *q, uint32_t domid, int kind)
{
    xlpci_wq_entry *e = wq_get(q, domid);
    bool running;

    if (!e)
        return false;
    e->want &= ~(1u << kind);
    e->again &= ~(1u << kind);
    running = e->running == kind;
    wq_tidy(q, e);
    return running;
}

bool xlpci_wq_wanted(const xlpci_wq *q, uint32_t domid, int kind)
{
    size_t i;

    for (i = 0; i < q->n; i++)
        if (q->v[i].domid == domid)
            return (q->v[i].want | q->v[i].again) & (1u << kind) ||
                   q->v[i].running == kind;
    return false;
}

/* A release that is due and was never tried: the creates wait for it
 * (a reboot's new domain needs the devices the old one holds). */
static bool release_first(const xlpci_wq *q, long long now)
{
    size_t i;

    if (q->running[XLPCI_WK_RELEASE])
        return true;
    for (i = 0; i < q->n; i++) {
        const xlpci_wq_entry *e = &q->v[i];

        if ((e->want & (1u << XLPCI_WK_RELEASE)) &&
            !e->tries[XLPCI_WK_RELEASE] && e->due[XLPCI_WK_RELEASE] <= now)
            return true;
    }
    return false;
}

int xlpci_wq_next(xlpci_wq *q, long long now, uint32_t *domid_r, int *kind_r,
                  long long *wake_r)
{
    static const int order[] = { XLPCI_WK_RELEASE, XLPCI_WK_CREATE,
                                 XLPCI_WK_RECORDS };
    long long wake = -1;
    bool hold_creates = release_first(q, now);
    size_t i, k;

    for (k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        int kind = order[k];
        const xlpci_wq_entry *best = NULL;

        for (i = 0; i < q->n; i++) {
            const xlpci_wq_entry *e = &q->v[i];

            if (!(e->want & (1u << kind)))
                continue;
            if (e->due[kind] > now) {
                if (wake < 0 || e->due[kind] < wake)
                    wake = e->due[kind];
                continue;
            }
            if (e->running >= 0 || q->running[kind] >= q->limit[kind] ||
                (kind == XLPCI_WK_CREATE && hold_creates))
                continue;
            /* the oldest first */
            if (!best || e->since[kind] < best->since[kind] ||
                (e->since[kind] == best->since[kind] &&
                 e->domid < best->domid))
                best = e;
        }
        if (best) {
            *domid_r = best->domid;
            *kind_r = kind;
            *wake_r = now;
            return 1;
        }
    }
    *wake_r = wake;
    return 0;
}

void xlpci_wq_start(xlpci_wq *q, uint32_t domid, int kind)
{
    xlpci_wq_entry *e = wq_get(q, domid);

    if (!e)
        return;
    e->want &= ~(1u << kind);
    e->running = kind;
    e->tries[kind]++;
    q->running[kind]++;
}

int xlpci_wq_finish(xlpci_wq *q, uint32_t domid, int kind, int outcome,
                    long long now, long long *since_r, unsigned *tries_r)
{
    xlpci_wq_entry *e = wq_get(q, domid);
    unsigned bit = 1u << kind;
    int r = outcome;

    *since_r = 0;
    *tries_r = 0;
    if (!e || e->running != kind)
        return XLPCI_WQ_DONE;
    e->running = -1;
    if (q->running[kind])
        q->running[kind]--;
    *since_r = e->since[kind];
    *tries_r = e->tries[kind];
    if (outcome == XLPCI_WQ_RETRY) {
        if (!q->max_tries[kind] || e->tries[kind] < q->max_tries[kind]) {
            e->want |= bit;
            e->due[kind] = now + xlpci_wq_backoff_ms(e->tries[kind]);
        } else {
            r = XLPCI_WQ_GAVE_UP;
        }
    }
    if (!(e->want & bit)) {
        e->tries[kind] = 0;
        e->since[kind] = 0;
        e->reconcile &= ~bit;
    }
    if (e->again & bit) {
        /* asked again while it ran: once more, now (a retry's backoff
         * gives way to the new event) */
        e->again &= ~bit;
        if (!(e->want & bit))
            e->since[kind] = now;
        e->want |= bit;
        e->due[kind] = now;
    }
    wq_tidy(q, e);
    return r;
}

bool xlpci_wq_reconcile(const xlpci_wq *q, uint32_t domid, int kind)
{
    size_t i;

    for (i = 0; i < q->n; i++)
        if (q->v[i].domid == domid)
            return q->v[i].reconcile & (1u << kind);
    return false;
}

bool xlpci_wq_idle(const xlpci_wq *q)
{
    return q->n == 0;
}

int xlpci_watch_exit_code(int kind, int rc, bool did)
{
    if (!rc)
        return did ? XLPCI_WEXIT_DONE : XLPCI_WEXIT_NOTHING;
    switch (kind) {
    case XLPCI_WK_CREATE:
        switch (rc) {
        case XLPCI_ERR_INVAL:        /* the guest's file, a spec */
        case XLPCI_ERR_NOTFOUND:     /* the domain went, a device is not
                                      * on the host */
        case XLPCI_ERR_CORRUPT:      /* its backend is malformed */
            return XLPCI_WEXIT_PERMANENT;
        default:                     /* busy, held elsewhere, a slow
                                      * QEMU, xenstore: later */
            return XLPCI_WEXIT_RETRY;
        }
    default:
        return XLPCI_WEXIT_RETRY;
    }
}

int xlpci_watch_outcome(int exit_code)
{
    switch (exit_code) {
    case XLPCI_WEXIT_DONE:
    case XLPCI_WEXIT_NOTHING:
        return XLPCI_WQ_DONE;
    case XLPCI_WEXIT_PERMANENT:
        return XLPCI_WQ_FAILED;
    default:
        return XLPCI_WQ_RETRY;
    }
}

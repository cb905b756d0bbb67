/*
 * Who holds a PCI device: the one decision every flow and every release
 * path asks (docs/ownership.md), pure logic on the facts the I/O floors
 * gathered (ownership.c):
 *
 *   record   /libxl/pci/<bdf>/domid, the record xl and xlpci both keep;
 *   backends whether the PCI backend of each candidate domain lists it;
 *   alive    whether each candidate domain is alive (Xen's answer when
 *            Xen is asked, else /local/domain/<domid>);
 *   Xen      xc_test_assign_device: the device is in dom0 or dom_io
 *            (free) or assigned to some guest, which Xen does not name;
 *   bk       what devices.json says (xlpci's memory: never a reason to
 *            hold a device, only a candidate to look at).
 *
 * The candidates are the domain the command acts for (self), the record's
 * domain and the bookkeeping's, and a domain found by searching the
 * backends when Xen says "assigned" and nobody else explains it.
 *
 * A live domain holds the device when its record names it or its backend
 * lists it.  Another live domain than self holding it wins (OTHER): a
 * claim is refused, a release leaves the device alone.  Else self holds
 * it (SELF), or, when Xen says some guest has it, that unnamed guest does
 * (XEN: possibly self, maybe_self, when self is alive).  Else nobody live
 * does (NONE): the device is free, whatever a gone domain's record, dead
 * backend or the bookkeeping still say.
 *
 * Corrections come from the shared state only: the record should name
 * the live holder (written when the holder's backend lists the device and
 * the record is missing, unreadable or names a gone domain; removed when
 * it names a gone domain and nobody live holds the device); the
 * bookkeeping should name the live holder, or nobody.
 */
#include <stdio.h>
#include <string.h>

#include "libxlpci_priv.h"

/* ---- libxl's record, /libxl/pci/dddd-bb-dd-f (libxl_pci.c's format) ---- */

void xlpci_libxl_path(char *buf, const xlpci_bdf *bdf, const char *leaf)
{
    snprintf(buf, XLPCI_PATH_MAX, "/libxl/pci/%04x-%02x-%02x-%01x%s%s",
             bdf->seg, bdf->bus, bdf->dev, bdf->func, leaf ? "/" : "",
             leaf ? leaf : "");
}

bool xlpci_libxl_name_bdf(const char *name, xlpci_bdf *bdf)
{
    char path[XLPCI_PATH_MAX], want[XLPCI_PATH_MAX];
    int end = -1;

    if (sscanf(name, "%4x-%2x-%2x-%1x%n", &bdf->seg, &bdf->bus, &bdf->dev,
               &bdf->func, &end) != 4 || end < 0 || name[end] ||
        bdf->dev > XLPCI_MAX_SLOT || bdf->func > XLPCI_MAX_FUNC)
        return false;
    /* exactly the canonical form: no sign, no short fields */
    xlpci_libxl_path(path, bdf, NULL);
    snprintf(want, sizeof(want), "/libxl/pci/%s", name);
    return !strcmp(path, want);
}

/* ---- the decision --------------------------------------------------------- */

void xlpci_owner_facts_init(xlpci_owner_facts *f, int self, int record,
                            bool record_bad, int bk)
{
    memset(f, 0, sizeof(*f));
    f->self = self;
    f->record = record_bad ? -1 : record;
    f->record_bad = record_bad;
    f->bk = bk;
    f->xen = XLPCI_XEN_UNKNOWN;
    if (self >= 0)
        xlpci_owner_cand_add(f, (uint32_t)self);
    if (f->record >= 0)
        xlpci_owner_cand_add(f, (uint32_t)f->record);
    if (bk >= 0)
        xlpci_owner_cand_add(f, (uint32_t)bk);
}

xlpci_owner_cand *xlpci_owner_cand_find(xlpci_owner_facts *f,
                                        uint32_t domid)
{
    unsigned i;

    for (i = 0; i < f->ncand; i++)
        if (f->cand[i].domid == domid)
            return &f->cand[i];
    return NULL;
}

xlpci_owner_cand *xlpci_owner_cand_add(xlpci_owner_facts *f, uint32_t domid)
{
    xlpci_owner_cand *c = xlpci_owner_cand_find(f, domid);

    if (c || f->ncand == XLPCI_OWNER_MAXCAND)
        return c;
    c = &f->cand[f->ncand++];
    c->domid = domid;
    c->alive = -1;
    c->lists = false;
    return c;
}

/* Not known to be gone counts as alive: never touch what may be held. */
static bool live(const xlpci_owner_cand *c)
{
    return c->alive != 0;
}

static bool holds(const xlpci_owner_facts *f, const xlpci_owner_cand *c)
{
    return live(c) && (c->lists || f->record == (int)c->domid);
}

static const xlpci_owner_cand *cand_of(const xlpci_owner_facts *f, int d)
{
    unsigned i;

    for (i = 0; d >= 0 && i < f->ncand; i++)
        if ((int)f->cand[i].domid == d)
            return &f->cand[i];
    return NULL;
}

static bool gone(const xlpci_owner_facts *f, int d)
{
    const xlpci_owner_cand *c = cand_of(f, d);

    return c && c->alive == 0;
}

void xlpci_owner_decide(const xlpci_owner_facts *f, xlpci_owner_verdict *v)
{
    const xlpci_owner_cand *other = NULL, *self = cand_of(f, f->self);
    unsigned i;

    memset(v, 0, sizeof(*v));
    v->holder = v->rival = v->stale = -1;
    /* another live holder than self: the record's first, then a
     * backend's */
    for (i = 0; i < f->ncand; i++) {
        const xlpci_owner_cand *c = &f->cand[i];

        if ((int)c->domid == f->self || !holds(f, c))
            continue;
        if (!other || (f->record == (int)c->domid &&
                       f->record != (int)other->domid))
            other = c;
    }
    if (other) {
        v->held = XLPCI_HELD_OTHER;
        v->holder = (int)other->domid;
    } else if (self && holds(f, self)) {
        v->held = XLPCI_HELD_SELF;
        v->holder = f->self;
    } else if (f->xen == XLPCI_XEN_ASSIGNED) {
        v->held = XLPCI_HELD_XEN;
        v->maybe_self = self && live(self);
    } else {
        v->held = XLPCI_HELD_NONE;
    }
    if (v->holder >= 0) {
        const xlpci_owner_cand *h = cand_of(f, v->holder);

        v->by_record = f->record == v->holder;
        v->by_backend = h && h->lists;
        for (i = 0; i < f->ncand; i++)
            if ((int)f->cand[i].domid != v->holder &&
                holds(f, &f->cand[i])) {
                v->rival = (int)f->cand[i].domid;
                break;
            }
    }

    /* a gone domain the record or the bookkeeping still names */
    if (f->record >= 0 && gone(f, f->record))
        v->stale = f->record;
    else if (f->bk >= 0 && gone(f, f->bk))
        v->stale = f->bk;

    /* the record: the live holder's, when its backend says so; a gone
     * domain's goes when nobody live holds the device; a live domain's
     * record (even Xen's unnamed guest's case) is left to that domain */
    switch (v->held) {
    case XLPCI_HELD_OTHER:
    case XLPCI_HELD_SELF:
        v->record_to = v->by_backend ? v->holder : f->record;
        break;
    case XLPCI_HELD_XEN:
        v->record_to = f->record >= 0 && gone(f, f->record) ? -1
                                                              : f->record;
        break;
    case XLPCI_HELD_NONE:
        v->record_to = -1;
        break;
    }
    /* an unreadable record is rewritten or removed, except while Xen
     * says an unnamed guest has the device */
    v->record_fix = f->record_bad ? v->held != XLPCI_HELD_XEN
                                  : v->record_to != f->record;

    /* the bookkeeping follows */
    switch (v->held) {
    case XLPCI_HELD_OTHER:
    case XLPCI_HELD_SELF:
        v->bk_to = v->holder;
        break;
    case XLPCI_HELD_XEN:
        v->bk_to = f->bk >= 0 && !gone(f, f->bk) ? f->bk : -1;
        break;
    case XLPCI_HELD_NONE:
        v->bk_to = -1;
        break;
    }
    v->bk_fix = v->bk_to != f->bk;
}

/* ---- words ----------------------------------------------------------------- */

static const char *alive_word(const xlpci_owner_facts *f, int d)
{
    const xlpci_owner_cand *c = cand_of(f, d);

    return !c || c->alive < 0 ? "not known to be gone"
                              : c->alive ? "alive" : "gone";
}

void xlpci_owner_text(const xlpci_bdf *bdf, const xlpci_owner_facts *f,
                      const xlpci_owner_verdict *v, char *buf, size_t len)
{
    char rec[XLPCI_PATH_MAX];
    size_t used;

    xlpci_libxl_path(rec, bdf, "domid");
    switch (v->held) {
    case XLPCI_HELD_NONE:
        snprintf(buf, len, "no live domain holds it");
        break;
    case XLPCI_HELD_XEN:
        snprintf(buf, len, "Xen has it assigned to a guest "
                 "(xc_test_assign_device) that neither %s nor a PCI "
                 "backend names", rec);
        break;
    case XLPCI_HELD_SELF:
    case XLPCI_HELD_OTHER:
        snprintf(buf, len, "domain %d (%s) holds it: %s%s%s", v->holder,
                 alive_word(f, v->holder),
                 v->by_backend ? "its PCI backend lists it" : "",
                 v->by_backend && v->by_record ? " and " : "",
                 v->by_record ? "its /libxl/pci record names it" : "");
        break;
    }
    used = strlen(buf);
    if (v->rival >= 0 && used < len)
        snprintf(buf + used, len - used, "; domain %d (%s) %s it too",
                 v->rival, alive_word(f, v->rival),
                 f->record == v->rival ? "is named by its record for"
                                       : "has its backend list");
    used = strlen(buf);
    if (f->record >= 0 && f->record != v->holder && used < len)
        snprintf(buf + used, len - used, "; %s names domain %d (%s)", rec,
                 f->record, alive_word(f, f->record));
    else if (f->record_bad && used < len)
        snprintf(buf + used, len - used, "; %s is not a domid", rec);
}

void xlpci_owner_way_out(const xlpci_bdf *bdf, const xlpci_owner_facts *f,
                         const xlpci_owner_verdict *v, char *buf, size_t len)
{
    char b[XLPCI_BDF_STRLEN];

    xlpci_bdf_format(bdf, b);
    if (v->held == XLPCI_HELD_SELF || v->held == XLPCI_HELD_OTHER)
        snprintf(buf, len, "`xlpci pci-detach %d %s` frees it", v->holder,
                 b);
    else if (v->held == XLPCI_HELD_XEN && v->maybe_self)
        snprintf(buf, len, "`xl pci-detach` of the guest that has it frees "
                 "it (if that is domain %d, after an interrupted assignment: "
                 "`xlpci check --repair %d`)", f->self, f->self);
    else if (v->held == XLPCI_HELD_XEN)
        snprintf(buf, len, "`xl pci-detach` of the guest that has it frees "
                 "it");
    else
        snprintf(buf, len, "it is free");
}

/*
 * The per-device ownership record libxl keeps, and that xlpci keeps with
 * it: /libxl/pci/<dddd-bb-dd-f>/domid (libxl_pci.c pci_info_xs_path, the
 * same format).  `xl pci-assignable-list` hides every device that has it;
 * xlpci refuses a device whose node names another domain, whoever wrote
 * it.
 *
 * Every create/attach reads, checks and writes the node of each of its
 * devices INSIDE the transaction that writes the backend entries, and
 * every removal removes it in the transaction that removes them: two
 * concurrent assignments of one device then conflict on that node, and
 * the cost grows with the devices asked for, not with the other guests.
 *
 * Only the domid leaf is ours: name and driver_path (pci-assignable-add
 * of xl) stay, and so does the <bdf> directory, as libxl's
 * pci_info_xs_remove leaves it.
 *
 * A node naming a domain that no longer exists (no /local/domain/<id>) is
 * stale: refused, naming `xlpci check --repair <id>`, which releases
 * what that domain held, the lone record included (destroy does not look
 * for lone records, below).  Taking it over silently could
 * hand out a device a dead domain's backend still lists.
 *
 * Which records name a domain: only a listing of /libxl/pci and one read
 * per record can tell, and that grows with the host (and past about 315
 * records, 4096 bytes, the listing no longer fits one xenstore reply:
 * oxenstored then closes the connection).  So nothing on a domain's
 * ordinary paths does it: destroy looks at the records of the devices it
 * knows (its backend's dev-N, the bookkeeping), which are all a domain
 * holds unless a crash of another tool or a hand-made node left a record
 * on its own.  Only check (xlpci_owner_scan) looks for those: the listing
 * outside any transaction on a connection of its own
 * (xlpci_xs_directory_alone), the records read outside it too; then
 * check's transaction reads each candidate again and removes the ones
 * that still name the domain.  A record written after the listing is not
 * seen; only another tool's crash could leave one.  When the listing
 * cannot be had, check says so, naming the limit, and fails.
 *
 * Shared parents: on C xenstored creating a node modifies its parent, so
 * two transactions creating children of one parent conflict even when
 * they read nothing in common.  Nothing a create writes in its
 * transaction may therefore need a shared parent created:
 *  - backend/pci/<domid> is made before the transaction
 *    (xlpci_backend_parent_prepare, an idempotent mkdir outside it;
 *    xenbus probes only backend/pci/<domid>/<devid>);
 *  - /libxl/pci/<bdf> is normally there already: xl pci-assignable-add
 *    leaves driver_path or name in it, and every release (libxl's and
 *    ours) leaves the directory.  The claim lists it in the transaction
 *    (one request: absent, free, or holding domid, which is then read);
 *    if it is absent the body answers XLPCI_TXN_PREPARE, the transaction
 *    is dropped, xlpci_records_prepare makes the missing directories
 *    outside it, and the transaction runs again.  That costs one extra
 *    transaction the first time a device is assigned after the host
 *    booted (xenstore is not persistent), and nothing afterwards.
 * Creates of different domains then touch disjoint nodes, and one create
 * costs the transaction's own writes + one request per device + 3: the
 * domain's name, its backend (absent) and the mkdir.
 *
 * Empty parents: the removal of a domain's last device removes
 * backend/pci/<domid> in its transaction and, once that has committed,
 * the backend root if nothing else is left in it (be_root_prune, its own
 * small transaction: the removal itself never reads the shared root).
 * libxl's path cleanup leaves no empty parent either.  A failed create
 * therefore removes both again if they are empty, without reading the
 * root first: an empty root is never state (docs/protocol.md 3.6).
 */
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* Is path planned for removal in ops? */
static bool ops_removes(const xlpci_ops *ops, const char *path)
{
    size_t i;

    for (i = 0; i < ops->n; i++)
        if (ops->v[i].kind == XLPCI_OP_RM && !strcmp(ops->v[i].path, path))
            return true;
    return false;
}

void xlpci_be_parent_path(char *buf, uint32_t domid)
{
    snprintf(buf, XLPCI_PATH_MAX, XLPCI_BE_ROOT "/%u", domid);
}

void xlpci_fe_parent_path(char *buf, uint32_t domid)
{
    snprintf(buf, XLPCI_PATH_MAX, "/local/domain/%u/device/pci", domid);
}

static int owner_read(xlpci_ctx *ctx, xs_transaction_t t,
                      const xlpci_bdf *bdf, int *owner_r, bool say)
{
    char path[XLPCI_PATH_MAX];
    char *v = NULL;
    unsigned d;
    int rc;

    *owner_r = -1;
    xlpci_libxl_path(path, bdf, "domid");
    rc = xlpci_xs_read(ctx, t, path, &v);
    if (rc || !v)
        return rc;
    if (xlpci_parse_uint(v, DOMID_FIRST_RESERVED - 1, &d)) {
        xlpci_log(ctx, say ? XTL_ERROR : XTL_DEBUG, -1, "%s = \"%s\" is "
                  "not a domid", path, v);
        rc = XLPCI_ERR_CORRUPT;
    } else {
        *owner_r = (int)d;
    }
    free(v);
    return rc;
}

int xlpci_owner_read(xlpci_ctx *ctx, xs_transaction_t t,
                     const xlpci_bdf *bdf, int *owner_r)
{
    return owner_read(ctx, t, bdf, owner_r, true);
}

int xlpci_owner_scan(xlpci_ctx *ctx, uint32_t domid, xlpci_bdf **bdfs_r,
                     size_t *n_r)
{
    char **nodes = NULL;
    unsigned nn = 0, i;
    xlpci_bdf bdf, *v;
    int rc, owner;

    *bdfs_r = NULL;
    *n_r = 0;
    rc = xlpci_xs_directory_alone(ctx, "/libxl/pci", &nodes, &nn);
    if (rc) {
        LOG(ctx, ERROR, "could not look for ownership records naming "
            "domain %u (the listing of /libxl/pci failed, see above)",
            domid);
        return rc;
    }
    v = calloc(nn + 1, sizeof(*v));
    if (!v)
        rc = XLPCI_ERR_NOMEM;
    for (i = 0; !rc && i < nn; i++) {
        if (!xlpci_libxl_name_bdf(nodes[i], &bdf))
            continue;
        rc = owner_read(ctx, XBT_NULL, &bdf, &owner, false);
        if (rc == XLPCI_ERR_CORRUPT)
            rc = 0;                    /* names no domain: not this one's
                                        * (the check of the domain whose
                                        * backend lists it reports it) */
        else if (!rc && owner == (int)domid)
            v[(*n_r)++] = bdf;
    }
    free(nodes);
    if (rc) {
        free(v);
        *n_r = 0;
        return rc;
    }
    *bdfs_r = v;
    return 0;
}

int xlpci_domain_exists(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                        bool *exists_r)
{
    char path[XLPCI_PATH_MAX];

    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    return xlpci_xs_exists(ctx, t, path, exists_r);
}

/* In t, one request when the record is free: the listing of
 * /libxl/pci/<bdf>.  *missing_r if the directory does not exist. */
static int claim_read(xlpci_ctx *ctx, xs_transaction_t t,
                      const xlpci_bdf *bdf, int *owner_r, bool *missing_r)
{
    char path[XLPCI_PATH_MAX], **names = NULL;
    unsigned n = 0, i;
    bool has = false;
    int rc;

    *owner_r = -1;
    *missing_r = false;
    xlpci_libxl_path(path, bdf, NULL);
    rc = xlpci_xs_directory(ctx, t, path, &names, &n);
    if (rc)
        return rc;
    if (!names) {
        *missing_r = true;
        return 0;
    }
    for (i = 0; i < n; i++)
        has |= !strcmp(names[i], "domid");
    free(names);
    return has ? xlpci_owner_read(ctx, t, bdf, owner_r) : 0;
}

int xlpci_backend_lists(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                        const xlpci_bdf *bdf, bool *lists_r)
{
    char path[XLPCI_PATH_MAX], err[64], *v = NULL;
    unsigned num = 0, i;
    xlpci_bdf got;
    int rc;

    *lists_r = false;
    rc = xlpci_be_key(path, domid, "num_devs");
    if (!rc) rc = xlpci_xs_read(ctx, t, path, &v);
    if (rc || !v)
        return rc;
    if (xlpci_parse_uint(v, XLPCI_MAX_DEVS, &num))
        num = 0;                       /* not a count: nothing listed */
    free(v);
    for (i = 0; !rc && !*lists_r && i < num; i++) {
        rc = xlpci_be_key(path, domid, "dev-%u", i);
        if (!rc) rc = xlpci_xs_read(ctx, t, path, &v);
        if (!rc && v && !xlpci_bdf_parse(v, &got, err, sizeof(err)) &&
            !xlpci_bdf_cmp(&got, bdf))
            *lists_r = true;
        free(v);
        v = NULL;
    }
    return rc;
}

int xlpci_backend_search(xlpci_ctx *ctx, xs_transaction_t t,
                         const xlpci_bdf *bdf, const int *skip, size_t nskip,
                         int *domid_r)
{
    char **doms = NULL;
    unsigned nd = 0, j, d;
    bool lists = false;
    size_t k;
    int rc;

    *domid_r = -1;
    rc = xlpci_xs_directory(ctx, t, XLPCI_BE_ROOT, &doms, &nd);
    for (j = 0; !rc && !lists && j < nd; j++) {
        if (xlpci_parse_uint(doms[j], DOMID_FIRST_RESERVED - 1, &d))
            continue;
        for (k = 0; k < nskip && skip[k] != (int)d; k++)
            ;
        if (k < nskip)
            continue;
        rc = xlpci_backend_lists(ctx, t, d, bdf, &lists);
        if (!rc && lists)
            *domid_r = (int)d;
    }
    free(doms);
    return rc;
}

int xlpci_known_alive(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                      int *alive_r)
{
    unsigned i;
    bool exists;
    int rc;

    for (i = 0; i < ctx->nalive; i++)
        if (ctx->alive_known[i].domid == domid &&
            ctx->alive_known[i].alive >= 0) {
            *alive_r = ctx->alive_known[i].alive;
            return 0;
        }
    rc = xlpci_domain_exists(ctx, t, domid, &exists);
    *alive_r = rc ? -1 : exists;
    return rc;
}

/* A record naming another domain than domid: the decision (owner.c) on
 * what the transaction can see: whether that domain is alive
 * (xlpci_known_alive) and its backend lists the device.  0: refused
 * (logged); 1: free (the record is stale: taken over). */
static int claim_other(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                       const xlpci_bdf *bdf, int owner, int *rc_r)
{
    char b[XLPCI_BDF_STRLEN], why[300], out[160];
    xlpci_owner_facts f;
    xlpci_owner_verdict v;
    xlpci_owner_cand *c;
    int alive;

    xlpci_owner_facts_init(&f, (int)domid, owner, false, -1);
    xlpci_owner_cand_find(&f, domid)->alive = 1;   /* it was read */
    c = xlpci_owner_cand_find(&f, (uint32_t)owner);
    /* alive, its record makes it the holder; gone, what its backend
     * lists holds nothing */
    *rc_r = xlpci_known_alive(ctx, t, (uint32_t)owner, &alive);
    if (*rc_r)
        return 0;
    c->alive = alive;
    xlpci_owner_decide(&f, &v);
    if (v.held == XLPCI_HELD_NONE) {
        /* a gone domain's record: before it is taken over, does a live
         * domain's backend list the device (a record another tool
         * damaged)?  The backends are searched, a cost that grows with
         * the host, only on this path. */
        int skip[2] = { (int)domid, owner }, found;

        *rc_r = xlpci_backend_search(ctx, t, bdf, skip, 2, &found);
        if (!*rc_r && found >= 0 &&
            (c = xlpci_owner_cand_add(&f, (uint32_t)found))) {
            c->lists = true;
            *rc_r = xlpci_known_alive(ctx, t, c->domid, &c->alive);
        }
        if (*rc_r)
            return 0;
        xlpci_owner_decide(&f, &v);
    }
    if (v.held == XLPCI_HELD_NONE || v.held == XLPCI_HELD_SELF)
        return 1;
    xlpci_bdf_format(bdf, b);
    xlpci_owner_text(bdf, &f, &v, why, sizeof(why));
    xlpci_owner_way_out(bdf, &f, &v, out, sizeof(out));
    LOG(ctx, ERROR, "PCI device %s is already assigned to domain %d (%s): "
        "%s", b, v.holder, why, out);
    *rc_r = XLPCI_ERR_EXISTS;
    return 0;
}

int xlpci_owner_claim(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                      uint32_t domid, const xlpci_dev *devs, size_t n,
                      bool *missing_r)
{
    char path[XLPCI_PATH_MAX], b[XLPCI_BDF_STRLEN];
    bool missing = false;
    size_t i;
    int rc = 0, owner;

    for (i = 0; !rc && i < n; i++) {
        bool absent, stale = false;

        xlpci_bdf_format(&devs[i].bdf, b);
        rc = claim_read(ctx, t, &devs[i].bdf, &owner, &absent);
        if (rc == XLPCI_ERR_CORRUPT) {
            /* unreadable: nobody can say whose it is; check --repair of
             * the domain whose backend lists it rewrites it */
            LOG(ctx, ERROR, "PCI device %s has an unreadable ownership "
                "record; `xlpci check --repair` of the domain holding it "
                "rewrites it, or remove the node", b);
            break;
        }
        if (rc)
            break;
        if (owner >= 0 && (uint32_t)owner != domid) {
            if (!claim_other(ctx, t, domid, &devs[i].bdf, owner, &rc))
                break;
            stale = true;              /* a gone domain's: ours now */
            LOG(ctx, DETAIL, "correction: /libxl/pci record of %s named "
                "domain %d, which is gone: it names domain %u now", b,
                owner, domid);
        }
        /* a missing directory is made outside the transaction (dry run:
         * the printed transaction makes it) */
        absent = absent && !ctx->dry_run;
        if (missing_r)
            missing_r[i] = absent;
        missing |= absent;
        if (owner < 0 || stale) {
            xlpci_libxl_path(path, &devs[i].bdf, "domid");
            rc = xlpci_ops_writef(ops, path, "%u", domid);
        }
    }
    return rc ? rc : missing ? XLPCI_TXN_PREPARE : 0;
}

int xlpci_owner_drop(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                     uint32_t domid, const xlpci_bdf *bdfs, size_t n)
{
    char path[XLPCI_PATH_MAX];
    size_t i;
    int rc = 0, owner;

    for (i = 0; !rc && i < n; i++) {
        rc = xlpci_owner_read(ctx, t, &bdfs[i], &owner);
        if (rc == XLPCI_ERR_CORRUPT) {
            owner = (int)domid;        /* unreadable: ours to clear */
            rc = 0;
        }
        if (rc || owner != (int)domid)
            continue;                  /* absent, or another domain's */
        xlpci_libxl_path(path, &bdfs[i], "domid");
        rc = xlpci_ops_rm(ops, path);
    }
    return rc;
}

int xlpci_owner_drop_view(xlpci_ctx *ctx, xs_transaction_t t,
                          xlpci_ops *ops, uint32_t domid,
                          const xlpci_view *view, const unsigned *idx,
                          size_t n)
{
    char err[64];
    xlpci_bdf bdf;
    size_t i;
    int rc = 0;

    for (i = 0; !rc && i < n; i++) {
        const char *dev = idx[i] < view->num_devs
                          ? view->keys[idx[i]][XLPCI_KEY_DEV] : NULL;

        if (dev && !xlpci_bdf_parse(dev, &bdf, err, sizeof(err)))
            rc = xlpci_owner_drop(ctx, t, ops, domid, &bdf, 1);
    }
    return rc;
}

/* One directory: empty or holding only "0" (the one PCI device dir)? */
static int only_devid0(xlpci_ctx *ctx, xs_transaction_t t, const char *path,
                       bool *only_r)
{
    char **names = NULL;
    unsigned n = 0;
    int rc = xlpci_xs_directory(ctx, t, path, &names, &n);

    *only_r = !rc && names && (n == 0 || (n == 1 && !strcmp(names[0], "0")));
    free(names);
    return rc;
}

static void be_root_prune(xlpci_ctx *ctx);

void xlpci_be_root_prune_after_commit(xlpci_ctx *ctx)
{
    xlpci_txn_after_commit(ctx, be_root_prune);
}

int xlpci_be_parent_cleanup(xlpci_ctx *ctx, xs_transaction_t t,
                            xlpci_ops *ops, uint32_t domid)
{
    char path[XLPCI_PATH_MAX];
    bool only;
    int rc;

    xlpci_be_parent_path(path, domid);
    rc = only_devid0(ctx, t, path, &only);
    if (!rc && only) {
        rc = xlpci_ops_rm(ops, path);
        xlpci_txn_after_commit(ctx, be_root_prune);
    }
    return rc;
}

int xlpci_parents_cleanup(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                          uint32_t domid)
{
    char path[XLPCI_PATH_MAX];
    bool only;
    int rc;

    rc = xlpci_be_parent_cleanup(ctx, t, ops, domid);
    if (rc)
        return rc;
    xlpci_fe_parent_path(path, domid);
    rc = only_devid0(ctx, t, path, &only);
    if (!rc && only) rc = xlpci_ops_rm(ops, path);
    return rc;
}

/* Record path in p (prune removes it again if it is empty). */
static int prepared_add(xlpci_prepared *p, const char *path)
{
    char **nv = realloc(p->paths, (p->n + 1) * sizeof(*nv));

    if (!nv)
        return XLPCI_ERR_NOMEM;
    p->paths = nv;
    if (!(nv[p->n] = strdup(path)))
        return XLPCI_ERR_NOMEM;
    p->n++;
    return 0;
}

/* The backend root and its ancestors below /local/domain, outermost
 * first: the mkdir of backend/pci/<domid> makes whichever are missing. */
static int be_chain_add(xlpci_prepared *p)
{
    static const char *const chain[] = {
        "/local/domain/0", "/local/domain/0/backend", XLPCI_BE_ROOT,
    };
    size_t i;
    int rc = 0;

    for (i = 0; !rc && i < sizeof(chain) / sizeof(chain[0]); i++)
        rc = prepared_add(p, chain[i]);
    return rc;
}

/* One mkdir outside any transaction, recorded in p for the prune. */
static int mkdir_recorded(xlpci_ctx *ctx, const char *path,
                          xlpci_prepared *p)
{
    xlpci_request(ctx);
    if (!xs_mkdir(ctx->xsh, XBT_NULL, path)) {
        LOGE(ctx, ERROR, "cannot create %s", path);
        return XLPCI_ERR_XENSTORE;
    }
    return prepared_add(p, path);
}

/* path exists, or is created with the missing ancestors (recorded in p,
 * outermost first). */
static int ensure_dir(xlpci_ctx *ctx, const char *path, xlpci_prepared *p)
{
    char parent[XLPCI_PATH_MAX];
    char *slash;
    bool exists;
    int rc;

    rc = xlpci_xs_exists(ctx, XBT_NULL, path, &exists);
    if (rc || exists)
        return rc;
    snprintf(parent, sizeof(parent), "%s", path);
    slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        rc = ensure_dir(ctx, parent, p);
        if (rc)
            return rc;
    }
    return mkdir_recorded(ctx, path, p);
}

int xlpci_backend_parent_prepare(xlpci_ctx *ctx, uint32_t domid, bool fresh,
                                 xlpci_prepared *p)
{
    char path[XLPCI_PATH_MAX];
    int rc;

    if (ctx->dry_run)
        return 0;
    xlpci_be_parent_path(path, domid);
    if (!fresh)
        return ensure_dir(ctx, path, p);
    /* A create: backend/pci/<domid> is normally absent.  One request,
     * the mkdir (which makes the backend root too if it is missing).
     * Both are recorded whether or not it made them: after a failed
     * create the prune removes each only if it is empty, as the removal
     * of the last device does (be_root_prune).  An empty parent holds
     * nothing: xenbus probes only backend/pci/<domid>/<devid>. */
    rc = be_chain_add(p);
    return rc ? rc : mkdir_recorded(ctx, path, p);
}

int xlpci_records_prepare(xlpci_ctx *ctx, const xlpci_dev *devs, size_t n,
                          const bool *missing, xlpci_prepared *p)
{
    char path[XLPCI_PATH_MAX];
    size_t i;
    int rc = 0;

    if (ctx->dry_run)
        return 0;
    if (!missing) {
        for (i = 0; !rc && i < n; i++) {
            xlpci_libxl_path(path, &devs[i].bdf, NULL);
            rc = ensure_dir(ctx, path, p);
        }
        return rc;
    }
    /* the transaction saw which are absent: /libxl/pci once, then one
     * mkdir each */
    for (i = 0; i < n && !missing[i]; i++)
        ;
    if (i < n)
        rc = ensure_dir(ctx, "/libxl/pci", p);
    for (; !rc && i < n; i++) {
        if (!missing[i])
            continue;
        xlpci_libxl_path(path, &devs[i].bdf, NULL);
        rc = mkdir_recorded(ctx, path, p);
    }
    return rc;
}

int xlpci_claim_retry(xlpci_ctx *ctx, const char *what, int rc,
                      unsigned *tries, const xlpci_dev *devs, size_t n,
                      const bool *missing, xlpci_prepared *p)
{
    if (rc != XLPCI_TXN_PREPARE)
        return rc;
    /* made, then gone before the transaction saw them: only a tool
     * removing whole /libxl/pci/<bdf> directories does that */
    if (++*tries > 3) {
        LOG(ctx, ERROR, "%s: the directories /libxl/pci/<bdf> of the "
            "devices keep disappearing", what);
        return XLPCI_ERR_RETRIES;
    }
    rc = xlpci_records_prepare(ctx, devs, n, missing, p);
    return rc ? rc : XLPCI_TXN_PREPARE;
}

/* The directories prepared for a create/attach that then failed go
 * again, innermost first, each only if it is still empty: the store is
 * as it was. */
/* Is child one level below parent? */
static bool is_child(const char *child, const char *parent)
{
    size_t len = strlen(parent);

    return !strncmp(child, parent, len) && child[len] == '/' &&
           !strchr(child + len + 1, '/');
}

static int prune_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                      void *varg)
{
    const xlpci_prepared *p = varg;
    bool *kept = calloc(p->n + 1, sizeof(*kept)); /* there, not removed */
    char **names;
    unsigned n, removed = 0;
    size_t i, j, k;
    int rc = kept ? 0 : XLPCI_ERR_NOMEM;

    for (i = p->n; !rc && i-- > 0;) {
        /* a prepared child that stays: not empty, nothing to list (the
         * backend root's ancestors, most of the time) */
        for (k = i + 1; k < p->n && !(kept[k] &&
                                      is_child(p->paths[k], p->paths[i]));
             k++)
            ;
        if (k < p->n) {
            kept[i] = true;
            continue;
        }
        names = NULL;
        n = 0;
        rc = xlpci_xs_directory(ctx, t, p->paths[i], &names, &n);
        /* a child is gone if it was removed just before (it comes after
         * its parent in p->paths) */
        for (j = 0; !rc && names && j < n; j++) {
            char child[XLPCI_PATH_MAX];

            snprintf(child, sizeof(child), "%s/%s", p->paths[i], names[j]);
            for (k = i + 1; k < p->n && strcmp(p->paths[k], child); k++)
                ;
            if (k == p->n || !ops_removes(ops, child))
                break;
        }
        if (!rc && names && j == n) {
            rc = xlpci_ops_rm(ops, p->paths[i]);
            removed++;
        } else if (!rc && names) {
            kept[i] = true;
        }
        free(names);
    }
    free(kept);
    return rc ? rc : removed ? 0 : XLPCI_TXN_NOTHING;
}

void xlpci_parents_prune(xlpci_ctx *ctx, xlpci_prepared *p)
{
    if (p->n && !ctx->dry_run)
        xlpci_txn_run(ctx, "cleanup", prune_body, p);
    xlpci_prepared_dispose(p);
}

/* After the commit that removed backend/pci/<domid>: the backend root
 * goes too if nothing else is in it, and so on up (libxl's path cleanup
 * removes empty parents the same way; on a real host /local/domain/0 is
 * never empty), in a transaction of its own, so that the
 * removal never reads the shared root (it would conflict with every
 * create's mkdir on oxenstored).  Best effort: a root left empty is
 * harmless and the next create's failure path prunes it. */
static void be_root_prune(xlpci_ctx *ctx)
{
    xlpci_prepared p = { NULL, 0 };

    if (!be_chain_add(&p))
        xlpci_parents_prune(ctx, &p);
    else
        xlpci_prepared_dispose(&p);
}

void xlpci_prepared_dispose(xlpci_prepared *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->paths[i]);
    free(p->paths);
    p->paths = NULL;
    p->n = 0;
}

int xlpci_remove_devices(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                         uint32_t domid, xlpci_view *view,
                         const unsigned *idx, size_t n)
{
    unsigned lo = view->num_devs;
    size_t i;
    int rc = 0;

    /* What the removal needs of a view read light: the values of the rows
     * that move down (those above the lowest removed) and the removed
     * rows' dev-N (their records); nothing when the view was read whole. */
    for (i = 0; i < n; i++)
        if (idx[i] < lo)
            lo = idx[i];
    if (n < view->num_devs)
        rc = xlpci_view_read_rows(ctx, t, domid, view, lo + 1,
                                  view->num_devs, XLPCI_KEYS_ALL);
    for (i = 0; !rc && i < n; i++)
        rc = xlpci_view_read_rows(ctx, t, domid, view, idx[i], idx[i] + 1,
                                  XLPCI_KEY_BIT(XLPCI_KEY_DEV));
    if (!rc) rc = xlpci_layout_remove(ops, domid, view, idx, n);
    if (!rc) rc = xlpci_owner_drop_view(ctx, t, ops, domid, view, idx, n);
    if (!rc && view->num_devs <= n)
        rc = xlpci_parents_cleanup(ctx, t, ops, domid);
    return rc;
}

typedef struct {
    xlpci_bdf bdf;
    int domid;
} owner_arg;

static int owner_body(xlpci_ctx *ctx, xs_transaction_t t, void *varg)
{
    owner_arg *a = varg;
    int rc;

    rc = xlpci_owner_read(ctx, t, &a->bdf, &a->domid);
    return rc == XLPCI_ERR_CORRUPT ? 0 : rc;
}

int xlpci_device_domain(xlpci_ctx *ctx, const xlpci_bdf *bdf)
{
    owner_arg a = { *bdf, -1 };

    return xlpci_txn_read(ctx, "lookup", owner_body, &a) ? -1 : a.domid;
}

/*
 * Waiting on the guest: why a flow waits (backend state, an index still
 * Closing, the frontend not Connected), the failure report of a backend
 * pciback gave up on, and the loop that runs a transaction body until it
 * stops asking to wait.  Waiting is never done inside a transaction: a
 * body that finds the backend in the wrong state returns XLPCI_TXN_WAIT,
 * the flow waits on a watch (held across the runs, so no change is
 * missed) and runs the body again, from fresh reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps.h"

const char *xlpci_state_name(int state)
{
    static const char *const names[] = {
        "Unknown", "Initialising", "InitWait", "Initialised", "Connected",
        "Closing", "Closed", "Reconfiguring", "Reconfigured",
    };

    if (state == -1)
        return "absent";
    if (state < 0)
        return "not a xenbus state";
    return state < (int)(sizeof(names) / sizeof(names[0])) ? names[state]
                                                           : "invalid";
}

int xlpci_read_checked_view(xlpci_ctx *ctx, xs_transaction_t t,
                            uint32_t domid, xlpci_view *view)
{
    return xlpci_read_checked_keys(ctx, t, domid, view, XLPCI_KEYS_ALL);
}

int xlpci_read_checked_keys(xlpci_ctx *ctx, xs_transaction_t t,
                            uint32_t domid, xlpci_view *view, unsigned keys)
{
    int rc = xlpci_view_read_keys(ctx, t, domid, view, keys);

    return rc ? rc : xlpci_view_check_logged(ctx, view, domid);
}

int xlpci_view_check_logged(xlpci_ctx *ctx, const xlpci_view *view,
                            uint32_t domid)
{
    char err[256];
    int rc = xlpci_view_check(view, domid, err, sizeof(err));

    if (rc)
        LOG(ctx, ERROR, "%s", err);
    return rc;
}

/* A cycle must not start while an index is still Closing: pciback's
 * reconfigure would try to release it again, fail, and never reach
 * Reconfigured (the kernel's "goto out").  Index of the first such device
 * not in skip (a bitmap of our own indices), or -1. */
int xlpci_pending_removal(const xlpci_view *view, const bool *skip)
{
    unsigned i;

    for (i = 0; i < view->num_devs; i++)
        if (view->row_state[i] == XenbusStateClosing && !(skip && skip[i]))
            return (int)i;
    return -1;
}

/* Closing or Closed: pciback gave up (xenbus_dev_fatal).  Reports its
 * error node. */
int xlpci_backend_failed(xlpci_ctx *ctx, xs_transaction_t t,
                         uint32_t domid, int state)
{
    char path[XLPCI_PATH_MAX], be[XLPCI_PATH_MAX];
    char *errtext = NULL;
    int rc;

    xlpci_error_path(path, domid);
    rc = xlpci_xs_read(ctx, t, path, &errtext);
    if (rc)
        return rc;
    xlpci_be_path(be, domid);
    LOG(ctx, ERROR, "the PCI backend %s is %s (%d)%s%s; recreate it with "
        "create -f", be, xlpci_state_name(state), state,
        errtext ? ": pciback reports: " : "", errtext ?: "");
    free(errtext);
    return XLPCI_ERR_BACKEND;
}

void xlpci_wait_reason_text(const xlpci_wait_reason *w, char *buf, size_t len)
{
    if (w->pending >= 0)
        snprintf(buf, len, "index %d is still being removed (state-%d = 5; "
                 "if a pci-detach was interrupted, check --repair completes "
                 "it)", w->pending, w->pending);
    else if (w->fe_wait)
        snprintf(buf, len, "the backend is Connected but the guest's "
                 "frontend is %s", xlpci_state_name(w->fe_state));
    else
        snprintf(buf, len, "the backend is %s, not Connected",
                 xlpci_state_name(w->state));
}

/* A Reconfiguring cycle needs BOTH ends Connected: pcifront acts on it
 * only when it is Connected itself (pcifront_detach_devices), and at the
 * first connect the backend gets there a moment before the frontend; a
 * cycle started in that window never ends.  true: go ahead. */
bool xlpci_frontend_ready(xlpci_ctx *ctx, xs_transaction_t t,
                          uint32_t domid, xlpci_wait_reason *why, int *rc)
{
    char path[XLPCI_PATH_MAX + 8], *v = NULL;
    unsigned st;

    xlpci_fe_path(path, domid);
    strncat(path, "/state", sizeof(path) - strlen(path) - 1);
    why->fe_state = -1;
    *rc = xlpci_xs_read(ctx, t, path, &v);
    if (!*rc && v)                     /* the guest's: anything at all */
        why->fe_state = xlpci_parse_uint(v, XenbusStateReconfigured, &st)
                        ? -2 : (int)st;
    free(v);
    why->fe_wait = why->fe_state != XenbusStateConnected;
    return !*rc && !why->fe_wait;
}

/* Run body until it stops asking to wait; between runs wait for a change
 * of the backend or the frontend's state on w, until the flow's deadline.
 * The first run goes without a watch (a guest that is ready costs none);
 * when it asks to wait, w is registered and the body runs again at once,
 * from reads made after the registration, so no change is missed. */
int xlpci_run_until_ready(xlpci_ctx *ctx, xlpci_watch *w, uint32_t domid,
                          const char *what, xlpci_txn_body *body, void *arg,
                          long long deadline)
{
    int rc;

    for (;;) {
        rc = xlpci_txn_run(ctx, what, body, arg);
        if (rc != XLPCI_TXN_WAIT || ctx->dry_run)
            return rc;
        rc = w->active ? xlpci_watch_wait(ctx, w, deadline)
                       : xlpci_watch_begin(ctx, domid, w);
        if (rc)
            return rc;
    }
}

bool xlpci_is_connected(int state, void *arg)
{
    (void)arg;
    return state == XenbusStateConnected;
}

/*
 * A Reconfiguring cycle that did not end by the command's deadline, and
 * the guest that may have acted on it anyway.
 *
 * The rollback of a cycle (attach.c, detach.c) puts the backend back to
 * Connected when the frontend is still Connected: nobody reacted.  But
 * the guest reads the backend's state outside any transaction of ours:
 * pcifront may have seen Reconfiguring just before the rollback committed
 * (it removes the indices Closing from the guest, then says
 * Reconfiguring), and pciback acts on a frontend Reconfiguring only while
 * the backend says Reconfiguring (xen_pcibk_reconfigure).  Then nothing
 * moves again: the frontend waits in Reconfiguring for a Reconfigured
 * that never comes, every later attach and detach waits for a frontend
 * that is never Connected, and after a detach's rollback the guest has
 * lost a device the backend still lists.
 *
 * So the flows look before and after a rollback (within the grace the
 * deadline leaves them: io.h, XLPCI_OP):
 *   - before: the cycle ended late (backend Connected: the flow goes on
 *     as if it had ended in time), or the guest joined it (frontend
 *     Reconfiguring, or the backend Reconfigured): the cycle is waited
 *     for, never rolled back under the guest;
 *   - after: the frontend goes Reconfiguring after all: the cycle is
 *     resumed (xlpci_cycle_resume) so the guest ends it.
 * What neither can settle within the grace is said, and check reports
 * it: a frontend Reconfiguring while the backend is Connected, which
 * check --repair resumes.
 *
 * Resuming: the backend says Reconfiguring again and the frontend's
 * state node is written again with its own value, in one transaction,
 * so pciback (which acts on a write of the frontend's state) runs its
 * reconfigure: it exports indices still Initialising, releases indices
 * Closing, says Reconfigured; pcifront rescans its root (the devices the
 * backend still exports come back to the guest: a device a rolled-back
 * detach had taken from it) and says Connected; pciback says Connected.
 */
#include <stdlib.h>
#include <string.h>

#include "steps.h"

static int read_fe_state(xlpci_ctx *ctx, xs_transaction_t t, uint32_t domid,
                         int *state_r)
{
    xlpci_wait_reason why;
    int rc;

    memset(&why, 0, sizeof(why));
    xlpci_frontend_ready(ctx, t, domid, &why, &rc);
    *state_r = why.fe_state;
    return rc;
}

typedef struct {
    uint32_t domid;
    bool resumed;
} resume_arg;

static int resume_body(xlpci_ctx *ctx, xs_transaction_t t, xlpci_ops *ops,
                       void *varg)
{
    resume_arg *a = varg;
    char path[XLPCI_PATH_MAX + 8];
    xlpci_view view;
    int rc, fe;

    a->resumed = false;
    rc = xlpci_read_checked_view(ctx, t, a->domid, &view);
    if (!rc && (!view.exists || view.state != XenbusStateConnected))
        rc = XLPCI_TXN_NOTHING;
    if (!rc)
        rc = read_fe_state(ctx, t, a->domid, &fe);
    if (!rc && fe != XenbusStateReconfiguring)
        rc = XLPCI_TXN_NOTHING;
    if (!rc)
        rc = xlpci_be_key(path, a->domid, "state");
    if (!rc)
        rc = xlpci_ops_writef(ops, path, "%d", XenbusStateReconfiguring);
    if (!rc) {
        xlpci_fe_path(path, a->domid);
        strncat(path, "/state", sizeof(path) - strlen(path) - 1);
        rc = xlpci_ops_writef(ops, path, "%d", XenbusStateReconfiguring);
    }
    a->resumed = !rc;
    xlpci_view_dispose(&view);
    return rc;
}

int xlpci_cycle_resume(xlpci_ctx *ctx, uint32_t domid, long long until)
{
    resume_arg a = { domid, false };
    int rc, state;

    xlpci_watch w;

    rc = xlpci_txn_run(ctx, "resume the Reconfiguring cycle", resume_body,
                       &a);
    if (rc == XLPCI_TXN_NOTHING)
        return 0;                      /* not (any longer) stuck */
    if (rc || ctx->dry_run)
        return rc;
    memset(&w, 0, sizeof(w));
    rc = xlpci_wait_backend(ctx, &w, domid, xlpci_is_connected, NULL, until,
                            &state);
    xlpci_watch_end(ctx, &w);
    if (rc == XLPCI_ERR_TIMEDOUT)
        LOG(ctx, ERROR, "domain %u: the resumed Reconfiguring cycle did not "
            "end in time (backend %s): check %u tells when it has", domid,
            xlpci_state_name(state), domid);
    return rc ? rc : 1;
}

int xlpci_cycle_joined(xlpci_ctx *ctx, uint32_t domid, long long until,
                       int *state_r)
{
    char spath[XLPCI_PATH_MAX];
    char *v = NULL;
    xlpci_watch w;
    unsigned st;
    int rc, fe, be = -1;

    xlpci_be_key(spath, domid, "state");
    rc = xlpci_xs_read(ctx, XBT_NULL, spath, &v);
    if (!rc && v && !xlpci_parse_uint(v, XenbusStateReconfigured, &st))
        be = (int)st;
    free(v);
    if (!rc)
        rc = read_fe_state(ctx, XBT_NULL, domid, &fe);
    if (rc)
        return rc;
    *state_r = be;
    if (be == XenbusStateConnected)
        return 0;                      /* ended, late */
    if (be == XenbusStateReconfiguring && fe != XenbusStateReconfiguring)
        return 1;                      /* nobody acted on it (yet) */
    if (be != XenbusStateReconfiguring && be != XenbusStateReconfigured)
        return 1;                      /* not our cycle any more: the
                                        * caller's rollback decides */
    /* the guest is in it: its end is waited for, within the grace */
    memset(&w, 0, sizeof(w));
    rc = xlpci_wait_backend(ctx, &w, domid, xlpci_is_connected, NULL, until,
                            state_r);
    xlpci_watch_end(ctx, &w);
    return rc == XLPCI_ERR_TIMEDOUT ? XLPCI_CYCLE_JOINED : rc;
}

int xlpci_cycle_late(xlpci_ctx *ctx, uint32_t domid, long long until,
                     int *state_r, const char *what, xlpci_txn_body *undo,
                     void *arg, const bool *undone)
{
    int j = xlpci_cycle_joined(ctx, domid, until, state_r), urc;

    if (j != 1 || !undo)
        return j;
    urc = xlpci_txn_run(ctx, what, undo, arg);
    if (urc < 0)
        return urc;
    /* the guest acted between the look and the rollback: its cycle is
     * waited for, as when it had joined */
    return *undone ? j : xlpci_cycle_joined(ctx, domid, until, state_r);
}

int xlpci_cycle_after_rollback(xlpci_ctx *ctx, uint32_t domid,
                               long long until)
{
    xlpci_watch w;
    int rc, fe;

    memset(&w, 0, sizeof(w));
    if (ctx->dry_run)
        return 0;
    rc = xlpci_watch_begin(ctx, domid, &w);
    while (!rc) {
        rc = read_fe_state(ctx, XBT_NULL, domid, &fe);
        if (rc)
            break;
        if (fe == XenbusStateReconfiguring) {
            LOG(ctx, DETAIL, "domain %u: the guest acted on the cycle just "
                "before its rollback: resuming it", domid);
            xlpci_watch_end(ctx, &w);
            return xlpci_cycle_resume(ctx, domid, xlpci_step_limit(ctx));
        }
        rc = xlpci_watch_wait(ctx, &w, until);
    }
    xlpci_watch_end(ctx, &w);
    return rc == XLPCI_ERR_TIMEDOUT ? 0 : rc;
}

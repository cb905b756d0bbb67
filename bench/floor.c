/*
 * The floor of a hot path (pci-attach, pci-detach): a bare libxenstore
 * client that knows everything in advance, so it reads nothing but what
 * it waits on, and does what any tool must do in the same way libxlpci
 * does it: the writes of a step in one transaction on its own connection
 * (redone on EAGAIN), then the wait for the guest on watches held on a
 * second connection (hotpath.c gives the backend's state node, as
 * xlpci's wait for a cycle has it), re-reading the nodes it waits on
 * after every batch of events, in order, until the first that does not
 * hold.
 *
 * The plan is a list of words (argv), so that the very same code runs in
 * the bench's process (hotpath.c, xlpci_floor_run) and as a process of
 * its own (build/.../xlpci-floor, this file built alone with
 * -DXLPCI_FLOOR_MAIN and linked with libxenstore only: the whole-process
 * rows of (f)):
 *
 *   mkdir PATH          now, outside any transaction
 *   write PATH VALUE    planned for the next commit
 *   rm PATH             planned for the next commit
 *   commit              the planned operations in one transaction
 *   watch PATH          watched during the waits (registered at the first)
 *   until PATH VALUE    a condition of the next wait
 *   wait                until every condition holds (20 s at most)
 *
 * Exit status of the program (the return of xlpci_floor_run): 0, 1 a
 * request failed or the wait timed out, 2 a malformed plan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#include "bench.h"

#define FLOOR_MAX 64                  /* operations, watches, conditions */

typedef struct {
    const char *op, *path, *value;
} floor_op;

static int floor_fail(const char *what, const char *path)
{
    fprintf(stderr, "xlpci-floor: %s %s: %s\n", what, path ? path : "",
            strerror(errno));
    return 1;
}

static long long floor_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int floor_commit(struct xs_handle *xs, const floor_op *ops, int n)
{
    xs_transaction_t t;
    int i;

    for (;;) {
        t = xs_transaction_start(xs);
        if (t == XBT_NULL)
            return floor_fail("transaction_start", NULL);
        for (i = 0; i < n; i++) {
            bool ok = !strcmp(ops[i].op, "rm")
                      ? xs_rm(xs, t, ops[i].path) || errno == ENOENT
                      : xs_write(xs, t, ops[i].path, ops[i].value,
                                 (unsigned)strlen(ops[i].value));

            if (!ok) {
                xs_transaction_end(xs, t, true);
                return floor_fail(ops[i].op, ops[i].path);
            }
        }
        if (xs_transaction_end(xs, t, false))
            return 0;
        if (errno != EAGAIN)
            return floor_fail("commit", NULL);
    }
}

/* Every condition in order, until the first that does not hold. */
static bool floor_holds(struct xs_handle *xs, const floor_op *until, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        unsigned len;
        char *v = xs_read(xs, XBT_NULL, until[i].path, &len);
        bool ok = v && !strcmp(v, until[i].value);

        free(v);
        if (!ok)
            return false;
    }
    return true;
}

static int floor_wait(struct xs_handle *xs, struct xs_handle **wxs,
                      const floor_op *watches, int nwatches, bool *watching,
                      const floor_op *until, int n)
{
    long long end = floor_now_ms() + 20000;
    int i;

    if (!*wxs && !(*wxs = xs_open(0)))
        return floor_fail("xs_open", NULL);
    for (i = 0; !*watching && i < nwatches; i++)
        if (!xs_watch(*wxs, watches[i].path, "floor"))
            return floor_fail("watch", watches[i].path);
    *watching = true;
    while (!floor_holds(xs, until, n)) {
        struct pollfd pfd = { .fd = xs_fileno(*wxs), .events = POLLIN };
        char **ev;
        long long left = end - floor_now_ms();

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            errno = ETIMEDOUT;
            return floor_fail("wait", until[0].path);
        }
        while ((ev = xs_check_watch(*wxs)))
            free(ev);
    }
    return 0;
}

int xlpci_floor_run(int argc, char **argv)
{
    floor_op ops[FLOOR_MAX], watches[FLOOR_MAX], until[FLOOR_MAX];
    int nops = 0, nwatches = 0, nuntil = 0, i, rc = 0;
    struct xs_handle *xs, *wxs = NULL;
    bool watching = false;

    /* the plan first: a malformed one sends nothing */
    for (i = 0; i < argc; i++) {
        const char *w = argv[i];
        int args = !strcmp(w, "write") || !strcmp(w, "until") ? 2 :
                   !strcmp(w, "mkdir") || !strcmp(w, "rm") ||
                   !strcmp(w, "watch") ? 1 :
                   !strcmp(w, "commit") || !strcmp(w, "wait") ? 0 : -1;

        if (args < 0 || i + args >= argc) {
            fprintf(stderr, "xlpci-floor: bad plan at \"%s\"\n", w);
            return 2;
        }
        i += args;
    }
    xs = xs_open(0);
    if (!xs)
        return floor_fail("xs_open", NULL);
    for (i = 0; !rc && i < argc; i++) {
        const char *w = argv[i];

        if (!strcmp(w, "mkdir")) {
            if (!xs_mkdir(xs, XBT_NULL, argv[i + 1]))
                rc = floor_fail("mkdir", argv[i + 1]);
            i++;
        } else if (!strcmp(w, "write") || !strcmp(w, "rm")) {
            if (nops == FLOOR_MAX)
                return 2;
            ops[nops++] = (floor_op){ w, argv[i + 1],
                                      *w == 'w' ? argv[i + 2] : NULL };
            i += *w == 'w' ? 2 : 1;
        } else if (!strcmp(w, "commit")) {
            rc = floor_commit(xs, ops, nops);
            nops = 0;
        } else if (!strcmp(w, "watch")) {
            if (nwatches == FLOOR_MAX)
                return 2;
            watches[nwatches++] = (floor_op){ w, argv[++i], NULL };
        } else if (!strcmp(w, "until")) {
            if (nuntil == FLOOR_MAX)
                return 2;
            until[nuntil++] = (floor_op){ w, argv[i + 1], argv[i + 2] };
            i += 2;
        } else {                                          /* wait */
            rc = floor_wait(xs, &wxs, watches, nwatches, &watching, until,
                            nuntil);
            nuntil = 0;
        }
    }
    for (i = 0; watching && i < nwatches; i++)
        xs_unwatch(wxs, watches[i].path, "floor");
    if (wxs)
        xs_close(wxs);
    xs_close(xs);
    return rc;
}

#ifdef XLPCI_FLOOR_MAIN
int main(int argc, char **argv)
{
    return xlpci_floor_run(argc - 1, argv + 1);
}
#endif

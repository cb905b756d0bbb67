/*
 * libxlpci test interface.  Not installed, not in libxlpci.so: only the
 * test build of the library (libxlpci-test.a, compiled with
 * -DXLPCI_TESTING; the tests, the bench and build/xlpci-test link it) has
 * these, together with the crash injection of XLPCI_CRASH_AT and
 * XLPCI_CRASH_HOST_AT (io.h).
 */
#ifndef LIBXLPCI_TESTING_H
#define LIBXLPCI_TESTING_H

#include "libxlpci.h"

/* Called after a transaction body has run and its writes were issued,
 * just before commit (attempt counts from 1).  Lets a test make a
 * conflicting change to prove that the retry re-reads everything. */
typedef void xlpci_txn_hook(void *arg, unsigned attempt);

void xlpci_ctx_set_txn_hook(xlpci_ctx *ctx, xlpci_txn_hook *fn, void *arg);
/* Called after a transaction body has run, before its writes are issued:
 * a change made then meets the transaction's own writes (C xenstored
 * answers an rm of a directory changed meanwhile with EIO, not EAGAIN). */
void xlpci_ctx_set_txn_write_hook(xlpci_ctx *ctx, xlpci_txn_hook *fn,
                                  void *arg);

#endif /* LIBXLPCI_TESTING_H */

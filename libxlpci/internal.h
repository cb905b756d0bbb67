/*
 * libxlpci internal interfaces, for the library's modules.  Not installed.
 * The tests, fuzzers and bench include libxlpci_priv.h instead (the pure
 * floor's interfaces), which this includes.
 *
 * Module map (one concept per file), by floor; a file calls only into its
 * own floor or the floors above it in this list, and no files call each
 * other round in a loop.  tests/pkg/test-layers (make check-unit) reads
 * this map, the "[N] floor" headings and the "<file>.c" lines under them,
 * and checks both rules on the objects' symbols (nm): every library file
 * has its line here.  The protocol the flows drive: docs/protocol.md.
 *
 * [0] pure parsers and planners (no I/O)
 *   bdf.c     BDF and PCI_SPEC_STRING parse/format, the parsers'
 *             error messages (xlpci_errf)
 *   cfg.c     xl.cfg subset reader
 *   ops.c     list of planned xenstore operations
 *   view.c    the backend parser (view: paths, setup, per-index
 *             states, problems, check, entries)
 *   layout.c  the backend's operations for create/append/
 *             detach/remove/rollback/repair
 *   json.c    pci-list -l through yajl, yajl strings
 *   watchplan.c  the watcher's decisions: domains born and gone,
 *             watch events, device list paths, the action queue
 *   resource.c  sysfs "resource" and "irq" of a device, parsed
 *   sriov.c   SR-IOV routing IDs: the BDF of a PF's VF k, and back
 *   qmpmsg.c  QMP messages (device_add, device_del, query-pci; replies,
 *             errors, events) through yajl
 *   owner.c   who holds a device: THE decision, on the facts of the
 *             record, the backends, liveness and Xen (docs/ownership.md)
 * [1] I/O
 *   ctx.c     context, logging, error strings, the operation's one
 *             deadline (XLPCI_OP)
 *   xs.c      transaction runner (xlpci_txn_run; xlpci_txn_read for
 *             read-only steps), checked reads (a listing that may pass
 *             one reply on a connection of its own), the backend's reader
 *             (whole, or the keys a hot path decides on), watch waits (on
 *             a connection of their own, with a re-read budget)
 *   sysfs.c   which functions of a slot exist, is pciback loaded
 *             (xlpci_host_active), sysfs writes and waits; SR-IOV: a
 *             PF's numbers, a VF's PF, the PF a missing BDF would be a
 *             VF of
 *   bookkeeping.c  XLPCI_STATE_DIR/devices.json and its locks
 *   libxlnode.c  libxl's /libxl/pci/<bdf>/ nodes: the domid ownership
 *             record (shared with libxl/xl; xlpci_device_domain), claimed
 *             with one listing per device in the transaction; the shared
 *             parents made before it (backend/pci/<domid>; a missing
 *             record directory after XLPCI_TXN_PREPARE) and cleaned;
 *             check's scan of the records naming a domain
 *   names.c   device names shared with xl (/libxl/pci/<bdf>/name)
 *   qmp.c     QMP client on <run dir>/qmp-libxl-<domid>: handshake,
 *             commands under the command's deadline, events
 *   qmpholder.c  who holds a busy QMP socket (sock_diag, /proc)
 *   xclib.c   libxenctrl, dlopen'ed at the first hypervisor call
 *             (xclib.h: the calls keep their names; nothing else loads it)
 * [2] host side
 *   assign.c  the steps of pci-assignable-add/-remove (pciback binding,
 *             quarantine, the way back)
 *   hypervisor.c  iomem/ioport/irq permissions via libxenctrl; the
 *             grant and release sequences of a device (IOMMU, reset,
 *             permissive, permissions), the quarantine's handle
 *   iommu.c   IOMMU assignment, quarantine, domain type via libxenctrl
 *   reset.c   device reset (do_flr / reset) and pciback permissive
 * [3] the flows' shared steps
 *   resolve.c   domain and device resolution (spec -> devices)
 *   ownership.c  who holds a device, asked of owner.c on the facts
 *             gathered (record, backends, liveness, Xen, bookkeeping):
 *             the checks before a claim, THE release of devices
 *   hostside.c  host side of an assignment: prepare, grant, finish
 *             (keep or undo), release
 *   wait.c    waiting on the guest: wait reasons, frontend ready,
 *             backend failed, run a body until it stops waiting
 *   cycle.c   a Reconfiguring cycle past the deadline: ended late,
 *             joined by the guest, or rolled back; the guest that acted
 *             on it after all (the cycle resumed)
 * [4] the flows (each a file that reads like the protocol it drives)
 *   create.c  create: the whole backend in one transaction
 *   attach.c  pci-attach (hot-add, Reconfiguring cycle, rollback)
 *   detach.c  pci-detach (hot-remove, Reconfiguring cycle, -f)
 *   list.c    pci-list
 *   hvm.c     HVM guests: create/attach/detach through QEMU (QMP) and
 *             the same record as PV (backend entries, ownership)
 *   destroy.c destroy: release all a gone/going domain holds (THE
 *             release of a domain: xlpci_destroy_run, the watcher's too)
 *   assignable.c  pci-assignable-add/-remove/-list: who holds the device
 *             first, then assign.c's steps
 *   check.c   check [--repair]: the store and ownership records
 *   reconcile.c  check: bookkeeping against xenstore, repair
 *   watchact.c  the watcher's actions (create from the guests
 *             directory, release, restore records) and the domains'
 *             lives (Xen's list or xenstore's)
 * [5] the watcher
 *   watch.c   the loop: watches, scans, the actions' child processes
 *             and deadlines (xlpci_watcher_*, docs/watch.md)
 * [6] the CLI: tools/xlpci.c, through libxlpci.h only (libxlpci.so
 *     exports nothing else: tests/pkg/test-symbols)
 *
 * Headers: libxlpci.h (installed, the API); libxlpci_priv.h (what tests,
 * fuzzers and bench need from inside: the pure floor's types and
 * parsers); one header per floor, each including the one below it:
 * pure.h [0], io.h [1], host.h [2], steps.h [3], flows.h [4] (the
 * watcher [5] includes flows.h).  A library file includes its own
 * floor's header, so its includes show where it stands (test-layers).
 * This file is the map, and includes flows.h for the tests that reach
 * inside.  libxlpci_testing.h, the test-only interface (transaction
 * hook): with the crash injection in io.h, only in test builds
 * (-DXLPCI_TESTING: libxlpci-test.a, build/xlpci-test).
 */
#ifndef LIBXLPCI_INTERNAL_H
#define LIBXLPCI_INTERNAL_H

/* every floor below the watcher (flows.h includes the floors under it) */
#include "flows.h"

#endif

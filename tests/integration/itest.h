/*
 * Helpers shared by the integration tests: a private real xenstored per
 * test (tests/harness), the xlpci CLI, the pciback/pcifront model, and
 * checks of the backend invariants read straight from the store.
 */
#ifndef ITEST_H
#define ITEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>
#include <xenstore.h>

#include "harness.h"

#define BE(d) "/local/domain/0/backend/pci/" #d "/0"

typedef struct {
    struct xsd xsd;
    struct xs_handle *xs;
    char dir[256];                   /* scratch dir (model status, files) */
    pid_t model;                     /* 0 if not running */
    char *out, *err;                 /* of the last xlpci run */
} itest_env;

/* cmocka setup/teardown: daemon (C xenstored, or oxenstored with
 * test-eagain for the _ox variant), domains 5..8 named guest5..guest8. */
int itest_setup(void **state);
int itest_setup_ox(void **state);        /* oxenstored, real conflicts */
int itest_setup_ox_eagain(void **state);
/* The same with the daemon's options (a dead file for xsd_kill). */
int itest_setup_opts(void **state, const struct xsd_opts *o);
int itest_teardown(void **state);

void itest_mkdomain(itest_env *e, unsigned domid, const char *name);

/* Start the fake sysfs kernel (tests/fakes/fakesysfs) rooted at
 * <e->dir>/sys (into sys, len bytes) with the host tests' three devices:
 * 0000:03:00.0 on e1000e, 0000:04:00.0 and 0000:05:00.0 on pciback.
 * *pid: the process (stop it with h_stop).  0, or -1. */
int itest_fakesysfs(itest_env *e, char *sys, size_t len, pid_t *pid);
/* A host for the library's host side, in e's directory: the fake sysfs
 * (itest_fakesysfs) with Xen running, a state directory, the fake
 * libxenctrl (LD_LIBRARY_PATH) logging its calls to log and keeping its
 * IOMMU state in iommu, all in the environment the library and the CLI
 * read; the fake's knobs (FAKEXC_FAIL, _PROBE, _DOMAINS, _IOMMU) and
 * XLPCI_HYPERVISOR cleared.  0, or -1. */
typedef struct {
    pid_t fake;
    char sys[300], state[300], log[300], iommu[300];
} itest_host;
int itest_host_setup(itest_env *e, itest_host *h);
/* Unsets what itest_host_setup set (and the knobs), stops the fake sysfs. */
void itest_host_teardown(itest_host *h);
/* Write text to path (asserts). */
void itest_put_file(const char *path, const char *text);
/* The whole file, malloc'd; "" if it is absent or unreadable. */
char *itest_slurp(const char *path);
/* The driver bound to device bdf in the sysfs root sys ("" if none), in
 * a static buffer. */
const char *itest_driver_of(const char *sys, const char *bdf);
/* Device 0000:0X:00.0 of the fake sysfs root sys: memory 0xfX000000 (16
 * pages), ports 0xX000 (64), irq 1X, so the fake libxenctrl's log tells
 * the devices apart. */
void itest_set_resources(const char *sys, unsigned x);
/* Xen running (on) or not, as the library sees it in the sysfs root sys:
 * <sys>/hypervisor/type "xen", or absent. */
void itest_set_xen(const char *sys, bool on);
/* Domain domid dies as `xl destroy` leaves it: its /local/domain/<domid>
 * goes, and (iommu: the fake libxenctrl's FAKEXC_STATE, or NULL) Xen
 * 4.17's domain kill moves its devices out of its IOMMU context into
 * dom_io (pci_release_devices, quarantine on).  Without FAKEXC_DOMAINS
 * the fake's Xen no longer has the domain either. */
void itest_xen_kill(itest_env *e, const char *iommu, unsigned domid);
/* The fake libxenctrl's IOMMU context of bdf in its FAKEXC_STATE file
 * iommu: "0" (dom0), "io" or a domid (a static buffer). */
const char *itest_iommu_of(const char *iommu, const char *bdf);
/* Xen moves bdf's context to where ("0", "io", a domid), as libxl's
 * xc_assign_device / xc_deassign_device do. */
void itest_xen_assign(const char *iommu, const char *bdf, const char *where);
/* xl as libxl 4.17 plays it (iommu: the fake's state, or NULL):
 * `xl pci-attach D BDF`: Xen assigns the device, the record
 * /libxl/pci/<bdf>/domid, then the backend entry appended (a backend and
 * frontend made Initialising when there is none); `xl destroy D`: each
 * device its backend lists deassigned (dom_io) and its record removed,
 * the backend removed, the domain killed (itest_xen_kill). */
void itest_xl_attach(itest_env *e, const char *iommu, unsigned domid,
                     const char *bdf);
void itest_xl_destroy(itest_env *e, const char *iommu, unsigned domid);
/* The fake libxenctrl's calls logged in log since the last call (log is
 * removed): without the open, close and physinfo lines, the lines that
 * start with one of skip_start (NULL-terminated, may be NULL) or contain
 * skip_in (may be NULL), and without the probes (" [...]") unless
 * keep_probes. */
char *itest_xc_calls(const char *log, bool keep_probes,
                     const char *const *skip_start, const char *skip_in);

/* Run build/xlpci with the arguments (NULL-terminated); output kept in
 * e->out / e->err; returns the exit status.  With XLPCI_CRASH_AT or
 * XLPCI_CRASH_HOST_AT set (the crash tests) it runs build/xlpci-test, the
 * CLI of the test build: only that one has the crash injection. */
int itest_xlpci(itest_env *e, ...);
/* build/xlpci with the arguments (NULL-terminated), at the given nice
 * level, never under valgrind (its memory is measured; ASan keeps no
 * quarantine): its exit status, e->err its stderr, *rss_kb its peak
 * resident memory (wait4). */
int itest_xlpci_measured(itest_env *e, int niceness, long *rss_kb, ...);
/* The same with a given program of the build tree ("xlpci", ...). */
int itest_run(itest_env *e, const char *prog, ...);

/* Start the model (extra arguments NULL-terminated); waits until its
 * watches are registered. */
void itest_model_start(itest_env *e, ...);
void itest_model_stop(itest_env *e);

/* Read a node; NULL if absent (malloc'd). */
char *itest_read(itest_env *e, const char *path);
void itest_write(itest_env *e, const char *path, const char *value);
/* Poll (on a watch) until path has value, up to timeout_ms.  true if so. */
bool itest_wait_value(itest_env *e, const char *path, const char *value,
                      int timeout_ms);

/* The backend invariant: num_devs equals the number of dev-N, the indices
 * are 0..num_devs-1, and no per-index key lies past num_devs.  Returns
 * num_devs (0 if no backend), fails the test otherwise. */
unsigned itest_check_backend(itest_env *e, unsigned domid);
/* Index of bdf in the backend, -1 if absent. */
int itest_find(itest_env *e, unsigned domid, const char *bdf);
/* Lines of the model's guest view (devices the guest sees), -1 if the
 * status file does not exist. */
int itest_guest_count(itest_env *e, unsigned domid);
/* Dump of the whole store below /local and /libxl (for "unchanged"). */
char *itest_dump(itest_env *e);

/* Fail the test, at the caller's file and line, if after is not before,
 * with what (printf format) and the first difference in context (cmocka
 * cuts long strings in its own assert_string_equal).  after is malloc'd
 * (a fresh dump or snapshot) and freed; before is not. */
void itest_assert_same_at(const char *file, int line, const char *before,
                          char *after, const char *what, ...)
    CMOCKA_PRINTF_ATTRIBUTE(5, 6);
#define itest_assert_same(before, after, ...) \
    itest_assert_same_at(__FILE__, __LINE__, before, after, __VA_ARGS__)
/* Fail the test, at the caller's file and line, unless path holds want
 * (NULL: path absent), naming the path and what it holds. */
void itest_assert_node_at(const char *file, int line, itest_env *e,
                          const char *path, const char *want);
#define itest_assert_node(e, path, want) \
    itest_assert_node_at(__FILE__, __LINE__, e, path, want)
/* The store (itest_dump) is before: "nothing changed".  before is kept. */
#define itest_assert_store(e, before) \
    itest_assert_same(before, itest_dump(e), "the store changed")

/* Poll path (every 5 ms, 10 s; x10 under valgrind) until it holds want
 * (NULL: absent); else fail at file:line with its value and the program's
 * log (a file, or NULL). */
void itest_assert_eventually_at(itest_env *e, const char *log,
                                const char *file, int line,
                                const char *path, const char *want);

#endif

/*
 * libxlpci's private interface (as libvirt's *priv.h): what the tests, the
 * fuzzers and the bench reach inside the library, and nothing else.  Not
 * installed.  These are the pure floor's interfaces (internal.h's module
 * map: no I/O, no context internals): paths and per-index keys, the
 * parsers' messages, the planned operations, the backend view and its
 * operations per step, and the pure parsers of the host side (bookkeeping
 * records, sysfs resource and irq, libxl's /libxl/pci names).  The
 * library's modules include their floor's header (pure.h, io.h, host.h,
 * steps.h, flows.h: each includes the one below), which includes this.
 */
#ifndef LIBXLPCI_PRIV_H
#define LIBXLPCI_PRIV_H

#include <stdarg.h>
#include <stdint.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "libxlpci.h"
#include "libxlpci_testing.h"

#define _hidden __attribute__((visibility("hidden")))

/* ---- paths --------------------------------------------------------------- */

#define XLPCI_PATH_MAX 256
/* The longest state directory: its files' paths must fit XLPCI_PATH_MAX. */
#define XLPCI_STATE_DIR_MAX (XLPCI_PATH_MAX - 40)
/* The longest run directory: <dir>/qmp-libxl-<domid> must fit sun_path
 * (108 bytes). */
#define XLPCI_RUN_DIR_MAX 86
/* Per-index keys of the backend, in the order they are written.  "vdev" is
 * written by pciback, not by us, but moves with its index on compaction. */
enum xlpci_key {
    XLPCI_KEY_KEY, XLPCI_KEY_DEV, XLPCI_KEY_VDEVFN, XLPCI_KEY_NAME,
    XLPCI_KEY_OPTS, XLPCI_KEY_STATE, XLPCI_KEY_VDEV,
    XLPCI_NKEYS
};
_hidden extern const char *const xlpci_key_names[XLPCI_NKEYS];
/* Sets of keys (of a row to read): XLPCI_KEY_BIT(XLPCI_KEY_DEV) | ... */
#define XLPCI_KEY_BIT(k) (1u << (k))
#define XLPCI_KEYS_ALL   ((1u << XLPCI_NKEYS) - 1)

_hidden void xlpci_be_path(char *buf, uint32_t domid);   /* .../backend/pci/D/0 */
_hidden void xlpci_fe_path(char *buf, uint32_t domid);   /* /local/domain/D/device/pci/0 */
_hidden void xlpci_error_path(char *buf, uint32_t domid);
/* <backend dir>/<leaf>, leaf a printf format ("state-%u"). */
_hidden int xlpci_be_key(char *buf, uint32_t domid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- parsers' messages (bdf.c) ------------------------------------------ */

/* The parsers' error: the message into err (errlen bytes), rc returned. */
_hidden int xlpci_errf(int rc, char *err, size_t errlen, const char *fmt,
                       ...)
    __attribute__((format(printf, 4, 5)));

/* ---- operations (ops.c) -------------------------------------------------- */

typedef enum {
    XLPCI_OP_RM, XLPCI_OP_MKDIR, XLPCI_OP_WRITE, XLPCI_OP_PERMS,
} xlpci_op_kind;

typedef struct {
    xlpci_op_kind kind;
    char *path;
    char *value;                     /* WRITE */
    struct xs_permissions perms[2];  /* PERMS */
    unsigned nperms;
} xlpci_op;

typedef struct {
    xlpci_op *v;
    size_t n, cap;
} xlpci_ops;

_hidden void xlpci_ops_init(xlpci_ops *ops);
_hidden void xlpci_ops_reset(xlpci_ops *ops);      /* empty, keep memory */
_hidden void xlpci_ops_dispose(xlpci_ops *ops);
_hidden int xlpci_ops_rm(xlpci_ops *ops, const char *path);
_hidden int xlpci_ops_mkdir(xlpci_ops *ops, const char *path);
_hidden int xlpci_ops_write(xlpci_ops *ops, const char *path,
                            const char *value);
_hidden int xlpci_ops_writef(xlpci_ops *ops, const char *path,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_hidden int xlpci_ops_perms(xlpci_ops *ops, const char *path,
                            uint32_t owner, uint32_t reader);
/* "write /a/b = "v"" etc., one line per op, for -N and logs. */
_hidden void xlpci_ops_print(const xlpci_ops *ops, FILE *out);

/* ---- backend view (view.c) ----------------------------------------------- */

/* What the backend holds, read inside one transaction.  The one parser of
 * the backend, used by every command: xlpci_view_read (xs.c) lists the
 * directory and reads the raw values, xlpci_view_setup and
 * xlpci_view_problems (pure) decide what they mean. */
typedef struct {
    bool exists;                     /* the backend has num_devs */
    bool dir_exists;                 /* the backend directory exists */
    int state;                       /* backend state, -1 if absent/bad */
    char *state_raw;                 /* as read, NULL if absent */
    char *num_raw;                   /* num_devs as read, NULL if absent */
    bool num_bad;                    /* num_devs is not a count (0-256), or
                                      * is absent while devices are listed */
    unsigned num_devs;               /* rows: num_devs, or when num_bad the
                                      * dense run of dev-0.. (at most 256) */
    char *(*keys)[XLPCI_NKEYS];      /* num_devs rows of raw values */
    int *row_state;                  /* num_devs: state-N parsed once
                                      * (xlpci_view_rows): a xenbus state,
                                      * XLPCI_ROW_ABSENT or XLPCI_ROW_BAD */
    char **names;                    /* children of the backend dir */
    unsigned nnames;
    const char **orphans;            /* per-index keys outside the rows:
                                      * past num_devs (at any index) or
                                      * spelled non-canonically ("dev-03");
                                      * into names, values never read */
    unsigned norphans;
} xlpci_view;

_hidden void xlpci_view_init(xlpci_view *view);
_hidden void xlpci_view_dispose(xlpci_view *view);

/* Strict parse of a decimal xenstore value ("0".."max"). */
_hidden int xlpci_parse_uint(const char *s, unsigned max, unsigned *out);

/* From names, num_raw and state_raw (pure): state, num_devs, exists,
 * num_bad, the orphans, and keys allocated (all NULL) for the rows. */
_hidden int xlpci_view_setup(xlpci_view *view);
/* Once the rows' raw values are in (pure): each state-N parsed into
 * row_state, the only place a per-index state is parsed. */
#define XLPCI_ROW_ABSENT (-1)        /* no state-N */
#define XLPCI_ROW_BAD    (-2)        /* state-N is not a xenbus state */
_hidden void xlpci_view_rows(xlpci_view *view);

/* What is wrong with a view (pure), every problem in turn:
 *   NUM     num_devs absent (with devices listed) or not a count;
 *           check --repair recounts it
 *   ROW     dev-N missing or not a PCI address, or a device listed twice
 *           (compared by parsed address); check --repair drops the row
 *   VALUE   a malformed vdevfn-N, opts-N or state-N; nobody can tell the
 *           meant value: reported, not repaired
 *   STATE   the backend state is not a xenbus state (pciback's node): not
 *           repaired
 *   ORPHAN  a per-index key outside the rows; check --repair removes it
 * index: the row (ORPHAN: the index the name carries, or ~0u). */
enum xlpci_problem_kind {
    XLPCI_PB_NUM, XLPCI_PB_ROW, XLPCI_PB_VALUE, XLPCI_PB_STATE,
    XLPCI_PB_ORPHAN,
};
typedef void xlpci_problem_fn(void *arg, enum xlpci_problem_kind kind,
                              unsigned index, const char *msg);
_hidden void xlpci_view_problems(const xlpci_view *view, uint32_t domid,
                                 xlpci_problem_fn *fn, void *arg);

/* The keys of a row the problems are about (the others, key-N, name-N and
 * vdev-N, are copied or removed, never judged): a flow that reads these of
 * every row refuses a damaged backend as check would report it. */
#define XLPCI_KEYS_CHECKED (XLPCI_KEY_BIT(XLPCI_KEY_DEV) |                   \
                            XLPCI_KEY_BIT(XLPCI_KEY_STATE) |                 \
                            XLPCI_KEY_BIT(XLPCI_KEY_VDEVFN) |                \
                            XLPCI_KEY_BIT(XLPCI_KEY_OPTS))
/* The first problem a flow cannot proceed on (all but ORPHAN) into err,
 * with the way out: XLPCI_ERR_CORRUPT; 0 if none.  Of a view read with
 * fewer keys (xlpci_view_read_keys), what was read. */
_hidden int xlpci_view_check(const xlpci_view *view, uint32_t domid,
                             char *err, size_t errlen);
/* Does the listing show key k of row i (read or not)? */
_hidden bool xlpci_view_listed(const xlpci_view *view, enum xlpci_key k,
                               unsigned i);
/* An append of n devices writes indices num_devs..num_devs + n - 1: an
 * orphan key at one of them (left by an interrupted operation or another
 * tool; what it names may be a device the domain has) is refused like
 * every damaged backend, never written over: the message into err,
 * XLPCI_ERR_CORRUPT; 0 if there is none. */
_hidden int xlpci_view_check_append(const xlpci_view *view, uint32_t domid,
                                    size_t n, char *err, size_t errlen);
/* Index whose dev-i is bdf (by parsed address), or -1. */
_hidden int xlpci_view_find(const xlpci_view *view, const xlpci_bdf *bdf);
/* Parse one row into an entry (pure). */
_hidden int xlpci_view_entry(const xlpci_view *view, unsigned i,
                             xlpci_entry *e, char *err, size_t errlen);

_hidden int xlpci_opts_format(const xlpci_dev *dev, char *buf, size_t len);
_hidden int xlpci_opts_parse(const char *s, xlpci_dev *dev);
/* Split a backend child name "dev-12" into key and index; false if it is
 * not a per-index key. */
_hidden bool xlpci_split_key(const char *name, enum xlpci_key *key_r,
                             unsigned *index_r);

/* ---- backend operations per step (layout.c) ------------------------------ */

/* Everything for a new backend: rm + mkdir + perms of both dirs, base keys,
 * devices 0..n-1, num_devs = n.  name may be NULL (no domain key). */
_hidden int xlpci_layout_create(xlpci_ops *ops, uint32_t domid,
                                const char *name,
                                const xlpci_dev *devs, size_t n);
/* Append devs at num_devs.., num_devs += n; reconfigure adds state=7.
 * Stale per-index keys left at those indices are removed. */
_hidden int xlpci_layout_append(xlpci_ops *ops, uint32_t domid,
                                const xlpci_view *view,
                                const xlpci_dev *devs, size_t n,
                                bool reconfigure);
/* state-i = Closing for every index in idx, state = Reconfiguring. */
_hidden int xlpci_layout_detach_begin(xlpci_ops *ops, uint32_t domid,
                                      const unsigned *idx, size_t n);
/* Remove the indices in idx (any order), move the higher rows down,
 * num_devs -= n; if nothing is left, remove both directories. */
_hidden int xlpci_layout_remove(xlpci_ops *ops, uint32_t domid,
                                const xlpci_view *view,
                                const unsigned *idx, size_t n);

/* Is i one of the n indices in idx? */
_hidden bool xlpci_idx_in(const unsigned *idx, size_t n, unsigned i);
/* Remove every orphan key of the view (check --repair). */
_hidden int xlpci_layout_rm_orphans(xlpci_ops *ops, uint32_t domid,
                                    const xlpci_view *view);

/* ---- bookkeeping records (bookkeeping.c, pure) ------------------------- */

typedef struct {
    xlpci_bdf bdf;
    char *name;                      /* pci-assignable-add -n */
    char *driver_path;               /* the host driver it came from */
    bool managed;                    /* made assignable by seize=1 */
    int domid;                       /* assigned to, or -1 */
    bool quarantining;               /* its quarantine (iommu.c) may be
                                      * half done: check --repair puts it
                                      * (back) in dom_io if it stays on
                                      * xen-pciback */
    int pending;                     /* an HVM guest's QEMU step begun
                                      * (XLPCI_PENDING_*): QEMU may have
                                      * acted, whatever the record says */
} xlpci_bk_dev;

/* The intent of a QEMU step, recorded before it is asked (hvm.c): its
 * outcome is QEMU's to tell (check asks query-pci), never guessed. */
enum {
    XLPCI_PENDING_NONE = 0,
    XLPCI_PENDING_ADD = 1,           /* "device_add" */
    XLPCI_PENDING_DEL = 2,           /* "device_del" */
};

_hidden void xlpci_bk_dev_dispose(xlpci_bk_dev *d);
_hidden int xlpci_bk_to_json(const xlpci_bk_dev *v, size_t n, char **json_r);
_hidden int xlpci_bk_from_json(const char *text, xlpci_bk_dev **v_r,
                               size_t *n_r, char *err, size_t errlen);

/* ---- sysfs resource and irq (resource.c, pure) ------------------------- */

#define XLPCI_NUM_RESOURCES 7        /* PROC_PCI_NUM_RESOURCES: 6 BARs + ROM */

typedef struct {
    uint64_t start, end, flags;
} xlpci_bar;

/* sysfs "resource": the first XLPCI_NUM_RESOURCES lines "0x%llx 0x%llx
 * 0x%llx" (pure).  XLPCI_ERR_CORRUPT with the reason in err. */
_hidden int xlpci_resource_parse(const char *text, xlpci_bar *bars,
                                 unsigned *n_r, char *err, size_t errlen);
/* sysfs "irq": a decimal number and an optional newline (pure). */
_hidden int xlpci_irq_parse(const char *text, unsigned *irq_r, char *err,
                            size_t errlen);

/* ---- SR-IOV routing IDs (sriov.c, pure) ---------------------------------- */

/* A physical function's SR-IOV numbers, as its sysfs directory shows them
 * (sysfs.c reads them). */
typedef struct {
    xlpci_bdf pf;
    unsigned total;                  /* sriov_totalvfs */
    unsigned num;                    /* sriov_numvfs: the VFs enabled */
    unsigned offset, stride;         /* sriov_offset, sriov_stride */
} xlpci_sriov;
/* The BDF of VF k (0-based) of s, enabled or not: false if k is not below
 * total, the routing is unknown (offset 0, or stride 0 for k > 0) or the
 * VF would lie past bus 255. */
_hidden bool xlpci_sriov_vf_bdf(const xlpci_sriov *s, unsigned k,
                                xlpci_bdf *vf);
/* Which VF of s bdf is (its k, below total), or -1. */
_hidden int xlpci_sriov_vf_index(const xlpci_sriov *s, const xlpci_bdf *bdf);

/* ---- libxl's /libxl/pci names (owner.c, pure) --------------------------- */

/* /libxl/pci/dddd-bb-dd-f[/leaf] (libxl's format) into buf
 * (XLPCI_PATH_MAX); leaf NULL: the device's directory. */
_hidden void xlpci_libxl_path(char *buf, const xlpci_bdf *bdf,
                              const char *leaf);
/* The BDF of a /libxl/pci child name, exactly "dddd-bb-dd-f" (pure);
 * false for anything else. */
_hidden bool xlpci_libxl_name_bdf(const char *name, xlpci_bdf *bdf);

/* ---- JSON input limits (json.c, pure) ----------------------------------- */

/* yajl's tree parser, and yajl_tree_free, recurse once per level of
 * nesting: ~300,000 levels of "[" fit a 1 MiB QMP line and crash them.
 * Every JSON input is refused when it nests deeper than this, measured
 * before yajl sees it (real ones nest at most about 10 levels: query-pci
 * with a bridge or two, devices.json 3). */
#define XLPCI_JSON_DEPTH_MAX 64
/* How deep text (len bytes) nests arrays and objects, strings skipped;
 * the scan stops once it passes max (returns max + 1 then).  Pure,
 * linear, no recursion. */
_hidden unsigned xlpci_json_depth(const char *text, size_t len,
                                  unsigned max);

/* ---- who holds a device (owner.c, pure) ----------------------------------- */

/* What Xen says of a device (xc_test_assign_device): in dom0 or dom_io,
 * or assigned to some guest; unknown when Xen was not asked (no Xen,
 * XLPCI_HYPERVISOR=none, no IOMMU). */
enum { XLPCI_XEN_UNKNOWN, XLPCI_XEN_FREE, XLPCI_XEN_ASSIGNED };

#define XLPCI_OWNER_MAXCAND 4

/* A domain that may hold the device. */
typedef struct {
    uint32_t domid;
    int alive;                       /* 1, 0 (gone, or dying), -1 not
                                      * known: counted as alive */
    bool lists;                      /* its PCI backend lists the device */
} xlpci_owner_cand;

/* The facts of one device, as gathered (ownership.c). */
typedef struct {
    int self;                        /* the domain the command acts for
                                      * (claims or releases), -1: none */
    int record;                      /* /libxl/pci/<bdf>/domid, -1 absent
                                      * (or unreadable: record_bad) */
    bool record_bad;
    int bk;                          /* devices.json's domid, -1: none or
                                      * not read */
    int xen;                         /* XLPCI_XEN_* */
    xlpci_owner_cand cand[XLPCI_OWNER_MAXCAND];  /* distinct domids */
    unsigned ncand;
} xlpci_owner_facts;

typedef enum {
    XLPCI_HELD_NONE,                 /* no live domain: free */
    XLPCI_HELD_SELF,                 /* self, alive, holds it */
    XLPCI_HELD_OTHER,                /* another live domain does: holder */
    XLPCI_HELD_XEN,                  /* Xen has it in a guest that no
                                      * record or backend read names */
} xlpci_held;

typedef struct {
    xlpci_held held;
    int holder;                      /* SELF, OTHER: the domain; else -1 */
    bool by_record, by_backend;      /* how the holder holds it */
    int rival;                       /* another live domain holding it
                                      * too (record or backend), or -1 */
    bool maybe_self;                 /* XEN: self is alive; Xen's guest
                                      * may be self */
    int stale;                       /* a gone domain the record or the
                                      * bookkeeping names, or -1 */
    int record_to;                   /* what the record should say (-1:
                                      * absent) ... */
    bool record_fix;                 /* ... and it does not */
    int bk_to;                       /* what devices.json should say ... */
    bool bk_fix;                     /* ... and it does not */
} xlpci_owner_verdict;

/* The candidates self, record and bk (distinct, alive unknown, listing
 * nothing): the gatherer fills in alive, lists and xen. */
_hidden void xlpci_owner_facts_init(xlpci_owner_facts *f, int self,
                                    int record, bool record_bad, int bk);
_hidden xlpci_owner_cand *xlpci_owner_cand_find(xlpci_owner_facts *f,
                                                uint32_t domid);
/* Added (alive unknown) unless there already, or NULL when full. */
_hidden xlpci_owner_cand *xlpci_owner_cand_add(xlpci_owner_facts *f,
                                               uint32_t domid);
/* The decision (owner.c's comment has the rules). */
_hidden void xlpci_owner_decide(const xlpci_owner_facts *f,
                                xlpci_owner_verdict *v);
/* Who holds it and why, for messages: "domain 5 (alive) holds it: its
 * PCI backend lists it and its /libxl/pci record names it; ...". */
_hidden void xlpci_owner_text(const xlpci_bdf *bdf,
                              const xlpci_owner_facts *f,
                              const xlpci_owner_verdict *v, char *buf,
                              size_t len);
/* The one command that frees it: "`xlpci pci-detach 5 0000:0a:00.0`
 * frees it". */
_hidden void xlpci_owner_way_out(const xlpci_bdf *bdf,
                                 const xlpci_owner_facts *f,
                                 const xlpci_owner_verdict *v, char *buf,
                                 size_t len);

/* ---- QMP messages (qmpmsg.c, pure) ---------------------------------------- */

struct yajl_val_s;

/* libxl's device id "pci-pt-%02x_%02x.%01x" (bus, dev, func): the same id
 * lets xl remove xlpci's devices and xlpci remove xl's. */
#define XLPCI_QDEV_ID_LEN 16
_hidden void xlpci_qdev_id(const xlpci_bdf *bdf, char *buf);

/* One argument of a command: a string, or (str NULL) a boolean. */
typedef struct {
    const char *key;
    const char *str;
    int boolean;
} xlpci_qmp_arg;

/* {"execute": execute, ["arguments": {...},] "id": id}, malloc'd. */
_hidden int xlpci_qmp_build(const char *execute, unsigned id,
                            const xlpci_qmp_arg *args, size_t nargs,
                            char **json_r);
/* device_add of xen-pci-passthrough with libxl's parameters: id,
 * hostaddr, addr "slot.func" only when dev->vdevfn was asked, permissive
 * only when true. */
_hidden int xlpci_qmp_build_device_add(const xlpci_dev *dev, unsigned id,
                                       char **json_r);
_hidden int xlpci_qmp_build_device_del(const xlpci_bdf *bdf, unsigned id,
                                       char **json_r);

typedef enum {
    XLPCI_QMP_GREETING, XLPCI_QMP_RETURN, XLPCI_QMP_ERROR, XLPCI_QMP_EVENT,
} xlpci_qmp_kind;

/* One message from QEMU; the strings and ret point into root. */
typedef struct {
    xlpci_qmp_kind kind;
    struct yajl_val_s *root;
    bool has_id;
    long long id;                    /* -1 if absent or not an integer */
    struct yajl_val_s *ret;          /* RETURN: the "return" value */
    const char *err_class, *err_desc;  /* ERROR */
    const char *event;               /* EVENT: its name */
    const char *event_device;        /* EVENT: data.device, or NULL */
    long long ver_major, ver_minor, ver_micro;  /* GREETING, -1 unknown */
} xlpci_qmp_msg;

/* One line (a whole JSON text): 0, or XLPCI_ERR_CORRUPT with the reason
 * in err (malformed JSON, or not a QMP message). */
_hidden int xlpci_qmp_parse(const char *line, xlpci_qmp_msg *msg,
                            char *err, size_t errlen);
_hidden void xlpci_qmp_msg_dispose(xlpci_qmp_msg *msg);
/* In query-pci's return value: 1 and the devfn (slot << 3 | function) of
 * the device whose qdev_id is qdev_id; 0 if QEMU has no such device;
 * XLPCI_ERR_CORRUPT (reason in err) if the reply is not query-pci's. */
_hidden int xlpci_qmp_pci_find(const struct yajl_val_s *ret,
                               const char *qdev_id, unsigned *devfn_r,
                               char *err, size_t errlen);

/* The devices of query-pci's return value whose qdev_id is libxl's
 * "pci-pt-BB_DD.F" (xen-pci-passthrough, as xl and xlpci name them):
 * bus, slot and function (the id has no segment: 0) in *bdfs_r, malloc'd,
 * *n_r of them.  XLPCI_ERR_CORRUPT (reason in err) if the reply is not
 * query-pci's. */
_hidden int xlpci_qmp_pci_passthrough(const struct yajl_val_s *ret,
                                      xlpci_bdf **bdfs_r, size_t *n_r,
                                      char *err, size_t errlen);

/* ---- the watcher's decisions (watchplan.c, pure) ------------------------- */

/* A set of domids, sorted. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} xlpci_domset;

_hidden void xlpci_domset_init(xlpci_domset *s);
_hidden void xlpci_domset_dispose(xlpci_domset *s);
_hidden void xlpci_domset_clear(xlpci_domset *s);
_hidden bool xlpci_domset_has(const xlpci_domset *s, uint32_t domid);
/* 0 or XLPCI_ERR_NOMEM; adding a member again does nothing. */
_hidden int xlpci_domset_add(xlpci_domset *s, uint32_t domid);
_hidden bool xlpci_domset_del(xlpci_domset *s, uint32_t domid);
_hidden int xlpci_domset_copy(xlpci_domset *dst, const xlpci_domset *src);
/* A guest's domid, written canonically ("5"): not 0, not reserved. */
_hidden bool xlpci_guest_domid(const char *s, uint32_t *domid);
/* The guests among the children of /local/domain (anything that is not
 * a guest's domid is left out). */
_hidden int xlpci_domset_from_names(xlpci_domset *s, char *const *names,
                                    unsigned n);
/* born = now - known, gone = known - now. */
_hidden int xlpci_domset_diff(const xlpci_domset *known,
                              const xlpci_domset *now, xlpci_domset *born,
                              xlpci_domset *gone);

/* A guest's device list: <dir>/<name>.cfg into buf.  A name that is not
 * one path component (empty, '/', a leading '.', control characters,
 * longer than XLPCI_GUEST_NAME_MAX) has none: XLPCI_ERR_INVAL, the
 * reason in err. */
#define XLPCI_GUEST_NAME_MAX 200
_hidden int xlpci_guest_cfg_path(const char *dir, const char *name,
                                 char *buf, size_t len, char *err,
                                 size_t errlen);

/* What a watch event's path is about. */
enum {
    XLPCI_WEV_OTHER,                 /* nothing of the watcher's */
    XLPCI_WEV_DOMAINS,               /* @introduceDomain, @releaseDomain */
    XLPCI_WEV_RECORD,                /* /libxl/pci/<bdf>[/domid]: *bdf */
    XLPCI_WEV_RECORDS_ALL,           /* /libxl/pci itself */
    XLPCI_WEV_NAME,                  /* /local/domain/<d>/name: *domid */
};
_hidden int xlpci_watch_event(const char *path, xlpci_bdf *bdf,
                              uint32_t *domid);

/* Who each /libxl/pci/<bdf>/domid record names, as the watcher last read
 * it (sorted by BDF): when a record is removed, only its former owner's
 * backend may need it back (one domain to read, not the whole host). */
#define XLPCI_NO_OWNER UINT32_MAX
typedef struct {
    xlpci_bdf bdf;
    uint32_t domid;                  /* XLPCI_NO_OWNER: not known */
} xlpci_recent;
typedef struct {
    xlpci_recent *v;
    size_t n, cap;
} xlpci_recmap;

_hidden void xlpci_recmap_init(xlpci_recmap *m);
_hidden void xlpci_recmap_dispose(xlpci_recmap *m);
_hidden int xlpci_recmap_set(xlpci_recmap *m, const xlpci_bdf *bdf,
                             uint32_t domid);
/* The owner recorded for bdf, forgotten: true and *domid_r, or false. */
_hidden bool xlpci_recmap_take(xlpci_recmap *m, const xlpci_bdf *bdf,
                               uint32_t *domid_r);

/* May the watcher write back row i's missing ownership record
 * (/libxl/pci/<bdf>/domid) for the live domain of view?  Only while
 * nobody is removing it: the backend Initialising..Connected (not in a
 * Reconfiguring cycle, not closing) and the row to export or exported
 * (1 or 3; not 5, being released, or 6).  libxl's pci-detach and
 * destroy drop the record after the backend entries, and leave the
 * entries at 5 / 7 when the guest does not answer. */
_hidden bool xlpci_watch_restorable(const xlpci_view *view, unsigned i);

/* The watcher's actions, per domain (RECORDS: for the whole host, under
 * domid 0). */
enum { XLPCI_WK_RELEASE, XLPCI_WK_CREATE, XLPCI_WK_RECORDS, XLPCI_WK_N };

typedef struct {
    uint32_t domid;
    unsigned want;                   /* bit per kind: to do */
    unsigned again;                  /* bit per kind: asked while running */
    int running;                     /* the kind running, or -1 */
    unsigned tries[XLPCI_WK_N];      /* attempts of the wanted action */
    long long due[XLPCI_WK_N];       /* not before (ms, backoff) */
    long long since[XLPCI_WK_N];     /* asked at (the event) */
    unsigned reconcile;              /* bit per kind: asked by a reconcile
                                      * (a RELEASE then also looks for
                                      * lone records) */
} xlpci_wq_entry;

typedef struct {
    xlpci_wq_entry *v;               /* domains with something to do */
    size_t n, cap;
    unsigned running[XLPCI_WK_N];
    unsigned limit[XLPCI_WK_N];      /* at once: jobs, jobs, 1 */
    unsigned max_tries[XLPCI_WK_N];  /* 0: until it is done */
} xlpci_wq;

/* jobs: releases at once, and creates at once (each: an action of its
 * own domain).  once: every action tried once. */
_hidden void xlpci_wq_init(xlpci_wq *q, unsigned jobs, bool once);
_hidden void xlpci_wq_dispose(xlpci_wq *q);
/* Ask for an action (now: the event's time, for its reaction time);
 * asking again while it is wanted changes nothing, while it runs makes
 * it run once more afterwards.  reconcile: asked by a reconcile, not by
 * an event (a RELEASE then also looks for the lone /libxl/pci records
 * naming the domain). */
_hidden int xlpci_wq_want(xlpci_wq *q, uint32_t domid, int kind,
                          long long now, bool reconcile);
/* Not wanted any more; true if that action is running (the caller stops
 * it). */
_hidden bool xlpci_wq_cancel(xlpci_wq *q, uint32_t domid, int kind);
_hidden bool xlpci_wq_wanted(const xlpci_wq *q, uint32_t domid, int kind);
/* Was the wanted action of kind asked by a reconcile? */
_hidden bool xlpci_wq_reconcile(const xlpci_wq *q, uint32_t domid, int kind);
/* The next action to start: 1 and *domid_r, *kind_r; else 0 and *wake_r
 * the time the next backoff ends (-1: none).  Releases first, then
 * creates, then the records; the oldest first; one action per domain at
 * a time, at most the limit of each kind; no create while a release
 * runs or is due untried (the devices of a rebooting guest's old domain
 * come back before its new domain asks for them). */
_hidden int xlpci_wq_next(xlpci_wq *q, long long now, uint32_t *domid_r,
                          int *kind_r, long long *wake_r);
_hidden void xlpci_wq_start(xlpci_wq *q, uint32_t domid, int kind);
/* The action ended: outcome XLPCI_WQ_DONE, _FAILED (not retried) or
 * _RETRY (backoff 250 ms doubling up to 60 s; XLPCI_WQ_GAVE_UP returned
 * past max_tries).  *since_r: when it was asked (0: unknown), *tries_r:
 * its attempts. */
enum { XLPCI_WQ_DONE, XLPCI_WQ_RETRY, XLPCI_WQ_FAILED, XLPCI_WQ_GAVE_UP };
_hidden int xlpci_wq_finish(xlpci_wq *q, uint32_t domid, int kind,
                            int outcome, long long now, long long *since_r,
                            unsigned *tries_r);
/* Nothing wanted, nothing running. */
_hidden bool xlpci_wq_idle(const xlpci_wq *q);
_hidden long long xlpci_wq_backoff_ms(unsigned tries);

/* An action's child process exits with one of these (anything else, a
 * signal included, is retried). */
enum {
    XLPCI_WEXIT_DONE = 0,
    XLPCI_WEXIT_NOTHING = 10,        /* nothing was needed */
    XLPCI_WEXIT_PERMANENT = 11,      /* failed; trying again changes
                                      * nothing (a bad device list, the
                                      * domain went) */
    XLPCI_WEXIT_RETRY = 12,
};
/* The exit code of an action of kind that returned rc (did: it changed
 * something). */
_hidden int xlpci_watch_exit_code(int kind, int rc, bool did);
/* The queue's outcome of an exit code. */
_hidden int xlpci_watch_outcome(int exit_code);

#endif /* LIBXLPCI_PRIV_H */

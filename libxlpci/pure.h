/*
 * libxlpci internal interfaces, floor [0] of the module map in
 * internal.h: the pure parsers and planners (no I/O).  Included by that
 * floor's files (bdf.c cfg.c json.c layout.c ops.c owner.c qmpmsg.c
 * resource.c sriov.c view.c watchplan.c) and, through the headers above
 * it, by the floors above; it includes the floor below (libxlpci_priv.h).
 * tests/pkg/test-layers checks that every library file includes its own
 * floor's header and no other.
 */
#ifndef LIBXLPCI_PURE_H
#define LIBXLPCI_PURE_H

#include "libxlpci_priv.h"
#include <xen/xen.h>                 /* DOMID_FIRST_RESERVED, DOMID_IO */

/* ---- JSON (json.c) ------------------------------------------------------- */

/* A string through yajl (NULL: null); pci-list -l and the bookkeeping. */
struct yajl_gen_t;
_hidden int xlpci_json_str(struct yajl_gen_t *g, const char *s);
/* The text g made, malloc'd in *json_r, when r (the status of the
 * generator's calls so far) is 0; an invalid string answers invalid_rc,
 * another yajl error XLPCI_ERR_FAIL. */
_hidden int xlpci_json_take(struct yajl_gen_t *g, int r, int invalid_rc,
                            char **json_r);

#endif /* LIBXLPCI_PURE_H */

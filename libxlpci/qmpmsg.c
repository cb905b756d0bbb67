/*
 * QMP messages (QEMU Machine Protocol), PURE: built with yajl_gen, read
 * with yajl_tree; no I/O (qmp.c moves them over the socket).
 *
 * What libxl 4.17 sends to the device model of an HVM guest for PCI
 * passthrough (libxl_pci.c pci_add_qmp_device_add, pci_remove_qmp_device_del)
 * and what QEMU answers (qapi/qmp-spec, qapi/pci.json):
 *
 *   greeting   {"QMP": {"version": {"qemu": {"major": 7, ...}, "package":
 *              ...}, "capabilities": [...]}}
 *   command    {"execute": "device_add", "arguments": {"driver":
 *              "xen-pci-passthrough", "id": "pci-pt-04_00.0", "hostaddr":
 *              "0000:04:00.0", ["addr": "5.0",] ["permissive": true]},
 *              "id": 2}
 *   success    {"return": {...}, "id": 2}
 *   error      {"error": {"class": "GenericError", "desc": "..."}, "id": 2}
 *   event      {"event": "DEVICE_DELETED", "data": {"device": "pci-pt-...",
 *              "path": "..."}, "timestamp": {...}}
 *   query-pci  {"return": [{"bus": 0, "devices": [{"bus": 0, "slot": 3,
 *              "function": 0, "qdev_id": "pci-pt-04_00.0", ...}, ...]}]}
 *
 * QEMU ends every message with "\r\n" and never breaks a line inside one;
 * qmp.c splits on '\n' and hands each line here.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "pure.h"

void xlpci_qdev_id(const xlpci_bdf *bdf, char *buf)
{
    /* libxl's PCI_PT_QDEV_ID: bus, dev, func; the segment is not in it */
    snprintf(buf, XLPCI_QDEV_ID_LEN, "pci-pt-%02x_%02x.%01x", bdf->bus & 0xff,
             bdf->dev & 0x1f, bdf->func & 7);
}

/* ---- building ----------------------------------------------------------- */

int xlpci_qmp_build(const char *execute, unsigned id,
                    const xlpci_qmp_arg *args, size_t nargs, char **json_r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    size_t i;
    int r, rc;

    *json_r = NULL;
    if (!g)
        return XLPCI_ERR_NOMEM;
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    r = (int)yajl_gen_map_open(g);
    if (!r) r = xlpci_json_str(g, "execute");
    if (!r) r = xlpci_json_str(g, execute);
    if (!r && nargs) {
        r = xlpci_json_str(g, "arguments");
        if (!r) r = (int)yajl_gen_map_open(g);
        for (i = 0; !r && i < nargs; i++) {
            r = xlpci_json_str(g, args[i].key);
            if (r)
                break;
            r = args[i].str ? xlpci_json_str(g, args[i].str)
                            : (int)yajl_gen_bool(g, args[i].boolean);
        }
        if (!r) r = (int)yajl_gen_map_close(g);
    }
    if (!r) r = xlpci_json_str(g, "id");
    if (!r) r = (int)yajl_gen_integer(g, id);
    if (!r) r = (int)yajl_gen_map_close(g);
    rc = xlpci_json_take(g, r, XLPCI_ERR_INVAL, json_r);
    yajl_gen_free(g);
    return rc;
}

int xlpci_qmp_build_device_add(const xlpci_dev *dev, unsigned id,
                               char **json_r)
{
    char qid[XLPCI_QDEV_ID_LEN], host[XLPCI_BDF_STRLEN], addr[16];
    xlpci_qmp_arg args[5];
    size_t n = 0;

    xlpci_qdev_id(&dev->bdf, qid);
    xlpci_bdf_format(&dev->bdf, host);
    args[n++] = (xlpci_qmp_arg){ "driver", "xen-pci-passthrough", 0 };
    args[n++] = (xlpci_qmp_arg){ "id", qid, 0 };
    args[n++] = (xlpci_qmp_arg){ "hostaddr", host, 0 };
    if (dev->vdevfn) {
        /* only when a virtual slot was asked: QEMU chooses otherwise */
        snprintf(addr, sizeof(addr), "%x.%x", (dev->vdevfn >> 3) & 0x1f,
                 dev->vdevfn & 7);
        args[n++] = (xlpci_qmp_arg){ "addr", addr, 0 };
    }
    /* only when true: QEMUs before the XSA-131 fix lack the property */
    if (dev->permissive)
        args[n++] = (xlpci_qmp_arg){ "permissive", NULL, 1 };
    return xlpci_qmp_build("device_add", id, args, n, json_r);
}

int xlpci_qmp_build_device_del(const xlpci_bdf *bdf, unsigned id,
                               char **json_r)
{
    char qid[XLPCI_QDEV_ID_LEN];
    xlpci_qmp_arg arg;

    xlpci_qdev_id(bdf, qid);
    arg = (xlpci_qmp_arg){ "id", qid, 0 };
    return xlpci_qmp_build("device_del", id, &arg, 1, json_r);
}

/* ---- reading ------------------------------------------------------------ */

static yajl_val get(yajl_val obj, const char *key, yajl_type type)
{
    const char *path[] = { key, NULL };

    return obj && YAJL_IS_OBJECT(obj) ? yajl_tree_get(obj, path, type)
                                      : NULL;
}

static long long get_int(yajl_val obj, const char *key)
{
    yajl_val v = get(obj, key, yajl_t_number);

    return v && YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
}

void xlpci_qmp_msg_dispose(xlpci_qmp_msg *msg)
{
    if (msg->root)
        yajl_tree_free(msg->root);
    memset(msg, 0, sizeof(*msg));
}

int xlpci_qmp_parse(const char *line, xlpci_qmp_msg *msg, char *err,
                    size_t errlen)
{
    char perr[128];
    yajl_val root, v, e;
    const char *p;

    memset(msg, 0, sizeof(*msg));
    msg->id = -1;
    for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
        ;
    if (!*p) {
        snprintf(err, errlen, "an empty message");
        return XLPCI_ERR_CORRUPT;
    }
    if (xlpci_json_depth(p, strlen(p), XLPCI_JSON_DEPTH_MAX) >
        XLPCI_JSON_DEPTH_MAX) {
        snprintf(err, errlen, "JSON nested deeper than %u levels (not "
                 "parsed)", XLPCI_JSON_DEPTH_MAX);
        return XLPCI_ERR_CORRUPT;
    }
    root = yajl_tree_parse(line, perr, sizeof(perr));
    if (!root) {
        /* yajl's text spans lines; keep the first */
        perr[strcspn(perr, "\n")] = '\0';
        snprintf(err, errlen, "not JSON (%s)", perr);
        return XLPCI_ERR_CORRUPT;
    }
    msg->root = root;
    if (!YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "not a JSON object");
        goto bad;
    }
    v = get(root, "id", yajl_t_any);
    if (v) {
        msg->has_id = true;
        msg->id = YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;
    }
    if ((v = get(root, "QMP", yajl_t_any))) {
        yajl_val ver = get(v, "version", yajl_t_object);
        yajl_val qemu = get(ver, "qemu", yajl_t_object);

        if (!YAJL_IS_OBJECT(v) || !qemu) {
            snprintf(err, errlen, "a greeting without QMP.version.qemu");
            goto bad;
        }
        msg->kind = XLPCI_QMP_GREETING;
        msg->ver_major = get_int(qemu, "major");
        msg->ver_minor = get_int(qemu, "minor");
        msg->ver_micro = get_int(qemu, "micro");
        return 0;
    }
    if ((v = get(root, "return", yajl_t_any))) {
        msg->kind = XLPCI_QMP_RETURN;
        msg->ret = v;
        return 0;
    }
    if ((e = get(root, "error", yajl_t_any))) {
        yajl_val cls = get(e, "class", yajl_t_string);
        yajl_val desc = get(e, "desc", yajl_t_string);

        if (!cls || !desc) {
            snprintf(err, errlen, "an error reply without class and desc");
            goto bad;
        }
        msg->kind = XLPCI_QMP_ERROR;
        msg->err_class = YAJL_GET_STRING(cls);
        msg->err_desc = YAJL_GET_STRING(desc);
        return 0;
    }
    if ((v = get(root, "event", yajl_t_string))) {
        yajl_val data = get(root, "data", yajl_t_object);
        yajl_val dev = get(data, "device", yajl_t_string);

        msg->kind = XLPCI_QMP_EVENT;
        msg->event = YAJL_GET_STRING(v);
        msg->event_device = dev ? YAJL_GET_STRING(dev) : NULL;
        return 0;
    }
    snprintf(err, errlen, "neither a greeting, a reply nor an event");
bad:
    xlpci_qmp_msg_dispose(msg);
    return XLPCI_ERR_CORRUPT;
}

int xlpci_qmp_pci_find(const struct yajl_val_s *ret, const char *qdev_id,
                       unsigned *devfn_r, char *err, size_t errlen)
{
    yajl_val r = (yajl_val)ret, devices, dev, id;
    const char *s;
    long long slot, func;
    size_t i, j;

    *devfn_r = 0;
    if (!r || !YAJL_IS_ARRAY(r)) {
        snprintf(err, errlen, "query-pci: the reply is not a list of buses");
        return XLPCI_ERR_CORRUPT;
    }
    for (i = 0; i < r->u.array.len; i++) {
        devices = get(r->u.array.values[i], "devices", yajl_t_array);
        if (!devices) {
            snprintf(err, errlen, "query-pci: bus %zu has no list of "
                     "devices", i);
            return XLPCI_ERR_CORRUPT;
        }
        for (j = 0; j < devices->u.array.len; j++) {
            dev = devices->u.array.values[j];
            id = get(dev, "qdev_id", yajl_t_string);
            if (!id) {
                snprintf(err, errlen, "query-pci: device %zu of bus %zu has "
                         "no qdev_id", j, i);
                return XLPCI_ERR_CORRUPT;
            }
            s = YAJL_GET_STRING(id);
            if (!s || strcmp(s, qdev_id))
                continue;
            slot = get_int(dev, "slot");
            func = get_int(dev, "function");
            if (slot < 0 || slot > XLPCI_MAX_SLOT || func < 0 ||
                func > XLPCI_MAX_FUNC) {
                snprintf(err, errlen, "query-pci: %s has no valid slot and "
                         "function", qdev_id);
                return XLPCI_ERR_CORRUPT;
            }
            *devfn_r = (unsigned)slot << 3 | (unsigned)func;
            return 1;
        }
    }
    return 0;
}

int xlpci_qmp_pci_passthrough(const struct yajl_val_s *ret, xlpci_bdf **bdfs_r,
                              size_t *n_r, char *err, size_t errlen)
{
    yajl_val r = (yajl_val)ret, devices, id;
    char canon[XLPCI_QDEV_ID_LEN];
    xlpci_bdf *v = NULL, b, *nv;
    size_t i, j, n = 0;
    const char *s;
    int end;

    *bdfs_r = NULL;
    *n_r = 0;
    if (!r || !YAJL_IS_ARRAY(r)) {
        snprintf(err, errlen, "query-pci: the reply is not a list of buses");
        return XLPCI_ERR_CORRUPT;
    }
    for (i = 0; i < r->u.array.len; i++) {
        devices = get(r->u.array.values[i], "devices", yajl_t_array);
        if (!devices) {
            snprintf(err, errlen, "query-pci: bus %zu has no list of "
                     "devices", i);
            free(v);
            return XLPCI_ERR_CORRUPT;
        }
        for (j = 0; j < devices->u.array.len; j++) {
            id = get(devices->u.array.values[j], "qdev_id", yajl_t_string);
            s = id ? YAJL_GET_STRING(id) : NULL;
            memset(&b, 0, sizeof(b));
            end = -1;
            /* exactly libxl's "pci-pt-%02x_%02x.%01x" */
            if (!s || sscanf(s, "pci-pt-%2x_%2x.%1x%n", &b.bus, &b.dev,
                             &b.func, &end) != 3 || end < 0 || s[end] ||
                b.dev > XLPCI_MAX_SLOT || b.func > XLPCI_MAX_FUNC)
                continue;
            xlpci_qdev_id(&b, canon);
            if (strcmp(canon, s))
                continue;
            nv = realloc(v, (n + 1) * sizeof(*v));
            if (!nv) {
                free(v);
                return XLPCI_ERR_NOMEM;
            }
            v = nv;
            v[n++] = b;
        }
    }
    *bdfs_r = v;
    *n_r = n;
    return 0;
}

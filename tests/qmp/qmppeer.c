/*
 * qmppeer: a stand-in for the QEMU of an HVM guest, for the tests.  A
 * separate process that speaks QMP on a UNIX socket as QEMU 7.2 does
 * (docs/interop/qmp-spec, qapi/pci.json, qapi/qdev.json), with the state
 * a passthrough needs: the devices on bus 0 and the slots they take.
 *
 *   qmppeer SOCKET [options]
 *
 * Like QEMU's monitor chardev (server=on,wait=off) it serves ONE client at
 * a time: a second connect() completes into the listen backlog and gets no
 * greeting until the first client goes.  Every client gets the greeting
 * {"QMP": {"version": {"qemu": {...}, "package": ...}, "capabilities":
 * []}}, must send qmp_capabilities first, then:
 *
 *   device_add  driver=xen-pci-passthrough, id, hostaddr, [addr "S.F"],
 *               [permissive]: the device takes addr, else the first free
 *               slot (function 0); errors as QEMU's GenericError
 *               ("Duplicate device ID 'x'", "PCI: slot 3 function 0 not
 *               available for xen-pci-passthrough, in use by ...",
 *               parameter missing, not a device model name)
 *   device_del  id: {"return": {}} at once; the device leaves query-pci
 *               --del-delay ms later (the guest's ACPI acknowledgment) and
 *               DEVICE_DELETED is sent to the client connected then; an
 *               unknown id: DeviceNotFound "Device 'x' not found"
 *   query-pci   [{"bus": 0, "devices": [{"bus", "slot", "function",
 *               "class_info", "id", "irq_pin", "qdev_id", "regions"}]}]
 *   other       CommandNotFound
 *
 * Bus 0 starts with the emulated devices of libxl's "xenfv" machine (the
 * i440FX board of an HVM guest; vga="none"): the host bridge 00.0, PIIX3
 * 01.0-01.3, the Xen platform device 02.0, all with qdev_id "".  The first
 * passed-through device gets slot 3, as the guest in ../shared/reference/
 * hvm-passthrough-under-tcg.md saw its e1000 at 00:03.0.
 *
 * Options:
 *   --ready FILE        created once the socket listens
 *   --log FILE          every line received, appended
 *   --state FILE        the passed-through devices after every change, one
 *                       a line: "<qdev_id> <slot>.<func> <hostaddr>[ p]"
 *   --device ID,HOST,S  a device present at start (at slot S, function 0:
 *                       what xl pci-attach left)
 *   --late CMD:MS       answer CMD (or "greeting") MS ms late
 *   --refuse CMD        answer CMD with GenericError (QEMU's realize
 *                       failure of xen-pci-passthrough for device_add;
 *                       qmp_capabilities too)
 *   --drop CMD          close the connection when CMD arrives, no answer
 *   --drop-after CMD    do CMD, then close the connection, no answer
 *   --hang-after CMD    do CMD, answer nothing, then serve nobody again
 *                       (a QEMU that hung: its socket still accepts into
 *                       the backlog, no greeting ever comes)
 *   --garbage CMD       answer CMD with a line that is not JSON
 *   --del-delay MS      see device_del (default 50)
 *   --del-never         device_del is accepted, the device never leaves
 *   --flood KIND        a hostile QEMU: once qmp_capabilities is answered
 *                       it answers nothing more and writes, as fast as the
 *                       socket takes them, DEVICE_DELETED events of a
 *                       device nobody asked about (KIND "events") or
 *                       replies carrying ids nobody sent ("replies")
 *   --deep WHERE:N      a JSON value nested N levels deep ([[[...]]]): in
 *                       the greeting (WHERE "greeting"), as the return
 *                       value of the next command ("reply") or in an event
 *                       sent before that reply ("event")
 *   -xen-domid D        as QEMU's command line names its domain (xlpci
 *                       reads /proc/<pid>/cmdline); the option is
 *                       otherwise ignored
 * SIGTERM ends it (the socket file is removed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define MAX_DEVS 64
#define MAX_OPTS 16

typedef struct {
    char id[64];                     /* qdev_id, "" for emulated devices */
    char host[32];                   /* hostaddr, "" for emulated ones */
    unsigned slot, func;
    bool permissive;
    long long del_at;                /* device_del: leaves then, 0: not */
    unsigned class_code;
} dev;

static struct {
    const char *sock, *ready, *log, *state;
    const char *refuse[MAX_OPTS], *drop[MAX_OPTS], *drop_after[MAX_OPTS];
    const char *garbage[MAX_OPTS], *hang_after[MAX_OPTS];
    struct { char cmd[32]; unsigned ms; } late[MAX_OPTS];
    size_t nrefuse, ndrop, ndrop_after, ngarbage, nlate, nhang_after;
    bool hung;
    unsigned del_delay;
    bool del_never;
    int flood;                       /* 0, FLOOD_EVENTS, FLOOD_REPLIES */
    char *flood_buf;
    size_t flood_len, flood_off;
    char deep_where[16];
    unsigned deep_n;
    dev devs[MAX_DEVS];
    size_t ndevs;
    int client;
    bool negotiated;
    char *in;
    size_t inlen, incap;
} g;

enum { FLOOD_EVENTS = 1, FLOOD_REPLIES = 2 };

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
        ;
}

static bool listed(const char *const *v, size_t n, const char *cmd)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!strcmp(v[i], cmd))
            return true;
    return false;
}

static void maybe_late(const char *cmd)
{
    size_t i;

    for (i = 0; i < g.nlate; i++)
        if (!strcmp(g.late[i].cmd, cmd))
            sleep_ms(g.late[i].ms);
}

/* ---- output ----------------------------------------------------------------- */

static void close_client(void)
{
    if (g.client >= 0)
        close(g.client);
    g.client = -1;
    g.inlen = 0;
    g.negotiated = false;
}

static void send_line(const char *s, size_t len)
{
    while (g.client >= 0 && len) {
        ssize_t r = send(g.client, s, len, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close_client();
            return;
        }
        s += r;
        len -= (size_t)r;
    }
}

static void gen_str(yajl_gen y, const char *s)
{
    yajl_gen_string(y, (const unsigned char *)s, strlen(s));
}

static void gen_kv_int(yajl_gen y, const char *k, long long v)
{
    gen_str(y, k);
    yajl_gen_integer(y, v);
}

/* Any parsed value back to JSON (the "id" of a command is echoed). */
static void gen_val(yajl_gen y, yajl_val v)
{
    size_t i;

    if (YAJL_IS_STRING(v)) {
        gen_str(y, YAJL_GET_STRING(v));
    } else if (YAJL_IS_INTEGER(v)) {
        yajl_gen_integer(y, YAJL_GET_INTEGER(v));
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(y, YAJL_GET_NUMBER(v), strlen(YAJL_GET_NUMBER(v)));
    } else if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(y);
        for (i = 0; i < v->u.object.len; i++) {
            gen_str(y, v->u.object.keys[i]);
            gen_val(y, v->u.object.values[i]);
        }
        yajl_gen_map_close(y);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(y);
        for (i = 0; i < v->u.array.len; i++)
            gen_val(y, v->u.array.values[i]);
        yajl_gen_array_close(y);
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(y, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(y);
    }
}

static yajl_gen msg_begin(void)
{
    yajl_gen y = yajl_gen_alloc(NULL);

    if (!y)
        abort();
    yajl_gen_map_open(y);
    return y;
}

/* Close the message (with the command's id, if any) and send it. */
static void msg_send(yajl_gen y, yajl_val id)
{
    const unsigned char *buf;
    size_t len;

    if (id) {
        gen_str(y, "id");
        gen_val(y, id);
    }
    yajl_gen_map_close(y);
    if (yajl_gen_get_buf(y, &buf, &len) == yajl_gen_status_ok) {
        send_line((const char *)buf, len);
        send_line("\r\n", 2);
    }
    yajl_gen_free(y);
}

static void reply_error(yajl_val id, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(yajl_val id, const char *cls, const char *fmt, ...)
{
    char desc[512];
    va_list ap;
    yajl_gen y;

    va_start(ap, fmt);
    vsnprintf(desc, sizeof(desc), fmt, ap);
    va_end(ap);
    y = msg_begin();
    gen_str(y, "error");
    yajl_gen_map_open(y);
    gen_str(y, "class");
    gen_str(y, cls);
    gen_str(y, "desc");
    gen_str(y, desc);
    yajl_gen_map_close(y);
    msg_send(y, id);
}

static void reply_empty(yajl_val id)
{
    yajl_gen y = msg_begin();

    gen_str(y, "return");
    yajl_gen_map_open(y);
    yajl_gen_map_close(y);
    msg_send(y, id);
}

static bool send_deep(const char *where, yajl_val id);

static void greet(void)
{
    yajl_gen y;

    maybe_late("greeting");
    if (send_deep("greeting", NULL))
        return;
    y = msg_begin();
    gen_str(y, "QMP");
    yajl_gen_map_open(y);
    gen_str(y, "version");
    yajl_gen_map_open(y);
    gen_str(y, "qemu");
    yajl_gen_map_open(y);
    gen_kv_int(y, "micro", 0);
    gen_kv_int(y, "minor", 2);
    gen_kv_int(y, "major", 7);
    yajl_gen_map_close(y);
    gen_str(y, "package");
    gen_str(y, "Debian 1:7.2+dfsg-7 (qmppeer)");
    yajl_gen_map_close(y);
    gen_str(y, "capabilities");
    yajl_gen_array_open(y);
    gen_str(y, "oob");
    yajl_gen_array_close(y);
    yajl_gen_map_close(y);
    msg_send(y, NULL);
}

static void event_deleted(const char *id)
{
    struct timespec ts;
    char path[128];
    yajl_gen y;

    if (g.client < 0 || !g.negotiated)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    y = msg_begin();
    gen_str(y, "timestamp");
    yajl_gen_map_open(y);
    gen_kv_int(y, "seconds", ts.tv_sec);
    gen_kv_int(y, "microseconds", ts.tv_nsec / 1000);
    yajl_gen_map_close(y);
    gen_str(y, "event");
    gen_str(y, "DEVICE_DELETED");
    gen_str(y, "data");
    yajl_gen_map_open(y);
    gen_str(y, "device");
    gen_str(y, id);
    snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
    gen_str(y, "path");
    gen_str(y, path);
    yajl_gen_map_close(y);
    msg_send(y, NULL);
}

/* "[[[...0...]]]", n levels, malloc'd, with its length. */
static char *deep_value(unsigned n, size_t *len)
{
    char *v = malloc(2 * (size_t)n + 2);
    size_t i;

    if (!v)
        abort();
    for (i = 0; i < n; i++)
        v[i] = '[';
    v[n] = '0';
    for (i = 0; i < n; i++)
        v[n + 1 + i] = ']';
    *len = 2 * (size_t)n + 1;
    v[*len] = '\0';
    return v;
}

/* --deep WHERE:N: the nested line for where, sent once; the prefix and
 * suffix make it a greeting, a return value or an event. */
static bool send_deep(const char *where, yajl_val id)
{
    char *v, head[160];
    size_t len;

    if (strcmp(g.deep_where, where) || !g.deep_n)
        return false;
    v = deep_value(g.deep_n, &len);
    if (!strcmp(where, "greeting"))
        snprintf(head, sizeof(head), "{\"QMP\": {\"version\": {\"qemu\": "
                 "{\"major\": 7, \"minor\": 2, \"micro\": 0}, "
                 "\"package\": \"\"}, \"capabilities\": ");
    else if (!strcmp(where, "event"))
        snprintf(head, sizeof(head), "{\"event\": \"DEVICE_DELETED\", "
                 "\"data\": {\"device\": \"x\", \"path\": ");
    else
        snprintf(head, sizeof(head), "{\"return\": ");
    send_line(head, strlen(head));
    send_line(v, len);
    if (!strcmp(where, "event"))
        send_line("}", 1);
    if (!strcmp(where, "reply") && id && YAJL_IS_INTEGER(id)) {
        snprintf(head, sizeof(head), ", \"id\": %lld",
                 (long long)YAJL_GET_INTEGER(id));
        send_line(head, strlen(head));
    }
    send_line("}\r\n", 3);
    free(v);
    g.deep_n = strcmp(where, "event") ? 0 : g.deep_n;
    if (!strcmp(where, "event"))
        g.deep_where[0] = '\0';
    return true;
}

/* --flood: 64 KiB of the lines, written again and again. */
static void flood_prepare(void)
{
    char line[256];
    size_t n = 0, i, len;
    unsigned k = 0;

    g.flood_buf = malloc(65536 + sizeof(line));
    if (!g.flood_buf)
        abort();
    while (n < 65536) {
        if (g.flood == FLOOD_EVENTS)
            len = (size_t)snprintf(line, sizeof(line), "{\"timestamp\": "
                "{\"seconds\": 1700000000, \"microseconds\": %u}, "
                "\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": "
                "\"pci-pt-ff_1f.%u-%u\", \"path\": \"/machine/peripheral/"
                "x\"}}\r\n", k, k % 8, k);
        else
            len = (size_t)snprintf(line, sizeof(line), "{\"return\": {}, "
                                   "\"id\": %u}\r\n", 100000 + k);
        for (i = 0; i < len; i++)
            g.flood_buf[n + i] = line[i];
        n += len;
        k++;
    }
    g.flood_len = n;
}

/* The socket is writable: as much of the flood as it takes. */
static void flood_write(void)
{
    ssize_t r;

    r = send(g.client, g.flood_buf + g.flood_off,
             g.flood_len - g.flood_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        close_client();
        return;
    }
    g.flood_off = (g.flood_off + (size_t)r) % g.flood_len;
}

/* ---- state ------------------------------------------------------------------ */

static void save_state(void)
{
    char tmp[512];
    FILE *f;
    size_t i;

    if (!g.state)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", g.state);
    f = fopen(tmp, "w");
    if (!f)
        return;
    for (i = 0; i < g.ndevs; i++)
        if (g.devs[i].id[0])
            fprintf(f, "%s %x.%x %s%s\n", g.devs[i].id, g.devs[i].slot,
                    g.devs[i].func, g.devs[i].host,
                    g.devs[i].permissive ? " p" : "");
    fclose(f);
    rename(tmp, g.state);
}

static dev *add_dev(const char *id, const char *host, unsigned slot,
                    unsigned func, unsigned cls)
{
    dev *d;

    if (g.ndevs == MAX_DEVS)
        return NULL;
    d = &g.devs[g.ndevs++];
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", id);
    snprintf(d->host, sizeof(d->host), "%s", host);
    d->slot = slot;
    d->func = func;
    d->class_code = cls;
    return d;
}

static dev *find_id(const char *id)
{
    size_t i;

    for (i = 0; i < g.ndevs; i++)
        if (g.devs[i].id[0] && !strcmp(g.devs[i].id, id))
            return &g.devs[i];
    return NULL;
}

static dev *find_slot(unsigned slot, unsigned func)
{
    size_t i;

    for (i = 0; i < g.ndevs; i++)
        if (g.devs[i].slot == slot && g.devs[i].func == func)
            return &g.devs[i];
    return NULL;
}

/* Devices whose removal is due leave; DEVICE_DELETED for each. */
static void run_deletions(void)
{
    long long now = now_ms();
    char id[64];
    size_t i;

    for (i = 0; i < g.ndevs;) {
        if (!g.devs[i].del_at || g.devs[i].del_at > now) {
            i++;
            continue;
        }
        snprintf(id, sizeof(id), "%s", g.devs[i].id);
        g.devs[i] = g.devs[--g.ndevs];
        save_state();
        event_deleted(id);
    }
}

static int next_deletion_ms(void)
{
    long long next = 0, now = now_ms();
    size_t i;

    for (i = 0; i < g.ndevs; i++)
        if (g.devs[i].del_at && (!next || g.devs[i].del_at < next))
            next = g.devs[i].del_at;
    if (!next)
        return -1;
    return next <= now ? 0 : (int)(next - now);
}

/* ---- commands --------------------------------------------------------------- */

static const char *arg_str(yajl_val args, const char *key)
{
    const char *path[] = { key, NULL };
    yajl_val v = args ? yajl_tree_get(args, path, yajl_t_string) : NULL;

    return v ? YAJL_GET_STRING(v) : NULL;
}

static void cmd_device_add(yajl_val id, yajl_val args)
{
    const char *driver = arg_str(args, "driver");
    const char *qid = arg_str(args, "id");
    const char *host = arg_str(args, "hostaddr");
    const char *addr = arg_str(args, "addr");
    const char *path[] = { "permissive", NULL };
    unsigned slot = 0, func = 0;
    dev *d;

    if (!driver) {
        reply_error(id, "GenericError", "Parameter 'driver' is missing");
        return;
    }
    if (strcmp(driver, "xen-pci-passthrough")) {
        reply_error(id, "GenericError", "'%s' is not a valid device model "
                    "name", driver);
        return;
    }
    if (qid && find_id(qid)) {
        reply_error(id, "GenericError", "Duplicate device ID '%s'", qid);
        return;
    }
    if (!host) {
        reply_error(id, "GenericError", "xen-pci-passthrough: property "
                    "'hostaddr' is missing");
        return;
    }
    if (listed(g.refuse, g.nrefuse, "device_add")) {
        reply_error(id, "GenericError", "xen_pt_realize: Real physical "
                    "device %s registration failed (refused by qmppeer)",
                    host);
        return;
    }
    if (addr) {
        char *end;

        slot = (unsigned)strtoul(addr, &end, 16);
        if (*end == '.')
            func = (unsigned)strtoul(end + 1, &end, 16);
        if (*end || slot > 31 || func > 7) {
            reply_error(id, "GenericError", "Property 'xen-pci-passthrough."
                        "addr' doesn't take value '%s'", addr);
            return;
        }
        if ((d = find_slot(slot, func))) {
            reply_error(id, "GenericError", "PCI: slot %u function %u not "
                        "available for xen-pci-passthrough, in use by "
                        "%s,id=\"%s\"", slot, func,
                        d->id[0] ? "xen-pci-passthrough" : "(emulated)",
                        d->id);
            return;
        }
    } else {
        for (slot = 0; slot < 32 && find_slot(slot, 0); slot++)
            ;
        if (slot == 32) {
            reply_error(id, "GenericError", "PCI: no slot/function "
                        "available for xen-pci-passthrough, all in use");
            return;
        }
    }
    d = add_dev(qid ? qid : "", host, slot, func, 0x0200);
    if (!d) {
        reply_error(id, "GenericError", "qmppeer: too many devices");
        return;
    }
    d->permissive = args && yajl_tree_get(args, path, yajl_t_true);
    save_state();
    reply_empty(id);
}

static void cmd_device_del(yajl_val id, yajl_val args)
{
    const char *qid = arg_str(args, "id");
    dev *d = qid ? find_id(qid) : NULL;

    if (!qid) {
        reply_error(id, "GenericError", "Parameter 'id' is missing");
        return;
    }
    if (!d) {
        reply_error(id, "DeviceNotFound", "Device '%s' not found", qid);
        return;
    }
    if (!d->del_at && !g.del_never)
        d->del_at = now_ms() + g.del_delay + (g.del_delay ? 0 : 1);
    reply_empty(id);
}

static void cmd_query_pci(yajl_val id)
{
    yajl_gen y = msg_begin();
    size_t i;

    gen_str(y, "return");
    yajl_gen_array_open(y);
    yajl_gen_map_open(y);
    gen_kv_int(y, "bus", 0);
    gen_str(y, "devices");
    yajl_gen_array_open(y);
    for (i = 0; i < g.ndevs; i++) {
        const dev *d = &g.devs[i];

        yajl_gen_map_open(y);
        gen_kv_int(y, "irq_pin", d->id[0] ? 1 : 0);
        gen_kv_int(y, "bus", 0);
        gen_str(y, "qdev_id");
        gen_str(y, d->id);
        gen_kv_int(y, "slot", d->slot);
        gen_str(y, "class_info");
        yajl_gen_map_open(y);
        gen_kv_int(y, "class", d->class_code);
        yajl_gen_map_close(y);
        gen_str(y, "id");
        yajl_gen_map_open(y);
        gen_kv_int(y, "device", d->id[0] ? 0x100e : 0x29c0);
        gen_kv_int(y, "subsystem-vendor", 0x1af4);
        gen_kv_int(y, "vendor", 0x8086);
        gen_kv_int(y, "subsystem", 0x1100);
        yajl_gen_map_close(y);
        gen_kv_int(y, "function", d->func);
        gen_str(y, "regions");
        yajl_gen_array_open(y);
        yajl_gen_array_close(y);
        yajl_gen_map_close(y);
    }
    yajl_gen_array_close(y);
    yajl_gen_map_close(y);
    yajl_gen_array_close(y);
    msg_send(y, id);
}

static void log_line(const char *line)
{
    FILE *f;

    if (!g.log || !(f = fopen(g.log, "a")))
        return;
    fprintf(f, "%s\n", line);
    fclose(f);
}

static void handle_line(char *line)
{
    const char *p_exec[] = { "execute", NULL };
    const char *p_id[] = { "id", NULL };
    const char *p_args[] = { "arguments", NULL };
    char err[256];
    yajl_val root, exec, id, args;
    const char *cmd;

    line[strcspn(line, "\r")] = '\0';
    if (!line[strspn(line, " \t")])
        return;
    log_line(line);
    root = yajl_tree_parse(line, err, sizeof(err));
    if (!root) {
        reply_error(NULL, "GenericError", "JSON parse error, invalid "
                    "literal");
        return;
    }
    exec = yajl_tree_get(root, p_exec, yajl_t_string);
    id = yajl_tree_get(root, p_id, yajl_t_any);
    args = yajl_tree_get(root, p_args, yajl_t_object);
    if (!exec) {
        reply_error(id, "GenericError", "QMP input lacks member 'execute'");
        goto out;
    }
    cmd = YAJL_GET_STRING(exec);
    if (g.flood && g.negotiated)
        goto out;                      /* answers nothing more */
    send_deep("event", NULL);
    if (g.negotiated && send_deep("reply", id))
        goto out;
    if (listed(g.drop, g.ndrop, cmd)) {
        close_client();
        goto out;
    }
    maybe_late(cmd);
    if (listed(g.garbage, g.ngarbage, cmd)) {
        send_line("{\"return\": oops\r\n", 17);
        goto out;
    }
    if (!g.negotiated) {
        if (!strcmp(cmd, "qmp_capabilities") &&
            listed(g.refuse, g.nrefuse, cmd)) {
            reply_error(id, "GenericError", "qmp_capabilities refused by "
                        "qmppeer");
        } else if (!strcmp(cmd, "qmp_capabilities")) {
            g.negotiated = true;
            reply_empty(id);
        } else {
            reply_error(id, "CommandNotFound", "Expecting capabilities "
                        "negotiation with 'qmp_capabilities'");
        }
        goto out;
    }
    if (listed(g.hang_after, g.nhang_after, cmd)) {
        int fd = g.client;

        g.client = -1;                 /* do it, answer nobody, ever */
        if (!strcmp(cmd, "device_add"))
            cmd_device_add(id, args);
        else if (!strcmp(cmd, "device_del"))
            cmd_device_del(id, args);
        g.client = fd;
        g.hung = true;
        goto out;
    }
    if (listed(g.drop_after, g.ndrop_after, cmd)) {
        int fd = g.client;

        g.client = -1;                 /* do it, answer nobody */
        if (!strcmp(cmd, "device_add"))
            cmd_device_add(id, args);
        else if (!strcmp(cmd, "device_del"))
            cmd_device_del(id, args);
        g.client = fd;
        close_client();
        goto out;
    }
    if (!strcmp(cmd, "qmp_capabilities"))
        reply_error(id, "CommandNotFound", "Capabilities negotiation is "
                    "already complete, command ignored");
    else if (strcmp(cmd, "device_add") && listed(g.refuse, g.nrefuse, cmd))
        reply_error(id, "GenericError", "%s refused by qmppeer", cmd);
    else if (!strcmp(cmd, "device_add"))
        cmd_device_add(id, args);
    else if (!strcmp(cmd, "device_del"))
        cmd_device_del(id, args);
    else if (!strcmp(cmd, "query-pci"))
        cmd_query_pci(id);
    else
        reply_error(id, "CommandNotFound", "The command %s has not been "
                    "found", cmd);
out:
    yajl_tree_free(root);
}

static void client_input(void)
{
    char *nl;
    ssize_t r;

    if (g.incap - g.inlen < 4096) {
        g.incap = g.incap ? g.incap * 2 : 8192;
        g.in = realloc(g.in, g.incap);
        if (!g.in)
            abort();
    }
    r = read(g.client, g.in + g.inlen, g.incap - g.inlen - 1);
    if (r < 0 && errno == EINTR)
        return;
    if (r <= 0) {
        close_client();
        return;
    }
    g.inlen += (size_t)r;
    while (g.client >= 0 && (nl = memchr(g.in, '\n', g.inlen))) {
        size_t n = (size_t)(nl - g.in);
        char *line = strndup(g.in, n);

        if (!line)
            abort();
        memmove(g.in, nl + 1, g.inlen - n - 1);
        g.inlen -= n + 1;
        handle_line(line);
        free(line);
    }
}

/* ---- main ------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: qmppeer SOCKET [--ready F] [--log F] [--state F]"
            " [--device ID,HOST,SLOT] [--late CMD:MS] [--refuse CMD] [--drop"
            " CMD] [--drop-after CMD] [--hang-after CMD] [--garbage CMD] "
            "[--del-delay MS] "
            "[--del-never] [--flood events|replies] [--deep WHERE:N] "
            "[-xen-domid D]\n");
    return 2;
}

static int add_opt(const char **v, size_t *n, const char *s)
{
    if (*n == MAX_OPTS)
        return -1;
    v[(*n)++] = s;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    int i;

    g.sock = argv[1];
    for (i = 2; i < argc; i++) {
        const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(o, "--del-never")) {
            g.del_never = true;
            continue;
        }
        if (!a)
            return -1;
        i++;
        if (!strcmp(o, "-xen-domid")) {
            /* QEMU's own option: only on the command line */
        } else if (!strcmp(o, "--flood")) {
            if (!strcmp(a, "events"))
                g.flood = FLOOD_EVENTS;
            else if (!strcmp(a, "replies"))
                g.flood = FLOOD_REPLIES;
            else
                return -1;
        } else if (!strcmp(o, "--deep")) {
            const char *c = strchr(a, ':');

            if (!c || (size_t)(c - a) >= sizeof(g.deep_where))
                return -1;
            snprintf(g.deep_where, sizeof(g.deep_where), "%.*s",
                     (int)(c - a), a);
            g.deep_n = (unsigned)atoi(c + 1);
        } else if (!strcmp(o, "--ready")) {
            g.ready = a;
        } else if (!strcmp(o, "--log")) {
            g.log = a;
        } else if (!strcmp(o, "--state")) {
            g.state = a;
        } else if (!strcmp(o, "--refuse")) {
            if (add_opt(g.refuse, &g.nrefuse, a)) return -1;
        } else if (!strcmp(o, "--drop")) {
            if (add_opt(g.drop, &g.ndrop, a)) return -1;
        } else if (!strcmp(o, "--hang-after")) {
            if (add_opt(g.hang_after, &g.nhang_after, a)) return -1;
        } else if (!strcmp(o, "--drop-after")) {
            if (add_opt(g.drop_after, &g.ndrop_after, a)) return -1;
        } else if (!strcmp(o, "--garbage")) {
            if (add_opt(g.garbage, &g.ngarbage, a)) return -1;
        } else if (!strcmp(o, "--del-delay")) {
            g.del_delay = (unsigned)atoi(a);
        } else if (!strcmp(o, "--late")) {
            const char *c = strchr(a, ':');

            if (!c || g.nlate == MAX_OPTS ||
                (size_t)(c - a) >= sizeof(g.late[0].cmd))
                return -1;
            snprintf(g.late[g.nlate].cmd, sizeof(g.late[0].cmd), "%.*s",
                     (int)(c - a), a);
            g.late[g.nlate++].ms = (unsigned)atoi(c + 1);
        } else if (!strcmp(o, "--device")) {
            char id[64], host[32];
            unsigned slot;

            if (sscanf(a, "%63[^,],%31[^,],%x", id, host, &slot) != 3 ||
                slot > 31 || find_slot(slot, 0) ||
                !add_dev(id, host, slot, 0, 0x0200))
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa;
    struct sigaction sig;
    int lfd, fd;
    FILE *f;

    if (argc < 2)
        return usage();
    g.client = -1;
    g.del_delay = 50;
    /* the emulated devices of xenfv (i440FX, PIIX3, Xen platform) */
    add_dev("", "", 0, 0, 0x0600);     /* host bridge */
    add_dev("", "", 1, 0, 0x0601);     /* ISA bridge */
    add_dev("", "", 1, 1, 0x0101);     /* IDE */
    add_dev("", "", 1, 2, 0x0c03);     /* USB */
    add_dev("", "", 1, 3, 0x0680);     /* ACPI (PIIX4 PM) */
    add_dev("", "", 2, 0, 0xff80);     /* xen-platform */
    if (parse_args(argc, argv))
        return usage();
    if (g.flood)
        flood_prepare();

    memset(&sig, 0, sizeof(sig));
    sig.sa_handler = on_term;
    sigaction(SIGTERM, &sig, NULL);
    sigaction(SIGINT, &sig, NULL);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(g.sock) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "qmppeer: socket path too long\n");
        return 1;
    }
    strcpy(sa.sun_path, g.sock);
    unlink(g.sock);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(lfd, 4)) {
        perror("qmppeer: listen");
        return 1;
    }
    save_state();
    if (g.ready && (f = fopen(g.ready, "w")))
        fclose(f);

    while (!stop) {
        struct pollfd p[2];
        int n = 0, r, timeout = next_deletion_ms();

        /* one client at a time: the next waits in the backlog */
        if (g.client < 0) {
            p[n].fd = lfd;
            p[n].events = POLLIN;
            p[n++].revents = 0;
        } else {
            p[n].fd = g.client;
            p[n].events = POLLIN;
            if (g.flood && g.negotiated)
                p[n].events |= POLLOUT;
            p[n++].revents = 0;
        }
        if (g.hung) {                  /* serves nobody: only SIGTERM */
            sleep_ms(1000);
            continue;
        }
        r = poll(p, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR)
            break;
        run_deletions();
        if (r <= 0)
            continue;
        if (p[0].fd == lfd && (p[0].revents & POLLIN)) {
            fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                g.client = fd;
                g.negotiated = false;
                g.inlen = 0;
                greet();
            }
        } else if (p[0].revents & POLLOUT) {
            flood_write();
            if (g.client >= 0 && (p[0].revents & POLLIN))
                client_input();
        } else if (p[0].revents) {
            client_input();
        }
    }
    close_client();
    close(lfd);
    unlink(g.sock);
    free(g.in);
    free(g.flood_buf);
    return 0;
}

/*
 * xlpci - write the xenstore entries of Xen PCI passthrough devices.
 *
 *   xlpci [-v] [-N] [-T] <command> [options] <domain> ...
 *
 * Conventions follow xl(1): global options before the command (getopt with
 * "+"), commands in a table, data on stdout, messages on stderr through
 * xentoollog.  Exit status: 0 success, 1 the operation failed, 2 usage or
 * malformed input.
 *
 * The table (cmd_table, at the end) holds each command's name, handler,
 * -N kind, argument count, summary, usage, options and help notes.  From
 * it come the getopt_long strings, the option lines of `xlpci help CMD`
 * and the command list of `xlpci help` (which the bash completion reads).
 * Each main_* runs its options through cmd_getopt (-h, -t, bad options
 * and the argument count are dealt with there), then cmd_open (the ctx,
 * the domain resolved), then does its own work.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libxlpci.h>

#define XLPCI_VERSION LIBXLPCI_VERSION

#define EXIT_USAGE 2

static struct {
    xentoollog_logger_stdiostream *logger;
    xlpci_ctx *ctx;
    bool dry_run;
    bool have_timeout;      /* -t given: the command's deadline */
    unsigned timeout_ms;
} g;

/* What -N means for a command. */
typedef enum {
    DRY_PLAN,        /* prints the planned xenstore operations */
    DRY_READONLY,    /* changes nothing anyway: -N is harmless */
    DRY_NONE,        /* changes the host and has no dry run: -N refused */
} dry_kind;

/* One option of a command.  The command's getopt string, its long options
 * and the option lines of its help are all made from these, so they
 * cannot drift apart (and the bash completion reads its options from the
 * help).  -h/--help is every command's and is not listed. */
typedef struct {
    char letter;
    const char *name;
    const char *arg;        /* the argument's name in the help; NULL: none */
    const char *help;       /* lines after the first are indented to it */
} cmd_opt;

#define CMD_MAX_OPTS 5
#define CMD_ARGS_ANY (-1)

typedef struct cmd_spec cmd_spec;
struct cmd_spec {
    const char *name;
    int (*fn)(const cmd_spec *cmd, int argc, char **argv);
    dry_kind dry;
    int nargs;              /* positional arguments, or CMD_ARGS_ANY */
    const char *summary;
    const char *usage;
    cmd_opt opts[CMD_MAX_OPTS + 1];     /* ends with letter 0 */
    const char *notes;      /* help text after the options */
};

static const cmd_spec *find_cmd(const char *name);
static int cmd_help(const char *name);

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
    const cmd_spec *c = find_cmd(cmd);
    va_list ap;

    fprintf(stderr, "xlpci%s%s: ", *cmd ? " " : "", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (c)
        fprintf(stderr, "Usage: xlpci %s %s\n", c->name, c->usage);
    return EXIT_USAGE;
}

/* getopt returned '?' or ':' (opterr is 0): one message naming the
 * option as it was given. */
static int bad_option(const char *cmd, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    char shortopt[3] = { '-', (char)optopt, '\0' };
    const char *what = !optopt || !strncmp(arg, "--", 2) ? arg : shortopt;

    if (c == ':')
        return usage_error(cmd, "option %s needs an argument", what);
    if (optopt && !strncmp(arg, "--", 2) && strchr(arg, '='))
        return usage_error(cmd, "option %.*s takes no argument",
                           (int)(strchr(arg, '=') - arg), arg);
    return usage_error(cmd, "unknown option %s", what);
}

/* Library error -> exit status: bad input is a usage-class error. */
static int exit_for(int rc)
{
    if (!rc)
        return EXIT_SUCCESS;
    return rc == XLPCI_ERR_INVAL ? EXIT_USAGE : EXIT_FAILURE;
}

static int ctx_open(void)
{
    const char *root = getenv("XLPCI_SYSFS_ROOT");
    const char *state = getenv("XLPCI_STATE_DIR");
    const char *hv = getenv("XLPCI_HYPERVISOR");
    const char *run = getenv("XLPCI_RUN_DIR");
    int rc;

    rc = xlpci_ctx_alloc(&g.ctx, (xentoollog_logger *)g.logger);
    if (rc)
        return rc;
    if (root && *root) {
        rc = xlpci_ctx_set_sysfs_root(g.ctx, root);
        if (rc)
            return rc;
    }
    if (state && *state) {
        rc = xlpci_ctx_set_state_dir(g.ctx, state);
        if (rc) {
            fprintf(stderr, "xlpci: XLPCI_STATE_DIR cannot be used\n");
            return rc;
        }
    }
    if (run && *run) {
        rc = xlpci_ctx_set_run_dir(g.ctx, run);
        if (rc) {
            fprintf(stderr, "xlpci: XLPCI_RUN_DIR cannot be used\n");
            return rc;
        }
    }
    if (hv && *hv) {
        if (!strcmp(hv, "auto"))
            xlpci_ctx_set_hypervisor(g.ctx, XLPCI_HV_AUTO);
        else if (!strcmp(hv, "xen"))
            xlpci_ctx_set_hypervisor(g.ctx, XLPCI_HV_REQUIRE);
        else if (!strcmp(hv, "none"))
            xlpci_ctx_set_hypervisor(g.ctx, XLPCI_HV_NONE);
        else {
            fprintf(stderr, "xlpci: XLPCI_HYPERVISOR=\"%s\": expected auto, "
                    "xen or none\n", hv);
            return XLPCI_ERR_INVAL;
        }
    }
    if (g.dry_run)
        xlpci_ctx_set_dry_run(g.ctx, stdout);
    if (g.have_timeout)
        xlpci_ctx_set_timeout(g.ctx, g.timeout_ms);
    return 0;
}

static int parse_timeout(const char *cmd, const char *s, unsigned *ms)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    /* an hour at most: every command ends by its -t, and nothing a
     * passthrough waits for takes longer */
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 3600)
        return usage_error(cmd, "bad timeout \"%s\": give seconds from 0 "
                           "to 3600, e.g. 10 or 0.5", s);
    *ms = (unsigned)(v * 1000 + 0.5);
    return 0;
}

static int parse_spec(const char *cmd, const char *s, xlpci_spec *spec)
{
    char err[512];

    if (xlpci_spec_parse(s, spec, err, sizeof(err))) {
        fprintf(stderr, "xlpci %s: %s\n", cmd, err);
        return EXIT_USAGE;
    }
    return 0;
}

/* Is s a PCI_SPEC_STRING with an address (not a domain name)? */
static bool looks_like_pci(const char *s)
{
    xlpci_spec spec;
    char err[256];
    bool is_pci;

    xlpci_spec_init(&spec);
    is_pci = !xlpci_spec_parse(s, &spec, err, sizeof(err)) && spec.has_bdf;
    xlpci_spec_dispose(&spec);
    return is_pci;
}

/* <domain>: a domid or a name; a PCI address there is a misplaced
 * argument (create -c CFG BDF, with the domain left out), not a name. */
static int resolve_domain(const char *cmd, const char *dom, uint32_t *domid)
{
    if (looks_like_pci(dom)) {
        usage_error(cmd, "\"%s\" is a PCI address where the domain was "
                    "expected (the domain comes first)", dom);
        return XLPCI_ERR_INVAL;
    }
    return xlpci_domain_resolve(g.ctx, dom, domid);
}

/* ---- the commands' opening ----------------------------------------------- */

/* The wrong number of arguments: "expected" and the usage's arguments
 * (the usage without its [option] groups), or "no arguments expected". */
static int bad_nargs(const cmd_spec *c)
{
    const char *p = c->usage, *q;

    if (!c->nargs)
        return usage_error(c->name, "no arguments expected");
    while (*p == '[' && (q = strchr(p, ']')))
        p = q + 1 + strspn(q + 1, " ");
    return usage_error(c->name, "expected %s", p);
}

/* The next of the command's own options, as getopt_long gives it, in the
 * spirit of xl's SWITCH_FOREACH_OPT:
 *
 *     while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
 *         switch (opt) { case 'f': ...; }
 *     if (ret != CMD_GO)
 *         return ret;
 *
 * Returns 0 when the options end.  Then *ret is CMD_GO, optind is the
 * first positional argument and there are as many as the command takes;
 * or *ret is the command's exit status: 0 after -h/--help (the command's
 * help on stdout), 2 after a bad option, a bad -t or the wrong number of
 * arguments (the message on stderr).  The options common to commands are
 * dealt with here: -h/--help, and -t/--timeout SECS (the ctx gets it). */
#define CMD_GO (-1)

static int cmd_getopt(const cmd_spec *c, int argc, char **argv, int *ret)
{
    char optstring[2 + 2 * CMD_MAX_OPTS + 2] = "+:";   /* +:, x:, h */
    struct option longopts[CMD_MAX_OPTS + 2];
    const cmd_opt *o;
    size_t n = 0, k = 2;
    int opt;

    /* opts[] holds at most CMD_MAX_OPTS options before its end mark, so
     * each letter (and its ':') has its place in optstring */
    for (o = c->opts; o->letter; o++, n++) {
        longopts[n] = (struct option){ o->name, o->arg ? required_argument
                                                       : no_argument,
                                       NULL, o->letter };
        optstring[k++] = o->letter;
        if (o->arg)
            optstring[k++] = ':';
    }
    optstring[k++] = 'h';
    optstring[k] = '\0';
    longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    longopts[n] = (struct option){ NULL, 0, NULL, 0 };

    while ((opt = getopt_long(argc, argv, optstring, longopts,
                              NULL)) == 't') {
        *ret = parse_timeout(c->name, optarg, &g.timeout_ms);
        if (*ret)
            return 0;
        g.have_timeout = true;
    }
    switch (opt) {
    case -1:
        if (c->nargs != CMD_ARGS_ANY && argc - optind != c->nargs)
            *ret = bad_nargs(c);
        else
            *ret = CMD_GO;
        return 0;
    case 'h':
        *ret = cmd_help(c->name);
        return 0;
    case '?':
    case ':':
        *ret = bad_option(c->name, opt, argv);
        return 0;
    default:
        return opt;
    }
}

/* The ctx (with -N and -t), and <domain> resolved when dom is given. */
static int cmd_open(const cmd_spec *c, const char *dom, uint32_t *domid)
{
    int rc;

    rc = ctx_open();
    if (!rc && dom)
        rc = resolve_domain(c->name, dom, domid);
    return rc;
}

/* ---- create ---------------------------------------------------------------- */

static int main_create(const cmd_spec *cmd, int argc, char **argv)
{
    xlpci_config cfg;
    xlpci_spec *specs = NULL;
    const char *config = NULL, *dom;
    size_t nspecs = 0, i;
    unsigned flags = 0;
    char err[512];
    uint32_t domid;
    int opt, rc, ret;

    xlpci_config_init(&cfg);
    while ((opt = cmd_getopt(cmd, argc, argv, &ret))) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'f': flags |= XLPCI_CREATE_REPLACE; break;
        }
    }
    if (ret != CMD_GO)
        return ret;
    if (config && xlpci_config_read(config, &cfg, err, sizeof(err))) {
        fprintf(stderr, "xlpci create: %s\n", err);
        return EXIT_USAGE;
    }
    if (optind < argc) {
        dom = argv[optind++];
    } else if (cfg.name) {
        dom = cfg.name;
    } else {
        ret = usage_error(cmd->name, "no domain given");
        goto out;
    }
    specs = calloc(cfg.num_pci + (size_t)(argc - optind) + 1, sizeof(*specs));
    if (!specs) {
        ret = EXIT_FAILURE;
        goto out;
    }
    for (i = 0; i < cfg.num_pci; i++, nspecs++) {
        ret = parse_spec(cmd->name, cfg.pci[i], &specs[nspecs]);
        if (ret) goto out;
    }
    for (; optind < argc; optind++, nspecs++) {
        ret = parse_spec(cmd->name, argv[optind], &specs[nspecs]);
        if (ret) goto out;
    }
    if (!nspecs && looks_like_pci(dom)) {
        /* `create 03:00.0`: the device took the domain's place */
        ret = usage_error(cmd->name, "no domain given: \"%s\" is a PCI "
                          "address where the domain was expected (the "
                          "domain comes first)", dom);
        goto out;
    }
    if (!nspecs) {
        ret = usage_error(cmd->name, "no PCI devices given (on the command "
                          "line or in pci = [ ... ] of the config)");
        goto out;
    }
    rc = cmd_open(cmd, dom, &domid);
    if (!rc) rc = xlpci_create(g.ctx, domid, specs, nspecs, &cfg.defaults,
                               flags);
    ret = exit_for(rc);
out:
    for (i = 0; i < nspecs; i++)
        xlpci_spec_dispose(&specs[i]);
    free(specs);
    xlpci_config_dispose(&cfg);
    return ret;
}

/* ---- pci-attach / pci-detach ----------------------------------------------- */

static int main_attach_detach(const cmd_spec *cmd, int argc, char **argv)
{
    bool detach = !strcmp(cmd->name, "pci-detach");
    xlpci_spec spec;
    unsigned flags = 0;
    uint32_t domid;
    int opt, rc, ret;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
        if (opt == 'f')
            flags |= XLPCI_DETACH_FORCE;
    if (ret != CMD_GO)
        return ret;
    xlpci_spec_init(&spec);
    ret = parse_spec(cmd->name, argv[optind + 1], &spec);
    if (ret)
        return ret;
    rc = cmd_open(cmd, argv[optind], &domid);
    if (!rc)
        rc = detach ? xlpci_detach(g.ctx, domid, &spec, flags)
                    : xlpci_attach(g.ctx, domid, &spec, NULL);
    xlpci_spec_dispose(&spec);
    return exit_for(rc);
}

/* ---- pci-list ---------------------------------------------------------------- */

static int main_list(const cmd_spec *cmd, int argc, char **argv)
{
    xlpci_entry *list = NULL;
    size_t n = 0, i;
    bool json = false;
    char *out = NULL;
    uint32_t domid;
    int opt, rc, ret;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
        if (opt == 'l')
            json = true;
    if (ret != CMD_GO)
        return ret;
    rc = cmd_open(cmd, argv[optind], &domid);
    if (!rc) rc = xlpci_list(g.ctx, domid, &list, &n);
    if (!rc && json) {
        rc = xlpci_entries_json(list, n, &out);
        if (!rc)
            fputs(out, stdout);
    } else if (!rc) {
        printf("Vdev Device\n");
        for (i = 0; i < n; i++) {
            const xlpci_dev *d = &list[i].dev;

            printf("%02x.%01x %04x:%02x:%02x.%01x\n", (d->vdevfn >> 3) & 0x1f,
                   d->vdevfn & 7, d->bdf.seg, d->bdf.bus, d->bdf.dev,
                   d->bdf.func);
        }
    }
    free(out);
    xlpci_entry_list_free(list, n);
    return exit_for(rc);
}

/* ---- pci-assignable-* ---------------------------------------------------------- */

static int main_assignable_add(const cmd_spec *cmd, int argc, char **argv)
{
    const char *name = NULL;
    char err[256];
    xlpci_bdf bdf;
    int opt, rc, ret;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
        if (opt == 'n')
            name = optarg;
    if (ret != CMD_GO)
        return ret;
    if (xlpci_bdf_parse(argv[optind], &bdf, err, sizeof(err))) {
        fprintf(stderr, "xlpci %s: %s\n", cmd->name, err);
        return EXIT_USAGE;
    }
    rc = cmd_open(cmd, NULL, NULL);
    if (!rc) rc = xlpci_assignable_add(g.ctx, &bdf, name);
    return exit_for(rc);
}

static int main_assignable_remove(const cmd_spec *cmd, int argc, char **argv)
{
    bool rebind = false;
    char err[256];
    xlpci_bdf bdf;
    int opt, rc, ret;
    bool byname;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
        if (opt == 'r')
            rebind = true;
    if (ret != CMD_GO)
        return ret;
    /* as xl: a BDF if it parses as one, else a name */
    byname = xlpci_bdf_parse(argv[optind], &bdf, err, sizeof(err)) != 0;
    rc = cmd_open(cmd, NULL, NULL);
    if (!rc) rc = xlpci_assignable_remove(g.ctx, &bdf,
                                          byname ? argv[optind] : NULL,
                                          rebind);
    return exit_for(rc);
}

static int main_assignable_list(const cmd_spec *cmd, int argc, char **argv)
{
    xlpci_host_dev *list = NULL;
    bool names = false;
    size_t n = 0, i;
    int opt, rc, ret;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
        if (opt == 'n')
            names = true;
    if (ret != CMD_GO)
        return ret;
    rc = cmd_open(cmd, NULL, NULL);
    if (!rc) rc = xlpci_assignable_list(g.ctx, &list, &n);
    for (i = 0; !rc && i < n; i++)   /* xl's format, trailing space too */
        printf("%04x:%02x:%02x.%01x %s\n", list[i].bdf.seg, list[i].bdf.bus,
               list[i].bdf.dev, list[i].bdf.func,
               names && list[i].name ? list[i].name : "");
    xlpci_host_dev_list_free(list, n);
    return exit_for(rc);
}

/* ---- check ----------------------------------------------------------------------- */

static int main_check(const cmd_spec *cmd, int argc, char **argv)
{
    unsigned flags = 0;
    xlpci_check_result res;
    uint32_t domid;
    int opt, rc, ret;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret))) {
        if (opt == 'r')
            flags |= XLPCI_CHECK_REPAIR;
        else if (opt == 'a')
            flags |= XLPCI_CHECK_AUDIT;
    }
    if (ret != CMD_GO)
        return ret;
    rc = cmd_open(cmd, argv[optind], &domid);
    if (!rc) rc = xlpci_check_flags(g.ctx, domid, flags, &res);
    if (rc == XLPCI_ERR_BUSY) {
        printf("domain %u: %u problem(s); a Reconfiguring cycle or "
               "another xlpci command is in progress (see above), try "
               "again\n", domid, res.problems);
        return EXIT_FAILURE;
    }
    if (rc)
        return exit_for(rc);
    if (!res.domain_exists) {
        /* the domain is gone: what it held is released by --repair (or
         * destroy); nothing left is success */
        fprintf(stderr, "xlpci: domain %u does not exist\n", domid);
        if (!res.problems)
            printf("domain %u: gone; nothing of it is left\n", domid);
        else if ((flags & XLPCI_CHECK_REPAIR) && g.dry_run)
            printf("domain %u: gone; %u problem(s): the repair above "
                   "releases what it still holds\n", domid, res.problems);
        else if (flags & XLPCI_CHECK_REPAIR)
            printf("domain %u: gone; %u problem(s) left (see above)\n",
                   domid, res.problems);
        else
            printf("domain %u: gone; %u problem(s): xlpci check --repair "
                   "(or destroy) releases what it still holds\n", domid,
                   res.problems);
        return res.problems && !((flags & XLPCI_CHECK_REPAIR) && g.dry_run)
               ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    if (!res.problems)
        printf("domain %u: consistent\n", domid);
    else if ((flags & XLPCI_CHECK_REPAIR) && g.dry_run)
        printf("domain %u: %u problem(s); the repair above fixes %u of "
               "them%s\n", domid, res.problems,
               res.problems - res.unfixable,
               res.unfixable ? ", not the ones marked not repairable" : "");
    else if (flags & XLPCI_CHECK_REPAIR)
        printf("domain %u: %u problem(s) left (xlpci cannot repair them; "
               "see above)\n", domid, res.problems);
    else if (!res.unfixable)
        printf("domain %u: %u problem(s); xlpci check --repair fixes "
               "them\n", domid, res.problems);
    else if (res.unfixable == res.problems)
        printf("domain %u: %u problem(s); xlpci check --repair cannot fix "
               "them (see above)\n", domid, res.problems);
    else
        printf("domain %u: %u problem(s); xlpci check --repair fixes %u "
               "of them, not the %u marked not repairable\n", domid,
               res.problems, res.problems - res.unfixable, res.unfixable);
    /* -N --repair: the exit status the real run would have */
    if ((flags & XLPCI_CHECK_REPAIR) && g.dry_run)
        return res.unfixable ? EXIT_FAILURE : EXIT_SUCCESS;
    return res.problems ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- destroy --------------------------------------------------------------------- */

static int main_destroy(const cmd_spec *cmd, int argc, char **argv)
{
    unsigned flags = 0, released = 0;
    uint32_t domid;
    int opt, rc, ret;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret)))
        if (opt == 'f')
            flags |= XLPCI_DESTROY_FORCE;
    if (ret != CMD_GO)
        return ret;
    rc = cmd_open(cmd, argv[optind], &domid);
    if (!rc) rc = xlpci_destroy(g.ctx, domid, flags, &released);
    if (rc == XLPCI_ERR_BUSY)
        return EXIT_FAILURE;
    if (rc)
        return exit_for(rc);
    if (!released)
        printf("domain %u: nothing to do\n", domid);
    else if (!g.dry_run)
        printf("domain %u: released %u PCI device(s)\n", domid, released);
    return EXIT_SUCCESS;
}

/* ---- watch ----------------------------------------------------------------------- */

/* systemd's readiness protocol (sd_notify(3), Type=notify): one datagram
 * to $NOTIFY_SOCKET ("/path", or "@name" in the abstract namespace).
 * Nothing without it. */
static void notify_systemd(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t len;
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    len = strlen(path);
    if (len >= sizeof(sa.sun_path))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
        fprintf(stderr, "xlpci watch: cannot notify systemd on %s: %s\n",
                path, strerror(errno));
    close(fd);
}

static int parse_count(const char *cmd, const char *s, unsigned *n)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v < 1 || v > 64)
        return usage_error(cmd, "bad number \"%s\": give 1 to 64", s);
    *n = (unsigned)v;
    return 0;
}

static int main_watch(const cmd_spec *cmd, int argc, char **argv)
{
    const char *dir = getenv("XLPCI_GUESTS_DIR");
    struct signalfd_siginfo si;
    struct pollfd pfd[2];
    xlpci_watcher *w = NULL;
    unsigned jobs = 0, qemu_ms = 0;
    bool once = false, stopping = false;
    sigset_t sigs;
    int opt, rc, ret, sfd = -1;

    while ((opt = cmd_getopt(cmd, argc, argv, &ret))) {
        switch (opt) {
        case 'o': once = true; break;
        case 'g': dir = optarg; break;
        case 'j':
            ret = parse_count(cmd->name, optarg, &jobs);
            if (ret)
                return ret;
            break;
        case 'q':
            ret = parse_timeout(cmd->name, optarg, &qemu_ms);
            if (ret)
                return ret;
            break;
        }
    }
    if (ret != CMD_GO)
        return ret;
    if (g.dry_run && !once)
        return usage_error(cmd->name, "-N (a dry run) needs --once: the "
                           "watcher then prints what it would do and exits");
    rc = cmd_open(cmd, NULL, NULL);
    if (rc)
        return exit_for(rc);
    /* TERM and INT end it, HUP reconciles: read from a signalfd in the
     * loop (the actions' children unblock them) */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) ||
        (sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        fprintf(stderr, "xlpci watch: signalfd: %s\n", strerror(errno));
        return EXIT_FAILURE;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = xlpci_watcher_new(g.ctx, dir, once ? XLPCI_WATCH_ONCE : 0, &w);
    if (rc) {
        close(sfd);
        return exit_for(rc);
    }
    if (jobs)
        xlpci_watcher_set_jobs(w, jobs);
    if (qemu_ms)
        xlpci_watcher_set_qemu_wait(w, qemu_ms);
    notify_systemd("READY=1\nSTATUS=watching the domains");
    pfd[0].fd = xlpci_watcher_fd(w);
    pfd[1].fd = sfd;
    pfd[0].events = pfd[1].events = POLLIN;
    for (;;) {
        rc = xlpci_watcher_dispatch(w);
        if (rc)
            break;
        if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
            fprintf(stderr, "xlpci watch: poll: %s\n", strerror(errno));
            rc = XLPCI_ERR_FAIL;
            break;
        }
        if (!(pfd[1].revents & POLLIN))
            continue;
        while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            if (si.ssi_signo == SIGHUP) {
                xlpci_watcher_reconcile(w);
                continue;
            }
            stopping = true;
        }
        if (stopping)
            break;
    }
    if (stopping) {
        notify_systemd("STOPPING=1");
        fprintf(stderr, "xlpci watch: stopping (a second signal kills it; "
                "its running actions die with it and are redone at the "
                "next start)\n");
        /* a second TERM or INT while the running actions end */
        sigdelset(&sigs, SIGHUP);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &sigs, NULL);
        rc = 0;
    }
    xlpci_watcher_free(w);
    close(sfd);
    if (rc == 1)
        return EXIT_SUCCESS;
    return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- table ------------------------------------------------------------------- */

static int main_help(const cmd_spec *cmd, int argc, char **argv);

#define OPT_TIMEOUT { 't', "timeout", "SECS", "the command's deadline " \
    "(default 10): it ends\nwithin SECS + 1 s whatever the guest does" }

static const cmd_spec cmd_table[] = {
    { "create", main_create, DRY_PLAN, CMD_ARGS_ANY,
      "Populate a domain's PCI backend with all its devices at once",
      "[-f] [-c CONFIG] [<domain>] [PCI_SPEC_STRING...]",
      { { 'c', "config", "FILE", "take pci = [ ... ], pci_permissive etc. "
          "and the\ndomain name from an xl.cfg file" },
        { 'f', "force", NULL, "replace an existing PCI backend" } },
      "Writes the backend and frontend directories, num_devs and every\n"
      "device in ONE xenstore transaction (the domain-create path)." },
    { "pci-attach", main_attach_detach, DRY_PLAN, 2,
      "Hot-add a PCI device to a domain",
      "[-t SECS] <domain> <PCI_SPEC_STRING>",
      { OPT_TIMEOUT }, NULL },
    { "pci-detach", main_attach_detach, DRY_PLAN, 2,
      "Hot-remove a PCI device from a domain",
      "[-f] [-t SECS] <domain> <PCI_SPEC_STRING>",
      { { 'f', "force", NULL, "remove even if the guest does not release "
          "it" },
        OPT_TIMEOUT },
      "Only the bdf or name of the PCI_SPEC_STRING is used." },
    { "pci-list", main_list, DRY_READONLY, 1,
      "List the PCI devices of a domain",
      "[-l] <domain>",
      { { 'l', "long", NULL, "JSON, with libxl's field names" } }, NULL },
    { "pci-assignable-add", main_assignable_add, DRY_NONE, 1,
      "Make a device assignable: unbind it from its driver, bind to pciback",
      "[-n NAME] <BDF>",
      { { 'n', "name", "NAME", "a name to use in PCI_SPEC_STRING "
          "(name=NAME)" } }, NULL },
    { "pci-assignable-remove", main_assignable_remove, DRY_NONE, 1,
      "Take a device off pciback",
      "[-r] <BDF|NAME>",
      { { 'r', "rebind", NULL, "give it back to the driver it came from" } },
      NULL },
    { "pci-assignable-list", main_assignable_list, DRY_READONLY, 0,
      "List the devices on pciback that no domain has",
      "[-n]",
      { { 'n', "show-names", NULL, "print the names too" } }, NULL },
    { "check", main_check, DRY_PLAN, 1,
      "Verify a domain's PCI backend; --repair fixes it",
      "[--repair] [--audit] [-t SECS] <domain>",
      { { 'r', "repair", NULL, "fix what it can, in one transaction" },
        { 'a', "audit", NULL, "also look host-wide: list /libxl/pci and "
          "every PCI\nbackend (the cost grows with the host; on\n"
          "oxenstored the listing fails past about 315\nrecords, the "
          "4096-byte reply limit)" },
        OPT_TIMEOUT },
      "Checks: num_devs is the true count, indices dense, no orphan keys\n"
      "(at any index, or spelled like dev-03), no device twice (by\n"
      "address), no malformed per-index value, frontend present, no index\n"
      "left Closing by an interrupted detach, no backend Closing, no\n"
      "frontend waiting in Reconfiguring under a Connected backend\n"
      "(--repair resumes the cycle) or in any state but Connected; who\n"
      "holds each device: its\n"
      "/libxl/pci record names the domain, no other live domain holds it,\n"
      "the bookkeeping agrees (corrected from the store); an HVM guest's\n"
      "QEMU is asked which devices it has (query-pci) and compared with\n"
      "the record and the bookkeeping.  Also reports (never repairs)\n"
      "devices pciback never exported though both ends are Connected, and\n"
      "malformed values.  A gone domain: what it still holds, released by\n"
      "--repair as destroy does.  Nothing of a device another live domain\n"
      "holds is ever touched.  Exit 0 when consistent (a gone domain:\n"
      "nothing of it left); 1 when problems are left." },
    { "destroy", main_destroy, DRY_PLAN, 1,
      "Release every PCI device of a domain that is gone or going",
      "[-f] <domain>",
      { { 'f', "force", NULL, "also for a domain that still exists (while "
          "it\nis being destroyed)" } },
      "No guest handshake: removes the backend and frontend entries and\n"
      "the /libxl/pci/<bdf>/domid records in one transaction, resets the\n"
      "devices and makes them assignable again (managed ones go back to\n"
      "their drivers).  A device another live domain holds (its record,\n"
      "its backend, or Xen says so) is left as it is.  Idempotent:\n"
      "\"nothing to do\" the second time, and after xl destroy." },
    { "watch", main_watch, DRY_PLAN, 0,
      "Follow the domains: devices at every boot, released at death",
      "[-o] [-g DIR] [-j N] [-q SECS] [-t SECS]",
      { { 'o', "once", NULL, "reconcile the host once, then exit (with -N:\n"
          "print what it would do)" },
        { 'g', "guests", "DIR", "the guests' device lists <DIR>/<name>.cfg\n"
          "(default /etc/xlpci/guests, or XLPCI_GUESTS_DIR)" },
        { 'j', "jobs", "N", "at most N releases and N creates at once\n"
          "(default 4)" },
        { 'q', "qemu", "SECS", "how long an HVM guest's create waits "
          "for its\nQEMU's QMP socket (default 60)" },
        { 't', "timeout", "SECS", "each action's deadline (default 10)" } },
      "A domain that appears (xl create, xl reboot's new domain, xl\n"
      "restore) whose name has <DIR>/<name>.cfg (pci = [ ... ], as create\n"
      "-c reads it; see xlpci-guests(5)) gets all those devices in one\n"
      "transaction; a domain that dies has everything it held released;\n"
      "a /libxl/pci record removed while a live backend lists the device\n"
      "is written back.  At the start (and on SIGHUP) the whole host is\n"
      "reconciled.  Runs in the foreground until SIGTERM or SIGINT;\n"
      "systemd: xlpci-watch.service (Type=notify)." },
    { "help", main_help, DRY_READONLY, CMD_ARGS_ANY, "Show help",
      "[<command>]", { { 0 } }, NULL },
};

/* xl's names without the prefix are accepted too. */
static const struct { const char *alias, *name; } aliases[] = {
    { "attach", "pci-attach" },
    { "detach", "pci-detach" },
    { "list", "pci-list" },
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const cmd_spec *find_cmd(const char *name)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(aliases); i++)
        if (!strcmp(name, aliases[i].alias))
            name = aliases[i].name;
    for (i = 0; i < ARRAY_SIZE(cmd_table); i++)
        if (!strcmp(name, cmd_table[i].name))
            return &cmd_table[i];
    return NULL;
}

static void help(FILE *f)
{
    size_t i;

    fprintf(f,
            "Usage: xlpci [-v] [-N] [-T] <command> [options] <domain> ...\n"
            "\n"
            "Global options:\n"
            "  -v, --verbose      more messages (repeat for more)\n"
            "  -N, --dry-run      print the planned xenstore operations, "
            "change nothing\n"
            "  -T, --timestamps   timestamps and pid on messages\n"
            "  -h, --help         this help\n"
            "      --version      print the version\n"
            "\n"
            "Commands:\n");
    for (i = 0; i < ARRAY_SIZE(cmd_table); i++)
        fprintf(f, "  %-22s %s\n", cmd_table[i].name, cmd_table[i].summary);
    fprintf(f,
            "\n"
            "<domain> is a domid or a domain name.  PCI_SPEC_STRING is as in\n"
            "xl-pci-configuration(5): [DDDD:]BB:DD.F[@VSLOT][,key=value]...\n"
            "Environment: XENSTORED_PATH (xenstore socket), XLPCI_SYSFS_ROOT\n"
            "(default /sys), XLPCI_STATE_DIR (default /var/lib/xlpci),\n"
            "XLPCI_HYPERVISOR=auto|xen|none (I/O permissions through\n"
            "libxenctrl: auto skips them when Xen is not running, xen\n"
            "requires them, none never asks the hypervisor), XLPCI_RUN_DIR\n"
            "(default /var/run/xen: the QMP sockets qmp-libxl-<domid> of\n"
            "HVM guests' QEMUs), XLPCI_GUESTS_DIR (default\n"
            "/etc/xlpci/guests: xlpci watch's device lists).\n"
            "Exit status: 0 ok, 1 failure, 2 usage error.\n");
}

/* A command's help on stdout: `xlpci help CMD` and `xlpci CMD -h`.  The
 * option lines ("  -c, --config FILE  ...") come from its options. */
static int cmd_help(const char *name)
{
    const cmd_spec *c = find_cmd(name);
    const cmd_opt *o;
    char left[64];
    const char *line;
    size_t len;

    if (!c)
        return usage_error("help", "unknown command \"%s\"", name);
    printf("Usage: xlpci %s %s\n\n%s\n", c->name, c->usage, c->summary);
    if (c->opts[0].letter || c->notes)
        putchar('\n');
    for (o = c->opts; o->letter; o++) {
        snprintf(left, sizeof(left), "-%c, --%s%s%s", o->letter, o->name,
                 o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-18s ", left);
        for (line = o->help;; line += len + 1) {
            len = strcspn(line, "\n");
            printf("%.*s\n", (int)len, line);
            if (!line[len])
                break;
            printf("%21s", "");          /* under the first line's text */
        }
    }
    if (c->notes)
        printf("%s\n", c->notes);
    return EXIT_SUCCESS;
}

/* Not through cmd_getopt: `help -h` asks for the help of "-h". */
static int main_help(const cmd_spec *cmd, int argc, char **argv)
{
    if (argc > 2)
        return usage_error(cmd->name, "expected at most one command");
    if (argc < 2) {
        help(stdout);
        return EXIT_SUCCESS;
    }
    return cmd_help(argv[1]);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "verbose", no_argument, NULL, 'v' },
        { "dry-run", no_argument, NULL, 'N' },
        { "timestamps", no_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    xentoollog_level level = XTL_PROGRESS;
    unsigned logflags = 0;
    const cmd_spec *cmd;
    int c, ret;

    opterr = 0;     /* bad_option says it, once */
    while ((c = getopt_long(argc, argv, "+:vNTh", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            if (level > XTL_DEBUG)
                level--;
            break;
        case 'N': g.dry_run = true; break;
        case 'T':
            logflags |= XTL_STDIOSTREAM_SHOW_DATE | XTL_STDIOSTREAM_SHOW_PID;
            break;
        case 'h': help(stdout); return EXIT_SUCCESS;
        case 'V': printf("xlpci %s\n", XLPCI_VERSION); return EXIT_SUCCESS;
        default:
            bad_option("", c, argv);
            fprintf(stderr, "See xlpci --help.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        help(stderr);
        return EXIT_USAGE;
    }
    cmd = find_cmd(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "xlpci: unknown command \"%s\" (see xlpci --help)\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    if (g.dry_run && cmd->dry == DRY_NONE) {
        /* Running it would unbind or rebind host drivers for real. */
        fprintf(stderr, "xlpci: %s changes the host's driver bindings and "
                "has no dry run (-N); nothing was done\n", cmd->name);
        return EXIT_USAGE;
    }
    g.logger = xtl_createlogger_stdiostream(stderr, level, logflags);
    if (!g.logger) {
        fprintf(stderr, "xlpci: cannot create a logger\n");
        return EXIT_FAILURE;
    }
    argc -= optind;
    argv += optind;
    optind = 1;
    ret = cmd->fn(cmd, argc, argv);
    xlpci_ctx_free(g.ctx);
    xtl_logger_destroy((xentoollog_logger *)g.logger);
    return ret;
}

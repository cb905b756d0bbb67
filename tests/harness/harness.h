/*
 * Test harness: a private, REAL xenstored per test (Debian's C xenstored,
 * or oxenstored for test-eagain), run without a hypervisor under
 * libfakexen.so, plus process helpers for the programs under test.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>
#include <xenstore.h>

struct xsd {
    pid_t pid;
    int ox;
    char dir[256];                   /* temp dir, removed by xsd_stop */
    char socket[320];
    char trace[320];                 /* the trace file, "" if none; for
                                        oxenstored its access log */
    char dead_file[320];             /* xsd_opts.dead_file, "" if none */
};

struct xsd_opts {
    int ox;                          /* oxenstored instead of C xenstored */
    int test_eagain;                 /* oxenstored: test-eagain = true */
    const char *dead_file;           /* FAKEXS_DEAD_FILE for the daemon */
    int trace;                       /* C xenstored: -T <dir>/trace (every
                                        request and reply; xsd.trace) */
};

/* Start a private daemon in a fresh temp dir; on success sets
 * XENSTORED_PATH in this process's environment (xs_open(0) and spawned
 * children reach it) and returns 0.  o may be NULL (C xenstored).  On
 * failure prints the reason and the daemon's log to stderr, returns -1.
 * Any number may run at once (own dirs, own sockets); XENSTORED_PATH names
 * the last one started: setenv("XENSTORED_PATH", d->socket, 1) before
 * xs_open(0) to reach another.  Every socket client is privileged dom0. */
int xsd_start(struct xsd *d, const struct xsd_opts *o);
/* SIGTERM, SIGKILL after 2 s, reap, remove the dir (kept if HARNESS_KEEP
 * is set, for debugging: daemon.log is in it).  Safe to call twice.  The
 * daemon also gets SIGKILL if the test process dies. */
void xsd_stop(struct xsd *d);

/* A guest's life as the daemon sees it (started with a dead_file).
 * xsd_introduce: XS_INTRODUCE of domid over xs (the shim maps its ring as
 * an anonymous page): the daemon fires @introduceDomain.  xsd_kill: the
 * domain dies: domid appended to the dead file, SIGUSR2 to the daemon,
 * which finds it gone (the shim's VIRQ_DOM_EXC), releases it and fires
 * @releaseDomain.  0, or -1 (the reason on stderr). */
int xsd_introduce(struct xs_handle *xs, unsigned domid);
int xsd_kill(struct xsd *d, unsigned domid);

/* Absolute path of a built program (XLPCI_BUILD_DIR/name).  Points into
 * one of 16 rotating static buffers.  XLPCI_TEST_CLI in the environment
 * names the "xlpci" to run instead (debian/tests: the installed one). */
const char *h_prog(const char *name);

/* Run argv (PATH searched) to completion, stdin from /dev/null; stdout and
 * stderr into malloc'd NUL-terminated strings (NULL pointer: discarded).
 * Returns the exit status, or 128+signal. */
int h_run(char *const argv[], char **out, char **err);
/* Start argv in the background (stdin /dev/null, stdout/stderr inherited;
 * it gets SIGTERM if the test process dies).  If ready_file, wait until it
 * exists (timeout_ms, times h_slow()).  0 and *pid, or -1 (the child is
 * stopped and *pid is 0). */
int h_spawn(pid_t *pid, char *const argv[], const char *ready_file,
            int timeout_ms);
/* The same with stdout and stderr appended to the file out. */
int h_spawn_to(pid_t *pid, char *const argv[], const char *ready_file,
               int timeout_ms, const char *out);
/* SIGTERM, wait (SIGKILL after 3 s times h_slow()); exit status or
 * 128+signal, -1 if pid is not our child. */
int h_stop(pid_t pid);

/* The subtree at path, one line per node, lines sorted (strcmp):
 *   /local/domain/0/backend/pci/5/0/num_devs = "2" (n0,r5)
 * Perms as xenstore-ls prints them (owner first; n/r/w/b + domid).  Bytes
 * outside printable ASCII, '"' and '\' are written as \xNN.  malloc'd;
 * "" if path does not exist.  Not atomic: for "store unchanged" checks
 * while nothing else writes. */
char *h_xs_dump(struct xs_handle *xs, const char *path);

/* mkdtemp of $TMPDIR (or /tmp)/xlpci.XXXXXX into buf: 0 or -1. */
int h_mkdtemp(char *buf, size_t len);
/* rm -rf path (does not follow symlinks). */
void h_rmrf(const char *path);

/* With XLPCI_VALGRIND=1, h_run/h_spawn run the project's programs (argv[0]
 * under XLPCI_BUILD_DIR; never xenstored) under valgrind (exit 99 on an
 * error or a definite leak), except runs with XLPCI_CRASH_AT or
 * XLPCI_CRASH_HOST_AT set (they SIGKILL themselves, which valgrind cannot
 * check); this returns 10 then, else 1: multiply your own timeouts by it. */
int h_slow(void);
/* The monotonic clock in milliseconds; sleep ms milliseconds. */
long long h_now_ms(void);
void h_sleep_ms(int ms);

#endif

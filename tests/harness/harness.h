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
};

struct xsd_opts {
    int ox;                          /* oxenstored instead of C xenstored */
    int test_eagain;                 /* oxenstored: test-eagain = true */
    const char *dead_file;           /* FAKEXS_DEAD_FILE for the daemon */
};

/* Start a private daemon in a fresh temp dir; on success sets
 * XENSTORED_PATH in this process's environment (xs_open(0) and spawned
 * children reach it) and returns 0.  o may be NULL (C xenstored).  On
 * failure prints the reason and the daemon's log to stderr, returns -1. */
int xsd_start(struct xsd *d, const struct xsd_opts *o);
/* SIGTERM, SIGKILL after 2 s, reap, remove the dir. */
void xsd_stop(struct xsd *d);

/* Absolute path of a built program (XLPCI_BUILD_DIR/name).  Points into
 * one of 16 rotating static buffers. */
const char *h_prog(const char *name);

/* Run argv to completion; stdout/stderr into malloc'd strings (NULL
 * pointer: discarded).  Returns the exit status, or 128+signal. */
int h_run(char *const argv[], char **out, char **err);
/* Start argv in the background; if ready_file, wait until it exists
 * (timeout_ms).  0 and *pid, or -1 (child killed). */
int h_spawn(pid_t *pid, char *const argv[], const char *ready_file,
            int timeout_ms);
/* SIGTERM, wait (SIGKILL after 3 s); exit status or 128+signal. */
int h_stop(pid_t pid);

/* Sorted lines "path = "value" (perms)" for the subtree at path; "" if
 * absent.  malloc'd. */
char *h_xs_dump(struct xs_handle *xs, const char *path);

int h_mkdtemp(char *buf, size_t len);
void h_rmrf(const char *path);

/* With XLPCI_VALGRIND=1 the project's programs run under valgrind (exit
 * 99 on an error) and every timeout is multiplied by this. */
int h_slow(void);

#endif

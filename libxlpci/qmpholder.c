/*
 * Who serves and who holds an HVM guest's QMP socket.
 *
 * Who serves our connection (xlpci_qmp_server): the process holding the
 * other end once it greeted us, found through sock_diag and /proc, whose
 * command line must name the domain (QEMU's "-xen-domid D", as libxl
 * starts it) before a device is handed to it.  SO_PEERCRED alone does not
 * tell: it names the process that called listen(), and libxl 4.17 makes
 * the socket itself and hands QEMU the listening descriptor
 * (libxl__pre_open_qmp_socket), so that is an xl that may have exited; it
 * is only the first place looked.
 *
 * Who holds it when QEMU does not greet us: QEMU
 * serves one client at a time, so the others wait in the listen backlog.
 * sock_diag (NETLINK_SOCK_DIAG, AF_UNIX) lists the connected sockets bound
 * to the path, QEMU's ends, with their peers; one scan of /proc/<pid>/fd
 * tells which process has each end.  The client whose peer QEMU has
 * accepted is the holder; if QEMU has accepted OUR connection, it is not
 * busy but slow or hung.  Only on the error path (qmp.c).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>

#include "io.h"

typedef struct {
    unsigned long srv, peer;         /* QEMU's side, the client's side */
    int srv_pid, peer_pid;           /* processes holding them, or 0 */
} sock_pair;

/* The connected sockets bound to path (QEMU's ends: the accepted one and
 * the ones waiting in the backlog) and their peers, through sock_diag.
 * Returns how many (at most max), 0 if the kernel does not tell. */
static size_t unix_pairs(const char *path, sock_pair *pairs, size_t max)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg;
    static char buf[32768];
    size_t n = 0, plen = strlen(path);
    bool done = false;
    int fd;

    fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return 0;
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = AF_UNIX;
    msg.req.udiag_states = 1u << 1;    /* TCP_ESTABLISHED: connected */
    msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER;
    if (send(fd, &msg, sizeof(msg), 0) < 0)
        goto out;
    while (!done) {
        struct nlmsghdr *h;
        ssize_t len = recv(fd, buf, sizeof(buf), 0);

        if (len <= 0)
            break;
        for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
             h = NLMSG_NEXT(h, len)) {
            struct unix_diag_msg *m;
            struct rtattr *a;
            int alen;
            bool named = false;
            unsigned long peer = 0;

            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = true;
                break;
            }
            m = NLMSG_DATA(h);
            a = (struct rtattr *)(m + 1);
            alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
            for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
                /* the length given to bind(): maybe the whole sun_path,
                 * NUL-padded */
                if (a->rta_type == UNIX_DIAG_NAME)
                    named = strnlen(RTA_DATA(a), RTA_PAYLOAD(a)) == plen &&
                            !memcmp(RTA_DATA(a), path, plen);
                else if (a->rta_type == UNIX_DIAG_PEER &&
                         RTA_PAYLOAD(a) >= sizeof(uint32_t))
                    peer = *(uint32_t *)RTA_DATA(a);
            }
            if (named && peer && n < max) {
                pairs[n].srv = m->udiag_ino;
                pairs[n].peer = peer;
                pairs[n].srv_pid = pairs[n].peer_pid = 0;
                n++;
            }
        }
    }
out:
    close(fd);
    return n;
}

/* Which processes hold the sockets of pairs (one /proc scan). */
static void find_pids(sock_pair *pairs, size_t n)
{
    char path[600], link[64];
    struct dirent *p, *f;
    DIR *proc, *fds;
    unsigned long ino;
    size_t i;

    proc = opendir("/proc");
    while (proc && (p = readdir(proc))) {
        if (p->d_name[0] < '1' || p->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
        fds = opendir(path);
        while (fds && (f = readdir(fds))) {
            ssize_t len;

            snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name,
                     f->d_name);
            len = readlink(path, link, sizeof(link) - 1);
            if (len <= 0)
                continue;
            link[len] = '\0';
            if (sscanf(link, "socket:[%lu]", &ino) != 1)
                continue;
            /* a socket shared by several processes (inherited across
             * fork): the first found, never this process */
            for (i = 0; i < n && atoi(p->d_name) != getpid(); i++) {
                if (pairs[i].srv == ino && !pairs[i].srv_pid)
                    pairs[i].srv_pid = atoi(p->d_name);
                if (pairs[i].peer == ino && !pairs[i].peer_pid)
                    pairs[i].peer_pid = atoi(p->d_name);
            }
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
}

/* Does process pid hold the socket inode ino? */
static bool pid_holds(int pid, unsigned long ino)
{
    char path[600], link[64], want[64];
    struct dirent *f;
    DIR *fds;
    bool found = false;

    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    snprintf(want, sizeof(want), "socket:[%lu]", ino);
    fds = opendir(path);
    while (fds && !found && (f = readdir(fds))) {
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, f->d_name);
        len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        found = !strcmp(link, want);
    }
    if (fds)
        closedir(fds);
    return found;
}

/* The peer of the socket inode ino (sock_diag's exact lookup: no name
 * to match, whatever path the server bound, /var/run or /run), or 0. */
static unsigned long peer_of(unsigned long ino)
{
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg;
    char buf[4096];
    unsigned long peer = 0;
    struct nlmsghdr *h;
    ssize_t len;
    int fd;

    fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return 0;
    memset(&msg, 0, sizeof(msg));
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST;
    msg.req.sdiag_family = AF_UNIX;
    msg.req.udiag_states = ~0u;
    msg.req.udiag_ino = (unsigned)ino;
    msg.req.udiag_show = UDIAG_SHOW_PEER;
    msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0u;
    if (send(fd, &msg, sizeof(msg), 0) < 0 ||
        (len = recv(fd, buf, sizeof(buf), 0)) <= 0)
        goto out;
    for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
         h = NLMSG_NEXT(h, len)) {
        struct unix_diag_msg *m;
        struct rtattr *a;
        int alen;

        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
            break;
        m = NLMSG_DATA(h);
        a = (struct rtattr *)(m + 1);
        alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
        for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
            if (a->rta_type == UNIX_DIAG_PEER &&
                RTA_PAYLOAD(a) >= sizeof(uint32_t))
                peer = *(uint32_t *)RTA_DATA(a);
    }
out:
    close(fd);
    return peer;
}

int xlpci_qmp_server(int fd)
{
    sock_pair pair;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct stat st;

    if (fstat(fd, &st))
        return 0;
    memset(&pair, 0, sizeof(pair));
    pair.srv = peer_of((unsigned long)st.st_ino);
    if (!pair.srv)
        return 0;
    /* the process that listen()ed, if it serves it too (QEMU made the
     * socket itself), else whoever has that end */
    if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) &&
        cred.pid > 0 && cred.pid != getpid() && pid_holds(cred.pid, pair.srv))
        return cred.pid;
    find_pids(&pair, 1);
    return pair.srv_pid;
}

/* The "-xen-domid" argument of pid's command line into *domid_r: 1, 0 if
 * it has none, -1 if the command line cannot be read. */
int xlpci_proc_xen_domid(int pid, long *domid_r)
{
    char path[64], buf[8192];
    size_t len = 0;
    ssize_t r;
    char *p, *end;
    int fd, found = 0;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (len < sizeof(buf) - 1 &&
           (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    /* the last one counts, as for QEMU's own option parsing */
    for (p = buf; p < buf + len; p += strlen(p) + 1) {
        if (strcmp(p, "-xen-domid"))
            continue;
        p += strlen(p) + 1;
        if (p >= buf + len)
            break;
        *domid_r = strtol(p, &end, 10);
        found = !*end && end != p && *domid_r >= 0;
    }
    return found;
}

void xlpci_proc_comm(int pid, char *buf, size_t len)
{
    char path[64];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    n = fd < 0 ? -1 : read(fd, buf, len - 1);
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        snprintf(buf, len, "?");
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

static void proc_comm(int pid, char *buf, size_t len)
{
    xlpci_proc_comm(pid, buf, len);
}

bool xlpci_qmp_holder(const char *path, int fd, char *buf, size_t len,
                      int *qemu_r)
{
    sock_pair pairs[32];
    struct stat st;
    unsigned long self = 0;
    char comm[64];
    size_t n, i;
    int pid = 0;

    *qemu_r = 0;
    if (!fstat(fd, &st))
        self = (unsigned long)st.st_ino;
    n = unix_pairs(path, pairs, sizeof(pairs) / sizeof(pairs[0]));
    if (n)
        find_pids(pairs, n);
    for (i = 0; i < n; i++)
        if (pairs[i].peer == self && pairs[i].srv_pid) {
            *qemu_r = pairs[i].srv_pid;
            return true;
        }
    /* the accepted connection: QEMU has its end, a process the other */
    for (i = 0; !pid && i < n; i++)
        if (pairs[i].peer != self && pairs[i].srv_pid && pairs[i].peer_pid)
            pid = pairs[i].peer_pid;
    /* else any other client waiting */
    for (i = 0; !pid && i < n; i++)
        if (pairs[i].peer != self && pairs[i].peer_pid)
            pid = pairs[i].peer_pid;
    if (!pid) {
        snprintf(buf, len, "another client (xl?)");
        return false;
    }
    proc_comm(pid, comm, sizeof(comm));
    snprintf(buf, len, "pid %d (%s)", pid, comm);
    return false;
}


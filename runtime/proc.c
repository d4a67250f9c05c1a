/* Child processes: fork with a framed request/reply channel, signals by
 * name, and reaping that never hangs the runtime. */
#include "vmlab/proc.h"
#include "vmlab/interrupt.h"
#include "vmlab/units.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int vmlab_child_fork(struct vmlab_child *c, int *in_fd, int *out_fd)
{
    int req[2], rep[2];
    pid_t parent = getpid(), pid;

    if (pipe2(req, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(rep, O_CLOEXEC) < 0) {
        int e = errno;
        close(req[0]);
        close(req[1]);
        return -e;
    }
    fflush(NULL);                    /* no buffered output twice */
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(req[0]); close(req[1]); close(rep[0]); close(rep[1]);
        return -e;
    }
    if (pid == 0) {
        close(req[1]);
        close(rep[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)     /* the parent died before prctl */
            _exit(1);
        *in_fd = req[0];
        *out_fd = rep[1];
        return 0;
    }
    close(req[0]);
    close(rep[1]);
    memset(c, 0, sizeof *c);
    c->pid = pid;
    c->to_child = req[1];
    c->from_child = rep[0];
    return 1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vmlab_msg_send(int fd, char type, const void *buf, size_t len)
{
    unsigned char hdr[5];
    struct sigaction ign, old;
    int r;

    if (len > UINT32_MAX)
        return -EMSGSIZE;
    hdr[0] = (unsigned char)type;
    hdr[1] = (unsigned char)(len >> 24);
    hdr[2] = (unsigned char)(len >> 16);
    hdr[3] = (unsigned char)(len >> 8);
    hdr[4] = (unsigned char)len;
    /* A dead reader must give EPIPE, not kill us with SIGPIPE. */
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    r = write_all(fd, hdr, sizeof hdr);
    if (r == 0 && len)
        r = write_all(fd, buf, len);
    sigaction(SIGPIPE, &old, NULL);
    return r;
}

/* Read exactly len bytes before the deadline (< 0: none). */
static int read_all(int fd, void *buf, size_t len, double deadline)
{
    char *p = buf;
    while (len) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int ms = 100;
        ssize_t n;
        if (deadline >= 0) {
            double left = deadline - vmlab_now();
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < 0.1)
                ms = (int)(left * 1000) + 1;
        }
        if (vmlab_interrupted())
            return -EINTR;
        n = poll(&pfd, 1, ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n <= 0)
            continue;
        n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vmlab_msg_recv(int fd, char *type, char **buf, size_t *len, double timeout)
{
    double deadline = timeout < 0 ? -1 : vmlab_now() + timeout;
    unsigned char hdr[5];
    int r;

    *buf = NULL;
    if ((r = read_all(fd, hdr, sizeof hdr, deadline)) < 0)
        return r;
    *type = (char)hdr[0];
    *len = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4];
    *buf = malloc(*len + 1);
    if (!*buf)
        return -ENOMEM;
    if ((r = read_all(fd, *buf, *len, deadline)) < 0) {
        free(*buf);
        *buf = NULL;
        return r;
    }
    (*buf)[*len] = '\0';
    return 0;
}

static const struct { int sig; const char *name; } signals[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},     {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},   {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},   {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},   {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},   {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},     {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"},
    {SIGPWR, "SIGPWR"},   {SIGSYS, "SIGSYS"},     {0, NULL}};

int vmlab_signal_number(const char *name)
{
    char *end;
    long n = strtol(name, &end, 10);

    if (*name && !*end)
        return n > 0 && n < 65 ? (int)n : -1;
    if (!strncasecmp(name, "SIG", 3))
        name += 3;
    for (int i = 0; signals[i].name; i++)
        if (!strcasecmp(signals[i].name + 3, name))
            return signals[i].sig;
    return -1;
}

const char *vmlab_signal_name(int sig)
{
    for (int i = 0; signals[i].name; i++)
        if (signals[i].sig == sig)
            return signals[i].name;
    return NULL;
}

int vmlab_child_reap(struct vmlab_child *c, int block)
{
    if (c->reaped)
        return 1;
    for (;;) {
        pid_t r = waitpid(c->pid, &c->status, block ? 0 : WNOHANG);
        if (r == c->pid) {
            c->reaped = 1;
            return 1;
        }
        if (r == 0)
            return 0;
        if (errno == EINTR) {
            if (vmlab_interrupted())
                return -EINTR;
            continue;
        }
        /* ECHILD: someone else reaped it; treat as gone. */
        c->reaped = 1;
        c->status = 0;
        return 1;
    }
}

void vmlab_child_stop(struct vmlab_child *c, double grace)
{
    double end = vmlab_now() + grace;

    if (c->to_child >= 0) {
        close(c->to_child);         /* EOF: the command loop ends */
        c->to_child = -1;
    }
    if (c->from_child >= 0) {
        close(c->from_child);
        c->from_child = -1;
    }
    while (!vmlab_child_reap(c, 0) && vmlab_now() < end)
        usleep(2000);
    if (!c->reaped) {
        kill(c->pid, SIGKILL);
        /* SIGKILL cannot be ignored: this wait ends, ^C or not. */
        while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
            ;
        c->reaped = 1;
    }
}

/* vmlab's end of the agent: find libvmlab-agent.so, start a command with it
 * preloaded, the socket between them, and reaping. */
#include "vmlab/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int vmlab_agent_path(char *buf, size_t len, char *why, size_t whylen)
{
    const char *env = getenv("VMLAB_AGENT"), *b = getenv("VMLAB_BUILD");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env) {
        snprintf(buf, len, "%s", env);
        if (access(buf, R_OK) == 0)
            return 0;
        snprintf(why, whylen, "VMLAB_AGENT=%s: %s", env, strerror(errno));
        return -ENOENT;
    }
    if (b && *b) {
        snprintf(buf, len, "%s/libvmlab-agent.so", b);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')))
            *slash = '\0';
        snprintf(buf, len, "%s/libvmlab-agent.so", exe);
        if (access(buf, R_OK) == 0)
            return 0;
    }
    snprintf(why, whylen, "libvmlab-agent.so not found (set VMLAB_AGENT, or VMLAB_BUILD to the "
                          "build directory, or keep it next to vmlab: %s)", buf);
    return -ENOENT;
}

int vmlab_agent_send(int sock, uint32_t type, uint32_t seq, int64_t arg, const uint64_t *v, size_t n)
{
    struct vmlab_agent_msg h = {.type = type, .n = (uint32_t)n, .seq = seq, .arg = arg};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)(uintptr_t)v, n * 8}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = n ? 2 : 1};
    if (sock < 0)
        return -EPIPE;
    return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int vmlab_agent_recv(int sock, struct vmlab_agent_msg *h, uint64_t *v, size_t cap, double timeout)
{
    struct iovec iov[2] = {{h, sizeof *h}, {v, cap * 8}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    struct pollfd p = {sock, POLLIN, 0};
    ssize_t r;
    int pr;

    if (sock < 0)
        return -EPIPE;
    do
        pr = poll(&p, 1, timeout < 0 ? -1 : (int)(timeout * 1000));
    while (pr < 0 && errno == EINTR);
    if (pr == 0)
        return -ETIMEDOUT;
    r = recvmsg(sock, &m, MSG_DONTWAIT);
    if (r == 0)
        return -EPIPE;
    if (r < 0)
        return errno == EAGAIN ? -ETIMEDOUT : -errno;
    if ((size_t)r < sizeof *h)
        return -EPROTO;
    if (h->n > ((size_t)r - sizeof *h) / 8)
        h->n = (uint32_t)(((size_t)r - sizeof *h) / 8);
    return 0;
}

static char *env_join(const char *k, const char *a, const char *b)
{
    size_t len = strlen(k) + strlen(a) + (b ? strlen(b) + 1 : 0) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s=%s%s%s", k, a, b ? ":" : "", b ? b : "");
    return s;
}

int vmlab_agent_spawn(struct vmlab_agent_proc *p, char *const argv[], char *why, size_t whylen)
{
    char agent[PATH_MAX], fdenv[48], pidenv[48];
    int sv[2], ep[2], e, n = 0, err = 0;
    char **envp, *preload;
    size_t ne = 0;
    pid_t pid;

    memset(p, 0, sizeof *p);
    p->sock = -1;
    if (!argv || !argv[0]) {
        snprintf(why, whylen, "no command");
        return -EINVAL;
    }
    if ((e = vmlab_agent_path(agent, sizeof agent, why, whylen)) < 0)
        return e;
    while (environ[ne])
        ne++;
    envp = calloc(ne + 4, sizeof *envp);
    preload = env_join("LD_PRELOAD", agent, getenv("LD_PRELOAD"));
    if (!envp || !preload) {
        free(envp);
        free(preload);
        snprintf(why, whylen, "not enough memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "VMLAB_AGENT_", 12))
            envp[n++] = environ[i];
    envp[n++] = preload;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
        e = -errno;
        snprintf(why, whylen, "socketpair/pipe: %s", strerror(errno));
        free(envp);
        free(preload);
        return e;
    }
    snprintf(fdenv, sizeof fdenv, "%s=%d", VMLAB_AGENT_FD_ENV, sv[1]);
    envp[n++] = fdenv;
    envp[n++] = pidenv;
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        /* only async-signal-safe work from here */
        char num[24];
        int k = 0, d = (int)getpid();
        const char *pfx = VMLAB_AGENT_PID_ENV "=";
        while (*pfx)
            pidenv[k++] = *pfx++;
        n = 0;
        do
            num[n++] = (char)('0' + d % 10);
        while ((d /= 10) > 0);
        while (n > 0)
            pidenv[k++] = num[--n];
        pidenv[k] = '\0';
        fcntl(sv[1], F_SETFD, 0);   /* the agent's end crosses exec */
        close(sv[0]);
        execvpe(argv[0], argv, envp);
        err = errno;
        if (write(ep[1], &err, sizeof err) < 0) {
        }
        _exit(127);
    }
    e = pid < 0 ? -errno : 0;
    close(sv[1]);
    close(ep[1]);
    free(envp);
    free(preload);
    if (e < 0) {
        close(sv[0]);
        close(ep[0]);
        snprintf(why, whylen, "fork: %s", strerror(-e));
        return e;
    }
    p->pid = pid;
    p->sock = sv[0];
    if (read(ep[0], &err, sizeof err) == (ssize_t)sizeof err) {
        close(ep[0]);
        vmlab_agent_reap(p, 1);
        close(p->sock);
        p->sock = -1;
        snprintf(why, whylen, "exec(%s): %s", argv[0], strerror(err));
        return -err;
    }
    close(ep[0]);
    return 0;
}

int vmlab_agent_hello(struct vmlab_agent_proc *p, double timeout, char *why, size_t whylen)
{
    double end = mono() + timeout;
    struct vmlab_agent_msg h;
    uint64_t v[64];

    for (;;) {
        int e = vmlab_agent_recv(p->sock, &h, v, 64, 0.05);
        if (e == 0 && h.type == VMLAB_AGENT_HELLO) {
            p->nskip = 0;
            for (size_t i = 0; i + 1 < h.n && i + 1 < 8 && p->nskip < 8; i += 2)
                p->skip[p->nskip++] = (struct vmlab_range){v[i], v[i + 1]};
            p->features = h.n > 8 ? v[8] : 0;
            return 0;
        }
        if (e == 0 && h.type == VMLAB_AGENT_REFUSE) {
            ((char *)v)[h.n * 8 < sizeof v ? h.n * 8 : sizeof v - 1] = '\0';
            snprintf(why, whylen, "%s", (char *)v);
            return h.arg > 0 ? -(int)h.arg : -EPERM;
        }
        if (e == -EPIPE || (e < 0 && e != -ETIMEDOUT) || vmlab_agent_reap(p, 0) == 1 || mono() > end) {
            snprintf(why, whylen, "%s", p->reaped ? "the command ended before its agent answered"
                     : "no agent answered (a static or setuid program ignores LD_PRELOAD)");
            return p->reaped ? -ESRCH : -ETIMEDOUT;
        }
    }
}

int vmlab_agent_reap(struct vmlab_agent_proc *p, int block)
{
    int st;
    pid_t r;

    if (p->reaped)
        return 1;
    if (p->pid <= 0)
        return 0;
    if (p->borrowed) {   /* someone else's to reap (a vmlab.proc handle): look only */
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != p->pid)
            return 0;
        p->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
        p->reaped = 1;
        return 1;
    }
    do
        r = waitpid(p->pid, &st, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR && block);
    if (r != p->pid)
        return 0;
    p->status = st;
    p->reaped = 1;
    return 1;
}

void vmlab_agent_close(struct vmlab_agent_proc *p)
{
    if (p->sock >= 0) {
        vmlab_agent_send(p->sock, VMLAB_AGENT_BYE, 0, 0, NULL, 0);
        close(p->sock);
    }
    p->sock = -1;
}
